//! The `steadfast` binary's contract (DESIGN §7): list, run with --json and
//! --shard, replay byte for byte, and one-line errors with exit status 2.

use std::process::{Command, Output};

fn steadfast(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_steadfast")).args(args).env_remove("RUSTFLAGS").output().expect("run steadfast")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn list_names_every_scenario_with_its_expectation() {
    let o = steadfast(&["list"]);
    assert!(o.status.success());
    let text = stdout(&o);
    for sc in steadfast_scenarios::all() {
        let line = text.lines().find(|l| l.starts_with(sc.name())).unwrap_or_else(|| panic!("{} missing", sc.name()));
        assert!(line.contains(sc.expect().as_str()) && line.contains(sc.description()), "{line}");
    }
}

/// `steadfast run --json | head -1`: the reader goes away after one line;
/// the run ends as `yes | head` does (status 141), without a panic.
#[test]
fn a_closed_pipe_ends_the_run_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_steadfast"))
        .args(["run", "--scenario", "selftest/rename-with-fsync", "--seeds", "100000", "--json", "--jobs", "1"])
        .env_remove("RUSTFLAGS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run steadfast");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("one line");
    assert!(first.starts_with('{'), "{first}");
    // The reader is dropped here: the pipe is closed.
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_input_gets_one_line_and_status_2() {
    for args in [
        &["run", "--scenario", "nope"][..],
        &["run", "--shard", "3/2"],
        &["run", "--shard", "0/2"],
        &["run", "--seeds", "many"],
        &["run", "--frobnicate"],
        &["replay", "--scenario", "selftest/blocking-stall"],
        &["replay", "--scenario", "selftest/blocking-stall", "--schedule", "/nonexistent.json"],
        &["crashes", "--seed", "1"],
        &["bogus"],
        &["run", "--seeds", "0"],
        &["run", "--jobs", "0"],
        &["run", "--seeds", "2", "--shard", "3/4"],
        &["shrink", "--scenario", "trace"],
    ] {
        let o = steadfast(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("steadfast: "), "{args:?}: {err}");
    }
}

#[test]
fn malformed_schedule_is_rejected_naming_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.json");
    std::fs::write(
        &path,
        r#"{"version":1,"seed":1,"duration_ms":10,"mounts":[{"prefix":"/x","latency":[{"ms_min":9,"ms_max":1}]}]}"#,
    )
    .expect("write");
    let o = steadfast(&["replay", "--scenario", "selftest/blocking-stall", "--schedule", path.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("ms_min 9 > ms_max 1"));
}

fn json_rows(args: &[&str]) -> Vec<serde_json::Value> {
    let o = steadfast(args);
    stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

#[test]
fn shards_split_the_seeds_exactly_and_agree_with_the_whole() {
    let base = ["run", "--scenario", "selftest/rename-without-fsync", "--seeds", "20", "--start", "5", "--json"];
    let whole = json_rows(&base);
    let mut parts = json_rows(&[&base[..], &["--shard", "1/2"]].concat());
    parts.extend(json_rows(&[&base[..], &["--shard", "2/2", "--jobs", "1"]].concat()));
    parts.sort_by_key(|r| r["seed"].as_u64());
    assert_eq!(whole.len(), 20);
    assert_eq!(parts, whole, "the shards' rows, merged, are the whole sweep's rows");
    let seeds: Vec<u64> = whole.iter().filter_map(|r| r["seed"].as_u64()).collect();
    assert_eq!(seeds, (5..25).collect::<Vec<_>>());
    for row in &whole {
        for key in ["scenario", "seed", "expect", "violations", "history_hash", "reached"] {
            assert!(row.get(key).is_some(), "row lacks {key}: {row}");
        }
    }
}

#[test]
fn run_exit_status_follows_the_expectations() {
    let ok = steadfast(&["run", "--scenario", "selftest/rename-with-fsync", "--seeds", "50"]);
    assert!(ok.status.success(), "{}", stdout(&ok));
    assert!(stdout(&ok).contains("ok (held)"));
    // A replica run over too few seeds to catch it fails the run.
    let rows = json_rows(&["run", "--scenario", "selftest/rename-without-fsync", "--seeds", "40", "--json"]);
    let clean: Vec<u64> = rows
        .iter()
        .filter(|r| r["violations"].as_array().is_some_and(|v| v.is_empty()))
        .filter_map(|r| r["seed"].as_u64())
        .collect();
    let seed = clean.first().expect("some seed does not catch the replica").to_string();
    let missed = steadfast(&["run", "--scenario", "selftest/rename-without-fsync", "--seeds", "1", "--start", &seed]);
    assert_eq!(missed.status.code(), Some(1), "{}", stdout(&missed));
    assert!(stdout(&missed).contains("FAILED: never caught"));
}

#[test]
fn replay_is_byte_identical_and_prints_the_replay_commands() {
    let args = ["replay", "--scenario", "selftest/blocking-stall", "--seed", "3"];
    let (a, b) = (steadfast(&args), steadfast(&args));
    assert_eq!(a.stdout, b.stdout);
    let text = stdout(&a);
    assert!(text.contains("history hash"));
    assert!(text.contains("S1"));
    if text.contains("VIOLATED") {
        assert!(text.contains("steadfast -- replay --scenario 'selftest/blocking-stall' --seed 3"), "{text}");
    }
}

#[test]
fn a_printed_schedule_replays_to_the_same_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.json");
    let printed =
        steadfast(&["replay", "--scenario", "selftest/rename-without-fsync", "--seed", "9", "--print-schedule"]);
    std::fs::write(&path, &printed.stdout).expect("write");
    let from_seed = steadfast(&["replay", "--scenario", "selftest/rename-without-fsync", "--seed", "9"]);
    let from_file = steadfast(&[
        "replay",
        "--scenario",
        "selftest/rename-without-fsync",
        "--schedule",
        path.to_str().expect("utf8"),
    ]);
    // The same run, to the byte, up to the commands that replay it (each
    // replays what it was given: the seed, or the file).
    let run = |o: &Output| stdout(o).split("  replay:   ").next().map(String::from).expect("a report");
    assert_eq!(run(&from_seed), run(&from_file));
    assert!(stdout(&from_file).contains("--schedule '"), "{}", stdout(&from_file));
}

#[test]
fn crashes_lists_every_point_and_a_point_replays_from_its_schedule() {
    let sc = "selftest/rename-without-fsync";
    let o = steadfast(&["crashes", "--scenario", sc, "--seed", "3"]);
    assert_eq!(o.status.code(), Some(0), "a replica caught at some crash point: {}", stdout(&o));
    let text = stdout(&o);
    assert!(text.contains("8 crash points of seed 3, 4 violate"), "{text}");
    let point = text.lines().find(|l| l.contains("VIOLATED")).expect("a violating point");
    let k = point.split_whitespace().nth(1).and_then(|k| k.trim_end_matches(':').parse::<u64>().ok()).expect("k");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("point.json");
    let schedule = steadfast(&["crashes", "--scenario", sc, "--seed", "3", "--point", &k.to_string()]);
    std::fs::write(&path, &schedule.stdout).expect("write");
    let replay = steadfast(&["replay", "--scenario", sc, "--schedule", path.to_str().expect("utf8")]);
    assert!(stdout(&replay).contains("F1   VIOLATED"), "{}", stdout(&replay));
    let held = steadfast(&["crashes", "--scenario", "selftest/rename-with-fsync", "--seed", "3"]);
    assert_eq!(held.status.code(), Some(0), "{}", stdout(&held));
    assert!(stdout(&held).contains("24 crash points of seed 3, 0 violate"));
    let bad = steadfast(&["crashes", "--scenario", sc, "--seed", "3", "--point", "99"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn check_determinism_flag_runs_clean() {
    let o =
        steadfast(&["run", "--scenario", "selftest/blocking-stall", "--seeds", "20", "--check-determinism", "--json"]);
    for line in stdout(&o).lines() {
        assert!(!line.contains("RUN3"), "{line}");
    }
    assert_eq!(stdout(&o).lines().count(), 20);
}

#[test]
fn shrink_writes_a_smaller_schedule_that_still_breaks_the_invariant() {
    let sc = "legacy/trace-rename-race";
    let rows = json_rows(&["run", "--scenario", sc, "--seeds", "60", "--json"]);
    // A seed whose first violation is T3 (the replica's unfenced rename
    // can also land over a finalize_sync's file first: T8).
    let seed = rows
        .iter()
        .find(|r| r["violations"].as_array().and_then(|v| v.first()).is_some_and(|v| v["invariant"] == "T3"))
        .and_then(|r| r["seed"].as_u64())
        .expect("the replica breaks T3 first within 60 seeds")
        .to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("shrunk.json");
    let o = steadfast(&["shrink", "--scenario", sc, "--seed", &seed, "--out", out.to_str().expect("utf8")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("T3 still broken"), "{err}");
    let (before, after) = sizes(&err);
    assert!(after <= before, "{err}");
    let replay = steadfast(&["replay", "--scenario", sc, "--schedule", out.to_str().expect("utf8")]);
    assert!(stdout(&replay).contains("T3   VIOLATED"), "{}", stdout(&replay));
    let nothing = steadfast(&["shrink", "--scenario", "selftest/rename-with-fsync", "--seed", "1"]);
    assert_eq!(nothing.status.code(), Some(2), "a passing seed has nothing to shrink");
}

/// "(... with A schedule parts (from B)": (B, A).
fn sizes(summary: &str) -> (usize, usize) {
    let after = summary.split(" schedule parts").next().and_then(|s| s.rsplit(' ').next()).and_then(|n| n.parse().ok());
    let before = summary.split("(from ").nth(1).and_then(|s| s.split(')').next()).and_then(|n| n.parse().ok());
    (before.expect("before"), after.expect("after"))
}

#[test]
fn replay_writes_a_chrome_trace_with_spans_effects_and_violations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("trace.json");
    let args = ["replay", "--scenario", "selftest/rename-without-fsync", "--seed", "0", "--chrome-trace"];
    let o = steadfast(&[&args[..], &[path.to_str().expect("utf8")]].concat());
    assert!(o.status.code().is_some(), "{o:?}");
    let trace: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).expect("written")).expect("JSON");
    let events = trace["traceEvents"].as_array().expect("traceEvents");
    let has = |f: &dyn Fn(&serde_json::Value) -> bool| events.iter().any(f);
    assert!(has(&|e| e["ph"] == "M" && e["args"]["name"] == "writer/main"), "a track per node and task");
    assert!(has(&|e| e["ph"] == "X" && e["name"] == "rename"), "fs operations as spans");
    assert!(has(&|e| e["cat"] == "effect"), "effects as instants");
    assert!(has(&|e| e["cat"] == "fault"), "the power loss as an instant");
    let first = std::fs::read(&path).expect("read");
    let _ = steadfast(&[&args[..], &[path.to_str().expect("utf8")]].concat());
    assert_eq!(std::fs::read(&path).expect("read"), first, "byte-identical on every run");
}

#[test]
fn merge_folds_shards_into_one_summary_with_failing_seeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    for shard in ["1/2", "2/2"] {
        let args = ["run", "--scenario", "selftest/rename-without-fsync", "--seeds", "20", "--shard", shard, "--json"];
        let path = dir.path().join(format!("shard-{}.jsonl", &shard[..1]));
        std::fs::write(&path, steadfast(&args).stdout).expect("write");
        files.push(path.to_str().expect("utf8").to_string());
    }
    let o = steadfast(&["merge", &files[0], &files[1]]);
    assert!(o.status.success(), "{}", stdout(&o));
    let line =
        stdout(&o).lines().find(|l| l.starts_with("selftest/rename-without-fsync")).map(String::from).expect("row");
    assert!(line.contains(" 20 ") && line.contains("ok (caught in"), "{line}");
    // A hold scenario's failing seeds are listed with their replay command.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"scenario\":\"trace\",\"seed\":7,\"expect\":\"hold\",\"violations\":[{\"invariant\":\"T3\"}]}\n",
    )
    .expect("write");
    let o = steadfast(&["merge", bad.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("failing seed 7 (T3): steadfast replay --scenario 'trace' --seed 7"), "{}", stdout(&o));
    let junk = dir.path().join("junk.jsonl");
    std::fs::write(&junk, "not json\n").expect("write");
    assert_eq!(steadfast(&["merge", junk.to_str().expect("utf8")]).status.code(), Some(2));
}

/// From a new user's trial: `merge` never passes on input that is not a
/// whole run. An empty shard file, empty input, a scenario that does not
/// exist, a row whose expectation is not its scenario's, and a shard lost
/// midway (one scenario with fewer seeds than another) are each exit 2.
#[test]
fn merge_refuses_input_that_is_not_a_whole_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.to_str().expect("utf8").to_string()
    };
    let row = |sc: &str, expect: &str, seed: u64| {
        format!("{{\"scenario\":\"{sc}\",\"seed\":{seed},\"expect\":\"{expect}\",\"violations\":[]}}\n")
    };
    let whole = file("whole.jsonl", &(row("trace", "hold", 0) + &row("trace", "hold", 1)));
    let cases = [
        ("an empty shard", vec![whole.clone(), file("empty.jsonl", "")]),
        ("a blank shard", vec![file("blank.jsonl", "\n  \n")]),
        ("an unknown scenario", vec![file("unknown.jsonl", &row("no/such", "hold", 0))]),
        ("a wrong expectation", vec![file("expect.jsonl", &row("trace", "violate", 0))]),
        ("a shard lost midway", vec![whole.clone(), file("partial.jsonl", &row("lock", "hold", 0))]),
    ];
    for (what, files) in cases {
        let args: Vec<&str> = std::iter::once("merge").chain(files.iter().map(String::as_str)).collect();
        let o = steadfast(&args);
        assert_eq!(o.status.code(), Some(2), "{what}: {}{}", stdout(&o), String::from_utf8_lossy(&o.stderr));
    }
    let o = Command::new(env!("CARGO_BIN_EXE_steadfast")).arg("merge").stdin(std::process::Stdio::null()).output();
    assert_eq!(o.expect("run").status.code(), Some(2), "empty stdin");
    // A whole run is judged (its two seeds reach none of trace's coverage
    // points: a verdict, exit 1), not refused.
    let o = steadfast(&["merge", &whole]);
    assert_eq!(o.status.code(), Some(1), "a whole run still merges: {}", stdout(&o));
    assert!(stdout(&o).contains("FAILED: coverage not reached"), "{}", stdout(&o));
}

/// The last seeds a run can name are seeds: `--start` up to `u64::MAX`
/// with as many seeds as fit, and not one more.
#[test]
fn a_run_may_end_at_the_last_seed() {
    let start = (u64::MAX - 2).to_string();
    let o =
        steadfast(&["run", "--scenario", "selftest/rename-with-fsync", "--start", &start, "--seeds", "3", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout(&o).lines().count(), 3);
    let o = steadfast(&["run", "--scenario", "selftest/rename-with-fsync", "--start", &start, "--seeds", "4"]);
    assert_eq!(o.status.code(), Some(2));
}

/// `replay` takes a seed or a schedule file, not both; and a replayed
/// schedule file's failure report replays that file (its seed alone
/// would run the scenario's own schedule, which may hold).
#[test]
fn a_replayed_schedule_file_reports_commands_that_replay_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sc = "selftest/rename-without-fsync";
    let schedule = steadfast(&["replay", "--scenario", sc, "--seed", "0", "--print-schedule"]);
    let path = dir.path().join("it's here.json");
    std::fs::write(&path, schedule.stdout).expect("write");
    let path = path.to_str().expect("utf8");
    let both = steadfast(&["replay", "--scenario", sc, "--seed", "1", "--schedule", path]);
    assert_eq!(both.status.code(), Some(2), "{}", String::from_utf8_lossy(&both.stderr));
    let o = steadfast(&["replay", "--scenario", sc, "--schedule", path]);
    let text = stdout(&o);
    assert!(text.contains("VIOLATED"), "seed 0 of this replica is caught: {text}");
    let quoted = "'\\''";
    assert!(text.contains(&format!("replay --scenario '{sc}' --schedule '")), "{text}");
    assert!(text.contains(&format!("it{quoted}s here.json'")), "the path is quoted for a shell: {text}");
    assert!(!text.contains("--seed 0"), "{text}");
    // A relative path is printed absolute: the `test:` line's `cargo test`
    // runs from the package's directory, not from where it was typed.
    let o = Command::new(env!("CARGO_BIN_EXE_steadfast"))
        .args(["replay", "--scenario", sc, "--schedule", "it's here.json"])
        .current_dir(dir.path())
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run");
    let absolute = dir.path().join("it").display().to_string();
    assert!(stdout(&o).contains(&format!("STEADFAST_SCHEDULE='{absolute}{quoted}s here.json'")), "{}", stdout(&o));
}

/// Issue 16: a loaded schedule past the bounds (a duration that would hang
/// the tool, a param that would exhaust memory, a param the scenario does
/// not have) is one line on stderr and exit 2, before anything runs.
#[test]
fn schedules_past_the_bounds_are_refused_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = steadfast(&["replay", "--scenario", "retention", "--seed", "1", "--print-schedule"]);
    let base: serde_json::Value = serde_json::from_slice(&base.stdout).expect("a schedule");
    let cases: [(&str, serde_json::Value, &str); 3] = [
        ("duration_ms", serde_json::json!(u64::MAX), "over the maximum"),
        ("params", serde_json::json!({ "entries": 1_000_000_000_000u64 }), "params.entries"),
        ("params", serde_json::json!({ "sesions": 2 }), "not a parameter of this scenario"),
    ];
    for (field, value, needle) in cases {
        let mut s = base.clone();
        s[field] = value;
        let path = dir.path().join("s.json");
        std::fs::write(&path, s.to_string()).expect("write");
        for cmd in ["replay", "shrink"] {
            let o = steadfast(&[cmd, "--scenario", "retention", "--schedule", path.to_str().expect("utf8")]);
            assert_eq!(o.status.code(), Some(2), "{cmd} {field}: {}", String::from_utf8_lossy(&o.stderr));
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
            assert!(err.contains(needle), "{err}");
        }
    }
}

/// The runner admits no schedule past the bounds either, generated or
/// handed in: RUN5, before the world starts.
#[test]
fn the_runner_refuses_a_schedule_past_the_bounds_as_run5() {
    let sc = steadfast_scenarios::find("trace").expect("trace");
    let mut s = sc.schedule(0);
    s.params.insert("sessions".into(), u64::MAX);
    let o = steadfast_sim::runner::run(sc, 0, Some(s), 0);
    assert_eq!(o.violations.len(), 1, "{:?}", o.violations);
    assert_eq!(o.violations[0].invariant, "RUN5");
    assert!(o.violations[0].message.contains("params.sessions"), "{}", o.violations[0].message);
    assert_eq!(o.events, 0, "nothing ran");
}

/// Issue 16: a failure report shows the events around the first violation,
/// not the run's last ones (for this replica the violation is at 214 s and
/// the run goes on to 7,700 s).
#[test]
fn a_report_shows_the_events_around_the_first_violation() {
    let o = steadfast(&["run", "--scenario", "legacy/hub-child-full-scan", "--seeds", "1", "--verbose"]);
    let out = stdout(&o);
    let report = out.split("around the first violation").nth(1).expect("a window");
    let marked = report.lines().find(|l| l.trim_start().starts_with(">>")).expect("the violation marked");
    assert!(marked.contains("VIOLATION H4"), "{marked}");
    let times: Vec<f64> = report
        .lines()
        .take_while(|l| !l.contains("replay:"))
        .filter_map(|l| l.trim_start_matches([' ', '>']).split("ms").next()?.trim().parse().ok())
        .collect();
    assert!(times.len() > 12, "{report}");
    assert!(times.iter().all(|t| (t - 214_001.0).abs() < 1_000.0), "all within a second of it: {times:?}");
}

/// Issue 16: crash points are exact. Seed 1 of `trace` injects EIO on
/// renames and fsyncs; a crash rule used to be consulted only for ops
/// without an injected error, so the points at failed ops never fired
/// and were reported "held". Every enumerated point now fires, and a rule
/// whose operation never comes is reported as not reached.
#[test]
fn every_crash_point_fires_or_is_reported_not_reached() {
    let o = steadfast(&["crashes", "--scenario", "trace", "--seed", "1", "--jobs", "2"]);
    let out = stdout(&o);
    assert!(out.contains(", 0 not reached"), "{}", out.lines().last().unwrap_or_default());
    let sc = steadfast_scenarios::find("selftest/rename-with-fsync").expect("scenario");
    let mut s = sc.schedule(3);
    s.crashes.push(steadfast_sim::schedule::CrashRule {
        ops: vec!["rename".into()],
        path_prefix: None,
        nth: 1_000_000,
        metadata_survives: false,
        torn: false,
        restart_after_ms: None,
    });
    let never = steadfast_sim::runner::run(sc, 3, Some(s), 0);
    assert!(never.crashes_fired.is_empty(), "a rule whose op never comes never fires");
    let mut s = sc.schedule(3);
    s.crashes.push(steadfast_sim::schedule::CrashRule { nth: 1, ..never.schedule.crashes[0].clone() });
    assert_eq!(steadfast_sim::runner::run(sc, 3, Some(s), 0).crashes_fired, vec![0]);
}

/// Issue 18: a hold scenario is "violated" only with violations; one that
/// only missed a coverage point says which.
#[test]
fn verdicts_say_what_failed() {
    let o = steadfast(&["run", "--scenario", "trace", "--seeds", "2"]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    let row = text.lines().find(|l| l.starts_with("trace ")).expect("a row");
    assert!(row.contains("FAILED: coverage not reached: "), "{row}");
    assert!(!text.contains("violated"), "no violation was seen: {text}");
    let err = String::from_utf8_lossy(&steadfast(&["run", "--seeds", "0"]).stderr).into_owned();
    assert!(err.contains("--seeds") && err.contains("at least 1"), "{err}");
    let err = String::from_utf8_lossy(&steadfast(&["run", "--seeds", "2", "--shard", "3/4"]).stderr).into_owned();
    assert!(err.contains("gets no seeds"), "{err}");
}

/// Issue 18: `merge` applies `run`'s verdicts, coverage included.
#[test]
fn merge_and_run_agree_on_the_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (sc, seeds) in [("trace", "2"), ("selftest/rename-with-fsync", "20")] {
        let run = steadfast(&["run", "--scenario", sc, "--seeds", seeds]);
        let rows = steadfast(&["run", "--scenario", sc, "--seeds", seeds, "--json"]);
        let path = dir.path().join("rows.jsonl");
        std::fs::write(&path, &rows.stdout).expect("write");
        let merged = steadfast(&["merge", path.to_str().expect("utf8")]);
        assert_eq!(run.status.code(), merged.status.code(), "{sc}: {}", stdout(&merged));
        let verdict = |o: &Output| {
            let text = stdout(o);
            let row = text.lines().find(|l| l.starts_with(sc)).expect("a row").to_string();
            row.split("  ").last().map(|v| v.trim().to_string()).unwrap_or_default()
        };
        assert_eq!(verdict(&run), verdict(&merged), "{sc}");
    }
}

/// Issue 18: without a terminal the first line comes at once and a line
/// follows each scenario as it finishes; replicas caught as expected take
/// one line each unless --verbose.
#[test]
fn a_ci_log_gets_a_line_per_scenario_and_one_line_per_expected_catch() {
    let args =
        ["run", "--scenario", "legacy/trace-rename-race", "--scenario", "selftest/rename-with-fsync", "--seeds", "40"];
    let text = stdout(&steadfast(&args));
    let mut lines = text.lines();
    assert!(lines.next().is_some_and(|l| l.starts_with("steadfast run: 2 scenarios x 40 seeds")), "{text}");
    assert!(
        lines.next().is_some_and(|l| l.starts_with("legacy/trace-rename-race") && l.contains("ok (caught in")),
        "{text}"
    );
    let catch =
        text.lines().find(|l| l.starts_with("caught (expected): legacy/trace-rename-race in ")).expect("one line");
    assert!(catch.contains("--verbose"), "{catch}");
    assert!(!text.contains("around the first violation"), "no full report by default: {text}");
    let verbose = stdout(&steadfast(&[&args[..], &["--verbose"]].concat()));
    assert!(verbose.contains("around the first violation"), "{verbose}");
}

/// Issue 18: JUnit XML for CI: one case per scenario, one per failing seed
/// of a hold scenario with its replay command, failures counted.
#[test]
fn junit_reports_a_case_per_scenario_and_per_failing_seed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let xml = dir.path().join("run.xml");
    let o = steadfast(&[
        "run",
        "--scenario",
        "selftest/rename-with-fsync",
        "--seeds",
        "5",
        "--junit",
        xml.to_str().expect("utf8"),
    ]);
    assert!(o.status.success());
    let text = std::fs::read_to_string(&xml).expect("written");
    assert!(text.starts_with("<?xml") && text.contains("tests=\"1\" failures=\"0\""), "{text}");
    assert!(text.contains("<testcase classname=\"steadfast.hold\" name=\"selftest/rename-with-fsync\""), "{text}");
    let rows = dir.path().join("rows.jsonl");
    let row = r#"{"scenario":"selftest/rename-with-fsync","seed":7,"expect":"hold","violations":[{"invariant":"F1","at_ms":3,"message":"<torn>"}],"reached":[]}"#;
    std::fs::write(&rows, format!("{row}\n")).expect("write");
    let merged = dir.path().join("merge.xml");
    let o = steadfast(&["merge", rows.to_str().expect("utf8"), "--junit", merged.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(1));
    let text = std::fs::read_to_string(&merged).expect("written");
    assert!(text.contains("tests=\"2\" failures=\"2\""), "{text}");
    assert!(text.contains("name=\"selftest/rename-with-fsync seed 7\""), "{text}");
    assert!(text.contains("F1 at 3ms: &lt;torn&gt;"), "escaped: {text}");
    let quoted = ["'selftest/rename-with-fsync'", "&apos;selftest/rename-with-fsync&apos;"];
    assert!(quoted.iter().any(|q| text.contains(&format!("replay --scenario {q} --seed 7"))), "{text}");
    assert_eq!(text.matches("<testcase").count(), 2, "{text}");
}

/// Issue 18: the `--help` of every command, reviewed as a snapshot (the
/// defaults, the exit codes and the --json row schema are part of it).
#[test]
fn every_command_has_reviewed_help() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for cmd in ["", "list", "run", "replay", "crashes", "shrink", "merge", "bench"] {
            let args: Vec<&str> = if cmd.is_empty() { vec!["--help"] } else { vec![cmd, "--help"] };
            let o = steadfast(&args);
            assert!(o.status.success(), "{cmd} --help");
            let name = if cmd.is_empty() { "help".to_string() } else { format!("help_{cmd}") };
            insta::assert_snapshot!(name, stdout(&o));
        }
    });
}

/// A malformed `STEADFAST_REPORT_WINDOW` is bad input: exit 2 with one
/// line naming it, before any run (inside one its panic was the run's).
#[test]
fn a_malformed_report_window_is_bad_input() {
    let o = Command::new(env!("CARGO_BIN_EXE_steadfast"))
        .args(["replay", "--scenario", "selftest/rename-with-fsync", "--seed", "1"])
        .env("STEADFAST_REPORT_WINDOW", "12")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run steadfast");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("STEADFAST_REPORT_WINDOW=\"12\" is not BEFORE,AFTER"), "{err}");
}
