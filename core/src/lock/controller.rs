//! [`AttemptController`]: upstream's attempt-level lock with its transcript
//! fence (L10).
//!
//! An agent's attempt holds a session's lock coarsely, but must let go of
//! it while it waits for something long (a model response, a user), so
//! that others can use the session meanwhile. When it writes again it must
//! know whether anybody did: before letting go it records the session
//! file's fingerprint (identity, size, mtime, ctime, or absent), and every
//! later write reacquires the lock, compares the fingerprint, runs, and
//! refreshes the fingerprint (even when the write failed) before letting
//! go again. A fingerprint that cannot be read (after a few tries) fails
//! closed: the next write after a wait is refused, as a takeover. So does
//! one the hold can no longer vouch for: a look is issued only while the
//! hold is live and inside its lease (a process frozen past it would
//! record what another holder made of the file). A mismatch is a
//! takeover, and takeover is sticky: every later
//! write of the attempt fails without acquiring. Cleanup abandons every
//! lock the attempt still holds (awaiting each), logs once, and leaves the
//! attempt taken over, so a late write through it is refused, never
//! appended.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Attempt, LockError, LockGuard, LockManager};

/// Looks at the session file before an attempt gives up on knowing how it
/// left it.
const FINGERPRINT_TRIES_MAX: u32 = 3;
use crate::fs::FsExt;

/// What a session file looked like: enough to tell that someone else
/// wrote it, replaced it or removed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fingerprint {
    /// No session file.
    Absent,
    /// The file's identity, length, mtime and ctime.
    Present {
        /// `st_dev` and `st_ino`, mixed.
        id: u64,
        /// Length in bytes.
        len: u64,
        /// Last modification.
        modified: std::time::SystemTime,
        /// Last change (content or entry).
        changed: std::time::SystemTime,
    },
}

/// One attempt's lock on one session, with the transcript fence (L10).
pub struct AttemptController {
    manager: LockManager,
    session: PathBuf,
    attempt: Attempt,
    state: Mutex<State>,
    /// Moves when a write running on the held lock ends.
    signal: crate::signal::Signal,
}

impl std::fmt::Debug for AttemptController {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f.debug_struct("AttemptController")
            .field("session", &self.session)
            .field("held", &st.held.is_some())
            .field("takeover", &st.takeover)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    /// The lock, while held (coarsely, or by a write in progress).
    held: Option<Arc<LockGuard>>,
    /// Writes running on `held`: the one that took it, those nested in
    /// it, and other tasks' that joined it. Whoever lets go of the lock
    /// waits for them (bounded by its lease), and takes it from `held`
    /// only once there are none.
    users: usize,
    /// A write joined the held lock since it was taken: whoever lets go
    /// cuts a torn tail and fingerprints the file again first.
    joined: bool,
    /// The session file as this attempt last left it.
    fingerprint: Option<Fingerprint>,
    /// The last look at the session file failed: how the attempt left it
    /// is unknown, so no write after a wait may land (L10 fails closed).
    unknown: bool,
    /// Why the attempt lost the session; sticky.
    takeover: Option<String>,
    /// Cleanup ran (it logs once).
    cleaned: bool,
}

impl LockManager {
    /// An attempt controller for `session_file` (L10).
    pub fn controller(&self, session_file: &Path) -> AttemptController {
        AttemptController {
            manager: self.clone(),
            session: session_file.to_path_buf(),
            attempt: self.attempt(),
            state: Mutex::new(State::default()),
            signal: crate::signal::Signal::default(),
        }
    }
}

/// A guard taken back from `held` to be let go of: put back if the caller
/// is cancelled before its release begins, so that later writes reuse it
/// (as they reuse the hold of a write cancelled midway) instead of waiting
/// on a lock file nobody will remove before the watchdog.
struct LettingGo<'a> {
    ctl: &'a AttemptController,
    guard: Option<Arc<LockGuard>>,
}

impl LettingGo<'_> {
    /// The release begins: nothing to put back any more.
    fn releasing(mut self) {
        self.guard = None;
    }
}

impl Drop for LettingGo<'_> {
    fn drop(&mut self) {
        if let Some(g) = self.guard.take() {
            let mut st = self.ctl.state();
            if st.held.is_none() && st.takeover.is_none() {
                st.held = Some(g);
            }
        }
    }
}

/// A write running on the held lock ([`State::users`]), counted until it
/// returns or is cancelled.
struct User<'a>(&'a AttemptController);

impl Drop for User<'_> {
    fn drop(&mut self) {
        self.0.state().users -= 1;
        self.0.signal.notify();
    }
}

impl AttemptController {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Take `guard` back from `held` to let go of it, once no write runs
    /// on it (none joins after), or once its lease and the takeover grace
    /// are over (the watchdog has released it by then): whether a write
    /// joined it since it was taken (its tail and fingerprint are then to
    /// be taken again), or `None` if it is not held (a cleanup took it).
    async fn take_back(&self, guard: &Arc<LockGuard>) -> Option<bool> {
        let take = |idle_only: bool| {
            let mut st = self.state();
            match &st.held {
                Some(g) if Arc::ptr_eq(g, guard) => (st.users == 0 || !idle_only).then(|| {
                    st.held = None;
                    Some(std::mem::take(&mut st.joined))
                }),
                _ => Some(None),
            }
        };
        let bound = guard.lease_remaining() + self.manager.config().takeover_grace;
        let idle = self.signal.until(|| take(true));
        match crate::timeout(&*self.manager.inner.env.clock, bound, idle).await {
            Ok(taken) => taken,
            Err(_) => take(false).flatten(),
        }
    }

    /// Count a write running on the held lock until it returns or is
    /// cancelled.
    fn user(&self) -> User<'_> {
        self.state().users += 1;
        User(self)
    }

    /// Hold `guard` for the attempt (no write has joined it yet).
    fn hold(&self, guard: Arc<LockGuard>) {
        let mut st = self.state();
        st.held = Some(guard);
        st.joined = false;
    }

    fn refused(&self) -> Option<LockError> {
        let st = self.state();
        st.takeover.clone().map(|reason| LockError::Takeover { lock: super::lock_path(&self.session), reason })
    }

    fn take_over(&self, reason: &str) -> LockError {
        let mut st = self.state();
        let reason = st.takeover.get_or_insert_with(|| reason.to_string()).clone();
        LockError::Takeover { lock: super::lock_path(&self.session), reason }
    }

    /// Has this attempt lost the session (a changed fingerprint, an
    /// acquire timeout inside a write, or cleanup)?
    pub fn is_taken_over(&self) -> bool {
        self.state().takeover.is_some()
    }

    /// The session file's fingerprint now.
    pub async fn fingerprint(&self) -> Result<Fingerprint, LockError> {
        match self.manager.inner.env.fs.metadata(&self.session).await {
            Ok(m) => Ok(Fingerprint::Present { id: m.id, len: m.len, modified: m.modified, changed: m.changed }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Fingerprint::Absent),
            Err(e) => {
                Err(LockError::Io { lock: super::lock_path(&self.session), step: "fingerprint the session", source: e })
            }
        }
    }

    /// Take the coarse lock for the attempt (a no-op while held). After a
    /// wait it is fenced like a write: the session file must be as this
    /// attempt left it.
    pub async fn acquire(&self) -> Result<(), LockError> {
        if let Some(e) = self.refused() {
            return Err(e);
        }
        if self.state().held.is_some() {
            return Ok(());
        }
        let guard = Arc::new(self.attempt.acquire(&self.session).await?);
        if let Err(e) = self.fence().await {
            let _ = guard.release().await;
            return Err(e);
        }
        self.hold(guard);
        Ok(())
    }

    /// Right after a reacquire: refused if cleanup ran meanwhile, or if the
    /// session file is not as this attempt left it (L10).
    async fn fence(&self) -> Result<(), LockError> {
        if let Some(e) = self.refused() {
            return Err(e);
        }
        if self.state().unknown {
            return Err(self.take_over("the session file could not be fingerprinted before the lock was released"));
        }
        let now = self.fingerprint_retried(None).await?;
        let recorded = self.state().fingerprint.clone();
        if recorded.as_ref().is_some_and(|r| *r != now) {
            return Err(self.take_over("the session file changed while the lock was released"));
        }
        Ok(())
    }

    /// The fingerprint, retried (bounded) on errors: a look that failed
    /// leaves the attempt unable to write after its next wait.
    ///
    /// Under `guard`, each look is issued only while the hold is live and
    /// inside its lease: only then does nobody else change the file before
    /// the look lands (the lease argument, see the module docs). A process
    /// frozen past its lease (SIGSTOP, a GC pause, a slow retry) would
    /// otherwise record, as how it left the file, what another holder made
    /// of it meanwhile, and its next write after the wait would pass the
    /// fence (L10).
    async fn fingerprint_retried(&self, guard: Option<&LockGuard>) -> Result<Fingerprint, LockError> {
        let env = &self.manager.inner.env;
        let mut delay = self.manager.config().retry_min;
        let look = || async {
            match guard {
                Some(g) if !g.within_lease() => Err(LockError::Takeover {
                    lock: super::lock_path(&self.session),
                    reason: "the hold's lease ran out before the session file was fingerprinted".into(),
                }),
                _ => self.fingerprint().await,
            }
        };
        let mut last = look().await;
        for _ in 1..FINGERPRINT_TRIES_MAX {
            if last.is_ok() || matches!(last, Err(LockError::Takeover { .. })) {
                break;
            }
            env.clock.sleep(delay).await;
            delay = super::backoff(delay, self.manager.config().retry_max);
            last = look().await;
        }
        last
    }

    /// Record how the attempt leaves the session file (or that it could not
    /// tell), while it still holds the lock.
    fn record(&self, seen: &Result<Fingerprint, LockError>) {
        let mut st = self.state();
        st.fingerprint = seen.as_ref().ok().cloned();
        st.unknown = seen.is_err();
    }

    /// Right before `guard` is released, after the last record: a tail
    /// still torn (its repair failed) is cut by the release, behind the
    /// record, so the file is then as nobody recorded it: unknown (the
    /// next write after a wait is refused as such, not as a change by
    /// someone else that never happened).
    fn unknown_if_torn(&self, guard: &LockGuard) {
        if guard.tail_torn() {
            self.state().unknown = true;
        }
    }

    /// Let go of the lock for a long wait, recording the session file's
    /// fingerprint first (while still holding it).
    pub async fn release_for_wait(&self) -> Result<(), LockError> {
        let Some(guard) = self.state().held.clone() else { return Ok(()) };
        // Writes running on the lock finish first (another task's); none
        // joins after this.
        if self.take_back(&guard).await.is_none() {
            return Ok(());
        }
        let letting_go = LettingGo { ctl: self, guard: Some(guard.clone()) };
        // A torn tail is cut before the fingerprint, not by the release
        // after it (that would change the file behind our own record).
        guard.settle_tail().await;
        let fingerprint = self.fingerprint_retried(Some(&guard)).await;
        self.record(&fingerprint);
        self.unknown_if_torn(&guard);
        letting_go.releasing();
        let released = guard.release().await;
        // A hold whose lease ran out before the look loses the session.
        self.sticky(fingerprint)?;
        released
    }

    /// Run one write under the lock: reuse the lock if this attempt holds
    /// it (a nested call, the coarse lock, or another task's write in
    /// progress: an attempt's parallel tool calls share its hold, and
    /// whoever lets go of it waits for every write on it, so none finds
    /// its hold released under it); otherwise reacquire it,
    /// check that the session file is as this attempt left it, run, and
    /// let go again. The fingerprint is refreshed after the write, even a
    /// failed one. Refused with [`LockError::Takeover`] once the attempt
    /// lost the session; an acquire timeout here loses it too.
    pub async fn write<T>(&self, f: impl AsyncFnOnce(&LockGuard) -> Result<T, LockError>) -> Result<T, LockError> {
        if let Some(e) = self.refused() {
            return Err(e);
        }
        // The held lock is shared: by a write nested in the one that took
        // it, and by another task's write meanwhile (an attempt's parallel
        // tool calls). Counted, so that whoever lets go of it waits.
        let held = {
            let mut st = self.state();
            let held = st.held.clone();
            if held.is_some() {
                st.users += 1;
                st.joined = true;
            }
            held
        };
        if let Some(guard) = held {
            // Counted above, under the same lock that read `held`.
            let _user = User(self);
            let out = f(&guard).await;
            self.refresh(&guard).await;
            return self.sticky(out);
        }
        let guard = match self.attempt.acquire(&self.session).await {
            Ok(g) => Arc::new(g),
            Err(e @ LockError::Timeout { .. }) => {
                self.take_over("the lock could not be reacquired within its timeout");
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let out = self.write_held(&guard, f).await;
        let joined = self.take_back(&guard).await;
        let letting_go = LettingGo { ctl: self, guard: joined.is_some().then(|| guard.clone()) };
        if joined == Some(true) {
            // Another task's write ran on this hold after ours settled.
            guard.settle_tail().await;
            self.refresh(&guard).await;
        }
        self.unknown_if_torn(&guard);
        let out = self.sticky(out);
        // (Released also when not held any more: a cleanup took it.)
        letting_go.releasing();
        let released = guard.release().await;
        let out = out?;
        released.map(|()| out)
    }

    async fn write_held<T>(
        &self,
        guard: &Arc<LockGuard>,
        f: impl AsyncFnOnce(&LockGuard) -> Result<T, LockError>,
    ) -> Result<T, LockError> {
        self.fence().await?;
        // Nested writes inside `f` reuse this hold.
        self.hold(guard.clone());
        let _taker = self.user();
        let out = f(guard).await;
        guard.settle_tail().await;
        self.refresh(guard).await;
        out
    }

    /// A hold found taken over loses the session for the attempt too.
    fn sticky<T>(&self, out: Result<T, LockError>) -> Result<T, LockError> {
        match out {
            Err(LockError::Takeover { reason, .. }) => Err(self.take_over(&reason)),
            other => other,
        }
    }

    async fn refresh(&self, guard: &LockGuard) {
        // An unreadable fingerprint is recorded as unknown: the next
        // reacquire after a wait is refused (it cannot tell whether anybody
        // wrote meanwhile), never trusted to the lock alone. So is one the
        // hold could no longer vouch for (its lease ran out).
        let now = self.fingerprint_retried(Some(guard)).await;
        self.record(&now);
    }

    /// Append one whole line through [`write`](Self::write).
    pub async fn append(&self, line: &[u8]) -> Result<(), LockError> {
        self.write(async |g: &LockGuard| g.append(line).await).await
    }

    /// Attempt cleanup: abandon every lock the attempt still holds (each
    /// awaited), log once, and leave the attempt taken over: a late write
    /// through it is refused. Never acquires. Idempotent; returns how many
    /// locks were still held.
    pub async fn cleanup(&self) -> usize {
        self.take_over("the attempt was cleaned up");
        self.state().held = None;
        // A let-go waiting for its writes gives up on a hold cleanup took.
        self.signal.notify();
        let released = self.attempt.abandon_in_flight().await;
        let first = !std::mem::replace(&mut self.state().cleaned, true);
        if first {
            tracing::info!(session_file = %self.session.display(), released, "attempt cleaned up; later writes are refused");
        }
        released
    }
}
