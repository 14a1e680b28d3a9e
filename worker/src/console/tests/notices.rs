//! Regenerating a token and the notices about exposed tokens, through the console's handlers.

use patgate_core::leak::report::FoundAt;
use patgate_core::token::UntrustedToken;

use super::*;
use crate::ledger::client::LedgerClient;
use crate::ledger::protocol::{ExposedToken, ExposureCause, RevokeExposed};

fn create(setup: &Setup, cookie: &str, payload: &str) -> Value {
    let reply = setup.send(
        "POST",
        "/console/api/tokens",
        &with_cookie(cookie, &WRITE),
        payload,
    );
    assert_eq!(reply.status, 201, "{}", text(&reply));
    body(&reply)
}

#[test]
fn regenerate_shows_a_new_secret_once_and_the_old_one_stops() {
    let setup = Setup::new(true);
    let ada = setup.sign_in("ada@example.com");
    let created = create(&setup, &ada, r#"{"name":"CI","expires_in_days":7}"#);
    let old = created["token"].as_str().unwrap();
    let path = format!(
        "/console/api/tokens/{}/regenerate",
        created["id"].as_str().unwrap()
    );
    let write = with_cookie(&ada, &WRITE);
    assert_eq!(
        setup
            .send("POST", &path, &with_cookie(&ada, &[]), "{}")
            .status,
        403
    );
    let missing = setup.send("POST", &path, &write, "{}");
    assert_eq!(missing.status, 400);
    assert!(text(&missing).contains("expires_in_days is required"));

    let reply = setup.send("POST", &path, &write, r#"{"expires_in_days":null}"#);
    assert_eq!(reply.status, 200, "{}", text(&reply));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let regenerated = body(&reply);
    let new = regenerated["token"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(
        (
            &regenerated["id"],
            &regenerated["name"],
            &regenerated["expires_at"]
        ),
        (&created["id"], &created["name"], &Value::Null)
    );
    assert!(!setup.validates(old));
    assert!(setup.validates(new));
    let listed = body(&setup.send("GET", "/console/api/tokens", &with_cookie(&ada, &[]), ""));
    assert!(!listed.to_string().contains(new));
    assert_eq!(listed["tokens"][0]["hint"], &new[..8]);

    // Another user's token, or a malformed id: the same 404.
    let bob = setup.sign_in("bob@example.com");
    let theirs = setup.send(
        "POST",
        &path,
        &with_cookie(&bob, &WRITE),
        r#"{"expires_in_days":1}"#,
    );
    assert_eq!(theirs.status, 404);
    let malformed = "/console/api/tokens/nope/regenerate";
    assert_eq!(
        setup
            .send("POST", malformed, &write, r#"{"expires_in_days":1}"#)
            .status,
        404
    );
}

#[test]
fn notices_list_tokens_revoked_for_exposure_until_dismissed() {
    let setup = Setup::new(true);
    let ada = setup.sign_in("ada@example.com");
    let read = with_cookie(&ada, &[]);
    let write = with_cookie(&ada, &WRITE);
    let created = create(&setup, &ada, r#"{"name":"CI","expires_in_days":null}"#);
    let token = created["token"].as_str().unwrap();
    let id = created["id"].as_str().unwrap();
    let empty = setup.send("GET", "/console/api/notices", &read, "");
    assert_eq!(body(&empty), json!({ "notices": [] }));

    let key = UntrustedToken::parse(token).unwrap().storage_key().clone();
    let found = FoundAt {
        source: "npm".into(),
        url: Some("https://www.npmjs.com/package/leaky".into()),
    };
    let revoke = RevokeExposed {
        tokens: vec![ExposedToken {
            key,
            cause: ExposureCause::SecretScanning(found),
        }],
    };
    let user = presented_session(Some(&ada)).unwrap().user_id;
    block_on(LedgerClient::new(&setup.ledgers).call(&user, revoke)).unwrap();

    let notices = body(&setup.send("GET", "/console/api/notices", &read, ""));
    let notice = &notices["notices"][0];
    assert_eq!(notice["token_id"], id);
    assert_eq!(notice["token_name"], "CI");
    assert_eq!(notice["token_hint"], &token[..8]);
    assert_eq!(notice["cause"], "secret_scanning");
    assert_eq!(notice["source"], "npm");
    assert_eq!(notice["url"], "https://www.npmjs.com/package/leaky");
    assert!(notice["revoked_at"].as_str().unwrap().ends_with('Z'));
    assert!(!notices.to_string().contains(&token[8..]));

    let path = format!("/console/api/notices/{id}");
    assert_eq!(setup.send("DELETE", &path, &read, "").status, 403);
    assert_eq!(setup.send("DELETE", &path, &write, "").status, 204);
    assert_eq!(setup.send("DELETE", &path, &write, "").status, 404);
    let after = body(&setup.send("GET", "/console/api/notices", &read, ""));
    assert_eq!(after, json!({ "notices": [] }));
    let audit = body(&setup.send("GET", "/console/api/audit", &read, ""));
    assert_eq!(audit["events"][0]["action"], "revoked_leaked");
}
