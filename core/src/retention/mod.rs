//! Retention: bounded, non-blocking housekeeping of telemetry, log and
//! workspace directories (incidents 0, 1 and 2; invariants R1 to R9).
//!
//! - [`sweep_dir`]: a policy-driven sweep of one directory. Only names of a
//!   declared [`Kind`] (prefix and suffix together, matched by bytes: a
//!   name need not be UTF-8, so a Latin-1 host name in it is no way past
//!   the ceilings) are candidates;
//!   protected names, files whose name carries a live pid, files younger
//!   than the age floor and symlinks are never deleted (R1). Per kind,
//!   oldest first, it deletes until the kind's file-count and byte ceilings
//!   hold (R2); live files still count toward the totals, so they can keep
//!   a kind above its ceiling: safety beats the ceiling.
//! - [`sweep_orphans`]: workspace directories with no live session row
//!   ([`SessionIndex`]) and an mtime older than the floor (24 h) are removed,
//!   at most `removals_max` (10) per sweep; the rest is left for the next.
//!   The mtime is checked before the row, and a session row is written
//!   before its workspace is cloned, so a new workspace is never an orphan
//!   even if the row lookup races.
//! - Both are asynchronous, act on one entry at a time and yield between
//!   entries (R3); an entry that vanishes, appears, fails (EACCES, EIO) or
//!   turns into a symlink mid-sweep is counted and skipped, and the sweep
//!   goes on (R4).
//! - The swept directory is the one its path names when listed: opened
//!   (a symlink at its path refused) and looked at through that handle
//!   before the listing, and by path after it; a path that names a
//!   symlink (or no directory), or one replaced while it was listed, is
//!   not swept and counts as an error (with a `tracing` warning):
//!   configure the resolved path. [`sweep_dir`] looks at each file again
//!   and removes it through the open directory (`fstatat`, `unlinkat`),
//!   so a directory renamed away and replaced by a symlink or another
//!   directory mid-sweep loses nothing of the replacement, whenever the
//!   swap lands (R1): the sweep goes on in the directory it listed. An
//!   adapter without those operations (`Unsupported`) is swept by path:
//!   each removal first checks that the path still names the directory
//!   listed; once it does not, the sweep removes nothing more, counts
//!   that entry as an error and what it had left as changed, and warns,
//!   and only a swap that lands between that look and the removal
//!   escapes it. [`sweep_orphans`] removes workspaces by path that way.
//! - A workspace whose name is not UTF-8 is kept ([`Kept::NotAKind`]): the
//!   [`SessionIndex`] is asked by `&str`, and a workspace whose row cannot
//!   be looked up is never an orphan.
//! - [`spawn_after`] starts a sweep after a boot delay (90 s)
//!   on a background task that never keeps the process alive.
//! - [`LazySink`]: a JSONL sink whose file appears on its first write only
//!   (R5); construction creates the directory, so a bad directory is
//!   reported early; it never writes through a symlink at its path (R9).
//! - [`delete_workspace_blocking`]: the explicit single-workspace delete a
//!   user asks for, synchronous on purpose.

mod lazy;
mod sweep;

use std::collections::BTreeMap;
use std::time::Duration;

pub use lazy::{FRAGMENT_MAX_AT_OPEN, LazySink};
pub use sweep::{SessionIndex, delete_workspace_blocking, pid_of_name, spawn_after, sweep_dir, sweep_orphans};

/// How far in the future an mtime may lie and still be trusted (R6):
/// clock skew between a host and its file server stays well below this. A
/// file dated further ahead ages from its ctime instead (the moment it was
/// touched), for the floor and for the oldest-first order alike, so that a
/// `touch -d` can neither exempt it from the ceilings nor make it outrank
/// honest files.
pub const MTIME_SKEW_MAX: Duration = Duration::from_secs(600);

/// A kind of file a sweep may delete: names `<prefix>*<suffix>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kind {
    /// Name prefix (`traces-`).
    pub prefix: String,
    /// Name suffix (`.jsonl`).
    pub suffix: String,
    /// At most this many files of the kind.
    pub files_max: usize,
    /// At most this many bytes of the kind.
    pub bytes_max: u64,
}

impl Kind {
    /// Upstream's telemetry kind: 100 files, 50 MiB.
    pub fn telemetry(prefix: &str) -> Kind {
        Kind { prefix: prefix.into(), suffix: ".jsonl".into(), files_max: 100, bytes_max: 50 << 20 }
    }

    /// Is a file name (its bytes: a name need not be UTF-8) of this kind?
    fn matches(&self, name: &[u8]) -> bool {
        name.len() >= self.prefix.len() + self.suffix.len()
            && name.starts_with(self.prefix.as_bytes())
            && name.ends_with(self.suffix.as_bytes())
    }
}

/// What [`sweep_dir`] may delete.
#[derive(Clone, Debug)]
pub struct RetentionPolicy {
    /// The kinds; everything else is never touched.
    pub kinds: Vec<Kind>,
    /// Names never touched, whatever kind they look like.
    pub protected: Vec<String>,
    /// Files younger than this are never deleted.
    pub age_floor: Duration,
    /// Deletions per sweep; the rest waits for the next sweep.
    pub deletions_max: usize,
}

impl RetentionPolicy {
    /// Upstream's telemetry policy: `traces-` and `metrics-` `.jsonl`
    /// files, 100 files and 50 MiB each, `secret_access.jsonl` protected,
    /// a 1 min floor, 10,000 deletions per sweep.
    pub fn telemetry() -> RetentionPolicy {
        RetentionPolicy {
            kinds: vec![Kind::telemetry("traces-"), Kind::telemetry("metrics-")],
            protected: vec!["secret_access.jsonl".into()],
            age_floor: Duration::from_secs(60),
            deletions_max: 10_000,
        }
    }
}

/// What [`sweep_orphans`] may remove.
#[derive(Clone, Debug)]
pub struct OrphanPolicy {
    /// Workspaces younger than this are never orphans. Default 24 h.
    pub age_floor: Duration,
    /// Successful removals per sweep. Default 10.
    pub removals_max: usize,
}

impl Default for OrphanPolicy {
    fn default() -> Self {
        OrphanPolicy { age_floor: Duration::from_secs(24 * 3600), removals_max: 10 }
    }
}

/// Why an entry was kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kept {
    /// A protected name.
    Protected,
    /// Not a declared kind (or not a directory, for workspaces).
    NotAKind,
    /// A symlink: never followed, never deleted.
    Symlink,
    /// Its name carries a live pid.
    LivePid,
    /// Younger than the age floor.
    TooYoung,
    /// A live session row names it.
    LiveSession,
    /// Its kind is within its ceilings.
    WithinCeiling,
    /// The per-sweep cap was reached: left for the next sweep.
    Capped,
}

/// What a sweep did, for the caller to log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Entries listed.
    pub listed: usize,
    /// Entries examined (every listed one unless the listing failed).
    pub examined: usize,
    /// Entries deleted.
    pub deleted: usize,
    /// Bytes freed (file sizes as last seen).
    pub bytes_freed: u64,
    /// Entries kept, by reason.
    pub kept: BTreeMap<Kept, usize>,
    /// Entries that vanished, appeared or changed kind mid-sweep.
    pub changed: usize,
    /// Entries whose stat or delete failed (EACCES, EIO...).
    pub errors: usize,
}

impl SweepReport {
    fn keep(&mut self, why: Kept) {
        *self.kept.entry(why).or_insert(0) += 1;
    }
}
