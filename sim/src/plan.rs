//! The plan: every decision the world makes about one operation, as a
//! function of the schedule, the rule counters and the world's random
//! stream, before anything happens. How long it takes, where in its window
//! its effect lands, which injected error or silent fault it meets and
//! whether the power goes out after it. The disk applies what was decided;
//! nothing here touches the tree.
//!
//! The order of random draws is part of every seed's history: latency,
//! effect instant, error rules, partial write, silent rules, then pause rules. A new
//! mechanism draws after the existing ones, and only when the schedule
//! names it, so seeds that do not use it replay as before.

use std::collections::BTreeMap;
use std::path::Path;

use steadfast_core::FsOp;

use crate::faults::{FaultKind, SilentFault};
use crate::rng::SimRng;
use crate::schedule::{Mount, OpPaths, Schedule, Spelled};

/// Cap on per-entry latency draws of one `remove_dir_all`.
const TREE_DRAWS_MAX: u64 = 100_000;

/// File operations that may begin within one virtual second before the
/// run is ended as making no progress (RUN4): far more than any honest
/// burst.
pub const SAME_INSTANT_OPS_MAX: u64 = 1_000_000;

/// A silent fault chosen for one operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Silent {
    pub fault: SilentFault,
    /// The rule's index in `silent`.
    pub rule: usize,
    /// A raw draw the disk reduces when the effect lands (which bit, which
    /// other file), since only then is the tree known.
    pub pick: u64,
}

/// What the plan decided for one operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub latency_ns: u64,
    /// The effect's offset inside the window, `0..=latency_ns`.
    pub lands_ns: u64,
    pub fault: Option<(FaultKind, usize)>,
    /// With a fault on a write or append: how many bytes still land.
    pub partial: Option<usize>,
    /// The crash rule whose power loss follows this operation's effect.
    pub crash: Option<usize>,
    pub silent: Option<Silent>,
    /// The pause point that freezes the caller's process around this
    /// operation (its index in `pauses`, `None` for one the workload
    /// armed), and for how long after its window.
    pub pause: Option<(Option<usize>, u64)>,
    /// The spike rule that lengthens this operation's window (its index
    /// in `spikes`), and by how many ms (in `latency_ns` already).
    pub spike: Option<(usize, u64)>,
}

/// Rule counters: how many operations each rule has matched.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    errors: Vec<u64>,
    crashes: Vec<u64>,
    silent: Vec<u64>,
    pauses: Vec<u64>,
    spikes: Vec<u64>,
    hangs: Vec<u64>,
    /// Operations begun during the chaos phase, by name: the crash points
    /// a run offers (see `runner::crash_points`).
    pub chaos_ops: BTreeMap<&'static str, u64>,
    /// File operations begun since virtual time last moved by a second:
    /// (when that window began, how many) (RUN4).
    ops_window: (u64, u64),
}

impl Counters {
    pub fn new(schedule: &Schedule) -> Counters {
        Counters {
            errors: vec![0; schedule.errors.len()],
            crashes: vec![0; schedule.crashes.len()],
            silent: vec![0; schedule.silent.len()],
            pauses: vec![0; schedule.pauses.len()],
            spikes: vec![0; schedule.spikes.len()],
            hangs: vec![0; schedule.hangs.len()],
            chaos_ops: BTreeMap::new(),
            ops_window: (0, 0),
        }
    }

    /// Count an operation begun at `t0_ns`; false when more than
    /// [`SAME_INSTANT_OPS_MAX`] began within one virtual second (RUN4: a
    /// workload looping on zero-latency operations barely moves virtual
    /// time and would spin for ever).
    pub fn progress(&mut self, t0_ns: u64) -> bool {
        let (at, n) = self.ops_window;
        self.ops_window = if t0_ns.saturating_sub(at) < 1_000_000_000 { (at, n + 1) } else { (t0_ns, 1) };
        self.ops_window.1 <= SAME_INSTANT_OPS_MAX
    }
}

/// Where an operation stands when it begins.
pub(crate) struct At<'a> {
    /// Before the end of the chaos phase: faults may fire.
    pub chaos: bool,
    /// A crash point is armed already (one at a time).
    pub crash_armed: bool,
    /// Entries under a path (a `remove_dir_all` draws once per entry).
    pub tree_count: &'a dyn Fn(&Path) -> u64,
    /// Is a path the source of a rename issued and not yet landed?
    /// (Asked only for an error rule `while_renaming`.)
    pub renaming: &'a dyn Fn(&Path) -> bool,
}

/// Decide everything about `op`.
pub(crate) fn plan(schedule: &Schedule, counters: &mut Counters, rng: &mut SimRng, op: &FsOp, at: &At<'_>) -> Plan {
    let paths = OpPaths::new(op);
    let mut latency_ns = latency_ns(schedule, rng, &paths, at.tree_count);
    let spike = if at.chaos { spike(schedule, counters, rng, &paths) } else { None };
    if let Some((_, ms)) = spike {
        latency_ns = latency_ns.saturating_add(ms.saturating_mul(1_000_000));
    }
    let lands_ns = rng.range(0, latency_ns);
    debug_assert!(lands_ns <= latency_ns, "an effect lands inside its window");
    if at.chaos {
        *counters.chaos_ops.entry(op.name()).or_insert(0) += 1;
    }
    let fault = if at.chaos { fault(schedule, counters, rng, &paths, at.renaming) } else { None };
    let partial = match (op, fault) {
        // An exclusive create is all or nothing (the `Fs` contract): a
        // failed one leaves no partial file.
        (FsOp::Write { data, .. } | FsOp::Append { data, .. } | FsOp::WriteAt { data, .. }, Some(_))
            if rng.chance(0.5) =>
        {
            Some(rng.range(0, data.len() as u64) as usize)
        }
        _ => None,
    };
    // Every op in the chaos phase counts toward a crash rule's nth, as the
    // enumeration counts them: one that fails (an injected error) cuts the
    // power right after its error too.
    let crash = if at.chaos { crash(schedule, counters, &paths, at.crash_armed) } else { None };
    let silent = if at.chaos { silent(schedule, counters, rng, &paths, fault.is_some()) } else { None };
    let pause = if at.chaos { pause(schedule, counters, rng, &paths) } else { None };
    Plan { latency_ns, lands_ns, fault, partial, crash, silent, pause, spike }
}

/// The latency of `op`: drawn from the first matching rule of the mount
/// with the longest prefix over its path; an op with two paths (a rename
/// across mounts) takes the slower of the two mounts' draws, as error and
/// crash rules match either path.
fn latency_ns(schedule: &Schedule, rng: &mut SimRng, paths: &OpPaths<'_>, tree_count: &dyn Fn(&Path) -> u64) -> u64 {
    let mount_of = |path: Spelled<'_>| {
        schedule.mounts.iter().filter(|m| path.under(&m.prefix)).max_by_key(|m| m.prefix.as_os_str().len())
    };
    let first = mount_of(paths.first);
    let second = paths.second.and_then(mount_of).filter(|m| first.is_none_or(|f| !std::ptr::eq(*m, f)));
    [first, second].into_iter().flatten().map(|m| mount_latency_ns(m, rng, paths.op, tree_count)).max().unwrap_or(0)
}

fn mount_latency_ns(mount: &Mount, rng: &mut SimRng, op: &FsOp, tree_count: &dyn Fn(&Path) -> u64) -> u64 {
    let Some(l) = mount.latency.iter().find(|l| l.ops.is_empty() || l.ops.iter().any(|o| o == op.name())) else {
        return 0;
    };
    let draws = if let FsOp::RemoveDirAll(p) = op { tree_count(p).min(TREE_DRAWS_MAX) } else { 1 };
    (0..draws).map(|_| rng.range(l.ms_min, l.ms_max).saturating_mul(1_000_000)).sum()
}

/// The spike rule that fires on `op` and its extra latency in ms. Draws
/// nothing when the schedule has no spike rules, so adding the rule kind
/// moved no history.
fn spike(schedule: &Schedule, counters: &mut Counters, rng: &mut SimRng, op: &OpPaths<'_>) -> Option<(usize, u64)> {
    first_fired(&schedule.spikes, &mut counters.spikes, rng, op, |_| true)
        .map(|(i, r)| (i, rng.range(r.ms_min, r.ms_max)))
}

/// A rule that fires on its nth matching operation, or on each by
/// probability (error, pause and spike rules).
trait Triggered {
    fn counts_op(&self, op: &OpPaths<'_>) -> bool;
    fn trigger(&self) -> (Option<u64>, Option<f64>);
}

macro_rules! triggered {
    ($($rule:ty),*) => {$(
        impl Triggered for $rule {
            fn counts_op(&self, op: &OpPaths<'_>) -> bool {
                self.counts(op)
            }
            fn trigger(&self) -> (Option<u64>, Option<f64>) {
                (self.nth, self.probability)
            }
        }
    )*};
}

triggered!(crate::schedule::ErrorRule, crate::schedule::PauseRule, crate::schedule::SpikeRule);

/// The first of `rules` that fires on `op`; every matching rule counts the
/// operation toward its nth (and draws for its probability) all the same.
/// `qualifies` narrows a rule further, by what the world knows beyond the
/// operation (asked only of a rule the operation matches).
fn first_fired<'r, R: Triggered>(
    rules: &'r [R],
    counts: &mut [u64],
    rng: &mut SimRng,
    op: &OpPaths<'_>,
    qualifies: impl Fn(&R) -> bool,
) -> Option<(usize, &'r R)> {
    let mut fired = None;
    for (i, rule) in rules.iter().enumerate() {
        if !rule.counts_op(op) || !qualifies(rule) {
            continue;
        }
        counts[i] += 1;
        let (nth, probability) = rule.trigger();
        if fires(nth, probability, counts[i], rng) && fired.is_none() {
            fired = Some((i, rule));
        }
    }
    fired
}

fn fault(
    schedule: &Schedule,
    counters: &mut Counters,
    rng: &mut SimRng,
    op: &OpPaths<'_>,
    renaming: &dyn Fn(&Path) -> bool,
) -> Option<(FaultKind, usize)> {
    let qualifies = |r: &crate::schedule::ErrorRule| !r.while_renaming || renaming(op.op.path());
    first_fired(&schedule.errors, &mut counters.errors, rng, op, qualifies).map(|(i, r)| (r.error, i))
}

/// Does a pause point the workload armed for node `node` fire on `op`?
/// Its `ms` if so; a fired point is disarmed.
pub(crate) fn armed_pause(
    armed: &mut Vec<(usize, crate::schedule::PauseRule, u64)>,
    rng: &mut SimRng,
    node: usize,
    op: &FsOp,
) -> Option<u64> {
    let paths = OpPaths::new(op);
    let mut fired = None;
    armed.retain_mut(|(n, rule, count)| {
        if *n != node || !rule.counts(&paths) {
            return true;
        }
        *count += 1;
        let hit = fires(rule.nth, rule.probability, *count, rng) && fired.is_none();
        if hit {
            fired = Some(rule.ms);
        }
        !hit
    });
    fired
}

/// Does a rule with this trigger fire on its `count`-th match? Exactly
/// the nth, or by chance (a draw only when the rule has a probability and
/// its nth did not match: the order of draws is part of every seed).
fn fires(nth: Option<u64>, probability: Option<f64>, count: u64, rng: &mut SimRng) -> bool {
    nth == Some(count) || probability.is_some_and(|p| rng.chance(p))
}

/// The crash rule this operation triggers, if any (one crash at a time).
fn crash(schedule: &Schedule, counters: &mut Counters, op: &OpPaths<'_>, armed: bool) -> Option<usize> {
    let mut fired = None;
    for (i, rule) in schedule.crashes.iter().enumerate() {
        if rule.counts(op) {
            counters.crashes[i] += 1;
            if rule.nth == counters.crashes[i] && fired.is_none() && !armed {
                fired = Some(i);
            }
        }
    }
    fired
}

/// The silent fault this operation meets, if any: never on top of an
/// injected error, but every matching operation counts toward a rule's nth.
fn silent(
    schedule: &Schedule,
    counters: &mut Counters,
    rng: &mut SimRng,
    op: &OpPaths<'_>,
    failed: bool,
) -> Option<Silent> {
    let mut fired = None;
    for (i, rule) in schedule.silent.iter().enumerate() {
        if !rule.counts(op) {
            continue;
        }
        counters.silent[i] += 1;
        let hit = fires(rule.nth, rule.probability, counters.silent[i], rng);
        if hit && fired.is_none() && !failed {
            fired = Some(Silent { fault: rule.fault, rule: i, pick: rng.next_u64() });
        }
    }
    fired
}

/// The pause rule this operation triggers, if any: the first that fires
/// (every matching rule counts the operation toward its nth).
fn pause(
    schedule: &Schedule,
    counters: &mut Counters,
    rng: &mut SimRng,
    op: &OpPaths<'_>,
) -> Option<(Option<usize>, u64)> {
    first_fired(&schedule.pauses, &mut counters.pauses, rng, op, |_| true).map(|(i, r)| (Some(i), r.ms))
}

/// Does this call of hang point `point` hang? Every call counts toward a
/// rule's nth; only chaos-phase calls hang.
pub(crate) fn hang(schedule: &Schedule, counters: &mut Counters, rng: &mut SimRng, point: &str, chaos: bool) -> bool {
    let mut fire = false;
    for (i, rule) in schedule.hangs.iter().enumerate() {
        if rule.point != point {
            continue;
        }
        counters.hangs[i] += 1;
        let p = rule.probability.unwrap_or(0.0);
        fire |= chaos && (rule.nth == Some(counters.hangs[i]) || rng.chance(p));
    }
    fire
}
