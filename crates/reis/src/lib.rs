//! reis: the platform's command-line client, authenticated with a Personal Access Token.
//!
//! The flow, after ripgrep's `hiargs`: [`cli`] is the command line as clap parses it;
//! [`invocation`] resolves it once, with the environment and the config file, into parsed
//! settings ([`api_url::ApiUrl`], [`token::Token`], each with its [`settings::Source`]); then
//! [`commands`] acts on them against an explicit [`commands::Context`] (clock, streams).

pub mod api_url;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod invocation;
pub mod settings;
pub mod token;
