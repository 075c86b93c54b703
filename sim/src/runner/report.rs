//! What a failing seed prints: the violations with their promises, the
//! events around the first violation, and the commands that replay it.

use super::{Outcome, RUNNER_INVARIANTS, Scenario};

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
