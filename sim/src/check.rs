//! `check`: a user's own test of their own scenario in one call, the way
//! `cargo test` users expect a property test to behave.
//!
//! ```ignore
//! #[test]
//! fn my_exporter_survives_crashes() {
//!     steadfast_sim::check(&MyScenario).seeds(1000).run();
//! }
//! ```
//!
//! The environment steers it (the crate docs list every variable):
//! `STEADFAST_SEED=S` replays one seed and always prints its report,
//! `STEADFAST_SCHEDULE=FILE` replays a schedule (a shrunk one, say), both
//! only for the scenario `STEADFAST_SCENARIO` names when it is set (other
//! checks in the binary are skipped); `STEADFAST_SEEDS=N` changes the sweep
//! size; `STEADFAST_ARTIFACTS=DIR` writes the timeline, Chrome trace,
//! schedule and shrunk schedule of a replayed or first failing seed. Seeds
//! that broke a `hold` scenario are persisted, like proptest's regressions,
//! in `steadfast-regressions/<scenario>.txt` (named by `file_stem`) under
//! the crate being tested, and run first next time: a fixed bug stays
//! fixed.

#![allow(clippy::disallowed_methods)] // environment and files, outside every simulation

use std::path::PathBuf;

use crate::runner::{self, Expect, Outcome, Scenario, Summary, SweepOptions};
use crate::schedule::Schedule;

/// Start a check of `scenario` (1,000 seeds for `hold`, 100 for `violate`).
pub fn check(scenario: &dyn Scenario) -> Check<'_> {
    let seeds = if scenario.expect() == Expect::Hold { 1_000 } else { 100 };
    Check {
        scenario,
        seeds,
        start: 0,
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        coverage_floor: 0.01,
        regressions: std::env::var_os("CARGO_MANIFEST_DIR").map(|d| PathBuf::from(d).join("steadfast-regressions")),
        cargo_args: String::new(),
        crash_points: None,
    }
}

/// A configured check; [`Check::run`] panics with a failure report when the
/// scenario does not meet its expectation.
#[must_use = "a check runs nothing until `.run()` is called"]
pub struct Check<'a> {
    scenario: &'a dyn Scenario,
    seeds: u64,
    start: u64,
    jobs: usize,
    coverage_floor: f64,
    regressions: Option<PathBuf>,
    cargo_args: String,
    /// Crash-point mode: the operations to cut the power after, and how
    /// many points of each kind per seed.
    crash_points: Option<(Vec<String>, usize)>,
}

impl std::fmt::Debug for Check<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check")
            .field("scenario", &self.scenario.name())
            .field("seeds", &self.seeds)
            .field("start", &self.start)
            .field("jobs", &self.jobs)
            .finish_non_exhaustive()
    }
}

/// New failing seeds persisted per check: enough to pin the bug, few
/// enough that a file of them stays readable.
const PERSISTED_PER_RUN_MAX: usize = 8;

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(v.parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")))
}

impl<'a> Check<'a> {
    /// Sweep this many seeds (`STEADFAST_SEEDS` overrides).
    pub fn seeds(mut self, n: u64) -> Self {
        self.seeds = n;
        self
    }

    /// Start the sweep at this seed.
    pub fn start(mut self, seed: u64) -> Self {
        self.start = seed;
        self
    }

    /// OS threads (default: every core).
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.max(1);
        self
    }

    /// Every declared coverage point must be reached in at least this share
    /// of the seeds (default 1%; 0 only requires it be reached once).
    pub fn coverage_floor(mut self, share: f64) -> Self {
        self.coverage_floor = share;
        self
    }

    /// Where failing seeds persist (default `steadfast-regressions/` in the
    /// crate under test); `None` to keep nothing.
    pub fn regressions(mut self, dir: Option<PathBuf>) -> Self {
        self.regressions = dir;
        self
    }

    /// Arguments the printed replay commands pass to `cargo test` (the
    /// features the test was built with: `cfg!(feature = ..)` knows them,
    /// the running test does not).
    pub fn cargo_args(mut self, args: &str) -> Self {
        self.cargo_args = args.to_string();
        self
    }

    /// Crash-point mode: instead of each seed's own schedule, run every
    /// targeted crash point of each seed (see
    /// [`runner::crash_points`]): the power lost right after the nth call
    /// of each of `ops` (`"sync_file"`, `"rename"`, `"sync_dir"`, ...),
    /// once with the directory's metadata lost and once with it committed:
    /// at most `max` such schedules of each kind per seed, its first. A failing point's
    /// schedule is written beside the regressions (or to the temporary
    /// directory) and its report replays it with `STEADFAST_SCHEDULE`.
    /// Panics in `run` on an operation name no rule knows, and when the
    /// seeds issue none of `ops`: a crash sweep of nothing checks nothing.
    pub fn crash_points(mut self, ops: &[&str], max: usize) -> Self {
        self.crash_points = Some((ops.iter().map(|o| o.to_string()).collect(), max));
        self
    }

    fn report(&self, o: &Outcome) -> String {
        let name = self.scenario.name();
        runner::violations_report(self.scenario, o)
            + &runner::replay_commands_vars(name, &self.replay_vars(o.seed), &self.cargo_args)
    }

    /// The variables that replay `seed`, or the schedule file being
    /// replayed (`STEADFAST_SCHEDULE`), which its seed would not reproduce.
    fn replay_vars(&self, seed: u64) -> String {
        match std::env::var("STEADFAST_SCHEDULE") {
            Ok(path) => self.schedule_vars(&path),
            Err(_) => format!("STEADFAST_SCENARIO={} STEADFAST_SEED={seed}", runner::shell_quote(self.scenario.name())),
        }
    }

    /// The variables that replay the schedule file `path`.
    fn schedule_vars(&self, path: &str) -> String {
        let name = runner::shell_quote(self.scenario.name());
        format!("STEADFAST_SCENARIO={name} STEADFAST_SCHEDULE={}", runner::shell_quote(path))
    }

    /// The seeds a sweep runs (`STEADFAST_SEEDS` overrides); never 0: a
    /// check of nothing checks nothing.
    fn seed_count(&self) -> u64 {
        let n = env_u64("STEADFAST_SEEDS").unwrap_or(self.seeds);
        let name = self.scenario.name();
        assert!(n > 0, "{name}: a check of 0 seeds checks nothing (seeds(0) or STEADFAST_SEEDS=0)");
        n
    }

    fn regression_file(&self) -> Option<PathBuf> {
        let name = file_stem(self.scenario.name());
        self.regressions.as_ref().map(|d| d.join(format!("{name}.txt")))
    }

    /// The seeds kept for this scenario: its file's, and a file an older
    /// steadfast named otherwise (a name with quotes or `$` in it), so
    /// that no committed seed is orphaned. A file whose header names
    /// another scenario (two names that spell one file name: `kv/a` and
    /// `kv-a`) is refused, naming both: it is not this scenario's.
    fn persisted(&self) -> Vec<u64> {
        let Some(file) = self.regression_file() else { return Vec::new() };
        let name = self.scenario.name();
        let legacy = file.with_file_name(format!("{}.txt", legacy_file_stem(name)));
        let mut seeds = Vec::new();
        for file in std::iter::once(&file).chain((legacy != file).then_some(&legacy)) {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                if let Some(owner) = line.strip_prefix(SCENARIO_HEADER) {
                    assert!(
                        owner == name,
                        "{}: this regressions file keeps the seeds of scenario {owner:?}, and {name:?} spells the same file name: give one of them another name, or its own directory (`.regressions(Some(dir))`)",
                        file.display()
                    );
                    continue;
                }
                if line.starts_with('#') {
                    continue;
                }
                match line.strip_prefix("seed ").and_then(|r| r.split_whitespace().next()?.parse().ok()) {
                    Some(seed) if !seeds.contains(&seed) => seeds.push(seed),
                    Some(_) => {}
                    None => {
                        eprintln!("{}: not a seed line, skipped: {line:?} (a line is `seed N # ...`)", file.display())
                    }
                }
            }
        }
        seeds
    }

    /// Keep `o`'s seed in the regressions file; where, if it was written
    /// (a failure to write is said on stderr, not swallowed).
    fn persist(&self, o: &Outcome) -> Option<PathBuf> {
        let file = self.regression_file()?;
        if self.persisted().contains(&o.seed) {
            return Some(file);
        }
        let why = o.violations.first().map_or("", |v| v.invariant.as_str());
        let replay = runner::replay_line(self.scenario.name(), &self.replay_vars(o.seed), &self.cargo_args);
        let line = format!("seed {} # broke {why}; replay: {replay}\n", o.seed);
        let _ = std::fs::create_dir_all(file.parent().unwrap_or(&file));
        let mut text = std::fs::read_to_string(&file).unwrap_or_else(|_| {
            format!(
                "# Seeds that broke this scenario once; they run first on every check.\n{SCENARIO_HEADER}{}\n",
                self.scenario.name()
            )
        });
        text.push_str(&line);
        match std::fs::write(&file, text) {
            Ok(()) => Some(file),
            Err(e) => {
                eprintln!("steadfast: cannot keep seed {} in {}: {e}", o.seed, file.display());
                None
            }
        }
    }

    fn replay_one(&self, seed: u64, schedule: Option<Schedule>, loud: bool) -> Outcome {
        let sc = self.scenario;
        let o = runner::run(sc, seed, schedule.clone(), runner::SWEEP_HISTORY_KEEP);
        let as_expected = o.violated() == (sc.expect() == Expect::Violate);
        let report = if o.violated() {
            self.report(&o)
        } else {
            let checks: Vec<String> = o.checks.iter().map(|(k, n)| format!("{k}={n}")).collect();
            format!("scenario {} seed {seed}: no violation (checks: {})\n", sc.name(), checks.join(" "))
        };
        if loud {
            // A replay always shows what it found, caught or held.
            eprintln!("{report}");
            write_artifacts(sc, &o, schedule);
        }
        // A replay printed its report above: its failure names it, once
        // (the whole report twice was the first thing a new user saw).
        let detail = if loud {
            ": the report is above".to_string()
        } else {
            let file = self.regression_file().map(|f| f.display().to_string()).unwrap_or_default();
            format!(" (a seed kept in {file}: it broke this scenario before, and runs first):\n{report}")
        };
        assert!(as_expected, "{} seed {seed} (expect {}){detail}", sc.name(), sc.expect().as_str());
        o
    }

    /// Run the check; panics with the failure report when the scenario
    /// does not meet its expectation (or a coverage point falls under the
    /// floor). Returns the sweep's summary.
    pub fn run(self) -> Summary {
        let sc = self.scenario;
        runner::refuse_nested("`check(..).run()`");
        // Read here, on the test's thread, so a malformed value fails with
        // its message (inside a run its panic would be the run's).
        crate::log::report_window();
        runner::remember_calling_test(sc.name());
        // The scenario the replay variables (and a sweep size) apply to;
        // alone, left over from an earlier replay, it scopes nothing.
        let scoped =
            ["STEADFAST_SEED", "STEADFAST_SCHEDULE", "STEADFAST_SEEDS"].iter().any(|k| std::env::var_os(k).is_some());
        match std::env::var("STEADFAST_SCENARIO") {
            Ok(only) if !scoped => {
                eprintln!(
                    "STEADFAST_SCENARIO={only} is set without STEADFAST_SEED, STEADFAST_SCHEDULE or STEADFAST_SEEDS: it scopes nothing, and {} runs",
                    sc.name()
                );
            }
            Ok(only) if only != sc.name() => {
                eprintln!(
                    "STEADFAST_SCENARIO={only}: skipping the check of {} (a skipped check passes; if {only:?} is mistyped, nothing ran)",
                    sc.name()
                );
                return Summary::new(sc);
            }
            _ => {}
        }
        if let Ok(path) = std::env::var("STEADFAST_SCHEDULE") {
            let s = Schedule::load(path.as_ref()).unwrap_or_else(|e| panic!("STEADFAST_SCHEDULE: {e}"));
            let seed = s.seed;
            return summary_of(sc, &self.replay_one(seed, Some(s), true));
        }
        if let Some(seed) = env_u64("STEADFAST_SEED") {
            return summary_of(sc, &self.replay_one(seed, None, true));
        }
        if let Some((ops, max)) = &self.crash_points {
            return self.run_crash_points(ops, *max);
        }
        if sc.expect() == Expect::Hold {
            for seed in self.persisted() {
                self.replay_one(seed, None, false);
            }
        }
        let n = self.seed_count();
        let seeds: Vec<u64> = (self.start..self.start + n).collect();
        let (mut first_report, mut persisted) = (None, 0);
        // A replica's caught seeds end once caught: the check needs only
        // its verdict (a `hold` scenario always runs whole).
        let options = SweepOptions::jobs(self.jobs).ending_caught_seeds();
        let summary = runner::sweep(sc, &seeds, options, |o| {
            // Where this seed was kept, if it was (the first violating
            // seed always is, when there is a file to keep it in).
            let mut kept = None;
            if o.violated() && sc.expect() == Expect::Hold && persisted < PERSISTED_PER_RUN_MAX {
                kept = self.persist(o);
                persisted += 1;
            }
            if o.violated() && first_report.is_none() {
                let mut report = self.report(o);
                if let Some(file) = kept {
                    report += &format!(
                        "  kept:     seed {} in {} (it runs first on every later check)\n",
                        o.seed,
                        file.display()
                    );
                }
                first_report = Some(report);
                if sc.expect() == Expect::Hold {
                    write_artifacts(sc, o, None);
                }
            }
        });
        self.judge(&summary, first_report, true);
        if let Some(why) = &summary.fresh_threads {
            eprintln!("check {}: note: {why}", sc.name());
        }
        eprintln!(
            "check {}: {} seeds, {} violating, as expected ({:.2} s)",
            sc.name(),
            summary.seeds,
            summary.violating,
            summary.wall.as_secs_f64()
        );
        summary
    }

    /// [`Check::crash_points`]' sweep.
    fn run_crash_points(&self, ops: &[String], max: usize) -> Summary {
        let sc = self.scenario;
        for op in ops {
            assert!(
                crate::schedule::OP_NAMES.contains(&op.as_str()),
                "{}: crash points after {op:?}: no operation has that name (known: {})",
                sc.name(),
                crate::schedule::OP_NAMES.join(", ")
            );
        }
        let n = self.seed_count();
        let ops: Vec<&str> = ops.iter().map(String::as_str).collect();
        let schedules: Vec<Schedule> =
            (self.start..self.start + n).flat_map(|seed| runner::crash_points(sc, seed, &ops, max)).collect();
        assert!(
            !schedules.is_empty(),
            "{}: no crash point in {n} seeds: none of {ops:?} was called in a chaos phase",
            sc.name()
        );
        let dir = self.regressions.clone().unwrap_or_else(|| std::env::temp_dir().join("steadfast-crash-points"));
        let mut first_report = None;
        let options = SweepOptions::jobs(self.jobs).ending_caught_seeds();
        let summary = runner::sweep_schedules(sc, &schedules, options, |o| {
            if !o.violated() || first_report.is_some() {
                return;
            }
            let crash = o.schedule.crashes.first().map_or(String::new(), |c| {
                format!("-{}-{}-{}", c.ops.join("_"), c.nth, if c.metadata_survives { "committed" } else { "lost" })
            });
            let file = dir.join(format!("{}-{}{crash}.schedule.json", file_stem(sc.name()), o.seed));
            let written = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&file, o.schedule.to_json()));
            let mut report = runner::violations_report(sc, o);
            match written {
                Ok(()) => {
                    let vars = self.schedule_vars(&file.display().to_string());
                    report += &runner::replay_commands_vars(sc.name(), &vars, &self.cargo_args);
                }
                Err(e) => {
                    report +=
                        &format!("  (the crash point's schedule could not be written to {}: {e})\n", file.display())
                }
            }
            first_report = Some(report);
        });
        // A crash point's schedule has none of the seed's timed events: a
        // coverage point they bring about need not be reached.
        self.judge(&summary, first_report, false);
        eprintln!(
            "check {}: {} crash points of {n} seeds, {} violating, as expected ({:.2} s)",
            sc.name(),
            summary.seeds,
            summary.violating,
            summary.wall.as_secs_f64()
        );
        summary
    }

    /// The summary against the expectation, the declared invariants and
    /// (if `coverage`) the coverage points.
    fn judge(&self, s: &Summary, first_report: Option<String>, coverage: bool) {
        let never = if coverage { s.never_reached() } else { Vec::new() };
        assert!(never.is_empty(), "{}: coverage points never reached in {} seeds: {never:?}", s.scenario, s.seeds);
        for (point, n) in s.reached.iter().filter(|_| coverage) {
            let share = *n as f64 / s.seeds.max(1) as f64;
            assert!(
                share >= self.coverage_floor,
                "{}: {point:?} reached in only {n} of {} seeds (floor {:.1}%)",
                s.scenario,
                s.seeds,
                self.coverage_floor * 100.0
            );
        }
        match s.expect {
            Expect::Hold => assert!(
                s.violating == 0,
                "{}: {} of {} seeds violate\n{}",
                s.scenario,
                s.violating,
                s.seeds,
                first_report.unwrap_or_default()
            ),
            Expect::Violate => assert!(
                s.violating > 0,
                "{}: the replica was not caught in {} seeds: a gap in the simulator",
                s.scenario,
                s.seeds
            ),
        }
        // A hold scenario whose invariant no seed judged held nothing: a
        // check that cannot fail (a replica is judged by being caught).
        let unjudged = s.never_checked();
        assert!(
            s.expect == Expect::Violate || unjudged.is_empty(),
            "{}: invariants never checked in {} seeds: {unjudged:?} (declared, but no `check` of them ran: the sweep could not have broken them)",
            s.scenario,
            s.seeds
        );
    }
}

fn summary_of(sc: &dyn Scenario, o: &Outcome) -> Summary {
    let mut s = Summary::new(sc);
    s.add(o);
    s
}

/// A scenario's name as the start of a file name, the same for its
/// regressions file and its artifacts: `/`, `-` and spaces as `_`.
fn file_stem(scenario: &str) -> String {
    scenario.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '_' { c } else { '_' }).collect()
}

/// The file stem before session 26 (quotes, `$` and the like kept): read
/// too, never written.
fn legacy_file_stem(scenario: &str) -> String {
    scenario.replace(['/', '-', ' '], "_")
}

/// The header line a regressions file names its scenario on.
const SCENARIO_HEADER: &str = "# scenario: ";

/// Runs the shrinker may spend on a failing seed's artifacts.
const ARTIFACT_SHRINK_RUNS_MAX: usize = 200;

/// With `STEADFAST_ARTIFACTS=DIR`: write `<scenario>-<seed>.timeline.txt`
/// (the scenario's name as [`file_stem`] spells it),
/// `.chrome.json`, `.schedule.json` and, for a violating seed,
/// `.shrunk.json` (the minimal schedule that still breaks the same
/// invariant) under DIR, and say where on stderr.
fn write_artifacts(sc: &dyn Scenario, o: &Outcome, schedule: Option<Schedule>) {
    let Some(dir) = std::env::var_os("STEADFAST_ARTIFACTS").map(PathBuf::from) else { return };
    let full = runner::run(sc, o.seed, schedule.clone(), usize::MAX);
    let stem = dir.join(format!("{}-{}", file_stem(sc.name()), o.seed));
    let with = |ext: &str| PathBuf::from(format!("{}.{ext}", stem.display()));
    let timeline: String = full.history.iter().map(|r| r.line() + "\n").collect();
    let mut files = vec![
        (with("timeline.txt"), timeline),
        (with("chrome.json"), full.chrome_trace.clone().unwrap_or_default()),
        (with("schedule.json"), full.schedule.to_json()),
    ];
    if full.violated()
        && let Ok(shrunk) = crate::shrink::shrink(sc, o.seed, schedule, ARTIFACT_SHRINK_RUNS_MAX)
    {
        files.push((with("shrunk.json"), shrunk.schedule.to_json()));
    }
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("STEADFAST_ARTIFACTS: cannot create {}: {e}", dir.display());
        return;
    }
    for (path, text) in files {
        match std::fs::write(&path, text) {
            Ok(()) => eprintln!("wrote {}", path.display()),
            Err(e) => eprintln!("STEADFAST_ARTIFACTS: cannot write {}: {e}", path.display()),
        }
    }
}
