//! Forwarding: where an authenticated API request goes (the origin, signed, or the local
//! echo), parsed from `ECHO`, `ORIGIN_URL`, `ORIGIN_SHARED_SECRET` and
//! `ORIGIN_TIMEOUT_SECONDS`.

use std::fmt;

use super::{names, required, signing_secret, ConfigError, SecureUrl, Setting};

const FORWARDING: &str = "forwarding to the origin";

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

pub(super) fn forwarding(setting: Setting<'_>) -> Result<Forwarding, ConfigError> {
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
        rule: "it must be an origin: https:// (http:// only to a loopback host), a lowercase \
               ASCII host and an optional port, without path, query or credentials",
    };
    let parsed = SecureUrl::parse(&url).ok_or(invalid.clone())?;
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
        base_url: parsed.origin().to_owned(),
        secret,
        timeout_seconds,
    }))
}
