//! The hostile host of the `lock` scenario: contender tasks sharing their
//! process's manager (or a second one), a vandal at the lock path, a full
//! disk, a power loss in the middle of a tail repair; and the L8 judgement
//! of every contender's acquire.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use steadfast_core::lock::{LockError, LockGuard, LockManager, LockOwner, lock_path};
use steadfast_core::{FileKind, FsOp, FsOutput};
use steadfast_sim::schedule::{CrashRule, ErrorRule, Latency};
use steadfast_sim::swarm::Swarm;
use steadfast_sim::{FaultKind, Schedule};

use super::legacy::{Flaw, LegacyError, LegacyGuard, LegacyManager};
use super::{
    DIR, DISK_FULL, LATENCY_MS_MAX, NOT_A_FILE, Proc, RESTART_MS, SESSIONS, SIBLINGS, Variant, lock_book, make_config,
    register,
};

/// L8's bound on one acquire: the timeout, one retry delay, and the file
/// operations of the last try (a create, a look, a takeover through its
/// claim, the final look that names the owner: at most 16 on this mount).
const ACQUIRE_BOUND: Duration = Duration::from_millis(
    super::ACQUIRE_TIMEOUT.as_millis() as u64 + super::RETRY_MAX.as_millis() as u64 + 16 * LATENCY_MS_MAX,
);
pub(super) const CONTENDERS_MAX: u64 = 6;

/// The hostile parts of a seed's schedule.
pub(super) fn schedule(s: &mut Schedule, sw: &mut Swarm, variant: Variant) {
    if sw.on("enospc") || variant == Variant::EnospcLockout {
        s.errors.push(ErrorRule {
            ops: ["create_new", "append"].map(String::from).to_vec(),
            path_prefix: Some(DIR.into()),
            error: FaultKind::Enospc,
            nth: None,
            probability: Some(sw.rate("enospc").max(0.05)),
            while_renaming: false,
        });
    }
    if sw.on("repair_crash") {
        // The power goes out at a tail repair's cut of a transcript (or,
        // for a replica that repairs by copy, as its copy is synced, before
        // it is renamed: the copy survives the reboot): the torn tail may
        // come back, and the next holder cuts it.
        let session = sw.rng().range(0, SESSIONS.len() as u64 - 1) as usize;
        s.crashes.push(CrashRule {
            ops: vec!["set_len".into(), "sync_file".into()],
            path_prefix: Some(PathBuf::from(SESSIONS[session])),
            nth: 1,
            metadata_survives: true,
            torn: false,
            restart_after_ms: Some(RESTART_MS),
        });
    }
    let rng = sw.rng();
    // A crowd: every contender slot filled, nearly all on one session. The
    // replicas run in a crowd always (their flaws live in contention).
    let crowd = variant.flaw().is_some() || rng.chance(0.3);
    s.params.insert("crowd".into(), u64::from(crowd));
    if crowd && rng.chance(0.7) {
        // Creates slower than reads (a network file system's server makes
        // a new entry durable first): a fresh lock file is visible well
        // before its creator hears back.
        let slow = rng.range(LATENCY_MS_MAX / 2, LATENCY_MS_MAX);
        let fast = rng.range(1, LATENCY_MS_MAX / 10);
        if let Some(mount) = s.mounts.first_mut() {
            mount.latency.insert(0, Latency { ops: vec!["create_new".into()], ms_min: slow / 2, ms_max: slow });
            mount.latency.insert(1, Latency { ops: vec![], ms_min: 0, ms_max: fast });
        }
    }
    let contenders = if crowd { CONTENDERS_MAX } else { rng.range(0, CONTENDERS_MAX) };
    s.params.insert("contenders".into(), contenders);
    s.params.insert("two_managers".into(), u64::from(rng.chance(0.3)));
    s.params.insert("controller".into(), u64::from(rng.chance(0.6)));
    let vandal = variant == Variant::Spin || rng.chance(0.5) || variant == Variant::RepairThroughSymlink;
    s.params.insert("vandal".into(), u64::from(vandal));
}

/// What a contender takes its locks through.
pub(super) enum Locker {
    /// `core::lock`.
    Core(LockManager),
    /// A replica with one flaw.
    Legacy(Rc<LegacyManager>),
}

impl Locker {
    /// A replica manager of its own (the second manager of a process).
    pub(super) fn legacy(p: &Proc, flaw: Flaw) -> Locker {
        Locker::Legacy(Rc::new(LegacyManager::new(&p.env, make_config(&p.env, &p.book, &p.world, None), flaw)))
    }
}

enum Held {
    Core(LockGuard),
    Legacy(LegacyGuard),
}

impl Held {
    fn owner(&self) -> &LockOwner {
        match self {
            Held::Core(g) => g.owner(),
            Held::Legacy(g) => g.owner(),
        }
    }

    async fn append(&self, line: &[u8]) {
        match self {
            Held::Core(g) => {
                let _ = g.append(line).await;
            }
            Held::Legacy(g) => {
                let _ = g.append(line).await;
            }
        }
    }

    async fn release(&self) {
        match self {
            Held::Core(g) => {
                let _ = g.release().await;
            }
            Held::Legacy(g) => g.release().await,
        }
    }
}

/// How an acquire ended, for L8.
enum Ended {
    Held(Held),
    Timeout,
    /// What was found at the lock path (the replicas do not say), the
    /// `ErrorKind` the error keeps, and its message.
    NotAFile {
        found: Option<FileKind>,
        io_kind: Option<std::io::ErrorKind>,
        says: String,
    },
    Permanent {
        kind: std::io::ErrorKind,
        io_kind: Option<std::io::ErrorKind>,
        says: String,
    },
    Other,
}

async fn acquire(locker: &Locker, path: &Path) -> Ended {
    match locker {
        Locker::Core(m) => match m.acquire(path).await {
            Ok(g) => Ended::Held(Held::Core(g)),
            Err(LockError::Timeout { .. }) => Ended::Timeout,
            Err(e) => match &e {
                LockError::NotAFile { found, .. } => {
                    Ended::NotAFile { found: Some(*found), io_kind: e.io_kind(), says: e.to_string() }
                }
                LockError::Io { source, .. } => {
                    Ended::Permanent { kind: source.kind(), io_kind: e.io_kind(), says: e.to_string() }
                }
                _ => Ended::Other,
            },
        },
        Locker::Legacy(m) => match m.acquire(path).await {
            Ok(g) => Ended::Held(Held::Legacy(g)),
            Err(LegacyError::Timeout(_)) => Ended::Timeout,
            Err(LegacyError::NotAFile) => Ended::NotAFile { found: None, io_kind: None, says: String::new() },
            Err(LegacyError::Permanent(e)) => {
                Ended::Permanent { kind: e.kind(), io_kind: Some(e.kind()), says: e.to_string() }
            }
        },
    }
}

/// Short turns until the chaos ends: acquire, append a line, release.
pub(super) async fn contender(p: &Rc<Proc>, locker: Locker, stream: u64) {
    let mut rng = p.world.workload_rng(stream);
    let crowd = p.world.schedule().param("crowd", 0) == 1;
    while p.world.now() < p.world.chaos_end() {
        // Half the turns (in a crowd nine in ten) go to one session:
        // siblings contend for it.
        let one = if crowd { 0.9 } else { 0.5 };
        let session = if rng.chance(one) { 0 } else { rng.range(0, SESSIONS.len() as u64 - 1) as usize };
        let path = Path::new(SESSIONS[session]);
        let started = p.world.now();
        let plant = lock_book(&p.book).plant.get(&session).copied();
        let sibling_holds = {
            let book = lock_book(&p.book);
            let holder = book.current.get(&session).and_then(|n| book.holds.get(n));
            holder.is_some_and(|h| h.incarnation == p.incarnation && !h.ending)
        };
        if sibling_holds {
            p.world.reach(SIBLINGS);
        }
        let done = Rc::new(Cell::new(false));
        watch_deadline(p, session, started, done.clone());
        let ended = acquire(&locker, path).await;
        done.set(true);
        judge(p, session, started, plant, &ended);
        if let Ended::Held(held) = ended {
            register(p, session, held.owner());
            let line =
                |k: u64| format!("{{\"n\":{},\"fence\":{},\"k\":{k}}}\n", held.owner().nonce, held.owner().fence);
            if p.variant == Variant::UnorderedTail {
                // Two tasks write through the one guard at once, three
                // lines each (as one `lock` turn in three does through
                // core's guard).
                for r in 0..3 {
                    let (a, b) = (line(7 + 2 * r), line(8 + 2 * r));
                    crate::join2(
                        super::calling(p, session, held.append(a.as_bytes())),
                        super::calling(p, session, held.append(b.as_bytes())),
                    )
                    .await;
                }
            } else {
                super::calling(p, session, held.append(line(7).as_bytes())).await;
            }
            p.env.clock.sleep(Duration::from_millis(rng.range(0, 100))).await;
            if let Some(h) = lock_book(&p.book).holds.get_mut(&held.owner().nonce) {
                h.ending = true;
            }
            held.release().await;
            if let Some(h) = lock_book(&p.book).holds.get_mut(&held.owner().nonce) {
                h.ended = true;
            }
        }
        p.env.clock.sleep(Duration::from_millis(rng.range(0, 200))).await;
    }
}

/// L8: an acquire that has not returned by its bound is a violation, even
/// if it never returns (a spin).
fn watch_deadline(p: &Rc<Proc>, session: usize, started: Duration, done: Rc<Cell<bool>>) {
    let p = p.clone();
    madsim::task::spawn_local(async move {
        // Time the process spent frozen does not count against the bound.
        super::sleep_past_freezes(&p.world, &p.name, started, started + ACQUIRE_BOUND).await;
        // A killed process's acquire ends with it.
        let same = lock_book(&p.book).incarnation.get(&p.name) == Some(&p.incarnation);
        if !done.get() && same && (p.world.is_alive(&p.name) || p.world.exited(&p.name)) {
            p.world.check("L8", false, || {
                format!(
                    "acquire of {} started at {started:?} has not returned after {ACQUIRE_BOUND:?}",
                    SESSIONS[session]
                )
            });
        }
    });
}

/// L8 for an acquire that returned: within its bound, and at once (never a
/// full timeout) when a non-file sat at the lock path throughout.
fn judge(p: &Proc, session: usize, started: Duration, plant: Option<(u64, Plant)>, ended: &Ended) {
    let now = p.world.now();
    // Time the process spent frozen does not count against the bound.
    let took = now.saturating_sub(started).saturating_sub(super::frozen(&p.world, &p.name, started, now));
    p.world.check("L8", took <= ACQUIRE_BOUND, || {
        format!("acquire of {} took {took:?}, over its bound {ACQUIRE_BOUND:?}", SESSIONS[session])
    });
    let still = lock_book(&p.book).plant.get(&session).copied();
    if let (Some((id, kind)), Some((id_now, _))) = (plant, still)
        && id == id_now
        && kind.permanent()
    {
        // Refused at once, typed: the non-file itself, or another permanent
        // error met first (a full disk).
        let refused = matches!(ended, Ended::NotAFile { .. } | Ended::Permanent { .. });
        // (At once means on the first try that meets it: transient errors
        // before that are retried, within the bound checked above.)
        p.world.check("L8", refused, || {
            format!(
                "{:?} sat at the lock path of {} throughout; acquire took {took:?} and did not refuse it",
                kind, SESSIONS[session]
            )
        });
        if matches!(ended, Ended::NotAFile { .. }) {
            p.world.reach(NOT_A_FILE);
        }
        judge_refusal(p, session, kind, ended);
    }
    if let Ended::Permanent { kind, .. } = ended {
        super::judge_not_transient(&p.world, session, *kind);
    }
    if matches!(ended, Ended::Permanent { kind: std::io::ErrorKind::StorageFull, .. }) {
        p.world.reach(DISK_FULL);
    }
}

/// L8's "typed, keeping its ErrorKind and naming the cause" for an
/// acquire refused while `plant` sat at the lock path throughout: a
/// non-file is reported as what it is (`IsADirectory` for a directory,
/// `InvalidInput` for the rest), in a message naming the lock file and the
/// kind found; an I/O error keeps its kind and names the lock file.
fn judge_refusal(p: &Proc, session: usize, plant: Plant, ended: &Ended) {
    let lock = lock_path(Path::new(SESSIONS[session])).display().to_string();
    match ended {
        Ended::NotAFile { found: Some(found), io_kind, says } => {
            let want =
                if plant == Plant::Dir { std::io::ErrorKind::IsADirectory } else { std::io::ErrorKind::InvalidInput };
            let word = match plant.kind() {
                FileKind::Dir => "directory",
                FileKind::Symlink => "symlink",
                FileKind::Special => "FIFO",
                FileKind::File => "file",
            };
            let typed = *found == plant.kind() && *io_kind == Some(want) && says.contains(&lock) && says.contains(word);
            p.world.check("L8", typed, || {
                format!("{plant:?} at {lock} refused as {found:?} / {io_kind:?}: {says:?} (want {:?} / {want:?}, naming it)", plant.kind())
            });
        }
        Ended::Permanent { kind, io_kind, says } if !says.is_empty() => {
            p.world.check("L8", *io_kind == Some(*kind) && says.contains(&lock), || {
                format!("a permanent error at {lock} lost its kind {kind:?} ({io_kind:?}) or its path: {says:?}")
            });
        }
        _ => {}
    }
}

/// What the vandal planted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Plant {
    Dangling,
    Loop,
    Fifo,
    Dir,
    Garbage,
}

impl Plant {
    /// Not a lock file whatever happens: `acquire` must refuse it at once.
    fn permanent(self) -> bool {
        self != Plant::Garbage
    }

    fn kind(self) -> FileKind {
        match self {
            Plant::Dangling | Plant::Loop => FileKind::Symlink,
            Plant::Fifo => FileKind::Special,
            Plant::Dir => FileKind::Dir,
            Plant::Garbage => FileKind::File,
        }
    }
}

const GARBAGE: &[u8] = b"\x00\x01 not a lock";

/// Plant hostile things at the last session's lock path while nobody holds
/// it, leave them a while, remove them again; tear transcripts nobody
/// holds. Clean by the end of the chaos phase.
pub(super) async fn vandal(world: &steadfast_sim::World, book: &super::SharedBook) {
    let mut rng = world.workload_rng(0xDA);
    let target = SESSIONS.len() - 1;
    let lock = lock_path(Path::new(SESSIONS[target]));
    let end = world.chaos_end().saturating_sub(Duration::from_secs(2));
    let mut id = 0;
    // Its own stream: whether a tear also gets a symlink at the repair
    // copy's name.
    let mut links = steadfast_sim::SimRng::new(world.schedule().seed, 0x5E7A);
    while world.now() + Duration::from_secs(1) < end {
        world.sleep_until(world.now() + Duration::from_millis(rng.range(100, 1_500))).await;
        tear(world, book, &mut rng, &mut links);
        let plant = *rng.pick(&[Plant::Dangling, Plant::Loop, Plant::Fifo, Plant::Dir, Plant::Garbage]);
        let planted = match plant {
            Plant::Dangling => world.harness_apply(FsOp::Symlink { target: "/nowhere/x".into(), link: lock.clone() }),
            Plant::Loop => world.harness_apply(FsOp::Symlink { target: lock.clone(), link: lock.clone() }),
            Plant::Fifo => world.harness_special(&lock).map(|()| FsOutput::Unit),
            Plant::Dir => world.harness_apply(FsOp::CreateDirAll(lock.clone())),
            Plant::Garbage => world.harness_apply(FsOp::CreateNew { path: lock.clone(), data: GARBAGE.to_vec() }),
        };
        if planted.is_err() {
            continue; // held, or planted over: try later
        }
        // Durable, so that the book stays true across a power loss.
        let _ = world.harness_apply(FsOp::SyncDir(DIR.into()));
        id += 1;
        lock_book(book).plant.insert(target, (id, plant));
        // Some plants stay until the end of the chaos: a permanent state of
        // the lock path, which is what L8 bounds.
        let stay = if rng.chance(0.4) { end } else { world.now() + Duration::from_millis(rng.range(200, 2_000)) };
        world.sleep_until(stay.min(end)).await;
        lock_book(book).plant.remove(&target);
        unplant(world, &lock, plant);
    }
}

/// Remove a plant if it is still there. Garbage stays: it is a lock file
/// to the protocol, recovered by the lock itself (L4); removing it by hand
/// while a waiter's takeover of it is in flight would let that removal
/// land on the next holder's lock, and no lock on a plain file system can
/// stop an outsider doing that.
fn unplant(world: &steadfast_sim::World, lock: &Path, plant: Plant) {
    let Ok(FsOutput::Metadata(m)) = world.peek(FsOp::SymlinkMetadata(lock.to_path_buf())) else { return };
    if m.kind != plant.kind() || plant == Plant::Garbage {
        return;
    }
    let op =
        if plant == Plant::Dir { FsOp::RemoveDir(lock.to_path_buf()) } else { FsOp::RemoveFile(lock.to_path_buf()) };
    let _ = world.harness_apply(op);
    let _ = world.harness_apply(FsOp::SyncDir(DIR.into()));
}

/// A holder that died mid-append: a partial line at the end of a
/// transcript whose lock nobody holds (the next holder must repair it).
fn tear(
    world: &steadfast_sim::World,
    book: &super::SharedBook,
    rng: &mut steadfast_sim::SimRng,
    links: &mut steadfast_sim::SimRng,
) {
    let session = rng.range(0, SESSIONS.len() as u64 - 1) as usize;
    let path = Path::new(SESSIONS[session]);
    if rng.chance(0.5) || world.peek(FsOp::SymlinkMetadata(lock_path(path))).is_ok() {
        return;
    }
    if world.in_flight("append", |p| p == path) > 0 {
        return;
    }
    if world.harness_apply(FsOp::Append { path: path.to_path_buf(), data: b"{\"torn\":".to_vec() }).is_ok() {
        let mut book = lock_book(book);
        book.changes.entry(session).or_default().push((world.now(), 0));
        // An outside act no watcher sees: L12's memory of the file is stale.
        book.transcript.remove(&session);
        drop(book);
        if links.chance(0.5) {
            plant_repair_link(world, path);
        }
    }
}

/// Outside every session directory: what a repair copy's planted symlink
/// points to, and its bytes (L19).
const VICTIM: &str = "/outside/precious";
const VICTIM_BYTES: &[u8] = b"precious: no lock may write here\n";

/// A symlink at the name `session`'s next tail repair writes its copy
/// to, pointing at a file outside (an attacker's or a confused tool's):
/// the repair must never write through it (L19). The link is durable; a
/// stale copy already there keeps the name.
fn plant_repair_link(world: &steadfast_sim::World, session: &Path) {
    let victim = Path::new(VICTIM);
    if world.peek(FsOp::SymlinkMetadata(victim.to_path_buf())).is_err() {
        let dir = victim.parent().expect("a parent").to_path_buf();
        let made = world
            .harness_apply(FsOp::CreateDirAll(dir.clone()))
            .and_then(|_| world.harness_apply(FsOp::Write { path: victim.to_path_buf(), data: VICTIM_BYTES.to_vec() }))
            .and_then(|_| world.harness_apply(FsOp::SyncFile(victim.to_path_buf())))
            .and_then(|_| world.harness_apply(FsOp::SyncDir(dir)))
            .and_then(|_| world.harness_apply(FsOp::SyncDir("/".into())));
        if made.is_err() {
            return;
        }
    }
    let link = PathBuf::from(format!("{}.repair", session.display()));
    if world.harness_apply(FsOp::Symlink { target: victim.to_path_buf(), link }).is_ok() {
        let _ = world.harness_apply(FsOp::SyncDir(DIR.into()));
    }
}

/// L19 at quiescence: the file outside is as planted, and every
/// transcript is a file (or absent), never a link.
pub(super) fn judge_repair_links(world: &steadfast_sim::World) {
    if let Ok(bytes) = world.peek_file(Path::new(VICTIM)) {
        world.check("L19", bytes == VICTIM_BYTES, || {
            format!(
                "{VICTIM}, the target of a symlink planted at a repair copy's name, now holds {:?}",
                String::from_utf8_lossy(&bytes)
            )
        });
    }
    for s in SESSIONS {
        if let Ok(FsOutput::Metadata(m)) = world.peek(FsOp::SymlinkMetadata(PathBuf::from(s))) {
            world.check("L19", m.kind != FileKind::Symlink, || format!("the transcript {s} became a {:?}", m.kind));
        }
    }
}
