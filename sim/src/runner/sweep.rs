//! Sweeps: many seeds (or schedules) on reused OS threads, outcomes
//! delivered in order, and what a sweep found ([`Summary`]).

#![allow(clippy::disallowed_methods)] // real threads and wall time, outside every simulation

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{DETERMINISM_HISTORY_KEEP, Expect, Outcome, Scenario, determinism_mismatch, run, run_here};
use crate::schedule::Schedule;
use crate::world::Violation;

/// Events kept per seed in a sweep: enough for a failure report's context.
pub const SWEEP_HISTORY_KEEP: usize = 32;

/// How a sweep runs.
#[derive(Clone, Copy, Debug)]
pub struct SweepOptions {
    /// OS threads, one seed at a time on each, reused from seed to seed
    /// (see [`sweep()`]).
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

/// Where one run of a sweep goes: on the worker thread that draws it, or
/// on a fresh thread as [`run`] (a replay) does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Thread {
    Reused,
    Fresh,
}

/// One run of a sweep, twice when determinism is checked.
fn sweep_one(
    scenario: &dyn Scenario,
    seed: u64,
    schedule: Option<&Schedule>,
    check_determinism: bool,
    thread: Thread,
) -> Outcome {
    let go = |keep| match thread {
        Thread::Reused => run_here(scenario, seed, schedule.cloned(), keep),
        Thread::Fresh => run(scenario, seed, schedule.cloned(), keep),
    };
    if !check_determinism {
        return go(SWEEP_HISTORY_KEEP);
    }
    let mut a = go(DETERMINISM_HISTORY_KEEP);
    let b = go(DETERMINISM_HISTORY_KEEP);
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
///
/// Worker threads are reused from seed to seed, which is safe when a
/// seed's history depends on nothing but the seed. One thing a reused
/// thread cannot give a run is madsim's seeded `HashMap` keys (std keeps
/// them per thread, set once), so a workload whose history follows a
/// `HashMap`'s order would differ from its replay. Each worker first
/// draws random keys, so such a dependence shows; the sweep runs its
/// first item on a fresh thread too, and if the two histories differ,
/// every seed runs on a fresh thread (those already run are run again)
/// and [`Summary::fresh_threads`] says why. `--check-determinism` runs
/// each seed twice on its worker, with other keys each time.
pub fn sweep(scenario: &dyn Scenario, seeds: &[u64], options: SweepOptions, each: impl FnMut(&Outcome)) -> Summary {
    sweep_runs(scenario, seeds, options, each, |&seed, thread| {
        sweep_one(scenario, seed, None, options.check_determinism, thread)
    })
}

/// Run each of `schedules` (its own seed) as `options` say; `each` sees
/// every outcome in the order given. Threads as [`sweep()`].
pub fn sweep_schedules(
    scenario: &dyn Scenario,
    schedules: &[Schedule],
    options: SweepOptions,
    each: impl FnMut(&Outcome),
) -> Summary {
    sweep_runs(scenario, schedules, options, each, |s, thread| {
        sweep_one(scenario, s.seed, Some(s), options.check_determinism, thread)
    })
}

/// Run `items` on `options.jobs` reused threads, delivering outcomes in
/// order; the first item decides whether threads may be reused (see
/// [`sweep()`]).
fn sweep_runs<T: Sync>(
    scenario: &dyn Scenario,
    items: &[T],
    options: SweepOptions,
    mut each: impl FnMut(&Outcome),
    one: impl Fn(&T, Thread) -> Outcome + Sync,
) -> Summary {
    let started = Instant::now();
    let mut summary = Summary::new(scenario);
    let next = AtomicUsize::new(0);
    let fresh = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, Outcome, Thread)>();
    std::thread::scope(|s| {
        for _ in 0..options.jobs.max(1) {
            let (tx, next, fresh, one) = (tx.clone(), &next, &fresh, &one);
            s.spawn(move || {
                // This thread's HashMap keys, from the OS: never the ones
                // madsim would seed on a fresh thread (see `sweep`).
                let _ = std::collections::hash_map::RandomState::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let thread = if fresh.load(Ordering::Relaxed) { Thread::Fresh } else { Thread::Reused };
                    if tx.send((i, one(item, thread), thread)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut buffered = BTreeMap::new();
        let mut emitted = 0;
        for (i, outcome, thread) in rx {
            buffered.insert(i, (outcome, thread));
            while let Some((mut outcome, thread)) = buffered.remove(&emitted) {
                if thread == Thread::Reused && emitted == 0 {
                    let replay = one(&items[0], Thread::Fresh);
                    if determinism_mismatch(&outcome, &replay).is_some() {
                        fresh.store(true, Ordering::Relaxed);
                        summary.fresh_threads = Some(format!(
                            "seed {}'s history on a reused worker thread ({:016x}) differs from its replay on a \
                             fresh thread ({:016x}): the workload depends on more than its seed (per-thread state \
                             such as a std HashMap's order: use a BTreeMap or a fixed hasher; or process-wide \
                             state); every seed ran on a fresh thread",
                            outcome.seed, outcome.history_hash, replay.history_hash
                        ));
                    }
                    outcome = replay;
                } else if thread == Thread::Reused && fresh.load(Ordering::Relaxed) {
                    outcome = one(&items[emitted], Thread::Fresh);
                }
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
    /// Why every seed ran on a fresh OS thread, if it did: the first
    /// seed's history depended on the thread it ran on (see [`sweep()`]).
    pub fresh_threads: Option<String>,
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
            fresh_threads: None,
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
