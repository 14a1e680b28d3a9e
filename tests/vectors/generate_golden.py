#!/usr/bin/env python3
"""Writes golden-tokens.json: random bytes -> token -> SHA-256, computed independently of the
Rust core (zlib's CRC-32, hashlib's SHA-256), so the Rust, JS and CLI tests can check against
a second implementation. `make test` regenerates the file and fails if it changed.

Run: python3 tests/vectors/generate_golden.py > tests/vectors/golden-tokens.json
"""
import hashlib
import json
import sys
import zlib

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LEN = 58
RANDOM_BYTES = 96  # what the Worker draws per token


def base62_checksum(data: bytes) -> str:
    value = zlib.crc32(data) & 0xFFFFFFFF
    digits = []
    for _ in range(6):
        value, digit = divmod(value, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def token_from(random_bytes: bytes):
    """Rejection sampling: bytes >= 248 are skipped, the rest map to byte % 62."""
    chars = [ALPHABET[b % 62] for b in random_bytes if b < 248][:RANDOM_LEN]
    if len(chars) < RANDOM_LEN:
        return None
    random_part = "".join(chars)
    return "pat_" + random_part + base62_checksum(random_part.encode("ascii"))


def expand(seed: str, length: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(f"{seed}/{counter}".encode()).digest()
        counter += 1
    return out[:length]


def main() -> None:
    inputs = [
        ("all zero bytes", bytes(RANDOM_BYTES)),
        ("bytes 0..95", bytes(range(RANDOM_BYTES))),
        ("every byte rejected until the last 58", bytes([255] * 38 + list(range(190, 248)))),
        ("rejected bytes interleaved", bytes([248, 61, 249, 62, 255, 123] * 16)),
    ] + [(f"sha256 expansion #{i}", expand(f"patgate-golden/{i}", RANDOM_BYTES)) for i in range(12)]

    vectors = []
    for label, random_bytes in inputs:
        token = token_from(random_bytes)
        vectors.append(
            {
                "label": label,
                "random_bytes_hex": random_bytes.hex(),
                "token": token,
                "sha256_hex": hashlib.sha256(token.encode()).hexdigest() if token else None,
            }
        )
    json.dump(
        {
            "about": "random bytes -> token -> lowercase hex SHA-256 of the whole token; "
            "token null means the bytes held fewer than 58 accepted values (< 248)",
            "vectors": vectors,
        },
        sys.stdout,
        indent=2,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
