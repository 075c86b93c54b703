//! [`SystemClock`], [`TokioSpawner`] and [`OsEntropy`].

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::clock::{Clock, Mono};
use crate::fs::BoxFuture;
use crate::spawn::{Abort, Entropy, Spawn, TaskHandle};

/// The operating system's clocks, sleeping on tokio's timer.
#[derive(Clone, Copy, Debug)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock whose monotonic origin is now.
    pub fn new() -> SystemClock {
        SystemClock { origin: Instant::now() }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Mono {
        Mono::from_origin(self.origin.elapsed())
    }

    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }

    /// Must be awaited within a tokio runtime with the time driver enabled.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Spawns onto one tokio runtime.
#[derive(Clone, Debug)]
pub struct TokioSpawner {
    handle: tokio::runtime::Handle,
}

impl TokioSpawner {
    /// Spawn onto the runtime this is called from.
    ///
    /// # Errors
    /// Outside a tokio runtime.
    pub fn current() -> std::io::Result<TokioSpawner> {
        let handle = tokio::runtime::Handle::try_current().map_err(std::io::Error::other)?;
        Ok(TokioSpawner { handle })
    }

    /// Spawn onto the runtime behind `handle`.
    pub fn new(handle: tokio::runtime::Handle) -> TokioSpawner {
        TokioSpawner { handle }
    }
}

struct TokioTask(tokio::task::JoinHandle<()>);

impl Abort for TokioTask {
    fn abort(&self) {
        self.0.abort()
    }
    fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

impl Spawn for TokioSpawner {
    fn spawn(&self, _name: &str, task: BoxFuture<'static, ()>) -> TaskHandle {
        TaskHandle::new(TokioTask(self.handle.spawn(task)))
    }
}

/// A non-cryptographic random stream (SplitMix64) seeded from the OS's
/// per-process hash keys, the pid and the time.
#[derive(Debug)]
pub struct OsEntropy {
    state: AtomicU64,
}

impl OsEntropy {
    /// A freshly seeded stream.
    pub fn new() -> OsEntropy {
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let seed = RandomState::new().hash_one((nanos, std::process::id()));
        OsEntropy { state: AtomicU64::new(seed) }
    }
}

impl Default for OsEntropy {
    fn default() -> Self {
        OsEntropy::new()
    }
}

impl Entropy for OsEntropy {
    fn next_u64(&self) -> u64 {
        let x = self.state.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed).wrapping_add(0x9E37_79B9_7F4A_7C15);
        crate::mix64(x)
    }
}
