//! Building responses: JSON bodies, the error mapping, and the console's security headers.

use serde::Serialize;
use worker::{Headers, Response};

use crate::error::ApiError;

/// Strict CSP for the console (shared/reference/security.md): scripts, styles and connections
/// only from our own origin, no inline code, no framing.
pub const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const CONSOLE_HEADERS: [(&str, &str); 5] = [
    ("Content-Security-Policy", CONSOLE_CSP),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
];

fn json_headers() -> worker::Result<Headers> {
    let headers = Headers::new();
    headers.set("Content-Type", "application/json; charset=utf-8")?;
    headers.set("Cache-Control", "no-store")?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    Ok(headers)
}

pub fn json<T: Serialize>(status: u16, body: &T) -> Result<Response, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(|_| ApiError::Internal)?;
    Ok(Response::builder()
        .with_status(status)
        .with_headers(json_headers()?)
        .fixed(bytes))
}

pub fn no_content(extra: &[(&str, &str)]) -> Result<Response, ApiError> {
    let headers = Headers::new();
    headers.set("Cache-Control", "no-store")?;
    for (name, value) in extra {
        headers.append(name, value)?;
    }
    Ok(Response::builder()
        .with_status(204)
        .with_headers(headers)
        .empty())
}

/// The one place where an [`ApiError`] becomes an HTTP response.
pub fn error_response(error: &ApiError) -> worker::Result<Response> {
    let parts = error.to_response_parts();
    let headers = json_headers()?;
    for (name, value) in &parts.headers {
        headers.set(name, value)?;
    }
    let body = serde_json::json!({ "error": parts.code, "message": parts.message });
    Ok(Response::builder()
        .with_status(parts.status)
        .with_headers(headers)
        .fixed(body.to_string().into_bytes()))
}

/// Copies a response (whose headers may be immutable) and adds the console's headers.
pub fn with_console_headers(response: Response) -> worker::Result<Response> {
    let headers = Headers::new();
    for (name, value) in response.headers().entries() {
        headers.append(&name, &value)?;
    }
    for (name, value) in CONSOLE_HEADERS {
        headers.set(name, value)?;
    }
    Ok(Response::builder()
        .with_status(response.status_code())
        .with_headers(headers)
        .body(response.body().clone()))
}
