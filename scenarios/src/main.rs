//! The `steadfast` command line (DESIGN §7).
//!
//! - `steadfast list`
//! - `steadfast run [--scenario NAME]... [--seeds N] [--start S] [--shard I/N] [--jobs J] [--json]`
//!   `[--check-determinism]`
//! - `steadfast replay --scenario NAME [--seed S] [--schedule FILE] [--print-schedule] [--chrome-trace OUT]`
//! - `steadfast crashes --scenario NAME [--seed S] [--max N] [--jobs J] [--point K]`: every
//!   targeted crash point of one seed (power loss right after each fsync,
//!   rename and directory fsync), or the schedule of point K
//! - `steadfast shrink --scenario NAME --seed S [--schedule FILE] [--out FILE] [--max-runs N]`:
//!   the minimal fault schedule that still breaks the same invariant, as JSON
//! - `steadfast merge [FILE]...`: fold `run --json` lines (files, or stdin) from
//!   many shards into one summary and the list of failing seeds; exit
//!   status as `run`'s
//! - `steadfast bench [--scenario NAME]... [--seeds N] [--dir D] [--quick]`: seeds per second
//!   on one core and on all, and the real exporter against raw operations
//!
//! Exit status: 0 when every `hold` scenario held and every `violate`
//! scenario was caught (and every coverage point was reached), 1 otherwise,
//! 2 on bad input (with a one-line error).

#![allow(clippy::disallowed_methods)] // the CLI runs outside every simulation

mod bench;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use steadfast_sim::runner::{self, Summary, SweepOptions};
use steadfast_sim::{Expect, Scenario, Schedule};

const USAGE: &str = "usage: steadfast list | run [--scenario NAME]... [--seeds N] [--start S] [--shard I/N] [--jobs J] [--json] [--check-determinism] | replay --scenario NAME [--seed S] [--schedule FILE] [--print-schedule] [--chrome-trace OUT] | crashes --scenario NAME [--seed S] [--max N] [--jobs J] [--point K] | shrink --scenario NAME --seed S [--schedule FILE] [--out FILE] [--max-runs N] | merge [FILE]... | bench [--scenario NAME]... [--seeds N] [--dir D] [--quick]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("steadfast: {msg}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(args: &[String]) -> Result<ExitCode, String> {
    match args.first().map(String::as_str) {
        Some("list") => {
            no_more(&args[1..])?;
            list();
            Ok(ExitCode::SUCCESS)
        }
        Some("run") => run(RunArgs::parse(&args[1..])?),
        Some("replay") => replay(ReplayArgs::parse(&args[1..])?),
        Some("crashes") => crashes(CrashArgs::parse(&args[1..])?),
        Some("shrink") => shrink(ShrinkArgs::parse(&args[1..])?),
        Some("merge") => merge(&args[1..]),
        Some("bench") => {
            bench::run(&parse_bench(&args[1..])?)?;
            Ok(ExitCode::SUCCESS)
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Some(other) => Err(format!("unknown command {other:?}; {USAGE}")),
        None => Err(USAGE.to_string()),
    }
}

fn no_more(rest: &[String]) -> Result<(), String> {
    match rest.first() {
        Some(a) => Err(format!("unexpected argument {a:?}")),
        None => Ok(()),
    }
}

fn list() {
    let all = steadfast_scenarios::all();
    let width = all.iter().map(|s| s.name().len()).max().unwrap_or(0);
    for s in all {
        println!("{:<width$}  {:<7}  {}", s.name(), s.expect().as_str(), s.description());
    }
}

/// Pulls `--flag value` pairs off an argument list.
struct Flags<'a> {
    args: &'a [String],
    i: usize,
}

impl<'a> Flags<'a> {
    fn new(args: &'a [String]) -> Flags<'a> {
        Flags { args, i: 0 }
    }

    fn next_flag(&mut self) -> Option<&'a str> {
        let a = self.args.get(self.i)?;
        self.i += 1;
        Some(a.as_str())
    }

    fn value(&mut self, flag: &str) -> Result<&'a str, String> {
        let v = self.args.get(self.i).ok_or_else(|| format!("{flag} needs a value"))?;
        self.i += 1;
        Ok(v.as_str())
    }

    fn number<T: std::str::FromStr>(&mut self, flag: &str) -> Result<T, String> {
        let v = self.value(flag)?;
        v.parse().map_err(|_| format!("{flag} {v:?} is not a valid number"))
    }
}

fn scenario(name: &str) -> Result<&'static dyn Scenario, String> {
    steadfast_scenarios::find(name).ok_or_else(|| {
        let known: Vec<&str> = steadfast_scenarios::all().iter().map(|s| s.name()).collect();
        format!("unknown scenario {name:?} (known: {})", known.join(", "))
    })
}

struct RunArgs {
    scenarios: Vec<&'static dyn Scenario>,
    seeds: u64,
    start: u64,
    shard: (u64, u64),
    jobs: usize,
    json: bool,
    check_determinism: bool,
}

impl RunArgs {
    fn parse(args: &[String]) -> Result<RunArgs, String> {
        let mut r = RunArgs {
            scenarios: Vec::new(),
            seeds: 1000,
            start: 0,
            shard: (1, 1),
            jobs: default_jobs(),
            json: false,
            check_determinism: false,
        };
        let mut f = Flags::new(args);
        while let Some(flag) = f.next_flag() {
            match flag {
                "--scenario" => r.scenarios.push(scenario(f.value(flag)?)?),
                "--seeds" => r.seeds = f.number(flag)?,
                "--start" => r.start = f.number(flag)?,
                "--jobs" => r.jobs = f.number(flag)?,
                "--json" => r.json = true,
                "--check-determinism" => r.check_determinism = true,
                "--shard" => r.shard = parse_shard(f.value(flag)?)?,
                other => return Err(format!("run: unknown flag {other:?}")),
            }
        }
        if r.jobs == 0 {
            return Err("--jobs must be at least 1".into());
        }
        if r.start.checked_add(r.seeds).is_none() {
            return Err(format!("--start {} + --seeds {} overflows u64", r.start, r.seeds));
        }
        if r.scenarios.is_empty() {
            r.scenarios = steadfast_scenarios::all();
        }
        Ok(r)
    }

    /// The seeds of this shard: every N-th seed of `start..start+seeds`.
    fn seed_list(&self) -> Vec<u64> {
        let (i, n) = self.shard;
        (self.start..self.start + self.seeds).filter(|s| (s - self.start) % n == i - 1).collect()
    }
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One bar per scenario on a terminal (stderr); nothing otherwise: the
/// summary table says it all.
fn progress_bar(name: &str, seeds: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(seeds as u64);
    let style = indicatif::ProgressStyle::with_template(
        "{prefix:<40} [{bar:30}] {pos}/{len} seeds, {per_sec}, eta {eta} {msg}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(name.to_string());
    bar
}

fn parse_shard(v: &str) -> Result<(u64, u64), String> {
    let bad = || format!("--shard {v:?} must be I/N with 1 <= I <= N");
    let (i, n) = v.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if i == 0 || n == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

fn run(args: RunArgs) -> Result<ExitCode, String> {
    let seeds = args.seed_list();
    let progress = !args.json && std::io::stderr().is_terminal();
    let mut summaries = Vec::new();
    let mut reports = Vec::new();
    let stdout = std::io::stdout();
    for &sc in &args.scenarios {
        let mut first_failure = None;
        let options = SweepOptions { jobs: args.jobs, check_determinism: args.check_determinism };
        let bar = progress.then(|| progress_bar(sc.name(), seeds.len()));
        let summary = runner::sweep(sc, &seeds, options, |o| {
            if args.json {
                let _ = writeln!(stdout.lock(), "{}", o.json_row());
            }
            if o.violated() && first_failure.is_none() {
                first_failure = Some(report(sc, o));
            }
            if let Some(bar) = &bar {
                bar.inc(1);
                if o.violated() {
                    bar.set_message(format!("violations (first seed {})", o.seed));
                }
            }
        });
        if let Some(bar) = bar {
            bar.finish();
        }
        if let Some(report) = first_failure {
            reports.push((sc, report));
        }
        summaries.push(summary);
    }
    if !args.json {
        print_table(&summaries);
        for (sc, report) in &reports {
            let label = match sc.expect() {
                Expect::Hold => "FAILURE",
                Expect::Violate => "caught (expected)",
            };
            println!("\n{label}: {report}");
        }
    }
    let ok = summaries.iter().all(Summary::passed);
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn print_table(summaries: &[Summary]) {
    let width = summaries.iter().map(|s| s.scenario.len()).max().unwrap_or(8).max(8);
    println!(
        "{:<width$}  {:<7}  {:>7}  {:>10}  {:>10}  {:>9}  {:>11}  {:>10}  verdict",
        "scenario", "expect", "seeds", "violations", "first seed", "seeds/s", "sim s/wall s", "fs ops/s"
    );
    for s in summaries {
        let first = s.first_violating.map_or_else(|| "-".to_string(), |v| v.to_string());
        let wall_s = s.wall.as_secs_f64().max(1e-9);
        let speed = s.sim_time.as_secs_f64() / wall_s;
        let verdict = match (s.passed(), s.expect) {
            (true, Expect::Hold) => "ok (held)".to_string(),
            (true, Expect::Violate) => format!("ok (caught in {} seeds)", s.violating),
            (false, Expect::Hold) => "FAILED: violated".to_string(),
            (false, Expect::Violate) if s.violating == 0 => "FAILED: never caught".to_string(),
            (false, _) => "FAILED".to_string(),
        };
        println!(
            "{:<width$}  {:<7}  {:>7}  {:>10}  {:>10}  {:>9.0}  {:>11.0}  {:>10.0}  {verdict}",
            s.scenario,
            s.expect.as_str(),
            s.seeds,
            s.violating,
            first,
            s.seeds_per_s(),
            speed,
            s.fs_ops as f64 / wall_s
        );
        for (point, n) in &s.reached {
            let mark = if *n == 0 { "  NEVER REACHED" } else { "" };
            println!("{:<width$}    reached {n:>6}/{}: {point}{mark}", "", s.seeds);
        }
    }
}

struct ReplayArgs {
    scenario: &'static dyn Scenario,
    seed: Option<u64>,
    schedule: Option<PathBuf>,
    print_schedule: bool,
    chrome_trace: Option<PathBuf>,
}

impl ReplayArgs {
    fn parse(args: &[String]) -> Result<ReplayArgs, String> {
        let (mut sc, mut seed, mut schedule, mut print_schedule, mut chrome_trace) = (None, None, None, false, None);
        let mut f = Flags::new(args);
        while let Some(flag) = f.next_flag() {
            match flag {
                "--scenario" => sc = Some(scenario(f.value(flag)?)?),
                "--seed" => seed = Some(f.number(flag)?),
                "--schedule" => schedule = Some(PathBuf::from(f.value(flag)?)),
                "--print-schedule" => print_schedule = true,
                "--chrome-trace" => chrome_trace = Some(PathBuf::from(f.value(flag)?)),
                other => return Err(format!("replay: unknown flag {other:?}")),
            }
        }
        let scenario = sc.ok_or("replay needs --scenario NAME")?;
        if seed.is_none() && schedule.is_none() {
            return Err("replay needs --seed S or --schedule FILE".into());
        }
        Ok(ReplayArgs { scenario, seed, schedule, print_schedule, chrome_trace })
    }
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
    let schedule = load_schedule(args.scenario, args.schedule.as_deref())?;
    let seed = args.seed.or(schedule.as_ref().map(|s| s.seed)).unwrap_or(0);
    let schedule = schedule.unwrap_or_else(|| args.scenario.schedule(seed));
    if args.print_schedule {
        println!("{}", schedule.to_json());
        return Ok(ExitCode::SUCCESS);
    }
    let outcome = runner::run(args.scenario, seed, Some(schedule), usize::MAX);
    if let (Some(path), Some(trace)) = (&args.chrome_trace, &outcome.chrome_trace) {
        std::fs::write(path, trace).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("chrome trace written to {} (open it in https://ui.perfetto.dev)", path.display());
    }
    let mut out = std::io::stdout().lock();
    let sc = args.scenario;
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
        let _ = writeln!(out, "\n{}", report(sc, &outcome));
    }
    let as_expected = outcome.violated() == (sc.expect() == Expect::Violate);
    Ok(if as_expected { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

struct CrashArgs {
    scenario: &'static dyn Scenario,
    seed: u64,
    max: usize,
    jobs: usize,
    point: Option<usize>,
}

impl CrashArgs {
    fn parse(args: &[String]) -> Result<CrashArgs, String> {
        let (mut sc, mut seed, mut max, mut jobs, mut point) = (None, 0, 10_000, default_jobs(), None);
        let mut f = Flags::new(args);
        while let Some(flag) = f.next_flag() {
            match flag {
                "--scenario" => sc = Some(scenario(f.value(flag)?)?),
                "--seed" => seed = f.number(flag)?,
                "--max" => max = f.number(flag)?,
                "--jobs" => jobs = f.number(flag)?,
                "--point" => point = Some(f.number(flag)?),
                other => return Err(format!("crashes: unknown flag {other:?}")),
            }
        }
        let scenario = sc.ok_or("crashes needs --scenario NAME")?;
        if jobs == 0 {
            return Err("--jobs must be at least 1".into());
        }
        Ok(CrashArgs { scenario, seed, max, jobs, point })
    }
}

/// Enumerate every crash point of one seed and judge each, or print the
/// schedule of one point (to replay it).
fn crashes(args: CrashArgs) -> Result<ExitCode, String> {
    let sc = args.scenario;
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
    let summary = runner::sweep_schedules(sc, &points, SweepOptions::jobs(args.jobs), |o| {
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
            sc.name(),
            args.seed,
            sc.name()
        );
    }
    let ok = match sc.expect() {
        Expect::Hold => summary.violating == 0,
        Expect::Violate => summary.violating > 0,
    };
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn parse_bench(args: &[String]) -> Result<bench::BenchArgs, String> {
    let mut b = bench::BenchArgs { scenarios: Vec::new(), seeds: 2000, dir: PathBuf::from("target"), quick: false };
    let mut f = Flags::new(args);
    while let Some(flag) = f.next_flag() {
        match flag {
            "--scenario" => b.scenarios.push(scenario(f.value(flag)?)?),
            "--seeds" => b.seeds = f.number(flag)?,
            "--dir" => b.dir = PathBuf::from(f.value(flag)?),
            "--quick" => b.quick = true,
            other => return Err(format!("bench: unknown flag {other:?}")),
        }
    }
    if b.scenarios.is_empty() {
        b.scenarios = steadfast_scenarios::all();
    }
    Ok(b)
}

struct ShrinkArgs {
    scenario: &'static dyn Scenario,
    seed: u64,
    schedule: Option<PathBuf>,
    out: Option<PathBuf>,
    runs_max: usize,
}

impl ShrinkArgs {
    fn parse(args: &[String]) -> Result<ShrinkArgs, String> {
        let (mut sc, mut seed, mut schedule, mut out, mut runs_max) = (None, None, None, None, 500);
        let mut f = Flags::new(args);
        while let Some(flag) = f.next_flag() {
            match flag {
                "--scenario" => sc = Some(scenario(f.value(flag)?)?),
                "--seed" => seed = Some(f.number(flag)?),
                "--schedule" => schedule = Some(PathBuf::from(f.value(flag)?)),
                "--out" => out = Some(PathBuf::from(f.value(flag)?)),
                "--max-runs" => runs_max = f.number(flag)?,
                other => return Err(format!("shrink: unknown flag {other:?}")),
            }
        }
        let scenario = sc.ok_or("shrink needs --scenario NAME")?;
        if seed.is_none() && schedule.is_none() {
            return Err("shrink needs --seed S or --schedule FILE".into());
        }
        Ok(ShrinkArgs { scenario, seed: seed.unwrap_or(0), schedule, out, runs_max })
    }
}

/// Shrink a failing seed's schedule; the JSON goes to `--out` or stdout,
/// the summary to stderr.
fn shrink(args: ShrinkArgs) -> Result<ExitCode, String> {
    let schedule = load_schedule(args.scenario, args.schedule.as_deref())?;
    let seed = schedule.as_ref().map_or(args.seed, |s| s.seed);
    let sc = args.scenario;
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
    eprintln!("  replay: steadfast replay --scenario {} --schedule {out}", sc.name());
    Ok(ExitCode::SUCCESS)
}

/// Per scenario: its expectation, seeds seen, and the violating seeds with
/// their first invariant.
#[derive(Default)]
struct Merged {
    expect: String,
    seeds: std::collections::BTreeSet<u64>,
    failing: std::collections::BTreeMap<u64, String>,
}

/// Fold `run --json` rows from shards into one summary.
fn merge(files: &[String]) -> Result<ExitCode, String> {
    let mut text = String::new();
    if files.is_empty() {
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|e| format!("stdin: {e}"))?;
    }
    for f in files {
        text += &std::fs::read_to_string(f).map_err(|e| format!("cannot read {f}: {e}"))?;
    }
    let mut by: std::collections::BTreeMap<String, Merged> = std::collections::BTreeMap::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let row: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("line {}: not a run --json row: {e}", n + 1))?;
        let (Some(sc), Some(seed)) = (row["scenario"].as_str(), row["seed"].as_u64()) else {
            return Err(format!("line {}: a row needs \"scenario\" and \"seed\"", n + 1));
        };
        let m = by.entry(sc.to_string()).or_default();
        m.expect = row["expect"].as_str().unwrap_or("hold").to_string();
        m.seeds.insert(seed);
        if let Some(v) = row["violations"].as_array().and_then(|v| v.first()) {
            m.failing.insert(seed, v["invariant"].as_str().unwrap_or("?").to_string());
        }
    }
    let mut ok = true;
    println!("{:<40} {:<7} {:>8} {:>10}  verdict", "scenario", "expect", "seeds", "violations");
    for (sc, m) in &by {
        let caught = !m.failing.is_empty();
        let good = if m.expect == "violate" { caught } else { !caught };
        ok &= good;
        let verdict = if good { "ok" } else { "FAILED" };
        println!("{sc:<40} {:<7} {:>8} {:>10}  {verdict}", m.expect, m.seeds.len(), m.failing.len());
        if m.expect != "violate" {
            for (seed, inv) in &m.failing {
                println!("  failing seed {seed} ({inv}): steadfast replay --scenario {sc} --seed {seed}");
            }
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// A failing seed's report with the commands that replay it from this
/// workspace: the CLI, and the sweep test of the scenario.
fn report(sc: &dyn Scenario, o: &steadfast_sim::Outcome) -> String {
    let (name, seed) = (o.scenario, o.seed);
    let test_name = name.replace(['/', '-'], "_");
    let cli = "cargo run --profile sweep -p steadfast-scenarios --bin steadfast --";
    runner::violations_report(sc, o)
        + &format!(
            "  replay:   {cli} replay --scenario {name} --seed {seed}\n  \
             test:     STEADFAST_SCENARIO='{name}' STEADFAST_SEED={seed} cargo test -p steadfast-scenarios --test it -- {test_name} --nocapture\n  \
             schedule: {cli} replay --scenario {name} --seed {seed} --print-schedule > schedule.json\n  \
             shrink:   {cli} shrink --scenario {name} --seed {seed} --out shrunk.json\n  \
             timeline: {cli} replay --scenario {name} --seed {seed} --chrome-trace trace.json"
        )
}
