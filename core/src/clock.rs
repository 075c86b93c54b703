//! The time seam: monotonic and wall-clock time, sleeping, and a timeout
//! helper built on them.

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, SystemTime};

use crate::fs::BoxFuture;

/// A point on a clock's monotonic timeline: the time elapsed since the
/// clock's own origin. Only differences between two `Mono` of the same clock
/// mean anything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mono(Duration);

impl Mono {
    /// The point `since_origin` after the clock's origin.
    pub const fn from_origin(since_origin: Duration) -> Mono {
        Mono(since_origin)
    }

    /// Time since the clock's origin.
    pub const fn since_origin(self) -> Duration {
        self.0
    }

    /// `self - earlier`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Mono) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// `self + d`, saturating at the end of time.
    pub fn saturating_add(self, d: Duration) -> Mono {
        Mono(self.0.saturating_add(d))
    }
}

impl fmt::Display for Mono {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0.as_millis())
    }
}

/// A clock: the only way `core` learns the time or waits.
///
/// The monotonic clock never goes backwards and measures intervals (lags,
/// timeouts, hold times). The wall clock may jump (NTP, a VM resumed) and is
/// used only for what must be compared with file mtimes or shown to people.
pub trait Clock: Send + Sync {
    /// Monotonic now.
    fn now(&self) -> Mono;

    /// Wall-clock now.
    fn wall(&self) -> SystemTime;

    /// A future that completes `duration` after it is created.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;

    /// Wall-clock now in ms since the Unix epoch (0 before it): the unit
    /// trace events and lock files record.
    fn wall_ms(&self) -> u64 {
        self.wall().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
    }
}

impl<T: Clock + ?Sized> Clock for std::sync::Arc<T> {
    fn now(&self) -> Mono {
        (**self).now()
    }
    fn wall(&self) -> SystemTime {
        (**self).wall()
    }
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        (**self).sleep(duration)
    }
}

/// The error of [`timeout`]: the deadline passed first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed {
    /// The timeout that passed.
    pub after: Duration,
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timed out after {} ms", self.after.as_millis())
    }
}

impl std::error::Error for Elapsed {}

/// Run `fut` with a deadline `after` from now, on `clock`.
///
/// `fut` is polled first on every wake-up, so a future that is ready at the
/// deadline wins. On timeout `fut` is dropped (cancelled).
pub async fn timeout<F: Future>(clock: &(impl Clock + ?Sized), after: Duration, fut: F) -> Result<F::Output, Elapsed> {
    let mut fut = pin!(fut);
    let mut deadline = clock.sleep(after);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed { after })),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Yield once to the executor, letting every other ready task run. Works on
/// any executor (it wakes itself and returns `Pending` once), so long loops in
/// `core` can yield without a runtime-specific call.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}
