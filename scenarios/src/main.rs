//! The `steadfast` command line (DESIGN §7): `list`, `run`, `replay`,
//! `crashes`, `shrink`, `merge`, `bench`. Every flag is defined once, with
//! clap; `steadfast help <command>` says what each does and its default.
//!
//! Exit status: 0 when every `hold` scenario held and every `violate`
//! scenario was caught (and every coverage point was reached), 1 otherwise,
//! 2 on bad input or output (with a one-line error), 141 when the reader of
//! its output went away (`| head`).

#![allow(clippy::disallowed_methods)] // the CLI runs outside every simulation

mod bench;
mod junit;
mod sweep_out;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use steadfast_sim::runner::{self, SweepOptions};
use steadfast_sim::{Expect, Scenario, Schedule};

const EXIT_CODES: &str = "Exit status: 0 when every hold scenario held and every violate scenario was caught (and \
every coverage point was reached); 1 otherwise; 2 on bad input (or output that cannot be written), with a one-line \
error; 141 when the reader of its output went away (`| head`).";

const JSON_ROWS: &str = "With --json: one JSON object per line per seed, \
{\"scenario\", \"seed\", \"expect\", \"violations\": [{\"invariant\", \"at_ms\", \"message\"}], \
\"history_hash\", \"reached\"}, and nothing else on stdout.";

/// steadfast: sweep, replay and shrink the seeded scenarios of the
/// deterministic simulator.
#[derive(Parser)]
#[command(name = "steadfast", version, after_help = EXIT_CODES, disable_help_subcommand = false)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One scenario a line: name, expect, description.
    List,
    /// Sweep seeds of every scenario (or those named) and judge them.
    #[command(after_help = format!("{JSON_ROWS}\n\n{EXIT_CODES}"))]
    Run(RunArgs),
    /// The full timeline and verdicts of one run; byte-identical every time.
    #[command(after_help = EXIT_CODES)]
    Replay(ReplayArgs),
    /// Every targeted crash point of one seed (power loss right after each
    /// fsync, rename and directory fsync), or the schedule of point K.
    #[command(after_help = EXIT_CODES)]
    Crashes(CrashArgs),
    /// The minimal fault schedule that still breaks the same invariant, as JSON.
    #[command(after_help = EXIT_CODES)]
    Shrink(ShrinkArgs),
    /// Fold `run --json` lines from many shards into one summary, with the
    /// same verdicts as `run`.
    #[command(after_help = EXIT_CODES)]
    Merge(MergeArgs),
    /// Seeds per second on one core and on all, and the real adapters
    /// against the raw operations they wrap.
    Bench(BenchArgs),
}

/// A scenario by name (`steadfast list` names them all).
fn parse_scenario(name: &str) -> Result<&'static dyn Scenario, String> {
    steadfast_scenarios::find(name).ok_or_else(|| {
        let known: Vec<&str> = steadfast_scenarios::all().iter().map(|s| s.name()).collect();
        format!("unknown scenario {name:?} (known: {})", known.join(", "))
    })
}

/// `--scenario NAME`, once.
#[derive(Args)]
struct OneScenario {
    /// The scenario (see `steadfast list`).
    #[arg(long, value_name = "NAME", value_parser = parse_scenario)]
    scenario: &'static dyn Scenario,
}

/// `--jobs J`.
#[derive(Args, Clone, Copy)]
struct Jobs {
    /// OS threads, one seed at a time on each [default: every core].
    #[arg(long, value_name = "J", value_parser = positive)]
    jobs: Option<u64>,
}

impl Jobs {
    fn get(self) -> usize {
        self.jobs.map_or_else(default_jobs, |j| j as usize)
    }
}

/// `--seed S` / `--schedule FILE`: the run to replay or shrink.
#[derive(Args)]
#[group(required = true, multiple = false)]
struct Which {
    /// The seed (its schedule is the scenario's own for it).
    #[arg(long, value_name = "S")]
    seed: Option<u64>,
    /// A schedule file (`replay --print-schedule`, `shrink`, `crashes --point`): its seed with it.
    #[arg(long, value_name = "FILE")]
    schedule: Option<PathBuf>,
}

#[derive(Args)]
struct RunArgs {
    /// Scenarios to sweep, repeatable [default: every scenario].
    #[arg(long, value_name = "NAME", value_parser = parse_scenario)]
    scenario: Vec<&'static dyn Scenario>,
    /// Seeds per scenario.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = positive)]
    seeds: u64,
    /// The first seed.
    #[arg(long, value_name = "S", default_value_t = 0)]
    start: u64,
    /// Run only shard I of N: every N-th seed from the I-th (1-based).
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<(u64, u64)>,
    #[command(flatten)]
    jobs: Jobs,
    /// One JSON object per seed on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Run every seed twice and report a differing history as RUN3.
    #[arg(long)]
    check_determinism: bool,
    /// Write a JUnit XML report (one test case per scenario, and per failing seed).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Full reports for the replicas caught as expected, not one line each.
    #[arg(long)]
    verbose: bool,
}

impl RunArgs {
    fn scenarios(&self) -> Vec<&'static dyn Scenario> {
        if self.scenario.is_empty() { steadfast_scenarios::all() } else { self.scenario.clone() }
    }

    /// The seeds of this shard: every N-th seed of `start..start+seeds`.
    fn seed_list(&self) -> Result<Vec<u64>, String> {
        // The last seed, not one past it, must fit: u64::MAX is a seed.
        let last = self.seeds.checked_sub(1).and_then(|n| self.start.checked_add(n)).ok_or_else(|| {
            format!("--start {} + --seeds {} runs past the last seed, {}", self.start, self.seeds, u64::MAX)
        })?;
        let (i, n) = self.shard.unwrap_or((1, 1));
        let seeds: Vec<u64> = (self.start..=last).filter(|s| (s - self.start) % n == i - 1).collect();
        if seeds.is_empty() {
            return Err(format!("--shard {i}/{n} of {} seeds gets no seeds", self.seeds));
        }
        Ok(seeds)
    }
}

#[derive(Args)]
struct ReplayArgs {
    #[command(flatten)]
    scenario: OneScenario,
    #[command(flatten)]
    which: Which,
    /// Print the run's schedule as JSON and run nothing.
    #[arg(long)]
    print_schedule: bool,
    /// Write the run as Chrome trace JSON (open it in Perfetto, ui.perfetto.dev).
    #[arg(long, value_name = "OUT")]
    chrome_trace: Option<PathBuf>,
}

#[derive(Args)]
struct CrashArgs {
    #[command(flatten)]
    scenario: OneScenario,
    /// The seed whose crash points are enumerated.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// At most this many points per operation kind (its first ones).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max: usize,
    #[command(flatten)]
    jobs: Jobs,
    /// Print the schedule of point K instead (to replay it).
    #[arg(long, value_name = "K")]
    point: Option<usize>,
}

#[derive(Args)]
struct ShrinkArgs {
    #[command(flatten)]
    scenario: OneScenario,
    #[command(flatten)]
    which: Which,
    /// Write the shrunk schedule here [default: stdout].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Runs the shrinker may spend.
    #[arg(long = "max-runs", value_name = "N", default_value_t = 500)]
    runs_max: usize,
}

#[derive(Args)]
struct MergeArgs {
    /// `run --json` outputs to fold [default: stdin].
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Write a JUnit XML report (one test case per scenario, and per failing seed).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
}

#[derive(Args)]
struct BenchArgs {
    /// Scenarios to sweep, repeatable [default: every scenario].
    #[arg(long, value_name = "NAME", value_parser = parse_scenario)]
    scenario: Vec<&'static dyn Scenario>,
    /// Seeds per sweep.
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = positive)]
    seeds: u64,
    /// Directory for the real-file-system figures (a disk, not tmpfs).
    #[arg(long, value_name = "D", default_value = "target")]
    dir: PathBuf,
    /// Fewer repetitions (a smoke run).
    #[arg(long)]
    quick: bool,
}

/// See the `mimalloc` feature in Cargo.toml.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    end_quietly_on_a_closed_pipe();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) => {
            let text = e.render().to_string();
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
            return ExitCode::SUCCESS;
        }
        Err(e) => return bad_input(&one_line(&e)),
    };
    // Read before any run: inside one, its panic would be the run's.
    if let Err(e) = steadfast_sim::log::try_report_window() {
        return bad_input(&e);
    }
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(msg) => bad_input(&msg),
    }
}

/// Exit status 2 with one line on stderr.
fn bad_input(msg: &str) -> ExitCode {
    eprintln!("steadfast: {msg}");
    ExitCode::from(2)
}

/// clap's error as one line: its first, without the `error: ` prefix, and
/// where to look for more.
fn one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    // The message runs to the first blank line (a list of missing
    // arguments continues on the next lines).
    let lines: Vec<&str> = text.lines().take_while(|l| !l.trim().is_empty()).map(str::trim).collect();
    let first = lines.join(" ");
    let first = first.trim_start_matches("error: ");
    format!("{} (steadfast help for usage)", if first.is_empty() { "bad arguments" } else { first })
}

fn dispatch(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::List => {
            list();
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(args) => sweep_out::run(&args),
        Command::Replay(args) => replay(args),
        Command::Crashes(args) => crashes(args),
        Command::Shrink(args) => shrink(args),
        Command::Merge(args) => sweep_out::merge(&args),
        Command::Bench(args) => {
            let scenarios = if args.scenario.is_empty() { steadfast_scenarios::all() } else { args.scenario };
            bench::run(&bench::BenchArgs { scenarios, seeds: args.seeds, dir: args.dir, quick: args.quick })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn list() {
    let all = steadfast_scenarios::all();
    let width = all.iter().map(|s| s.name().len()).max().unwrap_or(0);
    for s in all {
        println!("{:<width$}  {:<7}  {}", s.name(), s.expect().as_str(), s.description());
    }
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A count that must be at least 1 (`--seeds`, `--jobs`).
fn positive(v: &str) -> Result<u64, String> {
    match v.parse::<u64>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("is not a number".into()),
    }
}

fn parse_shard(v: &str) -> Result<(u64, u64), String> {
    let bad = || format!("{v:?} must be I/N with 1 <= I <= N");
    let (i, n) = v.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if i == 0 || n == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

/// The `--schedule FILE` of `replay` and `shrink`, if given: valid,
/// within the bounds, its params declared by `scenario` (else one line,
/// exit 2).
fn load_schedule(scenario: &dyn Scenario, path: Option<&std::path::Path>) -> Result<Option<Schedule>, String> {
    let Some(path) = path else { return Ok(None) };
    let schedule = Schedule::load(path).map_err(|e| e.to_string())?;
    runner::admit(scenario, &schedule).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(schedule))
}

fn replay(args: ReplayArgs) -> Result<ExitCode, String> {
    let sc = args.scenario.scenario;
    let schedule = load_schedule(sc, args.which.schedule.as_deref())?;
    let seed = args.which.seed.or(schedule.as_ref().map(|s| s.seed)).unwrap_or(0);
    let schedule = schedule.unwrap_or_else(|| sc.schedule(seed));
    if args.print_schedule {
        println!("{}", schedule.to_json());
        return Ok(ExitCode::SUCCESS);
    }
    let outcome = runner::run(sc, seed, Some(schedule), usize::MAX);
    if let (Some(path), Some(trace)) = (&args.chrome_trace, &outcome.chrome_trace) {
        std::fs::write(path, trace).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("chrome trace written to {} (open it in https://ui.perfetto.dev)", path.display());
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "scenario {} (expect {}), seed {}", sc.name(), sc.expect().as_str(), seed);
    let _ = writeln!(out, "timeline ({} events):", outcome.events);
    // Shown in time order (stable): an effect is recorded when something
    // observes it, which may be after later operations began.
    let mut timeline: Vec<_> = outcome.history.iter().collect();
    timeline.sort_by_key(|e| e.at_ns);
    for e in timeline {
        let _ = writeln!(out, "{}", e.line());
    }
    let _ = writeln!(out, "verdicts:");
    for inv in sc.invariants() {
        let checks = outcome.checks.get(inv.id).copied().unwrap_or(0);
        let broken = outcome.violations.iter().filter(|v| v.invariant == inv.id).count();
        let verdict = if broken > 0 { format!("VIOLATED ({broken})") } else { "held".to_string() };
        let _ = writeln!(out, "  {:<4} {verdict:<14} {checks:>6} checks  {}", inv.id, inv.statement);
    }
    for v in outcome.violations.iter().filter(|v| v.invariant.starts_with("RUN")) {
        let _ = writeln!(out, "  {:<4} VIOLATED at {}ms: {}", v.invariant, v.at_ms, v.message);
    }
    let _ =
        writeln!(out, "reached: {}", if outcome.reached.is_empty() { "-".into() } else { outcome.reached.join("; ") });
    let _ = writeln!(out, "final tree ({} entries):", outcome.tree.len());
    for l in &outcome.tree {
        let _ = writeln!(
            out,
            "  {:<7} {:>8}  {:016x}  {}",
            format!("{:?}", l.kind).to_lowercase(),
            l.len,
            l.hash,
            l.path.display()
        );
    }
    let _ = writeln!(
        out,
        "fs ops {}, faults injected {}, virtual time {}ms",
        outcome.fs_ops,
        outcome.faults_injected,
        outcome.sim_time.as_millis()
    );
    let _ = writeln!(out, "history hash {:016x}", outcome.history_hash);
    if outcome.violated() {
        let _ = writeln!(out, "\n{}", report_of(sc, &outcome, args.which.schedule.as_deref()));
    }
    let as_expected = outcome.violated() == (sc.expect() == Expect::Violate);
    Ok(if as_expected { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Enumerate every crash point of one seed and judge each, or print the
/// schedule of one point (to replay it).
fn crashes(args: CrashArgs) -> Result<ExitCode, String> {
    let sc = args.scenario.scenario;
    let points = runner::crash_points(sc, args.seed, runner::CRASH_BOUNDARY_OPS, args.max);
    if let Some(k) = args.point {
        let s = points
            .get(k)
            .ok_or_else(|| format!("--point {k}: seed {} has {} crash points", args.seed, points.len()))?;
        println!("{}", s.to_json());
        return Ok(ExitCode::SUCCESS);
    }
    let mut k = 0usize;
    let mut first_failure = None;
    let mut not_reached = 0usize;
    let summary = runner::sweep_schedules(sc, &points, SweepOptions::jobs(args.jobs.get()), |o| {
        let rule = &o.schedule.crashes[0];
        let verdict = match o.violations.first() {
            Some(v) => format!("VIOLATED {} at {}ms: {}", v.invariant, v.at_ms, v.message),
            // Held only where the power went out: a point whose operation
            // never came proves nothing.
            None if !o.crashes_fired.contains(&0) => {
                not_reached += 1;
                "not reached (its operation never came)".into()
            }
            None => "held".into(),
        };
        let meta = if rule.metadata_survives { "metadata committed" } else { "metadata lost" };
        println!("point {k:>5}: power loss after {} #{} ({meta}): {verdict}", rule.ops.join(","), rule.nth);
        if o.violated() && first_failure.is_none() {
            first_failure = Some((k, report(sc, o)));
        }
        k += 1;
    });
    println!(
        "{}: {} crash points of seed {}, {} violate, {not_reached} not reached ({:.0} points/s)",
        sc.name(),
        summary.seeds,
        args.seed,
        summary.violating,
        summary.seeds_per_s()
    );
    if let Some((k, report)) = first_failure {
        println!("\nfirst violating point {k}: {report}");
        println!(
            "  this point: steadfast crashes --scenario {} --seed {} --point {k} > point.json && steadfast replay --scenario {} --schedule point.json",
            runner::shell_quote(sc.name()),
            args.seed,
            runner::shell_quote(sc.name())
        );
    }
    let ok = match sc.expect() {
        Expect::Hold => summary.violating == 0,
        Expect::Violate => summary.violating > 0,
    };
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Shrink a failing seed's schedule; the JSON goes to `--out` or stdout,
/// the summary to stderr.
fn shrink(args: ShrinkArgs) -> Result<ExitCode, String> {
    let sc = args.scenario.scenario;
    let schedule = load_schedule(sc, args.which.schedule.as_deref())?;
    let seed = schedule.as_ref().map_or(args.which.seed.unwrap_or(0), |s| s.seed);
    let shrunk = steadfast_sim::shrink::shrink(sc, seed, schedule, args.runs_max)?;
    let json = shrunk.schedule.to_json();
    match &args.out {
        Some(path) => std::fs::write(path, &json).map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        None => println!("{json}"),
    }
    eprintln!(
        "{} seed {seed}: {} still broken with {} schedule parts (from {}) after {} runs",
        sc.name(),
        shrunk.invariant,
        shrunk.size_after,
        shrunk.size_before,
        shrunk.runs
    );
    let out = args.out.as_ref().map_or_else(|| "shrunk.json".to_string(), |p| p.display().to_string());
    eprintln!(
        "  replay: steadfast replay --scenario {} --schedule {}",
        runner::shell_quote(sc.name()),
        runner::shell_quote(&out)
    );
    Ok(ExitCode::SUCCESS)
}

/// How this workspace runs the CLI in the commands it prints.
pub(crate) const CLI: &str = "cargo run --profile sweep -p steadfast-scenarios --bin steadfast --";

/// A failing seed's report with the commands that replay it from this
/// workspace: the CLI, and the sweep test of the scenario.
pub(crate) fn report(sc: &dyn Scenario, o: &steadfast_sim::Outcome) -> String {
    report_of(sc, o, None)
}

/// [`report`] of a run of the schedule in the file `schedule` (a replay
/// of `--schedule FILE`): its commands replay that file, since its seed
/// alone would run the scenario's own schedule instead.
pub(crate) fn report_of(sc: &dyn Scenario, o: &steadfast_sim::Outcome, schedule: Option<&Path>) -> String {
    let q = runner::shell_quote;
    let (name, seed) = (q(o.scenario), o.seed);
    let test_name = o.scenario.replace(['/', '-'], "_");
    let cli = CLI;
    let commands = match schedule {
        None => format!(
            "  replay:   {cli} replay --scenario {name} --seed {seed}\n  \
             test:     STEADFAST_SCENARIO={name} STEADFAST_SEED={seed} cargo test -p steadfast-scenarios --test it -- {test_name} --nocapture\n  \
             schedule: {cli} replay --scenario {name} --seed {seed} --print-schedule > schedule.json\n  \
             shrink:   {cli} shrink --scenario {name} --seed {seed} --out shrunk.json\n  \
             timeline: {cli} replay --scenario {name} --seed {seed} --chrome-trace trace.json"
        ),
        Some(file) => {
            // Absolute: `cargo test` runs the test from its package's
            // directory, not from where this command was typed.
            let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
            let file = q(&file.display().to_string());
            format!(
                "  replay:   {cli} replay --scenario {name} --schedule {file}\n  \
                 test:     STEADFAST_SCENARIO={name} STEADFAST_SCHEDULE={file} cargo test -p steadfast-scenarios --test it -- {test_name} --nocapture\n  \
                 shrink:   {cli} shrink --scenario {name} --schedule {file} --out shrunk.json\n  \
                 timeline: {cli} replay --scenario {name} --schedule {file} --chrome-trace trace.json"
            )
        }
    };
    runner::violations_report(sc, o) + &commands
}

/// `steadfast run --json | head` closes the pipe early: end as other
/// command-line tools do there (status 141, as if by SIGPIPE), not with a
/// panic's message and backtrace. (Rust ignores SIGPIPE, so a print to a
/// closed pipe panics with this message.)
fn end_quietly_on_a_closed_pipe() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        previous(info);
    }));
}
