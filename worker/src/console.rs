//! The console API: sign-in, sessions and token management, for a signed-in browser only.
//!
//! Every request passes [`guard`] first: a request carrying `Authorization` is refused (a PAT
//! can never manage PATs), and state-changing requests must pass the CSRF defences.

use futures_util::StreamExt;
use patgate_core::expiry::ExpiryDays;
use patgate_core::identity::{Email, TokenId, TokenName, UserId};
use patgate_core::session::{
    clear_cookie_header, presented_session, NewSession, PresentedSession, RANDOM_BYTES_FOR_SESSION,
};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use worker::{Env, Method, Request, Response};

use crate::error::ApiError;
use crate::http;
use crate::ledger::{Command, Entropy, ExpiryChange, Reply};
use crate::ledger_object::{self, SystemEntropy};

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Beyond this, an oversized body is no longer drained before answering 413.
const MAX_DRAINED_BYTES: usize = 1024 * 1024;
/// The custom header that forces a CORS preflight on cross-origin requests.
pub const CSRF_HEADER: (&str, &str) = ("X-Requested-With", "patgate-console");

fn header(req: &Request, name: &str) -> Result<Option<String>, ApiError> {
    Ok(req.headers().get(name)?)
}

/// The console's own origin, as the browser names it in the `Origin` header.
fn own_origin(req: &Request) -> Result<String, ApiError> {
    let url = req.url()?;
    Ok(url.origin().ascii_serialization())
}

/// Refuses PATs everywhere here, and cross-site or non-JSON state changes.
pub fn guard(req: &Request) -> Result<(), ApiError> {
    if header(req, "Authorization")?.is_some() {
        return Err(ApiError::TokensCannotManageTokens);
    }
    if matches!(req.method(), Method::Get | Method::Head | Method::Options) {
        return Ok(());
    }
    if header(req, CSRF_HEADER.0)?.as_deref() != Some(CSRF_HEADER.1) {
        return Err(ApiError::CrossSiteRequest(
            "missing header X-Requested-With: patgate-console",
        ));
    }
    if header(req, "Sec-Fetch-Site")?.is_some_and(|site| site.eq_ignore_ascii_case("cross-site")) {
        return Err(ApiError::CrossSiteRequest(
            "cross-site requests are refused",
        ));
    }
    if header(req, "Origin")?.as_deref() != Some(own_origin(req)?.as_str()) {
        return Err(ApiError::CrossSiteRequest(
            "the Origin header must be the console's own origin",
        ));
    }
    let content_type = header(req, "Content-Type")?.unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::UnsupportedMediaType);
    }
    Ok(())
}

/// Reads at most [`MAX_BODY_BYTES`], whether or not a Content-Length was sent.
async fn read_body(req: &mut Request) -> Result<String, ApiError> {
    let declared = header(req, "Content-Length")?.and_then(|len| len.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES) {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut body = Vec::new();
    let mut too_large = false;
    let mut seen = 0usize;
    if req.inner().body().is_some() {
        let mut stream = req.stream()?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            seen = seen.saturating_add(chunk.len());
            // Keep reading (and discarding) a while after the limit, so that the client can
            // finish sending and read our 413 instead of seeing its connection cut.
            if seen > MAX_BODY_BYTES {
                too_large = true;
                body.clear();
                if seen > MAX_DRAINED_BYTES {
                    break;
                }
            } else {
                body.extend_from_slice(&chunk);
            }
        }
    }
    if too_large {
        return Err(ApiError::PayloadTooLarge);
    }
    String::from_utf8(body).map_err(|_| ApiError::InvalidBody("the body must be UTF-8 JSON".into()))
}

fn parse_body<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, ApiError> {
    serde_json::from_str(text).map_err(|e| ApiError::InvalidBody(format!("invalid body: {e}")))
}

/// For commands without parameters: an empty body or `{}`.
fn expect_empty_body(text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Ok(());
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Empty {}
    parse_body::<Empty>(text).map(|_| ())
}

/// Distinguishes `"field": null` (Some(Null)) from an absent field (None).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    #[serde(default, deserialize_with = "present")]
    name: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    expires_in_days: Option<Value>,
}

fn name_of(value: &Value) -> Result<TokenName, ApiError> {
    let Value::String(text) = value else {
        return Err(ApiError::InvalidBody("name must be a string".into()));
    };
    TokenName::parse(text).map_err(|e| ApiError::InvalidBody(e.to_string()))
}

fn expiry_of(value: &Value) -> Result<ExpiryChange, ApiError> {
    let out_of_range =
        |e: patgate_core::expiry::ExpiryOutOfRange| ApiError::InvalidBody(e.to_string());
    match value {
        Value::Null => Ok(ExpiryChange::Never),
        Value::Number(number) => {
            let days = number
                .as_u64()
                .ok_or(patgate_core::expiry::ExpiryOutOfRange)
                .map_err(out_of_range)?;
            let days = ExpiryDays::new(days).map_err(out_of_range)?;
            // 1..=3650 fits in u16.
            Ok(ExpiryChange::Days(
                u16::try_from(days.get()).unwrap_or(u16::MAX),
            ))
        }
        _ => Err(out_of_range(patgate_core::expiry::ExpiryOutOfRange)),
    }
}

fn session_of(req: &Request) -> Result<PresentedSession, ApiError> {
    presented_session(header(req, "Cookie")?.as_deref()).ok_or(ApiError::NotSignedIn)
}

fn path_token_id(raw: &str) -> Result<TokenId, ApiError> {
    // A malformed id cannot name any token: the same 404 as a missing one.
    TokenId::parse(raw).ok_or(ApiError::NotFound)
}

pub async fn me(req: Request, env: Env) -> Result<Response, ApiError> {
    let session = session_of(&req)?;
    match ledger_object::call(
        &env,
        &session.user_id,
        Command::Me {
            session: session.key,
        },
    )
    .await?
    {
        Reply::Me { user } => http::json(200, &json!({ "user": user })),
        _ => Err(ApiError::Internal),
    }
}

pub async fn list_tokens(req: Request, env: Env) -> Result<Response, ApiError> {
    let session = session_of(&req)?;
    let command = Command::ListTokens {
        session: session.key,
    };
    match ledger_object::call(&env, &session.user_id, command).await? {
        Reply::Tokens { tokens } => http::json(200, &json!({ "tokens": tokens })),
        _ => Err(ApiError::Internal),
    }
}

pub async fn create_token(mut req: Request, env: Env) -> Result<Response, ApiError> {
    let session = session_of(&req)?;
    let body: TokenBody = parse_body(&read_body(&mut req).await?)?;
    let name = name_of(
        body.name
            .as_ref()
            .ok_or_else(|| ApiError::InvalidBody("name is required".into()))?,
    )?;
    let expires_in_days = match body.expires_in_days.as_ref().map(expiry_of).transpose()? {
        None => return Err(ApiError::InvalidBody(
            "expires_in_days is required: a whole number of days from 1 to 3650, or null for never"
                .into(),
        )),
        Some(ExpiryChange::Days(days)) => Some(days),
        Some(_) => None,
    };
    let command = Command::CreateToken {
        session: session.key,
        name,
        expires_in_days,
    };
    match ledger_object::call(&env, &session.user_id, command).await? {
        Reply::Created { token, plaintext } => {
            let mut body = serde_json::to_value(token).map_err(|_| ApiError::Internal)?;
            if let Value::Object(fields) = &mut body {
                fields.insert("token".into(), Value::String(plaintext));
            }
            http::json(201, &body)
        }
        _ => Err(ApiError::Internal),
    }
}

pub async fn update_token(mut req: Request, env: Env, raw_id: &str) -> Result<Response, ApiError> {
    let session = session_of(&req)?;
    let body: TokenBody = parse_body(&read_body(&mut req).await?)?;
    let token_id = path_token_id(raw_id)?;
    if body.name.is_none() && body.expires_in_days.is_none() {
        return Err(ApiError::InvalidBody(
            "nothing to change: send name and/or expires_in_days".into(),
        ));
    }
    let name = body.name.as_ref().map(name_of).transpose()?;
    let expiry = body
        .expires_in_days
        .as_ref()
        .map(expiry_of)
        .transpose()?
        .unwrap_or(ExpiryChange::Keep);
    let command = Command::UpdateToken {
        session: session.key,
        token_id,
        name,
        expiry,
    };
    match ledger_object::call(&env, &session.user_id, command).await? {
        Reply::Updated { token } => http::json(200, &token),
        _ => Err(ApiError::Internal),
    }
}

pub async fn delete_token(mut req: Request, env: Env, raw_id: &str) -> Result<Response, ApiError> {
    let session = session_of(&req)?;
    expect_empty_body(&read_body(&mut req).await?)?;
    let token_id = path_token_id(raw_id)?;
    let command = Command::DeleteToken {
        session: session.key,
        token_id,
    };
    match ledger_object::call(&env, &session.user_id, command).await? {
        Reply::Deleted => http::no_content(&[]),
        _ => Err(ApiError::Internal),
    }
}

pub async fn audit(req: Request, env: Env) -> Result<Response, ApiError> {
    let session = session_of(&req)?;
    match ledger_object::call(
        &env,
        &session.user_id,
        Command::Audit {
            session: session.key,
        },
    )
    .await?
    {
        Reply::Events { events } => http::json(200, &json!({ "events": events })),
        _ => Err(ApiError::Internal),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DevLoginBody {
    email: String,
}

/// Local-development sign-in: on only when `DEV_LOGIN = "enabled"` (which `make dev` sets and
/// no production configuration does), and only for requests to localhost.
pub async fn dev_login(mut req: Request, env: Env) -> Result<Response, ApiError> {
    let enabled = env
        .var("DEV_LOGIN")
        .is_ok_and(|v| v.to_string() == "enabled");
    if !enabled {
        return Err(ApiError::NotFound);
    }
    let host = req.url()?.host_str().map(str::to_owned).unwrap_or_default();
    if host != "localhost" && host != "127.0.0.1" {
        return Err(ApiError::CrossSiteRequest(
            "development sign-in is only available on localhost",
        ));
    }
    let body: DevLoginBody = parse_body(&read_body(&mut req).await?)?;
    let email = Email::parse(&body.email).map_err(|e| ApiError::InvalidBody(e.to_string()))?;
    let user_id = UserId::for_email(&email);
    sign_in(&req, &env, user_id, email).await
}

/// Starts a new session for an identified user, whoever identified them. A session cookie
/// presented with the request (perhaps planted) is ended first: every sign-in gets a new id.
async fn sign_in(
    req: &Request,
    env: &Env,
    user_id: UserId,
    email: Email,
) -> Result<Response, ApiError> {
    if let Ok(previous) = session_of(req) {
        let command = Command::EndSession {
            session: previous.key,
        };
        ledger_object::call(env, &previous.user_id, command).await?;
    }
    let mut random = [0u8; RANDOM_BYTES_FOR_SESSION];
    SystemEntropy
        .fill(&mut random)
        .map_err(|_| ApiError::StoreUnavailable)?;
    let session = NewSession::start(&user_id, &random);
    let command = Command::SignIn {
        email: email.clone(),
        session: session.key().clone(),
    };
    ledger_object::call(env, &user_id, command).await?;
    let mut response = http::json(200, &json!({ "user": { "id": user_id, "email": email } }))?;
    response
        .headers_mut()
        .set("Set-Cookie", &session.set_cookie_header())?;
    Ok(response)
}

pub async fn logout(mut req: Request, env: Env) -> Result<Response, ApiError> {
    expect_empty_body(&read_body(&mut req).await?)?;
    // Signing out without a valid session still clears the browser's state.
    if let Ok(session) = session_of(&req) {
        ledger_object::call(
            &env,
            &session.user_id,
            Command::SignOut {
                session: session.key,
            },
        )
        .await?;
    }
    http::no_content(&[
        ("Set-Cookie", &clear_cookie_header()),
        ("Clear-Site-Data", "\"cookies\", \"storage\""),
    ])
}
