//! ECDSA P-256 signatures in ASN.1 DER (`SEQUENCE { r INTEGER, s INTEGER }`, RFC 3279 §2.2.3),
//! as secret scanners send them, turned into the raw 64-byte `r‖s` that WebCrypto verifies.
//!
//! Parsing is strict DER, not BER: short-form lengths only (a P-256 signature is at most 72
//! bytes), minimal positive integers, nothing after the sequence. So each `(r, s)` has exactly
//! one accepted encoding, and a re-encoded signature (a long-form length, a padded integer,
//! trailing bytes) is refused rather than verified. The other malleability of ECDSA, `(r, n−s)`,
//! is a valid signature of the same body: nothing here depends on signatures being unique
//! (reports are idempotent by their content, see the Worker's `leaks`).

use core::fmt;

/// Bytes of each of `r` and `s` in the raw form.
pub const SCALAR_LEN: usize = 32;
/// The raw signature: `r` then `s`, each big-endian and left-padded to 32 bytes.
pub type RawSignature = [u8; 2 * SCALAR_LEN];

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
/// Lengths at or above this need the long form, which no P-256 signature does.
const LONG_FORM: u8 = 0x80;

/// Why bytes are not a DER ECDSA P-256 signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DerSignatureError {
    /// Not a sequence, or its length is not the rest of the input.
    NotASequence,
    /// An element is not an integer, or its length does not fit.
    NotAnInteger,
    /// An integer with a redundant leading zero byte (DER requires the minimal form).
    NonMinimal,
    /// A negative integer, or zero: neither is an ECDSA scalar.
    OutOfRange,
    /// An integer longer than a P-256 scalar.
    TooLarge,
    /// Bytes after the two integers, inside the sequence.
    TrailingBytes,
}

impl fmt::Display for DerSignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotASequence => "the signature is not one DER sequence",
            Self::NotAnInteger => "the signature's elements are not DER integers",
            Self::NonMinimal => "the signature has an integer with a redundant leading zero",
            Self::OutOfRange => "the signature has a zero or negative integer",
            Self::TooLarge => "the signature has an integer longer than 32 bytes",
            Self::TrailingBytes => "the signature has bytes after its two integers",
        })
    }
}

/// The raw `r‖s` of a strict-DER ECDSA P-256 signature.
pub fn raw_signature(der: &[u8]) -> Result<RawSignature, DerSignatureError> {
    let (&tag, rest) = der.split_first().ok_or(DerSignatureError::NotASequence)?;
    let (&length, body) = rest.split_first().ok_or(DerSignatureError::NotASequence)?;
    if tag != SEQUENCE || length >= LONG_FORM || usize::from(length) != body.len() {
        return Err(DerSignatureError::NotASequence);
    }
    let (r, rest) = integer(body)?;
    let (s, rest) = integer(rest)?;
    if !rest.is_empty() {
        return Err(DerSignatureError::TrailingBytes);
    }
    let mut raw = [0u8; 2 * SCALAR_LEN];
    let (r_out, s_out) = raw.split_at_mut(SCALAR_LEN);
    left_pad(r_out, r);
    left_pad(s_out, s);
    Ok(raw)
}

/// One minimal, positive DER integer at the start of `input`: its magnitude (without the sign
/// byte) and what follows.
fn integer(input: &[u8]) -> Result<(&[u8], &[u8]), DerSignatureError> {
    let (&tag, rest) = input.split_first().ok_or(DerSignatureError::NotAnInteger)?;
    let (&length, rest) = rest.split_first().ok_or(DerSignatureError::NotAnInteger)?;
    if tag != INTEGER || length == 0 || length >= LONG_FORM {
        return Err(DerSignatureError::NotAnInteger);
    }
    if usize::from(length) > rest.len() {
        return Err(DerSignatureError::NotAnInteger);
    }
    let (value, rest) = rest.split_at(usize::from(length));
    let magnitude = match value {
        [first, ..] if first & 0x80 != 0 => return Err(DerSignatureError::OutOfRange),
        // A leading zero is allowed only to keep the next byte's high bit from reading as a sign.
        [0, second, ..] if second & 0x80 == 0 => return Err(DerSignatureError::NonMinimal),
        [0, magnitude @ ..] => magnitude,
        magnitude => magnitude,
    };
    if magnitude.iter().all(|&byte| byte == 0) {
        return Err(DerSignatureError::OutOfRange);
    }
    if magnitude.len() > SCALAR_LEN {
        return Err(DerSignatureError::TooLarge);
    }
    Ok((magnitude, rest))
}

/// Copies `value` into the end of `out` (which is at least as long), zeros before it.
fn left_pad(out: &mut [u8], value: &[u8]) {
    let start = out.len().saturating_sub(value.len());
    if let Some(tail) = out.get_mut(start..) {
        tail.copy_from_slice(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey};
    use proptest::prelude::*;

    /// The minimal DER of a positive integer with this big-endian magnitude (test oracle of our
    /// own, besides p256's).
    fn der_integer(magnitude: &[u8]) -> Vec<u8> {
        let trimmed: Vec<u8> = magnitude.iter().copied().skip_while(|&b| b == 0).collect();
        let mut value = trimmed.clone();
        if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
            value.insert(0, 0);
        }
        let mut out = vec![INTEGER, value.len() as u8];
        out.extend(value);
        out
    }

    fn der(r: &[u8], s: &[u8]) -> Vec<u8> {
        let mut body = der_integer(r);
        body.extend(der_integer(s));
        let mut out = vec![SEQUENCE, body.len() as u8];
        out.extend(body);
        out
    }

    fn raw(r: &[u8; 32], s: &[u8; 32]) -> RawSignature {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(r);
        out[32..].copy_from_slice(s);
        out
    }

    #[test]
    fn small_and_high_bit_integers_are_padded_into_place() {
        let mut r = [0u8; 32];
        r[31] = 1;
        let s = [0xff; 32];
        let encoded = der(&r, &s);
        // r is one byte; s needs a sign byte: 2 + 3 + 35.
        assert_eq!(encoded.len(), 40);
        assert_eq!(raw_signature(&encoded), Ok(raw(&r, &s)));
    }

    #[test]
    fn every_re_encoding_of_a_signature_is_refused() {
        let (r, s) = ([0x11; 32], [0x22; 32]);
        let good = der(&r, &s);
        assert_eq!(raw_signature(&good), Ok(raw(&r, &s)));
        let mut long_form = vec![SEQUENCE, 0x81, good[1]];
        long_form.extend(&good[2..]);
        let mut padded = vec![SEQUENCE, good[1] + 1, INTEGER, 33, 0];
        padded.extend(&good[4..]);
        let mut trailing_inside = good.clone();
        trailing_inside[1] += 1;
        trailing_inside.push(0);
        let mut trailing_outside = good.clone();
        trailing_outside.push(0);
        let mut negative = good.clone();
        negative[4] = 0x91;
        let mut wrong_tag = good.clone();
        wrong_tag[0] = 0x31;
        let mut integer_long_form = vec![SEQUENCE, good[1] + 1, INTEGER, 0x81, 32];
        integer_long_form.extend(&good[4..]);
        for (input, expected) in [
            (long_form, DerSignatureError::NotASequence),
            (padded, DerSignatureError::NonMinimal),
            (trailing_inside, DerSignatureError::TrailingBytes),
            (trailing_outside, DerSignatureError::NotASequence),
            (negative, DerSignatureError::OutOfRange),
            (wrong_tag, DerSignatureError::NotASequence),
            (integer_long_form, DerSignatureError::NotAnInteger),
            (
                vec![SEQUENCE, 6, INTEGER, 1, 0, INTEGER, 1, 1],
                DerSignatureError::OutOfRange,
            ),
            (
                vec![SEQUENCE, 5, INTEGER, 0, INTEGER, 1, 1],
                DerSignatureError::NotAnInteger,
            ),
            (der(&[1; 33], &s), DerSignatureError::TooLarge),
            (vec![], DerSignatureError::NotASequence),
            (vec![SEQUENCE], DerSignatureError::NotASequence),
            (raw(&r, &s).to_vec(), DerSignatureError::NotASequence),
        ] {
            assert_eq!(raw_signature(&input), Err(expected), "{input:02x?}");
        }
    }

    proptest! {
        #[test]
        fn agrees_with_p256_on_real_signatures(secret in any::<[u8; 32]>(), message in any::<Vec<u8>>()) {
            let Ok(key) = SigningKey::from_slice(&secret) else { return Ok(()) };
            let signature: Signature = key.sign(&message);
            let der = signature.to_der();
            let expected: RawSignature = signature.to_bytes().into();
            prop_assert_eq!(raw_signature(der.as_bytes()), Ok(expected));
            prop_assert_eq!(der.as_bytes().to_vec(), der_of_raw(&expected));
        }

        #[test]
        fn only_the_canonical_encoding_parses(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(raw) = raw_signature(&bytes) {
                prop_assert_eq!(der_of_raw(&raw), bytes);
            }
        }

        #[test]
        fn round_trips(r in any::<[u8; 32]>(), s in any::<[u8; 32]>()) {
            prop_assume!(r.iter().any(|&b| b != 0) && s.iter().any(|&b| b != 0));
            prop_assert_eq!(raw_signature(&der(&r, &s)), Ok(raw(&r, &s)));
        }
    }

    fn der_of_raw(raw: &RawSignature) -> Vec<u8> {
        der(&raw[..32], &raw[32..])
    }
}
