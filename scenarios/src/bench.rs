//! `steadfast bench`: what steadfast exists for, measured in one run, so
//! every ratio compares numbers taken on the same machine minutes apart.
//!
//! - Seeds per second per scenario, on one core and on every core.
//! - The real trace exporter against the raw operations it wraps (write,
//!   fsync, rename, directory fsync of the same bytes), for 1 KB, 1 MB and
//!   50 MB traces, as medians of interleaved runs (so drift in the
//!   machine's load hits both sides alike).
//!
//! A plain subcommand rather than criterion: the figures are whole
//! sweeps and whole-file fsyncs, not nanosecond loops, and one command
//! prints the table `BENCHMARKS.md` quotes.

#![allow(clippy::disallowed_methods)] // wall time and real files, outside every simulation

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use steadfast_core::Env;
use steadfast_core::trace::{FileExporter, FileExporterConfig};
use steadfast_sim::runner::{self, SweepOptions};

/// What to measure and how long.
pub struct BenchArgs {
    /// Scenarios to sweep (all if empty).
    pub scenarios: Vec<&'static dyn steadfast_sim::Scenario>,
    /// Seeds per sweep.
    pub seeds: u64,
    /// Directory for the real-file-system figures (a disk, not tmpfs, for
    /// honest fsyncs).
    pub dir: PathBuf,
    /// Fewer repetitions (a smoke run).
    pub quick: bool,
}

/// Run every figure and print the tables.
pub fn run(args: &BenchArgs) -> Result<(), String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("# steadfast bench: {cores} cores, {} seeds per sweep", args.seeds);
    println!("# {}\n", build_mode());
    println!(
        "{:<40} {:>12} {:>14} {:>14}",
        "scenario",
        "seeds/s 1core",
        format!("seeds/s {cores}cores"),
        "sim s/wall s"
    );
    for &sc in &args.scenarios {
        let seeds: Vec<u64> = (0..args.seeds).collect();
        let one = runner::sweep(sc, &seeds, SweepOptions::jobs(1), |_| {});
        let all = runner::sweep(sc, &seeds, SweepOptions::jobs(cores), |_| {});
        let speed = one.sim_time.as_secs_f64() / one.wall.as_secs_f64().max(1e-9);
        println!("{:<40} {:>12.0} {:>14.0} {:>14.0}", sc.name(), one.seeds_per_s(), all.seeds_per_s(), speed);
    }
    println!();
    detection(&args.scenarios, if args.quick { 100 } else { 1_000 });
    println!();
    export_vs_raw(&args.dir, args.quick)?;
    println!();
    lock_vs_raw(&args.dir, args.quick)?;
    println!();
    sweep_vs_find(&args.dir, if args.quick { 5_000 } else { 55_000 })?;
    println!();
    cost_of_determinism(&args.dir, if args.quick { 50 } else { 200 })
}

/// What the figures were measured with: debug assertions and overflow
/// checks cost sweeps about 2% (`scripts/assertions-cost.sh` measures it,
/// interleaved, on this machine), so a figure names its build.
fn build_mode() -> String {
    // The probe's panic is expected: silenced, so a bench's output never
    // shows a panic message a reader would take for a crash.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let overflow = std::panic::catch_unwind(|| std::hint::black_box(u8::MAX) + std::hint::black_box(1)).is_err();
    std::panic::set_hook(hook);
    let on = |b: bool| if b { "on" } else { "off" };
    format!(
        "build: debug assertions {}, overflow checks {} (the `sweep` profile has both on; scripts/assertions-cost.sh measures their cost)",
        on(cfg!(debug_assertions)),
        on(overflow)
    )
}

/// The same trace workload (sessions recording bursts and flushing) under
/// the simulator, with a calm schedule, and on plain tokio with `RealFs`
/// in a directory on disk.
fn cost_of_determinism(dir: &Path, rounds: u32) -> Result<(), String> {
    let sim = {
        let sc = WorkloadScenario { rounds };
        let t = Instant::now();
        let o = runner::run(&sc, 1, None, 0);
        if o.violated() {
            return Err(format!("the workload failed in simulation: {:?}", o.violations));
        }
        t.elapsed()
    };
    let work = scratch(dir)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let real = rt.block_on(async {
        let env = Env::real().map_err(|e| e.to_string())?;
        let t = Instant::now();
        trace_workload(&env, work.path(), rounds).await?;
        Ok::<_, String>(t.elapsed())
    })?;
    println!(
        "cost of determinism: {SESSIONS} sessions x {rounds} rounds of (10 events + flush) through the trace exporter"
    );
    println!("{:>12} {:>14} {:>10}", "sim ms", "real fs ms", "sim/real");
    println!("{:>12.1} {:>14.1} {:>10.3}", ms(sim), ms(real), ms(sim) / ms(real).max(1e-9));
    Ok(())
}

const SESSIONS: u32 = 4;

/// The workload both sides run: every round, each session records ten
/// events and flushes (a tmp write, fsync, rename, directory fsync).
async fn trace_workload(env: &Env, dir: &Path, rounds: u32) -> Result<(), String> {
    use steadfast_core::trace::{TraceConfig, Tracer};
    let config = FileExporterConfig::default();
    let exporter = Arc::new(FileExporter::open(env, dir, config).await.map_err(|e| e.to_string())?);
    let tracer = Tracer::new(env, vec![exporter], TraceConfig::default());
    let sessions: Vec<_> = (0..SESSIONS).map(|i| tracer.start(&format!("s{i}"))).collect();
    for round in 0..rounds {
        for s in &sessions {
            for k in 0..10 {
                s.record(&format!("r{round}-{k}"), None, serde_json::Value::Null);
            }
            s.flush().await.map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// The trace workload as a scenario: a calm world, no faults.
struct WorkloadScenario {
    rounds: u32,
}

const NO_INVARIANTS: &[steadfast_sim::Invariant] = &[];

impl steadfast_sim::Scenario for WorkloadScenario {
    fn name(&self) -> &'static str {
        "bench/trace-workload"
    }
    fn expect(&self) -> steadfast_sim::Expect {
        steadfast_sim::Expect::Hold
    }
    fn description(&self) -> &'static str {
        "the cost-of-determinism workload"
    }
    fn invariants(&self) -> &'static [steadfast_sim::Invariant] {
        NO_INVARIANTS
    }
    fn schedule(&self, seed: u64) -> steadfast_sim::Schedule {
        steadfast_sim::Schedule::calm(seed, 1_000)
    }
    fn run<'a>(&'a self, world: &'a steadfast_sim::World) -> steadfast_sim::world::LocalBoxFuture<'a, ()> {
        Box::pin(async move {
            let rounds = self.rounds;
            let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag = done.clone();
            world.add_node("app", move |w| {
                let flag = flag.clone();
                async move {
                    let ok = trace_workload(&w.env(), Path::new("/bench"), rounds).await.is_ok();
                    flag.store(ok, std::sync::atomic::Ordering::Relaxed);
                }
            });
            world.sleep_until(world.chaos_end()).await;
            assert!(done.load(std::sync::atomic::Ordering::Relaxed), "the workload did not finish in simulation");
        })
    }
}

/// For every replica: the share of seeds that catch it, and the seeds to
/// first detection from every start offset in the window (median, max).
fn detection(scenarios: &[&'static dyn steadfast_sim::Scenario], seeds: u64) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("replicas over {seeds} seeds: share of seeds that catch it; seeds to first detection (median, max)");
    println!("{:<40} {:>8} {:>8} {:>6}", "replica", "share", "median", "max");
    for &sc in scenarios.iter().filter(|s| s.expect() == steadfast_sim::Expect::Violate) {
        let list: Vec<u64> = (0..seeds).collect();
        let mut caught = Vec::new();
        runner::sweep(sc, &list, SweepOptions::jobs(cores), |o| caught.push(o.violated()));
        let (median, max) = seeds_to_detect(&caught);
        let share = caught.iter().filter(|c| **c).count() as f64 / caught.len().max(1) as f64;
        let show = |v: Option<usize>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
        println!("{:<40} {:>7.1}% {:>8} {:>6}", sc.name(), share * 100.0, show(median), show(max));
    }
}

/// From each start offset, seeds until the first one that catches (only
/// offsets with a catch ahead of them in the window count).
fn seeds_to_detect(caught: &[bool]) -> (Option<usize>, Option<usize>) {
    let mut next_catch = None;
    let mut distances = Vec::new();
    for (i, c) in caught.iter().enumerate().rev() {
        if *c {
            next_catch = Some(i);
        }
        if let Some(j) = next_catch {
            distances.push(j - i + 1);
        }
    }
    distances.sort_unstable();
    (distances.get(distances.len() / 2).copied(), distances.last().copied())
}

fn make_tree(dir: &Path, files: usize) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    for i in 0..files {
        let kind = if i % 2 == 0 { "traces" } else { "metrics" };
        std::fs::write(dir.join(format!("{kind}-{}.jsonl", 4_000_000 + i)), b"{}\n").map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A retention sweep that deletes every file of a `files`-file tree, on a
/// current-thread tokio runtime (one event loop) with a 1 ms heartbeat
/// measuring the loop's lag, against `find DIR -type f -delete` on an
/// identical tree.
fn sweep_vs_find(dir: &Path, files: usize) -> Result<(), String> {
    use steadfast_core::retention::{Kind, RetentionPolicy, sweep_dir};
    let work = scratch(dir)?;
    let (a, b) = (work.path().join("find"), work.path().join("sweep"));
    make_tree(&a, files)?;
    make_tree(&b, files)?;
    let t = Instant::now();
    let status = std::process::Command::new("find")
        .arg(&a)
        .args(["-type", "f", "-delete"])
        .status()
        .map_err(|e| e.to_string())?;
    let find = t.elapsed();
    if !status.success() {
        return Err(format!("find failed: {status}"));
    }
    let kind = |p: &str| Kind { prefix: p.into(), suffix: ".jsonl".into(), files_max: 0, bytes_max: 0 };
    let policy = RetentionPolicy {
        kinds: vec![kind("traces-"), kind("metrics-")],
        protected: Vec::new(),
        age_floor: Duration::ZERO,
        deletions_max: usize::MAX,
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let (sweep, report, mut lags) = rt.block_on(async {
        let env = Env::real().map_err(|e| e.to_string())?;
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = done.clone();
        let heartbeat = tokio::spawn(async move {
            let mut lags = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let t = Instant::now();
                tokio::time::sleep(Duration::from_millis(1)).await;
                lags.push(t.elapsed().saturating_sub(Duration::from_millis(1)));
            }
            lags
        });
        let t = Instant::now();
        let report = sweep_dir(&env, &b, &policy).await;
        let sweep = t.elapsed();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let lags = heartbeat.await.map_err(|e| e.to_string())?;
        Ok::<_, String>((sweep, report, lags))
    })?;
    lags.sort();
    let p99 = lags.get(lags.len() * 99 / 100).copied().unwrap_or_default();
    let max = lags.last().copied().unwrap_or_default();
    println!("retention sweep of {files} files vs find -delete, in {}", dir.display());
    println!(
        "{:>10} {:>10} {:>8} {:>10} {:>14} {:>14}",
        "find ms", "sweep ms", "ratio", "deleted", "lag p99 ms", "lag max ms"
    );
    println!(
        "{:>10.0} {:>10.0} {:>8.2} {:>10} {:>14.2} {:>14.2}",
        ms(find),
        ms(sweep),
        ms(sweep) / ms(find).max(1e-9),
        report.deleted,
        ms(p99),
        ms(max)
    );
    Ok(())
}

/// Uncontended acquire + release against a raw exclusive create + remove.
fn lock_vs_raw(dir: &Path, quick: bool) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    let work = scratch(dir)?;
    let runs = if quick { 100 } else { 1000 };
    let [raw, tokio_raw, lock] = rt.block_on(async {
        let env = Env::real().map_err(|e| e.to_string())?;
        let manager = steadfast_core::lock::LockManager::new(&env, Default::default());
        let session = work.path().join("s.jsonl");
        let raw_lock = work.path().join("raw.lock");
        let mut times: [Vec<Duration>; 3] = Default::default();
        for run in 0..runs {
            // Side by side, in a rotating order.
            for side in (0..3).map(|j| (j + run) % 3) {
                let t = Instant::now();
                match side {
                    0 => {
                        std::fs::OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .open(&raw_lock)
                            .map_err(|e| e.to_string())?;
                        std::fs::remove_file(&raw_lock).map_err(|e| e.to_string())?;
                    }
                    1 => {
                        tokio::fs::OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .open(&raw_lock)
                            .await
                            .map_err(|e| e.to_string())?;
                        tokio::fs::remove_file(&raw_lock).await.map_err(|e| e.to_string())?;
                    }
                    _ => {
                        let guard = manager.acquire(&session).await.map_err(|e| e.to_string())?;
                        guard.release().await.map_err(|e| e.to_string())?;
                    }
                }
                times[side].push(t.elapsed());
            }
        }
        Ok::<_, String>(times)
    })?;
    println!(
        "session lock: uncontended acquire+release vs exclusive create+remove, in {} (medians of {runs}; ratios: median of the side-by-side ratios, p10-p90)",
        dir.display()
    );
    println!("{:>12} {:>14} {:>10} {:>20} {:>20}", "raw sync ms", "raw tokio ms", "lock ms", "lock/sync", "lock/tokio");
    println!("{}", sides(&raw, &tokio_raw, &lock));
    Ok(())
}

/// One row of a real-adapter table: the medians of the raw sequence, the
/// tokio one and ours, then ours against each (median ratio, spread).
fn sides(raw: &[Duration], tokio_raw: &[Duration], ours: &[Duration]) -> String {
    format!(
        "{:>12.3} {:>14.3} {:>10.3} {:>20} {:>20}",
        ms(median(raw.to_vec())),
        ms(median(tokio_raw.to_vec())),
        ms(median(ours.to_vec())),
        ratio(ours, raw),
        ratio(ours, tokio_raw)
    )
}

fn export_vs_raw(dir: &Path, quick: bool) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    let work = scratch(dir)?;
    println!(
        "trace export vs raw write+fsync+rename+dir fsync, in {} (medians; ratios: median of the runs' side-by-side ratios, p10-p90)",
        dir.display()
    );
    println!(
        "{:<8} {:>6} {:>12} {:>14} {:>10} {:>20} {:>20}",
        "size", "runs", "raw sync ms", "raw tokio ms", "export ms", "export/sync", "export/tokio"
    );
    for (label, bytes, runs) in [("1 KB", 1 << 10, 200), ("1 MB", 1 << 20, 40), ("50 MB", 50 << 20, 6)] {
        let runs = if quick { runs / 4 + 1 } else { runs };
        let data = vec![b'x'; bytes];
        let [raw, tokio_raw, export] = rt.block_on(measure(work.path(), &data, runs))?;
        println!("{label:<8} {runs:>6} {}", sides(&raw, &tokio_raw, &export));
    }
    Ok(())
}

/// A scratch directory under `dir` (removed when dropped).
fn scratch(dir: &Path) -> Result<tempfile::TempDir, String> {
    tempfile::tempdir_in(dir).map_err(|e| format!("cannot create a directory in {}: {e}", dir.display()))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Per run, interleaved in a rotating order (so no side always follows
/// another's writeback): the raw sequence on the calling thread, the same
/// with `tokio::fs` (what an async server writes by hand), and the
/// exporter.
async fn measure(dir: &Path, data: &[u8], runs: usize) -> Result<[Vec<Duration>; 3], String> {
    let env = Env::real().map_err(|e| e.to_string())?;
    let config = FileExporterConfig::default();
    let exporter = Arc::new(FileExporter::open(&env, dir, config).await.map_err(|e| e.to_string())?);
    let mut times: [Vec<Duration>; 3] = Default::default();
    for run in 0..runs {
        // Every side starts from its own freshly serialised buffer, made
        // outside the timed region (the exporter takes ownership of it).
        let (mine, mut async_mine, mut theirs) = (data.to_vec(), Some(data.to_vec()), Some(data.to_vec()));
        for side in (0..3).map(|j| (j + run) % 3) {
            let t = Instant::now();
            match side {
                0 => raw_replace(dir, &mine).map_err(|e| format!("raw replace: {e}"))?,
                1 => tokio_replace(dir, async_mine.take().unwrap_or_default())
                    .await
                    .map_err(|e| format!("tokio replace: {e}"))?,
                _ => drop(
                    exporter
                        .write_version("bench", theirs.take().unwrap_or_default())
                        .await
                        .map_err(|e| e.to_string())?,
                ),
            }
            times[side].push(t.elapsed());
        }
    }
    Ok(times)
}

/// The median of the per-run ratios `a[i] / b[i]` (each pair measured
/// side by side, so a disk that slows down between runs moves both), with
/// the 10th and 90th percentiles: `1.12x (0.95-1.40)`.
fn ratio(a: &[Duration], b: &[Duration]) -> String {
    let mut r: Vec<f64> = a.iter().zip(b).map(|(x, y)| x.as_secs_f64() / y.as_secs_f64().max(1e-12)).collect();
    r.sort_by(f64::total_cmp);
    let at = |q: f64| r[((r.len() - 1) as f64 * q).round() as usize];
    format!("{:.2}x ({:.2}-{:.2})", at(0.5), at(0.1), at(0.9))
}

async fn tokio_replace(dir: &Path, data: Vec<u8>) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    let (tmp, target) = (dir.join("tokio.json.tmp"), dir.join("tokio.json"));
    let mut f = tokio::fs::File::create(&tmp).await?;
    f.write_all(&data).await?;
    f.sync_all().await?;
    drop(f);
    tokio::fs::rename(&tmp, &target).await?;
    tokio::fs::File::open(dir).await?.sync_all().await
}

/// What a careful user writes by hand: the baseline.
fn raw_replace(dir: &Path, data: &[u8]) -> std::io::Result<()> {
    let (tmp, target) = (dir.join("raw.json.tmp"), dir.join("raw.json"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, &target)?;
    std::fs::File::open(dir)?.sync_all()
}
