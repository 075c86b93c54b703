//! The runner: run one seed of a [`Scenario`] into an [`Outcome`], sweep
//! many seeds on OS threads (one fresh thread and one runtime per seed, so a
//! seed's history never depends on what ran before it on the same thread),
//! check determinism, and judge a sweep.

#![allow(clippy::disallowed_methods)] // real threads and wall time, outside every simulation

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::fs::Listed;
use crate::history::Event;
use crate::schedule::{CrashRule, Schedule};
use crate::world::{Invariant, LocalBoxFuture, Violation, World};

/// Whether a scenario must hold or must be caught.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// No seed may violate an invariant.
    Hold,
    /// A replica of a shipped bug: some seed must violate.
    Violate,
}

impl Expect {
    /// `hold` or `violate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Hold => "hold",
            Expect::Violate => "violate",
        }
    }
}

/// A seeded scenario: a world setup, a workload and its checkers.
pub trait Scenario: Sync {
    /// Its name (part of the CLI contract).
    fn name(&self) -> &'static str;
    /// Whether it must hold or be caught.
    fn expect(&self) -> Expect;
    /// One line on what it runs.
    fn description(&self) -> &'static str;
    /// The invariants its checkers judge.
    fn invariants(&self) -> &'static [Invariant];
    /// Dangerous moments a sweep must reach ("sometimes" assertions).
    fn sometimes(&self) -> &'static [&'static str] {
        &[]
    }
    /// The fault schedule for `seed` (each seed draws its own swarm).
    fn schedule(&self, seed: u64) -> Schedule;
    /// When enumerated crash points restart the nodes after the power loss
    /// (see [`crash_points`]): never by default, so the checkers judge
    /// exactly what survived; a scenario that checks recovery says when.
    fn restart_after_crash_ms(&self) -> Option<u64> {
        None
    }
    /// Its knobs in `Schedule::params`, with their maxima: a schedule
    /// naming another key or exceeding a maximum is rejected before it
    /// runs (RUN5). Empty by default: any key, each at most
    /// [`crate::schedule::limits::PARAM_DEFAULT_MAX`].
    fn params(&self) -> &'static [crate::ParamSpec] {
        &[]
    }
    /// Set up the world and drive the workload to its end, checking as it
    /// goes. Runs on the harness node; workload processes are nodes added
    /// with [`World::add_node`].
    fn run<'a>(&'a self, world: &'a World) -> LocalBoxFuture<'a, ()>;
}

/// Violations the runner itself reports.
pub const RUNNER_INVARIANTS: &[Invariant] = &[
    Invariant {
        id: "RUN1",
        statement: "the scenario's driver finishes within its schedule's duration + quiet phase + 60 s",
    },
    Invariant { id: "RUN2", statement: "no code panics (a failed assertion inside core is a found bug)" },
    Invariant { id: "RUN3", statement: "the same seed and schedule give the same history hash on every run" },
    Invariant {
        id: "RUN4",
        statement: "virtual time advances: at most a million file operations begin within one virtual second",
    },
    Invariant {
        id: "RUN5",
        statement: "every schedule a run starts from, generated or loaded, is valid and within the documented bounds",
    },
];

/// Is `schedule` fit to run `scenario`: valid, within the bounds, its
/// params declared? The one-line reason if not.
pub fn admit(scenario: &dyn Scenario, schedule: &Schedule) -> Result<(), String> {
    schedule.validate().and_then(|()| schedule.validate_params(scenario.params())).map_err(|e| e.to_string())
}

const RUN_SLACK: Duration = Duration::from_secs(60);

/// The result of one seed.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Scenario name.
    pub scenario: &'static str,
    /// The seed.
    pub seed: u64,
    /// Hold or violate.
    pub expect: Expect,
    /// The schedule that ran.
    pub schedule: Schedule,
    /// Every violation, first first.
    pub violations: Vec<Violation>,
    /// Checks per invariant.
    pub checks: BTreeMap<String, u64>,
    /// Coverage points reached.
    pub reached: Vec<String>,
    /// The final file tree (empty in a sweep: only a run that keeps more
    /// than `SWEEP_HISTORY_KEEP` events lists it).
    pub tree: Vec<Listed>,
    /// The events kept in memory (all of them for a replay, the last few
    /// for a sweep).
    pub history: Vec<Event>,
    /// The events around the first violation (see
    /// [`crate::history::report_window`]), and the violation's position
    /// among them; empty without a violation.
    pub around_first_violation: (Vec<Event>, usize),
    /// The crash rules (indices into `schedule.crashes`) whose power loss
    /// happened: a rule not listed never fired, and its point was not
    /// reached.
    pub crashes_fired: Vec<usize>,
    /// Total events in the history.
    pub events: u64,
    /// Hash of the whole history.
    pub history_hash: u64,
    /// File operations whose effects landed.
    pub fs_ops: u64,
    /// Faults injected.
    pub faults_injected: u64,
    /// Operations begun during the chaos phase, by name (the crash points
    /// this run offers).
    pub chaos_ops: BTreeMap<String, u64>,
    /// Virtual time at the end.
    pub sim_time: Duration,
    /// The Chrome trace JSON (a replay only: `history_keep == usize::MAX`).
    pub chrome_trace: Option<String>,
}

impl Outcome {
    /// Did any invariant break?
    pub fn violated(&self) -> bool {
        !self.violations.is_empty()
    }

    /// The `--json` row of DESIGN §7.
    pub fn json_row(&self) -> String {
        serde_json::json!({
            "scenario": self.scenario,
            "seed": self.seed,
            "expect": self.expect,
            "violations": self.violations,
            "history_hash": format!("{:016x}", self.history_hash),
            "reached": self.reached,
        })
        .to_string()
    }
}

/// How to replay and inspect a seed, as commands to paste.
pub fn replay_commands(scenario: &str, seed: u64) -> String {
    let test_name = scenario.replace(['/', '-'], "_");
    format!(
        "  replay:   cargo run --profile sweep -p steadfast-scenarios --bin steadfast -- replay --scenario {scenario} --seed {seed}\n  \
         test:     STEADFAST_SEED={seed} cargo test -p steadfast-scenarios --test it -- {test_name}\n  \
         schedule: cargo run --profile sweep -p steadfast-scenarios --bin steadfast -- replay --scenario {scenario} --seed {seed} --print-schedule > schedule.json\n  \
         shrink:   cargo run --profile sweep -p steadfast-scenarios --bin steadfast -- shrink --scenario {scenario} --seed {seed} --out shrunk.json\n  \
         timeline: cargo run --profile sweep -p steadfast-scenarios --bin steadfast -- replay --scenario {scenario} --seed {seed} --chrome-trace trace.json"
    )
}

/// A failure report for one violating outcome: scenario, seed, each
/// violated invariant with its statement, when, the events around the first violation (or the last ones),
/// and the commands to replay it.
pub fn failure_report(scenario: &dyn Scenario, outcome: &Outcome) -> String {
    let mut out =
        format!("scenario {} seed {}: {} violation(s)\n", outcome.scenario, outcome.seed, outcome.violations.len());
    let statement = |id: &str| {
        scenario
            .invariants()
            .iter()
            .chain(RUNNER_INVARIANTS)
            .find(|i| i.id == id)
            .map_or("(undeclared)", |i| i.statement)
    };
    for v in outcome.violations.iter().take(5) {
        out += &format!(
            "  {} at {}ms: {}\n    {} promises: {}\n",
            v.invariant,
            v.at_ms,
            v.message,
            v.invariant,
            statement(&v.invariant)
        );
    }
    let (around, at) = &outcome.around_first_violation;
    if !around.is_empty() {
        let (before, after) = (*at, around.len() - at - 1);
        out += &format!(
            "  around the first violation ({before} events before, {after} after; STEADFAST_REPORT_WINDOW=B,A):\n"
        );
        for (i, e) in around.iter().enumerate() {
            out += &format!("  {} {}\n", if i == *at { ">>" } else { "  " }, e.line());
        }
    } else if !outcome.history.is_empty() {
        out += "  last events:\n";
        let mut last: Vec<_> = outcome.history.iter().rev().take(12).collect();
        last.sort_by_key(|e| e.at_ns); // time order; stable for equal instants
        for e in last {
            out += &format!("    {}\n", e.line());
        }
    }
    out + &replay_commands(outcome.scenario, outcome.seed)
}

thread_local! {
    static PANIC_MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Panics inside a run are findings, reported as RUN2 with their message and
/// location; the default hook would print them to stderr mid-sweep.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_run = PANIC_MESSAGE.with(|m| m.borrow().is_some());
            if in_run {
                let msg = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic".into());
                let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
                PANIC_MESSAGE.with(|m| *m.borrow_mut() = Some(format!("{msg}{at}")));
            } else {
                previous(info);
            }
        }));
    });
}

/// Run one seed with `schedule` (the scenario's own for the seed if `None`),
/// keeping the last `history_keep` events in memory, on a fresh thread.
pub fn run(scenario: &dyn Scenario, seed: u64, schedule: Option<Schedule>, history_keep: usize) -> Outcome {
    std::thread::scope(|s| {
        s.spawn(|| run_here(scenario, seed, schedule, history_keep))
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

fn run_here(scenario: &dyn Scenario, seed: u64, schedule: Option<Schedule>, history_keep: usize) -> Outcome {
    install_panic_hook();
    PANIC_MESSAGE.with(|m| *m.borrow_mut() = Some(String::new()));
    let schedule = schedule.unwrap_or_else(|| scenario.schedule(seed));
    if let Err(why) = admit(scenario, &schedule) {
        // Never started: a run past the bounds would hang, overflow or
        // exhaust memory. A generated schedule here is a scenario bug.
        return Outcome {
            scenario: scenario.name(),
            seed,
            expect: scenario.expect(),
            schedule,
            violations: vec![Violation {
                invariant: "RUN5".into(),
                at_ms: 0,
                message: format!("schedule rejected: {why}"),
            }],
            checks: Default::default(),
            reached: Default::default(),
            tree: Vec::new(),
            history: Vec::new(),
            around_first_violation: (Vec::new(), 0),
            crashes_fired: Vec::new(),
            events: 0,
            history_hash: 0,
            fs_ops: 0,
            faults_injected: 0,
            chaos_ops: Default::default(),
            chrome_trace: None,
            sim_time: Duration::ZERO,
        };
    }
    let world = World::new(schedule.clone(), scenario.invariants(), history_keep);
    let rt = madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
    let bound = Duration::from_millis(schedule.duration_ms + schedule.quiet_ms) + RUN_SLACK;
    let w = world.clone();
    let result = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async move {
            w.start();
            if madsim::time::timeout(bound, scenario.run(&w)).await.is_err() {
                let at = w.now().as_nanos() as u64;
                w.runner_violation("RUN1", at, format!("driver still running after {} ms", bound.as_millis()));
            }
            let end = w.now().as_nanos() as u64;
            // Let madsim drop every node's tasks (they hold the world) before
            // the runtime goes: a sweep of thousands of seeds must not keep
            // every seed's world in memory.
            w.kill_all_quietly();
            madsim::time::sleep(Duration::from_millis(1)).await;
            end
        })
    }));
    let panic = PANIC_MESSAGE.with(|m| m.borrow_mut().take()).unwrap_or_default();
    let end_ns = match result {
        Ok(end) => end,
        // Ended for making no progress: RUN4 is recorded already.
        Err(_) if world.has_violation("RUN4") => world.last_event_ns(),
        Err(_) => {
            let at = world.last_event_ns();
            world.runner_violation("RUN2", at, format!("panic: {panic}"));
            at
        }
    };
    drop(rt);
    let chrome_trace = world.chrome_trace();
    // Sweeps keep a short history and no final tree; a replay keeps both.
    let report = world.take_report(end_ns, history_keep > SWEEP_HISTORY_KEEP);
    world.teardown();
    Outcome {
        scenario: scenario.name(),
        seed,
        expect: scenario.expect(),
        schedule,
        violations: report.violations,
        checks: report.checks,
        reached: report.reached.into_iter().collect(),
        tree: report.tree,
        history: report.history.events().cloned().collect(),
        around_first_violation: report
            .history
            .around_first_violation()
            .map_or((Vec::new(), 0), |(events, at)| (events.to_vec(), at)),
        events: report.history.total(),
        history_hash: report.history.hash(),
        fs_ops: report.fs_ops,
        faults_injected: report.faults_injected,
        crashes_fired: report.crashes_fired,
        chaos_ops: report.chaos_ops,
        chrome_trace,
        sim_time: Duration::from_nanos(report.sim_ns),
    }
}

/// Run `seed` twice and compare history hashes; `Err` describes a mismatch
/// and locates it (see [`determinism_mismatch`]).
pub fn check_determinism(scenario: &dyn Scenario, seed: u64) -> Result<Outcome, String> {
    let a = run(scenario, seed, None, DETERMINISM_HISTORY_KEEP);
    let b = run(scenario, seed, None, DETERMINISM_HISTORY_KEEP);
    match determinism_mismatch(&a, &b) {
        None => Ok(a),
        Some(why) => Err(why),
    }
}

/// Events each run keeps when determinism is checked: enough to name the
/// first differing event of all but enormous runs.
pub const DETERMINISM_HISTORY_KEEP: usize = 1 << 20;

/// Common events shown before the first difference.
const DIVERGENCE_CONTEXT: usize = 3;

/// Why two runs of one seed differ, if they do: the first differing event
/// (its index, and what each run recorded there) and the common events
/// before it, when both runs kept them.
pub fn determinism_mismatch(a: &Outcome, b: &Outcome) -> Option<String> {
    if a.history_hash == b.history_hash && a.events == b.events {
        return None;
    }
    let mut why = format!(
        "scenario {} seed {} is not deterministic: history {:016x} ({} events) then {:016x} ({} events)",
        a.scenario, a.seed, a.history_hash, a.events, b.history_hash, b.events
    );
    // Kept events are the last ones: index them from the run's start.
    let first_a = a.events - a.history.len() as u64;
    let first_b = b.events - b.history.len() as u64;
    let start = first_a.max(first_b);
    fn at(o: &Outcome, first: u64, i: u64) -> Option<&Event> {
        o.history.get((i - first) as usize)
    }
    let end = a.events.max(b.events);
    let diverge = (start..end).find(|&i| at(a, first_a, i) != at(b, first_b, i));
    match diverge {
        Some(i) if first_a == 0 && first_b == 0 => {
            let shown = |e: Option<&Event>| e.map_or_else(|| "(the run had ended)".to_string(), Event::line);
            why += &format!("; the first difference is event {i}, after {i} common events");
            for c in i.saturating_sub(DIVERGENCE_CONTEXT as u64)..i {
                why += &format!("\n      common {c}: {}", shown(at(a, 0, c)));
            }
            why += &format!("\n      first run  {i}: {}", shown(at(a, 0, i)));
            why += &format!("\n      second run {i}: {}", shown(at(b, 0, i)));
        }
        _ => why += "; the runs kept too few events to locate the difference",
    }
    Some(why)
}

/// The operations at whose boundaries crash-consistency bugs cluster
/// (CrashMonkey found every known one at an fsync, a rename or a directory
/// fsync).
pub const CRASH_BOUNDARY_OPS: &[&str] = &["sync_file", "rename", "sync_dir"];

/// Every targeted crash point of one seed: run it once without faults that
/// end the run early (no timed events, no crash rules), count the
/// boundary operations it begins in the chaos phase, and return one
/// schedule per point: power loss right after the nth `op`, once with the
/// directory metadata lost and once with it committed. At most `max` (the
/// first ones in operation order per kind).
pub fn crash_points(scenario: &dyn Scenario, seed: u64, ops: &[&str], max: usize) -> Vec<Schedule> {
    let mut base = scenario.schedule(seed);
    base.events.clear();
    base.crashes.clear();
    let probe = run(scenario, seed, Some(base.clone()), 0);
    let mut out = Vec::new();
    for op in ops {
        let count = probe.chaos_ops.get(*op).copied().unwrap_or(0);
        for nth in 1..=count {
            for metadata_survives in [false, true] {
                let mut s = base.clone();
                s.crashes.push(CrashRule {
                    ops: vec![op.to_string()],
                    path_prefix: None,
                    nth,
                    metadata_survives,
                    torn: nth % 2 == 0,
                    restart_after_ms: scenario.restart_after_crash_ms(),
                });
                out.push(s);
            }
        }
    }
    out.truncate(max);
    out
}

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
