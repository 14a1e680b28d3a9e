//! The session cookie in a `Cookie` header: never panics; a session is found only in a header
//! with exactly one cookie of that name, and it names the user that cookie names.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patgate_core::session::{presented_session, SESSION_COOKIE_NAME};

fuzz_target!(|header: &str| {
    if let Some(session) = presented_session(Some(header)) {
        let values: Vec<&str> = header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(name, _)| *name == SESSION_COOKIE_NAME)
            .map(|(_, value)| value)
            .collect();
        assert_eq!(values.len(), 1, "{header:?}");
        assert!(values[0].starts_with(&format!("{}.", session.user_id.as_str())));
    }
});
