//! A deterministic simulation of revocation across Cloudflare locations, on one virtual clock.
//!
//! `wrangler dev` has a single location whose KV is strongly consistent, so "refused at once"
//! there proves nothing about the others. Here several locations each have their own KV view
//! ([`kv::SimKv`]: cached answers, cached misses, late writes, one write per second per key),
//! their own data-center cache of the feed and their own isolates with their own feed copies,
//! and their own clock skew. The revocation feed is the real [`FeedLog`]; the ledgers are the
//! real [`Ledger`]s behind the real JSON protocol; every token is validated by the Worker's own
//! [`authenticate`] and [`Gate`]. Only the ports are simulated.
//!
//! A [`Scenario`] lists when users create, rename, re-date, delete and revoke all, where and how
//! often isolates validate, and when the feed, the authority or KV writes fail. [`run`] plays
//! it and checks every answer against the ledgers' history ([`Report`]): a "valid" answer that
//! carries a state the ledger replaced more than the bound before is a violation.
//!
//! [`FeedLog`]: super::log::FeedLog
//! [`Ledger`]: crate::ledger::Ledger
//! [`authenticate`]: crate::auth::authenticate
//! [`Gate`]: super::Gate

mod kv;
mod tests;
mod world;

use super::RevocationMode;

/// How the simulated isolates decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validation {
    /// The Worker's [`Gate`](super::Gate) in this mode.
    Gate(RevocationMode),
    /// KV's record alone, as before the feed existed: the negative control.
    KvAlone,
}

/// One Cloudflare location. Location 0 is the ledgers' own.
#[derive(Debug, Clone)]
pub struct Place {
    /// How long after landing a KV write becomes visible here.
    pub lag_ms: u64,
    /// This location's clock minus the true time.
    pub skew_ms: i64,
    pub isolates: usize,
    /// This data center's cache never holds the feed (as on `workers.dev`).
    pub cache_broken: bool,
}

#[derive(Debug, Clone, Copy)]
pub enum Action {
    Create {
        user: usize,
        expires_in_days: Option<u64>,
    },
    /// `token` indexes the tokens created so far, modulo their number.
    Rename {
        token: usize,
    },
    Redate {
        token: usize,
        days: u64,
    },
    Delete {
        token: usize,
    },
    RevokeAll {
        user: usize,
    },
}

/// `[from_ms, until_ms)` of virtual time.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub from_ms: u64,
    pub until_ms: u64,
}

impl Window {
    fn contains(self, at: u64) -> bool {
        (self.from_ms..self.until_ms).contains(&at)
    }
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub validation: Validation,
    pub places: Vec<Place>,
    pub users: usize,
    /// Each isolate validates about this often (with jitter).
    pub poll_ms: u64,
    /// When each action starts; actions of all users run one at a time, as one ledger does.
    pub actions: Vec<(u64, Action)>,
    /// The feed's object cannot be reached (publishing or refreshing).
    pub feed_down: Option<Window>,
    /// No ledger answers lookups.
    pub authority_down: Option<Window>,
    /// Every KV write fails.
    pub kv_writes_fail: Option<Window>,
    /// Seeds the jitter of polls and fetches.
    pub seed: u64,
}

impl Scenario {
    fn has_faults(&self) -> bool {
        self.feed_down.is_some()
            || self.authority_down.is_some()
            || self.kv_writes_fail.is_some()
            || self.places.iter().any(|place| place.cache_broken)
    }
}

/// What a run found.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// The longest time after a change answered that some location still answered "valid"
    /// with the state it replaced.
    pub worst_stale_ms: u64,
    /// Answers that broke the bound (or served a state no ledger ever held).
    pub violations: Vec<String>,
    /// Without faults: refusals of a token long in force, or 503s.
    pub liveness_failures: Vec<String>,
    pub validations: usize,
    /// Validations of a replaced state made after its replacement's answer plus the bound:
    /// the answers that could have shown a violation.
    pub checked_after_bound: usize,
    pub authority_lookups: usize,
    pub feed_fetches: usize,
    pub unavailable: usize,
    pub failed_commands: usize,
}

/// Plays `scenario`, judging staleness against `bound_ms`.
pub fn run(scenario: &Scenario, bound_ms: u64) -> Report {
    world::World::new(scenario.clone(), bound_ms).play()
}
