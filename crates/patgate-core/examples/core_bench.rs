//! The core's share of a validation, natively: `cargo run --release -p patgate-core --example
//! core_bench`. (The Worker's figures come from tests/bench/bench.mjs.)

use std::hint::black_box;
use std::time::Instant;

use patgate_core::bearer::bearer_credential;
use patgate_core::identity::{Email, TokenId, TokenName, UserId};
use patgate_core::record::{StoredRecord, TokenRecord};
use patgate_core::time::Timestamp;
use patgate_core::token::{generate, UntrustedToken};
use patgate_core::verify::verify;

const ROUNDS: u32 = 200_000;

fn per_call(label: &str, mut work: impl FnMut()) {
    for _ in 0..1_000 {
        work();
    }
    let start = Instant::now();
    for _ in 0..ROUNDS {
        work();
    }
    let nanos = start.elapsed().as_nanos() as f64 / f64::from(ROUNDS);
    println!("{label:<58} {:>8.2} µs", nanos / 1000.0);
}

fn main() {
    let Ok(token) = generate(&[7u8; 96]) else {
        return;
    };
    let header = format!("Bearer {}", token.as_str());
    // One character changed: well formed, but the checksum catches it.
    let mut mistyped = header.clone();
    let last = mistyped.pop();
    mistyped.push(if last == Some('a') { 'b' } else { 'a' });
    let Ok(email) = Email::parse("bench@example.com") else {
        return;
    };
    let (Some(token_id), Ok(name)) = (
        TokenId::parse("tok_abcdefghij0123456789"),
        TokenName::parse("bench"),
    ) else {
        return;
    };
    let record = TokenRecord::new(
        token_id,
        UserId::for_email(&email),
        email,
        name,
        Timestamp::UNIX_EPOCH,
        None,
    )
    .encode();
    let now = Timestamp::UNIX_EPOCH.saturating_add_days(1);

    per_call(
        "valid: header + parse + SHA-256 + decode record + verify",
        || {
            let credential = bearer_credential(Some(black_box(&header))).ok();
            let parsed = credential.and_then(|c| UntrustedToken::parse(c).ok());
            if let Some(parsed) = parsed {
                let key = black_box(parsed.storage_key()).clone();
                if let Ok(stored) = StoredRecord::decode(key, black_box(&record)) {
                    black_box(verify(parsed, stored, now).is_ok());
                }
            }
        },
    );
    per_call(
        "mistyped: header + parse (checksum rejects it, no hash)",
        || {
            let credential = bearer_credential(Some(black_box(&mistyped))).ok();
            black_box(credential.map(UntrustedToken::parse));
        },
    );
}
