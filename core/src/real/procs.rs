//! [`OsProcs`]: the operating system's processes.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use rustix::io::Errno;
use rustix::process::{Pid, test_kill_process};

use crate::procs::{Liveness, Procs};

/// Process liveness from the kernel: `kill(pid, 0)` and, on Linux,
/// `/proc/<pid>/stat` for start times.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsProcs {
    _private: (),
}

impl OsProcs {
    /// The operating system's processes.
    pub fn new() -> OsProcs {
        OsProcs { _private: () }
    }
}

impl Procs for OsProcs {
    fn liveness(&self, pid: u32) -> Liveness {
        // pid 0 and values above i32::MAX would address process groups or be
        // rejected by the kernel: no single process has them.
        let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
            return Liveness::Dead;
        };
        match test_kill_process(pid) {
            Ok(()) => Liveness::Alive,
            // It exists; we may just not signal it.
            Err(Errno::PERM) => Liveness::Alive,
            Err(Errno::SRCH) => Liveness::Dead,
            Err(_) => Liveness::Unknown,
        }
    }

    fn start_time(&self, pid: u32) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        parse_start_time(&stat)
    }

    fn own_pid(&self) -> u32 {
        std::process::id()
    }
}

/// Field 22 of `/proc/<pid>/stat` (start time in clock ticks since boot).
/// The command name (field 2) may contain spaces and parentheses, so fields
/// are counted from the last `)`.
fn parse_start_time(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    // after_comm starts with field 3 (state); field 22 is the 20th from there.
    after_comm.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_survives_odd_command_names() {
        let stat = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_start_time(stat), Some(987654));
        assert_eq!(parse_start_time("garbage"), None);
        assert_eq!(parse_start_time("1 (x) S 1"), None);
    }

    #[test]
    fn own_process_is_alive_and_has_a_stable_start_time() {
        let procs = OsProcs::new();
        let me = procs.own_pid();
        assert_eq!(procs.liveness(me), Liveness::Alive);
        assert!(procs.start_time(me).is_some());
        assert_eq!(procs.start_time(me), procs.start_time(me));
        assert_eq!(procs.liveness(0), Liveness::Dead);
        assert_eq!(procs.liveness(u32::MAX), Liveness::Dead);
    }
}
