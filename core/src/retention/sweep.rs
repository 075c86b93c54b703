//! The sweeps themselves: [`sweep_dir`] and [`sweep_orphans`].

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{Kept, Kind, OrphanPolicy, RetentionPolicy, SweepReport};
use crate::fs::{BoxFuture, DirEntry, FileKind, Fs, FsExt, Handle, Metadata, OpenMode};
use crate::procs::Liveness;
use crate::spawn::TaskHandle;
use crate::{Env, yield_now};

/// The caller's session rows: is a workspace (a directory name under the
/// workspace root) named by a live session? A soft-deleted row is not live.
pub trait SessionIndex: Send + Sync {
    /// Whether a live session row names `workspace`.
    fn is_live<'a>(&'a self, workspace: &'a str) -> BoxFuture<'a, io::Result<bool>>;
}

/// The pid a file name carries: the last `-`-separated segment before the
/// kind's suffix, after dropping rotation segments (`name-42.3.log` is pid
/// 42). `None` when it does not parse (such a file counts as not live).
pub fn pid_of_name(name: &str, kind: &Kind) -> Option<u32> {
    pid_in(name.as_bytes(), kind)
}

/// [`pid_of_name`] of a name's bytes (a name need not be UTF-8; the pid's
/// digits are ASCII).
fn pid_in(name: &[u8], kind: &Kind) -> Option<u32> {
    let mut stem = name.strip_suffix(kind.suffix.as_bytes())?;
    while let Some(dot) = stem.iter().rposition(|&b| b == b'.') {
        let tail = &stem[dot + 1..];
        if tail.is_empty() || !tail.iter().all(u8::is_ascii_digit) {
            break;
        }
        stem = &stem[..dot];
    }
    let dash = stem.iter().rposition(|&b| b == b'-')?;
    std::str::from_utf8(&stem[dash + 1..]).ok()?.parse().ok()
}

/// The directory a sweep lists and removes in, as it found it: its path
/// and the identity of the directory there, the same before and after the
/// listing, and (where the adapter offers it) that directory opened
/// before the listing. Removals go through the open directory
/// ([`FsOp::StatAt`](crate::fs::FsOp::StatAt), `RemoveFileAt`): a directory
/// renamed away and replaced (by a symlink, or by another directory)
/// mid-sweep never has its replacement's entries deleted, whenever the
/// swap lands (R1). Without it, each removal by path first checks that
/// the path still names that directory.
struct Root {
    path: PathBuf,
    id: u64,
    open: OpenDir,
}

/// The swept directory's handle, while removals may go through it:
/// closed when the sweep ends, or when this is dropped (a sweep dropped
/// midway leaks no descriptor).
struct OpenDir {
    fs: Arc<dyn Fs>,
    handle: Option<Handle>,
}

impl OpenDir {
    /// A look at the entry `path` names, through the open directory;
    /// `None` when none is open, or when the adapter has no such look (it
    /// is closed then: every step goes by path from now on).
    async fn stat(&mut self, path: &Path) -> Option<io::Result<Metadata>> {
        let (h, name) = (self.handle.as_ref()?, path.file_name()?);
        let look = self.fs.stat_at(h, name).await;
        self.unless_unsupported(look).await
    }

    /// The removal of the entry `path` names, through the open directory;
    /// `None` as for [`OpenDir::stat`].
    async fn remove(&mut self, path: &Path) -> Option<io::Result<()>> {
        let (h, name) = (self.handle.as_ref()?, path.file_name()?);
        let removed = self.fs.remove_file_at(h, name).await;
        self.unless_unsupported(removed).await
    }

    async fn unless_unsupported<T>(&mut self, r: io::Result<T>) -> Option<io::Result<T>> {
        if matches!(&r, Err(e) if e.kind() == io::ErrorKind::Unsupported) {
            self.close().await;
            return None;
        }
        Some(r)
    }

    /// Close it (at the sweep's end, or where the adapter turned out to
    /// have no operations on an open directory's entries): removals go by
    /// path from then on.
    async fn close(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = self.fs.close(&h).await;
        }
    }
}

impl Drop for OpenDir {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = self.fs.close_blocking(&h);
        }
    }
}

/// What a removal's look at its [`Root`] found.
enum RootNow {
    /// Still the directory the sweep listed.
    Same,
    /// Gone, or something else (a symlink, another directory), or the
    /// look failed: this entry is an error. `moved`: the sweep stops
    /// removing (a failed look leaves the next entry to look again).
    Not { moved: bool },
}

impl Root {
    async fn now(&self, env: &Env) -> RootNow {
        let moved = match env.fs.symlink_metadata(&self.path).await {
            Ok(m) if m.kind == FileKind::Dir && m.id == self.id => return RootNow::Same,
            Ok(_) => true,
            Err(e) => e.kind() == io::ErrorKind::NotFound,
        };
        if moved {
            tracing::warn!(dir = %self.path.display(), "the swept directory was replaced mid-sweep; this sweep removes nothing more");
        }
        RootNow::Not { moved }
    }
}

/// What a look at a swept path found: its identity if it is a directory
/// of its own; `None` (nothing to sweep) if missing; an error, counted,
/// if it is anything else (a symlink is never followed, at the root as
/// below it) or the look failed.
async fn look_at_root(env: &Env, dir: &Path, report: &mut SweepReport) -> Option<u64> {
    match env.fs.symlink_metadata(dir).await {
        Ok(m) if m.kind == FileKind::Dir => Some(m.id),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Ok(m) => {
            tracing::warn!(dir = %dir.display(), kind = ?m.kind, "a swept path is no directory of its own: not swept (configure the resolved path)");
            report.errors += 1;
            None
        }
        Err(_) => {
            report.errors += 1;
            None
        }
    }
}

/// One listed entry, with its metadata where the listing carried it.
type Listed = (DirEntry, Option<Metadata>);

/// Whether a sweep opens the directory it lists, for its removals.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Opens {
    /// `sweep_dir`: its removals go through the open directory.
    Dir,
    /// `sweep_orphans`: a workspace goes by path (`remove_dir_all`).
    Nothing,
}

/// A sweep's listing and its root: `None` when there is nothing to sweep
/// (a missing directory is a no-op) or nothing may be swept (an
/// unreadable directory, a path that is no directory of its own, or one
/// replaced while it was listed; each counts as an error). The path is
/// taken as its components say (`logs/` is `logs`: a trailing slash would
/// make the system follow a final symlink).
async fn list(env: &Env, dir: &Path, opens: Opens, report: &mut SweepReport) -> Option<(Vec<Listed>, Root)> {
    let dir: PathBuf = dir.components().collect();
    let mut open = OpenDir { fs: env.fs.clone(), handle: None };
    let before = match opens {
        Opens::Dir => open_root(env, &dir, &mut open, report).await?,
        Opens::Nothing => look_at_root(env, &dir, report).await?,
    };
    let entries = match read_listing(env, &dir).await {
        Ok(entries) => entries,
        Err(e) => {
            if e.kind() != io::ErrorKind::NotFound {
                report.errors += 1;
            }
            open.close().await;
            return None;
        }
    };
    let Some(after) = look_at_root(env, &dir, report).await else {
        open.close().await;
        return None;
    };
    if after != before {
        tracing::warn!(dir = %dir.display(), "the swept directory was replaced while it was listed: not swept");
        report.errors += 1;
        open.close().await;
        return None;
    }
    report.listed = entries.len();
    Some((entries, Root { path: dir, id: after, open }))
}

/// Open the swept directory (a symlink at its path is refused, never
/// followed; anything but a directory is refused without being opened)
/// and say what it is: its identity if it is a directory, as
/// [`look_at_root`] says of a path. An adapter that opens no directory
/// (`Unsupported`) is looked at by path instead, and the sweep removes
/// by path.
async fn open_root(env: &Env, dir: &Path, open: &mut OpenDir, report: &mut SweepReport) -> Option<u64> {
    let h = match env.fs.open(dir, OpenMode::READ.refuse_symlink().only_directory()).await {
        Ok(h) => h,
        Err(e) if e.kind() == io::ErrorKind::Unsupported => return look_at_root(env, dir, report).await,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => {
            if e.kind() == io::ErrorKind::NotADirectory || e.raw_os_error() == Some(crate::fs::ELOOP) {
                tracing::warn!(dir = %dir.display(), "a swept path is a symlink or no directory: not swept (configure the resolved path)");
            }
            report.errors += 1;
            return None;
        }
    };
    open.handle = Some(h.clone());
    match env.fs.handle_metadata(&h).await {
        Ok(m) if m.kind == FileKind::Dir => Some(m.id),
        other => {
            if let Ok(m) = other {
                tracing::warn!(dir = %dir.display(), kind = ?m.kind, "a swept path is no directory: not swept");
            }
            report.errors += 1;
            open.close().await;
            None
        }
    }
}

/// The listing with every entry's metadata in one operation (a sweep of
/// 55,000 files makes one call, not 55,001); from an adapter that does
/// not offer that, the plain listing, each entry to be looked at alone.
async fn read_listing(env: &Env, dir: &Path) -> io::Result<Vec<Listed>> {
    match env.fs.read_dir_metadata(dir).await {
        Err(e) if e.kind() == io::ErrorKind::Unsupported => {
            Ok(env.fs.read_dir(dir).await?.into_iter().map(|e| (e, None)).collect())
        }
        other => other,
    }
}

/// An entry's metadata: the listing's, or (where it had none) a look.
async fn look(env: &Env, path: &Path, listed: Option<Metadata>) -> io::Result<Metadata> {
    match listed {
        Some(m) => Ok(m),
        None => env.fs.symlink_metadata(path).await,
    }
}

/// [`look`] of an entry of the swept directory: through it where it is
/// open (wherever it is now, as the removal will be), by path otherwise.
async fn look_in(env: &Env, root: &mut Root, path: &Path, listed: Option<Metadata>) -> io::Result<Metadata> {
    if listed.is_none()
        && let Some(look) = root.open.stat(path).await
    {
        return look;
    }
    look(env, path, listed).await
}

struct Candidate {
    path: PathBuf,
    len: u64,
    modified: SystemTime,
    /// Its ctime and inode: a file replaced or re-touched to the same
    /// mtime is not the file judged.
    changed: SystemTime,
    id: u64,
    /// What its age counts from ([`age_from`], capped at now).
    ages_from: SystemTime,
    /// `None` when it may be deleted; otherwise why not.
    keep: Option<Kept>,
}

/// Sweep one directory by `policy` (see the [module docs](super)). A
/// missing or unreadable directory is a no-op (counted as an error if
/// unreadable). Never returns early on a per-entry error.
pub async fn sweep_dir(env: &Env, dir: &Path, policy: &RetentionPolicy) -> SweepReport {
    let mut report = SweepReport::default();
    let Some((entries, mut root)) = list(env, dir, Opens::Dir, &mut report).await else { return report };
    let mut by_kind: Vec<Vec<Candidate>> = policy.kinds.iter().map(|_| Vec::new()).collect();
    for (entry, meta) in entries {
        yield_now().await;
        report.examined += 1;
        // By its bytes: a name that is not UTF-8 is of a kind all the
        // same (skipping it would let such files grow past every ceiling).
        let name = entry.name.as_os_str();
        let bytes = name.as_encoded_bytes();
        if policy.protected.iter().any(|p| p.as_bytes() == bytes) {
            report.keep(Kept::Protected);
            continue;
        }
        let Some(k) = policy.kinds.iter().position(|k| k.matches(bytes)) else {
            report.keep(Kept::NotAKind);
            continue;
        };
        match entry.kind {
            FileKind::Symlink => report.keep(Kept::Symlink),
            FileKind::File => {
                if let Some(c) =
                    candidate(env, &mut root, (name, meta), &policy.kinds[k], policy.age_floor, &mut report).await
                {
                    by_kind[k].push(c);
                }
            }
            _ => report.keep(Kept::NotAKind),
        }
    }
    let mut moved = false;
    for (kind, candidates) in policy.kinds.iter().zip(by_kind) {
        enforce(env, &mut root, kind, candidates, policy.deletions_max, &mut moved, &mut report).await;
    }
    root.open.close().await;
    // R4 and the cap: every listed entry examined once, no more deleted
    // than allowed or than there were.
    debug_assert_eq!(report.examined, report.listed, "every listed entry is examined");
    debug_assert!(report.deleted <= policy.deletions_max.min(report.listed), "{report:?}");
    report
}

/// The instant an entry's age counts from (R1, R6): its mtime, unless that
/// lies more than [`MTIME_SKEW_MAX`](super::MTIME_SKEW_MAX) in the future.
/// Anyone who can `touch` a file can date its mtime, so a far-future one
/// is no age at all: the ctime then stands for it, which `touch` moves to
/// the moment of the touch and which only a change of the system clock
/// can date ahead. `None` when both lie that far ahead (the clock jumped
/// back): young, until the clock passes them, which bounds the exemption
/// by the jump.
fn age_from(now: SystemTime, meta: &Metadata) -> Option<SystemTime> {
    let trusted = |t: SystemTime| t.duration_since(now).map_or(true, |ahead| ahead <= super::MTIME_SKEW_MAX);
    [meta.modified, meta.changed].into_iter().find(|t| trusted(*t))
}

/// Is an entry younger than the floor? An age that starts up to the skew
/// bound in the future is young (a file server a little ahead), which is
/// safe and ends as the clock passes it.
fn is_young(now: SystemTime, meta: &Metadata, floor: Duration) -> bool {
    match age_from(now, meta).map(|t| now.duration_since(t)) {
        Some(Ok(age)) => age < floor,
        Some(Err(_)) | None => true,
    }
}

/// Judge one file of a kind (by its listed metadata, or a look) and
/// whether it may go.
async fn candidate(
    env: &Env,
    root: &mut Root,
    (name, listed): (&std::ffi::OsStr, Option<Metadata>),
    kind: &Kind,
    age_floor: Duration,
    report: &mut SweepReport,
) -> Option<Candidate> {
    let path = root.path.join(name);
    let meta = match look_in(env, root, &path, listed).await {
        Ok(m) if m.kind == FileKind::File => m,
        Ok(_) => {
            report.changed += 1; // turned into a symlink or directory
            return None;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            report.changed += 1;
            return None;
        }
        Err(_) => {
            report.errors += 1;
            return None;
        }
    };
    let live = pid_in(name.as_encoded_bytes(), kind).is_some_and(|pid| env.procs.liveness(pid) != Liveness::Dead);
    let now = env.clock.wall();
    let young = is_young(now, &meta, age_floor);
    let keep = if live {
        Some(Kept::LivePid)
    } else if young {
        Some(Kept::TooYoung)
    } else {
        None
    };
    // Oldest first by the same age: a file dated into the future sorts by
    // when it was touched, never past every honest file (R6).
    let ages_from = age_from(now, &meta).map_or(now, |t| t.min(now));
    Some(Candidate {
        path,
        len: meta.len,
        modified: meta.modified,
        changed: meta.changed,
        id: meta.id,
        ages_from,
        keep,
    })
}

/// Delete a kind's oldest deletable files until its ceilings hold. Once
/// the root has `moved` (this kind's removals found it, or an earlier
/// kind's), every candidate left counts as changed: none is removed.
async fn enforce(
    env: &Env,
    root: &mut Root,
    kind: &Kind,
    mut candidates: Vec<Candidate>,
    deletions_max: usize,
    moved: &mut bool,
    report: &mut SweepReport,
) {
    // Oldest first, then by path. Every candidate is one directory joined
    // with a name from its listing, so the paths' bytes order them as the
    // paths do, without parsing components (a sweep sorts thousands).
    candidates.sort_by(|a, b| a.ages_from.cmp(&b.ages_from).then_with(|| a.path.as_os_str().cmp(b.path.as_os_str())));
    // Strictly: no path twice. (By bytes: a `Path` comparison parses both
    // paths' components, and this runs after every sort of thousands.)
    debug_assert!(
        candidates
            .windows(2)
            .all(|w| (w[0].ages_from, w[0].path.as_os_str()) < (w[1].ages_from, w[1].path.as_os_str())),
        "candidates out of (age, path) order"
    );
    let mut count = candidates.len();
    let mut bytes: u64 = candidates.iter().map(|c| c.len).sum();
    for c in candidates {
        if *moved {
            report.changed += 1;
            continue;
        }
        if count <= kind.files_max && bytes <= kind.bytes_max {
            report.keep(Kept::WithinCeiling);
            continue;
        }
        if let Some(why) = c.keep {
            report.keep(why);
            continue;
        }
        if report.deleted >= deletions_max {
            report.keep(Kept::Capped);
            continue;
        }
        yield_now().await;
        match delete_if_unchanged(env, root, &c).await {
            Outcome::RootMoved => {
                *moved = true;
                report.errors += 1;
                continue;
            }
            Outcome::Deleted => {
                report.deleted += 1;
                report.bytes_freed += c.len;
            }
            Outcome::Vanished => report.changed += 1,
            Outcome::Changed => {
                report.changed += 1;
                continue; // still there, still counted
            }
            Outcome::Failed => {
                report.errors += 1;
                continue;
            }
        }
        count -= 1;
        bytes = bytes.saturating_sub(c.len);
    }
}

enum Outcome {
    Deleted,
    Vanished,
    Changed,
    Failed,
    RootMoved,
}

/// Delete a file only if it is still the file judged (a regular file with
/// the same mtime, ctime and inode), in the directory the sweep listed:
/// one that turned into a symlink, was rewritten, replaced or re-touched
/// meanwhile is left alone (R1, R4). Through the open directory, the look
/// and the removal are of its own entry, wherever it is now; by path (an
/// adapter without those operations), the root is looked at last, just
/// before the removal, and every file is left alone once the root moved:
/// a swap that lands between that look and the removal is the one race a
/// removal by path cannot close.
async fn delete_if_unchanged(env: &Env, root: &mut Root, c: &Candidate) -> Outcome {
    if let Some(look) = root.open.stat(&c.path).await {
        if let Some(not) = not_judged(look, c) {
            return not;
        }
        if let Some(removed) = root.open.remove(&c.path).await {
            return removed_as(removed);
        }
    }
    if let Some(not) = not_judged(env.fs.symlink_metadata(&c.path).await, c) {
        return not;
    }
    match root.now(env).await {
        RootNow::Same => {}
        RootNow::Not { moved: true } => return Outcome::RootMoved,
        RootNow::Not { moved: false } => return Outcome::Failed,
    }
    removed_as(env.fs.remove_file(&c.path).await)
}

/// What a removal's look found, unless it is the file judged.
fn not_judged(look: io::Result<Metadata>, c: &Candidate) -> Option<Outcome> {
    match look {
        Ok(m) if m.kind == FileKind::File && (m.modified, m.changed, m.id) == (c.modified, c.changed, c.id) => None,
        Ok(_) => Some(Outcome::Changed),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Some(Outcome::Vanished),
        Err(_) => Some(Outcome::Failed),
    }
}

fn removed_as(r: io::Result<()>) -> Outcome {
    match r {
        Ok(()) => Outcome::Deleted,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Outcome::Vanished,
        Err(_) => Outcome::Failed,
    }
}

/// Remove orphan workspaces under `root` (see the [module docs](super)).
pub async fn sweep_orphans(env: &Env, root: &Path, index: &dyn SessionIndex, policy: &OrphanPolicy) -> SweepReport {
    let mut report = SweepReport::default();
    let Some((entries, root)) = list(env, root, Opens::Nothing, &mut report).await else { return report };
    let mut moved = false;
    for (entry, meta) in entries {
        yield_now().await;
        report.examined += 1;
        if moved {
            report.changed += 1;
            continue;
        }
        match (entry.kind, entry.name.to_str()) {
            (FileKind::Symlink, _) => report.keep(Kept::Symlink),
            (FileKind::Dir, Some(name)) if report.deleted < policy.removals_max => {
                moved = orphan(env, &root, (name, meta), index, policy.age_floor, &mut report).await
            }
            (FileKind::Dir, Some(_)) => report.keep(Kept::Capped),
            _ => report.keep(Kept::NotAKind),
        }
    }
    report
}

/// Judge one workspace and remove it if it is an orphan; `true` when the
/// root moved under the sweep (this entry is then counted as an error, and
/// the sweep removes nothing more).
async fn orphan(
    env: &Env,
    root: &Root,
    (name, listed): (&str, Option<Metadata>),
    index: &dyn SessionIndex,
    floor: Duration,
    report: &mut SweepReport,
) -> bool {
    let path = root.path.join(name);
    let meta = match look(env, &path, listed).await {
        Ok(m) if m.kind == FileKind::Dir => m,
        Ok(_) => return changed(report),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return changed(report),
        Err(_) => return failed(report),
    };
    // The floor first: a row is written before its workspace is cloned, so
    // a young directory may have a row the lookup has not seen yet.
    if kept_young(env, &meta, floor, report) {
        return false;
    }
    match index.is_live(name).await {
        Ok(true) => {
            report.keep(Kept::LiveSession);
            return false;
        }
        Ok(false) => {}
        Err(_) => return failed(report),
    }
    // Still the directory judged, and still past the floor: a workspace
    // removed and cloned again under its name meanwhile is a new one (its
    // row was written first), even where the file system handed the new
    // one the old one's inode (ext4 and xfs reuse them, and so does
    // SimFs): the listing's look may be minutes old by now.
    match env.fs.symlink_metadata(&path).await {
        Ok(m) if m.kind == FileKind::Dir && m.id == meta.id => {
            if kept_young(env, &m, floor, report) {
                return false;
            }
        }
        Ok(_) => return changed(report),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return changed(report),
        Err(_) => return failed(report),
    }
    match root.now(env).await {
        RootNow::Same => {}
        RootNow::Not { moved } => {
            failed(report);
            return moved;
        }
    }
    match env.fs.remove_dir_all(&path).await {
        Ok(()) => report.deleted += 1,
        Err(e) if e.kind() == io::ErrorKind::NotFound => report.changed += 1,
        Err(_) => report.errors += 1,
    }
    false
}

/// Keep a workspace younger than the floor by `meta`, now; true if kept.
fn kept_young(env: &Env, meta: &Metadata, floor: Duration, report: &mut SweepReport) -> bool {
    let young = is_young(env.clock.wall(), meta, floor);
    if young {
        report.keep(Kept::TooYoung);
    }
    young
}

/// Count an entry changed under the sweep; the root did not move.
fn changed(report: &mut SweepReport) -> bool {
    report.changed += 1;
    false
}

/// Count an entry whose step failed; the root did not move.
fn failed(report: &mut SweepReport) -> bool {
    report.errors += 1;
    false
}

/// Run `sweep` once, `delay` after now, on a background task that does not
/// keep the process alive (the boot sweep: 90 s after "listening").
pub fn spawn_after(env: &Env, delay: Duration, sweep: BoxFuture<'static, ()>) -> TaskHandle {
    let clock = env.clock.clone();
    env.spawner.spawn(
        "retention-sweep",
        Box::pin(async move {
            clock.sleep(delay).await;
            sweep.await;
        }),
    )
}

/// The explicit delete of one workspace a user asks for: synchronous on
/// purpose (the user waits for it). `name` must be one plain path
/// component, and a symlink is refused rather than followed.
pub fn delete_workspace_blocking(env: &Env, root: &Path, name: &str) -> io::Result<()> {
    let plain = !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0']);
    if !plain {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{name:?} is not a workspace name")));
    }
    let path = root.join(name);
    let meta = match env.fs.symlink_metadata_blocking(&path) {
        // Already gone: deleting it again is done, not an error.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        other => other?,
    };
    if meta.kind != FileKind::Dir {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{} is not a directory", path.display())));
    }
    match env.fs.remove_dir_all_blocking(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_parse_from_names_as_upstream_did() {
        let k = Kind::telemetry("traces-");
        let log = Kind { prefix: "app-".into(), suffix: ".log".into(), files_max: 20, bytes_max: 200 << 20 };
        for (name, kind, pid) in [
            ("traces-42.jsonl", &k, Some(42)),
            ("traces-host-a-4242.jsonl", &k, Some(4242)),
            ("traces-.jsonl", &k, None),
            ("traces-abc.jsonl", &k, None),
            ("traces-42.json", &k, None),
            ("app-42.3.log", &log, Some(42)),
            ("app-42.3.17.log", &log, Some(42)),
            ("app-x.log", &log, None),
        ] {
            assert_eq!(pid_of_name(name, kind), pid, "{name}");
        }
    }
}
