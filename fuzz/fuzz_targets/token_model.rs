//! Differential: the token parser and generator against an independent model of the format,
//! written from its specification (tests/vectors/reference-token-vectors.json, "format") with
//! its own bitwise CRC-32, not the crate the core uses.
//!
//! Input: a byte whose low bit picks the mode, then the data. Mode 0 parses arbitrary text
//! and compares the verdicts; mode 1 generates a token from the bytes and checks that the model
//! accepts it and that changing any one character is caught.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patgate_core::token::{generate, UntrustedToken};

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// CRC-32 (IEEE 802.3, reflected, as zlib computes it), bit by bit.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// The model's verdict: `pat_`, 58 base62 characters, then the 6-digit base62 CRC-32 of them.
fn model_accepts(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 68 || !text.starts_with("pat_") {
        return false;
    }
    let (random, checksum) = (&bytes[4..62], &bytes[62..]);
    if !bytes[4..].iter().all(|b| ALPHABET.contains(b)) {
        return false;
    }
    let mut value = crc32(random);
    let mut digits = [b'0'; 6];
    for slot in digits.iter_mut().rev() {
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    checksum == digits
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        if let Ok(text) = std::str::from_utf8(rest) {
            assert_eq!(UntrustedToken::parse(text).is_ok(), model_accepts(text), "{text:?}");
        }
        return;
    }
    let Ok(token) = generate(rest) else {
        return;
    };
    let text = token.as_str();
    assert!(model_accepts(text), "generated {text:?} breaks the format");
    // One substitution anywhere after the prefix must be caught.
    let position = 4 + (rest.first().copied().unwrap_or(0) as usize % 64);
    let replacement = ALPHABET[(rest.last().copied().unwrap_or(1) as usize) % 62];
    let mut changed = text.as_bytes().to_vec();
    if changed[position] != replacement {
        changed[position] = replacement;
        let changed = String::from_utf8(changed).expect("ASCII stays UTF-8");
        assert!(UntrustedToken::parse(&changed).is_err(), "{changed:?} accepted");
        assert!(!model_accepts(&changed));
    }
});
