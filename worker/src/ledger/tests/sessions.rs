//! Sessions in the ledger: when they end (idle, too old, signed out), that an object answers
//! only for its own user, and that a failing read is unavailable, never signed out.

use patgate_core::session::{ABSOLUTE_TIMEOUT_SECONDS, IDLE_TIMEOUT_SECONDS};

use super::*;

#[test]
fn a_request_for_another_user_is_refused_by_the_object() {
    let ada = World::new("ada@example.com");
    let bob = World::new("bob@example.com");
    // Bob's session, sent to Ada's object with Bob's user id in the body: the object belongs
    // to Ada, so whatever the body claims, it answers for nobody else.
    let as_bob = AsUser {
        session: bob.session.clone(),
        action: Me {},
    };
    assert_eq!(
        ada.call_for(&bob.user_id, as_bob, 10).unwrap_err(),
        LedgerError::Unavailable
    );
}

#[test]
fn sessions_end_when_idle_or_old_and_at_sign_out() {
    let world = World::new("ada@example.com");
    assert!(world.act_at(Me {}, IDLE_TIMEOUT_SECONDS - 1).is_ok());
    // Activity keeps it alive, up to the absolute limit.
    let mut offset = IDLE_TIMEOUT_SECONDS - 1;
    while offset + IDLE_TIMEOUT_SECONDS - 1 < ABSOLUTE_TIMEOUT_SECONDS {
        offset += IDLE_TIMEOUT_SECONDS - 1;
        assert!(world.act_at(Me {}, offset).is_ok(), "at {offset}");
    }
    assert_eq!(
        world.act_at(Me {}, ABSOLUTE_TIMEOUT_SECONDS).unwrap_err(),
        LedgerError::NotSignedIn
    );

    let idle = World::new("bob@example.com");
    assert_eq!(
        idle.act_at(Me {}, IDLE_TIMEOUT_SECONDS).unwrap_err(),
        LedgerError::NotSignedIn
    );

    let out = World::new("cy@example.com");
    let sign_out = SignOut {
        session: out.session.clone(),
    };
    assert_eq!(out.call_at(sign_out, 10), Ok(()));
    assert_eq!(out.act(Me {}).unwrap_err(), LedgerError::NotSignedIn);
}

#[test]
fn a_failing_ledger_read_is_unavailable_not_signed_out() {
    let world = World::new("ada@example.com");
    world.storage.faults.set(fail(true, false, false));
    assert_eq!(world.act(Me {}).unwrap_err(), LedgerError::Unavailable);
}
