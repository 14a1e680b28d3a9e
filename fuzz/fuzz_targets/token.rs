//! Token parsing: never panics; an accepted token has the documented shape, and its storage
//! key is the SHA-256 of exactly that text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patgate_core::token::{UntrustedToken, PREFIX, TOKEN_LEN};

fuzz_target!(|input: &str| {
    if let Ok(token) = UntrustedToken::parse(input) {
        assert_eq!(input.len(), TOKEN_LEN);
        assert!(input.starts_with(PREFIX));
        assert!(input[PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(token.storage_key().as_str().len(), 64);
        assert!(input.starts_with(token.hint()));
    }
});
