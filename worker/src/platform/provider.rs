//! The sign-in's ports in workerd: HTTP to the identity provider with `fetch` (no redirects
//! followed, a timeout, a bounded body) and signature checks with WebCrypto.

use std::future::Future;
use std::rc::Rc;

use futures_util::StreamExt;
use js_sys::{Array, Object, Reflect, Uint8Array, JSON};
use patgate_core::jose::jwk::PublicKey;
use patgate_core::jose::jws::SignatureVerifier;
use patgate_core::jose::Algorithm;
use patgate_core::time::Timestamp;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Fetch;

use crate::runtime::{Clock, SystemClock};
use crate::signin::provider::{
    Provider, ProviderCache, ProviderRequest, ProviderResponse, Unreachable,
};
use crate::signin::SignInPorts;

/// A provider that has not answered in this long is unreachable (the whole exchange: the
/// signal aborts the body too).
const TIMEOUT_MILLIS: u32 = 5_000;
/// Discovery, key and token documents are small; a larger answer is refused unread.
const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, Default)]
pub struct FetchProvider;

impl Provider for FetchProvider {
    async fn send(&self, request: ProviderRequest) -> Result<ProviderResponse, Unreachable> {
        let js_error = |what: &str| {
            let what = what.to_owned();
            move |error: JsValue| Unreachable(format!("{what}: {error:?}"))
        };
        let headers = web_sys::Headers::new().map_err(js_error("headers"))?;
        for (name, value) in &request.headers {
            headers.append(name, value).map_err(js_error("header"))?;
        }
        let init = web_sys::RequestInit::new();
        init.set_method(request.method);
        init.set_headers(&headers);
        init.set_redirect(web_sys::RequestRedirect::Manual);
        init.set_signal(Some(&web_sys::AbortSignal::timeout_with_u32(
            TIMEOUT_MILLIS,
        )));
        if let Some(body) = &request.body {
            init.set_body(&JsValue::from_str(body));
        }
        let outgoing = web_sys::Request::new_with_str_and_init(&request.url, &init)
            .map_err(js_error("request"))?;
        let mut response = Fetch::Request(outgoing.into())
            .send()
            .await
            .map_err(|error| Unreachable(format!("{}: {error}", request.url)))?;
        let status = response.status_code();
        let mut body = Vec::new();
        let mut stream = response
            .stream()
            .map_err(|error| Unreachable(format!("{}: {error}", request.url)))?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|error| Unreachable(format!("{}: {error}", request.url)))?;
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(Unreachable(format!(
                    "{}: the answer is too large",
                    request.url
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(ProviderResponse { status, body })
    }
}

/// Signature checks by the runtime's WebCrypto (`crypto.subtle`, reached through the global
/// scope: Workers have no `window`).
#[derive(Debug, Default)]
pub struct WebCryptoVerifier;

impl SignatureVerifier for WebCryptoVerifier {
    type Error = String;

    fn verify(
        &self,
        algorithm: Algorithm,
        key: &PublicKey,
        signing_input: &[u8],
        signature: &[u8],
    ) -> impl Future<Output = Result<bool, String>> {
        // Everything borrowed is copied into JavaScript values before the first await.
        let prepared = prepare(algorithm, key, signing_input, signature);
        async move {
            let (subtle, import, verify_params, signature, data) = prepared?;
            let key = JsFuture::from(import)
                .await
                .map_err(|error| format!("importKey: {error:?}"))?;
            let verified = subtle
                .verify_with_object_and_js_u8_array_and_js_u8_array(
                    &verify_params,
                    key.unchecked_ref(),
                    &signature,
                    &data,
                )
                .map_err(|error| format!("verify: {error:?}"))?;
            let verdict = JsFuture::from(verified)
                .await
                .map_err(|error| format!("verify: {error:?}"))?;
            Ok(verdict.as_bool() == Some(true))
        }
    }
}

type Prepared = (
    web_sys::SubtleCrypto,
    js_sys::Promise,
    Object,
    Uint8Array,
    Uint8Array,
);

fn prepare(
    algorithm: Algorithm,
    key: &PublicKey,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<Prepared, String> {
    let subtle = js_sys::global()
        .unchecked_into::<web_sys::WorkerGlobalScope>()
        .crypto()
        .map_err(|error| format!("crypto: {error:?}"))?
        .subtle();
    let object = |pairs: &[(&str, &str)]| -> Result<Object, String> {
        let object = Object::new();
        for (name, value) in pairs {
            Reflect::set(&object, &(*name).into(), &(*value).into())
                .map_err(|error| format!("{error:?}"))?;
        }
        Ok(object)
    };
    let (import_params, verify_params) = match algorithm {
        Algorithm::Rs256 => (
            object(&[("name", "RSASSA-PKCS1-v1_5"), ("hash", "SHA-256")])?,
            object(&[("name", "RSASSA-PKCS1-v1_5")])?,
        ),
        Algorithm::Es256 => (
            object(&[("name", "ECDSA"), ("namedCurve", "P-256")])?,
            object(&[("name", "ECDSA"), ("hash", "SHA-256")])?,
        ),
    };
    let jwk: Object = JSON::parse(&key.to_jwk_json())
        .map_err(|error| format!("JWK: {error:?}"))?
        .unchecked_into();
    let usages = Array::of1(&"verify".into());
    let import = subtle
        .import_key_with_object("jwk", &jwk, &import_params, false, &usages)
        .map_err(|error| format!("importKey: {error:?}"))?;
    Ok((
        subtle,
        import,
        verify_params,
        Uint8Array::from(signature),
        Uint8Array::from(signing_input),
    ))
}

thread_local! {
    /// The provider's discovery document and keys, kept for the isolate's lifetime.
    static PROVIDER: Rc<ProviderCache<FetchProvider>> = Rc::new(ProviderCache::new(FetchProvider));
}

/// The sign-in's ports in workerd.
#[derive(Debug)]
pub struct PlatformSignIn {
    provider: Rc<ProviderCache<FetchProvider>>,
    verifier: WebCryptoVerifier,
}

impl PlatformSignIn {
    /// The ports around this isolate's provider cache.
    pub fn new() -> Self {
        Self {
            provider: PROVIDER.with(Rc::clone),
            verifier: WebCryptoVerifier,
        }
    }
}

impl SignInPorts for PlatformSignIn {
    type Provider = FetchProvider;
    type Verifier = WebCryptoVerifier;

    fn provider(&self) -> &ProviderCache<FetchProvider> {
        &self.provider
    }

    fn verifier(&self) -> &WebCryptoVerifier {
        &self.verifier
    }

    fn now(&self) -> Timestamp {
        SystemClock.now()
    }
}
