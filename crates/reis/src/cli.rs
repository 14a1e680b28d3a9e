//! The command line as clap sees it: strings and flags, nothing checked yet.
//! [`crate::invocation`] turns it into parsed settings once.

use clap::{Args, Parser, Subcommand};

/// The platform's command-line client. Authenticates with a Personal Access Token.
#[derive(Debug, Parser)]
#[command(name = "reis", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in with a token, check it, forget it.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Call the API with your token and print the response body.
    Api(ApiCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Check a token and save it. Create tokens in the console.
    Login(LoginArgs),
    /// Show who the token belongs to and when it expires; exit non-zero if it does not work.
    Status(ApiUrlArg),
    /// Forget the token saved for the API (it keeps working until deleted in the console).
    Logout(ApiUrlArg),
    /// Print the token in use for the API, for piping into other tools.
    Token(ApiUrlArg),
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct TokenInput {
    /// The token (pat_…). Prefer --with-token to keep it out of your shell history.
    #[arg(long, value_name = "PAT")]
    pub token: Option<String>,
    /// Read the token from standard input.
    #[arg(long)]
    pub with_token: bool,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub input: TokenInput,
    #[command(flatten)]
    pub api: ApiUrlArg,
}

#[derive(Debug, Args)]
pub struct ApiUrlArg {
    /// API base URL [env: REIS_API_URL] [default: https://api.bahriya.cloud]
    #[arg(long, value_name = "URL")]
    pub api: Option<String>,
}

#[derive(Debug, Args)]
pub struct ApiCommand {
    /// Path to call, e.g. /v1/projects?page=2
    pub path: String,
    /// HTTP method (default: GET, or POST when a body is given)
    #[arg(short = 'X', long, value_name = "METHOD")]
    pub method: Option<String>,
    /// Request body
    #[arg(short = 'd', long, value_name = "BODY", conflicts_with = "input")]
    pub data: Option<String>,
    /// Read the request body from FILE ('-' for standard input)
    #[arg(long, value_name = "FILE")]
    pub input: Option<String>,
    /// Extra request header, 'Name: value' (repeatable)
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
    #[command(flatten)]
    pub api: ApiUrlArg,
}
