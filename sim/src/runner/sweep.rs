//! Sweeps: many seeds (or schedules) on OS threads, outcomes delivered in
//! order, and what a sweep found ([`Summary`]).

#![allow(clippy::disallowed_methods)] // real threads and wall time, outside every simulation

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{DETERMINISM_HISTORY_KEEP, Expect, Outcome, Scenario, determinism_mismatch, run};
use crate::schedule::Schedule;
use crate::world::Violation;

/// Events kept per seed in a sweep: enough for a failure report's context.
pub const SWEEP_HISTORY_KEEP: usize = 32;

/// How a sweep runs.
#[derive(Clone, Copy, Debug)]
pub struct SweepOptions {
    /// OS threads (one seed at a time on each).
    pub jobs: usize,
    /// Run every seed twice and report a differing history as RUN3.
    pub check_determinism: bool,
}

impl SweepOptions {
    /// `jobs` threads, each seed once.
    pub fn jobs(jobs: usize) -> SweepOptions {
        SweepOptions { jobs, check_determinism: false }
    }
}

/// One run of a sweep, twice when determinism is checked.
fn sweep_one(scenario: &dyn Scenario, seed: u64, schedule: Option<&Schedule>, check_determinism: bool) -> Outcome {
    if !check_determinism {
        return run(scenario, seed, schedule.cloned(), SWEEP_HISTORY_KEEP);
    }
    let mut a = run(scenario, seed, schedule.cloned(), DETERMINISM_HISTORY_KEEP);
    let b = run(scenario, seed, schedule.cloned(), DETERMINISM_HISTORY_KEEP);
    if let Some(why) = determinism_mismatch(&a, &b) {
        let at_ms = a.sim_time.as_millis() as u64;
        a.violations.push(Violation { invariant: "RUN3".into(), at_ms, message: why });
    }
    // A sweep keeps what it would have kept in one run.
    let excess = a.history.len().saturating_sub(SWEEP_HISTORY_KEEP);
    a.history.drain(..excess);
    a.tree.clear();
    a
}

/// Run `seeds` as `options` say; `each` sees every outcome in seed order.
pub fn sweep(scenario: &dyn Scenario, seeds: &[u64], options: SweepOptions, each: impl FnMut(&Outcome)) -> Summary {
    sweep_runs(scenario, seeds, options, each, |&seed| sweep_one(scenario, seed, None, options.check_determinism))
}

/// Run each of `schedules` (its own seed) as `options` say; `each` sees
/// every outcome in the order given.
pub fn sweep_schedules(
    scenario: &dyn Scenario,
    schedules: &[Schedule],
    options: SweepOptions,
    each: impl FnMut(&Outcome),
) -> Summary {
    sweep_runs(scenario, schedules, options, each, |s| sweep_one(scenario, s.seed, Some(s), options.check_determinism))
}

/// Run `items` on `options.jobs` threads, delivering outcomes in order.
fn sweep_runs<T: Sync>(
    scenario: &dyn Scenario,
    items: &[T],
    options: SweepOptions,
    mut each: impl FnMut(&Outcome),
    one: impl Fn(&T) -> Outcome + Sync,
) -> Summary {
    let started = Instant::now();
    let mut summary = Summary::new(scenario);
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
    std::thread::scope(|s| {
        for _ in 0..options.jobs.max(1) {
            let (tx, next, one) = (tx.clone(), &next, &one);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    if tx.send((i, one(item))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut buffered = BTreeMap::new();
        let mut emitted = 0;
        for (i, outcome) in rx {
            buffered.insert(i, outcome);
            while let Some(outcome) = buffered.remove(&emitted) {
                summary.add(&outcome);
                each(&outcome);
                emitted += 1;
            }
        }
    });
    summary.wall = started.elapsed();
    summary
}

/// What a sweep found.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Scenario name.
    pub scenario: &'static str,
    /// Hold or violate.
    pub expect: Expect,
    /// Seeds run.
    pub seeds: usize,
    /// Seeds with at least one violation.
    pub violating: usize,
    /// The first violating seed (in seed order).
    pub first_violating: Option<u64>,
    /// Violating seeds per invariant.
    pub by_invariant: BTreeMap<String, usize>,
    /// Seeds that reached each declared coverage point.
    pub reached: BTreeMap<String, usize>,
    /// Total file operations.
    pub fs_ops: u64,
    /// Total virtual time.
    pub sim_time: Duration,
    /// Wall time of the sweep.
    pub wall: Duration,
}

impl Summary {
    pub(crate) fn new(scenario: &dyn Scenario) -> Summary {
        Summary {
            scenario: scenario.name(),
            expect: scenario.expect(),
            seeds: 0,
            violating: 0,
            first_violating: None,
            by_invariant: BTreeMap::new(),
            reached: scenario.sometimes().iter().map(|s| (s.to_string(), 0)).collect(),
            fs_ops: 0,
            sim_time: Duration::ZERO,
            wall: Duration::ZERO,
        }
    }

    pub(crate) fn add(&mut self, o: &Outcome) {
        self.seeds += 1;
        self.fs_ops += o.fs_ops;
        self.sim_time += o.sim_time;
        if o.violated() {
            self.violating += 1;
            self.first_violating.get_or_insert(o.seed);
            let mut ids: Vec<&str> = o.violations.iter().map(|v| v.invariant.as_str()).collect();
            ids.dedup();
            for id in ids {
                *self.by_invariant.entry(id.to_string()).or_insert(0) += 1;
            }
        }
        for r in &o.reached {
            if let Some(n) = self.reached.get_mut(r) {
                *n += 1;
            }
        }
    }

    /// Declared coverage points no seed reached.
    pub fn never_reached(&self) -> Vec<&str> {
        self.reached.iter().filter(|(_, n)| **n == 0).map(|(k, _)| k.as_str()).collect()
    }

    /// Did the sweep meet its expectation (and reach every coverage point)?
    pub fn passed(&self) -> bool {
        let verdict = match self.expect {
            Expect::Hold => self.violating == 0,
            Expect::Violate => self.violating > 0,
        };
        verdict && self.never_reached().is_empty()
    }

    /// Seeds per wall second.
    pub fn seeds_per_s(&self) -> f64 {
        self.seeds as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}
