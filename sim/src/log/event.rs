//! [`SimEvent`]: everything the world records, as typed values. The history
//! hash covers these values (see [`super::hash`]); the text timeline and
//! the Chrome trace are two renderers of them ([`super::text`],
//! [`super::chrome`]), so a wording change re-hashes nothing and no
//! renderer re-parses another's strings.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::faults::{FaultKind, SilentFault};

/// A value a record shows but the history hash leaves out: a detail
/// added to an event after its hash was fixed (hashes stay comparable
/// across versions), for what the timeline tells a reader.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unhashed<T>(pub T);

impl<T> std::hash::Hash for Unhashed<T> {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

/// How an effect ended, as the history keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ending {
    /// It succeeded.
    Ok,
    /// It failed on its own (the tree said no): the `ErrorKind`'s name.
    Err(std::borrow::Cow<'static, str>),
    /// An injected error from the schedule's error rule `rule`.
    Injected {
        /// The fault.
        fault: FaultKind,
        /// The rule's index in `errors`.
        rule: usize,
    },
    /// The disk is full: the schedule's `capacity_bytes` was reached.
    DiskFull,
    /// It succeeded as far as the caller can tell, but a silent fault of
    /// the schedule's `silent` rule `rule` changed what it did.
    Silent {
        /// What the fault did.
        fault: SilentFault,
        /// The rule's index in `silent`.
        rule: usize,
        /// Where it struck.
        struck: Struck,
    },
}

/// Where a silent fault struck.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Struck {
    /// A corrupt read flipped this bit of the bytes it returned.
    Bit {
        /// The byte's offset.
        byte: u64,
        /// The bit in it, 0..8.
        bit: u8,
    },
    /// The data went nowhere.
    Lost,
    /// The data landed in this file instead.
    LandedIn(PathBuf),
}

/// Why a process died.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KillCause {
    /// A schedule's or a scenario's kill (SIGKILL).
    Sigkill,
    /// Killed so that a restart can start it again.
    ForRestart,
    /// The whole world lost power.
    PowerLoss,
    /// Killed by the restart that follows a power loss (a node that a
    /// schedule event restarted meanwhile was running).
    RestartAfterPowerLoss,
    /// Its work was done: the node's main future returned, and the process
    /// exited with every task it still had (as `exit` ends every thread).
    Exit,
    /// SIGTERM, which it did not handle. (Last, so that adding it moved no
    /// history hash.)
    Sigterm,
}

/// What an outside actor did to the tree (`World::harness_*`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HarnessAct {
    /// An operation applied from outside every process.
    Op {
        /// The operation's name.
        op: &'static str,
    },
    /// `touch -d`: the mtime set this far from the wall clock's now.
    Touch {
        /// Milliseconds ahead (positive) or behind (negative).
        offset_ms: i128,
    },
    /// `mkfifo`.
    Fifo,
}

/// One thing the world recorded.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SimEvent {
    /// A node's process started (again).
    ProcessStarts {
        /// Its pid.
        pid: u32,
    },
    /// A node's process died.
    Killed {
        /// Why.
        cause: KillCause,
    },
    /// A file operation began: its latency window and where in it its
    /// effect lands.
    OpBegun {
        /// The operation's name.
        op: &'static str,
        /// Its (first) path.
        path: Arc<Path>,
        /// Its second path (a rename's target).
        to: Option<Arc<Path>>,
        /// A blocking call (it stalls its node).
        blocking: bool,
        /// Latency, ns.
        window_ns: u64,
        /// Offset of the effect inside the window, ns.
        lands_ns: u64,
    },
    /// An operation begun after an armed crash point: it never takes
    /// effect and its caller never sees a result.
    OpLost {
        /// The operation's name.
        op: &'static str,
        /// Its path.
        path: Arc<Path>,
    },
    /// An operation's effect landed on the tree.
    Landed {
        /// The operation's name.
        op: &'static str,
        /// Its path.
        path: Arc<Path>,
        /// How it ended.
        ending: Ending,
    },
    /// A crash rule armed: the power goes out when this operation lands.
    CrashArmed {
        /// The rule's index in `crashes`.
        rule: usize,
    },
    /// The whole world lost power.
    PowerLoss {
        /// In-flight operations whose effects were lost.
        lost_ops: usize,
        /// Files that kept a torn prefix of unsynced data.
        torn_files: u64,
        /// Files and directories that lost unsynced changes (data, or
        /// entries), torn ones included: what the loss took.
        unsynced: Unhashed<(u64, u64)>,
    },
    /// A restart after a power loss was dropped: a later loss came first.
    RestartDropped,
    /// The wall clock jumped (not the monotonic clock).
    ClockJump {
        /// Signed jump, ms.
        by_ms: i64,
    },
    /// A schedule event named a node that does not exist.
    UnknownNode {
        /// The name it used.
        node: String,
    },
    /// A hang point fired: that future never completes.
    Hang {
        /// The hang point.
        point: String,
    },
    /// A blocking call paused its node's event loop.
    Stall {
        /// Until, ns since the start.
        until_ns: u64,
    },
    /// A stalled node resumed.
    Resume,
    /// An outside actor changed the tree.
    Harness {
        /// What it did.
        act: HarnessAct,
        /// Where.
        path: PathBuf,
        /// The result: `None` for success, else the `ErrorKind`'s name.
        err: Option<String>,
    },
    /// A coverage point was reached for the first time.
    Reached {
        /// The point.
        point: String,
    },
    /// An invariant broke.
    Violation {
        /// Its ID.
        invariant: String,
        /// What was seen.
        message: String,
    },
    /// A line from the workload ([`crate::World::note`]).
    Note {
        /// The text.
        text: String,
    },
    /// A pause point fired: the caller's process freezes while this
    /// operation is in flight, and for `ms` after its window.
    PausePoint {
        /// The rule's index in `pauses`; `None` for one the workload armed
        /// ([`crate::World::arm_pause`]).
        rule: Option<usize>,
        /// How long after the window.
        ms: u64,
    },
    /// A latency spike fired: this operation's window is `ms` longer than
    /// its mount's draw. (Last, so that adding it moved no history hash.)
    Spike {
        /// The rule's index in `spikes`.
        rule: usize,
        /// The extra latency.
        ms: u64,
    },
    /// SIGTERM reached a process that handles it: its handler runs, and
    /// the process exits when its main returns. (One that does not handle
    /// it is `Killed { cause: Sigterm }`.)
    Terminated,
    /// An aimed SIGTERM waits for the process's next matching operation.
    TerminateArmed,
    /// One host's wall clock jumped (the node it is recorded on).
    HostClockJump {
        /// Signed jump, ms.
        by_ms: i64,
    },
}

impl SimEvent {
    /// Is this an invariant violation?
    pub fn is_violation(&self) -> bool {
        matches!(self, SimEvent::Violation { .. })
    }
}

/// One recorded event: when, where, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Virtual nanoseconds since the start of the run.
    pub at_ns: u64,
    /// The node it happened on (`-` for the world itself, `driver` for the
    /// harness node, `harness` for an outside actor).
    pub node: Arc<str>,
    /// The task on that node: the name it was spawned with through the
    /// `Spawn` seam (`heartbeat`, `lock-watchdog`...), or `main`. A label
    /// for the renderers: the history hash does not cover it.
    pub task: Arc<str>,
    /// What happened.
    pub event: SimEvent,
}

impl Record {
    /// One aligned line of the plain-text timeline.
    pub fn line(&self) -> String {
        super::text::line(self)
    }
}
