// A secret scanner of the tests' own, in GitHub's partner format: ECDSA P-256 keys published
// at a keys URL on loopback (`LEAK_KEYS_URL`) as GitHub publishes its own, and reports signed
// with them (base64 of a DER signature over the raw body).
import { generateKeyPairSync, sign } from 'node:crypto';
import { createServer } from 'node:http';

/** The order of P-256: (r, n − s) is the other valid signature of (r, s). */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

function newKey(id) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { id, privateKey, pem: publicKey.export({ type: 'spki', format: 'pem' }) };
}

/**
 * Starts the scanner's key server with one key. Returns { url, keyId, sign, signP1363, forge,
 * report, requests, stop }: `sign(body, keyId?)` is the DER signature (a Buffer),
 * `signP1363(body)` a signature by the same key in the raw r‖s form (IEEE P1363) that
 * WebCrypto takes and the header must not carry, `report(base, body, options)` POSTs a report
 * signed with the current key unless `options` says otherwise.
 */
export async function startScanner() {
  const keys = [newKey('test-scanner-key-1')];
  const forger = newKey('forger');
  let requests = 0;
  const server = createServer((req, res) => {
    requests += 1;
    if (req.method !== 'GET' || req.url !== '/meta/public_keys/secret_scanning') {
      res.writeHead(404).end();
      return;
    }
    const publicKeys = keys.map((key, index) => ({
      key_identifier: key.id, key: key.pem, is_current: index === keys.length - 1,
    }));
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ public_keys: publicKeys }));
  });
  await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  const url = `http://127.0.0.1:${server.address().port}/meta/public_keys/secret_scanning`;
  const keyOf = (id) => keys.find((key) => key.id === id) ?? keys[keys.length - 1];
  const signWith = (body, id) => sign('sha256', Buffer.from(body), keyOf(id).privateKey);
  return {
    url,
    keyId: keys[0].id,
    sign: signWith,
    signP1363: (body) => sign('sha256', Buffer.from(body), { key: keys[0].privateKey, dsaEncoding: 'ieee-p1363' }),
    /** A signature of `body` by a key the scanner does not publish (a forger's). */
    forge: (body) => sign('sha256', Buffer.from(body), forger.privateKey),
    requests: () => requests,
    /**
     * POSTs `body` (a string) as a report. `keyId` and `signature` (a Buffer, or null for none)
     * replace the scanner's own.
     */
    report(base, body, { keyId = keys[0].id, signature = signWith(body, keyId), headers = {} } = {}) {
      const signed = {};
      if (keyId !== null) signed['Github-Public-Key-Identifier'] = keyId;
      if (signature !== null) signed['Github-Public-Key-Signature'] = signature.toString('base64');
      return fetch(`${base}/auth/v1/leaks/github`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...signed, ...headers },
        body,
      });
    },
    stop: () => new Promise((resolve) => { server.close(resolve); }),
  };
}

/** A report body in GitHub's format: one match per token, found at `url`. */
export function reportBody(tokens, { url = 'https://github.com/octo/app/blob/1a2b3c/.github/workflows/ci.yml', source = 'commit' } = {}) {
  return JSON.stringify(tokens.map((token) => ({ token, type: 'patgate_personal_access_token', url, source })));
}

/** The (r, s) of a DER ECDSA signature, as BigInts. */
function scalars(der) {
  const read = (offset) => {
    const length = der[offset + 1];
    return { value: BigInt(`0x${der.subarray(offset + 2, offset + 2 + length).toString('hex')}`), end: offset + 2 + length };
  };
  const r = read(2);
  const s = read(r.end);
  return { r: r.value, s: s.value };
}

/** The minimal DER of a positive INTEGER. */
function derInteger(value) {
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if (bytes[0] & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
}

/** The other valid signature of the same body: (r, n − s), strictly DER-encoded. */
export function otherSignature(der) {
  const { r, s } = scalars(der);
  const body = Buffer.concat([derInteger(r), derInteger(P256_ORDER - s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

/** BER re-encodings of a DER signature that strict DER refuses. */
export function reencodings(der) {
  const longForm = Buffer.concat([Buffer.from([0x30, 0x81]), der.subarray(1)]);
  const trailing = Buffer.concat([der.subarray(0, 1), Buffer.from([der[1] + 1]), der.subarray(2), Buffer.from([0])]);
  // r with a redundant leading zero.
  const rLength = der[3];
  const padded = Buffer.concat([
    Buffer.from([0x30, der[1] + 1, 0x02, rLength + 1, 0x00]),
    der.subarray(4),
  ]);
  return { longForm, trailing, padded };
}
