//! The high-level arguments, after ripgrep's `hiargs`: the command line, the environment and
//! the config file, resolved once into parsed types. [`crate::commands`] then only acts; nothing
//! it holds needs checking again.

use std::io;
use std::path::PathBuf;

use crate::api_url::ApiUrl;
use crate::cli::{ApiCommand, AuthCommand, Cli, Command};
use crate::client::{exit, Failure};
use crate::config::Config;
use crate::settings::{self, Resolved};
use crate::token::Token;

/// What reis reads from its process environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub config_dir: PathBuf,
    /// `REIS_API_TOKEN`.
    pub token: Option<String>,
    /// `REIS_API_URL`.
    pub api_url: Option<String>,
}

/// One command, with everything it needs.
#[derive(Debug)]
pub enum Invocation {
    Login(Login),
    Status(Session),
    Logout(Logout),
    PrintToken(Token),
    Api(Session, ApiRequest),
}

#[derive(Debug)]
pub struct Login {
    pub token: Token,
    pub api: ApiUrl,
    /// Where the token will be saved, as read before the login.
    pub config: Config,
    /// `REIS_API_TOKEN` is set, and will win over the saved token.
    pub env_token_set: bool,
}

/// The token to send and where to send it.
#[derive(Debug)]
pub struct Session {
    pub api: Resolved<ApiUrl>,
    pub token: Resolved<Token>,
}

#[derive(Debug)]
pub struct Logout {
    pub api: ApiUrl,
    pub config: Config,
    pub env_token_set: bool,
}

/// A request for `reis api`, checked: the path starts with `/`, headers are well formed and
/// never `Authorization`, and the body has been read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl Invocation {
    /// Resolves and parses every setting the command needs. `read_stdin` is called at most once,
    /// for `--with-token` or `--input -`.
    pub fn resolve(
        cli: Cli,
        env: &Environment,
        read_stdin: impl FnOnce() -> io::Result<String>,
    ) -> Result<Self, Failure> {
        match cli.command {
            Command::Auth(AuthCommand::Login(args)) => {
                let text = match args.input.token {
                    Some(text) => text,
                    None => read_stdin().map_err(stdin_failure)?,
                };
                let token = Token::parse(&text)?;
                let config = Config::load(&env.config_dir)?;
                let api = env.api_url(args.api.api.as_deref(), &config)?.value;
                Ok(Self::Login(Login {
                    token,
                    api,
                    config,
                    env_token_set: env.token.is_some(),
                }))
            }
            Command::Auth(AuthCommand::Status(args)) => {
                let config = Config::load(&env.config_dir)?;
                Ok(Self::Status(env.session(args.api.as_deref(), &config)?))
            }
            Command::Auth(AuthCommand::Logout(args)) => {
                let config = Config::load(&env.config_dir)?;
                Ok(Self::Logout(Logout {
                    api: env.api_url(args.api.as_deref(), &config)?.value,
                    config,
                    env_token_set: env.token.is_some(),
                }))
            }
            Command::Auth(AuthCommand::Token(args)) => {
                let config = Config::load(&env.config_dir)?;
                let session = env.session(args.api.as_deref(), &config)?;
                Ok(Self::PrintToken(session.token.value))
            }
            Command::Api(args) => {
                let api_flag = args.api.api.clone();
                let request = ApiRequest::parse(args, read_stdin)?;
                let config = Config::load(&env.config_dir)?;
                Ok(Self::Api(
                    env.session(api_flag.as_deref(), &config)?,
                    request,
                ))
            }
        }
    }
}

impl Environment {
    fn api_url(&self, flag: Option<&str>, config: &Config) -> Result<Resolved<ApiUrl>, Failure> {
        settings::api_url(flag, self.api_url.as_deref(), &config.file, &config.path)
    }

    /// The API first: a saved token is looked up for that API only.
    fn session(&self, api_flag: Option<&str>, config: &Config) -> Result<Session, Failure> {
        let api = self.api_url(api_flag, config)?;
        let token = settings::token(self.token.as_deref(), &api, &config.file, &config.path)?;
        Ok(Session { api, token })
    }
}

fn stdin_failure(e: io::Error) -> Failure {
    Failure::new(exit::USAGE, format!("reading standard input: {e}"))
}

impl ApiRequest {
    fn parse(
        args: ApiCommand,
        read_stdin: impl FnOnce() -> io::Result<String>,
    ) -> Result<Self, Failure> {
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
        let body = match (args.data, args.input.as_deref()) {
            (Some(text), _) => Some(text.into_bytes()),
            (None, Some("-")) => Some(read_stdin().map_err(stdin_failure)?.into_bytes()),
            (None, Some(path)) => Some(
                std::fs::read(path)
                    .map_err(|e| Failure::new(exit::USAGE, format!("cannot read {path}: {e}")))?,
            ),
            (None, None) => None,
        };
        let method = args
            .method
            .map(|m| m.to_ascii_uppercase())
            .unwrap_or_else(|| if body.is_some() { "POST" } else { "GET" }.to_owned());
        Ok(Self {
            method,
            path: args.path,
            headers,
            body,
        })
    }
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::Parser;

    use super::*;
    use crate::token::tests::VALID;

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

    fn resolve(
        args: &[&str],
        env_api_url: Option<&str>,
        dir: &Path,
    ) -> Result<Invocation, Failure> {
        let cli = Cli::try_parse_from(["reis"].iter().chain(args)).unwrap();
        let env = Environment {
            config_dir: dir.to_owned(),
            token: None,
            api_url: env_api_url.map(str::to_owned),
        };
        Invocation::resolve(cli, &env, || Ok(String::new()))
    }

    #[test]
    fn a_saved_token_is_never_resolved_for_another_api() {
        let root = tempfile::tempdir().unwrap();
        let home = ApiUrl::parse("http://localhost:8787").unwrap();
        let mut config = Config::load(root.path()).unwrap();
        config.file.remember(&home, &Token::parse(VALID).unwrap());
        config.file.default_api = Some(home.to_string());
        config.save().unwrap();

        let Ok(Invocation::Api(session, _)) = resolve(&["api", "/x"], None, root.path()) else {
            panic!("the saved token is used for its own API");
        };
        assert_eq!(session.api.value, home);
        assert_eq!(session.token.value.expose(), VALID);

        let not_logged_in = [
            (&["api", "/x", "--api", "http://127.0.0.2:8787"][..], None),
            (&["auth", "status"], Some("https://evil.example")),
            (&["auth", "token", "--api", "http://localhost:8788"], None),
        ];
        for (args, env_api_url) in not_logged_in {
            let failure = resolve(args, env_api_url, root.path()).unwrap_err();
            assert_eq!(failure.code, exit::TOKEN, "{args:?}");
            assert!(failure.message.starts_with("not logged in to "), "{args:?}");
        }
        let plain = resolve(&["api", "/x"], Some("http://evil.example"), root.path());
        let failure = plain.unwrap_err();
        assert_eq!(failure.code, exit::USAGE);
        assert!(failure.message.contains("plain http to evil.example"));
    }
}
