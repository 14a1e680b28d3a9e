//! What each command does.

use std::io::Write;
use std::path::PathBuf;

use patgate_core::time::Timestamp;
use patgate_core::token::{hint_of, UntrustedToken};

use crate::client::{exit, redact, Client, Failure, Verified};
use crate::config::{self, ConfigFile, Setting, Source, API_URL_ENV, DEFAULT_API_URL, TOKEN_ENV};

/// Warn when a token expires within this many days.
pub const EXPIRY_WARNING_DAYS: u64 = 7;

/// Everything a command may touch, passed in so commands are testable.
pub struct Context {
    pub config_dir: PathBuf,
    pub env_token: Option<String>,
    pub env_api_url: Option<String>,
    pub now: Timestamp,
    pub stdout: Box<dyn Write>,
    pub stderr: Box<dyn Write>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("config_dir", &self.config_dir)
            .finish_non_exhaustive()
    }
}

fn config_error(e: config::ConfigError) -> Failure {
    Failure::new(exit::USAGE, e.to_string())
}

impl Context {
    fn config_path(&self) -> PathBuf {
        config::config_file_path(&self.config_dir)
    }

    fn load(&self) -> Result<ConfigFile, Failure> {
        config::load(&self.config_path()).map_err(config_error)
    }

    fn api_url(&self, flag: Option<&str>, file: &ConfigFile) -> Setting {
        config::resolve(
            flag,
            (API_URL_ENV, self.env_api_url.as_deref()),
            (file.api_url.as_deref(), &self.config_path()),
            Some(DEFAULT_API_URL),
        )
        .unwrap_or(Setting {
            value: DEFAULT_API_URL.to_owned(),
            source: Source::Default,
        })
    }

    fn token(&self, file: &ConfigFile) -> Result<Setting, Failure> {
        config::resolve(
            None,
            (TOKEN_ENV, self.env_token.as_deref()),
            (file.token.as_deref(), &self.config_path()),
            None,
        )
        .ok_or_else(|| {
            Failure::new(
                exit::TOKEN,
                format!("not logged in: run `reis auth login --with-token`, or set {TOKEN_ENV}"),
            )
        })
    }

    fn say(&mut self, line: &str) {
        let _ = writeln!(self.stdout, "{line}");
    }

    fn warn(&mut self, line: &str) {
        let _ = writeln!(self.stderr, "warning: {line}");
    }
}

/// Checks the format offline, so a typo never leaves the machine.
fn check_format(token: &str) -> Result<(), Failure> {
    UntrustedToken::parse(token).map(|_| ()).map_err(|reason| {
        Failure::new(
            exit::TOKEN,
            format!("{}… is not a valid token: {reason}", hint_of(token)),
        )
    })
}

fn validate_api_url(url: &str) -> Result<(), Failure> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(Failure::new(
            exit::USAGE,
            format!("the API URL must start with https:// or http://, not {url:?}"),
        ))
    }
}

pub fn login(ctx: &mut Context, token: &str, api_flag: Option<&str>) -> Result<(), Failure> {
    let token = token.trim();
    check_format(token)?;
    let mut file = ctx.load()?;
    let api = ctx.api_url(api_flag, &file);
    validate_api_url(&api.value)?;
    let verified = Client::new(&api.value, token).verify()?;
    file.token = Some(token.to_owned());
    file.api_url = Some(api.value.clone());
    let path = config::save(&ctx.config_dir, &file).map_err(config_error)?;
    ctx.say(&format!(
        "Logged in to {} as {} with token \"{}\" ({}…).",
        api.value,
        verified.user.email,
        verified.token.name,
        hint_of(token)
    ));
    ctx.say(&format!("Saved to {}.", path.display()));
    if ctx.env_token.is_some() {
        ctx.warn(&format!(
            "{TOKEN_ENV} is set and takes precedence over the saved token"
        ));
    }
    warn_if_expiring(ctx, &verified);
    Ok(())
}

pub fn status(ctx: &mut Context, api_flag: Option<&str>) -> Result<(), Failure> {
    let file = ctx.load()?;
    let api = ctx.api_url(api_flag, &file);
    let token = ctx.token(&file)?;
    ctx.say(&format!("API:     {} (from {})", api.value, api.source));
    ctx.say(&format!(
        "Token:   {}… (from {})",
        hint_of(&token.value),
        token.source
    ));
    check_format(&token.value)?;
    validate_api_url(&api.value)?;
    let verified = Client::new(&api.value, &token.value).verify()?;
    ctx.say(&format!(
        "User:    {} ({})",
        verified.user.email, verified.user.id
    ));
    ctx.say(&format!(
        "Name:    {} ({})",
        verified.token.name, verified.token.id
    ));
    let expiry = match &verified.token.expires_at {
        None => "never".to_owned(),
        Some(at) => match days_left(at, ctx.now) {
            Some(days) => format!("{at} (in {})", plural_days(days)),
            None => at.clone(),
        },
    };
    ctx.say(&format!("Expires: {expiry}"));
    warn_if_expiring(ctx, &verified);
    Ok(())
}

/// Whole days from `now` until an RFC 3339 instant, rounded down.
fn days_left(expires_at: &str, now: Timestamp) -> Option<u64> {
    Timestamp::parse_rfc3339(expires_at).map(|at| at.seconds_since(now) / 86_400)
}

fn plural_days(days: u64) -> String {
    match days {
        0 => "less than a day".to_owned(),
        1 => "1 day".to_owned(),
        n => format!("{n} days"),
    }
}

fn warn_if_expiring(ctx: &mut Context, verified: &Verified) {
    let Some(days) = verified
        .token
        .expires_at
        .as_deref()
        .and_then(|at| days_left(at, ctx.now))
    else {
        return;
    };
    if days < EXPIRY_WARNING_DAYS {
        ctx.warn(&format!(
            "token \"{}\" expires in {}: create a new one in the console before your pipelines break",
            verified.token.name,
            plural_days(days)
        ));
    }
}

pub fn logout(ctx: &mut Context) -> Result<(), Failure> {
    let mut file = ctx.load()?;
    let api = ctx.api_url(None, &file).value;
    match file.token.take() {
        Some(token) => {
            let path = config::save(&ctx.config_dir, &file).map_err(config_error)?;
            ctx.say(&format!(
                "Removed token {}… from {}.",
                hint_of(&token),
                path.display()
            ));
        }
        None => ctx.say("No token was saved."),
    }
    ctx.say(&format!(
        "The token itself keeps working until it expires: tokens cannot delete tokens. \
         To revoke it, delete it in the console: {}/console/",
        api.trim_end_matches('/')
    ));
    if ctx.env_token.is_some() {
        ctx.warn(&format!("{TOKEN_ENV} is still set and will still be used"));
    }
    Ok(())
}

pub fn print_token(ctx: &mut Context) -> Result<(), Failure> {
    let file = ctx.load()?;
    let token = ctx.token(&file)?;
    ctx.say(&token.value);
    Ok(())
}

#[derive(Debug)]
pub enum BodySource {
    None,
    Inline(String),
    File(PathBuf),
    Stdin,
}

#[derive(Debug)]
pub struct ApiArgs {
    pub path: String,
    pub method: Option<String>,
    pub body: BodySource,
    pub headers: Vec<String>,
}

fn parse_header(raw: &str) -> Result<(String, String), Failure> {
    let bad = || {
        Failure::new(
            exit::USAGE,
            format!("header {raw:?} must look like 'Name: value'"),
        )
    };
    let (name, value) = raw.split_once(':').ok_or_else(bad)?;
    let name = name.trim();
    let valid_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid_name || value.contains(['\r', '\n']) {
        return Err(bad());
    }
    if name.eq_ignore_ascii_case("authorization") {
        return Err(Failure::new(
            exit::USAGE,
            "reis sets Authorization itself from your token",
        ));
    }
    Ok((name.to_owned(), value.trim().to_owned()))
}

pub fn api(
    ctx: &mut Context,
    args: ApiArgs,
    api_flag: Option<&str>,
    read_stdin: impl FnOnce() -> std::io::Result<String>,
) -> Result<(), Failure> {
    if !args.path.starts_with('/') {
        return Err(Failure::new(
            exit::USAGE,
            format!("the path must start with '/', e.g. /v1/{}", args.path),
        ));
    }
    let headers = args
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<Result<Vec<_>, _>>()?;
    let body = match args.body {
        BodySource::None => None,
        BodySource::Inline(text) => Some(text.into_bytes()),
        BodySource::File(path) => Some(std::fs::read(&path).map_err(|e| {
            Failure::new(exit::USAGE, format!("cannot read {}: {e}", path.display()))
        })?),
        BodySource::Stdin => Some(
            read_stdin()
                .map_err(|e| Failure::new(exit::USAGE, format!("reading standard input: {e}")))?
                .into_bytes(),
        ),
    };
    let method = args
        .method
        .map(|m| m.to_ascii_uppercase())
        .unwrap_or_else(|| if body.is_some() { "POST" } else { "GET" }.to_owned());
    let file = ctx.load()?;
    let api = ctx.api_url(api_flag, &file);
    let token = ctx.token(&file)?;
    check_format(&token.value)?;
    validate_api_url(&api.value)?;
    let client = Client::new(&api.value, &token.value);
    let response = client.send(&method, &args.path, &headers, body.as_deref())?;
    let printed = redact(&String::from_utf8_lossy(&response.body), &token.value);
    let _ = ctx.stdout.write_all(printed.as_bytes());
    if !printed.is_empty() && !printed.ends_with('\n') {
        let _ = ctx.stdout.write_all(b"\n");
    }
    if (200..400).contains(&response.status) {
        Ok(())
    } else {
        Err(client.explain(response.status, &response.body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_checked() {
        assert_eq!(
            parse_header("X-Trace:  abc ").unwrap(),
            ("X-Trace".into(), "abc".into())
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header(": value").is_err());
        assert!(parse_header("Bad Name: v").is_err());
        assert!(parse_header("Authorization: Bearer x").is_err());
    }

    #[test]
    fn typos_are_caught_offline_with_the_reason() {
        let token = "pat_mavzfVABqZ5YsOOlB1f46RfHk7hp3ILTgK2y3mH3UqtmaFCrvkUb7keKpQ4Fhj1Q";
        let failure = check_format(token).unwrap_err();
        assert_eq!(failure.code, exit::TOKEN);
        assert!(failure.message.contains("checksum"));
        assert!(!failure.message.contains(token));
    }

    #[test]
    fn days_left_rounds_down() {
        let now = Timestamp::parse_rfc3339("2026-11-23T00:00:00Z").unwrap();
        assert_eq!(days_left("2026-11-30T00:00:00Z", now), Some(7));
        assert_eq!(days_left("2026-11-29T23:59:59Z", now), Some(6));
        assert_eq!(days_left("2026-11-01T00:00:00Z", now), Some(0));
        assert_eq!(days_left("garbage", now), None);
    }
}
