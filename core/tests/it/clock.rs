//! `timeout`, `yield_now`, `SystemClock` and `Env::real` on a real tokio
//! runtime. Durations are generous and only ordered, never bounded above:
//! a shared machine may be slow, so no assertion depends on how fast it is.

use std::time::Duration;

use steadfast_core::real::SystemClock;
use steadfast_core::{Clock, Env, timeout, yield_now};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

#[test]
fn timeout_returns_the_value_when_the_future_wins() {
    let clock = SystemClock::new();
    let got = rt().block_on(timeout(&clock, Duration::from_secs(60), async { 7 }));
    assert_eq!(got, Ok(7));
}

#[test]
fn timeout_elapses_on_a_future_that_never_completes() {
    let clock = SystemClock::new();
    let start = clock.now();
    let got = rt().block_on(timeout(&clock, Duration::from_millis(20), std::future::pending::<()>()));
    let err = got.expect_err("pending future must time out");
    assert_eq!(err.after, Duration::from_millis(20));
    assert!(clock.now().saturating_since(start) >= Duration::from_millis(20));
    assert_eq!(err.to_string(), "timed out after 20 ms");
}

#[test]
fn yield_now_lets_another_task_run() {
    rt().block_on(async {
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let f2 = flag.clone();
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async move {
                tokio::task::spawn_local(async move { f2.store(true, std::sync::atomic::Ordering::SeqCst) });
                assert!(!flag.load(std::sync::atomic::Ordering::SeqCst));
                yield_now().await;
                assert!(flag.load(std::sync::atomic::Ordering::SeqCst));
            })
            .await;
    });
}

#[test]
fn real_env_needs_a_runtime_and_spawns_on_it() {
    assert!(Env::real().is_err(), "outside a runtime Env::real must fail, not panic later");
    rt().block_on(async {
        let env = Env::real().expect("env");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let handle = env.spawner.spawn(
            "probe",
            Box::pin(async move {
                tx.send(env.procs.own_pid()).ok();
            }),
        );
        assert_eq!(rx.await.ok(), Some(std::process::id()));
        tokio::task::yield_now().await;
        assert!(handle.is_finished());
        let sleeper = env.spawner.spawn("sleeper", env.clock.sleep(Duration::from_secs(3600)));
        sleeper.abort();
        tokio::task::yield_now().await;
        assert!(sleeper.is_finished());
        assert_ne!(env.entropy.next_u64(), env.entropy.next_u64());
        assert!((0..100).all(|_| env.entropy.below(7) < 7));
    });
}
