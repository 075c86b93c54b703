//! `trace` and its five `legacy/trace-*` replicas (incident 4, T1..T8).
//!
//! One process (`app`) records several sessions that share one exporter:
//! bursts of 1 to 50 events with a snapshot after each, flushes, a final
//! `end_trace`, and a crash write of one session at a seeded instant
//! (sometimes followed by the process dying, as after a panic hook). The
//! trace directory sits on an EFS-like mount whose renames take 50 ms to
//! 5 s and land anywhere in that window; ENOSPC and EIO are injected; the
//! power fails at seeded instants or right after a targeted rename or
//! fsync; the process is killed and restarted. Each seed draws its own
//! swarm of those faults.
//!
//! Checkers: a watcher on the trace directory judges T3, T4 and T7 after
//! every effect that touches a canonical file; the workload judges T1 and
//! T6 when flush returns, T2 per burst, T8 when end_trace returns; the
//! driver judges T1 (durable), T3, T4, T5 and T7 at quiescence.

mod legacy;
mod shared;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast_core::trace::{
    Ended, Exported, Exporter, FileExporter, FileExporterConfig, Session, Status, TraceConfig, TraceDoc, TraceError,
    Tracer, names,
};
use steadfast_core::{BoxFuture, Env, FileKind, FsOp};
use steadfast_sim::schedule::{CrashRule, ErrorRule, Event, HangRule, Latency, Mount, SpikeRule, TimedEvent};
use steadfast_sim::swarm::Swarm;
use steadfast_sim::world::{Invariant, Landed, LocalBoxFuture};
use steadfast_sim::{Expect, FaultKind, ParamSpec, Scenario, Schedule, SimRng, World};

use crate::fault_caused;
use crate::locked as lock;

pub use legacy::{DebounceSession, LegacyExporter, LegacyFlavour, upstream_name};
pub use shared::{SharedDirScenario, SharedVariant};

const DIR: &str = "/efs/traces";

const INVARIANTS: &[Invariant] = &[
    Invariant { id: "T1", statement: "after flush() returns, the file holds every event recorded before it, in order" },
    Invariant {
        id: "T2",
        statement: "a burst while a write is in flight causes at most one follow-up write; flush drains in a bounded number of rounds",
    },
    Invariant {
        id: "T3",
        statement: "once the synchronous crash write has returned, the file reads crashed and keeps reading it after every in-flight export settles",
    },
    Invariant {
        id: "T4",
        statement: "at every instant the file is absent or a whole, parseable trace; after a power loss it is the old or the new version",
    },
    Invariant { id: "T5", statement: "after quiescence no temporary files remain" },
    Invariant {
        id: "T6",
        statement: "one session's crash never suppresses another session's export through a shared exporter",
    },
    Invariant { id: "T7", statement: "session ids map to file names injectively and never escape the trace directory" },
    Invariant {
        id: "T11",
        statement: "progress: an event recorded and snapshotted while a flush writes lands in the file once the session settles, without another flush",
    },
    Invariant { id: "T8", statement: "end_trace returns the file's path whenever the file exists, crashed or not" },
    Invariant {
        id: "T9",
        statement: "end_trace returns within its per-exporter bound whatever an exporter does, and never reports a status the file does not hold",
    },
    Invariant {
        id: "T13",
        statement: "after remove_trace returns, the session's file and crash mark are gone, and a new session under the same id exports afresh",
    },
    Invariant {
        id: "T14",
        statement: "a flush that fails on storage names the error's kind (io_kind), and only for a fault the world injected",
    },
    Invariant {
        id: "T16",
        statement: "a session id of lowercase letters, digits, `_` and `-` that fits the readable length is exported under its own name, `<id>.trace.json`; a longer id's name starts with the longest whole-byte prefix of its encoding of at most 120 bytes",
    },
    Invariant {
        id: "T15",
        statement: "a crash mark on disk is evidence of a crash: it names a session whose crash write began",
    },
    Invariant {
        id: "T17",
        statement: "a sole writer remembers the newest crash_marks_max crashed sessions (their exports are refused) and forgets older ones: the table is bounded",
    },
    Invariant {
        id: "T18",
        statement: "a session writes only when asked: after flush returns, with no snapshot asked for during it, no export of the session begins until the app's next call",
    },
    Invariant {
        id: "T20",
        statement: "the session's counters are true: SessionStats::writes counts at least every export round that wrote a temporary file",
    },
];

const CRASH_DURING_RENAME: &str = "crash write while a rename is in flight";
const RENAME_AFTER_CRASH: &str = "a rename landed after the crash write returned";
const FOLLOW_UP: &str = "follow-up requested during a pending write";
const LOSS_BETWEEN: &str = "power loss between write and rename";
const HUNG_AT_END: &str = "an exporter hung during end_trace";
const MIRROR_LATE: &str = "a snapshot's mirror answered just after the final rename landed";
const SOMETIMES: &[&str] =
    &[CRASH_DURING_RENAME, RENAME_AFTER_CRASH, FOLLOW_UP, LOSS_BETWEEN, HUNG_AT_END, MIRROR_LATE];

/// Session ids, chosen to collide under upstream's naming and to try to
/// escape the directory.
const IDS: &[&str] = &["a:b", "a_b", "a/b", "..", "user.1", "x\\y", "plain", "", "A", "a"];
/// How many ids a seed picks from: [`IDS`] and three long ones.
const ID_COUNT: usize = IDS.len() + 3;

/// Id `i` of [`ID_COUNT`]: the hostile short ones, then three whose
/// encoding is past `names::ENCODED_MAX` (the digest path, where T7 is
/// hardest): two of one length that differ only in their last byte, and one
/// made of `../` (900 encoded bytes).
fn session_id(i: usize) -> String {
    match i % ID_COUNT {
        i if i < IDS.len() => IDS[i].to_string(),
        i if i == IDS.len() => format!("{}1", "x".repeat(299)),
        i if i == IDS.len() + 1 => format!("{}2", "x".repeat(299)),
        _ => "../".repeat(100),
    }
}

/// The fixed core or one of the replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// `steadfast_core::trace`.
    Core,
    /// M2: snapshot without follow-up.
    DebounceDrop,
    /// M3: export without crashed checks.
    ExportOverwritesCrash,
    /// M1: upstream's final fix, checks before the rename only.
    RenameRace,
    /// An exporter-wide crashed flag.
    SharedExporter,
    /// Crash mark with the raw id, check with the sanitised id.
    RawSessionKey,
    /// Upstream's file names: `/ \ . :` become `_`.
    UnderscoreNames,
    /// end_trace waits on each exporter without a bound (before T9).
    HungEnd,
}

/// The `trace` scenario for one variant.
#[derive(Debug)]
pub struct TraceScenario {
    /// What runs.
    pub variant: Variant,
}

impl Scenario for TraceScenario {
    fn name(&self) -> &'static str {
        match self.variant {
            Variant::Core => "trace",
            Variant::DebounceDrop => "legacy/trace-debounce-drop",
            Variant::ExportOverwritesCrash => "legacy/trace-export-overwrites-crash",
            Variant::RenameRace => "legacy/trace-rename-race",
            Variant::SharedExporter => "legacy/trace-shared-exporter",
            Variant::RawSessionKey => "legacy/trace-raw-session-key",
            Variant::UnderscoreNames => "legacy/trace-underscore-names",
            Variant::HungEnd => "legacy/trace-hung-end",
        }
    }

    fn expect(&self) -> Expect {
        if self.variant == Variant::Core { Expect::Hold } else { Expect::Violate }
    }

    fn description(&self) -> &'static str {
        match self.variant {
            Variant::Core => "core trace export under bursts, crash writes, slow renames, ENOSPC/EIO, power loss",
            Variant::DebounceDrop => "snapshot without follow-up (M2): breaks T1",
            Variant::ExportOverwritesCrash => "export without crashed checks (M3): breaks T3",
            Variant::RenameRace => "upstream's final fix, checks before rename only (M1): breaks T3",
            Variant::SharedExporter => "exporter-wide crashed flag: breaks T6",
            Variant::RawSessionKey => "crash mark with raw id, check with sanitised id: breaks T3",
            Variant::UnderscoreNames => "upstream's file names, \"a:b\" and \"a_b\" share a file: breaks T7",
            Variant::HungEnd => "end_trace waits on a hung exporter without a bound: breaks T9",
        }
    }

    fn invariants(&self) -> &'static [Invariant] {
        INVARIANTS
    }

    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn sometimes(&self) -> &'static [&'static str] {
        if self.variant == Variant::Core { SOMETIMES } else { &[] }
    }

    fn schedule(&self, seed: u64) -> Schedule {
        schedule(seed)
    }

    fn restart_after_crash_ms(&self) -> Option<u64> {
        Some(RESTART_MS)
    }

    fn run<'a>(&'a self, world: &'a World) -> LocalBoxFuture<'a, ()> {
        Box::pin(drive(world, self.variant))
    }
}

const CHAOS_MS: u64 = 12_000;
const QUIET_MS: u64 = 25_000;
/// A dead process is restarted after every in-flight operation it left
/// has landed (the slowest rename takes 5 s), so the restarted exporter's
/// sweep of stale temporary files sees them all.
const RESTART_MS: u64 = 6_000;
const RENAME_MS_MAX: u64 = 5_000;
/// The slowest rename on a slow mount (one seed in four).
const SLOW_RENAME_MS_MAX: u64 = 9_000;

fn schedule(seed: u64) -> Schedule {
    let kinds = ["eio", "enospc", "power_loss", "kill", "crash_point", "clock_jump"];
    let mut sw = Swarm::draw(seed, &kinds);
    let mut s = Schedule::calm(seed, CHAOS_MS);
    s.quiet_ms = QUIET_MS;
    let rng = sw.rng();
    // The mount is EFS-like in every seed (M1 exists only where renames
    // are slow); the swarm decides the faults.
    let mut rename_max = rng.range(100, RENAME_MS_MAX);
    s.metadata_commit_ms = Some(rng.range(5, 5_000));
    // One seed in four, a mount slower than the session's bounds (end_wait
    // and the exporter timeout, 5 s each): a write whose caller gave up
    // is still renaming when the next one, or the final one, lands, and
    // only the newer write's fence keeps the older from landing over it.
    // Its own stream: the seed's other draws stay.
    let mut slow = SimRng::new(seed, 0x510E);
    if slow.chance(0.25) {
        rename_max = slow.range(RENAME_MS_MAX + 500, SLOW_RENAME_MS_MAX);
    }
    s.mounts.push(efs_mount(rename_max));
    let ops = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    if sw.on("eio") {
        let p = sw.rate("eio") * 0.3;
        let ops = ops(&["write", "sync_file", "rename", "remove_file", "sync_dir", "read_dir"]);
        s.errors.push(ErrorRule {
            ops,
            path_prefix: Some(DIR.into()),
            error: FaultKind::Eio,
            nth: None,
            probability: Some(p),
            while_renaming: false,
        });
    }
    if sw.on("enospc") {
        let p = sw.rate("enospc");
        s.errors.push(ErrorRule {
            ops: ops(&["write"]),
            path_prefix: Some(DIR.into()),
            error: FaultKind::Enospc,
            nth: None,
            probability: Some(p),
            while_renaming: false,
        });
    }
    fence_faults(&mut s, seed);
    tail_spikes(&mut s, seed);
    // One seed in four, the process declares itself its directory's sole
    // writer (it is: one exporter per incarnation, and a restart's open
    // removes what the dead one left): crash marks in memory only, no
    // `stat` per export and no listing per crash write, so crash wins
    // (T3) rests on the exporter's own marks. Its own stream.
    if SimRng::new(seed, 0x501E).chance(0.25) {
        s.params.insert("sole_writer".into(), 1);
    }
    // One seed in four, each session ended in the quiet phase is forgotten
    // and started afresh under its id (T13). Its own stream.
    if SimRng::new(seed, 0xF0E7).chance(0.25) {
        s.params.insert("forget_ended".into(), 1);
        // Room for the removal, the new session's flush and its end.
        s.quiet_ms += FORGET_QUIET_MS;
    }
    // One seed in three, the operator waits less at each end than the
    // default 5 s (an interactive tool that must exit quickly): an export
    // in flight then outlives the wait on any mount, not only a slow one.
    // Its own stream.
    let mut wait = SimRng::new(seed, 0xE2D7);
    if wait.chance(0.33) {
        s.params.insert("end_wait_ms".into(), wait.range(100, 4_000));
    }
    // One seed in three, the exporter keeps production's stale age (see
    // `open_exporter`). Its own stream.
    if SimRng::new(seed, 0x57A1).chance(0.33) {
        s.params.insert("stale_tmp_default".into(), 1);
    }
    // One seed in two, each session end races a snapshot's rename (see
    // `session_main`). Its own stream.
    if SimRng::new(seed, 0xE2D5).chance(0.5) {
        s.params.insert("end_racing".into(), 1);
    }
    // Its own stream, so that a seed's other draws stay.
    if SimRng::new(seed, 0x1A7E).chance(0.5) {
        s.params.insert("late_mirror".into(), 1);
        // Room for the held snapshot and the end after it.
        s.quiet_ms += LATE_MIRROR_QUIET_MS;
    }
    let power = sw.on("power_loss");
    let kill = sw.on("kill");
    let crash_point = sw.on("crash_point");
    let jump = sw.on("clock_jump");
    let rng = sw.rng();
    if power {
        let at_ms = rng.range(500, CHAOS_MS - 1);
        s.events.push(TimedEvent {
            at_ms,
            what: Event::PowerLoss { torn: rng.chance(0.5), restart_after_ms: Some(RESTART_MS) },
        });
    }
    if kill {
        let at_ms = rng.range(500, CHAOS_MS - RESTART_MS - 1);
        s.events.push(TimedEvent { at_ms, what: Event::Kill { node: "app".into() } });
        s.events.push(TimedEvent {
            at_ms: at_ms + RESTART_MS,
            what: Event::Restart { node: "app".into(), reuse_pid: false },
        });
    }
    if crash_point {
        s.crashes.push(CrashRule {
            ops: vec![(*rng.pick(&["rename", "sync_file", "write"])).to_string()],
            path_prefix: Some(DIR.into()),
            nth: rng.range(1, 40),
            metadata_survives: rng.chance(0.5),
            torn: rng.chance(0.5),
            restart_after_ms: Some(RESTART_MS),
        });
    }
    if jump {
        let by_ms = rng.range(0, 7_200_000) as i64 - 3_600_000;
        s.events.push(TimedEvent { at_ms: rng.range(0, CHAOS_MS), what: Event::ClockJump { by_ms } });
    }
    s.params.insert("sessions".into(), rng.range(2, 4));
    s.params.insert("first_id".into(), rng.range(0, ID_COUNT as u64 - 1));
    if rng.chance(0.8) {
        let crash_at_ms = rng.range(200, CHAOS_MS - RESTART_MS - 2);
        s.params.insert("crash_at_ms".into(), crash_at_ms);
        s.params.insert("crash_session".into(), rng.range(0, 3));
        s.params.insert("crash_aimed".into(), u64::from(rng.chance(0.5)));
        // One crash in three is the panic hook's: every open session at
        // once (its own stream: the seed's other draws stay).
        if SimRng::new(seed, 0xA11C).chance(0.33) {
            s.params.insert("crash_all".into(), 1);
        }
        if rng.chance(0.5) {
            // The process dies right after its panic hook's crash write.
            s.events.push(TimedEvent { at_ms: crash_at_ms + 1, what: Event::Kill { node: "app".into() } });
            s.events.push(TimedEvent {
                at_ms: crash_at_ms + 1 + RESTART_MS,
                what: Event::Restart { node: "app".into(), reuse_pid: false },
            });
        }
    }
    // One session may end in the chaos phase, when a second exporter (a
    // mirror on a hung mount) can fail to answer its final write (T9).
    if rng.chance(0.5) {
        s.params.insert("early_end_ms".into(), rng.range(1_000, CHAOS_MS - 1_000));
        if rng.chance(0.6) {
            s.hangs.push(HangRule { point: HANG_POINT.into(), nth: Some(1), probability: None });
        }
    }
    // Where unlinks of renaming files fail (`fence_faults`), aim an end
    // at one: a session ends in the chaos phase, right after a snapshot,
    // and waits at most 0.1-1 s for it, so the final write's fence meets
    // the snapshot still renaming and must let it land first (T4's order).
    if s.errors.iter().any(|r| r.while_renaming) {
        let mut aim = SimRng::new(seed, 0xFE4D0);
        s.params.insert("end_racing".into(), 1);
        s.params.insert("end_wait_ms".into(), aim.range(100, 1_000));
        s.params.entry("early_end_ms".into()).or_insert_with(|| aim.range(1_000, CHAOS_MS - 1_000));
    }
    // One seed in four bounds the background writer's follow-up chain at 1
    // to 3 (production's is 1,024, which no burst reaches): the bound is
    // then met, and core asserts it is never passed. Its own stream.
    let mut chain = SimRng::new(seed, 0xC4A1);
    if chain.chance(0.25) {
        s.params.insert("chain_max".into(), chain.range(1, 3));
    }
    // One seed in four tidies beside each burst's exports (its own stream).
    if SimRng::new(seed, 0x71D7).chance(0.25) {
        s.params.insert("tidy_racing".into(), 1);
    }
    // T17's phase after quiescence, one seed in four (its own stream).
    if SimRng::new(seed, 0xB0D).chance(0.25) {
        s.params.insert("marks_bound".into(), 1);
    }
    // One seed in four, stats in the trace directory fail now and then
    // (an NFS server timing out a GETATTR): the crash-mark check of an
    // export, tidy's age test and end_trace's look for the file must each
    // read a failed stat as "unknown", never as "absent" (T8, T14). Its
    // own stream.
    let mut stat = SimRng::new(seed, 0x57A0);
    if stat.chance(0.25) {
        s.errors.push(ErrorRule {
            ops: vec!["symlink_metadata".into(), "metadata".into()],
            path_prefix: Some(DIR.into()),
            error: FaultKind::Eio,
            nth: None,
            probability: Some(stat.range(10, 60) as f64 / 100.0),
            while_renaming: false,
        });
    }
    // One seed in two, the app records a few events without a snapshot
    // before each flush of the chaos phase (record, then flush): the
    // flush writes them itself, and then must leave the session idle
    // (T18). Its own stream.
    if SimRng::new(seed, 0xF1A5).chance(0.5) {
        s.params.insert("flush_writes".into(), 1);
    }
    s
}

/// One seed in four, the trace mount has a tail: during the chaos phase
/// a write, fsync or rename in the trace directory now and then takes 1
/// to 8 s more than the mount's window (a network file system's server
/// failover), so an export that began first may finish last: a snapshot
/// stalled in its write past the end's wait, a crash write's steps behind
/// another exporter's. Its own stream: the seed's other draws stay.
pub(super) fn tail_spikes(s: &mut Schedule, seed: u64) {
    let mut rng = SimRng::new(seed, 0x5B1E);
    if rng.chance(0.25) {
        s.spikes.push(SpikeRule {
            ops: vec!["write".into(), "sync_file".into(), "rename".into()],
            path_prefix: Some(DIR.into()),
            nth: None,
            probability: Some(rng.range(2, 20) as f64 / 100.0),
            ms_min: 1_000,
            ms_max: SPIKE_MS_MAX,
        });
    }
}

/// The longest a latency spike adds to one operation.
const SPIKE_MS_MAX: u64 = 8_000;

/// The longest one blocking crash write (or `finalize_sync`) of a session
/// may take when it begins at `began`: its slowest operation, the EFS
/// rename, and a second for the rest; in the chaos phase, what spikes may
/// add to each of its four operations a spike rule matches (the crash
/// mark's write, the temporary file's write and fsync, the rename).
fn crash_write_bound(world: &World, began: Duration) -> Duration {
    let spike_ms =
        if began < world.chaos_end() { world.schedule().spikes.iter().map(|r| r.ms_max).max().unwrap_or(0) } else { 0 };
    Duration::from_millis(rename_ms_max(world) + 1_000 + 4 * spike_ms)
}

/// One seed in four fails half the removals in the trace directory: a
/// crash write or `finalize_sync` whose fence cannot unlink an export in
/// flight (its own, or another exporter's) must say so, not claim its
/// version won (T3, T8). Its own stream: the seed's other draws stay.
pub(super) fn fence_faults(s: &mut Schedule, seed: u64) {
    if SimRng::new(seed, 0xFE4CE).chance(0.25) {
        s.errors.push(ErrorRule {
            ops: vec!["remove_file".into()],
            path_prefix: Some(DIR.into()),
            error: FaultKind::Eio,
            nth: None,
            probability: Some(0.5),
            while_renaming: false,
        });
    }
    // And one in four fails every unlink of a temporary file whose rename
    // is in flight (an NFS server still running it): the fence cannot stop
    // that export, so the newer one must let it land first (T4's order).
    if SimRng::new(seed, 0xFE4CF).chance(0.25) {
        s.errors.push(ErrorRule {
            ops: vec!["remove_file".into()],
            path_prefix: Some(DIR.into()),
            error: FaultKind::Eio,
            nth: None,
            probability: Some(1.0),
            while_renaming: true,
        });
    }
}

/// The EFS-like mount of the trace directory: renames take 50 ms (or
/// less) to `rename_max` and land anywhere in that window; writes and
/// fsyncs up to 50 ms, the rest up to 10 ms.
pub(super) fn efs_mount(rename_max: u64) -> Mount {
    Mount {
        prefix: "/efs".into(),
        latency: vec![
            Latency { ops: vec!["rename".into()], ms_min: rename_max.min(50), ms_max: rename_max },
            Latency { ops: vec!["write".into(), "sync_file".into()], ms_min: 0, ms_max: 50 },
            Latency { ops: vec![], ms_min: 0, ms_max: 10 },
        ],
    }
}

/// Where the mirror exporter's final write hangs.
const HANG_POINT: &str = "mirror-final-export";

/// A second exporter beside the file (a mirror to a remote store): it
/// keeps nothing, and its final write hangs where the schedule says. A
/// background snapshot the driver marked (`late_mirror`) is answered late:
/// only once the file holds the session's final version, then after 0 to
/// 12 ms, so that the older round ends after the newer, final one, while
/// `end_trace` is still looking for the file (T9).
struct Mirror {
    world: World,
    book: SharedBook,
    rng: Mutex<SimRng>,
}

/// Tries of `remove_trace` under injected faults.
const FORGET_TRIES: usize = 20;

/// The quiet phase's extra length where ended sessions are forgotten and
/// restarted: a removal, a flush on the EFS mount, and an end's bound.
const FORGET_QUIET_MS: u64 = 30_000;

/// The quiet phase's extra length where a late mirror holds a snapshot
/// before each end: the snapshot's own rename, then the end's wait.
const LATE_MIRROR_QUIET_MS: u64 = 15_000;

/// How long a late mirror waits for the final version at most (within
/// the quiet phase's extension).
const LATE_MIRROR_MS_MAX: u64 = 12_000;

impl Exporter for Mirror {
    fn export<'a>(&'a self, doc: &'a TraceDoc) -> BoxFuture<'a, Result<Exported, TraceError>> {
        Box::pin(async move {
            if doc.status != Status::Running {
                self.world.hang_point(HANG_POINT).await;
            } else if lock(&self.book).late_mirror.remove(&doc.session_id) {
                self.answer_late(&doc.session_id).await;
            }
            Ok(Exported::Written)
        })
    }
    fn mark_crashed(&self, _session_id: &str) {}
    fn write_crashed(&self, _doc: &TraceDoc) -> Result<(), TraceError> {
        Ok(())
    }
    fn path(&self, _session_id: &str) -> Option<PathBuf> {
        None
    }
}

impl Mirror {
    /// Hold a background export of `id` until the session's final version
    /// lands (bounded), then answer 0 to 12 ms after it. Every
    /// [`AIM_POLL_MS`] once its end has waited `end_wait`: the instant a
    /// rename of one of its temporary files will land (`World::lands_at`),
    /// or, if one landed between two looks, now.
    async fn answer_late(&self, id: &str) {
        let (path, end_wait) = {
            let mut b = lock(&self.book);
            b.mirror_holding.insert(id.to_string());
            (b.sessions.get(id).map(|s| s.path.clone()), trace_config(&self.world).end_wait)
        };
        let Some(path) = path else { return };
        let (from, until) = (self.world.now(), self.world.now() + Duration::from_millis(LATE_MIRROR_MS_MAX));
        while self.world.now() < until {
            let (ending, landed) = {
                let b = lock(&self.book);
                let ending = b.sessions.get(id).and_then(|s| s.end_started).map(|(_, at)| at);
                (ending, b.final_landed.get(path.as_os_str()).is_some_and(|at| *at >= from))
            };
            let waited = ending.is_some_and(|at| self.world.now() >= at + end_wait);
            let landing = if landed {
                Some(self.world.now())
            } else if waited {
                self.world.lands_at("rename", |p| is_tmp_of(&path, p))
            } else {
                None
            };
            if let Some(at) = landing {
                let ms = lock(&self.rng).range(0, 12);
                self.world.sleep_until(at + Duration::from_millis(ms)).await;
                self.world.reach(MIRROR_LATE);
                return;
            }
            self.world.sleep_until(self.world.now() + Duration::from_millis(AIM_POLL_MS)).await;
        }
    }
}

// ----- the book: what the workload did, for the checkers ----------------

#[derive(Default)]
struct SessionBook {
    path: PathBuf,
    /// Being forgotten (`remove_trace` called, not yet returned): a
    /// version of the forgotten session still in flight (a late final
    /// write) may land until the removal's fence or unlink; T4 judges the
    /// file's events against the new session only once it has returned.
    forgetting: bool,
    /// Event names in recording order.
    names: Vec<String>,
    /// Most events a successful flush promised.
    flushed: usize,
    crash_started: bool,
    crash_returned: bool,
    /// `finalize_sync` returned `Ok`, or `end_trace` reported the
    /// completed version landed: the file reads completed for good (T8),
    /// unless a crash write follows (crash wins, T3).
    finalized: bool,
    /// A blocking write of the session (a crash write, `finalize_sync`)
    /// failed: its fence may have failed, and it said so, so an export it
    /// could not stop may land over its version (exempt from T4's order).
    unordered: bool,
    /// A blocking write of the session is running: the world's time moves
    /// while it stalls the process, so an export it will report it could
    /// not stop may land before it returns (judged, if it returns `Ok`, by
    /// T3 or T8 on what the file holds then).
    blocking_write: bool,
    /// When end_trace was called, in the incarnation that called it.
    end_started: Option<(u64, Duration)>,
    end_returned: bool,
    /// The incarnation whose driver has flushed this session and asks
    /// nothing of it until its sleep ends: no export of it may begin
    /// (T18).
    idle_in: Option<u64>,
    /// The status end_trace reported for a file that was not there yet:
    /// what lands must read it (T9, judged at quiescence).
    promised: Option<Status>,
}

#[derive(Default)]
struct Book {
    sessions: BTreeMap<String, SessionBook>,
    /// Every id a crash write began for, in any incarnation and under any
    /// session that held it (T15: a mark whose removal failed outlives
    /// the session's entry here).
    ever_crashed: BTreeSet<String>,
    /// Canonical path to the ids whose file it is.
    by_path: BTreeMap<OsString, Vec<String>>,
    /// Temporary files created, per canonical path.
    tmp_writes: BTreeMap<OsString, u64>,
    /// Temporary files written by the tracer's own rounds (its background
    /// snapshots and final writes), per canonical path (T20).
    round_writes: BTreeMap<OsString, u64>,
    /// The last incarnation tidied up in the quiet phase.
    tidied: bool,
    /// The process that tidied up.
    tidied_by: Option<u32>,
    /// Which process wrote each temporary file, and when it landed (T5
    /// with the default stale age: a dead process's are left to a later
    /// open, as is one that lands after the tidy began).
    tmp_creators: BTreeMap<OsString, (u32, Duration)>,
    /// When the tidying process began its tidy (its listing comes after).
    tidied_at: Duration,
    /// The incarnation running now.
    incarnation: u64,
    /// Parsed trace versions by content hash.
    parsed: BTreeMap<u64, Result<Parsed, String>>,
    /// Sessions whose next background mirror export is answered late.
    late_mirror: BTreeSet<String>,
    /// The incarnations whose crasher is done (or that have none).
    crashers_done: BTreeSet<u64>,
    /// When the driver's blocking calls (a crash write, the panic hook's,
    /// `finalize_sync`) stalled the process: no end of another session
    /// could run then (T9). Each `(from, until, bound)`: only up to its
    /// bound is excused, so a
    /// blocking call that is itself too slow still fails T9.
    blocking_stalls: Vec<(Duration, Duration, Duration)>,
    /// Sessions whose late mirror export has begun.
    mirror_holding: BTreeSet<String>,
    /// When a version that is not running last landed on each canonical
    /// path (by a rename), keyed by the path's bytes: the late mirror polls
    /// it every few ms, and a `PathBuf` key compares component by component
    /// (core names the file the same way each time).
    final_landed: BTreeMap<OsString, Duration>,
    /// The newest version landed on each canonical path (its events, and
    /// whether it had ended), of which session, after how many power
    /// losses (T4's order).
    high_water: BTreeMap<OsString, (u64, String, (usize, bool))>,
}

type SharedBook = Arc<Mutex<Book>>;

fn is_canonical(p: &Path) -> bool {
    let in_dir = match steadfast_sim::schedule::split_plain(p) {
        Some((dir, _)) => dir.as_os_str() == DIR,
        None => p.parent() == Some(Path::new(DIR)),
    };
    in_dir && p.to_str().is_some_and(|s| s.ends_with(".trace.json"))
}

/// `p` as a key of the book's maps, compared by bytes: a `PathBuf` key
/// compares component by component, a tenth of a `trace` seed in the
/// watcher's lookups. A plain path (every one core names) is its own
/// bytes; any other is spelled as its components, so that two spellings
/// of one path stay one key, as they were.
fn path_key(p: &Path) -> OsString {
    match steadfast_sim::schedule::split_plain(p) {
        Some(_) => p.as_os_str().to_owned(),
        None => p.components().collect::<PathBuf>().into_os_string(),
    }
}

/// The canonical path a temporary file belongs to.
fn tmp_owner(p: &Path) -> Option<PathBuf> {
    let s = p.to_str()?;
    let i = s.find(".trace.json.tmp.")?;
    Some(PathBuf::from(&s[..i + ".trace.json".len()]))
}

/// What a checker needs of one version of a trace file, parsed once per
/// distinct content (a file is judged after every effect that touches it).
#[derive(Clone)]
struct Parsed {
    session_id: String,
    status: Status,
    events: usize,
    /// Its events are a prefix of what the session recorded, in order.
    /// (Recorded names only grow, so a prefix stays one.)
    recorded_prefix: bool,
}

impl Book {
    /// A crash write of session `id` begins.
    fn crash_begins(&mut self, id: &str) {
        self.ever_crashed.insert(id.to_string());
        if let Some(s) = self.sessions.get_mut(id) {
            s.crash_started = true;
            s.blocking_write = true;
        }
    }

    /// A blocking write of session `id` (a crash write, `finalize_sync`)
    /// returned: if it failed, it may have left an export it could not
    /// stop to land over its version (T4's order no longer holds for it).
    fn blocking_write_ends(&mut self, id: &str, ok: bool) {
        if let Some(s) = self.sessions.get_mut(id) {
            s.blocking_write = false;
            s.unordered |= !ok;
        }
    }

    /// When an end_trace begun at `at` is overdue (T9): its bound, and the
    /// driver's blocking calls' stalls since, past `at`.
    fn end_deadline(&self, world: &World, at: Duration) -> Duration {
        at + end_bound(world, at) + self.blocking_stalled(at, world.now())
    }

    /// How long the driver's blocking calls stalled the process within
    /// `from..to`.
    fn blocking_stalled(&self, from: Duration, to: Duration) -> Duration {
        self.blocking_stalls.iter().map(|&(a, b, bound)| b.min(to).saturating_sub(a.max(from)).min(bound)).sum()
    }

    /// Parse `bytes` (cached by content).
    fn parse(&mut self, bytes: &[u8]) -> Result<Parsed, String> {
        let hash = steadfast_sim::disk::hash_bytes(bytes);
        if let Some(p) = self.parsed.get(&hash) {
            return p.clone();
        }
        let parsed = TraceDoc::parse(bytes).map(|doc| {
            let names = self.sessions.get(&doc.session_id).map_or(&[][..], |s| &s.names[..]);
            let recorded_prefix =
                doc.events.len() <= names.len() && doc.events.iter().zip(names).all(|(e, n)| e.name == *n);
            Parsed { session_id: doc.session_id, status: doc.status, events: doc.events.len(), recorded_prefix }
        });
        self.parsed.insert(hash, parsed.clone());
        parsed
    }
}

/// A checker's verdict sink: invariant, ok, and the message if not.
pub(super) type Check<'a> = dyn FnMut(&str, bool, &dyn Fn() -> String) + 'a;

/// T3, T4 and T7 for one canonical file, as it is now. `read` is the file's
/// content (or why not).
fn judge_file(book: &mut Book, path: &Path, read: Result<&[u8], &String>, check: &mut Check<'_>) {
    let ids = book.by_path.get(&path_key(path)).cloned().unwrap_or_default();
    check("T7", ids.len() <= 1, &|| format!("sessions {ids:?} share the file {}", path.display()));
    let crashed_ids: Vec<String> = ids.iter().filter(|id| book.sessions[*id].crash_returned).cloned().collect();
    let bytes = match read {
        Ok(b) => b,
        Err(e) => {
            for id in crashed_ids {
                check("T3", false, &|| format!("session {id:?} was crash-written but {} is gone: {e}", path.display()));
            }
            return;
        }
    };
    let doc = match book.parse(bytes) {
        Ok(doc) => doc,
        Err(e) => {
            let head = String::from_utf8_lossy(&bytes[..bytes.len().min(40)]).into_owned();
            let msg = || format!("{} ({} bytes) is not a whole trace: {e}: {head:?}", path.display(), bytes.len());
            return check("T4", false, &msg);
        }
    };
    let Some(sb) = book.sessions.get(&doc.session_id) else {
        return check("T7", false, &|| format!("{} holds unknown session {:?}", path.display(), doc.session_id));
    };
    check("T7", sb.path == path, &|| {
        format!("{} holds session {:?}, whose file is {}", path.display(), doc.session_id, sb.path.display())
    });
    check("T4", doc.recorded_prefix || sb.forgetting, &|| {
        format!("{} holds events that session {:?} never recorded in that order", path.display(), doc.session_id)
    });
    // T1 at every instant, not only at quiescence: once a flush promised
    // its events, no older version lands over them (an export whose
    // fence could not unlink it, still renaming, must land before the
    // newer one does), even if a later write would put them back.
    check("T1", doc.events >= sb.flushed || sb.forgetting, &|| {
        format!(
            "{} now holds {} events of {:?}; a flush that returned promised {}",
            path.display(),
            doc.events,
            doc.session_id,
            sb.flushed
        )
    });
    for id in crashed_ids {
        let ok = doc.session_id == id && doc.status == Status::Crashed;
        check("T3", ok, &|| {
            format!(
                "session {id:?} was crash-written, but {} reads {:?} of {:?}",
                path.display(),
                doc.status,
                doc.session_id
            )
        });
    }
    // Once finalize_sync returned Ok, or end_trace reported its completed
    // version landed, no export in flight may land over it (its fence
    // unlinked them, waited for those it could not, or said it could not).
    for id in ids.iter().filter(|id| book.sessions[*id].finalized && !book.sessions[*id].crash_started) {
        let ok = doc.session_id == *id && doc.status == Status::Completed;
        check("T8", ok, &|| {
            format!(
                "{id:?} ended completed (finalize_sync or end_trace returned), but {} now reads {:?} of {:?}",
                path.display(),
                doc.status,
                doc.session_id
            )
        });
    }
}

/// T4, versions land in order: a rename that lands a version of a
/// session with fewer events than one that landed before it on the same
/// file put an older version over a newer one (an export whose fence could
/// not unlink it, still renaming, overtaken by the newer one's rename).
/// A power loss may roll the file back to what was durable, and a session
/// being forgotten starts afresh: both restart the count.
fn judge_order(book: &mut Book, l: &mut Landed<'_>, to: &Path, doc: Parsed) {
    let exempt = book.sessions.get(&doc.session_id).is_none_or(|s| s.forgetting || s.unordered || s.blocking_write);
    // Newer: more events, or as many and no longer running (a final
    // version adds only its status).
    let version = (doc.events, doc.status != Status::Running);
    // The newest landed before, if it counts: same session, no power loss
    // since, and not exempt (then the count restarts from this version).
    let before = book
        .high_water
        .get(&path_key(to))
        .filter(|(losses, id, _)| !exempt && *losses == l.power_losses && *id == doc.session_id)
        .map(|(_, _, newest)| *newest);
    if let Some(newest) = before {
        l.check("T4", version >= newest, || {
            format!(
                "a version of {:?} with {} events ({:?}) landed on {} over a newer one ({} events, {})",
                doc.session_id,
                doc.events,
                doc.status,
                to.display(),
                newest.0,
                if newest.1 { "ended" } else { "running" }
            )
        });
    }
    let newest = before.map_or(version, |b| b.max(version));
    book.high_water.insert(path_key(to), (l.power_losses, doc.session_id, newest));
}

/// The watcher: every effect touching a canonical file is judged at once.
fn watcher(book: SharedBook) -> steadfast_sim::world::Watcher {
    Box::new(move |l: &mut Landed<'_>| {
        let mut book = lock(&book);
        if let FsOp::Write { path, .. } = l.op
            && let Some(owner) = tmp_owner(path)
        {
            let owner = path_key(&owner);
            *book.tmp_writes.entry(owner.clone()).or_insert(0) += 1;
            if matches!(l.task, "trace-snapshot" | "trace-final-export") {
                *book.round_writes.entry(owner.clone()).or_insert(0) += 1;
            }
            // T18: a write of a session its driver left idle, other than a
            // blocking write the driver started (a crash write).
            let b = &*book;
            let idle = b
                .by_path
                .get(&owner)
                .into_iter()
                .flatten()
                .map(|id| &b.sessions[id])
                .any(|s| s.idle_in == Some(b.incarnation) && !s.crash_started && !s.blocking_write);
            l.check("T18", !idle, || {
                format!("{} was written while its session was idle after a flush, asked for nothing", path.display())
            });
            // (A failed write may leave a file too: what fitted.)
            if l.exists(path) {
                book.tmp_creators.entry(path_key(path)).or_insert((l.pid, l.at));
            }
        }
        let touched: Vec<PathBuf> = [Some(l.op.path()), l.op.second_path()]
            .into_iter()
            .flatten()
            .filter(|p| is_canonical(p))
            .map(Path::to_path_buf)
            .collect();
        if let (FsOp::Rename { to, .. }, true) = (l.op, touched.iter().any(|p| Some(p.as_path()) == l.op.second_path()))
        {
            let doc = l.bytes(to).ok().and_then(|b| book.parse(b).ok());
            // A final version landed (what a late mirror answers after).
            if l.ok && doc.as_ref().is_some_and(|d| d.status != Status::Running) {
                book.final_landed.insert(to.as_os_str().to_owned(), l.at);
            }
            let after_crash = book
                .by_path
                .get(&path_key(to))
                .is_some_and(|ids| ids.iter().any(|id| book.sessions[id].crash_returned));
            if after_crash {
                l.reach(RENAME_AFTER_CRASH);
            }
            if let (true, Some(doc)) = (l.ok, doc) {
                judge_order(&mut book, l, to, doc);
            }
        }
        for path in touched {
            let read = l.bytes(&path).map_err(|e| e.to_string());
            judge_file(&mut book, &path, read.as_ref().map(|b| *b), &mut |id, ok, msg| l.check(id, ok, msg));
        }
    })
}

// ----- the workload -----------------------------------------------------

/// One session, whichever implementation runs it.
#[derive(Clone)]
enum Sess {
    Core(Session),
    Debounce(DebounceSession),
}

impl Sess {
    fn record(&self, name: &str) {
        match self {
            Sess::Core(s) => {
                let _ = s.record(name, None, serde_json::Value::Null);
            }
            Sess::Debounce(s) => s.record(name),
        }
    }
    fn snapshot(&self) {
        match self {
            Sess::Core(s) => s.snapshot(),
            Sess::Debounce(s) => s.snapshot(),
        }
    }
    async fn flush(&self) -> Result<(), TraceError> {
        match self {
            Sess::Core(s) => s.flush().await,
            Sess::Debounce(s) => s.flush().await,
        }
    }
    async fn settled(&self) {
        match self {
            Sess::Core(s) => s.settled().await,
            Sess::Debounce(s) => s.settled().await,
        }
    }
    async fn end_trace(&self) -> Ended {
        match self {
            Sess::Core(s) => s.end_trace(Status::Completed).await,
            Sess::Debounce(s) => s.end_trace().await,
        }
    }
    /// A clean shutdown without a runtime (`Session::finalize_sync`);
    /// `None` where the session has none (the replicas).
    fn finalize_sync(&self) -> Option<Result<Option<PathBuf>, TraceError>> {
        match self {
            Sess::Core(s) => Some(s.finalize_sync()),
            Sess::Debounce(_) => None,
        }
    }
    fn crash_write(&self) -> Result<Option<PathBuf>, TraceError> {
        match self {
            Sess::Core(s) => s.crash_write(),
            Sess::Debounce(s) => s.crash_write(),
        }
    }
    fn follow_ups(&self) -> u64 {
        match self {
            Sess::Core(s) => s.stats().follow_ups,
            Sess::Debounce(_) => 0,
        }
    }
    /// The session's own count of export rounds, where it keeps one.
    fn writes(&self) -> Option<u64> {
        match self {
            Sess::Core(s) => Some(s.stats().writes),
            Sess::Debounce(_) => None,
        }
    }
}

/// What one incarnation of the app built.
struct App {
    world: World,
    book: SharedBook,
    env: Env,
    file: Arc<FileExporter>,
    make: MakeSession,
    /// The tracer the sessions share, where they have one (not the
    /// debounce replica's).
    tracer: Option<Tracer>,
    inc: u64,
    variant: Variant,
}

async fn drive(world: &World, variant: Variant) {
    // One seed in four: the family costs about 0.5 ms of names, more than
    // the rest of a seed, and a sweep of a thousand seeds still judges 250.
    if variant == Variant::Core && world.schedule().seed % 4 == 0 {
        judge_long_ids(world);
    }
    world.setup([FsOp::CreateDirAll("/efs".into())]);
    let book: SharedBook = Arc::default();
    world.watch(DIR, watcher(book.clone()));
    let incarnation = Arc::new(AtomicU64::new(0));
    let b = book.clone();
    world.add_node("app", move |w| {
        let (book, inc) = (b.clone(), incarnation.fetch_add(1, Ordering::Relaxed));
        async move { incarnation_main(w, book, variant, inc).await }
    });
    world.sleep_until(world.quiet_end()).await;
    // T9 at quiescence judges an end only once its bound (and any stall
    // the driver's blocking calls caused meanwhile) has run out: wait for those still
    // inside it (a late restart, a slow mount), within the runner's slack.
    let open_until = {
        let b = lock(&book);
        let ends = b.sessions.values().filter(|s| !s.end_returned).filter_map(|s| s.end_started.map(|(_, at)| at));
        ends.map(|at| b.end_deadline(world, at)).max()
    };
    if let Some(until) = open_until {
        world.sleep_until(until.min(world.quiet_end() + END_WAIT_MAX)).await;
    }
    final_checks(world, &book);
    if variant == Variant::Core && world.schedule().param("marks_bound", 0) == 1 {
        judge_marks_bound(world).await;
    }
    if variant == Variant::Core && rename_ms_max(world) > RENAME_MS_MAX {
        judge_first_end(world).await;
    }
}

/// Where [`judge_first_end`]'s exporter writes: on the slow mount, beside
/// the trace directory.
const FIRST_DIR: &str = "/efs/first";

/// T9 for a file not there yet, on a slow mount after quiescence: a new
/// session's first snapshot is renaming (seconds) when it ends with a
/// wait of 100 ms and an exporter bound of 1 s, so `end_trace` returns
/// before any version of the file exists, with a snapshot it stopped
/// waiting for and its own final write both still landing. The final
/// write fenced the snapshot: what lands reads completed, and so must
/// the status the end reported.
async fn judge_first_end(world: &World) {
    let env = world.env();
    let exporter = match FileExporter::open(&env, FIRST_DIR, FileExporterConfig::default()).await {
        Ok(e) => Arc::new(e),
        Err(e) => return world.check("T9", false, || format!("no exporter on {FIRST_DIR} after quiescence: {e}")),
    };
    let config = TraceConfig {
        end_wait: Duration::from_millis(100),
        exporter_timeout: Duration::from_secs(1),
        ..TraceConfig::default()
    };
    let tracer = Tracer::new(&env, vec![exporter.clone() as Arc<dyn Exporter>], config);
    let session = tracer.start("first");
    session.record("the only event", None, serde_json::Value::Null);
    session.snapshot();
    aim_until(&env, || world.in_flight("rename", |p| p.starts_with(FIRST_DIR)) > 0).await;
    let ended = session.end_trace(Status::Completed).await;
    let path = exporter.path_for("first");
    // (A snapshot that landed before the end looked is what it reports:
    // the status the file holds then, T9 as `check_ended` judges it.)
    let absent = world.peek(FsOp::SymlinkMetadata(path.clone())).is_err();
    env.clock.sleep(Duration::from_millis(SLOW_RENAME_MS_MAX + 2_000)).await;
    if !absent {
        return;
    }
    let held = world.peek_file(&path).ok().and_then(|b| TraceDoc::parse(&b).ok()).map(|d| d.status);
    world.check("T9", ended.path.as_deref() == Some(path.as_path()) && held == Some(ended.status), || {
        format!(
            "end_trace of a session whose first snapshot was renaming reported {:?} at {:?}; {} now holds {held:?}",
            ended.status,
            ended.path,
            path.display()
        )
    });
}

/// Where T17's exporter writes: beside the trace directory, not in it,
/// so its files are not the sessions' (judged by [`final_checks`] before).
const MARKS_DIR: &str = "/marks";

/// T17, the crash-mark table's bound: a sole writer keeps its marks in
/// memory only, at most `crash_marks_max` of them (beyond those of
/// exports in flight), forgetting the oldest. After quiescence, 2 to 6
/// sessions are crash-written in turn through an exporter whose bound is
/// 1 to 3 below that count, then each is exported once more: the newest
/// `crash_marks_max` must still be refused (crash wins, T3), the older
/// ones land (a table that never forgets grows with every crash the
/// process ever saw; `core` asserts its shape on every mark).
async fn judge_marks_bound(world: &World) {
    let mut rng = world.workload_rng(0x78);
    let max = rng.range(1, 3) as usize;
    let crashed = max + rng.range(1, 3) as usize;
    let env = world.env();
    let config = FileExporterConfig { sole_writer: true, crash_marks_max: max, stale_tmp_age: Duration::ZERO };
    let exporter = match FileExporter::open(&env, MARKS_DIR, config).await {
        Ok(e) => Arc::new(e),
        Err(e) => return world.check("T17", false, || format!("no exporter on {MARKS_DIR} after quiescence: {e}")),
    };
    let tracer = Tracer::new(&env, vec![exporter.clone() as Arc<dyn Exporter>], TraceConfig::default());
    let ids: Vec<String> = (0..crashed).map(|i| format!("marked-{i}")).collect();
    for id in &ids {
        let session = tracer.start(id);
        session.record("before the crash", None, serde_json::Value::Null);
        let written = session.crash_write();
        world.check("T17", written.is_ok(), || format!("the crash write of {id:?} failed with no fault: {written:?}"));
    }
    for (i, id) in ids.iter().enumerate() {
        let remembered = i >= crashed - max;
        // What the bytes say is not judged here: only whether they land.
        let exported = exporter.write_version(id, id.as_bytes().to_vec()).await;
        let expected = if remembered { Exported::SkippedCrashed } else { Exported::Written };
        world.check("T17", matches!(&exported, Ok(e) if *e == expected), || {
            format!(
                "after {crashed} crash writes through an exporter keeping {max} marks, the export of crash #{} {id:?} \
                 returned {exported:?}, not {expected:?}",
                i + 1
            )
        });
    }
}

/// How long past quiescence the driver waits for an end's bound to run
/// out (well inside the runner's slack of 60 s).
const END_WAIT_MAX: Duration = Duration::from_secs(30);

/// T7 where it is hardest, on more ids than a run has sessions: a seed's
/// family of 256 ids of one length past `names::ENCODED_MAX`, differing
/// only in a tail of hostile bytes, must map to distinct file names of
/// at most 255 bytes that no path could be steered with. Every exporter
/// names files this way, so a collision here is two sessions in one file.
fn judge_long_ids(world: &World) {
    const TAIL: &[char] = &[':', '/', '.', '\\', '%', '~', 'a', 'Z', '\0', ' '];
    let mut rng = world.workload_rng(0x77);
    // Judged once for the family (a check per id costs more than the ids).
    let family: Vec<String> = (0..256)
        .map(|_| {
            let tail: String = (0..4).map(|_| TAIL[rng.range(0, TAIL.len() as u64 - 1) as usize]).collect();
            format!("{}{tail}", "y".repeat(250))
        })
        .collect();
    let problem = first_name_problem(&family, &file_names(&family));
    world.check("T7", problem.is_none(), || problem.unwrap_or_default());
    // T16: operators and upstream's tools find a plain id's trace by its
    // name; only what needs escaping is escaped. A seed's plain id of
    // 1 to ENCODED_MAX bytes, drawn from the safe bytes.
    const SAFE: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_-";
    let len = rng.range(1, names::ENCODED_MAX as u64) as usize;
    let id: String = (0..len).map(|_| char::from(SAFE[rng.range(0, SAFE.len() as u64 - 1) as usize])).collect();
    let name = names::file_name(&id);
    world.check("T16", name == format!("{id}.trace.json"), || format!("the plain id {id:?} is exported as {name:?}"));
    // And 64 long ids of hostile bytes throughout (each escaped to three),
    // mixed with plain ones, 150 to 300 bytes: the readable prefix a long
    // id keeps ends wherever its escapes fall, not on a round length.
    const MIXED: &[char] = &['y', 'y', 'y', '7', '-', ':', '/', '.', '\\', '%', '~', 'Z', '\0', ' ', 'é'];
    let mut rng = world.workload_rng(0x78);
    let mixed = (0..64).map(|_| {
        let len = rng.range(150, 300) as usize;
        (0..len).map(|_| MIXED[rng.range(0, MIXED.len() as u64 - 1) as usize]).collect::<String>()
    });
    let ids: Vec<String> = mixed.collect();
    let names = file_names(&ids);
    let problem = first_name_problem(&ids, &names);
    world.check("T7", problem.is_none(), || problem.unwrap_or_default());
    // T16 for long ids: readable as far as the documented prefix goes.
    let unreadable = ids.iter().zip(&names).find_map(|(id, name)| {
        let prefix = readable_prefix(id);
        let readable = name.len() > prefix.len() && name.starts_with(&prefix) && name.as_bytes()[prefix.len()] == b'~';
        (!readable).then(|| format!("the long id {id:?} is exported as {name:?}, not after {prefix:?}~"))
    });
    world.check("T16", unreadable.is_none(), || unreadable.unwrap_or_default());
}

/// A long id's readable prefix as `trace::names` documents it, written
/// out here from the documented encoding (a checker that called the code
/// it judges would agree with every mutant of it): bytes outside
/// `[a-z0-9_-]` become `%XX` (upper-case hex); the prefix is the longest
/// run of whole encodings of at most 120 bytes.
fn readable_prefix(id: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(120);
    for &b in id.as_bytes() {
        let plain = b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-';
        if out.len() + if plain { 1 } else { 3 } > 120 {
            break;
        }
        if plain {
            out.push(char::from(b));
        } else {
            out.extend(['%', char::from(HEX[usize::from(b >> 4)]), char::from(HEX[usize::from(b & 15)])]);
        }
    }
    out
}

/// Each id's file name, as `trace::names` makes it (once per id).
fn file_names(ids: &[String]) -> Vec<String> {
    ids.iter().map(|id| names::file_name(id)).collect()
}

/// T7 over `ids`, whose file names are `names` (one per id): the first id
/// whose name is longer than 255 bytes or could steer a path, or the first
/// two distinct ids that share a name.
fn first_name_problem(ids: &[String], names: &[String]) -> Option<String> {
    let mut by_name: BTreeMap<&str, &str> = BTreeMap::new();
    let mut first_problem = None;
    for (id, name) in ids.iter().zip(names) {
        let safe = name.len() <= 255 && !name.contains(['/', '\\', '\0']) && name != "." && name != "..";
        if !safe {
            first_problem.get_or_insert_with(|| format!("the id {id:?} maps to the unsafe file name {name:?}"));
        }
        if let Some(other) = by_name.insert(name, id)
            && other != id
        {
            first_problem.get_or_insert_with(|| format!("the ids {other:?} and {id:?} share the file name {name:?}"));
        }
    }
    first_problem
}

/// Open the exporter, retrying injected errors (bounded).
async fn open_exporter(world: &World, env: &Env) -> Option<FileExporter> {
    let s = world.schedule();
    let sole_writer = s.param("sole_writer", 0) == 1;
    // A sole writer whose panic hook crashes every session keeps exactly
    // as many marks as there are sessions: the bound is reached, never
    // passed, so every crashed id must stay crashed (T3).
    let crash_marks_max = if sole_writer && s.param("crash_all", 0) == 1 {
        s.param("sessions", 2) as usize
    } else {
        steadfast_core::trace::CRASH_MARKS_MAX
    };
    // The temporary files a dead process left are stale at once, but for
    // one seed in three, which keeps production's default (an hour): then
    // only `tidy`'s retry removes what a failed unlink of this process's
    // own left (T5).
    let stale_tmp_age =
        if s.param("stale_tmp_default", 0) == 1 { FileExporterConfig::default().stale_tmp_age } else { Duration::ZERO };
    let config = FileExporterConfig { stale_tmp_age, sole_writer, crash_marks_max };
    for _ in 0..50 {
        if let Ok(e) = FileExporter::open(env, DIR, config.clone()).await {
            return Some(e);
        }
        env.clock.sleep(Duration::from_millis(100)).await;
    }
    None
}

async fn incarnation_main(world: World, book: SharedBook, variant: Variant, inc: u64) {
    let env = world.env();
    {
        let mut b = lock(&book);
        b.tidied = false;
        b.incarnation = inc;
    }
    if inc > 0 && lost_power_last(&world) && has_tmp(&world) {
        world.reach(LOSS_BETWEEN);
    }
    let Some(file) = open_exporter(&world, &env).await else { return };
    let file = Arc::new(file);
    let (make, tracer) = make_sessions(&world, &book, &env, file.clone(), variant);
    let app =
        Rc::new(App { world: world.clone(), book: book.clone(), env: env.clone(), file, make, tracer, inc, variant });
    let s = world.schedule();
    let (n, first) = (s.param("sessions", 2) as usize, s.param("first_id", 0) as usize);
    let sessions: Vec<(Sess, String)> = (0..n)
        .map(|i| {
            let id = format!("{}#{inc}", session_id(first + i));
            let (sess, path) = (app.make)(&id);
            let mut b = lock(&book);
            b.sessions.insert(id.clone(), SessionBook { path: path.clone(), ..Default::default() });
            b.by_path.entry(path_key(&path)).or_default().push(id.clone());
            (sess, id)
        })
        .collect();
    let shared: Rc<RefCell<Vec<(Sess, String)>>> = Rc::new(RefCell::new(sessions.clone()));
    if let Some(at) = s.params.get("crash_at_ms").copied() {
        let (app, shared) = (app.clone(), shared.clone());
        madsim::task::spawn_local(async move {
            crasher(&app, &shared, at).await;
            lock(&app.book).crashers_done.insert(app.inc);
        });
    } else {
        lock(&book).crashers_done.insert(inc);
    }
    let tasks: Vec<_> = sessions
        .into_iter()
        .enumerate()
        .map(|(i, (sess, id))| {
            let app = app.clone();
            madsim::task::spawn_local(async move { session_main(&app, sess, id, i as u64).await })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    if app.world.now() >= app.world.chaos_end() {
        // An orderly shutdown: a final write end_trace stopped waiting for
        // lands (or fails) first, then the litter goes.
        let drained = app.file.drain(Duration::from_secs(30)).await;
        let pid = world.pid_of("app");
        if drained {
            // Drained means no export of this process is in flight: none
            // of their steps is still on its way to the disk.
            let pid = pid.unwrap_or(0);
            let steps = ["write", "sync_file", "rename"].iter();
            let pending: usize = steps.map(|op| app.world.in_flight_of(pid, op, |p| tmp_owner(p).is_some())).sum();
            app.world.check("T5", pending == 0, || {
                format!("the shutdown's drain returned with {pending} steps of exports still in flight")
            });
        }
        let began = app.world.now();
        let tidy = if drained { Some(app.file.tidy().await) } else { None };
        // T5's progress twin: with every session ended and no fault left
        // to inject, the exports in flight end within the slowest rename,
        // far inside the drain's bound, and tidying succeeds. (Otherwise
        // T5 is never judged: it waits for a tidied shutdown.)
        app.world.check("T5", matches!(tidy, Some(Ok(()))), || {
            format!("the quiet phase's shutdown: drained {drained} (bound 30 s), tidy {tidy:?}")
        });
        let mut b = lock(&book);
        b.tidied = matches!(tidy, Some(Ok(())));
        b.tidied_by = pid;
        b.tidied_at = began;
    }
}

/// Starts a session of the variant under test; returns it and its file.
type MakeSession = Box<dyn Fn(&str) -> (Sess, PathBuf)>;

fn make_sessions(
    world: &World,
    book: &SharedBook,
    env: &Env,
    file: Arc<FileExporter>,
    variant: Variant,
) -> (MakeSession, Option<Tracer>) {
    let legacy = |flavour| {
        let e: Arc<dyn Exporter> = Arc::new(LegacyExporter::new(env, Path::new(DIR), flavour));
        e
    };
    let flavour = |crash_checks, shared_flag, raw_mark| LegacyFlavour {
        crash_checks,
        shared_flag,
        raw_mark,
        upstream_names: false,
    };
    let exporter: Arc<dyn Exporter> = match variant {
        Variant::Core | Variant::DebounceDrop | Variant::HungEnd => file.clone(),
        Variant::ExportOverwritesCrash => legacy(flavour(false, false, false)),
        Variant::RenameRace => legacy(flavour(true, false, false)),
        Variant::SharedExporter => legacy(flavour(true, true, false)),
        Variant::RawSessionKey => legacy(flavour(true, false, true)),
        Variant::UnderscoreNames => legacy(LegacyFlavour { upstream_names: true, ..flavour(true, false, false) }),
    };
    let env = env.clone();
    if variant == Variant::DebounceDrop {
        let make: MakeSession =
            Box::new(move |id| (Sess::Debounce(DebounceSession::start(&env, file.clone(), id)), file.path_for(id)));
        return (make, None);
    }
    let mut exporters = vec![exporter.clone()];
    let mut config = trace_config(world);
    if matches!(variant, Variant::Core | Variant::HungEnd) {
        let rng = Mutex::new(world.workload_rng(0x1A7E));
        exporters.push(Arc::new(Mirror { world: world.clone(), book: book.clone(), rng }));
    }
    if variant == Variant::HungEnd {
        // Before T9, end_trace awaited each exporter without a bound.
        config.exporter_timeout = Duration::from_secs(86_400 * 365);
    }
    let tracer = Tracer::new(&env, exporters, config);
    let t = tracer.clone();
    let make: MakeSession = Box::new(move |id| {
        let path = exporter.path(id).expect("file exporters have paths");
        (Sess::Core(t.start(id)), path)
    });
    (make, Some(tracer))
}

fn lost_power_last(world: &World) -> bool {
    let now = world.now().as_millis() as u64;
    let mut last = world.schedule().events.iter().filter(|e| e.at_ms <= now).collect::<Vec<_>>();
    last.sort_by_key(|e| e.at_ms);
    let timed = last.iter().rev().find(|e| !matches!(e.what, Event::ClockJump { .. } | Event::Restart { .. }));
    matches!(timed.map(|e| &e.what), Some(Event::PowerLoss { .. })) || !world.schedule().crashes.is_empty()
}

fn has_tmp(world: &World) -> bool {
    world.listing().iter().any(|l| tmp_owner(&l.path).is_some())
}

/// How often an aimed crash looks for its moment, and for how long.
const AIM_POLL_MS: u64 = 10;
const AIM_POLLS_MAX: u64 = 1_000;

/// The crash write of one session at `at_ms`, or (when the schedule aims
/// it) at the first moment after `at_ms` when a rename of that session's
/// file is in flight: the window upstream left open (M1).
/// Is a rename of one of session `id`'s temporary files in flight?
fn own_rename_in_flight(app: &App, id: &str) -> bool {
    let path = lock(&app.book).sessions[id].path.clone();
    app.world.in_flight("rename", |p| is_tmp_of(&path, p)) > 0
}

/// Is `p` one of the temporary files of the canonical file `path`?
fn is_tmp_of(path: &Path, p: &Path) -> bool {
    let (Some(path), Some(p)) = (path.to_str(), p.to_str()) else { return false };
    p.strip_prefix(path).is_some_and(|rest| rest.starts_with(".tmp."))
}

/// Wait (bounded) until a rename of session `id`'s temporary file is in
/// flight: where a crash write or a shutdown's fence matters most.
async fn aim_at_own_rename(app: &App, id: &str) {
    aim_until(&app.env, || own_rename_in_flight(app, id)).await;
}

/// Wait until `ready`, looking every [`AIM_POLL_MS`], at most
/// [`AIM_POLLS_MAX`] times.
async fn aim_until(env: &Env, ready: impl Fn() -> bool) {
    for _ in 0..AIM_POLLS_MAX {
        if ready() {
            return;
        }
        env.clock.sleep(Duration::from_millis(AIM_POLL_MS)).await;
    }
}

async fn crasher(app: &App, sessions: &RefCell<Vec<(Sess, String)>>, at_ms: u64) {
    app.world.sleep_until(Duration::from_millis(at_ms)).await;
    let which = app.world.schedule().param("crash_session", 0) as usize;
    let Some((sess, id)) = sessions.borrow().get(which % sessions.borrow().len().max(1)).cloned() else { return };
    if app.world.schedule().param("crash_aimed", 0) == 1 {
        aim_at_own_rename(app, &id).await;
    }
    if own_rename_in_flight(app, &id) {
        app.world.reach(CRASH_DURING_RENAME);
    }
    if app.world.schedule().param("crash_all", 0) == 1
        && let Some(tracer) = &app.tracer
    {
        let ids: Vec<String> = sessions.borrow().iter().map(|(_, id)| id.clone()).collect();
        return crash_all(app, tracer, &ids);
    }
    lock(&app.book).crash_begins(&id);
    let result = blocking(app, 1, || sess.crash_write());
    app.world.note(format!("crash write of {id:?}: {result:?}"));
    lock(&app.book).blocking_write_ends(&id, result.is_ok());
    if result.is_ok() {
        let path = {
            let mut book = lock(&app.book);
            let s = book.sessions.get_mut(&id).expect("registered");
            s.crash_returned = true;
            s.path.clone()
        };
        judge_now(&app.world, &app.book, &path);
    }
}

/// Run one of the driver's blocking calls, and book the stall it caused
/// the process: another session's end could not run meanwhile (T9).
/// `writes` is how many crash writes the call makes at most: each is
/// excused up to [`crash_write_bound`].
fn blocking<T>(app: &App, writes: usize, call: impl FnOnce() -> T) -> T {
    // The process's own clock: after blocking calls it reads the end of
    // the stall they caused (the world's reads the instant of the poll).
    let began = app.env.clock.now().since_origin();
    let result = call();
    let bound = crash_write_bound(&app.world, began) * writes as u32;
    lock(&app.book).blocking_stalls.push((began, app.env.clock.now().since_origin(), bound));
    result
}

/// The panic hook's path: crash-write every session still open in the
/// tracer (`Tracer::crash_write_all`), each judged as one crash write (T3).
/// Every session of the incarnation counts as crashing while the call
/// runs; those the tracer no longer had (ended) do not afterwards.
fn crash_all(app: &App, tracer: &Tracer, ids: &[String]) {
    for id in ids {
        lock(&app.book).crash_begins(id);
    }
    let results = blocking(app, ids.len(), || tracer.crash_write_all());
    app.world.note(format!("crash write of every open session: {results:?}"));
    let (mut written, mut skipped) = (Vec::new(), Vec::new());
    {
        let mut book = lock(&app.book);
        for id in ids {
            let ok = results.iter().find(|(r, _)| r == id).is_none_or(|(_, r)| r.is_ok());
            book.blocking_write_ends(id, ok);
            let Some(s) = book.sessions.get_mut(id) else { continue };
            match results.iter().find(|(r, _)| r == id) {
                None => {
                    // A session that had not begun to end is open: the
                    // hook must have crash-written it.
                    if s.end_started.is_none() {
                        skipped.push(id.clone());
                    }
                    s.crash_started = false;
                }
                Some((_, Ok(_))) => {
                    s.crash_returned = true;
                    written.push(s.path.clone());
                }
                Some((_, Err(_))) => {}
            }
        }
    }
    // Judged with the book unlocked: the world settles first, and its
    // watcher locks the book.
    app.world
        .check("T3", skipped.is_empty(), || format!("the panic hook's crash write skipped open sessions {skipped:?}"));
    for path in written {
        judge_now(&app.world, &app.book, &path);
    }
}

/// [`fault_caused`], for an error known only as the text a warning logged.
pub(super) fn fault_caused_text(error: &str) -> bool {
    error.contains("injected ") || error.contains("lost to a power loss")
}

/// Judge one canonical file as it is now. The book is locked only after
/// the world has settled: the watcher locks it from inside the world.
fn judge_now(world: &World, book: &SharedBook, path: &Path) {
    let read = world.peek_file(path).map_err(|e| e.to_string());
    let mut book = lock(book);
    judge_file(&mut book, path, read.as_deref(), &mut |inv, ok, msg| world.check(inv, ok, msg));
}

async fn session_main(app: &App, sess: Sess, id: String, stream: u64) {
    let mut rng: SimRng = app.world.workload_rng(stream);
    let mut next = 0u64;
    // Its own stream: the other draws of the session's stay.
    let mut unsnapped = app.world.workload_rng(stream + 0xF1A5);
    let early_end = app.world.schedule().params.get("early_end_ms").copied().filter(|_| stream == 0);
    while app.world.now() < app.world.chaos_end() {
        if early_end.is_some_and(|at| app.world.now() >= Duration::from_millis(at)) {
            break;
        }
        burst(app, &sess, &id, &mut rng, &mut next).await;
        let flushed = rng.chance(0.3);
        if flushed {
            if app.world.schedule().param("flush_writes", 0) == 1 {
                for _ in 0..unsnapped.range(1, 5) {
                    record_event(app, &sess, &id, format!("e{next}-flushed"));
                    next += 1;
                }
            }
            // The burst settled: one round writes everything (T2).
            if let Some(caused) = writes_during(app, &id, flush_and_check(app, &sess, &id, false)).await {
                app.world.check("T2", caused <= 1, || {
                    format!("a flush of settled session {id:?} caused {caused} writes (at most 1)")
                });
            }
        }
        // T18: after a flush, with nothing asked of the session during it,
        // nothing is written until the app asks again.
        let idle = flushed && app.variant == Variant::Core;
        if idle {
            set_idle(app, &id, Some(app.inc));
        }
        app.env.clock.sleep(Duration::from_millis(rng.range(0, 2_000))).await;
        if idle {
            set_idle(app, &id, None);
        }
    }
    let quiet = app.world.now() >= app.world.chaos_end();
    if quiet && early_end.is_none() {
        follow_up_lands(app, &sess, &id, &mut next).await;
    }
    flush_and_check(app, &sess, &id, quiet).await;
    // One session end in four in the quiet phase, and one early end in
    // two in the chaos phase, is a clean shutdown without a runtime
    // (upstream's finalizeSync): blocking, fenced against the exports in
    // flight.
    // (Not where a mirror's mount hangs: those early ends are T9's, an
    // end_trace that must return.)
    let early_finalize = early_end.is_some() && app.world.schedule().hangs.is_empty();
    let finalize =
        (quiet || early_finalize) && rng.chance(if quiet { 0.25 } else { 0.5 }) && matches!(sess, Sess::Core(_));
    let late = !finalize && quiet && app.world.schedule().param("late_mirror", 0) == 1 && matches!(sess, Sess::Core(_));
    if !finalize && !late && app.world.schedule().param("end_racing", 0) == 1 && matches!(sess, Sess::Core(_)) {
        // The app ends right after asking for a snapshot, without a flush:
        // the end begins while that snapshot's rename is in flight, and on
        // a slow mount the rename outlives end_wait, so the final write
        // runs beside it and only its fence keeps the older version from
        // landing over it (T8, T9).
        record_event(app, &sess, &id, format!("e{next}-racing"));
        sess.snapshot();
        aim_at_own_rename(app, &id).await;
    }
    if late {
        // Its last event goes out in a background snapshot whose mirror
        // answers only after the final write: a round that ends after a
        // newer one says nothing about the file (T9).
        record_event(app, &sess, &id, format!("e{next}-late"));
        lock(&app.book).late_mirror.insert(id.clone());
        sess.snapshot();
        aim_until(&app.env, || lock(&app.book).mirror_holding.contains(&id)).await;
    }
    let started = app.world.now();
    if let Some(s) = lock(&app.book).sessions.get_mut(&id) {
        s.end_started = Some((app.inc, started));
    }
    if finalize {
        // Its last event goes out in a background snapshot, whose rename is
        // in flight when the shutdown comes (aimed as the crasher aims).
        record_event(app, &sess, &id, format!("e{next}-last"));
        sess.snapshot();
        aim_at_own_rename(app, &id).await;
        if let Some(s) = lock(&app.book).sessions.get_mut(&id) {
            s.blocking_write = true;
        }
        let result = blocking(app, 1, || sess.finalize_sync()).expect("a core session");
        let mut book = lock(&app.book);
        book.blocking_write_ends(&id, result.is_ok());
        if let Some(s) = book.sessions.get_mut(&id) {
            s.end_returned = true;
            s.finalized = result.is_ok();
        }
        drop(book);
        check_finalized(app, &id, result, quiet);
    } else {
        let ended = sess.end_trace().await;
        if let Some(s) = lock(&app.book).sessions.get_mut(&id) {
            s.end_returned = true;
        }
        check_ended(app, &id, &ended, app.world.now() - started);
        if sess.follow_ups() > 0 {
            app.world.reach(FOLLOW_UP);
        }
    }
    check_counted(app, &sess, &id);
    if app.variant == Variant::Core && app.world.schedule().param("forget_ended", 0) == 1 {
        sess.settled().await;
        // Not while this incarnation's crasher may still crash-write the
        // ended session through its old handle (it aims at a rename of the
        // id in flight, which the new session would offer).
        aim_until(&app.env, || lock(&app.book).crashers_done.contains(&app.inc)).await;
        if lock(&app.book).crashers_done.contains(&app.inc) {
            forget_and_restart(app, &id).await;
        }
    }
}

/// T20: the session's counters are true. Each temporary file its
/// background and final rounds wrote is one round it counted (a flush's
/// rounds and the blocking writes are counted too, but not looked for).
fn check_counted(app: &App, sess: &Sess, id: &str) {
    let Some(writes) = sess.writes() else { return };
    let book = lock(&app.book);
    let path = &book.sessions[id].path;
    let key = path_key(path);
    if book.by_path.get(&key).is_some_and(|ids| ids.len() > 1) {
        return; // A file several sessions share (T7's business).
    }
    let rounds = book.round_writes.get(&key).copied().unwrap_or(0);
    app.world.check("T20", writes >= rounds, || {
        format!(
            "session {id:?} counts {writes} writes, but its rounds wrote {rounds} temporary files of {}",
            path.display()
        )
    });
}

fn set_idle(app: &App, id: &str, idle: Option<u64>) {
    if let Some(s) = lock(&app.book).sessions.get_mut(id) {
        s.idle_in = idle;
    }
}

/// T13, in one seed in four: the user forgets an ended session's trace
/// (`remove_trace`), crash-written or not, in the quiet phase or, for a
/// session ended early, under the chaos phase's faults (retried; each
/// failure must be an injected fault's, T14). Once it returns `Ok`, its
/// file and crash mark must be gone, and a new session under the same id
/// must export afresh: its flush lands (T1), never refused as crashed
/// (T6), and its end does not read crashed.
async fn forget_and_restart(app: &App, id: &str) {
    let (path, mark) = {
        // Forgetting is the user's: what the file held, crashed or
        // completed, is no longer promised (T3, T8); a new session's events
        // are judged from none.
        let mut book = lock(&app.book);
        let s = book.sessions.get_mut(id).expect("registered");
        *s = SessionBook { path: s.path.clone(), forgetting: true, ..SessionBook::default() };
        (s.path.clone(), app.file.crash_mark_for(id))
    };
    let mut began = app.world.now();
    let mut removed = app.file.remove_trace(id).await;
    for tries in 0.. {
        let Err(e) = &removed else { break };
        // Faults are injected while the call began in the chaos phase.
        let quiet = began >= app.world.chaos_end();
        let injected = fault_caused(e);
        app.world.check("T14", !quiet && injected, || {
            format!("remove_trace of {id:?} failed with no fault to cause it: {e}")
        });
        // Past the tries, only while an export's rename is in flight: a
        // server that refuses to unlink a file it is renaming refuses every
        // try until the rename lands (`while_renaming`), and until then
        // `remove_trace` rightly says it could not fence the export.
        if tries >= FORGET_TRIES && app.world.lands_at("rename", |p| is_tmp_of(&path, p)).is_none() {
            break;
        }
        app.env.clock.sleep(Duration::from_millis(100)).await;
        began = app.world.now();
        removed = app.file.remove_trace(id).await;
    }
    {
        // The new session's versions are judged in order from none (T4).
        let mut book = lock(&app.book);
        book.sessions.get_mut(id).expect("registered").forgetting = false;
        book.high_water.remove(&path_key(&path));
    }
    let left: Vec<&Path> = [&path, &mark]
        .into_iter()
        .filter(|p| app.world.peek(FsOp::SymlinkMetadata(p.to_path_buf())).is_ok())
        .map(PathBuf::as_path)
        .collect();
    app.world.check("T13", removed.is_ok() && left.is_empty(), || {
        format!("remove_trace of {id:?} returned {removed:?}, and left {left:?}")
    });
    let (sess, again) = (app.make)(id);
    app.world
        .check("T7", again == path, || format!("{id:?} maps to {} now, to {} before", again.display(), path.display()));
    for k in 0..3 {
        record_event(app, &sess, id, format!("r{k}"));
    }
    let quiet = app.world.now() >= app.world.chaos_end();
    flush_and_check(app, &sess, id, quiet).await;
    let started = app.world.now();
    lock(&app.book).sessions.get_mut(id).expect("registered").end_started = Some((app.inc, started));
    let ended = sess.end_trace().await;
    lock(&app.book).sessions.get_mut(id).expect("registered").end_returned = true;
    check_ended(app, id, &ended, app.world.now() - started);
    // (A slow mount may time its end out: what matters here is that the
    // id is not crashed any more.)
    let crashed = ended.status == Status::Crashed || matches!(ended.error, Some(TraceError::Crashed(_)));
    app.world.check("T13", !crashed, || {
        format!("the new session under {id:?} ended as {:?} ({:?})", ended.status, ended.error)
    });
}

/// Record 1..=50 events with a snapshot after each, all in one poll, then
/// wait for the session to settle and count the writes it caused (T2).
async fn burst(app: &App, sess: &Sess, id: &str, rng: &mut SimRng, next: &mut u64) {
    let work = async {
        for _ in 0..rng.range(1, 50) {
            record_event(app, sess, id, format!("e{next}-{:04x}", rng.range(0, 0xFFFF)));
            *next += 1;
            sess.snapshot();
        }
        if app.world.schedule().param("tidy_racing", 0) == 1 && app.variant == Variant::Core {
            tidy_beside_exports(app).await;
        }
        sess.settled().await;
    };
    if let Some(caused) = writes_during(app, id, work).await {
        // One write in flight before the burst may land during it, plus
        // the burst's own write and its single follow-up.
        app.world.check("T2", caused <= 3, || format!("a burst in session {id:?} caused {caused} writes (at most 3)"));
    }
}

/// Run `work`, and count the temporary files of session `id` written
/// meanwhile (T2); `None` once a crash write of it began (its writes are
/// the crash's, not counted apart).
async fn writes_during(app: &App, id: &str, work: impl std::future::Future<Output = ()>) -> Option<u64> {
    let key = path_key(&lock(&app.book).sessions[id].path);
    let writes = || lock(&app.book).tmp_writes.get(&key).copied().unwrap_or(0);
    let before = writes();
    work.await;
    let caused = writes() - before;
    (!lock(&app.book).sessions[id].crash_started).then_some(caused)
}

/// `tidy` is housekeeping "for an idle moment", but nothing stops a
/// service calling it while snapshots are in flight, and a temporary file
/// of an export in flight is never stale (its doc): one seed in four calls
/// it right after each burst's snapshot has begun. Whatever it removes of
/// an export in flight makes that export fail with no fault to cause it
/// (T14, judged on the snapshots' warnings and the flushes).
async fn tidy_beside_exports(app: &App) {
    app.env.clock.sleep(Duration::from_millis(TIDY_AFTER_MS)).await;
    let tidied = app.file.tidy().await;
    let caused = tidied.as_ref().err().is_none_or(fault_caused);
    app.world
        .check("T14", caused, || format!("tidy beside exports in flight failed with no fault to cause it: {tidied:?}"));
}

/// How long after a burst's snapshot `tidy_beside_exports` tidies: its
/// temporary file written, its rename not yet issued, on most mounts.
const TIDY_AFTER_MS: u64 = 20;

/// T11, in the quiet phase: an event recorded and snapshotted while a
/// flush is writing lands once the session settles, without another flush.
async fn follow_up_lands(app: &App, sess: &Sess, id: &str, next: &mut u64) {
    if lock(&app.book).sessions[id].crash_started {
        return;
    }
    let mut record = |sess: &Sess| {
        record_event(app, sess, id, format!("e{next}-quiet"));
        *next += 1;
    };
    // An event for the flush to write, then one while it writes (a rename
    // on the trace mount takes 50 ms at least).
    record(sess);
    let flush_target = lock(&app.book).sessions[id].names.len();
    let during = async {
        app.env.clock.sleep(Duration::from_millis(1)).await;
        record(sess);
        sess.snapshot();
    };
    let (flushed, ()) = crate::join2(sess.flush(), during).await;
    let ok = flushed.is_ok();
    judge_flush(app, id, flush_target, flushed, true);
    sess.settled().await;
    let (target, path) = {
        let book = lock(&app.book);
        (book.sessions[id].names.len(), book.sessions[id].path.clone())
    };
    let bytes = app.world.peek_file(&path).ok();
    let mut book = lock(&app.book);
    if !ok || book.sessions[id].crash_started {
        return; // T1 and T6 judge the flush itself
    }
    let held = bytes.and_then(|b| book.parse(&b).ok()).map_or(0, |d| d.events);
    app.world.check("T11", held >= target, || {
        format!(
            "{id:?} settled with {target} events recorded and a snapshot requested during a flush, but {} holds {held}",
            path.display()
        )
    });
}

/// Record event `name` in session `id`, booked first: the book's names are
/// what T1, T4 and T11 judge the file against.
fn record_event(app: &App, sess: &Sess, id: &str, name: String) {
    if let Some(s) = lock(&app.book).sessions.get_mut(id) {
        s.names.push(name.clone());
    }
    sess.record(&name);
}

async fn flush_and_check(app: &App, sess: &Sess, id: &str, quiet: bool) {
    let target = lock(&app.book).sessions[id].names.len();
    let result = sess.flush().await;
    judge_flush(app, id, target, result, quiet);
}

/// T1, T2 and T6 on a flush that returned `result` with `target` events
/// recorded when it was called.
fn judge_flush(app: &App, id: &str, target: usize, result: Result<(), TraceError>, quiet: bool) {
    let path = lock(&app.book).sessions[id].path.clone();
    let bytes = app.world.peek_file(&path).ok();
    let mut book = lock(&app.book);
    let doc = bytes.and_then(|b| book.parse(&b).ok());
    let crash_started = book.sessions[id].crash_started;
    match result {
        Ok(()) => {
            let held = doc.as_ref().map_or(0, |d| d.events);
            let in_order = doc.as_ref().is_none_or(|d| d.session_id == id && d.recorded_prefix);
            app.world.check("T1", held >= target && in_order, || {
                format!("flush of {id:?} returned Ok with {target} events recorded, but {} holds {held} (in order: {in_order})", path.display())
            });
            let s = book.sessions.get_mut(id).expect("registered");
            s.flushed = s.flushed.max(target);
        }
        Err(TraceError::Crashed(_)) => {
            app.world.check("T6", crash_started, || {
                format!("flush of {id:?} was refused as crashed, but {id:?} never crashed")
            });
        }
        Err(e @ TraceError::FlushRounds { .. }) => app.world.check("T2", false, || e.to_string()),
        Err(TraceError::Io { ref source, .. }) if !quiet || crash_started || steadfast_sim::is_power_loss(source) => {
            let injected = fault_caused(source);
            let kind = result.as_ref().err().and_then(TraceError::io_kind);
            app.world.check("T14", kind == Some(source.kind()) && injected, || {
                format!("flush of {id:?} failed on storage with io_kind {kind:?}: {source} (injected: {injected})")
            });
        }
        Err(e) => {
            app.world.check("T1", !quiet || crash_started, || format!("flush of {id:?} failed in the quiet phase: {e}"))
        }
    }
}

/// The EFS mount's slowest rename in this seed.
fn rename_ms_max(world: &World) -> u64 {
    let efs = world.schedule().mounts.iter().find(|m| m.prefix == Path::new("/efs"));
    let rename = efs.and_then(|m| m.latency.iter().find(|l| l.ops.iter().any(|o| o == "rename")));
    rename.map_or(RENAME_MS_MAX, |l| l.ms_max)
}

/// The seed's tracer configuration: the defaults, but for an operator's
/// shorter `end_wait` in one seed in three.
fn trace_config(world: &World) -> TraceConfig {
    let mut c = TraceConfig::default();
    if let Some(&ms) = world.schedule().params.get("end_wait_ms") {
        c.end_wait = Duration::from_millis(ms);
    }
    if let Some(&n) = world.schedule().params.get("chain_max") {
        c.follow_up_chain_max = n as u32;
    }
    c
}

/// The longest an end_trace begun at `began` may take (T9): the wait for
/// a write in flight, each exporter's bound, and one blocking crash write.
fn end_bound(world: &World, began: Duration) -> Duration {
    let c = trace_config(world);
    c.end_wait + c.exporter_timeout * 2 + crash_write_bound(world, began)
}

fn check_ended(app: &App, id: &str, ended: &Ended, took: Duration) {
    let path = lock(&app.book).sessions[id].path.clone();
    let exists = app.world.peek(FsOp::SymlinkMetadata(path.clone())).is_ok();
    let held = app.world.peek_file(&path).ok().and_then(|b| TraceDoc::parse(&b).ok()).map(|d| d.status);
    if matches!(ended.error, Some(TraceError::ExporterTimeout { exporter: 1, .. })) {
        app.world.reach(HUNG_AT_END);
    }
    let book = lock(&app.book);
    let s = &book.sessions[id];
    let began = app.world.now() - took;
    let stalled = book.blocking_stalled(began, app.world.now());
    let bound = end_bound(&app.world, began);
    app.world.check("T9", took <= bound + stalled, || {
        format!("end_trace of {id:?} took {took:?} (bound {bound:?}, {stalled:?} of it stalled by the driver's blocking calls)")
    });
    // What the file holds, unless it may still change: the file exporter
    // is late, or a crash write raced the end.
    let file_late = matches!(ended.error, Some(TraceError::ExporterTimeout { exporter: 0, .. }));
    if ended.path.is_some() && held.is_some() && !file_late && !s.crash_started {
        app.world.check("T9", held == Some(ended.status), || {
            format!("end_trace of {id:?} reports {:?}, but {} holds {held:?}", ended.status, path.display())
        });
    }
    // A completed end whose final write landed is final (T8, judged on
    // every later effect on the file).
    let final_landed = ended.error.is_none() && ended.status == Status::Completed && held == Some(Status::Completed);
    app.world.check("T8", ended.path.is_some() || !exists, || {
        format!("end_trace of {id:?} returned no path, but {} exists (status {:?})", s.path.display(), ended.status)
    });
    app.world.check("T6", ended.status != Status::Crashed || s.crash_started, || {
        format!("end_trace of {id:?} reports crashed, but {id:?} never crashed")
    });
    let promised = (ended.path.is_some() && !exists && !s.crash_started).then_some(ended.status);
    let finalized = final_landed && !s.crash_started && !s.forgetting;
    drop(book);
    let mut book = lock(&app.book);
    let s = book.sessions.get_mut(id).expect("registered");
    s.promised = promised;
    s.finalized |= finalized;
}

/// T8 for `finalize_sync`: it returns the canonical path, and the file
/// reads completed unless the session was crash-written (then crash
/// wins, judged as T3). In the chaos phase it may fail, but only for a
/// fault the world injected (or a power loss it was caught in).
fn check_finalized(app: &App, id: &str, result: Result<Option<PathBuf>, TraceError>, quiet: bool) {
    if let Err(TraceError::Io { source, .. }) = &result
        && (!quiet || steadfast_sim::is_power_loss(source))
    {
        let caused = fault_caused(source);
        app.world
            .check("T8", caused, || format!("finalize_sync of {id:?} failed with no fault to cause it: {result:?}"));
        return;
    }
    // The world settles before the book is locked: its watchers lock it.
    let path = lock(&app.book).sessions[id].path.clone();
    let held = app.world.peek_file(&path).ok().and_then(|b| TraceDoc::parse(&b).ok()).map(|d| d.status);
    let book = lock(&app.book);
    let s = &book.sessions[id];
    // A crash-written session's file is judged by T3 (crash wins).
    let ok = matches!(&result, Ok(Some(p)) if *p == s.path) && (s.crash_started || held == Some(Status::Completed));
    app.world.check("T8", ok, || {
        format!("finalize_sync of {id:?} returned {result:?}; {} holds {held:?}, expected Completed", s.path.display())
    });
}

/// At quiescence: every canonical file whole and consistent (T3, T4, T7),
/// every flushed event durable (T1), no temporary file left (T5), nothing
/// outside the trace directory (T7).
fn final_checks(world: &World, shared: &SharedBook) {
    // T14 for the snapshots written in the background, whose storage
    // errors only a warning reports: each an injected fault's (or a power
    // loss's). A fence by the session's own newer write, crash write or
    // finalize_sync is no error: the export reports itself superseded.
    for d in world.diagnostics().iter().filter(|d| d.message == "trace snapshot failed") {
        let error = d.field("error").unwrap_or_default();
        let storage = error.contains(" failed: ");
        let caused = fault_caused_text(error);
        world.check("T14", !storage || caused, || {
            format!("a background snapshot on {} failed on storage with no fault to cause it: {error}", d.node)
        });
    }
    let listing = world.listing();
    for l in &listing {
        let inside = l.path.starts_with(DIR) || Path::new(DIR).starts_with(&l.path);
        world.check("T7", inside, || format!("{} lies outside {DIR}", l.path.display()));
    }
    // T15: a crash mark tells every exporter on the directory (and an
    // operator) that the session crashed; one for a session that never
    // did refuses its exports and misreports it.
    // Named as the public `crash_mark_name` says (what an operator or
    // another tool looks for).
    let marks: Vec<String> = listing
        .iter()
        .filter(|l| l.kind == FileKind::File && l.path.parent() == Some(Path::new(DIR)))
        .filter_map(|l| l.path.file_name()?.to_str().filter(|n| n.ends_with(names::CRASH_MARK)).map(String::from))
        .collect();
    {
        let book = lock(shared);
        for mark in &marks {
            let crashed = book.ever_crashed.iter().any(|id| names::crash_mark_name(id) == *mark);
            world.check("T15", crashed, || format!("{DIR}/{mark} names no session that crashed"));
        }
    }
    let paths: Vec<PathBuf> = lock(shared).by_path.keys().map(PathBuf::from).collect();
    let contents: BTreeMap<PathBuf, Result<Vec<u8>, String>> =
        paths.iter().map(|p| (p.clone(), world.peek_file(p).map_err(|e| e.to_string()))).collect();
    let mut book = lock(shared);
    for (path, read) in contents.iter() {
        judge_file(&mut book, path, read.as_deref(), &mut |inv, ok, msg| world.check(inv, ok, msg));
    }
    let now: BTreeMap<PathBuf, Option<Parsed>> =
        contents.iter().map(|(p, r)| (p.clone(), r.as_ref().ok().and_then(|b| book.parse(b).ok()))).collect();
    let held: BTreeMap<PathBuf, usize> =
        now.iter().map(|(p, d)| (p.clone(), d.as_ref().map_or(0, |d| d.events))).collect();
    for (id, s) in &book.sessions {
        let held = held.get(&s.path).copied().unwrap_or(0);
        world.check("T1", held >= s.flushed, || {
            format!(
                "{} holds {held} events after quiescence; a flush of {id:?} promised {}",
                s.path.display(),
                s.flushed
            )
        });
    }
    // T9 for an end_trace that reported a file not there yet: the version
    // that landed reads the status it reported (unless a crash write or
    // forgetting came after: crash wins, and forgetting promises nothing).
    for (id, s) in &book.sessions {
        let Some(promised) = s.promised else { continue };
        let landed = now.get(&s.path).and_then(Option::as_ref);
        if let Some(landed) = landed
            && landed.session_id == *id
            && !s.crash_started
            && !s.forgetting
        {
            world.check("T9", landed.status == promised, || {
                format!(
                    "end_trace of {id:?} reported {promised:?} for a file not there yet, but {} landed {:?}",
                    s.path.display(),
                    landed.status
                )
            });
        }
    }
    // T9 for an end_trace that never returned: the incarnation that called
    // it still runs (or finished its work and exited), so nothing excuses it.
    let not_killed = world.is_alive("app") || world.exited("app");
    if not_killed {
        for (id, s) in &book.sessions {
            // Only an end whose bound has run out by quiescence can be
            // judged here: an incarnation restarted late in the quiet
            // phase may still be inside it (seed 7785 of 8,000: started
            // at 21.9 s, quiescence at 37 s, bound 21 s). Those that
            // return are judged against the bound where they return.
            if let Some((inc, at)) = s.end_started
                && inc == book.incarnation
                && !s.end_returned
                && book.end_deadline(world, at) <= world.now()
            {
                world.check("T9", false, || {
                    format!(
                        "end_trace of {id:?} started at {at:?} and had not returned at quiescence (bound {:?})",
                        end_bound(world, at)
                    )
                });
            }
        }
    }
    if book.tidied && not_killed {
        // With the default stale age a dead process's temporary files are
        // left for an open an hour later; the tidying process's own must go.
        let patient = world.schedule().param("stale_tmp_default", 0) == 1;
        // A dead process's write that lands after the tidy began (a write
        // on a tail spike, its process killed for a restart meanwhile;
        // seed 21083) is no one's to remove until the next open: its
        // file is not stale yet, and no process knows it is coming.
        let judged = |p: &Path| match book.tmp_creators.get(&path_key(p)) {
            Some(&(pid, at)) if Some(pid) != book.tidied_by => !patient && at < book.tidied_at,
            _ => true,
        };
        let litter: Vec<String> = listing
            .iter()
            .filter(|l| l.kind == FileKind::File && tmp_owner(&l.path).is_some() && judged(&l.path))
            .map(|l| l.path.display().to_string())
            .collect();
        world.check("T5", litter.is_empty(), || format!("temporary files left after quiescence: {litter:?}"));
    }
}

/// The `trace` schedule's knobs.
const PARAMS: &[ParamSpec] = &[
    ParamSpec { name: "sessions", max: 16, doc: "sessions the app records at once" },
    ParamSpec { name: "first_id", max: 1_000, doc: "which of the hostile ids comes first (modulo their number)" },
    ParamSpec {
        name: "crash_at_ms",
        max: steadfast_sim::schedule::limits::RUN_MS_MAX,
        doc: "when one session is crash-written",
    },
    ParamSpec { name: "crash_session", max: 16, doc: "which session crashes" },
    ParamSpec {
        name: "late_mirror",
        max: 1,
        doc: "1: before each quiet end_trace, a snapshot whose mirror answers after the final write",
    },
    ParamSpec { name: "end_racing", max: 1, doc: "1: each end_trace begins while a snapshot's rename is in flight" },
    ParamSpec { name: "end_wait_ms", max: 3_600_000, doc: "the tracer's end_wait, when not the default 5 s" },
    ParamSpec {
        name: "stale_tmp_default",
        max: 1,
        doc: "1: the exporter removes only temporary files an hour old (production's default), not every one",
    },
    ParamSpec { name: "crash_aimed", max: 1, doc: "1: the crash waits for a rename of that session in flight" },
    ParamSpec { name: "crash_all", max: 1, doc: "1: the crash is the panic hook's, of every open session at once" },
    ParamSpec { name: "chain_max", max: 1_024, doc: "the tracer's follow_up_chain_max, when not the default 1,024" },
    ParamSpec { name: "tidy_racing", max: 1, doc: "1: the app calls tidy() right after each burst's snapshot begins" },
    ParamSpec {
        name: "flush_writes",
        max: 1,
        doc: "1: the app records 1-5 events without a snapshot before each flush of the chaos phase (T18)",
    },
    ParamSpec {
        name: "marks_bound",
        max: 1,
        doc: "1: after quiescence, crash-write past a sole writer's mark bound (T17)",
    },
    ParamSpec { name: "forget_ended", max: 1, doc: "1: each ended session is forgotten and started afresh" },
    ParamSpec {
        name: "sole_writer",
        max: 1,
        doc: "1: the exporter is its directory's sole writer (crash marks in memory only)",
    },
    ParamSpec {
        name: "early_end_ms",
        max: steadfast_sim::schedule::limits::RUN_MS_MAX,
        doc: "when the first session ends, inside the chaos phase",
    },
];
