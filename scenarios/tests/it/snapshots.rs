//! insta snapshots of every scenario's outcome over a fixed set of seeds:
//! the verdict per seed, checks per invariant, coverage reached, the final
//! file tree (whole when small, else its size and digest) and the history
//! hash. They live in `snapshots/`, are reviewed like code, and are never
//! accepted in CI (`INSTA_UPDATE=no`): a changed hash is a changed
//! behaviour, or broken determinism, and fails loudly.

use std::fmt::Write as _;

use steadfast_sim::runner::{self, Outcome};

/// Seeds every snapshot covers.
const SEEDS: &[u64] = &[0, 1, 2];
/// A final tree larger than this is summarised.
const TREE_SHOWN_MAX: usize = 40;

fn summary(o: &Outcome) -> String {
    let mut s = String::new();
    let verdict = if o.violated() { "VIOLATED" } else { "held" };
    let _ = writeln!(
        s,
        "seed {}: {verdict}, history {:016x} ({} events), virtual {} ms",
        o.seed,
        o.history_hash,
        o.events,
        o.sim_time.as_millis()
    );
    for v in &o.violations {
        let _ = writeln!(s, "  violation {} at {} ms", v.invariant, v.at_ms);
    }
    let checks: Vec<String> = o.checks.iter().map(|(k, n)| format!("{k}={n}")).collect();
    let _ = writeln!(s, "  checks: {}", checks.join(" "));
    let _ = writeln!(s, "  reached: {}", if o.reached.is_empty() { "-".into() } else { o.reached.join("; ") });
    if o.tree.len() <= TREE_SHOWN_MAX {
        for l in &o.tree {
            let _ = writeln!(s, "  {:?} {} {} {:016x}", l.kind, l.path.display(), l.len, l.hash);
        }
    } else {
        let digest = o.tree.iter().fold(0u64, |h, l| steadfast_core::mix64(h ^ l.hash ^ l.len));
        let _ = writeln!(s, "  tree: {} entries, digest {digest:016x}", o.tree.len());
    }
    s
}

#[test]
fn every_scenario_outcome_matches_its_reviewed_snapshot() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for sc in steadfast_scenarios::all() {
            let text: String = SEEDS.iter().map(|&seed| summary(&runner::run(sc, seed, None, usize::MAX))).collect();
            insta::assert_snapshot!(sc.name().replace(['/', '-'], "_"), text);
        }
    });
}
