//! The `check` API: a failing `hold` scenario panics with its report, its
//! failing seeds are persisted and run first on the next check, and
//! coverage under the floor fails.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use steadfast_sim::runner::SweepOptions;
use steadfast_sim::world::{Invariant, LocalBoxFuture};
use steadfast_sim::{Expect, Scenario, Schedule, World};

const ODD: &[Invariant] = &[Invariant { id: "X1", statement: "even seeds only" }];

/// Breaks X1 on odd seeds.
struct OddSeedsFail;

impl Scenario for OddSeedsFail {
    fn name(&self) -> &'static str {
        "test/odd-seeds-fail"
    }
    fn expect(&self) -> Expect {
        Expect::Hold
    }
    fn description(&self) -> &'static str {
        "a hold scenario that breaks on odd seeds"
    }
    fn invariants(&self) -> &'static [Invariant] {
        ODD
    }
    fn schedule(&self, seed: u64) -> Schedule {
        Schedule::calm(seed, 10)
    }
    fn run<'a>(&'a self, world: &'a World) -> LocalBoxFuture<'a, ()> {
        Box::pin(async move {
            let seed = world.schedule().seed;
            world.check("X1", seed % 2 == 0, || format!("seed {seed} is odd"));
        })
    }
}

fn panics(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("the check must fail");
    err.downcast_ref::<String>().cloned().unwrap_or_default()
}

#[test]
fn failing_seeds_are_reported_persisted_and_run_first_next_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let regressions = Some(dir.path().to_path_buf());
    let msg = panics(|| drop(steadfast_sim::check(&OddSeedsFail).seeds(4).regressions(regressions.clone()).run()));
    assert!(msg.contains("2 of 4 seeds violate") && msg.contains("X1"), "{msg}");
    assert!(msg.contains("STEADFAST_SEED=1"), "the report says how to replay: {msg}");
    let test = "-p steadfast-sim --test it -- check::failing_seeds_are_reported_persisted_and_run_first_next_time";
    assert!(
        msg.contains(&format!("STEADFAST_SCENARIO='test/odd-seeds-fail' STEADFAST_SEED=1 cargo test {test} --exact")),
        "the replay command names this test: {msg}"
    );
    let file = dir.path().join("test_odd_seeds_fail.txt");
    assert!(
        msg.contains(&format!("kept:     seed 1 in {}", file.display())),
        "the report says it kept the seed: {msg}"
    );
    let persisted = std::fs::read_to_string(&file).expect("persisted");
    assert!(persisted.contains("seed 1 ") && persisted.contains("seed 3 "), "{persisted}");
    assert!(
        persisted.contains(&format!("STEADFAST_SEED=1 cargo test {test} --exact")),
        "a replay that works: {persisted}"
    );
    // Next time, even a sweep of only even seeds fails: seed 1 runs first.
    let msg = panics(|| drop(steadfast_sim::check(&OddSeedsFail).seeds(1).regressions(regressions.clone()).run()));
    assert!(msg.contains("seed 1"), "{msg}");
    // Without persistence the even seeds pass.
    let summary = steadfast_sim::check(&OddSeedsFail).seeds(1).regressions(None).run();
    assert_eq!(summary.violating, 0);
}

/// [`OddSeedsFail`] under another name.
fn renamed(name: &'static str) -> steadfast_sim::Built {
    steadfast_sim::scenario(name)
        .invariant("X1", "even seeds only")
        .schedule(|seed| Schedule::calm(seed, 10))
        .node("n", |w| async move {
            let seed = w.schedule().seed;
            w.check("X1", seed % 2 == 0, || format!("seed {seed} is odd"));
        })
        .build()
}

/// Two names that spell one regressions file (`kv/a` and `kv-a`) do not
/// share its seeds: the second is refused, naming both. A name with
/// quotes and `$` gets a plain file name, and a file an older steadfast
/// named with them is still read.
#[test]
fn regressions_files_name_their_scenario_and_never_mix_two() {
    let dir = tempfile::tempdir().expect("tempdir");
    let regressions = Some(dir.path().to_path_buf());
    let msg = panics(|| drop(steadfast_sim::check(&renamed("kv/a")).seeds(2).regressions(regressions.clone()).run()));
    assert!(msg.contains("1 of 2 seeds violate"), "{msg}");
    let kept = std::fs::read_to_string(dir.path().join("kv_a.txt")).expect("kept");
    assert!(kept.contains("# scenario: kv/a\n") && kept.contains("seed 1 "), "{kept}");
    let msg = panics(|| drop(steadfast_sim::check(&renamed("kv-a")).seeds(1).regressions(regressions.clone()).run()));
    assert!(
        msg.contains("keeps the seeds of scenario \"kv/a\", and \"kv-a\" spells the same file name"),
        "the collision is named: {msg}"
    );
    // Quotes and `$`: a plain file name; the old one's seeds still run.
    let odd = "it's $odd";
    std::fs::write(dir.path().join("it's_$odd.txt"), "seed 3 # kept by an older steadfast\n").expect("legacy file");
    let msg = panics(|| drop(steadfast_sim::check(&renamed(odd)).seeds(1).regressions(regressions.clone()).run()));
    assert!(msg.contains("seed 3"), "the legacy file's seed ran first: {msg}");
    let fresh = tempfile::tempdir().expect("tempdir");
    let msg =
        panics(|| drop(steadfast_sim::check(&renamed(odd)).seeds(2).regressions(Some(fresh.path().into())).run()));
    let plain = fresh.path().join("it_s__odd.txt");
    assert!(msg.contains(&format!("kept:     seed 1 in {}", plain.display())), "a plain file name: {msg}");
    let kept = std::fs::read_to_string(&plain).expect("kept");
    assert!(kept.contains("# scenario: it's $odd\n"), "{kept}");
}

/// Loops on a zero-latency operation: virtual time never moves.
struct Spinner;

impl Scenario for Spinner {
    fn name(&self) -> &'static str {
        "test/spinner"
    }
    fn expect(&self) -> Expect {
        Expect::Hold
    }
    fn description(&self) -> &'static str {
        "polls a file without end and without latency"
    }
    fn invariants(&self) -> &'static [Invariant] {
        ODD
    }
    fn schedule(&self, seed: u64) -> Schedule {
        Schedule::calm(seed, 10)
    }
    fn run<'a>(&'a self, world: &'a World) -> LocalBoxFuture<'a, ()> {
        Box::pin(async move {
            let fs = world.env().fs;
            loop {
                let _ = steadfast_core::FsExt::symlink_metadata(&*fs, "/nothing").await;
            }
        })
    }
}

/// Issue 16: a run whose virtual time stops advancing ends as RUN4 (it
/// used to hang: RUN1 is bounded in virtual time only), not as a panic.
#[test]
fn a_run_that_makes_no_progress_ends_as_run4() {
    let o = steadfast_sim::runner::run(&Spinner, 0, None, 64);
    let ids: Vec<&str> = o.violations.iter().map(|v| v.invariant.as_str()).collect();
    assert_eq!(ids, ["RUN4"], "{:?}", o.violations);
    assert!(o.violations[0].message.contains("symlink_metadata /nothing"), "{}", o.violations[0].message);
    let report = steadfast_sim::runner::failure_report(&Spinner, &o);
    assert!(report.contains("RUN4 promises: virtual time advances"), "{report}");
}

static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Records which run it is: no two runs agree from that event on.
struct Forgetful;

impl Scenario for Forgetful {
    fn name(&self) -> &'static str {
        "test/forgetful"
    }
    fn expect(&self) -> Expect {
        Expect::Hold
    }
    fn description(&self) -> &'static str {
        "notes a process-wide counter: not deterministic"
    }
    fn invariants(&self) -> &'static [Invariant] {
        ODD
    }
    fn schedule(&self, seed: u64) -> Schedule {
        Schedule::calm(seed, 10)
    }
    fn run<'a>(&'a self, world: &'a World) -> LocalBoxFuture<'a, ()> {
        Box::pin(async move {
            for step in ["open", "read", "write"] {
                world.note(step);
            }
            world.note(format!("run {}", RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst)));
            world.note("close");
        })
    }
}

/// Issue 16: RUN3 names the first differing event, both versions of it
/// and the common events before it.
#[test]
fn a_determinism_failure_names_the_first_differing_event() {
    let why = steadfast_sim::runner::check_determinism(&Forgetful, 0).expect_err("two runs differ");
    assert!(why.contains("the first difference is event 3, after 3 common events"), "{why}");
    for needle in ["common 0:", "common 2:", "write", "first run  3:", "second run 3:"] {
        assert!(why.contains(needle), "{needle} in {why}");
    }
    let lines: Vec<&str> = why.lines().filter(|l| l.contains(" run ")).collect();
    assert_eq!(lines.len(), 2, "{why}");
    assert_ne!(lines[0].split("run ").last(), lines[1].split("run ").last(), "{why}");
    let options = steadfast_sim::runner::SweepOptions { check_determinism: true, ..SweepOptions::jobs(1) };
    let mut messages = Vec::new();
    steadfast_sim::runner::sweep(&Forgetful, &[1], options, |o| {
        messages.extend(o.violations.iter().map(|v| (v.invariant.clone(), v.message.clone())));
        assert!(o.history.len() <= steadfast_sim::runner::SWEEP_HISTORY_KEEP);
    });
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0].0, "RUN3");
    assert!(messages[0].1.contains("first difference is event 3"), "{}", messages[0].1);
}

/// Run by `replay_variables_name_their_scenario_and_a_replay_prints_its_report`
/// in a child process with replay variables set; a quiet pass otherwise.
#[test]
fn probe_odd_seeds() {
    steadfast_sim::check(&OddSeedsFail).seeds(1).regressions(None).run();
}

fn probe(vars: &[(&str, &str)]) -> (bool, String) {
    probe_with(vars, &[])
}

fn probe_with(vars: &[(&str, &str)], args: &[&str]) -> (bool, String) {
    let exe = std::env::current_exe().expect("the test binary");
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["check::probe_odd_seeds", "--exact", "--nocapture", "--test-threads", "1"]).args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    for k in [
        "STEADFAST_SCENARIO",
        "STEADFAST_SEED",
        "STEADFAST_SCHEDULE",
        "STEADFAST_ARTIFACTS",
        "STEADFAST_SEEDS",
        "STEADFAST_REPORT_WINDOW",
    ] {
        if !vars.iter().any(|(v, _)| v == &k) {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().expect("run the probe");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

/// Issue 17: replay variables apply to the scenario they name; a replayed
/// seed always prints its report (here, one that holds); artifacts land
/// where asked.
#[test]
fn replay_variables_name_their_scenario_and_a_replay_prints_its_report() {
    let (ok, text) = probe(&[("STEADFAST_SCENARIO", "test/odd-seeds-fail"), ("STEADFAST_SEED", "3")]);
    assert!(!ok && text.contains("X1 at 0ms: seed 3 is odd"), "seed 3 replays and fails: {text}");
    // Once: the failure points at the report above, it does not repeat it.
    assert_eq!(text.matches("X1 at 0ms: seed 3 is odd").count(), 1, "the report, once: {text}");
    assert!(text.contains("test/odd-seeds-fail seed 3 (expect hold): the report is above"), "{text}");
    let (ok, text) = probe(&[("STEADFAST_SCENARIO", "someone/else"), ("STEADFAST_SEED", "3")]);
    assert!(
        ok && text.contains("skipping the check of test/odd-seeds-fail"),
        "another scenario's replay skips: {text}"
    );
    // Left over from an earlier replay, alone, it scopes nothing: the
    // check runs (a new user's suite went green with it exported).
    let (ok, text) = probe(&[("STEADFAST_SCENARIO", "someone/else")]);
    assert!(
        ok && text.contains("it scopes nothing") && text.contains("check test/odd-seeds-fail: 1 seeds"),
        "a leftover STEADFAST_SCENARIO skips nothing: {text}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let artifacts = dir.path().to_str().expect("utf8");
    let vars =
        [("STEADFAST_SCENARIO", "test/odd-seeds-fail"), ("STEADFAST_SEED", "2"), ("STEADFAST_ARTIFACTS", artifacts)];
    let (ok, text) = probe(&vars);
    assert!(ok && text.contains("seed 2: no violation (checks: X1=1)"), "a held replay says so: {text}");
    for ext in ["timeline.txt", "chrome.json", "schedule.json"] {
        let file = dir.path().join(format!("test_odd_seeds_fail-2.{ext}"));
        assert!(file.exists(), "{} was written: {text}", file.display());
    }
    let (_, text) = probe(&[
        ("STEADFAST_SCENARIO", "test/odd-seeds-fail"),
        ("STEADFAST_SEED", "5"),
        ("STEADFAST_ARTIFACTS", artifacts),
    ]);
    let shrunk = dir.path().join("test_odd_seeds_fail-5.shrunk.json");
    assert!(shrunk.exists(), "a failing replay writes its shrunk schedule: {text}");
    // A replayed schedule prints the command that replays that schedule.
    let file = dir.path().join("s.json");
    std::fs::write(&file, Schedule::calm(7, 10).to_json()).expect("write");
    let path = file.to_str().expect("utf8");
    let (ok, text) = probe(&[("STEADFAST_SCENARIO", "test/odd-seeds-fail"), ("STEADFAST_SCHEDULE", path)]);
    let replay = format!("STEADFAST_SCENARIO='test/odd-seeds-fail' STEADFAST_SCHEDULE='{path}' cargo test");
    assert!(!ok && text.contains(&replay), "{replay} in {text}");
}

/// A check run from an ignored test (`cargo test -- --ignored`) prints a
/// replay that runs it again: with `--include-ignored`, or the replay
/// reports "1 ignored" and passes. Without, the command has no such flag.
#[test]
fn a_replay_of_an_ignored_test_includes_it() {
    let vars = [("STEADFAST_SCENARIO", "test/odd-seeds-fail"), ("STEADFAST_SEED", "3")];
    let test = "-p steadfast-sim --test it -- check::probe_odd_seeds";
    for (args, flag) in [(&["--include-ignored"][..], " --include-ignored"), (&[][..], "")] {
        let (ok, text) = probe_with(&vars, args);
        let replay = format!("STEADFAST_SEED=3 cargo test {test}{flag} --exact --nocapture");
        assert!(!ok && text.contains(&replay), "{replay} in {text}");
    }
}

/// Every key of `acked` as the disk holds it now.
fn read_back(w: &World, acked: &steadfast_sim::Acked<String, u64>) -> std::collections::BTreeMap<String, u64> {
    let mut now = std::collections::BTreeMap::new();
    for key in acked.keys() {
        let value = w.peek_file(key.as_ref()).ok().and_then(|b| String::from_utf8(b).ok()?.parse().ok());
        now.extend(value.map(|v| (key, v)));
    }
    now
}

/// A writer that acknowledges a file replace with or without fsync, under
/// the stock storage faults; every (re)start reads back what it was told
/// was written: the missing fsync is caught by `Acked`.
fn acked_writer(fsync: bool) -> steadfast_sim::Built {
    let name = if fsync { "test/acked-with-fsync" } else { "test/acked-without-fsync" };
    acked_writer_as(fsync, name, if fsync { Expect::Hold } else { Expect::Violate })
}

fn acked_writer_as(fsync: bool, name: &'static str, expect: Expect) -> steadfast_sim::Built {
    use steadfast_core::FsExt;
    type Set = steadfast_sim::Acked<String, u64>;
    steadfast_sim::scenario(name)
        .expect(expect)
        .invariant("A1", "an acknowledged write survives a power loss and a restart")
        .setup([steadfast_core::FsOp::CreateDirAll("/d".into())])
        .node("app", move |w| async move {
            let (env, acked) = (w.env(), w.shared::<Set>());
            acked.check_all(&w, "A1", &read_back(&w, &acked));
            for i in 0u64.. {
                if w.now() >= w.chaos_end() {
                    break;
                }
                let (key, value) = (format!("/d/f{}", i % 5), w.now().as_nanos() as u64);
                let (tmp, data) = (format!("{key}.tmp"), value.to_string());
                acked.attempt(key.clone(), value);
                let done = async {
                    env.fs.write(&tmp, data).await?;
                    if fsync {
                        env.fs.sync_file(&tmp).await?;
                    }
                    env.fs.rename(&tmp, &key).await?;
                    env.fs.sync_dir("/d").await
                };
                if done.await.is_ok() {
                    acked.ack(&key, &value);
                }
                env.clock.sleep(std::time::Duration::from_millis(20)).await;
            }
        })
        .at_end(|w| async move {
            let acked = w.shared::<Set>();
            acked.check_all(&w, "A1", &read_back(&w, &acked));
        })
        .build()
}

/// Crash-point mode: the power is cut right after each call named, every
/// point of each seed is judged, and a failing point's report replays it
/// from its schedule file.
#[test]
fn crash_point_mode_judges_every_point_and_replays_a_failing_one() {
    let careful = acked_writer(true);
    let summary = steadfast_sim::check(&careful)
        .crash_points(&["sync_file", "rename", "sync_dir"], 4)
        .seeds(2)
        .regressions(None)
        .run();
    assert_eq!(summary.violating, 0);
    assert_eq!(summary.seeds, 2 * 3 * 4, "2 seeds x 3 kinds x 4 schedules (2 points, metadata lost or kept)");
    let careless = acked_writer_as(false, "test/acked-without-fsync-held", Expect::Hold);
    let dir = tempfile::tempdir().expect("tempdir");
    let msg = panics(|| {
        drop(
            steadfast_sim::check(&careless)
                .crash_points(&["rename"], 8)
                .seeds(1)
                .regressions(Some(dir.path().into()))
                .run(),
        )
    });
    assert!(msg.contains("A1") && msg.contains("STEADFAST_SCHEDULE="), "{msg}");
    let files: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").map(|e| e.expect("entry").path()).collect();
    assert_eq!(files.len(), 1, "the failing point's schedule, alone: {files:?}");
    assert!(msg.contains(&files[0].display().to_string()), "the report names it: {msg}");
    let schedule = Schedule::load(&files[0]).expect("a schedule");
    let o = steadfast_sim::runner::run(&careless, schedule.seed, Some(schedule), 100);
    assert!(o.violations.iter().any(|v| v.invariant == "A1"), "the point replays: {:?}", o.violations);
    // A coverage point of the seed's own schedule (its timed events are
    // not in a crash point's) is not required of a crash sweep.
    let rare = steadfast_sim::scenario("test/crash-coverage")
        .invariant("A1", "the file is there")
        .sometimes("a point no crash sweep reaches")
        .setup([steadfast_core::FsOp::CreateDirAll("/d".into())])
        .node("app", |w| async move {
            use steadfast_core::FsExt;
            let env = w.env();
            w.check("A1", true, String::new);
            let _ = env.fs.write("/d/f", b"x".to_vec()).await;
            let _ = env.fs.sync_file("/d/f").await;
        })
        .build();
    let why = panics(|| drop(steadfast_sim::check(&rare).seeds(1).regressions(None).run()));
    assert!(why.contains("coverage points never reached"), "a plain sweep requires it: {why}");
    let summary = steadfast_sim::check(&rare).crash_points(&["sync_file"], 2).seeds(1).regressions(None).run();
    assert_eq!((summary.seeds, summary.violating), (2, 0));
    let msg =
        panics(|| drop(steadfast_sim::check(&careful).crash_points(&["fsync"], 1).seeds(1).regressions(None).run()));
    assert!(msg.contains("no operation has that name"), "{msg}");
    let msg = panics(|| {
        drop(steadfast_sim::check(&careful).crash_points(&["remove_dir"], 1).seeds(1).regressions(None).run())
    });
    assert!(msg.contains("no crash point in 1 seeds"), "{msg}");
}

/// Issue 17: a scenario without trait boilerplate, the stock schedule and
/// the acknowledged-set check catch a missing fsync and pass a correct
/// writer.
#[test]
fn the_builder_and_acked_catch_a_missing_fsync() {
    steadfast_sim::check(&acked_writer(true)).seeds(300).regressions(None).run();
    steadfast_sim::check(&acked_writer(false)).seeds(300).regressions(None).run();
}

/// Walks a std `HashMap` and notes each key in its order: a history that
/// follows the map's per-thread keys (deterministic on a fresh thread
/// only, where madsim seeds them).
fn hash_ordered() -> steadfast_sim::Built {
    steadfast_sim::scenario("test/hash-ordered")
        .invariant("X1", "nothing to judge")
        .schedule(|seed| Schedule::calm(seed, 10))
        .node("walker", |w| async move {
            #[allow(clippy::disallowed_types)] // the point of the test
            let map: std::collections::HashMap<u32, ()> = (0..32).map(|k| (k, ())).collect();
            for k in map.keys() {
                w.note(format!("key {k}"));
            }
        })
        .build()
}

/// Issue 19: sweeps reuse their worker threads, and prove it safe. A
/// workload whose history follows a HashMap's order differs between a
/// reused thread and a fresh one; the sweep notices on its first seed and
/// runs every seed on a fresh thread, so every outcome is its replay's.
#[test]
fn a_sweep_reuses_threads_only_when_the_history_does_not_depend_on_them() {
    for jobs in [1, 3] {
        let seeds: Vec<u64> = (0..12).collect();
        let mut hashes = Vec::new();
        let sc = hash_ordered();
        let summary = steadfast_sim::runner::sweep(&sc, &seeds, SweepOptions::jobs(jobs), |o| {
            hashes.push((o.seed, o.history_hash));
        });
        let why = summary.fresh_threads.as_deref().expect("the dependence is found");
        assert!(why.starts_with("seed 0's history on a reused worker thread") && why.contains("HashMap"), "{why}");
        let replays: Vec<(u64, u64)> =
            seeds.iter().map(|&s| (s, steadfast_sim::runner::run(&sc, s, None, 0).history_hash)).collect();
        assert_eq!(hashes, replays, "jobs {jobs}: every outcome is its replay's");
    }
    let summary = steadfast_sim::runner::sweep(&OddSeedsFail, &[0, 1, 2], SweepOptions::jobs(2), |_| {});
    assert_eq!(summary.fresh_threads, None, "a workload of the seed alone keeps its threads");
}

/// Notes how many runs this process made before it: a history of
/// process-wide state, which differs on every run, fresh thread or not.
fn process_wide() -> steadfast_sim::Built {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    steadfast_sim::scenario("test/process-wide")
        .invariant("X1", "nothing to judge")
        .schedule(|seed| Schedule::calm(seed, 10))
        .node("counter", |w| async move {
            w.note(format!("run {}", RUNS.fetch_add(1, Ordering::Relaxed)));
        })
        .build()
}

/// A workload whose history follows process-wide state is not "thread
/// dependent" (no fresh thread cures it): two fresh runs of its first
/// seed disagree too, and the sweep reports RUN3, so `check` fails (a new
/// user's trial saw it pass with a note on stderr).
#[test]
fn a_workload_of_process_wide_state_fails_as_run3() {
    let sc = process_wide();
    for jobs in [1, 2] {
        let summary = steadfast_sim::runner::sweep(&sc, &[0, 1, 2], SweepOptions::jobs(jobs), |_| {});
        assert_eq!(summary.by_invariant.get("RUN3"), Some(&1), "jobs {jobs}: {:?}", summary.by_invariant);
        assert_eq!(summary.fresh_threads, None, "jobs {jobs}: not a per-thread dependence");
    }
    let why = panics(|| {
        steadfast_sim::check(&sc).seeds(3).jobs(1).regressions(None).run();
    });
    assert!(why.contains("RUN3") && why.contains("process-wide state"), "{why}");
}

/// `sweep_many` runs several scenarios on one set of workers, and
/// delivers what one sweep of each after the other would: every outcome
/// in order (scenario by scenario, seeds in order), each summary once its
/// scenario is done and in order, empty sweeps included; and a scenario
/// whose history depends on its thread still runs every seed fresh.
#[test]
fn sweep_many_delivers_what_sweeps_one_by_one_would() {
    let ordered = hash_ordered();
    let (odd, empty, few): (Vec<u64>, Vec<u64>, Vec<u64>) = ((0..9).collect(), Vec::new(), (3..7).collect());
    let list: Vec<(&dyn Scenario, &[u64])> = vec![
        (&OddSeedsFail, &empty),
        (&OddSeedsFail, &odd),
        (&OddSeedsFail, &empty),
        (&ordered, &few),
        (&OddSeedsFail, &few),
    ];
    let mut expected = Vec::new();
    let mut expected_done = Vec::new();
    for (k, (sc, seeds)) in list.iter().enumerate() {
        let summary = if seeds.is_empty() {
            None
        } else {
            Some(steadfast_sim::runner::sweep(*sc, seeds, SweepOptions::jobs(1), |o| {
                expected.push((k, o.seed, o.history_hash, o.violated()));
            }))
        };
        expected_done.push((k, seeds.len(), summary.map_or(0, |s| s.violating)));
    }
    for jobs in [1, 2, 5] {
        let (got, mut done) = (std::cell::RefCell::new(Vec::new()), Vec::new());
        let mut fresh = Vec::new();
        steadfast_sim::runner::sweep_many(
            &list,
            SweepOptions::jobs(jobs),
            |k, o| got.borrow_mut().push((k, o.seed, o.history_hash, o.violated())),
            |k, s| {
                // Every outcome of a scenario comes before its summary.
                let seen = got.borrow().iter().filter(|g| g.0 == k).count();
                assert_eq!(seen, s.seeds, "jobs {jobs}: scenario {k}");
                fresh.push(s.fresh_threads.is_some());
                done.push((k, s.seeds, s.violating));
            },
        );
        assert_eq!(got.into_inner(), expected, "jobs {jobs}");
        assert_eq!(done, expected_done, "jobs {jobs}");
        assert_eq!(fresh, [false, false, false, true, false], "jobs {jobs}: only the HashMap walker runs fresh");
    }
}

/// A workload with a task that never yields: it polls a flag no one sets,
/// in a loop with no await that could give the executor back.
fn spins() -> steadfast_sim::Built {
    steadfast_sim::scenario("test/spins")
        .invariant("X1", "nothing to judge")
        .schedule(|seed| Schedule::calm(seed, 10))
        .node("spinner", |w| async move {
            let flag = std::sync::atomic::AtomicBool::new(false);
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                std::hint::spin_loop();
            }
            w.note("never");
        })
        .build()
}

/// RUN6: a task that never yields stops virtual time, so no bound inside
/// the run can fire; the watchdog names the scenario and seed, prints the
/// replay, and ends the process with status 1 instead of hanging.
#[test]
#[allow(clippy::disallowed_methods)] // a real child process, waited on in wall time
fn a_run_that_never_finishes_is_named_and_the_process_exits() {
    // Without --nocapture: the report must show all the same (libtest
    // captures what a test's threads print, and the exit would drop it).
    let mut child = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--ignored", "--exact", "check::spinning_check", "--test-threads", "1"])
        .env("STEADFAST_SEED_TIMEOUT_S", "2")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the test binary runs");
    // Without the watchdog the child would spin forever: bound the wait.
    let started = std::time::Instant::now();
    while child.try_wait().expect("waitable").is_none() {
        if started.elapsed() > std::time::Duration::from_secs(120) {
            let _ = child.kill();
            panic!("the spinning seed still ran after 120 s: no watchdog fired");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("its output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains("RUN6: test/spins seed 7 has run for 2 s of wall time"), "{stderr}");
    assert!(stderr.contains("replay:") && stderr.contains("STEADFAST_SEED=7"), "{stderr}");
    // The replay names the test that ran the check, not the watchdog's
    // thread: it runs exactly that test again, ignored as it is.
    assert!(
        stderr.contains("-p steadfast-sim --test it -- check::spinning_check --include-ignored --exact"),
        "{stderr}"
    );
}

/// Run by `a_run_that_never_finishes_is_named_and_the_process_exits` in a
/// process of its own: a check of the spinning scenario from seed 7,
/// whose run never finishes; it must never return.
#[test]
#[ignore = "hangs by design; run in a child process by the test above"]
fn spinning_check() {
    let _ = steadfast_sim::check(&spins()).start(7).seeds(1).jobs(2).run();
    unreachable!("a run that spins forever returned");
}

/// Breaks X1 on odd seeds at 200 ms and again at its end; a driver task
/// spawned through the world counts its drops in `DROPS`.
struct CaughtEarly {
    expect: Expect,
    sometimes: &'static [&'static str],
    drops: Arc<AtomicUsize>,
}

impl CaughtEarly {
    fn new(expect: Expect, sometimes: &'static [&'static str]) -> CaughtEarly {
        CaughtEarly { expect, sometimes, drops: Arc::default() }
    }
}

struct CountsDrop(Arc<AtomicUsize>);

impl Drop for CountsDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl Scenario for CaughtEarly {
    fn name(&self) -> &'static str {
        "test/caught-early"
    }
    fn expect(&self) -> Expect {
        self.expect
    }
    fn description(&self) -> &'static str {
        "breaks X1 on odd seeds, mid-run and at its end"
    }
    fn invariants(&self) -> &'static [Invariant] {
        ODD
    }
    fn sometimes(&self) -> &'static [&'static str] {
        self.sometimes
    }
    fn schedule(&self, seed: u64) -> Schedule {
        Schedule::calm(seed, 1_000)
    }
    fn run<'a>(&'a self, world: &'a World) -> LocalBoxFuture<'a, ()> {
        Box::pin(async move {
            let seed = world.schedule().seed;
            let guard = CountsDrop(self.drops.clone());
            let w = world.clone();
            world.spawn_local(async move {
                let _guard = guard;
                w.sleep_until(std::time::Duration::from_secs(3_600)).await;
            });
            for i in 0..100u64 {
                world.sleep_until(std::time::Duration::from_millis(10 * i)).await;
                world.note(format!("step {i}"));
                if i == 20 {
                    world.check("X1", seed % 2 == 0, || format!("seed {seed} is odd, mid-run"));
                }
                if i == 90 {
                    for point in self.sometimes {
                        world.reach(point);
                    }
                }
            }
            world.check("X1", seed % 2 == 0, || format!("seed {seed} is odd, at the end"));
        })
    }
}

fn outcomes(sc: &dyn Scenario, options: SweepOptions) -> Vec<steadfast_sim::runner::Outcome> {
    let mut all = Vec::new();
    steadfast_sim::runner::sweep(sc, &[0, 1, 2, 3], options, |o| all.push(o.clone()));
    all
}

#[test]
fn a_sweep_may_end_a_caught_seed_of_a_violate_scenario_with_its_report_intact() {
    let sc = CaughtEarly::new(Expect::Violate, &[]);
    let whole = outcomes(&sc, SweepOptions::jobs(1));
    let drops = sc.drops.load(Ordering::Relaxed);
    let ended = outcomes(&sc, SweepOptions::jobs(2).ending_caught_seeds());
    for (w, e) in whole.iter().zip(&ended) {
        assert_eq!(w.violated(), e.violated(), "seed {}: the verdict is the whole run's", w.seed);
        assert_eq!(w.violations.first(), e.violations.first(), "seed {}: and its first violation", w.seed);
        let lines = |o: &steadfast_sim::runner::Outcome| {
            o.around_first_violation.0.iter().map(|r| r.line()).collect::<Vec<_>>()
        };
        assert_eq!(lines(w), lines(e), "seed {}: and the events around it", w.seed);
        assert_eq!(w.around_first_violation.1, e.around_first_violation.1);
        assert!(!w.ended_when_caught, "a sweep runs whole unless told otherwise");
        if e.violated() {
            assert!(e.ended_when_caught, "seed {}", e.seed);
            assert_eq!(e.violations.len(), 1, "the violation at the end never ran: {:?}", e.violations);
            assert_eq!(w.violations.len(), 2);
            assert!(e.events < w.events && e.sim_time < w.sim_time, "seed {}: it ended early", e.seed);
        } else {
            assert!(!e.ended_when_caught);
            assert_eq!((e.history_hash, e.events), (w.history_hash, w.events), "a seed that holds runs whole");
        }
    }
    // The driver's task, pending for an hour of virtual time, was dropped
    // with each run that ended early, as with each that ended whole (five
    // runs a sweep: the first seed runs on a fresh thread too).
    assert_eq!(drops, 5, "every run that ended whole freed its driver's task");
    assert_eq!(sc.drops.load(Ordering::Relaxed) - drops, 5, "and so did every run that ended early");
}

#[test]
fn hold_scenarios_and_scenarios_with_coverage_points_always_run_whole() {
    for sc in [CaughtEarly::new(Expect::Hold, &[]), CaughtEarly::new(Expect::Violate, &["step 90 ran"])] {
        let whole = outcomes(&sc, SweepOptions::jobs(1));
        let asked = outcomes(&sc, SweepOptions::jobs(1).ending_caught_seeds());
        for (w, a) in whole.iter().zip(&asked) {
            assert!(!a.ended_when_caught, "{:?} seed {}", sc.expect, a.seed);
            assert_eq!((a.history_hash, a.violations.len()), (w.history_hash, w.violations.len()));
        }
        assert!(asked.iter().any(|o| o.violated()));
    }
}

/// Breaks X1 with a message that looks at the world.
struct PeekingMessage;

impl Scenario for PeekingMessage {
    fn name(&self) -> &'static str {
        "test/peeking-message"
    }
    fn expect(&self) -> Expect {
        Expect::Violate
    }
    fn description(&self) -> &'static str {
        "a violation whose message peeks at the file system"
    }
    fn invariants(&self) -> &'static [Invariant] {
        ODD
    }
    fn schedule(&self, seed: u64) -> Schedule {
        Schedule::calm(seed, 10)
    }
    fn run<'a>(&'a self, world: &'a World) -> LocalBoxFuture<'a, ()> {
        Box::pin(async move {
            let path = std::path::Path::new("/nowhere");
            world.check("X1", false, || format!("/nowhere listed: {}", world.peek_dir(path).is_ok()));
        })
    }
}

#[test]
fn a_violation_message_may_consult_the_world() {
    // It once ran with the world locked: the seed deadlocked, reported as
    // a task that never yields (RUN6) after five minutes.
    let all = outcomes(&PeekingMessage, SweepOptions::jobs(1));
    assert!(all.iter().all(|o| o.violations.len() == 1), "{:?}", all[0].violations);
    assert_eq!(all[0].violations[0].message, "/nowhere listed: false");
}

/// A hold scenario whose declared invariant no seed judges cannot fail:
/// its check fails and names the invariant (a new user's trial saw
/// `3 seeds, 0 violating, as expected` for a node that did nothing). A
/// check of no seeds fails too; one that judges every invariant holds.
#[test]
fn a_check_that_could_not_have_failed_fails() {
    let idle = steadfast_sim::scenario("test/judges-nothing")
        .invariant("X1", "judged")
        .invariant("X2", "declared, never judged")
        .schedule(|seed| Schedule::calm(seed, 10))
        .node("idle", |w| async move {
            w.check("X1", true, String::new);
        })
        .build();
    let why = panics(|| drop(steadfast_sim::check(&idle).seeds(3).regressions(None).run()));
    assert!(why.contains("invariants never checked in 3 seeds: [\"X2\"]"), "{why}");
    let why = panics(|| drop(steadfast_sim::check(&OddSeedsFail).seeds(0).regressions(None).run()));
    assert!(why.contains("a check of 0 seeds checks nothing"), "{why}");
    let held = steadfast_sim::check(&OddSeedsFail).start(2).seeds(1).regressions(None).run();
    assert_eq!(held.checked.get("X1"), Some(&1), "{:?}", held.checked);
}

/// Run by `a_replay_from_a_helper_thread_of_an_ignored_test_runs_it`: a
/// check on a thread the test spawned (no test's name on it), in an
/// ignored test.
#[test]
#[ignore = "run by a_replay_from_a_helper_thread_of_an_ignored_test_runs_it"]
#[allow(clippy::disallowed_methods)] // a helper thread, as a test with a bigger stack spawns one
fn probe_on_a_helper_thread() {
    let helper = std::thread::Builder::new().stack_size(8 << 20).spawn(|| {
        steadfast_sim::check(&OddSeedsFail).seeds(1).regressions(None).run();
    });
    if let Err(e) = helper.expect("spawn").join() {
        std::panic::resume_unwind(e);
    }
}

/// A check on a helper thread of an ignored test prints a replay that
/// runs that test: its name from the binary's `NAME --exact` arguments,
/// and `--include-ignored` (a new user's trial got "1 ignored").
#[test]
fn a_replay_from_a_helper_thread_of_an_ignored_test_runs_it() {
    let exe = std::env::current_exe().expect("the test binary");
    let out = std::process::Command::new(exe)
        .args(["check::probe_on_a_helper_thread", "--exact", "--ignored", "--test-threads", "1", "--nocapture"])
        .env("STEADFAST_SCENARIO", "test/odd-seeds-fail")
        .env("STEADFAST_SEED", "3")
        .env_remove("STEADFAST_SCHEDULE")
        .env_remove("STEADFAST_ARTIFACTS")
        .output()
        .expect("run the probe");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let replay = "cargo test -p steadfast-sim --test it -- check::probe_on_a_helper_thread --include-ignored --exact";
    assert!(!out.status.success() && text.contains(replay), "{replay} in {text}");
}

/// A malformed `STEADFAST_REPORT_WINDOW` fails the check with its message
/// (read inside a run, its panic was the run's, and printed nowhere).
#[test]
fn a_malformed_report_window_fails_with_its_message() {
    let (ok, text) = probe(&[("STEADFAST_REPORT_WINDOW", "12;12")]);
    assert!(!ok && text.contains("STEADFAST_REPORT_WINDOW=\"12;12\" is not BEFORE,AFTER"), "{text}");
}

/// A check started inside a running simulation is refused with a RUN2
/// that says so (it was a RUN2 with an empty message).
#[test]
fn a_check_inside_a_run_is_refused_with_a_message() {
    // Calls `check` from inside its own run (a new user's trial did).
    let nested = steadfast_sim::scenario("test/nested")
        .invariant("X1", "even seeds only")
        .schedule(|seed| Schedule::calm(seed, 10))
        .node("n", |w| async move {
            w.check("X1", true, String::new);
            steadfast_sim::check(&OddSeedsFail).seeds(2).regressions(None).run();
        })
        .build();
    let o = steadfast_sim::runner::run(&nested, 0, None, 100);
    let run2: Vec<&str> = o.violations.iter().filter(|v| v.invariant == "RUN2").map(|v| v.message.as_str()).collect();
    assert!(
        run2.len() == 1 && run2[0].contains("was called inside a running simulation"),
        "one RUN2 that names the nested check: {run2:?}"
    );
}
