//! `retention` on the real file system: a tempfile directory with a few
//! thousand telemetry files, symlinks out of the root and to the protected
//! file, names outside the allow-list and a live pid's files; one sweep
//! must delete only what it may (R1) and leave every kind within its
//! ceilings (R2). Lazy sinks create their file on the first write (R5).

#![allow(clippy::disallowed_methods)] // real files dated by the real clock: this is the real-OS test

use std::path::Path;
use std::time::Duration;

use steadfast_core::Env;
use steadfast_core::retention::{
    Kept, Kind, LazySink, OrphanPolicy, RetentionPolicy, SessionIndex, sweep_dir, sweep_orphans,
};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn write(p: &Path, bytes: usize) {
    std::fs::write(p, vec![b'x'; bytes]).expect("write");
}

#[test]
fn a_sweep_deletes_only_what_it_may_and_meets_the_ceilings() {
    let root = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    let dir = root.path();
    let own = std::process::id();
    for i in 0..3_000u32 {
        let kind = if i % 2 == 0 { "traces" } else { "metrics" };
        write(&dir.join(format!("{kind}-{}.jsonl", 4_000_000 + i)), (i % 7) as usize * 100);
    }
    write(&dir.join(format!("traces-{own}.jsonl")), 10);
    write(&dir.join("secret_access.jsonl"), 10);
    write(&dir.join("notes.txt"), 10);
    write(&dir.join("traces-1.json"), 10);
    write(&outside.path().join("precious"), 10);
    std::os::unix::fs::symlink(outside.path().join("precious"), dir.join("traces-5000001.jsonl")).expect("symlink");
    std::os::unix::fs::symlink(outside.path(), dir.join("metrics-5000002.jsonl")).expect("symlink");
    std::os::unix::fs::symlink("secret_access.jsonl", dir.join("metrics-5000003.jsonl")).expect("symlink");
    let kind = |p: &str| Kind { prefix: p.into(), suffix: ".jsonl".into(), files_max: 100, bytes_max: 20_000 };
    let policy = RetentionPolicy {
        kinds: vec![kind("traces-"), kind("metrics-")],
        protected: vec!["secret_access.jsonl".into()],
        age_floor: Duration::ZERO,
        deletions_max: 10_000,
    };
    let report = rt().block_on(async { sweep_dir(&Env::real().expect("env"), dir, &policy).await });
    assert_eq!(report.examined, report.listed);
    assert_eq!(report.errors, 0, "{report:?}");
    assert_eq!(report.kept.get(&Kept::Symlink), Some(&3));
    for name in ["secret_access.jsonl", "notes.txt", "traces-1.json", &format!("traces-{own}.jsonl")] {
        assert!(dir.join(name).exists(), "R1: {name} was deleted");
    }
    assert!(outside.path().join("precious").exists(), "R1: followed a symlink out of the root");
    for link in ["traces-5000001.jsonl", "metrics-5000002.jsonl", "metrics-5000003.jsonl"] {
        assert!(dir.join(link).symlink_metadata().is_ok(), "R1: symlink {link} deleted");
    }
    for k in &policy.kinds {
        let files: Vec<_> = std::fs::read_dir(dir)
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with(&k.prefix) && n.ends_with(&k.suffix)))
            .collect();
        let bytes: u64 = files.iter().map(|e| e.metadata().expect("meta").len()).sum();
        // The live pid's file counts toward the totals and may hold one over.
        assert!(
            files.len() <= k.files_max + 1 && bytes <= k.bytes_max + 10,
            "R2: {} {} files {bytes} bytes",
            k.prefix,
            files.len()
        );
    }
    let kept_alive = report.kept.get(&Kept::LivePid).copied().unwrap_or(0);
    let within = report.kept.get(&Kept::WithinCeiling).copied().unwrap_or(0);
    assert_eq!(report.deleted + within + kept_alive, 3_001, "every kind file accounted for: {report:?}");
}

struct Rows(Vec<&'static str>);

impl SessionIndex for Rows {
    fn is_live<'a>(&'a self, ws: &'a str) -> steadfast_core::BoxFuture<'a, std::io::Result<bool>> {
        Box::pin(async move { Ok(self.0.contains(&ws)) })
    }
}

#[test]
fn orphan_sweep_removes_at_most_its_cap_and_never_a_live_or_linked_workspace() {
    let root = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    for w in 0..15 {
        std::fs::create_dir_all(root.path().join(format!("ws-{w}")).join("src")).expect("mkdir");
        write(&root.path().join(format!("ws-{w}")).join("src").join("f"), 10);
    }
    write(&outside.path().join("precious"), 1);
    std::os::unix::fs::symlink(outside.path(), root.path().join("ws-link")).expect("symlink");
    let rows = Rows(vec!["ws-0", "ws-1"]);
    let policy = OrphanPolicy { age_floor: Duration::ZERO, removals_max: 10 };
    let env_rt = rt();
    let first = env_rt.block_on(async { sweep_orphans(&Env::real().expect("env"), root.path(), &rows, &policy).await });
    assert_eq!(first.deleted, 10, "{first:?}");
    assert_eq!(first.kept.get(&Kept::Capped), Some(&3), "{first:?}");
    let second =
        env_rt.block_on(async { sweep_orphans(&Env::real().expect("env"), root.path(), &rows, &policy).await });
    assert_eq!(second.deleted, 3, "{second:?}");
    assert!(root.path().join("ws-0").exists() && root.path().join("ws-1").exists(), "R1: a live workspace went");
    assert!(outside.path().join("precious").exists(), "R1: followed the symlink");
    assert!(root.path().join("ws-link").symlink_metadata().is_ok());
}

#[test]
fn a_lazy_sink_creates_its_directory_at_once_and_its_file_on_first_write() {
    let root = tempfile::tempdir().expect("tempdir");
    let path = root.path().join("telemetry").join("traces-1.jsonl");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let sink = LazySink::open(&env, &path).await.expect("open");
        assert!(path.parent().expect("parent").is_dir(), "the directory is created eagerly");
        assert!(!path.exists(), "R5: no file before the first write");
        sink.write_line("{\"a\":1}").await.expect("write");
        sink.write_line("{\"a\":2}").await.expect("write");
        assert!(sink.write_line("two\nlines").await.is_err());
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "{\"a\":1}\n{\"a\":2}\n");
        let bad = LazySink::open(&env, Path::new("/proc/version/x/traces.jsonl")).await;
        assert!(bad.is_err(), "a bad directory is reported at construction");
    });
}

/// Hostile-host cases of issue 15 (R5, R6): a file dated next year is no
/// exemption from ceilings; a sink whose directory was removed recreates
/// it; deleting a workspace that is already gone is done.
#[test]
fn a_future_mtime_does_not_exempt_a_file_from_the_ceilings() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path();
    let next_year = std::time::SystemTime::now() + Duration::from_secs(365 * 24 * 3600);
    let soon = std::time::SystemTime::now() + Duration::from_secs(60);
    for (name, when) in [("traces-4000001.jsonl", next_year), ("traces-4000002.jsonl", soon)] {
        write(&dir.join(name), 10);
        std::fs::File::options().write(true).open(dir.join(name)).expect("open").set_modified(when).expect("touch");
    }
    let policy = |age_floor| RetentionPolicy {
        kinds: vec![Kind { prefix: "traces-".into(), suffix: ".jsonl".into(), files_max: 0, bytes_max: 0 }],
        protected: vec![],
        age_floor,
        deletions_max: 10,
    };
    // A year ahead is no age: the file ages from its touch (its ctime), so
    // with an hour's floor it is young now, as a file written now would be.
    let report =
        rt().block_on(async { sweep_dir(&Env::real().expect("env"), dir, &policy(Duration::from_secs(3600))).await });
    assert!(dir.join("traces-4000001.jsonl").exists(), "young by its touch: {report:?}");
    // Past the floor (zero here) it goes, ceilings of zero being what they
    // are: the date next year exempts nothing (R6).
    let report = rt().block_on(async { sweep_dir(&Env::real().expect("env"), dir, &policy(Duration::ZERO)).await });
    assert!(!dir.join("traces-4000001.jsonl").exists(), "R6: a year ahead is no exemption: {report:?}");
    // A minute ahead is clock skew: young, kept until the clock passes it.
    assert!(dir.join("traces-4000002.jsonl").exists(), "{report:?}");
}

/// A file dated into the future sorts by its touch, not after every honest
/// file: with room for one, the file touched before an honest file was
/// written goes first.
#[test]
fn a_future_mtime_does_not_outrank_honest_files() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path();
    write(&dir.join("traces-4000001.jsonl"), 10);
    let far = std::time::SystemTime::now() + Duration::from_secs(10 * 365 * 24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(dir.join("traces-4000001.jsonl"))
        .expect("open")
        .set_modified(far)
        .expect("touch");
    std::thread::sleep(Duration::from_millis(20));
    write(&dir.join("traces-4000002.jsonl"), 10);
    let policy = RetentionPolicy {
        kinds: vec![Kind { prefix: "traces-".into(), suffix: ".jsonl".into(), files_max: 1, bytes_max: 1 << 20 }],
        protected: vec![],
        age_floor: Duration::ZERO,
        deletions_max: 10,
    };
    let report = rt().block_on(async { sweep_dir(&Env::real().expect("env"), dir, &policy).await });
    assert!(!dir.join("traces-4000001.jsonl").exists(), "the touched file is the older: {report:?}");
    assert!(dir.join("traces-4000002.jsonl").exists(), "the newest honest file stays: {report:?}");
}

#[test]
fn a_lazy_sink_recreates_its_removed_directory_and_a_gone_workspace_is_deleted() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("telemetry");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let sink = LazySink::open(&env, dir.join("events.jsonl")).await.expect("open");
        sink.write_line("{\"a\":1}").await.expect("first record");
        std::fs::remove_dir_all(&dir).expect("an operator removes the directory");
        sink.write_line("{\"b\":2}").await.expect("R5: the next record recreates the directory");
        assert_eq!(std::fs::read(dir.join("events.jsonl")).expect("read"), b"{\"b\":2}\n");
        steadfast_core::retention::delete_workspace_blocking(&env, root.path(), "never-existed")
            .expect("deleting a workspace that is not there is done");
    });
}

#[test]
fn a_lazy_sink_cuts_a_previous_fragment_but_keeps_and_ends_a_longer_unterminated_tail() {
    let root = tempfile::tempdir().expect("tempdir");
    let (short, long) = (root.path().join("short.jsonl"), root.path().join("long.jsonl"));
    std::fs::write(&short, b"{\"a\":1}\n{\"b\":").expect("a previous writer's fragment");
    let foreign = vec![b'x'; 5_000];
    let mut with_tail = b"{\"a\":1}\n".to_vec();
    with_tail.extend_from_slice(&foreign);
    std::fs::write(&long, &with_tail).expect("a longer unterminated line, no sink's");
    rt().block_on(async {
        let env = Env::real().expect("env");
        for path in [&short, &long] {
            let sink = LazySink::open(&env, path).await.expect("open");
            sink.write_line("{\"c\":3}").await.expect("a record");
        }
    });
    assert_eq!(std::fs::read(&short).expect("read"), b"{\"a\":1}\n{\"c\":3}\n");
    with_tail.extend_from_slice(b"\n{\"c\":3}\n");
    assert!(std::fs::read(&long).expect("read") == with_tail, "the long tail is kept whole, on a line of its own");
}

/// A symlink planted at a sink's path (its name is predictable) never aims
/// the sink's appends, or its cut of a fragment, at another file: the
/// write fails with `ELOOP`, the other file is untouched, and once the
/// symlink is gone the sink writes again. A symlinked directory above the
/// file is followed as before.
#[test]
fn a_lazy_sink_never_writes_through_a_symlink_at_its_path() {
    use steadfast_core::fs::ELOOP;
    let root = tempfile::tempdir().expect("tempdir");
    let (victim, sink_path) = (root.path().join("victim"), root.path().join("app.log"));
    // A fragment at the victim's end: the first write's cut would take it.
    std::fs::write(&victim, b"another user's file\npartial").expect("victim");
    std::os::unix::fs::symlink(&victim, &sink_path).expect("planted symlink");
    let dangling = root.path().join("dangling.log");
    std::os::unix::fs::symlink(root.path().join("nowhere"), &dangling).expect("dangling symlink");
    let real_dir = root.path().join("real");
    std::fs::create_dir(&real_dir).expect("dir");
    std::os::unix::fs::symlink(&real_dir, root.path().join("linked")).expect("symlinked directory");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let sink = LazySink::open(&env, &sink_path).await.expect("open");
        // The first write's cut meets the symlink; then one that lands
        // (the symlink replaced by the sink's file), after which the
        // append itself meets a new symlink, and the next write's cut of
        // that failed append's fragment meets it again.
        let e = sink.write_line("{\"a\":1}").await.expect_err("a cut through the symlink");
        assert_eq!(e.raw_os_error(), Some(ELOOP), "{e}");
        std::fs::remove_file(&sink_path).expect("remove the symlink");
        sink.write_line("{\"0\":0}").await.expect("a record");
        std::fs::remove_file(&sink_path).expect("a hostile user removes the file");
        std::os::unix::fs::symlink(&victim, &sink_path).expect("and plants a symlink");
        for _ in 0..2 {
            let e = sink.write_line("{\"a\":1}").await.expect_err("a write through the symlink");
            assert_eq!(e.raw_os_error(), Some(ELOOP), "{e}");
        }
        let gone = LazySink::open(&env, &dangling).await.expect("open");
        let e = gone.write_line("{\"b\":2}").await.expect_err("a create through a dangling symlink");
        assert_eq!(e.raw_os_error(), Some(ELOOP), "{e}");
        assert!(!root.path().join("nowhere").exists(), "nothing created at the dangling symlink's target");
        std::fs::remove_file(&sink_path).expect("the symlink is taken away");
        sink.write_line("{\"c\":3}").await.expect("the sink writes again");
        let linked = LazySink::open(&env, root.path().join("linked").join("x.log")).await.expect("open");
        linked.write_line("{\"d\":4}").await.expect("a symlinked directory above the file is followed");
    });
    assert_eq!(std::fs::read(&victim).expect("read"), b"another user's file\npartial");
    assert_eq!(std::fs::read(&sink_path).expect("read"), b"{\"c\":3}\n");
    assert_eq!(std::fs::read(real_dir.join("x.log")).expect("read"), b"{\"d\":4}\n");
}

#[test]
fn the_memory_watch_skips_a_sample_whose_file_went_missing() {
    use std::sync::{Arc, Mutex};
    use steadfast_core::liveness::{MemoryEvent, MemoryWatchConfig, memory_watch};
    let root = tempfile::tempdir().expect("tempdir");
    let path = root.path().join("memory.current");
    std::fs::write(&path, b"5\n").expect("write");
    let events: Arc<Mutex<Vec<MemoryEvent>>> = Arc::default();
    rt().block_on(async {
        let env = Env::real().expect("env");
        let config = MemoryWatchConfig { path: path.clone(), interval: Duration::from_millis(5), threshold_bytes: 10 };
        let seen = events.clone();
        let task = memory_watch(&env, config, Box::new(move |e| seen.lock().expect("events").push(e)));
        tokio::time::sleep(Duration::from_millis(30)).await;
        std::fs::remove_file(&path).expect("the cgroup file goes away for a while");
        tokio::time::sleep(Duration::from_millis(30)).await;
        std::fs::write(&path, b"50\n").expect("and comes back, above the threshold");
        for _ in 0..200 {
            if !events.lock().expect("events").is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        task.abort();
    });
    assert_eq!(*events.lock().expect("events"), vec![MemoryEvent::Above { bytes: 50 }], "still watching");
}

/// The real file system, except that the `at`th step on an entry of `dir`
/// (a `symlink_metadata` of a path under it, or a look or a removal
/// through the open directory; `at` 0: the listing of `dir` itself) first
/// renames `dir` away and puts `replacement` in its place: a symlink to
/// it, or (`renamed_in`) the directory itself. A hostile user with write
/// access to the parent, timed exactly (the race a helper's trial won
/// with a thread). `plain`: it offers no listing with metadata and no
/// operations on an open directory's entries (`Unsupported`), so the
/// sweep looks at each entry to judge it, and those looks count too, and
/// removes by path.
struct SwapAt {
    inner: std::sync::Arc<dyn steadfast_core::Fs>,
    dir: std::path::PathBuf,
    replacement: std::path::PathBuf,
    renamed_in: bool,
    at: usize,
    plain: bool,
    looks: std::sync::atomic::AtomicUsize,
}

impl SwapAt {
    /// The real environment on `rt`, its file system swapping `dir` for
    /// `replacement` at look `at`.
    fn env(
        rt: &tokio::runtime::Runtime,
        dir: &Path,
        replacement: &Path,
        (renamed_in, plain): (bool, bool),
        at: usize,
    ) -> Env {
        let mut env = rt.block_on(async { Env::real() }).expect("env");
        env.fs = std::sync::Arc::new(SwapAt {
            inner: env.fs.clone(),
            dir: dir.to_path_buf(),
            replacement: replacement.to_path_buf(),
            renamed_in,
            at,
            plain,
            looks: Default::default(),
        });
        env
    }

    /// `Unsupported` for a listing with metadata, when `plain`.
    fn refuse(&self, op: &steadfast_core::FsOp) -> Option<std::io::Error> {
        use steadfast_core::FsOp::{ReadDirMetadata, RemoveFileAt, StatAt};
        let refused = self.plain && matches!(op, ReadDirMetadata(_) | StatAt { .. } | RemoveFileAt { .. });
        refused.then(|| std::io::Error::from(std::io::ErrorKind::Unsupported))
    }

    fn swap_if_due(&self, op: &steadfast_core::FsOp) {
        let due = match op {
            steadfast_core::FsOp::ReadDir(p) | steadfast_core::FsOp::ReadDirMetadata(p) => {
                self.at == 0 && *p == self.dir
            }
            steadfast_core::FsOp::SymlinkMetadata(p)
            | steadfast_core::FsOp::StatAt { path: p, .. }
            | steadfast_core::FsOp::RemoveFileAt { path: p, .. }
                if p.parent() == Some(self.dir.as_path()) =>
            {
                self.looks.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == self.at
            }
            _ => false,
        };
        if !due {
            return;
        }
        std::fs::rename(&self.dir, self.dir.with_extension("moved")).expect("rename the swept directory away");
        if self.renamed_in {
            std::fs::rename(&self.replacement, &self.dir).expect("rename another directory in");
        } else {
            std::os::unix::fs::symlink(&self.replacement, &self.dir).expect("symlink in its place");
        }
    }
}

impl steadfast_core::Fs for SwapAt {
    fn exec(
        &self,
        op: steadfast_core::FsOp,
    ) -> steadfast_core::BoxFuture<'_, std::io::Result<steadfast_core::FsOutput>> {
        if let Some(e) = self.refuse(&op) {
            return Box::pin(async move { Err(e) });
        }
        self.swap_if_due(&op);
        self.inner.exec(op)
    }

    fn exec_blocking(&self, op: steadfast_core::FsOp) -> std::io::Result<steadfast_core::FsOutput> {
        if let Some(e) = self.refuse(&op) {
            return Err(e);
        }
        self.swap_if_due(&op);
        self.inner.exec_blocking(op)
    }
}

/// A swept directory renamed away mid-sweep, a symlink or another
/// directory put in its place (R1): nothing of the replacement is deleted,
/// whenever the swap lands (in the looks that judge candidates, in the
/// looks just before removals, or between a look and its removal).
/// Before the fix, a swap in the judging looks deleted the replacement's
/// files (a helper's trial: 15,066 of 20,000). With a listing that
/// carries metadata and removals through the open directory, the steps
/// are each removal's look and the removal (the swap at step 2 lands
/// between the first look and its removal, the race a removal by path
/// cannot close), and the sweep deletes what the ceiling needs, all of it
/// in the directory it listed. Through an adapter without those (`plain`),
/// looks 1..=300 judge the candidates and the removals' looks follow (a
/// file's, then the directory's): the report counts what was left once the
/// swap was met as changed.
#[test]
fn a_sweep_never_deletes_in_a_directory_swapped_into_its_place() {
    let names: Vec<String> = (0..300).map(|i| format!("traces-{}.jsonl", 4_000_000 + i)).collect();
    let policy = RetentionPolicy {
        kinds: vec![Kind { prefix: "traces-".into(), suffix: ".jsonl".into(), files_max: 100, bytes_max: 1 << 30 }],
        protected: vec![],
        age_floor: Duration::ZERO,
        deletions_max: 10_000,
    };
    let listed = [(0, true), (0, false), (1, false), (2, true), (2, false), (100, true), (199, false)]
        .map(|(a, r)| (a, r, false));
    let plain =
        [(0, true), (1, false), (150, true), (299, false), (301, true), (400, false)].map(|(a, r)| (a, r, true));
    for (at, renamed_in, plain) in listed.into_iter().chain(plain) {
        let base = tempfile::tempdir().expect("tempdir");
        let (dir, outside) = (base.path().join("telemetry"), base.path().join("outside"));
        for d in [&dir, &outside] {
            std::fs::create_dir(d).expect("mkdir");
            for n in &names {
                write(&d.join(n), 10);
            }
        }
        let rt = rt();
        let env = SwapAt::env(&rt, &dir, &outside, (renamed_in, plain), at);
        let report = rt.block_on(async { sweep_dir(&env, &dir, &policy).await });
        let outside_now = if renamed_in { dir.clone() } else { outside.clone() };
        let left = std::fs::read_dir(&outside_now).expect("list the replacement").count();
        assert_eq!(left, names.len(), "R1: swap at look {at} (renamed in: {renamed_in}, plain: {plain}): {report:?}");
        let moved_left = std::fs::read_dir(dir.with_extension("moved")).expect("list the moved directory").count();
        // The sweep deleted in the directory it listed until the swap, and
        // counted every file it had not dealt with (one error for the
        // removal that found the swap, the rest changed).
        assert_eq!(moved_left, names.len() - report.deleted, "swap at look {at}: {report:?}");
        if at == 0 {
            // Replaced while it was listed: not swept, one error.
            assert_eq!((report.listed, report.errors, report.deleted), (0, 1, 0), "{report:?}");
            continue;
        }
        let kept: usize = report.kept.values().sum();
        assert_eq!(report.deleted + kept + report.changed + report.errors, report.examined, "{report:?}");
        if plain {
            assert!(report.errors + report.changed > 0, "swap at look {at}: {report:?}");
        } else {
            assert_eq!((report.deleted, report.errors, report.changed), (200, 0, 0), "swap at step {at}: {report:?}");
        }
    }
}

/// A swept path that is a symlink is not swept (its target may be anyone's
/// directory): one error, nothing deleted. So for a workspace root.
#[test]
fn a_sweep_of_a_path_that_is_a_symlink_deletes_nothing() {
    let base = tempfile::tempdir().expect("tempdir");
    let (target, link) = (base.path().join("target"), base.path().join("link"));
    std::fs::create_dir(&target).expect("mkdir");
    for i in 0..10 {
        write(&target.join(format!("traces-{}.jsonl", 4_000_000 + i)), 10);
        std::fs::create_dir(target.join(format!("ws-{i}"))).expect("mkdir");
    }
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let policy = RetentionPolicy {
        kinds: vec![Kind { prefix: "traces-".into(), suffix: ".jsonl".into(), files_max: 0, bytes_max: 0 }],
        protected: vec![],
        age_floor: Duration::ZERO,
        deletions_max: 100,
    };
    let orphans = OrphanPolicy { age_floor: Duration::ZERO, removals_max: 100 };
    // With a trailing slash too (the system would follow the link).
    let slashed = std::path::PathBuf::from(format!("{}/", link.display()));
    let reports = rt().block_on(async {
        let env = Env::real().expect("env");
        let mut reports = Vec::new();
        for path in [&link, &slashed] {
            reports.push(sweep_dir(&env, path, &policy).await);
            reports.push(sweep_orphans(&env, path, &Rows(vec![]), &orphans).await);
        }
        reports
    });
    for r in &reports {
        assert_eq!((r.errors, r.deleted, r.listed), (1, 0, 0), "{r:?}");
    }
    assert_eq!(std::fs::read_dir(&target).expect("list").count(), 20);
}

/// A workspace root swapped for a symlink to another root mid-sweep: no
/// workspace of the other root is removed.
#[test]
fn an_orphan_sweep_never_removes_in_a_root_swapped_into_its_place() {
    // With a listing that carries metadata, the looks are each
    // workspace's look after its lookup (one per workspace); through a
    // plain adapter, one before and one after.
    for (at, plain) in [(1, false), (3, false), (5, false), (1, true), (3, true), (5, true)] {
        let base = tempfile::tempdir().expect("tempdir");
        let (root, outside) = (base.path().join("workspaces"), base.path().join("outside"));
        for d in [&root, &outside] {
            for w in 0..6 {
                std::fs::create_dir_all(d.join(format!("ws-{w}")).join("src")).expect("mkdir");
            }
        }
        let rt = rt();
        let env = SwapAt::env(&rt, &root, &outside, (false, plain), at);
        let policy = OrphanPolicy { age_floor: Duration::ZERO, removals_max: 10 };
        let report = rt.block_on(async { sweep_orphans(&env, &root, &Rows(vec![]), &policy).await });
        assert_eq!(
            std::fs::read_dir(&outside).expect("list").count(),
            6,
            "R1: swap at look {at} ({plain}): {report:?}"
        );
        // Met as an error (a root look found the swap) or as changes (a
        // workspace's identity look did, through the swap, first).
        assert!(report.errors + report.changed > 0 && report.deleted < 6, "swap at look {at} ({plain}): {report:?}");
    }
}

/// Names that are not UTF-8 (a Latin-1 host name) are of a kind all the
/// same: over the ceiling they go, oldest first, like any other. (Before,
/// a sweep kept them as of no kind: such files grew past every ceiling.)
#[test]
fn names_that_are_not_utf8_are_swept_like_any_other() {
    use std::os::unix::ffi::OsStringExt;
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path();
    let name = |i: u32| {
        let mut n = b"traces-h\xf6st-".to_vec();
        n.extend_from_slice(format!("{}.jsonl", 4_000_000 + i).as_bytes());
        std::ffi::OsString::from_vec(n)
    };
    for i in 0..20 {
        write(&dir.join(name(i)), 10);
    }
    let policy = RetentionPolicy {
        kinds: vec![Kind { prefix: "traces-".into(), suffix: ".jsonl".into(), files_max: 5, bytes_max: 1 << 20 }],
        protected: vec![],
        age_floor: Duration::ZERO,
        deletions_max: 100,
    };
    let report = rt().block_on(async { sweep_dir(&Env::real().expect("env"), dir, &policy).await });
    assert_eq!((report.deleted, report.kept.get(&Kept::WithinCeiling)), (15, Some(&5)), "{report:?}");
    assert_eq!(std::fs::read_dir(dir).expect("list").count(), 5);
}

/// The real file system, except that the workspace `name` under `root`,
/// once cloned again (`recloned`), reports the inode its first directory
/// had (ext4 and xfs hand a freed inode to the next directory made), and
/// every listing dates its entries a day back (old enough for any floor).
struct InodeReuse {
    inner: std::sync::Arc<dyn steadfast_core::Fs>,
    path: std::path::PathBuf,
    first_id: std::sync::Mutex<Option<u64>>,
    recloned: std::sync::atomic::AtomicBool,
}

impl steadfast_core::Fs for InodeReuse {
    fn exec(
        &self,
        op: steadfast_core::FsOp,
    ) -> steadfast_core::BoxFuture<'_, std::io::Result<steadfast_core::FsOutput>> {
        use steadfast_core::{FsOp, FsOutput, Metadata};
        Box::pin(async move {
            let day_back = |m: &Metadata| {
                let old = m.modified - Duration::from_secs(86_400);
                Metadata::new(m.kind, m.len, old, old, m.id)
            };
            let looked_at = matches!(&op, FsOp::SymlinkMetadata(p) if *p == self.path);
            match self.inner.exec(op).await? {
                FsOutput::EntriesMetadata(entries) => {
                    let entries = entries.into_iter().map(|(e, m)| (e, m.as_ref().map(day_back))).collect::<Vec<_>>();
                    for (e, m) in &entries {
                        if self.path.file_name() == Some(e.name.as_os_str()) {
                            *self.first_id.lock().expect("first id") = m.as_ref().map(|m| m.id);
                        }
                    }
                    Ok(FsOutput::EntriesMetadata(entries))
                }
                FsOutput::Metadata(m) if looked_at && self.recloned.load(std::sync::atomic::Ordering::SeqCst) => {
                    let id = self.first_id.lock().expect("first id").unwrap_or(m.id);
                    Ok(FsOutput::Metadata(Metadata::new(m.kind, m.len, m.modified, m.changed, id)))
                }
                other => Ok(other),
            }
        })
    }

    fn exec_blocking(&self, op: steadfast_core::FsOp) -> std::io::Result<steadfast_core::FsOutput> {
        self.inner.exec_blocking(op)
    }
}

/// A session index that has not seen the row of a workspace cloned again
/// while the sweep asked about it (the row is written first, the lookup
/// lags): it removes and clones the workspace anew, then answers "no row".
struct LaggingIndex<'a> {
    fs: &'a InodeReuse,
}

impl SessionIndex for LaggingIndex<'_> {
    fn is_live<'a>(&'a self, _: &'a str) -> steadfast_core::BoxFuture<'a, std::io::Result<bool>> {
        Box::pin(async move {
            std::fs::remove_dir_all(&self.fs.path).expect("remove the old workspace");
            std::fs::create_dir_all(self.fs.path.join("src")).expect("clone it again");
            self.fs.recloned.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(false)
        })
    }
}

/// A workspace removed and cloned again under its name while an orphan
/// sweep judged it, from a listing minutes old, is young: it stays, even
/// where the new directory has the old one's inode (the identity look
/// cannot tell them apart, the floor can). Before session 27 the floor was
/// judged by a look right before the lookup; judged from the listing
/// alone, this removed the new workspace.
#[test]
fn an_orphan_sweep_keeps_a_workspace_cloned_again_with_its_old_inode() {
    let base = tempfile::tempdir().expect("tempdir");
    let root = base.path().join("workspaces");
    std::fs::create_dir_all(root.join("ws-0").join("src")).expect("mkdir");
    let rt = rt();
    let mut env = rt.block_on(async { Env::real() }).expect("env");
    let fs = std::sync::Arc::new(InodeReuse {
        inner: env.fs.clone(),
        path: root.join("ws-0"),
        first_id: Default::default(),
        recloned: Default::default(),
    });
    env.fs = fs.clone();
    let policy = OrphanPolicy { age_floor: Duration::from_secs(60), removals_max: 10 };
    let report = rt.block_on(async { sweep_orphans(&env, &root, &LaggingIndex { fs: &fs }, &policy).await });
    assert!(root.join("ws-0").join("src").is_dir(), "the new workspace was removed: {report:?}");
    assert_eq!((report.deleted, report.kept.get(&Kept::TooYoung).copied()), (0, Some(1)), "{report:?}");
}

/// A hostile host's telemetry directory: a FIFO and a socket named like a
/// kind, a directory and a dangling symlink named so too, beside old files
/// of dead pids. The listing that carries metadata looks at each without
/// opening it (a FIFO never blocks the sweep), and so does the look per
/// entry through an adapter without that listing; the sweep removes the
/// regular files only, keeping each of the others for what it is.
#[test]
fn a_sweep_lists_fifos_sockets_and_symlinks_without_touching_them() {
    let policy = RetentionPolicy {
        kinds: vec![Kind { prefix: "traces-".into(), suffix: ".jsonl".into(), files_max: 0, bytes_max: 0 }],
        protected: vec![],
        age_floor: Duration::ZERO,
        deletions_max: 100,
    };
    for plain in [false, true] {
        let base = tempfile::tempdir().expect("tempdir");
        let dir = base.path().join("telemetry");
        std::fs::create_dir(&dir).expect("mkdir");
        for i in 0..5 {
            write(&dir.join(format!("traces-{}.jsonl", 4_000_000 + i)), 10);
        }
        let fifo = dir.join("traces-4100000.jsonl");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
        let _socket = std::os::unix::net::UnixListener::bind(dir.join("traces-4100001.jsonl")).expect("socket");
        std::fs::create_dir(dir.join("traces-4100002.jsonl")).expect("mkdir");
        std::os::unix::fs::symlink(dir.join("missing"), dir.join("traces-4100003.jsonl")).expect("symlink");
        let rt = rt();
        // An adapter that never swaps (no look reaches usize::MAX), plain
        // or not.
        let env = SwapAt::env(&rt, &dir, base.path(), (false, plain), usize::MAX);
        let report = rt.block_on(async { sweep_dir(&env, &dir, &policy).await });
        assert_eq!((report.listed, report.deleted, report.errors), (9, 5, 0), "plain {plain}: {report:?}");
        assert_eq!(report.kept.get(&Kept::NotAKind), Some(&3), "FIFO, socket, directory ({plain}): {report:?}");
        assert_eq!(report.kept.get(&Kept::Symlink), Some(&1), "plain {plain}: {report:?}");
        let left = std::fs::read_dir(&dir).expect("list").count();
        assert_eq!(left, 4, "plain {plain}");
    }
}

/// A FIFO planted at a swept path is never opened: the sweep asks for a
/// directory (`O_DIRECTORY`), which the kernel refuses before the open
/// reaches the FIFO. A writer blocked in its open of the FIFO would be
/// released by any reader's open (a device's open may act as well), so
/// it stays blocked; the sweep reports the path as an error and deletes
/// nothing. (Before, the sweep's open of its directory took the FIFO for
/// reading and released the writer.)
#[test]
#[allow(clippy::disallowed_methods)] // a real thread: the writer blocked in open(2)
fn a_fifo_at_a_swept_path_is_never_opened() {
    use std::os::unix::fs::OpenOptionsExt as _;
    let base = tempfile::tempdir().expect("tempdir");
    let fifo = base.path().join("telemetry");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let (tx, rx) = std::sync::mpsc::channel();
    let path = fifo.clone();
    let writer = std::thread::spawn(move || {
        // Blocks until a reader opens the FIFO.
        let opened = std::fs::OpenOptions::new().write(true).open(&path).is_ok();
        let _ = tx.send(opened);
    });
    let policy = RetentionPolicy {
        kinds: vec![Kind { prefix: "traces-".into(), suffix: ".jsonl".into(), files_max: 0, bytes_max: 0 }],
        protected: vec![],
        age_floor: Duration::ZERO,
        deletions_max: 100,
    };
    let report = rt().block_on(async { sweep_dir(&Env::real().expect("env"), &fifo, &policy).await });
    assert_eq!((report.errors, report.listed, report.deleted), (1, 0, 0), "{report:?}");
    let released = rx.recv_timeout(Duration::from_millis(300));
    // Release the writer: open the FIFO for reading ourselves.
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(&fifo)
        .expect("open the FIFO to read");
    writer.join().expect("the writer");
    drop(reader);
    assert!(released.is_err(), "the sweep opened the FIFO at its path: a writer blocked on it was released");
}
