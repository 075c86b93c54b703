//! [`World`]: the handle to one run's simulated world, and the rooms it
//! joins. Each concern lives in its own room: the plan (`crate::plan`:
//! latency, effect instant, faults and crash point of an operation), the
//! disk (`crate::disk`: tree, queued effects, power loss, capacity, silent
//! faults), processes (`crate::procs`), the log (`crate::log`: typed
//! events, hash, renderers) and the judge (`crate::judge`: invariants,
//! watchers, coverage). The seam adapters that `core` sees are in
//! `crate::seams`. This module is the public face; `ops` runs one file
//! operation through the rooms, `nodes` runs processes through madsim.
//!
//! Time and scheduling come from madsim (virtual time that jumps to the next
//! event, one seeded scheduler). File-system decisions (latency, effect
//! instant, faults, torn prefixes) come from the world's own [`SimRng`].
//!
//! How an operation runs:
//! - async: its latency `L` and effect offset `e` in `0..=L` are drawn at
//!   its start `t0`; the effect is queued at `t0 + e` and the caller sleeps
//!   until `t0 + L`. Queued effects are applied in time order whenever
//!   anything observes the tree or records an event (whatever is due by
//!   now lands first), so an effect lands at its instant even if
//!   the caller has moved on or been killed (the kernel finishes a syscall
//!   its process no longer waits for). A power loss drops effects that have
//!   not landed.
//! - blocking: drawn the same way, but the caller cannot wait, so its effect
//!   lands at once (at the node's local time `t0 + e`) and the calling node
//!   is paused until `t0 + L`: every task of that node stalls, as a real
//!   event loop does behind a synchronous syscall. The node's clock reads
//!   its local time (`t0 + L`) for the rest of the poll. Other nodes may
//!   observe that effect up to `L` early; this is the one place where the
//!   model compresses time, and it only ever makes a blocking call look
//!   faster to others, never a stall shorter.

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use steadfast_core::{Env, FsOp, FsOutput};

mod harness;
mod nodes;
mod ops;
mod state;

pub use crate::judge::{Invariant, Landed, Violation, Watcher};
pub use crate::plan::SAME_INSTANT_OPS_MAX;
pub use crate::procs::HARNESS_PID;
pub use crate::seams::{SimClock, SimEntropy, SimFs, SimProcs, SimSpawner, named};

use crate::disk::Listed;
use crate::judge::Judge;
use crate::log::{History, Record, SimEvent};
use crate::rng::SimRng;
use crate::schedule::Schedule;
use state::State;

/// A future that need not be `Send`: node inits and scenario drivers run on
/// madsim's single-threaded executor.
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// The panic payload that ends a run making no progress (RUN4 is already
/// recorded; the runner does not report it again as a panic).
#[derive(Debug)]
pub(crate) struct NoProgress;

type NodeInit = Arc<dyn Fn(World) -> LocalBoxFuture<'static, ()> + Send + Sync>;

struct Shared {
    state: Mutex<State>,
    /// The run's clock, once started: `now_ns` without asking madsim's
    /// context for it (a tenth of a `retention` seed).
    clock: std::sync::OnceLock<madsim::time::TimeHandle>,
    /// What the code under test said through `tracing` ([`World::diagnostics`]).
    diagnostics: Arc<Mutex<Vec<crate::log::Diagnostic>>>,
    /// Per-run values of the workload's own types ([`World::shared`]).
    values: Mutex<std::collections::BTreeMap<std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>>>,
    schedule: Schedule,
    invariants: Vec<Invariant>,
    inits: Mutex<Vec<NodeInit>>,
}

/// A handle to the world of one run. Cheap to clone.
#[derive(Clone)]
pub struct World(Arc<Shared>);

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Without taking the state's lock: printable inside a watcher.
        f.debug_struct("World").field("seed", &self.0.schedule.seed).finish_non_exhaustive()
    }
}

pub(crate) fn now_ns() -> u64 {
    madsim::time::TimeHandle::current().elapsed().as_nanos() as u64
}

/// Virtual nanoseconds on `clock`, or on the current runtime's.
pub(crate) fn now_on(clock: Option<&madsim::time::TimeHandle>) -> u64 {
    clock.map_or_else(now_ns, |c| c.elapsed().as_nanos() as u64)
}

pub(crate) fn ms_to_ns(ms: u64) -> u64 {
    ms.saturating_mul(1_000_000)
}

pub(crate) async fn sleep_until_ns(at_ns: u64) {
    let now = now_ns();
    if at_ns > now {
        madsim::time::sleep(Duration::from_nanos(at_ns - now)).await;
    }
}

/// What a run leaves behind (consumed by the runner).
pub(crate) struct Report {
    pub violations: Vec<Violation>,
    pub checks: std::collections::BTreeMap<String, u64>,
    pub reached: std::collections::BTreeSet<String>,
    pub tree: Vec<Listed>,
    pub history: History,
    pub fs_ops: u64,
    pub faults_injected: u64,
    pub crashes_fired: Vec<usize>,
    pub chaos_ops: std::collections::BTreeMap<String, u64>,
    pub sim_ns: u64,
}

impl World {
    /// A world for `schedule`, judging `invariants`, keeping the last
    /// `history_keep` events in memory. Must be created outside the runtime
    /// and [`started`](World::start) inside it.
    pub fn new(schedule: Schedule, invariants: &[Invariant], history_keep: usize) -> World {
        let (before, after) = crate::log::report_window();
        let log = History::new(history_keep).with_window(before, after);
        let state = State::new(&schedule, Judge::new(invariants), log);
        World(Arc::new(Shared {
            state: Mutex::new(state),
            clock: std::sync::OnceLock::new(),
            diagnostics: Arc::default(),
            schedule,
            invariants: invariants.to_vec(),
            inits: Mutex::new(Vec::new()),
            values: Mutex::new(Default::default()),
        }))
    }

    /// Virtual nanoseconds now.
    pub(crate) fn now_ns(&self) -> u64 {
        now_on(self.0.clock.get())
    }

    /// `madsim::time::sleep(duration)`, on the run's clock once started:
    /// the same `Sleep`, without looking the runtime up in a thread-local
    /// and cloning its handle for every file operation.
    pub(crate) fn sleep_for(&self, duration: Duration) -> madsim::time::Sleep {
        match self.0.clock.get() {
            Some(clock) => clock.sleep(duration),
            None => madsim::time::sleep(duration),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock is already a failed run; the state
        // is still the best record of what happened.
        self.0.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The schedule of this run.
    pub fn schedule(&self) -> &Schedule {
        &self.0.schedule
    }

    /// The invariants this run judges.
    pub fn invariants(&self) -> &[Invariant] {
        &self.0.invariants
    }

    /// Virtual time since the start.
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.now_ns())
    }

    /// End of the chaos phase: no fault fires after it.
    pub fn chaos_end(&self) -> Duration {
        Duration::from_millis(self.0.schedule.duration_ms)
    }

    /// End of the quiet phase.
    pub fn quiet_end(&self) -> Duration {
        Duration::from_millis(self.0.schedule.duration_ms + self.0.schedule.quiet_ms)
    }

    /// Sleep until `at` (virtual, since the start); returns at once if past.
    pub async fn sleep_until(&self, at: Duration) {
        sleep_until_ns(at.as_nanos() as u64).await
    }

    /// This run's one value of type `T`, made with `T::default()` on first
    /// use: state every node and hook of one run shares (an [`Acked`]
    /// set, a counter), fresh for every seed. Captured state would be shared
    /// by every seed of a sweep, on several threads at once.
    ///
    /// [`Acked`]: crate::Acked
    pub fn shared<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        let mut values = self.0.values.lock().unwrap_or_else(|p| p.into_inner());
        let value = values.entry(std::any::TypeId::of::<T>()).or_insert_with(|| Arc::new(T::default())).clone();
        value.downcast::<T>().unwrap_or_else(|_| unreachable!("values are keyed by their type"))
    }

    /// An independent random stream for the workload's own choices.
    pub fn workload_rng(&self, stream: u64) -> SimRng {
        SimRng::new(self.0.schedule.seed, 0x1000 + stream)
    }

    /// The environment `core` code runs with: the simulated seams.
    pub fn env(&self) -> Env {
        Env {
            fs: Arc::new(SimFs(self.clone())),
            clock: Arc::new(SimClock(self.clone())),
            procs: Arc::new(SimProcs(self.clone())),
            spawner: Arc::new(SimSpawner),
            entropy: Arc::new(SimEntropy),
        }
    }

    // ----- verdicts ------------------------------------------------------

    /// Count one check of `invariant`; record a violation when `ok` is false.
    /// Panics if the invariant was not declared (a scenario bug). The
    /// message is rendered before the world is locked, so it may consult
    /// the world (`peek_dir`, `peek_file`, ...).
    pub fn check(&self, invariant: &str, ok: bool, message: impl FnOnce() -> String) {
        let now = self.now_ns();
        let message = if ok { String::new() } else { message() };
        let mut st = self.lock();
        let invariant = st.judge.declared(invariant);
        st.verdict(now, invariant, ok, message);
    }

    /// Record that the run reached a dangerous moment (a coverage point).
    pub fn reach(&self, name: &str) {
        let now = self.now_ns();
        self.lock().reach(now, name);
    }

    /// Run `watcher` on every effect that lands on a path under `prefix`
    /// (either path of a rename), right after it lands: the way to check
    /// an invariant "at every step" rather than at sampled instants.
    pub fn watch(&self, prefix: impl Into<std::path::PathBuf>, watcher: Watcher) {
        self.lock().judge.watch(prefix.into(), watcher);
    }

    /// Operations named `op` whose (first) path satisfies `matches`, begun
    /// but not yet landed: how a workload aims at a dangerous moment ("crash
    /// while a rename of this file is in flight").
    pub fn in_flight(&self, op: &str, matches: impl Fn(&Path) -> bool) -> usize {
        let now = self.now_ns();
        let mut st = self.lock();
        st.settle(now);
        landings(&st.disk, None, op, matches).count()
    }

    /// [`World::in_flight`], of process `pid`'s operations only (a killed
    /// process's may still be on their way after its restart).
    pub fn in_flight_of(&self, pid: u32, op: &str, matches: impl Fn(&Path) -> bool) -> usize {
        let now = self.now_ns();
        let mut st = self.lock();
        st.settle(now);
        landings(&st.disk, Some(pid), op, matches).count()
    }

    /// System calls of process `pid` named `op` whose (first) path
    /// satisfies `matches`, issued and not yet returned to their caller:
    /// in flight, or landed with the caller still waiting out the call's
    /// window. What "this process is inside that call" means; a caller
    /// that went away (a cancelled future) is not waiting.
    pub fn calls_of(&self, pid: u32, op: &str, matches: impl Fn(&Path) -> bool) -> usize {
        let now = self.now_ns();
        let mut st = self.lock();
        st.settle(now);
        let returning = st.disk.returning().filter(|r| r.pid == pid && r.op == op && matches(&r.path)).count();
        returning + landings(&st.disk, Some(pid), op, &matches).count()
    }

    /// When the effect of the first operation named `op` whose (first)
    /// path satisfies `matches`, begun but not yet landed, will land (in
    /// virtual time since the start): how a workload acts right after a
    /// dangerous effect ("answer just after this rename lands") without
    /// polling for it.
    pub fn lands_at(&self, op: &str, matches: impl Fn(&Path) -> bool) -> Option<Duration> {
        let now = self.now_ns();
        let mut st = self.lock();
        st.settle(now);
        landings(&st.disk, None, op, matches).next().map(Duration::from_nanos)
    }

    /// What the code under test said through `tracing` so far in this run
    /// (events at `INFO` and above; see [`crate::log::Diagnostic`]), in
    /// order. Empty outside the runner (which installs the capture).
    pub fn diagnostics(&self) -> Vec<crate::log::Diagnostic> {
        self.0.diagnostics.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The capture of this run's diagnostics, over `before` (the thread's
    /// default until now, which still receives every event).
    pub(crate) fn capture(&self, before: tracing::Dispatch) -> crate::log::Capture {
        let world = self.clone();
        crate::log::Capture {
            sink: self.0.diagnostics.clone(),
            // A diagnostic emitted under the world's lock (from a checker)
            // is the world's own.
            stamp: Arc::new(move || {
                let node = world.0.state.try_lock().map_or_else(|_| "world".into(), |st| world.caller_name(&st));
                (world.now_ns(), node.to_string())
            }),
            before,
        }
    }

    /// Add a line to the history from the workload (on the calling node).
    pub fn note(&self, text: impl Into<String>) {
        let now = self.now_ns();
        let mut st = self.lock();
        let node = self.caller_name(&st);
        st.record(now, node, SimEvent::Note { text: text.into() });
    }

    /// A named hang point: completes at once, unless a hang rule fires for
    /// this call during the chaos phase, in which case it never completes.
    pub async fn hang_point(&self, point: &str) {
        let hang = {
            let now = self.now_ns();
            let mut st = self.lock();
            let chaos = now < ms_to_ns(self.0.schedule.duration_ms);
            let State { counters, rng, .. } = &mut *st;
            let fire = crate::plan::hang(&self.0.schedule, counters, rng, point, chaos);
            if fire {
                let node = self.caller_name(&st);
                st.record(now, node, SimEvent::Hang { point: point.to_string() });
            }
            fire
        };
        if hang {
            std::future::pending::<()>().await;
        }
    }

    /// The calling node's name (`driver` for the harness node).
    fn caller_name(&self, st: &State) -> Arc<str> {
        Self::node_name(st, self.current_node(st))
    }

    /// The label of node `node` (of the driver when `None`).
    pub(crate) fn node_name(st: &State, node: Option<usize>) -> Arc<str> {
        node.map_or_else(|| Arc::from("driver"), |i| st.procs.nodes[i].name.clone())
    }

    /// The calling node's time: a node stalled by a blocking call reads the
    /// stall's end for the rest of the poll that made the call.
    pub(crate) fn local_now(&self, st: &State) -> u64 {
        Self::local_at(st, self.current_node(st), self.now_ns())
    }

    /// Node `node`'s time when the world's is `now` (see [`Self::local_now`]).
    pub(crate) fn local_at(st: &State, node: Option<usize>, now: u64) -> u64 {
        node.map_or(now, |i| now.max(st.procs.nodes[i].stall_until_ns))
    }

    pub(crate) fn current_node(&self, st: &State) -> Option<usize> {
        st.procs.index_of(madsim::plugin::node())
    }

    // ----- the file tree, seen from outside ------------------------------

    /// Run a read-only operation on the tree as it is now, without latency,
    /// faults or history: for checkers.
    pub fn peek(&self, op: FsOp) -> io::Result<FsOutput> {
        let read_only = matches!(
            op,
            FsOp::Read(_)
                | FsOp::ReadDir(_)
                | FsOp::ReadDirMetadata(_)
                | FsOp::SymlinkMetadata(_)
                | FsOp::Metadata(_)
                | FsOp::ReadLink(_)
        );
        assert!(read_only, "peek is for read-only operations, not {}", op.name());
        let now = self.now_ns();
        let mut st = self.lock();
        st.settle(now);
        let wall = st.wall_at(now);
        st.disk.tree.apply(&op, wall)
    }

    /// The entries of directory `dir` as they are now, in name order, each
    /// with its `symlink_metadata` (for checkers: [`World::listing`] walks
    /// the whole tree, and a [`World::peek`] per entry walks its path).
    pub fn peek_dir(&self, dir: &Path) -> io::Result<Vec<(std::ffi::OsString, steadfast_core::fs::Metadata)>> {
        let now = self.now_ns();
        let mut st = self.lock();
        st.settle(now);
        st.disk.tree.dir_entries(dir)
    }

    /// Read a file as it is now (for checkers).
    pub fn peek_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        match self.peek(FsOp::Read(path.to_path_buf()))? {
            FsOutput::Bytes(b) => Ok(b),
            other => Err(io::Error::other(format!("read returned {other:?}"))),
        }
    }

    /// How many file handles are open (closed ones with operations still
    /// in flight included).
    pub fn open_handles(&self) -> usize {
        self.lock().disk.tree.open_handles()
    }

    /// Every entry of the tree as it is now.
    pub fn listing(&self) -> Vec<Listed> {
        let now = self.now_ns();
        let mut st = self.lock();
        st.settle(now);
        st.disk.tree.listing()
    }

    /// File operations whose effects landed so far.
    pub fn fs_ops(&self) -> u64 {
        self.lock().disk.fs_ops
    }

    // ----- the end of a run ----------------------------------------------

    /// Summary counters and verdicts (for the runner).
    /// `with_tree`: list the final tree (a replay wants it; a sweep of
    /// thousands of seeds over 50,000-entry trees does not).
    pub(crate) fn take_report(&self, now: u64, with_tree: bool) -> Report {
        let mut st = self.lock();
        st.settle(now);
        Report {
            violations: std::mem::take(&mut st.judge.violations),
            checks: std::mem::take(&mut st.judge.checks).into_iter().map(|(k, n)| (k.to_string(), n)).collect(),
            reached: st.judge.reached.keys().cloned().collect(),
            tree: if with_tree { st.disk.tree.listing() } else { Vec::new() },
            history: std::mem::replace(&mut st.log, History::new(0)),
            fs_ops: st.disk.fs_ops,
            faults_injected: st.disk.faults_injected,
            crashes_fired: std::mem::take(&mut st.crashes_fired),
            chaos_ops: st.counters.chaos_ops.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            sim_ns: now,
        }
    }

    /// Break the reference cycles a finished run leaves (the world node's
    /// handle keeps madsim's executor, whose tasks hold this world; node
    /// inits and watchers may hold it too), so the run's memory is freed.
    /// The runner calls it after the report is taken.
    pub(crate) fn teardown(&self) {
        let (node, watchers) = {
            let mut st = self.lock();
            st.disk.clear();
            (st.world_node.take(), st.judge.take_watchers())
        };
        let inits = std::mem::take(&mut *self.0.inits.lock().unwrap_or_else(|p| p.into_inner()));
        let values = std::mem::take(&mut *self.0.values.lock().unwrap_or_else(|p| p.into_inner()));
        drop((node, watchers, inits, values));
    }

    /// Time of the last recorded event (for a run that ended in a panic).
    pub(crate) fn last_event_ns(&self) -> u64 {
        self.lock().log.events().last().map_or(0, |e: &Record| e.at_ns)
    }

    /// Has `invariant` been violated in this run?
    pub(crate) fn has_violation(&self, invariant: &str) -> bool {
        self.lock().judge.has_violation(invariant)
    }

    /// End this run once its first violation is reported: [`World::caught`]
    /// then completes (the runner's choice for a sweep of a `violate`
    /// scenario, whose verdict the rest of the run cannot change).
    pub(crate) fn end_when_caught(&self) {
        self.lock().stop.armed = true;
    }

    /// Completes once the first violation and the report window after it
    /// are recorded, if [`World::end_when_caught`] was called; never
    /// otherwise.
    pub(crate) fn caught(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            let mut st = self.lock();
            if st.stop.fired {
                return std::task::Poll::Ready(());
            }
            if st.stop.armed {
                st.stop.waker = Some(cx.waker().clone());
            }
            std::task::Poll::Pending
        })
    }

    /// Record a violation found by the runner itself (a panic, a time-out).
    pub(crate) fn runner_violation(&self, invariant: &str, at_ns: u64, message: String) {
        self.lock().violation(at_ns, invariant, message);
    }

    fn spawn_on_world(&self, fut: impl Future<Output = ()> + Send + 'static) {
        let node = self.lock().world_node.clone();
        match node {
            Some(node) => drop(node.spawn(fut)),
            None => panic!("World::start was not called"),
        }
    }
}

/// When each operation in flight named `op` (of process `pid`, or of any)
/// whose first path satisfies `matches` will land (virtual ns), earliest
/// first.
fn landings<'a>(
    disk: &'a crate::disk::Disk,
    pid: Option<u32>,
    op: &'a str,
    matches: impl Fn(&Path) -> bool + 'a,
) -> impl Iterator<Item = u64> + 'a {
    let ours = move |p: &crate::disk::Pending| pid.is_none_or(|pid| p.pid == pid);
    disk.in_flight_landing()
        .filter(move |(_, p)| ours(p) && p.op.name() == op && matches(p.op.path()))
        .map(|(at, _)| at)
}
