//! Where reis keeps its settings on disk: `$XDG_CONFIG_HOME/reis/config.json` (else
//! `~/.config/reis/config.json`), in a 0700 directory, as a 0600 file, written atomically.
//! Which setting wins is decided in [`crate::settings`].
//!
//! The format keeps one token per API origin, so that a saved token is sent only to the API it
//! was saved for:
//!
//! ```json
//! {
//!   "default_api": "https://api.example.com",
//!   "hosts": { "https://api.example.com": { "token": "pat_…" } }
//! }
//! ```
//!
//! The first format, `{"api_url": …, "token": …}`, is read as that token saved for that API
//! (for the default API if `api_url` is absent), and rewritten in the new format on the next
//! save. Nothing is lost: a token whose API reis now refuses (such as plain `http://` to a
//! remote host) stays in the file under that API as written, and is never sent.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::api_url::ApiUrl;
use crate::client::{exit, Failure};
use crate::settings::DEFAULT_API_URL;
use crate::token::Token;

/// The file's contents. Values are kept as written and parsed when a command needs them, so one
/// bad entry does not lock the user out of the others.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "OnDisk")]
pub struct ConfigFile {
    /// The API used when neither `--api` nor `REIS_API_URL` says otherwise: the last login's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_api: Option<String>,
    /// Saved logins, keyed by the API's canonical origin (`ApiUrl`'s `Display`).
    pub hosts: BTreeMap<String, SavedLogin>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedLogin {
    pub token: String,
}

impl ConfigFile {
    /// The token saved for this API, and for no other.
    pub fn token_for(&self, api: &ApiUrl) -> Option<&str> {
        self.hosts
            .get(&api.to_string())
            .map(|saved| saved.token.as_str())
    }

    /// Saves the token for this API, replacing the one saved for it before.
    pub fn remember(&mut self, api: &ApiUrl, token: &Token) {
        let saved = SavedLogin {
            token: token.expose().to_owned(),
        };
        self.hosts.insert(api.to_string(), saved);
    }

    /// Forgets the token saved for this API; returns it if there was one.
    pub fn forget(&mut self, api: &ApiUrl) -> Option<String> {
        self.hosts.remove(&api.to_string()).map(|saved| saved.token)
    }
}

/// What the file may hold: the current format, the first one, or (edited by hand) both.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OnDisk {
    #[serde(default)]
    default_api: Option<String>,
    #[serde(default)]
    hosts: BTreeMap<String, SavedLogin>,
    /// First format: the API of `token`, and the default API.
    #[serde(default)]
    api_url: Option<String>,
    /// First format: the one saved token.
    #[serde(default)]
    token: Option<String>,
}

impl From<OnDisk> for ConfigFile {
    fn from(disk: OnDisk) -> Self {
        let OnDisk {
            default_api,
            mut hosts,
            api_url,
            token,
        } = disk;
        if let Some(token) = token {
            let owner = api_url.as_deref().unwrap_or(DEFAULT_API_URL).trim();
            // Keyed as a login to that API would key it. An API that no longer parses keeps its
            // key as written: the token stays in the file, and no API ever matches it.
            let key = ApiUrl::parse(owner).map_or_else(|_| owner.to_owned(), |api| api.to_string());
            hosts.entry(key).or_insert(SavedLogin { token });
        }
        Self {
            default_api: default_api.or(api_url),
            hosts,
        }
    }
}

/// The config file as read at the start of a run: where it lives and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub dir: PathBuf,
    pub path: PathBuf,
    pub file: ConfigFile,
}

impl Config {
    pub fn load(dir: &Path) -> Result<Self, ConfigError> {
        let path = config_file_path(dir);
        let file = load(&path)?;
        Ok(Self {
            dir: dir.to_owned(),
            path,
            file,
        })
    }

    /// Writes the file back; returns where.
    pub fn save(&self) -> Result<PathBuf, ConfigError> {
        save(&self.dir, &self.file)
    }
}

/// The directory holding reis's config, from the environment (no I/O).
pub fn config_dir(xdg_config_home: Option<&str>, home: Option<&str>) -> Option<PathBuf> {
    match (
        xdg_config_home.filter(|v| !v.is_empty()),
        home.filter(|v| !v.is_empty()),
    ) {
        (Some(xdg), _) => Some(Path::new(xdg).join("reis")),
        (None, Some(home)) => Some(Path::new(home).join(".config").join("reis")),
        (None, None) => None,
    }
}

pub fn config_file_path(dir: &Path) -> PathBuf {
    dir.join("config.json")
}

#[derive(Debug)]
pub enum ConfigError {
    Io(PathBuf, io::Error),
    Malformed(PathBuf, serde_json::Error),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(path, e) => write!(f, "cannot access {}: {e}", path.display()),
            Self::Malformed(path, e) => write!(
                f,
                "{} is not a valid reis config ({e}); fix or delete it, then run `reis auth login`",
                path.display()
            ),
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::new(exit::USAGE, e.to_string())
    }
}

pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
    match fs::read_to_string(path) {
        Ok(text) => {
            serde_json::from_str(&text).map_err(|e| ConfigError::Malformed(path.to_owned(), e))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(ConfigFile::default()),
        Err(e) => Err(ConfigError::Io(path.to_owned(), e)),
    }
}

/// Writes the config atomically: a 0600 temporary file in the same 0700 directory, flushed to
/// disk, then renamed over the old one. A crash leaves the old file or the new one, never half.
pub fn save(dir: &Path, config: &ConfigFile) -> Result<PathBuf, ConfigError> {
    let io_error = |path: &Path| {
        let path = path.to_owned();
        move |e| ConfigError::Io(path, e)
    };
    create_private_dir(dir).map_err(io_error(dir))?;
    let path = config_file_path(dir);
    let temporary = dir.join(format!(".config.json.{}.tmp", std::process::id()));
    #[allow(clippy::expect_used)]
    // Cannot fail: a `ConfigFile` is made of strings and a map with string keys, which
    // serde_json always serializes.
    let json = serde_json::to_string_pretty(config).expect("a ConfigFile always serializes");
    let written = (|| {
        let mut file = open_private(&temporary)?;
        file.write_all(json.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        fs::rename(&temporary, &path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written.map_err(io_error(&path))?;
    Ok(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    // An existing directory may have been created looser; tighten it.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn open_private(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_dir_follows_xdg() {
        assert_eq!(
            config_dir(Some("/x"), Some("/h")),
            Some(PathBuf::from("/x/reis"))
        );
        assert_eq!(
            config_dir(Some(""), Some("/h")),
            Some(PathBuf::from("/h/.config/reis"))
        );
        assert_eq!(config_dir(None, None), None);
    }

    #[cfg(unix)]
    #[test]
    fn saves_privately_and_atomically() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("reis");
        let mut config = ConfigFile {
            default_api: Some("http://localhost:8787".into()),
            ..ConfigFile::default()
        };
        config.hosts.insert(
            "http://localhost:8787".into(),
            SavedLogin {
                token: "pat_x".into(),
            },
        );
        let path = save(&dir, &config).unwrap();
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(load(&path).unwrap(), config);
        let cleared = ConfigFile {
            hosts: BTreeMap::new(),
            ..config
        };
        save(&dir, &cleared).unwrap();
        assert_eq!(load(&path).unwrap(), cleared);
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left behind"
        );
    }

    #[test]
    fn a_missing_file_is_empty_and_a_broken_one_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(
            load(&root.path().join("none.json")).unwrap(),
            ConfigFile::default()
        );
        let broken = root.path().join("broken.json");
        fs::write(&broken, "{\"token\": 1}").unwrap();
        assert!(matches!(load(&broken), Err(ConfigError::Malformed(..))));
    }

    #[test]
    fn the_first_format_is_read_as_a_token_saved_for_its_api() {
        let read = |json: &str| serde_json::from_str::<ConfigFile>(json).unwrap();
        let hosts = |file: &ConfigFile| {
            let pairs = file.hosts.iter();
            pairs
                .map(|(api, saved)| (api.clone(), saved.token.clone()))
                .collect::<Vec<_>>()
        };
        let old = read(r#"{"api_url": "http://LOCALHOST:8787/", "token": "pat_x"}"#);
        assert_eq!(old.default_api.as_deref(), Some("http://LOCALHOST:8787/"));
        assert_eq!(
            hosts(&old),
            [("http://localhost:8787".into(), "pat_x".into())]
        );
        let rewritten = serde_json::to_value(&old).unwrap();
        assert_eq!(
            rewritten,
            serde_json::json!({
                "default_api": "http://LOCALHOST:8787/",
                "hosts": {"http://localhost:8787": {"token": "pat_x"}}
            })
        );
        let token_only = read(r#"{"token": "pat_x"}"#);
        assert_eq!(token_only.default_api, None);
        assert_eq!(
            hosts(&token_only),
            [(DEFAULT_API_URL.into(), "pat_x".into())]
        );
        let refused = read(r#"{"api_url": "http://example.com", "token": "pat_x"}"#);
        assert_eq!(
            hosts(&refused),
            [("http://example.com".into(), "pat_x".into())]
        );
        let unchanged = read(r#"{"default_api": "https://a.example", "hosts": {}}"#);
        assert_eq!(unchanged.default_api.as_deref(), Some("https://a.example"));
        assert!(unchanged.hosts.is_empty());
    }

    #[test]
    fn a_token_is_found_only_under_its_own_api() {
        let api = |text| ApiUrl::parse(text).unwrap();
        let token = Token::parse(crate::token::tests::VALID).unwrap();
        let mut file = ConfigFile::default();
        file.remember(&api("http://localhost:8787/"), &token);
        assert_eq!(
            file.token_for(&api("HTTP://localhost:8787")),
            Some(token.expose())
        );
        assert_eq!(file.token_for(&api("http://127.0.0.1:8787")), None);
        assert_eq!(file.token_for(&api("http://localhost:8788")), None);
        assert_eq!(file.forget(&api("http://localhost:8788")), None);
        assert!(file.forget(&api("http://localhost:8787")).is_some());
        assert!(file.hosts.is_empty());
    }
}
