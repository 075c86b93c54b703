//! [`LockManager`] (acquire, stale recovery) and [`Attempt`] (tracking and
//! abandoning the locks of one attempt).

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::guard::{Hold, LockGuard};
use super::{ForcedRelease, LockConfig, LockError, LockOwner, Reason, lock_path};
use crate::Env;
use crate::fs::FsExt;
use crate::procs::Liveness;

/// Takes session locks for one process. Use one per process: it knows which
/// of its pid's lock files have a holder here (an orphaned one is stale).
#[derive(Clone)]
pub struct LockManager {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) env: Env,
    pub(crate) config: LockConfig,
    /// This process's pid and start time, read once: a process's own never
    /// change, and reading `/proc` on every acquire would block the loop.
    own: (u32, Option<u64>),
    state: Mutex<ManagerState>,
}

#[derive(Default)]
struct ManagerState {
    last_fence: u64,
    /// Nonces of the holds alive in this process.
    held: BTreeSet<u64>,
}

/// What a look at an existing lock file found.
enum Found {
    /// Gone meanwhile: try again at once.
    Gone,
    /// Held by a live owner (or unreadable but young: no owner to name).
    Held(Option<LockOwner>),
    /// The lock file could not be read just now (an I/O error).
    Unknown,
    /// Stale: the instance's id, why, and its owner if readable.
    Stale(String, Reason, Option<LockOwner>),
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, ManagerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn forget(&self, nonce: u64) {
        self.state().held.remove(&nonce);
    }

    /// The diagnostic of a forced release (L7): one `tracing` event and the
    /// hook, if any.
    pub(crate) fn diagnose(&self, release: ForcedRelease) {
        let (pid, nonce) = release.owner.as_ref().map_or((0, 0), |o| (o.pid, o.nonce));
        tracing::warn!(
            session_file = %release.session_file.display(),
            owner_pid = pid,
            owner_nonce = nonce,
            reason = release.reason.as_str(),
            "session lock force-released"
        );
        if let Some(hook) = &self.config.on_forced_release {
            hook(&release);
        }
    }
}

impl LockManager {
    /// A manager for this process.
    pub fn new(env: &Env, config: LockConfig) -> LockManager {
        let pid = env.procs.own_pid();
        let own = (pid, env.procs.start_time(pid));
        LockManager {
            inner: Arc::new(Inner { env: env.clone(), config, own, state: Mutex::new(ManagerState::default()) }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LockConfig {
        &self.inner.config
    }

    /// A controller for one attempt: it tracks the locks it takes.
    pub fn attempt(&self) -> Attempt {
        Attempt { manager: self.clone(), holds: Mutex::new(Vec::new()) }
    }

    fn new_owner(&self) -> LockOwner {
        let env = &self.inner.env;
        let (pid, start_time) = self.inner.own;
        let now = env.clock.wall_ms();
        let mut st = self.inner.state();
        st.last_fence = (st.last_fence + 1).max(now);
        LockOwner {
            pid,
            start_time,
            nonce: env.entropy.next_u64(),
            acquired_at_ms: now,
            max_hold_ms: self.inner.config.max_hold.as_millis() as u64,
            fence: st.last_fence,
        }
    }

    /// Take the lock of `session_file`, waiting up to the acquire timeout
    /// and recovering stale lock files (L3, L4). Untracked: use
    /// [`Attempt::acquire`] inside an attempt.
    pub async fn acquire(&self, session_file: &Path) -> Result<LockGuard, LockError> {
        self.acquire_within(session_file, self.inner.config.acquire_timeout).await
    }

    /// [`acquire`](Self::acquire) with its own timeout (zero: one try).
    pub async fn acquire_within(&self, session_file: &Path, timeout: Duration) -> Result<LockGuard, LockError> {
        let env = &self.inner.env;
        let cfg = &self.inner.config;
        let lock = lock_path(session_file);
        let start = env.clock.now();
        let mut delay = cfg.retry_min;
        let mut last_owner = None;
        loop {
            let owner = self.new_owner();
            let body = serde_json::to_vec(&owner).expect("a lock owner always serialises");
            match env.fs.create_new(&lock, body).await {
                Ok(()) => return Ok(self.hold(session_file, lock, owner)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match self.inspect(&lock).await {
                    Found::Gone => continue,
                    // An I/O error says nothing new: keep the owner seen last.
                    Found::Unknown => {}
                    Found::Held(owner) => last_owner = owner,
                    Found::Stale(id, reason, owner) => {
                        if self.take_over(session_file, &lock, &id, reason, owner.clone()).await {
                            continue;
                        }
                        last_owner = owner;
                    }
                },
                // A transient error: retried like a busy lock.
                Err(_) => {}
            }
            let waited = env.clock.now().saturating_since(start);
            if waited >= timeout {
                // Name the owner as it is now, if the lock file can say.
                if let Found::Held(Some(o)) | Found::Stale(_, _, Some(o)) = self.inspect(&lock).await {
                    last_owner = Some(o);
                }
                return Err(LockError::Timeout { lock, waited, owner: last_owner });
            }
            // Jitter in [delay/2, delay], never past the deadline.
            let jittered = delay / 2 + Duration::from_micros(env.entropy.below(delay.as_micros() as u64 / 2 + 1));
            env.clock.sleep(jittered.min(timeout - waited)).await;
            delay = (delay * 2).min(cfg.retry_max);
        }
    }

    fn hold(&self, session_file: &Path, lock: PathBuf, owner: LockOwner) -> LockGuard {
        self.inner.state().held.insert(owner.nonce);
        // A holder that died mid-append (or a power loss) may have left a
        // partial last line: the hold's first append cuts it first (L6).
        let hold = Hold::new(self.inner.clone(), session_file.to_path_buf(), lock, owner);
        hold.start_watchdog();
        LockGuard::new(hold)
    }

    /// Read an existing lock file and judge it (L4).
    async fn inspect(&self, lock: &Path) -> Found {
        let env = &self.inner.env;
        let bytes = match env.fs.read(lock).await {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Found::Gone,
            Err(_) => return Found::Unknown,
        };
        let Ok(owner) = serde_json::from_slice::<LockOwner>(&bytes) else {
            let age = match env.fs.symlink_metadata(lock).await {
                Ok(m) => env.clock.wall().duration_since(m.modified).unwrap_or_default(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Found::Gone,
                Err(_) => return Found::Unknown,
            };
            if age >= self.inner.config.unreadable_grace {
                let id = crate::mix64(crate::fnv1a64(&bytes, 0xCBF2_9CE4_8422_2325));
                return Found::Stale(format!("x{id:016x}"), Reason::Unreadable, None);
            }
            return Found::Held(None);
        };
        match self.judge(&owner) {
            Some(reason) => Found::Stale(format!("{:016x}", owner.nonce), reason, Some(owner)),
            None => Found::Held(Some(owner)),
        }
    }

    fn judge(&self, o: &LockOwner) -> Option<Reason> {
        let env = &self.inner.env;
        let (own, own_start) = self.inner.own;
        if o.pid == own && o.start_time == own_start && !self.inner.state().held.contains(&o.nonce) {
            return Some(Reason::OrphanedSelf);
        }
        if env.procs.liveness(o.pid) == Liveness::Dead {
            return Some(Reason::DeadOwner);
        }
        if let (Some(now), Some(then)) = (env.procs.start_time(o.pid), o.start_time)
            && now != then
        {
            return Some(Reason::ReusedPid);
        }
        let age_ms = env.clock.wall_ms().saturating_sub(o.acquired_at_ms);
        let grace_ms = self.inner.config.takeover_grace.as_millis() as u64;
        (age_ms >= o.max_hold_ms.saturating_add(grace_ms)).then_some(Reason::Expired)
    }

    /// Remove the stale instance `id` of `lock`, race-free: only the waiter
    /// that creates the claim `<lock>.takeover.<id>` may, and only if the
    /// lock is still that instance when it looks again.
    async fn take_over(
        &self,
        session_file: &Path,
        lock: &Path,
        id: &str,
        reason: Reason,
        owner: Option<LockOwner>,
    ) -> bool {
        let fs = &self.inner.env.fs;
        let claim = PathBuf::from(format!("{}.takeover.{id}", lock.display()));
        let me = serde_json::to_vec(&self.new_owner()).expect("a lock owner always serialises");
        match fs.create_new(&claim, me).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                self.clear_abandoned_claim(&claim).await;
                return false;
            }
            Err(_) => return false,
        }
        let still = match self.inspect(lock).await {
            Found::Stale(again, _, _) => again == id,
            _ => false,
        };
        let removed = still && matches!(fs.remove_file(lock).await, Ok(()));
        let _ = fs.remove_file(&claim).await;
        if removed {
            self.inner.diagnose(ForcedRelease { session_file: session_file.to_path_buf(), owner, reason });
        }
        removed
    }

    /// A claim whose claimer crashed mid-takeover blocks recovery; after
    /// `claim_stale` it is removed and the takeover is tried again.
    async fn clear_abandoned_claim(&self, claim: &Path) {
        let env = &self.inner.env;
        if let Ok(m) = env.fs.symlink_metadata(claim).await
            && env.clock.wall().duration_since(m.modified).unwrap_or_default() >= self.inner.config.claim_stale
        {
            let _ = env.fs.remove_file(claim).await;
        }
    }
}

/// One attempt (a run of an agent turn, say): every lock it acquires or
/// reacquires is tracked, so cleanup can abandon the ones still held.
pub struct Attempt {
    manager: LockManager,
    holds: Mutex<Vec<Arc<Hold>>>,
}

impl Attempt {
    /// Acquire and track.
    pub async fn acquire(&self, session_file: &Path) -> Result<LockGuard, LockError> {
        let guard = self.manager.acquire(session_file).await?;
        self.holds.lock().unwrap_or_else(|p| p.into_inner()).push(guard.hold().clone());
        Ok(guard)
    }

    /// Attempt cleanup (L2): force-release every tracked lock still held,
    /// one at a time, each awaited (its appends in flight drained, its lock
    /// file gone) before this returns. Idempotent. Returns how many were
    /// still held.
    pub async fn abandon_in_flight(&self) -> usize {
        let holds = std::mem::take(&mut *self.holds.lock().unwrap_or_else(|p| p.into_inner()));
        let mut released = 0;
        for hold in holds {
            if hold.force_release(Reason::Abandoned, false).await {
                released += 1;
            }
        }
        released
    }
}
