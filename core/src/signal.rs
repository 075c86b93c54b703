//! A runtime-agnostic "something changed" signal: waiters remember the
//! epoch they saw and wake when it moves. `core` cannot use tokio's
//! `Notify` (it names no runtime).

use std::sync::{Mutex, MutexGuard};
use std::task::{Poll, Waker};

#[derive(Default)]
pub(crate) struct Signal {
    inner: Mutex<(u64, Vec<Waker>)>,
}

/// Waiters kept per signal before the oldest are woken early (they re-check
/// and wait again): a bound on memory, not on correctness.
const WAITERS_MAX: usize = 1024;

impl Signal {
    fn lock(&self) -> MutexGuard<'_, (u64, Vec<Waker>)> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current epoch.
    pub(crate) fn epoch(&self) -> u64 {
        self.lock().0
    }

    /// Move the epoch and wake every waiter.
    pub(crate) fn notify(&self) {
        let wakers = {
            let mut g = self.lock();
            g.0 += 1;
            std::mem::take(&mut g.1)
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Wait until `ready` returns `Some`, checking it now and after every
    /// notification (the epoch is read before each check, so a notify that
    /// races the check is never missed).
    pub(crate) async fn until<T>(&self, mut ready: impl FnMut() -> Option<T>) -> T {
        loop {
            let epoch = self.epoch();
            if let Some(v) = ready() {
                return v;
            }
            self.changed(epoch).await;
        }
    }

    /// Completes once the epoch differs from `seen`.
    async fn changed(&self, seen: u64) {
        std::future::poll_fn(|cx| {
            let mut g = self.lock();
            if g.0 != seen {
                return Poll::Ready(());
            }
            if !g.1.iter().any(|w| w.will_wake(cx.waker())) {
                if g.1.len() >= WAITERS_MAX {
                    g.1.remove(0).wake();
                }
                g.1.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }
}
