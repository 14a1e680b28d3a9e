//! The console's routes, guards and handlers, natively: real routing, real handlers and the
//! real ledger behind the typed client, with only the runtime replaced.

mod notices;
mod sessions;

use futures_executor::block_on;
use serde_json::{json, Value};

use super::*;
use crate::ledger::client::LedgerClient;
use crate::revocation::RevocationMode;
use crate::router::{route, Route};
use crate::signin::fakes::{self, FakePorts};
use crate::testing::InProcessLedgers;

pub(super) const ORIGIN: &str = "http://localhost:8787";

/// The console over in-process ledgers and a fake identity provider.
pub(super) struct Setup {
    pub ledgers: InProcessLedgers,
    pub config: Config,
    pub provider: FakePorts,
}

impl Setup {
    pub fn new(dev_login: bool) -> Self {
        Self {
            ledgers: InProcessLedgers::default(),
            config: fakes::config(dev_login),
            provider: FakePorts::default(),
        }
    }

    /// `path` may carry a query string.
    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        self.send_to("localhost", method, path, headers, body)
    }

    fn send_to(
        &self,
        host: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let method = Method::parse(method);
        let (path, query) = match path.split_once('?') {
            Some((path, query)) => (path, Some(query.to_owned())),
            None => (path, None),
        };
        let Ok(Route::Console(console_route)) = route(&method, path) else {
            panic!("{path} is not a console route")
        };
        let ledger = LedgerClient::new(&self.ledgers);
        let console = Console {
            ledger: &ledger,
            entropy: &self.ledgers.entropy,
            config: &self.config,
            sign_in: &self.provider,
        };
        let request = ConsoleRequest {
            method,
            own_origin: ORIGIN.to_owned(),
            host: host.to_owned(),
            query,
            headers: headers.iter().copied().collect(),
            body: body.as_bytes().to_vec(),
        };
        block_on(console.answer(console_route, request))
    }

    /// Signs in through development sign-in and returns the session cookie.
    pub fn sign_in(&self, email: &str) -> String {
        let reply = self.send(
            "POST",
            "/console/auth/dev-login",
            &WRITE,
            &json!({ "email": email }).to_string(),
        );
        assert_eq!(reply.status, 200, "{}", text(&reply));
        let cookie = reply.header("set-cookie").unwrap();
        cookie.split(';').next().unwrap().to_owned()
    }

    pub fn validates(&self, token: &str) -> bool {
        let header = format!("Bearer {token}");
        let fast = self
            .ledgers
            .authenticate(Some(&header), RevocationMode::Fast);
        let strict = self
            .ledgers
            .authenticate(Some(&header), RevocationMode::Strict);
        assert_eq!(fast, strict, "the two modes agree once the feed is fresh");
        fast.is_ok()
    }
}

/// The headers a browser's same-origin JSON request carries.
pub(super) const WRITE: [(&str, &str); 3] = [
    ("X-Requested-With", "patgate-console"),
    ("Origin", ORIGIN),
    ("Content-Type", "application/json"),
];

pub(super) fn with_cookie<'a>(
    cookie: &'a str,
    base: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut headers = base.to_vec();
    headers.push(("Cookie", cookie));
    headers
}

pub(super) fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

pub(super) fn body(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body).unwrap()
}

#[test]
fn the_token_lifecycle_through_the_handlers() {
    let setup = Setup::new(true);
    let cookie = setup.sign_in("Ada@Example.com");
    let read = with_cookie(&cookie, &[]);
    let write = with_cookie(&cookie, &WRITE);

    let me = setup.send("GET", "/console/api/me", &read, "");
    assert_eq!(body(&me)["user"]["email"], "ada@example.com");

    let created = setup.send(
        "POST",
        "/console/api/tokens",
        &write,
        r#"{"name":" CI ","expires_in_days":30}"#,
    );
    assert_eq!(created.status, 201, "{}", text(&created));
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let created = body(&created);
    let token = created["token"].as_str().unwrap();
    let id = created["id"].as_str().unwrap();
    let mut keys: Vec<_> = created.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "created_at",
            "expires_at",
            "hint",
            "id",
            "last_used_at",
            "last_used_from",
            "name",
            "token"
        ]
    );
    assert!(setup.validates(token));

    let listed = body(&setup.send("GET", "/console/api/tokens", &read, ""));
    assert_eq!(listed["tokens"][0]["name"], "CI");
    assert!(!listed.to_string().contains(token));

    let path = format!("/console/api/tokens/{id}");
    let renamed = setup.send(
        "PATCH",
        &path,
        &write,
        r#"{"name":"Deploy","expires_in_days":null}"#,
    );
    assert_eq!(body(&renamed)["name"], "Deploy");
    assert_eq!(body(&renamed)["expires_at"], Value::Null);

    assert_eq!(setup.send("DELETE", &path, &write, "").status, 204);
    assert!(!setup.validates(token));
    assert_eq!(setup.send("DELETE", &path, &write, "").status, 404);

    let events = body(&setup.send("GET", "/console/api/audit", &read, ""));
    let actions: Vec<_> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        [
            "deleted",
            "expiry_changed",
            "renamed",
            "created",
            "signed_in"
        ]
    );
}

#[test]
fn revoke_all_refuses_every_token_of_the_user_only() {
    let setup = Setup::new(true);
    let ada = setup.sign_in("ada@example.com");
    let bob = setup.sign_in("bob@example.com");
    let create = |cookie: &str| {
        let reply = setup.send(
            "POST",
            "/console/api/tokens",
            &with_cookie(cookie, &WRITE),
            r#"{"name":"CI","expires_in_days":null}"#,
        );
        body(&reply)["token"].as_str().unwrap().to_owned()
    };
    let adas: Vec<String> = (0..3).map(|_| create(&ada)).collect();
    let bobs = create(&bob);
    let revoke = |cookie: &str, headers: &[(&str, &str)], payload: &str| {
        setup.send(
            "POST",
            "/console/api/tokens/revoke-all",
            &with_cookie(cookie, headers),
            payload,
        )
    };
    // The CSRF rules of every unsafe route, and a strict body.
    assert_eq!(revoke(&ada, &[], "").status, 403);
    assert_eq!(revoke(&ada, &WRITE, r#"{"all":true}"#).status, 400);
    assert!(adas.iter().all(|token| setup.validates(token)));

    let reply = revoke(&ada, &WRITE, "{}");
    assert_eq!(reply.status, 200, "{}", text(&reply));
    assert_eq!(body(&reply), json!({ "revoked": 3 }));
    assert!(adas.iter().all(|token| !setup.validates(token)));
    assert!(setup.validates(&bobs));
    assert_eq!(body(&revoke(&ada, &WRITE, "")), json!({ "revoked": 0 }));

    let events = body(&setup.send("GET", "/console/api/audit", &with_cookie(&ada, &[]), ""));
    let revoked: Vec<_> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "revoked_all")
        .collect();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["detail"], "3 tokens");
}

#[test]
fn a_pat_meets_403_before_any_other_answer() {
    let setup = Setup::new(true);
    let pat = [("Authorization", "Bearer pat_x")];
    for (method, path) in [
        ("GET", "/console/api/tokens"),
        ("PUT", "/console/api/tokens"),
        ("GET", "/console/api/nothing"),
        ("POST", "/console/auth/logout"),
    ] {
        let reply = setup.send(method, path, &pat, "");
        assert_eq!(reply.status, 403, "{method} {path}");
        assert_eq!(body(&reply)["error"], "insufficient_scope");
    }
}

#[test]
fn wrong_methods_and_paths_and_missing_sessions() {
    let setup = Setup::new(true);
    let put = setup.send("PUT", "/console/api/tokens", &WRITE, "{}");
    assert_eq!((put.status, put.header("allow")), (405, Some("GET, POST")));
    // A method the route does not take is 405 whatever headers came with it: the CSRF rules
    // judge only requests the route would run.
    for method in ["PUT", "TRACE", "QUERY"] {
        let bare = setup.send(method, "/console/api/me", &[], "");
        assert_eq!(
            (bare.status, bare.header("allow")),
            (405, Some("GET")),
            "{method}"
        );
    }
    assert_eq!(
        setup.send("GET", "/console/api/nothing", &[], "").status,
        404
    );
    for cookie in ["", "other=1", "__Host-patgate_session=usr_x.00"] {
        let reply = setup.send("GET", "/console/api/tokens", &[("Cookie", cookie)], "");
        assert_eq!(
            (reply.status, body(&reply)["error"].as_str()),
            (401, Some("unauthenticated"))
        );
    }
}

#[test]
fn another_users_token_is_the_same_404_as_a_missing_one() {
    let setup = Setup::new(true);
    let ada = setup.sign_in("ada@example.com");
    let bob = setup.sign_in("bob@example.com");
    let created = body(&setup.send(
        "POST",
        "/console/api/tokens",
        &with_cookie(&ada, &WRITE),
        r#"{"name":"ada only","expires_in_days":null}"#,
    ));
    let answers: Vec<String> = [
        created["id"].as_str().unwrap(),
        "tok_00000000000000000000",
        "not-an-id",
    ]
    .iter()
    .map(|id| {
        let reply = setup.send(
            "DELETE",
            &format!("/console/api/tokens/{id}"),
            &with_cookie(&bob, &WRITE),
            "",
        );
        assert_eq!(reply.status, 404);
        text(&reply)
    })
    .collect();
    assert!(answers.windows(2).all(|pair| pair[0] == pair[1]));
    assert!(setup.validates(created["token"].as_str().unwrap()));
}

#[test]
fn an_unreachable_ledger_is_503_never_401() {
    let setup = Setup::new(true);
    let cookie = setup.sign_in("ada@example.com");
    setup.ledgers.unreachable.set(true);
    let reply = setup.send("GET", "/console/api/tokens", &with_cookie(&cookie, &[]), "");
    assert_eq!(
        (reply.status, reply.header("retry-after")),
        (503, Some("5"))
    );
}
