//! [`FileExporter`]: one canonical JSON file per session, replaced
//! atomically (temporary file, fsync, rename, directory fsync), with the
//! crash-wins fence described in the [module docs](super).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::names::{self, SUFFIX, TMP_MARK};
use super::{Exported, Exporter, TraceDoc, TraceError};
use crate::fs::{BoxFuture, FileKind, Fs, FsExt};
use crate::{Clock, Entropy, Env};

/// How a [`FileExporter`] treats what earlier processes left behind.
#[derive(Clone, Debug)]
pub struct FileExporterConfig {
    /// Temporary files at least this old are removed when the exporter
    /// opens (a process that died mid-export leaves one). Default 1 h, so
    /// that another live process exporting into the same directory is never
    /// disturbed; zero when this process owns the directory.
    pub stale_tmp_age: Duration,
}

impl Default for FileExporterConfig {
    fn default() -> Self {
        FileExporterConfig { stale_tmp_age: Duration::from_secs(3600) }
    }
}

/// Writes each session's trace to `<dir>/<key>.trace.json`.
pub struct FileExporter {
    fs: Arc<dyn Fs>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    config: FileExporterConfig,
    dir: PathBuf,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Keys (never raw ids) of sessions marked crashed.
    crashed: BTreeSet<String>,
    /// Temporary files of exports in flight, by key and generation.
    in_flight: BTreeMap<String, BTreeMap<u64, PathBuf>>,
    /// Temporary files unlinked by a fence (their rename must fail).
    fenced: BTreeSet<PathBuf>,
    /// Temporary files whose removal failed: retried by the next export.
    litter: BTreeSet<PathBuf>,
    next_gen: u64,
}

/// Litter removals retried per export: a bound, so a broken disk cannot
/// make every export slower without limit.
const LITTER_RETRIES_MAX: usize = 16;

impl FileExporter {
    /// Open the trace directory (creating it) and remove temporary files
    /// older than `config.stale_tmp_age` that earlier processes left.
    pub async fn open(env: &Env, dir: impl Into<PathBuf>, config: FileExporterConfig) -> io::Result<FileExporter> {
        let dir = dir.into();
        env.fs.create_dir_all(&dir).await?;
        // `mkdir -p` makes entries that a power loss drops until their
        // parents are fsynced: without this, every trace fsynced into a new
        // directory vanishes with it (the `trace` scenario found this).
        for ancestor in dir.ancestors().skip(1).filter(|a| !a.as_os_str().is_empty()) {
            env.fs.sync_dir(ancestor).await?;
        }
        let exporter = FileExporter {
            fs: env.fs.clone(),
            clock: env.clock.clone(),
            entropy: env.entropy.clone(),
            config,
            dir,
            state: Mutex::new(State::default()),
        };
        exporter.remove_stale_tmps().await?;
        Ok(exporter)
    }

    /// Housekeeping for an idle moment or shutdown: retry removing
    /// temporary files whose removal failed, and remove stale ones (as at
    /// open). A temporary file of an export in flight is never stale.
    pub async fn tidy(&self) -> io::Result<()> {
        self.retry_litter().await;
        self.remove_stale_tmps().await
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The canonical file of a session.
    pub fn path_for(&self, session_id: &str) -> PathBuf {
        self.dir.join(names::file_name(session_id))
    }

    /// Is `name` one of our temporary files?
    pub fn is_tmp_name(name: &str) -> bool {
        name.contains(&format!("{SUFFIX}{TMP_MARK}"))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn remove_stale_tmps(&self) -> io::Result<()> {
        let now = self.clock.wall();
        let age = self.config.stale_tmp_age;
        for entry in self.fs.read_dir(&self.dir).await? {
            let Some(name) = entry.name.to_str() else { continue };
            if entry.kind != FileKind::File || !Self::is_tmp_name(name) {
                continue;
            }
            let path = self.dir.join(name);
            if self.lock().in_flight.values().any(|m| m.values().any(|p| *p == path)) {
                continue;
            }
            let old = match self.fs.symlink_metadata(&path).await {
                Ok(m) => now.duration_since(m.modified).unwrap_or_default() >= age,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(_) => true,
            };
            if old {
                self.discard(&path).await;
            }
        }
        Ok(())
    }

    /// Export `bytes` as the current version of `session_id`'s trace.
    pub async fn write_version(&self, session_id: &str, bytes: Vec<u8>) -> Result<Exported, TraceError> {
        let key = names::key(session_id);
        self.retry_litter().await;
        let (generation, tmp) = {
            let mut st = self.lock();
            if st.crashed.contains(&key) {
                return Ok(Exported::SkippedCrashed);
            }
            st.next_gen += 1;
            let generation = st.next_gen;
            let tmp = self.tmp_path(&key, generation);
            // Registered before it exists, so a crash write can fence it.
            st.in_flight.entry(key.clone()).or_default().insert(generation, tmp.clone());
            (generation, tmp)
        };
        let result = self.write_steps(session_id, &key, generation, &tmp, bytes).await;
        let mut st = self.lock();
        if let Some(m) = st.in_flight.get_mut(&key) {
            m.remove(&generation);
            if m.is_empty() {
                st.in_flight.remove(&key);
            }
        }
        st.fenced.remove(&tmp);
        result
    }

    async fn write_steps(
        &self,
        session_id: &str,
        key: &str,
        generation: u64,
        tmp: &Path,
        bytes: Vec<u8>,
    ) -> Result<Exported, TraceError> {
        let io_err = |step, source| TraceError::Io { session: session_id.to_string(), step, source };
        if let Err(e) = self.fs.write(tmp, bytes).await {
            return self.bail(key, tmp, Err(io_err("write temporary file", e))).await;
        }
        if self.is_crashed(key) {
            return self.bail(key, tmp, Ok(Exported::SkippedCrashed)).await;
        }
        if let Err(e) = self.fs.sync_file(tmp).await {
            return self.bail(key, tmp, Err(io_err("fsync temporary file", e))).await;
        }
        self.fence_older(key, generation).await;
        // The last check: nothing suspends between it and issuing the rename.
        if self.is_crashed(key) {
            return self.bail(key, tmp, Ok(Exported::SkippedCrashed)).await;
        }
        let target = self.dir.join(format!("{key}{SUFFIX}"));
        if let Err(e) = self.fs.rename(tmp, &target).await {
            return self.bail(key, tmp, Err(io_err("rename over the trace", e))).await;
        }
        self.fs.sync_dir(&self.dir).await.map_err(|e| io_err("fsync trace directory", e))?;
        Ok(Exported::Written)
    }

    /// Give up on an export: remove its temporary file, and report a fence
    /// (the crash write or a newer export unlinked our source) as such
    /// rather than as the error it caused.
    async fn bail(&self, key: &str, tmp: &Path, outcome: Result<Exported, TraceError>) -> Result<Exported, TraceError> {
        self.discard(tmp).await;
        let (fenced, crashed) = {
            let st = self.lock();
            (st.fenced.contains(tmp), st.crashed.contains(key))
        };
        match outcome {
            Err(TraceError::Io { ref source, .. }) if source.kind() == io::ErrorKind::NotFound && crashed => {
                Ok(Exported::SkippedCrashed)
            }
            Err(TraceError::Io { ref source, .. }) if source.kind() == io::ErrorKind::NotFound && fenced => {
                Ok(Exported::Superseded)
            }
            other => other,
        }
    }

    fn is_crashed(&self, key: &str) -> bool {
        self.lock().crashed.contains(key)
    }

    fn tmp_path(&self, key: &str, generation: u64) -> PathBuf {
        self.dir.join(format!("{key}{SUFFIX}{TMP_MARK}{generation}.{:016x}", self.entropy.next_u64()))
    }

    /// Take the temporary files of in-flight exports of `key` older than
    /// `generation` (all of them for `u64::MAX`), marking them fenced.
    fn take_older(&self, key: &str, generation: u64) -> Vec<PathBuf> {
        let mut st = self.lock();
        let older: Vec<PathBuf> = st
            .in_flight
            .get(key)
            .map(|m| m.range(..generation).map(|(_, p)| p.clone()).filter(|p| !st.fenced.contains(p)).collect())
            .unwrap_or_default();
        st.fenced.extend(older.iter().cloned());
        older
    }

    /// Unlink the sources of older in-flight exports of this session, so
    /// their renames can no longer land over ours.
    async fn fence_older(&self, key: &str, generation: u64) {
        for tmp in self.take_older(key, generation) {
            self.discard(&tmp).await;
        }
    }

    /// Remove a temporary file; a failure is remembered and retried.
    async fn discard(&self, tmp: &Path) {
        match self.fs.remove_file(tmp).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(file = %tmp.display(), error = %e, "trace: could not remove a temporary file; will retry");
                self.lock().litter.insert(tmp.to_path_buf());
                return;
            }
        }
        self.lock().litter.remove(tmp);
    }

    async fn retry_litter(&self) {
        let litter: Vec<PathBuf> = self.lock().litter.iter().take(LITTER_RETRIES_MAX).cloned().collect();
        for tmp in litter {
            self.discard(&tmp).await;
        }
    }

    /// The crash path: fence every in-flight export of the session, then
    /// write the crashed version with blocking calls.
    fn write_crashed_blocking(&self, session_id: &str, bytes: Vec<u8>) -> Result<(), TraceError> {
        let key = names::key(session_id);
        let io_err = |step, source| TraceError::Io { session: session_id.to_string(), step, source };
        let generation = {
            let mut st = self.lock();
            st.crashed.insert(key.clone());
            st.next_gen += 1;
            st.next_gen
        };
        let mut fence_error = None;
        for victim in self.take_older(&key, u64::MAX) {
            match self.fs.remove_file_blocking(&victim) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    fence_error.get_or_insert(io_err("fence an in-flight export", e));
                }
                _ => {}
            }
        }
        let tmp = self.tmp_path(&key, generation);
        let target = self.dir.join(format!("{key}{SUFFIX}"));
        let written = self
            .fs
            .write_blocking(&tmp, bytes)
            .map_err(|e| io_err("write temporary file", e))
            .and_then(|()| self.fs.sync_file_blocking(&tmp).map_err(|e| io_err("fsync temporary file", e)))
            .and_then(|()| self.fs.rename_blocking(&tmp, &target).map_err(|e| io_err("rename over the trace", e)));
        if let Err(e) = written {
            if let Err(rm) = self.fs.remove_file_blocking(&tmp)
                && rm.kind() != io::ErrorKind::NotFound
            {
                self.lock().litter.insert(tmp);
            }
            return Err(e);
        }
        self.fs.sync_dir_blocking(&self.dir).map_err(|e| io_err("fsync trace directory", e))?;
        fence_error.map_or(Ok(()), Err)
    }
}

fn serialise(doc: &TraceDoc) -> Result<Vec<u8>, TraceError> {
    serde_json::to_vec(doc).map_err(|source| TraceError::Serialize { session: doc.session_id.clone(), source })
}

impl Exporter for FileExporter {
    fn export<'a>(&'a self, doc: &'a TraceDoc) -> BoxFuture<'a, Result<Exported, TraceError>> {
        Box::pin(async move {
            let bytes = serialise(doc)?;
            self.write_version(&doc.session_id, bytes).await
        })
    }

    fn mark_crashed(&self, session_id: &str) {
        self.lock().crashed.insert(names::key(session_id));
    }

    fn write_crashed(&self, doc: &TraceDoc) -> Result<(), TraceError> {
        let bytes = serialise(doc)?;
        self.write_crashed_blocking(&doc.session_id, bytes)
    }

    fn path(&self, session_id: &str) -> Option<PathBuf> {
        Some(self.path_for(session_id))
    }
}
