//! Console request bodies: never panic; what is accepted holds only valid values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patgate_core::identity::MAX_NAME_CHARS;
use patgate_core::request::{expect_empty, new_token, sign_in_email, token_changes};

fuzz_target!(|text: &str| {
    if let Ok((name, _expiry)) = new_token(text) {
        assert!(!name.as_str().is_empty());
        assert!(name.as_str().chars().count() <= MAX_NAME_CHARS);
    }
    if let Ok(changes) = token_changes(text).and_then(|body| body.judge()) {
        assert!(changes.name.is_some() || changes.expiry.is_some());
    }
    let _ = expect_empty(text);
    if let Ok(email) = sign_in_email(text) {
        assert!(email.as_str().contains('@'));
    }
});
