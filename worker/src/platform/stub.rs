//! One request to a Durable Object, named within its binding: how the Worker reaches a user's
//! ledger and the ledgers reach the revocation feed.

use wasm_bindgen::JsValue;
use worker::{Env, Method, Request, RequestInit};

/// Sends a GET (no body) or a POST (with one) to `url` on the object `name` of `binding`,
/// and returns the body of its 200 answer. Anything else is an error that says what failed.
pub async fn call_object(
    env: &Env,
    binding: &str,
    name: &str,
    url: &str,
    body: Option<&str>,
) -> Result<String, String> {
    let failed = |what: &'static str| move |error: worker::Error| format!("{what}: {error}");
    let mut init = RequestInit::new();
    match body {
        Some(body) => init
            .with_method(Method::Post)
            .with_body(Some(JsValue::from_str(body))),
        None => init.with_method(Method::Get),
    };
    let request = Request::new_with_init(url, &init).map_err(failed("request"))?;
    let stub = env
        .durable_object(binding)
        .and_then(|namespace| namespace.id_from_name(name)?.get_stub())
        .map_err(failed("stub"))?;
    let mut response = stub
        .fetch_with_request(request)
        .await
        .map_err(failed("fetch"))?;
    if response.status_code() != 200 {
        return Err(format!(
            "{binding} answered HTTP {}",
            response.status_code()
        ));
    }
    response.text().await.map_err(failed("reply"))
}
