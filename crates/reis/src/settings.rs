//! Which setting wins, decided once per run into parsed types.
//!
//! Precedence: command-line flag > environment (`REIS_API_TOKEN`, `REIS_API_URL`) > config
//! file > default. Each resolved setting remembers its [`Source`] for `reis auth status`.
//!
//! The API is resolved first, because a saved token belongs to one API: it is used only when
//! that API is the one selected, so a `REIS_API_URL` or `--api` pointing elsewhere (say, from a
//! cloned repository's `.envrc`) never receives it. `REIS_API_TOKEN` goes wherever the flags
//! and the environment say: whoever sets both chose both.

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
    /// A token saved in the config file for this API.
    Saved(PathBuf, ApiUrl),
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag => f.write_str("command-line flag"),
            Self::Environment(name) => write!(f, "environment variable {name}"),
            Self::ConfigFile(path) => write!(f, "config file {}", path.display()),
            Self::Saved(path, api) => write!(f, "config file {}, saved for {api}", path.display()),
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
        (file.default_api.as_deref(), path),
        Some(DEFAULT_API_URL),
    )
    .unwrap_or((DEFAULT_API_URL, Source::Default));
    Ok(Resolved {
        value: ApiUrl::parse(text)?,
        source,
    })
}

/// The token to send to `api`: `REIS_API_TOKEN`, else the token saved for `api` and no other.
pub fn token(
    env: Option<&str>,
    api: &Resolved<ApiUrl>,
    file: &ConfigFile,
    path: &Path,
) -> Result<Resolved<Token>, Failure> {
    let (text, source) = match (present(env), file.token_for(&api.value)) {
        (Some(text), _) => (text, Source::Environment(TOKEN_ENV)),
        (None, Some(text)) => (text, Source::Saved(path.to_owned(), api.value.clone())),
        (None, None) => return Err(not_logged_in(api, file)),
    };
    Ok(Resolved {
        value: Token::parse(text)?,
        source,
    })
}

fn not_logged_in(api: &Resolved<ApiUrl>, file: &ConfigFile) -> Failure {
    let url = &api.value;
    let mut message = format!(
        "not logged in to {url}: run `reis auth login --api {url} --with-token`, or set {TOKEN_ENV}"
    );
    if !file.hosts.is_empty() {
        let saved: Vec<&str> = file.hosts.keys().map(String::as_str).collect();
        message.push_str(&format!(
            " (this API comes from {}; reis sends a saved token only to the API it was saved \
             for: {})",
            api.source,
            saved.join(", ")
        ));
    }
    Failure::new(exit::TOKEN, message)
}

/// A value that is set and not blank.
fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// Picks the first present (non-blank) value in precedence order.
fn resolve<'a>(
    flag: Option<&'a str>,
    env: (&'static str, Option<&'a str>),
    file: (Option<&'a str>, &Path),
    default: Option<&'a str>,
) -> Option<(&'a str, Source)> {
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
    use crate::config::SavedLogin;
    use crate::token::tests::VALID;

    /// Another well-formed token (a golden vector).
    const OTHER: &str = "pat_00000000000000000000000000000000000000000000000000000000003KXZrt";

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
            default_api: Some("http://localhost:8787/".into()),
            ..ConfigFile::default()
        };
        let api = api_url(None, None, &file, path).unwrap();
        assert_eq!(api.value.to_string(), "http://localhost:8787");
        assert_eq!(api.source, Source::ConfigFile(path.to_owned()));
        let env = api_url(None, Some("ftp://x"), &file, path).unwrap_err();
        assert_eq!(env.code, exit::USAGE);
        let mut typo = file.clone();
        let saved = SavedLogin {
            token: "pat_typo".into(),
        };
        typo.hosts.insert(api.value.to_string(), saved);
        assert_eq!(
            token(None, &api, &typo, path).unwrap_err().code,
            exit::TOKEN
        );
        let missing = token(None, &api, &ConfigFile::default(), path).unwrap_err();
        assert!(missing.message.contains("not logged in"));
    }

    #[test]
    fn a_saved_token_goes_only_to_its_own_api_and_the_environment_token_anywhere() {
        let path = Path::new("/cfg/reis/config.json");
        let home = ApiUrl::parse("http://localhost:8787").unwrap();
        let mut file = ConfigFile::default();
        file.remember(&home, &Token::parse(VALID).unwrap());
        let from = |text: &str, source| Resolved {
            value: ApiUrl::parse(text).unwrap(),
            source,
        };
        let own = token(
            None,
            &from("http://localhost:8787/", Source::Flag),
            &file,
            path,
        );
        assert_eq!(own.unwrap().source, Source::Saved(path.to_owned(), home));
        let elsewhere = from("https://evil.example", Source::Environment(API_URL_ENV));
        let refused = token(None, &elsewhere, &file, path).unwrap_err();
        assert_eq!(refused.code, exit::TOKEN);
        assert_eq!(
            refused.message,
            "not logged in to https://evil.example: run `reis auth login --api \
             https://evil.example --with-token`, or set REIS_API_TOKEN (this API comes from \
             environment variable REIS_API_URL; reis sends a saved token only to the API it \
             was saved for: http://localhost:8787)"
        );
        let env = token(Some(OTHER), &elsewhere, &file, path).unwrap();
        assert_eq!(env.source, Source::Environment(TOKEN_ENV));
        assert_eq!(env.value.expose(), OTHER);
    }
}
