//! The evidence for README's bounds: random interleavings of create, use, rename, re-date,
//! delete and revoke-all across several locations, for both modes, healthy and with the feed,
//! the authority, KV writes or a data center's cache failing; and the negative control, KV
//! alone, which must fail the same bound on the same interleavings.
//!
//! Each run prints the worst staleness it saw:
//! `cargo test -p patgate-worker simulation -- --nocapture --test-threads 1`.
//! The cases are drawn from a fixed seed, so runs are repeatable; `SIM_SEED` and `SIM_CASES`
//! explore others.

use std::cell::RefCell;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngSeed, TestRunner};

use super::{run, Action, Place, Report, Scenario, Validation, Window};
use crate::revocation::RevocationMode::{Fast, Strict};

/// README's stated bound for fast mode.
const FAST_BOUND_MS: u64 = 3_000;
/// Strict mode: nothing stale once the change has answered.
const STRICT_BOUND_MS: u64 = 0;

fn config() -> Config {
    let setting = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    Config {
        cases: u32::try_from(setting("SIM_CASES", 12)).unwrap_or(12),
        rng_seed: RngSeed::Fixed(setting("SIM_SEED", 0x5eed_2026)),
        failure_persistence: None,
        ..Config::default()
    }
}

fn places() -> impl Strategy<Value = Vec<Place>> {
    let place = (
        1_000u64..20_000,
        -100i64..=100,
        1usize..=2,
        prop::bool::weighted(0.1),
    );
    prop::collection::vec(place, 2..=4).prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(i, (lag_ms, skew_ms, isolates, cache_broken))| Place {
                // Location 0 is the ledgers' own: it sees their writes at once.
                lag_ms: if i == 0 { 0 } else { lag_ms },
                skew_ms,
                isolates,
                cache_broken,
            })
            .collect()
    })
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        2 => (0usize..2, prop::option::of(1u64..=30))
            .prop_map(|(user, expires_in_days)| Action::Create { user, expires_in_days }),
        2 => any::<usize>().prop_map(|token| Action::Rename { token }),
        1 => (any::<usize>(), 1u64..=30).prop_map(|(token, days)| Action::Redate { token, days }),
        2 => any::<usize>().prop_map(|token| Action::Delete { token }),
        1 => (0usize..2).prop_map(|user| Action::RevokeAll { user }),
    ]
}

/// Changes in bursts: some land within a second of the previous one (KV's write limit).
fn actions() -> impl Strategy<Value = Vec<(u64, Action)>> {
    prop::collection::vec((0u64..8_000, action()), 3..10).prop_map(|steps| {
        let mut at = 0;
        let mut timed = vec![(
            0,
            Action::Create {
                user: 0,
                expires_in_days: None,
            },
        )];
        for (gap, action) in steps {
            at += gap;
            timed.push((at, action));
        }
        timed
    })
}

/// A failure that starts up to 3 s after one of the actions (the moments that matter), as
/// (which action, delay, length).
type Anchored = Option<(usize, u64, u64)>;

fn failure() -> impl Strategy<Value = Anchored> {
    prop::option::weighted(0.6, (any::<usize>(), 0u64..3_000, 1_000u64..30_000))
}

fn anchor(failure: Anchored, actions: &[(u64, Action)]) -> Option<Window> {
    let (action, delay, length) = failure?;
    let (at, _) = actions.get(action % actions.len().max(1))?;
    Some(Window {
        from_ms: at + delay,
        until_ms: at + delay + length,
    })
}

fn scenario(validation: Validation, faults: bool) -> impl Strategy<Value = Scenario> {
    let failures = if faults {
        (failure(), failure(), failure()).boxed()
    } else {
        Just((None, None, None)).boxed()
    };
    (places(), 100u64..500, actions(), failures, any::<u64>()).prop_map(
        move |(mut places, poll_ms, actions, (feed, authority, kv), seed)| {
            if !faults {
                places
                    .iter_mut()
                    .for_each(|place| place.cache_broken = false);
            }
            let (feed_down, authority_down, kv_writes_fail) = (
                anchor(feed, &actions),
                anchor(authority, &actions),
                anchor(kv, &actions),
            );
            Scenario {
                validation,
                places,
                users: 2,
                poll_ms,
                actions,
                feed_down,
                authority_down,
                kv_writes_fail,
                seed,
            }
        },
    )
}

/// The worst of a set of runs.
#[derive(Debug, Default)]
struct Summary {
    runs: usize,
    worst_stale_ms: u64,
    validations: usize,
    checked_after_bound: usize,
    authority_lookups: usize,
    unavailable: usize,
}

impl Summary {
    fn add(&mut self, report: &Report) {
        self.runs += 1;
        self.worst_stale_ms = self.worst_stale_ms.max(report.worst_stale_ms);
        self.validations += report.validations;
        self.checked_after_bound += report.checked_after_bound;
        self.authority_lookups += report.authority_lookups;
        self.unavailable += report.unavailable;
    }

    fn print(&self, label: &str, bound_ms: u64) {
        println!(
            "simulation, {label}: worst stale answer {} ms after the change answered (bound \
             {bound_ms} ms); {} runs, {} validations ({} after a change plus the bound), {} \
             authority lookups, {} answered 503",
            self.worst_stale_ms,
            self.runs,
            self.validations,
            self.checked_after_bound,
            self.authority_lookups,
            self.unavailable
        );
    }
}

/// Plays every generated scenario and fails (with the shrunk scenario) on any answer staler
/// than `bound_ms`, or, without failures injected, on a refused valid token or a 503.
fn explore(label: &str, validation: Validation, faults: bool, bound_ms: u64) -> Summary {
    let summary = RefCell::new(Summary::default());
    let mut runner = TestRunner::new(config());
    let outcome = runner.run(&scenario(validation, faults), |scenario| {
        let report = run(&scenario, bound_ms);
        summary.borrow_mut().add(&report);
        prop_assert!(report.violations.is_empty(), "{:#?}", report.violations);
        prop_assert!(
            report.liveness_failures.is_empty(),
            "{:#?}",
            report.liveness_failures
        );
        Ok(())
    });
    if let Err(error) = outcome {
        panic!("{label}: {error}");
    }
    let summary = summary.into_inner();
    summary.print(label, bound_ms);
    assert!(
        summary.checked_after_bound > 0,
        "the runs never looked after a change's bound"
    );
    summary
}

#[test]
fn fast_mode_refuses_everywhere_within_3_s() {
    explore("fast mode", Validation::Gate(Fast), false, FAST_BOUND_MS);
}

#[test]
fn fast_mode_keeps_its_bound_when_the_feed_the_authority_or_kv_fail() {
    let summary = explore(
        "fast mode with failures",
        Validation::Gate(Fast),
        true,
        FAST_BOUND_MS,
    );
    assert!(
        summary.unavailable > 0,
        "no failure ever reached validation"
    );
}

#[test]
fn strict_mode_refuses_everywhere_once_the_change_has_answered() {
    explore(
        "strict mode",
        Validation::Gate(Strict),
        false,
        STRICT_BOUND_MS,
    );
}

#[test]
fn strict_mode_keeps_its_bound_when_the_authority_or_kv_fail() {
    explore(
        "strict mode with failures",
        Validation::Gate(Strict),
        true,
        STRICT_BOUND_MS,
    );
}

/// The negative control: on the same kind of interleavings, KV alone answers "valid" long
/// after a change, so the simulation can see staleness, and the bound is the feed's doing.
#[test]
fn kv_alone_fails_the_bound() {
    let mut runner = TestRunner::new(config());
    let mut summary = Summary::default();
    let mut violating = 0;
    for _ in 0..config().cases {
        let tree = scenario(Validation::KvAlone, false)
            .new_tree(&mut runner)
            .unwrap();
        let report = run(&tree.current(), FAST_BOUND_MS);
        summary.add(&report);
        violating += usize::from(!report.violations.is_empty());
    }
    summary.print("KV alone (negative control)", FAST_BOUND_MS);
    assert!(
        violating > 0,
        "KV alone never broke the bound: the simulation sees no staleness"
    );
    assert!(summary.worst_stale_ms > 10 * FAST_BOUND_MS);
}

/// The adversarial case behind fast mode's bound: a far location holds the token in its KV
/// cache, and the feed goes down 50 ms after a delete announced itself, so that no isolate
/// there can refresh. Each keeps trusting its last copy (which predates the delete) until it
/// is 2 s old, then asks the authority. The worst answer is that copy's age plus skew.
#[test]
fn worst_case_a_feed_outage_right_after_a_delete() {
    let delete_at = 70_000;
    let scenario = |feed_down| Scenario {
        validation: Validation::Gate(Fast),
        places: vec![
            Place {
                lag_ms: 0,
                skew_ms: 0,
                isolates: 1,
                cache_broken: false,
            },
            Place {
                lag_ms: 20_000,
                skew_ms: -100,
                isolates: 4,
                cache_broken: false,
            },
        ],
        users: 1,
        poll_ms: 50,
        actions: vec![
            (
                0,
                Action::Create {
                    user: 0,
                    expires_in_days: None,
                },
            ),
            (delete_at, Action::Delete { token: 0 }),
        ],
        feed_down,
        authority_down: None,
        kv_writes_fail: None,
        seed: 7,
    };
    let outage = Window {
        from_ms: delete_at + 50,
        until_ms: delete_at + 30_000,
    };
    let stormy = run(&scenario(Some(outage)), FAST_BOUND_MS);
    let calm = run(&scenario(None), FAST_BOUND_MS);
    for (label, report) in [
        ("feed outage right after a delete", &stormy),
        ("same, feed healthy", &calm),
    ] {
        let mut summary = Summary::default();
        summary.add(report);
        summary.print(&format!("fast mode, {label}"), FAST_BOUND_MS);
        assert!(report.violations.is_empty(), "{:#?}", report.violations);
    }
    // The stale copy really was used, right up to its age limit: the test can see a breach.
    assert!(stormy.worst_stale_ms > 1_500, "{}", stormy.worst_stale_ms);
    assert!(stormy.unavailable == 0 && stormy.authority_lookups > 0);
}
