//! Every injected error is built here, so the `ErrorKind`s the simulator
//! chooses are visible together. An injected error is a real `io::Error`
//! with an honest kind and an [`InjectedFault`] payload, so a checker can
//! tell a simulated fault from a bug: see [`is_injected`].

use std::fmt;
use std::io::{self, ErrorKind};

use serde::{Deserialize, Serialize};

/// The errors a fault rule can inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    /// An I/O error (`EIO`).
    Eio,
    /// No space left on device (`ENOSPC`).
    Enospc,
    /// Permission denied (`EACCES`).
    Eacces,
    /// The entry vanished under the caller (`ENOENT` from a concurrent delete).
    Enoent,
}

impl FaultKind {
    /// The `ErrorKind` the real file system reports for this fault.
    pub fn kind(self) -> ErrorKind {
        match self {
            FaultKind::Eio => ErrorKind::Other,
            FaultKind::Enospc => ErrorKind::StorageFull,
            FaultKind::Eacces => ErrorKind::PermissionDenied,
            FaultKind::Enoent => ErrorKind::NotFound,
        }
    }

    /// The errno name.
    pub fn errno(self) -> &'static str {
        match self {
            FaultKind::Eio => "EIO",
            FaultKind::Enospc => "ENOSPC",
            FaultKind::Eacces => "EACCES",
            FaultKind::Enoent => "ENOENT",
        }
    }
}

/// Faults that return success and change what the operation did, as
/// TigerBeetle's storage simulator injects them: the caller cannot tell,
/// only a careful reader (a checksum, a read-back) can.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SilentFault {
    /// A read returns the file's bytes with one bit flipped; the file
    /// itself is intact, so a second read may see the truth.
    CorruptRead,
    /// A write or append reports success and changes no existing file (a
    /// missing one appears empty: its directory entry was written, its
    /// data was not).
    LostWrite,
    /// A write or append reports success, but its data lands in another
    /// regular file of the same directory (with the operation's semantics:
    /// a write replaces that file, an append extends it), and the intended
    /// file is left as a lost write leaves it; with no other file there, or
    /// no room for the data in it, the data is lost.
    MisdirectedWrite,
}

impl SilentFault {
    /// The operations it can strike.
    pub fn ops(self) -> &'static [&'static str] {
        match self {
            SilentFault::CorruptRead => &["read"],
            SilentFault::LostWrite | SilentFault::MisdirectedWrite => &["write", "append"],
        }
    }

    /// What it did, in words (the timeline).
    pub fn describe(self) -> &'static str {
        match self {
            SilentFault::CorruptRead => "corrupted the bytes read",
            SilentFault::LostWrite => "lost the data written",
            SilentFault::MisdirectedWrite => "misdirected the data written",
        }
    }
}

/// The payload of an injected `io::Error`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InjectedFault {
    /// Which fault.
    pub fault: FaultKind,
    /// The operation it hit.
    pub op: &'static str,
    /// Index of the schedule's error rule that fired.
    pub rule: usize,
}

impl fmt::Display for InjectedFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rule == CAPACITY_RULE {
            return write!(f, "injected {} on {} (the disk is full: capacity_bytes)", self.fault.errno(), self.op);
        }
        write!(f, "injected {} on {} (error rule {})", self.fault.errno(), self.op, self.rule)
    }
}

impl std::error::Error for InjectedFault {}

/// Build the `io::Error` for an injected fault.
pub fn injected(fault: FaultKind, op: &'static str, rule: usize) -> io::Error {
    io::Error::new(fault.kind(), InjectedFault { fault, op, rule })
}

/// Index given as the rule of the `ENOSPC` a full disk returns (the
/// schedule's `capacity_bytes`, not an error rule).
pub const CAPACITY_RULE: usize = usize::MAX;

/// The error a write gets when the disk is full (the schedule's
/// `capacity_bytes`): `ENOSPC`, recognisable by [`is_injected`].
pub fn disk_full(op: &'static str) -> io::Error {
    io::Error::new(ErrorKind::StorageFull, InjectedFault { fault: FaultKind::Enospc, op, rule: CAPACITY_RULE })
}

/// Is `e` an error the simulator injected (rather than one the code caused)?
pub fn is_injected(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<InjectedFault>())
}

/// What the error of a call whose effect a power loss swallowed says.
const LOST_TO_POWER_LOSS: &str = ": lost to a power loss";

/// The error a call gets when a power loss swallowed its effect.
pub fn lost_to_power_loss(op: &'static str) -> io::Error {
    io::Error::new(ErrorKind::Interrupted, format!("{op}{LOST_TO_POWER_LOSS}"))
}

/// Is `e` the error of a call whose effect a power loss swallowed
/// ([`lost_to_power_loss`])? Like [`is_injected`], the world's doing, not
/// the code's; it can come after the chaos phase too (a crash point armed
/// in it fires when its operation lands).
pub fn is_power_loss(e: &io::Error) -> bool {
    e.kind() == ErrorKind::Interrupted && e.to_string().ends_with(LOST_TO_POWER_LOSS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injected_errors_carry_honest_kinds_and_are_recognisable() {
        for (fault, kind) in [
            (FaultKind::Eio, ErrorKind::Other),
            (FaultKind::Enospc, ErrorKind::StorageFull),
            (FaultKind::Eacces, ErrorKind::PermissionDenied),
            (FaultKind::Enoent, ErrorKind::NotFound),
        ] {
            let e = injected(fault, "rename", 3);
            assert_eq!(e.kind(), kind);
            assert!(is_injected(&e));
            assert!(!is_power_loss(&e));
            assert!(e.to_string().contains(fault.errno()));
        }
        assert!(!is_injected(&io::Error::from(ErrorKind::NotFound)));
        let lost = lost_to_power_loss("rename");
        assert!(is_power_loss(&lost) && !is_injected(&lost));
        assert!(!is_power_loss(&io::Error::from(ErrorKind::Interrupted)), "an EINTR is no power loss");
    }
}
