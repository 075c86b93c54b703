//! [`LockManager`] (acquire, stale recovery) and [`Attempt`] (tracking and
//! abandoning the locks of one attempt).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::guard::{Hold, LockGuard};
use super::{ForcedRelease, LockConfig, LockError, LockOwner, Reason, lock_path};
use crate::fs::FsExt;
use crate::procs::Liveness;
use crate::{Env, FileKind, Mono};

/// Takes session locks. One per process is the usual shape, but any number
/// keep mutual exclusion: each writes its own identity into its lock
/// records, and a lock of another manager in this process counts as a live
/// owner's (recovered only when it expires), never as an orphan.
#[derive(Clone)]
pub struct LockManager {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for LockManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockManager")
            .field("id", &format_args!("{:016x}", self.inner.id))
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let holds = self.holds.lock().unwrap_or_else(|p| p.into_inner()).len();
        f.debug_struct("Attempt").field("manager", &self.manager).field("holds", &holds).finish()
    }
}

pub(crate) struct Inner {
    pub(crate) env: Env,
    pub(crate) config: LockConfig,
    /// This process's pid and start time, read once: a process's own never
    /// change, and reading `/proc` on every acquire would block the loop.
    own: (u32, Option<u64>),
    /// This manager's identity in its lock records.
    id: u64,
    state: Mutex<ManagerState>,
}

/// Lock instances whose first sighting is remembered (for records that
/// claim an age they cannot have); the oldest key is dropped past this.
const SEEN_MAX: usize = 1024;
/// Retries without sleeping after a lock file vanished under a look: a
/// lock path that keeps vanishing (a hostile churn) then waits like a
/// busy one, so `acquire` never spins.
const IMMEDIATE_RETRIES_MAX: u32 = 4;
/// The largest lock file read (a record is a few hundred bytes; JSON
/// whitespace may pad it to this); anything longer is garbage, judged
/// without reading it.
pub const LOCK_FILE_MAX: u64 = 64 << 10;
/// Tries to remove our own takeover claim.
const CLAIM_REMOVE_TRIES_MAX: u32 = 8;

#[derive(Default)]
struct ManagerState {
    last_fence: u64,
    /// Nonces of the holds alive in this process, inserted before their
    /// lock file can exist, so that no sibling task ever sees a live hold
    /// of ours as an orphan.
    held: BTreeSet<u64>,
    /// When this manager first saw each (lock file, instance).
    seen: BTreeMap<(PathBuf, String), Mono>,
}

/// A nonce registered as held before its lock file exists; forgotten
/// again unless the hold is made (also when the acquiring call is dropped).
struct Registered<'a> {
    inner: &'a Inner,
    nonce: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.inner.forget(self.nonce);
    }
}

/// What a look at an existing lock path found.
enum Found {
    /// Gone meanwhile: try again.
    Gone,
    /// Held by a live owner (or unreadable but young: no owner to name).
    Held(Option<LockOwner>),
    /// The lock path could not be read just now.
    Unknown(io::Error),
    /// Not a regular file: nothing `acquire` may judge or remove.
    NotAFile(FileKind),
    /// Stale: the instance's id, why, and its owner if readable.
    Stale(String, Reason, Option<LockOwner>),
}

/// The outcome of one try of `acquire`.
enum Try {
    Acquired(LockGuard),
    /// Retry at once (the lock vanished, or a stale one was removed).
    Again,
    /// Held (by the owner, if readable).
    Busy(Option<LockOwner>),
    /// A transient I/O error.
    Failed(io::ErrorKind),
}

/// Errors that waiting cannot cure: `acquire` returns them at once.
fn permanent(e: &io::Error) -> bool {
    use io::ErrorKind as K;
    matches!(
        e.kind(),
        K::NotFound
            | K::NotADirectory
            | K::IsADirectory
            | K::PermissionDenied
            | K::ReadOnlyFilesystem
            | K::StorageFull
            | K::QuotaExceeded
            | K::FileTooLarge
            | K::InvalidFilename
            | K::InvalidInput
            | K::Unsupported
    ) || e.raw_os_error() == Some(crate::fs::ELOOP)
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, ManagerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn forget(&self, nonce: u64) {
        self.state().held.remove(&nonce);
        if let Some(held) = &self.config.held {
            held.remove(nonce);
        }
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

    /// How long this manager has known lock instance `id` of `lock`: a
    /// lower bound on its age that no record can forge.
    fn observed_age(&self, lock: &Path, id: &str) -> Duration {
        let now = self.env.clock.now();
        let mut st = self.state();
        if st.seen.len() >= SEEN_MAX && !st.seen.contains_key(&(lock.to_path_buf(), id.to_string())) {
            // Forget the instance seen most recently (it has the least age
            // to lose), not the first by name: an instance that has been
            // stuck for long must keep its age under churn elsewhere.
            let newest = st.seen.iter().max_by_key(|(_, at)| **at).map(|(k, _)| k.clone());
            if let Some(k) = newest {
                st.seen.remove(&k);
            }
        }
        let first = *st.seen.entry((lock.to_path_buf(), id.to_string())).or_insert(now);
        debug_assert!(st.seen.len() <= SEEN_MAX, "a manager keeps at most {SEEN_MAX} sightings");
        now.saturating_since(first)
    }
}

/// Why `session_file` cannot be locked, if it cannot: the lock's files
/// sit beside it, named after its last segment (after the last slash, as
/// the bytes are spelled), which must therefore be
/// - a name: not empty (`/`, `dir/`, ``), not `.` or `..`;
/// - not one the lock's own files take (`*.lock`, `*.lock.takeover.*`,
///   `*.repair`): `sweep_stale` would remove the transcript as litter (a
///   hostile-host trial saw a held session `car.repair` deleted);
/// - at most [`SESSION_NAME_MAX`](super::SESSION_NAME_MAX) bytes: the
///   lock's own files add up to 55 bytes to it, and past the limit of a
///   file name a dead holder's lock could never be taken over (the same
///   trial saw acquire time out for good, blaming the dead pid).
fn unlockable(session_file: &Path) -> Option<String> {
    use std::os::unix::ffi::OsStrExt as _;
    let b = session_file.as_os_str().as_bytes();
    let last = b.rsplit(|&c| c == b'/').next().unwrap_or(b);
    if last.is_empty() || last == b"." || last == b".." {
        return Some("a session path must end in a file name".to_string());
    }
    if let Ok(name) = std::str::from_utf8(last)
        && litter_name(name)
    {
        return Some(format!(
            "the session file's name {name:?} is one the lock's own files take (`*.lock`, `*.lock.takeover.*`, `*.repair`): sweep_stale would remove it as litter"
        ));
    }
    (last.len() > super::SESSION_NAME_MAX).then(|| {
        format!(
            "the session file's name is {} bytes; the lock's own files need {} more, past the {}-byte limit of a file name: at most {} bytes",
            last.len(),
            super::DERIVED_SUFFIX_MAX,
            super::NAME_MAX,
            super::SESSION_NAME_MAX
        )
    })
}

impl LockManager {
    /// A manager.
    ///
    /// # Panics
    ///
    /// On a configuration no lock can work with: `retry_min` above
    /// `retry_max`, or a zero `retry_max` (a retry loop that never
    /// sleeps). Both are programming errors, fixed in the caller's code.
    pub fn new(env: &Env, config: LockConfig) -> LockManager {
        assert!(config.retry_min <= config.retry_max, "LockConfig: retry_min must not exceed retry_max");
        assert!(!config.retry_max.is_zero(), "LockConfig: retry_max must be positive");
        let pid = env.procs.own_pid();
        let own = (pid, env.procs.start_time(pid));
        let id = env.entropy.next_u64();
        LockManager {
            inner: Arc::new(Inner { env: env.clone(), config, own, id, state: Mutex::new(ManagerState::default()) }),
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
            manager: self.inner.id,
        }
    }

    /// Take the lock of `session_file`, waiting up to the acquire timeout
    /// and recovering stale lock files (L3, L4). Untracked: use
    /// [`Attempt::acquire`] inside an attempt.
    ///
    /// Returns within the timeout plus one retry delay whatever is at the
    /// lock path (L8). Errors that waiting cannot cure come back at once:
    /// [`LockError::NotAFile`] when a directory, symlink or special file
    /// sits at the lock path, [`LockError::Io`] with the error's kind for a
    /// missing directory, a read-only or full file system, a denied
    /// permission, and a `session_file` that does not end in a file name
    /// (`/`, `dir/`, `dir/.`, `dir/..`, empty: its lock file would sit
    /// elsewhere than beside it), `InvalidInput`.
    pub async fn acquire(&self, session_file: &Path) -> Result<LockGuard, LockError> {
        self.acquire_within(session_file, self.inner.config.acquire_timeout).await
    }

    /// [`acquire`](Self::acquire) with its own timeout (zero: one try).
    pub async fn acquire_within(&self, session_file: &Path, timeout: Duration) -> Result<LockGuard, LockError> {
        let env = &self.inner.env;
        let cfg = &self.inner.config;
        let lock = lock_path(session_file);
        // Refused at once: no wait makes such a name lockable.
        if let Some(why) = unlockable(session_file) {
            let source = io::Error::new(io::ErrorKind::InvalidInput, why);
            return Err(LockError::Io { lock, step: "name the lock file", source });
        }
        let start = env.clock.now();
        // A zero first delay would double to zero for ever: a spin.
        let mut delay = cfg.retry_min.max(Duration::from_millis(1));
        let mut last_owner = None;
        let mut last_error = None;
        let mut immediate = 0;
        loop {
            match self.try_once(session_file, &lock).await? {
                Try::Acquired(guard) => return Ok(guard),
                Try::Again => immediate += 1,
                Try::Busy(owner) => {
                    last_owner = owner.or(last_owner);
                    immediate = IMMEDIATE_RETRIES_MAX;
                }
                Try::Failed(kind) => {
                    last_error = Some(kind);
                    immediate = IMMEDIATE_RETRIES_MAX;
                }
            }
            let waited = env.clock.now().saturating_since(start);
            // A lock that just vanished (or was just recovered) gets its
            // few immediate tries even at the deadline: a zero timeout
            // still means one real try at a free lock.
            // (Every try that does not return counts: an immediate retry
            // adds one, a busy or failed try spends them all.)
            debug_assert!(immediate > 0, "a try that did not return counts toward the immediate retries");
            let again = immediate < IMMEDIATE_RETRIES_MAX;
            if waited >= timeout && !again {
                // Name the owner as it is now, if the lock file can say; if
                // it cannot (the look failed), say why. What no wait could
                // cure, met on this last look (a process frozen past its
                // deadline after a transient error), is refused as on a try.
                match refuse(&lock, self.inspect(&lock).await)? {
                    Found::Held(Some(o)) | Found::Stale(_, _, Some(o)) => last_owner = Some(o),
                    Found::Unknown(e) => last_error = Some(e.kind()),
                    _ => {}
                }
                return Err(LockError::Timeout { lock, waited, owner: last_owner, last_error });
            }
            if immediate < IMMEDIATE_RETRIES_MAX {
                continue;
            }
            immediate = 0;
            // Jitter in [delay/2, delay], never past the deadline.
            let jittered = delay / 2 + Duration::from_micros(env.entropy.below(delay.as_micros() as u64 / 2 + 1));
            debug_assert!(
                jittered >= delay / 2 && jittered <= delay,
                "a retry sleeps {jittered:?}, outside [{delay:?}/2, {delay:?}]"
            );
            env.clock.sleep(jittered.min(timeout - waited)).await;
            delay = super::backoff(delay, cfg.retry_max);
        }
    }

    /// One exclusive create, and on a busy lock one look at it. `Err` only
    /// for errors that waiting cannot cure.
    async fn try_once(&self, session_file: &Path, lock: &Path) -> Result<Try, LockError> {
        let owner = self.new_owner();
        let body = owner.to_record();
        // Held before the file can exist: a sibling task that reads it at
        // once must see a live hold, not our orphan. If this call is
        // dropped before the hold exists, the nonce is forgotten again, so
        // a lock file that lands anyway is our orphan, reclaimable at once.
        self.inner.state().held.insert(owner.nonce);
        let pending = Registered { inner: &self.inner, nonce: owner.nonce };
        match self.inner.env.fs.create_new(lock, body).await {
            Ok(()) => {
                std::mem::forget(pending);
                return Ok(Try::Acquired(self.hold(session_file, lock.to_path_buf(), owner)));
            }
            Err(e) => {
                // A failed create leaves no file (the `Fs` contract).
                drop(pending);
                if e.kind() != io::ErrorKind::AlreadyExists {
                    return match permanent(&e) {
                        true => Err(io_error(lock, "create the lock file", e)),
                        false => Ok(Try::Failed(e.kind())),
                    };
                }
            }
        }
        match refuse(lock, self.inspect(lock).await)? {
            Found::Gone => Ok(Try::Again),
            Found::NotAFile(_) => unreachable!("refused by `refuse`"),
            Found::Unknown(e) => Ok(Try::Failed(e.kind())),
            Found::Held(owner) => Ok(Try::Busy(owner)),
            Found::Stale(id, reason, owner) => {
                match self.take_over(session_file, lock, &id, reason, owner.clone()).await {
                    true => Ok(Try::Again),
                    false => Ok(Try::Busy(owner)),
                }
            }
        }
    }

    fn hold(&self, session_file: &Path, lock: PathBuf, owner: LockOwner) -> LockGuard {
        debug_assert!(self.inner.state().held.contains(&owner.nonce), "a hold is registered before its file exists");
        // A holder that died mid-append (or a power loss) may have left a
        // partial last line: the hold's first append (or its release)
        // checks the tail and cuts it (L6).
        let nonce = owner.nonce;
        let hold = Hold::new(self.inner.clone(), session_file.to_path_buf(), lock, owner);
        if let Some(held) = &self.inner.config.held {
            held.insert(nonce, Arc::downgrade(&hold));
        }
        hold.start_watchdog();
        LockGuard::new(hold)
    }

    /// Look at an existing lock path and judge it (L4, L8). Only a regular
    /// file is read: a FIFO could block the read forever, and a symlink or
    /// directory is nothing a lock manager wrote.
    async fn inspect(&self, lock: &Path) -> Found {
        let env = &self.inner.env;
        let meta = match env.fs.symlink_metadata(lock).await {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Found::Gone,
            Err(e) => return Found::Unknown(e),
        };
        if meta.kind != FileKind::File {
            return Found::NotAFile(meta.kind);
        }
        // A lock record is a few hundred bytes: a huge file (a sparse
        // 100 TB one, say) is garbage, judged without reading it.
        let bytes = if meta.len > LOCK_FILE_MAX {
            format!("oversized {} bytes", meta.len).into_bytes()
        } else {
            match env.fs.read(lock).await {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Found::Gone,
                Err(e) => return Found::Unknown(e),
            }
        };
        let Some(owner) = LockOwner::from_record(&bytes) else {
            // Named by content and mtime: two empty files (power losses at
            // different times) are different instances.
            let mtime_ns = meta.modified.duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos() as u64;
            let id = format!("x{:016x}", crate::mix64(crate::fnv1a64(&bytes, 0xCBF2_9CE4_8422_2325) ^ mtime_ns));
            // An mtime in the future cannot make it young for ever.
            let age = env.clock.wall().duration_since(meta.modified).unwrap_or_default();
            let age = age.max(self.inner.observed_age(lock, &id));
            if age >= self.inner.config.unreadable_grace {
                return Found::Stale(id, Reason::Unreadable, None);
            }
            return Found::Held(None);
        };
        let id = format!("{:016x}", owner.nonce);
        match self.judge(lock, &id, &owner) {
            Some(reason) => Found::Stale(id, reason, Some(owner)),
            None => Found::Held(Some(owner)),
        }
    }

    fn judge(&self, lock: &Path, id: &str, o: &LockOwner) -> Option<Reason> {
        let env = &self.inner.env;
        let (own, own_start) = self.inner.own;
        if o.pid == own && o.start_time == own_start && o.manager == self.inner.id {
            if !self.inner.state().held.contains(&o.nonce) {
                return Some(Reason::OrphanedSelf);
            }
        } else if o.pid == own && o.start_time.is_none() && own_start.is_some() {
            // Every record this process writes names its start time: this
            // one was written by an earlier process under the same pid.
            return Some(Reason::ReusedPid);
        }
        if env.procs.liveness(o.pid) == Liveness::Dead {
            return Some(Reason::DeadOwner);
        }
        if let (Some(now), Some(then)) = (env.procs.start_time(o.pid), o.start_time)
            && now != then
        {
            return Some(Reason::ReusedPid);
        }
        // The hold is bounded by our own maximum whatever the record says,
        // and its age by how long we have seen it, whatever its clock said.
        let hold_ms = o.max_hold_ms.min(self.inner.config.max_hold.as_millis() as u64);
        let grace_ms = self.inner.config.takeover_grace.as_millis() as u64;
        let record_age_ms = env.clock.wall_ms().saturating_sub(o.acquired_at_ms);
        let seen_ms = self.inner.observed_age(lock, id).as_millis() as u64;
        (record_age_ms.max(seen_ms) >= hold_ms.saturating_add(grace_ms)).then_some(Reason::Expired)
    }

    /// Remove the stale instance `id` of `lock`, race-free: only the waiter
    /// that creates the claim `<lock>.takeover.<id>` may, and only if the
    /// lock is still that instance when it looks again. A claim is removed
    /// by its claimer, or once abandoned (claimer dead, or older than
    /// `claim_stale`) by a waiter that needs it or by [`Self::sweep_stale`].
    ///
    /// The whole section runs as a task of its own: a caller cancelled
    /// halfway (an attempt timeout) must not leave its claim behind, and
    /// the claim may go only once the stale lock's removal has landed.
    async fn take_over(
        &self,
        session_file: &Path,
        lock: &Path,
        id: &str,
        reason: Reason,
        owner: Option<LockOwner>,
    ) -> bool {
        let me = self.clone();
        let (session_file, lock, id) = (session_file.to_path_buf(), lock.to_path_buf(), id.to_string());
        let task = Box::pin(async move { me.take_over_now(&session_file, &lock, &id, reason, owner).await });
        crate::spawn::run_detached(&*self.inner.env.spawner, "lock-takeover", task).await
    }

    async fn take_over_now(
        &self,
        session_file: &Path,
        lock: &Path,
        id: &str,
        reason: Reason,
        owner: Option<LockOwner>,
    ) -> bool {
        let fs = &self.inner.env.fs;
        let claim = claim_path(lock, id);
        let (nonce, made) = match self.claim(&claim).await {
            Ok(made) => made,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                self.clear_abandoned_claim(&claim).await;
                return false;
            }
            Err(_) => return false,
        };
        let still = match self.inspect(lock).await {
            Found::Stale(again, _, _) => again == id,
            _ => false,
        };
        // The claim is a lease too (`claim_stale`): a claimer frozen during
        // its look wakes to find its claim cleared as abandoned, another
        // waiter's takeover done and a new holder's lock at the path. So
        // the clock is read again, with nothing that suspends between it
        // and issuing the removal.
        let removed = still && self.claim_live(made) && matches!(fs.remove_file(lock).await, Ok(()));
        self.remove_claim(&claim, nonce, made).await;
        if removed {
            self.inner.diagnose(ForcedRelease { session_file: session_file.to_path_buf(), owner, reason });
        }
        removed
    }

    /// Create a claim (or clear-claim) file naming us: our claim nonce and
    /// when we made it.
    async fn claim(&self, path: &Path) -> io::Result<(u64, Mono)> {
        let me = self.new_owner();
        let body = me.to_record();
        let made = self.inner.env.clock.now();
        self.inner.env.fs.create_new(path, body).await.map(|()| (me.nonce, made))
    }

    /// Remove our own claim (only while it is still ours: once it names
    /// another claimer, it is theirs), retrying transient errors (bounded):
    /// a claim left behind blocks takeovers until it counts as abandoned.
    ///
    /// It stops trying once the claim is no longer live (`claim_live`),
    /// judged before its read and again before its removal, and leaves it
    /// to [`Self::clear_when_abandoned`].
    async fn remove_claim(&self, claim: &Path, nonce: u64, made: Mono) {
        let env = &self.inner.env;
        let mut delay = self.inner.config.retry_min;
        for _ in 0..CLAIM_REMOVE_TRIES_MAX {
            if !self.claim_live(made) {
                return self.clear_when_abandoned(claim, made);
            }
            // Ours only when the file says so; a failed read proves nothing.
            match env.fs.read(claim).await {
                Ok(bytes) if LockOwner::from_record(&bytes).is_some_and(|o| o.nonce == nonce) => {}
                Ok(_) => return,
                Err(e) if e.kind() == io::ErrorKind::NotFound || permanent(&e) => return,
                Err(_) => {
                    env.clock.sleep(delay).await;
                    delay = super::backoff(delay, self.inner.config.retry_max);
                    continue;
                }
            }
            // Again after the read: frozen during it, the claim may have
            // been cleared and made anew by another claimer.
            if !self.claim_live(made) {
                return self.clear_when_abandoned(claim, made);
            }
            match env.fs.remove_file(claim).await {
                Ok(()) => return,
                Err(e) if e.kind() == io::ErrorKind::NotFound || permanent(&e) => return,
                Err(_) => {}
            }
            env.clock.sleep(delay).await;
            delay = super::backoff(delay, self.inner.config.retry_max);
        }
    }

    /// Our claim outlived its lease before we removed it (we froze, or the
    /// file system was that slow): it is no longer ours to remove, since a
    /// clearer may be removing it and another claimer making it anew. But
    /// nobody else may ever need it (the instance it claims may be gone),
    /// so in the background, once it counts as abandoned, we clear it as
    /// any waiter would: through the clear-claim, and only what sits at the
    /// path if that is abandoned itself (ours, or a later claim that was
    /// abandoned too; never a live one). Bounded: a few tries with backoff.
    /// If the process exits first, the claim is a dead claimer's, cleared
    /// by the next waiter or sweep.
    fn clear_when_abandoned(&self, claim: &Path, made: Mono) {
        let (me, claim) = (self.clone(), claim.to_path_buf());
        let task = Box::pin(async move {
            let env = &me.inner.env;
            let stale = me.inner.config.claim_stale;
            let mut delay = me.inner.config.retry_min;
            let since = env.clock.now().saturating_since(made);
            if since < stale {
                env.clock.sleep(stale - since).await;
            }
            for _ in 0..CLAIM_REMOVE_TRIES_MAX {
                if me.clear_abandoned_claim(&claim).await {
                    return;
                }
                if let Err(e) = env.fs.symlink_metadata(&claim).await
                    && (e.kind() == io::ErrorKind::NotFound || permanent(&e))
                {
                    return;
                }
                env.clock.sleep(delay).await;
                delay = super::backoff(delay, me.inner.config.retry_max);
            }
        });
        drop(self.inner.env.spawner.spawn("lock-claim-clear", task));
    }

    /// Is a claim (or clear-claim) we made at `made` still ours to act
    /// on? Until three quarters of `claim_stale`: past that a clearer may
    /// judge it abandoned, and only one of the two may act on it (the last
    /// quarter is the margin for an operation in flight).
    fn claim_live(&self, made: Mono) -> bool {
        self.inner.env.clock.now().saturating_since(made) < self.inner.config.claim_stale * 3 / 4
    }

    /// A claim whose claimer died, or that is older than `claim_stale`
    /// (its claimer crashed mid-takeover), blocks recovery and is litter:
    /// it is removed.
    pub(crate) async fn clear_abandoned_claim(&self, claim: &Path) -> bool {
        let Some(claimer) = self.abandoned(claim).await else { return false };
        if claim.to_string_lossy().contains(".clear.") {
            // A clearer that died mid-clear: nothing acts on its file.
            return self.inner.env.fs.remove_file(claim).await.is_ok();
        }
        // Clearers exclude each other through a clear-claim named by the
        // abandoned claimer's nonce (never reused): two clearers that both
        // judged the same claim abandoned must not both remove "it", or
        // the second removes a new claimer's fresh claim.
        let me = self.clone();
        let claim = claim.to_path_buf();
        let task = Box::pin(async move { me.clear_now(&claim, claimer).await });
        crate::spawn::run_detached(&*self.inner.env.spawner, "lock-claim-clear", task).await
    }

    /// The claimer's nonce of an abandoned claim (its claimer dead, or the
    /// claim older than `claim_stale`), if `claim` is one.
    ///
    /// The content is read before the metadata: if the claim was replaced
    /// in between, the mtime is the newer one's, so a young claim is never
    /// judged by an old one's age (the simulator found that mix, seed
    /// 100220 of `lock`).
    async fn abandoned(&self, claim: &Path) -> Option<u64> {
        let env = &self.inner.env;
        let stale_ms = self.inner.config.claim_stale.as_millis() as u64;
        let judged = env.clock.now();
        let claimer = LockOwner::from_record(&env.fs.read(claim).await.ok()?);
        let m = env.fs.symlink_metadata(claim).await.ok()?;
        if m.kind != FileKind::File {
            return None;
        }
        // A judgment is as old as its first read: one that took longer
        // than a quarter of `claim_stale` (a freeze) may describe a file
        // that has been replaced since, so it is no judgment. Callers act
        // on it with nothing that suspends in between.
        if env.clock.now().saturating_since(judged) >= self.inner.config.claim_stale / 4 {
            return None;
        }
        let mtime_old =
            env.clock.wall().duration_since(m.modified).unwrap_or_default() >= self.inner.config.claim_stale;
        let body_old =
            claimer.as_ref().is_none_or(|c| env.clock.wall_ms().saturating_sub(c.acquired_at_ms) >= stale_ms);
        let dead = claimer.as_ref().is_some_and(|c| env.procs.liveness(c.pid) == Liveness::Dead);
        ((mtime_old && body_old) || dead).then(|| claimer.map_or(0, |c| c.nonce))
    }

    async fn clear_now(&self, claim: &Path, claimer: u64) -> bool {
        let fs = &self.inner.env.fs;
        let mut clear = claim.as_os_str().to_os_string();
        clear.push(format!(".clear.{claimer:016x}"));
        let clear = PathBuf::from(clear);
        let (nonce, made) = match self.claim(&clear).await {
            Ok(made) => made,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                // A clearer that died mid-clear: its file goes once
                // abandoned, and the claim with it next time.
                if self.abandoned(&clear).await.is_some() {
                    let _ = fs.remove_file(&clear).await;
                }
                return false;
            }
            Err(_) => return false,
        };
        // Still the claim judged abandoned? Nobody else can change it now:
        // its claimer is done, other clearers are excluded, and no new claim
        // can be made while it exists.
        let same = match fs.read(claim).await {
            Ok(bytes) => LockOwner::from_record(&bytes).map_or(claimer == 0, |c| c.nonce == claimer),
            Err(_) => false,
        };
        // Our clear-claim is a lease like any claim (see `take_over_now`).
        let removed = same && self.claim_live(made) && fs.remove_file(claim).await.is_ok();
        self.remove_claim(&clear, nonce, made).await;
        removed
    }
}

/// What [`LockManager::sweep_stale`] removed, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Litter {
    /// A stale lock file (taken over through its claim, as `acquire` does).
    StaleLock(Reason),
    /// A takeover claim whose claimer died or that is older than
    /// `claim_stale`.
    AbandonedClaim,
    /// A holder's copy of a transcript for a tail repair, left by a holder
    /// of a version before the in-place cut killed mid-repair, whose
    /// session nobody holds now.
    RepairCopy,
}

/// What a sweep of a sessions directory inspected and removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StaleSweep {
    /// Lock files, claims and repair copies looked at.
    pub inspected: usize,
    /// What was removed, in name order.
    pub removed: Vec<(PathBuf, Litter)>,
}

impl LockManager {
    /// Sweep a sessions directory of lock litter, as a service does at
    /// boot: stale `*.lock` files (judged and taken over exactly as
    /// `acquire` would), abandoned `*.lock.takeover.*` claims, and
    /// `*.repair` copies of sessions whose lock nobody holds. A live lock
    /// and its files are never touched. Per-entry errors are skipped.
    ///
    /// Those names are the lock's in its directory: `acquire` refuses a
    /// session file named like them, so no transcript is taken for
    /// litter; any other file named so is.
    pub async fn sweep_stale(&self, dir: &Path) -> io::Result<StaleSweep> {
        let fs = &self.inner.env.fs;
        let mut out = StaleSweep::default();
        let mut entries = fs.read_dir(dir).await?;
        // Dead clearers' files first: each blocks the clearing of a claim.
        entries.sort_by_key(|e| {
            !e.name.to_string_lossy().contains(".takeover.") || !e.name.to_string_lossy().contains(".clear.")
        });
        for entry in entries {
            let Some(name) = entry.name.to_str() else { continue };
            let path = dir.join(&entry.name);
            if entry.kind != FileKind::File {
                continue;
            }
            if name.contains(".lock.takeover.") {
                out.inspected += 1;
                if self.clear_abandoned_claim(&path).await {
                    out.removed.push((path, Litter::AbandonedClaim));
                }
            } else if let Some(session) = name.strip_suffix(".lock") {
                out.inspected += 1;
                if let Found::Stale(id, reason, owner) = self.inspect(&path).await
                    && self.take_over(&dir.join(session), &path, &id, reason, owner).await
                {
                    out.removed.push((path, Litter::StaleLock(reason)));
                }
            } else if let Some(session) = repair_of(name) {
                out.inspected += 1;
                let free = matches!(fs.symlink_metadata(lock_path(&dir.join(session))).await,
                    Err(e) if e.kind() == io::ErrorKind::NotFound);
                if free && fs.remove_file(&path).await.is_ok() {
                    out.removed.push((path, Litter::RepairCopy));
                }
            }
        }
        Ok(out)
    }
}

/// A name `sweep_stale` takes for the lock's litter (a lock file, a
/// takeover claim or its clear, a repair copy): no session may have one.
fn litter_name(name: &str) -> bool {
    name.ends_with(".lock") || name.contains(".lock.takeover.") || repair_of(name).is_some()
}

/// The session a repair copy's name belongs to: `<session>.repair`, or
/// `<session>.repair.<nonce>` as older versions named it.
fn repair_of(name: &str) -> Option<&str> {
    if let Some(session) = name.strip_suffix(".repair") {
        return Some(session);
    }
    let (session, nonce) = name.rsplit_once(".repair.")?;
    (nonce.len() == 16 && nonce.bytes().all(|b| b.is_ascii_hexdigit())).then_some(session)
}

/// The claim of a takeover of instance `id` of `lock`. One name per
/// instance: a single fixed name let two waiters that cleared the same
/// abandoned claim race a new claimer (the simulator found it, seed 281 of
/// `lock`), while a claim for an instance that no longer exists is harmless.
fn claim_path(lock: &Path, id: &str) -> PathBuf {
    let mut p = lock.as_os_str().to_os_string();
    p.push(format!(".takeover.{id}"));
    PathBuf::from(p)
}

/// What a look at the lock path found that no wait can cure (L8), as the
/// error `acquire` returns at once: something that is not a regular file,
/// or a permanent error. Anything else is passed on.
fn refuse(lock: &Path, found: Found) -> Result<Found, LockError> {
    match found {
        Found::NotAFile(found) => Err(LockError::NotAFile { lock: lock.to_path_buf(), found }),
        Found::Unknown(e) if permanent(&e) => Err(io_error(lock, "read the lock file", e)),
        other => Ok(other),
    }
}

fn io_error(lock: &Path, step: &'static str, source: io::Error) -> LockError {
    LockError::Io { lock: lock.to_path_buf(), step, source }
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

#[cfg(test)]
mod name_tests {
    use std::path::Path;

    /// A lock file sits beside its session file only when the path ends in
    /// a name: every other spelling is refused before anything is touched.
    #[test]
    fn only_a_path_ending_in_a_name_names_a_session_file() {
        for ok in ["/data/s.jsonl", "s.jsonl", "./s", "/a/../s", "/a/.s", "/a/...", "/a/s."] {
            assert_eq!(super::unlockable(Path::new(ok)), None, "{ok}");
        }
        for bad in ["", "/", "//", "/data/", "/data/.", "/data/..", ".", "..", "a/./", "a//"] {
            let why = super::unlockable(Path::new(bad));
            assert!(why.as_deref().is_some_and(|w| w.contains("must end in a file name")), "{bad}: {why:?}");
        }
    }
}
