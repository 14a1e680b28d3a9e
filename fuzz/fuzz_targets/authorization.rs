//! `Authorization` header parsing (RFC 6750): never panics, and an accepted credential is a
//! non-empty b64token at the end of the header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patgate_core::bearer::{bearer_credential, MAX_AUTHORIZATION_LEN};

fuzz_target!(|header: &str| {
    if let Ok(credential) = bearer_credential(Some(header)) {
        assert!(!credential.is_empty());
        assert!(header.len() <= MAX_AUTHORIZATION_LEN);
        assert!(header.ends_with(credential));
        assert!(header[..6].eq_ignore_ascii_case("bearer"));
        assert!(credential.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)));
    }
});
