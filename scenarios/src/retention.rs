//! `retention` and its replicas (incidents 0, 1, 2; R1..R9).
//!
//! A telemetry directory on an EFS-like mount seeded with up to 55,000
//! entries (`traces-*`/`metrics-*` files of dead pids, a protected
//! `secret_access.jsonl`, names outside the allow-list, a directory named
//! like a kind, symlinks out of the root and to the protected file), and a
//! workspace root with orphan and live workspaces. The app process boots
//! repeatedly (killed and restarted); at each boot it opens its lazy
//! telemetry sinks, starts a heartbeat, and 90 s later a sweep loop
//! (telemetry sweep + orphan sweep; again after 30 s while work is left,
//! else after 10 min). A `churn` process
//! meanwhile creates and deletes files, turns files into symlinks, clones
//! new workspaces (row first), soft-deletes rows, dates files a day to ten
//! years into the future (`touch -d`), and removes the app's spool
//! directory under its running sink (`rm -rf`).
//!
//! One seed in four sweeps by core's shipped `RetentionPolicy::telemetry()`
//! (judged by its documented ceilings, written out here); one in three
//! adds hostile names (an empty middle, a name where a kind's prefix and
//! suffix overlap, live processes' plain and rotated files dated a day
//! back, a dotted name with no pid), old files rewritten under their
//! names, a `racer` process that removes a file the moment a sweep looks
//! at it, a sweep of a directory not made yet, a sink opened where a file
//! blocks its directory, a second writer on the spool sink, and spool
//! appends (and the cuts after them) that fail, some after part of the
//! line landed. One in three has a `planter` put a symlink to another
//! user's file at the path of the app's notes sink now and then (R9).
//!
//! Checkers: a watcher judges R1 on every removal that lands; the app
//! judges R3 (heartbeat lag) and R4 (every sweep examines every entry it
//! listed, and reports a failed listing as its one error) as it goes, R7
//! on every sweep of the quiet phase (oldest first, nothing deleted that
//! the ceilings did not require), and R5 for a spool record written in the
//! quiet phase; the driver judges R2, R5 (also: every spool line is a whole
//! record) and R6 at quiescence, after a quiet phase long enough for
//! ⌈excess / deletions per sweep⌉ + 1 sweeps. Which kind a name is of and
//! which pid it carries are the checkers' own readings of the documented
//! rules, never core's functions.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast_core::retention::{
    Kept, Kind, LazySink, MTIME_SKEW_MAX, OrphanPolicy, RetentionPolicy, SessionIndex, spawn_after, sweep_dir,
    sweep_orphans,
};
use steadfast_core::{BoxFuture, Env, FileKind, FsExt, FsOp};
use steadfast_sim::schedule::{ErrorRule, Event, Latency, Mount, TimedEvent};
use steadfast_sim::swarm::Swarm;
use steadfast_sim::world::{Invariant, Landed, LocalBoxFuture};
use steadfast_sim::{Expect, FaultKind, ParamSpec, Scenario, Schedule, SimRng, World};

use crate::locked as lock;

const TELEMETRY: &str = "/efs/telemetry";
const WORKSPACES: &str = "/efs/workspaces";
const OUTSIDE: &str = "/outside";
/// A spool directory of the app's own log, which an operator removes now
/// and then (`rm -rf`) while the app runs.
const SPOOL: &str = "/efs/spool";
/// A telemetry directory not made yet, outside every fault rule.
const FRESH: &str = "/fresh/telemetry";
/// The directory of the app's notes sink, at whose path a `planter` puts
/// a symlink to [`VICTIM`] now and then (R9).
const NOTES: &str = "/efs/notes";
/// A file outside every swept root that a symlink at the notes sink's path
/// points to: no write of the app's may change it (R9).
const VICTIM: &str = "/outside/victim";
/// It ends in a fragment of a line, as short as a note: a cut that
/// followed the symlink would take it.
const VICTIM_TEXT: &[u8] = b"another user's file\npartial";
const PROTECTED: &str = "secret_access.jsonl";

const INVARIANTS: &[Invariant] = &[
    Invariant {
        id: "R1",
        statement: "never deletes protected names, names outside a kind's allow-list, files of a live pid, workspaces of a live session, anything younger than the floor; never follows a symlink out of its root",
    },
    Invariant {
        id: "R2",
        statement: "after enough sweeps the per-kind count and byte ceilings hold and every orphan past the floor is gone",
    },
    Invariant { id: "R3", statement: "no step of a sweep blocks the event loop longer than a bound" },
    Invariant {
        id: "R4",
        statement: "entries vanishing or appearing mid-sweep and per-entry errors are skipped; the sweep continues",
    },
    Invariant {
        id: "R5",
        statement: "a log or telemetry file appears on first write only, and a write lands even after its directory was removed",
    },
    Invariant { id: "R6", statement: "an entry whose mtime lies in the future cannot stay past the ceilings forever" },
    Invariant {
        id: "R7",
        statement: "a sweep deletes a kind's files oldest first, and only while the kind is over a ceiling: nothing is lost that the ceilings did not require",
    },
    Invariant {
        id: "R8",
        statement: "an explicit workspace delete returns Ok only once the workspace is gone, and fails only for a cause it names",
    },
    Invariant {
        id: "R9",
        statement: "a sink never writes through a symlink at its path (the file it points to never changes), and writes again once the symlink is gone",
    },
];

const SWEEP_DURING_CHURN: &str = "a sweep step met an entry that changed under it";
const SWEEP_ERROR: &str = "a sweep step failed and the sweep went on";
const CAPPED: &str = "a sweep stopped at its cap and left work for the next";
const LARGE: &str = "a sweep over 55,000 entries";
const TOUCHED_GONE: &str = "a file dated into the future was swept";
const SPOOL_RECREATED: &str = "a sink wrote after its directory was removed";
const FRAGMENT_CUT: &str = "a sink cut the fragment a failed write left";
const UNENDED: &str = "a failed write left all of its line but the newline";
const SWAPPED: &str = "a swept directory was replaced while its sweep ran";
const NOT_UTF8_SWEPT: &str = "a file whose name is not UTF-8 was swept";
const SINK_REFUSED_SYMLINK: &str = "a sink refused a symlink planted at its path";
const LOOKED_BARE: &str = "a sweep looked itself at an entry its listing sent without attributes";
const LISTED_PLAIN: &str = "a sweep listed through an adapter without listings that carry metadata";
const RECLONED: &str = "a workspace was cloned again in place while a sweep asked about it";
const REMOVED_IN_MOVED: &str = "a removal went through the open directory after its path was swapped";
const REMOVED_BY_PATH: &str = "a sweep removed by path through an adapter without operations on an open directory";
const SOMETIMES: &[&str] = &[
    SWEEP_DURING_CHURN,
    SWEEP_ERROR,
    CAPPED,
    LARGE,
    TOUCHED_GONE,
    SPOOL_RECREATED,
    FRAGMENT_CUT,
    UNENDED,
    SWAPPED,
    NOT_UTF8_SWEPT,
    SINK_REFUSED_SYMLINK,
    LOOKED_BARE,
    LISTED_PLAIN,
    RECLONED,
    REMOVED_IN_MOVED,
    REMOVED_BY_PATH,
];

const FILES_MAX: usize = 100;
const BYTES_MAX: u64 = 20 << 10;
const AGE_FLOOR: Duration = Duration::from_secs(60);
const DELETIONS_MAX: usize = 10_000;
const WS_FLOOR: Duration = Duration::from_secs(120);
const WS_REMOVALS_MAX: usize = 10;
const BOOT_DELAY: Duration = Duration::from_secs(90);
const SWEEP_AGAIN: Duration = Duration::from_secs(30);
const SWEEP_IDLE: Duration = Duration::from_secs(600);
const HEARTBEAT: Duration = Duration::from_millis(100);
/// R3's bound: the heartbeat's lag never exceeds this.
const LAG_MS_MAX: u64 = 50;
const LARGE_ENTRIES: u64 = 55_000;
const CHAOS_MS: u64 = 240_000;
/// The quiet phase: enough for ⌈entries / deletions per sweep⌉ + 1 sweeps
/// (7 for 55,000 entries) at up to 3 ms per entry per sweep (a stat, a
/// re-stat and a delete at the mount's latencies) plus the pauses between
/// them, and a boot's delay: R2's bound.
fn quiet_ms(entries: u64, workspaces: u64) -> u64 {
    let sweeps = entries.div_ceil(DELETIONS_MAX as u64).max(workspaces.div_ceil(WS_REMOVALS_MAX as u64)) + 1;
    let per_sweep_ms = entries * 3 + workspaces * 300 + SWEEP_AGAIN.as_millis() as u64;
    RESTART_MS + BOOT_DELAY.as_millis() as u64 + WS_FLOOR.as_millis() as u64 + sweeps * per_sweep_ms
}
const RESTART_MS: u64 = 2_000;

/// The fixed core or the replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// `steadfast_core::retention`.
    Core,
    /// One file pair per process, created eagerly, no retention.
    TelemetryUnbounded,
    /// Core's sweeps, but a swept directory looked at once and never
    /// again (as core did until session 25): one renamed away and replaced
    /// mid-sweep has the replacement's entries deleted.
    FollowsSwap,
    /// Core's sweeps, but names that are not UTF-8 never seen (core until
    /// session 25 kept them as of no kind): such files grow past every
    /// ceiling.
    SkipsNonUtf8,
    /// Core's sinks, but every open follows a symlink at the path (core
    /// until session 26 appended by path): a symlink planted at a sink's
    /// path aims its writes at another file (R9).
    SinkFollowsSymlink,
}

/// The `retention` scenario for one variant.
#[derive(Debug)]
pub struct RetentionScenario {
    /// What runs.
    pub variant: Variant,
}

impl Scenario for RetentionScenario {
    fn name(&self) -> &'static str {
        match self.variant {
            Variant::Core => "retention",
            Variant::TelemetryUnbounded => "legacy/telemetry-unbounded",
            Variant::FollowsSwap => "legacy/retention-follows-swapped-dir",
            Variant::SkipsNonUtf8 => "legacy/retention-skips-non-utf8-names",
            Variant::SinkFollowsSymlink => "legacy/sink-follows-symlink",
        }
    }

    fn expect(&self) -> Expect {
        if self.variant == Variant::Core { Expect::Hold } else { Expect::Violate }
    }

    fn description(&self) -> &'static str {
        match self.variant {
            Variant::Core => {
                "core sweeps and lazy files: up to 55k entries, slow fs, concurrent change, crashes, reboots"
            }
            Variant::TelemetryUnbounded => "one file pair per process, eager create, no retention: breaks R2",
            Variant::FollowsSwap => {
                "a sweep that never looks at its directory again: one swapped mid-sweep loses the replacement's files (R1)"
            }
            Variant::SkipsNonUtf8 => {
                "a sweep that skips names that are not UTF-8: such files grow past the ceilings (R2)"
            }
            Variant::SinkFollowsSymlink => {
                "a sink that follows a symlink planted at its path: it appends to another user's file (R9)"
            }
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
        let mut s = schedule(seed);
        let flaw = match self.variant {
            Variant::FollowsSwap => Some("swap"),
            Variant::SkipsNonUtf8 => Some("non_utf8"),
            Variant::SinkFollowsSymlink => Some("planted"),
            Variant::Core | Variant::TelemetryUnbounded => None,
        };
        if flaw.is_some() {
            // No kills or power losses: a reboot's boot delay could push
            // every sweep past the chaos phase, when nothing swaps (and the
            // flaws need neither).
            s.events
                .retain(|e| !matches!(e.what, Event::Kill { .. } | Event::Restart { .. } | Event::PowerLoss { .. }));
        }
        if self.variant == Variant::SkipsNonUtf8 {
            // R2's per-sweep twin judges the quiet phase: a short chaos
            // phase (one sweep in it) brings that sooner.
            s.duration_ms = 100_000;
        }
        if self.variant == Variant::TelemetryUnbounded {
            // It never sweeps: nothing to swap under it, no names to skip;
            // it opens no sink.
            s.params.remove("swap");
            s.params.remove("non_utf8");
            s.params.remove("planted");
        }
        if let Some(flaw) = flaw {
            // Every seed has what the flaw needs, over at most 600
            // entries: it needs that, not volume (and the main job runs a
            // replica's seeds whole until caught).
            s.params.insert(flaw.into(), 1);
            let entries = s.param("entries", 100).min(600);
            s.params.insert("entries".into(), entries);
            s.quiet_ms = quiet_ms(entries, s.param("workspaces", 5) + CHAOS_MS / 7_500);
        }
        s
    }

    fn restart_after_crash_ms(&self) -> Option<u64> {
        Some(RESTART_MS)
    }

    fn run<'a>(&'a self, world: &'a World) -> LocalBoxFuture<'a, ()> {
        Box::pin(drive(world, self.variant))
    }
}

fn schedule(seed: u64) -> Schedule {
    let mut sw = Swarm::draw(seed, &["eio", "eacces", "kill", "power_loss"]);
    let mut s = Schedule::calm(seed, CHAOS_MS);
    let slow = sw.rng().range(1, 3);
    s.mounts.push(Mount {
        prefix: "/efs".into(),
        latency: vec![
            Latency { ops: vec!["read_dir".into()], ms_min: 5, ms_max: 200 },
            Latency { ops: vec![], ms_min: 0, ms_max: slow },
        ],
    });
    // `open` and `metadata`: a sweep's open of its directory and its look
    // through the handle before the listing.
    let ops = ["symlink_metadata", "remove_file", "remove_dir_all", "read_dir", "open", "metadata"]
        .map(String::from)
        .to_vec();
    for (kind, fault) in [("eio", FaultKind::Eio), ("eacces", FaultKind::Eacces)] {
        if sw.on(kind) {
            let p = sw.rate(kind) * 0.05;
            s.errors.push(ErrorRule {
                ops: ops.clone(),
                path_prefix: Some("/efs".into()),
                error: fault,
                nth: None,
                probability: Some(p),
                while_renaming: false,
            });
        }
    }
    let (kill, power) = (sw.on("kill"), sw.on("power_loss"));
    let rng = sw.rng();
    for _ in 0..u64::from(kill) * rng.range(1, 3) {
        let at_ms = rng.range(1_000, CHAOS_MS - RESTART_MS - 1);
        s.events.push(TimedEvent { at_ms, what: Event::Kill { node: "app".into() } });
        s.events.push(TimedEvent {
            at_ms: at_ms + RESTART_MS,
            what: Event::Restart { node: "app".into(), reuse_pid: false },
        });
    }
    if power {
        let at_ms = rng.range(1_000, CHAOS_MS - 1);
        s.events.push(TimedEvent { at_ms, what: Event::PowerLoss { torn: false, restart_after_ms: Some(RESTART_MS) } });
    }
    // One seed in a hundred runs the incident's full 55,000 entries.
    let entries = if seed % 100 == 42 { LARGE_ENTRIES } else { rng.range(100, 3_000) };
    let workspaces = rng.range(5, 40);
    s.params.insert("entries".into(), entries);
    s.params.insert("workspaces".into(), workspaces);
    // One seed in three gives the first workspace a big tree (a clone with
    // its build output): removing it must not stall the event loop (R3).
    let big = if rng.chance(0.33) { rng.range(200, 2_000) } else { 0 };
    s.params.insert("big_workspace_files".into(), big);
    // The churn clones about one workspace per 7.5 s of chaos.
    s.quiet_ms = quiet_ms(entries, workspaces + CHAOS_MS / 7_500);
    // Each on its own stream, so that a seed's other draws stay: one seed
    // in four sweeps by the policy core ships; one in three adds hostile
    // names (an empty middle, a name where a kind's prefix and suffix
    // overlap, rotated and dotted names of live processes dated a day back).
    if SimRng::new(seed, 0x0B57).chance(0.25) {
        s.params.insert("upstream_policy".into(), 1);
    }
    // One in four swaps a swept directory for a symlink or another
    // directory mid-sweep, and back (R1). Its own stream.
    if SimRng::new(seed, 0x5A4B).chance(0.25) {
        s.params.insert("swap".into(), 1);
    }
    // One in three has files of a kind whose names are not UTF-8 (a host
    // name in Latin-1), old and of dead pids (R2). Its own stream.
    if SimRng::new(seed, 0x0A77).chance(0.33) {
        s.params.insert("non_utf8".into(), 1);
    }
    // One in three has a `planter` put a symlink to another user's file at
    // the app's notes sink's path now and then, and take it away (R9). Its
    // own stream.
    if SimRng::new(seed, 0x51C4).chance(0.33) {
        s.params.insert("planted".into(), 1);
    }
    // One in eight meets a file server whose listings send no attributes
    // for some entries (NFS `READDIRPLUS` may omit them) and that removes
    // no entry through an open directory, one in sixteen an adapter that
    // offers no listing with metadata and no operations on an open
    // directory's entries, one in sixteen one that does not open the
    // swept directories either: the sweeps look at such entries
    // themselves, and remove by path. Their own streams.
    match SimRng::new(seed, 0x11D1).range(0, 7) {
        0 => s.params.insert("listing".into(), 1),
        1 => s.params.insert("listing".into(), if SimRng::new(seed, 0x11D2).chance(0.5) { 2 } else { 3 }),
        _ => None,
    };
    // One in four has a `recloner` clone an orphan workspace again in
    // place (its tree emptied and written anew, the directory kept) while
    // a sweep asks the index about it, whose new row the index has not
    // seen yet: only the floor, judged on a fresh look, keeps it. Its own
    // stream.
    if SimRng::new(seed, 0x2EC1).chance(0.25) {
        s.params.insert("reclone".into(), 1);
    }
    if SimRng::new(seed, 0x4057).chance(0.33) {
        s.params.insert("hostile".into(), 1);
        // A user deletes 1-3 workspaces by name in the chaos phase, and
        // every look at each, and every removal, fails half the time (an
        // NFS server timing out): a failure is no "already gone" (R8). Its
        // own stream.
        let users = SimRng::new(seed, 0xDE1E).range(1, 3);
        s.params.insert("user_deletes".into(), users);
        for u in 0..users {
            s.errors.push(ErrorRule {
                ops: vec!["symlink_metadata".into(), "remove_dir_all".into()],
                path_prefix: Some(Path::new(WORKSPACES).join(user_workspace(u))),
                error: FaultKind::Eio,
                nth: None,
                probability: Some(0.5),
                while_renaming: false,
            });
        }
        // Appends to the spool fail, some after a part of the line landed:
        // the next record must still be a line of its own (R5). So may the
        // newline a sink ends another writer's line with.
        s.errors.push(ErrorRule {
            ops: ["append", "open", "set_len", "close", "write"].map(String::from).to_vec(),
            path_prefix: Some(SPOOL.into()),
            error: FaultKind::Eio,
            nth: None,
            probability: Some(0.3),
            while_renaming: false,
        });
    }
    s
}

/// Give `record` to a spool sink, booked as given; if the write failed
/// after all but its newline landed, booked as a fragment the next write
/// must cut (R5), never a line.
async fn spool_write(world: &World, book: &SharedBook, sink: &LazySink, record: String) -> std::io::Result<()> {
    let path = sink.path().to_path_buf();
    lock(book).spooled.entry(path.clone()).or_default().insert(record.clone());
    let wrote = sink.write_line(&record).await;
    if wrote.is_err() && world.peek_file(&path).is_ok_and(|b| b.ends_with(record.as_bytes())) {
        world.reach(UNENDED);
        lock(book).unended.entry(path).or_default().insert(record);
    }
    wrote
}

// ----- the book -------------------------------------------------------------

#[derive(Default)]
struct Book {
    /// Telemetry names to their creation time (virtual ms); a name not
    /// here was made at setup (0), as every one of the up to 55,000 setup
    /// entries is. Booked before the write is issued ([`Book::book_created`]).
    created_ms: BTreeMap<String, u64>,
    /// Per name, the creation booked before the last one, until the last
    /// one's write lands: a write that landed in the swapper's replacement
    /// restores it ([`Book::unbook_created`]).
    created_before: BTreeMap<String, Option<u64>>,
    /// Names that became symlinks, and when (virtual time; zero at setup).
    symlinks: BTreeMap<String, Duration>,
    /// When a sweep last looked at each telemetry name (a stat by the app
    /// that landed): a symlink put in place between that look and the
    /// sweep's removal is a race no unlink by path can see (R1).
    looked_at: BTreeMap<String, Duration>,
    /// Power losses (virtual ms): an unsynced symlink made before one may
    /// be a file again after it.
    power_losses: Vec<u64>,
    /// Workspaces to their clone time (virtual ms).
    ws_created_ms: BTreeMap<String, u64>,
    /// Live session rows.
    rows: BTreeSet<String>,
    /// The app's note in the quiet phase landed (R9's progress twin).
    quiet_note: bool,
    /// Lazy sinks: path to whether anything was written.
    sinks: BTreeMap<PathBuf, bool>,
    /// The app's last listing of each swept directory: did it succeed?
    listings: BTreeMap<PathBuf, bool>,
    /// Per swept directory, the app's per-entry operations since its sweep
    /// began that failed with an injected error or on an entry that is
    /// there (a sweep's `errors`), and on one that is gone (`changed`).
    entry_failures: BTreeMap<PathBuf, (usize, usize)>,
    /// Sweeps completed.
    sweeps: u64,
    /// When the last completed sweep started (virtual ms): R2 judges what
    /// was eligible then.
    last_sweep_ms: u64,
    /// Files dated into the future (`touch -d`), and when (virtual ms).
    touched: BTreeMap<String, u64>,
    /// Times a removal of the spool directory started (virtual ms).
    spool_removed: Vec<u64>,
    /// Times such a removal's effect landed (virtual ms): a file planted
    /// before one may be gone.
    spool_removals_landed: Vec<u64>,
    /// Files the racer wrote where a workspace was (an upper bound: some
    /// writes may fail).
    racer_files: usize,
    /// Records whose write to a spool file failed after all but the
    /// newline landed: fragments a later write must cut, never lines.
    unended: BTreeMap<PathBuf, BTreeSet<String>>,
    /// Every record the app gave a spool sink, by file.
    spooled: BTreeMap<PathBuf, BTreeSet<String>>,
    /// An unterminated line longer than any fragment a sink leaves, put at
    /// the end of a spool file before its sink opened (a previous writer's),
    /// and when (virtual ms).
    foreign: BTreeMap<PathBuf, (String, u64)>,
    /// The swept directories (telemetry, workspaces), as the app's sweeps
    /// and the swapper saw them.
    roots: BTreeMap<PathBuf, RootBook>,
    /// The swept directory whose sweep is running (the racer looks every
    /// millisecond during a workspace sweep).
    sweeping: Option<&'static str>,
    /// When each sweep of each swept directory started (virtual ms): the
    /// swapper aims at one.
    sweep_starts: BTreeMap<&'static str, Vec<u64>>,
    /// When the sweep loop's next round starts (virtual ms), once its
    /// first is done: the replica's swapper aims at it.
    next_sweep_ms: Option<u64>,
    /// The workspace whose session row the index is being asked about.
    looking_up: Option<String>,
    /// When a row written late becomes visible to lookups (virtual ms):
    /// the index lags the writes (a replica, a cache).
    row_visible_ms: BTreeMap<String, u64>,
    /// The directory a sweep listed, by the handle it opened on it before
    /// the listing (handle id to identity; only where the looks before and
    /// after the listing found the same directory): a removal through the
    /// handle goes there, even one that lands after a later sweep listed
    /// the root again, or after its process died and the handle closed.
    listed_through: BTreeMap<u64, u64>,
}

/// One swept directory, for R1's check that a sweep removes only in the
/// directory it listed.
#[derive(Default)]
struct RootBook {
    /// A sweep of it started and has not looked at it yet: its next look
    /// is the one before its listing.
    starting: bool,
    /// What the look before the listing found: a directory's identity.
    before_listing: Option<u64>,
    /// The handle that look went through, if the sweep opened one.
    handle: Option<u64>,
    /// The app listed it and has not looked at it since: its next look is
    /// the sweep's look at what it listed.
    awaiting: bool,
    /// The identity of the directory the sweep listed (the same before and
    /// after its listing).
    listed_id: Option<u64>,
    /// When a sweep last looked at it before a removal (virtual time),
    /// until a removal in it lands.
    looked_at: Option<Duration>,
    /// When the swapper last replaced it (virtual time).
    swapped_at: Option<Duration>,
    /// The swapper's replacement is in its place (or was, until a power
    /// loss undid it).
    swapped: bool,
    /// The identity of the directory made at setup.
    original_id: u64,
    /// The app's removals in it that landed.
    removals: u64,
}

type SharedBook = Arc<Mutex<Book>>;

impl Book {
    /// Book `name` as created at `ms` (its write about to be issued).
    fn book_created(&mut self, name: &str, ms: u64) {
        let before = self.created_ms.insert(name.to_string(), ms);
        self.created_before.insert(name.to_string(), before);
    }

    /// The write booked last for `name` landed elsewhere: its creation here
    /// is the one booked before.
    fn unbook_created(&mut self, name: &str) {
        match self.created_before.remove(name) {
            Some(Some(ms)) => self.created_ms.insert(name.to_string(), ms),
            Some(None) => self.created_ms.remove(name),
            None => None,
        };
    }

    /// Count a sweep step under `dir` that failed (`error`) or found its
    /// entry gone or replaced (a change): what R4 expects the report to say.
    fn count_step(&mut self, dir: &Path, error: bool) {
        let counts = self.entry_failures.entry(dir.to_path_buf()).or_default();
        if error {
            counts.0 += 1;
        } else {
            counts.1 += 1;
        }
    }
}

/// The seed sweeps by the policy core ships (`upstream_policy`).
fn upstream_policy(s: &Schedule) -> bool {
    s.param("upstream_policy", 0) == 1
}

/// The seed adds the hostile names, processes and faults (`hostile`).
fn hostile(s: &Schedule) -> bool {
    s.param("hostile", 0) == 1
}

fn planted(s: &Schedule) -> bool {
    s.param("planted", 0) == 1
}

/// The policy the checkers judge by: tight byte ceilings, so that they
/// bind; or, in the seeds the schedule says (`upstream_policy`), upstream's
/// telemetry policy as core documents it (100 files and 50 MiB a kind),
/// written out here, not read from core. Either way two kinds that may
/// not be kept at all past the floor: audit files (what a date in the
/// future would exempt is plain to see, R6), and rotated span files,
/// whose prefix and suffix overlap (`spans.` and `.jsonl`: `spans.jsonl`
/// is the live file, not one of the kind).
fn policy(s: &Schedule) -> RetentionPolicy {
    let upstream = upstream_policy(s);
    let (files_max, bytes_max) = if upstream { (100, 50 << 20) } else { (FILES_MAX, BYTES_MAX) };
    let kind = |prefix: &str, files_max, bytes_max| Kind {
        prefix: prefix.into(),
        suffix: ".jsonl".into(),
        files_max,
        bytes_max,
    };
    RetentionPolicy {
        kinds: vec![
            kind("traces-", files_max, bytes_max),
            kind("metrics-", files_max, bytes_max),
            kind("audit-", 0, 0),
            kind("spans.", 0, 0),
        ],
        protected: vec![PROTECTED.into()],
        age_floor: AGE_FLOOR,
        deletions_max: DELETIONS_MAX,
    }
}

/// The policy the app sweeps by: the checkers' one, except that the
/// upstream seeds take core's `RetentionPolicy::telemetry()` (plus the two
/// kinds of ceiling zero), as a service would.
fn swept_by(s: &Schedule) -> RetentionPolicy {
    let mut p = policy(s);
    if upstream_policy(s) {
        let extra = p.kinds.split_off(2);
        p = RetentionPolicy::telemetry();
        p.kinds.extend(extra);
    }
    p
}

/// The kind a name belongs to, read from the policy's data by the
/// checker itself (`<prefix>*<suffix>`, the middle possibly empty), never
/// by core's `Kind::matches`: a checker that calls the code it judges
/// agrees with every mutant of it.
fn kind_of(policy: &RetentionPolicy, name: impl AsRef<OsStr>) -> Option<(usize, &Kind)> {
    // By bytes: a name need not be UTF-8 to be of a kind.
    let name = name.as_ref().as_encoded_bytes();
    policy.kinds.iter().enumerate().find(|(_, k)| {
        name.len() >= k.prefix.len() + k.suffix.len()
            && name.starts_with(k.prefix.as_bytes())
            && name.ends_with(k.suffix.as_bytes())
    })
}

/// The pid a name of `kind` carries, as core documents it (the last
/// `-`-separated segment before the suffix, rotation segments `.<digits>`
/// dropped), read by the checker itself for the same reason.
fn pid_in(name: impl AsRef<OsStr>, kind: &Kind) -> Option<u32> {
    let mut stem = name.as_ref().as_encoded_bytes().strip_suffix(kind.suffix.as_bytes())?;
    while let Some(dot) = stem.iter().rposition(|&b| b == b'.') {
        let tail = &stem[dot + 1..];
        if tail.is_empty() || !tail.iter().all(u8::is_ascii_digit) {
            break;
        }
        stem = &stem[..dot];
    }
    let dash = stem.iter().rposition(|&b| b == b'-')?;
    std::str::from_utf8(&stem[dash + 1..]).ok()?.parse().ok()
}

/// R1 on every removal that lands (the churn process's own deletes are
/// the concurrent change, not the sweep's).
fn watcher(book: SharedBook, policy: RetentionPolicy) -> steadfast_sim::world::Watcher {
    Box::new(move |l: &mut Landed<'_>| {
        if let (FsOp::SetLen { .. }, true) = (l.op, l.ok) {
            l.reach(FRAGMENT_CUT);
        }
        // R9: the app opens nothing to write, and appends to nothing by
        // path, through a symlink at the path (a symlink stays one; what it
        // points to took the write). Only sinks append.
        let written = match l.op {
            FsOp::Open { path, mode } if mode.writes() => Some((path, format!("opened to write ({mode:?})"))),
            FsOp::Append { path, .. } => Some((path, "appended to".to_string())),
            _ => None,
        };
        if let (Some((path, how)), "app", true) = (written, l.node, l.ok)
            && l.metadata(path).is_some_and(|m| m.kind == FileKind::Symlink)
        {
            l.check("R9", false, || format!("{} was {how} through the symlink at it", path.display()));
            return;
        }
        if let FsOp::RemoveDirAll(p) = l.op
            && p == Path::new(SPOOL)
        {
            // Landed, whether or not it failed (it may have removed some).
            lock(&book).spool_removals_landed.push(l.at.as_millis() as u64);
        }
        if let (FsOp::ReadDir(dir) | FsOp::ReadDirMetadata(dir), "app") = (l.op, l.node) {
            let mut b = lock(&book);
            b.listings.insert(dir.clone(), l.ok);
            if l.ok
                && let Some(root) = b.roots.get_mut(dir)
            {
                root.awaiting = true;
            }
            return;
        }
        // A sweep's open of its directory that failed on an entry that is
        // there (a symlink, a fault) is its one error, and the sweep ends
        // (one that found nothing is "nothing to sweep"); one that opened
        // is looked at through its handle next.
        if let (FsOp::Open { path: p, .. }, "app", false) = (l.op, l.node, l.ok)
            && lock(&book).roots.contains_key(p)
        {
            let mut b = lock(&book);
            let Some(root) = b.roots.get_mut(p) else { return };
            if std::mem::take(&mut root.starting) && (l.injected || l.exists(p)) {
                b.listings.insert(p.clone(), false);
            }
            return;
        }
        // A look at a swept directory: by its path, or (the one before the
        // listing) through the handle the sweep opened on it.
        let root_look = match (l.op, l.node) {
            (FsOp::SymlinkMetadata(p), "app") => Some((p.as_path(), false)),
            (FsOp::HandleMetadata(h), "app") => Some((&*h.path, true)),
            _ => None,
        };
        if let Some((p, by_handle)) = root_look
            && lock(&book).roots.contains_key(p)
        {
            let mut b = lock(&book);
            let dir = l.stat().filter(|m| m.kind == FileKind::Dir).map(|m| m.id);
            // A look that found no directory there (a symlink, anything
            // else) or failed on an entry that is there; a look that found
            // nothing is "nothing to sweep" (a handle's look always finds
            // what it opened).
            let bad = dir.is_none() && (by_handle || l.ok || l.injected || l.exists(p));
            let Some(root) = b.roots.get_mut(p) else { return };
            if std::mem::take(&mut root.starting) {
                // The look before the listing: one error for the sweep.
                root.before_listing = dir;
                root.handle = match l.op {
                    FsOp::HandleMetadata(h) => Some(h.id),
                    _ => None,
                };
                if bad {
                    b.listings.insert(p.to_path_buf(), false);
                }
            } else if std::mem::take(&mut root.awaiting) {
                // The look after it: the same directory is what the sweep
                // sweeps; anything else is its listing's one error.
                root.listed_id = dir.filter(|id| Some(*id) == root.before_listing);
                let (through, failed) =
                    (root.handle.zip(root.listed_id), root.listed_id.is_none() && (bad || dir.is_some()));
                if failed {
                    b.listings.insert(p.to_path_buf(), false);
                }
                if let Some((h, id)) = through {
                    b.listed_through.insert(h, id);
                }
            } else if l.ok && dir.is_some() && dir == root.listed_id {
                root.looked_at = Some(l.at);
            } else {
                // A removal's look that found the directory failed or
                // replaced: that entry's error (and the sweep stops).
                root.looked_at = None;
                b.count_step(p, true);
            }
            return;
        }
        // A step on an entry that failed; in the open directory, where the
        // step went through it (the entry is there or not wherever that
        // directory is now).
        let failed_step = match (l.op, l.node, l.ok) {
            (FsOp::SymlinkMetadata(p) | FsOp::RemoveFile(p) | FsOp::RemoveDirAll(p), "app", false) => {
                Some((p, l.exists(p)))
            }
            (FsOp::StatAt { dir, path } | FsOp::RemoveFileAt { dir, path }, "app", false) => {
                Some((path, l.exists_at(dir, path)))
            }
            _ => None,
        };
        if let Some((p, there)) = failed_step
            && let Some(dir) = p.parent()
            && p.file_name() != Some(NEVER_MADE.as_ref())
        {
            // An injected error is an error even where the entry just
            // vanished; otherwise a missing entry is a change.
            lock(&book).count_step(dir, l.injected || there);
        }
        // A workspace sweep's stat that found its entry replaced by
        // something that is no directory (the racer): a change, as one
        // that found it gone. So is a telemetry sweep's that found no file
        // (a planted symlink): what it lists are files, or nothing to
        // delete.
        // Every sweep's look at a telemetry name is booked for R1 too.
        if let (FsOp::SymlinkMetadata(p) | FsOp::StatAt { path: p, .. }, "app", true) = (l.op, l.node, l.ok)
            && let (Some(dir), name, plain) = match steadfast_sim::schedule::split_plain(p) {
                // Every path a sweep stats is plain: read at its last
                // slash, and compared by bytes (a tenth of the run spent
                // parsing components otherwise, on 55,000-entry seeds).
                Some((dir, name)) => (Some(dir), Some(name), true),
                None => (p.parent(), p.file_name(), false),
            }
        {
            let is = |d: &str| if plain { dir.as_os_str() == d } else { dir == Path::new(d) };
            let mut b = lock(&book);
            // A look at an entry after the sweep's look at its directory:
            // that look no longer came right before a removal.
            if let Some(r) = b.roots.get_mut(dir) {
                r.looked_at = None;
            }
            if is(TELEMETRY)
                && let Some(n) = name.and_then(|n| n.to_str())
            {
                // Each name is looked at by every sweep: no new key then.
                match b.looked_at.get_mut(n) {
                    Some(at) => *at = l.at,
                    None => {
                        b.looked_at.insert(n.to_string(), l.at);
                    }
                }
            }
            if let Some(wanted) = [(WORKSPACES, FileKind::Dir), (TELEMETRY, FileKind::File)]
                .into_iter()
                .find_map(|(d, k)| is(d).then_some(k))
                && l.stat().is_some_and(|m| m.kind != wanted)
            {
                b.count_step(dir, false);
            }
            return;
        }
        if !l.ok {
            return;
        }
        // What each telemetry name is now, as effects land (in the
        // swapper's replacement, if it is in place: not here).
        let name = |p: &Path| p.file_name().and_then(|n| n.to_str()).map(String::from);
        let outside = |b: &Book, p: &Path| {
            p.parent()
                .and_then(|d| Some((d, b.roots.get(d)?)))
                .is_some_and(|(d, r)| l.metadata(d).is_none_or(|m| m.kind != FileKind::Dir || m.id != r.original_id))
        };
        match l.op {
            FsOp::Symlink { link, .. } => {
                let mut b = lock(&book);
                if let Some(n) = name(link)
                    && !outside(&b, link)
                {
                    b.symlinks.insert(n, l.at);
                }
                return;
            }
            FsOp::Write { path, .. } => {
                let mut b = lock(&book);
                if let Some(n) = name(path) {
                    if outside(&b, path) {
                        // Not here: the name keeps the creation it had.
                        b.unbook_created(&n);
                    } else {
                        b.symlinks.remove(&n);
                        b.created_before.remove(&n);
                    }
                }
                return;
            }
            _ if l.node == "churn" || l.node == RACER || l.node == USER => return,
            _ => {}
        }
        let (path, dir_all, open) = match l.op {
            FsOp::RemoveFile(p) => (p, false, None),
            FsOp::RemoveFileAt { dir, path } => (path, false, Some(dir)),
            FsOp::RemoveDirAll(p) => (p, true, None),
            _ => return,
        };
        let now_ms = l.at.as_millis() as u64;
        if path.file_name().is_some_and(|n| n.to_str().is_none()) {
            l.reach(NOT_UTF8_SWEPT);
        }
        let mut book = lock(&book);
        let why = if path.starts_with(OUTSIDE) {
            Some("outside the swept roots".to_string())
        } else if let Some(why) = path.parent().and_then(|dir| match open {
            Some(h) => other_open_root(&mut book, dir, h, l),
            None => moved_root(&mut book, dir, l),
        }) {
            Some(why)
        } else if dir_all {
            judge_workspace(&book, path, now_ms)
        } else {
            judge_telemetry(&book, &policy, path, l.at, |pid| l.pid_alive(pid))
        };
        l.check("R1", why.is_none(), || format!("{} was deleted: {}", path.display(), why.unwrap_or_default()));
    })
}

fn judge_telemetry(
    book: &Book,
    policy: &RetentionPolicy,
    path: &Path,
    at: Duration,
    alive: impl Fn(u32) -> bool,
) -> Option<String> {
    let now_ms = at.as_millis() as u64;
    if path.parent() != Some(Path::new(TELEMETRY)) {
        return Some("not directly in the telemetry directory".into());
    }
    let os_name = path.file_name()?;
    if os_name == PROTECTED {
        return Some("a protected name".into());
    }
    let Some((_, kind)) = kind_of(policy, os_name) else { return Some("outside the allow-list".into()) };
    if let Some(pid) = pid_in(os_name, kind)
        && alive(pid)
    {
        return Some(format!("pid {pid} is alive"));
    }
    // The book names only text names (the churn's, the app's); a name that
    // is not text was made at setup, and never became a symlink.
    let Some(name) = os_name.to_str() else {
        return (now_ms < AGE_FLOOR.as_millis() as u64).then(|| "made at setup: younger than the floor".to_string());
    };
    // A symlink put in place after the sweep's last look at the name,
    // which landed just before this removal (its re-stat, then the unlink),
    // is the one race no removal by path can close (POSIX has no "unlink
    // if still a file"); a look long before it is no re-stat at all.
    if let Some(&made) = book.symlinks.get(name)
        && (made.is_zero() || !book.power_losses.iter().any(|&t| t >= made.as_millis() as u64 && t <= now_ms))
        && !book.looked_at.get(name).is_some_and(|&looked| made > looked && at.saturating_sub(looked) <= RESTAT_WINDOW)
    {
        return Some("a symlink".into());
    }
    let created = book.created_ms.get(name).copied().unwrap_or(0);
    (now_ms < created + AGE_FLOOR.as_millis() as u64)
        .then(|| format!("created at {created} ms: younger than the floor"))
}

/// R1 for a removal that landed in `dir`: is `dir` still the directory its
/// sweep listed? A removal in a directory renamed into its place, or
/// through a symlink put there, went out of the swept root. A swap that
/// landed after the sweep's look at the directory that preceded this
/// removal, while the removal was in flight, is the one race no removal
/// by path can close; a look serves one removal.
fn moved_root(book: &mut Book, dir: &Path, l: &Landed<'_>) -> Option<String> {
    let root = book.roots.get_mut(dir)?;
    root.removals += 1;
    let looked = root.looked_at.take();
    let now = l.metadata(dir).map(|m| (m.kind, m.id));
    if now.is_some_and(|(k, id)| k == FileKind::Dir && Some(id) == root.listed_id) {
        return None;
    }
    let raced = root.swapped_at.zip(looked).is_some_and(|(swapped, looked)| swapped > looked);
    (!raced).then(|| match now {
        Some((FileKind::Symlink, _)) => {
            format!("{} is a symlink now: the removal followed it out of the swept root", dir.display())
        }
        Some((FileKind::Dir, _)) => format!("{} is another directory than the sweep listed", dir.display()),
        _ => format!("{} is not the directory the sweep listed", dir.display()),
    })
}

/// Why a removal through the handle `h` the sweep opened on `dir` was
/// not in the directory it listed, if it was not: it is wherever that
/// directory is now, so a swap of the path meanwhile changes nothing
/// (and no race is excused).
fn other_open_root(book: &mut Book, dir: &Path, h: &steadfast_core::Handle, l: &mut Landed<'_>) -> Option<String> {
    let listed = book.listed_through.get(&h.id).copied();
    // Where the handle is open now, if it still is (a handle never moves
    // to another directory: this is the one it opened).
    let open = l.handle_metadata(h).map(|m| m.id);
    let root = book.roots.get_mut(dir)?;
    root.removals += 1;
    root.looked_at = None;
    if listed.is_some() && open.is_none_or(|id| Some(id) == listed) {
        if root.swapped {
            l.reach(REMOVED_IN_MOVED);
        }
        return None;
    }
    Some(format!(
        "the directory the sweep opened as {} ({open:?}) is not one it listed through that handle ({listed:?})",
        dir.display()
    ))
}

/// The longest a sweep's re-stat of an entry may land before its removal
/// lands (two operations on `/efs`, at most 3 ms each, with room to spare).
const RESTAT_WINDOW: Duration = Duration::from_millis(10);

fn judge_workspace(book: &Book, path: &Path, now_ms: u64) -> Option<String> {
    if path.parent() != Some(Path::new(WORKSPACES)) {
        return Some("not a workspace directly under the root".into());
    }
    let name = path.file_name()?.to_str()?;
    if book.rows.contains(name) {
        return Some("its session row is live".into());
    }
    let created = book.ws_created_ms.get(name).copied().unwrap_or(0);
    (now_ms < created + WS_FLOOR.as_millis() as u64).then(|| format!("cloned at {created} ms: younger than the floor"))
}

// ----- setup ------------------------------------------------------------------

fn setup(world: &World, book: &SharedBook) {
    let s = world.schedule();
    let mut rng = world.workload_rng(0);
    let mut ops = vec![
        FsOp::CreateDirAll(TELEMETRY.into()),
        FsOp::CreateDirAll(WORKSPACES.into()),
        FsOp::CreateDirAll(OUTSIDE.into()),
        FsOp::Write { path: Path::new(OUTSIDE).join("precious"), data: b"keep".to_vec() },
        FsOp::Write { path: Path::new(TELEMETRY).join(PROTECTED), data: vec![b's'; 4096] },
        FsOp::Write { path: Path::new(TELEMETRY).join("notes.txt"), data: b"n".to_vec() },
        FsOp::Write { path: Path::new(TELEMETRY).join("traces-1.json"), data: b"x".to_vec() },
        FsOp::CreateDirAll(Path::new(TELEMETRY).join("traces-dir-9.jsonl")),
        FsOp::Symlink {
            target: Path::new(OUTSIDE).join("precious"),
            link: Path::new(TELEMETRY).join("traces-777.jsonl"),
        },
        FsOp::Symlink { target: PROTECTED.into(), link: Path::new(TELEMETRY).join("metrics-778.jsonl") },
        FsOp::Symlink { target: OUTSIDE.into(), link: Path::new(WORKSPACES).join("ws-link") },
    ];
    let mut b = lock(book);
    for root in [TELEMETRY, WORKSPACES] {
        b.roots.insert(root.into(), RootBook::default());
    }
    b.symlinks
        .extend([("traces-777.jsonl".to_string(), Duration::ZERO), ("metrics-778.jsonl".to_string(), Duration::ZERO)]);
    b.power_losses = s.events.iter().filter(|e| matches!(e.what, Event::PowerLoss { .. })).map(|e| e.at_ms).collect();
    let swap = s.param("swap", 0) == 1;
    if swap {
        ops.push(FsOp::CreateDirAll(mirror(TELEMETRY)));
    }
    if planted(s) {
        ops.push(FsOp::Write { path: VICTIM.into(), data: VICTIM_TEXT.to_vec() });
        ops.push(FsOp::CreateDirAll(NOTES.into()));
    }
    for i in 0..s.param("entries", 100) {
        // Dead pids: far above the simulator's (which start at 101).
        let name = format!("{}-{}.jsonl", if rng.chance(0.5) { "traces" } else { "metrics" }, 10_000 + i);
        if swap && i < MIRRORED {
            // What the swapper puts in the directory's place holds files
            // of the same names, as old and as deletable: files a sweep
            // that follows the swap deletes (R1).
            ops.push(FsOp::Write { path: mirror(TELEMETRY).join(&name), data: b"outside".to_vec() });
        }
        ops.push(FsOp::Write { path: Path::new(TELEMETRY).join(name), data: vec![b't'; rng.range(0, 512) as usize] });
    }
    if s.param("non_utf8", 0) == 1 {
        for i in 0..NON_UTF8_FILES {
            let mut name = b"metrics-h\xf6st-".to_vec();
            name.extend_from_slice(format!("{}.jsonl", 20_000 + i).as_bytes());
            let name = <OsString as std::os::unix::ffi::OsStringExt>::from_vec(name);
            ops.push(FsOp::Write { path: Path::new(TELEMETRY).join(name), data: vec![b'n'; 64] });
        }
    }
    if hostile(s) {
        // `traces-.jsonl` is of its kind (the middle may be empty) and
        // carries no pid; `spans.jsonl` is not of the `spans.` kind, whose
        // rotated `spans.3.jsonl` is.
        for name in ["traces-.jsonl", "spans.jsonl", "spans.3.jsonl"] {
            ops.push(FsOp::Write { path: Path::new(TELEMETRY).join(name), data: vec![b'h'; 10] });
        }
    }
    for u in 0..s.param("user_deletes", 0) {
        let name = user_workspace(u);
        ops.push(FsOp::CreateDirAll(Path::new(WORKSPACES).join(&name).join("src")));
        ops.push(FsOp::Write { path: Path::new(WORKSPACES).join(&name).join("src").join("f0"), data: vec![b'u'; 64] });
        // Its session is live: no sweep takes it before the user does.
        b.rows.insert(name.clone());
        b.ws_created_ms.insert(name, 0);
    }
    let big = s.param("big_workspace_files", 0);
    for w in 0..s.param("workspaces", 5) {
        let name = format!("ws-{w}");
        if swap {
            ops.push(FsOp::CreateDirAll(mirror(WORKSPACES).join(&name)));
            ops.push(FsOp::Write { path: mirror(WORKSPACES).join(&name).join("keep"), data: b"outside".to_vec() });
        }
        ops.push(FsOp::CreateDirAll(Path::new(WORKSPACES).join(&name).join("src")));
        let files = rng.range(1, 20);
        let files = if w == 0 && big > 0 { big } else { files };
        for f in 0..files {
            ops.push(FsOp::Write {
                path: Path::new(WORKSPACES).join(&name).join("src").join(format!("f{f}")),
                data: vec![b'w'; 64],
            });
        }
        if rng.chance(0.4) {
            b.rows.insert(name.clone());
        }
        b.ws_created_ms.insert(name, 0);
    }
    drop(b);
    world.setup(ops);
}

// ----- the workload -------------------------------------------------------------

struct Index {
    book: SharedBook,
    env: Env,
    world: World,
    /// In the hostile seeds one lookup in ten fails (the database is
    /// away): the sweep skips that workspace and counts an error (R4).
    fails: Option<Mutex<SimRng>>,
}

impl SessionIndex for Index {
    fn is_live<'a>(&'a self, workspace: &'a str) -> BoxFuture<'a, std::io::Result<bool>> {
        Box::pin(async move {
            lock(&self.book).looking_up = Some(workspace.to_string());
            self.env.clock.sleep(Duration::from_millis(5)).await;
            let mut book = lock(&self.book);
            book.looking_up = None;
            if self.fails.as_ref().is_some_and(|rng| rng.lock().unwrap_or_else(|p| p.into_inner()).chance(0.1)) {
                book.count_step(Path::new(WORKSPACES), true);
                return Err(std::io::Error::other("the session index is unavailable"));
            }
            let now_ms = self.world.now().as_millis() as u64;
            let seen = book.row_visible_ms.get(workspace).is_none_or(|&at| at <= now_ms);
            Ok(seen && book.rows.contains(workspace))
        })
    }
}

async fn drive(world: &World, variant: Variant) {
    let book: SharedBook = Arc::default();
    setup(world, &book);
    for (root, r) in &mut lock(&book).roots {
        if let Ok(steadfast_core::FsOutput::Metadata(m)) = world.peek(FsOp::SymlinkMetadata(root.clone())) {
            r.original_id = m.id;
        }
    }
    world.watch("/", watcher(book.clone(), policy(world.schedule())));
    if world.schedule().param("entries", 0) >= LARGE_ENTRIES {
        world.reach(LARGE);
    }
    let b = book.clone();
    world.add_node("app", move |w| {
        let book = b.clone();
        async move { app(w, book, variant).await }
    });
    let b = book.clone();
    let n = Arc::new(AtomicU64::new(0));
    world.add_node("churn", move |w| {
        let (book, stream) = (b.clone(), n.fetch_add(1, Ordering::Relaxed));
        async move { churn(w, book, stream).await }
    });
    if hostile(world.schedule()) {
        let b = book.clone();
        world.add_node(RACER, move |w| {
            let book = b.clone();
            async move { racer(w, book).await }
        });
    }
    if world.schedule().param("user_deletes", 0) > 0 {
        world.add_node(USER, user_deletes);
    }
    if planted(world.schedule()) {
        world.add_node(PLANTER, planter);
    }
    if world.schedule().param("reclone", 0) == 1 {
        let b = book.clone();
        world.add_node(RECLONER, move |w| {
            let book = b.clone();
            async move { recloner(w, book).await }
        });
    }
    if world.schedule().param("swap", 0) == 1 {
        swapper(world, &book, variant).await;
    }
    world.sleep_until(world.quiet_end()).await;
    final_checks(world, &book);
}

async fn app(world: World, book: SharedBook, variant: Variant) {
    let mut env = world.env();
    let listing = world.schedule().param("listing", 0);
    if listing > 0 {
        let rng = Mutex::new(world.workload_rng(0x11D1));
        env.fs = Arc::new(BareListing {
            inner: env.fs.clone(),
            world: world.clone(),
            plain: listing >= 2,
            no_dir_handles: listing == 3,
            rng,
            bare: Mutex::default(),
        });
    }
    if matches!(variant, Variant::FollowsSwap | Variant::SkipsNonUtf8 | Variant::SinkFollowsSymlink) {
        env.fs = Arc::new(LegacyFs { inner: env.fs.clone(), variant, seen: Mutex::default() });
    }
    let pid = env.procs.own_pid();
    // The process's own telemetry pair, through lazy sinks (the replica
    // creates both eagerly and never sweeps).
    let traces = Path::new(TELEMETRY).join(format!("traces-{pid}.jsonl"));
    let metrics = Path::new(TELEMETRY).join(format!("metrics-{pid}.jsonl"));
    if variant == Variant::TelemetryUnbounded {
        for p in [&traces, &metrics] {
            let _ = env.fs.write(p, Vec::new()).await;
            lock(&book).sinks.insert(p.clone(), false);
        }
        return heartbeat(&world, &env).await;
    }
    // The metrics sink stays open and is never written: R5 says its file
    // never appears.
    let (Ok(t), Ok(_metrics_sink)) = (LazySink::open(&env, &traces).await, LazySink::open(&env, &metrics).await) else {
        return;
    };
    {
        let mut b = lock(&book);
        b.sinks.insert(traces.clone(), false);
        b.sinks.insert(metrics.clone(), false);
    }
    if hostile(world.schedule()) {
        // A dotted name that carries no pid (`123.partial` is not one):
        // not live, whoever wrote it, so deletable like any old file (R7).
        dated_back(&world, &book, &env, &[format!("traces-{pid}.partial.jsonl")]).await;
    }
    let spool_path = Path::new(SPOOL).join(format!("app-{pid}.log"));
    if hostile(world.schedule()) {
        // A previous writer left a long unterminated line (no fragment of
        // this sink's): kept whole, and the first record goes on a line of
        // its own (R5).
        let len = world.workload_rng(11).range(FRAGMENT_AT_OPEN_MAX + 1, FRAGMENT_AT_OPEN_MAX + 2_000) as usize;
        let foreign = format!("{{\"legacy\":\"{}", "x".repeat(len));
        let _ = world.harness_apply(FsOp::CreateDirAll(SPOOL.into()));
        world.harness_write(&spool_path, foreign.clone().into_bytes());
        lock(&book).foreign.insert(spool_path.clone(), (foreign, world.now().as_millis() as u64));
    }
    let Ok(spool) = LazySink::open(&env, &spool_path).await else { return };
    if hostile(world.schedule()) {
        // A sink whose directory cannot be made (a file is in the way) is
        // refused when it opens, not at its first record.
        let bad = Path::new(TELEMETRY).join("notes.txt").join("sub").join("x.jsonl");
        let opened = LazySink::open(&env, &bad).await.map(|_| ());
        world.check("R5", opened.is_err(), || {
            format!("a sink at {} opened, but notes.txt is a file ({opened:?})", bad.display())
        });
    }
    let fails = hostile(world.schedule()).then(|| Mutex::new(world.workload_rng(13)));
    let index = Arc::new(Index { book: book.clone(), env: env.clone(), world: world.clone(), fails });
    let (w, b, e) = (world.clone(), book.clone(), env.clone());
    let _sweeps = spawn_after(&env, BOOT_DELAY, Box::pin(async move { sweep_loop(w, b, e, index).await }));
    let mut rng = world.workload_rng(9);
    let writes = async {
        if hostile(world.schedule()) {
            // A burst of short records on a sink of its own: a failed
            // append lands all of its line but the newline often enough
            // (one in four or five partial writes) that the fragment's cut
            // is judged (R5).
            let burst = Path::new(SPOOL).join(format!("burst-{pid}.log"));
            if let Ok(sink) = LazySink::open(&env, &burst).await {
                let mut brng = world.workload_rng(14);
                for i in 0..40 {
                    env.clock.sleep(Duration::from_millis(brng.range(20, 200))).await;
                    let _ = spool_write(&world, &book, &sink, format!("b{i}")).await;
                }
            }
        }
        for i in 0..rng.range(0, 5) {
            env.clock.sleep(Duration::from_secs(rng.range(1, 60))).await;
            if t.write_line(&format!("{{\"i\":{i}}}")).await.is_ok() {
                lock(&book).sinks.insert(traces.clone(), true);
            }
            let _ = spool_write(&world, &book, &spool, format!("chaos {i}")).await;
        }
        // In the quiet phase (no faults, no churn) a record lands, though
        // an operator may have removed the spool directory meanwhile (R5).
        world.sleep_until(world.chaos_end() + Duration::from_secs(5)).await;
        if hostile(world.schedule()) {
            // The explicit delete of a workspace a user names: a name that
            // is not one plain component is refused, and nothing goes
            // (`..` would be the whole volume).
            let there = || [WORKSPACES, SPOOL].map(|d| world.peek_dir(Path::new(d)).is_ok());
            for name in ["", ".", "..", "../spool", "a/b", "/efs"] {
                let before = there();
                let r = steadfast_core::retention::delete_workspace_blocking(&env, Path::new(WORKSPACES), name);
                let after = there();
                let refused = matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::InvalidInput);
                world.check("R1", refused && before == after, || {
                    format!("deleting the workspace named {name:?} returned {r:?}; the workspace root and the spool were there {before:?}, are {after:?}")
                });
            }
            // One that is not there is deleted already: done, not an error.
            let r = steadfast_core::retention::delete_workspace_blocking(&env, Path::new(WORKSPACES), NEVER_MADE);
            world.check("R4", r.is_ok(), || format!("deleting a workspace that was never made returned {r:?}"));
        }
        let line = format!("quiet {pid}");
        let wrote = spool_write(&world, &book, &spool, line.clone()).await;
        let held = world.peek_file(&spool_path).map(|b| String::from_utf8_lossy(&b).lines().any(|l| l == line));
        let removed = lock(&book).spool_removed.clone();
        if wrote.is_ok() && !removed.is_empty() {
            world.reach(SPOOL_RECREATED);
        }
        world.check("R5", wrote.is_ok() && matches!(held, Ok(true)), || {
            format!(
                "a record to {} failed in the quiet phase ({wrote:?}, file: {held:?}); the spool directory was removed at {removed:?} ms",
                spool_path.display()
            )
        });
        std::future::pending::<()>().await
    };
    // In the hostile seeds a second writer shares the spool sink, so that
    // writes wait their turn (and a cut never races an append).
    let mut side_rng = world.workload_rng(10);
    let side = async {
        // Short records, often: an append that failed may have landed all
        // of its line but the newline (the longest fragment a sink cuts).
        let n = if hostile(world.schedule()) { side_rng.range(0, 24) } else { 0 };
        for j in 0..n {
            env.clock.sleep(Duration::from_millis(side_rng.range(0, 10_000))).await;
            let _ = spool_write(&world, &book, &spool, format!("s{j}")).await;
        }
        std::future::pending::<()>().await
    };
    let notes = async {
        if planted(world.schedule()) {
            notes(&world, &book, &env, pid).await;
        }
        std::future::pending::<()>().await
    };
    futures_join(writes, futures_join(side, futures_join(notes, heartbeat(&world, &env)))).await;
}

/// The notes sink's file, at whose path the planter puts a symlink.
fn notes_path() -> PathBuf {
    Path::new(NOTES).join("app.log")
}

/// R9: notes through a sink while the planter puts a symlink to another
/// user's file at its path and takes it away; in the quiet phase (the
/// symlink gone for good) a note lands. The watcher judges every open and
/// append. A third of the notes are aimed at: a symlink is put in place
/// while the note's open (or append) is on its way, so that a sink that
/// looks first and then writes by path writes through it.
async fn notes(world: &World, book: &SharedBook, env: &Env, pid: u32) {
    let path = notes_path();
    let Ok(sink) = LazySink::open(env, &path).await else { return };
    let (mut rng, mut aims) = (world.workload_rng(15), world.workload_rng(16));
    while world.now() < world.chaos_end() {
        env.clock.sleep(Duration::from_millis(rng.range(200, 3_000))).await;
        let note = format!("note {} of {pid}", world.now().as_millis());
        let aimed = aims.chance(0.33) && world.now() + Duration::from_secs(1) < world.chaos_end();
        let done = std::cell::Cell::new(false);
        let write = async {
            let wrote = sink.write_line(&note).await;
            done.set(true);
            wrote
        };
        let aim = async {
            while aimed && !done.get() {
                let on_its_way = |op| world.in_flight(op, |p: &Path| p == path) > 0;
                if on_its_way("open") || on_its_way("append") {
                    plant(world);
                    return;
                }
                world.sleep_until(world.now() + Duration::from_micros(100)).await;
            }
        };
        if let (Err(e), ()) = crate::join2(write, aim).await
            && e.raw_os_error() == Some(steadfast_core::fs::ELOOP)
        {
            world.reach(SINK_REFUSED_SYMLINK);
        }
    }
    world.sleep_until(world.chaos_end() + Duration::from_secs(5)).await;
    let line = format!("quiet note of {pid}");
    let wrote = sink.write_line(&line).await;
    let held = world.peek_file(&path).map(|b| String::from_utf8_lossy(&b).lines().any(|l| l == line));
    let landed = wrote.is_ok() && matches!(held, Ok(true));
    lock(book).quiet_note |= landed;
    world.check("R9", landed, || {
        format!(
            "a note to {} failed in the quiet phase, with no symlink at its path ({wrote:?}, file: {held:?})",
            path.display()
        )
    });
}

/// A symlink to [`VICTIM`] at the notes sink's path (the sink's file
/// removed first, as a hostile user of the directory can), made durable.
fn plant(world: &World) {
    let path = notes_path();
    match kind_at(world, &path) {
        Some(FileKind::Symlink) => return,
        Some(_) => {
            let _ = world.harness_apply(FsOp::RemoveFile(path.clone()));
        }
        None => {}
    }
    let _ = world.harness_apply(FsOp::Symlink { target: VICTIM.into(), link: path });
    let _ = world.harness_apply(FsOp::SyncDir(NOTES.into()));
}

/// The planter's symlink taken away, if it is there, made durable.
fn unplant(world: &World) {
    let path = notes_path();
    if kind_at(world, &path) == Some(FileKind::Symlink) {
        let _ = world.harness_apply(FsOp::RemoveFile(path));
        let _ = world.harness_apply(FsOp::SyncDir(NOTES.into()));
    }
}

/// What the entry at `path` is now (a final symlink not followed), if
/// there is one: the world's answer, outside every process.
fn kind_at(world: &World, path: &Path) -> Option<FileKind> {
    match world.peek(FsOp::SymlinkMetadata(path.into())) {
        Ok(steadfast_core::FsOutput::Metadata(m)) => Some(m.kind),
        _ => None,
    }
}

/// The node that plants a symlink at the notes sink's path (R9).
const PLANTER: &str = "planter";

/// Puts a symlink to [`VICTIM`] at the notes sink's path (removing the
/// sink's file first, as a hostile user of the directory can), takes it
/// away a few seconds later, and again, through the chaos phase; in half
/// the seeds it is there before the app's first note. At the chaos
/// phase's end it is taken away for good. Every change is made durable,
/// so a power loss neither keeps nor brings back a symlink it did not
/// mean.
async fn planter(world: World) {
    let mut rng = world.workload_rng(0x51C4);
    let mut plant_now = rng.chance(0.5);
    while world.now() < world.chaos_end() {
        if plant_now {
            plant(&world);
        } else {
            unplant(&world);
        }
        plant_now = !plant_now;
        let next = world.now() + Duration::from_millis(rng.range(1_000, 20_000));
        world.sleep_until(next.min(world.chaos_end())).await;
    }
    unplant(&world);
}

/// Both futures, forever (neither ends).
async fn futures_join(a: impl std::future::Future<Output = ()>, b: impl std::future::Future<Output = ()>) {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    std::future::poll_fn(|cx| {
        let _ = a.as_mut().poll(cx);
        let _ = b.as_mut().poll(cx);
        std::task::Poll::<()>::Pending
    })
    .await
}

/// R3: the event loop's heartbeat lag stays under the bound (a loop meant
/// to run forever: it ends with its node).
async fn heartbeat(world: &World, env: &Env) {
    loop {
        let before = env.clock.now();
        env.clock.sleep(HEARTBEAT).await;
        let lag = env.clock.now().saturating_since(before).saturating_sub(HEARTBEAT);
        let lag_ms = lag.as_millis() as u64;
        world.check("R3", lag_ms <= LAG_MS_MAX, || {
            format!("the event loop stalled {lag_ms} ms (bound {LAG_MS_MAX} ms)")
        });
    }
}

async fn sweep_loop(world: World, book: SharedBook, env: Env, index: Arc<Index>) {
    let (policy, swept_by) = (policy(world.schedule()), swept_by(world.schedule()));
    let orphans = OrphanPolicy { age_floor: WS_FLOOR, removals_max: WS_REMOVALS_MAX };
    loop {
        let started_ms = world.now().as_millis() as u64;
        // R7 is judged on the sweeps of the quiet phase, where nothing but
        // the sweep deletes (the churn has stopped, no fault fires).
        let quiet = world.now() >= world.chaos_end() + QUIET_SETTLE;
        let before = quiet.then(|| Seen::telemetry(&world, &policy, env.clock.wall()));
        lock(&book).entry_failures.clear();
        started(&book, TELEMETRY, started_ms);
        let r = sweep_dir(&env, Path::new(TELEMETRY), &swept_by).await;
        lock(&book).sweeping = None;
        check_report(&world, &book, Path::new(TELEMETRY), &r);
        if let Some((before, links)) = before {
            judge_minimal(&world, &policy, &before, &r);
            let kept = r.kept.get(&Kept::Symlink).copied().unwrap_or(0);
            world.check("R4", kept == links, || {
                format!("a quiet sweep found {links} symlinks named like a kind, but reported {kept} kept as symlinks")
            });
        }
        started(&book, WORKSPACES, world.now().as_millis() as u64);
        let o = sweep_orphans(&env, Path::new(WORKSPACES), &*index, &orphans).await;
        lock(&book).sweeping = None;
        check_report(&world, &book, Path::new(WORKSPACES), &o);
        // The workspace root holds directories, one symlink and the files
        // the racer left where workspaces were: nothing else there is of no
        // kind, and a capped sweep says so.
        let (not_a_kind, racer_files) = (o.kept.get(&Kept::NotAKind).copied().unwrap_or(0), lock(&book).racer_files);
        world.check("R4", not_a_kind <= racer_files, || {
            format!("the workspace sweep kept {not_a_kind} entries as of no kind ({racer_files} files planted): {o:?}")
        });
        if hostile(world.schedule()) {
            // A directory not made yet (a fresh install): nothing to do,
            // and nothing failed.
            let m = sweep_dir(&env, Path::new(FRESH), &swept_by).await;
            check_report(&world, &book, Path::new(FRESH), &m);
        }
        // Work left (a cap reached, something deleted) or the quiet phase,
        // where R2 must converge: soon. Otherwise rarely.
        let busy =
            r.deleted > 0 || o.deleted > 0 || r.kept.contains_key(&Kept::Capped) || o.kept.contains_key(&Kept::Capped);
        let to_quiet = world.chaos_end().saturating_sub(world.now());
        let idle = if to_quiet.is_zero() { SWEEP_AGAIN } else { SWEEP_IDLE.min(to_quiet) };
        let pause = if busy { SWEEP_AGAIN } else { idle };
        {
            let mut b = lock(&book);
            b.sweeps += 1;
            b.last_sweep_ms = started_ms;
            b.next_sweep_ms = Some((world.now() + pause).as_millis() as u64);
        }
        env.clock.sleep(pause).await;
    }
}

/// Book that a sweep of `dir` starts now (`at_ms`).
fn started(book: &SharedBook, dir: &'static str, at_ms: u64) {
    let mut b = lock(book);
    if let Some(r) = b.roots.get_mut(Path::new(dir)) {
        (r.starting, r.awaiting) = (true, false);
    }
    b.sweeping = Some(dir);
    b.sweep_starts.entry(dir).or_default().push(at_ms);
}

/// After the chaos phase ends, the churn's last operation lands within
/// this (its slowest is a 200 ms listing).
const QUIET_SETTLE: Duration = Duration::from_secs(5);

/// A telemetry file as a quiet sweep found it, read by the checker.
struct Seen {
    name: OsString,
    /// Its kind's index in the policy.
    kind: usize,
    len: u64,
    /// What its age counts from (R6's rule: its mtime, unless that lies
    /// more than the skew bound ahead; then its ctime; capped at now).
    ages_from: std::time::SystemTime,
    /// Deletable when the sweep started: old enough, no live pid.
    deletable: bool,
}

impl Seen {
    /// Every file of a kind directly in the telemetry directory, as of
    /// `now` (the wall clock), and how many symlinks there are named like
    /// a kind (a sweep keeps each as a symlink, never following it).
    fn telemetry(world: &World, policy: &RetentionPolicy, now: std::time::SystemTime) -> (Vec<Seen>, usize) {
        let live = live_pids(world);
        let entries = telemetry_entries(world);
        let links = entries
            .iter()
            .filter(|(n, m)| m.kind == FileKind::Symlink && !policy.protected.iter().any(|p| n == p.as_str()))
            .filter(|(n, _)| kind_of(policy, n).is_some())
            .count();
        let mut out = Vec::new();
        for (name, m) in entries.iter().filter(|(_, m)| m.kind == FileKind::File) {
            let Some((kind, k)) = kind_of(policy, name) else {
                continue;
            };
            let trusted = |t: std::time::SystemTime| t <= now + MTIME_SKEW_MAX;
            let from = [m.modified, m.changed].into_iter().find(|t| trusted(*t));
            let ages_from = from.map_or(now, |t| t.min(now));
            let old = from.is_some_and(|t| now.duration_since(t).is_ok_and(|age| age >= policy.age_floor));
            let live = pid_in(name, k).is_some_and(|p| live.contains(&p));
            out.push(Seen { name: name.clone(), kind, len: m.len, ages_from, deletable: old && !live });
        }
        (out, links)
    }
}

/// The entries directly in the telemetry directory (text or not), each
/// with its `symlink_metadata` (none when the directory is missing).
fn telemetry_entries(world: &World) -> Vec<(OsString, steadfast_core::Metadata)> {
    world.peek_dir(Path::new(TELEMETRY)).unwrap_or_default()
}

/// R7 on a quiet sweep that found `before`: per kind, no file it deleted
/// is younger than a deletable file it kept (oldest first), and its last
/// deletion was needed: before it the kind was over a ceiling.
fn judge_minimal(world: &World, policy: &RetentionPolicy, before: &[Seen], r: &steadfast_core::retention::SweepReport) {
    let after: BTreeMap<OsString, u64> = telemetry_entries(world)
        .into_iter()
        .filter(|(_, m)| m.kind == FileKind::File)
        .map(|(n, m)| (n, m.len))
        .collect();
    // Its report counts what it deleted, and the bytes as it saw them
    // (nothing else changes the directory now).
    let deleted: Vec<&Seen> = before.iter().filter(|s| !after.contains_key(&s.name)).collect();
    let freed: u64 = deleted.iter().map(|s| s.len).sum();
    world.check("R4", r.deleted == deleted.len() && r.bytes_freed == freed, || {
        format!(
            "a quiet sweep deleted {} files of {freed} bytes, but reported {} of {}",
            deleted.len(),
            r.deleted,
            r.bytes_freed
        )
    });
    // What is left of each kind: (files, bytes).
    let mut left = vec![(0usize, 0u64); policy.kinds.len()];
    for (n, &len) in &after {
        if let Some((k, _)) = kind_of(policy, n) {
            left[k].0 += 1;
            left[k].1 += len;
        }
    }
    for (k, kind) in policy.kinds.iter().enumerate() {
        // Oldest first by age, then by name (a sweep's own order).
        let order = |a: &&&Seen, b: &&&Seen| (a.ages_from, &a.name).cmp(&(b.ages_from, &b.name));
        let (gone, kept): (Vec<&Seen>, Vec<&Seen>) =
            before.iter().filter(|s| s.kind == k).partition(|s| !after.contains_key(&s.name));
        // R2's progress twin, sweep by sweep: a kind over a ceiling with a
        // file the sweep may delete loses one, unless the sweep hit its cap
        // (the ceilings then converge over the sweeps R2's bound allows).
        let (files, bytes) = before.iter().filter(|s| s.kind == k).fold((0, 0), |(n, b), s| (n + 1, b + s.len));
        let over = files > kind.files_max || bytes > kind.bytes_max;
        let deletable = before.iter().filter(|s| s.kind == k && s.deletable).count();
        world.check("R2", !over || deletable == 0 || !gone.is_empty() || r.kept.contains_key(&Kept::Capped), || {
            format!(
                "a quiet sweep deleted nothing of {}*, at {files} files and {bytes} bytes (ceilings {} and {}), {deletable} of them deletable",
                kind.prefix, kind.files_max, kind.bytes_max
            )
        });
        let Some(last) = gone.iter().max_by(order) else { continue };
        if let Some(older) = kept.iter().filter(|s| s.deletable).min_by(order)
            && order(&older, &last).is_lt()
        {
            world.check("R7", false, || {
                format!(
                    "a quiet sweep deleted {:?} but kept {:?}, older and deletable ({}*)",
                    last.name, older.name, kind.prefix
                )
            });
        }
        let (count, bytes) = left[k];
        let needed = count + 1 > kind.files_max || bytes + last.len > kind.bytes_max;
        world.check("R7", needed, || {
            format!(
                "a quiet sweep deleted {:?} of {}* ({} bytes), leaving {count} files and {bytes} bytes: within the ceilings ({} files, {} bytes) without it",
                last.name, kind.prefix, last.len, kind.files_max, kind.bytes_max
            )
        });
    }
}

fn check_report(world: &World, book: &SharedBook, dir: &Path, r: &steadfast_core::retention::SweepReport) {
    let what = dir.display();
    // R3: a sweep is capped.
    let cap = if dir == Path::new(WORKSPACES) { WS_REMOVALS_MAX } else { DELETIONS_MAX };
    world.check("R3", r.deleted <= cap, || format!("the sweep of {what} deleted {} (cap {cap})", r.deleted));
    // How its listing went, as the world saw it: under /efs a failure is
    // an injected fault (the swept roots always exist), and it is the one
    // error of a sweep that examined nothing; FRESH never exists and has
    // no faults, so its sweep is empty and error-free.
    let listed_ok = lock(book).listings.remove(dir);
    if dir == Path::new(FRESH) {
        world.check("R4", listed_ok != Some(true) && *r == Default::default(), || {
            format!("the sweep of {what}, which does not exist (listing ok: {listed_ok:?}), reported {r:?}")
        });
        return;
    }
    if listed_ok == Some(false) {
        world.check("R4", r.errors == 1 && r.listed == 0 && r.examined == 0, || {
            format!("the listing of {what} failed, but the sweep reported {r:?}")
        });
    }
    // Each per-entry step that failed with an injected error, or on an
    // entry that is there, is one error; one that found its entry gone is
    // a change (the sweep also counts as changed what it found replaced,
    // which fails nothing).
    let (failed, gone) = lock(book).entry_failures.remove(dir).unwrap_or_default();
    let listing_errors = usize::from(listed_ok == Some(false));
    world.check("R4", r.errors == listing_errors + failed && r.changed >= gone, || {
        format!(
            "the sweep of {what} met {failed} failed steps (injected, or on entries that are there) and {gone} on entries gone, but reported {} errors and {} changed",
            r.errors, r.changed
        )
    });
    world.check("R4", r.examined == r.listed, || {
        format!("the {what} sweep examined {} of {} entries", r.examined, r.listed)
    });
    // Every examined entry has one outcome: deleted, kept (with its
    // reason), changed under the sweep, or an error; none is lost. A
    // listing that failed is the one error of a sweep that examined nothing.
    let kept: usize = r.kept.values().sum();
    let accounted = r.deleted + kept + r.changed + r.errors;
    let listing_failed = r.listed == 0 && r.examined == 0 && r.errors == 1 && accounted == 1;
    world.check("R4", accounted == r.examined || listing_failed, || {
        format!(
            "the {what} sweep examined {} entries but accounts for {accounted}: {} deleted, {kept} kept {:?}, {} changed, {} errors",
            r.examined, r.deleted, r.kept, r.changed, r.errors
        )
    });
    if r.changed > 0 {
        world.reach(SWEEP_DURING_CHURN);
    }
    if r.errors > 0 && r.examined == r.listed && r.listed > 0 {
        world.reach(SWEEP_ERROR);
    }
    if r.kept.contains_key(&Kept::Capped) {
        world.reach(CAPPED);
    }
}

/// Concurrent change during the chaos phase: new and deleted telemetry
/// files, a file turned into a symlink, new workspaces (row first, then
/// the clone), soft-deleted rows.
async fn churn(world: World, book: SharedBook, stream: u64) {
    let env = world.env();
    let hostile = hostile(world.schedule());
    if hostile {
        // A live process's idle files, last written a day ago: its own and
        // a rotated one. Only its liveness keeps them (R1).
        let pid = env.procs.own_pid();
        dated_back(&world, &book, &env, &[format!("metrics-{pid}.jsonl"), format!("traces-{pid}.2.jsonl")]).await;
    }
    let mut rng: SimRng = world.workload_rng(100 + stream);
    let mut n = 0u64;
    while world.now() < world.chaos_end() {
        env.clock.sleep(Duration::from_millis(rng.range(10, 3_000))).await;
        n += 1;
        let now_ms = world.now().as_millis() as u64;
        match rng.range(0, 6) {
            0 => {
                let name = format!("traces-{}.jsonl", 500_000 + stream * 10_000 + n);
                lock(&book).book_created(&name, now_ms);
                let _ = env.fs.write(Path::new(TELEMETRY).join(name), vec![b'c'; 100]).await;
            }
            1 => {
                let name = format!(
                    "{}-{}.jsonl",
                    if rng.chance(0.5) { "traces" } else { "metrics" },
                    10_000 + rng.range(0, 3_000)
                );
                if hostile {
                    // Rewritten under its old name (a new process that got
                    // the pid): young again, whatever a sweep saw of it.
                    lock(&book).book_created(&name, now_ms);
                    let _ = env.fs.write(Path::new(TELEMETRY).join(name), vec![b'r'; 50]).await;
                } else {
                    let _ = env.fs.remove_file(Path::new(TELEMETRY).join(name)).await;
                }
            }
            2 => {
                let name = format!("metrics-{}.jsonl", 10_000 + rng.range(0, 3_000));
                let path = Path::new(TELEMETRY).join(&name);
                let _ = env.fs.remove_file(&path).await;
                let _ = env.fs.symlink(Path::new(OUTSIDE).join("precious"), &path).await;
            }
            4 => {
                // A file dated a day to ten years ahead: a new audit file,
                // or an old trace of a dead process.
                let name = if rng.chance(0.5) {
                    format!("audit-{}.jsonl", 700_000 + stream * 10_000 + n)
                } else {
                    format!("traces-{}.jsonl", 10_000 + rng.range(0, 3_000))
                };
                let path = Path::new(TELEMETRY).join(&name);
                if name.starts_with("audit-") {
                    lock(&book).book_created(&name, now_ms);
                    let _ = env.fs.write(&path, vec![b'a'; 64]).await;
                }
                let ahead = Duration::from_secs(rng.range(86_400, 10 * 365 * 86_400));
                if world.harness_touch(&path, env.clock.wall() + ahead).is_ok() {
                    let mut b = lock(&book);
                    // (Not the swapper's replacement's file.)
                    if !b.roots.get(Path::new(TELEMETRY)).is_some_and(|r| r.swapped) {
                        b.touched.insert(name, world.now().as_millis() as u64);
                    }
                }
            }
            5 if rng.chance(0.2) => {
                lock(&book).spool_removed.push(now_ms);
                let _ = env.fs.remove_dir_all(Path::new(SPOOL)).await;
            }
            5 => {}
            3 => {
                let name = format!("ws-new-{stream}-{n}");
                {
                    let mut b = lock(&book);
                    b.rows.insert(name.clone());
                    b.ws_created_ms.insert(name.clone(), now_ms);
                }
                let _ = env.fs.create_dir_all(Path::new(WORKSPACES).join(&name).join("src")).await;
            }
            _ => {
                let mut b = lock(&book);
                let victim = b.rows.iter().nth(rng.range(0, 10) as usize).cloned();
                if let Some(v) = victim {
                    b.rows.remove(&v);
                }
            }
        }
    }
}

/// Clones an orphan workspace again in place (its tree emptied and written
/// anew, the directory kept, so its inode too) at the moment a sweep asks
/// the index about it, and writes its row first, which the index sees
/// only `ROW_LAG` later (a sweep that judged the floor from its listing
/// alone removes the new clone: R1, "its session row is live"). At most
/// three a seed, in the chaos phase.
const RECLONER: &str = "recloner";
const ROW_LAG: Duration = Duration::from_secs(2);

async fn recloner(world: World, book: SharedBook) {
    let mut done = BTreeSet::new();
    while world.now() < world.chaos_end() && done.len() < 3 {
        let every = if lock(&book).sweeping == Some(WORKSPACES) { 1 } else { 50 };
        world.sleep_until(world.now() + Duration::from_millis(every)).await;
        let (name, original) = {
            let b = lock(&book);
            let original = b.roots.get(Path::new(WORKSPACES)).map(|r| r.original_id);
            (b.looking_up.clone().filter(|n| !b.rows.contains(n) && !done.contains(n)), original)
        };
        let Some(name) = name else { continue };
        // Only in the root itself (not in a directory the swapper put in
        // its place), and only a workspace that is there.
        let root = world.peek(FsOp::SymlinkMetadata(WORKSPACES.into()));
        let is_root = matches!(root, Ok(steadfast_core::FsOutput::Metadata(m)) if Some(m.id) == original);
        let ws = Path::new(WORKSPACES).join(&name);
        if !is_root || kind_at(&world, &ws) != Some(FileKind::Dir) {
            continue;
        }
        done.insert(name.clone());
        let now_ms = world.now().as_millis() as u64;
        {
            let mut b = lock(&book);
            b.rows.insert(name.clone());
            b.row_visible_ms.insert(name.clone(), now_ms + ROW_LAG.as_millis() as u64);
            b.ws_created_ms.insert(name, now_ms);
        }
        let src = ws.join("src");
        let _ = world.harness_apply(FsOp::RemoveDirAll(src.clone()));
        let _ = world.harness_apply(FsOp::CreateDir(src.clone()));
        let _ = world.harness_apply(FsOp::Write { path: src.join("f0"), data: vec![b'r'; 64] });
        world.reach(RECLONED);
    }
}

/// A second process that removes telemetry files and workspaces, aimed at
/// the moment a sweep looks at one (an operator's `rm`, another replica's
/// sweep): the entry vanishes between the sweep's look and its delete.
const RACER: &str = "racer";
/// Races of each kind (telemetry files, workspaces) per seed.
const RACES_MAX: u64 = 20;

async fn racer(world: World, book: SharedBook) {
    let env = world.env();
    let (mut races, mut ws_races) = (0, 0);
    while world.now() < world.chaos_end() && (races < RACES_MAX || ws_races < RACES_MAX) {
        let every = if lock(&book).sweeping == Some(WORKSPACES) { 1 } else { 50 };
        env.clock.sleep(Duration::from_millis(every)).await;
        // A workspace's stat in flight first (they are few beside the
        // telemetry files').
        let (file, workspace) = (std::cell::RefCell::new(None), std::cell::RefCell::new(None));
        world.in_flight("symlink_metadata", |p| {
            let seen = match p.parent() {
                Some(d) if d == Path::new(WORKSPACES) => &workspace,
                Some(d) if d == Path::new(TELEMETRY) => &file,
                _ => return false,
            };
            seen.borrow_mut().get_or_insert_with(|| p.to_path_buf());
            true
        });
        if let Some(path) = workspace.into_inner().filter(|_| ws_races < RACES_MAX) {
            ws_races += 1;
            // Every other one turns into a file under the sweep: no
            // directory to remove, a change to report.
            if env.fs.remove_dir_all(&path).await.is_ok() && ws_races % 2 == 0 {
                lock(&book).racer_files += 1;
                let _ = env.fs.write(&path, b"not a workspace".to_vec()).await;
            }
        } else if let Some(path) = file.into_inner().filter(|_| races < RACES_MAX) {
            races += 1;
            if races % 2 == 0 {
                let _ = env.fs.remove_file(path).await;
            } else if world.harness_apply(FsOp::RemoveFile(path.clone())).is_ok() {
                // An outside tool puts a directory in its place at once,
                // before the sweep's stat lands: no file, a change.
                let _ = world.harness_apply(FsOp::CreateDir(path));
            }
        }
    }
}

/// Write each telemetry file, then date it a day back (`touch -d`).
async fn dated_back(world: &World, book: &SharedBook, env: &Env, names: &[String]) {
    for name in names {
        let path = Path::new(TELEMETRY).join(name);
        lock(book).book_created(name, world.now().as_millis() as u64);
        if env.fs.write(&path, vec![b'd'; 32]).await.is_ok() {
            let _ = world.harness_touch(&path, env.clock.wall() - Duration::from_secs(86_400));
        }
    }
}

/// The name of a regular file directly in the telemetry directory.
fn telemetry_file(l: &steadfast_sim::disk::Listed) -> Option<&OsStr> {
    (l.kind == FileKind::File && l.path.parent() == Some(Path::new(TELEMETRY))).then(|| l.path.file_name()).flatten()
}

/// The pids of the app and churn processes now running.
fn live_pids(world: &World) -> BTreeSet<u32> {
    ["app", "churn"].iter().filter(|n| world.is_alive(n)).filter_map(|n| world.pid_of(n)).collect()
}

/// R2 and R5 at quiescence.
fn final_checks(world: &World, book: &SharedBook) {
    let listing = world.listing();
    // Read before the book is locked: a peek may land effects, whose
    // watcher locks the book.
    let spool_files: Vec<(PathBuf, Vec<u8>)> = listing
        .iter()
        .filter(|l| l.kind == FileKind::File && l.path.parent() == Some(Path::new(SPOOL)))
        .map(|l| (l.path.clone(), world.peek_file(&l.path).unwrap_or_default()))
        .collect();
    let live_pids = live_pids(world);
    let victim = world.peek_file(Path::new(VICTIM));
    let book = lock(book);
    if planted(world.schedule()) {
        world.check("R9", victim.as_deref().ok() == Some(VICTIM_TEXT), || {
            format!("{VICTIM}, which a symlink at a sink's path pointed to, now holds {victim:?}")
        });
        world.check("R9", book.quiet_note, || "no note landed in the quiet phase".to_string());
    }
    // What was eligible when the last sweep started; a fleet that never
    // swept is judged against the clock at quiescence, so that unbounded
    // growth itself breaks R2 (judged at the last sweep's time, a run with
    // no sweep made R2 vacuous: a check that could not fail).
    let now_ms = if book.sweeps > 0 { book.last_sweep_ms } else { world.now().as_millis() as u64 };
    let policy = policy(world.schedule());
    // Each telemetry file with its kind, read once (the listing holds up
    // to 55,000 of them).
    let telemetry: Vec<(&OsStr, usize, u64)> = listing
        .iter()
        .filter_map(|l| {
            let name = telemetry_file(l)?;
            Some((name, kind_of(&policy, name)?.0, l.len))
        })
        .collect();
    // What the listing holds at `path`: it is in path order (as `Path`
    // compares, by components), so a search, not a scan per path.
    let at = |path: &Path| listing.binary_search_by(|l| l.path.as_path().cmp(path)).ok().map(|i| &listing[i]);
    for (k, kind) in policy.kinds.iter().enumerate() {
        let files: Vec<&(&OsStr, usize, u64)> = telemetry.iter().filter(|(_, i, _)| *i == k).collect();
        let (count, bytes) = (files.len(), files.iter().map(|(_, _, len)| len).sum::<u64>());
        let deletable = files
            .iter()
            .filter(|(name, _, _)| {
                let name = *name;
                let live = pid_in(name, kind).is_some_and(|p| live_pids.contains(&p));
                let created = name.to_str().and_then(|n| book.created_ms.get(n)).copied().unwrap_or(0);
                !live && now_ms >= created + AGE_FLOOR.as_millis() as u64
            })
            .count();
        let over = count > kind.files_max || bytes > kind.bytes_max;
        world.check("R2", !over || deletable == 0, || {
            format!(
                "{}*: {count} files, {bytes} bytes after {} sweeps, {deletable} of them deletable",
                kind.prefix, book.sweeps
            )
        });
    }
    // R6: an audit file (ceiling zero) dated into the future is gone once
    // a sweep started a floor after its touch; a trace of a dead process
    // so dated is judged by R2 with the rest.
    for (name, &touched_ms) in &book.touched {
        let path = Path::new(TELEMETRY).join(name);
        let exists = at(&path).is_some_and(|l| l.kind == FileKind::File);
        // (Judged, like R2, at quiescence when nothing swept: a fleet that
        // never sweeps keeps the file for ever, which is what R6 forbids.)
        if !name.starts_with("audit-") {
            continue;
        }
        let due = now_ms >= touched_ms + AGE_FLOOR.as_millis() as u64;
        if due && !exists {
            world.reach(TOUCHED_GONE);
        }
        world.check("R6", !(due && exists), || {
            format!(
                "{name}, dated into the future at {touched_ms} ms, survived {} sweeps under a ceiling of zero",
                book.sweeps
            )
        });
    }
    let orphans: Vec<String> = listing
        .iter()
        .filter(|l| l.kind == FileKind::Dir && l.path.parent() == Some(Path::new(WORKSPACES)))
        .filter_map(|l| l.path.file_name()?.to_str().map(String::from))
        .filter(|n| {
            !book.rows.contains(n)
                && now_ms >= book.ws_created_ms.get(n).copied().unwrap_or(0) + WS_FLOOR.as_millis() as u64
        })
        .collect();
    world.check("R2", orphans.is_empty(), || {
        format!("orphan workspaces left after {} sweeps: {orphans:?}", book.sweeps)
    });
    // Every line of a spool file is one whole record its sink was given,
    // or the long line a previous writer left, whole; only its end may
    // hold a fragment, of a write that failed last. That long line is
    // still there unless the directory was removed since.
    for (path, bytes) in &spool_files {
        let given = book.spooled.get(path);
        let foreign = book.foreign.get(path).map(|(f, _)| f.as_str());
        let text = String::from_utf8_lossy(bytes);
        let (lines, tail) = text.rsplit_once('\n').map_or(("", &*text), |(a, b)| (a, b));
        let is_given = |r: &str| given.is_some_and(|g| g.contains(r)) || foreign == Some(r);
        let unended = book.unended.get(path);
        let glued = lines
            .split('\n')
            .filter(|_| !lines.is_empty())
            .find(|r| !is_given(r) || unended.is_some_and(|u| u.contains(*r)));
        let tail_ok =
            tail.is_empty() || foreign == Some(tail) || given.is_some_and(|g| g.iter().any(|r| r.starts_with(tail)));
        world.check("R5", glued.is_none() && tail_ok, || {
            let cut = |s: &str| s.chars().take(80).collect::<String>();
            format!(
                "{} holds a line that is no record it was given: {:?} (its end: {:?})",
                path.display(),
                glued.map(cut),
                cut(tail)
            )
        });
        if let Some((f, planted_ms)) = book.foreign.get(path)
            && !book.spool_removals_landed.iter().any(|&t| t >= *planted_ms)
        {
            let kept = tail == f || lines.split('\n').any(|l| l == f);
            world.check("R5", kept, || {
                format!(
                    "{} lost the {}-byte line a previous writer left (no fragment of its sink's)",
                    path.display(),
                    f.len()
                )
            });
        }
    }
    for (path, written) in &book.sinks {
        let exists = at(path).is_some();
        // (A written file may be missing: a power loss, or a sweep once its
        // process died. Appearing unwritten is the bug.)
        world.check("R5", !exists || *written, || {
            format!("{} exists though nothing was ever written to it", path.display())
        });
    }
}

/// Files whose names are not UTF-8, in the `non_utf8` seeds: more than a
/// kind's ceiling of files on their own.
const NON_UTF8_FILES: u64 = 150;

// ----- the swapper -----------------------------------------------------------

/// Telemetry names the swapper's replacement directory holds too.
const MIRRORED: u64 = 300;

/// What the swapper puts in place of a swept directory: a directory of
/// the same shape outside the swept roots.
fn mirror(root: &str) -> PathBuf {
    Path::new(OUTSIDE).join(Path::new(root).file_name().unwrap_or_default())
}

/// Where the swapper moves a swept directory meanwhile.
fn moved(root: &str) -> PathBuf {
    PathBuf::from(format!("{root}.moved"))
}

/// An operator or a hostile user with write access to `/efs`: while one
/// of the first sweeps of a swept directory runs, it renames the directory
/// away and puts in its place a symlink to the directory of the same shape
/// under `/outside`, or that directory itself; a moment later it puts
/// everything back and syncs it (R1: a sweep removes only in the directory
/// it listed). Not a process: nothing kills it, and its acts are instant.
async fn swapper(world: &World, book: &SharedBook, variant: Variant) {
    let mut rng = world.workload_rng(0x5A4B);
    let root: &'static str = if rng.chance(0.5) { TELEMETRY } else { WORKSPACES };
    let renamed_in = rng.chance(0.5);
    let hold = Duration::from_millis(rng.range(1, 1_000));
    // Aimed at a moment of the sweep's removals, or at any moment of it
    // (its listing, its looks): about as long as a sweep of it runs.
    let at_removals = rng.chance(0.5);
    let s = world.schedule();
    let span_ms =
        if root == TELEMETRY { 200 + 2 * s.param("entries", 100) } else { 200 + 20 * s.param("workspaces", 5) };
    let offset = Duration::from_millis(rng.range(0, span_ms));
    // The replica's swaps come at the instant the sweep loop's second
    // round starts (the first whose looks at the root it answers from
    // memory), before any of its looks lands, and stay for that round:
    // what it gets wrong is listing, judging and deleting through the
    // swap. (A swap after its listing costs it nothing: each removal's
    // look at its file finds another file than the listing's.)
    let (at_removals, hold, offset) = if variant == Variant::FollowsSwap {
        (false, SWEEP_AGAIN / 2, Duration::ZERO)
    } else {
        (at_removals, hold, offset)
    };
    let after_removal = Duration::from_millis(rng.range(0, 20));
    let late = |w: &World| w.now() + Duration::from_secs(10) >= w.chaos_end();
    // The instant the book names (polled every 50 ms), or `None` once it is
    // too late to swap.
    let booked = async |when: &dyn Fn(&Book) -> Option<u64>| loop {
        if late(world) {
            return None;
        }
        if let Some(at) = when(&lock(book)) {
            return Some(Duration::from_millis(at));
        }
        world.sleep_until(world.now() + Duration::from_millis(50)).await;
    };
    if variant == Variant::FollowsSwap {
        let Some(next) = booked(&|b| b.next_sweep_ms).await else { return };
        world.sleep_until(next.max(world.now())).await;
    } else {
        // The first sweep of it, or (aimed at removals) the first that removes.
        let mut nth = 0;
        loop {
            let Some(start) = booked(&|b| b.sweep_starts.get(root).and_then(|v| v.get(nth)).copied()).await else {
                return;
            };
            nth += 1;
            if !at_removals {
                world.sleep_until((start + offset).max(world.now())).await;
                break;
            }
            let removed = |b: &Book| b.roots.get(Path::new(root)).map_or(0, |r| r.removals);
            let before = removed(&lock(book));
            let removing = loop {
                let (removes, over) = {
                    let b = lock(book);
                    (
                        removed(&b) > before,
                        b.sweep_starts.get(root).map_or(0, Vec::len) > nth || b.sweeping != Some(root),
                    )
                };
                if removes {
                    break true;
                }
                if over || late(world) {
                    break false;
                }
                world.sleep_until(world.now() + Duration::from_millis(5)).await;
            };
            if removing {
                world.sleep_until(world.now() + after_removal).await;
                break;
            }
        }
    }
    let (path, away, outside) = (Path::new(root), moved(root), mirror(root));
    if world.harness_apply(FsOp::Rename { from: path.into(), to: away.clone() }).is_err() {
        return;
    }
    let put = if renamed_in {
        FsOp::Rename { from: outside.clone(), to: path.into() }
    } else {
        FsOp::Symlink { target: outside.clone(), link: path.into() }
    };
    let _ = world.harness_apply(put);
    let during = {
        let mut b = lock(book);
        if let Some(r) = b.roots.get_mut(path) {
            r.swapped_at = Some(world.now());
            r.swapped = true;
        }
        b.sweeping == Some(root)
    };
    if during {
        world.reach(SWAPPED);
    }
    world.sleep_until(world.now() + hold).await;
    if let Some(r) = lock(book).roots.get_mut(path) {
        r.swapped = false;
    }
    // Put back whatever is still swapped (a power loss meanwhile may have
    // undone the swap already), and make it durable.
    if kind_at(world, &away) == Some(FileKind::Dir) {
        let _ = match kind_at(world, path) {
            Some(FileKind::Symlink) => world.harness_apply(FsOp::RemoveFile(path.into())),
            Some(FileKind::Dir) => world.harness_apply(FsOp::Rename { from: path.into(), to: outside }),
            _ => Ok(steadfast_core::FsOutput::Unit),
        };
        let _ = world.harness_apply(FsOp::Rename { from: away, to: path.into() });
    }
    for dir in ["/efs", OUTSIDE] {
        let _ = world.harness_apply(FsOp::SyncDir(dir.into()));
    }
}

/// A replica's file system, core's sweeps unchanged on top of it:
/// - `FollowsSwap`: no swept directory opens and no operation on an open
///   directory's entries is offered (the sweep removes by path), and
///   every look at a swept directory after its first sweep's two is
///   answered with what the last of them found, as a sweep that removed
///   by path and never looked at its directory again did (core until
///   session 25);
/// - `SkipsNonUtf8`: a listing never shows a name that is not UTF-8, as a
///   sweep that kept such names as of no kind never judged them;
/// - `SinkFollowsSymlink`: every open follows a symlink at its path, as a
///   sink that appended by path did (core until session 26).
struct LegacyFs {
    inner: Arc<dyn steadfast_core::Fs>,
    variant: Variant,
    /// Per swept directory: the looks at it so far, and the last answer
    /// (a directory) it gave.
    seen: Mutex<BTreeMap<PathBuf, (u32, steadfast_core::Metadata)>>,
}

impl steadfast_core::Fs for LegacyFs {
    fn exec(&self, op: FsOp) -> BoxFuture<'_, std::io::Result<steadfast_core::FsOutput>> {
        Box::pin(async move {
            if self.variant == Variant::SinkFollowsSymlink {
                return self.inner.exec(follow(op)).await;
            }
            if self.variant == Variant::SkipsNonUtf8 {
                return match self.inner.exec(op).await {
                    Ok(steadfast_core::FsOutput::Entries(mut e)) => {
                        e.retain(|e| e.name.to_str().is_some());
                        Ok(steadfast_core::FsOutput::Entries(e))
                    }
                    Ok(steadfast_core::FsOutput::EntriesMetadata(mut e)) => {
                        e.retain(|(e, _)| e.name.to_str().is_some());
                        Ok(steadfast_core::FsOutput::EntriesMetadata(e))
                    }
                    other => other,
                };
            }
            // A sweep that removed by path: no open directory.
            let root_open =
                matches!(&op, FsOp::Open { path, .. } if [TELEMETRY, WORKSPACES].iter().any(|r| path == Path::new(r)));
            if root_open || matches!(op, FsOp::StatAt { .. } | FsOp::RemoveFileAt { .. }) {
                return Err(unsupported("the replica removes by path"));
            }
            let root = match &op {
                FsOp::SymlinkMetadata(p) if [TELEMETRY, WORKSPACES].iter().any(|r| p == Path::new(r)) => {
                    Some(p.clone())
                }
                _ => None,
            };
            // The first sweep's two looks (before and after its listing)
            // are real; every later one is answered from memory.
            if let Some((_, m)) = root.as_ref().and_then(|p| lock(&self.seen).get(p).cloned()).filter(|(n, _)| *n >= 2)
            {
                return Ok(steadfast_core::FsOutput::Metadata(m));
            }
            let out = self.inner.exec(op).await;
            if let (Some(p), Ok(steadfast_core::FsOutput::Metadata(m))) = (root, &out)
                && m.kind == FileKind::Dir
            {
                let mut seen = lock(&self.seen);
                let looks = seen.get(&p).map_or(0, |(n, _)| *n) + 1;
                seen.insert(p, (looks, m.clone()));
            }
            out
        })
    }

    fn exec_blocking(&self, op: FsOp) -> std::io::Result<steadfast_core::FsOutput> {
        let op = if self.variant == Variant::SinkFollowsSymlink { follow(op) } else { op };
        self.inner.exec_blocking(op)
    }
}

/// The app's file system in the seeds that say so (`listing`): a file
/// server whose listings send no attributes for about a third of their
/// entries (NFS `READDIRPLUS` may omit them, and a real adapter's look at
/// an entry may fail) and that removes no entry through an open directory,
/// or (`plain`) an adapter that offers no listing with metadata and no
/// operation on an open directory's entries at all (and, with
/// `no_dir_handles`, opens no swept directory). The sweeps must look at
/// such entries themselves and remove by path where they must: a sweep
/// that skipped them, or judged them without a look, breaks R2 or R4.
struct BareListing {
    inner: Arc<dyn steadfast_core::Fs>,
    world: World,
    /// No listing with metadata, no operations on an open directory's
    /// entries.
    plain: bool,
    /// No swept directory opens (`Unsupported`).
    no_dir_handles: bool,
    rng: Mutex<SimRng>,
    /// The entries some listing sent without attributes.
    bare: Mutex<BTreeSet<PathBuf>>,
}

/// What [`BareListing`] does around one operation.
enum Around {
    /// A listing with metadata of this directory: strip some.
    Strip(PathBuf),
    /// A coverage point to reach once the operation succeeds.
    Reach(&'static str),
    Nothing,
}

impl BareListing {
    /// Refuse `op` as this adapter would, or say what to do once it ran.
    fn before(&self, op: &FsOp) -> Result<Around, std::io::Error> {
        Ok(match op {
            FsOp::ReadDirMetadata(_) if self.plain => return Err(unsupported("no listing with metadata here")),
            // A file server that looks at an open directory's entries but
            // removes only by path (listing 1), or neither (plain).
            FsOp::RemoveFileAt { .. } => return Err(unsupported("no unlinkat here")),
            FsOp::StatAt { .. } if self.plain => return Err(unsupported("no fstatat here")),
            FsOp::Open { path, .. }
                if self.no_dir_handles && [TELEMETRY, WORKSPACES, FRESH].map(Path::new).contains(&&**path) =>
            {
                return Err(unsupported("no directory opens here"));
            }
            FsOp::ReadDirMetadata(dir) => Around::Strip(dir.clone()),
            FsOp::ReadDir(_) if self.plain => Around::Reach(LISTED_PLAIN),
            FsOp::RemoveFile(p) if p.parent() == Some(Path::new(TELEMETRY)) => Around::Reach(REMOVED_BY_PATH),
            FsOp::SymlinkMetadata(p) | FsOp::StatAt { path: p, .. } if lock(&self.bare).remove(p) => {
                Around::Reach(LOOKED_BARE)
            }
            _ => Around::Nothing,
        })
    }

    fn after(
        &self,
        around: Around,
        mut out: std::io::Result<steadfast_core::FsOutput>,
    ) -> std::io::Result<steadfast_core::FsOutput> {
        match (around, &mut out) {
            (Around::Strip(dir), Ok(steadfast_core::FsOutput::EntriesMetadata(entries))) => {
                let (mut rng, mut bare) = (lock(&self.rng), lock(&self.bare));
                bare.retain(|p| p.parent() != Some(&dir));
                for (entry, meta) in entries {
                    if rng.chance(0.33) {
                        *meta = None;
                        bare.insert(dir.join(&entry.name));
                    }
                }
            }
            (Around::Reach(point), Ok(_)) => self.world.reach(point),
            _ => {}
        }
        out
    }
}

impl steadfast_core::Fs for BareListing {
    fn exec(&self, op: FsOp) -> BoxFuture<'_, std::io::Result<steadfast_core::FsOutput>> {
        Box::pin(async move {
            let around = self.before(&op)?;
            let out = self.inner.exec(op).await;
            self.after(around, out)
        })
    }

    fn exec_blocking(&self, op: FsOp) -> std::io::Result<steadfast_core::FsOutput> {
        let around = self.before(&op)?;
        let out = self.inner.exec_blocking(op);
        self.after(around, out)
    }
}

/// What an adapter without an operation answers (the contract's
/// `Unsupported`: the caller falls back).
fn unsupported(why: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::Unsupported, why.to_string())
}

/// `op` with every open following a symlink at its path (the replica's
/// sinks).
fn follow(op: FsOp) -> FsOp {
    match op {
        FsOp::Open { path, mut mode } => {
            mode.no_follow = false;
            FsOp::Open { path, mode }
        }
        other => other,
    }
}

/// The node of a user who deletes workspaces by name (R8).
const USER: &str = "user";

/// The `u`th workspace a user deletes by name.
fn user_workspace(u: u64) -> String {
    format!("user-{u}")
}

/// R8: a user deletes each of the seed's user workspaces by name, at a
/// random instant of the chaos phase before the first sweep, and looks
/// right after: `Ok` means gone (a second delete of one gone is `Ok`
/// too), and an error is an injected fault's.
async fn user_deletes(world: World) {
    let env = world.env();
    let mut rng = world.workload_rng(0xDE1E);
    for u in 0..world.schedule().param("user_deletes", 0) {
        // Before the first sweep, whose racer would take it first.
        let at = Duration::from_millis(rng.range(1_000, BOOT_DELAY.as_millis() as u64 - 1_000));
        world.sleep_until(at.max(world.now())).await;
        let name = user_workspace(u);
        let path = Path::new(WORKSPACES).join(&name);
        let r = steadfast_core::retention::delete_workspace_blocking(&env, Path::new(WORKSPACES), &name);
        let there = world.peek_dir(&path).is_ok();
        let ok = r.as_ref().map_or_else(crate::fault_caused, |()| !there);
        world.check("R8", ok, || format!("deleting the workspace {name:?} returned {r:?}; it is there after: {there}"));
    }
}

/// A workspace the explicit delete is asked for that never existed (not
/// a sweep's step: the watcher leaves its failed stat out of R4's counts).
const NEVER_MADE: &str = "never-made";

/// The longest unterminated tail a new sink cuts as a previous process's
/// fragment (`LazySink`'s documented bound, written out: the checker reads
/// the spec, not core).
const FRAGMENT_AT_OPEN_MAX: u64 = 4096;

/// The `retention` schedule's knobs.
const PARAMS: &[ParamSpec] = &[
    ParamSpec { name: "entries", max: 200_000, doc: "telemetry files at the start" },
    ParamSpec { name: "workspaces", max: 1_000, doc: "workspaces at the start" },
    ParamSpec { name: "upstream_policy", max: 1, doc: "1: sweep by core's shipped RetentionPolicy::telemetry()" },
    ParamSpec {
        name: "user_deletes",
        max: 3,
        doc: "workspaces a user deletes by name in the chaos phase, whose stats and removals fail half the time (R8)",
    },
    ParamSpec { name: "hostile", max: 1, doc: "1: hostile names and live processes' files dated a day back" },
    ParamSpec {
        name: "non_utf8",
        max: 1,
        doc: "1: 150 old metrics files of dead pids whose names are not UTF-8 (a Latin-1 host name)",
    },
    ParamSpec {
        name: "swap",
        max: 1,
        doc: "1: a swept directory is renamed away mid-sweep, a symlink or another directory put in its place, then put back",
    },
    ParamSpec {
        name: "planted",
        max: 1,
        doc: "1: a planter puts a symlink to another user's file at the app's notes sink's path now and then (R9)",
    },
    ParamSpec {
        name: "reclone",
        max: 1,
        doc: "1: a recloner clones an orphan workspace again in place while a sweep asks the index about it; the index sees its new row 2 s late",
    },
    ParamSpec {
        name: "listing",
        max: 3,
        doc: "1: the app's listings send no attributes for about a third of their entries, and its file system removes no open directory's entry (Unsupported); 2: it offers no listing with metadata and no operations on an open directory's entries; 3: as 2, and it opens no swept directory",
    },
    ParamSpec {
        name: "big_workspace_files",
        max: 5_000,
        doc: "files in the first workspace's tree (0: as small as the rest)",
    },
];
