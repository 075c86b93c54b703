//! [`HeldLocks`]: the lock files this process holds, so that they can be
//! removed when the process exits or is told to stop (upstream removes
//! every held lock file synchronously on exit and on SIGINT/SIGTERM).

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::Mutex;

use super::LockOwner;
use crate::fs::FsExt;
use crate::{Clock, Fs};

/// The lock files held through managers that share this registry (set
/// [`LockConfig::held`](super::LockConfig::held)). The real adapter's
/// `real::ExitCleanup` removes them on exit and on SIGINT/SIGTERM.
#[derive(Debug, Default)]
pub struct HeldLocks {
    /// By nonce: the lock file, and the wall-clock ms until which the hold
    /// may touch it (max hold + takeover grace / 2 after its acquisition).
    locks: Mutex<BTreeMap<u64, (PathBuf, u64)>>,
}

impl HeldLocks {
    /// An empty registry.
    pub fn new() -> HeldLocks {
        HeldLocks::default()
    }

    fn locks(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, (PathBuf, u64)>> {
        self.locks.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn insert(&self, nonce: u64, lock: PathBuf, touch_until_ms: u64) {
        self.locks().insert(nonce, (lock, touch_until_ms));
    }

    pub(crate) fn remove(&self, nonce: u64) {
        self.locks().remove(&nonce);
    }

    /// How many lock files are registered as held.
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
    /// As in a release, the window is judged before the ownership read and
    /// again after it: a process stopped between the two (its executor was
    /// blocked past its watchdog, then SIGTERM) may wake past the window,
    /// when another process may be taking the lock over; removing the file
    /// then could remove the next holder's. A file left past its window is
    /// recovered by takeover (its owner is dead, or its hold expired).
    pub fn remove_all_blocking(&self, fs: &dyn Fs, clock: &dyn Clock) -> usize {
        let locks = std::mem::take(&mut *self.locks());
        let mut removed = 0;
        for (nonce, (lock, until_ms)) in locks {
            if clock.wall_ms() >= until_ms {
                continue;
            }
            let ours = fs
                .read_blocking(&lock)
                .ok()
                .and_then(|b| serde_json::from_slice::<LockOwner>(&b).ok())
                .is_some_and(|o| o.nonce == nonce);
            if ours
                && clock.wall_ms() < until_ms
                && fs.remove_file_blocking(&lock).map_or_else(|e| e.kind() == io::ErrorKind::NotFound, |()| true)
            {
                removed += 1;
            }
        }
        removed
    }
}
