//! Every injected error is built here, so the `ErrorKind`s the simulator
//! chooses are visible together. An injected error is a real `io::Error`
//! with an honest kind and an [`InjectedFault`] payload, so a checker can
//! tell a simulated fault from a bug: see [`is_injected`].

use std::fmt;
use std::io::{self, ErrorKind};

use serde::{Deserialize, Serialize};

/// The errors a fault rule can inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
        write!(f, "injected {} on {} (error rule {})", self.fault.errno(), self.op, self.rule)
    }
}

impl std::error::Error for InjectedFault {}

/// Build the `io::Error` for an injected fault.
pub fn injected(fault: FaultKind, op: &'static str, rule: usize) -> io::Error {
    io::Error::new(fault.kind(), InjectedFault { fault, op, rule })
}

/// Is `e` an error the simulator injected (rather than one the code caused)?
pub fn is_injected(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<InjectedFault>())
}

/// The error a call gets when a power loss swallowed its effect.
pub fn lost_to_power_loss(op: &'static str) -> io::Error {
    io::Error::new(ErrorKind::Interrupted, format!("{op}: lost to a power loss"))
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
            assert!(e.to_string().contains(fault.errno()));
        }
        assert!(!is_injected(&io::Error::from(ErrorKind::NotFound)));
    }
}
