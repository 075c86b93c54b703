//! Acquire latency of a busy session lock on the real file system: how
//! long after its holder lets go a waiting `acquire` returns (hand-off),
//! and how many turns per second 8 tasks of one process get through one
//! manager (contended). Prints one line per figure; compare revisions
//! with `scripts/lock-busy-before-after.sh`.
//!
//! `cargo run --release -p steadfast-core --features real --example lock_busy`

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // a benchmark: real clocks

use std::sync::Arc;
use std::time::{Duration, Instant};

use steadfast_core::Env;
use steadfast_core::lock::{LockConfig, LockManager};

const HANDOFFS: usize = 200;
const TASKS: usize = 8;
const TURNS: usize = 50;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let session = dir.path().join("s.jsonl");
    rt.block_on(async {
        let env = Env::real().expect("env");
        let manager = LockManager::new(&env, LockConfig::default());
        let mut lat = Vec::new();
        for _ in 0..HANDOFFS {
            let held = manager.acquire(&session).await.expect("acquire");
            let (m, s) = (manager.clone(), session.clone());
            let waiter = tokio::spawn(async move {
                let g = m.acquire(&s).await.expect("waiter");
                let at = Instant::now();
                g.release().await.expect("release");
                at
            });
            tokio::time::sleep(Duration::from_millis(20)).await;
            let released = Instant::now();
            held.release().await.expect("release");
            let acquired = waiter.await.expect("join");
            lat.push(acquired.saturating_duration_since(released));
        }
        lat.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "handoff after release: median {:.2} ms, p90 {:.2} ms, max {:.2} ms ({HANDOFFS} runs)",
            ms(lat[HANDOFFS / 2]),
            ms(lat[HANDOFFS * 9 / 10]),
            ms(lat[HANDOFFS - 1])
        );
        let start = Instant::now();
        let mut tasks = Vec::new();
        for t in 0..TASKS {
            let (m, s) = (manager.clone(), Arc::new(session.clone()));
            tasks.push(tokio::spawn(async move {
                for k in 0..TURNS {
                    let g = m.acquire(&s).await.expect("acquire");
                    g.append(format!("{{\"t\":{t},\"k\":{k}}}\n").as_bytes()).await.expect("append");
                    g.release().await.expect("release");
                }
            }));
        }
        for t in tasks {
            t.await.expect("join");
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "contended: {TASKS} tasks x {TURNS} turns in {secs:.2} s = {:.0} turns/s",
            (TASKS * TURNS) as f64 / secs
        );
    });
}
