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
//!   "pauses": [{ "ops": ["read"], "path_prefix": "/data/s.lock", "nth": 2, "ms": 6000 }],
//!   "spikes": [{ "ops": ["sync_file"], "path_prefix": "/efs", "probability": 0.05, "ms_min": 6000, "ms_max": 15000 }],
//!   "events": [{ "at_ms": 1200, "kind": "power_loss", "torn": true, "restart_after_ms": 100 }],
//!   "params": { "burst": 12 }
//! }
//! ```

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::faults::{FaultKind, SilentFault};

mod stock;
mod validate;

pub use stock::STORAGE_FAULT_KINDS;

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
    /// The disk's `capacity_bytes`: 1 TiB (a counted disk walks its tree).
    pub const CAPACITY_BYTES_MAX: u64 = 1 << 40;
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
    "create_dir",
    "open",
    "set_len",
    "close",
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
    /// Targeted pause points: the calling process freezes while the nth
    /// matching operation is in flight. Left out of the JSON when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pauses: Vec<PauseRule>,
    /// Latency spikes: the nth matching operation (or each, with
    /// `probability`) takes longer than its mount's window, during the
    /// chaos phase. Left out of the JSON when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spikes: Vec<SpikeRule>,
    /// Timed events.
    #[serde(default)]
    pub events: Vec<TimedEvent>,
    /// The disk's size in bytes: a write that does not fit lands what fits
    /// and fails with `ENOSPC` (see `disk::capacity`). Unlimited if absent.
    /// Unlike a fault rule it holds in the quiet phase too: a full disk
    /// stays full until something is removed.
    #[serde(default)]
    pub capacity_bytes: Option<u64>,
    /// Silent faults: corrupt reads, lost and misdirected writes that
    /// report success (see `disk::silent`).
    #[serde(default)]
    pub silent: Vec<SilentRule>,
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
    /// Only an operation on a path that a rename already issued and not
    /// yet landed moves away: the unlink a fence aims at an export whose
    /// rename a network file system's server is still running (what such
    /// a server refuses or loses, and what no timed rule hits on purpose).
    /// Operations that do not qualify do not count toward `nth`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub while_renaming: bool,
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

/// A targeted pause point, as a crash rule is a targeted crash: the
/// calling process freezes for `ms` while the nth matching operation (or
/// each, with `probability`) is in flight, during the chaos phase (SIGSTOP,
/// a GC pause, a VM migration, at the worst instant). The kernel completes
/// the operation on time; its caller, and every other task of its
/// process, runs again only `ms` after its window ends. A timed
/// `Event::Pause` freezes a process at an instant; a pause point freezes
/// it between two steps of one piece of logic: a decision made on a read
/// and acted on after it (check, then act) meets a world that moved on.
/// Every matching operation of the chaos phase counts toward `nth`, the
/// harness's and the driver's too, though only a node's process freezes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseRule {
    /// Operation names; empty means all.
    #[serde(default)]
    pub ops: Vec<String>,
    /// Only operations on paths under this prefix.
    #[serde(default)]
    pub path_prefix: Option<PathBuf>,
    /// Freeze around exactly the nth matching operation (1-based).
    #[serde(default)]
    pub nth: Option<u64>,
    /// Freeze around each matching operation with this probability.
    #[serde(default)]
    pub probability: Option<f64>,
    /// How long the process stays frozen after the operation's window.
    pub ms: u64,
}

/// Which operation an aimed [`Event::Terminate`] waits for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct During {
    /// Operation names; empty means all.
    #[serde(default)]
    pub ops: Vec<String>,
    /// Only operations on paths under this prefix.
    #[serde(default)]
    pub path_prefix: Option<PathBuf>,
}

/// A latency spike, as a pause rule is a targeted freeze: the nth matching
/// operation (or each, with `probability`) of the chaos phase takes an
/// extra `ms_min..=ms_max` on top of its mount's latency, its effect
/// landing anywhere in the longer window. A network file system's tail
/// (a server failover, a congested link, a lease recovery): one write or
/// fsync of many takes seconds while the next is quick again, so a step
/// that began first finishes last. A mount's latency window draws every
/// operation from one range and cannot do that.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikeRule {
    /// Operation names; empty means all.
    #[serde(default)]
    pub ops: Vec<String>,
    /// Only operations on paths under this prefix.
    #[serde(default)]
    pub path_prefix: Option<PathBuf>,
    /// Slow down exactly the nth matching operation (1-based).
    #[serde(default)]
    pub nth: Option<u64>,
    /// Slow down each matching operation with this probability.
    #[serde(default)]
    pub probability: Option<f64>,
    /// The shortest extra latency.
    pub ms_min: u64,
    /// The longest extra latency.
    pub ms_max: u64,
}

/// `matches` and `counts` of a rule that names operations by `ops` and
/// `path_prefix` (error, crash, pause and spike rules alike).
macro_rules! op_rule {
    ($($rule:ty),*) => {$(
        impl $rule {
            /// Does this rule count `op` (by name and path)?
            pub fn matches(&self, op: &steadfast_core::FsOp) -> bool {
                self.counts(&OpPaths::new(op))
            }

            pub(crate) fn counts(&self, op: &OpPaths<'_>) -> bool {
                op_matches(&self.ops, self.path_prefix.as_deref(), op)
            }
        }
    )*};
}

op_rule!(ErrorRule, CrashRule, PauseRule, SpikeRule, During);

/// An operation matches when its name is listed (or none is) and either of
/// its paths lies under the prefix (or there is none).
fn op_matches(ops: &[String], prefix: Option<&Path>, op: &OpPaths<'_>) -> bool {
    let op_ok = ops.is_empty() || ops.iter().any(|o| o == op.op.name());
    op_ok && prefix.is_none_or(|pre| op.touches(pre))
}

/// An operation and its paths, each read once for whether it is plain:
/// every operation is matched against every mount, rule and watcher, and
/// parsing its paths again for each was a tenth of a `lock` seed.
#[derive(Clone, Copy)]
pub(crate) struct OpPaths<'a> {
    pub op: &'a steadfast_core::FsOp,
    pub first: Spelled<'a>,
    pub second: Option<Spelled<'a>>,
}

impl<'a> OpPaths<'a> {
    pub fn new(op: &'a steadfast_core::FsOp) -> OpPaths<'a> {
        OpPaths { op, first: Spelled::new(op.path()), second: op.second_path().map(Spelled::new) }
    }

    /// Does either path lie under `prefix`?
    pub fn touches(&self, prefix: &Path) -> bool {
        self.first.under(prefix) || self.second.is_some_and(|p| p.under(prefix))
    }
}

/// A path, and whether it is [plain](plain).
#[derive(Clone, Copy)]
pub(crate) struct Spelled<'a> {
    pub path: &'a Path,
    plain: bool,
}

impl<'a> Spelled<'a> {
    pub fn new(path: &'a Path) -> Spelled<'a> {
        Spelled { path, plain: plain(path.as_os_str().as_encoded_bytes()) }
    }

    /// `path.starts_with(prefix)` (component by component), at the cost
    /// of a byte comparison when both are plain absolute paths.
    pub fn under(&self, prefix: &Path) -> bool {
        let (p, pre) = (self.path.as_os_str().as_encoded_bytes(), prefix.as_os_str().as_encoded_bytes());
        if !(self.plain && plain(pre)) {
            return self.path.starts_with(prefix);
        }
        p.starts_with(pre) && (p.len() == pre.len() || pre == b"/" || p[pre.len()] == b'/')
    }
}

/// `path.starts_with(prefix)` (see [`Spelled::under`]).
#[cfg(test)]
fn under(path: &Path, prefix: &Path) -> bool {
    Spelled::new(path).under(prefix)
}

/// `(path.parent(), path.file_name())` for a plain path (absolute, no
/// `//`, no `.` component, no trailing slash) whose last component is a
/// name (not `..`), read at its last slash: std parses components from
/// the back, and a checker that asks of every stat in a 55,000-entry
/// sweep pays for it. `None` for every other path (the root, a relative
/// or unnormalised one), which the caller reads with std. The directory
/// it gives is plain too, so it equals another plain path exactly when
/// their bytes do.
pub fn split_plain(path: &Path) -> Option<(&Path, &OsStr)> {
    let b = path.as_os_str().as_encoded_bytes();
    if !plain(b) {
        return None;
    }
    let slash = b.iter().rposition(|&c| c == b'/')?;
    let name = &b[slash + 1..];
    if name.is_empty() || name == b".." {
        return None;
    }
    let dir = if slash == 0 { &b[..1] } else { &b[..slash] };
    Some((Path::new(OsStr::from_bytes(dir)), OsStr::from_bytes(name)))
}

/// Absolute, and spelled as its components are: no `//`, no `.`
/// component, no trailing slash. Every segment after the root's slash is
/// a name (`..` is one); split at slashes, which is a tight scan of the
/// bytes (a per-byte state machine was a tenth of a 55,000-entry seed's
/// checker).
pub(crate) fn plain(b: &[u8]) -> bool {
    match b.split_first() {
        Some((b'/', [])) => true,
        Some((b'/', rest)) => rest.split(|&c| c == b'/').all(|seg| !seg.is_empty() && seg != b"."),
        _ => false,
    }
}

/// Strike matching operations with a silent fault during the chaos phase:
/// the call reports success and did something else. The fault names the
/// operations it can strike (`read` for a corrupt read; `write` and
/// `append` for lost and misdirected writes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilentRule {
    /// The fault.
    pub fault: SilentFault,
    /// Only operations on paths under this prefix.
    #[serde(default)]
    pub path_prefix: Option<PathBuf>,
    /// Strike exactly the nth matching operation (1-based).
    #[serde(default)]
    pub nth: Option<u64>,
    /// Strike each matching operation with this probability.
    #[serde(default)]
    pub probability: Option<f64>,
}

impl SilentRule {
    /// Does this rule count `op` (by its fault's operations and path)?
    pub fn matches(&self, op: &steadfast_core::FsOp) -> bool {
        self.counts(&OpPaths::new(op))
    }

    pub(crate) fn counts(&self, op: &OpPaths<'_>) -> bool {
        self.fault.ops().contains(&op.op.name()) && op_matches(&[], self.path_prefix.as_deref(), op)
    }
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
    /// Jump the wall clock (not the monotonic clock) of every node.
    ClockJump {
        /// Signed jump.
        by_ms: i64,
    },
    /// Jump the wall clock of one node's host only (an NTP step, a VM
    /// resumed with a stale clock; every node is a host of its own): from
    /// then on its processes read the world's wall clock plus the sum of
    /// its host's jumps, across restarts and power losses. Only a read
    /// through `Env`'s `Clock` sees it (`std::time` under madsim does not).
    /// The disk keeps the world's clock for the mtimes it stamps, as a
    /// network file system's server does, so two hosts (or a host and the
    /// file system) disagree by the skew.
    HostClockJump {
        /// The node's name.
        node: String,
        /// Signed jump.
        by_ms: i64,
    },
    /// SIGTERM (or SIGINT) to a node's process: one that handles it (a
    /// task awaiting [`World::terminated`](crate::World::terminated)) runs
    /// its handler and exits on its own, when its main returns; one that
    /// does not dies at once, as from SIGKILL. An orchestrator's stop, a
    /// deploy, an operator's Ctrl-C.
    Terminate {
        /// The node's name.
        node: String,
        /// Deliver it not at `at_ms` but at the process's first matching
        /// operation begun from then on, while that operation is in
        /// flight: the signal that lands mid-write. Disarmed if the
        /// process dies first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        during: Option<During>,
    },
    /// Freeze a node's process for `ms` (SIGSTOP, then SIGCONT; or a GC
    /// pause, a swap storm, a VM migration): none of its tasks runs, its
    /// timers fire only when it resumes; the kernel still completes its
    /// in-flight file operations, and every other node goes on. What a
    /// lease exists for: a holder that cannot run its own watchdog.
    Pause {
        /// The node's name.
        node: String,
        /// How long it stays frozen.
        ms: u64,
    },
}

impl Event {
    /// The node it names, if any (none: a power loss, a world clock jump).
    pub fn node(&self) -> Option<&str> {
        match self {
            Event::Kill { node }
            | Event::Restart { node, .. }
            | Event::Terminate { node, .. }
            | Event::Pause { node, .. }
            | Event::HostClockJump { node, .. } => Some(node),
            Event::PowerLoss { .. } | Event::ClockJump { .. } => None,
        }
    }
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
            pauses: Vec::new(),
            spikes: Vec::new(),
            events: Vec::new(),
            capacity_bytes: None,
            silent: Vec::new(),
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
}

#[cfg(test)]
mod under_tests {
    use std::path::Path;

    fn all(len_max: usize) -> Vec<String> {
        let mut out = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..len_max {
            last = last.iter().flat_map(|s| ['/', 'a', 'b', '.'].map(|c| format!("{s}{c}"))).collect();
            out.extend(last.iter().cloned());
        }
        out
    }

    /// Every path of up to 7 characters over `/ a b .`: where
    /// `split_plain` answers, it answers as `parent` and `file_name` do,
    /// to the byte; it answers for every plain path that has a name.
    #[test]
    fn split_plain_is_parent_and_file_name() {
        let mut answered = 0;
        for path in all(7) {
            let p = Path::new(&path);
            match super::split_plain(p) {
                Some((dir, name)) => {
                    answered += 1;
                    let parent = p.parent().expect("a parent");
                    assert_eq!(dir.as_os_str(), parent.as_os_str(), "{path:?}");
                    assert_eq!(Some(name), p.file_name(), "{path:?}");
                }
                None => assert!(
                    !super::plain(path.as_bytes()) || path == "/" || path.ends_with("/.."),
                    "{path:?} is plain and names an entry"
                ),
            }
        }
        assert!(answered > 1000, "{answered}");
    }

    /// Every path of up to 7 characters over `/ a b .`: plain exactly
    /// when absolute and spelled as its components rebuild it.
    #[test]
    fn plain_is_spelled_as_its_components() {
        for path in all(7) {
            let p = Path::new(&path);
            let rebuilt: std::path::PathBuf = p.components().collect();
            let expected = p.is_absolute() && rebuilt.as_os_str() == p.as_os_str();
            assert_eq!(super::plain(path.as_bytes()), expected, "{path:?}");
        }
    }

    /// Every path of up to 6 characters over `/ a b .` against every
    /// prefix of up to 4: the same answer as `Path::starts_with`.
    #[test]
    fn under_is_starts_with() {
        let prefixes = all(4);
        for path in all(6) {
            for prefix in &prefixes {
                let (p, pre) = (Path::new(&path), Path::new(prefix));
                assert_eq!(super::under(p, pre), p.starts_with(pre), "{path:?} under {prefix:?}");
            }
        }
    }
}
