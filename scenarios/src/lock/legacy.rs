//! Replicas of the session lock as it shipped before the hostile-host
//! hardening (issue 14), one flaw each. Apart from its flaw each replica
//! acquires as the fixed `core::lock` does (exclusive create, stale
//! judgement, race-free takeover through a claim, the manager identity in
//! the record), so the invariant that catches it is its own:
//!
//! - [`Flaw::HeldAfterCreate`]: the new hold's nonce is recorded as held
//!   only after the lock file is visible, so a sibling task of the same
//!   manager that reads the file in between judges it our orphan and takes
//!   it over: two holders in one process (L9).
//! - [`Flaw::SpinOnVanished`]: a lock path that vanishes under the read is
//!   retried at once without the deadline check, and nothing checks what
//!   sits at the lock path: a dangling symlink (create says it exists, the
//!   read says it does not) spins for ever; a FIFO times out after the full
//!   wait (L8).
//! - [`Flaw::CreateThenWrite`]: the lock file is created empty and then
//!   written, as `OpenOptions::create_new` + `write_all` did: the file is
//!   visible before its body, and a full disk leaves it empty, locking
//!   everyone out until the unreadable grace runs out (L9).
//! - [`Flaw::OrphanByPid`]: our orphan is judged by pid and start time
//!   alone, so a second manager in the process takes over the first's live
//!   lock at once (L9).
//!
//! - [`Flaw::RepairWritesThrough`]: the tail repair writes its copy at the
//!   fixed name `<session>.repair` with a plain write, which follows a
//!   symlink planted there: the file it points to is overwritten, and the
//!   rename puts the link in the transcript's place (L19; found by a new
//!   user's trial).
//!
//! - [`Flaw::RepairByCopy`]: the tail repair writes a copy of the whole
//!   lines (exclusively created, synced) and renames it over the
//!   transcript, as `core`'s did until session 25: the transcript becomes
//!   another file (a new inode with default permissions; a hard link keeps
//!   the torn text; a symlink at its path is replaced by a copy), L20.
//!
//! - [`Flaw::UnorderedTail`]: nothing in the acquire; its contenders
//!   append from two tasks at once through one guard, whose appends and
//!   the tail repairs they start go to the file in whatever order the two
//!   tasks issue them, as `core`'s did until session 23: a failed append's
//!   partial line is buried mid-file by the other task's append (L6), or a
//!   repair renames a copy it read before the other task's line landed
//!   over it (L12).
//!
//! The replica's guard appends through the same ownership check as the
//! fixed one (its lock file must name its nonce), each append cutting a
//! partial last line first (in place, as the fixed one does, but for the
//! two repair flaws), with no order between appends of one guard:
//! only the `UnorderedTail` replica's contenders append from two tasks at
//! once (the others append one line a turn, so it never shows). It has no
//! watchdog and no lease, which the short cycles that use it never need.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast_core::lock::{LockConfig, LockOwner, lock_path};
use steadfast_core::{Env, FileKind, FsExt, Liveness, OpenMode};

/// The one shipped flaw a replica keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flaw {
    /// Held recorded after the lock file is visible.
    HeldAfterCreate,
    /// A vanished lock path retried without the deadline; no kind check.
    SpinOnVanished,
    /// Create empty, then write the body.
    CreateThenWrite,
    /// Orphans judged by pid and start time, not by manager.
    OrphanByPid,
    /// The tail repair writes its copy over whatever is at its name.
    RepairWritesThrough,
    /// Appends of one guard from two tasks, unordered with their repairs.
    UnorderedTail,
    /// The tail repair renames a copy over the transcript.
    RepairByCopy,
}

/// Why a replica's acquire failed.
#[derive(Debug)]
pub enum LegacyError {
    /// Gave up after the timeout.
    Timeout(Duration),
    /// Refused at once: not a lock file at the lock path.
    NotAFile,
    /// Refused at once.
    Permanent(io::Error),
}

/// The replica's manager.
#[derive(Debug)]
pub struct LegacyManager {
    env: Env,
    config: LockConfig,
    flaw: Flaw,
    own: (u32, Option<u64>),
    id: u64,
    held: Arc<Mutex<BTreeSet<u64>>>,
}

/// The replica's hold.
#[derive(Debug)]
pub struct LegacyGuard {
    flaw: Flaw,
    env: Env,
    session: PathBuf,
    lock: PathBuf,
    owner: LockOwner,
    held: Arc<Mutex<BTreeSet<u64>>>,
}

enum Found {
    Gone,
    Held,
    NotAFile,
    Stale(String),
}

fn permanent(e: &io::Error) -> bool {
    use io::ErrorKind as K;
    matches!(e.kind(), K::NotFound | K::NotADirectory | K::PermissionDenied | K::StorageFull | K::InvalidInput)
}

impl LegacyManager {
    /// A replica manager with one flaw.
    pub fn new(env: &Env, config: LockConfig, flaw: Flaw) -> LegacyManager {
        let pid = env.procs.own_pid();
        let own = (pid, env.procs.start_time(pid));
        let id = env.entropy.next_u64();
        LegacyManager { env: env.clone(), config, flaw, own, id, held: Arc::default() }
    }

    /// The flaw it keeps.
    pub fn flaw(&self) -> Flaw {
        self.flaw
    }

    fn owner(&self) -> LockOwner {
        LockOwner {
            pid: self.own.0,
            start_time: self.own.1,
            nonce: self.env.entropy.next_u64(),
            acquired_at_ms: self.env.clock.wall_ms(),
            max_hold_ms: self.config.max_hold.as_millis() as u64,
            fence: 0,
            manager: self.id,
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, BTreeSet<u64>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Acquire, as the fixed core does but for the flaw.
    pub async fn acquire(&self, session: &Path) -> Result<LegacyGuard, LegacyError> {
        let lock = lock_path(session);
        let start = self.env.clock.now();
        let mut delay = self.config.retry_min;
        loop {
            let owner = self.owner();
            if self.flaw != Flaw::HeldAfterCreate {
                self.held().insert(owner.nonce);
            }
            match self.create(&lock, &owner).await {
                Ok(()) => {
                    self.held().insert(owner.nonce);
                    let (env, held) = (self.env.clone(), self.held.clone());
                    return Ok(LegacyGuard { flaw: self.flaw, env, session: session.to_path_buf(), lock, owner, held });
                }
                Err(e) => {
                    self.held().remove(&owner.nonce);
                    if e.kind() != io::ErrorKind::AlreadyExists && permanent(&e) {
                        return Err(LegacyError::Permanent(e));
                    }
                    if e.kind() == io::ErrorKind::AlreadyExists {
                        match self.inspect(&lock).await {
                            Found::Gone if self.flaw == Flaw::SpinOnVanished => continue,
                            Found::Gone => {}
                            Found::NotAFile => return Err(LegacyError::NotAFile),
                            Found::Held => {}
                            Found::Stale(id) => {
                                if self.take_over(&lock, &id).await {
                                    continue;
                                }
                            }
                        }
                    }
                }
            }
            let waited = self.env.clock.now().saturating_since(start);
            if waited >= self.config.acquire_timeout {
                return Err(LegacyError::Timeout(waited));
            }
            self.env.clock.sleep(delay.min(self.config.acquire_timeout - waited)).await;
            delay = (delay * 2).min(self.config.retry_max);
        }
    }

    async fn create(&self, lock: &Path, owner: &LockOwner) -> io::Result<()> {
        let body = owner.to_record();
        if self.flaw != Flaw::CreateThenWrite {
            return self.env.fs.create_new(lock, body).await;
        }
        // open(O_CREAT | O_EXCL), then write(2): visible before its body;
        // a failed write leaves the empty file.
        self.env.fs.create_new(lock, Vec::new()).await?;
        self.env.fs.append(lock, body).await
    }

    async fn inspect(&self, lock: &Path) -> Found {
        let fs = &self.env.fs;
        if self.flaw != Flaw::SpinOnVanished {
            match fs.symlink_metadata(lock).await {
                Ok(m) if m.kind != FileKind::File => return Found::NotAFile,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Found::Gone,
                Err(_) => return Found::Held,
            }
        }
        let bytes = match fs.read(lock).await {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Found::Gone,
            Err(_) => return Found::Held,
        };
        let Some(o) = LockOwner::from_record(&bytes) else {
            let Ok(m) = fs.symlink_metadata(lock).await else { return Found::Gone };
            let age = self.env.clock.wall().duration_since(m.modified).unwrap_or_default();
            let id = format!(
                "x{:016x}",
                steadfast_core::mix64(bytes.len() as u64 ^ bytes.first().copied().unwrap_or(0) as u64)
            );
            return if age >= self.config.unreadable_grace { Found::Stale(id) } else { Found::Held };
        };
        let id = format!("{:016x}", o.nonce);
        let (pid, start) = self.own;
        let ours = o.pid == pid && o.start_time == start && (self.flaw == Flaw::OrphanByPid || o.manager == self.id);
        if ours && !self.held().contains(&o.nonce) {
            return Found::Stale(id);
        }
        if self.env.procs.liveness(o.pid) == Liveness::Dead {
            return Found::Stale(id);
        }
        if let (Some(now), Some(then)) = (self.env.procs.start_time(o.pid), o.start_time)
            && now != then
        {
            return Found::Stale(id);
        }
        let hold_ms = o.max_hold_ms.min(self.config.max_hold.as_millis() as u64);
        let age_ms = self.env.clock.wall_ms().saturating_sub(o.acquired_at_ms);
        if age_ms >= hold_ms + self.config.takeover_grace.as_millis() as u64 { Found::Stale(id) } else { Found::Held }
    }

    async fn take_over(&self, lock: &Path, id: &str) -> bool {
        let me = self.detached();
        let (lock, id) = (lock.to_path_buf(), id.to_string());
        let task = Box::pin(async move { me.take_over_now(&lock, &id).await });
        steadfast_core::spawn::run_detached(&*self.env.spawner, "lock-takeover", task).await
    }

    /// A copy that a detached task can own (same identity, same held set).
    fn detached(&self) -> LegacyManager {
        LegacyManager {
            env: self.env.clone(),
            config: self.config.clone(),
            flaw: self.flaw,
            own: self.own,
            id: self.id,
            held: self.held.clone(),
        }
    }

    async fn take_over_now(&self, lock: &Path, id: &str) -> bool {
        let fs = &self.env.fs;
        let claim = PathBuf::from(format!("{}.takeover.{id}", lock.display()));
        let me = self.owner().to_record();
        if fs.create_new(&claim, me.clone()).await.is_err() {
            // A dead claimer's claim is cleared, as the fixed code does.
            let claimer = fs.read(&claim).await.ok().and_then(|b| LockOwner::from_record(&b));
            if claimer.is_some_and(|o| self.env.procs.liveness(o.pid) == Liveness::Dead) {
                let _ = fs.remove_file(&claim).await;
            }
            return false;
        }
        let still = matches!(self.inspect(lock).await, Found::Stale(again) if again == id);
        let removed = still && fs.remove_file(lock).await.is_ok();
        if fs.read(&claim).await.ok() == Some(me) {
            let _ = fs.remove_file(&claim).await;
        }
        removed
    }
}

impl LegacyGuard {
    /// The owner record.
    pub fn owner(&self) -> &LockOwner {
        &self.owner
    }

    async fn ours(&self) -> bool {
        let bytes = self.env.fs.read(&self.lock).await.unwrap_or_default();
        LockOwner::from_record(&bytes).is_some_and(|o| o.nonce == self.owner.nonce)
    }

    /// Append one line if the lock file still names this hold, after
    /// cutting a partial last line as the fixed guard does.
    pub async fn append(&self, line: &[u8]) -> Result<(), ()> {
        if !self.ours().await {
            return Err(());
        }
        self.repair().await.map_err(|_| ())?;
        self.env.fs.append(&self.session, line.to_vec()).await.map_err(|_| ())
    }

    async fn repair(&self) -> io::Result<()> {
        let fs = &self.env.fs;
        let bytes = match fs.read(&self.session).await {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if bytes.is_empty() || bytes.last() == Some(&b'\n') {
            return Ok(());
        }
        let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if !matches!(self.flaw, Flaw::RepairWritesThrough | Flaw::RepairByCopy) {
            // As the fixed guard does: cut in place.
            let rw = OpenMode::READ_WRITE;
            let h = fs.open(&self.session, rw).await?;
            let cut = async {
                fs.set_len(&h, keep as u64).await?;
                fs.sync_handle(&h, false).await
            }
            .await;
            let _ = fs.close(&h).await;
            return cut;
        }
        let tmp = PathBuf::from(format!("{}.repair", self.session.display()));
        let result = async {
            if self.flaw == Flaw::RepairWritesThrough {
                fs.write(&tmp, bytes[..keep].to_vec()).await?;
            } else {
                // Never through what is there.
                match fs.remove_file(&tmp).await {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
                fs.create_new(&tmp, bytes[..keep].to_vec()).await?;
            }
            fs.sync_file(&tmp).await?;
            fs.rename(&tmp, &self.session).await
        }
        .await;
        if result.is_err() {
            let _ = fs.remove_file(&tmp).await;
        }
        result
    }

    /// Remove the lock file if it still names this hold.
    pub async fn release(&self) {
        if self.ours().await {
            let _ = self.env.fs.remove_file(&self.lock).await;
        }
        self.held.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.owner.nonce);
    }
}

/// The exit cleanup as `HeldLocks::remove_all_blocking` first shipped: for
/// every hold the process registered (`mine`: nonce, session, acquired at),
/// inside its window, read the lock file and remove it if it names the
/// hold, with nothing asked of the hold itself: an append or a tail
/// repair still in flight lands after the lock file is gone, and another
/// process may hold the lock by then. Returns how many it removed.
pub(super) fn remove_all_blocking(p: &super::Proc, mine: &[super::Mine]) -> usize {
    let window_ms = super::TOUCH_WINDOW.as_millis() as u64;
    let mut removed = 0;
    for &super::Mine { nonce, session, acquired_at_ms, .. } in mine {
        let until_ms = acquired_at_ms + window_ms;
        if p.world_now_ms() >= until_ms {
            continue;
        }
        let lock = super::lock_of(session);
        let ours =
            p.env.fs.read_blocking(lock).ok().and_then(|b| super::owner_in(&b)).is_some_and(|o| o.nonce == nonce);
        if ours
            && p.world_now_ms() < until_ms
            && p.env.fs.remove_file_blocking(lock).map_or_else(|e| e.kind() == io::ErrorKind::NotFound, |()| true)
        {
            removed += 1;
        }
    }
    removed
}
