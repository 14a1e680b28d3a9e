//! Every capability patgate's Worker needs, each used once, chosen by the request's path.

use std::fmt;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use js_sys::{Array, Object, Reflect, Uint8Array};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{
    durable_object, event, Context, DurableObject, Env, Fetch, ListOptions, Method, Request,
    Response, ResponseBody, State, Storage,
};
use zeroize::Zeroize;

/// The one error type: a refused request (400) or a failure of the platform (502).
#[derive(Debug)]
pub(crate) enum FloorError {
    BadRequest(String),
    Platform(String),
}

impl fmt::Display for FloorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadRequest(why) => write!(f, "bad request: {why}"),
            Self::Platform(why) => write!(f, "platform failure: {why}"),
        }
    }
}

impl FloorError {
    fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::Platform(_) => 502,
        }
    }
}

impl From<worker::Error> for FloorError {
    fn from(error: worker::Error) -> Self {
        Self::Platform(error.to_string())
    }
}

impl From<worker::kv::KvError> for FloorError {
    fn from(error: worker::kv::KvError) -> Self {
        Self::Platform(error.to_string())
    }
}

impl From<JsValue> for FloorError {
    fn from(error: JsValue) -> Self {
        Self::Platform(format!("{error:?}"))
    }
}

impl From<getrandom::Error> for FloorError {
    fn from(error: getrandom::Error) -> Self {
        Self::Platform(error.to_string())
    }
}

impl From<serde_json::Error> for FloorError {
    fn from(error: serde_json::Error) -> Self {
        Self::BadRequest(error.to_string())
    }
}

impl From<base64::DecodeError> for FloorError {
    fn from(error: base64::DecodeError) -> Self {
        Self::BadRequest(error.to_string())
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    match route(&mut req, &env).await {
        Ok(response) => Ok(response),
        Err(error) => {
            worker::console_error!("{error}");
            let body = ErrorBody {
                error: error.to_string(),
            };
            Ok(Response::from_json(&body)?.with_status(error.status()))
        }
    }
}

async fn route(req: &mut Request, env: &Env) -> Result<Response, FloorError> {
    let url = req.inner().url();
    let method = req.method();
    let authorization = req.headers().get("Authorization")?.unwrap_or_default();
    let body = req.bytes().await?;
    match req.path().as_str() {
        "/kv" => kv(env, &authorization, &body).await,
        "/ledger" => call_object(env, "LEDGER", &authorization, body).await,
        "/feed" => call_object(env, "FEED", &authorization, body).await,
        "/forward" => forward(env, method, &authorization, &body).await,
        "/signin" => sign_in(env, &authorization).await,
        #[cfg(feature = "core")]
        "/core" => {
            crate::core_calls::answer(env, &url, method.as_ref(), &authorization, &body).await
        }
        _ => receipt(env, &url, &authorization, &body),
    }
}

/// One KV read, as bytes, and one write.
async fn kv(env: &Env, key: &str, body: &[u8]) -> Result<Response, FloorError> {
    let store = env.kv("TOKENS")?;
    let previous = store.get(key).bytes().await?;
    store
        .put(key, String::from_utf8_lossy(body).into_owned())?
        .expiration_ttl(60)
        .execute()
        .await?;
    Ok(Response::from_bytes(previous.unwrap_or_default())?)
}

/// One request to the object `name` of a Durable Object binding. The request is made with
/// web-sys's `RequestInit`: workers-rs's own converts its `cf` properties with
/// serde-wasm-bindgen, 14 KiB of wasm (6 KiB gzipped) that this needs none of.
async fn call_object(
    env: &Env,
    binding: &str,
    name: &str,
    body: Vec<u8>,
) -> Result<Response, FloorError> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&Uint8Array::from(body.as_slice()));
    let request = web_sys::Request::new_with_str_and_init("https://object.internal/entry", &init)?;
    let stub = env
        .durable_object(binding)?
        .id_from_name(name)?
        .get_stub()?;
    Ok(stub.fetch_with_request(request.into()).await?)
}

/// An outgoing request with headers, a method and a body, answered with no redirect followed.
async fn send(
    url: &str,
    method: &str,
    authorization: &str,
    body: &[u8],
) -> Result<Response, FloorError> {
    let headers = web_sys::Headers::new()?;
    headers.append("Authorization", authorization)?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    init.set_headers(&headers);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    init.set_signal(Some(&web_sys::AbortSignal::timeout_with_u32(5_000)));
    if !body.is_empty() {
        init.set_body(&Uint8Array::from(body));
    }
    let outgoing = web_sys::Request::new_with_str_and_init(url, &init)?;
    Ok(Fetch::Request(outgoing.into()).send().await?)
}

/// The request sent on to the origin, its answer's body streamed back as it arrives.
async fn forward(
    env: &Env,
    method: Method,
    authorization: &str,
    body: &[u8],
) -> Result<Response, FloorError> {
    let origin = env.var("ORIGIN_URL")?.to_string();
    let answer = send(&origin, method.as_ref(), authorization, body).await?;
    let status = answer.status_code();
    let answer: web_sys::Response = answer.into();
    let body = answer
        .body()
        .map_or(ResponseBody::Empty, ResponseBody::Stream);
    Ok(Response::from_body(body)?.with_status(status))
}

/// A compact JWS checked against the first key of the provider's key set, read chunk by chunk.
async fn sign_in(env: &Env, token: &str) -> Result<Response, FloorError> {
    let (signing_input, signature) = token
        .rsplit_once('.')
        .ok_or_else(|| FloorError::BadRequest("not a compact JWS".to_owned()))?;
    let signature = URL_SAFE_NO_PAD.decode(signature)?;
    let mut answer = send(&env.var("JWKS_URL")?.to_string(), "GET", "", &[]).await?;
    let mut document = Vec::new();
    let mut chunks = answer.stream()?;
    while let Some(chunk) = chunks.next().await {
        document.extend_from_slice(&chunk?);
    }
    let keys: serde_json::Value = serde_json::from_slice(&document)?;
    let key = keys
        .get("keys")
        .and_then(|keys| keys.get(0))
        .ok_or_else(|| FloorError::Platform("an empty key set".to_owned()))?;
    let verified = verify_es256(&key.to_string(), signing_input.as_bytes(), &signature).await?;
    Ok(Response::ok(if verified { "verified" } else { "refused" })?)
}

/// An ECDSA P-256 signature checked by WebCrypto, the key imported from its JWK.
pub(crate) async fn verify_es256(
    jwk: &str,
    data: &[u8],
    signature: &[u8],
) -> Result<bool, FloorError> {
    let subtle = js_sys::global()
        .unchecked_into::<web_sys::WorkerGlobalScope>()
        .crypto()?
        .subtle();
    let algorithm = Object::new();
    Reflect::set(&algorithm, &"name".into(), &"ECDSA".into())?;
    Reflect::set(&algorithm, &"namedCurve".into(), &"P-256".into())?;
    Reflect::set(&algorithm, &"hash".into(), &"SHA-256".into())?;
    let jwk: Object = js_sys::JSON::parse(jwk)?.unchecked_into();
    let usages = Array::of1(&"verify".into());
    let import = subtle.import_key_with_object("jwk", &jwk, &algorithm, false, &usages)?;
    let key = JsFuture::from(import).await?;
    let verify = subtle.verify_with_object_and_js_u8_array_and_js_u8_array(
        &algorithm,
        key.unchecked_ref(),
        &Uint8Array::from(signature),
        &Uint8Array::from(data),
    )?;
    Ok(JsFuture::from(verify).await?.as_bool() == Some(true))
}

#[derive(Serialize, Deserialize)]
struct Grant {
    subject: String,
    scopes: Vec<String>,
    expires: Option<u64>,
    origin: Origin,
    event: Event,
}

#[derive(Serialize, Deserialize)]
struct Origin {
    url: String,
    port: u64,
}

/// Externally tagged, as patgate's ledger commands are.
#[derive(Serialize, Deserialize)]
enum Event {
    Issued { at: u64 },
    Revoked(String),
}

/// patgate's token checksum: CRC-32 from one 256-entry table.
const CRC_32: crc::Crc<u32, crc::Table<1>> =
    crc::Crc::<u32, crc::Table<1>>::new(&crc::CRC_32_ISO_HDLC);

#[derive(Serialize)]
struct Receipt {
    grant: Grant,
    digest: String,
    mac: String,
    mac_valid: bool,
    digest_matches: bool,
    nonce: String,
    checksum: u32,
    query: String,
}

/// The JSON body read and answered again with its SHA-256, its HMAC (made, then checked against
/// the presented one), 32 random bytes, their CRC-32 and the query string re-encoded.
fn receipt(env: &Env, url: &str, presented: &str, body: &[u8]) -> Result<Response, FloorError> {
    let grant: Grant = serde_json::from_slice(body)?;
    let presented = URL_SAFE_NO_PAD.decode(presented)?;
    let digest = Sha256::digest(body);
    let mut secret = env.secret("COOKIE_SECRET")?.to_string().into_bytes();
    let keyed = Hmac::<Sha256>::new_from_slice(&secret)
        .map_err(|_| FloorError::Platform("an HMAC key of no length".to_owned()))?;
    secret.zeroize();
    let mut signer = keyed.clone();
    signer.update(&digest);
    let mac = signer.finalize().into_bytes();
    let mut verifier = keyed;
    verifier.update(&digest);
    let mac_valid = verifier.verify_slice(&presented).is_ok();
    let digest_matches = digest.as_slice().ct_eq(&presented).into();
    let mut nonce = [0u8; 32];
    getrandom::fill(&mut nonce)?;
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form_urlencoded::parse(query.as_bytes()))
        .finish();
    Ok(Response::from_json(&Receipt {
        grant,
        digest: URL_SAFE_NO_PAD.encode(digest),
        mac: URL_SAFE_NO_PAD.encode(mac),
        mac_valid,
        digest_matches,
        nonce: URL_SAFE_NO_PAD.encode(nonce),
        checksum: CRC_32.checksum(&nonce),
        query,
    })?)
}

/// Declares a Durable Object class that stores what it is sent and sweeps on its alarm. Two
/// classes, as patgate has two (the per-user ledger and the revocation feed): each class brings
/// its own export glue.
macro_rules! object_class {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[durable_object]
        pub struct $name {
            state: State,
        }

        impl DurableObject for $name {
            fn new(state: State, _env: Env) -> Self {
                Self { state }
            }

            async fn fetch(&self, req: Request) -> worker::Result<Response> {
                record(self.state.storage(), req).await
            }

            async fn alarm(&self) -> worker::Result<Response> {
                sweep(self.state.storage()).await
            }
        }
    };
}

object_class!(
    /// A per-user object, as patgate's ledger is.
    Ledger
);
object_class!(
    /// A second object class, as patgate's revocation feed is.
    Feed
);

/// Stores the body under the request's path, answers what was there, and sets the alarm.
async fn record(storage: Storage, mut req: Request) -> worker::Result<Response> {
    let key = req.path();
    let value = req.text().await?;
    let previous = storage.get::<String>(&key).await?;
    storage.put(&key, value).await?;
    storage.set_alarm(Duration::from_secs(60)).await?;
    Response::ok(previous.unwrap_or_default())
}

/// Deletes every entry the object holds.
async fn sweep(storage: Storage) -> worker::Result<Response> {
    let entries = storage
        .list_with_options(ListOptions::new().prefix("/"))
        .await?;
    for key in entries.keys() {
        if let Some(key) = key?.as_string() {
            storage.delete(&key).await?;
        }
    }
    Response::empty()
}
