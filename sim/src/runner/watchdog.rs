//! RUN6: a run that never finishes in wall time. A task that never yields
//! (a busy loop at one virtual instant: a wait that returns at once, a
//! retry without a sleep) never gives the executor back, so virtual time
//! stops and no bound inside the simulation (RUN1, RUN4) can fire. It
//! would hang a real event loop the same way. A process-wide watchdog
//! thread sees every run in progress; one past the wall-time limit is
//! reported with its scenario, seed and replay command, and the process
//! exits with status 1 (the spinning thread cannot be stopped from
//! outside, and a sweep or test that hangs forever tells its user
//! nothing). Nothing here touches a run: its history stays the seed's.

#![allow(clippy::disallowed_methods)] // wall time and a real thread, outside every simulation

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The wall-time limit of one run unless `STEADFAST_SEED_TIMEOUT_S` says
/// otherwise: far above the slowest seed of any scenario here in a debug
/// build (about 20 s), so only a run that cannot finish meets it.
pub const SEED_TIMEOUT: Duration = Duration::from_secs(300);

/// How often the watchdog looks.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// The limit: [`SEED_TIMEOUT`] or `STEADFAST_SEED_TIMEOUT_S` (0: none).
pub fn seed_timeout() -> Option<Duration> {
    let secs = std::env::var("STEADFAST_SEED_TIMEOUT_S").ok().and_then(|v| v.trim().parse::<u64>().ok());
    match secs {
        Some(0) => None,
        Some(s) => Some(Duration::from_secs(s)),
        None => Some(SEED_TIMEOUT),
    }
}

struct Watched {
    scenario: &'static str,
    seed: u64,
    since: Instant,
}

fn runs() -> &'static Mutex<BTreeMap<u64, Watched>> {
    static RUNS: OnceLock<Mutex<BTreeMap<u64, Watched>>> = OnceLock::new();
    RUNS.get_or_init(Default::default)
}

/// Watches a run while it lives.
pub(crate) struct Watch(Option<u64>);

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(id) = self.0 {
            runs().lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        }
    }
}

/// Watch the run of `scenario`'s `seed` until the guard drops.
pub(crate) fn watch(scenario: &'static str, seed: u64) -> Watch {
    // Read once per process, and the thread started with it.
    static LIMIT: OnceLock<Option<Duration>> = OnceLock::new();
    let limit = *LIMIT.get_or_init(|| {
        let limit = seed_timeout();
        if let Some(limit) = limit {
            let _ = std::thread::Builder::new().name("steadfast-watchdog".into()).spawn(move || look(limit));
        }
        limit
    });
    if limit.is_none() {
        return Watch(None);
    }
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    runs().lock().unwrap_or_else(|p| p.into_inner()).insert(id, Watched { scenario, seed, since: Instant::now() });
    Watch(Some(id))
}

fn look(limit: Duration) {
    loop {
        std::thread::sleep(LOOK_EVERY);
        let late = {
            let runs = runs().lock().unwrap_or_else(|p| p.into_inner());
            runs.values().find(|w| w.since.elapsed() >= limit).map(|w| (w.scenario, w.seed, w.since.elapsed()))
        };
        if let Some((scenario, seed, ran)) = late {
            // Straight to the process's stderr: `eprintln!` on a thread a
            // test started is captured by libtest, and the exit below
            // would drop it unseen ("test exited abnormally" and nothing
            // else, as a new user's trial found).
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr().lock(), "{}", message(scenario, seed, ran));
            std::process::exit(1);
        }
    }
}

/// What the watchdog prints before it exits.
pub(crate) fn message(scenario: &str, seed: u64, ran: Duration) -> String {
    format!(
        "RUN6: {scenario} seed {seed} has run for {} s of wall time without finishing: a task that never \
         yields (a busy loop at one virtual instant) stops virtual time, as it would hang a real event loop \
         (the limit is STEADFAST_SEED_TIMEOUT_S, default {} s; 0 turns it off)\n{}",
        ran.as_secs(),
        SEED_TIMEOUT.as_secs(),
        super::report::replay_commands(scenario, seed)
    )
}
