//! reis: the platform's command-line client, authenticated with a Personal Access Token.
//!
//! `main.rs` parses arguments; [`commands`] does the work against an explicit
//! [`commands::Context`] (environment, clock, streams), so it can be tested without a process.

pub mod client;
pub mod commands;
pub mod config;
