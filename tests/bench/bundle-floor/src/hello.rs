//! The fetch event alone: the request's URL, method, one header and body, read and echoed.

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(mut req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    let url = req.inner().url();
    let method = req.method();
    let authorization = req.headers().get("Authorization")?.unwrap_or_default();
    let body = req.bytes().await?;
    Response::ok(format!("{method} {url} {authorization} {}", body.len()))
}
