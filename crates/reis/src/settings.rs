//! Which setting wins, decided once per run into parsed types.
//!
//! Precedence: command-line flag > environment (`REIS_API_TOKEN`, `REIS_API_URL`) > config
//! file > default. Each resolved setting remembers its [`Source`] for `reis auth status`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::api_url::ApiUrl;
use crate::client::{exit, Failure};
use crate::config::ConfigFile;
use crate::token::Token;

pub const DEFAULT_API_URL: &str = "https://api.bahriya.cloud";
pub const TOKEN_ENV: &str = "REIS_API_TOKEN";
pub const API_URL_ENV: &str = "REIS_API_URL";

/// Where a setting came from, for `reis auth status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag,
    Environment(&'static str),
    ConfigFile(PathBuf),
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag => f.write_str("command-line flag"),
            Self::Environment(name) => write!(f, "environment variable {name}"),
            Self::ConfigFile(path) => write!(f, "config file {}", path.display()),
            Self::Default => f.write_str("default"),
        }
    }
}

/// A parsed setting and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved<T> {
    pub value: T,
    pub source: Source,
}

/// The API to talk to: `--api`, else `REIS_API_URL`, else the config file, else the default.
pub fn api_url(
    flag: Option<&str>,
    env: Option<&str>,
    file: &ConfigFile,
    path: &Path,
) -> Result<Resolved<ApiUrl>, Failure> {
    let (text, source) = resolve(
        flag,
        (API_URL_ENV, env),
        (file.api_url.as_deref(), path),
        Some(DEFAULT_API_URL),
    )
    .unwrap_or((DEFAULT_API_URL, Source::Default));
    Ok(Resolved {
        value: ApiUrl::parse(text)?,
        source,
    })
}

/// The token to send: `REIS_API_TOKEN`, else the saved one.
pub fn token(
    env: Option<&str>,
    file: &ConfigFile,
    path: &Path,
) -> Result<Resolved<Token>, Failure> {
    let (text, source) = resolve(None, (TOKEN_ENV, env), (file.token.as_deref(), path), None)
        .ok_or_else(|| {
            Failure::new(
                exit::TOKEN,
                format!("not logged in: run `reis auth login --with-token`, or set {TOKEN_ENV}"),
            )
        })?;
    Ok(Resolved {
        value: Token::parse(text)?,
        source,
    })
}

/// Picks the first present (non-blank) value in precedence order.
fn resolve<'a>(
    flag: Option<&'a str>,
    env: (&'static str, Option<&'a str>),
    file: (Option<&'a str>, &Path),
    default: Option<&'a str>,
) -> Option<(&'a str, Source)> {
    let present = |v: Option<&'a str>| v.map(str::trim).filter(|v| !v.is_empty());
    if let Some(value) = present(flag) {
        return Some((value, Source::Flag));
    }
    if let Some(value) = present(env.1) {
        return Some((value, Source::Environment(env.0)));
    }
    if let Some(value) = present(file.0) {
        return Some((value, Source::ConfigFile(file.1.to_owned())));
    }
    default.map(|value| (value, Source::Default))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_environment_beat_file_beat_default() {
        let path = Path::new("/cfg/reis/config.json");
        let check = |flag, env, file, expected: Source| {
            let (_, source) = resolve(
                flag,
                ("REIS_API_URL", env),
                (file, path),
                Some(DEFAULT_API_URL),
            )
            .unwrap();
            assert_eq!(source, expected);
        };
        check(Some("f"), Some("e"), Some("c"), Source::Flag);
        check(
            None,
            Some("e"),
            Some("c"),
            Source::Environment("REIS_API_URL"),
        );
        check(
            None,
            Some("  "),
            Some("c"),
            Source::ConfigFile(path.to_owned()),
        );
        check(None, None, None, Source::Default);
        assert_eq!(resolve(None, ("X", None), (None, path), None), None);
    }

    #[test]
    fn settings_are_parsed_where_they_are_resolved() {
        let path = Path::new("/cfg/reis/config.json");
        let file = ConfigFile {
            api_url: Some("http://localhost:8787/".into()),
            token: Some("pat_typo".into()),
        };
        let api = api_url(None, None, &file, path).unwrap();
        assert_eq!(api.value.as_str(), "http://localhost:8787");
        assert_eq!(api.source, Source::ConfigFile(path.to_owned()));
        let env = api_url(None, Some("ftp://x"), &file, path).unwrap_err();
        assert_eq!(env.code, exit::USAGE);
        assert_eq!(token(None, &file, path).unwrap_err().code, exit::TOKEN);
        let missing = token(None, &ConfigFile::default(), path).unwrap_err();
        assert!(missing.message.contains("not logged in"));
    }
}
