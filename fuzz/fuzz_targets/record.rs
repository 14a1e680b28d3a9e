//! The KV validation record: decoding never panics, and what decodes re-encodes to something
//! that decodes to the same record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patgate_core::record::TokenRecord;

fuzz_target!(|json: &str| {
    if let Ok(record) = TokenRecord::decode(json) {
        assert_eq!(TokenRecord::decode(&record.encode()), Ok(record));
    }
});
