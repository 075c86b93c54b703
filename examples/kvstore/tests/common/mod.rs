//! What the store's simulation tests share: opening it under faults, and
//! the final reopen that judges what survived.

use std::path::Path;
use std::time::Duration;

use kvstore::KvStore;
use steadfast_sim::{Acked, World};

/// Every put attempted and acknowledged, by key.
pub type Set = Acked<String, u64>;

/// Open the store in `/data` until it works: an injected EIO may fail one
/// attempt, and a reopen that gives up would hide what it should check.
pub async fn open(w: &World) -> KvStore {
    let clock = w.env().clock;
    loop {
        match KvStore::open(Path::new("/data")).await {
            Ok(store) => return store,
            Err(_) => clock.sleep(Duration::from_millis(50)).await,
        }
    }
}

/// At the end: the store reopens, and holds every acknowledged put
/// (`invariant`).
pub async fn reopen_and_judge(w: World, invariant: &'static str) {
    match KvStore::open(Path::new("/data")).await {
        Ok(store) => w.shared::<Set>().check_all(&w, invariant, store.all()),
        Err(e) => w.check(invariant, false, || format!("the store does not reopen after the faults: {e}")),
    }
}
