//! [`Env`]: the bundle of seams every `core` module is built from.

use std::sync::Arc;

use crate::{Clock, Entropy, Fs, Procs, Spawn};

/// Everything a `core` module needs from the outside world. Production code
/// builds it from the real adapters (`Env::real()`, feature `real`); a
/// simulator builds it from simulated ones. Cloning is cheap.
#[derive(Clone)]
pub struct Env {
    /// The file system.
    pub fs: Arc<dyn Fs>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Process liveness.
    pub procs: Arc<dyn Procs>,
    /// Background tasks.
    pub spawner: Arc<dyn Spawn>,
    /// Randomness.
    pub entropy: Arc<dyn Entropy>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env").field("own_pid", &self.procs.own_pid()).finish_non_exhaustive()
    }
}
