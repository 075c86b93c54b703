//! Real adapters for production: the operating system's file system, clock,
//! processes and a tokio runtime. Enabled by the `real` feature.
//!
//! This is the only module of `core` allowed to touch `std::time::Instant`,
//! `SystemTime::now`, `std::fs` and the OS directly (see `clippy.toml`).

mod clock;
mod exit;
mod fs;
mod procs;

pub use clock::{OsEntropy, SystemClock, TokioSpawner};
pub use exit::ExitCleanup;
pub use fs::RealFs;
pub use procs::OsProcs;

use std::sync::Arc;

use crate::Env;

impl Env {
    /// The production environment: [`RealFs`], [`SystemClock`], [`OsProcs`],
    /// [`TokioSpawner`] on the current tokio runtime, and [`OsEntropy`].
    ///
    /// # Errors
    /// When called outside a tokio runtime.
    pub fn real() -> std::io::Result<Env> {
        Ok(Env {
            fs: Arc::new(RealFs::new()),
            clock: Arc::new(SystemClock::new()),
            procs: Arc::new(OsProcs::new()),
            spawner: Arc::new(TokioSpawner::current()?),
            entropy: Arc::new(OsEntropy::new()),
        })
    }
}
