//! The Worker's configuration, parsed once per isolate from its environment into types that
//! can only hold usable values. A missing or bad setting is an error that names the setting
//! (never its value) and disables only the capability that needs it.

use std::fmt;

/// Names of the settings, exactly as they appear in wrangler.toml and `wrangler secret put`.
pub mod names {
    pub const ORIGIN_URL: &str = "ORIGIN_URL";
    pub const ORIGIN_SHARED_SECRET: &str = "ORIGIN_SHARED_SECRET";
    pub const DEV_LOGIN: &str = "DEV_LOGIN";
}

#[derive(Debug)]
pub struct Config {
    /// What the gateway does with an authenticated API request.
    pub forwarding: Result<Forwarding, ConfigError>,
    pub dev_login: DevLogin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forwarding {
    /// No origin configured (local development): answer with what the origin would be told.
    Echo,
    Origin(OriginTarget),
}

/// Where forwarded requests go, and the secret that signs them.
#[derive(Clone, PartialEq, Eq)]
pub struct OriginTarget {
    /// The origin's base URL without a trailing `/`; the request's path and query follow it.
    base_url: String,
    secret: String,
}

impl OriginTarget {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevLogin {
    Enabled,
    Disabled,
}

/// A setting that makes a capability unusable. Its message names the setting, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// `requirer` is set, so `missing` must be too.
    Missing {
        missing: &'static str,
        requirer: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { missing, requirer } => {
                write!(
                    f,
                    "{requirer} is set but {missing} is not: refusing to forward"
                )
            }
        }
    }
}

impl Config {
    /// Parses the settings that `lookup` returns by name. Empty values count as absent.
    pub fn parse(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let setting = |name: &str| lookup(name).filter(|value| !value.is_empty());
        let forwarding = match setting(names::ORIGIN_URL) {
            None => Ok(Forwarding::Echo),
            Some(url) => match setting(names::ORIGIN_SHARED_SECRET) {
                None => Err(ConfigError::Missing {
                    missing: names::ORIGIN_SHARED_SECRET,
                    requirer: names::ORIGIN_URL,
                }),
                Some(secret) => Ok(Forwarding::Origin(OriginTarget {
                    base_url: url.trim_end_matches('/').to_owned(),
                    secret,
                })),
            },
        };
        let dev_login = if setting(names::DEV_LOGIN).as_deref() == Some("enabled") {
            DevLogin::Enabled
        } else {
            DevLogin::Disabled
        };
        Self {
            forwarding,
            dev_login,
        }
    }

    /// Every problem found, for the one log line per isolate that names them.
    pub fn problems(&self) -> Vec<&ConfigError> {
        self.forwarding.as_ref().err().into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(settings: &[(&str, &str)]) -> Config {
        let map: HashMap<String, String> = settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::parse(|name| map.get(name).cloned())
    }

    #[test]
    fn no_origin_means_echo_and_no_dev_login() {
        let config = parse(&[("ORIGIN_URL", "")]);
        assert_eq!(config.forwarding, Ok(Forwarding::Echo));
        assert_eq!(config.dev_login, DevLogin::Disabled);
        assert!(config.problems().is_empty());
    }

    #[test]
    fn an_origin_needs_its_secret_and_the_error_names_it() {
        let config = parse(&[("ORIGIN_URL", "https://api.internal/")]);
        let error = config.forwarding.unwrap_err();
        assert_eq!(
            error.to_string(),
            "ORIGIN_URL is set but ORIGIN_SHARED_SECRET is not: refusing to forward"
        );
        let config = parse(&[
            ("ORIGIN_URL", "https://api.internal/"),
            ("ORIGIN_SHARED_SECRET", "s3cret"),
        ]);
        let Ok(Forwarding::Origin(target)) = config.forwarding else {
            panic!("expected an origin")
        };
        assert_eq!(target.base_url(), "https://api.internal");
        assert!(!format!("{target:?}").contains("s3cret"));
    }

    #[test]
    fn dev_login_only_when_exactly_enabled() {
        assert_eq!(
            parse(&[("DEV_LOGIN", "enabled")]).dev_login,
            DevLogin::Enabled
        );
        for value in ["", "true", "Enabled", "1"] {
            assert_eq!(parse(&[("DEV_LOGIN", value)]).dev_login, DevLogin::Disabled);
        }
    }
}
