//! The store under steadfast's simulator: the stock storage faults (slow
//! fsyncs, EIO, ENOSPC, power loss with a restart), and one promise, K1:
//! every acknowledged put survives a power loss and a reopen. With the
//! `planted-bug` feature the store acknowledges before its fsync; with
//! `planted-bug-dir` it never fsyncs the directory of a new log. Either way
//! this test fails with a report and the command that replays the failing
//! seed.

mod common;

use std::time::Duration;

use common::Set;
use steadfast_sim::{check, scenario};

#[test]
fn put_survives_crash() {
    let sc = scenario("kvstore/put-survives-crash")
        .invariant("K1", "every acknowledged put survives a power loss and a reopen")
        .node("kv", |w| async move {
            let (clock, acked) = (w.env().clock, w.shared::<Set>());
            let mut store = common::open(&w).await;
            // A reopen after the restart sees what survived.
            acked.check_all(&w, "K1", store.all());
            let mut rng = w.workload_rng(1);
            while w.now() < w.chaos_end() {
                let (key, value) = (format!("k{}", rng.range(0, 7)), w.now().as_nanos() as u64);
                acked.attempt(key.clone(), value);
                if store.put(&key, value).await.is_ok() {
                    acked.ack(&key, &value);
                }
                clock.sleep(Duration::from_millis(rng.range(1, 50))).await;
            }
        })
        .at_end(|w| common::reopen_and_judge(w, "K1"))
        .build();
    // The printed replay command must rebuild the test as it was built.
    let planted =
        [("planted-bug", cfg!(feature = "planted-bug")), ("planted-bug-dir", cfg!(feature = "planted-bug-dir"))];
    let on: Vec<&str> = planted.iter().filter(|(_, on)| *on).map(|(name, _)| *name).collect();
    let features = if on.is_empty() { String::new() } else { format!("--features {}", on.join(",")) };
    let mut sweep = check(&sc).seeds(300).cargo_args(&features);
    if !on.is_empty() {
        // A planted bug's failing seeds are not the store's regressions.
        sweep = sweep.regressions(None);
    }
    sweep.run();
}
