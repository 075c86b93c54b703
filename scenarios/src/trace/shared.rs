//! `trace-shared-dir` and its replicas `legacy/trace-per-instance-crash-mark`
//! (T10) and `legacy/trace-crash-mark-through-symlink` (T21): two processes
//! export the same sessions into one EFS directory.
//!
//! Nodes `a` and `b` each open their own [`FileExporter`] and [`Tracer`]
//! on `/efs/traces` and record the same session ids (a session handed
//! between two workers, or a standby mirroring it): bursts of events with
//! a snapshot after each, and flushes. At a seeded instant one of them
//! crash-writes one session (and sometimes dies right after, as after a
//! panic hook); both end every session in the quiet phase. Renames take
//! 50 ms to 5 s and land anywhere in that window; EIO and ENOSPC are
//! injected by the seed's swarm.
//!
//! Checkers: a watcher judges every effect on the canonical file of a
//! session whose crash write returned (T10, T4); end_trace returns within
//! its bounds (T9; what it reports is judged in `trace`, where one process
//! writes the files); at quiescence every
//! session that never crashed reads completed (T6: the crash mark of one
//! session never suppresses another), crashed ones read crashed (T10), and
//! no temporary file is left (T5).
//!
//! In one seed in two a vandal plants a symlink at the crashing session's
//! crash mark name, shortly before the crash, pointing at a file outside
//! the directory (a new user's trial found the crash write following such
//! a link and truncating its target). The link is a mark to every reader
//! from the instant it lands (T19, T12 and T6 count it as one); T21 holds
//! the file it points to unchanged.
//!
//! Two replicas. `legacy/trace-per-instance-crash-mark` runs today's
//! exporter as a sole writer of the directory
//! (`FileExporterConfig::sole_writer`): crash marks in memory only, so the
//! other process's exports land over the crash. No vandal plants there: a
//! sole writer reads no mark. `legacy/trace-crash-mark-through-symlink`
//! is the exporter before `8f17150`, which wrote its crash mark (create or
//! truncate, following a link at the name) rather than creating it new:
//! its vandal always plants, and T21 catches it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast_core::trace::{
    FileExporter, FileExporterConfig, Session, Status, TraceConfig, TraceDoc, TraceError, Tracer,
};
use steadfast_core::{Env, FileKind, FsOp, FsOutput};
use steadfast_sim::schedule::{ErrorRule, Event, TimedEvent};
use steadfast_sim::swarm::Swarm;
use steadfast_sim::world::{Invariant, Landed, LocalBoxFuture};
use steadfast_sim::{Expect, FaultKind, ParamSpec, Scenario, Schedule, SimRng, World};

use crate::locked as lock;

const DIR: &str = "/efs/traces";
const NODES: [&str; 2] = ["a", "b"];
const CHAOS_MS: u64 = 10_000;
/// Longer than the stale age below plus the slowest rename, so that the
/// survivor's last tidy removes what a dead process left.
const QUIET_MS: u64 = 25_000;
const STALE_TMP_MS: u64 = 8_000;
const RENAME_MS_MAX: u64 = 5_000;

const INVARIANTS: &[Invariant] = &[
    Invariant {
        id: "T10",
        statement: "T3 holds across exporter instances and processes sharing a trace directory: once one crash write returned, the file reads crashed for good",
    },
    Invariant { id: "T4", statement: "at every instant the file is absent or a whole, parseable trace of its session" },
    Invariant { id: "T5", statement: "after quiescence no temporary files remain" },
    Invariant {
        id: "T6",
        statement: "one session's crash never suppresses another session's export: a session no process crashed ends completed",
    },
    Invariant { id: "T9", statement: "end_trace returns within its bounds (its wait plus one exporter bound)" },
    Invariant {
        id: "T19",
        statement: "crash wins for the caller: a flush of events recorded after the session's crash mark landed never returns Ok",
    },
    Invariant {
        id: "T12",
        statement: "an export fenced by another process's crash write reports the crash: once a session's crash mark exists, no export of it reports an I/O error that no injected fault caused",
    },
    Invariant {
        id: "T21",
        statement: "a symlink planted at a crash mark's name is a mark, neither a door nor an error: the file it points to keeps its bytes, and the crash write that meets it fails only by an injected fault",
    },
];

const OTHER_RENAME_AFTER_CRASH: &str = "the other process's rename of a crashed session was in flight at its crash";
const OTHER_REFUSED: &str = "the other process's export of a crashed session was refused";
const MARK_LINK_MET: &str = "a crash write met a symlink planted at its crash mark";
const SOMETIMES: &[&str] = &[OTHER_RENAME_AFTER_CRASH, OTHER_REFUSED, MARK_LINK_MET];

/// Outside the trace directory: what a symlink planted at a crash mark
/// points to, and its bytes (T21).
const VICTIM: &str = "/outside/precious";
const VICTIM_BYTES: &[u8] = b"precious: no trace may write here\n";

/// Which exporter the two processes run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedVariant {
    /// `steadfast_core::trace::FileExporter` as shipped.
    Core,
    /// The same exporter as a sole writer: crash marks in memory only.
    PerInstanceMarks,
    /// The exporter before `8f17150`: its crash mark written (create or
    /// truncate, following a symlink at the name), not created new.
    MarkWritesThrough,
}

/// Two processes, one directory: the fixed exporter or a replica.
#[derive(Debug)]
pub struct SharedDirScenario {
    /// Which exporter.
    pub variant: SharedVariant,
}

impl Scenario for SharedDirScenario {
    fn name(&self) -> &'static str {
        match self.variant {
            SharedVariant::Core => "trace-shared-dir",
            SharedVariant::PerInstanceMarks => "legacy/trace-per-instance-crash-mark",
            SharedVariant::MarkWritesThrough => "legacy/trace-crash-mark-through-symlink",
        }
    }

    fn expect(&self) -> Expect {
        if self.variant == SharedVariant::Core { Expect::Hold } else { Expect::Violate }
    }

    fn description(&self) -> &'static str {
        match self.variant {
            SharedVariant::Core => {
                "two processes export the same sessions into one EFS directory; one crash-writes (T10); a vandal plants a symlink at its crash mark (T21)"
            }
            SharedVariant::PerInstanceMarks => {
                "crash marks per exporter instance, two processes on one directory: breaks T10"
            }
            SharedVariant::MarkWritesThrough => {
                "a crash mark written through a symlink planted at its name: breaks T21"
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
        if self.variant == SharedVariant::Core { SOMETIMES } else { &[] }
    }

    fn schedule(&self, seed: u64) -> Schedule {
        schedule(seed, self.variant)
    }

    fn run<'a>(&'a self, world: &'a World) -> LocalBoxFuture<'a, ()> {
        Box::pin(drive(world, self.variant))
    }
}

fn schedule(seed: u64, variant: SharedVariant) -> Schedule {
    let mut sw = Swarm::draw(seed, &["eio", "enospc", "die"]);
    let mut s = Schedule::calm(seed, CHAOS_MS);
    s.quiet_ms = QUIET_MS;
    let rng = sw.rng();
    let rename_max = rng.range(100, RENAME_MS_MAX);
    s.mounts.push(super::efs_mount(rename_max));
    let ops = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    if sw.on("eio") {
        let p = sw.rate("eio") * 0.2;
        s.errors.push(ErrorRule {
            ops: ops(&["write", "sync_file", "rename", "remove_file", "symlink_metadata", "read_dir"]),
            path_prefix: Some(DIR.into()),
            error: FaultKind::Eio,
            nth: None,
            probability: Some(p),
            while_renaming: false,
        });
    }
    if sw.on("enospc") {
        let p = sw.rate("enospc") * 0.5;
        s.errors.push(ErrorRule {
            ops: ops(&["write"]),
            path_prefix: Some(DIR.into()),
            error: FaultKind::Enospc,
            nth: None,
            probability: Some(p),
            while_renaming: false,
        });
    }
    super::fence_faults(&mut s, seed);
    super::tail_spikes(&mut s, seed);
    let die = sw.on("die");
    let rng = sw.rng();
    let crash_at_ms = rng.range(500, CHAOS_MS - 1_000);
    s.params.insert("sessions".into(), rng.range(1, 3));
    s.params.insert("crash_at_ms".into(), crash_at_ms);
    s.params.insert("crash_node".into(), rng.range(0, 1));
    s.params.insert("crash_session".into(), rng.range(0, 2));
    if die {
        let node = NODES[s.params["crash_node"] as usize];
        s.events.push(TimedEvent { at_ms: crash_at_ms + 1, what: Event::Kill { node: node.into() } });
    }
    // The vandal, on a stream of its own (the seed's other draws stay):
    // in one seed in two (every seed of the replica that writes through
    // it; never where no mark is read), a symlink at the crashing
    // session's crash mark name, up to 2 s before the crash.
    let mut links = SimRng::new(seed, 0x3A2C);
    let plants = match variant {
        SharedVariant::Core => links.chance(0.5),
        SharedVariant::PerInstanceMarks => false,
        SharedVariant::MarkWritesThrough => true,
    };
    if plants {
        let at_ms = links.range(crash_at_ms.saturating_sub(2_000).max(100), crash_at_ms - 1);
        s.params.insert("mark_link_at_ms".into(), at_ms);
    }
    s
}

#[derive(Default)]
struct Book {
    /// Canonical path to session id.
    ids: BTreeMap<PathBuf, String>,
    /// Sessions whose crash write returned `Ok`.
    crashed: BTreeMap<String, bool>,
    /// Sessions whose crash write started (a failed one may still land).
    crash_started: BTreeMap<String, bool>,
    /// Nodes that finished the quiet phase's tidy.
    tidied: Vec<String>,
    /// When each session's crash mark first landed (T12).
    marked_at: BTreeMap<PathBuf, Duration>,
    /// Sessions whose crash mark name the vandal planted a symlink at.
    planted: BTreeMap<String, PathBuf>,
}

type SharedBook = Arc<Mutex<Book>>;

fn session_ids(world: &World) -> Vec<String> {
    (0..world.schedule().param("sessions", 1).min(3)).map(|i| format!("s{i}")).collect()
}

/// Judge a canonical file as it is: whole (T4), and crashed if a crash
/// write of its session returned (T10).
fn judge(book: &Book, path: &Path, read: Result<&[u8], &String>, check: &mut super::Check<'_>) {
    let Some(id) = book.ids.get(path) else { return };
    let crashed = book.crashed.get(id).copied().unwrap_or(false);
    let bytes = match read {
        Ok(b) => b,
        Err(e) => {
            return check("T10", !crashed, &|| format!("{id:?} was crash-written but {} is gone: {e}", path.display()));
        }
    };
    let doc = match TraceDoc::parse(bytes) {
        Ok(d) => d,
        Err(e) => return check("T4", false, &|| format!("{} is not a whole trace: {e}", path.display())),
    };
    check("T4", doc.session_id == *id, &|| format!("{} holds session {:?}", path.display(), doc.session_id));
    check("T10", !crashed || doc.status == Status::Crashed, &|| {
        format!(
            "{id:?} was crash-written, but {} now reads {:?} ({} events)",
            path.display(),
            doc.status,
            doc.events.len()
        )
    });
}

fn watcher(book: SharedBook) -> steadfast_sim::world::Watcher {
    Box::new(move |l: &mut Landed<'_>| {
        let mut book = lock(&book);
        if let (FsOp::Write { path, .. } | FsOp::CreateNew { path, .. }, true) = (l.op, l.ok)
            && path.to_string_lossy().ends_with(steadfast_core::trace::names::CRASH_MARK)
        {
            book.marked_at.entry(path.clone()).or_insert(l.at);
        }
        let touched: Vec<PathBuf> = [Some(l.op.path()), l.op.second_path()]
            .into_iter()
            .flatten()
            .filter(|p| book.ids.contains_key(*p))
            .map(Path::to_path_buf)
            .collect();
        for path in touched {
            let read = l.read(&path).map_err(|e| e.to_string());
            judge(&book, &path, read.as_deref(), &mut |id, ok, msg| l.check(id, ok, msg));
        }
    })
}

async fn drive(world: &World, variant: SharedVariant) {
    let plant_at_ms = world.schedule().param("mark_link_at_ms", 0);
    let mut setup = vec![FsOp::CreateDirAll(DIR.into())];
    if plant_at_ms > 0 {
        let victim = Path::new(VICTIM);
        setup.push(FsOp::CreateDirAll(victim.parent().expect("a parent").to_path_buf()));
        setup.push(FsOp::Write { path: victim.to_path_buf(), data: VICTIM_BYTES.to_vec() });
    }
    world.setup(setup);
    let book: SharedBook = Arc::default();
    {
        let mut b = lock(&book);
        for id in session_ids(world) {
            b.ids.insert(Path::new(DIR).join(steadfast_core::trace::names::file_name(&id)), id);
        }
    }
    world.watch(DIR, watcher(book.clone()));
    if plant_at_ms > 0 {
        let (w, b) = (world.clone(), book.clone());
        world.spawn_local(async move { vandal(&w, &b, plant_at_ms).await });
    }
    for (i, node) in NODES.iter().enumerate() {
        let b = book.clone();
        world.add_node(node, move |w| {
            let book = b.clone();
            async move { process(w, book, i, variant).await }
        });
    }
    world.sleep_until(world.quiet_end()).await;
    final_checks(world, &book);
}

/// Which of [`session_ids`] one process crash-writes.
fn victim_index(world: &World) -> usize {
    world.schedule().param("crash_session", 0) as usize % session_ids(world).len()
}

/// At `at_ms`, a symlink at the crash mark name of the session about to
/// crash, pointing at a file outside (an attacker's, or a confused
/// tool's), made durable. From then on it is a mark to every reader: an
/// export of the session is refused as after a crash.
async fn vandal(world: &World, book: &SharedBook, at_ms: u64) {
    world.sleep_until(Duration::from_millis(at_ms)).await;
    let id = session_ids(world).swap_remove(victim_index(world));
    let mark = Path::new(DIR).join(steadfast_core::trace::names::crash_mark_name(&id));
    if world.harness_apply(FsOp::Symlink { target: VICTIM.into(), link: mark.clone() }).is_ok() {
        let _ = world.harness_apply(FsOp::SyncDir(DIR.into()));
        let mut b = lock(book);
        b.marked_at.entry(mark.clone()).or_insert(world.now());
        b.planted.insert(id, mark);
    }
}

/// T21: the file a planted link points to holds what was planted. The
/// world is read before the book is locked (a read settles the world, and
/// the watcher locks the book).
fn judge_victim(world: &World, book: &SharedBook) {
    let planted = lock(book).planted.iter().next().map(|(id, mark)| (id.clone(), mark.clone()));
    let Some((id, mark)) = planted else { return };
    let bytes = world.peek_file(Path::new(VICTIM));
    world.check("T21", bytes.as_deref().is_ok_and(|b| b == VICTIM_BYTES), || {
        format!(
            "{VICTIM}, the target of a symlink planted at {} (the crash mark of {id:?}), now holds {:?}",
            mark.display(),
            bytes.as_deref().map(String::from_utf8_lossy)
        )
    });
}

/// The exporter's file system as it was before `8f17150` (the replica
/// `legacy/trace-crash-mark-through-symlink`): a crash mark is written,
/// creating or truncating whatever its name leads to, not created new.
struct MarksWritten(Arc<dyn steadfast_core::Fs>);

impl MarksWritten {
    fn old(op: FsOp) -> FsOp {
        match op {
            FsOp::CreateNew { path, data }
                if path.to_string_lossy().ends_with(steadfast_core::trace::names::CRASH_MARK) =>
            {
                FsOp::Write { path, data }
            }
            other => other,
        }
    }
}

impl steadfast_core::Fs for MarksWritten {
    fn exec(&self, op: FsOp) -> steadfast_core::BoxFuture<'_, std::io::Result<steadfast_core::FsOutput>> {
        self.0.exec(MarksWritten::old(op))
    }
    fn exec_blocking(&self, op: FsOp) -> std::io::Result<steadfast_core::FsOutput> {
        self.0.exec_blocking(MarksWritten::old(op))
    }
}

async fn open_exporter(env: &Env, variant: SharedVariant) -> Option<Arc<FileExporter>> {
    let sole_writer = variant == SharedVariant::PerInstanceMarks;
    let config =
        FileExporterConfig { stale_tmp_age: Duration::from_millis(STALE_TMP_MS), sole_writer, ..Default::default() };
    for _ in 0..50 {
        if let Ok(e) = FileExporter::open(env, DIR, config.clone()).await {
            return Some(Arc::new(e));
        }
        env.clock.sleep(Duration::from_millis(100)).await;
    }
    None
}

async fn process(world: World, book: SharedBook, node: usize, variant: SharedVariant) {
    let mut env = world.env();
    if variant == SharedVariant::MarkWritesThrough {
        env.fs = Arc::new(MarksWritten(env.fs));
    }
    let Some(file) = open_exporter(&env, variant).await else { return };
    let tracer = Tracer::new(&env, vec![file.clone()], TraceConfig::default());
    let sessions: Vec<Session> = session_ids(&world).iter().map(|id| tracer.start(id)).collect();
    let s = world.schedule();
    if s.param("crash_node", 0) as usize == node {
        let victim = sessions[victim_index(&world)].clone();
        let (w, b, f) = (world.clone(), book.clone(), file.clone());
        let at = s.param("crash_at_ms", 1_000);
        madsim::task::spawn_local(async move { crasher(&w, &b, &f, victim, at).await });
    }
    let tasks: Vec<_> = sessions
        .into_iter()
        .enumerate()
        .map(|(i, sess)| {
            let (world, book) = (world.clone(), book.clone());
            let rng = world.workload_rng(node as u64 * 8 + i as u64);
            madsim::task::spawn_local(async move { session_main(&world, &book, sess, NODES[node], rng).await })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    // Tidy once every temporary file a dead peer left has aged.
    world.sleep_until(world.quiet_end() - Duration::from_millis(1_000)).await;
    if file.drain(Duration::from_secs(5)).await && file.tidy().await.is_ok() {
        lock(&book).tidied.push(NODES[node].to_string());
    }
}

async fn crasher(world: &World, book: &SharedBook, file: &FileExporter, victim: Session, at_ms: u64) {
    world.sleep_until(Duration::from_millis(at_ms)).await;
    let id = victim.id().to_string();
    let path = file.path_for(&id);
    let others = format!("{}.tmp.", path.display());
    if world.in_flight("rename", |p| p.to_str().is_some_and(|p| p.starts_with(&others))) > 0 {
        world.reach(OTHER_RENAME_AFTER_CRASH);
    }
    let met = matches!(world.peek(FsOp::SymlinkMetadata(file.crash_mark_for(&id))),
        Ok(FsOutput::Metadata(m)) if m.kind == FileKind::Symlink);
    if met {
        world.reach(MARK_LINK_MET);
    }
    lock(book).crash_started.insert(id.clone(), true);
    let result = victim.crash_write();
    world.note(format!("crash write of {id:?}: {result:?}"));
    if met {
        // The progress twin: the link is a mark like any other, not a
        // reason to fail the crash write.
        let caused = matches!(&result, Err(TraceError::Io { source, .. }) if super::fault_caused(source));
        world.check("T21", result.is_ok() || caused, || {
            format!("the crash write of {id:?} met a symlink at its crash mark and failed with no fault: {result:?}")
        });
    }
    if result.is_ok() {
        lock(book).crashed.insert(id.clone(), true);
        let read = world.peek_file(&path).map_err(|e| e.to_string());
        let book = lock(book);
        judge(&book, &path, read.as_deref(), &mut |inv, ok, msg| world.check(inv, ok, msg));
    }
    judge_victim(world, book);
}

async fn session_main(world: &World, book: &SharedBook, sess: Session, node: &str, mut rng: SimRng) {
    let env = world.env();
    let mut n = 0u64;
    // When the last event was recorded (T19).
    let mut recorded_at = Duration::ZERO;
    while world.now() < world.chaos_end() {
        for _ in 0..rng.range(1, 20) {
            sess.record(&format!("{node}-e{n}"), None, serde_json::Value::Null);
            n += 1;
            sess.snapshot();
        }
        recorded_at = world.now();
        if rng.chance(0.3) {
            let result = sess.flush().await;
            judge_flush(world, book, node, sess.id(), recorded_at, &result);
            if result.is_err() && lock(book).crashed.contains_key(sess.id()) {
                world.reach(OTHER_REFUSED);
            }
        }
        env.clock.sleep(Duration::from_millis(rng.range(0, 1_500))).await;
    }
    judge_flush(world, book, node, sess.id(), recorded_at, &sess.flush().await);
    let started = world.now();
    sess.end_trace(Status::Completed).await;
    let took = world.now() - started;
    let config = TraceConfig::default();
    // (Every end begins after the chaos phase: no spike lengthens its
    // operations, and the crasher's blocking crash write came before.)
    let bound = config.end_wait + config.exporter_timeout + Duration::from_secs(1);
    world.check("T9", took <= bound, || {
        format!("end_trace of {:?} on {node} took {took:?} (bound {bound:?})", sess.id())
    });
    // What end_trace reports is not judged here: the other process's
    // exports of a session neither crashed may land at any time (only
    // crash wins across processes); `trace` judges it with one writer.
}

/// A flush's result, judged.
///
/// T12: an export that meets another process's crash-write fence (its
/// temporary file unlinked under it) reads the crash mark and reports the
/// crash. So an I/O error that no fault explains is allowed only if the
/// session's crash mark had not landed before it was reported (the crash
/// write could not write it, and nothing could tell this process).
///
/// T19: crash wins for the caller too. Events recorded (last at
/// `recorded_at`) once the session's crash mark was on disk can never be
/// exported (every export stats the mark before its rename), so a flush
/// of them that returns `Ok` claims a durability no file gives.
fn judge_flush(
    world: &World,
    book: &SharedBook,
    node: &str,
    id: &str,
    recorded_at: Duration,
    result: &Result<(), TraceError>,
) {
    // T19 for every flush of events recorded after the crash mark landed:
    // refused, or the mark is gone. (Marks are removed only by
    // `remove_trace`, which this scenario never calls: the mark is still
    // there.)
    let mark = Path::new(DIR).join(steadfast_core::trace::names::crash_mark_name(id));
    let marked = lock(book).marked_at.get(&mark).copied();
    if let Some(at) = marked.filter(|at| *at < recorded_at) {
        let ok = result.is_err() || world.peek(FsOp::SymlinkMetadata(mark.clone())).is_err();
        world.check("T19", ok, || {
            format!(
                "flush of {id:?} on {node} returned Ok for events recorded at {recorded_at:?}, after its crash mark landed at {at:?}"
            )
        });
    }
    if let Err(TraceError::Io { session, step, source }) = result {
        let caused = super::fault_caused(source);
        let error = format!("{step} failed: {source}");
        judge_export_error(world, &lock(book), world.now(), node, session, caused, &error);
    }
}

fn judge_export_error(world: &World, book: &Book, at: Duration, node: &str, session: &str, caused: bool, error: &str) {
    let mark = Path::new(DIR).join(steadfast_core::trace::names::crash_mark_name(session));
    // Strictly before: a mark landing in the instant the export read it
    // missing is no fence it could have read.
    let marked = book.marked_at.get(&mark).is_some_and(|&t| t < at);
    world.check("T12", caused || !marked, || {
        format!(
            "{session:?} has had a crash mark since {} ms, but an export on {node} reported {error:?} at {} ms (no fault injected): a fence it did not read as the crash",
            book.marked_at[&mark].as_millis(),
            at.as_millis()
        )
    });
}

fn final_checks(world: &World, shared: &SharedBook) {
    // T12 for the snapshots written in the background, whose errors only
    // a warning reports.
    judge_victim(world, shared);
    let book = lock(shared);
    for d in world.diagnostics().iter().filter(|d| d.message == "trace snapshot failed") {
        let error = d.field("error").unwrap_or_default();
        let caused = super::fault_caused_text(error);
        let at = Duration::from_nanos(d.at_ns);
        judge_export_error(world, &book, at, &d.node, d.field("session").unwrap_or_default(), caused, error);
    }
    for (path, id) in &book.ids {
        let read = world.peek_file(path).map_err(|e| e.to_string());
        judge(&book, path, read.as_deref(), &mut |inv, ok, msg| world.check(inv, ok, msg));
        // A session the vandal marked is refused as a crashed one is.
        if book.crash_started.contains_key(id) || book.planted.contains_key(id) {
            continue;
        }
        let status = read.ok().and_then(|b| TraceDoc::parse(&b).ok()).map(|d| d.status);
        // A session no one crashed is ended by a live process in the quiet
        // phase. When the crashing process died, a rename it left in flight
        // may land after that end (the kernel completes it; nothing orders
        // two processes' exports but a crash): the file is then a running
        // version, never a crashed one.
        let died = world.schedule().events.iter().any(|e| matches!(e.what, Event::Kill { .. }));
        let ok = status == Some(Status::Completed) || (died && status == Some(Status::Running));
        world
            .check("T6", ok, || format!("{id:?} never crashed, but {} reads {status:?} at quiescence", path.display()));
    }
    if !book.tidied.is_empty() {
        let litter: Vec<String> = world
            .listing()
            .iter()
            .filter(|l| l.kind == FileKind::File && FileExporter::is_tmp_name(&l.path.to_string_lossy()))
            .map(|l| l.path.display().to_string())
            .collect();
        world.check("T5", litter.is_empty(), || format!("temporary files left after quiescence: {litter:?}"));
    }
}

/// The `trace-shared-dir` schedule's knobs.
const PARAMS: &[ParamSpec] = &[
    ParamSpec { name: "sessions", max: 3, doc: "session ids both processes export" },
    ParamSpec {
        name: "crash_at_ms",
        max: steadfast_sim::schedule::limits::RUN_MS_MAX,
        doc: "when one session is crash-written",
    },
    ParamSpec { name: "crash_node", max: 1, doc: "which process crash-writes (0: a, 1: b)" },
    ParamSpec { name: "crash_session", max: 2, doc: "which session crashes" },
    ParamSpec {
        name: "mark_link_at_ms",
        max: steadfast_sim::schedule::limits::RUN_MS_MAX,
        doc: "when a vandal plants a symlink at the crashing session's crash mark (0: never)",
    },
];
