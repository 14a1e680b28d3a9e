//! The scanner's DER ECDSA signatures and its key list: never panic; a signature is accepted in
//! exactly one encoding (the minimal DER of its r‖s), and a key found is a P-256 key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patgate_core::jose::Algorithm;
use patgate_core::leak::der::{raw_signature, RawSignature, SCALAR_LEN};
use patgate_core::leak::keys::ScannerKeys;

/// The minimal DER INTEGER of a big-endian magnitude (an independent encoder).
fn integer(magnitude: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = magnitude.iter().copied().skip_while(|&b| b == 0).collect();
    let mut value = Vec::new();
    if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
        value.push(0);
    }
    value.extend(trimmed);
    let mut out = vec![0x02, value.len() as u8];
    out.extend(value);
    out
}

fn der(raw: &RawSignature) -> Vec<u8> {
    let (r, s) = raw.split_at(SCALAR_LEN);
    let mut body = integer(r);
    body.extend(integer(s));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

fuzz_target!(|data: &[u8]| {
    if let Ok(raw) = raw_signature(data) {
        assert_eq!(der(&raw), data);
    }
    if let Ok(keys) = ScannerKeys::parse(data) {
        if let Ok(document) = serde_json::from_slice::<serde_json::Value>(data) {
            for entry in document["public_keys"].as_array().into_iter().flatten() {
                if let Some(key) = entry["key_identifier"].as_str().and_then(|id| keys.get(id)) {
                    assert_eq!(key.algorithm(), Algorithm::Es256);
                }
            }
        }
    }
});
