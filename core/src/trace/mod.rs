//! Crash-safe trace export (incident 4; invariants T1 to T8).
//!
//! A [`Tracer`] records each session's trace in memory and exports it,
//! through one or more [`Exporter`]s, to one canonical JSON file per session
//! ([`FileExporter`]): written to a temporary file, fsynced, renamed over
//! the canonical file, and the directory fsynced, so the file is always
//! absent or one whole version, before and after a power loss (T4).
//!
//! - [`Session::snapshot`] coalesces bursts: a request made while a write is
//!   in flight schedules exactly one follow-up (T2).
//! - [`Session::flush`] returns `Ok` only once the file holds every event
//!   recorded before the call, in order, in a bounded number of rounds (T1).
//! - [`Session::end_trace`] claims the final write: no snapshot runs after
//!   it starts; it reports the canonical path whenever the file exists,
//!   crashed or not (T8).
//! - [`Session::crash_write`] is the synchronous path a panic hook or
//!   signal handler takes. It marks the session crashed on every exporter
//!   first (per session, by the canonical [`names::key`], T6 and T7), then
//!   writes the crashed trace with blocking calls. Crash wins (T3).
//!
//! # How crash wins, including on slow file systems (M1)
//!
//! Upstream checked a crashed flag before its write and before its rename.
//! That leaves a window: a rename issued after the last check can take
//! effect after the crash write has returned (on EFS a rename takes up to
//! seconds, and the kernel completes it even if the process dies), and
//! then replaces "crashed" with a stale trace.
//!
//! steadfast closes it by **unlinking the rename's source**. Every export
//! registers its temporary file with the exporter before creating it. The
//! crash write, after marking the session crashed, removes every registered
//! temporary file of that session before it writes its own. A rename and an
//! unlink of the same name are serialised by the directory on every POSIX
//! file system, NFS and EFS included, so for each in-flight export exactly
//! one of two things happens:
//! - its rename took effect before the unlink: the crash write's own rename,
//!   which comes later, replaces it; or
//! - the unlink came first: the rename fails with `NotFound` and changes
//!   nothing, however late it lands.
//!
//! No interleaving is left: a temporary file that an export has not created
//! yet when the crash write runs is created later, but the export checks
//! the crashed mark after creating it and before renaming it, with no
//! suspension point between that check and issuing the rename, and removes
//! it instead. The same unlink fences an older export when a newer one of
//! the same session is about to rename (the canonical file never goes back
//! to an older generation), which is what makes `end_trace` safe when an
//! earlier write outlives its wait. The simulator checks T3 after every
//! effect that touches a canonical file, with renames landing at every
//! instant of their window (`trace` scenario), and catches upstream's
//! version of this code (`legacy/trace-rename-race`).
//!
//! # Across exporter instances and processes (T10)
//!
//! The registry above lives in one exporter's memory. Another exporter on
//! the same directory (a second instance, or another process) is fenced
//! through the directory itself: the crash write first writes a crash
//! mark, `<key>.trace.crashed`, then lists the directory and unlinks every
//! temporary file of the session, whoever made it, before writing its own.
//! Every export `stat`s the mark after creating its temporary file and
//! before renaming it. A temporary file the listing saw is unlinked (its
//! rename fails or lands before the crash write's own); one created after
//! the listing was created after the mark, so the export sees the mark and
//! gives up. The cost is one `stat` per export and one directory listing
//! per crash write; [`FileExporterConfig::sole_writer`] drops both for a
//! directory one exporter owns (`legacy/trace-per-instance-crash-mark`
//! shows what breaks when that promise is false). On NFS with attribute
//! caching a `stat` can miss a file another client just created; mount
//! the trace directory with `lookupcache=positive` or `noac` there.
//!
//! A crashed session id therefore stays crashed in its directory: a new
//! session under the same id records in memory, but its exports report
//! [`Exported::SkippedCrashed`] (`flush` returns [`TraceError::Crashed`])
//! and the file keeps its crashed version, in every process, until
//! [`FileExporter::remove_trace`] removes the file and its mark. Crash
//! marks in memory are bounded by [`CRASH_MARKS_MAX`] per exporter. With
//! [`FileExporterConfig::sole_writer`] there is no mark on disk: a crashed
//! id stays crashed only while its mark is among the last
//! [`CRASH_MARKS_MAX`] in that exporter's memory, and not after a restart.

mod file;
pub mod names;
mod session;

use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::fs::BoxFuture;

pub use file::{CRASH_MARKS_MAX, FileExporter, FileExporterConfig};
pub use session::{Ended, Session, TraceConfig, Tracer};

/// The trace file format this build writes.
pub const FORMAT: u32 = 1;

/// Where a session stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Still recording.
    Running,
    /// Ended normally.
    Completed,
    /// Ended by a crash (panic, fatal signal). Final: crash wins.
    Crashed,
    /// Ended with an error the caller reported.
    Failed,
}

/// One recorded event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceEvent {
    /// Position in the session, from 0, without gaps.
    pub seq: u64,
    /// Wall-clock time of recording, ms since the Unix epoch.
    pub at_ms: u64,
    /// What happened ("tool_call", "model_response"...).
    pub name: String,
    /// The span it belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<u64>,
    /// Free-form payload.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

/// A session's whole trace: what one canonical file holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceDoc {
    /// [`FORMAT`].
    pub format: u32,
    /// The session id, exactly as the caller gave it.
    pub session_id: String,
    /// Where the session stands.
    pub status: Status,
    /// Wall-clock start, ms since the Unix epoch.
    pub started_at_ms: u64,
    /// Every event, in order.
    pub events: Vec<TraceEvent>,
}

impl TraceDoc {
    /// Parse a canonical file's bytes, checking what a reader relies on:
    /// the format, and events numbered 0, 1, 2... without gaps.
    pub fn parse(bytes: &[u8]) -> Result<TraceDoc, String> {
        let doc: TraceDoc = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if doc.format != FORMAT {
            return Err(format!("format {} (expected {FORMAT})", doc.format));
        }
        if let Some((i, e)) = doc.events.iter().enumerate().find(|(i, e)| e.seq != *i as u64) {
            return Err(format!("event {i} has seq {}", e.seq));
        }
        Ok(doc)
    }
}

/// What an export did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exported {
    /// The file now holds this version (or a newer one).
    Written,
    /// Nothing written: the session is marked crashed on this exporter.
    SkippedCrashed,
    /// A newer write or the crash write fenced this one off.
    Superseded,
}

/// Where a trace goes. [`FileExporter`] is the canonical one; tests and
/// replicas of shipped bugs implement their own.
pub trait Exporter: Send + Sync {
    /// Export one version of a session's trace.
    fn export<'a>(&'a self, doc: &'a TraceDoc) -> BoxFuture<'a, Result<Exported, TraceError>>;
    /// Mark a session crashed: from now on no export of it may land.
    fn mark_crashed(&self, session_id: &str);
    /// Write the crashed trace with blocking calls (the crash path).
    fn write_crashed(&self, doc: &TraceDoc) -> Result<(), TraceError>;
    /// The canonical file of a session, if this exporter writes one.
    fn path(&self, session_id: &str) -> Option<PathBuf>;
}

/// Why an export, flush or crash write failed. Storage errors keep their
/// `io::ErrorKind` (`StorageFull` for ENOSPC).
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// A file operation failed; the canonical file is untouched.
    #[error("trace of session {session:?}: {step} failed: {source}")]
    Io {
        /// The session id.
        session: String,
        /// The step ("write temporary file", "rename"...).
        step: &'static str,
        /// The error.
        source: io::Error,
    },
    /// An exporter did not finish `end_trace`'s final write within its
    /// bound (T9); it goes on in the background.
    #[error("trace of session {session:?}: exporter {exporter} did not answer within {} ms", waited.as_millis())]
    ExporterTimeout {
        /// The session id.
        session: String,
        /// The exporter's index in the tracer's list.
        exporter: usize,
        /// The bound.
        waited: std::time::Duration,
    },
    /// The session was crash-written: crash wins, nothing more is exported.
    #[error("trace of session {0:?} was crash-written; no further export (crash wins, T3)")]
    Crashed(String),
    /// The session's trace has ended.
    #[error("trace of session {0:?} has ended")]
    Ended(String),
    /// Flush did not catch up within its round bound.
    #[error("flush of session {session:?} did not drain in {rounds} rounds")]
    FlushRounds {
        /// The session id.
        session: String,
        /// The bound.
        rounds: u32,
    },
    /// The trace could not be serialised.
    #[error("trace of session {session:?} could not be serialised: {source}")]
    Serialize {
        /// The session id.
        session: String,
        /// Why.
        source: serde_json::Error,
    },
}

impl TraceError {
    /// The `io::ErrorKind` of a storage error.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            TraceError::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}
