//! The runner: run one seed of a [`Scenario`] into an [`Outcome`], sweep
//! many seeds on OS threads, check determinism, and judge a sweep.
//!
//! A single run ([`run`], a replay) has a fresh OS thread and one runtime,
//! so its history never depends on what ran before it on that thread:
//! madsim seeds std's per-thread `HashMap` keys from the seed, which it can
//! do only on a thread that has not made a `HashMap` yet. A sweep reuses
//! its worker threads (a new thread per seed cost 19% of a small seed's
//! CPU and 30% of its wall time) and proves that safe per sweep; see
//! [`sweep()`].

#![allow(clippy::disallowed_methods)] // real threads and wall time, outside every simulation

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Once};
use std::task::Poll;
use std::time::Duration;

mod determinism;
mod report;
mod sweep;
mod watchdog;
pub use watchdog::{SEED_TIMEOUT, seed_timeout};

pub use determinism::{DETERMINISM_HISTORY_KEEP, check_determinism, determinism_mismatch};
pub(crate) use report::remember_calling_test;
pub use report::{
    failure_report, replay_commands, replay_commands_vars, replay_commands_with, replay_line, shell_quote,
    violations_report,
};
pub use sweep::{SWEEP_HISTORY_KEEP, Summary, SweepOptions, sweep, sweep_many, sweep_schedules};

use crate::disk::Listed;
use crate::log::Record as Event;
use crate::schedule::{CrashRule, Schedule};
use crate::seams::SimFs;
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
    Invariant {
        id: "RUN6",
        statement: "a run finishes within STEADFAST_SEED_TIMEOUT_S of wall time (default 300): a task that never \
                    yields stops virtual time; the watchdog names the seed and exits the process with status 1",
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
    /// [`crate::log::report_window`]), and the violation's position
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
    /// The run ended once its first violation was reported, before its
    /// driver returned (see [`SweepOptions::end_caught_seeds`]): the
    /// first violation and its report window are the whole run's, but the
    /// history hash, the later violations and the counts cover only what
    /// ran.
    pub ended_when_caught: bool,
}

impl Outcome {
    /// The outcome of a run that never started (RUN5): a schedule past the
    /// bounds would hang, overflow or exhaust memory.
    fn never_ran(scenario: &dyn Scenario, seed: u64, schedule: Schedule, message: String) -> Outcome {
        Outcome {
            scenario: scenario.name(),
            seed,
            expect: scenario.expect(),
            schedule,
            violations: vec![Violation { invariant: "RUN5".into(), at_ms: 0, message }],
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
            ended_when_caught: false,
        }
    }

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
    run_fresh(scenario, seed, schedule, history_keep, Whole::Always)
}

/// How a run's driver ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ended {
    Returned,
    TimedOut,
    /// Dropped mid-run: the run ended once caught ([`Whole::UntilCaught`]).
    Caught,
}

/// How much of a run to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Whole {
    /// To its end.
    Always,
    /// Until its first violation and the report window after it are
    /// recorded (see [`SweepOptions::end_caught_seeds`]).
    UntilCaught,
}

/// Refuse to start `what` inside a running simulation (from a node, or a
/// scenario's `run`): a run inside a run shares this thread's panic slot
/// and madsim's context, and its failure came out as a RUN2 with an empty
/// message. This panic is the outer run's RUN2, saying what happened.
pub(crate) fn refuse_nested(what: &str) {
    let in_run = PANIC_MESSAGE.with(|m| m.borrow().is_some());
    assert!(
        !in_run,
        "steadfast: {what} was called inside a running simulation (from a node or a scenario's `run`); \
         a run cannot start another: call it from a test, outside every run"
    );
}

/// [`run_here`] on a fresh thread.
pub(crate) fn run_fresh(
    scenario: &dyn Scenario,
    seed: u64,
    schedule: Option<Schedule>,
    history_keep: usize,
    whole: Whole,
) -> Outcome {
    refuse_nested("a run");
    std::thread::scope(|s| {
        s.spawn(|| run_here(scenario, seed, schedule, history_keep, whole))
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// Run one seed on this thread: the same as [`run`] when the history
/// depends only on the seed, as a sweep checks (see [`sweep()`]).
pub(crate) fn run_here(
    scenario: &dyn Scenario,
    seed: u64,
    schedule: Option<Schedule>,
    history_keep: usize,
    whole: Whole,
) -> Outcome {
    // RUN6: a run that never finishes in wall time is reported, not waited
    // on forever (before the runtime: the watchdog is a real thread).
    let _watch = watchdog::watch(scenario.name(), seed);
    install_panic_hook();
    let schedule = schedule.unwrap_or_else(|| scenario.schedule(seed));
    if let Err(why) = admit(scenario, &schedule) {
        // Never started: a run past the bounds would hang, overflow or
        // exhaust memory. A generated schedule here is a scenario bug.
        return Outcome::never_ran(scenario, seed, schedule, format!("schedule rejected: {why}"));
    }
    let world = World::new(schedule.clone(), scenario.invariants(), history_keep);
    if whole == Whole::UntilCaught {
        world.end_when_caught();
    }
    // Code written against the `tokio_fs`/`std_fs` facades finds this
    // world's file system for the length of the run.
    let _facade = steadfast_core::ambient::install(Arc::new(SimFs(world.clone())));
    // On a reused sweep thread madsim cannot seed std's HashMap keys and
    // says so through `tracing`; the sweep checks what that would change.
    let rt = tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
        madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default())
    });
    let bound = Duration::from_millis(schedule.duration_ms + schedule.quiet_ms) + RUN_SLACK;
    let w = world.clone();
    // What the code under test says through `tracing` is captured for
    // the checkers; the thread's default subscriber still gets all of it.
    let before = tracing::dispatcher::get_default(|d| d.clone());
    let capture = tracing::Dispatch::new(world.capture(before));
    // From here a panic is the run's finding (RUN2); before, it is the
    // caller's (a schedule closure's, a bad environment variable's) and
    // is printed as any panic is.
    PANIC_MESSAGE.with(|m| *m.borrow_mut() = Some(String::new()));
    let result = catch_unwind(AssertUnwindSafe(|| {
        let _capture = tracing::dispatcher::set_default(&capture);
        rt.block_on(async move {
            w.start();
            // How the driver ended; dropped at the end of this block (mid-run
            // when the run ended once caught), before any node is killed.
            let ended = {
                let mut driver = std::pin::pin!(madsim::time::timeout(bound, scenario.run(&w)));
                let mut caught = std::pin::pin!(w.caught());
                std::future::poll_fn(|cx| match driver.as_mut().poll(cx) {
                    Poll::Ready(Ok(())) => Poll::Ready(Ended::Returned),
                    Poll::Ready(Err(_)) => Poll::Ready(Ended::TimedOut),
                    Poll::Pending => caught.as_mut().poll(cx).map(|()| Ended::Caught),
                })
                .await
            };
            if ended == Ended::TimedOut {
                let at = w.now().as_nanos() as u64;
                w.runner_violation("RUN1", at, format!("driver still running after {} ms", bound.as_millis()));
            }
            let end = w.now().as_nanos() as u64;
            // Let madsim drop every node's tasks (they hold the world) before
            // the runtime goes: a sweep of thousands of seeds must not keep
            // every seed's world in memory.
            w.kill_all_quietly();
            madsim::time::sleep(Duration::from_millis(1)).await;
            (end, ended == Ended::Caught)
        })
    }));
    let panic = PANIC_MESSAGE.with(|m| m.borrow_mut().take()).unwrap_or_default();
    let (end_ns, ended_when_caught) = match result {
        Ok(ended) => ended,
        // Ended for making no progress: RUN4 is recorded already.
        Err(_) if world.has_violation("RUN4") => (world.last_event_ns(), false),
        Err(_) => {
            let at = world.last_event_ns();
            world.runner_violation("RUN2", at, format!("panic: {panic}"));
            (at, false)
        }
    };
    drop(rt);
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
        chrome_trace: (history_keep == usize::MAX).then(|| crate::log::chrome_trace(report.history.events())),
        sim_time: Duration::from_nanos(report.sim_ns),
        ended_when_caught,
    }
}

/// The operations at whose boundaries crash-consistency bugs cluster
/// (CrashMonkey found every known one at an fsync, a rename or a directory
/// fsync).
pub const CRASH_BOUNDARY_OPS: &[&str] = &["sync_file", "rename", "sync_dir"];

/// Every targeted crash point of one seed: run it once without faults that
/// end the run early (no timed events, no crash rules), count the
/// boundary operations it begins in the chaos phase, and return one
/// schedule per point: power loss right after the nth `op`, once with the
/// directory metadata lost and once with it committed. At most `max` per
/// kind of operation (its first ones in operation order): a cap never
/// leaves a kind out because another has many.
pub fn crash_points(scenario: &dyn Scenario, seed: u64, ops: &[&str], max: usize) -> Vec<Schedule> {
    let mut base = scenario.schedule(seed);
    base.events.clear();
    base.crashes.clear();
    let probe = run(scenario, seed, Some(base.clone()), 0);
    let mut out = Vec::new();
    for op in ops {
        let count = probe.chaos_ops.get(*op).copied().unwrap_or(0);
        let kind_starts = out.len();
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
        out.truncate(kind_starts + max);
    }
    out
}
