use std::io::{self, Read};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;
use patgate_core::time::Timestamp;
use reis::cli::Cli;
use reis::client::{exit, Failure};
use reis::commands::{self, Context};
use reis::config::config_dir;
use reis::invocation::{Environment, Invocation};
use reis::settings::{API_URL_ENV, TOKEN_ENV};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("reis: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// Reads the process's world (environment, clock, standard streams), resolves the command
/// once, then runs it.
fn run(cli: Cli) -> Result<(), Failure> {
    let var = |name: &str| std::env::var(name).ok();
    let config_dir = config_dir(var("XDG_CONFIG_HOME").as_deref(), var("HOME").as_deref())
        .ok_or_else(|| {
            Failure::new(
                exit::USAGE,
                "set HOME or XDG_CONFIG_HOME so reis knows where to keep its config",
            )
        })?;
    let environment = Environment {
        config_dir,
        token: var(TOKEN_ENV),
        api_url: var(API_URL_ENV),
    };
    let read_stdin = || {
        let mut text = String::new();
        io::stdin().read_to_string(&mut text).map(|_| text)
    };
    let invocation = Invocation::resolve(cli, &environment, read_stdin)?;
    let mut context = Context {
        now: now()?,
        stdout: Box::new(io::stdout()),
        stderr: Box::new(io::stderr()),
    };
    commands::run(&mut context, invocation)
}

/// The system clock as a [`Timestamp`]; a clock outside 1970–9999 is an error, not a guess.
fn now() -> Result<Timestamp, Failure> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|elapsed| Timestamp::from_unix_seconds(elapsed.as_secs()).ok())
        .ok_or_else(|| {
            Failure::new(
                exit::USAGE,
                "the system clock is set outside the years 1970 to 9999; fix it, then retry",
            )
        })
}
