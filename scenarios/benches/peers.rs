//! steadfast beside its closest peers, on the same programs (issue 19):
//!
//! - a tmp+rename replace of a file, four versions, with and without
//!   fsync, power lost at a seeded instant, the survivor checked whole:
//!   steadfast's `selftest/rename-*` sweeps against the same program on
//!   turmoil 0.7's simulated file system (`unstable-fs`, 1 ms ticks);
//! - the same timers on bare madsim (no file system, no checks), one OS
//!   thread per seed and one thread for all: the floor a world on madsim
//!   could reach;
//! - a load balancer polling `/healthz` every 5 s for 2 h while the
//!   server runs a boot sweep: steadfast's `liveness` against a turmoil
//!   program of the same shape over its TCP (10 ms and 1 ms ticks).
//!
//! Each figure is seeds per wall second on one core; the programs run in
//! interleaved rounds and each ratio is the median of its rounds' ratios
//! with the spread. Run it on an idle machine:
//!
//! ```sh
//! cargo bench -p steadfast-scenarios --bench peers            # 5 rounds
//! cargo bench -p steadfast-scenarios --bench peers -- --quick # 1 round, fewer seeds
//! ```
//!
//! turmoil is a dev-dependency of this package only (benches and tests).

#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // wall time, real threads: a benchmark

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use steadfast_sim::runner::{self, SweepOptions};

/// The CLI's allocator (feature `mimalloc`), so the figures are the
/// `steadfast` binary's; the peers' programs run on it too.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const VERSIONS: u32 = 4;

fn version(i: u32) -> Vec<u8> {
    format!("version {i}: {}\n", "x".repeat(20 + i as usize * 40)).into_bytes()
}

/// A splitmix64 step: the peers' seeded draws (turmoil and madsim each
/// seed their own; this only spreads the programs' parameters).
fn draw(seed: &mut u64, lo: u64, hi: u64) -> u64 {
    *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    lo + (z ^ (z >> 31)) % (hi - lo)
}

// ----- the rename program on turmoil ------------------------------------------

/// One seed: a host writes the versions (each operation takes 1 to `slow`
/// ms, as steadfast's mount latency does), power is lost at a seeded
/// instant, the host restarts and finds the target whole or not.
fn turmoil_rename(seed: u64, fsync: bool) -> bool {
    use turmoil::fs::shim::std::fs;
    let mut s = seed;
    let slow = draw(&mut s, 2, 12);
    let crash_ms = draw(&mut s, 1, 150);
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .tick_duration(Duration::from_millis(1))
        .simulation_duration(Duration::from_secs(10))
        .build();
    let whole = Arc::new(Mutex::new(None));
    let w = whole.clone();
    let started = Arc::new(Mutex::new(false));
    let st = started.clone();
    sim.host("writer", move || {
        let (w, st) = (w.clone(), st.clone());
        async move {
            let restarted = std::mem::replace(&mut *st.lock().unwrap(), true);
            if restarted {
                let content = fs::read("/data/target").ok();
                *w.lock().unwrap() = Some(content.is_some_and(|b| (0..=VERSIONS).any(|i| b == version(i))));
                return Ok(());
            }
            fs::create_dir_all("/data")?;
            fs::write("/data/target", version(0))?;
            fs::File::open("/data/target")?.sync_all()?;
            fs::sync_dir("/data")?;
            let mut r = seed ^ 0x5555;
            let pause = |r: &mut u64| tokio::time::sleep(Duration::from_millis(draw(r, 1, slow)));
            for i in 1..=VERSIONS {
                let tmp = format!("/data/target.tmp.{i}");
                pause(&mut r).await;
                fs::write(&tmp, version(i))?;
                if fsync {
                    pause(&mut r).await;
                    fs::File::open(&tmp)?.sync_all()?;
                }
                pause(&mut r).await;
                fs::rename(&tmp, "/data/target")?;
                if fsync {
                    pause(&mut r).await;
                    fs::sync_dir("/data")?;
                }
            }
            std::future::pending::<()>().await;
            Ok(())
        }
    });
    for _ in 0..crash_ms {
        sim.step().unwrap();
    }
    sim.crash("writer");
    sim.bounce("writer");
    while whole.lock().unwrap().is_none() {
        sim.step().unwrap();
    }
    whole.lock().unwrap().unwrap()
}

// ----- the same timers on bare madsim -------------------------------------------

/// The rename program's timers alone: each version's two or four
/// operations as sleeps of 1 to `slow` ms, until the seeded power loss.
fn madsim_timers(seed: u64, fsync: bool) {
    let rt = madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
    rt.block_on(async move {
        let mut s = seed;
        let slow = draw(&mut s, 2, 12);
        let crash = Duration::from_millis(draw(&mut s, 1, 150));
        let writer = madsim::task::spawn(async move {
            let mut r = seed ^ 0x5555;
            for _ in 1..=VERSIONS {
                for _ in 0..if fsync { 4 } else { 2 } {
                    madsim::time::sleep(Duration::from_millis(draw(&mut r, 1, slow))).await;
                }
            }
        });
        madsim::time::sleep(crash).await;
        writer.abort();
    });
}

// ----- /healthz polled during a boot sweep, on turmoil -------------------------

/// The load balancer's view of a server running a 2 h boot sweep in
/// 1-s async steps: a poll every 5 s, answered within 1 s or counted
/// failed. Returns the failed polls.
fn turmoil_healthz(seed: u64, tick: Duration) -> u32 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let boot = Duration::from_secs(2 * 3600);
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .tick_duration(tick)
        .simulation_duration(boot + Duration::from_secs(600))
        .build();
    sim.host("server", move || async move {
        tokio::spawn(async move {
            // The boot sweep: a step a second, yielding between steps.
            for _ in 0..boot.as_secs() {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let listener = turmoil::net::TcpListener::bind("0.0.0.0:8080").await?;
        loop {
            let (mut stream, _) = listener.accept().await?;
            tokio::spawn(async move {
                let mut head = [0u8; 64];
                let _ = stream.read(&mut head).await;
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
            });
        }
    });
    let failed = Arc::new(Mutex::new(0));
    let f = failed.clone();
    sim.client("lb", async move {
        let polls = boot.as_secs() / 5;
        for _ in 0..polls {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let poll = async {
                let mut s = turmoil::net::TcpStream::connect("server:8080").await?;
                s.write_all(b"GET /healthz HTTP/1.1\r\n\r\n").await?;
                let mut answer = Vec::new();
                s.read_to_end(&mut answer).await?;
                Ok::<_, std::io::Error>(answer.starts_with(b"HTTP/1.1 200"))
            };
            let ok = matches!(tokio::time::timeout(Duration::from_secs(1), poll).await, Ok(Ok(true)));
            if !ok {
                *f.lock().unwrap() += 1;
            }
        }
        Ok(())
    });
    sim.run().unwrap();
    *failed.lock().unwrap()
}

// ----- measuring -------------------------------------------------------------------

/// Seeds per second of `one` over `seeds` seeds.
fn rate(seeds: u64, mut one: impl FnMut(u64)) -> f64 {
    let t = Instant::now();
    for seed in 0..seeds {
        one(seed);
    }
    seeds as f64 / t.elapsed().as_secs_f64()
}

/// A steadfast sweep of `name` on one core.
fn steadfast(name: &str, seeds: u64) -> f64 {
    let sc = steadfast_scenarios::find(name).expect("scenario");
    let list: Vec<u64> = (0..seeds).collect();
    let s = runner::sweep(sc, &list, SweepOptions::jobs(1), |_| {});
    // Its verdict (coverage points need more seeds than a benchmark runs).
    let caught = s.violating > 0;
    assert_eq!(caught, sc.expect() == steadfast_sim::Expect::Violate, "{name} must meet its expectation");
    s.seeds_per_s()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Row {
    name: &'static str,
    ours: Vec<f64>,
    peer: Vec<f64>,
}

impl Row {
    fn print(&self, peer: &str) {
        let ratios: Vec<f64> = self.ours.iter().zip(&self.peer).map(|(a, b)| a / b).collect();
        let (lo, hi) = ratios.iter().fold((f64::MAX, 0f64), |(l, h), &r| (l.min(r), h.max(r)));
        println!(
            "{:<46} {:>10.1} {:>10.3} {:<22} {:>8.2}x ({lo:.2}-{hi:.2})",
            self.name,
            median(self.ours.clone()),
            median(self.peer.clone()),
            peer,
            median(ratios)
        );
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 1 } else { 5 };
    let (rename_seeds, turmoil_seeds, liveness_seeds, healthz_seeds) =
        if quick { (2_000, 300, 10, 1) } else { (10_000, 2_000, 40, 2) };
    // Every program once, so none pays for a cold cache in round 1.
    let _ = (steadfast("selftest/rename-with-fsync", 50), turmoil_rename(0, true), madsim_timers(0, true));
    let mut rows = [
        Row { name: "tmp+rename without fsync vs turmoil", ours: vec![], peer: vec![] },
        Row { name: "tmp+rename with fsync vs turmoil", ours: vec![], peer: vec![] },
        Row { name: "rename (with fsync) vs bare madsim, thread/seed", ours: vec![], peer: vec![] },
        Row { name: "rename (with fsync) vs bare madsim, one thread", ours: vec![], peer: vec![] },
        Row { name: "liveness vs turmoil /healthz at 10 ms ticks", ours: vec![], peer: vec![] },
    ];
    let (mut caught, mut failed_polls) = ((0u64, 0u64), 0);
    for _ in 0..rounds {
        for (i, fsync) in [(0, false), (1, true)] {
            let name = if fsync { "selftest/rename-with-fsync" } else { "selftest/rename-without-fsync" };
            rows[i].ours.push(steadfast(name, rename_seeds));
            let mut whole = 0;
            rows[i].peer.push(rate(turmoil_seeds, |seed| whole += u64::from(turmoil_rename(seed, fsync))));
            if fsync {
                assert_eq!(whole, turmoil_seeds, "with fsync every survivor is whole on turmoil too");
            } else {
                caught = (caught.0 + turmoil_seeds - whole, caught.1 + turmoil_seeds);
            }
        }
        let ours = steadfast("selftest/rename-with-fsync", rename_seeds);
        rows[2].ours.push(ours);
        rows[2].peer.push(rate(rename_seeds, |seed| {
            std::thread::spawn(move || madsim_timers(seed, true)).join().unwrap();
        }));
        rows[3].ours.push(ours);
        rows[3].peer.push(rate(rename_seeds, |seed| madsim_timers(seed, true)));
        rows[4].ours.push(steadfast("liveness", liveness_seeds));
        rows[4].peer.push(rate(healthz_seeds, |seed| failed_polls += turmoil_healthz(seed, Duration::from_millis(10))));
    }
    println!(
        "seeds per wall second, one core, median of {rounds} interleaved round(s); ratio: steadfast/peer (spread)"
    );
    println!("{:<46} {:>10} {:>10} {:<22} {:>9}", "program", "steadfast", "peer", "peer is", "ratio");
    rows[0].print("turmoil 0.7, 1 ms");
    rows[1].print("turmoil 0.7, 1 ms");
    rows[2].print("madsim, thread/seed");
    rows[3].print("madsim, one thread");
    rows[4].print("turmoil 0.7, 10 ms");
    if !quick {
        // At turmoil's default 1 ms tick one seed takes about a minute.
        let peer = rate(1, |seed| failed_polls += turmoil_healthz(seed, Duration::from_millis(1)));
        let ours = steadfast("liveness", liveness_seeds);
        Row { name: "liveness vs turmoil /healthz at 1 ms ticks", ours: vec![ours], peer: vec![peer] }
            .print("turmoil 0.7, 1 ms");
    }
    println!(
        "turmoil without fsync: {} of {} survivors torn or missing (steadfast's own count is in `steadfast run`)",
        caught.0, caught.1
    );
    println!("turmoil /healthz: {failed_polls} polls failed in all (the server's sweep yields: none should)");
}
