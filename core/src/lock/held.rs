//! [`HeldLocks`]: the lock files this process holds, so that they can be
//! removed when the process exits or is told to stop (upstream removes
//! every held lock file synchronously on exit and on SIGINT/SIGTERM).

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::Mutex;

use super::LockOwner;
use crate::Fs;
use crate::fs::FsExt;

/// The lock files held through managers that share this registry (set
/// [`LockConfig::held`](super::LockConfig::held)). The real adapter's
/// `real::ExitCleanup` removes them on exit and on SIGINT/SIGTERM.
#[derive(Debug, Default)]
pub struct HeldLocks {
    locks: Mutex<BTreeMap<u64, PathBuf>>,
}

impl HeldLocks {
    /// An empty registry.
    pub fn new() -> HeldLocks {
        HeldLocks::default()
    }

    fn locks(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, PathBuf>> {
        self.locks.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn insert(&self, nonce: u64, lock: PathBuf) {
        self.locks().insert(nonce, lock);
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

    /// Remove every registered lock file that still names its holder, with
    /// blocking calls (for exit paths that cannot await). Returns how many
    /// were removed; per-file errors are skipped, the registry is emptied.
    pub fn remove_all_blocking(&self, fs: &dyn Fs) -> usize {
        let locks = std::mem::take(&mut *self.locks());
        let mut removed = 0;
        for (nonce, lock) in locks {
            let ours = fs
                .read_blocking(&lock)
                .ok()
                .and_then(|b| serde_json::from_slice::<LockOwner>(&b).ok())
                .is_some_and(|o| o.nonce == nonce);
            if ours && fs.remove_file_blocking(&lock).map_or_else(|e| e.kind() == io::ErrorKind::NotFound, |()| true) {
                removed += 1;
            }
        }
        removed
    }
}
