//! The session write lock (incident 3; invariants L1 to L10).
//!
//! A session's append-only JSONL transcript `<name>.jsonl` is guarded by a
//! lock file beside it, `<name>.jsonl.lock`, created exclusively and holding
//! its owner as JSON ([`LockOwner`]: pid, process start time, a random
//! nonce, acquisition time, maximum hold, fence token).
//!
//! - [`LockManager::acquire`] retries with jittered backoff until a timeout
//!   and then fails with [`LockError::Timeout`] naming the owner (L3). A lock
//!   file is recovered when it is stale (L4): its owner is dead, its pid was
//!   reused (start time differs), it is our own pid without an in-process
//!   holder, it is unreadable (empty, garbage, half-written by a writer that
//!   crashed) and older than a grace period, or its hold expired long ago.
//! - Recovery is race-free: a waiter that judges instance `n` stale must
//!   first create `<lock>.takeover.<n>` exclusively; of two waiters that
//!   judge the same instance stale only one gets that claim, re-reads the
//!   lock, and removes it only if it is still instance `n`. Nobody else ever
//!   removes a lock that is not theirs, so the winner's re-read stays true.
//! - A [`LockGuard`] appends whole lines through its fence (L1, L6): an
//!   append is refused with [`LockError::Takeover`] once the hold was
//!   force-released, once its lease (maximum hold) has run out, or once the
//!   lock file no longer names its nonce. A partial last line (a failed
//!   append, a holder that died mid-append, a torn power loss) is cut back
//!   to the last whole line before a hold's first append and after any
//!   failed one, in place (`ftruncate` through a handle, reading only the
//!   tail): the transcript stays the file it is, with its permissions, its
//!   hard links and a symlink at its path (whose target is what is cut: a
//!   target with no newline at all is one partial line, and is cut to
//!   empty). The look at the tail is read-only, so an append-only
//!   transcript (`chattr +a`) with a whole tail takes appends.
//! - [`LockGuard::release`] removes the lock file only if it still names the
//!   guard's nonce and its lease allows (L5); releasing twice is a no-op.
//! - An [`Attempt`] tracks every lock it acquires or reacquires.
//!   [`Attempt::abandon_in_flight`] force-releases every one still held,
//!   waiting for each (its appends in flight drain, its file is gone) before
//!   it returns, and is idempotent (L2). A watchdog force-releases any hold
//!   at its maximum hold. Each forced release emits one diagnostic naming the
//!   session file, the owner and the reason (L7), through `tracing` and an
//!   optional hook.
//! - An [`AttemptController`] is upstream's attempt-level lock: it lets go
//!   of the lock for long waits and fences every later write on the
//!   session file's [`Fingerprint`] (L10); takeover is sticky, and after
//!   cleanup nothing written through it lands.
//! - [`LockManager::sweep_stale`] clears what killed processes leave: stale
//!   lock files, abandoned takeover claims, and the repair copies
//!   (`<session>.repair`) that versions before the in-place cut left.
//! - A session file's name is at most [`SESSION_NAME_MAX`] (200) bytes, so
//!   that every file of its lock fits in a file name, and is not named as
//!   those files are (`*.lock`, `*.lock.takeover.*`, `*.repair`), which
//!   `sweep_stale` takes for litter: `acquire` refuses either at once with
//!   `InvalidInput`.
//!
//! # A hostile host (L8, L9)
//!
//! `acquire` looks at what sits at the lock path before it reads it: a
//! directory, a symlink or a FIFO is refused at once, and errors that
//! waiting cannot cure (a missing directory, a full or read-only disk) come
//! back at once with their kind; errors that waiting may cure (an `EIO`, an
//! `EINTR`) are retried until the timeout, whose error names the last of
//! them. The lock file appears whole or not at all (the `Fs` contract's
//! `CreateNew`). Any number of tasks and of managers in one process keep
//! mutual exclusion: a hold is registered before its file can exist, and
//! records name the manager that wrote them. A record's hold is bounded by
//! the reader's own maximum and its age by how long the reader has seen it,
//! whatever the record claims.
//!
//! # Why leases
//!
//! A plain file system offers no compare-and-delete, so a holder that is
//! alive but slow could in principle be taken over between its ownership
//! check and its append landing. The lock rules out that interleaving by
//! time, like a lease: a holder refuses to append once its maximum hold has
//! passed, and another process takes over a live holder's lock only after
//! the maximum hold plus `takeover_grace`. The grace must exceed the
//! slowest append (the `lock` scenario's slow mount stays below it and says
//! so). Takeover of a dead owner needs no grace: a killed process is dead
//! only once its system calls have returned, so it has no write in flight.
//!
//! # Clocks
//!
//! A lease is judged on wall clocks: the holder's (its record's acquisition
//! time, its own refusals and release) and each waiter's (the record's
//! age). Hosts that share a lock directory must therefore agree on the
//! time: a waiter whose clock runs ahead of the holder's by `d` takes over
//! `d` early, eating into the grace. The lock tolerates two hosts whose
//! clocks disagree by `d` as long as `d` plus the slowest file operation on
//! the lock's mount stays under half of `takeover_grace`: that half is the
//! margin between the end of a hold's window to touch its files and the
//! first takeover, which a disagreement and an operation in flight share.
//! (The `lock` scenario's `skew` seeds set each host's clock up to an
//! eighth of the grace either way on a mount whose slowest operation takes
//! 15% of it, and hold; set up to a whole grace either way, they break L5.)
//! A host's own clock stepping (NTP) moves its lease with it: a release
//! past the lease by its clock reads the lock file before removing it, as
//! any release after a takeover may have begun does. Ages of unreadable
//! lock files are judged on the file system's mtimes against the reader's
//! clock, and never below how long the reader has seen them, so a clock
//! behind cannot make such a file young for ever.

mod controller;
mod guard;
mod held;
mod manager;
mod record;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use controller::{AttemptController, Fingerprint};
pub use guard::LockGuard;
pub use held::HeldLocks;
pub use manager::{Attempt, LOCK_FILE_MAX, Litter, LockManager, StaleSweep};

/// Who holds a lock: the JSON body of the lock file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockOwner {
    /// The holder's pid.
    pub pid: u32,
    /// The holder's process start time (detects pid reuse), if known.
    #[serde(default)]
    pub start_time: Option<u64>,
    /// Random identity of this lock instance.
    pub nonce: u64,
    /// Wall-clock acquisition time, ms since the Unix epoch.
    pub acquired_at_ms: u64,
    /// The holder's maximum hold.
    pub max_hold_ms: u64,
    /// Fence token: one manager never hands out the same one twice, and
    /// each of its tries gets a larger one than the last (at least the
    /// try's wall-clock milliseconds). It orders tries, not holds: a
    /// create issued first may land after a later try's hold came and
    /// went, so a fencing storage service must not assume a newer hold
    /// carries a larger token than every older one.
    pub fence: u64,
    /// Random identity of the [`LockManager`] that wrote it (0 in records
    /// of older versions): another manager of the same process is a live
    /// owner, not an orphan.
    #[serde(default)]
    pub manager: u64,
}

/// Why a lock file was judged stale, or a hold force-released.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The owner's process is dead.
    DeadOwner,
    /// The owner's pid now belongs to another process.
    ReusedPid,
    /// Our own pid, but no holder in this process.
    OrphanedSelf,
    /// Empty, garbage or half-written, and older than the grace period.
    Unreadable,
    /// Held past its maximum hold plus the takeover grace.
    Expired,
    /// The watchdog fired at the maximum hold.
    MaxHold,
    /// Attempt cleanup abandoned it.
    Abandoned,
}

impl Reason {
    /// A short name for diagnostics.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::DeadOwner => "owner process is dead",
            Reason::ReusedPid => "owner pid was reused",
            Reason::OrphanedSelf => "our pid, no holder in this process",
            Reason::Unreadable => "lock file unreadable past its grace",
            Reason::Expired => "held past max hold + grace",
            Reason::MaxHold => "max hold reached (watchdog)",
            Reason::Abandoned => "abandoned by attempt cleanup",
        }
    }
}

/// One forced release (L7): what the diagnostic names. A takeover of a
/// stale lock file is a forced release too (its owner may be unreadable).
#[derive(Clone, Debug)]
pub struct ForcedRelease {
    /// The session file.
    pub session_file: PathBuf,
    /// The owner whose hold was released, if its lock file was readable.
    pub owner: Option<LockOwner>,
    /// Why.
    pub reason: Reason,
}

/// A hook that sees every forced release (besides the `tracing` event).
pub type ForcedReleaseHook = Arc<dyn Fn(&ForcedRelease) + Send + Sync>;

/// Timeouts and bounds. Defaults are upstream's where it had one.
#[derive(Clone)]
pub struct LockConfig {
    /// How long `acquire` waits. Default 60 s.
    pub acquire_timeout: Duration,
    /// First retry delay (then doubling, jittered). Default 50 ms.
    pub retry_min: Duration,
    /// Longest retry delay. Default 1 s.
    pub retry_max: Duration,
    /// Maximum hold (run timeout + grace): the watchdog's deadline and the
    /// end of the holder's lease. Default 5 min.
    pub max_hold: Duration,
    /// How long after the maximum hold another process may take over a
    /// live holder's lock; must exceed the slowest append. Default 30 s.
    pub takeover_grace: Duration,
    /// How old an unreadable lock file must be before it counts as stale
    /// (its writer may be mid-write). Default 30 s.
    pub unreadable_grace: Duration,
    /// How old a takeover claim must be before it counts as abandoned (its
    /// claimer crashed mid-takeover). Default 30 s. Like `takeover_grace`
    /// it is a lease: it must exceed a takeover's few operations (a create,
    /// a look, a removal, and the claim's own removal) on the slowest file
    /// system, or a live claim may be cleared. And a quarter of it must
    /// exceed a read plus a stat of a claim: a judgment of abandonment that
    /// took longer is discarded (the claim may have been replaced
    /// meanwhile), so on a slower mount no abandoned claim is cleared.
    pub claim_stale: Duration,
    /// Sees every forced release.
    pub on_forced_release: Option<ForcedReleaseHook>,
    /// Where held lock files are registered, for removal on exit (see
    /// `real::ExitCleanup`). None by default.
    pub held: Option<Arc<HeldLocks>>,
}

impl Default for LockConfig {
    fn default() -> Self {
        LockConfig {
            acquire_timeout: Duration::from_secs(60),
            retry_min: Duration::from_millis(50),
            retry_max: Duration::from_secs(1),
            max_hold: Duration::from_secs(300),
            takeover_grace: Duration::from_secs(30),
            unreadable_grace: Duration::from_secs(30),
            claim_stale: Duration::from_secs(30),
            on_forced_release: None,
            held: None,
        }
    }
}

impl std::fmt::Debug for LockConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockConfig")
            .field("acquire_timeout", &self.acquire_timeout)
            .field("max_hold", &self.max_hold)
            .field("takeover_grace", &self.takeover_grace)
            .finish_non_exhaustive()
    }
}

/// The longest file name a file system takes (Linux's `NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// The most bytes the lock's own files add to a session file's name: the
/// lock file (`.lock`), a takeover claim (`.takeover.` and a 17-byte
/// instance id) and its clear (`.clear.` and 16 hex digits).
pub const DERIVED_SUFFIX_MAX: usize = ".lock".len() + ".takeover.".len() + 17 + ".clear.".len() + 16;

/// The longest session file name `acquire` takes (200 bytes): with a
/// longer one, a claim's name would not fit in a file name, and a dead
/// holder's lock could never be taken over. A longer one is refused at
/// once with `InvalidInput`.
pub const SESSION_NAME_MAX: usize = NAME_MAX - DERIVED_SUFFIX_MAX;

/// Why a lock operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// `acquire` gave up (L3).
    #[error("lock {lock} not acquired within {} ms; {}", waited.as_millis(), describe(owner.as_ref(), *last_error))]
    Timeout {
        /// The lock file.
        lock: PathBuf,
        /// How long it waited.
        waited: Duration,
        /// The owner seen last, if the lock file was readable.
        owner: Option<LockOwner>,
        /// The last transient I/O error met while trying, if any.
        last_error: Option<std::io::ErrorKind>,
    },
    /// Something that is not a lock file sits at the lock path (L8): a
    /// directory, a symlink (dangling or looping too) or a FIFO, socket or
    /// device. Nothing `acquire` may judge or remove; it fails at once.
    #[error("lock {lock}: the lock path is {}, not a lock file; remove it", kind_name(*found))]
    NotAFile {
        /// The lock path.
        lock: PathBuf,
        /// What is there.
        found: crate::FileKind,
    },
    /// The hold was force-released or taken over: nothing was written (L1).
    #[error("lock {lock} is no longer ours ({reason}); nothing written")]
    Takeover {
        /// The lock file.
        lock: PathBuf,
        /// Why.
        reason: String,
    },
    /// The guard was released.
    #[error("lock {0} was released")]
    Released(PathBuf),
    /// An append must be exactly one line ending in `\n`.
    #[error("an append must be one whole line ending in a newline")]
    NotALine,
    /// A file operation failed. From `acquire`, an error that waiting
    /// cannot cure (missing directory, full or read-only file system,
    /// permission), returned at once with its kind (L8).
    #[error("lock {lock}: {step} failed: {source}")]
    Io {
        /// The lock file.
        lock: PathBuf,
        /// The step.
        step: &'static str,
        /// The error.
        source: std::io::Error,
    },
}

/// The next delay of a retry loop: doubled, up to `max`. Every retry loop
/// of the lock backs off through here, and a backoff never shrinks
/// (asserted): a loop whose delay shrank would poll a failing file system
/// ever faster, which no other check sees (each try still sleeps).
pub(crate) fn backoff(delay: Duration, max: Duration) -> Duration {
    let next = (delay * 2).min(max);
    debug_assert!(next >= delay.min(max), "a backoff never shrinks: {delay:?} -> {next:?}");
    next
}

fn describe(owner: Option<&LockOwner>, last_error: Option<std::io::ErrorKind>) -> String {
    match (owner, last_error) {
        (Some(o), _) => {
            format!("held by pid {} (nonce {:016x}, fence {}, since {} ms)", o.pid, o.nonce, o.fence, o.acquired_at_ms)
        }
        (None, Some(kind)) => format!("the last try failed: {kind}"),
        (None, None) => "held by an unreadable lock file (being written, or garbage within its grace)".into(),
    }
}

impl LockError {
    /// The I/O error kind behind this error, if one is.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            LockError::Io { source, .. } => Some(source.kind()),
            LockError::NotAFile { found: crate::FileKind::Dir, .. } => Some(std::io::ErrorKind::IsADirectory),
            LockError::NotAFile { .. } => Some(std::io::ErrorKind::InvalidInput),
            LockError::Timeout { last_error, .. } => *last_error,
            _ => None,
        }
    }
}

fn kind_name(kind: crate::FileKind) -> &'static str {
    match kind {
        crate::FileKind::File => "a regular file",
        crate::FileKind::Dir => "a directory",
        crate::FileKind::Symlink => "a symlink",
        crate::FileKind::Special => "a FIFO, socket or device",
    }
}

/// The lock file of a session file: `<session>.lock` beside it.
pub fn lock_path(session_file: &std::path::Path) -> PathBuf {
    let mut p = session_file.as_os_str().to_os_string();
    p.push(".lock");
    PathBuf::from(p)
}
