//! The world's fault model, one behaviour per test: durability and power
//! loss, torn writes, effects landing inside their window, error rules,
//! blocking calls stalling their node, kills and pid reuse.

use std::future::Future;
use std::io::ErrorKind;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast_core::{FsExt, FsOp, Liveness};
use steadfast_sim::schedule::{ErrorRule, Event, Latency, Mount};
use steadfast_sim::{FaultKind, Schedule, World, is_injected};

/// Run `body` on the harness node of a fresh world.
pub(crate) fn in_world<F, Fut>(schedule: Schedule, body: F)
where
    F: FnOnce(World) -> Fut,
    Fut: Future<Output = ()>,
{
    let rt = madsim::runtime::Runtime::with_seed_and_config(schedule.seed, madsim::Config::default());
    rt.block_on(async move {
        let world = World::new(schedule, &[], usize::MAX);
        world.start();
        world.setup([FsOp::CreateDirAll("/d".into())]);
        body(world).await;
    });
}

pub(crate) fn slow(mut s: Schedule, ms_min: u64, ms_max: u64) -> Schedule {
    s.mounts.push(Mount { prefix: "/".into(), latency: vec![Latency { ops: vec![], ms_min, ms_max }] });
    s
}

#[test]
fn power_loss_keeps_exactly_what_was_synced() {
    in_world(Schedule::calm(1, 1000), |w| async move {
        let fs = w.env().fs;
        fs.write("/d/synced", b"durable".to_vec()).await.expect("write");
        fs.sync_file("/d/synced").await.expect("sync");
        fs.sync_dir("/d").await.expect("sync dir");
        fs.write("/d/entry-only", b"data".to_vec()).await.expect("write");
        fs.sync_file("/d/entry-only").await.expect("sync");
        fs.write("/d/synced", b"overwritten, never synced".to_vec()).await.expect("write");
        w.fire(&Event::PowerLoss { torn: false, restart_after_ms: None });
        assert_eq!(w.peek_file("/d/synced".as_ref()).expect("survives"), b"durable");
        let gone = w.peek_file("/d/entry-only".as_ref()).expect_err("its directory entry was never synced");
        assert_eq!(gone.kind(), ErrorKind::NotFound);
    });
}

#[test]
fn torn_power_loss_keeps_a_prefix_of_unsynced_appends() {
    let mut torn_seen = false;
    for seed in 0..20 {
        let result = Arc::new(Mutex::new(Vec::new()));
        let r = result.clone();
        in_world(Schedule::calm(seed, 1000), |w| async move {
            let fs = w.env().fs;
            fs.write("/d/log", b"base\n".to_vec()).await.expect("write");
            fs.sync_file("/d/log").await.expect("sync");
            fs.sync_dir("/d").await.expect("sync dir");
            fs.append("/d/log", b"0123456789".to_vec()).await.expect("append");
            w.fire(&Event::PowerLoss { torn: true, restart_after_ms: None });
            *r.lock().expect("lock") = w.peek_file("/d/log".as_ref()).expect("log survives");
        });
        let got = result.lock().expect("lock").clone();
        assert!(got.starts_with(b"base\n") && b"base\n0123456789".starts_with(&got), "{got:?}");
        torn_seen |= got.len() > 5 && got.len() < 15;
    }
    assert!(torn_seen, "20 seeds never kept a strict prefix");
}

#[test]
fn a_slow_rename_lands_inside_its_window_even_after_its_caller_is_gone() {
    let landed_at = Arc::new(Mutex::new(Vec::new()));
    for seed in 0..10 {
        let l = landed_at.clone();
        in_world(slow(Schedule::calm(seed, 60_000), 50, 5000), |w| async move {
            w.setup([FsOp::Write { path: "/d/tmp".into(), data: b"new".to_vec() }]);
            let fs = w.env().fs;
            let start = w.now();
            // Abandon the rename after 1 ms: the kernel still completes it.
            let _ = madsim::time::timeout(Duration::from_millis(1), fs.rename("/d/tmp", "/d/final")).await;
            let mut landed = None;
            while landed.is_none() && w.now() < start + Duration::from_secs(6) {
                madsim::time::sleep(Duration::from_millis(1)).await;
                if w.peek_file("/d/final".as_ref()).is_ok() {
                    landed = Some(w.now() - start);
                }
            }
            l.lock().expect("lock").push(landed.expect("the rename never landed"));
        });
    }
    let times = landed_at.lock().expect("lock").clone();
    assert!(times.iter().all(|t| *t <= Duration::from_millis(5001)), "{times:?}");
    let distinct: std::collections::BTreeSet<u128> = times.iter().map(|t| t.as_millis() / 100).collect();
    assert!(distinct.len() > 3, "effects land at seeded instants, not one fixed point: {times:?}");
}

#[test]
fn error_rules_fire_on_the_nth_match_with_honest_kinds() {
    let mut s = Schedule::calm(3, 1000);
    s.errors.push(ErrorRule {
        ops: vec!["write".into()],
        path_prefix: Some("/d/full".into()),
        error: FaultKind::Enospc,
        nth: Some(2),
        probability: None,
        while_renaming: false,
    });
    in_world(s, |w| async move {
        let fs = w.env().fs;
        fs.write("/d/other", b"x".to_vec()).await.expect("other paths never match");
        fs.create_dir_all("/d/full").await.expect("mkdir");
        fs.write("/d/full/a", b"1".to_vec()).await.expect("first match passes");
        let e = fs.write("/d/full/b", b"2".to_vec()).await.expect_err("second match fails");
        assert_eq!(e.kind(), ErrorKind::StorageFull);
        assert!(is_injected(&e));
        fs.write("/d/full/c", b"3".to_vec()).await.expect("third match passes");
    });
}

/// A listing with metadata is `read_dir` to the schedule: a rule naming
/// `read_dir` fails it (and counts it toward its nth), and its entries
/// carry what a look at each would say, at the instant it lands.
#[test]
fn a_listing_with_metadata_is_read_dir_to_fault_rules_and_lands_at_one_instant() {
    let mut s = Schedule::calm(5, 1000);
    s.mounts.push(Mount { prefix: "/d".into(), latency: vec![Latency { ops: vec![], ms_min: 1, ms_max: 30 }] });
    s.errors.push(ErrorRule {
        ops: vec!["read_dir".into()],
        path_prefix: Some("/d".into()),
        error: FaultKind::Eio,
        nth: Some(2),
        probability: None,
        while_renaming: false,
    });
    in_world(s, |w| async move {
        let fs = w.env().fs;
        fs.create_dir_all("/d/sub").await.expect("mkdir");
        fs.write("/d/f", b"abc".to_vec()).await.expect("write");
        fs.symlink("/nowhere", "/d/l").await.expect("symlink");
        fs.read_dir("/d").await.expect("the first match passes");
        let e = fs.read_dir_metadata("/d").await.expect_err("the second match, a listing with metadata, fails");
        assert!(is_injected(&e), "{e}");
        let listed = fs.read_dir_metadata("/d").await.expect("the third passes");
        let names: Vec<_> = listed.iter().map(|(e, _)| e.name.to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["f", "l", "sub"]);
        for (entry, meta) in &listed {
            let look = fs.symlink_metadata(std::path::Path::new("/d").join(&entry.name)).await.expect("look");
            assert_eq!(meta.as_ref(), Some(&look), "{entry:?}");
            assert_eq!(entry.kind, look.kind);
        }
    });
}

/// A look at or a removal of an open directory's entry is
/// `symlink_metadata` or `remove_file` to fault rules, matched by the
/// entry's path (not the directory's) and counted toward their nth; it
/// acts in the open directory after that moved.
#[test]
fn an_open_directorys_entries_meet_fault_rules_by_their_own_paths() {
    let mut s = Schedule::calm(6, 1000);
    for op in ["symlink_metadata", "remove_file"] {
        s.errors.push(ErrorRule {
            ops: vec![op.into()],
            path_prefix: Some("/d/f".into()),
            error: FaultKind::Eio,
            nth: Some(1),
            probability: None,
            while_renaming: false,
        });
    }
    in_world(s, |w| async move {
        let fs = w.env().fs;
        fs.write("/d/f", b"abc".to_vec()).await.expect("write");
        fs.write("/d/g", b"g".to_vec()).await.expect("write");
        let h = fs.open("/d", steadfast_core::OpenMode::READ).await.expect("open");
        fs.stat_at(&h, "g").await.expect("another entry's look matches no rule");
        let e = fs.stat_at(&h, "f").await.expect_err("the first look at /d/f fails");
        assert!(is_injected(&e), "{e}");
        let e = fs.remove_file_at(&h, "f").await.expect_err("the first removal of /d/f fails");
        assert!(is_injected(&e), "{e}");
        assert_eq!(fs.stat_at(&h, "f").await.expect("the second look passes").len, 3);
        fs.rename("/d", "/e").await.expect("rename");
        fs.create_dir_all("/d").await.expect("another /d");
        fs.write("/d/f", b"new".to_vec()).await.expect("write the other /d/f");
        fs.remove_file_at(&h, "f").await.expect("removed in the open directory");
        assert_eq!(fs.symlink_metadata("/e/f").await.map_err(|e| e.kind()).err(), Some(ErrorKind::NotFound));
        assert_eq!(fs.read("/d/f").await.expect("the other /d/f is untouched"), b"new");
        fs.close(&h).await.expect("close");
    });
}

/// An error rule `while_renaming` fails only an operation on a file whose
/// rename is in flight (the unlink an NFS server refuses while it runs
/// the rename); other operations on the same paths neither fail nor count
/// toward its nth.
#[test]
fn while_renaming_rules_fire_only_on_a_file_being_renamed() {
    let mut s = Schedule::calm(4, 10_000);
    s.mounts.push(Mount {
        prefix: "/d".into(),
        latency: vec![Latency { ops: vec!["rename".into()], ms_min: 2_000, ms_max: 2_000 }],
    });
    s.errors.push(ErrorRule {
        ops: vec!["remove_file".into()],
        path_prefix: Some("/d".into()),
        error: FaultKind::Eio,
        nth: Some(2),
        probability: None,
        while_renaming: true,
    });
    in_world(s, |w| async move {
        let fs = w.env().fs;
        fs.create_dir_all("/d").await.expect("mkdir");
        for name in ["/d/a", "/d/b", "/d/c"] {
            fs.write(name, b"x".to_vec()).await.expect("write");
        }
        // Nothing renaming: passes, and is not counted.
        fs.remove_file(std::path::Path::new("/d/a")).await.expect("no rename in flight");
        // Two renames in flight (abandoned by their callers; they land).
        for (from, to) in [("/d/b", "/d/b2"), ("/d/c", "/d/c2")] {
            let _ = madsim::time::timeout(Duration::from_millis(1), fs.rename(from, to)).await;
        }
        fs.remove_file(std::path::Path::new("/d/b")).await.expect("the first qualifying unlink is not the nth");
        let e = fs.remove_file(std::path::Path::new("/d/c")).await.expect_err("the second qualifying unlink fails");
        assert!(is_injected(&e), "{e}");
        madsim::time::sleep(Duration::from_secs(3)).await;
        assert!(w.peek_file("/d/c2".as_ref()).is_ok(), "the rename the failed unlink could not stop landed");
        assert!(w.peek_file("/d/b2".as_ref()).is_err(), "the unlinked source's rename failed");
    });
}

/// Issue 20: a paused process (SIGSTOP, a GC pause) runs nothing for the
/// pause, every other node goes on, and it resumes where it was.
#[test]
fn a_paused_node_runs_nothing_until_it_resumes() {
    let ticks: Arc<Mutex<Vec<(&str, Duration)>>> = Arc::default();
    let t = ticks.clone();
    let mut s = Schedule::calm(6, 10_000);
    s.events.push(steadfast_sim::schedule::TimedEvent {
        at_ms: 1_000,
        what: Event::Pause { node: "frozen".into(), ms: 2_500 },
    });
    in_world(s, move |w| async move {
        for name in ["frozen", "other"] {
            let t = t.clone();
            w.add_node(name, move |w| {
                let t = t.clone();
                async move {
                    loop {
                        madsim::time::sleep(Duration::from_millis(100)).await;
                        t.lock().expect("lock").push((name, w.now()));
                    }
                }
            });
        }
        madsim::time::sleep(Duration::from_secs(5)).await;
    });
    let ticks = ticks.lock().expect("lock").clone();
    let gap = |who: &str| {
        let at: Vec<Duration> = ticks.iter().filter(|(n, _)| *n == who).map(|(_, t)| *t).collect();
        (at.windows(2).map(|p| p[1] - p[0]).max().expect("ticks"), *at.last().expect("ticks"))
    };
    let (frozen, frozen_last) = gap("frozen");
    let (other, _) = gap("other");
    assert!(frozen >= Duration::from_millis(2_400), "the paused node ran during its pause: {frozen:?}");
    assert!(frozen_last >= Duration::from_millis(4_800), "it resumed: last tick {frozen_last:?}");
    assert!(other <= Duration::from_millis(150), "the other node went on: {other:?}");
}

/// A pause point freezes the process whose operation it matches while
/// that operation is in flight: the kernel lands the operation on time,
/// the process sees its result only after the freeze, its other tasks
/// stop too, and `World::frozen` counts the freeze. The schedule's rule
/// fires on its nth match; one the workload arms fires on the node's next
/// match and then disarms.
#[test]
fn a_pause_point_freezes_its_caller_between_an_operation_and_its_result() {
    use steadfast_sim::schedule::PauseRule;
    let seen: Arc<Mutex<Vec<(&str, Duration)>>> = Arc::default();
    let log = seen.clone();
    let mut s = Schedule::calm(8, 60_000);
    let rule = |nth, ms| PauseRule {
        ops: vec!["read".into()],
        path_prefix: Some("/d/lock".into()),
        nth: Some(nth),
        probability: None,
        ms,
    };
    s.pauses.push(rule(2, 3_000));
    in_world(s, move |w| async move {
        w.setup([FsOp::CreateDirAll("/d".into()), FsOp::Write { path: "/d/lock".into(), data: b"a".to_vec() }]);
        let log2 = log.clone();
        w.add_node("holder", move |w| {
            let log = log2.clone();
            async move {
                let fs = w.env().fs;
                let ticker = {
                    let (w, log) = (w.clone(), log.clone());
                    madsim::task::spawn(async move {
                        loop {
                            madsim::time::sleep(Duration::from_millis(100)).await;
                            log.lock().expect("lock").push(("tick", w.now()));
                        }
                    })
                };
                fs.read("/d/other").await.expect_err("other paths never match");
                fs.read("/d/lock").await.expect("the first match runs through");
                log.lock().expect("lock").push(("first", w.now()));
                fs.read("/d/lock").await.expect("the second match freezes");
                log.lock().expect("lock").push(("second", w.now()));
                // Armed by the workload: the next read freezes, then none.
                w.arm_pause("holder", rule(1, 1_000));
                fs.read("/d/lock").await.expect("armed");
                log.lock().expect("lock").push(("armed", w.now()));
                fs.read("/d/lock").await.expect("disarmed");
                log.lock().expect("lock").push(("after", w.now()));
                assert_eq!(w.frozen("holder", Duration::ZERO, w.now()), Duration::from_millis(4_000));
                let later = w.now() + Duration::from_secs(1);
                assert_eq!(w.frozen("holder", w.now(), later), Duration::ZERO, "no freeze after the last");
                assert_eq!(w.frozen("nobody", Duration::ZERO, w.now()), Duration::ZERO);
                madsim::time::sleep(Duration::from_millis(500)).await;
                ticker.abort();
            }
        });
        madsim::time::sleep(Duration::from_secs(10)).await;
    });
    let seen = seen.lock().expect("lock").clone();
    let at = |what: &str| seen.iter().find(|(n, _)| *n == what).map(|(_, t)| *t).expect(what);
    assert!(at("first") < Duration::from_millis(100), "the first match ran through: {seen:?}");
    assert!(at("second") - at("first") >= Duration::from_millis(3_000), "the nth match froze: {seen:?}");
    assert!(at("armed") - at("second") >= Duration::from_millis(1_000), "the armed point froze: {seen:?}");
    assert!(at("after") - at("armed") < Duration::from_millis(100), "an armed point fires once: {seen:?}");
    let ticks: Vec<Duration> = seen.iter().filter(|(n, _)| *n == "tick").map(|(_, t)| *t).collect();
    assert!(ticks.len() >= 3, "the process ran again after its freezes: {ticks:?}");
    let during = |from: Duration, to: Duration| ticks.iter().filter(|t| **t > from && **t < to).count();
    assert_eq!(during(at("first"), at("second")), 0, "the frozen process's other task ran: {ticks:?}");
    assert_eq!(during(at("second"), at("armed")), 0, "the frozen process's other task ran: {ticks:?}");
}

/// A spike rule lengthens the nth matching operation's window (and only
/// in the chaos phase): a write that began first finishes last, its
/// effect landing inside the longer window; other paths, other operations
/// and later matches run at the mount's latency.
#[test]
fn a_latency_spike_makes_one_operation_finish_last() {
    use steadfast_sim::schedule::SpikeRule;
    let seen: Arc<Mutex<Vec<(&str, Duration)>>> = Arc::default();
    let log = seen.clone();
    let mut s = Schedule::calm(12, 20_000);
    s.spikes.push(SpikeRule {
        ops: vec!["write".into()],
        path_prefix: Some("/d/slow".into()),
        nth: Some(2),
        probability: None,
        ms_min: 4_000,
        ms_max: 4_000,
    });
    in_world(s, move |w| async move {
        let fs = w.env().fs;
        fs.write("/d/slow", b"1".to_vec()).await.expect("the first match runs through");
        let t0 = w.now();
        let spiked = {
            let (fs, log, w) = (fs.clone(), log.clone(), w.clone());
            madsim::task::spawn(async move {
                fs.write("/d/slow", b"2".to_vec()).await.expect("the second match is slow, not failed");
                log.lock().expect("lock").push(("spiked", w.now()));
            })
        };
        madsim::time::sleep(Duration::from_millis(1)).await;
        fs.write("/d/other", b"x".to_vec()).await.expect("another path");
        fs.read("/d/slow").await.expect("another operation");
        log.lock().expect("lock").push(("other", w.now()));
        spiked.await.expect("joined");
        assert_eq!(fs.read("/d/slow").await.expect("read"), b"2", "the slow write landed inside its window");
        fs.write("/d/slow", b"3".to_vec()).await.expect("the third match runs through");
        log.lock().expect("lock").push(("third", w.now()));
        log.lock().expect("lock").push(("t0", t0));
    });
    let seen = seen.lock().expect("lock").clone();
    let at = |what: &str| seen.iter().find(|(n, _)| *n == what).map(|(_, t)| *t).expect(what);
    assert!(at("other") - at("t0") < Duration::from_millis(10), "{seen:?}");
    let took = at("spiked") - at("t0");
    assert!(took >= Duration::from_millis(4_000) && took < Duration::from_millis(4_001), "{seen:?}");
    assert!(at("third") - at("spiked") < Duration::from_millis(1), "{seen:?}");
}

/// `World::in_flight` counts every process's operations begun and not
/// landed; `World::in_flight_of` one process's: a killed process's rename
/// is still on its way after its restart, and is not the new one's.
#[test]
fn in_flight_tells_whose_operations_are_on_their_way() {
    let s = slow(Schedule::calm(13, 60_000), 1_000, 1_000);
    in_world(s, |w| async move {
        w.setup([FsOp::Write { path: "/d/a".into(), data: b"a".to_vec() }]);
        let first = Arc::new(std::sync::atomic::AtomicBool::new(true));
        w.add_node("n", move |w| {
            let first = first.swap(false, std::sync::atomic::Ordering::SeqCst);
            async move {
                if first {
                    let _ = w.env().fs.rename("/d/a", "/d/b").await;
                }
            }
        });
        madsim::time::sleep(Duration::from_millis(100)).await;
        let old = w.pid_of("n").expect("a node");
        let is_a = |p: &std::path::Path| p == std::path::Path::new("/d/a");
        w.fire(&Event::Restart { node: "n".into(), reuse_pid: false });
        madsim::time::sleep(Duration::from_millis(10)).await;
        let new = w.pid_of("n").expect("a node");
        assert_ne!(old, new);
        // The rename lands somewhere in its 1 s window: look before it can.
        let (all, of_old, of_new) =
            (w.in_flight("rename", is_a), w.in_flight_of(old, "rename", is_a), w.in_flight_of(new, "rename", is_a));
        assert!(all == 1 && of_old == 1 && of_new == 0, "{all} {of_old} {of_new}");
        madsim::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(w.in_flight("rename", is_a), 0, "landed by the end of its window");
    });
}

/// `World::frozen` counts overlapping freezes once, and a freeze ends when
/// its process dies: nothing of a dead process is frozen.
#[test]
fn frozen_time_is_a_union_cut_at_death() {
    let mut s = Schedule::calm(11, 20_000);
    for (at_ms, ms) in [(1_000, 2_000), (2_000, 2_000), (8_000, 5_000)] {
        s.events.push(steadfast_sim::schedule::TimedEvent { at_ms, what: Event::Pause { node: "n".into(), ms } });
    }
    s.events.push(steadfast_sim::schedule::TimedEvent { at_ms: 9_000, what: Event::Kill { node: "n".into() } });
    in_world(s, |w| async move {
        w.add_node("n", |_w| async move { madsim::time::sleep(Duration::from_secs(60)).await });
        madsim::time::sleep(Duration::from_secs(15)).await;
        let secs = |a: u64, b: u64| w.frozen("n", Duration::from_secs(a), Duration::from_secs(b));
        assert_eq!(secs(0, 5), Duration::from_secs(3), "1-3 s and 2-4 s overlap: 1-4 s");
        assert_eq!(secs(0, 15), Duration::from_secs(4), "the 8-13 s freeze ends at the 9 s kill");
        assert_eq!(secs(2, 3), Duration::from_secs(1));
    });
}

/// A node whose main returns exits, as a process does: its other tasks
/// end with it, its pid is dead to every other process from then on, and
/// the history says so.
#[test]
fn a_process_whose_main_returns_exits_with_its_tasks() {
    let ticks: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let t = ticks.clone();
    in_world(Schedule::calm(9, 10_000), move |w| async move {
        w.add_node("brief", move |w| {
            let t = t.clone();
            async move {
                madsim::task::spawn(async move {
                    loop {
                        madsim::time::sleep(Duration::from_millis(100)).await;
                        t.lock().expect("lock").push(w.now());
                    }
                });
                madsim::time::sleep(Duration::from_millis(1_000)).await;
            }
        });
        madsim::time::sleep(Duration::from_millis(500)).await;
        let pid = w.pid_of("brief").expect("started");
        assert!(w.is_alive("brief"));
        assert_eq!(w.env().procs.liveness(pid), Liveness::Alive);
        madsim::time::sleep(Duration::from_millis(1_500)).await;
        assert!(!w.is_alive("brief"), "its main returned at 1 s");
        assert_eq!(w.env().procs.liveness(pid), Liveness::Dead);
    });
    let ticks = ticks.lock().expect("lock").clone();
    assert!(!ticks.is_empty() && ticks.iter().all(|t| *t <= Duration::from_millis(1_000)), "{ticks:?}");
}

/// A call is the caller's until it returns: `calls_of` counts it in
/// flight and after it lands while its caller waits out the window;
/// `in_flight_of` only until it lands.
#[test]
fn calls_of_counts_a_call_until_it_returns() {
    let s = slow(Schedule::calm(14, 60_000), 1_000, 1_000);
    in_world(s, |w| async move {
        w.setup([FsOp::Write { path: "/d/a".into(), data: b"a".to_vec() }]);
        w.add_node("n", |w| async move {
            let _ = w.env().fs.read("/d/a").await;
            std::future::pending::<()>().await;
        });
        madsim::time::sleep(Duration::from_millis(1)).await;
        let pid = w.pid_of("n").expect("a node");
        let is_a = |p: &std::path::Path| p == std::path::Path::new("/d/a");
        assert_eq!((w.in_flight_of(pid, "read", is_a), w.calls_of(pid, "read", is_a)), (1, 1));
        assert_eq!(w.calls_of(pid, "write", is_a) + w.calls_of(pid + 1, "read", is_a), 0, "another op or process");
        let lands = w.lands_at("read", is_a).expect("in flight");
        assert!(lands < Duration::from_millis(990), "this seed lands the read early in its window: {lands:?}");
        madsim::time::sleep(lands - w.now() + Duration::from_millis(5)).await;
        assert_eq!((w.in_flight_of(pid, "read", is_a), w.calls_of(pid, "read", is_a)), (0, 1), "landed, not returned");
        madsim::time::sleep(Duration::from_millis(1_100)).await;
        assert_eq!(w.calls_of(pid, "read", is_a), 0, "returned");
    });
}

/// SIGTERM: a process that handles it (a task awaits `World::terminated`)
/// runs its handler, which may still write, and exits when its main
/// returns; one without a handler dies at once, as from SIGKILL; a
/// restarted process starts without the handler its predecessor had.
#[test]
fn sigterm_runs_a_handler_or_kills() {
    use steadfast_sim::schedule::TimedEvent;
    let mut s = Schedule::calm(10, 10_000);
    for (at_ms, node) in [(1_000, "handles"), (1_000, "plain"), (3_000, "handles")] {
        s.events.push(TimedEvent { at_ms, what: Event::Terminate { node: node.into(), during: None } });
    }
    s.events.push(TimedEvent { at_ms: 2_000, what: Event::Restart { node: "handles".into(), reuse_pid: false } });
    in_world(s, move |w| async move {
        w.add_node("handles", |w| async move {
            let first = w.now() < Duration::from_millis(1_000);
            if first {
                let signal = w.terminated();
                assert!(!w.terminating(), "no signal yet");
                signal.await;
                assert!(w.terminating(), "the loop's question says so once the signal came");
                let at = w.now();
                w.env().fs.write_blocking("/d/cleaned", at.as_millis().to_string()).expect("write");
            } else {
                std::future::pending::<()>().await;
            }
        });
        w.add_node("plain", |_| std::future::pending::<()>());
        madsim::time::sleep(Duration::from_millis(1_500)).await;
        assert_eq!(w.peek_file(std::path::Path::new("/d/cleaned")).expect("the handler wrote"), b"1000".to_vec());
        assert!(w.exited("handles") && !w.is_alive("handles"), "it exited on its own after its handler");
        assert!(!w.exited("plain") && !w.is_alive("plain"), "no handler: killed");
        madsim::time::sleep(Duration::from_millis(1_000)).await;
        assert!(w.is_alive("handles"), "restarted");
        madsim::time::sleep(Duration::from_millis(1_000)).await;
        assert!(!w.is_alive("handles") && !w.exited("handles"), "the new process had no handler: killed");
    });
}

/// An aimed SIGTERM waits for the process's next matching operation and
/// arrives while it is in flight; the process's other operations before
/// it do not trigger it.
#[test]
fn an_aimed_sigterm_arrives_mid_write() {
    use steadfast_sim::schedule::{During, TimedEvent};
    let mut s = slow(Schedule::calm(11, 10_000), 50, 50);
    let during = During { ops: vec!["write".into()], path_prefix: Some("/d".into()) };
    s.events.push(TimedEvent { at_ms: 150, what: Event::Terminate { node: "n".into(), during: Some(during) } });
    let seen: Arc<Mutex<Vec<(Duration, usize)>>> = Arc::default();
    let log = seen.clone();
    in_world(s, move |w| async move {
        w.add_node("n", move |w| {
            let log = log.clone();
            async move {
                let (ww, term) = (w.clone(), w.terminated());
                madsim::task::spawn(async move {
                    for k in 0..10 {
                        madsim::time::sleep(Duration::from_millis(100)).await;
                        let _ = ww.env().fs.read("/d").await;
                        let _ = ww.env().fs.write(format!("/d/w{k}"), b"x".to_vec()).await;
                    }
                });
                term.await;
                let pid = w.env().procs.own_pid();
                let writes = w.calls_of(pid, "write", |p| p.to_str().is_some_and(|s| s.starts_with("/d/w")));
                log.lock().expect("lock").push((w.now(), writes));
            }
        });
        madsim::time::sleep(Duration::from_secs(2)).await;
        assert!(w.exited("n"), "its handler ran, then it exited");
    });
    let seen = seen.lock().expect("lock").clone();
    let [(at, writes)] = seen[..] else { panic!("one SIGTERM: {seen:?}") };
    assert_eq!(writes, 1, "the write was in flight when the signal came");
    assert!(at >= Duration::from_millis(150) && at < Duration::from_millis(200), "the first write from 150 ms: {at:?}");
}

/// A watcher aims a freeze at the process whose effect it sees: the
/// next matching operation of that process freezes it.
#[test]
fn a_watcher_arms_a_pause_point_for_the_process_it_watches() {
    use steadfast_sim::schedule::PauseRule;
    let seen: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let log = seen.clone();
    let pids: Arc<Mutex<Vec<u32>>> = Arc::default();
    let (pids_seen, pids_known) = (pids.clone(), pids.clone());
    in_world(Schedule::calm(10, 60_000), move |w| async move {
        w.watch(
            "/d",
            Box::new(move |l: &mut steadfast_sim::world::Landed<'_>| {
                pids_seen.lock().expect("lock").push(l.pid);
                if matches!(l.op, FsOp::CreateNew { .. }) && l.ok {
                    l.arm_pause(PauseRule {
                        ops: vec!["read".into()],
                        path_prefix: Some("/d/claim".into()),
                        nth: Some(1),
                        probability: None,
                        ms: 2_000,
                    });
                }
            }),
        );
        w.add_node("claimer", move |w| {
            let log = log.clone();
            async move {
                let fs = w.env().fs;
                fs.read("/d/claim").await.expect_err("not yet: nothing armed, nothing frozen");
                log.lock().expect("lock").push(w.now());
                fs.create_new("/d/claim", b"me".to_vec()).await.expect("claim");
                fs.read("/d/claim").await.expect("the look after the claim freezes");
                log.lock().expect("lock").push(w.now());
            }
        });
        madsim::time::sleep(Duration::from_secs(5)).await;
        let claimer = w.pid_of("claimer").expect("a node");
        let pids = pids_known.lock().expect("lock").clone();
        assert!(!pids.is_empty() && pids.iter().all(|p| *p == claimer), "Landed::pid names the issuer: {pids:?}");
    });
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0] < Duration::from_millis(10), "{seen:?}");
    assert!(seen[1] >= Duration::from_millis(2_000), "{seen:?}");
}

#[test]
fn blocking_calls_stall_their_node_and_async_calls_do_not() {
    for blocking in [true, false] {
        let ticks = Arc::new(Mutex::new(Vec::new()));
        let t = ticks.clone();
        in_world(slow(Schedule::calm(5, 60_000), 2000, 2000), move |w| async move {
            w.add_node("node", move |w| {
                let t = t.clone();
                async move {
                    let ticker = madsim::task::spawn({
                        let w = w.clone();
                        async move {
                            t.lock().expect("lock").push(w.now());
                            loop {
                                madsim::time::sleep(Duration::from_millis(100)).await;
                                t.lock().expect("lock").push(w.now());
                            }
                        }
                    });
                    madsim::time::sleep(Duration::from_millis(50)).await;
                    let fs = w.env().fs;
                    if blocking {
                        fs.write_blocking("/d/f", b"x".to_vec()).expect("write");
                    } else {
                        fs.write("/d/f", b"x".to_vec()).await.expect("write");
                    }
                    madsim::time::sleep(Duration::from_secs(3)).await;
                    ticker.abort();
                }
            });
            madsim::time::sleep(Duration::from_secs(4)).await;
        });
        let ticks = ticks.lock().expect("lock").clone();
        let gap = ticks.windows(2).map(|p| p[1] - p[0]).max().expect("ticks");
        if blocking {
            assert!(gap >= Duration::from_millis(1900), "a 2 s blocking write must stall the ticker: {gap:?}");
        } else {
            assert!(gap < Duration::from_millis(200), "an async write must not stall the ticker: {gap:?}");
        }
    }
}

#[test]
fn killed_and_restarted_nodes_get_new_pids_or_reuse_them() {
    in_world(Schedule::calm(9, 60_000), |w| async move {
        w.add_node("app", |w| async move {
            w.note("up");
            std::future::pending::<()>().await
        });
        madsim::time::sleep(Duration::from_millis(10)).await;
        let procs = w.env().procs;
        let first = w.pid_of("app").expect("pid");
        assert_eq!(procs.liveness(first), Liveness::Alive);
        w.kill("app");
        assert_eq!(procs.liveness(first), Liveness::Dead);
        w.restart("app");
        madsim::time::sleep(Duration::from_millis(10)).await;
        let second = w.pid_of("app").expect("pid");
        assert_ne!(first, second);
        assert_eq!(procs.liveness(second), Liveness::Alive);
        let started = procs.start_time(second);
        w.fire(&Event::Restart { node: "app".into(), reuse_pid: true });
        madsim::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(w.pid_of("app"), Some(second), "pid reused");
        assert_ne!(procs.start_time(second), started, "a reused pid has a new start time");
    });
}

/// A kernel frees a pid only once every system call of its process has
/// returned: a restart that asks for the old pid while a write of the
/// killed process is still in flight gets a new one.
#[test]
fn no_pid_reuse_while_a_call_of_the_old_process_is_in_flight() {
    let s = slow(Schedule::calm(12, 60_000), 1_000, 1_000);
    in_world(s, |w| async move {
        w.add_node("app", |w| async move {
            let _ = w.env().fs.write("/d/slow", b"x".to_vec()).await;
            std::future::pending::<()>().await
        });
        madsim::time::sleep(Duration::from_millis(10)).await;
        let first = w.pid_of("app").expect("pid");
        w.fire(&Event::Restart { node: "app".into(), reuse_pid: true });
        madsim::time::sleep(Duration::from_millis(10)).await;
        let second = w.pid_of("app").expect("pid");
        assert_ne!(first, second, "the old write is still in flight");
        madsim::time::sleep(Duration::from_millis(2_000)).await;
        w.fire(&Event::Restart { node: "app".into(), reuse_pid: true });
        madsim::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(w.pid_of("app"), Some(second), "nothing in flight: reused");
    });
}

#[test]
fn a_crash_point_cuts_power_right_after_its_operation_lands() {
    use steadfast_sim::schedule::CrashRule;
    for metadata_survives in [false, true] {
        let mut s = slow(Schedule::calm(7, 60_000), 1, 20);
        s.crashes.push(CrashRule {
            ops: vec!["rename".into()],
            path_prefix: None,
            nth: 2,
            metadata_survives,
            torn: false,
            restart_after_ms: None,
        });
        in_world(s, |w| async move {
            w.setup([FsOp::Write { path: "/d/t".into(), data: b"v0".to_vec() }]);
            let writer = w.clone();
            w.add_node("writer", move |_| {
                let w = writer.clone();
                async move {
                    let fs = w.env().fs;
                    for i in 1..=3u8 {
                        let tmp = format!("/d/tmp{i}");
                        fs.write(&tmp, vec![b'v', b'0' + i]).await.expect("write");
                        fs.rename(&tmp, "/d/t").await.expect("rename");
                    }
                    // Begun after the crash point: it must never land.
                    fs.write("/d/after", b"x".to_vec()).await.expect("write");
                }
            });
            w.sleep_until(Duration::from_secs(10)).await;
            assert!(!w.is_alive("writer"), "the power loss killed the writer");
            assert!(w.peek_file("/d/after".as_ref()).is_err(), "an op begun after the crash point landed");
            let t = w.peek_file("/d/t".as_ref());
            if metadata_survives {
                // The second rename's entry survived; its data never synced.
                assert_eq!(t.expect("entry survives"), b"", "unsynced data of the renamed file is lost");
                assert!(w.peek_file("/d/tmp3".as_ref()).is_err(), "the third write began after the crash");
            } else {
                assert_eq!(t.expect("setup content survives"), b"v0");
            }
        });
    }
}

/// Bug: a power loss panicked with "dangling inode" when a directory whose
/// own entry was never synced held a durable child: its parent's revert
/// freed it (and the child) before its own revert re-counted the child.
/// Found by the `trace` scenario (metadata commits + crash points). Fix:
/// count every reference that comes back before dropping any that goes.
#[test]
fn power_loss_reverts_a_directory_whose_entry_was_never_synced() {
    in_world(Schedule::calm(1, 1000), |w| async move {
        let fs = w.env().fs;
        fs.create_dir_all("/d/sub").await.expect("mkdir");
        fs.write("/d/sub/f", b"x".to_vec()).await.expect("write");
        fs.sync_file("/d/sub/f").await.expect("sync");
        fs.sync_dir("/d/sub").await.expect("sync sub");
        w.fire(&Event::PowerLoss { torn: false, restart_after_ms: None });
        let left: Vec<String> = w.listing().iter().map(|l| l.path.display().to_string()).collect();
        assert_eq!(left, ["/d"], "the unsynced entry /d/sub vanishes with everything under it");
    });
}

/// Issue 16: two power losses close together restart each node once, after
/// the last (the second used to kill, unrecorded, the process the first
/// restart had started), and a restart that finds a node running records
/// the kill.
#[test]
fn restarts_coalesce_while_the_power_is_off() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let starts = Arc::new(AtomicU64::new(0));
    let s = starts.clone();
    in_world(Schedule::calm(3, 10_000), |w| async move {
        let s2 = s.clone();
        w.add_node("app", move |_| {
            s2.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>()
        });
        w.sleep_until(Duration::from_millis(100)).await;
        w.fire(&Event::PowerLoss { torn: false, restart_after_ms: Some(500) });
        w.sleep_until(Duration::from_millis(200)).await;
        w.fire(&Event::PowerLoss { torn: false, restart_after_ms: Some(500) });
        w.sleep_until(Duration::from_millis(650)).await;
        assert!(!w.is_alive("app"), "the first loss's restart was dropped: power is back only after the last");
        w.sleep_until(Duration::from_millis(1_000)).await;
        assert!(w.is_alive("app"), "restarted after the second loss");
        assert_eq!(s.load(Ordering::SeqCst), 2, "started twice: at the start and once after the losses");
        let pid = w.pid_of("app");
        w.sleep_until(Duration::from_millis(3_000)).await;
        assert_eq!(w.pid_of("app"), pid, "nothing killed it since");
    });
}

/// Issue 16: latency matches a rename's destination too (error and crash
/// rules always matched either path): a rename into a slow mount is slow.
#[test]
fn a_rename_is_as_slow_as_the_slower_of_its_two_mounts() {
    let mut s = Schedule::calm(5, 60_000);
    s.mounts.push(Mount {
        prefix: "/slow".into(),
        latency: vec![Latency { ops: vec!["rename".into()], ms_min: 1_000, ms_max: 2_000 }],
    });
    in_world(s, |w| async move {
        w.setup([FsOp::CreateDirAll("/slow".into())]);
        let fs = w.env().fs;
        for (from, to) in [("/d/a", "/slow/a"), ("/slow/a", "/d/b")] {
            if from == "/d/a" {
                fs.write(from, b"x".to_vec()).await.expect("write");
            }
            let t0 = w.now();
            fs.rename(from, to).await.expect("rename");
            let took = w.now() - t0;
            assert!(took >= Duration::from_millis(1_000), "{from} -> {to} took {took:?}");
        }
    });
}

/// A writer with slow renames, and a driver that looks at the tree (or not)
/// while effects are in flight: looking must not change the history.
struct Peeking;

impl steadfast_sim::Scenario for Peeking {
    fn name(&self) -> &'static str {
        "peeking"
    }
    fn expect(&self) -> steadfast_sim::Expect {
        steadfast_sim::Expect::Hold
    }
    fn description(&self) -> &'static str {
        "a writer with slow renames and a driver that peeks, or not"
    }
    fn invariants(&self) -> &'static [steadfast_sim::Invariant] {
        &[]
    }
    fn schedule(&self, seed: u64) -> Schedule {
        slow(Schedule::calm(seed, 10_000), 1, 400)
    }
    fn run<'a>(&'a self, world: &'a World) -> steadfast_sim::world::LocalBoxFuture<'a, ()> {
        Box::pin(async move {
            world.setup([FsOp::CreateDirAll("/d".into())]);
            world.add_node("app", |w| async move {
                let fs = w.env().fs;
                for i in 0..20 {
                    let tmp = format!("/d/{i}.tmp");
                    let _ = fs.write(tmp.as_str(), vec![b'x'; i]).await;
                    let _ = fs.rename(tmp.as_str(), format!("/d/{i}").as_str()).await;
                }
            });
            let peek = world.schedule().param("peek", 0) == 1;
            for _ in 0..400 {
                madsim::time::sleep(Duration::from_millis(37)).await;
                if peek {
                    let _ = world.peek(FsOp::ReadDir("/d".into()));
                }
                world.note("tick");
            }
        })
    }
}

/// Issue 16: a read-only `peek` in a checker used to move effects earlier
/// in the history (they were recorded when first observed), changing the
/// hash. Effects are now recorded in effect order, whoever looks.
#[test]
fn looking_at_the_tree_never_changes_the_history_hash() {
    use steadfast_sim::Scenario as _;
    for seed in 0..5 {
        let quiet = Peeking.schedule(seed);
        let mut looking = quiet.clone();
        looking.params.insert("peek".into(), 1);
        let a = steadfast_sim::runner::run(&Peeking, seed, Some(quiet), usize::MAX);
        let b = steadfast_sim::runner::run(&Peeking, seed, Some(looking), usize::MAX);
        assert!(a.fs_ops >= 40, "seed {seed}: the writer ran ({} ops)", a.fs_ops);
        assert_eq!(
            a.history_hash,
            b.history_hash,
            "seed {seed}: {:?}",
            steadfast_sim::runner::determinism_mismatch(&a, &b)
        );
    }
}

/// A schedule with `rules` silent faults on every matching operation.
pub(crate) fn silently(seed: u64, fault: steadfast_sim::SilentFault) -> Schedule {
    let mut s = Schedule::calm(seed, 1_000);
    s.silent.push(steadfast_sim::schedule::SilentRule { fault, path_prefix: None, nth: None, probability: Some(1.0) });
    s
}

#[test]
fn a_full_disk_lands_what_fits_and_refuses_the_rest_until_space_is_freed() {
    let mut s = Schedule::calm(1, 1_000);
    s.capacity_bytes = Some(100);
    in_world(s, |w| async move {
        let fs = w.env().fs;
        fs.write("/d/a", vec![b'a'; 60]).await.expect("fits");
        let e = fs.append("/d/a", vec![b'b'; 50]).await.expect_err("50 more do not fit");
        assert_eq!(e.kind(), ErrorKind::StorageFull);
        assert!(is_injected(&e), "a simulated full disk is recognisable: {e}");
        assert_eq!(w.peek_file("/d/a".as_ref()).expect("a").len(), 100, "the 40 bytes that fit landed");
        let e = fs.create_new("/d/b", vec![b'c'; 1]).await.expect_err("no room at all");
        assert_eq!(e.kind(), ErrorKind::StorageFull);
        assert!(w.peek_file("/d/b".as_ref()).is_err(), "an exclusive create is all or nothing");
        fs.write("/d/a", vec![b'x'; 100]).await.expect("replacing 100 bytes by 100 fits");
        let e = fs.write("/d/a", vec![b'y'; 101]).await.expect_err("101 do not");
        assert_eq!(e.kind(), ErrorKind::StorageFull);
        assert_eq!(w.peek_file("/d/a".as_ref()).expect("a"), vec![b'y'; 100], "truncated, then what fit");
        fs.remove_file("/d/a").await.expect("remove");
        fs.write("/d/b", vec![b'z'; 100]).await.expect("space came back");
    });
}

#[test]
fn a_corrupt_read_flips_one_bit_and_leaves_the_file_intact() {
    in_world(silently(3, steadfast_sim::SilentFault::CorruptRead), |w| async move {
        w.setup([FsOp::Write { path: "/d/f".into(), data: vec![0u8; 64] }]);
        let got = w.env().fs.read("/d/f").await.expect("the read reports success");
        let flipped: u32 = got.iter().map(|b| b.count_ones()).sum();
        assert_eq!((got.len(), flipped), (64, 1), "one bit flipped");
        assert_eq!(w.peek_file("/d/f".as_ref()).expect("f"), vec![0u8; 64], "the file itself is intact");
    });
}

#[test]
fn a_lost_write_reports_success_and_changes_nothing() {
    in_world(silently(4, steadfast_sim::SilentFault::LostWrite), |w| async move {
        w.setup([FsOp::Write { path: "/d/f".into(), data: b"old".to_vec() }]);
        let fs = w.env().fs;
        fs.write("/d/f", b"new".to_vec()).await.expect("reported as written");
        fs.append("/d/f", b"more".to_vec()).await.expect("reported as appended");
        assert_eq!(w.peek_file("/d/f".as_ref()).expect("f"), b"old");
        fs.write("/d/fresh", b"data".to_vec()).await.expect("reported as written");
        assert_eq!(w.peek_file("/d/fresh".as_ref()).expect("its entry was written"), b"", "its data was not");
    });
}

#[test]
fn a_misdirected_write_lands_in_another_file_of_its_directory() {
    in_world(silently(5, steadfast_sim::SilentFault::MisdirectedWrite), |w| async move {
        w.setup([
            FsOp::Write { path: "/d/a".into(), data: b"a".to_vec() },
            FsOp::Write { path: "/d/b".into(), data: b"b".to_vec() },
        ]);
        w.env().fs.write("/d/a", b"new".to_vec()).await.expect("reported as written");
        assert_eq!(w.peek_file("/d/a".as_ref()).expect("a"), b"a", "the intended file is unchanged");
        assert_eq!(w.peek_file("/d/b".as_ref()).expect("b"), b"new", "its neighbour took the data");
    });
}

/// Issue 20: one host's clock jumps (an NTP step): its processes read the
/// world's wall clock plus the jump, across a restart; every other node,
/// and the mtimes the disk stamps (a network file system's server), keep
/// the world's clock; the monotonic clock does not move.
#[test]
fn a_host_clock_jump_skews_only_that_hosts_wall_clock() {
    use std::time::SystemTime;
    type Seen = Vec<(&'static str, SystemTime, Duration)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let log = seen.clone();
    let mut s = Schedule::calm(9, 10_000);
    s.events.push(steadfast_sim::schedule::TimedEvent {
        at_ms: 1_250,
        what: Event::HostClockJump { node: "skewed".into(), by_ms: 1_500 },
    });
    in_world(s, move |w| async move {
        for name in ["skewed", "other"] {
            let log = log.clone();
            w.add_node(name, move |w| {
                let log = log.clone();
                async move {
                    loop {
                        let env = w.env();
                        log.lock().expect("lock").push((name, env.clock.wall(), w.now()));
                        if name == "skewed" && w.now() >= Duration::from_secs(2) {
                            let _ = env.fs.write(std::path::Path::new("/stamp"), b"x".to_vec()).await;
                        }
                        madsim::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            });
        }
        madsim::time::sleep(Duration::from_millis(2_600)).await;
        w.restart("skewed");
        madsim::time::sleep(Duration::from_millis(1_000)).await;
        let stamp = w.peek(FsOp::SymlinkMetadata("/stamp".into())).expect("written");
        let steadfast_core::FsOutput::Metadata(meta) = stamp else { panic!("{stamp:?}") };
        log.lock().expect("lock").push(("stamp", meta.modified, w.now()));
        assert_eq!(w.host_clock_skew_ms("skewed"), Some(1_500));
        assert_eq!(w.host_clock_skew_ms("other"), Some(0));
        assert_eq!(w.host_clock_skew_ms("nobody"), None);
    });
    let seen = seen.lock().expect("lock").clone();
    let skew = |who: &str, after: bool| -> Vec<i128> {
        seen.iter()
            .filter(|(n, _, t)| *n == who && (*t >= Duration::from_millis(1_250)) == after)
            .map(|(_, wall, t)| {
                let wall_ns = wall.duration_since(SystemTime::UNIX_EPOCH).expect("after the epoch").as_nanos() as i128;
                wall_ns - t.as_nanos() as i128
            })
            .collect()
    };
    let (before, after) = (skew("skewed", false), skew("skewed", true));
    assert!(!before.is_empty() && after.len() >= 5, "{seen:?}");
    let base = before[0];
    assert!(before.iter().all(|&d| d == base), "no skew before the jump: {before:?}");
    assert!(
        after.iter().all(|&d| d == base + 1_500_000_000),
        "1.5 s ahead after the jump, across the restart: {after:?}"
    );
    assert!(
        skew("other", true).iter().chain(&skew("other", false)).all(|&d| d == base),
        "the other host keeps the world's clock"
    );
    // Written by the skewed host at most 0.5 s before it was looked at:
    // stamped by the host's clock, it would read 1 s or more ahead.
    let stamp = skew("stamp", true);
    assert!(stamp.len() == 1 && stamp[0] <= base, "the disk stamps the world's clock: {stamp:?} vs {base}");
}

/// A new user's trial (session 19): a builder scenario whose schedule
/// names a node it never adds (a typo) fails loudly, naming the event and
/// the scenario's nodes, instead of passing as a seed that held.
#[test]
fn a_builder_schedule_naming_a_node_it_never_adds_fails_loudly() {
    let sc = steadfast_sim::scenario("test/typo-node")
        .invariant("X1", "nothing")
        .schedule(|seed| {
            let mut s = Schedule::calm(seed, 1_000);
            s.events.push(steadfast_sim::schedule::TimedEvent {
                at_ms: 100,
                what: Event::HostClockJump { node: "B".into(), by_ms: 5_000 },
            });
            s
        })
        .node("b", |_| async move {})
        .build();
    let o = steadfast_sim::runner::run(&sc, 0, None, 0);
    let v = o.violations.first().expect("the typo is reported");
    assert!(v.message.contains("names node \"B\"") && v.message.contains("[\"b\"]"), "{}", v.message);
}
