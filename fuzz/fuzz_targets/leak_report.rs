//! Leak report bodies (a scanner's, verified) and self-service and admin revocation bodies:
//! never panic; what is accepted is bounded, and only well-formed tokens are ever revoked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patgate_core::admin::{revoke_all_request, MAX_REASON_CHARS, MAX_REQUESTER_CHARS};
use patgate_core::leak::holder::{tokens_to_revoke, MAX_TOKENS_PER_REQUEST};
use patgate_core::leak::report::{
    distinct_tokens, parse, Verdict, MAX_REPORT_ENTRIES, MAX_SOURCE_CHARS, MAX_URL_CHARS,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(matches) = parse(data) {
        assert!(matches.len() <= MAX_REPORT_ENTRIES);
        let distinct = distinct_tokens(&matches);
        for (index, (key, found)) in distinct.iter().enumerate() {
            assert!(distinct[..index].iter().all(|(other, _)| other != key));
            assert!(matches.iter().any(|m| m.token().is_some_and(|t| t.storage_key() == key)));
            assert!(found.source.chars().count() <= MAX_SOURCE_CHARS);
            assert!(found.url.as_ref().is_none_or(|url| url.chars().count() <= MAX_URL_CHARS));
        }
        for reported in &matches {
            assert_eq!(Verdict::of(reported, false).token_hash.len(), 64);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(keys) = tokens_to_revoke(text) {
            assert!(keys.len() <= MAX_TOKENS_PER_REQUEST);
        }
        if let Ok(request) = revoke_all_request(text) {
            assert!((1..=MAX_REQUESTER_CHARS).contains(&request.requested_by.chars().count()));
            let reason = request.reason.map_or(1, |reason| reason.chars().count());
            assert!((1..=MAX_REASON_CHARS).contains(&reason));
        }
    }
});
