//! `run` and `merge`: sweeps and their verdicts (one rule for both, so a
//! merge of shards says what one run would have said), the lines a CI log
//! shows as each scenario finishes, the summary table, and JUnit XML.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use steadfast_sim::runner::{self, Summary, SweepOptions};
use steadfast_sim::{Expect, Scenario};

use crate::junit::{self, Case};
use crate::{MergeArgs, RunArgs};

/// Did a scenario meet its expectation, and the words for it: a `hold`
/// scenario is "violated" only with violations, a replica "never caught"
/// only when no seed caught it, and a coverage point no seed reached is
/// named.
pub fn verdict(expect: Expect, violating: usize, never_reached: &[String]) -> (bool, String) {
    let coverage = || format!("FAILED: coverage not reached: {}", never_reached.join("; "));
    match expect {
        Expect::Hold if violating > 0 => (false, format!("FAILED: violated in {violating} seeds")),
        Expect::Violate if violating == 0 => (false, "FAILED: never caught".into()),
        _ if !never_reached.is_empty() => (false, coverage()),
        Expect::Hold => (true, "ok (held)".into()),
        Expect::Violate => (true, format!("ok (caught in {violating} seeds)")),
    }
}

fn never(s: &Summary) -> Vec<String> {
    s.never_reached().into_iter().map(String::from).collect()
}

/// A failing seed, as a CI report lists it.
#[derive(Clone)]
struct Failing {
    seed: u64,
    invariant: String,
    at_ms: u64,
    message: String,
}

fn replay_command(scenario: &str, seed: u64) -> String {
    format!("{} replay --scenario {} --seed {seed}", crate::CLI, runner::shell_quote(scenario))
}

/// One bar per scenario on a terminal (stderr).
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

/// What one scenario's sweep left for the end of the run.
struct Swept {
    sc: &'static dyn Scenario,
    summary: Summary,
    report: Option<String>,
    failing: Vec<Failing>,
}

/// A scenario's sweep as it goes: the first report, the failing seeds a
/// CI report lists, and its progress bar on a terminal.
struct Sweeping {
    report: Option<String>,
    failing: Vec<Failing>,
    bar: Option<indicatif::ProgressBar>,
}

/// `steadfast run`.
pub fn run(args: &RunArgs) -> Result<ExitCode, String> {
    let seeds = args.seed_list()?;
    let scenarios = args.scenarios();
    let terminal = std::io::stderr().is_terminal();
    // Without a terminal (a CI log) a line as each scenario finishes, so
    // minutes of sweeping are never minutes of silence.
    let stream = !args.json && !terminal;
    let width = scenarios.iter().map(|s| s.name().len()).max().unwrap_or(8).max(8);
    if stream {
        println!("steadfast run: {} scenarios x {} seeds on {} threads", scenarios.len(), seeds.len(), args.jobs.get());
        let _ = std::io::stdout().flush();
    }
    let mut options = SweepOptions { check_determinism: args.check_determinism, ..SweepOptions::jobs(args.jobs.get()) };
    // The table needs only which seeds are caught and the first violation
    // of each (and its report): a caught seed of a replica ends there.
    // `--json` rows carry whole histories' hashes and violations.
    if !args.json {
        options = options.ending_caught_seeds();
    }
    let bars = !args.json && terminal;
    // Seen by both callbacks below, one at a time.
    let sweeping: std::cell::RefCell<Vec<Sweeping>> =
        scenarios.iter().map(|_| Sweeping { report: None, failing: Vec::new(), bar: None }).collect::<Vec<_>>().into();
    let mut swept = Vec::new();
    let stdout = std::io::stdout();
    let list: Vec<(&dyn Scenario, &[u64])> = scenarios.iter().map(|&sc| (sc, &seeds[..])).collect();
    // One set of workers for every scenario: outcomes still arrive
    // scenario by scenario, in seed order.
    runner::sweep_many(
        &list,
        options,
        |k, o| {
            let (sc, mut all) = (scenarios[k], sweeping.borrow_mut());
            let now = &mut all[k];
            if args.json
                && let Err(e) = writeln!(stdout.lock(), "{}", o.json_row())
            {
                // The reader went away (`| head`): end as other tools do (an
                // exit with status 141, as a death by SIGPIPE reads). Any other
                // failure would lose rows silently: say so, and stop with the
                // status of an input or output error (2), never a verdict's.
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    std::process::exit(141);
                }
                eprintln!("steadfast: a --json row could not be written: {e}");
                std::process::exit(2);
            }
            if let Some(v) = o.violations.first() {
                now.report.get_or_insert_with(|| crate::report(sc, o));
                if now.failing.len() < junit::SEEDS_PER_SCENARIO_MAX {
                    let (invariant, message) = (v.invariant.clone(), v.message.clone());
                    now.failing.push(Failing { seed: o.seed, invariant, at_ms: v.at_ms, message });
                }
            }
            if bars {
                let bar = now.bar.get_or_insert_with(|| progress_bar(sc.name(), seeds.len()));
                bar.inc(1);
                if o.violated() {
                    bar.set_message(format!("violations (first seed {})", o.seed));
                }
            }
        },
        |k, summary| {
            let (sc, mut all) = (scenarios[k], sweeping.borrow_mut());
            let now = &mut all[k];
            if let Some(bar) = now.bar.take() {
                bar.finish();
            }
            if stream {
                let (_, words) = verdict(summary.expect, summary.violating, &never(&summary));
                let rate = summary.seeds_per_s();
                println!(
                    "{:<width$}  {:<7}  {:>6} seeds  {:>6} violating  {rate:>8.0} seeds/s  {words}",
                    sc.name(),
                    sc.expect().as_str(),
                    summary.seeds,
                    summary.violating
                );
                let _ = std::io::stdout().flush();
            }
            swept.push(Swept { sc, summary, report: now.report.take(), failing: std::mem::take(&mut now.failing) });
        },
    );
    if !args.json {
        print_table(&swept.iter().map(|s| &s.summary).collect::<Vec<_>>());
        print_reports(&swept, args.verbose);
    }
    if let Some(path) = &args.junit {
        write_junit(path, "steadfast run", &junit_cases_run(&swept))?;
    }
    let ok = swept.iter().all(|s| verdict(s.summary.expect, s.summary.violating, &never(&s.summary)).0);
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn print_reports(swept: &[Swept], verbose: bool) {
    for s in swept {
        if let Some(why) = &s.summary.fresh_threads {
            println!("\nnote: {}: {why}", s.sc.name());
        }
        let Some(report) = &s.report else { continue };
        match (s.sc.expect(), verbose) {
            (Expect::Hold, _) => println!("\nFAILURE: {report}"),
            (Expect::Violate, true) => println!("\ncaught (expected): {report}"),
            (Expect::Violate, false) => {
                let f = &s.failing[0];
                let mut message = f.message.clone();
                if message.len() > 120 {
                    let cut = (0..=120).rev().find(|&i| message.is_char_boundary(i)).unwrap_or(0);
                    message.truncate(cut);
                    message.push_str("...");
                }
                println!(
                    "caught (expected): {} in {} of {} seeds, first seed {}: {} at {}ms: {message} (--verbose for the report)",
                    s.sc.name(),
                    s.summary.violating,
                    s.summary.seeds,
                    f.seed,
                    f.invariant,
                    f.at_ms
                );
            }
        }
    }
}

fn print_table(summaries: &[&Summary]) {
    let width = summaries.iter().map(|s| s.scenario.len()).max().unwrap_or(8).max(8);
    println!(
        "{:<width$}  {:<7}  {:>7}  {:>10}  {:>10}  {:>9}  {:>11}  {:>10}  verdict",
        "scenario", "expect", "seeds", "violations", "first seed", "seeds/s", "sim s/wall s", "fs ops/s"
    );
    for s in summaries {
        let first = s.first_violating.map_or_else(|| "-".to_string(), |v| v.to_string());
        let wall_s = s.wall.as_secs_f64().max(1e-9);
        let speed = s.sim_time.as_secs_f64() / wall_s;
        let (_, words) = verdict(s.expect, s.violating, &never(s));
        println!(
            "{:<width$}  {:<7}  {:>7}  {:>10}  {:>10}  {:>9.0}  {:>11.0}  {:>10.0}  {words}",
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

fn scenario_case(name: &str, expect: Expect, time_s: f64, ok: bool, words: String, text: String) -> Case {
    Case {
        classname: format!("steadfast.{}", expect.as_str()),
        name: name.to_string(),
        time_s,
        failure: (!ok).then_some((words, text)),
    }
}

fn seed_cases<'a>(scenario: &'a str, failing: &'a [Failing]) -> impl Iterator<Item = Case> + 'a {
    failing.iter().map(move |f| Case {
        classname: format!("steadfast.seed.{scenario}"),
        name: format!("{scenario} seed {}", f.seed),
        time_s: 0.0,
        failure: Some((
            format!("{} at {}ms: {}", f.invariant, f.at_ms, f.message),
            format!("replay: {}", replay_command(scenario, f.seed)),
        )),
    })
}

fn junit_cases_run(swept: &[Swept]) -> Vec<Case> {
    let mut cases = Vec::new();
    for s in swept {
        let sum = &s.summary;
        let (ok, words) = verdict(sum.expect, sum.violating, &never(sum));
        let text = s.report.clone().unwrap_or_else(|| words.clone());
        cases.push(scenario_case(sum.scenario, sum.expect, sum.wall.as_secs_f64(), ok, words, text));
        if sum.expect == Expect::Hold {
            cases.extend(seed_cases(sum.scenario, &s.failing));
        }
    }
    cases
}

fn write_junit(path: &std::path::Path, suite: &str, cases: &[Case]) -> Result<(), String> {
    std::fs::write(path, junit::render(suite, cases)).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Per scenario of a merge: its expectation, seeds seen, the coverage
/// points reached, and the violating seeds with their first violation.
#[derive(Default)]
struct Merged {
    expect: String,
    seeds: BTreeSet<u64>,
    reached: BTreeSet<String>,
    failing: BTreeMap<u64, Failing>,
}

fn read_rows(files: &[std::path::PathBuf]) -> Result<BTreeMap<String, Merged>, String> {
    let mut text = String::new();
    if files.is_empty() {
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|e| format!("stdin: {e}"))?;
    }
    for f in files {
        let rows = std::fs::read_to_string(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        // A shard that died before its first row wrote an empty file: it
        // must not pass for a shard that ran.
        if rows.trim().is_empty() {
            return Err(format!("{} holds no run --json rows (did its shard run?)", f.display()));
        }
        text += &rows;
        if !text.ends_with('\n') {
            text.push('\n');
        }
    }
    let mut by: BTreeMap<String, Merged> = BTreeMap::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let row: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("line {}: not a run --json row: {e}", n + 1))?;
        let (Some(sc), Some(seed)) = (row["scenario"].as_str(), row["seed"].as_u64()) else {
            return Err(format!("line {}: a row needs \"scenario\" and \"seed\"", n + 1));
        };
        let Some(known) = steadfast_scenarios::find(sc) else {
            return Err(format!("line {}: no scenario is named {sc:?}", n + 1));
        };
        let expect = known.expect().as_str();
        if row["expect"].as_str() != Some(expect) {
            return Err(format!("line {}: {sc} expects {expect:?}, the row says {}", n + 1, row["expect"]));
        }
        let m = by.entry(sc.to_string()).or_default();
        m.expect = expect.to_string();
        m.seeds.insert(seed);
        let reached = row["reached"].as_array().into_iter().flatten().filter_map(|r| r.as_str());
        m.reached.extend(reached.map(String::from));
        if let Some(v) = row["violations"].as_array().and_then(|v| v.first()) {
            let invariant = v["invariant"].as_str().unwrap_or("?").to_string();
            let (at_ms, message) = (v["at_ms"].as_u64().unwrap_or(0), v["message"].as_str().unwrap_or("").to_string());
            m.failing.insert(seed, Failing { seed, invariant, at_ms, message });
        }
    }
    if by.is_empty() {
        return Err("no run --json rows in the input: nothing to judge".into());
    }
    // Every scenario of one run's shards sweeps the same seeds: a scenario
    // whose seeds differ from another's has lost rows (a shard that died
    // midway), which must not pass as a run. (A shard missing as a whole
    // cannot be seen here: merge does not know how many there were.)
    let mut sets = by.iter().map(|(sc, m)| (sc, &m.seeds));
    if let Some((first, seeds)) = sets.next()
        && let Some((other, theirs)) = sets.find(|(_, s)| *s != seeds)
    {
        return Err(format!(
            "{first} has {} seeds and {other} {}, not the same ones: rows are missing (merge judges the shards of one run)",
            seeds.len(),
            theirs.len()
        ));
    }
    Ok(by)
}

/// `steadfast merge`: `run --json` rows of many shards, judged as one run
/// (coverage included: a point is reached when any shard reached it).
pub fn merge(args: &MergeArgs) -> Result<ExitCode, String> {
    let by = read_rows(&args.files)?;
    let (mut ok, mut cases) = (true, Vec::new());
    println!("{:<40} {:<7} {:>8} {:>10}  verdict", "scenario", "expect", "seeds", "violations");
    for (sc, m) in &by {
        let expect = if m.expect == "violate" { Expect::Violate } else { Expect::Hold };
        let declared = steadfast_scenarios::find(sc).map_or(&[][..], |s| s.sometimes());
        // Sorted, as `run` lists them.
        let never: BTreeSet<String> =
            declared.iter().filter(|p| !m.reached.contains(**p)).map(|p| p.to_string()).collect();
        let never: Vec<String> = never.into_iter().collect();
        let (good, words) = verdict(expect, m.failing.len(), &never);
        ok &= good;
        println!("{sc:<40} {:<7} {:>8} {:>10}  {words}", m.expect, m.seeds.len(), m.failing.len());
        let failing: Vec<Failing> = m
            .failing
            .values()
            .take(junit::SEEDS_PER_SCENARIO_MAX)
            .map(|f| Failing {
                seed: f.seed,
                invariant: f.invariant.clone(),
                at_ms: f.at_ms,
                message: f.message.clone(),
            })
            .collect();
        if expect == Expect::Hold {
            for f in &failing {
                println!(
                    "  failing seed {} ({}): steadfast replay --scenario {} --seed {}",
                    f.seed,
                    f.invariant,
                    runner::shell_quote(sc),
                    f.seed
                );
            }
        }
        cases.push(scenario_case(sc, expect, 0.0, good, words.clone(), words));
        if expect == Expect::Hold {
            cases.extend(seed_cases(sc, &failing));
        }
    }
    if let Some(path) = &args.junit {
        write_junit(path, "steadfast merge", &cases)?;
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
