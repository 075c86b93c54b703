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
