//! The store under steadfast's simulator: the stock storage faults (slow
//! fsyncs, EIO, ENOSPC, power loss with a restart), and one promise, K1:
//! every acknowledged put survives a power loss and a reopen. With the
//! `planted-bug` feature the store acknowledges before its fsync; with
//! `planted-bug-dir` it never fsyncs the directory of a new log. Either way
//! this test fails with a report and the command that replays the failing
//! seed.

use std::path::Path;
use std::time::Duration;

use kvstore::KvStore;
use steadfast_sim::{Acked, check, scenario};

type Set = Acked<String, u64>;

#[test]
fn put_survives_crash() {
    let sc = scenario("kvstore/put-survives-crash")
        .invariant("K1", "every acknowledged put survives a power loss and a reopen")
        .node("kv", |w| async move {
            let (clock, acked) = (w.env().clock, w.shared::<Set>());
            // Open until it works: an injected EIO may fail one attempt,
            // and a reopen that gives up would hide what it should check.
            let mut store = loop {
                match KvStore::open(Path::new("/data")).await {
                    Ok(store) => break store,
                    Err(_) => clock.sleep(Duration::from_millis(50)).await,
                }
            };
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
        .at_end(|w| async move {
            match KvStore::open(Path::new("/data")).await {
                Ok(store) => w.shared::<Set>().check_all(&w, "K1", store.all()),
                Err(e) => w.check("K1", false, || format!("the store does not reopen after the faults: {e}")),
            }
        })
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
