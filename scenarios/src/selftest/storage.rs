//! Storage self-tests: the three fault mechanisms the world gained with its
//! rooms (issue 16), each proven by a pair that runs one key-value
//! register workload against a careless store (it must be caught) and a
//! careful one (it must hold), in the style of TigerBeetle's storage faults.
//!
//! - `selftest/disk-full-in-place` / `selftest/disk-full-atomic`: the disk
//!   fills by bytes (`capacity_bytes`) while a filler keeps it nearly full.
//!   A store that rewrites a record in place truncates it, runs out of room
//!   half-way, and has destroyed the last acknowledged value (D2).
//! - `selftest/corrupt-read-trusted` / `selftest/corrupt-read-checked`:
//!   reads return a flipped bit (`silent: corrupt_read`). A store that
//!   trusts what it reads returns a value nobody wrote (D1).
//! - `selftest/lost-write-trusted` / `selftest/lost-write-verified`: writes
//!   report success and are lost, or land in another file
//!   (`silent: lost_write`, `misdirected_write`). A store that trusts an
//!   Ok loses acknowledged values and serves other keys' values (D1, D2).
//!
//! The careful store is the same in every pair: checksummed records that
//! name their key, an atomic replace (tmp, fsync, rename, directory fsync),
//! a read-back of every write, two copies per key, bounded re-reads and a
//! repair of a bad copy from the good one. Its progress twin (D3) makes a
//! store that refuses every write fail too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use steadfast_core::{Env, FsExt, FsOp};
use steadfast_sim::schedule::{Latency, Mount, SilentRule};
use steadfast_sim::world::{Invariant, LocalBoxFuture};
use steadfast_sim::{Expect, Scenario, Schedule, SilentFault, SimRng, World};

const D: &[Invariant] = &[
    Invariant {
        id: "D1",
        statement: "a read returns a value written to that key, never older than its last acknowledged write",
    },
    Invariant {
        id: "D2",
        statement: "after the faults stop, every key reads its last acknowledged value or a newer one",
    },
    Invariant { id: "D3", statement: "after the faults stop, a write is acknowledged and reads back" },
];

const KEYS: u64 = 4;
const DIR: &str = "/data";
/// Puts and gets in the chaos phase.
const ROUNDS: u64 = 300;
/// Bounded retries: re-reads of one copy, attempts of one put.
const READS_MAX: u32 = 3;
const PUT_ATTEMPTS_MAX: u32 = 4;
/// The disk of the disk-full pair.
const CAPACITY_BYTES: u64 = 2_048;
const JUNK: &str = "/data/junk";

/// Which fault mechanism a pair exercises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// The disk fills by bytes.
    DiskFull,
    /// Reads return flipped bits.
    CorruptRead,
    /// Writes are lost or land in another file.
    LostWrite,
}

/// How the store is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// Writes in place and trusts every Ok and every byte it reads.
    Careless,
    /// Checksums, atomic replace, read-back, two copies, repair.
    Careful,
    /// The careful store that refuses every write (a test-only mutant:
    /// the progress invariant D3 must catch it).
    Refusing,
}

/// One storage self-test.
#[derive(Debug)]
pub struct StorageSelftest {
    /// The fault mechanism.
    pub mechanism: Mechanism,
    /// The store under test.
    pub store: Store,
}

impl Scenario for StorageSelftest {
    fn name(&self) -> &'static str {
        match (self.mechanism, self.store) {
            (Mechanism::DiskFull, Store::Careless) => "selftest/disk-full-in-place",
            (Mechanism::DiskFull, Store::Careful) => "selftest/disk-full-atomic",
            (Mechanism::DiskFull, Store::Refusing) => "selftest/disk-full-refusing",
            (Mechanism::CorruptRead, Store::Careless) => "selftest/corrupt-read-trusted",
            (Mechanism::CorruptRead, Store::Careful) => "selftest/corrupt-read-checked",
            (Mechanism::CorruptRead, Store::Refusing) => "selftest/corrupt-read-refusing",
            (Mechanism::LostWrite, Store::Careless) => "selftest/lost-write-trusted",
            (Mechanism::LostWrite, Store::Careful) => "selftest/lost-write-verified",
            (Mechanism::LostWrite, Store::Refusing) => "selftest/lost-write-refusing",
        }
    }

    fn expect(&self) -> Expect {
        if self.store == Store::Careful { Expect::Hold } else { Expect::Violate }
    }

    fn description(&self) -> &'static str {
        match (self.mechanism, self.store == Store::Careless) {
            (Mechanism::DiskFull, true) => "a register store rewriting records in place on a disk that fills up",
            (Mechanism::DiskFull, false) => "a careful register store (atomic replace, two copies) on a full disk",
            (Mechanism::CorruptRead, true) => "a register store that trusts the bytes it reads, under bit flips",
            (Mechanism::CorruptRead, false) => "a careful register store (checksums, re-reads) under bit flips",
            (Mechanism::LostWrite, true) => "a register store that trusts every Ok, under lost and misdirected writes",
            (Mechanism::LostWrite, false) => "a careful register store (read-back, two copies, repair), lost writes",
        }
    }

    fn invariants(&self) -> &'static [Invariant] {
        D
    }

    fn sometimes(&self) -> &'static [&'static str] {
        match (self.mechanism, self.store) {
            (_, Store::Careless | Store::Refusing) => &[],
            (Mechanism::DiskFull, _) => &["a put failed on a full disk"],
            (Mechanism::CorruptRead, _) => &["a checksum caught a bad record"],
            (Mechanism::LostWrite, _) => {
                &["a read-back caught a lost or misdirected write", "a bad copy was repaired from the good one"]
            }
        }
    }

    fn schedule(&self, seed: u64) -> Schedule {
        let mut rng = SimRng::new(seed, 0x5707);
        let mut s = Schedule::calm(seed, 30_000);
        s.quiet_ms = 10_000;
        s.mounts.push(Mount { prefix: DIR.into(), latency: vec![Latency { ops: vec![], ms_min: 1, ms_max: 20 }] });
        let rule = |fault, nth, probability| SilentRule { fault, path_prefix: Some(DIR.into()), nth, probability };
        match self.mechanism {
            Mechanism::DiskFull => s.capacity_bytes = Some(CAPACITY_BYTES),
            Mechanism::CorruptRead => {
                let p = rng.range(50, 300) as f64 / 1000.0;
                s.silent.push(rule(SilentFault::CorruptRead, None, Some(p)));
            }
            Mechanism::LostWrite => {
                let p = rng.range(20, 200) as f64 / 1000.0;
                s.silent.push(rule(SilentFault::LostWrite, None, Some(p)));
                // One misdirected write a run: two could strike both copies
                // of one key, which no two-copy store survives.
                s.silent.push(rule(SilentFault::MisdirectedWrite, Some(rng.range(1, 200)), None));
            }
        }
        s
    }

    fn run<'a>(&'a self, world: &'a World) -> LocalBoxFuture<'a, ()> {
        Box::pin(async move {
            world.setup([FsOp::CreateDirAll(DIR.into())]);
            let (store, mechanism) = (self.store, self.mechanism);
            // Records that grow and shrink are what a full disk truncates.
            let pad_max = if mechanism == Mechanism::DiskFull { 160 } else { 8 };
            let done = Arc::new(AtomicBool::new(false));
            let finished = done.clone();
            world.add_node("app", move |w| {
                let finished = finished.clone();
                async move {
                    workload(&w, store, pad_max).await;
                    finished.store(true, Ordering::Relaxed);
                }
            });
            if mechanism == Mechanism::DiskFull {
                world.add_node("filler", |w| async move { fill(&w).await });
            }
            world.sleep_until(world.quiet_end()).await;
            // A store that hangs or crawls fails to make progress too.
            let done = done.load(Ordering::Relaxed);
            world.check("D3", done, || "the quiet phase's writes and reads did not finish by its end".into());
        })
    }
}

/// A record: `key value padding checksum`, one line; the checksum covers
/// the rest, so a record in the wrong file or with a flipped bit is seen.
fn record(key: u64, value: u64, pad: usize) -> Vec<u8> {
    let body = format!("{key} {value:08} {}", "p".repeat(pad));
    format!("{body} {:016x}\n", steadfast_sim::disk::hash_bytes(body.as_bytes())).into_bytes()
}

/// What a careless reader makes of bytes: a record of four fields, whose
/// value it takes without checking the key or the checksum.
fn parse_trusting(bytes: &[u8]) -> Option<u64> {
    let fields: Vec<&str> = std::str::from_utf8(bytes).ok()?.strip_suffix('\n')?.split(' ').collect();
    if fields.len() != 4 {
        return None;
    }
    fields[1].parse().ok()
}

/// What a careful reader makes of bytes: the value if the record is whole,
/// names `key`, and its checksum matches.
fn parse_checked(bytes: &[u8], key: u64) -> Option<u64> {
    let text = std::str::from_utf8(bytes).ok()?.strip_suffix('\n')?;
    let (body, sum) = text.rsplit_once(' ')?;
    let ok = u64::from_str_radix(sum, 16).ok()? == steadfast_sim::disk::hash_bytes(body.as_bytes());
    let mut fields = body.split(' ');
    let named = fields.next()?.parse::<u64>().ok()? == key;
    (ok && named).then_some(fields.next()?.parse().ok()?)
}

fn primary(key: u64) -> PathBuf {
    PathBuf::from(format!("{DIR}/k{key}"))
}

fn mirror(key: u64) -> PathBuf {
    PathBuf::from(format!("{DIR}/k{key}.mirror"))
}

/// What the workload wrote and was told: the oracle D1..D3 judge by.
#[derive(Default)]
struct Oracle {
    /// Every value ever attempted per key.
    attempted: BTreeMap<u64, Vec<u64>>,
    /// The last acknowledged value per key.
    acked: BTreeMap<u64, u64>,
}

impl Oracle {
    /// D1/D2: `got` is a value written to `key`, not older than `floor`.
    fn judge(&self, key: u64, got: u64, floor: Option<u64>) -> Result<(), String> {
        if !self.attempted.get(&key).is_some_and(|vs| vs.contains(&got)) {
            return Err(format!("key {key} read {got}, a value never written to it"));
        }
        match floor {
            Some(f) if got < f => Err(format!("key {key} read {got}, older than its acknowledged {f}")),
            _ => Ok(()),
        }
    }
}

async fn workload(w: &World, store: Store, pad_max: u64) {
    let env = w.env();
    let mut oracle = Oracle::default();
    let mut rng = w.workload_rng(1);
    for round in 0..ROUNDS {
        if w.now() >= w.chaos_end() {
            break;
        }
        let key = rng.range(0, KEYS - 1);
        if rng.chance(0.5) {
            // Values are unique across keys, so another key's value is seen.
            let value = round * KEYS + key + KEYS;
            oracle.attempted.entry(key).or_default().push(value);
            if put(w, &env, store, key, value, rng.range(0, pad_max) as usize).await {
                oracle.acked.insert(key, value);
            }
        } else {
            let floor = oracle.acked.get(&key).copied();
            if let Some(got) = get(w, &env, store, key).await {
                let verdict = oracle.judge(key, got, floor);
                w.check("D1", verdict.is_ok(), || verdict.err().unwrap_or_default());
            }
        }
        madsim::time::sleep(Duration::from_millis(rng.range(10, 100))).await;
    }
    // Room for the filler's last removal of its junk (its sleeps and ops
    // end within about 0.4 s of the chaos phase).
    w.sleep_until(w.chaos_end() + Duration::from_secs(2)).await;
    quiet(w, &env, store, &oracle).await;
}

/// The quiet phase: every acknowledged value is still there (D2), and a new
/// write of every key is acknowledged and reads back (D3).
async fn quiet(w: &World, env: &Env, store: Store, oracle: &Oracle) {
    for key in 0..KEYS {
        let Some(&floor) = oracle.acked.get(&key) else { continue };
        let got = get(w, env, store, key).await;
        let verdict =
            got.ok_or_else(|| format!("key {key} is unreadable")).and_then(|g| oracle.judge(key, g, Some(floor)));
        w.check("D2", verdict.is_ok(), || verdict.err().unwrap_or_default());
    }
    for key in 0..KEYS {
        let value = 1_000_000 + key;
        let acked = put(w, env, store, key, value, 8).await;
        let back = if acked { get(w, env, store, key).await } else { None };
        w.check("D3", back == Some(value), || format!("key {key}: put acknowledged {acked}, read back {back:?}"));
    }
}

async fn put(w: &World, env: &Env, store: Store, key: u64, value: u64, pad: usize) -> bool {
    let bytes = record(key, value, pad);
    match store {
        Store::Refusing => false,
        Store::Careless => env.fs.write(primary(key), bytes).await.is_ok(),
        Store::Careful => {
            for _ in 0..PUT_ATTEMPTS_MAX {
                // Mirror second: it always holds the last acknowledged value
                // or a newer one while the primary is being replaced.
                if replace(w, env, &primary(key), &bytes).await && replace(w, env, &mirror(key), &bytes).await {
                    return true;
                }
            }
            false
        }
    }
}

/// Atomic replace with read-backs: tmp, fsync, read the tmp back (a lost
/// write must not be renamed over a good copy), rename, directory fsync,
/// read the target back.
async fn replace(w: &World, env: &Env, target: &Path, bytes: &[u8]) -> bool {
    let fs = &env.fs;
    let tmp = PathBuf::from(format!("{}.tmp", target.display()));
    if let Err(e) = fs.write(&tmp, bytes.to_vec()).await {
        if e.kind() == std::io::ErrorKind::StorageFull {
            w.reach("a put failed on a full disk");
        }
        let _ = fs.remove_file(&tmp).await;
        return false;
    }
    if fs.sync_file(&tmp).await.is_err() || !reads_back(env, &tmp, bytes).await {
        w.reach("a read-back caught a lost or misdirected write");
        let _ = fs.remove_file(&tmp).await;
        return false;
    }
    if fs.rename(&tmp, target).await.is_err() || fs.sync_dir(DIR).await.is_err() {
        return false;
    }
    reads_back(env, target, bytes).await
}

/// Does `path` hold exactly `bytes`? Re-read up to `READS_MAX` times: a
/// corrupt read is transient, a lost write is not.
async fn reads_back(env: &Env, path: &Path, bytes: &[u8]) -> bool {
    for _ in 0..READS_MAX {
        match env.fs.read(path).await {
            Ok(got) if got == bytes => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

async fn get(w: &World, env: &Env, store: Store, key: u64) -> Option<u64> {
    if store == Store::Careless {
        return parse_trusting(&env.fs.read(primary(key)).await.ok()?);
    }
    let (p, m) = (copy(w, env, &primary(key), key).await, copy(w, env, &mirror(key), key).await);
    // The primary is replaced first, so a good primary is never older.
    match (p, m) {
        (Some((v, _)), Some(_)) => Some(v),
        (Some((v, bytes)), None) => Some(repair(w, env, &mirror(key), &bytes, v).await),
        (None, Some((v, bytes))) => Some(repair(w, env, &primary(key), &bytes, v).await),
        (None, None) => None,
    }
}

/// One copy's value and bytes, re-read while the checksum fails.
async fn copy(w: &World, env: &Env, path: &Path, key: u64) -> Option<(u64, Vec<u8>)> {
    for _ in 0..READS_MAX {
        let bytes = env.fs.read(path).await.ok()?;
        if let Some(v) = parse_checked(&bytes, key) {
            return Some((v, bytes));
        }
        if parse_trusting(&bytes).is_some() {
            w.reach("a checksum caught a bad record");
        }
    }
    None
}

/// Rewrite a bad copy from the good one's bytes; the good value either way.
async fn repair(w: &World, env: &Env, bad: &Path, good: &[u8], value: u64) -> u64 {
    if replace(w, env, bad, good).await {
        w.reach("a bad copy was repaired from the good one");
    }
    value
}

/// Keeps the disk nearly full in the chaos phase; frees it for the quiet
/// phase, as an operator would.
async fn fill(w: &World) {
    let fs = w.env().fs;
    let mut rng = w.workload_rng(2);
    while w.now() < w.chaos_end() {
        if fs.append(JUNK, vec![b'j'; rng.range(16, 256) as usize]).await.is_err() {
            madsim::time::sleep(Duration::from_millis(rng.range(5, 300))).await;
            if rng.chance(0.3) {
                let keep = rng.range(CAPACITY_BYTES / 2, CAPACITY_BYTES) as usize;
                let _ = fs.write(JUNK, vec![b'j'; keep]).await;
            }
        }
        madsim::time::sleep(Duration::from_millis(rng.range(1, 50))).await;
    }
    let _ = fs.remove_file(JUNK).await;
}
