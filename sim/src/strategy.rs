//! A proptest [`Strategy`] over fault schedules (feature `proptest`), so a
//! property test can state "for every schedule of this shape, the
//! invariants hold" and proptest shrinks a failure to a minimal schedule:
//! fewer mounts, rules and events, smaller latencies, earlier instants.
//!
//! Every schedule it generates passes [`Schedule::validate`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use proptest::prelude::*;

use crate::faults::FaultKind;
use crate::schedule::{
    CrashRule, During, ErrorRule, Event, HangRule, Latency, Mount, OP_NAMES, PauseRule, Schedule, SpikeRule,
    TimedEvent, VERSION,
};

/// The shape of the schedules to generate: what a scenario's world has
/// (path prefixes, nodes, hang points, knobs) and how big a schedule may be.
#[derive(Clone, Debug)]
pub struct Space {
    /// Seeds are drawn from `0..seeds`.
    pub seeds: u64,
    /// The chaos phase's length.
    pub duration_ms: u64,
    /// The quiet phase's length.
    pub quiet_ms: u64,
    /// Path prefixes that mounts and rules may name (absolute).
    pub prefixes: Vec<PathBuf>,
    /// Longest latency a mount may give.
    pub latency_ms_max: u64,
    /// Nodes that kill and restart events may name.
    pub nodes: Vec<String>,
    /// Hang points that hang rules may name.
    pub hang_points: Vec<String>,
    /// Knobs and their inclusive ranges.
    pub params: BTreeMap<String, (u64, u64)>,
    /// Most rules (and most events) of each kind.
    pub rules_max: usize,
}

impl Space {
    /// A space over `prefixes` with no nodes, hang points or knobs.
    pub fn new(duration_ms: u64, prefixes: &[&str]) -> Space {
        Space {
            seeds: u64::MAX,
            duration_ms,
            quiet_ms: 0,
            prefixes: prefixes.iter().map(PathBuf::from).collect(),
            latency_ms_max: 5_000,
            nodes: Vec::new(),
            hang_points: Vec::new(),
            params: BTreeMap::new(),
            rules_max: 4,
        }
    }

    /// The strategy. Panics if `prefixes` is empty (nothing to aim at).
    pub fn strategy(&self) -> BoxedStrategy<Schedule> {
        assert!(!self.prefixes.is_empty(), "a schedule space needs at least one path prefix");
        let n = self.rules_max;
        let head = (0..self.seeds.max(1), proptest::option::of(1..=500u64));
        let rules = (
            proptest::collection::vec(self.mount(), 0..=self.prefixes.len()),
            proptest::collection::vec(self.error_rule(), 0..=n),
            proptest::collection::vec(self.hang_rule(), 0..=n),
            proptest::collection::vec(self.crash_rule(), 0..=1),
            proptest::collection::vec(self.event(), 0..=n),
            self.param_values(),
            proptest::collection::vec(self.pause_rule(), 0..=n),
            proptest::collection::vec(self.spike_rule(), 0..=n),
        );
        let (duration_ms, quiet_ms) = (self.duration_ms, self.quiet_ms);
        (head, rules)
            .prop_map(
                move |(
                    (seed, metadata_commit_ms),
                    (mounts, errors, hangs, crashes, events, params, pauses, spikes),
                )| {
                    Schedule {
                        version: VERSION,
                        seed,
                        duration_ms,
                        quiet_ms,
                        metadata_commit_ms,
                        mounts,
                        errors,
                        hangs,
                        crashes,
                        pauses,
                        spikes,
                        events,
                        capacity_bytes: None,
                        silent: Vec::new(),
                        params,
                    }
                },
            )
            .boxed()
    }

    fn prefix(&self) -> impl Strategy<Value = PathBuf> + use<> {
        proptest::sample::select(self.prefixes.clone())
    }

    fn ops(&self) -> impl Strategy<Value = Vec<String>> + use<> {
        proptest::sample::subsequence(OP_NAMES, 0..=3).prop_map(|v| v.into_iter().map(String::from).collect())
    }

    fn mount(&self) -> impl Strategy<Value = Mount> + use<> {
        let max = self.latency_ms_max;
        let latency =
            (self.ops(), 0..=max, 0..=max).prop_map(|(ops, a, b)| Latency { ops, ms_min: a.min(b), ms_max: a.max(b) });
        (self.prefix(), proptest::collection::vec(latency, 1..=3))
            .prop_map(|(prefix, latency)| Mount { prefix, latency })
    }

    fn error_rule(&self) -> impl Strategy<Value = ErrorRule> + use<> {
        let kind =
            proptest::sample::select(vec![FaultKind::Eio, FaultKind::Enospc, FaultKind::Eacces, FaultKind::Enoent]);
        // One rule in five fails only files being renamed: the fence an
        // NFS server refuses, which no timed rule hits on purpose.
        let renaming = proptest::bool::weighted(0.2);
        (self.ops(), proptest::option::of(self.prefix()), kind, trigger(), renaming).prop_map(
            |(ops, path_prefix, error, (nth, probability), while_renaming)| ErrorRule {
                ops,
                path_prefix,
                error,
                nth,
                probability,
                while_renaming,
            },
        )
    }

    fn hang_rule(&self) -> BoxedStrategy<HangRule> {
        if self.hang_points.is_empty() {
            return Just(HangRule { point: "none".into(), nth: Some(1), probability: None }).boxed();
        }
        (proptest::sample::select(self.hang_points.clone()), trigger())
            .prop_map(|(point, (nth, probability))| HangRule { point, nth, probability })
            .boxed()
    }

    fn pause_rule(&self) -> impl Strategy<Value = PauseRule> + use<> {
        (self.ops(), proptest::option::of(self.prefix()), trigger(), 1..=60_000u64)
            .prop_map(|(ops, path_prefix, (nth, probability), ms)| PauseRule { ops, path_prefix, nth, probability, ms })
    }

    fn spike_rule(&self) -> impl Strategy<Value = SpikeRule> + use<> {
        (self.ops(), proptest::option::of(self.prefix()), trigger(), 0..=30_000u64, 0..=30_000u64).prop_map(
            |(ops, path_prefix, (nth, probability), a, b)| SpikeRule {
                ops,
                path_prefix,
                nth,
                probability,
                ms_min: a.min(b),
                ms_max: a.max(b),
            },
        )
    }

    fn crash_rule(&self) -> impl Strategy<Value = CrashRule> + use<> {
        let ops = proptest::sample::select(vec!["sync_file", "rename", "sync_dir", "write"]);
        (
            ops,
            proptest::option::of(self.prefix()),
            1..=8u64,
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(1..=1000u64),
        )
            .prop_map(|(op, path_prefix, nth, metadata_survives, torn, restart_after_ms)| CrashRule {
                ops: vec![op.to_string()],
                path_prefix,
                nth,
                metadata_survives,
                torn,
                restart_after_ms,
            })
    }

    fn event(&self) -> BoxedStrategy<TimedEvent> {
        let mut kinds: Vec<BoxedStrategy<Event>> = vec![
            (any::<bool>(), proptest::option::of(1..=1000u64))
                .prop_map(|(torn, restart_after_ms)| Event::PowerLoss { torn, restart_after_ms })
                .boxed(),
            (-3_600_000i64..=3_600_000).prop_map(|by_ms| Event::ClockJump { by_ms }).boxed(),
        ];
        if !self.nodes.is_empty() {
            let node = proptest::sample::select(self.nodes.clone());
            kinds.push(node.clone().prop_map(|node| Event::Kill { node }).boxed());
            kinds.push(
                (node.clone(), any::<bool>()).prop_map(|(node, reuse_pid)| Event::Restart { node, reuse_pid }).boxed(),
            );
            let during = proptest::option::of(
                proptest::sample::select(OP_NAMES)
                    .prop_map(|op| During { ops: vec![op.to_string()], path_prefix: None }),
            );
            kinds.push((node.clone(), during).prop_map(|(node, during)| Event::Terminate { node, during }).boxed());
            kinds.push((node.clone(), 1..=60_000u64).prop_map(|(node, ms)| Event::Pause { node, ms }).boxed());
            kinds.push(
                (node, -3_600_000i64..=3_600_000)
                    .prop_map(|(node, by_ms)| Event::HostClockJump { node, by_ms })
                    .boxed(),
            );
        }
        (0..=self.duration_ms, proptest::strategy::Union::new(kinds))
            .prop_map(|(at_ms, what)| TimedEvent { at_ms, what })
            .boxed()
    }

    fn param_values(&self) -> BoxedStrategy<BTreeMap<String, u64>> {
        let mut out: BoxedStrategy<BTreeMap<String, u64>> = Just(BTreeMap::new()).boxed();
        for (name, &(lo, hi)) in &self.params {
            let name = name.clone();
            out = (out, lo..=hi)
                .prop_map(move |(mut m, v)| {
                    m.insert(name.clone(), v);
                    m
                })
                .boxed();
        }
        out
    }
}

/// An nth (1..=8) or a probability (0..=0.5 in steps of 0.001, exact in
/// JSON), never neither.
fn trigger() -> impl Strategy<Value = (Option<u64>, Option<f64>)> {
    prop_oneof![
        (1..=8u64).prop_map(|n| (Some(n), None)),
        (0..=500u32).prop_map(|p| (None, Some(f64::from(p) / 1000.0)))
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn every_generated_schedule_validates_and_round_trips(s in {
            let mut space = Space::new(10_000, &["/data", "/efs"]);
            space.nodes = vec!["a".into(), "b".into()];
            space.hang_points = vec!["compaction".into()];
            space.params.insert("burst".into(), (1, 50));
            space.strategy()
        }) {
            prop_assert!(s.validate().is_ok(), "{:?}", s.validate());
            prop_assert_eq!(Schedule::from_json(&s.to_json()).expect("round trip"), s.clone());
            prop_assert!((1..=50).contains(&s.param("burst", 0)));
        }
    }
}
