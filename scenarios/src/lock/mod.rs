//! `lock` and its replicas (incident 3 and the hostile host, L1..L9).
//!
//! Three processes (`p0`..`p2`) take turns on two session transcripts under
//! a slow mount: each attempt acquires a session's lock, appends a few
//! whole JSON lines, and sometimes runs a post-run compaction that releases
//! and reacquires the lock and then may hang forever (a hang rule); an
//! attempt timeout cancels it and attempt cleanup abandons its locks. Some
//! attempts skip cleanup (the watchdog must free their lock), some turns
//! outlive their lease (others take over; the late release must not delete
//! the new holder's lock). Processes are killed while holding, restarted
//! with a reused pid, and the power fails; a crashed writer leaves a
//! half-written lock file at boot.
//!
//! The hostile host: besides each process's attempts, up to six
//! contender tasks per process take short turns through the process's own
//! manager (in some seeds half of them through a second manager in the
//! same process); a vandal plants dangling and looping symlinks, FIFOs,
//! directories and garbage at a lock path and tears transcripts while no
//! one holds them; the disk fills during creates; a power loss can strike
//! in the middle of a tail repair.
//!
//! Checkers: a watcher on the sessions directory judges L1 (no append lands
//! from a holder that was released, force-released or superseded) and L5
//! (a valid holder's lock file is never removed or replaced under it) after
//! every effect; the workload judges L2 after cleanup and at max hold, L3
//! on every timeout, L4 and L6 on every acquire; the driver judges L4
//! (every lock recoverable in the quiet phase), L6 and L7 at the end.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast_core::lock::{
    Attempt, ForcedRelease, HeldLocks, LOCK_FILE_MAX, LockConfig, LockError, LockGuard, LockManager, LockOwner, Reason,
    lock_path,
};
use steadfast_core::{Env, FileKind, FsExt, FsOp, Liveness};
use steadfast_sim::schedule::{During, ErrorRule, Event, HangRule, Latency, Mount, PauseRule, SpikeRule, TimedEvent};
use steadfast_sim::swarm::Swarm;
use steadfast_sim::world::{Invariant, Landed, LocalBoxFuture, named};
use steadfast_sim::{Expect, FaultKind, ParamSpec, Scenario, Schedule, SimRng, World};

use crate::locked as lock_book;

mod fence;
mod hostile;
pub mod legacy;

use hostile::{Locker, contender, vandal};
use legacy::Flaw;

const DIR: &str = "/data/sessions";
const PROCS: &[&str] = &["p0", "p1", "p2"];
/// The last one is the vandal's.
const SESSIONS: &[&str] = &["/data/sessions/s0.jsonl", "/data/sessions/s1.jsonl", "/data/sessions/s2.jsonl"];
/// The tries' session files (L14), outside `DIR`: no workload, watcher or
/// fault rule of `DIR` touches them. The first is tried in the quiet phase,
/// the second in the chaos phase under the one fault aimed at it.
const TRY_DIR: &str = "/data/try/";
/// The chaos try's dead owner's lock, in a directory of its own, where
/// the schedule aims a failure at its takeover's claim.
const CLAIM_DIR: &str = "/data/try/claim";
const CLAIM_SESSION: &str = "/data/try/claim/s.jsonl";
const TRY_SESSIONS: &[&str] = &["/data/try/quiet.jsonl", "/data/try/chaos.jsonl", "/data/try/other.jsonl"];
/// A pid no simulated process ever has (the world numbers its processes
/// from far below it): its owner is dead.
const DEAD_PID: u32 = 4_000_000;
/// Incarnations of one process (`stream = process * INCARNATIONS_MAX + n`).
const INCARNATIONS_MAX: u64 = 100;

const INVARIANTS: &[Invariant] = &[
    Invariant {
        id: "L1",
        statement: "a holder whose lock was force-released or taken over cannot land a write afterwards; it gets a typed takeover error",
    },
    Invariant {
        id: "L2",
        statement: "cleanup abandons a hung holder's in-flight locks at once (idempotent); without cleanup the watchdog frees the lock at max hold",
    },
    Invariant { id: "L3", statement: "acquire fails after its timeout with a typed error that names the owner" },
    Invariant {
        id: "L4",
        statement: "a stale lock (dead owner, unreadable, expired, reused pid) is recovered, and never by two waiters at once",
    },
    Invariant {
        id: "L5",
        statement: "releasing never deletes a lock that someone else now holds, nor its own once its window to touch its files has closed",
    },
    Invariant { id: "L6", statement: "the session .jsonl is never torn or interleaved across holders" },
    Invariant { id: "L7", statement: "one diagnostic per forced release, naming file, owner and reason" },
    Invariant {
        id: "L8",
        statement: "acquire returns within its timeout plus one retry delay for every state of the lock path; a permanent error returns at once, typed",
    },
    Invariant {
        id: "L10",
        statement: "a write through an attempt after its lock was released for a wait lands only if the session file is unchanged; takeover is sticky; after cleanup no write through it lands",
    },
    Invariant {
        id: "L11",
        statement: "progress: the uncontested holder of a lock appends a whole line and it lands in the session file",
    },
    Invariant {
        id: "L12",
        statement: "nothing landed is lost: a whole line that landed in a transcript stays there; a repair cuts only a partial last line (a power loss may take unsynced lines)",
    },
    Invariant {
        id: "L13",
        statement: "a process that exits on SIGTERM removes the lock file of each hold it still has within the hold's window, unless the hold has work under way (recovery then takes it once the process is dead), and never one its own removal is still on its way to; its count and its registry say what it did",
    },
    Invariant {
        id: "L14",
        statement: "a try (a zero timeout) is one real try: it takes a lock that is free or left by a dead owner, refuses a live owner's at once naming it, and a refusal whose last look failed names that look's error",
    },
    Invariant {
        id: "L15",
        statement: "one manager never hands out a fence token twice, and a guard reports the token its lock record carries",
    },
    Invariant {
        id: "L16",
        statement: "an attempt's acquire that returns Ok took the session's lock: a lock file of its process appeared after the call began",
    },
    Invariant {
        id: "L17",
        statement: "a waiting acquire backs off: no task tries a lock that is there more than a few times in a row without sleeping in between",
    },
    Invariant {
        id: "L18",
        statement: "the exit registry lists only holds not yet released: once a process's work is done, no more than its unreleased holds",
    },
    Invariant {
        id: "L19",
        statement: "a symlink planted at a tail repair's copy (its fixed name) is never written through: the file it points to outside is unchanged, and no transcript becomes a link",
    },
    Invariant {
        id: "L20",
        statement: "a transcript stays the file it is (its identity): no tail repair replaces it by another, so its permissions and hard links survive",
    },
    Invariant {
        id: "L9",
        statement: "a lock file appears whole or not at all; no .repair. or .takeover. file outlives its owner; any number of managers in one process keep mutual exclusion",
    },
];

const HUNG_ABANDONED: &str = "cleanup abandoned a hung compaction's lock";
const DEAD_TAKEOVER: &str = "a dead owner's lock taken over";
const UNREADABLE_TAKEOVER: &str = "a half-written lock file recovered";
const WATCHDOG: &str = "the watchdog freed a lock at max hold";
const REFUSED: &str = "an append refused after takeover";
const NOT_A_FILE: &str = "a planted non-file refused at once";
const DISK_FULL: &str = "a full disk refused at once";
const SIBLINGS: &str = "a sibling task waited on its own process's lock";
const EXIT_CLEANUP: &str = "a process exiting on SIGTERM removed a lock file it held";
const CLAIM_RETRIED: &str = "a takeover claim's read or removal failed and its claimer went on";
const PAST_LEASE_RELEASE: &str = "a release past its lease by its host's clock met an outsider's lock file";
const SOMETIMES: &[&str] = &[
    CLAIM_RETRIED,
    PAST_LEASE_RELEASE,
    HUNG_ABANDONED,
    DEAD_TAKEOVER,
    UNREADABLE_TAKEOVER,
    WATCHDOG,
    REFUSED,
    NOT_A_FILE,
    DISK_FULL,
    SIBLINGS,
    EXIT_CLEANUP,
    fence::FENCED,
    fence::PASSED,
];

// Simulation-scale timings (production defaults are 60 s, 5 min, 30 s).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(4);
const RETRY_MAX: Duration = Duration::from_millis(500);
/// L17: how many tries in a row one task may make at a lock that is
/// there without sleeping in between: the few immediate tries at a lock
/// that just vanished (three) and the first try of the next call, with
/// room to spare.
const QUICK_TRIES_MAX: u32 = 8;
const CLAIM_STALE: Duration = Duration::from_secs(4);
/// Where the quiet-phase try leaves litter for `sweep_stale` (L9).
const SWEEP_DIR: &str = "/data/try/sweep";
const _: () = assert!(CLAIM_STALE.as_millis() as u64 * 3 / 4 > 8 * LATENCY_MS_MAX, "claims are a lease");
const MAX_HOLD: Duration = Duration::from_secs(3);
/// How long a process that finished its work waits for a forced release
/// in flight to forget its hold before L18 judges its exit registry.
const REGISTRY_SETTLE: Duration = Duration::from_secs(2);
const TAKEOVER_GRACE: Duration = Duration::from_secs(2);
/// A hold's window to touch its own lock file and transcript, as `core`
/// judges it (`Hold::may_touch_file`): past it, takeover's.
const TOUCH_WINDOW: Duration = MAX_HOLD.saturating_add(Duration::from_millis(TAKEOVER_GRACE.as_millis() as u64 / 2));
const UNREADABLE_GRACE: Duration = Duration::from_secs(2);
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(2_500);
/// The slowest operation on the mount: below the takeover grace, as the
/// lease argument requires (see `core::lock`).
const LATENCY_MS_MAX: u64 = 300;
/// The longest latency spike on an append (SIGTERM seeds only).
const SPIKE_MS_MAX: u64 = 1_200;
const _: () =
    assert!(LATENCY_MS_MAX + SPIKE_MS_MAX < TAKEOVER_GRACE.as_millis() as u64, "appends land within the lease");
/// The longest latency spike on a repair's cut (SIGTERM seeds only).
const RENAME_SPIKE_MS_MAX: u64 = 600;
const _: () = assert!(
    LATENCY_MS_MAX + RENAME_SPIKE_MS_MAX < TAKEOVER_GRACE.as_millis() as u64 / 2,
    "a repair's cut lands before a takeover may begin"
);
/// The most a host's wall clock is off the world's in the `skew` seeds
/// (which have no latency spikes): two hosts disagree by at most twice
/// this, and that plus the slowest operation stays under half the
/// takeover grace, the tolerance core's lock docs state ("Clocks").
const SKEW_MS_MAX: u64 = TAKEOVER_GRACE.as_millis() as u64 / 8;
const _: () = assert!(
    LATENCY_MS_MAX + 2 * SKEW_MS_MAX < TAKEOVER_GRACE.as_millis() as u64 / 2,
    "hosts' clocks disagree by less than the lock tolerates"
);
/// L2: after cleanup returns the lock file no longer names the abandoned
/// hold, at once. Without cleanup: gone by max hold + the drain bound
/// (the takeover grace) + this slack.
const WATCHDOG_SLACK: Duration = Duration::from_millis(100);
/// L4 in the quiet phase: every lock is taken within max hold + takeover
/// grace + unreadable grace + the acquire timeout.
const PROBE_TIMEOUT: Duration = Duration::from_secs(11);

/// The `k` of the quiet-phase probe's line (L11): no workload line has it.
const PROBE_K: u64 = u64::MAX;
/// The node of the quiet phase's probe.
const PROBE: &str = "probe";

const CHAOS_MS: u64 = 15_000;
/// The quiet phase's closing sweep starts this long before its end: after
/// every process's last turn (bounded by L8's bound after the chaos ends),
/// with room for its own operations on the slow mount.
const SWEEP_BEFORE_END: Duration = Duration::from_secs(10);
const QUIET_MS: u64 = 20_000;
const RESTART_MS: u64 = 1_000;

/// The fixed core or a replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// `steadfast_core::lock`.
    Core,
    /// Cleanup does not abandon reacquired locks.
    HungCompaction,
    /// Release deletes whatever lock file is there.
    UncheckedRelease,
    /// Contenders through one manager; held recorded after create.
    DoubleHolder,
    /// A vanished lock path retried at once, without the deadline.
    Spin,
    /// The lock file created empty, then written.
    EnospcLockout,
    /// Orphans judged by pid alone: a second manager takes over the first.
    TwoManagers,
    /// Writes after a wait reacquire without the transcript fence.
    UnfencedAttempt,
    /// Release checks the owner, then removes after a freeze unchecked.
    CheckThenRemove,
    /// The exit cleanup removes every lock file that names its hold,
    /// whatever the hold still has in flight.
    ExitUnderWrite,
    /// The tail repair writes its copy through a symlink planted at its
    /// fixed name.
    RepairThroughSymlink,
    /// Appends through one guard from two tasks at once go to the file in
    /// no order with the repairs they start.
    UnorderedTail,
    /// The tail repair renames a copy over the transcript, as core's did
    /// until session 25: a new file in its place.
    RepairByCopy,
}

impl Variant {
    /// The replica's flaw, if its contenders run the legacy manager.
    fn flaw(self) -> Option<Flaw> {
        match self {
            Variant::DoubleHolder => Some(Flaw::HeldAfterCreate),
            Variant::Spin => Some(Flaw::SpinOnVanished),
            Variant::EnospcLockout => Some(Flaw::CreateThenWrite),
            Variant::TwoManagers => Some(Flaw::OrphanByPid),
            Variant::RepairThroughSymlink => Some(Flaw::RepairWritesThrough),
            Variant::UnorderedTail => Some(Flaw::UnorderedTail),
            Variant::RepairByCopy => Some(Flaw::RepairByCopy),
            _ => None,
        }
    }
}

/// The `lock` scenario for one variant.
#[derive(Debug)]
pub struct LockScenario {
    /// What runs.
    pub variant: Variant,
}

impl Scenario for LockScenario {
    fn name(&self) -> &'static str {
        match self.variant {
            Variant::Core => "lock",
            Variant::HungCompaction => "legacy/lock-hung-compaction",
            Variant::UncheckedRelease => "legacy/lock-unchecked-release",
            Variant::DoubleHolder => "legacy/lock-in-process-double-holder",
            Variant::Spin => "legacy/lock-dangling-symlink-spin",
            Variant::EnospcLockout => "legacy/lock-enospc-lockout",
            Variant::TwoManagers => "legacy/lock-two-managers",
            Variant::UnfencedAttempt => "legacy/lock-unfenced-attempt",
            Variant::CheckThenRemove => "legacy/lock-check-then-remove",
            Variant::ExitUnderWrite => "legacy/lock-exit-under-write",
            Variant::RepairThroughSymlink => "legacy/lock-repair-through-symlink",
            Variant::UnorderedTail => "legacy/lock-unordered-tail",
            Variant::RepairByCopy => "legacy/lock-repair-replaces-transcript",
        }
    }

    fn expect(&self) -> Expect {
        if self.variant == Variant::Core { Expect::Hold } else { Expect::Violate }
    }

    fn description(&self) -> &'static str {
        match self.variant {
            Variant::Core => {
                "core session lock under hangs, timeouts, kills, pid reuse, half-written locks, power loss"
            }
            Variant::HungCompaction => "cleanup does not abandon reacquired locks: breaks L2",
            Variant::UncheckedRelease => "release deletes whatever lock file is there: breaks L5",
            Variant::DoubleHolder => "one manager records a hold only after its lock file is visible: breaks L9",
            Variant::Spin => "a lock path that vanishes under the read is retried for ever: breaks L8",
            Variant::EnospcLockout => "the lock file is created empty, then written: breaks L9",
            Variant::TwoManagers => "a second manager in the process takes over the first's lock: breaks L9",
            Variant::UnfencedAttempt => "a write after a wait reacquires without the transcript fence: breaks L10",
            Variant::CheckThenRemove => {
                "release reads its lock file, then removes it after a freeze without the clock: breaks L5"
            }
            Variant::ExitUnderWrite => {
                "the SIGTERM cleanup removes lock files under appends and repairs in flight: breaks L1 or L12"
            }
            Variant::RepairThroughSymlink => {
                "the tail repair writes its copy through a symlink planted at its fixed name: breaks L19"
            }
            Variant::UnorderedTail => {
                "appends from two tasks through one guard, unordered with their repairs: breaks L6 or L12"
            }
            Variant::RepairByCopy => "the tail repair renames a copy over the transcript: breaks L20",
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
        schedule(seed, self.variant)
    }

    fn restart_after_crash_ms(&self) -> Option<u64> {
        Some(RESTART_MS)
    }

    fn run<'a>(&'a self, world: &'a World) -> LocalBoxFuture<'a, ()> {
        Box::pin(drive(world, self.variant))
    }
}

fn schedule(seed: u64, variant: Variant) -> Schedule {
    let mut sw = Swarm::draw(seed, &["eio", "kill", "reuse_pid", "power_loss", "hang", "enospc", "repair_crash"]);
    let mut s = Schedule::calm(seed, CHAOS_MS);
    s.quiet_ms = QUIET_MS;
    s.metadata_commit_ms = Some(sw.rng().range(5, 2_000));
    let slow = sw.rng().range(1, LATENCY_MS_MAX);
    s.mounts.push(Mount { prefix: "/data".into(), latency: vec![Latency { ops: vec![], ms_min: 0, ms_max: slow }] });
    // The unordered-tail replica needs failed appends (a partial line to
    // bury, a repair to race): its seeds always have them.
    let repairs = matches!(variant, Variant::UnorderedTail | Variant::RepairByCopy);
    if sw.on("eio") || repairs {
        let ops = ["append", "create_new", "read", "remove_file", "rename", "set_len", "sync_file"]
            .map(String::from)
            .to_vec();
        let p = (sw.rate("eio") * 0.3).max(if repairs { 0.1 } else { 0.0 });
        s.errors.push(ErrorRule {
            ops,
            path_prefix: Some(DIR.into()),
            error: FaultKind::Eio,
            nth: None,
            probability: Some(p),
            while_renaming: false,
        });
    }
    // Compactions hang in most seeds: the incident's trigger.
    let hang_p = if sw.on("hang") { 0.5 } else { 0.15 };
    s.hangs.push(HangRule { point: "compaction".into(), nth: None, probability: Some(hang_p) });
    let (kill, reuse, power) = (sw.on("kill"), sw.on("reuse_pid"), sw.on("power_loss"));
    let rng = sw.rng();
    for _ in 0..u64::from(kill) * rng.range(1, 3) {
        let node = rng.pick(PROCS).to_string();
        let at_ms = rng.range(200, CHAOS_MS - RESTART_MS - 1);
        s.events.push(TimedEvent { at_ms, what: Event::Kill { node: node.clone() } });
        s.events.push(TimedEvent { at_ms: at_ms + RESTART_MS, what: Event::Restart { node, reuse_pid: reuse } });
    }
    if power {
        let at_ms = rng.range(200, CHAOS_MS - 1);
        s.events.push(TimedEvent {
            at_ms,
            what: Event::PowerLoss { torn: rng.chance(0.5), restart_after_ms: Some(RESTART_MS) },
        });
    }
    s.params.insert("garbage_lock".into(), rng.range(0, 2));
    // The chaos-phase try's last look fails (L14; see `try_in_chaos`): the
    // second read of its lock file, the first being the try's own look;
    // in half the seeds (a stream of their own) its second stat instead,
    // which must not pass for a lock that vanished.
    let look = if SimRng::new(seed, 0x57A7).chance(0.5) { "symlink_metadata" } else { "read" };
    s.errors.push(ErrorRule {
        ops: vec![look.into()],
        path_prefix: Some(lock_path(Path::new(TRY_SESSIONS[1]))),
        error: FaultKind::Eio,
        nth: Some(2),
        probability: None,
        while_renaming: false,
    });
    // The chaos try's takeover of a dead owner's lock (`try_in_chaos`):
    // the first read of its claim fails, or (half the seeds, a stream of
    // their own) its first removal. In its directory nothing else happens:
    // reads of the lock file (the try's look, the takeover's look) come
    // before, and the stale lock file's removal.
    let (op, nth) = if SimRng::new(seed, 0xC1A1).chance(0.5) { ("read", 3) } else { ("remove_file", 2) };
    s.errors.push(ErrorRule {
        ops: vec![op.into()],
        path_prefix: Some(CLAIM_DIR.into()),
        error: FaultKind::Eio,
        nth: Some(nth),
        probability: None,
        while_renaming: false,
    });
    hostile::schedule(&mut s, &mut sw, variant);
    // One seed in three freezes a process past max hold + grace (a GC
    // pause, SIGSTOP): its watchdog cannot run, another process takes the
    // lock over, and when it resumes only the lease stands between its
    // next append and the new holder's file (L1, L5). Drawn on a stream
    // of its own, so every other draw of the seed stays as it was.
    let mut own = SimRng::new(seed, 0x9A05E);
    if own.chance(1.0 / 3.0) {
        let ms = (MAX_HOLD + TAKEOVER_GRACE).as_millis() as u64 + own.range(500, 3_000);
        let at_ms = own.range(200, CHAOS_MS - ms);
        s.events.push(TimedEvent { at_ms, what: Event::Pause { node: own.pick(PROCS).to_string(), ms } });
    }
    // One seed in three stops processes with SIGTERM (a deploy, an
    // orchestrator): each process registers its holds (`LockConfig::held`)
    // and its handler removes their lock files before it exits, as
    // `real::ExitCleanup` does; a restart follows. Drawn on a stream of its
    // own, like the freeze above.
    // (Not for the replicas whose contenders hold through a legacy manager:
    // it has no exit registry, and L13 would judge what it never promised.)
    let mut term = SimRng::new(seed, 0x9A0EE);
    if (term.chance(1.0 / 3.0) && variant.flaw().is_none()) || variant == Variant::ExitUnderWrite {
        s.params.insert("exit_cleanup".into(), 1);
        // A slow network mount's tail, so that a signal that came
        // mid-write finds the write in flight for long: one append in five
        // takes up to 1.2 s more, one repair rename in two up to 0.6 s;
        // each within the lease's bound (asserted with the constants): an
        // append issued before max hold lands before max hold + grace, a
        // repair's rename issued inside the hold's window (max hold +
        // grace / 2) lands before a takeover may begin.
        for (ops, probability, ms_max) in
            [(&["append"][..], 0.2, SPIKE_MS_MAX), (&["set_len", "rename"][..], 0.5, RENAME_SPIKE_MS_MAX)]
        {
            s.spikes.push(SpikeRule {
                ops: ops.iter().map(|op| op.to_string()).collect(),
                path_prefix: Some(DIR.into()),
                nth: None,
                probability: Some(probability),
                ms_min: 200,
                ms_max,
            });
        }
        for _ in 0..term.range(1, 3) {
            let node = term.pick(PROCS).to_string();
            let at_ms = term.range(200, CHAOS_MS - RESTART_MS - 1);
            // Most signals are aimed at a moment with work in flight: an
            // append, a release's removal of its lock file, a repair's
            // rename (none is the common case only by count of instants).
            let during = match term.range(0, 3) {
                0 => None,
                k => Some(During {
                    ops: vec![["append", "remove_file", "set_len"][k as usize - 1].into()],
                    path_prefix: Some(DIR.into()),
                }),
            };
            s.events.push(TimedEvent { at_ms, what: Event::Terminate { node: node.clone(), during } });
            s.events.push(TimedEvent { at_ms: at_ms + RESTART_MS, what: Event::Restart { node, reuse_pid: false } });
        }
        // In half of them removals of lock files fail (EIO) three times in
        // ten, the exit cleanup's own among them: what it reports removed
        // must then be what it removed (L13's count).
        if term.chance(0.5) {
            s.errors.push(ErrorRule {
                ops: vec!["remove_file".into()],
                path_prefix: Some(DIR.into()),
                error: FaultKind::Eio,
                nth: None,
                probability: Some(0.3),
                while_renaming: false,
            });
        }
    }
    // One seed in four (and every seed of the check-then-remove replica)
    // aims a freeze at a cleanup's look at its lock file: between the
    // release's ownership check and its removal (see `arm_cleanup_freeze`).
    let mut aim = SimRng::new(seed, 0x9A07E);
    if aim.chance(0.25) || variant == Variant::CheckThenRemove {
        s.params.insert("freeze_cleanup".into(), 1);
    }
    // One seed in four aims a freeze at a takeover, between its claim's
    // look at the lock and its removal (see `watcher`).
    if aim.chance(0.25) {
        s.params.insert("freeze_takeover".into(), 1);
    }
    // One seed in four aims a freeze at a tail repair (see `watcher`).
    let mut aim_repair = SimRng::new(seed, 0x9A09E);
    if aim_repair.chance(0.25) {
        s.params.insert("freeze_repair".into(), 1);
    }
    // One seed in four (with attempt controllers) freezes a controller
    // past its lease between its last write and its release for a wait
    // (see `fence::fenced`).
    if aim_repair.chance(0.25) {
        s.params.insert("freeze_fingerprint".into(), 1);
    }
    // One seed in four fails some of the attempt controller's looks at
    // the session file (its fingerprint, L10): a look that failed is no
    // fingerprint, and never "no file". (The rule draws from the world's
    // stream on every metadata call, so those seeds' later draws move;
    // the other seeds stay as they were.)
    // In half of those, seven looks in ten fail: enough that a bounded
    // retry runs out, and the attempt cannot tell how it left the file.
    if aim.chance(0.25) {
        let p = if aim.chance(0.5) { 0.2 } else { 0.7 };
        s.errors.push(ErrorRule {
            ops: vec!["metadata".into()],
            path_prefix: Some(DIR.into()),
            error: FaultKind::Eio,
            nth: None,
            probability: Some(p),
            while_renaming: false,
        });
    }
    // One seed in fifty, the quiet probe's manager sweeps a directory of
    // more live lock instances than it keeps sightings of (see
    // `sweep_many_live`). Its own stream.
    if SimRng::new(seed, 0x5EE7).chance(0.02) {
        s.params.insert("many_live_locks".into(), 1);
    }
    // One seed in four (its own stream) the hosts' wall clocks disagree
    // (see `set_host_clocks`); not with the SIGTERM seeds' latency spikes,
    // which already take what the lease leaves of the grace.
    let spiky = s.param("exit_cleanup", 0) == 1;
    s.params.insert("skew".into(), u64::from(SimRng::new(seed, 0x5CE3).chance(0.25) && !spiky));
    s
}

/// A freeze aimed at the release of cleanup, on a process's first cleanup
/// in a `freeze_cleanup` seed: its next read of the session's lock file
/// (the release's ownership check) freezes it past max hold + grace, so
/// another process takes the lock over meanwhile and only the lease stands
/// between the resumed release and the new holder's file (L5).
fn arm_cleanup_freeze(p: &Proc, session: usize) {
    if p.world.schedule().param("freeze_cleanup", 0) != 1 || p.cleanup_frozen.replace(true) {
        return;
    }
    let mut rng = SimRng::new(p.world.schedule().seed ^ p.incarnation, 0x9A07E);
    let ms = (MAX_HOLD + TAKEOVER_GRACE).as_millis() as u64 + rng.range(500, 3_000);
    let lock = lock_path(Path::new(SESSIONS[session]));
    p.world.arm_pause(&p.name, read_of(lock, ms));
}

/// A pause point on the next read of `lock`.
fn read_of(lock: PathBuf, ms: u64) -> PauseRule {
    PauseRule { ops: vec!["read".into()], path_prefix: Some(lock), nth: Some(1), probability: None, ms }
}

/// Is `path` named as a takeover claim of `lock` (`<lock>.takeover.<id>`,
/// a clear-claim `<claim>.clear.<id>` included)?
fn claim_of(path: &Path, lock: &Path) -> bool {
    let (b, l) = (path.as_os_str().as_encoded_bytes(), lock.as_os_str().as_encoded_bytes());
    b.len() > l.len() && b.starts_with(l) && b[l.len()..].starts_with(b".takeover.")
}

/// The lock a takeover claim (`<lock>.takeover.<id>`, not a clear-claim)
/// is for.
fn claimed_lock(path: &Path) -> Option<PathBuf> {
    let b = path.as_os_str().as_encoded_bytes();
    if b.windows(b".clear.".len()).any(|w| w == b".clear.") {
        return None;
    }
    (0..SESSIONS.len()).map(lock_of).find(|lock| claim_of(path, lock)).map(Path::to_path_buf)
}

/// The check-then-remove replica's release: the lock file is the holder's
/// to touch until max hold + grace / 2, so it checks the clock, reads the
/// file, and removes it if it names the hold, with no look at the clock
/// between the read and the removal: a process frozen in between removes
/// a lock file that another process took over and now holds.
async fn check_then_remove(p: &Proc, session: usize, nonce: u64) {
    let Some(acquired_at_ms) = lock_book(&p.book).holds.get(&nonce).map(|h| h.acquired_at_ms) else { return };
    let window_ms = TOUCH_WINDOW.as_millis() as u64;
    if p.world_now_ms().saturating_sub(acquired_at_ms) >= window_ms {
        return;
    }
    let lock = lock_path(Path::new(SESSIONS[session]));
    let ours = p.env.fs.read(&lock).await.ok().and_then(|b| owner_in(&b));
    if ours.is_some_and(|o| o.nonce == nonce) {
        let _ = p.env.fs.remove_file(&lock).await;
    }
}

/// How long `node` was frozen (timed pauses, pause points) within
/// `from..to`.
pub(super) fn frozen(world: &World, node: &str, from: Duration, to: Duration) -> Duration {
    world.frozen(node, from, to)
}

/// Sleep until `bound`, moved later by as long as node `node` was frozen
/// since `from` (time a process cannot run does not count against a
/// bound on what it does), however often a freeze comes meanwhile.
pub(super) async fn sleep_past_freezes(world: &World, node: &str, from: Duration, bound: Duration) {
    let mut until = bound;
    loop {
        world.sleep_until(until).await;
        let due = bound + frozen(world, node, from, until);
        if due <= until {
            return;
        }
        until = due;
    }
}

// ----- the book -----------------------------------------------------------

struct HoldRec {
    session: usize,
    pid: u32,
    /// The holder's process incarnation (a restart may reuse the pid).
    incarnation: u64,
    acquired_at_ms: u64,
    max_hold_ms: u64,
    /// Released, force-released, or being released: no longer valid.
    ending: bool,
    ended: bool,
}

#[derive(Default)]
struct Book {
    /// The `freeze_takeover` freeze was armed (`watcher`).
    takeover_frozen: bool,
    /// The `freeze_repair` freeze was armed (`watcher`).
    repair_frozen: bool,
    /// L12: each transcript as the last effect on it left it, with the
    /// world's power-loss count then.
    transcript: BTreeMap<usize, (u64, Vec<u8>)>,
    /// L20: each transcript's identity as the last effect on it left it,
    /// with the world's power-loss count then.
    transcript_id: BTreeMap<usize, (u64, u64)>,
    holds: BTreeMap<u64, HoldRec>,
    /// Per session, the nonce that acquired last.
    current: BTreeMap<usize, u64>,
    /// Nonces superseded by a later acquire of their session.
    superseded: BTreeSet<u64>,
    /// When each hold's lock file appeared (virtual time): the order of
    /// acquisitions, whenever their processes learn of them.
    created_at: BTreeMap<u64, Duration>,
    /// L17: per process, task and session, how many times the task had
    /// slept at its last try at a lock that was there, and how many tries
    /// in a row it has made without sleeping.
    tries: BTreeMap<(u32, String, usize), (u64, u32)>,
    /// Every lock file creation that landed: when, by which pid, of which
    /// session's lock (L16).
    lock_creates: Vec<(Duration, u32, usize)>,
    /// L15: the fence tokens each lock manager (by its id) handed out.
    fences: BTreeSet<(u64, u64)>,
    /// Forced-release diagnostics per nonce (L7).
    diagnostics: BTreeMap<u64, Vec<ForcedRelease>>,
    /// Nonces a cleanup abandoned.
    abandoned: BTreeSet<u64>,
    /// The wall clock at virtual time zero, ms since the epoch.
    wall0_ms: u64,
    /// Each process's current incarnation.
    incarnation: BTreeMap<String, u64>,
    /// Which process each incarnation belongs to.
    incarnation_of: BTreeMap<u64, String>,
    /// What the vandal planted at a session's lock path, with a plant id.
    plant: BTreeMap<usize, (u64, hostile::Plant)>,
    /// Every landed change of each transcript: when, and by which hold's
    /// nonce (0: a repair, a torn write).
    changes: BTreeMap<usize, Vec<(Duration, u64)>>,
    /// When a read or removal of each session's lock file by each process
    /// last failed.
    failed_lock_ops: BTreeMap<(usize, String), Duration>,
    /// Every lock file removal that landed, in order: when, by which pid,
    /// of which session's lock, and whether it removed it.
    lock_removals: Vec<(Duration, u32, usize, bool)>,
    /// Per process and session, when its exit cleanup released its hold
    /// (removed the lock file): nothing of that process may change the
    /// transcript after it (L1).
    exited: BTreeMap<(u32, usize), Duration>,
    /// Appends under way, per process incarnation and session (`calling`).
    calls: BTreeMap<(u64, usize), u32>,
    /// Per transcript, its whole lines as L6 last found them valid: an
    /// append that only extends them is judged on its new lines alone.
    lines_valid: BTreeMap<usize, Vec<u8>>,
}

impl Book {
    /// When a removal of `session`'s lock file (by anyone) last failed.
    fn removal_failed(&self, session: usize) -> Option<Duration> {
        self.lock_removals.iter().rev().find(|r| r.2 == session && !r.3).map(|r| r.0)
    }

    /// When a read or removal of `session`'s lock file by process `node`
    /// last failed.
    fn lock_op_failed(&self, session: usize, node: &str) -> Option<Duration> {
        self.failed_lock_ops.get(&(session, node.to_string())).copied()
    }

    /// Is the holder's process still the one that acquired (not
    /// restarted, even under the same pid)? Its pid's liveness is judged
    /// by the caller.
    fn same_process(&self, h: &HoldRec) -> bool {
        self.incarnation_of.get(&h.incarnation).is_some_and(|node| self.incarnation.get(node) == Some(&h.incarnation))
    }
}

type SharedBook = Arc<Mutex<Book>>;

/// What every session's transcript and lock file name holds.
const JSONL: &[u8] = b".jsonl";

/// Each session's lock path, made once: every landed effect asks.
fn lock_of(session: usize) -> &'static Path {
    static LOCKS: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();
    LOCKS.get_or_init(|| SESSIONS.iter().map(|s| lock_path(Path::new(s))).collect())[session].as_path()
}

/// The session whose transcript or lock file `path` names. Core names
/// them as spelled here, so a byte comparison settles almost every path;
/// only one that merely ends in a session's file name (another spelling,
/// such as `/data//sessions/s0.jsonl`) pays for a comparison by components.
fn session_of(path: &Path) -> Option<usize> {
    let b = path.as_os_str().as_encoded_bytes();
    if let Some(i) =
        (0..SESSIONS.len()).find(|&i| b == SESSIONS[i].as_bytes() || b == lock_of(i).as_os_str().as_encoded_bytes())
    {
        return Some(i);
    }
    if !b.windows(JSONL.len()).any(|w| w == JSONL) {
        return None;
    }
    let name = path.file_name()?;
    (0..SESSIONS.len()).find(|&i| {
        let (s, l) = (Path::new(SESSIONS[i]), lock_of(i));
        (s.file_name() == Some(name) && s == path) || (l.file_name() == Some(name) && l == path)
    })
}

impl HoldRec {
    /// Still entitled to the lock at wall time `now_ms` (the watcher judges
    /// liveness separately).
    fn valid(&self, now_ms: u64) -> bool {
        !self.ending && now_ms < self.acquired_at_ms + self.max_hold_ms
    }
}

/// L1 and L5 after every effect on a session or lock file.
fn watcher(book: SharedBook, (freeze_takeover, freeze_repair): (bool, bool)) -> steadfast_sim::world::Watcher {
    Box::new(move |l: &mut Landed<'_>| {
        // The first takeover claim a worker makes in the chaos phase of a
        // `freeze_takeover` seed: its claimer freezes at its next read of
        // the lock, the look between the claim and the removal, past
        // `claim_stale`. Meanwhile a third
        // process clears the claim as abandoned and takes over, and a new
        // holder acquires; only the claim's lease, read again after the
        // look, keeps the claimer from removing the new holder's file (L5).
        if let (true, FsOp::CreateNew { path, .. }, true) = (freeze_takeover, l.op, l.ok)
            && l.at < Duration::from_millis(CHAOS_MS)
            && PROCS.contains(&l.node)
            && let Some(lock) = claimed_lock(path)
            && !std::mem::replace(&mut lock_book(&book).takeover_frozen, true)
        {
            let ms = CLAIM_STALE.as_millis() as u64 + 1_000 + (l.at.as_millis() as u64 % 2_000);
            l.arm_pause(read_of(lock, ms));
        }
        let Some(session) = session_of(l.op.path()).or_else(|| l.op.second_path().and_then(session_of)) else {
            return;
        };
        let mut book = lock_book(&book);
        let lock = lock_of(session);
        if let (FsOp::RemoveFile(path) | FsOp::Read(path), false) = (l.op, l.ok)
            && *path == lock
        {
            book.failed_lock_ops.insert((session, l.node.to_string()), l.at);
        }
        if let FsOp::RemoveFile(path) = l.op
            && *path == lock
        {
            book.lock_removals.push((l.at, l.pid, session, l.ok));
        }
        let transcript = Path::new(SESSIONS[session]);
        if l.op.path() == transcript || l.op.second_path() == Some(transcript) {
            // The first failed append a worker makes in the chaos phase of
            // a `freeze_repair` seed: the repair that must follow freezes
            // at its read of the transcript, past max hold + grace. Another
            // process takes the lock over and appends meanwhile; only the
            // hold's window, judged before each step of the repair, keeps
            // the stale copy from being renamed over those lines (L12).
            if let (true, FsOp::Append { .. }, false) = (freeze_repair, l.op, l.ok)
                && l.at < Duration::from_millis(CHAOS_MS)
                && PROCS.contains(&l.node)
                && !std::mem::replace(&mut book.repair_frozen, true)
            {
                let ms = (MAX_HOLD + TAKEOVER_GRACE).as_millis() as u64 + 500 + (l.at.as_millis() as u64 % 2_500);
                l.arm_pause(read_of(transcript.to_path_buf(), ms));
            }
            let before = book.transcript.get(&session).map(|(_, b)| b.len());
            judge_kept(l, &mut book, session);
            // A failed append may still have landed bytes (a partial write,
            // or every byte before the error): a change all the same (L10),
            // by the hold its line names.
            let after = book.transcript.get(&session).map(|(_, b)| b.len());
            if let (FsOp::Append { data, .. }, false) = (l.op, l.ok)
                && after != before
            {
                let by = nonce_of(data).unwrap_or(0);
                book.changes.entry(session).or_default().push((l.at, by));
            }
        }
        // Every change of a transcript, for L10: appends by their hold's
        // nonce, a repair's rename by the session's current hold if its
        // process made it (an attempt's own repair is no change by someone
        // else), else as 0.
        let cut = match l.op {
            FsOp::Rename { to, .. } => to.as_path() == Path::new(SESSIONS[session]),
            FsOp::SetLen { handle, .. } => *handle.path == *Path::new(SESSIONS[session]),
            _ => false,
        };
        if cut && l.ok {
            let by = book
                .current
                .get(&session)
                .copied()
                .filter(|n| book.holds.get(n).is_some_and(|h| h.pid == l.pid && !h.ended));
            book.changes.entry(session).or_default().push((l.at, by.unwrap_or(0)));
            // A repair of a hold its process's exit cleanup released (L1).
            let released = book.exited.get(&(l.pid, session)).is_some_and(|t| *t <= l.at);
            l.check("L1", !released, || {
                format!(
                    "a tail repair's cut of {} landed after its process's exit cleanup released the lock",
                    SESSIONS[session]
                )
            });
        }
        if let (FsOp::Append { path, data }, true) = (l.op, l.ok)
            && *path != lock
        {
            let nonce = nonce_of(data);
            book.changes.entry(session).or_default().push((l.at, nonce.unwrap_or(0)));
            if let Some(n) = nonce {
                let dead = book.superseded.contains(&n) || book.holds.get(&n).is_some_and(|h| h.ended);
                l.check("L1", !dead, || {
                    format!("an append by hold {n:016x} landed after its lock was released or taken over")
                });
            }
            // After a whole append lands, every line is whole (L6).
            if let Ok(bytes) = l.bytes(path) {
                let valid = book.lines_valid.entry(session).or_default();
                let known = if bytes.starts_with(valid) { valid.len() } else { 0 };
                let problem = lines_problem(&bytes[known..]);
                // What is judged whole now: every line up to the last newline.
                let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                if problem.is_none() {
                    valid.truncate(known);
                    valid.extend_from_slice(&bytes[known..whole.max(known)]);
                } else {
                    valid.clear();
                }
                l.check("L6", problem.is_none(), || format!("{}: {}", path.display(), problem.unwrap_or_default()));
            }
        }
        // L17: a create refused by a lock file that is there (no injected
        // error) is a try at a busy lock; its task must back off (sleep)
        // before the next, but for a few immediate tries. Judged for the
        // named tasks, whose sleeps the world counts (times would not do:
        // a stalled process stamps its operations with the stall's end).
        if let (FsOp::CreateNew { path, .. }, false, false, Some(sleeps)) = (l.op, l.ok, l.injected, l.sleeps)
            && *path == lock
            && l.exists(lock)
        {
            let key = (l.pid, l.task.to_string(), session);
            let run = match book.tries.get(&key) {
                Some(&(last, run)) if last == sleeps => run + 1,
                _ => 0,
            };
            book.tries.insert(key, (sleeps, run));
            let (task, node) = (l.task, l.node);
            l.check("L17", run <= QUICK_TRIES_MAX, || {
                format!(
                    "task {task} of {node} tried the busy lock of {} {} times in a row without sleeping",
                    SESSIONS[session],
                    run + 1
                )
            });
        }
        if let (FsOp::CreateNew { path, .. }, true) = (l.op, l.ok)
            && *path == lock
        {
            // All or nothing: the instant a lock file appears it is whole.
            let owner = l.bytes(lock).ok().and_then(owner_in);
            l.check("L9", owner.is_some(), || format!("{} appeared without its whole owner record", lock.display()));
            if let Some(o) = owner {
                book.created_at.entry(o.nonce).or_insert(l.at);
            }
            book.lock_creates.push((l.at, l.pid, session));
        }
        // Only an effect on the lock path can change who it names.
        let on_lock = l.op.path() == lock || l.op.second_path() == Some(lock);
        if !on_lock || matches!(l.op, FsOp::Read(_) | FsOp::SymlinkMetadata(_) | FsOp::Metadata(_)) {
            return;
        }
        let Some(&holder) = book.current.get(&session) else { return };
        let Some(h) = book.holds.get(&holder) else { return };
        let now_ms = book.wall0_ms + l.at.as_millis() as u64;
        if h.valid(now_ms) && l.pid_alive(h.pid) && book.same_process(h) {
            let owner = l.bytes(lock).ok().and_then(owner_in);
            // The holder's own process removing it: mutual exclusion inside
            // one process broke (L9); anyone else: L5.
            // Attributed by who holds it now: a hold of the same process
            // (or, with the file gone, a removal by that process).
            let own = match &owner {
                Some(o) if o.nonce == holder => false,
                Some(o) => o.pid == h.pid,
                None => book.incarnation_of.get(&h.incarnation).is_some_and(|n| n == l.node),
            };
            let (op, node) = (l.op.name(), l.node.to_string());
            l.check(if own { "L9" } else { "L5" }, owner.as_ref().is_some_and(|o| o.nonce == holder), || {
                format!(
                    "hold {holder:016x} of {} is valid, but after {op} by {node} its lock file holds {owner:?}",
                    SESSIONS[session]
                )
            });
        }
    })
}

// ----- the workload -------------------------------------------------------

struct Proc {
    world: World,
    env: Env,
    book: SharedBook,
    manager: LockManager,
    variant: Variant,
    /// This process's name.
    name: String,
    incarnation: u64,
    /// This incarnation armed its cleanup freeze (`arm_cleanup_freeze`).
    cleanup_frozen: Cell<bool>,
    /// This incarnation armed its fingerprint freeze (`fence::fenced`).
    fingerprint_frozen: Cell<bool>,
}

/// In the `skew` seeds, the hosts' wall clocks disagree: each process
/// node's host steps by up to `SKEW_MS_MAX` either way, once its node
/// exists and before its first process runs (so every record it writes is
/// on its own clock), within what the lock tolerates (core's module docs,
/// "Clocks", asserted beside `SKEW_MS_MAX`). The same invariants judge
/// them, on the world's clock; the disk keeps the world's clock for the
/// mtimes it stamps.
fn set_host_clocks(world: &World) {
    if world.schedule().param("skew", 0) == 0 {
        return;
    }
    let mut rng = world.workload_rng(0x5CE3);
    for node in PROCS {
        let by_ms = rng.range(0, 2 * SKEW_MS_MAX) as i64 - SKEW_MS_MAX as i64;
        world.fire(&Event::HostClockJump { node: node.to_string(), by_ms });
    }
}

impl Proc {
    /// The world's wall clock now, in ms: this host's reading without its
    /// skew (the book keeps every time on the world's clock).
    fn world_now_ms(&self) -> u64 {
        world_ms(&self.world, &self.name, self.env.clock.wall_ms())
    }
}

/// `ms`, read on `host`'s wall clock, on the world's: the hosts' clocks
/// differ in the skewed seeds.
fn world_ms(world: &World, host: &str, ms: u64) -> u64 {
    ms.saturating_add_signed(-world.host_clock_skew_ms(host).expect("a lock host is a node of the run"))
}

/// When `o` was acquired, on the world's clock: its record says when by
/// its host's clock (the process node whose current pid it names). A
/// record no current process names (a forged one, or an earlier
/// incarnation's, whose pid a restart changed) is taken as it says: off
/// by at most the skew, which its one use (L3's settled owner) allows.
fn record_world_ms(world: &World, o: &LockOwner) -> u64 {
    PROCS
        .iter()
        .find(|n| world.pid_of(n) == Some(o.pid))
        .map_or(o.acquired_at_ms, |n| world_ms(world, n, o.acquired_at_ms))
}

async fn drive(world: &World, variant: Variant) {
    world.setup([FsOp::CreateDirAll(DIR.into()), FsOp::CreateDirAll(CLAIM_DIR.into())]);
    if world.schedule().param("garbage_lock", 0) == 1 {
        // A writer crashed mid-way through writing its lock file.
        world.setup([FsOp::Write { path: lock_path(Path::new(SESSIONS[1])), data: b"{\"pid\":4".to_vec() }]);
    }
    let book: SharedBook = Arc::default();
    // No clock jumps here: wall and virtual time differ by a constant.
    lock_book(&book).wall0_ms = world.env().clock.wall_ms();
    let aims = (world.schedule().param("freeze_takeover", 0) == 1, world.schedule().param("freeze_repair", 0) == 1);
    world.watch(DIR, watcher(book.clone(), aims));
    // The chaos try's claim, whose first read or removal the schedule
    // fails (`try_in_chaos`): that the fault met the claim.
    world.watch(
        CLAIM_DIR,
        Box::new(|l: &mut Landed<'_>| {
            if let (FsOp::Read(path) | FsOp::RemoveFile(path), false) = (l.op, l.ok)
                && claim_of(path, &lock_path(Path::new(CLAIM_SESSION)))
            {
                l.reach(CLAIM_RETRIED);
            }
        }),
    );
    for (i, name) in PROCS.iter().enumerate() {
        let (b, inc) = (book.clone(), Arc::new(AtomicU64::new(0)));
        world.add_node(name, move |w| {
            let (book, n) = (b.clone(), inc.fetch_add(1, Ordering::Relaxed));
            assert!(n < INCARNATIONS_MAX, "more incarnations than the stream encoding holds");
            async move { process_main(w, book, variant, i as u64 * INCARNATIONS_MAX + n).await }
        });
    }
    set_host_clocks(world);
    let (b, tried) = (book.clone(), Arc::new(AtomicBool::new(false)));
    world.add_node("tryer", move |w| {
        // Once: a power loss restarts every process, and the aimed fault
        // counts reads from the chaos phase's start.
        let (book, first) = (b.clone(), !tried.swap(true, Ordering::Relaxed));
        async move {
            if first {
                try_in_chaos(&w, &book).await;
            }
        }
    });
    if world.schedule().param("vandal", 0) == 1 {
        let (w, b) = (world.clone(), book.clone());
        world.spawn_local(async move { vandal(&w, &b).await });
    }
    world.sleep_until(world.chaos_end()).await;
    quiet_phase_checks(world, &book).await;
}

fn make_manager(env: &Env, book: &SharedBook, world: &World, held: Option<Arc<HeldLocks>>) -> LockManager {
    LockManager::new(env, make_config(env, book, world, held))
}

fn make_config(_env: &Env, book: &SharedBook, world: &World, held: Option<Arc<HeldLocks>>) -> LockConfig {
    let (b, w) = (book.clone(), world.clone());
    let hook: steadfast_core::lock::ForcedReleaseHook = Arc::new(move |r: &ForcedRelease| {
        let reached = match r.reason {
            Reason::DeadOwner => Some(DEAD_TAKEOVER),
            Reason::Unreadable => Some(UNREADABLE_TAKEOVER),
            Reason::MaxHold => Some(WATCHDOG),
            _ => None,
        };
        if let Some(point) = reached {
            w.reach(point);
        }
        let nonce = r.owner.as_ref().map_or(0, |o| o.nonce);
        w.note(format!("forced release of {nonce:016x} ({}): {}", r.reason.as_str(), r.session_file.display()));
        lock_book(&b).diagnostics.entry(nonce).or_default().push(r.clone());
    });
    LockConfig {
        acquire_timeout: ACQUIRE_TIMEOUT,
        retry_min: Duration::from_millis(20),
        retry_max: RETRY_MAX,
        max_hold: MAX_HOLD,
        takeover_grace: TAKEOVER_GRACE,
        unreadable_grace: UNREADABLE_GRACE,
        // A lease like the takeover grace: above a takeover's operations on
        // this mount (eight at most LATENCY_MS_MAX each) with room to spare.
        claim_stale: CLAIM_STALE,
        on_forced_release: Some(hook),
        held,
    }
}

async fn process_main(world: World, book: SharedBook, variant: Variant, stream: u64) {
    let env = world.env();
    // The registry the exit cleanup reads: one per process, every manager
    // of the process registers in it.
    let held = (world.schedule().param("exit_cleanup", 0) == 1).then(|| Arc::new(HeldLocks::new()));
    let manager = make_manager(&env, &book, &world, held.clone());
    let name = PROCS[(stream / INCARNATIONS_MAX) as usize].to_string();
    {
        let mut b = lock_book(&book);
        b.incarnation.insert(name.clone(), stream);
        b.incarnation_of.insert(stream, name.clone());
        // A reused pid: the world reuses one only once nothing of its last
        // process is in flight, so what that process's exit released is
        // no concern of this one's.
        let pid = env.procs.own_pid();
        b.exited.retain(|(p, _), _| *p != pid);
    }
    let p = Rc::new(Proc {
        world: world.clone(),
        env,
        book,
        manager,
        variant,
        incarnation: stream,
        name,
        cleanup_frozen: Cell::new(false),
        fingerprint_frozen: Cell::new(false),
    });
    let contenders = world.schedule().param("contenders", 0);
    let two = variant == Variant::TwoManagers || world.schedule().param("two_managers", 0) == 1;
    let second = make_manager(&p.env, &p.book, &p.world, held.clone());
    let legacy = variant.flaw().map(|flaw| Locker::legacy(&p, flaw));
    let mut tasks = Vec::new();
    for k in 0..contenders {
        let locker = match (&legacy, variant.flaw()) {
            (Some(_), Some(flaw)) if two && k % 2 == 1 => Locker::legacy(&p, flaw),
            (Some(Locker::Legacy(m)), _) => Locker::Legacy(m.clone()),
            _ if two && k % 2 == 1 => Locker::Core(second.clone()),
            _ => Locker::Core(p.manager.clone()),
        };
        let (p, stream) = (p.clone(), stream * 16 + 1 + k);
        let name = format!("contender-{k}");
        tasks.push(madsim::task::spawn_local(named(&name, async move { contender(&p, locker, stream).await })));
    }
    if variant == Variant::UnfencedAttempt || world.schedule().param("controller", 0) == 1 {
        let (p, stream) = (p.clone(), stream * 16);
        tasks.push(madsim::task::spawn_local(named("attempts", async move { fence::attempts(&p, stream).await })));
    }
    let registry = held.clone();
    let work = async {
        let mut rng = world.workload_rng(stream);
        while world.now() < world.chaos_end() {
            attempt(&p, &mut rng).await;
            p.env.clock.sleep(Duration::from_millis(rng.range(0, 300))).await;
        }
        // The process exits when its work is done, not in the middle of a
        // contender's turn.
        for task in tasks {
            let _ = task.await;
        }
        // L18: the exit registry forgot every hold the process released (a
        // registry that keeps released holds grows without bound in a
        // long-lived process); a hold dropped unreleased stays until its
        // watchdog releases it.
        if let Some(held) = &registry {
            let open = || {
                let book = lock_book(&p.book);
                book.holds.values().filter(|h| h.incarnation == p.incarnation && !h.ended).count()
            };
            // A watchdog's forced release may still be removing its file
            // (the hold is forgotten once that lands): give it a moment.
            let mut waited = Duration::ZERO;
            while held.len() > open() && waited < REGISTRY_SETTLE {
                p.env.clock.sleep(Duration::from_millis(100)).await;
                waited += Duration::from_millis(100);
            }
            let (left, open) = (held.len(), open());
            world.check("L18", left <= open, || {
                format!(
                    "{}'s exit registry lists {left} holds after its work, of which only {open} are not released",
                    p.name
                )
            });
        }
    };
    let Some(held) = held else { return work.await };
    until_terminated(&world, work, || on_sigterm(&p, &held)).await;
}

/// One of a process's holds as its SIGTERM handler finds it.
struct Mine {
    nonce: u64,
    session: usize,
    acquired_at_ms: u64,
    /// Its lock file names it.
    named: bool,
    /// L13 judges it: the session's current hold, valid, not being
    /// released, its file naming it.
    judged: bool,
}

/// Run `work` until it finishes or the process receives SIGTERM; then run
/// `handler` while `work` still lives (its tasks and guards, mid-call, as
/// a signal handler finds them) and return: the process exits.
async fn until_terminated(world: &World, work: impl std::future::Future<Output = ()>, handler: impl FnOnce()) {
    let (mut work, mut term) = (std::pin::pin!(work), std::pin::pin!(world.terminated()));
    let mut handler = Some(handler);
    std::future::poll_fn(|cx| {
        if term.as_mut().poll(cx).is_ready() {
            if let Some(h) = handler.take() {
                h();
            }
            return std::task::Poll::Ready(());
        }
        work.as_mut().poll(cx)
    })
    .await
}

/// The SIGTERM handler of `real::ExitCleanup`: remove every registered
/// lock file with blocking calls, then exit (the caller returns from
/// main). Judged by L13, and by L1 and L5 in the watcher: each hold is
/// released from the handler's first instant on (no append of it may land
/// once its file is gone), and no other holder's file is touched.
fn on_sigterm(p: &Proc, held: &HeldLocks) {
    let pid = p.env.procs.own_pid();
    let start_ms = p.world_now_ms();
    let start = p.world.now();
    // This process's holds: each with whether L13 judges it (the session's
    // current hold, valid, its file naming it) and what had I/O in flight.
    // (Peeking lands what is due and runs the watcher, which takes the
    // book: never peek while holding it.)
    let holds: Vec<(u64, usize, u64, bool)> = {
        let book = lock_book(&p.book);
        book.holds
            .iter()
            .filter(|(_, h)| h.incarnation == p.incarnation && !h.ended)
            .map(|(&n, h)| {
                let judged = !h.ending && book.current.get(&h.session) == Some(&n) && h.valid(start_ms);
                (n, h.session, h.acquired_at_ms, judged)
            })
            .collect()
    };
    let mine: Vec<Mine> = holds
        .into_iter()
        .map(|(nonce, session, acquired_at_ms, judged)| {
            let named = lock_names(&p.world, session, nonce);
            Mine { nonce, session, acquired_at_ms, named, judged: judged && named }
        })
        .collect();
    {
        let mut book = lock_book(&p.book);
        for m in &mine {
            if let Some(h) = book.holds.get_mut(&m.nonce) {
                h.ending = true;
            }
        }
    }
    // Work of a hold under way: a call of this process on its transcript,
    // its repair copy or its lock file not yet returned (an append, a
    // repair's step, a release's look or removal), or a removal of the
    // lock file that failed within the last retry delay (a release
    // retrying). Core leaves such a hold's file to that work or to takeover.
    let busy = |session: usize| {
        let (transcript, lock) = (Path::new(SESSIONS[session]), lock_of(session));
        let ours = |path: &Path| path == transcript || path == lock || repair_of(path, transcript);
        let calls = ["open", "read", "append", "write", "sync_file", "set_len", "rename", "remove_file"]
            .iter()
            .any(|op| p.world.calls_of(pid, op, ours) > 0);
        let book = lock_book(&p.book);
        let retrying = book.lock_op_failed(session, &p.name).is_some_and(|t| t + RETRY_MAX >= start);
        let appending = book.calls.get(&(p.incarnation, session)).is_some_and(|n| *n > 0);
        calls || retrying || appending
    };
    let busy: Vec<bool> = mine.iter().map(|m| busy(m.session)).collect();
    // A release's removal in flight may land during the cleanup's blocking
    // calls: then the cleanup's own removals cannot be told apart. Nor may
    // the cleanup remove that lock file again: the first removal may land
    // the instant before the next holder creates it (L5's race).
    let removing: Vec<usize> = (0..SESSIONS.len())
        .filter(|&i| p.world.in_flight_of(pid, "remove_file", |path| path == lock_of(i)) > 0)
        .collect();
    let removal_in_flight = !removing.is_empty();
    // Every hold L13 judges is registered (its file names it, it is the
    // session's valid hold): the registry counts at least those. (This and
    // the emptiness checks below fail only if the registry's own
    // bookkeeping does: a hold never inserted, `len`/`is_empty` wrong, the
    // cleanup not emptying it.)
    let registered = held.len();
    let judged = mine.iter().filter(|m| m.judged).count();
    p.world.check("L13", registered >= judged && held.is_empty() == (registered == 0), || {
        format!("{}'s exit registry holds {registered} locks, but {judged} of its holds are live", p.name)
    });
    let removed = match p.variant {
        Variant::ExitUnderWrite => legacy::remove_all_blocking(p, &mine),
        _ => held.remove_all_blocking(&*p.env.fs, &*p.env.clock),
    };
    let end_ms = p.world_now_ms();
    let failed = |session: usize| lock_book(&p.book).lock_op_failed(session, &p.name).is_some_and(|t| t >= start);
    let mut gone = 0;
    for (&Mine { nonce: n, session, acquired_at_ms, named, judged }, busy) in mine.iter().zip(busy) {
        let now_named = lock_names(&p.world, session, n);
        if named && !now_named {
            gone += 1;
            p.world.reach(EXIT_CLEANUP);
            // Released: nothing of this hold may land from now on (L1).
            let mut book = lock_book(&p.book);
            if let Some(h) = book.holds.get_mut(&n) {
                h.ended = true;
            }
            book.exited.insert((pid, session), p.world.now());
        }
        let window_open = end_ms.saturating_sub(acquired_at_ms) < TOUCH_WINDOW.as_millis() as u64;
        let excused = !window_open || busy || failed(session);
        p.world.check("L13", !judged || excused || !now_named, || {
            format!(
                "{} exited on SIGTERM and left the lock file of its hold {n:016x} of {}, with nothing in flight and its window open",
                p.name, SESSIONS[session]
            )
        });
    }
    // (The replica keeps its registry in the book: it never empties core's.)
    let replica = p.variant == Variant::ExitUnderWrite;
    p.world.check("L13", replica || held.is_empty(), || {
        format!("{}'s exit registry is not empty after its cleanup", p.name)
    });
    // What it reports is what it did: every removal of a lock file by this
    // process since its handler began (its blocking calls land at the
    // process's own time, ahead of the world's while they stall it).
    let did =
        lock_book(&p.book).lock_removals.iter().filter(|(at, by, _, ok)| *by == pid && *ok && *at >= start).count();
    for &session in &removing {
        // Every removal of it by this process from the handler's start:
        // landed since (done or failed), or still in flight.
        let landed = lock_book(&p.book)
            .lock_removals
            .iter()
            .filter(|(at, by, s, _)| *by == pid && *s == session && *at >= start)
            .count();
        let twice = landed + p.world.in_flight_of(pid, "remove_file", |path| path == lock_of(session));
        p.world.check("L13", twice <= 1, || {
            format!(
                "{}'s exit cleanup removed {} again while its own removal of it was in flight",
                p.name,
                lock_of(session).display()
            )
        });
    }
    p.world.check("L13", removal_in_flight || removed == did, || {
        format!(
            "{}'s exit cleanup reported {removed} lock files removed; it removed {did} ({gone} of its holds')",
            p.name
        )
    });
}

/// Run `call` (an append through a guard or an attempt controller) as a
/// call of process `p` on `session`, counted while it runs: a SIGTERM
/// handler that finds one under way may leave the hold's lock file (an
/// append counted in core but not yet issued is no operation the world
/// can see).
async fn calling<T>(p: &Proc, session: usize, call: impl std::future::Future<Output = T>) -> T {
    struct Counted<'a>(&'a Proc, usize);
    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            let mut book = lock_book(&self.0.book);
            let n = book.calls.entry((self.0.incarnation, self.1)).or_default();
            *n = n.saturating_sub(1);
        }
    }
    *lock_book(&p.book).calls.entry((p.incarnation, session)).or_default() += 1;
    let _counted = Counted(p, session);
    call.await
}

/// The owner record in a lock file's bytes, if they hold a readable one.
fn owner_in(bytes: &[u8]) -> Option<LockOwner> {
    LockOwner::from_record(bytes)
}

/// The owner record a lock file holds now.
fn owner_now(world: &World, lock: &Path) -> Option<LockOwner> {
    world.peek_file(lock).ok().and_then(|b| owner_in(&b))
}

/// Does session `session`'s lock file name hold `nonce` now?
fn lock_names(world: &World, session: usize, nonce: u64) -> bool {
    owner_now(world, lock_of(session)).is_some_and(|o| o.nonce == nonce)
}

/// Is `path` a repair copy of `transcript` (`<transcript>.repair...`)?
fn repair_of(path: &Path, transcript: &Path) -> bool {
    let (p, t) = (path.as_os_str().as_encoded_bytes(), transcript.as_os_str().as_encoded_bytes());
    p.len() > t.len() && p.starts_with(t) && p[t.len()..].starts_with(b".repair")
}

/// One attempt: a turn with appends, maybe a compaction that may hang,
/// maybe a turn that outlives its lease; then cleanup (or, in some
/// attempts, none: the watchdog's case).
async fn attempt(p: &Rc<Proc>, rng: &mut SimRng) {
    let session = rng.range(0, SESSIONS.len() as u64 - 1) as usize;
    let att = p.manager.attempt();
    let long_turn = rng.chance(0.1);
    let cleanup = rng.chance(0.8);
    let compaction = rng.chance(0.4);
    let acquired: Rc<std::cell::RefCell<Vec<u64>>> = Rc::default();
    let body = turn(p, &att, session, long_turn, compaction, rng.next_u64(), acquired.clone());
    let timed_out = if long_turn {
        body.await;
        false
    } else {
        steadfast_core::timeout(&*p.env.clock, ATTEMPT_TIMEOUT, body).await.is_err()
    };
    let held: Vec<u64> = {
        let book = lock_book(&p.book);
        acquired.borrow().iter().copied().filter(|n| book.holds.get(n).is_some_and(|h| !h.ending)).collect()
    };
    if !cleanup {
        for n in held {
            watch_watchdog(p, n);
        }
        return;
    }
    {
        let mut book = lock_book(&p.book);
        for n in &held {
            book.abandoned.insert(*n);
            if let Some(h) = book.holds.get_mut(n) {
                h.ending = true;
            }
        }
    }
    if !held.is_empty() {
        arm_cleanup_freeze(p, session);
    }
    if p.variant == Variant::CheckThenRemove {
        for n in &held {
            check_then_remove(p, session, *n).await;
        }
    }
    let released = att.abandon_in_flight().await;
    if timed_out && released > 0 {
        p.world.reach(HUNG_ABANDONED);
    }
    let again = att.abandon_in_flight().await;
    p.world.check("L2", again == 0, || format!("a second cleanup released {again} more locks: not idempotent"));
    let lock = lock_path(Path::new(SESSIONS[session]));
    let owner = owner_now(&p.world, &lock);
    let now_ms = p.world_now_ms();
    let mut book = lock_book(&p.book);
    for n in held {
        // A hold's lock file is its own to touch only until max hold +
        // grace / 2 (then another process may be recovering it); a cleanup
        // that returns past that (its process froze) must leave the file to
        // takeover (L4), whose holder L5 protects.
        let window_ms = TOUCH_WINDOW.as_millis() as u64;
        let closed = book.holds.get(&n).is_some_and(|h| now_ms.saturating_sub(h.acquired_at_ms) >= window_ms);
        if let Some(h) = book.holds.get_mut(&n) {
            h.ended = true;
        }
        let still = !closed && owner.as_ref().is_some_and(|o| o.nonce == n);
        p.world.check("L2", !still, || {
            format!("after cleanup returned, {} still names abandoned hold {n:016x}", lock.display())
        });
    }
}

/// Without cleanup, the watchdog frees the lock by max hold + drain bound.
fn watch_watchdog(p: &Rc<Proc>, nonce: u64) {
    let found = {
        let book = lock_book(&p.book);
        book.holds.get(&nonce).map(|h| (h.acquired_at_ms - book.wall0_ms, h.session, h.pid))
    };
    let Some((at_ms, session, pid)) = found else { return };
    let deadline = Duration::from_millis(at_ms) + MAX_HOLD + TAKEOVER_GRACE + WATCHDOG_SLACK;
    let p = p.clone();
    madsim::task::spawn_local(async move {
        let fires = Duration::from_millis(at_ms) + MAX_HOLD;
        // A freeze after the watchdog's instant delays it by as long: the
        // bound counts from when the process can run (a holder that
        // resumed a millisecond before the deadline has its drain and its
        // removal still to do; seed 572 with a shorter retry jitter).
        sleep_past_freezes(&p.world, &p.name, fires, deadline).await;
        if p.env.procs.liveness(pid) != Liveness::Alive {
            return; // killed: its watchdog died with it; recovery is L4's
        }
        // Frozen from the watchdog's instant to the end of the hold's window
        // to touch its file: the watchdog could not run in time, and the
        // file is takeover's (L4); the lease is L1's and L5's. A freeze
        // that ended inside the window only delays the watchdog.
        let window_end = Duration::from_millis(at_ms) + TOUCH_WINDOW;
        if frozen(&p.world, &p.name, fires, window_end) == window_end - fires {
            return;
        }
        let lock = lock_path(Path::new(SESSIONS[session]));
        let owner = owner_now(&p.world, &lock);
        // The watchdog fired (the hold is revoked: nothing more lands) but
        // every removal it was allowed to try failed (persistent EIO): the
        // file is then recovered by takeover (L4), not by the watchdog.
        let excused = {
            let book = lock_book(&p.book);
            let fired = book.diagnostics.get(&nonce).is_some_and(|d| d.iter().any(|r| r.reason == Reason::MaxHold));
            let failed = book.removal_failed(session).is_some_and(|t| t + WATCHDOG_SLACK >= deadline - TAKEOVER_GRACE);
            fired && failed
        };
        p.world.check("L2", excused || owner.as_ref().is_none_or(|o| o.nonce != nonce), || {
            format!(
                "{} still names hold {nonce:016x} past max hold, with no cleanup: the watchdog never freed it",
                lock.display()
            )
        });
    });
}

async fn turn(
    p: &Rc<Proc>,
    att: &Attempt,
    session: usize,
    long_turn: bool,
    compaction: bool,
    seed: u64,
    acquired: Rc<std::cell::RefCell<Vec<u64>>>,
) {
    let mut rng = SimRng::new(seed, 7);
    let Some(guard) = acquire(p, att, session, false, &acquired).await else { return };
    // One turn in four first hands the guard what is not one whole line
    // (no newline; two lines in one): refused as such, writing nothing (a
    // partial line would tear the transcript for the next holder, L6).
    if seed % 4 == 1 {
        for bad in [&b"{\"partial\":1}"[..], &b"{\"a\":1}\n{\"b\":2}\n"[..]] {
            let out = calling(p, session, guard.append(bad)).await;
            p.world.check("L6", matches!(out, Err(LockError::NotALine)), || {
                format!("appending {:?} to {} returned {out:?}", String::from_utf8_lossy(bad), SESSIONS[session])
            });
        }
    }
    let n = 1 + rng.range(0, 4);
    // One turn in three (on a stream of its own) writes from two tasks at
    // once through the one guard, as a turn's tool calls may: a failed
    // append of one then leaves a tail repair that runs beside the other's
    // appends (L12).
    let mut second = SimRng::new(seed, 0xC0C0);
    let went_on = if second.chance(1.0 / 3.0) {
        let m = 1 + second.range(0, 4);
        let (a, b) = crate::join2(
            appends(p, &guard, session, &mut rng, n, 0),
            appends(p, &guard, session, &mut second, m, SECOND_WRITER_K),
        )
        .await;
        a && b
    } else {
        appends(p, &guard, session, &mut rng, n, 0).await
    };
    if !went_on {
        return release(p, &guard).await;
    }
    if long_turn {
        // A long tool call: the lease runs out and others may take over.
        p.env.clock.sleep(MAX_HOLD + TAKEOVER_GRACE + Duration::from_millis(500)).await;
        let refused = calling(p, session, guard.append(&line(&guard, 99))).await;
        if matches!(refused, Err(LockError::Takeover { .. })) {
            p.world.reach(REFUSED);
        }
        return release(p, &guard).await;
    }
    if !compaction {
        release(p, &guard).await;
        // One turn in four then writes through its released guard, as a
        // careless caller would: refused as released (or as the forced
        // release that came first: every append of this turn landed, so
        // nothing else revoked it), and nothing lands (L1 judges any
        // append by an ended hold).
        if seed % 4 == 0 {
            let late = calling(p, session, guard.append(&line(&guard, 77))).await;
            let forced = [Reason::MaxHold.as_str(), Reason::Abandoned.as_str()];
            let refused = match &late {
                Err(LockError::Released(_)) => true,
                Err(LockError::Takeover { reason, .. }) => forced.contains(&reason.as_str()),
                _ => false,
            };
            p.world.check("L1", refused, || {
                format!("an append through a released guard of {} returned {late:?}", SESSIONS[session])
            });
        }
        return;
    }
    // Post-run compaction: release for the prompt, reacquire, compact.
    release(p, &guard).await;
    let Some(again) = acquire(p, att, session, true, &acquired).await else { return };
    p.world.hang_point("compaction").await;
    let _ = calling(p, session, again.append(&line(&again, 1000))).await;
    release(p, &again).await;
}

fn line(guard: &LockGuard, k: u64) -> Vec<u8> {
    format!("{{\"n\":{},\"fence\":{},\"k\":{k}}}\n", guard.owner().nonce, guard.fence()).into_bytes()
}

/// Where a turn's second writer numbers its lines from (distinct lines, so
/// that L12 can tell which one a repair dropped).
const SECOND_WRITER_K: u64 = 500;

async fn appends(p: &Proc, guard: &LockGuard, session: usize, rng: &mut SimRng, n: u64, from: u64) -> bool {
    for k in from..from + n {
        match calling(p, session, guard.append(&line(guard, k))).await {
            Ok(()) => {}
            Err(LockError::Takeover { .. }) => {
                p.world.reach(REFUSED);
                return false;
            }
            Err(_) => {}
        }
        p.env.clock.sleep(Duration::from_millis(rng.range(0, 200))).await;
    }
    true
}

/// Acquire (tracked by the attempt, or for a reacquisition in the
/// hung-compaction replica untracked, as upstream did) and judge L3, L4, L6.
async fn acquire(
    p: &Proc,
    att: &Attempt,
    session: usize,
    reacquire: bool,
    acquired: &Rc<std::cell::RefCell<Vec<u64>>>,
) -> Option<LockGuard> {
    let path = Path::new(SESSIONS[session]);
    let result = if reacquire && p.variant == Variant::HungCompaction {
        p.manager.acquire(path).await
    } else {
        att.acquire(path).await
    };
    let guard = match result {
        Ok(g) => g,
        Err(e @ LockError::Timeout { .. }) => {
            check_timeout(p, session, &e);
            return None;
        }
        Err(LockError::Io { source, .. }) => {
            judge_not_transient(&p.world, session, source.kind());
            return None;
        }
        Err(_) => return None,
    };
    acquired.borrow_mut().push(guard.owner().nonce);
    p.world.check("L15", guard.fence() == guard.owner().fence, || {
        format!("a guard reports fence {} for a hold whose record carries {}", guard.fence(), guard.owner().fence)
    });
    register(p, session, guard.owner());
    Some(guard)
}

/// Book a new hold, and judge L4 (cross-process) or L9 (in-process): the
/// previous holder of the session must no longer be entitled to it.
fn register(p: &Proc, session: usize, owner: &LockOwner) {
    let path = Path::new(SESSIONS[session]);
    let nonce = owner.nonce;
    let previous = lock_book(&p.book).current.get(&session).copied();
    let prev_pid = previous.and_then(|n| lock_book(&p.book).holds.get(&n).map(|h| h.pid));
    let prev_alive = prev_pid.is_some_and(|pid| p.env.procs.liveness(pid) == Liveness::Alive);
    let now_ms = p.world_now_ms();
    let mut book = lock_book(&p.book);
    // L15: one manager never hands out a fence token twice. (Tokens grow
    // with every try, not in the order holds are taken: a create issued
    // first may land after a later try's hold came and went.) Not for
    // records without a token (the legacy managers' replicas write fence
    // 0, as upstream's did).
    if owner.manager != 0 && owner.fence != 0 {
        let fresh = book.fences.insert((owner.manager, owner.fence));
        p.world
            .check("L15", fresh, || format!("manager {:016x} handed out fence {} twice", owner.manager, owner.fence));
    }
    // A process frozen between its lock file's creation and its acquire's
    // return learns of the hold late: if a later hold has been booked
    // since, this one was taken over while it slept (its lease judges its
    // writes), and it is no acquisition over the later one.
    let late = previous.is_some_and(|prev| {
        matches!((book.created_at.get(&nonce), book.created_at.get(&prev)), (Some(mine), Some(theirs)) if mine < theirs)
    });
    let rec = HoldRec {
        session,
        pid: owner.pid,
        incarnation: p.incarnation,
        acquired_at_ms: world_ms(&p.world, &p.name, owner.acquired_at_ms),
        max_hold_ms: owner.max_hold_ms,
        ending: late,
        ended: false,
    };
    if late {
        book.superseded.insert(nonce);
        book.holds.insert(nonce, rec);
        return;
    }
    if let Some(prev) = previous
        && let Some(h) = book.holds.get(&prev)
    {
        let still = prev_alive && book.same_process(h) && h.valid(now_ms) && !h.ended;
        let invariant = if h.incarnation == p.incarnation { "L9" } else { "L4" };
        p.world.check(invariant, !still, || {
            format!("{} acquired by {nonce:016x} while hold {prev:016x} still held it", path.display())
        });
        book.superseded.insert(prev);
    }
    book.current.insert(session, nonce);
    book.holds.insert(nonce, rec);
}

/// L8's other half: an error that waiting may cure (an injected `EIO`, an
/// `EINTR`, a timed-out call) is retried until the timeout and reported in
/// [`LockError::Timeout`], never returned at once as [`LockError::Io`],
/// which the docs reserve for what no wait cures (a missing directory, a
/// denied permission, a read-only or full file system).
pub(super) fn judge_not_transient(world: &World, session: usize, kind: std::io::ErrorKind) {
    use std::io::ErrorKind as K;
    let transient = matches!(kind, K::Other | K::Interrupted | K::TimedOut | K::WouldBlock);
    world.check("L8", !transient, || {
        format!("acquire of {} returned a {kind:?} error at once, as if no wait could cure it", SESSIONS[session])
    });
}

fn check_timeout(p: &Proc, session: usize, e: &LockError) {
    let LockError::Timeout { waited, owner, .. } = e else { return };
    let lock = lock_path(Path::new(SESSIONS[session]));
    let readable = owner_now(&p.world, &lock);
    p.world.check("L3", *waited >= ACQUIRE_TIMEOUT, || {
        format!("acquire gave up after {waited:?} (timeout {ACQUIRE_TIMEOUT:?})")
    });
    // The error names the owner its last look saw; an owner that has held
    // the lock for longer than any one operation takes must be named.
    let settled_owner = readable.filter(|o| record_world_ms(&p.world, o) + LATENCY_MS_MAX * 2 < p.world_now_ms());
    // Unless its last look at the lock file failed (it returned just now):
    // then the error says why instead (below).
    let look_failed = {
        let book = lock_book(&p.book);
        let failed = book.lock_op_failed(session, &p.name);
        failed.is_some_and(|t| t + Duration::from_millis(LATENCY_MS_MAX) >= p.world.now())
    };
    p.world.check("L3", owner.is_some() || settled_owner.is_none() || look_failed, || {
        format!("a timeout on {} named no owner though the lock file names {settled_owner:?}", lock.display())
    });
    // As rendered too: the message names the owner (pid and nonce) or the
    // last try's error, and the error's I/O kind is that last try's.
    let LockError::Timeout { last_error, .. } = e else { return };
    let text = e.to_string();
    let rendered = match (owner, last_error) {
        (Some(o), _) => text.contains(&format!("{:016x}", o.nonce)) && text.contains(&format!("pid {}", o.pid)),
        (None, Some(kind)) => text.contains(&kind.to_string()),
        (None, None) => true,
    };
    p.world.check("L3", rendered && e.io_kind() == *last_error, || {
        format!(
            "a timeout on {} reads {text:?} with I/O kind {:?} (owner {owner:?}, last error {last_error:?})",
            lock.display(),
            e.io_kind()
        )
    });
}

async fn release(p: &Proc, guard: &LockGuard) {
    let nonce = guard.owner().nonce;
    if let Some(h) = lock_book(&p.book).holds.get_mut(&nonce) {
        h.ending = true;
    }
    if p.variant == Variant::UncheckedRelease {
        // Upstream's release: delete the lock file, whoever it names.
        let _ = p.env.fs.remove_file(guard.lock_path()).await;
    }
    let _ = guard.release().await;
    if let Some(h) = lock_book(&p.book).holds.get_mut(&nonce) {
        h.ended = true;
    }
}

/// L12 on an effect on transcript `session`: a tail repair's cut of it
/// (or a rename over it, as repairs by copy did) must leave exactly what
/// the file held before cut back to its last newline, unless a power loss
/// came in between (it changes files without an effect); then remember
/// what the file holds. L20: the file at the transcript's path stays the
/// same file (by identity) from one effect on it to the next, even across
/// a time it was gone (a repair that removes and creates it anew replaces
/// it as surely as a rename), unless a power loss came in between (an
/// unsynced creation undone).
fn judge_kept(l: &mut Landed<'_>, book: &mut Book, session: usize) {
    let path = Path::new(SESSIONS[session]);
    let now = l.bytes(path).ok();
    let id = l.metadata(path).map(|m| m.id);
    if let (Some(id), Some(&(losses, was))) = (id, book.transcript_id.get(&session))
        && losses == l.power_losses
    {
        let (op, node) = (l.op.name(), l.node);
        l.check("L20", id == was, || {
            format!("{} is another file after a {op} by {node}: the transcript was replaced", path.display())
        });
    }
    if let Some(id) = id {
        book.transcript_id.insert(session, (l.power_losses, id));
    }
    let cut = match l.op {
        FsOp::Rename { to, .. } => to.as_path() == path,
        FsOp::SetLen { handle, len } => {
            *handle.path == *path && book.transcript.get(&session).is_some_and(|(_, b)| (*len as usize) < b.len())
        }
        _ => false,
    };
    if cut
        && l.ok
        && let Some((losses, before)) = book.transcript.get(&session)
        && *losses == l.power_losses
    {
        let whole = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let kept = now.is_some_and(|b| b == &before[..whole]);
        l.check("L12", kept, || {
            let after = now.unwrap_or_default();
            let lines = before[..whole].split_inclusive(|&b| b == b'\n');
            let lost = lines.clone().filter(|line| !after.windows(line.len()).any(|w| w == *line)).count();
            format!(
                "a repair's {} of {} drops {lost} of the {} whole lines it held",
                l.op.name(),
                path.display(),
                lines.count()
            )
        });
    }
    match now {
        Some(b) => book.transcript.insert(session, (l.power_losses, b.to_vec())),
        None => book.transcript.remove(&session),
    };
}

/// L6: what is wrong with a transcript, if anything: a partial last line,
/// or a line that is not one whole JSON object (bytes of two holders
/// interleaved).
fn lines_problem(bytes: &[u8]) -> Option<String> {
    if !bytes.is_empty() && bytes.last() != Some(&b'\n') {
        return Some("ends in a partial line".into());
    }
    let bad = bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        // Validated, not built: the same grammar without a value's allocations.
        .find(|l| serde_json::from_slice::<serde::de::IgnoredAny>(l).is_err())?;
    Some(format!("holds a broken line {:?}", String::from_utf8_lossy(bad)))
}

/// The hold nonce an appended line carries in its `n` field, if any.
fn nonce_of(line: &[u8]) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Line {
        n: Option<u64>,
    }
    serde_json::from_slice::<Line>(line).ok()?.n
}

fn check_lines(world: &World, path: &Path, when: &str) {
    let Ok(bytes) = world.peek_file(path) else { return };
    let problem = lines_problem(&bytes);
    world.check("L6", problem.is_none(), || format!("{} {when}: {}", path.display(), problem.unwrap_or_default()));
}

/// L1 and L5 against an outsider that removes or replaces a live
/// holder's lock file (a tmp reaper, an operator's `rm`, a restored
/// backup), in the quiet phase, one step at a time: the holder's next
/// append is refused as a takeover and lands nothing, and its release
/// leaves the replacement alone. (In the chaos phase no lock can promise
/// more: an append whose look came before the outsider's act lands.)
async fn outsider_probe(w: &World, manager: &LockManager, s: &str) {
    let session = Path::new(s);
    let appended = |w: &World, l: &[u8]| w.peek_file(session).is_ok_and(|b| b.windows(l.len()).any(|x| x == l));
    let judge = |w: &World, what: &str, r: Result<(), LockError>, l: &[u8]| {
        let landed = appended(w, l);
        w.check("L1", matches!(r, Err(LockError::Takeover { .. })) && !landed, || {
            format!("after an outsider {what} the lock file of {s}, its holder's append returned {r:?} (landed: {landed}); want a takeover, nothing written")
        });
    };
    if let Ok(g) = manager.acquire(session).await {
        let lock = g.lock_path().to_path_buf();
        if w.harness_apply(FsOp::RemoveFile(lock)).is_ok() {
            let l = line(&g, PROBE_K - 1);
            judge(w, "removed", g.append(&l).await, &l);
        }
        let _ = g.release().await;
    }
    let Ok(g) = manager.acquire(session).await else { return };
    if let Some((lock, data)) = replace_lock_file(w, &g).await {
        let l = line(&g, PROBE_K - 2);
        judge(w, "replaced", g.append(&l).await, &l);
        judge_replaced_release(w, s, g, &lock, &data).await;
    }
    // The same past the lease by the holder's own clock: its host's clock
    // steps forward (an NTP step), so the hold is past its lease but not
    // revoked (its watchdog sleeps on the monotonic clock) and still inside
    // its window to touch the lock file. Only the release's read, which
    // the lease no longer makes needless, can tell the file is not its own.
    // In half the seeds the step lands the hold exactly on its lease's end
    // (the lease is `[acquired, acquired + max hold)`), in the others a
    // quarter of the grace past it. (An append first: a hold's first
    // append checks the session file's tail, so its release goes straight
    // to the lock file, with no file-system wait that would move the clock
    // off the step.)
    let past_ms = if w.workload_rng(0x5CE4).chance(0.5) { 0 } else { TAKEOVER_GRACE.as_millis() as u64 / 4 };
    let Some((g, step_ms)) = hold_aged(w, manager, session, PROBE_K - 3, MAX_HOLD.as_millis() as u64 + past_ms).await
    else {
        return;
    };
    if let Some((lock, data)) = replace_lock_file(w, &g).await {
        judge_replaced_release(w, s, g, &lock, &data).await;
        w.reach(PAST_LEASE_RELEASE);
    }
    w.fire(&Event::HostClockJump { node: PROBE.into(), by_ms: -step_ms });
    // Once its window to touch its files has closed (max hold + grace / 2
    // by its clock, to the millisecond), a release leaves the lock file to
    // takeover: another process may be recovering that instance by then.
    let Some((g, step_ms)) = hold_aged(w, manager, session, PROBE_K - 4, TOUCH_WINDOW.as_millis() as u64).await else {
        return;
    };
    let (lock, nonce) = (g.lock_path().to_path_buf(), g.owner().nonce);
    let released = g.release().await;
    let left = owner_now(w, &lock).is_some_and(|o| o.nonce == nonce);
    w.check("L5", left, || {
        format!(
            "{s}'s holder released ({released:?}) as its window to touch its files closed, and removed its lock file, takeover's by then"
        )
    });
    w.fire(&Event::HostClockJump { node: PROBE.into(), by_ms: -step_ms });
    let _ = w.harness_apply(FsOp::RemoveFile(lock));
}

/// A hold of `session` by the probe whose age, by its host's clock, is
/// exactly `age_ms`: acquired, its first append made (line `k`, so its
/// release waits on no check of the transcript's tail), then the probe
/// host's clock stepped forward. The guard and the step, which the caller
/// steps back; `None` (and nothing held) if the acquire or the append
/// failed.
async fn hold_aged(w: &World, manager: &LockManager, session: &Path, k: u64, age_ms: u64) -> Option<(LockGuard, i64)> {
    let g = manager.acquire(session).await.ok()?;
    if g.append(&line(&g, k)).await.is_err() {
        let _ = g.release().await;
        return None;
    }
    let now_age_ms = w.env().clock.wall_ms().saturating_sub(g.owner().acquired_at_ms);
    let step_ms = age_ms.saturating_sub(now_age_ms) as i64;
    w.fire(&Event::HostClockJump { node: PROBE.into(), by_ms: step_ms });
    Some((g, step_ms))
}

/// An outsider replaces `g`'s lock file with a record of another nonce:
/// the lock path and the bytes it wrote, or `None` (and `g` released) if
/// that could not be done.
async fn replace_lock_file(w: &World, g: &LockGuard) -> Option<(PathBuf, Vec<u8>)> {
    let lock = g.lock_path().to_path_buf();
    let forged = owner_now(w, &lock).map(|mut o| {
        o.nonce = o.nonce.wrapping_add(1);
        o
    });
    let data = forged.map(|o| record_bytes(&o, 0));
    match data {
        Some(data) if w.harness_apply(FsOp::Write { path: lock.clone(), data: data.clone() }).is_ok() => {
            Some((lock, data))
        }
        _ => {
            let _ = g.release().await;
            None
        }
    }
}

/// L5: `g`'s release after an outsider replaced its lock file with `data`
/// leaves the replacement as it is; then the outsider removes it.
async fn judge_replaced_release(w: &World, s: &str, g: LockGuard, lock: &Path, data: &[u8]) {
    let released = g.release().await;
    let kept = w.peek_file(lock).is_ok_and(|b| b == data);
    w.check("L5", kept, || {
        format!("{s}'s holder released ({released:?}) after an outsider replaced its lock file, and removed or changed the replacement")
    });
    let _ = w.harness_apply(FsOp::RemoveFile(lock.to_path_buf()));
}

/// A lock record as another process would have written it: `pid` (with
/// `start_time`), acquired at `acquired_at_ms` by its writer's clock, a
/// fresh nonce.
fn foreign_owner(w: &World, pid: u32, start_time: Option<u64>, acquired_at_ms: u64) -> LockOwner {
    LockOwner {
        pid,
        start_time,
        nonce: w.env().entropy.next_u64(),
        acquired_at_ms,
        max_hold_ms: MAX_HOLD.as_millis() as u64,
        fence: 1,
        // Another manager than any the tries use: a live pid's record is a
        // live owner's, not an orphan of the trying manager's.
        manager: 1,
    }
}

/// `owner`'s record as its bytes, padded with JSON whitespace to `len`
/// bytes (0: as written).
fn record_bytes(owner: &LockOwner, len: usize) -> Vec<u8> {
    let mut data = owner.to_record();
    data.resize(data.len().max(len), b' ');
    data
}

/// Plant `owner`'s record (padded to `len`) as the lock file of `session`:
/// `false` if the write failed.
fn plant_owner(w: &World, session: &str, owner: &LockOwner, len: usize) -> bool {
    let data = record_bytes(owner, len);
    w.harness_apply(FsOp::Write { path: lock_path(Path::new(session)), data }).is_ok()
}

/// L14 in the quiet phase, where no fault interferes: a try at a lock its
/// dead owner left takes it (one real try: the takeover, then the create
/// it makes possible, even at the deadline), and a try at a live owner's
/// lock is refused at once, naming that owner.
async fn try_in_quiet(w: &World, book: &SharedBook) {
    // The scenario's configuration: its forced releases are booked and
    // judged by L7 like every other.
    let manager = make_manager(&w.env(), book, w, None);
    let (s, session) = (TRY_SESSIONS[0], Path::new(TRY_SESSIONS[0]));
    let now_ms = w.env().clock.wall_ms();
    // For `sweep_litter`, at the end: a claim whose claimer lives but
    // which is older than `claim_stale` by its record and, by then, by its
    // file's mtime: abandoned by age (a claim is a lease).
    let aged = aged_claim(w, now_ms);
    if plant_owner(w, s, &foreign_owner(w, DEAD_PID, None, now_ms), 0) {
        let r = manager.acquire_within(session, Duration::ZERO).await;
        w.check("L14", r.is_ok(), || format!("a try at the lock of {s}, left by a dead owner, returned {r:?}"));
        if let Ok(g) = r {
            // Released without a look after an outsider (a tmp reaper)
            // removed its lock file: the lock is free either way, so the
            // release succeeds (L5), and leaves no file.
            let lock = g.lock_path().to_path_buf();
            let mine = g.owner().clone();
            let removed = w.harness_apply(FsOp::RemoveFile(lock.clone())).is_ok();
            let released = g.release().await;
            let gone = w.peek_file(&lock).is_err();
            w.check("L5", !removed || (released.is_ok() && gone), || {
                format!("{s}'s holder released ({released:?}) after an outsider removed its lock file (gone: {gone})")
            });
            // This manager's own orphan: a record of its process and its
            // id whose nonce is no hold of it (a create whose call was
            // dropped before its hold existed, landing anyway). No wait
            // can make it any staler: a try takes it at once.
            let orphan =
                LockOwner { nonce: w.env().entropy.next_u64(), acquired_at_ms: w.env().clock.wall_ms(), ..mine };
            if gone && plant_owner(w, s, &orphan, 0) {
                let r = manager.acquire_within(session, Duration::ZERO).await;
                w.check("L14", r.is_ok(), || {
                    format!(
                        "a try at the lock of {s}, left by its own manager's orphan {:016x}, returned {r:?}",
                        orphan.nonce
                    )
                });
                if let Ok(g) = r {
                    let _ = g.release().await;
                }
            }
        }
    }
    let env = w.env();
    let pid = env.procs.own_pid();
    // A live owner's record as written, and padded with whitespace to the
    // largest lock file a manager reads (still a record, not garbage).
    for len in [0, LOCK_FILE_MAX as usize] {
        let o = foreign_owner(w, pid, env.procs.start_time(pid), env.clock.wall_ms());
        if !plant_owner(w, s, &o, len) {
            return;
        }
        let start = env.clock.now();
        let r = manager.acquire_within(session, Duration::ZERO).await;
        let took = env.clock.now().saturating_since(start);
        let named = matches!(&r, Err(LockError::Timeout { owner: Some(x), .. }) if x.nonce == o.nonce);
        // At once: its create, its look, and the final look that names the
        // owner (five calls on the mount).
        w.check("L14", named && took <= Duration::from_millis(5 * LATENCY_MS_MAX), || {
            format!(
                "a try at the lock of {s}, held by a live owner {:016x} ({len} bytes), returned {r:?} after {took:?}",
                o.nonce
            )
        });
        let _ = w.harness_apply(FsOp::RemoveFile(lock_path(session)));
    }
    // L4: a record whose writer's clock ran an hour ahead claims to be
    // young for an hour; the manager's own sightings age it, and it is
    // recovered once this manager has seen it for max hold + grace, even
    // while the manager looks at another such lock in between.
    let pair = [TRY_SESSIONS[0], TRY_SESSIONS[2]];
    let ahead = env.clock.wall_ms() + 3_600_000;
    if pair.iter().any(|s| !plant_owner(w, s, &foreign_owner(w, pid, env.procs.start_time(pid), ahead), 0)) {
        return;
    }
    // Seen for max hold + grace, then tried again: two rounds of two tries
    // (five calls each on the mount) and their pause.
    let round = Duration::from_millis(2 * 5 * LATENCY_MS_MAX + 200);
    let bound = MAX_HOLD + TAKEOVER_GRACE + round * 2;
    let start = env.clock.now();
    let mut taken = [false; 2];
    while taken.contains(&false) && env.clock.now().saturating_since(start) < bound {
        for (i, s) in pair.iter().enumerate() {
            if !taken[i]
                && let Ok(g) = manager.acquire_within(Path::new(s), Duration::ZERO).await
            {
                taken[i] = true;
                let _ = g.release().await;
            }
        }
        env.clock.sleep(Duration::from_millis(200)).await;
    }
    w.check("L4", taken == [true; 2], || {
        format!("two locks whose records claim an acquisition an hour ahead, tried in turn, taken after {bound:?}: {taken:?}")
    });
    sweep_litter(w, &manager, aged).await;
    if w.schedule().param("many_live_locks", 0) == 1 {
        sweep_many_live(w, &manager).await;
    }
}

/// Where `sweep_many_live` plants its lock files: off the slow mount of
/// `/data` (a sweep of 1,100 locks there outlasts the quiet phase), and
/// outside every fault rule.
const MANY_DIR: &str = "/local/many";
/// Past the sightings a manager keeps (1,024 lock instances, `SEEN_MAX`
/// in core), so its table must forget some as it goes.
const MANY_LOCKS: usize = 1_100;

/// L9 over a big directory of live locks, as a boot sweep meets the locks
/// of a busy host: every one is a live owner's and young, so `sweep_stale`
/// inspects all and removes none, while its manager sees more lock
/// instances than it keeps sightings of (core bounds that table and
/// asserts the bound).
async fn sweep_many_live(w: &World, manager: &LockManager) {
    let env = w.env();
    let pid = env.procs.own_pid();
    let dir = Path::new(MANY_DIR);
    let now_ms = env.clock.wall_ms();
    let base = foreign_owner(w, pid, env.procs.start_time(pid), now_ms);
    if w.harness_apply(FsOp::CreateDirAll(dir.into())).is_err()
        || (0..MANY_LOCKS).any(|i| {
            let data = record_bytes(&LockOwner { nonce: base.nonce.wrapping_add(i as u64), ..base.clone() }, 0);
            w.harness_apply(FsOp::Write { path: dir.join(format!("m{i}.jsonl.lock")), data }).is_err()
        })
    {
        return;
    }
    let swept = manager.sweep_stale(dir).await;
    let left = w.peek_dir(dir).map_or(0, |entries| entries.len());
    let accounted = swept.as_ref().is_ok_and(|s| s.inspected == MANY_LOCKS && s.removed.is_empty());
    w.check("L9", left == MANY_LOCKS && accounted, || {
        format!("sweep_stale over {MANY_LOCKS} live owners' young lock files left {left} and reported {swept:?}")
    });
}

/// Plant, in `sweep_litter`'s directory, a takeover claim of a live
/// claimer (this process, another manager) made an hour ago by its record;
/// its name, if it could be planted.
fn aged_claim(w: &World, now_ms: u64) -> Option<String> {
    let env = w.env();
    let pid = env.procs.own_pid();
    let claimer = foreign_owner(w, pid, env.procs.start_time(pid), now_ms.saturating_sub(3_600_000));
    let name = format!("d.jsonl.lock.takeover.{:016x}", env.entropy.next_u64());
    let dir = Path::new(SWEEP_DIR);
    let planted = w.harness_apply(FsOp::CreateDirAll(dir.into())).is_ok()
        && w.harness_apply(FsOp::Write { path: dir.join(&name), data: record_bytes(&claimer, 0) }).is_ok();
    planted.then_some(name)
}

/// L9 for `sweep_stale` over every kind of litter at once, as a service's
/// boot sweep meets it after crashes: a stale lock file, a takeover claim
/// whose claimer died, that claim's clear-claim whose clearer died too
/// (it blocks the claim's clearing until it is gone), and a repair copy
/// of a session nobody holds. All go, and the report says so.
async fn sweep_litter(w: &World, manager: &LockManager, aged: Option<String>) {
    let dir = Path::new(SWEEP_DIR);
    let now_ms = w.env().clock.wall_ms();
    let dead = || foreign_owner(w, DEAD_PID, None, now_ms);
    let (claimer, clearer) = (dead(), dead());
    let claim = format!("b.jsonl.lock.takeover.{:016x}", w.env().entropy.next_u64());
    let stale = dead();
    let litter = [
        ("a.jsonl.lock".to_string(), record_bytes(&stale, 0)),
        (claim.clone(), record_bytes(&claimer, 0)),
        (format!("{claim}.clear.{:016x}", claimer.nonce), record_bytes(&clearer, 0)),
        ("c.jsonl.repair".to_string(), b"{\"k\":1}\n".to_vec()),
    ];
    if w.harness_apply(FsOp::CreateDirAll(dir.into())).is_err()
        || litter.iter().any(|(n, d)| w.harness_apply(FsOp::Write { path: dir.join(n), data: d.clone() }).is_err())
    {
        return;
    }
    // Everything there is litter: this incarnation's, and what an earlier
    // incarnation of the quiet tryer planted before a power loss restarted
    // it (its aged claim, its claimer dead now; seed 6983).
    let all = w.peek_dir(dir).map_or(0, |entries| entries.len());
    let swept = manager.sweep_stale(dir).await;
    let left: Vec<String> = w
        .peek_dir(dir)
        .map(|entries| entries.into_iter().map(|(n, _)| n.to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    let accounted = swept.as_ref().is_ok_and(|s| s.inspected == all && s.removed.len() == all);
    w.check("L9", left.is_empty() && accounted, || {
        format!("sweep_stale over a stale lock, a dead claimer's claim, its dead clearer's file, a repair copy and a live claimer's claim older than claim_stale ({aged:?}) left {left:?} and reported {swept:?}")
    });
}

/// L14 in the chaos phase: a try at a live owner's lock whose own look
/// reads the owner, and whose last look (the second read of the lock file,
/// failed by the fault `schedule` aims at it) fails, names both the owner
/// and that look's error.
async fn try_in_chaos(w: &World, book: &SharedBook) {
    // The scenario's configuration: its forced releases are booked and
    // judged by L7 like every other.
    let manager = make_manager(&w.env(), book, w, None);
    let (s, session) = (TRY_SESSIONS[1], Path::new(TRY_SESSIONS[1]));
    let env = w.env();
    let pid = env.procs.own_pid();
    let o = foreign_owner(w, pid, env.procs.start_time(pid), env.clock.wall_ms());
    if !plant_owner(w, s, &o, 0) {
        return;
    }
    let r = manager.acquire_within(session, Duration::ZERO).await;
    match &r {
        Err(LockError::Timeout { owner: Some(x), last_error, .. }) => {
            w.check("L14", x.nonce == o.nonce && *last_error == Some(std::io::ErrorKind::Other), || {
                format!(
                    "a try at the lock of {s}, held by {:016x}, whose last look failed (EIO) returned {r:?}",
                    o.nonce
                )
            });
        }
        // A look that failed before it read the owner names its error.
        Err(LockError::Timeout { owner: None, last_error, .. }) => {
            w.check("L14", last_error.is_some(), || format!("a try at the lock of {s} returned {r:?}"));
        }
        // What no wait cures (a full disk) is refused at once, typed.
        Err(_) => {}
        Ok(_) => w.check("L14", false, || format!("a try took the lock of {s}, held by a live owner {:016x}", o.nonce)),
    }
    let _ = w.harness_apply(FsOp::RemoveFile(lock_path(session)));
    // A dead owner's lock, taken over while the first read or removal of
    // the takeover's claim fails (EIO, aimed by the schedule): the claimer
    // retries a transient error, so the claim goes with the takeover; a
    // claim left behind is litter that blocks takeovers of its instance
    // until it counts as abandoned (L9).
    let (s, session) = (CLAIM_SESSION, Path::new(CLAIM_SESSION));
    if !plant_owner(w, s, &foreign_owner(w, DEAD_PID, None, env.clock.wall_ms()), 0) {
        return;
    }
    let r = manager.acquire_within(session, Duration::ZERO).await;
    let lock = lock_path(session);
    let claims: Vec<_> = w
        .peek_dir(Path::new(CLAIM_DIR))
        .unwrap_or_default()
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| claim_of(&Path::new(CLAIM_DIR).join(n), &lock))
        .collect();
    w.check("L9", claims.is_empty(), || {
        format!("a try took the lock of {s} from a dead owner ({r:?}), and its claimer left {claims:?}")
    });
    if let Ok(g) = r {
        let _ = g.release().await;
    }
}

/// The quiet phase: every session's lock can be taken (L4: whatever the
/// chaos left is recoverable) and its transcript is whole (L6); L7 over
/// every forced release.
async fn quiet_phase_checks(world: &World, book: &SharedBook) {
    let probe_done = Arc::new(Mutex::new(Vec::new()));
    let (b, done) = (book.clone(), probe_done.clone());
    world.add_node(PROBE, move |w| {
        let (book, done) = (b.clone(), done.clone());
        async move {
            let env = w.env();
            let mut manager = make_manager(&env, &book, &w, None);
            // Whatever the chaos left must be recoverable within this bound.
            let config = LockConfig { acquire_timeout: PROBE_TIMEOUT, ..manager.config().clone() };
            manager = LockManager::new(&env, config);
            for s in SESSIONS {
                let r = manager.acquire(Path::new(s)).await;
                // L11: the holder of a lock nobody contests can write: a
                // line, another after it, then two from two tasks at once
                // through the one guard (they take turns at the tail; none
                // waits for ever).
                let mut wrote = Vec::new();
                if let Ok(g) = &r {
                    let append = async |k| {
                        let probe_line = line(g, k);
                        g.append(&probe_line).await.map(|()| probe_line).map_err(|e| e.to_string())
                    };
                    wrote.push(append(PROBE_K).await);
                    wrote.push(append(PROBE_K - 10).await);
                    let (a, b) = crate::join2(append(PROBE_K - 11), append(PROBE_K - 12)).await;
                    wrote.extend([a, b]);
                    let _ = g.release().await;
                }
                let err = r.err().map(|e| e.to_string());
                done.lock().unwrap_or_else(|p| p.into_inner()).push((s.to_string(), err, wrote));
            }
            outsider_probe(&w, &manager, SESSIONS[0]).await;
            // The sweep a service runs at its next boot, once every process
            // has finished its work: stale locks, claims whose claimer died
            // mid-takeover, repair copies nobody is writing. Nothing may be
            // left after it (L9).
            w.sleep_until(w.quiet_end().saturating_sub(SWEEP_BEFORE_END)).await;
            if let Ok(swept) = manager.sweep_stale(Path::new(DIR)).await {
                // Its report accounts for what it did: nothing removed
                // that it did not inspect.
                w.check("L9", swept.removed.len() <= swept.inspected, || {
                    format!("sweep_stale removed {} entries but inspected {}", swept.removed.len(), swept.inspected)
                });
            }
        }
    });
    // The tries, beside the probe: they must not delay its closing sweep.
    let b = book.clone();
    world.add_node("quiet-tryer", move |w| {
        let book = b.clone();
        async move { try_in_quiet(&w, &book).await }
    });
    world.sleep_until(world.quiet_end()).await;
    let results = probe_done.lock().unwrap_or_else(|p| p.into_inner()).clone();
    world.check("L4", results.len() == SESSIONS.len(), || format!("the quiet-phase probe finished only {results:?}"));
    for (s, err, wrote) in results {
        world.check("L4", err.is_none(), || format!("in the quiet phase {s} could not be locked: {err:?}"));
        for (k, wrote) in wrote.iter().enumerate() {
            let landed = wrote.as_ref().is_ok_and(|l| {
                world.peek_file(Path::new(&s)).is_ok_and(|bytes| bytes.windows(l.len()).any(|w| w == l.as_slice()))
            });
            world.check("L11", landed, || match wrote {
                Ok(_) => format!("in the quiet phase the holder of {s} appended a line (#{k}) that is not in the file"),
                Err(e) => format!("in the quiet phase the holder of {s} could not append a whole line (#{k}): {e}"),
            });
        }
        check_lines(world, Path::new(&s), "at quiescence");
    }
    hostile::judge_repair_links(world);
    let litter: Vec<String> = world
        .peek(FsOp::ReadDir(DIR.into()))
        .ok()
        .and_then(|o| match o {
            steadfast_core::FsOutput::Entries(e) => Some(e),
            _ => None,
        })
        .unwrap_or_default()
        .into_iter()
        // (A symlink is a vandal's plant, never a file of the lock's.)
        .filter(|e| e.kind != FileKind::Symlink)
        .filter_map(|e| e.name.into_string().ok())
        .filter(|n| n.contains(".repair") || n.contains(".takeover."))
        .collect();
    world.check("L9", litter.is_empty(), || format!("left at quiescence in {DIR}: {litter:?}"));
    let schedule = world.schedule();
    let power_losses =
        schedule.events.iter().filter(|e| matches!(e.what, Event::PowerLoss { .. })).count() + schedule.crashes.len();
    let book = lock_book(book);
    for (nonce, diags) in &book.diagnostics {
        if *nonce == 0 {
            continue; // unreadable lock files: no owner to name
        }
        // At most one in-process forced release (watchdog or cleanup) and
        // one takeover of what it left behind, each with one diagnostic;
        // plus one per power loss, which can bring back a removal that was
        // not yet durable (the lock file reappears and is recovered again).
        let in_process = diags.iter().filter(|d| matches!(d.reason, Reason::MaxHold | Reason::Abandoned)).count();
        let takeovers = diags.len() - in_process;
        world.check("L7", in_process <= 1 && takeovers <= 1 + power_losses, || {
            format!("hold {nonce:016x} got {in_process} in-process and {takeovers} takeover diagnostics")
        });
        for d in diags {
            let named = d.session_file.to_str().is_some_and(|f| SESSIONS.contains(&f) || f.starts_with(TRY_DIR))
                && d.owner.is_some();
            world.check("L7", named, || format!("a diagnostic names no session file or owner: {d:?}"));
        }
    }
    judge_rendered_diagnostics(world, &book);
}

/// The words an operator reads of each reason (L7 on the rendered
/// diagnostic, not only on the value the hook receives).
fn reason_words(reason: Reason) -> &'static str {
    match reason {
        Reason::DeadOwner => "dead",
        Reason::ReusedPid => "reused",
        Reason::OrphanedSelf => "no holder",
        Reason::Unreadable => "unreadable",
        Reason::Expired | Reason::MaxHold => "max hold",
        Reason::Abandoned => "abandoned",
    }
}

/// L7 as an operator sees it: every forced release the hook received was
/// also logged once, as a warning naming the session file, the owner's
/// nonce and the reason in words.
fn judge_rendered_diagnostics(world: &World, book: &Book) {
    let logged: Vec<_> =
        world.diagnostics().into_iter().filter(|d| d.message == "session lock force-released").collect();
    let released: Vec<&ForcedRelease> = book.diagnostics.values().flatten().collect();
    world.check("L7", logged.len() == released.len(), || {
        format!("{} forced releases reached the hook, {} were logged", released.len(), logged.len())
    });
    for r in released {
        let nonce = r.owner.as_ref().map_or(0, |o| o.nonce).to_string();
        let file = r.session_file.display().to_string();
        let words = reason_words(r.reason);
        let found = logged.iter().any(|d| {
            d.level == "WARN"
                && d.field("session_file") == Some(file.as_str())
                && d.field("owner_nonce") == Some(nonce.as_str())
                && d.field("reason").is_some_and(|w| w.contains(words))
        });
        world.check("L7", found, || {
            format!(
                "no warning names the forced release of {file} (owner {nonce}, {:?}, in words {words:?}): {logged:?}",
                r.reason
            )
        });
    }
}

/// The `lock` schedule's knobs.
const PARAMS: &[ParamSpec] = &[
    ParamSpec { name: "garbage_lock", max: 2, doc: "1: a half-written lock file at the start" },
    ParamSpec {
        name: "skew",
        max: 1,
        doc: "1: the process hosts' wall clocks disagree, by up to a quarter of the takeover grace between two",
    },
    ParamSpec { name: "crowd", max: 1, doc: "1: every contender slot filled, nearly all on one session" },
    ParamSpec {
        name: "many_live_locks",
        max: 1,
        doc: "1: the quiet probe sweeps a directory of 1,100 live owners' lock files (more than a manager keeps sightings of)",
    },
    ParamSpec { name: "contenders", max: hostile::CONTENDERS_MAX, doc: "contender tasks per process" },
    ParamSpec { name: "two_managers", max: 1, doc: "1: a second lock manager in each process" },
    ParamSpec { name: "controller", max: 1, doc: "1: attempt controllers that let go for a wait" },
    ParamSpec { name: "vandal", max: 1, doc: "1: a vandal plants symlinks, FIFOs and garbage at lock paths" },
    ParamSpec {
        name: "freeze_repair",
        max: 1,
        doc: "1: the first failed append freezes its holder past max hold + grace at the repair's read",
    },
    ParamSpec {
        name: "freeze_takeover",
        max: 1,
        doc: "1: the first takeover claim freezes its claimer past claim_stale at its next read of the lock",
    },
    ParamSpec {
        name: "freeze_fingerprint",
        max: 1,
        doc: "1: a controller freezes past max hold + grace between its write and its release for a wait",
    },
    ParamSpec {
        name: "exit_cleanup",
        max: 1,
        doc: "1: processes register their holds and remove their lock files on SIGTERM before exiting",
    },
    ParamSpec {
        name: "freeze_cleanup",
        max: 1,
        doc: "1: a process's first cleanup freezes it past max hold + grace at its next read of the lock",
    },
];
