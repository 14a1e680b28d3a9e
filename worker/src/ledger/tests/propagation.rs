//! How changes reach KV and the revocation feed (`ledger::propagation`): the order of the
//! steps, what each failure leaves behind, KV's write limit, revoking all, lookups, and the
//! alarm that reconciles KV with the ledger.

use super::*;
use crate::ledger::propagation::{
    KV_RETRY_DELAYS_MS, RECONCILE_AFTER_MS, RECONCILE_MAX_HASHES, RECONCILE_RETRY_MS,
};
use crate::revocation::FEED_WINDOW_MS;
use crate::testing::START;

fn delete(created: &CreatedToken) -> DeleteToken {
    DeleteToken {
        token_id: created.token.id.clone(),
    }
}

fn key_of(created: &CreatedToken) -> patgate_core::token::StorageKey {
    UntrustedToken::parse(&created.plaintext)
        .unwrap()
        .storage_key()
        .clone()
}

fn alarm_at(offset_seconds: u64, plus_millis: u64) -> Option<UnixMillis> {
    Some(UnixMillis((START + offset_seconds) * 1000 + plus_millis))
}

#[test]
fn each_command_commits_its_plan_once_then_clears_its_marker() {
    let world = World::new("ada@example.com");
    let before = world.storage.commits.get();
    let created = world.create("CI", Expiry::Never).unwrap();
    assert_eq!(world.storage.commits.get(), before + 2, "create");
    world
        .act_at(world.update(&created.token.id, "CD", None), 20)
        .unwrap();
    assert_eq!(world.storage.commits.get(), before + 4, "update");
    world.act(delete(&created)).unwrap();
    assert_eq!(world.storage.commits.get(), before + 6, "delete");
    assert!(world.markers().is_empty());
    // The alarm that would have found a forgotten marker was armed, and finds nothing.
    assert!(world.storage.alarm.get().is_some());
    assert_eq!(world.reconcile_at(30), Ok(0));
}

#[test]
fn an_update_is_announced_before_it_is_committed() {
    let world = World::new("ada@example.com");
    let created = world.create("CI", Expiry::Never).unwrap();
    assert!(
        !world.feed.lists(&key_of(&created)),
        "a new hash is not announced"
    );
    world.feed.unavailable.set(true);
    let entries = world.storage.entries.borrow().clone();
    for result in [
        world
            .act(world.update(&created.token.id, "CD", None))
            .map(|_| ()),
        world.act(delete(&created)),
        world.act(RevokeAllTokens {}).map(|_| ()),
    ] {
        assert_eq!(result, Err(LedgerError::Unavailable));
    }
    // Nothing that could leave a stale "valid" behind was committed.
    assert_eq!(*world.storage.entries.borrow(), entries);
    world.feed.unavailable.set(false);
    assert_eq!(world.validates(&created.plaintext).unwrap(), "CI");
    world
        .act(world.update(&created.token.id, "CD", None))
        .unwrap();
    assert!(world.feed.lists(&key_of(&created)));
}

#[test]
fn a_failed_ledger_commit_after_the_announcement_changes_nothing() {
    let world = World::new("ada@example.com");
    let created = world.create("CI", Expiry::Never).unwrap();
    world.storage.faults.set(fail(false, true, true));
    assert_eq!(world.act(delete(&created)), Err(LedgerError::Unavailable));
    world.storage.faults.set(Faults::default());
    // On the feed, which only sends it to the authority, which says it is valid.
    assert!(world.feed.lists(&key_of(&created)));
    assert_eq!(world.validates(&created.plaintext).unwrap(), "CI");
    assert!(world.kv_record(&created.plaintext).is_some());
    assert_eq!(world.list().len(), 1);
}

#[test]
fn a_failed_kv_write_on_create_undoes_the_token_and_the_alarm_clears_kv() {
    let (world, _) = World::with_full_audit_log();
    let entries = world.storage.entries.borrow().clone();
    world.tokens.faults.set(fail(false, true, false));
    assert_eq!(
        world.create("lost", Expiry::Never).unwrap_err(),
        LedgerError::Unavailable
    );
    world.tokens.faults.set(Faults::default());
    // The undo is exact, events dropped by retention included: only the marker remains.
    let markers = world.markers();
    assert_eq!(markers.len(), 1);
    let mut after = world.storage.entries.borrow().clone();
    after.remove(&markers[0]);
    assert_eq!(after, entries);
    assert!(world
        .events()
        .iter()
        .all(|e| e.token_name.as_deref() != Some("lost")));
    // A write reported as failed may still have landed: the alarm removes the record.
    let hash = markers[0].strip_prefix("sync:").unwrap().to_owned();
    world
        .tokens
        .records
        .borrow_mut()
        .insert(hash.clone(), "{}".into());
    assert_eq!(world.reconcile_at(20), Ok(0));
    assert!(!world.tokens.records.borrow().contains_key(&hash));
    assert!(world.markers().is_empty());
}

#[test]
fn a_failed_ledger_write_on_create_writes_no_kv_record() {
    let world = World::new("ada@example.com");
    world.storage.faults.set(fail(false, true, false));
    assert_eq!(
        world.create("CI", Expiry::Never).unwrap_err(),
        LedgerError::Unavailable
    );
    assert!(world.tokens.records.borrow().is_empty());
}

#[test]
fn an_update_is_in_force_when_kv_fails_and_the_alarm_catches_kv_up() {
    let world = World::new("ada@example.com");
    let created = world.create("CI", Expiry::Never).unwrap();
    let stale = world.kv_record(&created.plaintext).unwrap();
    world.tokens.faults.set(fail(false, true, false));
    let token = world
        .act(world.update(&created.token.id, "deploy", Some(days(1))))
        .unwrap();
    assert_eq!(token.name.as_str(), "deploy");
    // KV still says "CI", but the hash is on the feed, so the authority answers.
    assert_eq!(world.kv_record(&created.plaintext).unwrap(), stale);
    assert_eq!(world.validates(&created.plaintext).unwrap(), "deploy");
    // The audit log tells the truth: the change happened.
    let actions: Vec<_> = world.events().into_iter().map(|e| e.action).collect();
    assert_eq!(
        actions[..2],
        [AuditAction::ExpiryChanged, AuditAction::Renamed]
    );
    assert_eq!(world.markers().len(), 1);
    assert_eq!(world.storage.alarm.get(), alarm_at(10, RECONCILE_AFTER_MS));

    // While KV keeps failing, each alarm puts the hash back on the feed (here after the
    // first announcement has left its window) and tries again later.
    let late = 10 + FEED_WINDOW_MS / 1000 + 1;
    assert_eq!(world.reconcile_at(late), Ok(1));
    assert!(world.feed.lists(&key_of(&created)));
    assert_eq!(
        world.storage.alarm.get(),
        alarm_at(late, RECONCILE_RETRY_MS)
    );
    world.tokens.faults.set(Faults::default());
    assert_eq!(world.reconcile_at(late + 30), Ok(0));
    assert!(world
        .kv_record(&created.plaintext)
        .unwrap()
        .contains("\"deploy\""));
    assert!(world.markers().is_empty());
    assert_eq!(
        world.validates_at(&created.plaintext, at(10 + 86_400)),
        Err(ApiError::InvalidToken),
        "the new expiry is in force"
    );
}

#[test]
fn a_delete_is_in_force_at_once_even_when_kv_fails() {
    let world = World::new("ada@example.com");
    let created = world.create("CI", Expiry::Never).unwrap();
    world.tokens.faults.set(fail(false, false, true));
    assert_eq!(world.act(delete(&created)), Ok(()));
    assert!(world.kv_record(&created.plaintext).is_some(), "KV lags");
    assert_eq!(
        world.validates(&created.plaintext),
        Err(ApiError::InvalidToken)
    );
    assert!(world.list().is_empty());
    assert_eq!(world.act(delete(&created)), Err(LedgerError::NotFound));
    world.tokens.faults.set(Faults::default());
    assert_eq!(world.reconcile_at(20), Ok(0));
    assert!(world.kv_record(&created.plaintext).is_none());
}

#[test]
fn kv_429s_are_retried_so_a_rename_then_a_delete_both_succeed() {
    let world = World::new("ada@example.com");
    let created = world.create("CI", Expiry::Never).unwrap();
    world
        .act(world.update(&created.token.id, "CD", None))
        .unwrap();
    // The delete's write comes within the second: KV answers 429 twice, then accepts.
    world.tokens.rate_limited_writes.set(2);
    assert_eq!(world.act(delete(&created)), Ok(()));
    assert_eq!(*world.sleep.slept.borrow(), KV_RETRY_DELAYS_MS[..2]);
    assert!(world.kv_record(&created.plaintext).is_none());
    assert!(world.markers().is_empty());

    // KV still refusing after every retry: the delete is in force anyway, the alarm finishes.
    let other = world.create("other", Expiry::Never).unwrap();
    world.tokens.rate_limited_writes.set(usize::MAX);
    world.sleep.slept.borrow_mut().clear();
    assert_eq!(world.act(delete(&other)), Ok(()));
    assert_eq!(*world.sleep.slept.borrow(), KV_RETRY_DELAYS_MS);
    assert_eq!(
        world.validates(&other.plaintext),
        Err(ApiError::InvalidToken)
    );
    world.tokens.rate_limited_writes.set(0);
    assert_eq!(world.reconcile_at(20), Ok(0));
    assert!(world.kv_record(&other.plaintext).is_none());
}

#[test]
fn revoke_all_refuses_every_token_with_one_event() {
    let world = World::new("ada@example.com");
    assert_eq!(world.act(RevokeAllTokens {}), Ok(0));
    let tokens: Vec<CreatedToken> = (0..3)
        .map(|i| world.create(&format!("t{i}"), Expiry::Never).unwrap())
        .collect();
    let events_before = world.events().len();
    assert_eq!(world.act(RevokeAllTokens {}), Ok(3));
    for token in &tokens {
        assert_eq!(
            world.validates(&token.plaintext),
            Err(ApiError::InvalidToken)
        );
        assert!(world.kv_record(&token.plaintext).is_none());
        assert!(world.feed.lists(&key_of(token)));
    }
    assert!(world.list().is_empty());
    let events = world.events();
    assert_eq!(events.len(), events_before + 1);
    assert_eq!(events[0].action, AuditAction::RevokedAll);
    assert_eq!(events[0].detail.as_deref(), Some("3 tokens"));
    assert!(world.markers().is_empty());
}

#[test]
fn lookups_answer_the_current_record_for_the_right_hash_only() {
    let world = World::new("ada@example.com");
    let created = world.create("CI", days(30)).unwrap();
    let other = world.create("other", Expiry::Never).unwrap();
    let ask = |token_id: &TokenId, storage_key, user_id: &UserId| {
        let request = schema::encode(&LookupRequest {
            user_id: user_id.clone(),
            lookup: LookupToken {
                token_id: token_id.clone(),
                storage_key,
            },
        });
        let reply: LookupReply =
            serde_json::from_str(&block_on(world.ledger().lookup(&request))).unwrap();
        reply
    };
    let record = ask(&created.token.id, key_of(&created), &world.user_id)
        .unwrap()
        .unwrap();
    assert_eq!(Some(record), world.kv_record(&created.plaintext));
    assert_eq!(
        ask(&created.token.id, key_of(&other), &world.user_id),
        Ok(None)
    );
    let unknown = TokenId::parse("tok_00000000000000000000").unwrap();
    assert_eq!(ask(&unknown, key_of(&created), &world.user_id), Ok(None));
    let bob = UserId::for_email(&Email::parse("bob@example.com").unwrap());
    assert_eq!(
        ask(&created.token.id, key_of(&created), &bob),
        Err(LedgerError::Unavailable)
    );
    world.act(delete(&created)).unwrap();
    assert_eq!(
        ask(&created.token.id, key_of(&created), &world.user_id),
        Ok(None)
    );
}

#[test]
fn kv_records_of_expiring_tokens_carry_a_kv_expiration() {
    let world = World::new("ada@example.com");
    let created = world.create("CI", days(30)).unwrap();
    let key = key_of(&created);
    let expiration = |w: &World| w.tokens.expirations.borrow().get(key.as_str()).copied();
    assert_eq!(expiration(&world), created.token.expires_at);
    world
        .act(world.update(&created.token.id, "CI", Some(Expiry::Never)))
        .unwrap();
    assert_eq!(expiration(&world), None);
}

#[test]
fn an_alarm_run_rewrites_a_bounded_number_of_hashes_and_leaves_the_rest_to_the_next() {
    let world = World::new("ada@example.com");
    // Creates that failed while KV was down each left a marker behind.
    world.tokens.faults.set(fail(false, true, false));
    for i in 0..=RECONCILE_MAX_HASHES {
        world
            .create(&format!("lost {i}"), Expiry::Never)
            .unwrap_err();
    }
    world.tokens.faults.set(Faults::default());
    assert_eq!(world.markers().len(), RECONCILE_MAX_HASHES + 1);
    let writes = world.tokens.writes.get();
    assert_eq!(world.reconcile_at(20), Ok(1), "one left for the next run");
    assert_eq!(world.tokens.writes.get() - writes, RECONCILE_MAX_HASHES);
    assert_eq!(world.storage.alarm.get(), alarm_at(20, RECONCILE_RETRY_MS));
    assert_eq!(world.reconcile_at(50), Ok(0));
    assert!(world.markers().is_empty());
}
