//! The disk: the file tree with its live and durable images ([`Tree`]),
//! the effects queued to land at their instants, the results waiting for
//! their callers, and the armed crash point. Each fault mechanism that acts
//! when an effect lands has its own file: `capacity.rs` (the disk fills by
//! bytes) and `silent.rs` (corrupt reads, lost and misdirected writes);
//! injected errors and partial writes are applied here.
//!
//! What to decide (latency, instant, which fault) is the plan's business
//! (`crate::plan`); the disk only applies what was decided.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use steadfast_core::{FsOp, FsOutput};

use crate::faults::{self, FaultKind};
use crate::log::Ending;
use crate::plan::Silent;

mod capacity;
mod silent;
mod tree;

pub use tree::{FILE_LEN_MAX, Listed, NAME_MAX, PowerLost, Torn, Tree, TreeImage, hash_bytes};

/// An operation whose effect is queued.
pub(crate) struct Pending {
    pub id: u64,
    pub op: FsOp,
    /// `op`'s (first) path, shared with the history's records of it.
    pub path: Arc<Path>,
    pub node: Arc<str>,
    /// The caller's pid (0 for the harness): a killed process stays alive
    /// until its in-flight system calls finish, as in a kernel.
    pub pid: u32,
    /// The calling task's name.
    pub task: Arc<str>,
    /// How many times the calling task had slept when it began this, if
    /// it is a named task.
    pub sleeps: Option<u64>,
    pub fault: Option<(FaultKind, usize)>,
    /// With a fault on a write-like op: the prefix of the data that still
    /// lands (a partial write before the error).
    pub partial: Option<usize>,
    /// A silent fault the plan chose for this operation.
    pub silent: Option<Silent>,
    /// A handle operation that pinned its open handle when it was queued
    /// (set by [`Disk::queue`]); one that did not fails with `EBADF`.
    pub pinned: bool,
}

/// A landed operation whose caller has not yet returned from it.
pub(crate) struct Returning {
    pub pid: u32,
    pub op: &'static str,
    pub path: Arc<Path>,
}

/// One effect that just landed, for the log and the watchers.
pub(crate) struct Effect {
    pub at: u64,
    /// Boxed, as in the queue: an effect moves by its pointer.
    pub pending: Box<Pending>,
    pub ending: Ending,
    pub ok: bool,
    /// What a stat that succeeded answered (for the watchers).
    pub stat: Option<steadfast_core::fs::Metadata>,
}

/// The disk of one run.
pub(crate) struct Disk {
    pub tree: Tree,
    /// Boxed: the queue's B-tree shifts its entries on every insert and
    /// removal, and a `Pending` is 200 bytes (`lock`: 4.2% of a seed's
    /// time in those moves).
    pending: BTreeMap<(u64, u64), Box<Pending>>,
    /// Landed operations' results, with whose call each answers, until
    /// their callers take them at the end of their windows.
    results: BTreeMap<u64, (io::Result<FsOutput>, Returning)>,
    /// Operations whose caller went away: their results are not kept.
    abandoned: BTreeSet<u64>,
    next_op: u64,
    /// The armed crash point: the queue key of the operation after whose
    /// effect the power goes out, and the rule that armed it.
    pub crash: Option<((u64, u64), usize)>,
    /// The disk's size in bytes (the schedule's `capacity_bytes`).
    capacity_bytes: Option<u64>,
    /// Effects landed so far.
    pub fs_ops: u64,
    /// Faults applied so far (injected errors, full-disk refusals, silent
    /// faults).
    pub faults_injected: u64,
}

impl Disk {
    pub fn new(wall: SystemTime, capacity_bytes: Option<u64>) -> Disk {
        Disk {
            tree: Tree::new(wall),
            pending: BTreeMap::new(),
            results: BTreeMap::new(),
            abandoned: BTreeSet::new(),
            next_op: 0,
            crash: None,
            capacity_bytes,
            fs_ops: 0,
            faults_injected: 0,
        }
    }

    /// The id the next queued operation gets.
    pub fn next_id(&mut self) -> u64 {
        let id = self.next_op;
        self.next_op += 1;
        id
    }

    /// Queue `p`'s effect at `effect_ns`.
    pub fn queue(&mut self, effect_ns: u64, mut p: Pending) {
        if let Some(h) = p.op.handle() {
            p.pinned = self.tree.pin(h.id);
        }
        let previous = self.pending.insert((effect_ns, p.id), Box::new(p));
        debug_assert!(previous.is_none(), "two operations share a queue key");
    }

    /// Every operation in flight with the virtual instant (ns) its effect
    /// lands, earliest first.
    pub fn in_flight_landing(&self) -> impl Iterator<Item = (u64, &Pending)> {
        self.pending.iter().map(|(&(at, _), p)| (at, &**p))
    }

    /// Landed operations whose callers are still waiting out their
    /// windows (blocking calls return at once and are never here).
    pub fn returning(&self) -> impl Iterator<Item = &Returning> {
        self.results.values().map(|(_, r)| r)
    }

    /// Is an effect due to land at or before `t_ns` (one queued before the
    /// armed crash point, if any)?
    pub fn due(&self, t_ns: u64) -> bool {
        self.pending.first_key_value().is_some_and(|(&key, _)| Self::lands_by(key, t_ns, self.crash))
    }

    /// Does the effect queued under `key` land by `t_ns`, given the armed
    /// crash point `crash`?
    fn lands_by((at, id): (u64, u64), t_ns: u64, crash: Option<((u64, u64), usize)>) -> bool {
        at <= t_ns && crash.is_none_or(|(key, _)| (at, id) <= key)
    }

    /// Does process `pid` have an operation in flight?
    pub fn pid_in_flight(&self, pid: u32) -> bool {
        self.pending.values().any(|p| p.pid == pid)
    }

    /// Land the next effect due at or before `t_ns` (never one queued after
    /// the armed crash point).
    pub fn land_next(&mut self, t_ns: u64, wall_at: impl Fn(u64) -> SystemTime) -> Option<Effect> {
        if !self.due(t_ns) {
            return None;
        }
        let ((at, _), p) = self.pending.pop_first()?;
        let (result, ending) = self.apply(&p, wall_at(at));
        if let (true, Some(h)) = (p.pinned, p.op.handle()) {
            self.tree.unpin(h.id);
        }
        self.fs_ops += 1;
        let ok = result.is_ok();
        let stat = match &result {
            Ok(FsOutput::Metadata(m)) => Some(m.clone()),
            _ => None,
        };
        if !self.abandoned.remove(&p.id) {
            let returning = Returning { pid: p.pid, op: p.op.name(), path: p.path.clone() };
            self.results.insert(p.id, (result, returning));
        }
        Some(Effect { at, pending: p, ending, ok, stat })
    }

    /// Apply one operation with the faults planned for it.
    fn apply(&mut self, p: &Pending, wall: SystemTime) -> (io::Result<FsOutput>, Ending) {
        if p.op.handle().is_some() && !p.pinned && !matches!(p.op, FsOp::Close(_)) {
            // Begun through a handle that was closed or never opened.
            return honest(Err(tree::ebadf()));
        }
        if let Some((fault, rule)) = p.fault {
            // A write that failed before its first byte changes nothing,
            // not even the mtime; the bytes that land fit on the disk.
            let fits = |keep: usize| match self.capacity_bytes {
                Some(limit) => capacity::refuses(&self.tree, &truncated(&p.op, keep), limit).unwrap_or(keep),
                None => keep,
            };
            if let Some(keep) = p.partial.map(fits).filter(|&k| k > 0) {
                let _ = self.tree.apply(&truncated(&p.op, keep), wall);
            }
            self.faults_injected += 1;
            return (Err(faults::injected(fault, p.op.name(), rule)), Ending::Injected { fault, rule });
        }
        if let Some(limit) = self.capacity_bytes
            && let Some(fits) = capacity::refuses(&self.tree, &p.op, limit)
        {
            // A `write` truncates before it runs out of room; a create
            // that does not fit leaves nothing.
            if fits > 0 || matches!(p.op, FsOp::Write { .. }) {
                if let Err(e) = self.tree.apply(&truncated(&p.op, fits), wall) {
                    return honest(Err(e));
                }
            }
            self.faults_injected += 1;
            return (Err(faults::disk_full(p.op.name())), Ending::DiskFull);
        }
        if let Some(s) = &p.silent
            && let Some(done) = silent::apply(&mut self.tree, &p.op, s, self.capacity_bytes, wall)
        {
            self.faults_injected += 1;
            return done;
        }
        honest(self.tree.apply(&p.op, wall))
    }

    /// The result of operation `id`, once it landed (a power loss took it
    /// otherwise).
    pub fn take_result(&mut self, id: u64, op_name: &'static str) -> io::Result<FsOutput> {
        self.results.remove(&id).map_or_else(|| Err(faults::lost_to_power_loss(op_name)), |(r, _)| r)
    }

    /// The caller of `id` went away: forget its result, now or when it
    /// lands.
    pub fn abandon(&mut self, id: u64) {
        if self.results.remove(&id).is_none() {
            self.abandoned.insert(id);
        }
    }

    /// The power goes out: queued effects are lost, and the tree keeps its
    /// durable image (committed metadata first if `metadata_survives`, a
    /// torn prefix of unsynced data if `torn`). Returns the effects lost
    /// and what the tree lost.
    pub fn power_loss(
        &mut self,
        torn: bool,
        metadata_survives: bool,
        keep: &mut dyn FnMut(usize) -> usize,
    ) -> (usize, PowerLost) {
        self.crash = None;
        let lost = self.pending.len();
        self.pending.clear();
        self.results.clear();
        self.abandoned.clear();
        if metadata_survives {
            self.tree.commit_metadata();
        }
        let mode = if torn { Torn::Prefix } else { Torn::None };
        // Every process dies with the power: no handle stays open.
        self.tree.close_all();
        (lost, self.tree.power_loss(mode, keep))
    }

    /// Drop everything queued (the run is over).
    pub fn clear(&mut self) {
        self.pending.clear();
        self.results.clear();
    }
}

/// A result the tree gave on its own, with its history ending.
fn honest(result: io::Result<FsOutput>) -> (io::Result<FsOutput>, Ending) {
    let ending = match &result {
        Ok(_) => Ending::Ok,
        Err(e) => Ending::Err(kind_name(e.kind())),
    };
    (result, ending)
}

/// An `ErrorKind`'s name as its `Debug` spells it, without formatting
/// (nor allocating) for the kinds a tree gives.
fn kind_name(kind: io::ErrorKind) -> Cow<'static, str> {
    use io::ErrorKind as K;
    Cow::Borrowed(match kind {
        K::NotFound => "NotFound",
        K::AlreadyExists => "AlreadyExists",
        K::PermissionDenied => "PermissionDenied",
        K::InvalidInput => "InvalidInput",
        K::InvalidData => "InvalidData",
        K::NotADirectory => "NotADirectory",
        K::IsADirectory => "IsADirectory",
        K::DirectoryNotEmpty => "DirectoryNotEmpty",
        K::StorageFull => "StorageFull",
        K::UnexpectedEof => "UnexpectedEof",
        K::Unsupported => "Unsupported",
        K::Other => "Other",
        other => return Cow::Owned(format!("{other:?}")),
    })
}

/// `op` with its data cut to `keep` bytes (a write interrupted by an error).
fn truncated(op: &FsOp, keep: usize) -> FsOp {
    rewrite(op, None, |d| d[..keep.min(d.len())].to_vec())
}

/// A write or append `op` moved to `path` (if given) with its data made by
/// `data` from the old; any other operation as it is. How every fault that
/// changes what a write does (partial, full disk, lost, misdirected) says so.
fn rewrite(op: &FsOp, path: Option<PathBuf>, data: impl FnOnce(&[u8]) -> Vec<u8>) -> FsOp {
    match op {
        FsOp::Write { path: p, data: d } => FsOp::Write { path: path.unwrap_or_else(|| p.clone()), data: data(d) },
        FsOp::Append { path: p, data: d } => FsOp::Append { path: path.unwrap_or_else(|| p.clone()), data: data(d) },
        // A write through a handle stays in its file: it cannot go astray
        // by path.
        FsOp::WriteAt { handle, at, data: d } => FsOp::WriteAt { handle: handle.clone(), at: *at, data: data(d) },
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_name_is_its_debug_spelling() {
        use io::ErrorKind as K;
        for k in [
            K::NotFound,
            K::AlreadyExists,
            K::PermissionDenied,
            K::InvalidInput,
            K::InvalidData,
            K::NotADirectory,
            K::IsADirectory,
            K::DirectoryNotEmpty,
            K::StorageFull,
            K::UnexpectedEof,
            K::Unsupported,
            K::Other,
            K::Interrupted,
            K::WouldBlock,
        ] {
            assert_eq!(kind_name(k), format!("{k:?}"));
        }
    }
}
