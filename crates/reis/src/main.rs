use std::io::{self, Read};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};
use patgate_core::time::Timestamp;
use reis::client::exit;
use reis::commands::{self, ApiArgs, BodySource, Context};
use reis::config::config_dir;

/// The platform's command-line client. Authenticates with a Personal Access Token.
#[derive(Parser)]
#[command(name = "reis", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Log in with a token, check it, forget it.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Call the API with your token and print the response body.
    Api(ApiCommand),
}

#[derive(Subcommand)]
enum AuthCommand {
    /// Check a token and save it. Create tokens in the console.
    Login(LoginArgs),
    /// Show who the token belongs to and when it expires; exit non-zero if it does not work.
    Status(ApiUrlArg),
    /// Forget the saved token (it keeps working until deleted in the console).
    Logout,
    /// Print the token in use, for piping into other tools.
    Token,
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct TokenInput {
    /// The token (pat_…). Prefer --with-token to keep it out of your shell history.
    #[arg(long, value_name = "PAT")]
    token: Option<String>,
    /// Read the token from standard input.
    #[arg(long)]
    with_token: bool,
}

#[derive(Args)]
struct LoginArgs {
    #[command(flatten)]
    input: TokenInput,
    #[command(flatten)]
    api: ApiUrlArg,
}

#[derive(Args)]
struct ApiUrlArg {
    /// API base URL [env: REIS_API_URL] [default: https://api.bahriya.cloud]
    #[arg(long, value_name = "URL")]
    api: Option<String>,
}

#[derive(Args)]
struct ApiCommand {
    /// Path to call, e.g. /v1/projects?page=2
    path: String,
    /// HTTP method (default: GET, or POST when a body is given)
    #[arg(short = 'X', long, value_name = "METHOD")]
    method: Option<String>,
    /// Request body
    #[arg(short = 'd', long, value_name = "BODY", conflicts_with = "input")]
    data: Option<String>,
    /// Read the request body from FILE ('-' for standard input)
    #[arg(long, value_name = "FILE")]
    input: Option<String>,
    /// Extra request header, 'Name: value' (repeatable)
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    #[command(flatten)]
    api: ApiUrlArg,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let var = |name: &str| std::env::var(name).ok();
    let now_seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let Some(config_dir) = config_dir(var("XDG_CONFIG_HOME").as_deref(), var("HOME").as_deref())
    else {
        eprintln!("reis: set HOME or XDG_CONFIG_HOME so reis knows where to keep its config");
        return ExitCode::from(exit::USAGE);
    };
    let mut context = Context {
        config_dir,
        env_token: var(reis::config::TOKEN_ENV),
        env_api_url: var(reis::config::API_URL_ENV),
        now: Timestamp::from_unix_seconds(now_seconds).unwrap_or(Timestamp::MAX),
        stdout: Box::new(io::stdout()),
        stderr: Box::new(io::stderr()),
    };
    let read_stdin = || {
        let mut text = String::new();
        io::stdin().read_to_string(&mut text).map(|_| text)
    };
    let outcome = match cli.command {
        Command::Auth(AuthCommand::Login(args)) => {
            let token = match (args.input.token, args.input.with_token) {
                (Some(token), _) => Ok(token),
                (None, _) => read_stdin().map_err(|e| {
                    reis::client::Failure::new(exit::USAGE, format!("reading standard input: {e}"))
                }),
            };
            token.and_then(|token| commands::login(&mut context, &token, args.api.api.as_deref()))
        }
        Command::Auth(AuthCommand::Status(args)) => {
            commands::status(&mut context, args.api.as_deref())
        }
        Command::Auth(AuthCommand::Logout) => commands::logout(&mut context),
        Command::Auth(AuthCommand::Token) => commands::print_token(&mut context),
        Command::Api(args) => {
            let body = match (args.data, args.input.as_deref()) {
                (Some(data), _) => BodySource::Inline(data),
                (None, Some("-")) => BodySource::Stdin,
                (None, Some(path)) => BodySource::File(path.into()),
                (None, None) => BodySource::None,
            };
            let api_args = ApiArgs {
                path: args.path,
                method: args.method,
                body,
                headers: args.headers,
            };
            commands::api(&mut context, api_args, args.api.api.as_deref(), read_stdin)
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("reis: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
