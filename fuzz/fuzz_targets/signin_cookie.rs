//! The sign-in transaction cookie and the return path: never panic; no input passes for a
//! transaction without the secret's HMAC, and an accepted return path stays in the console once
//! a browser resolves it (the `url` crate, WHATWG's rules, is the independent judge).
#![no_main]

use libfuzzer_sys::fuzz_target;
use patgate_core::signin::{ReturnPath, SignInTransaction};
use patgate_core::time::Timestamp;
use url::Url;

fuzz_target!(|text: &str| {
    let now = Timestamp::from_unix_seconds(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
    // The seeds carry no validly signed cookie, so anything accepted would be a forgery.
    assert!(SignInTransaction::from_cookie_header(Some(text), b"fuzzing secret", now).is_err());
    if let Some(path) = ReturnPath::parse(text) {
        let console = Url::parse("https://patgate.example/console/").expect("a valid base");
        let landed = console.join(path.as_str()).expect("an accepted path resolves");
        assert_eq!(landed.origin(), console.origin(), "{text:?} leaves the site");
        assert!(landed.path().starts_with("/console/"), "{text:?} leaves the console");
    }
});
