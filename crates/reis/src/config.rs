//! Where reis keeps its settings on disk: `$XDG_CONFIG_HOME/reis/config.json` (else
//! `~/.config/reis/config.json`), in a 0700 directory, as a 0600 file, written atomically.
//! Which setting wins is decided in [`crate::settings`].

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::client::{exit, Failure};

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
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
    // Cannot fail: a `ConfigFile` is made of optional strings, which serde_json always
    // serializes.
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
        let config = ConfigFile {
            api_url: Some("http://localhost:8787".into()),
            token: Some("pat_x".into()),
        };
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
            token: None,
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
}
