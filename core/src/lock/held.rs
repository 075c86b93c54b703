//! [`HeldLocks`]: the lock files this process holds, so that they can be
//! removed when the process exits or is told to stop (upstream removes
//! every held lock file synchronously on exit and on SIGINT/SIGTERM).

use std::collections::BTreeMap;
use std::sync::{Mutex, Weak};

use super::guard::Hold;
use crate::{Clock, Fs};

/// The lock files held through managers that share this registry (set
/// [`LockConfig::held`](super::LockConfig::held)). The real adapter's
/// `real::ExitCleanup` removes them on exit and on SIGINT/SIGTERM.
#[derive(Debug, Default)]
pub struct HeldLocks {
    /// By nonce: the hold (its lock file, its window, whether anything of
    /// it is under way).
    locks: Mutex<BTreeMap<u64, Weak<Hold>>>,
}

impl HeldLocks {
    /// An empty registry.
    pub fn new() -> HeldLocks {
        HeldLocks::default()
    }

    fn locks(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Weak<Hold>>> {
        self.locks.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn insert(&self, nonce: u64, hold: Weak<Hold>) {
        self.locks().insert(nonce, hold);
    }

    pub(crate) fn remove(&self, nonce: u64) {
        self.locks().remove(&nonce);
    }

    /// How many holds are registered: acquired and not yet released
    /// (a hold whose guard and watchdog are both gone, mid-release, counts
    /// until its release would have forgotten it).
    pub fn len(&self) -> usize {
        self.locks().len()
    }

    /// Is none held?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Remove every registered lock file that still names its holder and
    /// that its hold may still touch, with blocking calls (for exit paths
    /// that cannot await). Returns how many were removed; per-file errors
    /// are skipped, the registry is emptied.
    ///
    /// A hold with work under way is skipped and its file left: a release
    /// (its own removal may be in flight, and a second one could take the
    /// next holder's file, created the instant the first lands), an append
    /// or a tail repair (it would land after the file is gone, under the
    /// next holder), and a hold whose guard and watchdog are both gone (a
    /// cancelled release: its removal may be in flight; or a runtime shut
    /// down, its watchdog tasks dropped, before `ExitCleanup`'s drop: then
    /// takeover recovers the file, as the dead owner's). Every other hold
    /// inside its window is revoked first, so nothing of it starts while
    /// the process exits (a later append is refused as a takeover, "the
    /// process is exiting"). What is left is recovered by takeover: the
    /// process is dead once its calls have returned.
    ///
    /// As in a release, the window is judged before the ownership read and
    /// again after it: a process stopped between the two (its executor was
    /// blocked past its watchdog, then SIGTERM) may wake past the window,
    /// when another process may be taking the lock over; removing the file
    /// then could remove the next holder's. A file left past its window is
    /// recovered by takeover (its owner is dead, or its hold expired).
    pub fn remove_all_blocking(&self, fs: &dyn Fs, clock: &dyn Clock) -> usize {
        let locks = std::mem::take(&mut *self.locks());
        locks.into_values().filter_map(|h| h.upgrade()).filter(|h| h.remove_on_exit(fs, clock)).count()
    }
}
