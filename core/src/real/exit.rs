//! [`ExitCleanup`]: remove the lock files this process holds when it exits
//! normally and when it receives SIGINT or SIGTERM, as upstream does
//! synchronously on its exit paths, except those of holds with work under
//! way (a release, an append, a tail repair: see
//! [`HeldLocks::remove_all_blocking`]); every hold it removes is revoked
//! first. A SIGKILL cannot be caught: what it leaves, and what the cleanup
//! leaves, is recovered as a dead owner's lock by the next acquirer.

use std::sync::Arc;

use crate::Env;
use crate::lock::HeldLocks;

/// Removes the lock files registered in a [`HeldLocks`] (as
/// [`HeldLocks::remove_all_blocking`] does) when dropped (hold
/// it in `main` until the end) and when the process gets SIGINT or SIGTERM
/// (then the process exits with status 128 + the signal number, as a shell
/// reports a killed process).
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use std::sync::Arc;
/// use steadfast_core::{Env, lock::{HeldLocks, LockConfig, LockManager}, real::ExitCleanup};
/// let env = Env::real()?;
/// let held = Arc::new(HeldLocks::new());
/// let _cleanup = ExitCleanup::install(&env, held.clone())?;
/// let locks = LockManager::new(&env, LockConfig { held: Some(held), ..LockConfig::default() });
/// # Ok(()) }
/// ```
pub struct ExitCleanup {
    env: Env,
    held: Arc<HeldLocks>,
    signals: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for ExitCleanup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExitCleanup").field("held", &self.held).finish_non_exhaustive()
    }
}

impl ExitCleanup {
    /// Install the signal handlers (on the current tokio runtime) and return
    /// the guard that cleans up on a normal exit.
    ///
    /// # Errors
    /// When the signal handlers cannot be registered.
    pub fn install(env: &Env, held: Arc<HeldLocks>) -> std::io::Result<ExitCleanup> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let (fs, clock, locks) = (env.fs.clone(), env.clock.clone(), held.clone());
        let signals = tokio::spawn(async move {
            let signo = tokio::select! {
                _ = int.recv() => 2,
                _ = term.recv() => 15,
            };
            let removed = locks.remove_all_blocking(&*fs, &*clock);
            tracing::info!(signal = signo, removed, "removed held session locks before exiting");
            std::process::exit(128 + signo);
        });
        Ok(ExitCleanup { env: env.clone(), held, signals })
    }
}

impl Drop for ExitCleanup {
    fn drop(&mut self) {
        self.signals.abort();
        self.held.remove_all_blocking(&*self.env.fs, &*self.env.clock);
    }
}
