//! The Worker's configuration, parsed once per isolate from its environment into types that
//! can only hold usable values. A missing or bad setting is an error that names the setting
//! (never its value) and disables only the capability that needs it: that capability answers
//! 500 `misconfigured`, and nothing falls back to another (no silent echo, no forwarding
//! nowhere, no development sign-in in its place).

use std::fmt;

use serde::Serialize;

use crate::revocation::RevocationMode;

mod forwarding;
mod secure_url;
mod sign_in;

pub use forwarding::{Forwarding, OriginTarget};
pub use secure_url::SecureUrl;
pub use sign_in::ProviderSignIn;

use forwarding::forwarding;
use sign_in::sign_in;

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

const URL_RULE: &str = "it must be an https:// URL (http:// only to a loopback host), \
                        without credentials, query or fragment, in plain form: ASCII, a \
                        lowercase host, no spaces or dot segments (see README, Configuration)";

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
    if SecureUrl::parse(&keys_url).is_none() {
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

#[cfg(test)]
mod tests;
