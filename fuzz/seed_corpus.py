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
