//! The Worker's configuration, parsed once per isolate from its environment into types that
//! can only hold usable values. A missing or bad setting is an error that names the setting
//! (never its value) and disables only the capability that needs it: that capability answers
//! 500 `misconfigured`, and nothing falls back to another (no silent echo, no forwarding
//! nowhere, no development sign-in in its place).

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;
use url::{Host, Url};

use crate::revocation::RevocationMode;

/// Names of the settings, exactly as they appear in wrangler.toml and `wrangler secret put`.
pub mod names {
    pub const ORIGIN_URL: &str = "ORIGIN_URL";
    pub const ORIGIN_SHARED_SECRET: &str = "ORIGIN_SHARED_SECRET";
    pub const ORIGIN_TIMEOUT_SECONDS: &str = "ORIGIN_TIMEOUT_SECONDS";
    pub const ECHO: &str = "ECHO";
    pub const DEV_LOGIN: &str = "DEV_LOGIN";
    pub const OIDC_ISSUER: &str = "OIDC_ISSUER";
    pub const OIDC_CLIENT_ID: &str = "OIDC_CLIENT_ID";
    pub const OIDC_CLIENT_SECRET: &str = "OIDC_CLIENT_SECRET";
    pub const OIDC_PROVIDER_NAME: &str = "OIDC_PROVIDER_NAME";
    pub const COOKIE_SECRET: &str = "COOKIE_SECRET";
    pub const REVOCATION_MODE: &str = "REVOCATION_MODE";
    pub const SIMULATED_KV_LAG: &str = "SIMULATED_KV_LAG";
    pub const ADMIN_API_SECRET: &str = "ADMIN_API_SECRET";
    pub const LEAK_KEYS_URL: &str = "LEAK_KEYS_URL";
}

/// Where GitHub publishes the keys that sign its secret-scanning reports (the default of
/// `LEAK_KEYS_URL`).
pub const GITHUB_SCANNING_KEYS_URL: &str =
    "https://api.github.com/meta/public_keys/secret_scanning";

/// Secrets we sign with are at least this long (256 bits of a random hex or base64 string).
pub const MIN_SIGNING_SECRET_LEN: usize = 32;
const MAX_PROVIDER_NAME_CHARS: usize = 40;
const MAX_CLIENT_ID_LEN: usize = 255;

#[derive(Debug)]
pub struct Config {
    /// What the gateway does with an authenticated API request.
    pub forwarding: Result<Forwarding, ConfigError>,
    /// Signing in to the console with the platform's identity provider.
    pub sign_in: Result<ProviderSignIn, ConfigError>,
    pub dev_login: DevLogin,
    /// How validation decides when KV's record is enough. A bad value disables validation.
    pub revocation: Result<RevocationMode, ConfigError>,
    /// The test build's stale KV (`simulated-lag` feature). Any value in a release build is an
    /// error that stops the Worker from serving anything.
    pub simulated_lag: Result<Option<SimulatedLag>, ConfigError>,
    /// The platform's admin API (`/auth/v1/admin/…`): its credential.
    pub admin: Result<AdminSecret, ConfigError>,
    /// Secret-scanning reports (`/auth/v1/leaks/github`): where the scanner's keys are.
    pub leak_reports: Result<LeakReports, ConfigError>,
}

/// The admin API's credential: a secret of at least 32 characters that is not a token.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminSecret(String);

impl AdminSecret {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AdminSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminSecret(…)")
    }
}

/// Where a secret scanner's report signing keys are published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakReports {
    pub keys_url: String,
}

/// How stale the test build's KV is: each simulated location keeps what it read (found or
/// not) this long, as KV's edge caches do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimulatedLag {
    pub cache_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forwarding {
    /// `ECHO=enabled` (local development): answer with what the origin would be told.
    Echo,
    Origin(OriginTarget),
}

/// How long the gateway waits for the origin's answer to begin, unless configured.
pub const DEFAULT_ORIGIN_TIMEOUT_SECONDS: u32 = 30;

/// Where forwarded requests go, the secret that signs them, and how long the origin may take.
#[derive(Clone, PartialEq, Eq)]
pub struct OriginTarget {
    /// The origin's base URL without a trailing `/`; the request's path and query follow it.
    base_url: String,
    secret: String,
    /// Seconds until the origin's status and headers; the body then streams for as long as
    /// it takes.
    timeout_seconds: u32,
}

impl OriginTarget {
    pub fn timeout_seconds(&self) -> u32 {
        self.timeout_seconds
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn secret(&self) -> &[u8] {
        self.secret.as_bytes()
    }
}

impl fmt::Debug for OriginTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret stays out of every log line.
        f.debug_struct("OriginTarget")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevLogin {
    Enabled,
    Disabled,
}

/// A setting that makes a capability unusable. Its message names the setting, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    Missing {
        setting: &'static str,
        needed_for: &'static str,
    },
    Invalid {
        setting: &'static str,
        rule: &'static str,
    },
    /// `ECHO=enabled` together with a setting of forwarding: which one was meant?
    EchoWithOrigin { setting: &'static str },
    /// A setting of the test build, given to a build without it.
    TestOnly { setting: &'static str },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing {
                setting,
                needed_for,
            } => write!(f, "{setting} is not set, and {needed_for} needs it"),
            Self::Invalid { setting, rule } => write!(f, "{setting} is invalid: {rule}"),
            Self::EchoWithOrigin { setting } => write!(
                f,
                "ECHO=enabled and {setting} are both set: echo and forwarding exclude each other"
            ),
            Self::TestOnly { setting } => write!(
                f,
                "{setting} is a test-build setting and this is a release build: refusing to serve"
            ),
        }
    }
}

const FORWARDING: &str = "forwarding to the origin";
const SIGN_IN: &str = "sign-in with the identity provider";
const URL_RULE: &str = "it must be an https:// URL (http:// only to a loopback host), \
                        without credentials, query or fragment";

impl Config {
    /// Parses the settings that `lookup` returns by name. Empty values count as absent.
    pub fn parse(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let setting = |name: &str| lookup(name).filter(|value| !value.is_empty());
        Self {
            forwarding: forwarding(&setting),
            sign_in: sign_in(&setting),
            dev_login: if setting(names::DEV_LOGIN).as_deref() == Some("enabled") {
                DevLogin::Enabled
            } else {
                DevLogin::Disabled
            },
            revocation: RevocationMode::parse(setting(names::REVOCATION_MODE).as_deref()).ok_or(
                ConfigError::Invalid {
                    setting: names::REVOCATION_MODE,
                    rule: "it must be \"strict\" or \"fast\" (unset means fast)",
                },
            ),
            simulated_lag: simulated_lag(&setting),
            admin: admin(&setting),
            leak_reports: leak_reports(&setting),
        }
    }

    /// Every problem found, for the one log line each per isolate.
    pub fn problems(&self) -> Vec<&ConfigError> {
        [
            self.forwarding.as_ref().err(),
            self.sign_in.as_ref().err(),
            self.revocation.as_ref().err(),
            self.simulated_lag.as_ref().err(),
            self.admin.as_ref().err(),
            self.leak_reports.as_ref().err(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// What `GET /auth/v1/health` reports: which capabilities work, and what stops the others.
    pub fn health(&self) -> Health {
        let problems: Vec<String> = self.problems().iter().map(ToString::to_string).collect();
        Health {
            status: if problems.is_empty() {
                "ok"
            } else {
                "misconfigured"
            },
            capabilities: Capabilities {
                sign_in: self.sign_in.is_ok(),
                development_sign_in: self.dev_login == DevLogin::Enabled,
                forwarding: matches!(self.forwarding, Ok(Forwarding::Origin(_))),
                echo: matches!(self.forwarding, Ok(Forwarding::Echo)),
                admin_api: self.admin.is_ok(),
                leak_reports: self.leak_reports.is_ok(),
            },
            problems,
        }
    }
}

/// The health report: settings are named, never shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub capabilities: Capabilities,
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    pub sign_in: bool,
    pub development_sign_in: bool,
    pub forwarding: bool,
    pub echo: bool,
    pub admin_api: bool,
    pub leak_reports: bool,
}

type Setting<'a> = &'a dyn Fn(&str) -> Option<String>;

fn required(
    setting: Setting<'_>,
    name: &'static str,
    needed_for: &'static str,
) -> Result<String, ConfigError> {
    setting(name).ok_or(ConfigError::Missing {
        setting: name,
        needed_for,
    })
}

fn signing_secret(
    setting: Setting<'_>,
    name: &'static str,
    needed_for: &'static str,
) -> Result<String, ConfigError> {
    let secret = required(setting, name, needed_for)?;
    if secret.len() < MIN_SIGNING_SECRET_LEN {
        return Err(ConfigError::Invalid {
            setting: name,
            rule: "it must be at least 32 characters (use 32 random bytes, hex-encoded)",
        });
    }
    Ok(secret)
}

fn forwarding(setting: Setting<'_>) -> Result<Forwarding, ConfigError> {
    match setting(names::ECHO).as_deref() {
        None => {}
        Some("enabled") => {
            for name in [names::ORIGIN_URL, names::ORIGIN_SHARED_SECRET] {
                if setting(name).is_some() {
                    return Err(ConfigError::EchoWithOrigin { setting: name });
                }
            }
            return Ok(Forwarding::Echo);
        }
        Some(_) => {
            return Err(ConfigError::Invalid {
                setting: names::ECHO,
                rule: "it must be \"enabled\" or absent",
            })
        }
    }
    let url = required(setting, names::ORIGIN_URL, FORWARDING)?;
    let invalid = ConfigError::Invalid {
        setting: names::ORIGIN_URL,
        rule: "it must be an origin: https:// (http:// only to a loopback host), a host and \
               an optional port, without path, query or credentials",
    };
    let parsed = secure_url(&url).ok_or(invalid.clone())?;
    if parsed.path() != "/" || parsed.query().is_some() {
        return Err(invalid);
    }
    let secret = signing_secret(setting, names::ORIGIN_SHARED_SECRET, FORWARDING)?;
    let timeout_seconds = match setting(names::ORIGIN_TIMEOUT_SECONDS) {
        None => DEFAULT_ORIGIN_TIMEOUT_SECONDS,
        Some(value) => match value.parse::<u32>() {
            Ok(seconds @ 1..=100) => seconds,
            _ => {
                return Err(ConfigError::Invalid {
                    setting: names::ORIGIN_TIMEOUT_SECONDS,
                    rule: "it must be a number of seconds from 1 to 100",
                })
            }
        },
    };
    Ok(Forwarding::Origin(OriginTarget {
        base_url: parsed.origin().ascii_serialization(),
        secret,
        timeout_seconds,
    }))
}

fn sign_in(setting: Setting<'_>) -> Result<ProviderSignIn, ConfigError> {
    let issuer = required(setting, names::OIDC_ISSUER, SIGN_IN)?;
    if secure_url(&issuer).is_none_or(|url| url.query().is_some()) {
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

fn admin(setting: Setting<'_>) -> Result<AdminSecret, ConfigError> {
    let secret = signing_secret(setting, names::ADMIN_API_SECRET, "the admin API")?;
    if secret.starts_with(patgate_core::token::PREFIX) {
        // A PAT is refused on the admin API before the secret is compared.
        return Err(ConfigError::Invalid {
            setting: names::ADMIN_API_SECRET,
            rule: "it must not start with pat_ (use 32 random bytes, hex-encoded)",
        });
    }
    Ok(AdminSecret(secret))
}

fn leak_reports(setting: Setting<'_>) -> Result<LeakReports, ConfigError> {
    let keys_url =
        setting(names::LEAK_KEYS_URL).unwrap_or_else(|| GITHUB_SCANNING_KEYS_URL.to_owned());
    if secure_url(&keys_url).is_none() {
        return Err(ConfigError::Invalid {
            setting: names::LEAK_KEYS_URL,
            rule: URL_RULE,
        });
    }
    Ok(LeakReports { keys_url })
}

/// Whether this build has the stale-KV simulation (never a release build: see Makefile).
const SIMULATED_LAG_BUILD: bool = cfg!(feature = "simulated-lag");

fn simulated_lag(setting: Setting<'_>) -> Result<Option<SimulatedLag>, ConfigError> {
    let Some(value) = setting(names::SIMULATED_KV_LAG) else {
        return Ok(None);
    };
    if !SIMULATED_LAG_BUILD {
        return Err(ConfigError::TestOnly {
            setting: names::SIMULATED_KV_LAG,
        });
    }
    match value.parse::<u64>() {
        Ok(cache_seconds @ 1..=3600) => Ok(Some(SimulatedLag { cache_seconds })),
        _ => Err(ConfigError::Invalid {
            setting: names::SIMULATED_KV_LAG,
            rule: "it must be a number of seconds from 1 to 3600",
        }),
    }
}

/// `text` as a URL that is safe to send secrets to: https, or plain http only to a loopback
/// host (local development and tests), with no credentials or fragment.
pub fn secure_url(text: &str) -> Option<Url> {
    let url = Url::parse(text).ok()?;
    let loopback = match url.host()? {
        Host::Domain(name) => name == "localhost",
        Host::Ipv4(ip) => IpAddr::V4(ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(ip).is_loopback(),
    };
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    let plain = url.username().is_empty() && url.password().is_none() && url.fragment().is_none();
    (scheme_ok && plain).then_some(url)
}

#[cfg(test)]
mod tests;
