//! The file-system conformance suite (DESIGN §6) against `RealFs`, each case
//! in a fresh `tempfile` directory, on a multi-threaded tokio runtime so that
//! racing operations really race.

use steadfast_core::conformance::CASES;
use steadfast_core::real::RealFs;

#[test]
fn real_fs_passes_every_conformance_case() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let fs = RealFs::new();
    let mut failures = Vec::new();
    for case in CASES {
        let dir = tempfile::tempdir().expect("tempdir");
        let (root, outside) = (dir.path().join("root"), dir.path().join("outside"));
        std::fs::create_dir(&root).expect("root");
        std::fs::create_dir(&outside).expect("outside");
        if let Err(why) = rt.block_on((case.run)(&fs, &root, &outside)) {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert!(CASES.len() >= 20, "the suite must keep at least 20 cases, has {}", CASES.len());
    assert!(failures.is_empty(), "RealFs fails {} of {} cases:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}

/// The `tokio_fs` and `std_fs` facades on real files (the ambient file
/// system outside a simulation), each case in a fresh directory.
#[test]
fn the_facades_pass_every_case_on_real_files() {
    use steadfast_core::conformance::FACADE_CASES;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut failures = Vec::new();
    for case in FACADE_CASES {
        let dir = tempfile::tempdir().expect("tempdir");
        if let Err(why) = rt.block_on((case.run)(dir.path())) {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert!(failures.is_empty(), "the facades fail on real files:\n{}", failures.join("\n"));
}

/// A FIFO planted where a file is expected is refused at open, to read or
/// to write, with the contract's `InvalidInput` and without blocking (the
/// simulated adapter refuses its special files the same way).
#[test]
fn real_fs_refuses_a_fifo_at_open_without_blocking() {
    use steadfast_core::{FsExt, OpenMode};
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    let fs = RealFs::new();
    let mut write = OpenMode::default();
    write.write = true;
    for (what, mode) in [("read", OpenMode::READ), ("write", write), ("create", OpenMode::CREATE)] {
        let e = fs.open_blocking(&fifo, mode).expect_err(what);
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{what}: {e}");
        assert_eq!(e.to_string(), steadfast_core::fs::not_a_regular_file().to_string(), "{what}");
    }
    // Asked for a directory, it is refused before it is opened.
    let e = fs.open_blocking(&fifo, OpenMode::READ.only_directory()).expect_err("a directory");
    assert_eq!(e.kind(), std::io::ErrorKind::NotADirectory, "{e}");
}

/// Every operation that opens a path refuses a FIFO planted there, at
/// once: a plain open(2) of a FIFO blocks until a peer comes (to write:
/// a reader; to read or fsync: a writer), and a crash write, a lock's
/// tail repair or a sink's append would hang with it (a new user's trial
/// found `write`, `append` and `sync_file` blocking forever). The
/// simulated adapter refuses its special files the same way. Each call
/// runs on its own thread, so a regression fails here instead of hanging
/// the suite.
#[test]
#[allow(clippy::disallowed_methods)] // a real thread per call: a regression must fail, not hang
fn real_fs_refuses_a_fifo_in_every_operation_that_opens_it() {
    use std::io::ErrorKind;
    use std::time::Duration;

    use steadfast_core::FsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
    type Call = fn(&RealFs, &std::path::Path) -> std::io::Result<()>;
    let calls: [(&str, Call, ErrorKind); 6] = [
        ("write", |fs, p| fs.write_blocking(p, b"x".to_vec()), ErrorKind::InvalidInput),
        ("append", |fs, p| fs.append_blocking(p, b"x\n".to_vec()), ErrorKind::InvalidInput),
        ("sync_file", |fs, p| fs.sync_file_blocking(p), ErrorKind::InvalidInput),
        ("sync_dir", |fs, p| fs.sync_dir_blocking(p), ErrorKind::InvalidInput),
        ("read", |fs, p| fs.read_blocking(p).map(drop), ErrorKind::InvalidInput),
        ("create_new", |fs, p| fs.create_new_blocking(p, b"x".to_vec()), ErrorKind::AlreadyExists),
    ];
    for (what, call, kind) in calls {
        let (tx, rx) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || {
            let _ = tx.send(call(&RealFs::new(), &path));
        });
        let result = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| panic!("{what} blocked on a FIFO"));
        let e = result.expect_err(what);
        assert_eq!(e.kind(), kind, "{what}: {e}");
        if kind == ErrorKind::InvalidInput {
            assert_eq!(e.to_string(), steadfast_core::fs::not_a_regular_file().to_string(), "{what}");
        }
    }
    // Still a FIFO: nothing replaced it or wrote through it.
    use std::os::unix::fs::FileTypeExt as _;
    assert!(std::fs::symlink_metadata(&fifo).expect("the fifo").file_type().is_fifo());
}
