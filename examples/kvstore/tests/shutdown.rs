//! The store's graceful shutdown under steadfast's simulator: a deploy
//! sends SIGTERM (half the time aimed at a log append, so it lands
//! mid-write), the process restarts 3 s later, on top of the stock
//! storage faults. K2: on SIGTERM the store takes no new put, finishes the
//! one in flight and exits within `EXIT_BOUND`; every put acknowledged
//! before survives the restart. A second sweep runs a store loop that
//! ignores the signal, and must be caught: K2 is no check that cannot fail.

mod common;

use std::time::Duration;

use common::Set;
use steadfast_sim::{During, Expect, Schedule, ScheduleEvent, TimedEvent, World, check, scenario};

/// A put is an append and an fdatasync (500 ms at most each on the slow
/// seeds' disk), and a cut of a partial line first.
const EXIT_BOUND: Duration = Duration::from_secs(2);

/// The restart after a SIGTERM (the deploy's new process), past the bound.
const RESTART_MS: u64 = 3_000;

/// The stock storage faults, plus one SIGTERM in the chaos phase and a
/// restart after it.
fn schedule(seed: u64) -> Schedule {
    let mut s = Schedule::storage_faults(seed);
    let mut rng = steadfast_sim::SimRng::new(seed, 0x5167);
    let at_ms = rng.range(200, s.duration_ms - RESTART_MS - 1);
    let during = rng.chance(0.5).then(|| During { ops: vec!["append".into()], path_prefix: Some("/data".into()) });
    s.events.push(TimedEvent { at_ms, what: ScheduleEvent::Terminate { node: "kv".into(), during } });
    s.events.push(TimedEvent {
        at_ms: at_ms + RESTART_MS,
        what: ScheduleEvent::Restart { node: "kv".into(), reuse_pid: false },
    });
    s
}

async fn serve(w: World, obey: bool) {
    // The handler, installed first: a SIGTERM from here on runs this
    // shutdown (the loop asks `terminating()` between puts).
    drop(w.terminated());
    let (clock, acked) = (w.env().clock, w.shared::<Set>());
    let mut store = common::open(&w).await;
    acked.check_all(&w, "K2", store.all());
    let mut rng = w.workload_rng(2);
    let mut seen = false;
    while w.now() < w.chaos_end() {
        if !seen && w.terminating() {
            seen = true;
            // Judged from outside the process: still running (the same
            // incarnation) once the bound has passed breaks K2. (One a
            // power loss killed meanwhile is not running.)
            let (judge, pid, by) = (w.clone(), w.pid_of("kv"), w.now() + EXIT_BOUND);
            w.spawn_local(async move {
                judge.sleep_until(by).await;
                let running = judge.is_alive("kv") && judge.pid_of("kv") == pid;
                judge.check("K2", !running, || {
                    format!("SIGTERM seen at {:?}; still running at {by:?}", by - EXIT_BOUND)
                });
            });
        }
        if seen && obey {
            break;
        }
        let (key, value) = (format!("k{}", rng.range(0, 7)), w.now().as_nanos() as u64);
        acked.attempt(key.clone(), value);
        if store.put(&key, value).await.is_ok() {
            acked.ack(&key, &value);
        }
        clock.sleep(Duration::from_millis(rng.range(1, 50))).await;
    }
}

fn sweep(name: &'static str, obey: bool, expect: Expect) {
    let sc = scenario(name)
        .invariant("K2", "on SIGTERM the store exits within its bound, and every acknowledged put survives the restart")
        .expect(expect)
        .schedule(schedule)
        .node("kv", move |w| serve(w, obey))
        .at_end(|w| common::reopen_and_judge(w, "K2"))
        .build();
    check(&sc).seeds(300).regressions(None).run();
}

#[test]
fn sigterm_exits_in_bound_and_loses_nothing() {
    sweep("kvstore/sigterm-shutdown", true, Expect::Hold);
}

#[test]
fn a_store_that_ignores_sigterm_is_caught() {
    sweep("kvstore/sigterm-ignored", false, Expect::Violate);
}
