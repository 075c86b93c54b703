//! RUN3: the same seed and schedule must give the same history; when two
//! runs differ, name the first differing event and the common ones before it.

use super::{Outcome, Scenario, run};
use crate::log::Record as Event;

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
    // What the hash covers: instant, node and event (not the task label).
    let key = |e: Option<&Event>| e.map(|e| (e.at_ns, e.node.clone(), e.event.clone()));
    let diverge = (start..end).find(|&i| key(at(a, first_a, i)) != key(at(b, first_b, i)));
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
