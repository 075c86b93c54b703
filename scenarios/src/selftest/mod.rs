//! Self-test scenarios: they prove the world's fault model before any
//! `core` module exists. Each pair runs one workload twice, once with the
//! shipped mistake (it must be caught) and once done right (it must hold).
//!
//! - `selftest/rename-without-fsync` / `selftest/rename-with-fsync`: a
//!   tmp+rename replace of a file, with a power loss at a seeded instant and
//!   the kernel committing directory metadata on its own (ext4's journal).
//!   Without fsync of the file, the rename can survive while its data does
//!   not: the target comes back empty or torn (F1).
//! - `selftest/blocking-stall` / `selftest/async-no-stall`: a node deletes a
//!   large tree on a slow mount while another polls it over simulated
//!   network with a 1 s timeout. Blocking deletes stall the whole node, so a
//!   poll times out (S1); async deletes that yield between entries do not.
//! - One pair per storage fault mechanism (a disk that fills by bytes,
//!   corrupt reads, lost and misdirected writes), in [`storage`]'s module
//!   docs: a careless register store is caught, a careful one holds.

pub mod storage;

pub use storage::{Mechanism, StorageSelftest, Store};

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::net::Endpoint;
use steadfast_core::{FileKind, FsExt, FsOp, yield_now};
use steadfast_sim::schedule::{Event, Latency, Mount, TimedEvent};
use steadfast_sim::world::{Invariant, LocalBoxFuture};
use steadfast_sim::{Expect, Scenario, Schedule, World};

const F1: &[Invariant] =
    &[Invariant { id: "F1", statement: "after power loss the target holds the old or the new content, whole" }];
const S1: &[Invariant] = &[Invariant { id: "S1", statement: "the poller never times out" }];

/// A tmp+rename replace with a power loss at a seeded instant.
#[derive(Debug)]
pub struct RenameReplace {
    /// fsync the file before the rename and the directory after.
    pub fsync: bool,
}

const VERSIONS: u64 = 4;

fn version(i: u64) -> Vec<u8> {
    versions()[i as usize].clone()
}

/// Every version's content, made once (each seed writes and compares them).
fn versions() -> &'static [Vec<u8>] {
    static VERSIONS_MADE: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    // Distinct, self-describing content: "whole" means exactly one of these.
    VERSIONS_MADE.get_or_init(|| {
        (0..=VERSIONS).map(|i| format!("version {i}: {}\n", "x".repeat(512 + i as usize * 97)).into_bytes()).collect()
    })
}

impl Scenario for RenameReplace {
    fn name(&self) -> &'static str {
        if self.fsync { "selftest/rename-with-fsync" } else { "selftest/rename-without-fsync" }
    }

    fn expect(&self) -> Expect {
        if self.fsync { Expect::Hold } else { Expect::Violate }
    }

    fn description(&self) -> &'static str {
        if self.fsync {
            "tmp+rename replace with fsync of file and directory, power loss at a seeded instant"
        } else {
            "tmp+rename replace without any fsync, power loss at a seeded instant"
        }
    }

    fn invariants(&self) -> &'static [Invariant] {
        F1
    }

    fn sometimes(&self) -> &'static [&'static str] {
        &["power loss after a rename was issued"]
    }

    fn schedule(&self, seed: u64) -> Schedule {
        let mut rng = steadfast_sim::SimRng::new(seed, 1);
        let mut s = Schedule::calm(seed, 200);
        s.metadata_commit_ms = Some(rng.range(2, 30));
        s.mounts.push(Mount {
            prefix: "/data".into(),
            latency: vec![Latency { ops: vec![], ms_min: 1, ms_max: rng.range(2, 12) }],
        });
        s.events.push(TimedEvent {
            at_ms: rng.range(1, 150),
            what: Event::PowerLoss { torn: rng.chance(0.5), restart_after_ms: None },
        });
        s
    }

    fn run<'a>(&'a self, world: &'a World) -> LocalBoxFuture<'a, ()> {
        let fsync = self.fsync;
        Box::pin(async move {
            let (dir, target) = (PathBuf::from("/data"), PathBuf::from("/data/target"));
            world.setup([FsOp::CreateDirAll(dir.clone()), FsOp::Write { path: target.clone(), data: version(0) }]);
            let first_rename: Arc<Mutex<Option<Duration>>> = Arc::default();
            let first = first_rename.clone();
            world.add_node("writer", move |w| {
                let (dir, target, first) = (dir.clone(), target.clone(), first.clone());
                async move {
                    let fs = w.env().fs;
                    for i in 1..=VERSIONS {
                        let tmp = dir.join(format!("target.tmp.{i}"));
                        // Errors end the writer; the invariant is about what survives.
                        if fs.write(&tmp, version(i)).await.is_err() {
                            return;
                        }
                        if fsync && fs.sync_file(&tmp).await.is_err() {
                            return;
                        }
                        first.lock().expect("lock").get_or_insert(w.now());
                        if fs.rename(&tmp, &target).await.is_err() {
                            return;
                        }
                        if fsync && fs.sync_dir(&dir).await.is_err() {
                            return;
                        }
                    }
                }
            });
            world.sleep_until(world.chaos_end()).await;
            let loss_at = world.schedule().events.iter().find(|e| matches!(e.what, Event::PowerLoss { .. }));
            let renamed = *first_rename.lock().expect("lock");
            if let (Some(loss), Some(renamed)) = (loss_at, renamed)
                && renamed < Duration::from_millis(loss.at_ms)
            {
                world.reach("power loss after a rename was issued");
            }
            check_f1(world, Path::new("/data/target"));
        })
    }
}

fn check_f1(world: &World, target: &Path) {
    let content = world.peek_file(target);
    let whole = match &content {
        Ok(bytes) => versions().contains(bytes),
        Err(_) => false,
    };
    world.check("F1", whole, || match &content {
        Ok(bytes) => format!(
            "{} holds {} bytes that are no whole version: {:?}...",
            target.display(),
            bytes.len(),
            String::from_utf8_lossy(&bytes[..bytes.len().min(24)])
        ),
        Err(e) => format!("{} is unreadable: {e}", target.display()),
    });
}

/// Delete a large tree on a slow mount while a poller checks liveness.
#[derive(Debug)]
pub struct TreeDelete {
    /// Delete with blocking calls (the shipped mistake).
    pub blocking: bool,
}

const PORT: u16 = 7000;
const POLL_EVERY: Duration = Duration::from_secs(1);
const POLL_TIMEOUT: Duration = Duration::from_secs(1);

impl Scenario for TreeDelete {
    fn name(&self) -> &'static str {
        if self.blocking { "selftest/blocking-stall" } else { "selftest/async-no-stall" }
    }

    fn expect(&self) -> Expect {
        if self.blocking { Expect::Violate } else { Expect::Hold }
    }

    fn description(&self) -> &'static str {
        if self.blocking {
            "a node deletes a large tree with blocking calls on a slow mount while another polls it"
        } else {
            "the same deletion with async calls, yielding between entries"
        }
    }

    fn invariants(&self) -> &'static [Invariant] {
        S1
    }

    fn params(&self) -> &'static [steadfast_sim::ParamSpec] {
        TREE_PARAMS
    }

    fn sometimes(&self) -> &'static [&'static str] {
        &["a poll answered while the deletion ran"]
    }

    fn schedule(&self, seed: u64) -> Schedule {
        let mut rng = steadfast_sim::SimRng::new(seed, 2);
        let mut s = Schedule::calm(seed, 60_000);
        s.mounts.push(Mount {
            prefix: "/efs".into(),
            latency: vec![Latency { ops: vec![], ms_min: rng.range(1, 5), ms_max: rng.range(5, 60) }],
        });
        s.params.insert("dirs".into(), rng.range(5, 20));
        s.params.insert("files_per_dir".into(), rng.range(5, 30));
        s.params.insert("start_ms".into(), rng.range(0, 5_000));
        s
    }

    fn run<'a>(&'a self, world: &'a World) -> LocalBoxFuture<'a, ()> {
        let blocking = self.blocking;
        Box::pin(async move {
            let (dirs, files) = (world.schedule().param("dirs", 10), world.schedule().param("files_per_dir", 10));
            world.setup(seed_tree(dirs, files));
            let start = Duration::from_millis(world.schedule().param("start_ms", 0));
            world.add_node("server", move |w| async move {
                let ip = w.ip("server");
                let Ok(ep) = Endpoint::bind((ip, PORT)).await else { return };
                let deleter = madsim::task::spawn({
                    let w = w.clone();
                    async move {
                        w.sleep_until(start).await;
                        w.note("deletion starts");
                        let done = if blocking { delete_blocking(&w) } else { delete_async(&w).await };
                        w.note(format!("deletion ends: {done:?}"));
                    }
                });
                let mut buf = [0u8; 8];
                while let Ok((_, from)) = ep.recv_from(1, &mut buf).await {
                    if !deleter.is_finished() {
                        w.reach("a poll answered while the deletion ran");
                    }
                    if ep.send_to(from, 2, &buf).await.is_err() {
                        break;
                    }
                }
            });
            world.add_node("poller", move |w| async move {
                let Ok(ep) = Endpoint::bind((w.ip("poller"), PORT)).await else { return };
                let server = (w.ip("server"), PORT);
                let mut seq: u64 = 0;
                while w.now() + POLL_EVERY < w.chaos_end() {
                    madsim::time::sleep(POLL_EVERY).await;
                    seq += 1;
                    if ep.send_to(server, 1, &seq.to_le_bytes()).await.is_err() {
                        continue;
                    }
                    let mut buf = [0u8; 8];
                    let answer = madsim::time::timeout(POLL_TIMEOUT, ep.recv_from(2, &mut buf)).await;
                    w.check("S1", answer.is_ok(), || format!("poll {seq} got no answer within {POLL_TIMEOUT:?}"));
                }
            });
            world.sleep_until(world.chaos_end()).await;
        })
    }
}

fn seed_tree(dirs: u64, files: u64) -> Vec<FsOp> {
    let mut ops = vec![FsOp::CreateDirAll("/efs/tree".into())];
    for d in 0..dirs {
        let dir = PathBuf::from(format!("/efs/tree/d{d:03}"));
        ops.push(FsOp::CreateDirAll(dir.clone()));
        for f in 0..files {
            ops.push(FsOp::Write { path: dir.join(format!("f{f:03}")), data: vec![b'x'; 64] });
        }
    }
    ops
}

/// The shipped mistake: one synchronous recursive remove.
fn delete_blocking(w: &World) -> std::io::Result<()> {
    w.env().fs.remove_dir_all_blocking("/efs/tree")
}

/// Depth-first async delete, one entry at a time, yielding between entries.
async fn delete_async(w: &World) -> std::io::Result<()> {
    let fs = w.env().fs;
    let mut stack = vec![(PathBuf::from("/efs/tree"), false)];
    while let Some((dir, emptied)) = stack.pop() {
        if emptied {
            fs.remove_dir(&dir).await?;
            continue;
        }
        stack.push((dir.clone(), true));
        for entry in fs.read_dir(&dir).await? {
            let path = dir.join(&entry.name);
            if entry.kind == FileKind::Dir {
                stack.push((path, false));
            } else {
                fs.remove_file(&path).await?;
            }
            yield_now().await;
        }
    }
    Ok(())
}

/// The tree-deletion self-tests' knobs.
const TREE_PARAMS: &[steadfast_sim::ParamSpec] = &[
    steadfast_sim::ParamSpec { name: "dirs", max: 1_000, doc: "directories in the tree" },
    steadfast_sim::ParamSpec { name: "files_per_dir", max: 1_000, doc: "files in each directory" },
    steadfast_sim::ParamSpec {
        name: "start_ms",
        max: steadfast_sim::schedule::limits::RUN_MS_MAX,
        doc: "when the deletion starts",
    },
];
