//! Self-service revocation by whoever holds a token.

use super::*;

#[test]
fn a_holder_revokes_without_learning_which_tokens_existed() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let live = world.create(&ada, "CI").plaintext;
    let unknown = patgate_core::token::generate(&[9; 96]).unwrap();
    let answers: Vec<Reply> = [
        format!(r#"{{"tokens":["{live}"]}}"#),
        format!(r#"{{"tokens":["{}"]}}"#, unknown.as_str()),
        r#"{"tokens":["pat_short"]}"#.to_owned(),
        format!(r#"{{"tokens":["{live}"]}}"#),
    ]
    .iter()
    .map(|body| world.holder(body).unwrap())
    .collect();
    for reply in &answers {
        assert_eq!((reply.status, &reply.body), (202, &answers[0].body));
    }
    assert!(!world.validates(&live));
    let events = world.act(&ada, Audit {}).unwrap();
    assert_eq!(events[0].detail.as_deref(), Some("revoked by a holder"));
    assert_eq!(
        events
            .iter()
            .filter(|e| e.detail.as_deref() == Some("revoked by a holder"))
            .count(),
        1
    );
    assert!(matches!(
        world.holder(r#"{"tokens":"x"}"#),
        Err(ApiError::InvalidBody(_))
    ));
    // A later report of the token a holder revoked is recognised.
    let reply = world.report(&report_of(&[&live])).unwrap();
    assert_eq!(labels(&reply)[0].1, "true_positive");
    let key = UntrustedToken::parse(&live).unwrap().storage_key().clone();
    assert!(world
        .ledgers
        .kv
        .records
        .borrow()
        .contains_key(&crate::store::exposure_marker_key(&key)));
}
