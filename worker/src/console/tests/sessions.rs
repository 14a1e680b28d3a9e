//! Sessions through the console's handlers: development sign-in, rotation on signing in again,
//! and signing out (which always expires the cookie).

use super::*;

impl Setup {
    fn sign_out(&self, cookie: &str, body: &str) -> Reply {
        self.send(
            "POST",
            "/console/auth/logout",
            &with_cookie(cookie, &WRITE),
            body,
        )
    }
}

#[test]
fn sign_out_expires_the_cookie_even_when_the_ledger_is_unreachable() {
    let setup = Setup::new(true);
    let cookie = setup.sign_in("ada@example.com");
    setup.ledgers.unreachable.set(true);
    let out = setup.sign_out(&cookie, "");
    // 503: the server could not end the session, so the console must not say it did; but the
    // browser forgets the cookie all the same.
    assert_eq!((out.status, out.header("retry-after")), (503, Some("5")));
    let expiring = out.header("set-cookie").unwrap();
    assert!(
        expiring.starts_with("__Host-patgate_session=;"),
        "{expiring}"
    );
    assert!(expiring.contains("Max-Age=0"), "{expiring}");
    assert_eq!(out.header("clear-site-data"), None);
    // Any other refusal of a sign-out expires it too.
    let refused = setup.sign_out(&cookie, "x");
    assert_eq!(refused.status, 400);
    assert!(refused.header("set-cookie").unwrap().contains("Max-Age=0"));
    // Other routes never touch the cookie.
    let other = setup.send("GET", "/console/api/me", &with_cookie(&cookie, &[]), "");
    assert_eq!((other.status, other.header("set-cookie")), (503, None));
}

#[test]
fn development_sign_in_only_when_enabled_and_on_localhost() {
    let disabled = Setup::new(false);
    let body = r#"{"email":"ada@example.com"}"#;
    assert_eq!(
        disabled
            .send("POST", "/console/auth/dev-login", &WRITE, body)
            .status,
        404
    );
    let enabled = Setup::new(true);
    let remote = enabled.send_to(
        "patgate.example",
        "POST",
        "/console/auth/dev-login",
        &WRITE,
        body,
    );
    assert_eq!(remote.status, 403);
    let bad = enabled.send(
        "POST",
        "/console/auth/dev-login",
        &WRITE,
        r#"{"email":"not an email"}"#,
    );
    assert_eq!(bad.status, 400);
}

#[test]
fn sign_in_rotates_the_session_and_sign_out_ends_it() {
    let setup = Setup::new(true);
    let first = setup.sign_in("ada@example.com");
    let again = setup.send(
        "POST",
        "/console/auth/dev-login",
        &with_cookie(&first, &WRITE),
        r#"{"email":"ada@example.com"}"#,
    );
    let second = again
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_ne!(first, second);
    assert_eq!(
        setup
            .send("GET", "/console/api/me", &with_cookie(&first, &[]), "")
            .status,
        401
    );
    assert_eq!(
        setup
            .send("GET", "/console/api/me", &with_cookie(&second, &[]), "")
            .status,
        200
    );

    let out = setup.sign_out(&second, "");
    assert_eq!(out.status, 204);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(out.header("clear-site-data"), None);
    assert_eq!(
        setup
            .send("GET", "/console/api/me", &with_cookie(&second, &[]), "")
            .status,
        401
    );
}
