//! Replicas of the trace export that shipped upstream, one per bug of
//! incident 4, small and faithful: each keeps the shipped mistake and
//! nothing else wrong, so the checker that catches it is the one the
//! DESIGN table names.
//!
//! - [`LegacyExporter`] with `crash_checks: false`: export without crashed
//!   checks (M3), so a slow rename lands over the crash write (T3).
//! - [`LegacyExporter`] with checks at entry, before the write and before
//!   the rename, but no fence: upstream's final fix, which leaves the
//!   window of M1 open on slow renames (T3).
//! - `shared_flag`: one crashed flag for the whole exporter, which
//!   suppresses every other session's export (T6).
//! - `raw_mark`: the crash mark keyed by the raw id while exports check the
//!   sanitised one, so ids with `/ \ . :` bypass the guard (T3).
//! - [`DebounceSession`]: a snapshot that returns early while a write is
//!   pending and never reschedules (M2), so events recorded during a write
//!   never reach the file (T1).
//!
//! - `upstream_names`: files named the upstream way (`/ \ . :` become
//!   `_`), so "a:b" and "a_b" share a file (T7).
//!
//! Apart from its one flaw each replica keys sessions as the fixed core
//! does (`names::key`), so the invariant that catches it is its own.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use steadfast_core::trace::{Ended, Exported, Exporter, FileExporter, Status, TraceDoc, TraceError, TraceEvent, names};
use steadfast_core::{BoxFuture, Entropy, Env, Fs, FsExt};

/// Upstream's sanitising: four characters mapped to `_`.
fn sanitised(session_id: &str) -> String {
    session_id.replace(['/', '\\', '.', ':'], "_")
}

/// Upstream's file name scheme.
pub fn upstream_name(session_id: &str) -> String {
    format!("{}.trace.json", sanitised(session_id))
}

/// Which of upstream's versions to copy.
#[derive(Clone, Copy, Debug)]
pub struct LegacyFlavour {
    /// Check the crashed mark at entry, before the write and before the
    /// rename (false: M3, no checks at all).
    pub crash_checks: bool,
    /// One crashed flag for the whole exporter (T6's bug).
    pub shared_flag: bool,
    /// Mark crashed by the raw id; check by the sanitised one.
    pub raw_mark: bool,
    /// Name files the upstream way (T7's bug).
    pub upstream_names: bool,
}

/// An exporter with upstream's tmp+rename and its crash guard, without
/// steadfast's fence.
pub struct LegacyExporter {
    fs: Arc<dyn Fs>,
    entropy: Arc<dyn Entropy>,
    dir: PathBuf,
    flavour: LegacyFlavour,
    state: Mutex<(BTreeSet<String>, bool)>,
}

impl std::fmt::Debug for LegacyExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegacyExporter").field("dir", &self.dir).field("flavour", &self.flavour).finish_non_exhaustive()
    }
}

impl LegacyExporter {
    /// An exporter writing into `dir` (which must exist).
    pub fn new(env: &Env, dir: &Path, flavour: LegacyFlavour) -> LegacyExporter {
        LegacyExporter {
            fs: env.fs.clone(),
            entropy: env.entropy.clone(),
            dir: dir.to_path_buf(),
            flavour,
            state: Mutex::new((BTreeSet::new(), false)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, (BTreeSet<String>, bool)> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn crashed(&self, session_id: &str) -> bool {
        if !self.flavour.crash_checks {
            return false;
        }
        let st = self.lock();
        if self.flavour.shared_flag {
            return st.1;
        }
        let key = if self.flavour.raw_mark { sanitised(session_id) } else { names::key(session_id) };
        st.0.contains(&key)
    }

    fn target(&self, session_id: &str) -> PathBuf {
        let name = if self.flavour.upstream_names { upstream_name(session_id) } else { names::file_name(session_id) };
        self.dir.join(name)
    }

    fn tmp(&self, target: &Path) -> PathBuf {
        PathBuf::from(format!("{}.tmp.{:016x}", target.display(), self.entropy.next_u64()))
    }

    async fn export_bytes(&self, id: &str, bytes: Vec<u8>) -> Result<Exported, TraceError> {
        let io_err = |step, source| TraceError::Io { session: id.to_string(), step, source };
        if self.crashed(id) {
            return Ok(Exported::SkippedCrashed);
        }
        let target = self.target(id);
        let tmp = self.tmp(&target);
        let written = match self.fs.write(&tmp, bytes).await {
            Ok(()) => self.fs.sync_file(&tmp).await.map_err(|e| io_err("fsync", e)),
            Err(e) => Err(io_err("write", e)),
        };
        if let Err(e) = written {
            let _ = self.fs.remove_file(&tmp).await;
            return Err(e);
        }
        if self.crashed(id) {
            let _ = self.fs.remove_file(&tmp).await;
            return Ok(Exported::SkippedCrashed);
        }
        if let Err(e) = self.fs.rename(&tmp, &target).await {
            let _ = self.fs.remove_file(&tmp).await;
            return Err(io_err("rename", e));
        }
        self.fs.sync_dir(&self.dir).await.map_err(|e| io_err("fsync dir", e))?;
        Ok(Exported::Written)
    }
}

impl Exporter for LegacyExporter {
    fn export<'a>(&'a self, doc: &'a TraceDoc) -> BoxFuture<'a, Result<Exported, TraceError>> {
        Box::pin(async move {
            let bytes = serde_json::to_vec(doc)
                .map_err(|source| TraceError::Serialize { session: doc.session_id.clone(), source })?;
            self.export_bytes(&doc.session_id, bytes).await
        })
    }

    fn mark_crashed(&self, session_id: &str) {
        let mut st = self.lock();
        st.1 = true;
        let key = if self.flavour.raw_mark { session_id.to_string() } else { names::key(session_id) };
        st.0.insert(key);
    }

    fn write_crashed(&self, doc: &TraceDoc) -> Result<(), TraceError> {
        let id = &doc.session_id;
        let io_err = |step, source: io::Error| TraceError::Io { session: id.clone(), step, source };
        let bytes = serde_json::to_vec(doc).map_err(|source| TraceError::Serialize { session: id.clone(), source })?;
        let target = self.target(id);
        let tmp = self.tmp(&target);
        self.fs.write_blocking(&tmp, bytes).map_err(|e| io_err("write", e))?;
        self.fs.sync_file_blocking(&tmp).map_err(|e| io_err("fsync", e))?;
        self.fs.rename_blocking(&tmp, &target).map_err(|e| io_err("rename", e))?;
        self.fs.sync_dir_blocking(&self.dir).map_err(|e| io_err("fsync dir", e))
    }

    fn path(&self, session_id: &str) -> Option<PathBuf> {
        Some(self.target(session_id))
    }
}

struct DebounceState {
    doc: TraceDoc,
    pending: bool,
    ended: bool,
}

/// M2 as shipped: `snapshot` returns early while a write is pending and
/// nothing reschedules it; `flush` waits for the pending write and returns.
/// Writes go through the fixed [`FileExporter`], so only T1 can break.
#[derive(Clone)]
pub struct DebounceSession {
    env: Env,
    exporter: Arc<FileExporter>,
    state: Arc<Mutex<DebounceState>>,
}

/// How long `flush` polls for the pending write before giving up.
const FLUSH_POLLS_MAX: u32 = 100_000;

impl std::fmt::Debug for DebounceSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DebounceSession").field("exporter", &self.exporter).finish_non_exhaustive()
    }
}

impl DebounceSession {
    /// Start a session exporting through `exporter`.
    pub fn start(env: &Env, exporter: Arc<FileExporter>, session_id: &str) -> DebounceSession {
        let doc = TraceDoc {
            format: steadfast_core::trace::FORMAT,
            session_id: session_id.to_string(),
            status: Status::Running,
            started_at_ms: 0,
            events: Vec::new(),
        };
        DebounceSession {
            env: env.clone(),
            exporter,
            state: Arc::new(Mutex::new(DebounceState { doc, pending: false, ended: false })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, DebounceState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Record an event.
    pub fn record(&self, name: &str) {
        let mut st = self.lock();
        if !st.ended {
            let seq = st.doc.events.len() as u64;
            st.doc.events.push(TraceEvent { seq, at_ms: 0, name: name.into(), span: None, data: Default::default() });
        }
    }

    /// The shipped snapshot: dropped while a write is pending.
    pub fn snapshot(&self) {
        let doc = {
            let mut st = self.lock();
            if st.pending || st.ended {
                return;
            }
            st.pending = true;
            st.doc.clone()
        };
        let me = self.clone();
        drop(self.env.spawner.spawn(
            "debounced-snapshot",
            Box::pin(async move {
                let _ = me.exporter.export(&doc).await;
                me.lock().pending = false;
            }),
        ));
    }

    async fn wait_pending(&self) {
        for _ in 0..FLUSH_POLLS_MAX {
            if !self.lock().pending {
                return;
            }
            self.env.clock.sleep(Duration::from_millis(1)).await;
        }
    }

    /// The shipped flush: waits for the pending write, writes nothing.
    pub async fn flush(&self) -> Result<(), TraceError> {
        self.wait_pending().await;
        Ok(())
    }

    /// End with a final write (unless crashed).
    pub async fn end_trace(&self) -> Ended {
        self.lock().ended = true;
        self.wait_pending().await;
        let doc = {
            let mut st = self.lock();
            if st.doc.status != Status::Crashed {
                st.doc.status = Status::Completed;
            }
            st.doc.clone()
        };
        let error = if doc.status == Status::Crashed { None } else { self.exporter.export(&doc).await.err() };
        let path = self.exporter.path_for(&doc.session_id);
        let exists = self.env.fs.symlink_metadata(&path).await.is_ok();
        Ended { path: exists.then_some(path), status: doc.status, error }
    }

    /// The crash write, done right (only the snapshot is the bug here).
    pub fn crash_write(&self) -> Result<Option<PathBuf>, TraceError> {
        let doc = {
            let mut st = self.lock();
            st.ended = true;
            st.doc.status = Status::Crashed;
            st.doc.clone()
        };
        self.exporter.mark_crashed(&doc.session_id);
        self.exporter.write_crashed(&doc)?;
        Ok(Some(self.exporter.path_for(&doc.session_id)))
    }

    /// Wait for the pending write.
    pub async fn settled(&self) {
        self.wait_pending().await
    }
}
