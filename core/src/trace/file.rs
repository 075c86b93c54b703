//! [`FileExporter`]: one canonical JSON file per session, replaced
//! atomically (temporary file, fsync, rename, directory fsync), with the
//! crash-wins fence described in the [module docs](super).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::names::{self, CRASH_MARK, SUFFIX, TMP_MARK};
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
    /// This exporter is the only writer of its directory: no other
    /// exporter instance, in this process or another, ever exports into it.
    /// Crash marks then live in memory only (the last [`CRASH_MARKS_MAX`]
    /// of them), which saves a `stat` per export and a directory listing
    /// per crash write. Default `false`; with `true` and a second writer,
    /// crash wins only per instance (`legacy/trace-per-instance-crash-mark`
    /// shows what breaks).
    pub sole_writer: bool,
    /// Crash marks kept in memory, at least 1 (default
    /// [`CRASH_MARKS_MAX`]); beyond it the oldest is forgotten, never the
    /// mark of a session with an export in flight (when every older one
    /// has one, the newest may go). A sole writer's crashed id stays
    /// crashed only while its mark is among these.
    pub crash_marks_max: usize,
}

impl Default for FileExporterConfig {
    fn default() -> Self {
        FileExporterConfig {
            stale_tmp_age: Duration::from_secs(3600),
            sole_writer: false,
            crash_marks_max: CRASH_MARKS_MAX,
        }
    }
}

/// Crash marks one exporter keeps in memory by default
/// ([`FileExporterConfig::crash_marks_max`]); the oldest is forgotten
/// beyond this. Without [`FileExporterConfig::sole_writer`] the mark on
/// disk still stands for it, so forgetting costs only a `stat`.
pub const CRASH_MARKS_MAX: usize = 4096;

/// Writes each session's trace to `<dir>/<key>.trace.json`.
pub struct FileExporter {
    fs: Arc<dyn Fs>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    config: FileExporterConfig,
    dir: PathBuf,
    state: Mutex<State>,
    /// Moves whenever an export ends.
    settled: crate::signal::Signal,
}

impl std::fmt::Debug for FileExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileExporter").field("dir", &self.dir).field("config", &self.config).finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    /// Keys (never raw ids) of sessions marked crashed in memory, and the
    /// order they were marked in (bounded by `marks_max`).
    crashed: BTreeSet<String>,
    crash_order: VecDeque<String>,
    /// Temporary files of exports in flight, by key and generation.
    in_flight: BTreeMap<String, BTreeMap<u64, PathBuf>>,
    /// Temporary files unlinked by a fence (their rename must fail).
    fenced: BTreeSet<PathBuf>,
    /// Temporary files whose removal failed: retried by the next export.
    litter: BTreeSet<PathBuf>,
    /// Temporary files whose rename has been issued and not returned: a
    /// fence that cannot unlink one of them cannot stop it landing.
    renaming: BTreeSet<PathBuf>,
    next_gen: u64,
    /// [`FileExporterConfig::crash_marks_max`].
    marks_max: usize,
}

impl State {
    /// Mark `key` crashed in memory, forgetting the oldest mark beyond the
    /// bound; never a mark of a session with an export in flight.
    /// Returns whether the table keeps its shape (asserted by the caller
    /// once the lock is released: a panic hook's crash write takes it).
    #[must_use]
    fn mark(&mut self, key: &str) -> bool {
        if !self.crashed.insert(key.to_string()) {
            return self.shape_ok();
        }
        self.crash_order.push_back(key.to_string());
        let mut kept = 0;
        while self.crashed.len() > self.marks_max && kept < self.crash_order.len() {
            let Some(old) = self.crash_order.pop_front() else { break };
            if self.in_flight.contains_key(&old) {
                self.crash_order.push_back(old);
                kept += 1;
            } else {
                self.crashed.remove(&old);
            }
        }
        self.shape_ok()
    }

    /// See [`State::mark`].
    #[must_use]
    fn unmark(&mut self, key: &str) -> bool {
        if self.crashed.remove(key) {
            self.crash_order.retain(|k| k != key);
        }
        self.shape_ok()
    }

    /// Every mark is in the order exactly once, and beyond the bound only
    /// marks of sessions with an export in flight are kept. Cheap: the
    /// set and the order are compared by length, the in-flight scan runs
    /// only past the bound.
    fn shape_ok(&self) -> bool {
        self.crashed.len() == self.crash_order.len()
            && (self.crashed.len() <= self.marks_max || self.crash_order.iter().all(|k| self.in_flight.contains_key(k)))
    }
}

/// One export in flight, forgotten however it ends. Dropped before it
/// finished (its caller timed out), its temporary file becomes litter: the
/// next export or `tidy` removes it, which also fences a rename of it the
/// kernel may still complete.
struct InFlight<'a> {
    exporter: &'a FileExporter,
    key: String,
    generation: u64,
    tmp: PathBuf,
    done: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut st = self.exporter.lock();
        if let Some(m) = st.in_flight.get_mut(&self.key) {
            m.remove(&self.generation);
            if m.is_empty() {
                st.in_flight.remove(&self.key);
            }
        }
        st.fenced.remove(&self.tmp);
        st.renaming.remove(&self.tmp);
        if !self.done {
            st.litter.insert(self.tmp.clone());
        }
        drop(st);
        self.exporter.settled.notify();
    }
}

/// Litter removals retried per export: a bound, so a broken disk cannot
/// make every export slower without limit.
const LITTER_RETRIES_MAX: usize = 16;

impl FileExporter {
    /// Open the trace directory (creating it) and remove temporary files
    /// older than `config.stale_tmp_age` that earlier processes left.
    pub async fn open(env: &Env, dir: impl Into<PathBuf>, config: FileExporterConfig) -> io::Result<FileExporter> {
        if config.crash_marks_max == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "crash_marks_max must be at least 1"));
        }
        let dir = dir.into();
        // Something that is no directory at the path (a file, a FIFO, a
        // dangling symlink) is named, keeping the kind: `File exists`
        // alone named nothing (a hostile-host trial). Other errors pass as
        // they are (an injected fault stays recognisable).
        env.fs.create_dir_all(&dir).await.map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => io::Error::new(
                e.kind(),
                format!("make the trace directory {}: something that is not a directory is there ({e})", dir.display()),
            ),
            _ => e,
        })?;
        // `mkdir -p` makes entries that a power loss drops until their
        // parents are fsynced: without this, every trace fsynced into a new
        // directory vanishes with it (the `trace` scenario found this).
        for ancestor in dir.ancestors().skip(1).filter(|a| !a.as_os_str().is_empty()) {
            env.fs.sync_dir(ancestor).await?;
        }
        let marks_max = config.crash_marks_max;
        let exporter = FileExporter {
            fs: env.fs.clone(),
            clock: env.clock.clone(),
            entropy: env.entropy.clone(),
            config,
            dir,
            state: Mutex::new(State { marks_max, ..State::default() }),
            settled: crate::signal::Signal::default(),
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

    /// The crash mark of a session: while it exists, no exporter on this
    /// directory lands an export of the session (T10).
    pub fn crash_mark_for(&self, session_id: &str) -> PathBuf {
        self.mark_path(&names::key(session_id))
    }

    /// Forget a session's trace: remove its canonical file, then its crash
    /// mark, and this exporter's memory of both. A crashed session id stays
    /// crashed in its directory until this runs (whichever process or
    /// exporter instance exports it next); afterwards the id starts afresh.
    /// Missing files are not an error.
    pub async fn remove_trace(&self, session_id: &str) -> io::Result<()> {
        let key = names::key(session_id);
        // Exports of the session still in flight (a final write its end
        // stopped waiting for) would put a forgotten trace back: unlink
        // their sources first, so their renames fail (T13).
        self.fence_all(&key).await?;
        for path in [self.path_for(session_id), self.crash_mark_for(session_id)] {
            match self.fs.remove_file(&path).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        self.unmark_key(&key);
        // A crash write that ran meanwhile (here or in another process)
        // may have put a crashed trace back after the first unlink: crash
        // wins, so it keeps its mark.
        let crashed_again = match self.fs.read(&self.path_for(session_id)).await {
            Ok(bytes) => super::TraceDoc::parse(&bytes).is_ok_and(|d| d.status == super::Status::Crashed),
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(e),
        };
        if crashed_again {
            kept_mark(self.fs.create_new(&self.mark_path(&key), Vec::new()).await)?;
            self.mark_key(&key);
        }
        self.fs.sync_dir(&self.dir).await
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
                let _ = self.discard(&path).await;
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
        let mut guard = InFlight { exporter: self, key, generation, tmp, done: false };
        let result = self.write_steps(session_id, &guard.key, generation, &guard.tmp, bytes).await;
        guard.done = true;
        result
    }

    /// Wait, at most `bound`, until no export is in flight: a late final
    /// write that `end_trace` stopped waiting for, a background snapshot.
    /// `true` once none is. For an orderly shutdown: drain, then
    /// [`tidy`](Self::tidy), then exit; a process that exits with an export
    /// in flight leaves its temporary file to the next `open`.
    pub async fn drain(&self, bound: Duration) -> bool {
        let idle = self.settled.until(|| self.lock().in_flight.is_empty().then_some(()));
        crate::timeout(&*self.clock, bound, idle).await.is_ok()
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
        // Another exporter's crash write, here or in another process: it
        // writes the mark before it lists and unlinks every temporary file
        // of the session, so a temporary file its listing missed was
        // created after the mark, and this `stat` comes later still (T10).
        if !self.config.sole_writer {
            match self.crash_marked(key).await {
                Ok(_) => {
                    self.mark_key(key);
                    return self.bail(key, tmp, Ok(Exported::SkippedCrashed)).await;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return self.bail(key, tmp, Err(io_err("check the crash mark", e))).await,
            }
        }
        // The last check: nothing suspends between it and issuing the rename.
        if self.is_crashed(key) {
            return self.bail(key, tmp, Ok(Exported::SkippedCrashed)).await;
        }
        // A fence (a newer export's, a crash write's, `remove_trace`'s)
        // took this export: its unlink may have landed before our write
        // created the file, so the file being here proves nothing.
        let fenced = {
            let mut st = self.lock();
            let fenced = st.fenced.contains(tmp);
            if !fenced {
                st.renaming.insert(tmp.to_path_buf());
            }
            fenced
        };
        if fenced {
            return self.bail(key, tmp, Ok(Exported::Superseded)).await;
        }
        let target = self.dir.join(format!("{key}{SUFFIX}"));
        let renamed = self.fs.rename(tmp, &target).await;
        self.lock().renaming.remove(tmp);
        self.settled.notify();
        if let Err(e) = renamed {
            return self.bail(key, tmp, Err(io_err("rename over the trace", e))).await;
        }
        self.fs.sync_dir(&self.dir).await.map_err(|e| io_err("fsync trace directory", e))?;
        Ok(Exported::Written)
    }

    /// Give up on an export: remove its temporary file, and report a fence
    /// (the crash write or a newer export unlinked our source) as such
    /// rather than as the error it caused.
    async fn bail(&self, key: &str, tmp: &Path, outcome: Result<Exported, TraceError>) -> Result<Exported, TraceError> {
        let _ = self.discard(tmp).await;
        let (fenced, mut crashed) = {
            let st = self.lock();
            (st.fenced.contains(tmp), st.crashed.contains(key))
        };
        let source_gone = match &outcome {
            Err(TraceError::Io { session, source, .. }) if source.kind() == io::ErrorKind::NotFound => Some(session),
            _ => None,
        };
        if let Some(session) = source_gone
            && !crashed
            && !fenced
            && !self.config.sole_writer
        {
            // Another exporter's crash write unlinked our source.
            match self.crash_marked(key).await {
                Ok(_) => {
                    crashed = true;
                    self.mark_key(key);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                // Whether it was a crash cannot be told: report why, not
                // the missing file that only the mark would explain.
                Err(source) => {
                    return Err(TraceError::Io { session: session.clone(), step: "check the crash mark", source });
                }
            }
        }
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

    /// Mark `key` crashed in memory ([`State::mark`]); the table's shape
    /// is asserted with no lock held (a panic hook's crash write takes it).
    fn mark_key(&self, key: &str) {
        let shaped = self.lock().mark(key);
        debug_assert!(shaped, "the crash-mark table keeps its shape");
    }

    /// Forget `key`'s crash mark in memory; asserted as [`Self::mark_key`].
    fn unmark_key(&self, key: &str) {
        let shaped = self.lock().unmark(key);
        debug_assert!(shaped, "the crash-mark table keeps its shape");
    }

    fn is_crashed(&self, key: &str) -> bool {
        self.lock().crashed.contains(key)
    }

    /// `Ok` when the session's crash mark exists (another exporter's crash
    /// write, here or in another process).
    async fn crash_marked(&self, key: &str) -> io::Result<crate::fs::Metadata> {
        self.fs.symlink_metadata(&self.mark_path(key)).await
    }

    fn mark_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}{CRASH_MARK}"))
    }

    fn tmp_path(&self, key: &str, generation: u64) -> PathBuf {
        self.dir.join(format!("{}{generation}.{:016x}", tmp_prefix(key), self.entropy.next_u64()))
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
        drop(st);
        // Asserted with no lock held: a panic hook's crash write takes it.
        debug_assert!(older.iter().all(|p| p.starts_with(&self.dir)), "a fence unlinks only in its own directory");
        older
    }

    /// Every export of `key` this exporter knows may still land: those in
    /// flight (taken, as [`FileExporter::take_older`]) and those whose
    /// fence failed before (their sources are litter, their renames may
    /// still land; a sole writer's fences know of no other).
    fn fence_victims(&self, key: &str) -> Vec<PathBuf> {
        let prefix = tmp_prefix(key);
        let mut victims = self.take_older(key, u64::MAX);
        let ours = |p: &Path| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix));
        let litter: Vec<PathBuf> =
            self.lock().litter.iter().filter(|p| ours(p) && !victims.contains(p)).cloned().collect();
        victims.extend(litter);
        victims
    }

    /// Unlink the sources of older in-flight exports of this session, so
    /// their renames can no longer land over ours. An older export that is
    /// fenced before its last check gives up there; one whose rename is
    /// already in flight (on a slow mount a rename takes seconds) fails
    /// only if the unlink lands first. An unlink that fails (EIO; this
    /// fence's, or an earlier one's, whose file is still litter) leaves
    /// such a rename free to land after ours: then wait until it has
    /// returned, so that the newest version is issued, and lands, last.
    /// (An export whose caller dropped it mid-rename is no longer in
    /// flight here, though the kernel may still complete its rename.)
    async fn fence_older(&self, key: &str, generation: u64) {
        for tmp in self.take_older(key, generation) {
            let _ = self.discard(&tmp).await;
        }
        let unstoppable = || {
            let st = self.lock();
            let older = st.in_flight.get(key).map(|m| m.range(..generation));
            let live = older.is_some_and(|mut o| o.any(|(_, p)| st.renaming.contains(p) && st.litter.contains(p)));
            (!live).then_some(())
        };
        self.settled.until(unstoppable).await;
    }

    /// Unlink the source of every export of `key` in flight: this
    /// exporter's, and, unless it is the sole writer, every other temporary
    /// file of the session in the directory. `Err` when one could not be
    /// unlinked (it is retried as litter): its rename may still land.
    async fn fence_all(&self, key: &str) -> io::Result<()> {
        let prefix = tmp_prefix(key);
        // Listed before this exporter's own are taken: a failed listing
        // leaves them unfenced, for the retry to take.
        let listed = if self.config.sole_writer { Vec::new() } else { self.fs.read_dir(&self.dir).await? };
        let mut victims = self.fence_victims(key);
        for entry in listed {
            if entry.name.to_str().is_some_and(|n| n.starts_with(&prefix)) {
                victims.push(self.dir.join(entry.name));
            }
        }
        let mut first_error = None;
        for tmp in victims {
            if let Err(e) = self.discard(&tmp).await {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Remove a temporary file; a failure is remembered and retried (and
    /// returned, for a caller whose promise rests on the removal).
    async fn discard(&self, tmp: &Path) -> io::Result<()> {
        match self.fs.remove_file(tmp).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(file = %tmp.display(), error = %e, "trace: could not remove a temporary file; will retry");
                self.lock().litter.insert(tmp.to_path_buf());
                return Err(e);
            }
        }
        self.lock().litter.remove(tmp);
        Ok(())
    }

    async fn retry_litter(&self) {
        let litter: Vec<PathBuf> = self.lock().litter.iter().take(LITTER_RETRIES_MAX).cloned().collect();
        for tmp in litter {
            let _ = self.discard(&tmp).await;
        }
    }

    /// The crash path (and `finalize_sync`'s): fence every in-flight
    /// export of the session, then write `bytes` with blocking calls. A
    /// crashed version (`crashed`) also fences every other exporter on the
    /// directory: it writes the crash mark, then unlinks every temporary
    /// file of the session it lists, whoever made it.
    fn write_crashed_blocking(&self, session_id: &str, bytes: Vec<u8>, crashed: bool) -> Result<(), TraceError> {
        let key = names::key(session_id);
        let io_err = |step, source| TraceError::Io { session: session_id.to_string(), step, source };
        self.mark_key(&key);
        let generation = {
            let mut st = self.lock();
            st.next_gen += 1;
            st.next_gen
        };
        let mut fence_error = None;
        let shared = crashed && !self.config.sole_writer;
        if shared && let Err(e) = kept_mark(self.fs.create_new_blocking(self.mark_path(&key), Vec::new())) {
            fence_error.get_or_insert(io_err("write the crash mark", e));
        }
        if shared {
            let prefix = tmp_prefix(&key);
            match self.fs.read_dir_blocking(&self.dir) {
                Ok(entries) => {
                    for entry in entries {
                        if entry.name.to_str().is_none_or(|n| !n.starts_with(&prefix)) {
                            continue;
                        }
                        let victim = self.dir.join(entry.name);
                        match self.fs.remove_file_blocking(&victim) {
                            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                                self.lock().litter.insert(victim);
                                fence_error.get_or_insert(io_err("fence another exporter's export", e));
                            }
                            _ => {}
                        }
                    }
                }
                Err(e) => {
                    fence_error.get_or_insert(io_err("list the trace directory", e));
                }
            }
        }
        for victim in self.fence_victims(&key) {
            match self.fs.remove_file_blocking(&victim) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    // Retried as litter, and fenced again by the next
                    // crash write or `remove_trace`.
                    self.lock().litter.insert(victim);
                    fence_error.get_or_insert(io_err("fence an in-flight export", e));
                }
                _ => {
                    self.lock().litter.remove(&victim);
                }
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

/// A crash mark is created new, never written: anything already at its
/// name is a mark to every reader ([`FileExporter::crash_marked`] asks
/// only whether something is there), and a write would follow a symlink
/// planted at that fixed name and truncate whatever it points to (a new
/// user's trial found it truncating a file outside the directory).
fn kept_mark(created: io::Result<()>) -> io::Result<()> {
    match created {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// How every temporary file of the session with `key` begins.
fn tmp_prefix(key: &str) -> String {
    format!("{key}{SUFFIX}{TMP_MARK}")
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
        self.mark_key(&names::key(session_id));
    }

    fn write_crashed(&self, doc: &TraceDoc) -> Result<(), TraceError> {
        let bytes = serialise(doc)?;
        self.write_crashed_blocking(&doc.session_id, bytes, doc.status == super::Status::Crashed)
    }

    fn path(&self, session_id: &str) -> Option<PathBuf> {
        Some(self.path_for(session_id))
    }
}
