//! What each command does, given its parsed [`Invocation`].

use std::io::Write;

use patgate_core::time::Timestamp;
use patgate_core::token::hint_of;

use crate::client::{redact, Client, Failure, Verified};
use crate::invocation::{ApiRequest, Invocation, Login, Logout, Session};
use crate::settings::TOKEN_ENV;
use crate::token::Token;

/// Warn when a token expires within this many days.
pub const EXPIRY_WARNING_DAYS: u64 = 7;

const SECONDS_PER_DAY: u64 = 86_400;

/// What a command may touch besides the API, passed in so commands are testable.
pub struct Context {
    pub now: Timestamp,
    pub stdout: Box<dyn Write>,
    pub stderr: Box<dyn Write>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl Context {
    fn say(&mut self, line: &str) {
        let _ = writeln!(self.stdout, "{line}");
    }

    fn warn(&mut self, line: &str) {
        let _ = writeln!(self.stderr, "warning: {line}");
    }
}

pub fn run(ctx: &mut Context, invocation: Invocation) -> Result<(), Failure> {
    match invocation {
        Invocation::Login(login) => self::login(ctx, login),
        Invocation::Status(session) => status(ctx, &session),
        Invocation::Logout(logout) => self::logout(ctx, logout),
        Invocation::PrintToken(token) => {
            ctx.say(token.expose());
            Ok(())
        }
        Invocation::Api(session, request) => api(ctx, &session, request),
    }
}

fn login(ctx: &mut Context, login: Login) -> Result<(), Failure> {
    let Login {
        token,
        api,
        mut config,
        env_token_set,
    } = login;
    let verified = Client::new(&api, &token).verify()?;
    config.file.remember(&api, &token);
    config.file.default_api = Some(api.to_string());
    let path = config.save()?;
    ctx.say(&format!(
        "Logged in to {api} as {} with token \"{}\" ({}…).",
        verified.user.email,
        verified.token.name,
        token.hint()
    ));
    ctx.say(&format!("Saved to {}.", path.display()));
    if env_token_set {
        ctx.warn(&format!(
            "{TOKEN_ENV} is set and takes precedence over the saved token"
        ));
    }
    warn_if_expiring(ctx, &verified);
    Ok(())
}

fn status(ctx: &mut Context, session: &Session) -> Result<(), Failure> {
    let Session { api, token } = session;
    ctx.say(&format!("API:     {} (from {})", api.value, api.source));
    ctx.say(&format!(
        "Token:   {}… (from {})",
        token.value.hint(),
        token.source
    ));
    let verified = Client::new(&api.value, &token.value).verify()?;
    ctx.say(&format!(
        "User:    {} ({})",
        verified.user.email, verified.user.id
    ));
    ctx.say(&format!(
        "Name:    {} ({})",
        verified.token.name, verified.token.id
    ));
    let expiry = match verified.token.expires_at {
        None => "never".to_owned(),
        Some(at) => format!("{at} (in {})", plural_days(days_left(at, ctx.now))),
    };
    ctx.say(&format!("Expires: {expiry}"));
    warn_if_expiring(ctx, &verified);
    Ok(())
}

/// Whole days from `now` until `expires_at`, rounded down; zero once it has passed.
fn days_left(expires_at: Timestamp, now: Timestamp) -> u64 {
    expires_at.seconds_since(now) / SECONDS_PER_DAY
}

fn plural_days(days: u64) -> String {
    match days {
        0 => "less than a day".to_owned(),
        1 => "1 day".to_owned(),
        n => format!("{n} days"),
    }
}

fn warn_if_expiring(ctx: &mut Context, verified: &Verified) {
    let Some(at) = verified.token.expires_at else {
        return;
    };
    let days = days_left(at, ctx.now);
    if days < EXPIRY_WARNING_DAYS {
        ctx.warn(&format!(
            "token \"{}\" expires in {}: create a new one in the console before your pipelines break",
            verified.token.name,
            plural_days(days)
        ));
    }
}

fn logout(ctx: &mut Context, logout: Logout) -> Result<(), Failure> {
    let Logout {
        api,
        mut config,
        env_token_set,
    } = logout;
    match config.file.forget(&api) {
        Some(token) => {
            let path = config.save()?;
            ctx.say(&format!(
                "Removed token {}… for {api} from {}.",
                hint_of(&token),
                path.display()
            ));
        }
        None => ctx.say(&format!("No token was saved for {api}.")),
    }
    ctx.say(&format!(
        "The token itself keeps working until it expires: tokens cannot delete tokens. \
         To revoke it, delete it in the console: {}",
        api.console()
    ));
    if env_token_set {
        ctx.warn(&format!("{TOKEN_ENV} is still set and will still be used"));
    }
    Ok(())
}

fn api(ctx: &mut Context, session: &Session, request: ApiRequest) -> Result<(), Failure> {
    let token: &Token = &session.token.value;
    let client = Client::new(&session.api.value, token);
    let response = client.send(
        &request.method,
        &request.path,
        &request.headers,
        request.body.as_deref(),
    )?;
    let printed = redact(&String::from_utf8_lossy(&response.body), token.expose());
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
    fn days_left_rounds_down() {
        let now = Timestamp::parse_rfc3339("2026-11-23T00:00:00Z").unwrap();
        let at = |text| Timestamp::parse_rfc3339(text).unwrap();
        assert_eq!(days_left(at("2026-11-30T00:00:00Z"), now), 7);
        assert_eq!(days_left(at("2026-11-29T23:59:59Z"), now), 6);
        assert_eq!(days_left(at("2026-11-01T00:00:00Z"), now), 0);
    }
}
