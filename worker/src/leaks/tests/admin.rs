//! The admin API's revoke-all: its own secret, never a token.

use super::*;
use crate::admin::revoke_all;
use crate::config::Config;

fn admin_config(secret: Option<&str>) -> Config {
    Config::parse(|name| match name {
        "ADMIN_API_SECRET" => secret.map(str::to_owned),
        _ => None,
    })
}

#[test]
fn the_admin_api_takes_its_secret_never_a_token() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let token = world.create(&ada, "CI").plaintext;
    let config = admin_config(Some(ADMIN_SECRET));
    let send = |config: &Config, authorization: Option<&str>, user: &str| {
        let ledger = LedgerClient::new(&world.ledgers);
        let body = br#"{"requested_by":"offboarding","reason":"account disabled"}"#.to_vec();
        block_on(revoke_all(config, authorization, user, body, &ledger))
    };
    let ada_id = ada.0.as_str();
    let bearer = format!("Bearer {ADMIN_SECRET}");
    assert_eq!(
        send(&admin_config(None), Some(&bearer), ada_id),
        Err(ApiError::Misconfigured("the admin API is not configured"))
    );
    for (authorization, refusal) in [
        (None, ApiError::AdminCredentialRefused),
        (
            Some("Basic YWRtaW46YWRtaW4="),
            ApiError::AdminCredentialRefused,
        ),
        (
            Some("Bearer wrong-secret"),
            ApiError::AdminCredentialRefused,
        ),
        (
            Some(&format!("Bearer {ADMIN_SECRET}x")),
            ApiError::AdminCredentialRefused,
        ),
        (Some(&format!("Bearer {token}")), ApiError::TokenNotAdmin),
        (Some("Bearer pat_typo"), ApiError::TokenNotAdmin),
    ] {
        assert_eq!(
            send(&config, authorization, ada_id),
            Err(refusal),
            "{authorization:?}"
        );
    }
    assert!(world.validates(&token));
    assert_eq!(
        send(&config, Some(&bearer), "usr_nope"),
        Err(ApiError::NotFound)
    );
    let reply = send(&config, Some(&bearer), ada_id).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&reply.body).unwrap(),
        json!({"revoked": 1, "sessions_ended": 1})
    );
    assert!(!world.validates(&token));
    assert_eq!(world.act(&ada, Me {}), Err(ApiError::NotSignedIn));
}
