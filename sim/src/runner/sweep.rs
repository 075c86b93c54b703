//! Sweeps: many seeds (or schedules) on reused OS threads, outcomes
//! delivered in order, and what a sweep found ([`Summary`]).

#![allow(clippy::disallowed_methods)] // real threads and wall time, outside every simulation

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{DETERMINISM_HISTORY_KEEP, Expect, Outcome, Scenario, Whole, determinism_mismatch, run_fresh, run_here};
use crate::schedule::Schedule;
use crate::world::Violation;

/// How often a sweep's caller collects its workers' outcomes.
const COLLECT_EVERY: Duration = Duration::from_micros(500);

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
    /// End each seed of a `violate` scenario that declares no coverage
    /// points once its first violation and the report window after it are
    /// recorded, instead of running it to its end. Unchanged: which seeds
    /// are caught, the first violation of each and the events around it.
    /// Not the whole run's: the history hash, the later violations (a
    /// report lists those that ran; [`Summary::by_invariant`] counts only
    /// them), and the counts and rates (file operations, virtual time,
    /// so a table's "sim s/wall s" and "fs ops/s" are of what ran).
    /// [`Outcome::ended_when_caught`] marks such an outcome. Ignored with
    /// `check_determinism`, and for `hold` scenarios, which always run
    /// whole: a violation there is a finding, and all of it is reported.
    pub end_caught_seeds: bool,
}

impl SweepOptions {
    /// `jobs` threads, each seed once and whole.
    pub fn jobs(jobs: usize) -> SweepOptions {
        SweepOptions { jobs, check_determinism: false, end_caught_seeds: false }
    }

    /// The same, ending caught seeds of `violate` scenarios early (see
    /// [`SweepOptions::end_caught_seeds`]).
    pub fn ending_caught_seeds(self) -> SweepOptions {
        SweepOptions { end_caught_seeds: true, ..self }
    }

    /// How much of each run of `scenario` to run.
    fn whole(&self, scenario: &dyn Scenario) -> Whole {
        let may_end = self.end_caught_seeds
            && !self.check_determinism
            && scenario.expect() == Expect::Violate
            && scenario.sometimes().is_empty();
        if may_end { Whole::UntilCaught } else { Whole::Always }
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
    options: SweepOptions,
    thread: Thread,
) -> Outcome {
    let whole = options.whole(scenario);
    let go = |keep| match thread {
        Thread::Reused => run_here(scenario, seed, schedule.cloned(), keep, whole),
        Thread::Fresh => run_fresh(scenario, seed, schedule.cloned(), keep, whole),
    };
    if !options.check_determinism {
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
    let mut each = each;
    let mut out = None;
    sweep_many(&[(scenario, seeds)], options, |_, o| each(o), |_, s| out = Some(s));
    out.expect("a sweep's summary")
}

/// Sweep each `(scenario, seeds)` of `sweeps` as [`sweep()`] does, on
/// one set of worker threads: a worker that finds no seed of one
/// scenario left starts on the next one's while the other workers finish
/// theirs, instead of waiting for the slowest seed of every scenario.
/// `each(k, outcome)` sees every outcome in order (scenario by scenario,
/// seeds in order), and `done(k, summary)` each scenario's summary as
/// its last outcome has been seen. A summary's wall time runs from the
/// claim of its first seed to the arrival of its last, so two
/// scenarios' times may overlap.
pub fn sweep_many(
    sweeps: &[(&dyn Scenario, &[u64])],
    options: SweepOptions,
    each: impl FnMut(usize, &Outcome),
    done: impl FnMut(usize, Summary),
) {
    sweep_runs(sweeps, options, each, done, |k, &seed, thread| sweep_one(sweeps[k].0, seed, None, options, thread))
}

/// Run each of `schedules` (its own seed) as `options` say; `each` sees
/// every outcome in the order given. Threads as [`sweep()`].
pub fn sweep_schedules(
    scenario: &dyn Scenario,
    schedules: &[Schedule],
    options: SweepOptions,
    each: impl FnMut(&Outcome),
) -> Summary {
    let mut each = each;
    let mut out = None;
    sweep_runs(
        &[(scenario, schedules)],
        options,
        |_, o| each(o),
        |_, s| out = Some(s),
        |_, s, thread| sweep_one(scenario, s.seed, Some(s), options, thread),
    );
    out.expect("a sweep's summary")
}

/// Run the items of every sweep, one after another, on `options.jobs`
/// reused threads, delivering outcomes in order; each sweep's first item
/// decides whether threads may be reused for it (see [`sweep()`]).
///
/// One job runs on the caller's thread; with more, the caller collects
/// the workers' outcomes every [`COLLECT_EVERY`]. A worker handing each
/// outcome to a consumer parked on a channel woke it every seed, and
/// those wake-ups and context switches were two fifths of a small seed's
/// cost. (The caller running seeds beside the workers was slower: it
/// contended with them for the allocator's locks freeing their outcomes.)
fn sweep_runs<T: Sync>(
    sweeps: &[(&dyn Scenario, &[T])],
    options: SweepOptions,
    each: impl FnMut(usize, &Outcome),
    done: impl FnMut(usize, Summary),
    one: impl Fn(usize, &T, Thread) -> Outcome + Sync,
) {
    super::refuse_nested("a sweep");
    // Item `i` of the run is item `i - starts[k]` of sweep `k`.
    let starts: Vec<usize> =
        sweeps.iter().scan(0, |n, (_, items)| Some(std::mem::replace(n, *n + items.len()))).collect();
    let total = sweeps.iter().map(|(_, items)| items.len()).sum::<usize>();
    let next = AtomicUsize::new(0);
    let fresh: Vec<AtomicBool> = sweeps.iter().map(|_| AtomicBool::new(false)).collect();
    let started: Vec<OnceLock<Instant>> = sweeps.iter().map(|_| OnceLock::new()).collect();
    let workers = if options.jobs > 1 { options.jobs } else { 0 };
    // Each worker gets its outcomes back to free: freed here they took
    // the allocator's lock of the worker's arena, contended.
    let (returns, graves): (Vec<_>, Vec<_>) = (0..workers).map(|_| mpsc::channel::<Outcome>()).unzip();
    let mut out = InOrder {
        sweeps,
        starts: &starts,
        one: &one,
        fresh: &fresh,
        started: &started,
        each,
        done,
        returns,
        summaries: sweeps.iter().map(|(sc, _)| Summary::new(*sc)).collect(),
        arrived: vec![0; sweeps.len()],
        buffered: BTreeMap::new(),
        emitted: 0,
    };
    // Sweeps with no items before the first that has some are done now.
    out.deliver_empty_from(0);
    let claim = || {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= total {
            return None;
        }
        let (k, j) = locate(&starts, i);
        started[k].get_or_init(Instant::now);
        let thread = if fresh[k].load(Ordering::Relaxed) { Thread::Fresh } else { Thread::Reused };
        Some((i, k, &sweeps[k].1[j], thread))
    };
    let (tx, rx) = mpsc::channel::<(usize, Outcome, Ran)>();
    std::thread::scope(|s| {
        for (w, grave) in graves.into_iter().enumerate() {
            let (tx, claim, one) = (tx.clone(), &claim, &one);
            s.spawn(move || {
                // This thread's HashMap keys, from the OS: never the ones
                // madsim would seed on a fresh thread (see `sweep`).
                let _ = std::collections::hash_map::RandomState::new();
                while let Some((i, k, item, thread)) = claim() {
                    grave.try_iter().for_each(drop);
                    if tx.send((i, one(k, item, thread), Ran { thread, worker: Some(w) })).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        if workers == 0 {
            let _ = std::collections::hash_map::RandomState::new();
            while let Some((i, k, item, thread)) = claim() {
                out.take(i, one(k, item, thread), Ran { thread, worker: None });
            }
        }
        // Collect on a timer, not parked on the channel: a send to a
        // parked receiver wakes it, a context switch per seed.
        loop {
            match rx.try_recv() {
                Ok((i, outcome, ran)) => out.take(i, outcome, ran),
                Err(mpsc::TryRecvError::Empty) => std::thread::sleep(COLLECT_EVERY),
                Err(mpsc::TryRecvError::Disconnected) => break,
            }
        }
    });
}

/// Which sweep item `i` of the whole run belongs to, and its index there
/// (`starts[k]` is sweep `k`'s first item in the run).
fn locate(starts: &[usize], i: usize) -> (usize, usize) {
    let k = starts.partition_point(|&s| s <= i) - 1;
    (k, i - starts[k])
}

/// Outcomes as they finish in, delivered in order.
struct InOrder<'a, T, F, E, D> {
    sweeps: &'a [(&'a dyn Scenario, &'a [T])],
    starts: &'a [usize],
    one: &'a F,
    fresh: &'a [AtomicBool],
    started: &'a [OnceLock<Instant>],
    each: E,
    done: D,
    returns: Vec<mpsc::Sender<Outcome>>,
    summaries: Vec<Summary>,
    /// Outcomes of each sweep arrived so far (its wall time ends with
    /// the last).
    arrived: Vec<usize>,
    buffered: BTreeMap<usize, (Outcome, Ran)>,
    emitted: usize,
}

#[derive(Clone, Copy)]
struct Ran {
    thread: Thread,
    worker: Option<usize>,
}

impl<T, F: Fn(usize, &T, Thread) -> Outcome, E: FnMut(usize, &Outcome), D: FnMut(usize, Summary)>
    InOrder<'_, T, F, E, D>
{
    fn take(&mut self, i: usize, outcome: Outcome, ran: Ran) {
        let (k, _) = locate(self.starts, i);
        self.arrived[k] += 1;
        if self.arrived[k] == self.sweeps[k].1.len() {
            self.time(k);
        }
        self.buffered.insert(i, (outcome, ran));
        while let Some((mut outcome, Ran { thread, worker })) = self.buffered.remove(&self.emitted) {
            let (k, j) = locate(self.starts, self.emitted);
            let items = self.sweeps[k].1;
            if thread == Thread::Reused && j == 0 {
                let mut replay = (self.one)(k, &items[0], Thread::Fresh);
                if determinism_mismatch(&outcome, &replay).is_some() {
                    match determinism_mismatch(&replay, &(self.one)(k, &items[0], Thread::Fresh)) {
                        // Two fresh threads that disagree too: not the
                        // thread's keys but process-wide state (a static,
                        // the real clock), which no fresh thread cures:
                        // RUN3, as a determinism check would say (unless
                        // one has, in a run checked for determinism).
                        Some(why) if !replay.violations.iter().any(|v| v.invariant == "RUN3") => {
                            let at_ms = replay.sim_time.as_millis() as u64;
                            let message = format!(
                                "seed {}'s history differs between two runs on fresh threads: the workload \
                                 depends on process-wide state (a static, the real clock, the environment), not \
                                 only its seed: {why}",
                                replay.seed
                            );
                            replay.violations.push(Violation { invariant: "RUN3".into(), at_ms, message });
                        }
                        Some(_) => {}
                        None => {
                            self.fresh[k].store(true, Ordering::Relaxed);
                            self.summaries[k].fresh_threads = Some(format!(
                                "seed {}'s history on a reused worker thread ({:016x}) differs from its replay on \
                                 a fresh thread ({:016x}): the workload depends on more than its seed (per-thread \
                                 state such as a std HashMap's order: use a BTreeMap or a fixed hasher; or \
                                 process-wide state); every seed ran on a fresh thread",
                                outcome.seed, outcome.history_hash, replay.history_hash
                            ));
                        }
                    }
                }
                outcome = replay;
            } else if thread == Thread::Reused && self.fresh[k].load(Ordering::Relaxed) {
                outcome = (self.one)(k, &items[j], Thread::Fresh);
            }
            if thread == Thread::Reused && (j == 0 || self.fresh[k].load(Ordering::Relaxed)) {
                // A replay here, after the last arrival perhaps: its time
                // is the sweep's too.
                self.time(k);
            }
            self.summaries[k].add(&outcome);
            (self.each)(k, &outcome);
            self.emitted += 1;
            if j + 1 == items.len() {
                self.deliver(k);
            }
            if let Some(w) = worker {
                // A worker that has ended leaves it to be freed here.
                let _ = self.returns[w].send(outcome);
            }
        }
    }

    /// Sweep `k`'s wall time, from its first claim to now (its last
    /// arrival, or a replay run after it).
    fn time(&mut self, k: usize) {
        let started = *self.started[k].get().expect("a sweep's first claim is timed");
        self.summaries[k].wall = self.summaries[k].wall.max(started.elapsed());
    }

    /// Hand sweep `k`'s summary over, and those of the empty sweeps that
    /// follow it.
    fn deliver(&mut self, k: usize) {
        let summary = std::mem::replace(&mut self.summaries[k], Summary::new(self.sweeps[k].0));
        (self.done)(k, summary);
        self.deliver_empty_from(k + 1);
    }

    /// Hand over the summaries of the sweeps with no items from `k` on, up
    /// to the next that has some (delivered after its last outcome).
    fn deliver_empty_from(&mut self, k: usize) {
        for k in (k..self.sweeps.len()).take_while(|&k| self.sweeps[k].1.is_empty()) {
            (self.done)(k, Summary::new(self.sweeps[k].0));
        }
    }
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
    /// Checks of each declared invariant, over every seed (0: never
    /// judged, so never able to fail).
    pub checked: BTreeMap<String, u64>,
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
            checked: scenario.invariants().iter().map(|i| (i.id.to_string(), 0)).collect(),
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
        for (id, n) in &o.checks {
            if let Some(total) = self.checked.get_mut(id) {
                *total += n;
            }
        }
    }

    /// Declared invariants no seed checked: a sweep that cannot have
    /// broken them.
    pub fn never_checked(&self) -> Vec<&str> {
        self.checked.iter().filter(|(_, n)| **n == 0).map(|(k, _)| k.as_str()).collect()
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
