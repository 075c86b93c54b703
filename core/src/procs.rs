//! The process seam: is a process alive, and who are we.

/// What is known about a process id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Liveness {
    /// A process with this pid exists (possibly one we may not signal).
    Alive,
    /// No process has this pid.
    Dead,
    /// The platform cannot tell; callers must treat it as possibly alive.
    Unknown,
}

/// Process liveness, for stale-lock recovery and for retention's "never
/// delete a live process's files".
pub trait Procs: Send + Sync {
    /// Is `pid` alive? A real adapter uses `kill(pid, 0)`: success or `EPERM`
    /// means alive, `ESRCH` dead.
    fn liveness(&self, pid: u32) -> Liveness;

    /// The start time of `pid` in an adapter-defined unit that only has to be
    /// stable for one process's lifetime, or `None` where the platform cannot
    /// tell. Two different values for one pid mean the pid was reused.
    fn start_time(&self, pid: u32) -> Option<u64>;

    /// Our own pid.
    fn own_pid(&self) -> u32;
}

impl<T: Procs + ?Sized> Procs for std::sync::Arc<T> {
    fn liveness(&self, pid: u32) -> Liveness {
        (**self).liveness(pid)
    }
    fn start_time(&self, pid: u32) -> Option<u64> {
        (**self).start_time(pid)
    }
    fn own_pid(&self) -> u32 {
        (**self).own_pid()
    }
}
