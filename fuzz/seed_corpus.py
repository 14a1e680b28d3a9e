#!/usr/bin/env python3
"""Writes the fuzzers' seed inputs from the golden and reference vectors (tests/vectors/).

`make fuzz` runs it before fuzzing; the minimised corpora that fuzzing grows from these seeds
are committed under fuzz/corpus/<target>/. Seeds are named by their content's SHA-1, as
libFuzzer names its own, so rerunning adds nothing twice.
"""
import hashlib
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent
VECTORS = ROOT.parent / "tests" / "vectors"


def tokens():
    golden = json.loads((VECTORS / "golden-tokens.json").read_text())["vectors"]
    reference = json.loads((VECTORS / "reference-token-vectors.json").read_text())
    valid = [v["token"] for v in golden if v["token"]] + [v["token"] for v in reference["valid"]]
    invalid = [v["input"] for v in reference["invalid"] if isinstance(v["input"], str)]
    randomness = [bytes.fromhex(v["random_bytes_hex"]) for v in golden]
    return valid, invalid, randomness


def record(token_id="tok_abcdefghij0123456789", expires_at="null"):
    return (
        '{"v":1,"token_id":"%s","user_id":"usr_0123456789abcdef01234567",'
        '"email":"ada@example.com","name":"CI","created_at":1800000000,"expires_at":%s}'
        % (token_id, expires_at)
    )


def id_tokens():
    """RFC 7515's examples, their keys as a JWK set, and a plausible set of ID token claims."""
    rfc = json.loads((VECTORS / "rfc7515-jws.json").read_text())["cases"]
    claims = (
        '{"iss":"https://id.example.com","sub":"248289761001","aud":"patgate","exp":1800000300,'
        '"iat":1800000000,"nonce":"n","email":"ada@example.com","email_verified":true}'
    )
    return [c["jws"] for c in rfc] + [json.dumps({"keys": [c["jwk"] for c in rfc]}), claims]


def leak_reports(valid):
    """A report in GitHub's format, and the self-service and admin bodies."""
    entry = lambda token: {"token": token, "type": "patgate_pat",
                           "url": "https://github.com/o/r/blob/1/ci.yml", "source": "commit"}
    return [
        json.dumps([entry(t) for t in valid[:3]] + [entry("pat_garbage")]),
        json.dumps([{"token": valid[0], "type": "patgate_pat", "url": None}]),
        json.dumps({"tokens": valid[:2] + ["pat_short"]}),
        '{"requested_by":"offboarding","reason":"account disabled"}',
    ]


def der_signatures():
    """DER signatures (a short r, a high-bit s) and a key list with one P-256 key."""
    short_r = bytes([0x30, 0x26, 0x02, 0x01, 0x01, 0x02, 0x21, 0x00]) + b"\xff" * 32
    padded = bytes([0x30, 0x44, 0x02, 0x20]) + b"\x11" * 32 + bytes([0x02, 0x20]) + b"\x22" * 32
    spki = ("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE" + "A" * 86 + "==")
    keys = json.dumps({"public_keys": [{"key_identifier": "k", "is_current": True,
                                        "key": "-----BEGIN PUBLIC KEY-----\n" + spki
                                        + "\n-----END PUBLIC KEY-----\n"}]})
    return [short_r, padded, keys]


def seeds():
    valid, invalid, randomness = tokens()
    cookie = "__Host-patgate_session=usr_0123456789abcdef01234567." + "ab" * 32
    return {
        "authorization": [f"Bearer {t}" for t in valid[:4]]
        + ["bearer x", "Basic dXNlcjpwYXNz", "Bearer  x", "Bearer a, Bearer b", "Bearer abc=="],
        "token": valid + invalid,
        # Mode 0 (parse) with every vector, mode 1 (generate) with every golden random input.
        "token_model": [b"\0" + t.encode() for t in valid + invalid]
        + [b"\1" + random for random in randomness],
        "record": [record(), record(expires_at="1800086400"), '{"v":2,"future":true}'],
        "session_cookie": [cookie, f"theme=dark; {cookie}", f"{cookie}; {cookie}"],
        "id_token": id_tokens(),
        "signin_cookie": [
            "__Host-patgate_signin=v1.e30.AAAA",
            f"theme=dark; __Host-patgate_signin=v2.e30.AAAA; {cookie}",
            "/console/#/activity",
            "/console/../auth/v1/verify",
        ],
        "leak_report": leak_reports(valid),
        "der_signature": der_signatures(),
        "console_body": [
            '{"name":"CI","expires_in_days":30}',
            '{"name":"x","expires_in_days":null}',
            '{"expires_in_days":7}',
            '{"email":"ada@example.com"}',
            "{}",
        ],
    }


def main():
    for target, inputs in seeds().items():
        directory = ROOT / "corpus" / target
        directory.mkdir(parents=True, exist_ok=True)
        for seed in inputs:
            data = seed if isinstance(seed, bytes) else seed.encode()
            (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)


if __name__ == "__main__":
    main()
