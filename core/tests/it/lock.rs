//! `lock` on the real file system: upstream's proof ported (a competing
//! acquire fails while a hung compaction holds the lock and succeeds at once
//! after cleanup, transcript intact), fencing after abandonment, and several
//! OS processes contending for one lock while one holder is SIGKILLed.

#![allow(clippy::disallowed_methods)] // real processes and threads: this is the real-OS test

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use steadfast_core::Env;
use steadfast_core::lock::{LockConfig, LockError, LockManager, lock_path};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn config(acquire_timeout: Duration) -> LockConfig {
    LockConfig {
        acquire_timeout,
        retry_min: Duration::from_millis(2),
        retry_max: Duration::from_millis(20),
        takeover_grace: Duration::from_secs(2),
        unreadable_grace: Duration::from_secs(1),
        ..LockConfig::default()
    }
}

#[test]
fn a_hung_compaction_blocks_until_cleanup_then_the_lock_is_free_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let session = dir.path().join("s.jsonl");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let holder = LockManager::new(&env, config(Duration::from_secs(5)));
        let attempt = holder.attempt();
        let first = attempt.acquire(&session).await.expect("acquire");
        first.append(b"{\"turn\":1}\n").await.expect("append");
        first.release().await.expect("release for the prompt");
        // Post-run compaction reacquires, then hangs (we just never finish).
        let compaction = attempt.acquire(&session).await.expect("reacquire");
        compaction.append(b"{\"compacted\":true}\n").await.expect("append");
        let before = std::fs::read(&session).expect("transcript");
        // Another turn of the same process (one manager per process).
        // Every public lock type prints with `{:?}`, so `expect_err` and
        // `assert!(.., "{r:?}")` work on their results.
        let busy = holder.acquire_within(&session, Duration::ZERO).await.expect_err("held by the hung compaction");
        let printed = format!("{compaction:?} {holder:?} {attempt:?}");
        assert!(printed.contains("s.jsonl.lock") && printed.contains("holds: 2"), "{printed}");
        assert!(matches!(busy, LockError::Timeout { owner: Some(_), .. }), "{busy}");
        assert!(busy.to_string().contains(&format!("pid {}", std::process::id())), "L3 names the owner: {busy}");
        assert_eq!(attempt.abandon_in_flight().await, 1);
        assert_eq!(attempt.abandon_in_flight().await, 0, "idempotent");
        assert!(!lock_path(&session).exists(), "the lock file is gone when cleanup returns");
        let next = holder.acquire_within(&session, Duration::ZERO).await.expect("free on the first try after cleanup");
        let late = compaction.append(b"{\"late\":true}\n").await;
        assert!(matches!(late, Err(LockError::Takeover { .. })), "L1: {late:?}");
        next.append(b"{\"turn\":2}\n").await.expect("append");
        next.release().await.expect("release");
        let after = std::fs::read(&session).expect("transcript");
        assert!(after.starts_with(&before), "transcript bytes intact");
        assert_eq!(&after[before.len()..], b"{\"turn\":2}\n");
    });
}

/// RealFs, except that one append armed with `tear` lands half its bytes,
/// waits 50 ms and fails (an NFS write cut short).
struct TearOneAppend {
    inner: steadfast_core::real::RealFs,
    tear: std::sync::atomic::AtomicBool,
}

impl steadfast_core::Fs for TearOneAppend {
    fn exec(
        &self,
        op: steadfast_core::FsOp,
    ) -> steadfast_core::BoxFuture<'_, std::io::Result<steadfast_core::FsOutput>> {
        use std::sync::atomic::Ordering;
        match op {
            steadfast_core::FsOp::Append { path, data } if self.tear.swap(false, Ordering::SeqCst) => {
                Box::pin(async move {
                    let half = data[..data.len() / 2].to_vec();
                    self.inner.exec(steadfast_core::FsOp::Append { path, data: half }).await?;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Err(std::io::Error::other("injected: the append failed part-way"))
                })
            }
            op => self.inner.exec(op),
        }
    }
    fn exec_blocking(&self, op: steadfast_core::FsOp) -> std::io::Result<steadfast_core::FsOutput> {
        self.inner.exec_blocking(op)
    }
}

/// Two tasks append through one guard at once; the first one's append
/// fails after half its line landed. The other's line must not land after
/// that half (a broken line mid-file, L6): appends of one hold take turns
/// at the tail, and the partial line is cut first.
#[test]
fn appends_from_two_tasks_take_turns_and_a_torn_one_is_cut_before_the_next() {
    let dir = tempfile::tempdir().expect("tempdir");
    let session = dir.path().join("s.jsonl");
    rt().block_on(async {
        let fs = std::sync::Arc::new(TearOneAppend {
            inner: steadfast_core::real::RealFs::new(),
            tear: std::sync::atomic::AtomicBool::new(false),
        });
        let env = Env { fs: fs.clone(), ..Env::real().expect("env") };
        let manager = LockManager::new(&env, config(Duration::from_secs(5)));
        let guard = manager.acquire(&session).await.expect("acquire");
        guard.append(b"{\"first\":1}\n").await.expect("append");
        fs.tear.store(true, std::sync::atomic::Ordering::SeqCst);
        let (a, b) = tokio::join!(guard.append(b"{\"torn\":\"aaaaaaaaaaaaaaaa\"}\n"), async {
            // Issued while the first is in flight.
            tokio::time::sleep(Duration::from_millis(10)).await;
            guard.append(b"{\"b\":2}\n").await
        });
        assert!(matches!(a, Err(LockError::Io { .. })), "the torn append reports its error: {a:?}");
        b.expect("the other append lands");
        guard.append(b"{\"c\":3}\n").await.expect("append");
        guard.release().await.expect("release");
        let text = std::fs::read_to_string(&session).expect("transcript");
        assert_eq!(text, "{\"first\":1}\n{\"b\":2}\n{\"c\":3}\n", "whole lines only, none lost");
    });
}

#[test]
fn release_never_deletes_a_lock_someone_else_holds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let session = dir.path().join("s.jsonl");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let a = LockManager::new(&env, config(Duration::from_secs(5)));
        let attempt = a.attempt();
        let g = attempt.acquire(&session).await.expect("acquire");
        attempt.abandon_in_flight().await;
        let b = LockManager::new(&env, config(Duration::from_secs(5)));
        let h = b.acquire(&session).await.expect("acquire after cleanup");
        g.release().await.expect("a released guard releases again as a no-op");
        assert!(lock_path(&session).exists(), "L5: B's lock survives A's late release");
        h.release().await.expect("release");
        assert!(!lock_path(&session).exists());
    });
}

const CHILD_DIR: &str = "STEADFAST_LOCK_CHILD_DIR";
const CHILD_HANG: &str = "STEADFAST_LOCK_CHILD_HANG";
const ROUNDS: u32 = 15;
const CONTENDERS: usize = 3;

fn log_line(dir: &Path, what: &str) {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("log")).expect("log");
    f.write_all(format!("{what} {}\n", std::process::id()).as_bytes()).expect("log write");
}

/// Not a test: the body of one contending process, run by
/// `processes_contending_for_one_lock_never_overlap` (it passes the
/// directory in the environment). Ignored so that a plain `cargo test`
/// does not run it on its own.
#[test]
#[ignore = "helper process of processes_contending_for_one_lock_never_overlap"]
fn lock_contender_process() {
    let Some(dir) = std::env::var_os(CHILD_DIR).map(PathBuf::from) else { return };
    let hang = std::env::var_os(CHILD_HANG).is_some();
    rt().block_on(async {
        let env = Env::real().expect("env");
        let manager = LockManager::new(&env, config(Duration::from_secs(30)));
        let session = dir.join("s.jsonl");
        for round in 0..if hang { 1 } else { ROUNDS } {
            let guard = manager.acquire(&session).await.expect("acquire");
            log_line(&dir, "enter");
            for k in 0..3 {
                let line = format!("{{\"pid\":{},\"round\":{round},\"k\":{k}}}\n", std::process::id());
                guard.append(line.as_bytes()).await.expect("append");
            }
            if hang {
                log_line(&dir, "hanging");
                std::future::pending::<()>().await;
            }
            log_line(&dir, "exit");
            guard.release().await.expect("release");
        }
    });
}

fn spawn_child(dir: &Path, hang: bool) -> std::process::Child {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args(["--exact", "lock::lock_contender_process", "--ignored", "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if hang {
        cmd.env(CHILD_HANG, "1");
    }
    cmd.spawn().expect("spawn contender")
}

fn read_log(dir: &Path) -> Vec<(String, u32)> {
    std::fs::read_to_string(dir.join("log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (what, pid) = l.split_once(' ')?;
            Some((what.to_string(), pid.parse().ok()?))
        })
        .collect()
}

/// Several OS processes take the same lock file in turns while one holder
/// is SIGKILLed holding it: the survivors recover the dead owner's lock, no
/// two processes are ever inside at once (an append-only log of enter/exit
/// records, and the parent's own "killing" record), and the transcript has
/// only whole lines.
#[test]
fn processes_contending_for_one_lock_never_overlap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut hanger = spawn_child(dir.path(), true);
    // Wait (bounded) until the hanger holds the lock.
    for _ in 0..2_000 {
        if read_log(dir.path()).iter().any(|(w, _)| w == "hanging") {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(read_log(dir.path()).iter().any(|(w, _)| w == "hanging"), "the hanger never took the lock");
    let contenders: Vec<_> = (0..CONTENDERS).map(|_| spawn_child(dir.path(), false)).collect();
    std::thread::sleep(Duration::from_millis(100));
    // Logged before the kill: the hanger does nothing from here on, so an
    // enter after this record is a recovery, not an overlap.
    log_line(dir.path(), "killing");
    hanger.kill().expect("SIGKILL");
    hanger.wait().expect("reap");
    for mut c in contenders {
        assert!(c.wait().expect("wait").success(), "a contender failed");
    }
    let log = read_log(dir.path());
    let hanger_pid = hanger.id();
    let mut inside: Option<u32> = None;
    for (what, pid) in &log {
        match what.as_str() {
            "enter" => {
                assert!(inside.is_none(), "{pid} entered while {inside:?} was inside: {log:?}");
                inside = Some(*pid);
            }
            "exit" => {
                assert_eq!(inside, Some(*pid), "{log:?}");
                inside = None;
            }
            "killing" => {
                assert_eq!(inside, Some(hanger_pid), "nobody entered while the hanger held the lock: {log:?}");
                inside = None;
            }
            _ => {}
        }
    }
    let entries = log.iter().filter(|(w, _)| w == "enter").count();
    assert_eq!(entries, 1 + CONTENDERS * ROUNDS as usize);
    let transcript = std::fs::read_to_string(dir.path().join("s.jsonl")).expect("transcript");
    assert!(transcript.ends_with('\n'));
    for line in transcript.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("torn line {line:?}: {e}"));
    }
    assert_eq!(transcript.lines().count(), 3 * entries);
}

#[test]
fn a_half_written_lock_file_is_recovered_after_its_grace_and_not_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let session = dir.path().join("s.jsonl");
    std::fs::write(lock_path(&session), b"{\"pid\":12").expect("a writer crashed mid-write");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let patient = LockManager::new(
            &env,
            LockConfig { unreadable_grace: Duration::from_secs(3600), ..config(Duration::ZERO) },
        );
        let young = patient.acquire(&session).await.expect_err("still within its grace");
        assert!(matches!(young, LockError::Timeout { owner: None, .. }), "{young}");
        let manager =
            LockManager::new(&env, LockConfig { unreadable_grace: Duration::ZERO, ..config(Duration::from_secs(5)) });
        let g = manager.acquire(&session).await.expect("recovered");
        assert_eq!(g.owner().pid, std::process::id());
        g.release().await.expect("release");
    });
}

/// The lock record of a real process that held the lock and exited, with
/// a start time no live process has: even if its pid is reused by the
/// time we look, the lock is stale (reused pid) rather than held.
pub(crate) fn dead_owner_record(nonce: u64, max_hold_ms: u64) -> String {
    let mut child = Command::new("true").spawn().expect("spawn");
    let dead = child.id();
    child.wait().expect("reap");
    format!(
        "{{\"pid\":{dead},\"start_time\":1,\"nonce\":{nonce},\"acquired_at_ms\":1,\"max_hold_ms\":{max_hold_ms},\"fence\":1}}"
    )
}

#[test]
fn a_dead_owners_lock_is_taken_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let session = dir.path().join("s.jsonl");
    std::fs::write(lock_path(&session), dead_owner_record(7, 300_000)).expect("write");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let g = LockManager::new(&env, config(Duration::from_secs(5))).acquire(&session).await.expect("taken over");
        g.append(b"{\"after\":\"takeover\"}\n").await.expect("append");
        g.release().await.expect("release");
    });
    assert!(!lock_path(&session).exists());
    assert!(!dir.path().join("s.jsonl.lock.takeover.0000000000000007").exists(), "the claim is removed");
}

/// Session file names at the limit: a 200-byte name (`SESSION_NAME_MAX`)
/// is locked, its dead owner's lock taken over (claims and clears fit in a
/// file name) and its torn tail repaired; a 201-byte name is refused at
/// once with `InvalidInput`, instead of a lock no one could take over
/// after its holder died (a hostile-host trial: acquire timed out for
/// good, blaming the dead pid).
#[test]
fn a_session_name_is_locked_up_to_its_limit_and_refused_past_it() {
    use steadfast_core::lock::SESSION_NAME_MAX;
    assert_eq!(SESSION_NAME_MAX, 200);
    let dir = tempfile::tempdir().expect("tempdir");
    let longest = dir.path().join("s".repeat(SESSION_NAME_MAX));
    std::fs::write(lock_path(&longest), dead_owner_record(7, 300_000)).expect("write");
    std::fs::write(&longest, b"{\"whole\":1}\n{\"torn\":").expect("torn transcript");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let manager = LockManager::new(&env, config(Duration::from_secs(5)));
        let g = manager.acquire(&longest).await.expect("a dead owner's lock, taken over");
        g.append(b"{\"after\":2}\n").await.expect("append after the repair");
        g.release().await.expect("release");
        let past = dir.path().join("s".repeat(SESSION_NAME_MAX + 1));
        let refused = manager.acquire(&past).await.expect_err("past the limit");
        let LockError::Io { source, .. } = &refused else { panic!("{refused}") };
        assert_eq!(source.kind(), std::io::ErrorKind::InvalidInput, "{refused}");
        assert!(refused.to_string().contains("at most 200 bytes"), "{refused}");
    });
    assert_eq!(std::fs::read(&longest).expect("read"), b"{\"whole\":1}\n{\"after\":2}\n");
    let only_the_transcript = vec!["s".repeat(SESSION_NAME_MAX)];
    assert_eq!(crate::lock_hostile::names(dir.path()), only_the_transcript, "no litter");
}

/// A session may not be named as the lock's litter (`*.lock`,
/// `*.lock.takeover.*`, `*.repair`): `sweep_stale` would remove its
/// transcript (a hostile-host trial saw a held session `car.repair`
/// deleted). Such a name is refused at once; a name that only contains
/// `.repair` or `.lock` is not.
#[test]
fn a_session_named_as_lock_litter_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let manager = LockManager::new(&env, config(Duration::from_secs(5)));
        for name in ["car.repair", "db.lock", "x.lock.takeover.0000000000000007", "s.jsonl.repair.00000000000000ab"] {
            let refused = manager.acquire(&dir.path().join(name)).await.expect_err(name);
            let LockError::Io { source, .. } = &refused else { panic!("{name}: {refused}") };
            assert_eq!(source.kind(), std::io::ErrorKind::InvalidInput, "{name}: {refused}");
            assert!(refused.to_string().contains("sweep_stale would remove it"), "{refused}");
        }
        for name in ["car.repairs", "db.locked", "a.repair.log"] {
            let g = manager.acquire(&dir.path().join(name)).await.expect(name);
            g.release().await.expect("release");
        }
    });
}
