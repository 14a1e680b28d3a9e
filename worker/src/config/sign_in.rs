//! Sign-in with the platform's identity provider: the OpenID Connect client, parsed from the
//! `OIDC_…` settings and `COOKIE_SECRET`.

use std::fmt;

use super::{names, required, signing_secret, ConfigError, SecureUrl, Setting, URL_RULE};

const SIGN_IN: &str = "sign-in with the identity provider";
const MAX_PROVIDER_NAME_CHARS: usize = 40;
const MAX_CLIENT_ID_LEN: usize = 255;

/// The OpenID Connect client: who the provider is, who we are to it, and the key that signs
/// the sign-in transaction cookie.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderSignIn {
    /// Exactly as configured: the ID token's `iss` must equal it, byte for byte.
    issuer: String,
    client_id: String,
    client_secret: String,
    provider_name: String,
    cookie_secret: String,
}

impl ProviderSignIn {
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// OpenID Connect Discovery §4: the issuer, without a trailing `/`, and the well-known path.
    pub fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        )
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    /// Shown on the console's sign-in button.
    pub fn provider_name(&self) -> &str {
        &self.provider_name
    }

    pub fn cookie_secret(&self) -> &[u8] {
        self.cookie_secret.as_bytes()
    }
}

impl fmt::Debug for ProviderSignIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderSignIn")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("provider_name", &self.provider_name)
            .finish_non_exhaustive()
    }
}

pub(super) fn sign_in(setting: Setting<'_>) -> Result<ProviderSignIn, ConfigError> {
    let issuer = required(setting, names::OIDC_ISSUER, SIGN_IN)?;
    if SecureUrl::parse(&issuer).is_none_or(|url| url.query().is_some()) {
        return Err(ConfigError::Invalid {
            setting: names::OIDC_ISSUER,
            rule: URL_RULE,
        });
    }
    let client_id = required(setting, names::OIDC_CLIENT_ID, SIGN_IN)?;
    if client_id.len() > MAX_CLIENT_ID_LEN || client_id.chars().any(char::is_control) {
        return Err(ConfigError::Invalid {
            setting: names::OIDC_CLIENT_ID,
            rule: "it must be at most 255 characters, without control characters",
        });
    }
    let client_secret = required(setting, names::OIDC_CLIENT_SECRET, SIGN_IN)?;
    let provider_name = required(setting, names::OIDC_PROVIDER_NAME, SIGN_IN)?;
    let provider_name = provider_name.trim().to_owned();
    if provider_name.chars().count() > MAX_PROVIDER_NAME_CHARS
        || provider_name.chars().any(char::is_control)
    {
        return Err(ConfigError::Invalid {
            setting: names::OIDC_PROVIDER_NAME,
            rule: "it must be at most 40 characters, without control characters",
        });
    }
    let cookie_secret = signing_secret(setting, names::COOKIE_SECRET, SIGN_IN)?;
    Ok(ProviderSignIn {
        issuer,
        client_id,
        client_secret,
        provider_name,
        cookie_secret,
    })
}
