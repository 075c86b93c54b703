//! The execution seam: background tasks and randomness.
//!
//! `core` runs a few tasks that outlive the call that starts them (a
//! heartbeat, a lock watchdog, a deferred sweep, a follow-up trace snapshot).
//! They are started through [`Spawn`] rather than `tokio::spawn` so that the
//! same code runs on production tokio and on a simulator's executor, where
//! the task belongs to the simulated node that spawned it and dies with it.
//! Randomness (retry jitter, lock nonces, temporary-file names) goes through
//! [`Entropy`] so that a simulator can seed it.

use crate::fs::BoxFuture;

/// Starts background tasks.
pub trait Spawn: Send + Sync {
    /// Run `task` in the background. The task does not keep the process
    /// alive; it stops when the runtime (or simulated node) stops, or when
    /// [`TaskHandle::abort`] is called. `name` labels it in diagnostics.
    fn spawn(&self, name: &str, task: BoxFuture<'static, ()>) -> TaskHandle;
}

impl<T: Spawn + ?Sized> Spawn for std::sync::Arc<T> {
    fn spawn(&self, name: &str, task: BoxFuture<'static, ()>) -> TaskHandle {
        (**self).spawn(name, task)
    }
}

/// What an adapter's task handle must offer.
pub trait Abort: Send + Sync {
    /// Stop the task at its next suspension point.
    fn abort(&self);
    /// Has the task finished (run to completion or been aborted)?
    fn is_finished(&self) -> bool;
}

/// A handle to a task started by [`Spawn::spawn`]. Dropping it detaches the
/// task; it does not stop it.
pub struct TaskHandle(Box<dyn Abort>);

impl TaskHandle {
    /// Wrap an adapter's handle.
    pub fn new(inner: impl Abort + 'static) -> TaskHandle {
        TaskHandle(Box::new(inner))
    }

    /// Stop the task at its next suspension point.
    pub fn abort(&self) {
        self.0.abort()
    }

    /// Has the task finished?
    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

impl std::fmt::Debug for TaskHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskHandle").field("finished", &self.is_finished()).finish()
    }
}

/// A source of random numbers. Not for cryptography: a simulator makes it a
/// seeded, reproducible stream.
pub trait Entropy: Send + Sync {
    /// The next random 64-bit value.
    fn next_u64(&self) -> u64;

    /// A value uniformly distributed in `0..bound` (`bound > 0`), without
    /// modulo bias worth mentioning for the small bounds `core` uses.
    fn below(&self, bound: u64) -> u64 {
        assert!(bound > 0, "Entropy::below(0)");
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}

impl<T: Entropy + ?Sized> Entropy for std::sync::Arc<T> {
    fn next_u64(&self) -> u64 {
        (**self).next_u64()
    }
}

/// Run `task` as a task of its own and wait for its output. If the caller
/// is dropped (an attempt timeout cancels it), the task still runs to the
/// end: for critical sections that must never stop halfway, such as a
/// takeover that holds a claim file until the stale lock is gone, or an
/// append whose in-flight count must fall only when the write has landed.
pub async fn run_detached<T: Send + 'static>(spawner: &dyn Spawn, name: &str, task: BoxFuture<'static, T>) -> T {
    let slot: std::sync::Arc<(std::sync::Mutex<Option<T>>, crate::signal::Signal)> = std::sync::Arc::default();
    let out = slot.clone();
    let run = Box::pin(async move {
        let value = task.await;
        *out.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(value);
        out.1.notify();
    });
    drop(spawner.spawn(name, run));
    slot.1.until(|| slot.0.lock().unwrap_or_else(|p| p.into_inner()).take()).await
}
