//! A held lock: [`LockGuard`] (fenced appends, owner-checked release) and
//! the shared [`Hold`] that the watchdog and attempt cleanup force-release.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::manager::Inner;
use super::{ForcedRelease, LockError, LockOwner, Reason};
use crate::fs::{FsExt, Handle, OpenMode};
use crate::signal::Signal;
use crate::spawn::TaskHandle;

/// How much of a transcript's tail a repair reads at a time, backwards
/// from the end, looking for the last newline.
const TAIL_CHUNK: u64 = 64 << 10;

/// A tail repair's cut: keep the first `keep` bytes of the file with
/// identity `id`, found `len` bytes long.
#[derive(Clone, Copy, Debug)]
struct Cut {
    keep: u64,
    len: u64,
    id: u64,
}

pub(crate) struct Hold {
    manager: Arc<Inner>,
    session: PathBuf,
    lock: PathBuf,
    owner: LockOwner,
    state: Mutex<HoldState>,
    /// Moves whenever an append finishes.
    signal: Signal,
    watchdog: Mutex<Option<TaskHandle>>,
}

#[derive(PartialEq, Eq)]
enum Look {
    Ours,
    Other,
    Vanished,
}

/// Attempts to remove a lock file on release.
const REMOVE_TRIES_MAX: u32 = 8;

struct HoldState {
    /// Why the hold was revoked (force-released or found taken over).
    revoked: Option<String>,
    released: bool,
    appends_in_flight: u32,
    /// Tail repairs under way (their steps touch the transcript).
    repairs_in_flight: u32,
    /// The transcript's tail may hold a partial line (a failed append; or,
    /// until the first append checks, a holder that died mid-append).
    repair: bool,
    /// A task has the hold's turn at the transcript's tail
    /// ([`Hold::take_tail`]).
    tail_taken: bool,
    /// The process's exit cleanup took this hold over ([`Hold::begin_exit`]):
    /// nothing of it starts any more.
    exiting: bool,
    /// A repair cut the transcript and its fsync has not succeeded yet:
    /// the next repair that finds the tail whole makes the cut durable.
    cut_unsynced: bool,
}

impl HoldState {
    /// Nobody has the turn at the tail, and nothing of the hold is in
    /// flight there.
    fn tail_idle(&self) -> bool {
        !self.tail_taken && self.appends_in_flight == 0 && self.repairs_in_flight == 0
    }
}

impl Default for HoldState {
    fn default() -> Self {
        HoldState {
            revoked: None,
            released: false,
            appends_in_flight: 0,
            repairs_in_flight: 0,
            repair: true,
            tail_taken: false,
            exiting: false,
            cut_unsynced: false,
        }
    }
}

/// Counts a tail repair in flight until its task ends (its system calls
/// have returned), then wakes the drains.
struct Repairing(Arc<Hold>);

impl Drop for Repairing {
    fn drop(&mut self) {
        {
            let mut st = self.0.state();
            debug_assert!(st.repairs_in_flight > 0, "every repair in flight was counted");
            st.repairs_in_flight -= 1;
        }
        self.0.signal.notify();
    }
}

/// The hold's turn at the transcript's tail, given back when the task
/// that took it returns or is cancelled. What it issued (an append, a
/// repair) stays counted in flight after that, and the next turn waits
/// for it too.
struct TailTurn<'a>(&'a Hold);

impl Drop for TailTurn<'_> {
    fn drop(&mut self) {
        self.0.state().tail_taken = false;
        self.0.signal.notify();
    }
}

impl Hold {
    pub(crate) fn new(manager: Arc<Inner>, session: PathBuf, lock: PathBuf, owner: LockOwner) -> Arc<Hold> {
        Arc::new(Hold {
            manager,
            session,
            lock,
            owner,
            state: Mutex::new(HoldState::default()),
            signal: Signal::default(),
            watchdog: Mutex::new(None),
        })
    }

    fn state(&self) -> MutexGuard<'_, HoldState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn age_ms(&self) -> u64 {
        self.manager.env.clock.wall_ms().saturating_sub(self.owner.acquired_at_ms)
    }

    /// The lease: appends only before the maximum hold.
    fn lease_left(&self) -> bool {
        self.age_ms() < self.owner.max_hold_ms
    }

    /// What is left of the lease.
    fn lease_remaining(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.owner.max_hold_ms.saturating_sub(self.age_ms()))
    }

    /// The lock file is ours to remove until halfway through the takeover
    /// grace; after that another process may be recovering it, and only
    /// the claim winner may touch it.
    fn may_touch_file(&self) -> bool {
        self.manager.env.clock.wall_ms() < self.touch_until_ms()
    }

    /// The wall-clock ms at which `may_touch_file` turns false.
    fn touch_until_ms(&self) -> u64 {
        let grace_ms = self.manager.config.takeover_grace.as_millis() as u64;
        self.owner.acquired_at_ms.saturating_add(self.owner.max_hold_ms).saturating_add(grace_ms / 2)
    }

    /// `may_touch_file` as an I/O result, for a step of a repair.
    fn touch_window(&self) -> io::Result<()> {
        if self.may_touch_file() {
            Ok(())
        } else {
            Err(io::Error::new(io::ErrorKind::TimedOut, "the hold's window to touch its files has closed"))
        }
    }

    pub(crate) fn start_watchdog(self: &Arc<Self>) {
        // The lease started when the owner record was written, before the
        // lock file existed: the watchdog fires when the lease ends.
        let left_ms = self.owner.max_hold_ms.saturating_sub(self.age_ms());
        let hold = self.clone();
        let clock = self.manager.env.clock.clone();
        let task = Box::pin(async move {
            clock.sleep(std::time::Duration::from_millis(left_ms)).await;
            hold.force_release(Reason::MaxHold, true).await;
        });
        let handle = self.manager.env.spawner.spawn("lock-watchdog", task);
        *self.watchdog.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
    }

    fn stop_watchdog(&self) {
        if let Some(w) = self.watchdog.lock().unwrap_or_else(|p| p.into_inner()).take() {
            w.abort();
        }
    }

    fn io(&self, step: &'static str, source: io::Error) -> LockError {
        LockError::Io { lock: self.lock.clone(), step, source }
    }

    fn takeover(&self, why: &str) -> LockError {
        let mut st = self.state();
        let reason = st.revoked.get_or_insert_with(|| why.to_string()).clone();
        LockError::Takeover { lock: self.lock.clone(), reason }
    }

    /// Refuse once the lease (max hold) has run out.
    fn check_lease(&self) -> Result<(), LockError> {
        if self.lease_left() { Ok(()) } else { Err(self.takeover("its lease (max hold) ran out")) }
    }

    /// Refuse if released or revoked.
    fn check_live(&self) -> Result<(), LockError> {
        let st = self.state();
        if st.released && st.revoked.is_none() {
            return Err(LockError::Released(self.lock.clone()));
        }
        match &st.revoked {
            Some(reason) => Err(LockError::Takeover { lock: self.lock.clone(), reason: reason.clone() }),
            None => Ok(()),
        }
    }

    /// What the lock file says now: ours, someone else's, or gone.
    async fn look(&self) -> Result<Look, LockError> {
        match self.manager.env.fs.read(&self.lock).await {
            Ok(bytes) if self.named_by(&bytes) => Ok(Look::Ours),
            Ok(_) => Ok(Look::Other),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Look::Vanished),
            Err(e) => Err(self.io("read lock file", e)),
        }
    }

    /// Do these lock file bytes name this hold?
    fn named_by(&self, bytes: &[u8]) -> bool {
        LockOwner::from_record(bytes).is_some_and(|o| o.nonce == self.owner.nonce)
    }

    /// Does the lock file still name our nonce?
    async fn still_ours(&self) -> Result<bool, LockError> {
        Ok(self.look().await? == Look::Ours)
    }

    async fn append(self: &Arc<Self>, line: &[u8]) -> Result<(), LockError> {
        let whole = line.last() == Some(&b'\n') && !line[..line.len() - 1].contains(&b'\n');
        if !whole {
            return Err(LockError::NotALine);
        }
        self.check_live()?;
        self.check_lease()?;
        let _turn = self.take_tail().await?;
        match self.look().await? {
            Look::Ours => {}
            Look::Other => return Err(self.takeover("the lock file names another owner")),
            Look::Vanished => return Err(self.takeover("the lock file vanished")),
        }
        if self.state().repair {
            // A repair refused because the hold's window closed under it
            // (a freeze) is the lease running out: a takeover, not an I/O
            // error, so that an attempt controller loses the session too.
            // One revoked meanwhile (the exit cleanup took it) says so.
            self.repair_tail(false).await.map_err(|e| match (self.check_live(), self.lease_left()) {
                (Err(revoked), _) => revoked,
                (Ok(()), true) => self.io("repair a partial last line", e),
                (Ok(()), false) => self.takeover("its lease (max hold) ran out"),
            })?;
        }
        // The last checks: nothing suspends between them and issuing the
        // append, so a force-release either came first or waits for it.
        // The lease again: a process frozen (SIGSTOP, a GC pause) while it
        // looked at the lock file wakes past it, and its watchdog may not
        // have run yet; another process may hold the lock by now.
        self.check_lease()?;
        {
            let mut st = self.state();
            if let Some(reason) = &st.revoked {
                return Err(LockError::Takeover { lock: self.lock.clone(), reason: reason.clone() });
            }
            // Released by another task sharing the guard while this one
            // looked: the lock file may be gone, or another holder's.
            if st.released {
                return Err(LockError::Released(self.lock.clone()));
            }
            st.appends_in_flight += 1;
        }
        // The append runs as its own task: if the caller is cancelled (an
        // attempt timeout), the system call still completes, and the
        // in-flight count must fall only then, or a force-release would
        // remove the lock under a write that lands later.
        let (hold, data) = (self.clone(), line.to_vec());
        let task = Box::pin(async move {
            let result = hold.manager.env.fs.append(&hold.session, data).await;
            {
                let mut st = hold.state();
                debug_assert!(st.appends_in_flight > 0, "every append in flight was counted");
                st.appends_in_flight -= 1;
                st.repair |= result.is_err();
            }
            // Drains wait on the hold's own signal.
            hold.signal.notify();
            result
        });
        let result = crate::spawn::run_detached(&*self.manager.env.spawner, "lock-append", task).await;
        result.map_err(|e| self.io("append to the transcript", e))
    }

    /// Wait for the hold's turn at the transcript's tail: until no other
    /// task has it and no append or tail repair of the hold is in flight.
    /// Appends through one guard from several tasks at once are thereby
    /// one after another at the file: an append that fails part-way leaves
    /// a partial line that is cut before anything lands after it (else the
    /// next append buries it mid-file, L6), and a repair never renames its
    /// copy over a line that landed after it read the file (L12). Refused,
    /// typed as the append would be, once the hold is released or revoked,
    /// or when its lease runs out while waiting.
    async fn take_tail(&self) -> Result<TailTurn<'_>, LockError> {
        let turn = self.signal.until(|| {
            let mut st = self.state();
            if st.released || st.revoked.is_some() {
                return Some(false);
            }
            let free = st.tail_idle();
            st.tail_taken |= free;
            free.then_some(true)
        });
        match crate::timeout(&*self.manager.env.clock, self.lease_remaining(), turn).await {
            Ok(true) => Ok(TailTurn(self)),
            Ok(false) => Err(match self.check_live() {
                Err(e) => e,
                Ok(()) => self.takeover("the hold ended while an append waited for its turn"),
            }),
            Err(_) => Err(self.takeover("its lease (max hold) ran out")),
        }
    }

    /// Cut a partial last line (a failed append, a crash mid-append, a torn
    /// power loss) back to the last whole line, atomically (L6). Best
    /// effort: on failure the next append tries again (and appends nothing
    /// until a repair succeeds). `Ok` when the tail is whole; the error
    /// keeps its kind (a full disk stays `StorageFull`).
    ///
    /// The repair runs as its own task, as an append does: if the caller is
    /// cancelled (an attempt timeout), its system calls still complete, and
    /// it stays counted until they have (a drain, and the exit cleanup,
    /// wait for it or leave the file to it).
    ///
    /// Refused once the hold is released or revoked (a release or a
    /// forced release drained while the caller looked at the lock file:
    /// its lock file may be gone, and another holder's lines would be
    /// under the rename), except for the release's own repair
    /// (`on_release`), which runs only with nothing else of the hold in
    /// flight.
    pub(crate) async fn repair_tail(self: &Arc<Self>, on_release: bool) -> io::Result<()> {
        {
            let mut st = self.state();
            if st.exiting {
                return Err(io::Error::other("the process is exiting: its exit cleanup owns the lock file"));
            }
            if !on_release && (st.released || st.revoked.is_some()) {
                return Err(io::Error::other("the hold was released or taken over"));
            }
            st.repairs_in_flight += 1;
        }
        let repairing = Repairing(self.clone());
        let task = Box::pin(async move {
            let result = repairing.0.repair_steps(on_release).await;
            drop(repairing);
            result
        });
        crate::spawn::run_detached(&*self.manager.env.spawner, "lock-repair", task).await
    }

    async fn repair_steps(&self, on_release: bool) -> io::Result<()> {
        let fs = &self.manager.env.fs;
        // Cut in place, through a handle: the transcript stays the file it
        // is (its inode, its permissions, its hard links; a symlink at its
        // path stays one, and the file it names is cut), and only its tail
        // is read. A copy renamed over it (as this did until session 25)
        // made it a new 0644 file, left hard links with the old text,
        // replaced a symlinked transcript by a copy of its target, and read
        // the whole file into memory at every hold's first append.
        //
        // The look is read-only: an append-only transcript (`chattr +a`)
        // refuses a read-write open, and a whole tail (the common case)
        // needs no more.
        let h = match fs.open(&self.session, OpenMode::READ).await {
            Ok(h) => h,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.state().repair = false;
                return Ok(());
            }
            Err(e) => {
                self.state().repair = true;
                return Err(e);
            }
        };
        let found = self.find_cut(&h).await;
        // A cut a failed fsync left unsynced is made durable now.
        let synced = match found {
            Ok(None) if self.state().cut_unsynced => fs.sync_handle(&h, false).await,
            _ => Ok(()),
        };
        if synced.is_ok() && matches!(found, Ok(None)) {
            self.state().cut_unsynced = false;
        }
        // A close never fails; it comes after the look's steps have landed.
        let closed = fs.close(&h).await;
        let result = match (found, synced, closed) {
            (Ok(Some(cut)), Ok(()), Ok(())) => self.cut(cut, on_release).await,
            (Ok(_), synced, closed) => synced.and(closed),
            (Err(e), _, _) => Err(e),
        };
        self.state().repair = result.is_err();
        result
    }

    /// Where the open transcript's partial last line starts, if it ends in
    /// one. Reads backwards from the end, [`TAIL_CHUNK`] bytes at a time,
    /// until it finds the newline: a partial line's length in memory at
    /// most, never the whole file.
    async fn find_cut(&self, h: &Handle) -> io::Result<Option<Cut>> {
        let fs = &self.manager.env.fs;
        let meta = fs.handle_metadata(h).await?;
        let len = meta.len;
        if len == 0 {
            return Ok(None); // nothing torn
        }
        let mut end = len;
        let keep = loop {
            if end == 0 {
                break 0;
            }
            let start = end.saturating_sub(TAIL_CHUNK);
            let chunk = fs.read_at(h, start, end - start).await?;
            if chunk.len() as u64 != end - start {
                // Only this hold writes the file: one that shrank under
                // the repair is no file to cut by offsets read before.
                return Err(io::Error::other("the transcript changed under its tail repair"));
            }
            if end == len && chunk.last() == Some(&b'\n') {
                return Ok(None); // whole
            }
            if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
                break start + i as u64 + 1;
            }
            end = start;
        };
        debug_assert!(keep < len, "a repair cuts a partial line, never a whole one");
        Ok(Some(Cut { keep, len, id: meta.id }))
    }

    /// Cut the transcript at `cut.keep` and make the cut durable, if it is
    /// still the file and the length the look found. The cut is issued
    /// only inside the hold's window and while the hold is neither
    /// released nor revoked (but for the release's own repair), checked
    /// with nothing suspending in between: a holder frozen after its look,
    /// or a repair its cancelled caller left running while the release
    /// went on, would otherwise cut what a new holder appended since.
    async fn cut(&self, cut: Cut, on_release: bool) -> io::Result<()> {
        let fs = &self.manager.env.fs;
        let h = fs.open(&self.session, OpenMode::READ_WRITE).await?;
        let result = async {
            let now = fs.handle_metadata(&h).await?;
            if (now.id, now.len) != (cut.id, cut.len) {
                return Err(io::Error::other("the transcript changed under its tail repair"));
            }
            self.touch_window()?;
            {
                let mut st = self.state();
                if !on_release && (st.released || st.revoked.is_some()) {
                    return Err(io::Error::other("the hold was released or taken over during its tail repair"));
                }
                st.cut_unsynced = true;
            }
            fs.set_len(&h, cut.keep).await?;
            fs.sync_handle(&h, false).await?;
            self.state().cut_unsynced = false;
            Ok(())
        }
        .await;
        let closed = fs.close(&h).await;
        result.and(closed)
    }

    /// The process is exiting (its SIGTERM handler, its exit path): may its
    /// exit cleanup remove the lock file now? Only if nothing of the hold
    /// is under way: no release or forced release (it removes the file
    /// itself, and its removal may be in flight: a second removal could
    /// take the next holder's file), no append in flight (it would land
    /// after the file is gone), no tail repair (its rename would). Then
    /// the hold is revoked, so none starts; else the file is left to that
    /// work, or to takeover once the process is dead (a dead process has
    /// no system call in flight).
    pub(crate) fn begin_exit(&self) -> bool {
        let mut st = self.state();
        if st.released || st.exiting || st.appends_in_flight > 0 || st.repairs_in_flight > 0 {
            return false;
        }
        st.exiting = true;
        st.released = true;
        st.revoked.get_or_insert_with(|| "the process is exiting".to_string());
        drop(st);
        // Appends waiting for their turn give up now.
        self.signal.notify();
        true
    }

    /// The exit cleanup's removal ([`HeldLocks`](super::HeldLocks)), with
    /// blocking calls: inside the window, with nothing of the hold under
    /// way ([`Hold::begin_exit`]), remove the lock file if it still names
    /// the hold, the window judged again after the read: `remove_once`'s
    /// steps, blocking. Whether it removed it (or found it gone).
    pub(crate) fn remove_on_exit(&self, fs: &dyn crate::Fs, clock: &dyn crate::Clock) -> bool {
        let until_ms = self.touch_until_ms();
        if clock.wall_ms() >= until_ms || !self.begin_exit() {
            return false;
        }
        debug_assert!(self.check_live().is_err(), "a hold the exit cleanup took is revoked: nothing of it starts");
        let ours = fs.read_blocking(&self.lock).is_ok_and(|b| self.named_by(&b));
        ours && clock.wall_ms() < until_ms
            && fs.remove_file_blocking(&self.lock).map_or_else(|e| e.kind() == io::ErrorKind::NotFound, |()| true)
    }

    /// Wait (bounded by the takeover grace) until no append and no tail
    /// repair is in flight, and no task has the turn at the tail (one that
    /// looked at the lock file before the release began goes on to its
    /// last check, which now refuses).
    async fn drain(&self) {
        let clock = self.manager.env.clock.clone();
        let idle = || self.state().tail_idle().then_some(());
        let drained = self.signal.until(idle);
        let _ = crate::timeout(&*clock, self.manager.config.takeover_grace, drained).await;
    }

    /// Remove the lock file if it still names us and we may touch it (L5).
    /// Within the lease nobody else may take it over (see the module docs),
    /// so the ownership read is needed only past it.
    ///
    /// The permission is a time window, so it is judged again after the
    /// read, with nothing that suspends between that look at the clock and
    /// issuing the removal: a process frozen during the read (SIGSTOP, a GC
    /// pause) wakes past the window, and by then another process may have
    /// taken the lock over and hold it; the read's "ours" is stale.
    async fn remove_once(&self) -> Result<(), LockError> {
        if !self.may_touch_file() {
            return Ok(());
        }
        let revoked = self.state().revoked.is_some();
        if (revoked || !self.lease_left()) && !self.still_ours().await? {
            return Ok(());
        }
        if !self.may_touch_file() {
            return Ok(());
        }
        match self.manager.env.fs.remove_file(&self.lock).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(self.io("remove lock file", e)),
            _ => Ok(()),
        }
    }

    /// `remove_once`, retried on errors while the file is ours to touch
    /// (at most `REMOVE_TRIES_MAX` times): a release that leaves its lock
    /// file behind makes every later turn wait for stale recovery.
    async fn remove_if_ours(&self) -> Result<(), LockError> {
        let mut delay = self.manager.config.retry_min;
        let mut last = Ok(());
        for _ in 0..REMOVE_TRIES_MAX {
            last = self.remove_once().await;
            if last.is_ok() || !self.may_touch_file() {
                return last;
            }
            self.manager.env.clock.sleep(delay).await;
            delay = super::backoff(delay, self.manager.config.retry_max);
        }
        last
    }

    /// Force-release (watchdog, cleanup): revoke first, so no append starts
    /// after this point; wait for appends in flight; remove the lock file if
    /// it is still ours; one diagnostic (L7). `false` if already released.
    pub(crate) async fn force_release(&self, reason: Reason, from_watchdog: bool) -> bool {
        {
            let mut st = self.state();
            if st.released {
                return false;
            }
            st.released = true;
            st.revoked.get_or_insert_with(|| reason.as_str().to_string());
        }
        // Appends waiting for their turn give up now.
        self.signal.notify();
        if !from_watchdog {
            self.stop_watchdog();
        }
        self.drain().await;
        if let Err(e) = self.remove_if_ours().await {
            tracing::warn!(lock = %self.lock.display(), error = %e, "forced release could not remove the lock file");
        }
        self.manager.forget(self.owner.nonce);
        let session_file = self.session.clone();
        self.manager.diagnose(ForcedRelease { session_file, owner: Some(self.owner.clone()), reason });
        true
    }

    async fn release(self: &Arc<Self>) -> Result<(), LockError> {
        {
            let mut st = self.state();
            if st.released {
                return Ok(());
            }
            st.released = true;
        }
        // Appends waiting for their turn give up now.
        self.signal.notify();
        self.stop_watchdog();
        self.drain().await;
        // Only with nothing of the hold in flight (a drain gives up after
        // the takeover grace): a repair's rename must not race an append.
        let idle_torn = {
            let st = self.state();
            st.repair && st.appends_in_flight == 0 && st.repairs_in_flight == 0
        };
        if idle_torn {
            let _ = self.repair_tail(true).await;
        }
        let result = self.remove_if_ours().await;
        self.manager.forget(self.owner.nonce);
        self.signal.notify();
        result
    }
}

/// A held session lock. Appends go through it; release it when done.
/// Dropping it without `release` leaves the lock to the watchdog.
pub struct LockGuard {
    hold: Arc<Hold>,
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard")
            .field("lock", &self.hold.lock)
            .field("nonce", &format_args!("{:016x}", self.hold.owner.nonce))
            .field("fence", &self.hold.owner.fence)
            .finish_non_exhaustive()
    }
}

impl LockGuard {
    pub(crate) fn new(hold: Arc<Hold>) -> LockGuard {
        LockGuard { hold }
    }

    pub(crate) fn hold(&self) -> &Arc<Hold> {
        &self.hold
    }

    /// The owner record in the lock file.
    pub fn owner(&self) -> &LockOwner {
        &self.hold.owner
    }

    /// The fence token of this hold.
    pub fn fence(&self) -> u64 {
        self.hold.owner.fence
    }

    /// The lock file.
    pub fn lock_path(&self) -> &Path {
        &self.hold.lock
    }

    /// The session file.
    pub fn session_path(&self) -> &Path {
        &self.hold.session
    }

    /// Append one whole line (ending in `\n`) to the transcript, through the
    /// fence (L1, L6): refused with [`LockError::Takeover`], writing
    /// nothing, once the hold was force-released, its lease ran out, or the
    /// lock file names another owner.
    pub async fn append(&self, line: &[u8]) -> Result<(), LockError> {
        self.hold.append(line).await
    }

    /// Is the hold live (not released, revoked or taken over as far as it
    /// knows) and inside its lease? Then nobody else changes the session
    /// file before an operation issued now lands.
    pub(crate) fn within_lease(&self) -> bool {
        self.hold.check_live().is_ok() && self.hold.lease_left()
    }

    /// May the transcript still end in a partial line (a repair that has
    /// not succeeded yet)? Then the release will try to cut it.
    pub(crate) fn tail_torn(&self) -> bool {
        self.hold.state().repair
    }

    /// What is left of the hold's lease (its maximum hold).
    pub(crate) fn lease_remaining(&self) -> std::time::Duration {
        self.hold.lease_remaining()
    }

    /// Cut a partial last line now, if a failed append left one (release
    /// would do it): so that a fingerprint taken next is what the file
    /// keeps.
    pub(crate) async fn settle_tail(&self) {
        let Ok(_turn) = self.hold.take_tail().await else { return };
        if self.hold.state().repair {
            let _ = self.hold.repair_tail(false).await;
        }
    }

    /// Release (L5): wait for appends in flight, then remove the lock file
    /// only if it still names this hold. Idempotent.
    pub async fn release(&self) -> Result<(), LockError> {
        self.hold.release().await
    }
}
