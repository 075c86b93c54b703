//! The file-system conformance suite (DESIGN §6) against SimFs, case for
//! case the same table `core` runs against `RealFs`, in three worlds: no
//! latency, a slow mount where every effect lands at a seeded instant
//! inside its window, and the same run from a simulated node (whose blocking
//! calls stall it).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use steadfast_core::FsOp;
use steadfast_core::conformance::CASES;
use steadfast_sim::schedule::{Latency, Mount};
use steadfast_sim::{Schedule, World};

/// Run `check` in a fresh world (every operation on a slow mount if
/// `slow`) after creating `dirs`, from the harness or from a node of its
/// own; the failures it reports, in words.
fn in_world<F, Fut>(seed: u64, slow: bool, on_node: bool, dirs: Vec<FsOp>, check: F) -> Vec<String>
where
    F: Fn(World) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Vec<String>> + 'static,
{
    let mut schedule = Schedule::calm(seed, 600_000);
    if slow {
        schedule
            .mounts
            .push(Mount { prefix: "/".into(), latency: vec![Latency { ops: vec![], ms_min: 1, ms_max: 40 }] });
    }
    let rt = madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
    let failures: Arc<Mutex<Option<Vec<String>>>> = Arc::default();
    let (out, waiting) = (failures.clone(), failures.clone());
    let check = Arc::new(check);
    rt.block_on(async move {
        let world = World::new(schedule, &[], 0);
        world.start();
        // The facades find the world's file system, as under the runner.
        let _facade = steadfast_core::ambient::install(world.env().fs);
        world.setup(dirs);
        let body = move |w: World| {
            let (out, check) = (out.clone(), check.clone());
            async move {
                let found = check(w).await;
                *out.lock().expect("lock") = Some(found);
            }
        };
        if on_node {
            world.add_node("conformance", body);
            while waiting.lock().expect("lock").is_none() {
                madsim::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        } else {
            body(world.clone()).await;
        }
    });
    failures.lock().expect("lock").take().unwrap_or_else(|| vec!["the check never finished".into()])
}

fn run_suite(seed: u64, slow: bool, on_node: bool) -> Vec<String> {
    let dirs =
        CASES.iter().flat_map(|c| [FsOp::CreateDirAll(root(c.name)), FsOp::CreateDirAll(outside(c.name))]).collect();
    in_world(seed, slow, on_node, dirs, |w: World| async move {
        let env = w.env();
        let mut failures = Vec::new();
        for case in CASES {
            if let Err(why) = (case.run)(env.fs.as_ref(), &root(case.name), &outside(case.name)).await {
                failures.push(format!("{}: {why}", case.name));
            }
        }
        failures
    })
}

fn root(case: &str) -> PathBuf {
    PathBuf::from("/conf/root").join(case)
}

fn outside(case: &str) -> PathBuf {
    PathBuf::from("/conf/outside").join(case)
}

#[test]
fn sim_fs_passes_every_conformance_case_without_latency() {
    let failures = run_suite(1, false, false);
    assert!(failures.is_empty(), "SimFs fails {} of {} cases:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}

#[test]
fn sim_fs_passes_every_conformance_case_on_a_slow_mount() {
    for seed in 0..5 {
        let failures = run_suite(seed, true, false);
        assert!(failures.is_empty(), "seed {seed}: SimFs fails:\n{}", failures.join("\n"));
    }
}

#[test]
fn sim_fs_passes_every_conformance_case_from_a_stalling_node() {
    for seed in 0..3 {
        let failures = run_suite(seed, true, true);
        assert!(failures.is_empty(), "seed {seed}: SimFs fails:\n{}", failures.join("\n"));
    }
}

/// The `tokio_fs` and `std_fs` facades on SimFs, installed as the ambient
/// file system as the runner installs it, from the harness and from a node
/// (where the blocking twin stalls it), with and without latency.
fn run_facade_suite(seed: u64, slow: bool, on_node: bool) -> Vec<String> {
    use steadfast_core::conformance::FACADE_CASES;
    let dirs = FACADE_CASES.iter().map(|c| FsOp::CreateDirAll(root(c.name))).collect();
    in_world(seed, slow, on_node, dirs, |_: World| async move {
        let mut failures = Vec::new();
        for case in FACADE_CASES {
            if let Err(why) = (case.run)(&root(case.name)).await {
                failures.push(format!("{}: {why}", case.name));
            }
        }
        failures
    })
}

#[test]
fn the_facades_pass_every_case_on_sim_fs() {
    for (seed, slow, on_node) in [(1, false, false), (2, true, false), (3, true, true), (4, false, true)] {
        let failures = run_facade_suite(seed, slow, on_node);
        assert!(
            failures.is_empty(),
            "seed {seed} slow {slow} node {on_node}: the facades fail:\n{}",
            failures.join("\n")
        );
    }
}
