//! The fault schedule: one JSON document that says everything about a run
//! that is not the workload's code. Generated from the seed by default
//! (each scenario draws its own swarm of fault rates), loadable from a file,
//! and small enough to shrink.
//!
//! ```json
//! {
//!   "version": 1, "seed": 42, "duration_ms": 60000, "quiet_ms": 30000,
//!   "mounts": [{ "prefix": "/efs", "latency": [{ "ops": ["rename"], "ms_min": 50, "ms_max": 5000 }] }],
//!   "errors": [{ "ops": ["write"], "path_prefix": "/efs", "error": "enospc", "nth": 3 }],
//!   "hangs": [{ "point": "compaction", "nth": 1 }],
//!   "events": [{ "at_ms": 1200, "kind": "power_loss", "torn": true, "restart_after_ms": 100 }],
//!   "params": { "burst": 12 }
//! }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::faults::FaultKind;

/// The schedule format version this build reads and writes.
pub const VERSION: u32 = 1;

/// The bounds every schedule is held to, generated or loaded: past them a
/// run would hang, overflow or exhaust memory, so [`Schedule::validate`]
/// rejects it with one line naming the field.
pub mod limits {
    /// `duration_ms + quiet_ms`: two days of virtual time.
    pub const RUN_MS_MAX: u64 = 48 * 3_600_000;
    /// A latency rule's `ms_max`, `metadata_commit_ms`, `restart_after_ms`.
    pub const DELAY_MS_MAX: u64 = 3_600_000;
    /// A clock jump, either way: ten years.
    pub const CLOCK_JUMP_MS_MAX: u64 = 10 * 365 * 86_400_000;
    /// Mounts, latency rules per mount, error, hang and crash rules, each.
    pub const RULES_MAX: usize = 256;
    /// Timed events.
    pub const EVENTS_MAX: usize = 10_000;
    /// A rule's `nth`.
    pub const NTH_MAX: u64 = 1_000_000_000;
    /// Operations named by one rule, and bytes of a path or a name.
    pub const NAME_MAX: usize = 4_096;
    /// Parameters of one schedule.
    pub const PARAMS_MAX: usize = 64;
    /// A parameter's value, for a scenario that declares none of its own.
    pub const PARAM_DEFAULT_MAX: u64 = 1_000_000;
}

/// A scenario's knob in `params`: its name, its largest value (a run over
/// it would hang or exhaust memory) and what it does.
#[derive(Clone, Copy, Debug)]
pub struct ParamSpec {
    /// The key in `params`.
    pub name: &'static str,
    /// The largest value accepted.
    pub max: u64,
    /// What it sets.
    pub doc: &'static str,
}

/// Every operation name a rule may name (see `steadfast_core::FsOp::name`).
pub const OP_NAMES: &[&str] = &[
    "create_dir_all",
    "read",
    "write",
    "append",
    "create_new",
    "rename",
    "remove_file",
    "remove_dir",
    "remove_dir_all",
    "read_dir",
    "symlink_metadata",
    "metadata",
    "sync_file",
    "sync_dir",
    "symlink",
    "read_link",
];

/// A fault schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Format version; must be [`VERSION`].
    pub version: u32,
    /// The seed of the run (scheduling, fs decisions, workload choices).
    pub seed: u64,
    /// Length of the chaos phase: faults fire only before this instant.
    pub duration_ms: u64,
    /// Length of the quiet phase after it, in which liveness must recover.
    #[serde(default)]
    pub quiet_ms: u64,
    /// Every this many ms the kernel commits directory metadata (creates,
    /// renames, unlinks) to disk on its own, as ext4's journal does, while
    /// file data stays volatile until `sync_file`: how a rename can survive
    /// a power loss that its file's data does not. Never if absent.
    #[serde(default)]
    pub metadata_commit_ms: Option<u64>,
    /// Latency profiles by path prefix.
    #[serde(default)]
    pub mounts: Vec<Mount>,
    /// Error rules.
    #[serde(default)]
    pub errors: Vec<ErrorRule>,
    /// Hang rules.
    #[serde(default)]
    pub hangs: Vec<HangRule>,
    /// Targeted crash points: a power loss right after the nth matching
    /// operation's effect lands.
    #[serde(default)]
    pub crashes: Vec<CrashRule>,
    /// Timed events.
    #[serde(default)]
    pub events: Vec<TimedEvent>,
    /// Scenario-specific knobs (burst sizes, entry counts...), chosen by the
    /// scenario's generator and read by its workload.
    #[serde(default)]
    pub params: BTreeMap<String, u64>,
}

/// Latency for operations under a path prefix (the longest matching prefix
/// wins).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    /// Absolute path prefix.
    pub prefix: PathBuf,
    /// Latency by operation; the first rule naming the operation (or naming
    /// none) applies.
    pub latency: Vec<Latency>,
}

/// A latency window, drawn uniformly per operation. An operation's effect
/// lands at a seeded instant inside it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    /// Operation names; empty means all.
    #[serde(default)]
    pub ops: Vec<String>,
    /// Shortest latency.
    pub ms_min: u64,
    /// Longest latency.
    pub ms_max: u64,
}

/// Inject an error into matching operations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRule {
    /// Operation names; empty means all.
    #[serde(default)]
    pub ops: Vec<String>,
    /// Only operations on paths under this prefix.
    #[serde(default)]
    pub path_prefix: Option<PathBuf>,
    /// The error.
    pub error: FaultKind,
    /// Fire on exactly the nth matching operation (1-based).
    #[serde(default)]
    pub nth: Option<u64>,
    /// Fire on each matching operation with this probability.
    #[serde(default)]
    pub probability: Option<f64>,
}

/// A targeted crash point, in the style of LazyFS and CrashMonkey: the
/// whole world loses power the instant the nth matching operation's effect
/// lands, before any later effect and before its caller sees the result.
/// Crash bugs cluster at fsync, rename and directory-fsync boundaries, so a
/// small scenario enumerates every one of them (see
/// `runner::crash_points`) instead of hoping a timed power loss hits one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrashRule {
    /// Operation names; empty means all.
    #[serde(default)]
    pub ops: Vec<String>,
    /// Only operations on paths under this prefix.
    #[serde(default)]
    pub path_prefix: Option<PathBuf>,
    /// Crash after exactly the nth matching operation (1-based).
    pub nth: u64,
    /// The kernel committed directory metadata just before the loss (ext4's
    /// journal can do so at any instant), while unsynced file data is lost:
    /// the worst case for a rename whose file was never fsynced.
    #[serde(default)]
    pub metadata_survives: bool,
    /// Keep a seeded prefix of unsynced appended data (torn writes).
    #[serde(default)]
    pub torn: bool,
    /// Restart every node this long after the loss; never if absent.
    #[serde(default)]
    pub restart_after_ms: Option<u64>,
}

impl CrashRule {
    /// Does this rule count `op` (by name and path)?
    pub fn matches(&self, op: &steadfast_core::FsOp) -> bool {
        op_matches(&self.ops, self.path_prefix.as_deref(), op)
    }
}

impl ErrorRule {
    /// Does this rule count `op` (by name and path)?
    pub fn matches(&self, op: &steadfast_core::FsOp) -> bool {
        op_matches(&self.ops, self.path_prefix.as_deref(), op)
    }
}

/// An operation matches when its name is listed (or none is) and either of
/// its paths lies under the prefix (or there is none).
fn op_matches(ops: &[String], prefix: Option<&Path>, op: &steadfast_core::FsOp) -> bool {
    let op_ok = ops.is_empty() || ops.iter().any(|o| o == op.name());
    op_ok && prefix.is_none_or(|pre| op.path().starts_with(pre) || op.second_path().is_some_and(|p| p.starts_with(pre)))
}

/// Make a named hang point's future never complete.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HangRule {
    /// The hang point's name (a scenario wraps a future with it).
    pub point: String,
    /// Hang exactly the nth call (1-based).
    #[serde(default)]
    pub nth: Option<u64>,
    /// Hang each call with this probability.
    #[serde(default)]
    pub probability: Option<f64>,
}

/// An event at an instant of the chaos phase. (Unknown fields are still
/// rejected: by [`Event`], which receives every field but `at_ms`.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimedEvent {
    /// When, in virtual ms since the start.
    pub at_ms: u64,
    /// What.
    #[serde(flatten)]
    pub what: Event,
}

/// What a timed event does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// Kill a node's process (SIGKILL): its tasks stop; the kernel still
    /// completes its in-flight file operations and keeps its page cache.
    Kill {
        /// The node's name.
        node: String,
    },
    /// Restart a node (killing it first if it runs): its init runs again
    /// with a new pid, or with its previous pid if `reuse_pid`.
    Restart {
        /// The node's name.
        node: String,
        /// Give the new process the pid of the old one (pid reuse).
        #[serde(default)]
        reuse_pid: bool,
    },
    /// Power loss of the whole world: every node dies, unsynced data and
    /// directory entries are lost (or torn), in-flight operations vanish.
    PowerLoss {
        /// Keep a seeded prefix of unsynced appended data (torn writes).
        #[serde(default)]
        torn: bool,
        /// Restart every node this long after the loss; never if absent.
        #[serde(default)]
        restart_after_ms: Option<u64>,
    },
    /// Jump the wall clock (not the monotonic clock).
    ClockJump {
        /// Signed jump.
        by_ms: i64,
    },
}

/// Why a schedule was rejected. The message names the field.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// Not JSON, or not a schedule.
    #[error("schedule is not valid JSON for this format: {0}")]
    Json(#[from] serde_json::Error),
    /// Could not read the file.
    #[error("cannot read schedule {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Parsed, but impossible.
    #[error("schedule: {0}")]
    Invalid(String),
}

impl Schedule {
    /// A calm schedule: no faults, no latency.
    pub fn calm(seed: u64, duration_ms: u64) -> Schedule {
        Schedule {
            version: VERSION,
            seed,
            duration_ms,
            quiet_ms: 0,
            metadata_commit_ms: None,
            mounts: Vec::new(),
            errors: Vec::new(),
            hangs: Vec::new(),
            crashes: Vec::new(),
            events: Vec::new(),
            params: BTreeMap::new(),
        }
    }

    /// A scenario knob, or `default`.
    pub fn param(&self, name: &str, default: u64) -> u64 {
        self.params.get(name).copied().unwrap_or(default)
    }

    /// Parse and validate.
    ///
    /// ```
    /// use steadfast_sim::Schedule;
    /// let s = Schedule::from_json(r#"{"version": 1, "seed": 7, "duration_ms": 1000,
    ///     "crashes": [{"ops": ["rename"], "nth": 2, "metadata_survives": true}]}"#).unwrap();
    /// assert_eq!(s.crashes[0].nth, 2);
    /// let bad = Schedule::from_json(r#"{"version": 1, "seed": 7, "duration_ms": 0}"#);
    /// assert!(bad.unwrap_err().to_string().contains("duration_ms"));
    /// ```
    pub fn from_json(text: &str) -> Result<Schedule, ScheduleError> {
        let s: Schedule = serde_json::from_str(text)?;
        s.validate()?;
        Ok(s)
    }

    /// Read, parse and validate a file.
    pub fn load(path: &Path) -> Result<Schedule, ScheduleError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ScheduleError::Io { path: path.to_path_buf(), source })?;
        Schedule::from_json(&text)
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a schedule always serialises")
    }

    /// Reject impossible values, and values past the [`limits`], with a
    /// message naming the field.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        use limits::*;
        let bad = |m: String| Err(ScheduleError::Invalid(m));
        if self.version != VERSION {
            return bad(format!("version {} is not supported (this build reads {VERSION})", self.version));
        }
        if self.duration_ms == 0 {
            return bad("duration_ms must be positive".into());
        }
        if self.duration_ms.checked_add(self.quiet_ms).is_none_or(|t| t > RUN_MS_MAX) {
            let (d, q) = (self.duration_ms, self.quiet_ms);
            return bad(format!("duration_ms {d} + quiet_ms {q} is over the maximum {RUN_MS_MAX} ms"));
        }
        match self.metadata_commit_ms {
            Some(0) => return bad("metadata_commit_ms must be positive".into()),
            Some(ms) if ms > DELAY_MS_MAX => {
                return bad(format!("metadata_commit_ms {ms} is over the maximum {DELAY_MS_MAX}"));
            }
            _ => {}
        }
        let counts = [
            ("mounts", self.mounts.len(), RULES_MAX),
            ("errors", self.errors.len(), RULES_MAX),
            ("hangs", self.hangs.len(), RULES_MAX),
            ("crashes", self.crashes.len(), RULES_MAX),
            ("events", self.events.len(), EVENTS_MAX),
            ("params", self.params.len(), PARAMS_MAX),
        ];
        if let Some((field, n, max)) = counts.into_iter().find(|(_, n, max)| n > max) {
            return bad(format!("{field} has {n} entries, over the maximum {max}"));
        }
        for (i, m) in self.mounts.iter().enumerate() {
            if !m.prefix.has_root() {
                return bad(format!("mounts[{i}].prefix {} is not absolute", m.prefix.display()));
            }
            check_path(&m.prefix, &format!("mounts[{i}].prefix"))?;
            if m.latency.len() > RULES_MAX {
                return bad(format!("mounts[{i}].latency has {} rules, over the maximum {RULES_MAX}", m.latency.len()));
            }
            for (j, l) in m.latency.iter().enumerate() {
                if l.ms_min > l.ms_max {
                    return bad(format!("mounts[{i}].latency[{j}]: ms_min {} > ms_max {}", l.ms_min, l.ms_max));
                }
                if l.ms_max > DELAY_MS_MAX {
                    return bad(format!(
                        "mounts[{i}].latency[{j}].ms_max {} is over the maximum {DELAY_MS_MAX}",
                        l.ms_max
                    ));
                }
                check_ops(&l.ops, &format!("mounts[{i}].latency[{j}]"))?;
            }
        }
        for (i, r) in self.errors.iter().enumerate() {
            let at = format!("errors[{i}]");
            check_ops(&r.ops, &at)?;
            check_trigger(r.nth, r.probability, &at)?;
            check_prefix(r.path_prefix.as_deref(), &at)?;
        }
        for (i, h) in self.hangs.iter().enumerate() {
            let at = format!("hangs[{i}]");
            check_trigger(h.nth, h.probability, &at)?;
            if h.point.len() > NAME_MAX {
                return bad(format!("{at}.point is {} bytes, over the maximum {NAME_MAX}", h.point.len()));
            }
        }
        for (i, c) in self.crashes.iter().enumerate() {
            let at = format!("crashes[{i}]");
            check_ops(&c.ops, &at)?;
            check_trigger(Some(c.nth), None, &at)?;
            check_prefix(c.path_prefix.as_deref(), &at)?;
            check_delay(c.restart_after_ms, &format!("{at}.restart_after_ms"))?;
        }
        for (i, e) in self.events.iter().enumerate() {
            if e.at_ms > self.duration_ms {
                return bad(format!("events[{i}].at_ms {} is after duration_ms {}", e.at_ms, self.duration_ms));
            }
            match &e.what {
                Event::PowerLoss { restart_after_ms, .. } => {
                    check_delay(*restart_after_ms, &format!("events[{i}].restart_after_ms"))?
                }
                Event::ClockJump { by_ms } if by_ms.unsigned_abs() > CLOCK_JUMP_MS_MAX => {
                    return bad(format!(
                        "events[{i}].by_ms {by_ms} is over the maximum {CLOCK_JUMP_MS_MAX} either way"
                    ));
                }
                Event::Kill { node } | Event::Restart { node, .. } if node.len() > NAME_MAX => {
                    return bad(format!("events[{i}].node is {} bytes, over the maximum {NAME_MAX}", node.len()));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Check `params` against a scenario's declared knobs: with none
    /// declared, every value is at most [`limits::PARAM_DEFAULT_MAX`];
    /// otherwise every key must be declared and within its maximum.
    pub fn validate_params(&self, specs: &[ParamSpec]) -> Result<(), ScheduleError> {
        for (name, &value) in &self.params {
            let max = if specs.is_empty() {
                limits::PARAM_DEFAULT_MAX
            } else {
                match specs.iter().find(|p| p.name == name) {
                    Some(p) => p.max,
                    None => {
                        let known: Vec<&str> = specs.iter().map(|p| p.name).collect();
                        return Err(ScheduleError::Invalid(format!(
                            "params.{name} is not a parameter of this scenario (known: {})",
                            known.join(", ")
                        )));
                    }
                }
            };
            if value > max {
                return Err(ScheduleError::Invalid(format!("params.{name} {value} is over its maximum {max}")));
            }
        }
        Ok(())
    }
}

fn check_ops(ops: &[String], at: &str) -> Result<(), ScheduleError> {
    if ops.len() > limits::NAME_MAX {
        return Err(ScheduleError::Invalid(format!("{at}.ops has {} entries", ops.len())));
    }
    match ops.iter().find(|o| !OP_NAMES.contains(&o.as_str())) {
        Some(o) => {
            Err(ScheduleError::Invalid(format!("{at}: unknown operation {o:?} (known: {})", OP_NAMES.join(", "))))
        }
        None => Ok(()),
    }
}

fn check_delay(ms: Option<u64>, at: &str) -> Result<(), ScheduleError> {
    match ms {
        Some(ms) if ms > limits::DELAY_MS_MAX => {
            Err(ScheduleError::Invalid(format!("{at} {ms} is over the maximum {}", limits::DELAY_MS_MAX)))
        }
        _ => Ok(()),
    }
}

fn check_path(p: &Path, at: &str) -> Result<(), ScheduleError> {
    let n = p.as_os_str().len();
    if n > limits::NAME_MAX {
        return Err(ScheduleError::Invalid(format!("{at} is {n} bytes, over the maximum {}", limits::NAME_MAX)));
    }
    Ok(())
}

fn check_prefix(p: Option<&Path>, at: &str) -> Result<(), ScheduleError> {
    p.map_or(Ok(()), |p| check_path(p, &format!("{at}.path_prefix")))
}

fn check_trigger(nth: Option<u64>, probability: Option<f64>, at: &str) -> Result<(), ScheduleError> {
    match (nth, probability) {
        (Some(n), _) if n > limits::NTH_MAX => {
            Err(ScheduleError::Invalid(format!("{at}.nth {n} is over the maximum {}", limits::NTH_MAX)))
        }
        (None, None) => Err(ScheduleError::Invalid(format!("{at}: needs nth or probability"))),
        (Some(0), _) => Err(ScheduleError::Invalid(format!("{at}.nth is 1-based; 0 never fires"))),
        (_, Some(p)) if !(0.0..=1.0).contains(&p) => {
            Err(ScheduleError::Invalid(format!("{at}.probability {p} is outside 0..=1")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_rejected(json: &str, needle: &str) {
        match Schedule::from_json(json) {
            Err(e) => assert!(e.to_string().contains(needle), "{e} should mention {needle:?}"),
            Ok(s) => panic!("accepted {s:?}"),
        }
    }

    #[test]
    fn round_trips_the_documented_example() {
        let json = r#"{
          "version": 1, "seed": 42, "duration_ms": 60000, "quiet_ms": 30000,
          "mounts": [{ "prefix": "/efs", "latency": [{ "ops": ["rename"], "ms_min": 50, "ms_max": 5000 }] }],
          "errors": [{ "ops": ["write"], "path_prefix": "/efs", "error": "enospc", "nth": 3 }],
          "hangs": [{ "point": "compaction", "nth": 1 }],
          "events": [{ "at_ms": 1200, "kind": "power_loss", "torn": true, "restart_after_ms": 100 },
                     { "at_ms": 10, "kind": "restart", "node": "a", "reuse_pid": true }],
          "params": { "burst": 12 }
        }"#;
        let s = Schedule::from_json(json).expect("valid");
        assert_eq!(s.param("burst", 0), 12);
        assert_eq!(Schedule::from_json(&s.to_json()).expect("round trip"), s);
    }

    #[test]
    fn rejects_impossible_values_naming_the_field() {
        let base = |extra: &str| format!(r#"{{"version":1,"seed":1,"duration_ms":100{extra}}}"#);
        check_rejected("{", "not valid JSON");
        check_rejected(r#"{"version":2,"seed":1,"duration_ms":1}"#, "version 2");
        check_rejected(r#"{"version":1,"seed":1,"duration_ms":0}"#, "duration_ms");
        check_rejected(&base(r#","mounts":[{"prefix":"efs","latency":[]}]"#), "mounts[0].prefix");
        check_rejected(
            &base(r#","mounts":[{"prefix":"/e","latency":[{"ms_min":5,"ms_max":1}]}]"#),
            "ms_min 5 > ms_max 1",
        );
        check_rejected(&base(r#","errors":[{"ops":["renam"],"error":"eio","nth":1}]"#), "unknown operation \"renam\"");
        check_rejected(&base(r#","errors":[{"error":"eio"}]"#), "errors[0]: needs nth or probability");
        check_rejected(&base(r#","errors":[{"error":"eio","nth":0}]"#), "errors[0].nth");
        check_rejected(&base(r#","hangs":[{"point":"x","probability":1.5}]"#), "hangs[0].probability");
        check_rejected(&base(r#","events":[{"at_ms":101,"kind":"clock_jump","by_ms":5}]"#), "events[0].at_ms 101");
        check_rejected(&base(r#","surprise":1"#), "unknown field");
        check_rejected(&base(r#","errors":[{"error":"eperm","nth":1}]"#), "unknown variant");
    }

    /// Issue 16: values that hung, overflowed or aborted the tool.
    #[test]
    fn rejects_values_past_the_bounds() {
        let base = |extra: &str| format!(r#"{{"version":1,"seed":1,"duration_ms":100{extra}}}"#);
        check_rejected(r#"{"version":1,"seed":1,"duration_ms":18446744073709551615}"#, "over the maximum");
        check_rejected(&base(r#","quiet_ms":18446744073709551615"#), "quiet_ms");
        check_rejected(&base(r#","metadata_commit_ms":999999999999"#), "metadata_commit_ms");
        check_rejected(
            &base(r#","mounts":[{"prefix":"/e","latency":[{"ms_min":0,"ms_max":99999999999}]}]"#),
            "mounts[0].latency[0].ms_max",
        );
        check_rejected(&base(r#","errors":[{"error":"eio","nth":99999999999}]"#), "errors[0].nth");
        check_rejected(&base(r#","events":[{"at_ms":1,"kind":"clock_jump","by_ms":-9223372036854775808}]"#), "by_ms");
        check_rejected(
            &base(r#","events":[{"at_ms":1,"kind":"power_loss","restart_after_ms":18446744073709551615}]"#),
            "events[0].restart_after_ms",
        );
        let many = vec![r#"{"at_ms":1,"kind":"clock_jump","by_ms":1}"#; limits::EVENTS_MAX + 1].join(",");
        check_rejected(&base(&format!(r#","events":[{many}]"#)), "events has 10001 entries");
        let s = Schedule::from_json(&base(r#","params":{"sessions":1000000000000}"#)).expect("shape is fine");
        let e = s.validate_params(&[]).expect_err("over the default maximum");
        assert!(e.to_string().contains("params.sessions"), "{e}");
        let specs = [ParamSpec { name: "sessions", max: 4, doc: "sessions" }];
        let e = s.validate_params(&specs).expect_err("over its maximum");
        assert!(e.to_string().contains("over its maximum 4"), "{e}");
        let typo = Schedule::from_json(&base(r#","params":{"sesions":1}"#)).expect("shape is fine");
        assert!(typo.validate_params(&specs).expect_err("unknown").to_string().contains("known: sessions"));
        let ok = Schedule::from_json(&base(r#","params":{"sessions":4}"#)).expect("fine");
        ok.validate_params(&specs).expect("within");
    }
}
