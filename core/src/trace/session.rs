//! [`Tracer`] and [`Session`]: recording, coalesced snapshots, flush,
//! end_trace and the synchronous crash write.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::{Exported, Exporter, FORMAT, Status, TraceDoc, TraceError, TraceEvent};
use crate::Env;
use crate::fs::FsExt;
use crate::signal::Signal;

/// Bounds of a [`Tracer`]. Defaults are upstream's.
#[derive(Clone, Debug)]
pub struct TraceConfig {
    /// Write rounds `flush` may take before giving up (each round waits for
    /// the write in flight, then writes once). Default 16.
    pub flush_rounds_max: u32,
    /// How long `end_trace` waits for a write in flight before its final
    /// write. Default 5 s. A write that outlives the wait is fenced off by
    /// the final write, never lands over it.
    pub end_wait: Duration,
    /// Follow-up writes one background writer chains before it stops (a
    /// session recording without pause keeps requesting them); the next
    /// `snapshot` or `flush` resumes. Default 1024.
    pub follow_up_chain_max: u32,
    /// How long `end_trace` waits for each exporter's final write (T9):
    /// an exporter that does not answer is reported in [`Ended::error`]
    /// and left to finish in the background, never waited on. Default 5 s.
    pub exporter_timeout: Duration,
}

impl Default for TraceConfig {
    fn default() -> Self {
        TraceConfig {
            flush_rounds_max: 16,
            end_wait: Duration::from_secs(5),
            follow_up_chain_max: 1024,
            exporter_timeout: Duration::from_secs(5),
        }
    }
}

/// Records sessions and exports them through its exporters.
#[derive(Clone)]
pub struct Tracer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

struct Inner {
    env: Env,
    exporters: Vec<Arc<dyn Exporter>>,
    config: TraceConfig,
    sessions: Mutex<BTreeMap<String, Arc<Cell>>>,
}

struct Cell {
    state: Mutex<State>,
    /// Serialises the blocking final writes (crash write, finalize_sync):
    /// whichever comes second sees what the first did, so a completed
    /// write never lands after a crash write returned (T3).
    final_write: Mutex<()>,
    /// Moves whenever a write finishes or the session crashes.
    signal: Signal,
}

struct State {
    doc: TraceDoc,
    /// A write is in flight (the background writer's, or flush's own).
    writing: bool,
    /// A snapshot was requested while a write was in flight (T2: one
    /// follow-up, however many requests).
    follow_up: bool,
    /// `end_trace` or the crash write has started: no more snapshots.
    ended: bool,
    crashed: bool,
    /// Events held by the last version every exporter took.
    persisted: usize,
    /// Per exporter, what its file holds, if known, and the round that
    /// last said so (a late older round never overwrites a newer one):
    /// `end_trace` reports this, never a hope (T9).
    on_disk: Vec<(u64, Option<Status>)>,
    /// Numbers export rounds and blocking final writes, in start order.
    round: u64,
    writes: u64,
    follow_ups: u64,
}

/// What one exporter's export did to what its file holds.
#[derive(Clone, Copy)]
enum Took {
    /// The file holds this version.
    Written,
    /// It may or may not (an error after the rename, a newer version, an
    /// exporter still running, a refusal because another exporter instance
    /// or process crash-wrote the session): `end_trace` reads the file.
    Unknown,
}

impl Took {
    fn of(outcome: &Result<Exported, TraceError>) -> Took {
        match outcome {
            Ok(Exported::Written) => Took::Written,
            Ok(Exported::SkippedCrashed | Exported::Superseded) | Err(_) => Took::Unknown,
        }
    }
}

/// Counters of one session, for tests and diagnostics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Export rounds started.
    pub writes: u64,
    /// Of those, follow-ups of a request made during a write.
    pub follow_ups: u64,
}

/// What `end_trace` found.
#[derive(Debug)]
pub struct Ended {
    /// The canonical file, whenever it exists, crashed or not (T8), or
    /// may still appear: an export the end stopped waiting for can land
    /// it after `end_trace` returns.
    pub path: Option<PathBuf>,
    /// What the file at `path` holds (T9): the final status when the final
    /// write landed, crashed if the crash write came first, or the older
    /// version's status when the final write failed or is still landing.
    /// Without a path, the status the session ended with.
    pub status: Status,
    /// Why the final write failed, if it did.
    pub error: Option<TraceError>,
}

impl Tracer {
    /// A tracer exporting through `exporters`.
    pub fn new(env: &Env, exporters: Vec<Arc<dyn Exporter>>, config: TraceConfig) -> Tracer {
        Tracer { inner: Arc::new(Inner { env: env.clone(), exporters, config, sessions: Mutex::new(BTreeMap::new()) }) }
    }

    /// Start recording `session_id` (or return the session already open
    /// under that id).
    pub fn start(&self, session_id: &str) -> Session {
        let mut sessions = lock(&self.inner.sessions);
        let cell = sessions
            .entry(session_id.to_string())
            .or_insert_with(|| {
                let doc = TraceDoc {
                    format: FORMAT,
                    session_id: session_id.to_string(),
                    status: Status::Running,
                    started_at_ms: self.inner.env.clock.wall_ms(),
                    events: Vec::new(),
                };
                let state = State {
                    doc,
                    writing: false,
                    follow_up: false,
                    ended: false,
                    crashed: false,
                    persisted: 0,
                    on_disk: vec![(0, None); self.inner.exporters.len()],
                    round: 0,
                    writes: 0,
                    follow_ups: 0,
                };
                Arc::new(Cell { state: Mutex::new(state), final_write: Mutex::new(()), signal: Signal::default() })
            })
            .clone();
        Session { inner: self.inner.clone(), cell, id: session_id.to_string() }
    }

    /// The crash path for the whole process (a panic hook, a fatal
    /// signal): crash-write every open session. Blocking.
    pub fn crash_write_all(&self) -> Vec<(String, Result<Option<PathBuf>, TraceError>)> {
        let open: Vec<Session> = {
            let sessions = lock(&self.inner.sessions);
            sessions
                .iter()
                .map(|(id, cell)| Session { inner: self.inner.clone(), cell: cell.clone(), id: id.clone() })
                .collect()
        };
        open.into_iter().map(|s| (s.id.clone(), s.crash_write())).collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Our critical sections never panic midway; a poisoned lock still
    // holds consistent state, and the crash path must not give up on it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One session's trace. Cheap to clone; every clone is the same session.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
    cell: Arc<Cell>,
    id: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("id", &self.id).finish_non_exhaustive()
    }
}

impl Session {
    /// The session id.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.cell.state)
    }

    /// Record an event; its sequence number, or `None` once the trace has
    /// ended or crashed (the event is dropped).
    pub fn record(&self, name: &str, span: Option<u64>, data: serde_json::Value) -> Option<u64> {
        let at_ms = self.inner.env.clock.wall_ms();
        let mut st = self.state();
        if st.ended {
            return None;
        }
        let seq = st.doc.events.len() as u64;
        let dense = st.doc.events.last().is_none_or(|e| e.seq + 1 == seq);
        st.doc.events.push(TraceEvent { seq, at_ms, name: name.to_string(), span, data });
        drop(st);
        // Asserted with no lock held: a panic hook's crash write takes it.
        debug_assert!(dense, "seqs are dense");
        Some(seq)
    }

    /// Events recorded so far.
    pub fn recorded(&self) -> usize {
        self.state().doc.events.len()
    }

    /// Counters.
    pub fn stats(&self) -> SessionStats {
        let st = self.state();
        SessionStats { writes: st.writes, follow_ups: st.follow_ups }
    }

    /// Ask for the file to catch up with memory, in the background. A
    /// request while a write is in flight schedules exactly one follow-up
    /// after it, however many requests arrive (T2). No-op once ended.
    pub fn snapshot(&self) {
        {
            let mut st = self.state();
            if st.ended {
                return;
            }
            if st.writing {
                st.follow_up = true;
                return;
            }
            st.writing = true;
        }
        let me = self.clone();
        drop(self.inner.env.spawner.spawn("trace-snapshot", Box::pin(async move { me.writer_loop().await })));
    }

    /// The background writer: one write, then the follow-ups requested
    /// meanwhile (bounded by `follow_up_chain_max`).
    async fn writer_loop(&self) {
        let mut chain = 0;
        loop {
            if let Err(e) = self.write_round().await
                && !matches!(e, TraceError::Crashed(_))
            {
                // The next snapshot or flush retries; flush reports it.
                tracing::warn!(session = %self.id, error = %e, "trace snapshot failed");
            }
            chain += 1;
            debug_assert!(chain <= self.inner.config.follow_up_chain_max.max(1), "T2: the chain is bounded");
            let mut st = self.state();
            if st.follow_up && !st.ended && chain < self.inner.config.follow_up_chain_max {
                st.follow_up = false;
                st.follow_ups += 1;
                continue;
            }
            st.writing = false;
            st.follow_up = false;
            drop(st);
            self.cell.signal.notify();
            return;
        }
    }

    /// Export the current state once through every exporter.
    async fn write_round(&self) -> Result<(), TraceError> {
        let (doc, round) = self.begin_round()?;
        let mut first_error = None;
        let mut skipped = false;
        let mut took = Vec::with_capacity(self.inner.exporters.len());
        for exporter in &self.inner.exporters {
            let outcome = exporter.export(&doc).await;
            took.push(Took::of(&outcome));
            match outcome {
                Ok(Exported::Written | Exported::Superseded) => {}
                Ok(Exported::SkippedCrashed) => skipped = true,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        self.finish_round(&doc, round, first_error, skipped, &took)
    }

    /// The final write of `end_trace`: like `write_round`, but each
    /// exporter runs as a task of its own and is waited on for at most
    /// `exporter_timeout` (T9). A hung exporter is reported, not awaited;
    /// its export goes on in the background and is fenced like any other.
    async fn final_round(&self, late: &mut Vec<usize>) -> Result<(), TraceError> {
        let (doc, round) = self.begin_round()?;
        let env = &self.inner.env;
        let bound = self.inner.config.exporter_timeout;
        let mut first_error = None;
        let mut skipped = false;
        let mut took = Vec::with_capacity(self.inner.exporters.len());
        for (i, exporter) in self.inner.exporters.iter().enumerate() {
            let (exporter, doc) = (exporter.clone(), doc.clone());
            let task = Box::pin(async move { exporter.export(&doc).await });
            let run = crate::spawn::run_detached(&*env.spawner, "trace-final-export", task);
            let outcome = crate::timeout(&*env.clock, bound, run).await;
            took.push(outcome.as_ref().map_or(Took::Unknown, Took::of));
            match outcome {
                Ok(Ok(Exported::Written | Exported::Superseded)) => {}
                Ok(Ok(Exported::SkippedCrashed)) => skipped = true,
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(_) => {
                    late.push(i);
                    tracing::warn!(session = %self.id, exporter = i, bound_ms = bound.as_millis() as u64, "exporter did not answer end_trace in time");
                    first_error.get_or_insert(TraceError::ExporterTimeout {
                        session: self.id.clone(),
                        exporter: i,
                        waited: bound,
                    });
                }
            }
        }
        self.finish_round(&doc, round, first_error, skipped, &took)
    }

    /// Start an export round: the version to write and the round's
    /// number, unless crashed.
    fn begin_round(&self) -> Result<(TraceDoc, u64), TraceError> {
        let mut st = self.state();
        if st.crashed {
            return Err(TraceError::Crashed(self.id.clone()));
        }
        st.writes += 1;
        st.round += 1;
        Ok((st.doc.clone(), st.round))
    }

    /// Close an export round: record what each exporter that wrote now
    /// holds (unless the crash write came meanwhile: its version lands
    /// last); then the first error, or crashed if an exporter skipped it
    /// (crash wins); otherwise every exporter holds every event of `doc`.
    fn finish_round(
        &self,
        doc: &TraceDoc,
        round: u64,
        first_error: Option<TraceError>,
        skipped: bool,
        took: &[Took],
    ) -> Result<(), TraceError> {
        let mut st = self.state();
        if !st.crashed {
            for (held, took) in st.on_disk.iter_mut().zip(took) {
                // A round that ends after a newer one (a snapshot stuck in
                // its directory fsync past end_wait) says nothing new: the
                // newer version fenced it.
                if held.0 > round {
                    continue;
                }
                *held = match took {
                    Took::Written => (round, Some(doc.status)),
                    Took::Unknown => (round, None),
                };
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        if skipped || st.crashed {
            return Err(TraceError::Crashed(self.id.clone()));
        }
        st.persisted = st.persisted.max(doc.events.len());
        let consistent = st.persisted <= st.doc.events.len();
        // Asserted with no lock held: a panic hook's crash write takes it.
        drop(st);
        debug_assert!(consistent, "nothing persisted that was not recorded");
        Ok(())
    }

    /// Wait until no write is in flight; `Err` if the session crashed.
    async fn idle(&self) -> Result<(), TraceError> {
        self.cell
            .signal
            .until(|| {
                let st = self.state();
                if st.crashed {
                    Some(Err(TraceError::Crashed(self.id.clone())))
                } else {
                    (!st.writing).then_some(Ok(()))
                }
            })
            .await
    }

    /// Wait until no write is in flight (for tests and orderly shutdown).
    pub async fn settled(&self) {
        let _ = self.idle().await;
    }

    /// Return once every exporter holds every event recorded before the
    /// call, in order (T1), taking at most `flush_rounds_max` rounds (T2).
    /// `Err` if a write failed (the error, typed), the session crashed
    /// (crash wins: nothing more is exported) or the rounds ran out.
    pub async fn flush(&self) -> Result<(), TraceError> {
        let target = self.recorded();
        for _ in 0..self.inner.config.flush_rounds_max {
            self.idle().await?;
            {
                let mut st = self.state();
                if st.persisted >= target {
                    return Ok(());
                }
                st.writing = true;
            }
            let result = self.write_round().await;
            self.release_writer();
            result?;
        }
        Err(TraceError::FlushRounds { session: self.id.clone(), rounds: self.inner.config.flush_rounds_max })
    }

    /// flush or end_trace is done writing: hand a pending follow-up to a
    /// background writer, and wake waiters.
    fn release_writer(&self) {
        let resume = {
            let mut st = self.state();
            let resume = st.follow_up && !st.ended;
            st.follow_up = false;
            st.writing = resume;
            resume
        };
        self.cell.signal.notify();
        if resume {
            let me = self.clone();
            drop(self.inner.env.spawner.spawn("trace-snapshot", Box::pin(async move { me.writer_loop().await })));
        }
    }

    /// End the trace with `status`: no snapshot starts after this call;
    /// the write in flight gets `end_wait`, then the final write runs
    /// (unless the session crashed: crash wins). Reports the canonical
    /// path whenever the file exists (T8).
    pub async fn end_trace(&self, status: Status) -> Ended {
        {
            let mut st = self.state();
            st.ended = true;
            st.follow_up = false;
        }
        let clock = self.inner.env.clock.clone();
        // A write the wait gives up on goes on: its version, from before
        // the end, may land after everything below.
        let settled = crate::timeout(&*clock, self.inner.config.end_wait, self.idle()).await.is_ok();
        // Exporters whose final write outlived its bound: still landing.
        let mut late = Vec::new();
        let crashed = {
            let mut st = self.state();
            if !st.crashed {
                st.doc.status = status;
                st.writing = true;
            }
            st.crashed
        };
        let error = if crashed {
            // Crash wins; if the crash write itself failed, the file still
            // holds an older version: try the crash write once more.
            let held = self.state().on_disk.iter().all(|(_, s)| *s == Some(Status::Crashed));
            if held { None } else { self.crash_write().err() }
        } else {
            let result = self.final_round(&mut late).await;
            self.release_writer();
            result.err()
        };
        self.deregister();
        // A crash write that failed may have left an export it could not
        // fence still landing, as may a write the wait gave up on.
        let pending = !settled || (crashed && error.is_some());
        let found = self.existing_path(&late, pending).await;
        let (known, wanted) = {
            let st = self.state();
            (found.as_ref().and_then(|(_, i)| st.on_disk[*i].1), st.doc.status)
        };
        let status = match (&found, known) {
            (_, Some(held)) => held,
            // A file this session never wrote (an earlier process's), or
            // whose write outcome is unknown: say what it holds.
            (Some((path, i)), None) => match self.read_status(path).await {
                Some(held) => held,
                // Not there yet, and no final write of ours still landing:
                // what lands is a pending export (one the wait gave up on,
                // or one a failed crash write could not fence), a version
                // from before the end.
                None if pending && !late.contains(i) => Status::Running,
                None => wanted,
            },
            (None, None) => wanted,
        };
        debug_assert!(
            error.is_some() || known.is_none() || status == wanted,
            "a clean end reports the status it wrote"
        );
        Ended { path: found.map(|(p, _)| p), status, error }
    }

    /// The session has ended: `Tracer::start` under its id opens a new
    /// one. Only this session's own entry goes: after it ended once, a new
    /// session may hold the id, and a second end of this handle must not
    /// close that one.
    fn deregister(&self) {
        let mut sessions = lock(&self.inner.sessions);
        if sessions.get(&self.id).is_some_and(|cell| Arc::ptr_eq(cell, &self.cell)) {
            sessions.remove(&self.id);
        }
    }

    /// The status a trace file holds, if it reads as a trace.
    async fn read_status(&self, path: &std::path::Path) -> Option<Status> {
        let bytes = self.inner.env.fs.read(path).await.ok()?;
        TraceDoc::parse(&bytes).ok().map(|d| d.status)
    }

    /// Clean shutdown without a runtime (upstream's `finalizeSync`): if the
    /// session already crashed, return its path without writing (crash
    /// wins); otherwise mark every exporter, so that no export in flight
    /// lands after it, and write the trace as `completed` with blocking
    /// calls. Once it returns `Ok`, the file reads completed.
    pub fn finalize_sync(&self) -> Result<Option<PathBuf>, TraceError> {
        let _final = lock(&self.cell.final_write);
        let doc = {
            let mut st = self.state();
            st.ended = true;
            st.follow_up = false;
            if st.crashed {
                drop(st);
                // Ended all the same: the id is free for a new session
                // (which `remove_trace` lets export afresh, T13).
                self.deregister();
                return Ok(self.inner.exporters.iter().find_map(|e| e.path(&self.id)));
            }
            st.doc.status = Status::Completed;
            st.doc.clone()
        };
        let written = self.write_fenced_blocking(&doc);
        self.deregister();
        written.map(|()| self.inner.exporters.iter().find_map(|e| e.path(&self.id)))
    }

    /// Mark the session on every exporter (fencing every export in
    /// flight), then write `doc` with blocking calls on each; the first
    /// error, if any. The status is recorded as on disk only when every
    /// exporter took it.
    fn write_fenced_blocking(&self, doc: &TraceDoc) -> Result<(), TraceError> {
        for exporter in &self.inner.exporters {
            exporter.mark_crashed(&self.id);
        }
        let mut first_error = None;
        let round = {
            let mut st = self.state();
            st.round += 1;
            st.round
        };
        for (i, exporter) in self.inner.exporters.iter().enumerate() {
            let result = exporter.write_crashed(doc);
            // An error may come after the rename landed (the mark, the
            // listing, the directory fsync): then what the file holds is
            // read, not assumed.
            self.state().on_disk[i] = (round, result.as_ref().ok().map(|()| doc.status));
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        }
        self.cell.signal.notify();
        first_error.map_or(Ok(()), Err)
    }

    /// The first exporter's file that exists, or will: an exporter in
    /// `late` is still writing it, and with `pending` an export the end
    /// could not stop (one `end_wait` gave up on, or one a failed crash
    /// write could not fence) may still land it. A stat that fails other
    /// than with `NotFound` counts as existing: better a path that may be
    /// there than a lost trace (T8).
    async fn existing_path(&self, late: &[usize], pending: bool) -> Option<(PathBuf, usize)> {
        for (i, exporter) in self.inner.exporters.iter().enumerate() {
            let Some(path) = exporter.path(&self.id) else { continue };
            if late.contains(&i) {
                return Some((path, i));
            }
            match self.inner.env.fs.symlink_metadata(&path).await {
                Err(e) if e.kind() == io::ErrorKind::NotFound && !pending => continue,
                // A directory or a FIFO at the trace's name is no trace: a
                // final rename over it failed, and the caller must not be
                // told a completed trace is there (a new user's trial).
                Ok(m) if matches!(m.kind, crate::FileKind::Dir | crate::FileKind::Special) => continue,
                _ => return Some((path, i)),
            }
        }
        None
    }

    /// The crash path (a panic hook, a fatal signal): mark the session
    /// crashed on every exporter first, then write the crashed trace with
    /// blocking calls. Once it returns `Ok`, the file reads "crashed" and
    /// keeps reading it whatever in-flight exports do (T3). Repeating it is
    /// allowed; the status stays crashed. Returns the canonical path of the
    /// first exporter that has one.
    pub fn crash_write(&self) -> Result<Option<PathBuf>, TraceError> {
        let _final = lock(&self.cell.final_write);
        let doc = {
            let mut st = self.state();
            st.crashed = true;
            st.ended = true;
            st.follow_up = false;
            st.doc.status = Status::Crashed;
            st.doc.clone()
        };
        self.write_fenced_blocking(&doc)?;
        Ok(self.inner.exporters.iter().find_map(|e| e.path(&self.id)))
    }
}
