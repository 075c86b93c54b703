//! The run's history in the Chrome trace event format (opens in Perfetto
//! or `chrome://tracing`): one track per node and task; every file operation a span
//! over its latency window, with the instant its effect landed; faults,
//! crashes, stalls, notes and invariant violations as instant events.
//! Recorded only in replay mode: a sweep pays nothing for it.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// Chrome trace events of one run.
#[derive(Default)]
pub(crate) struct ChromeTrace {
    events: Vec<Value>,
    tracks: BTreeMap<String, u64>,
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1_000.0
}

impl ChromeTrace {
    /// One track per node and task.
    fn track(&mut self, node: &str, task: &str) -> u64 {
        let next = self.tracks.len() as u64;
        let key = if node == "-" { "world".to_string() } else { format!("{node}/{task}") };
        *self.tracks.entry(key).or_insert(next)
    }

    /// A file operation's latency window.
    pub(crate) fn span(&mut self, node: &str, task: &str, name: &str, t0_ns: u64, dur_ns: u64, args: Value) {
        let tid = self.track(node, task);
        self.events.push(json!({"name": name, "cat": "fs", "ph": "X", "ts": us(t0_ns), "dur": us(dur_ns), "pid": 1, "tid": tid, "args": args}));
    }

    /// Anything that happens at an instant (an effect landing, a fault, a
    /// crash, a violation, a note).
    pub(crate) fn instant(&mut self, node: &str, task: &str, at_ns: u64, what: &str) {
        let tid = self.track(node, task);
        let cat = if what.starts_with("VIOLATION") {
            "violation"
        } else if what.contains("ERR ")
            || what.starts_with("POWER")
            || what.contains("killed")
            || what.starts_with("HANG")
        {
            "fault"
        } else if what.trim_start().starts_with("= ") {
            "effect"
        } else {
            "event"
        };
        let scope = if node == "-" { "g" } else { "t" };
        self.events.push(
            json!({"name": what.trim(), "cat": cat, "ph": "i", "s": scope, "ts": us(at_ns), "pid": 1, "tid": tid}),
        );
    }

    /// The whole trace as JSON, tracks named after their nodes.
    pub(crate) fn to_json(&self) -> String {
        let mut all: Vec<Value> = self
            .tracks
            .iter()
            .map(|(name, tid)| json!({"name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": {"name": name}}))
            .collect();
        all.extend(self.events.iter().cloned());
        json!({"traceEvents": all, "displayTimeUnit": "ms"}).to_string()
    }
}
