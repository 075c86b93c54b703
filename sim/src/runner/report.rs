//! What a failing seed prints: the violations with their promises, the
//! events around the first violation, and the commands that replay it.

use super::{Outcome, RUNNER_INVARIANTS, Scenario};

/// How to replay a seed from the test that is running now, as a command
/// to paste: the calling test's package, target and name (what `cargo
/// test` set up), and the replay variables naming the scenario they apply
/// to. Outside `cargo test` (a binary of its own), the variables alone.
pub fn replay_commands(scenario: &str, seed: u64) -> String {
    replay_commands_with(scenario, seed, "")
}

/// [`replay_commands`] with `cargo_args` (`--features planted-bug`, say)
/// after `cargo test`: what the test was built with, which a running
/// test cannot see.
pub fn replay_commands_with(scenario: &str, seed: u64, cargo_args: &str) -> String {
    replay_commands_vars(scenario, &format!("STEADFAST_SCENARIO='{scenario}' STEADFAST_SEED={seed}"), cargo_args)
}

/// [`replay_commands_with`] for any replay variables (`STEADFAST_SCHEDULE`
/// for a schedule replayed from a file).
pub fn replay_commands_vars(scenario: &str, vars: &str, cargo_args: &str) -> String {
    let line = replay_line(scenario, vars, cargo_args);
    if !line.ends_with(" --exact --nocapture") {
        return format!("  replay:   {line}\n");
    }
    let files = line.trim_end_matches(" --nocapture");
    format!(
        "  replay:   {line}\n  \
         files:    STEADFAST_ARTIFACTS=steadfast-out {files}\n            \
         (writes the timeline, the Chrome trace, the schedule and a shrunk schedule of the seed)\n"
    )
}

/// The one command that replays with `vars` from the calling test (the
/// `replay:` line of [`replay_commands_vars`]; what a regression file
/// keeps beside each seed).
pub fn replay_line(scenario: &str, vars: &str, cargo_args: &str) -> String {
    match calling_test() {
        None => format!("{vars} cargo test -- --nocapture   (from the crate whose test checks {scenario})"),
        Some(test) if cargo_args.is_empty() => format!("{vars} cargo test {test} --exact --nocapture"),
        Some(test) => format!("{vars} cargo test {cargo_args} {test} --exact --nocapture"),
    }
}

/// `-p PKG --test TARGET -- NAME` for the test running on this thread, if
/// this is a `cargo test` binary.
fn calling_test() -> Option<String> {
    let pkg = std::env::var("CARGO_PKG_NAME").ok()?;
    let exe = std::env::args_os().next().map(std::path::PathBuf::from)?;
    let stem = exe.file_stem()?.to_string_lossy().into_owned();
    // `cargo test` names its binaries `<target>-<16 hex digits>`.
    let (target, hash) = stem.rsplit_once('-')?;
    if hash.len() != 16 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let dir = exe.parent().and_then(|d| d.file_name()).map(|d| d.to_string_lossy().into_owned());
    let kind = if dir.as_deref() == Some("examples") {
        format!("--example {target}")
    } else if target == pkg.replace('-', "_") {
        "--lib".to_string()
    } else {
        format!("--test {target}")
    };
    let thread = std::thread::current();
    let name = thread.name().filter(|n| *n != "main").map(|n| format!(" {n}")).unwrap_or_default();
    Some(format!("-p {pkg} {kind} --{name}"))
}

/// A failure report for one violating outcome: the [`violations_report`]
/// and the commands that replay it from the calling test
/// ([`replay_commands`]).
pub fn failure_report(scenario: &dyn Scenario, outcome: &Outcome) -> String {
    violations_report(scenario, outcome) + &replay_commands(outcome.scenario, outcome.seed)
}

/// What broke in one outcome: scenario, seed, each violated invariant with
/// its statement, when, and the events around the first violation (or the
/// last ones).
pub fn violations_report(scenario: &dyn Scenario, outcome: &Outcome) -> String {
    let ended =
        if outcome.ended_when_caught { " before the sweep ended it once caught (a replay runs it whole)" } else { "" };
    let mut out = format!(
        "scenario {} seed {}: {} violation(s){ended}\n",
        outcome.scenario,
        outcome.seed,
        outcome.violations.len()
    );
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
    out
}
