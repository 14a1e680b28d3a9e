//! Known-answer and property tests of the token format against data files shared with the
//! other implementations (Python generator, JS tests, CLI).

use alloc::string::String;
use alloc::vec::Vec;

use proptest::prelude::*;
use serde::Deserialize;

use crate::hex;
use crate::token::{
    generate, InsufficientRandomness, TokenFormatError, UntrustedToken, ALPHABET, PREFIX,
    RANDOM_BYTES_FOR_TOKEN, RANDOM_LEN, TOKEN_LEN,
};

#[derive(Deserialize)]
struct GoldenFile {
    vectors: Vec<GoldenVector>,
}

#[derive(Deserialize)]
struct GoldenVector {
    label: String,
    random_bytes_hex: String,
    token: Option<String>,
    sha256_hex: Option<String>,
}

#[derive(Deserialize)]
struct ReferenceFile {
    valid: Vec<ReferenceValid>,
    invalid: Vec<ReferenceInvalid>,
}

#[derive(Deserialize)]
struct ReferenceValid {
    random_part: String,
    token: String,
    sha256_hex: String,
}

#[derive(Deserialize)]
struct ReferenceInvalid {
    input: String,
    why: String,
}

#[test]
fn golden_vectors_match_the_independent_implementation() {
    let file: GoldenFile =
        serde_json::from_str(include_str!("../../../tests/vectors/golden-tokens.json")).unwrap();
    assert!(file.vectors.len() >= 10);
    for vector in file.vectors {
        let random = hex::decode(&vector.random_bytes_hex).unwrap();
        match (generate(&random), vector.token) {
            (Ok(token), Some(expected)) => {
                assert_eq!(token.as_str(), expected, "{}", vector.label);
                assert_eq!(
                    Some(token.storage_key().as_str()),
                    vector.sha256_hex.as_deref()
                );
                let parsed = UntrustedToken::parse(&expected).unwrap();
                assert_eq!(parsed.storage_key(), &token.storage_key());
            }
            (Err(InsufficientRandomness), None) => {}
            (got, want) => panic!("{}: got {got:?}, want {want:?}", vector.label),
        }
    }
}

#[test]
fn reference_vectors_agree() {
    let file: ReferenceFile = serde_json::from_str(include_str!(
        "../../../tests/vectors/reference-token-vectors.json"
    ))
    .unwrap();
    for valid in file.valid {
        let token = UntrustedToken::parse(&valid.token).unwrap();
        assert_eq!(token.storage_key().as_str(), valid.sha256_hex);
        // The random part alone determines the rest: generating from its own byte values
        // (all below 62, so none rejected) reproduces the token.
        let bytes: Vec<u8> = valid
            .random_part
            .bytes()
            .map(|c| ALPHABET.iter().position(|&a| a == c).unwrap() as u8)
            .collect();
        assert_eq!(generate(&bytes).unwrap().as_str(), valid.token);
    }
    for invalid in file.invalid {
        assert!(
            UntrustedToken::parse(&invalid.input).is_err(),
            "{}",
            invalid.why
        );
    }
}

#[test]
fn each_character_comes_from_exactly_four_byte_values() {
    let mut counts = [0u32; 62];
    for byte in 0..=255u8 {
        if let Ok(token) = generate(&[byte; RANDOM_LEN]) {
            let first = token.as_str().as_bytes()[PREFIX.len()];
            counts[ALPHABET.iter().position(|&a| a == first).unwrap()] += 1;
        }
    }
    assert!(counts.iter().all(|&count| count == 4), "{counts:?}");
}

/// A deterministic byte stream (SplitMix64) so the statistical test is repeatable.
fn splitmix_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

#[test]
fn generated_characters_are_uniform_chi_square() {
    let mut counts = [0u64; 62];
    for seed in 0..2_000u64 {
        let token = generate(&splitmix_bytes(seed, RANDOM_BYTES_FOR_TOKEN)).unwrap();
        for c in token.as_str().as_bytes()[PREFIX.len()..PREFIX.len() + RANDOM_LEN].iter() {
            counts[ALPHABET.iter().position(|a| a == c).unwrap()] += 1;
        }
    }
    let total: u64 = counts.iter().sum();
    let expected = total as f64 / 62.0;
    let chi_square: f64 = counts
        .iter()
        .map(|&count| {
            let diff = count as f64 - expected;
            diff * diff / expected
        })
        .sum();
    // 61 degrees of freedom: the 99.9th percentile is about 100.9.
    assert!(
        chi_square < 100.9,
        "chi-square {chi_square} over {counts:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generated_tokens_round_trip(random in proptest::collection::vec(any::<u8>(), RANDOM_BYTES_FOR_TOKEN)) {
        if let Ok(token) = generate(&random) {
            prop_assert_eq!(token.as_str().len(), TOKEN_LEN);
            let parsed = UntrustedToken::parse(token.as_str());
            prop_assert!(parsed.is_ok());
            prop_assert_eq!(parsed.unwrap().storage_key().clone(), token.storage_key());
        }
    }

    #[test]
    fn every_single_substitution_is_rejected(random in proptest::collection::vec(0u8..248, RANDOM_LEN)) {
        let token = generate(&random).unwrap();
        let original = token.as_str().as_bytes();
        for position in PREFIX.len()..TOKEN_LEN {
            for &replacement in ALPHABET.iter().filter(|&&c| c != original[position]) {
                let mut changed = original.to_vec();
                changed[position] = replacement;
                let changed = String::from_utf8(changed).unwrap();
                prop_assert_eq!(UntrustedToken::parse(&changed), Err(TokenFormatError::Checksum));
            }
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(text in "\\PC{0,100}") {
        let _ = UntrustedToken::parse(&text);
    }

    #[test]
    fn arbitrary_token_shaped_strings_never_panic(body in "[0-9A-Za-z_\\-é]{60,68}") {
        let _ = UntrustedToken::parse(&[PREFIX, &body].concat());
    }
}
