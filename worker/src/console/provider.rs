//! The console's side of signing in with the identity provider: which ways of signing in
//! there are, and the two browser navigations of the flow. The flow itself is `signin`; this
//! turns its outcome into a session and a redirect, or a redirect to the sign-in page.

use patgate_core::signin::clear_transaction_cookie_header;

use super::body::BodySource;
use super::views::{ProviderView, SignInMethods};
use super::{Console, ConsoleRequest};
use crate::config::{DevLogin, ProviderSignIn};
use crate::error::ApiError;
use crate::http::Reply;
use crate::ledger::client::LedgerTransport;
use crate::log;
use crate::runtime::Entropy;
use crate::signin::{Query, SignInFailure, SignInFlow, SignInPorts};

impl<T: LedgerTransport, E: Entropy, S: SignInPorts> Console<'_, T, E, S> {
    pub(super) fn sign_in_methods(&self) -> Result<Reply, ApiError> {
        let methods = SignInMethods {
            provider: self
                .config
                .sign_in
                .as_ref()
                .ok()
                .map(|settings| ProviderView {
                    name: settings.provider_name().to_owned(),
                    login_url: "/console/auth/login",
                }),
            development: self.config.dev_login == DevLogin::Enabled,
        };
        Reply::json(200, &methods)
    }

    fn flow<'s>(&'s self, settings: &'s ProviderSignIn) -> SignInFlow<'s, S, E> {
        SignInFlow {
            settings,
            ports: self.sign_in,
            entropy: self.entropy,
        }
    }

    fn settings(&self) -> Result<&ProviderSignIn, ApiError> {
        // The missing or bad setting was named in the log once, when it was parsed.
        self.config
            .sign_in
            .as_ref()
            .map_err(|_| ApiError::SignInMisconfigured)
    }

    pub(super) async fn provider_login<B: BodySource>(
        &self,
        req: ConsoleRequest<B>,
    ) -> Result<Reply, ApiError> {
        let query = Query::parse(req.query.as_deref());
        let started = self
            .flow(self.settings()?)
            .start(&query, &req.own_origin)
            .await;
        Ok(started.unwrap_or_else(|failure| failed(&failure)))
    }

    /// Whatever happens, the transaction cookie is cleared: it is good for one callback only.
    pub(super) async fn provider_callback<B: BodySource>(
        &self,
        req: ConsoleRequest<B>,
    ) -> Result<Reply, ApiError> {
        let query = Query::parse(req.query.as_deref());
        let finished = self
            .flow(self.settings()?)
            .finish(&query, req.headers.get("Cookie"), &req.own_origin)
            .await;
        let reply = match finished {
            Ok((identity, return_to)) => {
                let session = self
                    .start_session(&req.headers, identity.user_id(), identity.email().clone())
                    .await;
                match session {
                    Ok((_, cookie)) => {
                        Reply::redirect(302, return_to.as_str()).with_header("Set-Cookie", cookie)
                    }
                    Err(error) => {
                        log::error(&format!("sign-in could not start a session: {error}"));
                        failed(&SignInFailure::Unavailable)
                    }
                }
            }
            Err(failure) => failed(&failure),
        };
        Ok(reply
            .with_header("Set-Cookie", clear_transaction_cookie_header())
            .with_header("Cache-Control", "no-store".to_owned()))
    }
}

/// Logs why, and sends the browser to the sign-in page with the failure's code.
fn failed(failure: &SignInFailure) -> Reply {
    log::error(&format!("sign-in failed: {failure}"));
    Reply::redirect(302, &failure.page())
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};
    use url::Url;

    use super::super::tests::{body, with_cookie, Setup};
    use crate::config::Config;
    use crate::http::Reply;
    use crate::signin::fakes::{sign, ISSUER};
    use patgate_core::identity::{Email, UserId};

    fn cookies(reply: &Reply) -> Vec<&str> {
        reply
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, value)| value.as_str())
            .collect()
    }

    fn pair(set_cookie: &str) -> String {
        set_cookie.split(';').next().unwrap().to_owned()
    }

    /// Starts a sign-in, lets the provider sign `claims` (plus the nonce) for subject `sub`,
    /// and delivers the callback `tamper` makes of the provider's redirect. Returns the reply.
    fn sign_in_with(
        setup: &Setup,
        return_to: &str,
        claims: Value,
        tamper: impl Fn(String) -> String,
    ) -> Reply {
        let login = setup.send("GET", &format!("/console/auth/login?{return_to}"), &[], "");
        assert_eq!(login.status, 302);
        let transaction = pair(cookies(&login)[0]);
        let location = Url::parse(login.header("location").unwrap()).unwrap();
        let param = |name: &str| {
            location
                .query_pairs()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.into_owned())
                .unwrap()
        };
        let now = setup.provider.offset.get() + crate::testing::START;
        let mut claims_with_nonce = json!({
            "iss": ISSUER, "aud": "patgate", "exp": now + 300, "iat": now,
            "nonce": param("nonce"), "email_verified": true,
        });
        for (name, value) in claims.as_object().unwrap() {
            claims_with_nonce[name] = value.clone();
        }
        let header = json!({ "alg": "RS256", "kid": "key-1" });
        let id_token = sign(&header, &claims_with_nonce, "key-1");
        setup.provider.provider.answer_id_token(&id_token);
        let query = format!("code=c0de&state={}&iss={ISSUER}", param("state"));
        let path = format!("/console/auth/callback?{}", tamper(query));
        setup.send("GET", &path, &with_cookie(&transaction, &[]), "")
    }

    fn session_of(reply: &Reply) -> String {
        let session = cookies(reply)
            .into_iter()
            .find(|c| c.starts_with("__Host-patgate_session="))
            .expect("a session cookie");
        pair(session)
    }

    #[test]
    fn the_methods_name_the_provider_and_development_sign_in_only_when_enabled() {
        let methods = |setup: &Setup| body(&setup.send("GET", "/console/auth/methods", &[], ""));
        assert_eq!(
            methods(&Setup::new(true)),
            json!({ "provider": { "name": "Example ID", "login_url": "/console/auth/login" },
                    "development": true })
        );
        assert_eq!(methods(&Setup::new(false))["development"], false);
        let mut unconfigured = Setup::new(false);
        unconfigured.config = Config::parse(|_| None);
        assert_eq!(
            methods(&unconfigured),
            json!({ "provider": null, "development": false })
        );
    }

    #[test]
    fn a_provider_sign_in_starts_a_session_for_issuer_and_subject_and_returns_where_asked() {
        let setup = Setup::new(false);
        let claims = json!({ "sub": "248289761001", "email": "Ada@Example.com" });
        let reply = sign_in_with(&setup, "return_to=/console/%23/activity", claims, |q| q);
        assert_eq!(reply.status, 302);
        assert_eq!(reply.header("location"), Some("/console/#/activity"));
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        let set = cookies(&reply);
        assert_eq!(set.len(), 2, "{set:?}");
        assert!(set
            .iter()
            .any(|c| c.starts_with("__Host-patgate_signin=;") && c.contains("Max-Age=0")));
        let session = session_of(&reply);
        let me = body(&setup.send("GET", "/console/api/me", &with_cookie(&session, &[]), ""));
        let provider_user = UserId::for_provider_subject(ISSUER, "248289761001");
        assert_eq!(me["user"]["id"], provider_user.as_str());
        assert_eq!(me["user"]["email"], "ada@example.com");

        // The email is a display attribute: a new one at the next sign-in, the same user.
        let claims = json!({ "sub": "248289761001", "email": "ada@new.example" });
        let again = sign_in_with(&setup, "", claims, |q| q);
        assert_eq!(again.header("location"), Some("/console/"));
        let me = body(&setup.send(
            "GET",
            "/console/api/me",
            &with_cookie(&session_of(&again), &[]),
            "",
        ));
        assert_eq!(
            me["user"],
            json!({ "id": provider_user.as_str(), "email": "ada@new.example" })
        );

        // Development sign-in users live apart: the same email is another user.
        let email = Email::parse("ada@example.com").unwrap();
        assert_ne!(UserId::for_email(&email), provider_user);
    }

    #[test]
    fn a_failed_callback_clears_the_transaction_and_starts_no_session() {
        let setup = Setup::new(false);
        let claims = json!({ "sub": "1", "email": "ada@example.com" });
        let reply = sign_in_with(&setup, "", claims, |q| q.replace("state=", "state=x"));
        assert_eq!(reply.status, 302);
        assert_eq!(
            reply.header("location"),
            Some("/console/?sign_in_error=invalid_response#/signin")
        );
        let set = cookies(&reply);
        assert_eq!(set.len(), 1);
        assert!(set[0].starts_with("__Host-patgate_signin=;"));

        let unverified = json!({ "sub": "1", "email": "ada@example.com", "email_verified": false });
        let reply = sign_in_with(&setup, "", unverified, |q| q);
        assert_eq!(
            reply.header("location"),
            Some("/console/?sign_in_error=email_not_verified#/signin")
        );
        assert_eq!(cookies(&reply).len(), 1);

        setup.ledgers.unreachable.set(true);
        let reply = sign_in_with(&setup, "", json!({ "sub": "1", "email": "a@b.c" }), |q| q);
        assert_eq!(
            reply.header("location"),
            Some("/console/?sign_in_error=temporarily_unavailable#/signin")
        );
        assert_eq!(cookies(&reply).len(), 1);
    }

    #[test]
    fn without_its_settings_provider_sign_in_is_500_and_nothing_stands_in_for_it() {
        let mut setup = Setup::new(false);
        setup.config = Config::parse(|_| None);
        for path in [
            "/console/auth/login",
            "/console/auth/callback?code=x&state=y",
        ] {
            let reply = setup.send("GET", path, &[], "");
            assert_eq!(reply.status, 500, "{path}");
            assert_eq!(body(&reply)["error"], "misconfigured");
        }
        let dev_login = setup.send(
            "POST",
            "/console/auth/dev-login",
            &super::super::tests::WRITE,
            r#"{"email":"a@b.c"}"#,
        );
        assert_eq!(dev_login.status, 404);
    }
}
