//! The route table: the one place that says which handler owns which path and method.
//!
//! The Worker owns `/console…` and `/auth/…`; every other path belongs to the platform's API
//! and is forwarded once the PAT is validated.

use worker::{Context, Env, Method, Request, Response};

use crate::error::ApiError;
use crate::{console, gateway, http};

pub async fn handle(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let path = req.path();
    let console_route = path.starts_with("/console/api/") || path.starts_with("/console/auth/");
    let outcome = route(req, env, ctx, &path).await;
    let response = match outcome {
        Ok(response) => response,
        Err(error) => http::error_response(&error)?,
    };
    if console_route {
        http::with_console_headers(response)
    } else {
        Ok(response)
    }
}

async fn route(req: Request, env: Env, ctx: Context, path: &str) -> Result<Response, ApiError> {
    let method = req.method();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["auth", "v1", "verify"] => match method {
            Method::Get => gateway::verify(req, env, ctx).await,
            _ => Err(ApiError::MethodNotAllowed("GET")),
        },
        ["auth", "v1", "health"] => match method {
            Method::Get => http::json(200, &serde_json::json!({ "status": "ok" })),
            _ => Err(ApiError::MethodNotAllowed("GET")),
        },
        ["auth", ..] => Err(ApiError::NotFound),
        ["console", "auth", rest @ ..] => {
            console::guard(&req)?;
            match (rest, method) {
                (["dev-login"], Method::Post) => console::dev_login(req, env).await,
                (["logout"], Method::Post) => console::logout(req, env).await,
                (["dev-login"] | ["logout"], _) => Err(ApiError::MethodNotAllowed("POST")),
                _ => Err(ApiError::NotFound),
            }
        }
        ["console", "api", rest @ ..] => {
            console::guard(&req)?;
            match (rest, method) {
                (["me"], Method::Get) => console::me(req, env).await,
                (["me"], _) => Err(ApiError::MethodNotAllowed("GET")),
                (["tokens"], Method::Get) => console::list_tokens(req, env).await,
                (["tokens"], Method::Post) => console::create_token(req, env).await,
                (["tokens"], _) => Err(ApiError::MethodNotAllowed("GET, POST")),
                (["tokens", id], Method::Patch) => console::update_token(req, env, id).await,
                (["tokens", id], Method::Delete) => console::delete_token(req, env, id).await,
                (["tokens", _], _) => Err(ApiError::MethodNotAllowed("PATCH, DELETE")),
                (["audit"], Method::Get) => console::audit(req, env).await,
                (["audit"], _) => Err(ApiError::MethodNotAllowed("GET")),
                _ => Err(ApiError::NotFound),
            }
        }
        ["console"] => redirect_to_console(),
        ["console", ..] => static_asset(req, env).await,
        _ => gateway::forward(req, env, ctx).await,
    }
}

fn redirect_to_console() -> Result<Response, ApiError> {
    let headers = worker::Headers::new();
    headers.set("Location", "/console/")?;
    Ok(Response::builder()
        .with_status(308)
        .with_headers(headers)
        .empty())
}

/// The console's static files (web/), with its security headers.
async fn static_asset(req: Request, env: Env) -> Result<Response, ApiError> {
    if !matches!(req.method(), Method::Get | Method::Head) {
        return Err(ApiError::MethodNotAllowed("GET, HEAD"));
    }
    let response = env.assets("ASSETS")?.fetch_request(req).await?;
    Ok(http::with_console_headers(response)?)
}
