//! `trace` on the real file system (tempfile directories, a tokio runtime):
//! follow-up scheduling, flush, end_trace, typed storage errors without
//! litter, session isolation, and a crash write racing exports on real
//! threads. The simulator proves the same invariants over every interleaving
//! and rename latency (`trace` scenario); these tests prove the real
//! adapters behave as the model says.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use steadfast_core::real::RealFs;
use steadfast_core::trace::{
    Exported, Exporter, FileExporter, FileExporterConfig, Status, TraceConfig, TraceDoc, TraceError, Tracer,
};
use steadfast_core::{BoxFuture, Env, Fs, FsOp, FsOutput};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn read_doc(path: &Path) -> TraceDoc {
    TraceDoc::parse(&std::fs::read(path).expect("trace file")).expect("whole trace")
}

fn tmp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| FileExporter::is_tmp_name(n))
        .collect()
}

async fn open(env: &Env, dir: &Path) -> Arc<FileExporter> {
    Arc::new(FileExporter::open(env, dir, FileExporterConfig::default()).await.expect("open"))
}

/// An exporter whose exports wait at a gate: the test decides when a write
/// in flight finishes.
struct Gated {
    inner: Arc<FileExporter>,
    gate: tokio::sync::Semaphore,
    started: tokio::sync::Notify,
    exports: AtomicU64,
    last_len: AtomicU64,
}

impl Exporter for Gated {
    fn export<'a>(&'a self, doc: &'a TraceDoc) -> BoxFuture<'a, Result<Exported, TraceError>> {
        Box::pin(async move {
            self.exports.fetch_add(1, Ordering::SeqCst);
            self.last_len.store(doc.events.len() as u64, Ordering::SeqCst);
            self.started.notify_one();
            self.gate.acquire().await.expect("gate").forget();
            self.inner.export(doc).await
        })
    }
    fn mark_crashed(&self, id: &str) {
        self.inner.mark_crashed(id)
    }
    fn write_crashed(&self, doc: &TraceDoc) -> Result<(), TraceError> {
        self.inner.write_crashed(doc)
    }
    fn path(&self, id: &str) -> Option<std::path::PathBuf> {
        self.inner.path(id)
    }
}

#[test]
fn a_burst_during_a_write_schedules_exactly_one_follow_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let gated = Arc::new(Gated {
            inner: open(&env, dir.path()).await,
            gate: tokio::sync::Semaphore::new(0),
            started: tokio::sync::Notify::new(),
            exports: AtomicU64::new(0),
            last_len: AtomicU64::new(0),
        });
        let tracer = Tracer::new(&env, vec![gated.clone()], TraceConfig::default());
        let s = tracer.start("burst");
        s.record("first", None, serde_json::Value::Null);
        s.snapshot();
        gated.started.notified().await;
        for i in 0..50 {
            s.record(&format!("burst {i}"), None, serde_json::Value::Null);
            s.snapshot();
        }
        gated.gate.add_permits(1000);
        s.settled().await;
        assert_eq!(gated.exports.load(Ordering::SeqCst), 2, "the write in flight and one follow-up");
        assert_eq!(s.stats().follow_ups, 1);
        assert_eq!(gated.last_len.load(Ordering::SeqCst), 51, "the follow-up carries the whole burst");
        assert_eq!(read_doc(&gated.inner.path_for("burst")).events.len(), 51);
    });
}

#[test]
fn flush_holds_every_event_and_end_trace_returns_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let file = open(&env, dir.path()).await;
        let tracer = Tracer::new(&env, vec![file.clone()], TraceConfig::default());
        let s = tracer.start("a:b/../c");
        for i in 0..200 {
            s.record(&format!("e{i}"), Some(i % 3), serde_json::json!({ "i": i }));
            if i % 7 == 0 {
                s.snapshot();
            }
        }
        s.flush().await.expect("flush");
        let path = file.path_for("a:b/../c");
        assert_eq!(path.parent(), Some(dir.path()), "the id cannot steer the path");
        let doc = read_doc(&path);
        assert_eq!(doc.events.len(), 200);
        assert!(doc.events.iter().enumerate().all(|(i, e)| e.name == format!("e{i}")));
        let ended = s.end_trace(Status::Completed).await;
        assert_eq!(ended.path.as_deref(), Some(path.as_path()));
        assert!(ended.error.is_none());
        assert_eq!(read_doc(&path).status, Status::Completed);
        assert_eq!(s.record("late", None, serde_json::Value::Null), None, "nothing records after the end");
        assert!(tmp_files(dir.path()).is_empty());
    });
}

/// A file system that fails chosen operations once, with a chosen kind.
struct Faulty {
    inner: RealFs,
    fail: Mutex<Vec<(&'static str, io::ErrorKind)>>,
}

impl Faulty {
    fn take(&self, op: &FsOp) -> Option<io::ErrorKind> {
        let mut fail = self.fail.lock().expect("lock");
        let i = fail.iter().position(|(name, _)| *name == op.name())?;
        Some(fail.remove(i).1)
    }
}

impl Fs for Faulty {
    fn exec(&self, op: FsOp) -> BoxFuture<'_, io::Result<FsOutput>> {
        match self.take(&op) {
            Some(kind) => Box::pin(async move { Err(io::Error::new(kind, "injected")) }),
            None => self.inner.exec(op),
        }
    }
    fn exec_blocking(&self, op: FsOp) -> io::Result<FsOutput> {
        match self.take(&op) {
            Some(kind) => Err(io::Error::new(kind, "injected")),
            None => self.inner.exec_blocking(op),
        }
    }
}

#[test]
fn storage_errors_surface_typed_leave_no_temporary_file_and_spare_the_trace() {
    for (op, kind) in
        [("write", io::ErrorKind::StorageFull), ("sync_file", io::ErrorKind::Other), ("rename", io::ErrorKind::Other)]
    {
        let dir = tempfile::tempdir().expect("tempdir");
        rt().block_on(async {
            let faulty = Arc::new(Faulty { inner: RealFs::new(), fail: Mutex::new(Vec::new()) });
            let env = Env { fs: faulty.clone(), ..Env::real().expect("env") };
            let file = open(&env, dir.path()).await;
            let tracer = Tracer::new(&env, vec![file.clone()], TraceConfig::default());
            let s = tracer.start("s");
            s.record("kept", None, serde_json::Value::Null);
            s.flush().await.expect("first flush");
            s.record("second", None, serde_json::Value::Null);
            faulty.fail.lock().expect("lock").push((op, kind));
            let err = s.flush().await.expect_err("the injected error surfaces");
            assert_eq!(err.io_kind(), Some(kind), "{op}: {err}");
            assert!(tmp_files(dir.path()).is_empty(), "{op}: litter {:?}", tmp_files(dir.path()));
            assert_eq!(read_doc(&file.path_for("s")).events.len(), 1, "{op}: the old version is intact");
            s.flush().await.expect("the next flush retries");
            assert_eq!(read_doc(&file.path_for("s")).events.len(), 2);
        });
    }
}

#[test]
fn one_sessions_crash_never_suppresses_another_through_a_shared_exporter() {
    let dir = tempfile::tempdir().expect("tempdir");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let file = open(&env, dir.path()).await;
        let tracer = Tracer::new(&env, vec![file.clone()], TraceConfig::default());
        let (a, b) = (tracer.start("a:b"), tracer.start("a_b"));
        a.record("a0", None, serde_json::Value::Null);
        b.record("b0", None, serde_json::Value::Null);
        a.crash_write().expect("crash write");
        b.record("b1", None, serde_json::Value::Null);
        b.flush().await.expect("b is not crashed");
        assert_eq!(read_doc(&file.path_for("a_b")).events.len(), 2);
        assert_eq!(read_doc(&file.path_for("a:b")).status, Status::Crashed);
        assert!(matches!(a.flush().await, Err(TraceError::Crashed(_))));
        let ended = a.end_trace(Status::Completed).await;
        assert_eq!(ended.status, Status::Crashed, "crash wins over the final write");
        assert_eq!(ended.path, Some(file.path_for("a:b")), "T8: the crashed file's path");
    });
}

/// The crash write from another OS thread (a panic hook) while exports run
/// on the runtime's workers: whenever it returns, the file reads crashed,
/// and stays so once the exports settle. 40 rounds, crash after a varying
/// number of snapshots.
#[test]
fn a_crash_write_racing_exports_on_real_threads_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let file = open(&env, dir.path()).await;
        let tracer = Tracer::new(&env, vec![file.clone()], TraceConfig::default());
        for round in 0..40u64 {
            let id = format!("race-{round}");
            let s = tracer.start(&id);
            let snapper = {
                let s = s.clone();
                tokio::spawn(async move {
                    for i in 0..200 {
                        s.record(&format!("e{i}"), None, serde_json::Value::Null);
                        s.snapshot();
                        tokio::task::yield_now().await;
                    }
                })
            };
            for _ in 0..(round % 8) * 5 {
                tokio::task::yield_now().await;
            }
            let crasher = s.clone();
            tokio::task::spawn_blocking(move || crasher.crash_write()).await.expect("join").expect("crash write");
            assert_eq!(read_doc(&file.path_for(&id)).status, Status::Crashed, "round {round}: right after");
            snapper.await.expect("snapper");
            s.settled().await;
            assert_eq!(read_doc(&file.path_for(&id)).status, Status::Crashed, "round {round}: after settling");
        }
        assert!(tmp_files(dir.path()).is_empty(), "litter: {:?}", tmp_files(dir.path()));
    });
}

/// An exporter that never answers (issue 15, T9).
struct Hung;

impl Exporter for Hung {
    fn export<'a>(&'a self, _doc: &'a TraceDoc) -> BoxFuture<'a, Result<Exported, TraceError>> {
        Box::pin(std::future::pending())
    }
    fn mark_crashed(&self, _id: &str) {}
    fn write_crashed(&self, _doc: &TraceDoc) -> Result<(), TraceError> {
        Ok(())
    }
    fn path(&self, _id: &str) -> Option<std::path::PathBuf> {
        None
    }
}

#[test]
fn end_trace_is_bounded_per_exporter_and_reports_a_hung_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let file = open(&env, dir.path()).await;
        let config = TraceConfig { exporter_timeout: std::time::Duration::from_millis(100), ..TraceConfig::default() };
        let tracer = Tracer::new(&env, vec![file.clone(), Arc::new(Hung)], config);
        let s = tracer.start("s");
        s.record("e", None, serde_json::Value::Null);
        let ended = tokio::time::timeout(std::time::Duration::from_secs(10), s.end_trace(Status::Completed))
            .await
            .expect("T9: end_trace returns whatever an exporter does");
        assert!(matches!(ended.error, Some(TraceError::ExporterTimeout { exporter: 1, .. })), "{:?}", ended.error);
        assert_eq!(ended.path.as_deref(), Some(file.path_for("s").as_path()));
        // The file exporter took the final version: the status reported is
        // the one its file holds.
        assert_eq!(read_doc(&file.path_for("s")).status, ended.status, "{ended:?}");
    });
}

#[test]
fn end_trace_never_reports_a_crash_the_file_does_not_hold() {
    let dir = tempfile::tempdir().expect("tempdir");
    rt().block_on(async {
        let faulty = Arc::new(Faulty { inner: RealFs::new(), fail: Mutex::new(Vec::new()) });
        let env = Env { fs: faulty.clone(), ..Env::real().expect("env") };
        let file = open(&env, dir.path()).await;
        let tracer = Tracer::new(&env, vec![file.clone()], TraceConfig::default());
        let s = tracer.start("s");
        s.record("e", None, serde_json::Value::Null);
        s.flush().await.expect("flush");
        faulty.fail.lock().expect("lock").push(("rename", io::ErrorKind::Other));
        assert!(s.crash_write().is_err(), "the crash write's rename fails (EIO)");
        assert_eq!(read_doc(&file.path_for("s")).status, Status::Running, "the file still holds running");
        // end_trace tries the crash write again (crash wins), and reports
        // what the file holds.
        let ended = s.end_trace(Status::Completed).await;
        assert!(ended.error.is_none(), "{:?}", ended.error);
        assert_eq!(ended.status, Status::Crashed);
        assert_eq!(read_doc(&file.path_for("s")).status, Status::Crashed);
    });
}

#[test]
fn finalize_sync_writes_completed_unless_crashed() {
    let dir = tempfile::tempdir().expect("tempdir");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let file = open(&env, dir.path()).await;
        let tracer = Tracer::new(&env, vec![file.clone()], TraceConfig::default());
        let a = tracer.start("a");
        a.record("e", None, serde_json::Value::Null);
        a.snapshot();
        let path = a.finalize_sync().expect("finalize").expect("a path");
        assert_eq!(read_doc(&path).status, Status::Completed);
        assert_eq!(read_doc(&path).events.len(), 1);
        let b = tracer.start("b");
        b.record("e", None, serde_json::Value::Null);
        b.crash_write().expect("crash");
        let again = b.finalize_sync().expect("finalize after a crash").expect("its path");
        assert_eq!(read_doc(&again).status, Status::Crashed, "crash wins; nothing written");
        // Let any snapshot in flight settle: the completed file stays.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(read_doc(&path).status, Status::Completed);
        assert!(tmp_files(dir.path()).is_empty());
    });
}

/// T10: a crash written through one exporter instance wins over exports of
/// the same session through another instance on the same directory (a
/// second process sharing it behaves the same: nothing is shared but the
/// directory). Exports race the crash write from the runtime's workers.
#[test]
fn crash_wins_across_exporter_instances_sharing_a_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let ours = open(&env, dir.path()).await;
        let theirs = open(&env, dir.path()).await;
        let crashing = Tracer::new(&env, vec![ours.clone()], TraceConfig::default());
        let exporting = Tracer::new(&env, vec![theirs.clone()], TraceConfig::default());
        for round in 0..30u64 {
            let id = format!("shared-{round}");
            let mirror = exporting.start(&id);
            let snapper = {
                let s = mirror.clone();
                tokio::spawn(async move {
                    for i in 0..200 {
                        s.record(&format!("e{i}"), None, serde_json::Value::Null);
                        s.snapshot();
                        tokio::task::yield_now().await;
                    }
                    s.settled().await;
                })
            };
            for _ in 0..(round % 6) * 7 {
                tokio::task::yield_now().await;
            }
            let s = crashing.start(&id);
            s.record("boom", None, serde_json::Value::Null);
            tokio::task::spawn_blocking(move || s.crash_write()).await.expect("join").expect("crash write");
            assert_eq!(read_doc(&ours.path_for(&id)).status, Status::Crashed, "round {round}: right after");
            snapper.await.expect("snapper");
            assert_eq!(read_doc(&ours.path_for(&id)).status, Status::Crashed, "round {round}: after settling");
            // A new event to export (a flush with nothing new returns Ok
            // without writing): the other instance refuses it.
            mirror.record("after the crash", None, serde_json::Value::Null);
            assert!(
                matches!(mirror.flush().await, Err(TraceError::Crashed(_))),
                "round {round}: the other instance refuses the crashed session"
            );
            assert_eq!(read_doc(&ours.path_for(&id)).status, Status::Crashed, "round {round}: after the refusal");
        }
        assert!(tmp_files(dir.path()).is_empty(), "litter: {:?}", tmp_files(dir.path()));
    });
}

/// A crashed id stays crashed in its directory, for a reused id in the same
/// process, a new exporter instance and a new tracer alike, until
/// `remove_trace` forgets it; then the id starts afresh.
#[test]
fn a_reused_crashed_id_stays_crashed_until_its_trace_is_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let file = open(&env, dir.path()).await;
        let tracer = Tracer::new(&env, vec![file.clone()], TraceConfig::default());
        let s = tracer.start("reused");
        s.record("e", None, serde_json::Value::Null);
        s.crash_write().expect("crash");
        assert!(file.crash_mark_for("reused").exists(), "the mark is on disk");
        // Until it ends, the tracer hands out the crashed session itself.
        assert_eq!(tracer.start("reused").record("late", None, serde_json::Value::Null), None);
        let ended = s.end_trace(Status::Completed).await;
        assert_eq!(ended.status, Status::Crashed);
        // A new session under the id: it records, but never lands.
        let again = tracer.start("reused");
        again.record("second life", None, serde_json::Value::Null);
        assert!(matches!(again.flush().await, Err(TraceError::Crashed(_))));
        // A new process (a new exporter instance and tracer) alike.
        let fresh = open(&env, dir.path()).await;
        let other = Tracer::new(&env, vec![fresh.clone()], TraceConfig::default()).start("reused");
        other.record("third life", None, serde_json::Value::Null);
        assert!(matches!(other.flush().await, Err(TraceError::Crashed(_))));
        let ended = other.end_trace(Status::Completed).await;
        assert_eq!(ended.status, Status::Crashed, "it reports what the file holds: {ended:?}");
        assert_eq!(read_doc(&file.path_for("reused")).events.len(), 1, "the crashed trace is untouched");
        // Removing the trace frees the id.
        fresh.remove_trace("reused").await.expect("remove");
        assert!(!file.crash_mark_for("reused").exists());
        let reborn = Tracer::new(&env, vec![fresh.clone()], TraceConfig::default()).start("reused");
        reborn.record("fresh", None, serde_json::Value::Null);
        reborn.flush().await.expect("a removed trace's id starts afresh");
        assert_eq!(read_doc(&file.path_for("reused")).status, Status::Running);
        fresh.remove_trace("never-existed").await.expect("removing nothing is fine");
    });
}

/// A crashed session ended by `finalize_sync` is ended like any other: the
/// tracer no longer hands it out, so once its trace is removed, a new
/// session under the id exports afresh (the `trace` scenario's T13 found it
/// kept: the id stayed crashed for good). And an old handle's second end
/// never closes the new session that holds its id.
#[test]
fn a_crashed_session_finalized_frees_its_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let sole = FileExporterConfig { sole_writer: true, ..FileExporterConfig::default() };
        for config in [FileExporterConfig::default(), sole] {
            let file = Arc::new(FileExporter::open(&env, dir.path(), config).await.expect("open"));
            let tracer = Tracer::new(&env, vec![file.clone()], TraceConfig::default());
            let old = tracer.start("gone");
            old.record("e", None, serde_json::Value::Null);
            old.crash_write().expect("crash");
            old.finalize_sync().expect("finalize after a crash").expect("its path");
            file.remove_trace("gone").await.expect("remove");
            let new = tracer.start("gone");
            assert_eq!(
                new.record("fresh", None, serde_json::Value::Null),
                Some(0),
                "a new session, not the crashed one"
            );
            new.flush().await.expect("a removed trace's id starts afresh");
            // The old handle ends again: the new session stays open.
            old.finalize_sync().expect("a second finalize");
            let _ = old.end_trace(Status::Completed).await;
            assert_eq!(
                tracer.start("gone").record("more", None, serde_json::Value::Null),
                Some(1),
                "still the new one"
            );
            let ended = new.end_trace(Status::Completed).await;
            assert_eq!(ended.status, Status::Completed);
            assert_eq!(read_doc(&file.path_for("gone")).events.len(), 2);
            file.remove_trace("gone").await.expect("clean up");
        }
    });
}

/// Crash marks in memory are bounded; a sole writer forgets the oldest
/// (documented), a shared directory keeps the mark on disk.
#[test]
fn crash_marks_in_memory_are_bounded() {
    use steadfast_core::trace::CRASH_MARKS_MAX;
    let dir = tempfile::tempdir().expect("tempdir");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let sole = FileExporterConfig { sole_writer: true, ..FileExporterConfig::default() };
        let file = Arc::new(FileExporter::open(&env, dir.path(), sole).await.expect("open"));
        let tracer = Tracer::new(&env, vec![file.clone()], TraceConfig::default());
        let first = tracer.start("first");
        first.crash_write().expect("crash");
        first.end_trace(Status::Completed).await;
        let shared = open(&env, dir.path()).await;
        let shared_tracer = Tracer::new(&env, vec![shared.clone()], TraceConfig::default());
        let marked = shared_tracer.start("marked");
        marked.crash_write().expect("crash");
        marked.end_trace(Status::Completed).await;
        // The public name of a mark is the file a crash write leaves, for
        // a plain id and one that needs encoding alike.
        for id in ["marked", "a:b/../c"] {
            shared_tracer.start(id).crash_write().expect("crash");
            let name = steadfast_core::trace::names::crash_mark_name(id);
            assert_eq!(shared.crash_mark_for(id), dir.path().join(&name), "{id:?}");
            assert!(dir.path().join(&name).is_file(), "{id:?}: no mark named {name:?}");
        }
        for i in 0..=CRASH_MARKS_MAX {
            file.mark_crashed(&format!("filler-{i}"));
            shared.mark_crashed(&format!("filler-{i}"));
        }
        // The sole writer forgot its oldest mark and writes the id again.
        let doc = TraceDoc {
            format: steadfast_core::trace::FORMAT,
            session_id: "first".into(),
            status: Status::Running,
            started_at_ms: 0,
            events: Vec::new(),
        };
        assert_eq!(file.export(&doc).await.expect("export"), Exported::Written);
        // The shared one forgot it in memory, but the mark on disk stands.
        let doc = TraceDoc { session_id: "marked".into(), ..doc };
        assert_eq!(shared.export(&doc).await.expect("export"), Exported::SkippedCrashed);
        assert_eq!(read_doc(&shared.path_for("marked")).status, Status::Crashed);
    });
}

/// The bound is the operator's: at it, every mark is kept; past it, the
/// oldest goes; a bound of zero is refused at open.
#[test]
fn the_crash_marks_bound_is_configurable() {
    let dir = tempfile::tempdir().expect("tempdir");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let config = |n| FileExporterConfig { sole_writer: true, crash_marks_max: n, ..FileExporterConfig::default() };
        let zero = FileExporter::open(&env, dir.path(), config(0)).await.expect_err("refused");
        assert_eq!(zero.kind(), io::ErrorKind::InvalidInput);
        let file = Arc::new(FileExporter::open(&env, dir.path(), config(2)).await.expect("open"));
        let doc = |id: &str| TraceDoc {
            format: steadfast_core::trace::FORMAT,
            session_id: id.into(),
            status: Status::Running,
            started_at_ms: 0,
            events: Vec::new(),
        };
        file.mark_crashed("a");
        file.mark_crashed("b");
        for id in ["a", "b"] {
            assert_eq!(file.export(&doc(id)).await.expect("export"), Exported::SkippedCrashed, "{id} at the bound");
        }
        file.mark_crashed("c");
        assert_eq!(file.export(&doc("a")).await.expect("export"), Exported::Written, "the oldest went");
        for id in ["b", "c"] {
            assert_eq!(file.export(&doc(id)).await.expect("export"), Exported::SkippedCrashed, "{id} stays");
        }
    });
}

/// A file system whose async fsync never answers (a hung mount).
struct StallingFsync {
    inner: RealFs,
}

impl Fs for StallingFsync {
    fn exec(&self, op: FsOp) -> BoxFuture<'_, io::Result<FsOutput>> {
        match op {
            FsOp::SyncFile(_) => Box::pin(std::future::pending()),
            op => self.inner.exec(op),
        }
    }
    fn exec_blocking(&self, op: FsOp) -> io::Result<FsOutput> {
        self.inner.exec_blocking(op)
    }
}

/// An export whose caller gives up mid-flight (a timed-out flush) is
/// forgotten at once: drain does not wait for it, and its temporary file
/// is litter that tidy removes.
#[test]
fn an_export_dropped_mid_flight_is_forgotten_and_its_file_tidied() {
    let dir = tempfile::tempdir().expect("tempdir");
    rt().block_on(async {
        let env = Env { fs: Arc::new(StallingFsync { inner: RealFs::new() }), ..Env::real().expect("env") };
        let config =
            FileExporterConfig { stale_tmp_age: std::time::Duration::from_secs(3600), ..FileExporterConfig::default() };
        let file = FileExporter::open(&env, dir.path(), config).await.expect("open");
        let doc = TraceDoc {
            format: steadfast_core::trace::FORMAT,
            session_id: "s".into(),
            status: Status::Running,
            started_at_ms: 0,
            events: Vec::new(),
        };
        let gave_up = tokio::time::timeout(std::time::Duration::from_millis(50), file.export(&doc)).await;
        assert!(gave_up.is_err(), "the fsync hangs");
        assert_eq!(tmp_files(dir.path()).len(), 1, "its temporary file is there");
        assert!(file.drain(std::time::Duration::from_millis(10)).await, "nothing is in flight any more");
        file.tidy().await.expect("tidy");
        assert!(tmp_files(dir.path()).is_empty(), "litter: {:?}", tmp_files(dir.path()));
    });
}

/// A directory at the trace's name is no trace: `end_trace` reports the
/// failed final rename and no path, never a completed trace that is not
/// there (a new user's trial got the directory's path with `Completed`).
#[test]
fn end_trace_never_reports_a_directory_as_the_trace() {
    let dir = tempfile::tempdir().expect("tempdir");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let file = open(&env, dir.path()).await;
        let path = file.path_for("s1");
        std::fs::create_dir(&path).expect("a directory at the trace's name");
        let tracer = Tracer::new(&env, vec![file.clone()], TraceConfig::default());
        let s = tracer.start("s1");
        s.record("e", None, serde_json::Value::Null);
        let ended = s.end_trace(Status::Completed).await;
        assert!(ended.error.is_some(), "the final rename over a directory fails: {ended:?}");
        assert_eq!(ended.path, None, "{ended:?}");
        assert!(path.is_dir(), "nothing replaced the directory");
    });
}

/// A trace directory that cannot be one (a file, a dangling symlink) is
/// refused with its error's kind, naming the step and the path (a
/// hostile-host trial read a bare "File exists (os error 17)").
#[test]
fn an_exporter_on_a_path_that_is_no_directory_names_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").expect("file");
    let dangling = dir.path().join("dangling");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).expect("symlink");
    rt().block_on(async {
        let env = Env::real().expect("env");
        for path in [&file, &dangling] {
            let e = FileExporter::open(&env, path, FileExporterConfig::default()).await.expect_err("not a directory");
            let text = e.to_string();
            assert!(text.contains("make the trace directory") && text.contains(&*path.to_string_lossy()), "{text}");
        }
    });
}
