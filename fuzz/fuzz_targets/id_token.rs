//! ID tokens and the provider's keys: the JWS, JWK set and claims parsers never panic; a JWS
//! that parses is three parts within the size limit, and its chosen key is for its algorithm.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patgate_core::jose::claims::IdTokenClaims;
use patgate_core::jose::jwk::JwkSet;
use patgate_core::jose::jws::{UntrustedJws, MAX_COMPACT_LEN};

fuzz_target!(|data: &[u8]| {
    let keys = JwkSet::parse(data).unwrap_or_default();
    let _ = IdTokenClaims::parse(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(jws) = UntrustedJws::parse(text) {
            assert!(text.len() <= MAX_COMPACT_LEN);
            assert_eq!(text.split('.').count(), 3);
            if let Ok(key) = keys.select(jws.header()) {
                assert_eq!(key.algorithm(), jws.header().alg);
            }
        }
    }
});
