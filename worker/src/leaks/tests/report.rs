//! What a verified report does: revokes the live tokens it names, labels every match, and
//! answers a replay the same.

use super::*;

#[test]
fn a_signed_report_revokes_live_tokens_and_labels_every_match() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let leaked = world.create(&ada, "CI").plaintext;
    let kept = world.create(&ada, "laptop").plaintext;
    let unknown = patgate_core::token::generate(&[9; 96]).unwrap();
    let body = report_of(&[&leaked, unknown.as_str(), "pat_not_a_token", &leaked]);
    let reply = world.report(&body).unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(
        labels(&reply),
        vec![
            (hash(&leaked), "true_positive".into()),
            (hash(unknown.as_str()), "false_positive".into()),
            (hash("pat_not_a_token"), "false_positive".into()),
            (hash(&leaked), "true_positive".into()),
        ]
    );
    assert!(!world.validates(&leaked));
    assert!(world.validates(&kept));
    let events = world.act(&ada, Audit {}).unwrap();
    assert_eq!(
        events[0].detail.as_deref(),
        Some("revoked automatically: found in public commit at https://github.com/octo/app/blob/1a2b/ci.yml")
    );
    assert_eq!(world.act(&ada, Notices {}).unwrap().len(), 1);

    // The same report again (a replay, or the scanner retrying) changes nothing, and answers
    // the same, though KV has no record of the token any more.
    let stored = world.stored();
    let again = world.report(&body).unwrap();
    assert_eq!(labels(&again), labels(&reply));
    assert_eq!(world.stored(), stored);
}

#[test]
fn unreachable_keys_or_ledgers_are_503_and_a_retry_completes_the_report() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let token = world.create(&ada, "CI").plaintext;
    let body = report_of(&[&token]);
    world.server.down.set(true);
    assert_eq!(world.report(&body), Err(ApiError::StoreUnavailable));
    world.server.down.set(false);
    world.ledgers.unreachable.set(true);
    assert_eq!(world.report(&body), Err(ApiError::StoreUnavailable));
    world.ledgers.unreachable.set(false);
    assert!(world.validates(&token));
    let reply = world.report(&body).unwrap();
    assert_eq!(labels(&reply)[0].1, "true_positive");
    assert!(!world.validates(&token));
}

#[test]
fn reports_of_several_owners_reach_each_ledger() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let bob = world.user("bob@example.com");
    let ada_token = world.create(&ada, "CI").plaintext;
    let bob_token = world.create(&bob, "deploy").plaintext;
    let reply = world.report(&report_of(&[&ada_token, &bob_token])).unwrap();
    assert!(labels(&reply)
        .iter()
        .all(|(_, label)| label == "true_positive"));
    assert!(!world.validates(&ada_token) && !world.validates(&bob_token));
    assert_eq!(
        world.act(&bob, Notices {}).unwrap()[0].token_name.as_str(),
        "deploy"
    );
}

#[test]
fn malformed_or_oversized_reports_are_refused_once_verified() {
    let world = World::new();
    let body = br#"{"token":"x"}"#;
    assert!(matches!(world.report(body), Err(ApiError::InvalidBody(_))));
    let entry = r#"{"token":"x","type":"y"}"#;
    let many = format!(
        "[{}]",
        vec![entry; patgate_core::leak::report::MAX_REPORT_ENTRIES + 1].join(",")
    );
    assert!(matches!(
        world.report(many.as_bytes()),
        Err(ApiError::PayloadTooLarge(_))
    ));
    let thousand = format!("[{}]", vec![entry; 1_000].join(","));
    assert_eq!(
        labels(&world.report(thousand.as_bytes()).unwrap()).len(),
        1_000
    );
}

#[test]
fn a_thousand_live_tokens_of_ten_owners_cost_the_worker_a_few_kv_operations() {
    let world = World::new();
    let owners: Vec<_> = (0..10)
        .map(|i| world.user(&format!("owner{i}@example.com")))
        .collect();
    let tokens: Vec<String> = owners
        .iter()
        .flat_map(|owner| (0..100).map(|i| world.create(owner, &format!("CI {i}")).plaintext))
        .collect();
    let listed: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let body = report_of(&listed);
    // A bulk read of validation records, and one of exposure markers for the keys without a
    // record, per 100 keys: nothing per token.
    let bulk_reads = 2 * tokens.len().div_ceil(crate::store::KV_BULK_READ_KEYS);

    let reply = world.report(&body).unwrap();
    let first = world.worker_kv_operations.get();
    assert!(first <= bulk_reads, "{first} KV operations in the Worker");
    assert_eq!(labels(&reply).len(), 1_000);
    assert!(labels(&reply)
        .iter()
        .all(|(_, label)| label == "true_positive"));
    for owner in &owners {
        assert_eq!(world.act(owner, Notices {}).unwrap().len(), 100);
    }
    assert!(tokens
        .iter()
        .step_by(37)
        .all(|token| !world.validates(token)));

    // Every owner's ledger left the markers that let a replay be recognised, though KV holds
    // no validation record of these tokens any more.
    let stored = world.stored();
    let again = world.report(&body).unwrap();
    let replay = world.worker_kv_operations.get() - first;
    assert!(replay <= bulk_reads, "{replay} KV operations in the Worker");
    assert_eq!(labels(&again), labels(&reply));
    assert_eq!(world.stored(), stored);
}

#[test]
fn an_expired_token_is_not_live_so_its_report_is_a_false_positive() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let one_day = patgate_core::expiry::ExpiryDays::new(1).unwrap();
    let expired = world
        .create_expiring(&ada, "old CI", Expiry::InDays(one_day))
        .plaintext;
    // The instant it expires, as `verify` counts it; KV may still hold its record.
    world.ledgers.offset.set(86_400);
    assert!(!world.validates(&expired));
    let key = UntrustedToken::parse(&expired)
        .unwrap()
        .storage_key()
        .clone();
    assert!(world.ledgers.kv.records.borrow().contains_key(key.as_str()));
    let stored = world.stored();
    let reply = world.report(&report_of(&[&expired])).unwrap();
    assert_eq!(
        labels(&reply),
        vec![(hash(&expired), "false_positive".into())]
    );
    assert_eq!(
        world.stored(),
        stored,
        "no event, no notice, nothing revoked"
    );
    let ada = world.user("ada@example.com");
    assert!(world.act(&ada, Notices {}).unwrap().is_empty());
}
