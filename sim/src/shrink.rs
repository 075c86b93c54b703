//! Shrinking a failing schedule to a minimal one that still breaks the same
//! invariant: greedy one-step reductions (drop an event, an error rule, a
//! hang, a crash point, a silent rule, a mount or one of its latency rules;
//! forget the metadata commits or the disk's capacity), each kept only if the run still violates, until no
//! reduction does or the run budget is spent. Delta debugging over the
//! schedule's parts rather than proptest's value trees: a failing seed from
//! CI arrives as a concrete schedule, not as a strategy's draw.

use crate::runner::{Scenario, run};
use crate::schedule::Schedule;

/// The result of [`shrink`].
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The minimal schedule found.
    pub schedule: Schedule,
    /// The invariant it still breaks.
    pub invariant: String,
    /// Runs spent.
    pub runs: usize,
    /// Parts (rules, events, mounts) before.
    pub size_before: usize,
    /// Parts after.
    pub size_after: usize,
}

/// How many parts a schedule has: what shrinking removes.
pub fn size(s: &Schedule) -> usize {
    s.mounts.iter().map(|m| 1 + m.latency.len()).sum::<usize>()
        + s.errors.len()
        + s.hangs.len()
        + s.crashes.len()
        + s.pauses.len()
        + s.spikes.len()
        + s.events.len()
        + s.silent.len()
        + usize::from(s.metadata_commit_ms.is_some())
        + usize::from(s.capacity_bytes.is_some())
}

/// Every schedule one step smaller than `s`, most aggressive first.
fn reductions(s: &Schedule) -> Vec<Schedule> {
    let mut out = Vec::new();
    let mut push = |f: &dyn Fn(&mut Schedule)| {
        let mut c = s.clone();
        f(&mut c);
        out.push(c);
    };
    for i in 0..s.mounts.len() {
        push(&|c| drop(c.mounts.remove(i)));
    }
    for i in 0..s.events.len() {
        push(&|c| drop(c.events.remove(i)));
    }
    for i in 0..s.errors.len() {
        push(&|c| drop(c.errors.remove(i)));
    }
    for i in 0..s.hangs.len() {
        push(&|c| drop(c.hangs.remove(i)));
    }
    for i in 0..s.crashes.len() {
        push(&|c| drop(c.crashes.remove(i)));
    }
    for i in 0..s.silent.len() {
        push(&|c| drop(c.silent.remove(i)));
    }
    for i in 0..s.pauses.len() {
        push(&|c| drop(c.pauses.remove(i)));
    }
    for i in 0..s.spikes.len() {
        push(&|c| drop(c.spikes.remove(i)));
    }
    if s.metadata_commit_ms.is_some() {
        push(&|c| c.metadata_commit_ms = None);
    }
    if s.capacity_bytes.is_some() {
        push(&|c| c.capacity_bytes = None);
    }
    for (m, mount) in s.mounts.iter().enumerate() {
        for l in 0..mount.latency.len() {
            push(&|c| drop(c.mounts[m].latency.remove(l)));
        }
    }
    out
}

/// Shrink the schedule of `seed` (or `schedule`) while it still breaks the
/// invariant its run breaks first. `Err` if it does not fail at all.
pub fn shrink(
    scenario: &dyn Scenario,
    seed: u64,
    schedule: Option<Schedule>,
    runs_max: usize,
) -> Result<Shrunk, String> {
    let start = schedule.unwrap_or_else(|| scenario.schedule(seed));
    let first = run(scenario, seed, Some(start.clone()), 0);
    let Some(target) = first.violations.first().map(|v| v.invariant.clone()) else {
        return Err(format!("scenario {} seed {seed} breaks no invariant: nothing to shrink", scenario.name()));
    };
    let (mut current, mut runs) = (start.clone(), 1);
    'outer: while runs < runs_max {
        for candidate in reductions(&current) {
            if runs >= runs_max {
                break 'outer;
            }
            runs += 1;
            let o = run(scenario, seed, Some(candidate.clone()), 0);
            if o.violations.iter().any(|v| v.invariant == target) {
                current = candidate;
                continue 'outer;
            }
        }
        break;
    }
    Ok(Shrunk { size_before: size(&start), size_after: size(&current), schedule: current, invariant: target, runs })
}
