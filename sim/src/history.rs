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
    /// Events kept around the first violation: (before, after).
    window: (usize, usize),
    around: Option<Around>,
}

/// The events around the first violation: up to `window.0` before it (it
/// included), then up to `window.1` after it.
#[derive(Clone, Debug, Default)]
struct Around {
    events: Vec<Event>,
    /// The violation's position in `events`.
    at: usize,
}

/// Events shown before and after the first violation in a failure report,
/// unless `STEADFAST_REPORT_WINDOW=BEFORE,AFTER` says otherwise.
pub const REPORT_WINDOW: (usize, usize) = (12, 12);

/// The report window: [`REPORT_WINDOW`] or `STEADFAST_REPORT_WINDOW`.
pub fn report_window() -> (usize, usize) {
    std::env::var("STEADFAST_REPORT_WINDOW")
        .ok()
        .and_then(|v| {
            let (b, a) = v.split_once(',')?;
            Some((b.trim().parse().ok()?, a.trim().parse().ok()?))
        })
        .unwrap_or(REPORT_WINDOW)
}

impl History {
    /// A history that keeps the last `keep_max` events in memory (all of
    /// them with `usize::MAX`).
    pub fn new(keep_max: usize) -> History {
        History { kept: VecDeque::new(), keep_max, total: 0, hash: 0x6A09_E667_F3BC_C909, window: (0, 0), around: None }
    }

    /// Also keep up to `before` events before the first violation (it
    /// included) and `after` after it, whatever `keep_max` drops later;
    /// `before` is bounded by `keep_max`.
    pub fn with_window(mut self, before: usize, after: usize) -> History {
        self.window = (before.min(self.keep_max), after);
        self
    }

    /// Append a violation: the first one opens the window around it.
    pub fn push_violation(&mut self, event: Event) {
        let first = self.around.is_none() && self.window != (0, 0);
        self.push(event);
        if first {
            let n = self.kept.len();
            let events: Vec<Event> = self.kept.iter().skip(n.saturating_sub(self.window.0.max(1))).cloned().collect();
            let at = events.len().saturating_sub(1);
            self.around = Some(Around { events, at });
        }
    }

    /// The events around the first violation and the violation's position
    /// among them, if a violation was pushed and a window is kept.
    pub fn around_first_violation(&self) -> Option<(&[Event], usize)> {
        self.around.as_ref().filter(|a| !a.events.is_empty()).map(|a| (&a.events[..], a.at))
    }

    /// Append an event.
    pub fn push(&mut self, event: Event) {
        let line = event.line();
        self.hash = steadfast_core::mix64(self.hash ^ crate::fs::hash_bytes(line.as_bytes()));
        self.total += 1;
        if self.keep_max == 0 {
            return;
        }
        if let Some(a) = &mut self.around
            && a.events.len() < a.at + 1 + self.window.1
        {
            a.events.push(event.clone());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(i: u64, what: &str) -> Event {
        Event { at_ns: i, node: "n".into(), task: "main".into(), what: what.into() }
    }

    #[test]
    fn keeps_the_window_around_the_first_violation_only() {
        let mut h = History::new(32).with_window(3, 2);
        for i in 0..10 {
            h.push(ev(i, "op"));
        }
        h.push_violation(ev(10, "VIOLATION A"));
        h.push(ev(11, "after-1"));
        h.push_violation(ev(12, "VIOLATION B"));
        for i in 13..100 {
            h.push(ev(i, "late"));
        }
        let (events, at) = h.around_first_violation().expect("a window");
        let whats: Vec<&str> = events.iter().map(|e| e.what.as_str()).collect();
        assert_eq!(whats, ["op", "op", "VIOLATION A", "after-1", "VIOLATION B"]);
        assert_eq!(at, 2);
        assert_eq!(events[0].at_ns, 8);
        // The ring has moved on long since; the window stays.
        assert_eq!(h.events().next().map(|e| e.at_ns), Some(68));
    }

    #[test]
    fn the_window_never_changes_the_hash() {
        let mut a = History::new(32).with_window(12, 12);
        let mut b = History::new(0);
        for i in 0..50 {
            let e = ev(i, if i == 20 { "VIOLATION X" } else { "op" });
            if i == 20 {
                a.push_violation(e.clone());
                b.push_violation(e);
            } else {
                a.push(e.clone());
                b.push(e);
            }
        }
        assert_eq!(a.hash(), b.hash());
        assert!(b.around_first_violation().is_none(), "no window without kept events");
    }
}
