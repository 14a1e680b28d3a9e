//! Tokens revoked for exposure (a scanner's report, a holder), the notices about them,
//! regeneration, and the platform's revoke-all: each through the same JSON protocol, with the
//! validation that follows.

use patgate_core::leak::report::FoundAt;
use patgate_core::session::NewSession;

use super::*;

fn found_on_github() -> ExposureCause {
    ExposureCause::SecretScanning(FoundAt {
        source: "commit".into(),
        url: Some("https://github.com/octo/app/blob/1a2b/ci.yml".into()),
    })
}

fn exposed(created: &CreatedToken, cause: ExposureCause) -> ExposedToken {
    ExposedToken {
        key: UntrustedToken::parse(&created.plaintext)
            .unwrap()
            .storage_key()
            .clone(),
        cause,
    }
}

fn revoke(world: &World, tokens: Vec<ExposedToken>, offset: u64) -> Vec<ExposureOutcome> {
    world.call_at(RevokeExposed { tokens }, offset).unwrap()
}

#[test]
fn a_reported_token_is_revoked_once_and_its_owner_told() {
    let world = World::new("ada@example.com");
    let leaked = world.create("CI", Expiry::Never).unwrap();
    let kept = world.create("laptop", Expiry::Never).unwrap();
    let unknown = ExposedToken {
        key: patgate_core::token::generate(&[7; 96])
            .unwrap()
            .storage_key(),
        cause: found_on_github(),
    };
    let report = vec![
        exposed(&leaked, found_on_github()),
        unknown,
        exposed(&leaked, found_on_github()),
    ];
    assert_eq!(
        revoke(&world, report.clone(), 20),
        vec![
            ExposureOutcome::Revoked,
            ExposureOutcome::NotHeld,
            ExposureOutcome::RevokedBefore
        ]
    );
    assert_eq!(
        world.validates_at(&leaked.plaintext, at(20)),
        Err(ApiError::InvalidToken)
    );
    assert!(
        world.feed.lists(&report[0].key),
        "announced like a deletion"
    );
    assert_eq!(world.validates(&kept.plaintext).unwrap(), "laptop");
    assert!(world.kv_record(&leaked.plaintext).is_none());

    let events = world.events();
    assert_eq!(events[0].action, AuditAction::RevokedLeaked);
    assert_eq!(events[0].token_id.as_ref(), Some(&leaked.token.id));
    assert_eq!(
        events[0].detail.as_deref(),
        Some("revoked automatically: found in public commit at https://github.com/octo/app/blob/1a2b/ci.yml")
    );
    let notices = world.act(Notices {}).unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].token_id, leaked.token.id);
    assert_eq!(notices[0].hint, leaked.token.hint);
    assert_eq!(notices[0].cause, found_on_github());
    assert_eq!(notices[0].revoked_at, at(20));

    // The same report again changes nothing, and is recognised.
    let stored = world.everything_stored();
    assert_eq!(
        revoke(&world, report, 30),
        vec![
            ExposureOutcome::RevokedBefore,
            ExposureOutcome::NotHeld,
            ExposureOutcome::RevokedBefore
        ]
    );
    assert_eq!(world.everything_stored(), stored);

    // Dismissed, the notice is gone; the record stays, so a report is still recognised.
    let dismiss = || {
        world.act(DismissNotice {
            token_id: leaked.token.id.clone(),
        })
    };
    assert_eq!(dismiss(), Ok(()));
    assert_eq!(dismiss(), Err(LedgerError::NotFound));
    assert!(world.act(Notices {}).unwrap().is_empty());
    assert_eq!(
        revoke(&world, vec![exposed(&leaked, ExposureCause::Holder)], 40),
        vec![ExposureOutcome::RevokedBefore]
    );
}

#[test]
fn a_holder_revokes_with_its_own_event_and_notice() {
    let world = World::new("ada@example.com");
    let created = world.create("CI", Expiry::Never).unwrap();
    assert_eq!(
        revoke(&world, vec![exposed(&created, ExposureCause::Holder)], 20),
        vec![ExposureOutcome::Revoked]
    );
    assert!(world.validates(&created.plaintext).is_err());
    let event = &world.events()[0];
    assert_eq!(
        (event.action, event.detail.as_deref()),
        (AuditAction::RevokedByHolder, Some("revoked by a holder"))
    );
    assert_eq!(
        world.act(Notices {}).unwrap()[0].cause,
        ExposureCause::Holder
    );
}

#[test]
fn a_revocation_that_cannot_be_announced_changes_nothing() {
    let world = World::new("ada@example.com");
    let created = world.create("CI", Expiry::Never).unwrap();
    world.feed.unavailable.set(true);
    let stored = world.everything_stored();
    let outcome = world.call_at(
        RevokeExposed {
            tokens: vec![exposed(&created, found_on_github())],
        },
        20,
    );
    assert_eq!(outcome, Err(LedgerError::Unavailable));
    assert_eq!(world.everything_stored(), stored);
    world.feed.unavailable.set(false);
    assert_eq!(world.validates(&created.plaintext).unwrap(), "CI");
}

#[test]
fn exposure_records_are_kept_up_to_their_retention() {
    let world = World::new("ada@example.com");
    for round in 0..3 {
        let batch: Vec<_> = (0..200)
            .map(|i| {
                world
                    .create(&format!("r{round}t{i}"), Expiry::Never)
                    .unwrap()
            })
            .collect();
        let tokens = batch
            .iter()
            .map(|created| exposed(created, ExposureCause::Holder))
            .collect();
        revoke(&world, tokens, 100 + round);
    }
    let records = world
        .storage
        .entries
        .borrow()
        .keys()
        .filter(|key| key.starts_with("exposure:"))
        .count();
    assert_eq!(records, crate::ledger::exposure::EXPOSURE_RETENTION);
    let notices = world.act(Notices {}).unwrap();
    assert_eq!(notices.len(), crate::ledger::exposure::EXPOSURE_RETENTION);
    let first_round = notices.iter().filter(|n| n.revoked_at == at(100)).count();
    assert_eq!(first_round, 100, "the oldest went first");
}

#[test]
fn regenerating_keeps_the_token_and_replaces_its_secret() {
    let world = World::new("ada@example.com");
    let created = world.create("CI", days(7)).unwrap();
    let regenerated = world
        .act_at(
            RegenerateToken {
                token_id: created.token.id.clone(),
                expiry: days(30),
            },
            100,
        )
        .unwrap();
    assert_eq!(regenerated.token.id, created.token.id);
    assert_eq!(regenerated.token.name, created.token.name);
    assert_ne!(regenerated.plaintext, created.plaintext);
    assert_eq!(regenerated.token.hint, &regenerated.plaintext[..8]);
    assert_eq!(regenerated.token.expires_at, Some(at(100 + 30 * 86_400)));
    assert_eq!(
        world.validates_at(&created.plaintext, at(100)),
        Err(ApiError::InvalidToken)
    );
    assert!(world
        .feed
        .lists(&exposed(&created, ExposureCause::Holder).key));
    assert_eq!(world.validates(&regenerated.plaintext).unwrap(), "CI");
    assert_eq!(world.list(), vec![regenerated.token.clone()]);
    let events = world.events();
    assert_eq!(events[0].action, AuditAction::Regenerated);
    assert_eq!(events[1].action, AuditAction::Created, "one event");
    assert!(!world.everything_stored().contains(&regenerated.plaintext));
    assert!(world.markers().is_empty());
    assert_eq!(
        world
            .act(RegenerateToken {
                token_id: TokenId::parse("tok_00000000000000000000").unwrap(),
                expiry: Expiry::Never,
            })
            .unwrap_err(),
        LedgerError::NotFound
    );
}

#[test]
fn a_regeneration_whose_kv_write_fails_is_undone_and_the_old_secret_works() {
    let world = World::new("ada@example.com");
    let created = world.create("CI", Expiry::Never).unwrap();
    let entries_before = world.storage.entries.borrow().clone();
    world.tokens.faults.set(fail(false, true, false));
    let regenerate = RegenerateToken {
        token_id: created.token.id.clone(),
        expiry: Expiry::Never,
    };
    assert_eq!(
        world.act_at(regenerate, 20).unwrap_err(),
        LedgerError::Unavailable
    );
    world.tokens.faults.set(Faults::default());
    assert_eq!(world.validates(&created.plaintext).unwrap(), "CI");
    assert_eq!(world.list(), vec![created.token.clone()]);
    // Everything is as before but the markers, which the alarm clears.
    let mut entries = world.storage.entries.borrow().clone();
    entries.retain(|key, _| !key.starts_with("sync:"));
    assert_eq!(entries, entries_before);
    assert_eq!(world.reconcile_at(30), Ok(0));
    assert_eq!(world.validates(&created.plaintext).unwrap(), "CI");
}

#[test]
fn the_platform_revokes_every_token_and_session_and_says_who_asked() {
    let world = World::new("ada@example.com");
    let tokens = [
        world.create("CI", Expiry::Never).unwrap(),
        world.create("laptop", days(7)).unwrap(),
    ];
    // A second browser's session.
    let second = NewSession::start(&world.user_id, &[9; 32]).key().clone();
    world
        .call_at(
            SignIn {
                email: world.email.clone(),
                session: second,
            },
            15,
        )
        .unwrap();
    let request = RevokeAllForPlatform {
        requested_by: "offboarding".into(),
        reason: Some("account disabled".into()),
    };
    assert_eq!(
        world.call_at(request, 20),
        Ok(PlatformRevocation {
            revoked: 2,
            sessions_ended: 2
        })
    );
    for created in &tokens {
        assert!(world.validates(&created.plaintext).is_err());
        assert!(world
            .feed
            .lists(&exposed(created, ExposureCause::Holder).key));
    }
    assert_eq!(world.act(Me {}).unwrap_err(), LedgerError::NotSignedIn);
    let stored = world.storage.entries.borrow();
    let event = stored
        .iter()
        .rfind(|(key, _)| key.starts_with("audit:"))
        .map(|(_, raw)| serde_json::from_str::<AuditEvent>(raw).unwrap())
        .unwrap();
    assert_eq!(event.action, AuditAction::RevokedAllByPlatform);
    assert_eq!(
        event.detail.as_deref(),
        Some("2 tokens and 2 sessions; requested by offboarding: account disabled")
    );
}

#[test]
fn the_platform_revoking_a_user_patgate_never_saw_writes_nothing() {
    let empty = World::new("nobody@example.com");
    empty.storage.entries.borrow_mut().clear();
    let request = RevokeAllForPlatform {
        requested_by: "offboarding".into(),
        reason: None,
    };
    assert_eq!(
        empty.call_at(request, 20),
        Ok(PlatformRevocation {
            revoked: 0,
            sessions_ended: 0
        })
    );
    assert!(empty.storage.entries.borrow().is_empty());
}

/// The exposure marker KV holds for `created`'s hash, if any.
fn kv_marker(world: &World, created: &CreatedToken) -> Option<String> {
    let key = exposed(created, ExposureCause::Holder).key;
    let markers = world.tokens.records.borrow();
    markers
        .get(&crate::store::exposure_marker_key(&key))
        .cloned()
}

#[test]
fn the_ledger_leaves_each_revoked_tokens_marker_within_one_invocations_kv_operations() {
    let world = World::new("ada@example.com");
    let all: Vec<_> = (0..MAX_TOKENS_PER_USER)
        .map(|i| world.create(&format!("CI {i}"), Expiry::Never).unwrap())
        .collect();
    let tokens = all
        .iter()
        .map(|created| exposed(created, found_on_github()))
        .collect();
    let writes = world.tokens.writes.get();
    revoke(&world, tokens, 20);
    // Two per token (the marker, the record's deletion): Cloudflare allows 1,000 KV
    // operations per invocation, and the token limit keeps a ledger's share under it.
    let made = world.tokens.writes.get() - writes;
    assert_eq!(made, 2 * MAX_TOKENS_PER_USER);
    assert!(made < 1_000);
    let marker = crate::store::exposure_marker_json(&world.user_id);
    for created in &all {
        assert!(world.kv_record(&created.plaintext).is_none());
        assert_eq!(kv_marker(&world, created).as_ref(), Some(&marker));
    }
    assert!(world.markers().is_empty(), "every hash written");
}

#[test]
fn markers_kv_did_not_take_are_written_by_the_alarm() {
    // The marker's write failing alone, and every write failing.
    for faults in [fail(false, true, false), fail(false, true, true)] {
        let world = World::new("ada@example.com");
        let created = world.create("CI", Expiry::Never).unwrap();
        world.tokens.faults.set(faults);
        assert_eq!(
            revoke(&world, vec![exposed(&created, ExposureCause::Holder)], 20),
            vec![ExposureOutcome::Revoked],
            "committed and announced: in force whatever KV does"
        );
        assert!(world.validates(&created.plaintext).is_err());
        assert_eq!(kv_marker(&world, &created), None);
        assert_eq!(world.markers().len(), 1, "{faults:?}");
        world.tokens.faults.set(Faults::default());
        assert_eq!(world.reconcile_at(30), Ok(0));
        assert!(kv_marker(&world, &created).is_some(), "{faults:?}");
        assert!(world.kv_record(&created.plaintext).is_none());
        assert!(world.markers().is_empty());
    }
}
