//! The patgate Worker: edge validation of Personal Access Tokens, the gateway to the origin
//! API, the console API and the per-user token ledger. See ARCHITECTURE.md for the codemap.

mod auth;
mod console;
mod error;
mod gateway;
mod http;
mod kv;
mod ledger;
mod ledger_object;
mod log;
mod router;
mod store;

#[cfg(test)]
mod ledger_tests;

pub use ledger_object::UserLedger;

use worker::{event, Context, Env, Request, Response};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    router::handle(req, env, ctx).await
}
