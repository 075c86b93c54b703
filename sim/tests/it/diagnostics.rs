//! Issue 20: what the code under test says through `tracing` is captured
//! per run, stamped with the virtual instant and the node, for checkers
//! to judge; the thread's own subscriber still receives all of it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use steadfast_sim::Schedule;
use steadfast_sim::runner::{self, SweepOptions};

/// A node that warns once, with fields, 250 ms in; the final check judges
/// the capture.
fn warns() -> steadfast_sim::Built {
    steadfast_sim::scenario("test/warns")
        .invariant("X1", "the node's warning is captured as said")
        .schedule(|seed| Schedule::calm(seed, 1000))
        .node("talker", |_| async move {
            madsim::time::sleep(Duration::from_millis(250)).await;
            tracing::debug!("not captured: below INFO");
            tracing::warn!(file = %"/data/x", owner = 7u64, reason = "dead", "lock force-released");
        })
        .at_end(|world| async move {
            let d = world.diagnostics();
            let ok = d.len() == 1
                && d[0].level == "WARN"
                && d[0].node == "talker"
                && (250_000_000..251_000_000).contains(&d[0].at_ns)
                && d[0].message == "lock force-released"
                && d[0].field("file") == Some("/data/x")
                && d[0].field("owner") == Some("7")
                && d[0].field("reason") == Some("dead");
            world.check("X1", ok, || format!("captured {d:?}"));
        })
        .build()
}

/// Counts the events it is handed.
struct Counting(Arc<AtomicUsize>);

impl tracing::Subscriber for Counting {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, e: &tracing::Event<'_>) {
        if e.metadata().target().starts_with("it::") {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn a_run_captures_what_its_nodes_say_and_the_test_still_hears_it() {
    let sc = warns();
    let o = runner::run(&sc, 3, None, 0);
    assert!(!o.violated(), "{}", runner::failure_report(&sc, &o));
    // A sweep of one job runs on this thread, under this thread's default.
    let heard = Arc::new(AtomicUsize::new(0));
    let summary = tracing::subscriber::with_default(Counting(heard.clone()), || {
        runner::sweep(&sc, &[0, 1], SweepOptions::jobs(1), |o| assert!(!o.violated()))
    });
    assert_eq!(summary.violating, 0);
    // Two seeds, the first run twice (on a fresh thread too, which has
    // no default of this test's): the warning and the debug line each.
    assert!(heard.load(Ordering::Relaxed) >= 4, "heard {}", heard.load(Ordering::Relaxed));
}
