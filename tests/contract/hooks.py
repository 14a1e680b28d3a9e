"""schemathesis hooks for the contract run (tests/contract/run.mjs names this module in
SCHEMATHESIS_HOOKS).

Secret-scanning reports must be signed over their raw bytes, which schemathesis cannot do. When a
report carries the placeholder credentials of schemathesis.toml (that is, when schemathesis sent
it *with* its credentials), this hook serializes the body itself, has the tests' scanner sign it
(run.mjs serves a signing endpoint at PATGATE_SIGNER), and sends those exact bytes with the real
key identifier and signature. A report sent without credentials (the check that they are
required) is left alone, and must be refused.
"""
import base64
import json
import os
import urllib.request

import schemathesis
from schemathesis.core import NotSet

PLACEHOLDER = "signed-by-the-contract-hook"
SIGNATURE = "Github-Public-Key-Signature"
IDENTIFIER = "Github-Public-Key-Identifier"


def _sign(raw: bytes) -> dict:
    request = urllib.request.Request(os.environ["PATGATE_SIGNER"], data=raw, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers or {}
    if case.operation.path != "/auth/v1/leaks/github" or headers.get(SIGNATURE) != PLACEHOLDER:
        return
    if isinstance(case.body, NotSet):
        raw = b""
    elif isinstance(case.body, bytes):
        raw = case.body
    else:
        raw = json.dumps(case.body).encode()
    signed = _sign(raw)
    headers[IDENTIFIER] = signed["key_identifier"]
    headers[SIGNATURE] = base64.b64encode(bytes.fromhex(signed["signature_hex"])).decode()
    case.headers = headers
    kwargs["data"] = raw
