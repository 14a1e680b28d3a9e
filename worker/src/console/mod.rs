//! The console API: sign-in (with the identity provider, see `provider.rs`, or development
//! sign-in), sessions and token management, for a signed-in browser only.
//!
//! Every request is refused first if it carries `Authorization` ([`guard::refuse_tokens`]: a PAT
//! can never manage PATs); then a wrong path or method is reported; then state-changing requests
//! must pass the CSRF defences ([`guard::csrf`]).
//! Handlers parse their input into the core's types, make one typed ledger call, and build
//! the public JSON of [`views`].

pub mod body;
pub mod guard;
mod provider;
pub mod views;

#[cfg(test)]
mod tests;

use patgate_core::identity::{Email, TokenId, UserId};
use patgate_core::request;
use patgate_core::session::{
    clear_cookie_header, presented_session, NewSession, PresentedSession, RANDOM_BYTES_FOR_SESSION,
};

use crate::config::{Config, DevLogin};
use crate::error::ApiError;
use crate::http::{Headers, Method, Reply};
use crate::ledger::client::{LedgerClient, LedgerTransport};
use crate::ledger::protocol::{
    Audit, CreateToken, DeleteToken, DismissNotice, EndSession, ListTokens, Me, Notices,
    RegenerateToken, RevokeAllTokens, SignIn, SignOut, UpdateToken,
};
use crate::router::ConsoleRoute;
use crate::runtime::Entropy;
use crate::signin::SignInPorts;
use body::BodySource;
use views::{
    AuditList, CreatedTokenView, NoticeList, RevokedTokens, TokenList, TokenView, UserEnvelope,
    UserView,
};

/// The parts of a console request the handlers read.
#[derive(Debug)]
pub struct ConsoleRequest<B> {
    pub method: Method,
    /// The console's origin as a browser names it (`http://localhost:8787`).
    pub own_origin: String,
    /// The host name the request was addressed to, without the port.
    pub host: String,
    /// The raw query string, without the `?`.
    pub query: Option<String>,
    pub headers: Headers,
    pub body: B,
}

/// What the console handlers need: the users' ledgers, randomness, the configuration, and
/// the identity provider.
pub struct Console<'a, T, E, S> {
    pub ledger: &'a LedgerClient<T>,
    pub entropy: &'a E,
    pub config: &'a Config,
    pub sign_in: &'a S,
}

fn session_of(headers: &Headers) -> Result<PresentedSession, ApiError> {
    presented_session(headers.get("Cookie")).ok_or(ApiError::NotSignedIn)
}

fn path_token_id(raw: &str) -> Result<TokenId, ApiError> {
    // A malformed id cannot name any token: the same 404 as a missing one.
    TokenId::parse(raw).ok_or(ApiError::NotFound)
}

/// The reply to a console request, from its route and what became of it (the handler's outcome,
/// or a refusal made before the handler ran).
///
/// Every answer to a sign-out expires the session cookie, whatever its status: a browser must
/// not keep a cookie because the ledger was unreachable (503) or the client was rate-limited
/// (429). The status still says whether the server ended the session: only 204 means it did.
pub fn reply(route: &Result<ConsoleRoute, ApiError>, outcome: Result<Reply, ApiError>) -> Reply {
    let reply = outcome.unwrap_or_else(|error| Reply::error(&error));
    match route {
        Ok(ConsoleRoute::Logout) => reply.with_header("Set-Cookie", clear_cookie_header()),
        _ => reply,
    }
}

impl<T: LedgerTransport, E: Entropy, S: SignInPorts> Console<'_, T, E, S> {
    /// Runs the console route and answers, errors included (see [`reply`]).
    pub async fn answer<B: BodySource>(
        &self,
        route: Result<ConsoleRoute, ApiError>,
        req: ConsoleRequest<B>,
    ) -> Reply {
        let outcome = self.handle(route.clone(), req).await;
        reply(&route, outcome)
    }

    /// Guards, then runs the console route.
    async fn handle<B: BodySource>(
        &self,
        route: Result<ConsoleRoute, ApiError>,
        req: ConsoleRequest<B>,
    ) -> Result<Reply, ApiError> {
        guard::refuse_tokens(&req.headers)?;
        let route = route?;
        guard::csrf(&req.method, &req.headers, &req.own_origin)?;
        match route {
            ConsoleRoute::SignInMethods => self.sign_in_methods(),
            ConsoleRoute::ProviderLogin => self.provider_login(req).await,
            ConsoleRoute::ProviderCallback => self.provider_callback(req).await,
            ConsoleRoute::DevLogin => self.dev_login(req).await,
            ConsoleRoute::Logout => self.logout(req).await,
            ConsoleRoute::Me => {
                let account = self
                    .ledger
                    .as_user(&session_of(&req.headers)?, Me {})
                    .await?;
                Reply::json(
                    200,
                    &UserEnvelope {
                        user: account.into(),
                    },
                )
            }
            ConsoleRoute::ListTokens => {
                let session = session_of(&req.headers)?;
                let tokens = self.ledger.as_user(&session, ListTokens {}).await?;
                let tokens = tokens.into_iter().map(TokenView::from).collect();
                Reply::json(200, &TokenList { tokens })
            }
            ConsoleRoute::CreateToken => {
                let session = session_of(&req.headers)?;
                let (name, expiry) = request::new_token(&body::read_text(req.body).await?)?;
                let created = self
                    .ledger
                    .as_user(&session, CreateToken { name, expiry })
                    .await?;
                Reply::json(201, &CreatedTokenView::from(created))
            }
            ConsoleRoute::UpdateToken(raw_id) => {
                let session = session_of(&req.headers)?;
                let changes = request::token_changes(&body::read_text(req.body).await?)?;
                let token_id = path_token_id(&raw_id)?;
                let changes = changes.judge()?;
                let update = UpdateToken {
                    token_id,
                    name: changes.name,
                    expiry: changes.expiry,
                };
                let token = self.ledger.as_user(&session, update).await?;
                Reply::json(200, &TokenView::from(token))
            }
            ConsoleRoute::DeleteToken(raw_id) => {
                let session = session_of(&req.headers)?;
                request::expect_empty(&body::read_text(req.body).await?)?;
                let token_id = path_token_id(&raw_id)?;
                self.ledger
                    .as_user(&session, DeleteToken { token_id })
                    .await?;
                Ok(Reply::no_content())
            }
            ConsoleRoute::RevokeAllTokens => {
                let session = session_of(&req.headers)?;
                request::expect_empty(&body::read_text(req.body).await?)?;
                let revoked = self.ledger.as_user(&session, RevokeAllTokens {}).await?;
                Reply::json(200, &RevokedTokens { revoked })
            }
            ConsoleRoute::RegenerateToken(raw_id) => {
                let session = session_of(&req.headers)?;
                let expiry = request::regenerated_expiry(&body::read_text(req.body).await?)?;
                let token_id = path_token_id(&raw_id)?;
                let regenerated = self
                    .ledger
                    .as_user(&session, RegenerateToken { token_id, expiry })
                    .await?;
                Reply::json(200, &CreatedTokenView::from(regenerated))
            }
            ConsoleRoute::Notices => {
                let notices = self
                    .ledger
                    .as_user(&session_of(&req.headers)?, Notices {})
                    .await?;
                let notices = notices.into_iter().map(Into::into).collect();
                Reply::json(200, &NoticeList { notices })
            }
            ConsoleRoute::DismissNotice(raw_id) => {
                let session = session_of(&req.headers)?;
                request::expect_empty(&body::read_text(req.body).await?)?;
                let token_id = path_token_id(&raw_id)?;
                self.ledger
                    .as_user(&session, DismissNotice { token_id })
                    .await?;
                Ok(Reply::no_content())
            }
            ConsoleRoute::Audit => {
                let events = self
                    .ledger
                    .as_user(&session_of(&req.headers)?, Audit {})
                    .await?;
                let events = events.into_iter().map(Into::into).collect();
                Reply::json(200, &AuditList { events })
            }
        }
    }

    /// Local-development sign-in: on only when `DEV_LOGIN = "enabled"` (which `make dev` sets
    /// and no production configuration does), and only for requests to localhost.
    async fn dev_login<B: BodySource>(&self, req: ConsoleRequest<B>) -> Result<Reply, ApiError> {
        if self.config.dev_login != DevLogin::Enabled {
            return Err(ApiError::NotFound);
        }
        if req.host != "localhost" && req.host != "127.0.0.1" {
            return Err(ApiError::CrossSiteRequest(
                "development sign-in is only available on localhost",
            ));
        }
        let email = request::sign_in_email(&body::read_text(req.body).await?)?;
        let (user, cookie) = self
            .start_session(&req.headers, UserId::for_email(&email), email)
            .await?;
        Ok(Reply::json(200, &UserEnvelope { user })?.with_header("Set-Cookie", cookie))
    }

    /// Starts a new session for an identified user, whoever identified them, and returns the
    /// user and the `Set-Cookie` value. A session cookie presented with the request (perhaps
    /// planted) is ended first: every sign-in gets a new id.
    async fn start_session(
        &self,
        headers: &Headers,
        user_id: UserId,
        email: Email,
    ) -> Result<(UserView, String), ApiError> {
        if let Ok(previous) = session_of(headers) {
            let end = EndSession {
                session: previous.key,
            };
            self.ledger.call(&previous.user_id, end).await?;
        }
        let random = self
            .entropy
            .draw::<RANDOM_BYTES_FOR_SESSION>()
            .map_err(|_| ApiError::StoreUnavailable)?;
        let session = NewSession::start(&user_id, &random);
        let sign_in = SignIn {
            email: email.clone(),
            session: session.key().clone(),
        };
        self.ledger.call(&user_id, sign_in).await?;
        let user = UserView {
            id: user_id.as_str().to_owned(),
            email: email.as_str().to_owned(),
        };
        Ok((user, session.set_cookie_header()))
    }

    /// Ends the presented session. The cookie is expired by [`reply`], whatever happens here.
    async fn logout<B: BodySource>(&self, req: ConsoleRequest<B>) -> Result<Reply, ApiError> {
        request::expect_empty(&body::read_text(req.body).await?)?;
        // Signing out without a valid session still clears the browser's cookie.
        if let Ok(session) = session_of(&req.headers) {
            let sign_out = SignOut {
                session: session.key,
            };
            self.ledger.call(&session.user_id, sign_out).await?;
        }
        // No `Clear-Site-Data: "cookies"`: it clears every cookie of the registrable domain,
        // signing the user out of every other application on it.
        Ok(Reply::no_content())
    }
}
