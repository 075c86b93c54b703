//! The run's records in the Chrome trace event format (opens in Perfetto
//! or `chrome://tracing`): one track per node and task; every file
//! operation a span over its latency window, with the instant its effect
//! landed; faults, crashes, stalls, notes and invariant violations as
//! instant events. A renderer of the typed records, like the text
//! timeline: a replay keeps every record, a sweep renders nothing.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::event::{Record, SimEvent};
use super::text;

fn us(ns: u64) -> f64 {
    ns as f64 / 1_000.0
}

/// The Chrome trace JSON of `records`, tracks named after their nodes and
/// tasks.
pub fn chrome_trace<'a>(records: impl IntoIterator<Item = &'a Record>) -> String {
    let mut tracks: BTreeMap<String, u64> = BTreeMap::new();
    let mut events = Vec::new();
    for r in records {
        let key = if &*r.node == "-" { "world".to_string() } else { format!("{}/{}", r.node, r.task) };
        let next = tracks.len() as u64;
        let tid = *tracks.entry(key).or_insert(next);
        events.push(event(r, tid));
    }
    let mut all: Vec<Value> = tracks
        .iter()
        .map(|(name, tid)| json!({"name": "thread_name", "ph": "M", "pid": 1, "tid": tid, "args": {"name": name}}))
        .collect();
    all.extend(events);
    json!({"traceEvents": all, "displayTimeUnit": "ms"}).to_string()
}

fn event(r: &Record, tid: u64) -> Value {
    if let SimEvent::OpBegun { op, path, to, blocking, window_ns, lands_ns } = &r.event {
        let args = json!({
            "path": path.display().to_string(),
            "to": to.as_ref().map(|p| p.display().to_string()),
            "blocking": blocking,
            "lands_at_ms": (r.at_ns + lands_ns) as f64 / 1e6,
        });
        return json!({"name": op, "cat": "fs", "ph": "X", "ts": us(r.at_ns), "dur": us(*window_ns), "pid": 1, "tid": tid, "args": args});
    }
    let scope = if &*r.node == "-" { "g" } else { "t" };
    let name = text::what(&r.event);
    json!({"name": name.trim(), "cat": text::category(&r.event), "ph": "i", "s": scope, "ts": us(r.at_ns), "pid": 1, "tid": tid})
}
