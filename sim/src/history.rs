//! The ordered history of a run: every file operation (its window and the
//! instant its effect landed), fault, crash, stall, coverage point and
//! violation, with a hash over all of it. The hash covers every event even
//! when only the last few are kept in memory (sweeps), so two runs of a seed
//! agree on the hash exactly when they agree on the whole history.

use std::collections::VecDeque;
use std::fmt::Write as _;

/// One event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Virtual nanoseconds since the start of the run.
    pub at_ns: u64,
    /// The node it happened on (`-` for the world itself).
    pub node: String,
    /// The task on that node: the name it was spawned with through the
    /// `Spawn` seam (`heartbeat`, `lock-watchdog`...), or `main`.
    pub task: String,
    /// What happened.
    pub what: String,
}

impl Event {
    /// One aligned line of the plain-text timeline.
    pub fn line(&self) -> String {
        let mut s = String::with_capacity(64 + self.what.len());
        let ms = self.at_ns / 1_000_000;
        let us = (self.at_ns / 1_000) % 1_000;
        let _ = write!(s, "{ms:>9}.{us:03}ms  {:<10}  {:<16}  {}", self.node, self.task, self.what);
        s
    }
}

/// The history of one run.
#[derive(Clone, Debug)]
pub struct History {
    kept: VecDeque<Event>,
    keep_max: usize,
    total: u64,
    hash: u64,
}

impl History {
    /// A history that keeps the last `keep_max` events in memory (all of
    /// them with `usize::MAX`).
    pub fn new(keep_max: usize) -> History {
        History { kept: VecDeque::new(), keep_max, total: 0, hash: 0x6A09_E667_F3BC_C909 }
    }

    /// Append an event.
    pub fn push(&mut self, event: Event) {
        let line = event.line();
        self.hash = steadfast_core::mix64(self.hash ^ crate::fs::hash_bytes(line.as_bytes()));
        self.total += 1;
        if self.keep_max == 0 {
            return;
        }
        if self.kept.len() == self.keep_max {
            self.kept.pop_front();
        }
        self.kept.push_back(event);
    }

    /// The hash of every event pushed so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// How many events were pushed.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The events kept in memory, oldest first.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.kept.iter()
    }

    /// The last `n` kept events.
    pub fn last(&self, n: usize) -> Vec<Event> {
        self.kept.iter().skip(self.kept.len().saturating_sub(n)).cloned().collect()
    }
}
