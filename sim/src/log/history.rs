//! The ordered history of a run and its hash. The hash covers every record
//! (its instant, node and typed event, not its task label) even when only
//! the last few are kept in memory (sweeps), so two runs of a seed agree on
//! the hash exactly when they agree on the whole history.

use std::collections::VecDeque;

use super::event::Record;

/// The history of one run.
#[derive(Clone, Debug)]
pub struct History {
    kept: VecDeque<Record>,
    keep_max: usize,
    total: u64,
    hash: u64,
    /// Events kept around the first violation: (before, after).
    window: (usize, usize),
    around: Option<Around>,
    /// A violation was pushed.
    violated: bool,
}

/// The events around the first violation: up to `window.0` before it (it
/// included), then up to `window.1` after it.
#[derive(Clone, Debug, Default)]
struct Around {
    events: Vec<Record>,
    /// The violation's position in `events`.
    at: usize,
}

/// Events shown before and after the first violation in a failure report,
/// unless `STEADFAST_REPORT_WINDOW=BEFORE,AFTER` says otherwise.
pub const REPORT_WINDOW: (usize, usize) = (12, 12);

/// The report window: [`REPORT_WINDOW`] or `STEADFAST_REPORT_WINDOW`
/// (`B,A`: B events up to and including the violation, A after it).
/// Panics on a value that is not two numbers, as the other variables do:
/// a typo must not quietly show the default.
pub fn report_window() -> (usize, usize) {
    try_report_window().unwrap_or_else(|e| panic!("{e}"))
}

/// [`report_window`], the malformed value as an error (for a command
/// line that reports bad input without a panic).
pub fn try_report_window() -> Result<(usize, usize), String> {
    let Ok(v) = std::env::var("STEADFAST_REPORT_WINDOW") else { return Ok(REPORT_WINDOW) };
    let parsed = v.split_once(',').and_then(|(b, a)| Some((b.trim().parse().ok()?, a.trim().parse().ok()?)));
    parsed.ok_or_else(|| format!("STEADFAST_REPORT_WINDOW={v:?} is not BEFORE,AFTER (two numbers, as 12,12)"))
}

impl History {
    /// A history that keeps the last `keep_max` events in memory (all of
    /// them with `usize::MAX`).
    pub fn new(keep_max: usize) -> History {
        History {
            kept: VecDeque::new(),
            keep_max,
            total: 0,
            hash: super::hash::SEED,
            window: (0, 0),
            around: None,
            violated: false,
        }
    }

    /// Also keep up to `before` events before the first violation (it
    /// included) and `after` after it, whatever `keep_max` drops later;
    /// `before` is bounded by `keep_max`.
    pub fn with_window(mut self, before: usize, after: usize) -> History {
        self.window = (before.min(self.keep_max), after);
        self
    }

    /// Append a record; the first violation opens the window around it.
    pub fn push(&mut self, record: Record) {
        let violation = record.event.is_violation();
        let first = violation && self.around.is_none() && self.window != (0, 0);
        self.violated |= violation;
        self.hash = super::hash::chain(self.hash, &record);
        self.total += 1;
        if self.keep_max == 0 {
            return;
        }
        if let Some(a) = &mut self.around
            && a.events.len() < a.at + 1 + self.window.1
        {
            a.events.push(record.clone());
        }
        if self.kept.len() == self.keep_max {
            self.kept.pop_front();
        }
        self.kept.push_back(record);
        if first {
            let n = self.kept.len();
            let events: Vec<Record> = self.kept.iter().skip(n.saturating_sub(self.window.0.max(1))).cloned().collect();
            let at = events.len().saturating_sub(1);
            self.around = Some(Around { events, at });
        }
    }

    /// The events around the first violation and the violation's position
    /// among them, if a violation was pushed and a window is kept.
    pub fn around_first_violation(&self) -> Option<(&[Record], usize)> {
        self.around.as_ref().filter(|a| !a.events.is_empty()).map(|a| (&a.events[..], a.at))
    }

    /// Is the first violation recorded with everything its report shows:
    /// the window's events after it are in too (or none are kept)? From
    /// here on, the rest of the run changes neither the verdict nor the
    /// report of its first violation.
    pub fn first_violation_reported(&self) -> bool {
        self.violated
            && match &self.around {
                Some(a) => a.events.len() >= a.at + 1 + self.window.1,
                None => true,
            }
    }

    /// The hash of every record pushed so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// How many records were pushed.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The records kept in memory, oldest first.
    pub fn events(&self) -> impl Iterator<Item = &Record> {
        self.kept.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::SimEvent;

    fn ev(i: u64, violation: Option<&str>) -> Record {
        let event = match violation {
            Some(id) => SimEvent::Violation { invariant: id.into(), message: String::new() },
            None => SimEvent::Note { text: format!("op {i}") },
        };
        Record { at_ns: i, node: "n".into(), task: "main".into(), event }
    }

    #[test]
    fn keeps_the_window_around_the_first_violation_only() {
        let mut h = History::new(32).with_window(3, 2);
        for i in 0..10 {
            h.push(ev(i, None));
        }
        h.push(ev(10, Some("A")));
        h.push(ev(11, None));
        h.push(ev(12, Some("B")));
        for i in 13..100 {
            h.push(ev(i, None));
        }
        let (events, at) = h.around_first_violation().expect("a window");
        let times: Vec<u64> = events.iter().map(|e| e.at_ns).collect();
        assert_eq!(times, [8, 9, 10, 11, 12]);
        assert_eq!(at, 2);
        assert!(events[at].event.is_violation());
        // The ring has moved on long since; the window stays.
        assert_eq!(h.events().next().map(|e| e.at_ns), Some(68));
    }

    #[test]
    fn the_first_violation_is_reported_once_its_window_is_full() {
        let mut h = History::new(32).with_window(3, 2);
        for i in 0..5 {
            h.push(ev(i, None));
        }
        assert!(!h.first_violation_reported(), "no violation yet");
        h.push(ev(5, Some("A")));
        assert!(!h.first_violation_reported(), "its report shows two events after it");
        h.push(ev(6, None));
        assert!(!h.first_violation_reported());
        h.push(ev(7, Some("B")));
        assert!(h.first_violation_reported());
        // Without a window (nothing kept), the violation alone is the report.
        let mut bare = History::new(0);
        bare.push(ev(0, None));
        assert!(!bare.first_violation_reported());
        bare.push(ev(1, Some("A")));
        assert!(bare.first_violation_reported());
    }

    #[test]
    fn the_window_never_changes_the_hash() {
        let mut a = History::new(32).with_window(12, 12);
        let mut b = History::new(0);
        for i in 0..50 {
            let e = ev(i, (i == 20).then_some("X"));
            a.push(e.clone());
            b.push(e);
        }
        assert_eq!(a.hash(), b.hash());
        assert!(b.around_first_violation().is_none(), "no window without kept events");
    }
}
