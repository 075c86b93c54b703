//! [`World`]: the one place a run's simulated state lives (file tree,
//! in-flight operations, nodes and their pids, the fault schedule's
//! counters, the history and the verdicts), and the seam adapters that
//! `core` sees: [`SimFs`], [`SimClock`], [`SimProcs`], [`SimSpawner`],
//! [`SimEntropy`].
//!
//! Time and scheduling come from madsim (virtual time that jumps to the next
//! event, one seeded scheduler). File-system decisions (latency, effect
//! instant, faults, torn prefixes) come from the world's own [`SimRng`].
//!
//! How an operation runs:
//! - async: its latency `L` and effect offset `e` in `0..=L` are drawn at
//!   its start `t0`; the effect is queued at `t0 + e` and the caller sleeps
//!   until `t0 + L`. Queued effects are applied in time order whenever
//!   anything observes the tree, so an effect lands at its instant even if
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

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use madsim::runtime::{Handle, NodeHandle};
use madsim::task::NodeId;
use steadfast_core::{
    Abort, BoxFuture, Clock, Entropy, Env, Fs, FsOp, FsOutput, Liveness, Mono, Procs, Spawn, TaskHandle,
};

use crate::faults::{self, FaultKind};
use crate::fs::{Listed, Torn, Tree};
use crate::history::{Event as HistEvent, History};
use crate::rng::SimRng;
use crate::schedule::{Event, Schedule};

/// A future that need not be `Send`: node inits and scenario drivers run on
/// madsim's single-threaded executor.
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// The pid the harness itself (node 0, the driver) reports.
pub const HARNESS_PID: u32 = 1;
const FIRST_PID: u32 = 100;
/// How long a node that calls into a file system whose power is going out
/// stalls: longer than the loss takes to arrive (it is due already).
const CRASH_STALL_NS: u64 = 1_000_000_000;
/// Cap on per-entry latency draws of one `remove_dir_all`.
/// File operations that may begin within one virtual second before the
/// run is ended as making no progress (RUN4): far more than any honest
/// burst.
pub const SAME_INSTANT_OPS_MAX: u64 = 1_000_000;

/// The panic payload that ends a run making no progress (RUN4 is already
/// recorded; the runner does not report it again as a panic).
#[derive(Debug)]
pub(crate) struct NoProgress;

const TREE_DRAWS_MAX: u64 = 100_000;

/// A declared invariant: its ID (`T3`, `F1`) and one-line statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invariant {
    /// The ID used in code, docs and failure messages.
    pub id: &'static str,
    /// What it promises, in one line.
    pub statement: &'static str,
}

/// One invariant violation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// The invariant's ID.
    pub invariant: String,
    /// Virtual time of the violation, ms since the start.
    pub at_ms: u64,
    /// What was seen.
    pub message: String,
}

type NodeInit = Arc<dyn Fn(World) -> LocalBoxFuture<'static, ()> + Send + Sync>;

struct NodeSlot {
    name: String,
    pid: u32,
    start_ns: u64,
    alive: bool,
    reuse_pid_next: bool,
    stall_until_ns: u64,
    paused: bool,
}

struct Pending {
    id: u64,
    op: FsOp,
    node: String,
    /// The caller's pid (0 for the harness): a killed process stays alive
    /// until its in-flight system calls finish, as in a kernel.
    pid: u32,
    /// The calling task's name.
    task: String,
    fault: Option<(FaultKind, usize)>,
    /// With a fault on a write-like op: the prefix of the data that still
    /// lands (a partial write before the error).
    partial: Option<usize>,
}

struct State {
    tree: Tree,
    rng: SimRng,
    pending: BTreeMap<(u64, u64), Pending>,
    results: BTreeMap<u64, io::Result<FsOutput>>,
    /// Operations whose caller went away: their results are not kept.
    abandoned: BTreeSet<u64>,
    next_op: u64,
    rule_hits: Vec<u64>,
    hang_hits: Vec<u64>,
    nodes: Vec<NodeSlot>,
    by_id: BTreeMap<NodeId, usize>,
    next_pid: u32,
    /// Power losses so far: a restart scheduled by one is dropped when a
    /// later one came before it (power comes back once, after the last).
    power_epoch: u64,
    /// Crash rules whose power loss happened, in order.
    crashes_fired: Vec<usize>,
    /// File operations begun since virtual time last moved by a
    /// second: (when that window began, how many) (RUN4).
    ops_window: (u64, u64),
    world_node: Option<NodeHandle>,
    start_wall: SystemTime,
    wall_offset_ns: i64,
    history: History,
    violations: Vec<Violation>,
    checks: BTreeMap<String, u64>,
    reached: BTreeMap<String, u64>,
    fs_ops: u64,
    faults_injected: u64,
    crash_hits: Vec<u64>,
    /// The armed crash point: the queue key of the operation after whose
    /// effect the power goes out, and the rule that armed it.
    crash: Option<((u64, u64), usize)>,
    /// Operations begun during the chaos phase, by name: the crash points a
    /// run offers (see `runner::crash_points`).
    chaos_ops: BTreeMap<&'static str, u64>,
    watchers: Vec<(std::path::PathBuf, Watcher)>,
    invariants: Vec<Invariant>,
    /// The Chrome trace, in replay mode only.
    chrome: Option<crate::chrome::ChromeTrace>,
}

/// A checker run on every landed effect under its path prefix (see
/// [`World::watch`]).
pub type Watcher = Box<dyn FnMut(&mut Landed<'_>) + Send>;

/// One landed effect, as a watcher sees it: the operation, its result, and
/// the tree right after it (read-only).
pub struct Landed<'a> {
    /// Virtual time of the effect.
    pub at: Duration,
    /// The node whose operation it was.
    pub node: &'a str,
    /// The operation.
    pub op: &'a FsOp,
    /// Did it succeed?
    pub ok: bool,
    tree: &'a Tree,
    nodes: &'a [NodeSlot],
    pending: &'a BTreeMap<(u64, u64), Pending>,
    verdicts: Vec<(String, bool, String)>,
    reached: Vec<String>,
}

impl Landed<'_> {
    /// Read a file as it is right after this effect.
    pub fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.tree.read_file(path)
    }

    /// Is process `pid` alive right after this effect (running, or killed
    /// with a system call still in flight)?
    pub fn pid_alive(&self, pid: u32) -> bool {
        pid_alive(self.nodes, self.pending, pid)
    }

    /// List a directory as it is right after this effect.
    pub fn list(&self, dir: &Path) -> io::Result<Vec<steadfast_core::DirEntry>> {
        self.tree.list_dir(dir)
    }

    /// Count a check of `invariant`; a violation when `ok` is false.
    pub fn check(&mut self, invariant: &str, ok: bool, message: impl FnOnce() -> String) {
        let message = if ok { String::new() } else { message() };
        self.verdicts.push((invariant.to_string(), ok, message));
    }

    /// Record that the run reached a coverage point.
    pub fn reach(&mut self, name: &str) {
        self.reached.push(name.to_string());
    }
}

struct Shared {
    state: Mutex<State>,
    schedule: Schedule,
    invariants: Vec<Invariant>,
    inits: Mutex<Vec<NodeInit>>,
}

/// A handle to the world of one run. Cheap to clone.
#[derive(Clone)]
pub struct World(Arc<Shared>);

fn now_ns() -> u64 {
    madsim::time::TimeHandle::current().elapsed().as_nanos() as u64
}

fn ms_to_ns(ms: u64) -> u64 {
    ms.saturating_mul(1_000_000)
}

impl World {
    /// A world for `schedule`, judging `invariants`, keeping the last
    /// `history_keep` events in memory. Must be created outside the runtime
    /// and [`started`](World::start) inside it.
    pub fn new(schedule: Schedule, invariants: &[Invariant], history_keep: usize) -> World {
        let state = State {
            tree: Tree::new(SystemTime::UNIX_EPOCH),
            rng: SimRng::new(schedule.seed, 0xF5),
            pending: BTreeMap::new(),
            results: BTreeMap::new(),
            abandoned: BTreeSet::new(),
            next_op: 0,
            rule_hits: vec![0; schedule.errors.len()],
            hang_hits: vec![0; schedule.hangs.len()],
            nodes: Vec::new(),
            by_id: BTreeMap::new(),
            next_pid: FIRST_PID,
            power_epoch: 0,
            crashes_fired: Vec::new(),
            ops_window: (0, 0),
            world_node: None,
            start_wall: SystemTime::UNIX_EPOCH,
            wall_offset_ns: 0,
            history: {
                let (before, after) = crate::history::report_window();
                History::new(history_keep).with_window(before, after)
            },
            violations: Vec::new(),
            checks: BTreeMap::new(),
            reached: BTreeMap::new(),
            fs_ops: 0,
            faults_injected: 0,
            crash_hits: vec![0; schedule.crashes.len()],
            crash: None,
            chaos_ops: BTreeMap::new(),
            watchers: Vec::new(),
            invariants: invariants.to_vec(),
            chrome: (history_keep == usize::MAX).then(crate::chrome::ChromeTrace::default),
        };
        World(Arc::new(Shared {
            state: Mutex::new(state),
            schedule,
            invariants: invariants.to_vec(),
            inits: Mutex::new(Vec::new()),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock is already a failed run; the state
        // is still the best record of what happened.
        self.0.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Start the world inside the runtime: the world node (which resumes
    /// stalled nodes and fires timed events) and the schedule's events.
    pub fn start(&self) {
        let tm = madsim::time::TimeHandle::current();
        let start_wall = tm.now_time() - tm.elapsed();
        let node = Handle::current().create_node().name("world").init(std::future::pending::<()>).build();
        let mut events = self.0.schedule.events.clone();
        events.sort_by_key(|e| e.at_ms);
        if let Some(every) = self.0.schedule.metadata_commit_ms {
            let world = self.clone();
            node.spawn(async move {
                loop {
                    madsim::time::sleep(Duration::from_millis(every)).await;
                    let now = now_ns();
                    let mut st = world.lock();
                    st.settle(now);
                    st.tree.commit_metadata();
                }
            });
        }
        let world = self.clone();
        node.spawn(async move {
            for e in events {
                sleep_until_ns(ms_to_ns(e.at_ms)).await;
                world.fire(&e.what);
            }
        });
        let mut st = self.lock();
        st.start_wall = start_wall;
        st.tree = Tree::new(start_wall);
        st.world_node = Some(node);
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
        Duration::from_nanos(now_ns())
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

    // ----- nodes ---------------------------------------------------------

    /// Add a node named `name` whose process runs `init` (again after every
    /// restart, with a new pid). Returns its madsim handle.
    pub fn add_node<F, Fut>(&self, name: &str, init: F) -> NodeHandle
    where
        F: Fn(World) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let init: NodeInit = Arc::new(move |w| Box::pin(init(w)));
        let idx = {
            let mut st = self.lock();
            assert!(st.nodes.iter().all(|n| n.name != name), "node {name:?} added twice");
            st.nodes.push(NodeSlot {
                name: name.to_string(),
                pid: 0,
                start_ns: 0,
                alive: false,
                reuse_pid_next: false,
                stall_until_ns: 0,
                paused: false,
            });
            st.nodes.len() - 1
        };
        self.0.inits.lock().unwrap_or_else(|p| p.into_inner()).push(init.clone());
        let world = self.clone();
        let ip = node_ip(idx);
        let handle = Handle::current()
            .create_node()
            .name(name)
            .ip(ip)
            .init(move || {
                let world = world.clone();
                let init = init.clone();
                async move {
                    world.incarnate(idx);
                    init(world).await
                }
            })
            .build();
        self.lock().by_id.insert(handle.id(), idx);
        handle
    }

    /// The IP address of node `name`.
    pub fn ip(&self, name: &str) -> std::net::IpAddr {
        let st = self.lock();
        let idx = st.nodes.iter().position(|n| n.name == name).unwrap_or_else(|| panic!("no node {name:?}"));
        node_ip(idx)
    }

    fn incarnate(&self, idx: usize) {
        let now = now_ns();
        let mut st = self.lock();
        let pid = if st.nodes[idx].reuse_pid_next && st.nodes[idx].pid != 0 {
            st.nodes[idx].pid
        } else {
            st.next_pid += 1;
            st.next_pid
        };
        let slot = &mut st.nodes[idx];
        slot.pid = pid;
        slot.start_ns = now;
        slot.alive = true;
        slot.reuse_pid_next = false;
        slot.stall_until_ns = 0;
        slot.paused = false;
        let name = slot.name.clone();
        st.record(now, &name, format!("process starts, pid {pid}"));
    }

    /// Is node `name`'s process running?
    pub fn is_alive(&self, name: &str) -> bool {
        self.lock().nodes.iter().any(|n| n.name == name && n.alive)
    }

    /// The current pid of node `name` (its last one if dead).
    pub fn pid_of(&self, name: &str) -> Option<u32> {
        self.lock().nodes.iter().find(|n| n.name == name).map(|n| n.pid)
    }

    /// Kill node `name`'s process now.
    pub fn kill(&self, name: &str) {
        self.fire(&Event::Kill { node: name.to_string() });
    }

    /// Restart node `name` now (killing it first if it runs).
    pub fn restart(&self, name: &str) {
        self.fire(&Event::Restart { node: name.to_string(), reuse_pid: false });
    }

    fn node_id(&self, name: &str) -> Option<(usize, NodeId)> {
        let st = self.lock();
        let idx = st.nodes.iter().position(|n| n.name == name)?;
        Some((idx, st.madsim_id(idx)?))
    }

    /// Apply a schedule event now.
    pub fn fire(&self, event: &Event) {
        let now = now_ns();
        match event {
            Event::Kill { node } => {
                let Some((idx, id)) = self.node_id(node) else { return self.unknown_node(node) };
                self.kill_idx(idx, id, now, "killed (SIGKILL)");
            }
            Event::Restart { node, reuse_pid } => {
                let Some((idx, id)) = self.node_id(node) else { return self.unknown_node(node) };
                self.kill_idx(idx, id, now, "killed for restart");
                self.lock().nodes[idx].reuse_pid_next = *reuse_pid;
                Handle::current().restart(id);
            }
            Event::PowerLoss { torn, restart_after_ms } => self.power_loss(*torn, false, *restart_after_ms),
            Event::ClockJump { by_ms } => {
                let mut st = self.lock();
                st.wall_offset_ns = st.wall_offset_ns.saturating_add(by_ms.saturating_mul(1_000_000));
                st.record(now, "-", format!("wall clock jumps {by_ms:+}ms"));
            }
        }
    }

    fn unknown_node(&self, node: &str) {
        let mut st = self.lock();
        let now = now_ns();
        st.record(now, "-", format!("schedule names unknown node {node:?}: event ignored"));
    }

    fn kill_idx(&self, idx: usize, id: NodeId, now: u64, why: &str) {
        {
            let mut st = self.lock();
            let slot = &mut st.nodes[idx];
            if !slot.alive {
                return;
            }
            slot.alive = false;
            slot.paused = false;
            slot.stall_until_ns = 0;
            let name = slot.name.clone();
            st.record(now, &name, why.to_string());
        }
        Handle::current().kill(id);
    }

    /// Every node dies and volatile state is lost; with `metadata_survives`
    /// the kernel committed directory entries first (data stays volatile).
    fn power_loss(&self, torn: bool, metadata_survives: bool, restart_after_ms: Option<u64>) {
        let now = now_ns();
        let names: Vec<String> = self.lock().nodes.iter().map(|n| n.name.clone()).collect();
        for name in &names {
            if let Some((idx, id)) = self.node_id(name) {
                self.kill_idx(idx, id, now, "power loss");
            }
        }
        {
            let mut st = self.lock();
            st.settle(now);
            st.crash = None;
            let lost = st.pending.len();
            st.pending.clear();
            st.results.clear();
            st.abandoned.clear();
            if metadata_survives {
                st.tree.commit_metadata();
            }
            let State { tree, rng, .. } = &mut *st;
            let mode = if torn { Torn::Prefix } else { Torn::None };
            let torn_files = tree.power_loss(mode, &mut |extra| rng.range(0, extra as u64) as usize);
            st.record(now, "-", format!("POWER LOSS: {lost} in-flight ops lost, {torn_files} files torn"));
            st.power_epoch += 1;
        }
        let epoch = self.lock().power_epoch;
        if let Some(after) = restart_after_ms {
            let world = self.clone();
            self.spawn_on_world(async move {
                madsim::time::sleep(Duration::from_millis(after.max(1))).await;
                let now = now_ns();
                {
                    let mut st = world.lock();
                    if st.power_epoch != epoch {
                        // A later loss came while the power was off: its
                        // own restart (or none) decides; restarts coalesce.
                        st.record(now, "-", "restart after power loss dropped: a later power loss came first".into());
                        return;
                    }
                }
                for name in names {
                    if let Some((idx, id)) = world.node_id(&name) {
                        // Every kill is recorded: a node a schedule event
                        // restarted meanwhile is running.
                        world.kill_idx(idx, id, now, "killed for restart after power loss");
                        Handle::current().restart(id);
                    }
                }
            });
        }
    }

    fn spawn_on_world(&self, fut: impl Future<Output = ()> + Send + 'static) {
        let node = self.lock().world_node.clone();
        match node {
            Some(node) => drop(node.spawn(fut)),
            None => panic!("World::start was not called"),
        }
    }

    /// The calling node's time: a node stalled by a blocking call reads the
    /// stall's end for the rest of the poll that made the call.
    fn local_now(&self, st: &State) -> u64 {
        let now = now_ns();
        self.current_node(st).map_or(now, |i| now.max(st.nodes[i].stall_until_ns))
    }

    fn current_node(&self, st: &State) -> Option<usize> {
        st.by_id.get(&madsim::plugin::node()).copied()
    }

    // ----- verdicts ------------------------------------------------------

    /// Count one check of `invariant`; record a violation when `ok` is false.
    /// Panics if the invariant was not declared (a scenario bug).
    pub fn check(&self, invariant: &str, ok: bool, message: impl FnOnce() -> String) {
        assert!(
            self.0.invariants.iter().any(|i| i.id == invariant),
            "invariant {invariant} is not declared by this scenario"
        );
        let now = now_ns();
        let mut st = self.lock();
        let message = if ok { String::new() } else { message() };
        st.verdict(now, invariant, ok, message);
    }

    /// Record that the run reached a dangerous moment (a coverage point).
    pub fn reach(&self, name: &str) {
        let now = now_ns();
        self.lock().reached_point(now, name);
    }

    /// Run `watcher` on every effect that lands on a path under `prefix`
    /// (either path of a rename), right after it lands: the way to check
    /// an invariant "at every step" rather than at sampled instants.
    pub fn watch(&self, prefix: impl Into<std::path::PathBuf>, watcher: Watcher) {
        self.lock().watchers.push((prefix.into(), watcher));
    }

    /// Operations named `op` whose (first) path satisfies `matches`, begun
    /// but not yet landed: how a workload aims at a dangerous moment ("crash
    /// while a rename of this file is in flight").
    pub fn in_flight(&self, op: &str, matches: impl Fn(&Path) -> bool) -> usize {
        let now = now_ns();
        let mut st = self.lock();
        st.settle(now);
        st.pending.values().filter(|p| p.op.name() == op && matches(p.op.path())).count()
    }

    /// Add a line to the history from the workload (on the calling node).
    pub fn note(&self, text: impl Into<String>) {
        let now = now_ns();
        let mut st = self.lock();
        let node = self.current_node(&st).map_or_else(|| "driver".to_string(), |i| st.nodes[i].name.clone());
        st.record(now, &node, text.into());
    }

    /// A named hang point: completes at once, unless a hang rule fires for
    /// this call during the chaos phase, in which case it never completes.
    pub async fn hang_point(&self, point: &str) {
        let hang = {
            let now = now_ns();
            let mut st = self.lock();
            let chaos = now < ms_to_ns(self.0.schedule.duration_ms);
            let mut fire = false;
            for (i, rule) in self.0.schedule.hangs.iter().enumerate() {
                if rule.point != point {
                    continue;
                }
                st.hang_hits[i] += 1;
                let hit = st.hang_hits[i];
                let p = rule.probability.unwrap_or(0.0);
                fire |= chaos && (rule.nth == Some(hit) || st.rng.chance(p));
            }
            if fire {
                let node = self.current_node(&st).map_or_else(|| "driver".to_string(), |i| st.nodes[i].name.clone());
                st.record(now, &node, format!("HANG at {point}: this future never completes"));
            }
            fire
        };
        if hang {
            std::future::pending::<()>().await;
        }
    }

    // ----- the file tree, seen from outside ------------------------------

    /// Build the initial tree: apply `ops` instantly, then make everything
    /// durable. Panics on an error (a scenario bug).
    pub fn setup(&self, ops: impl IntoIterator<Item = FsOp>) {
        let mut st = self.lock();
        let wall = st.wall_at(now_ns());
        for op in ops {
            if let Err(e) = st.tree.apply(&op, wall) {
                panic!("setup {} {}: {e}", op.name(), op.path().display());
            }
        }
        st.tree.sync_all();
    }

    /// Write a file from outside every process, instantly and durably (a
    /// kernel pseudo-file such as a cgroup's `memory.current`, or a file an
    /// operator drops in): only that file and its directory are synced,
    /// not the whole tree. Panics on an error (a scenario bug).
    pub fn harness_write(&self, path: &Path, data: Vec<u8>) {
        let mut st = self.lock();
        st.settle(now_ns());
        let wall = st.wall_at(now_ns());
        let write = FsOp::Write { path: path.to_path_buf(), data };
        if let Err(e) = st.tree.apply(&write, wall) {
            panic!("harness write {}: {e}", path.display());
        }
        for p in [Some(path), path.parent()].into_iter().flatten() {
            let sync = FsOp::SyncFile(p.to_path_buf());
            if let Err(e) = st.tree.apply(&sync, wall) {
                panic!("harness sync {}: {e}", p.display());
            }
        }
    }

    /// Change the tree from outside every process, instantly (an operator
    /// or a hostile user: a planted symlink, a removed directory): no
    /// latency, no faults, nothing made durable. The result is returned,
    /// and recorded in the history.
    pub fn harness_apply(&self, op: FsOp) -> io::Result<FsOutput> {
        let now = now_ns();
        let mut st = self.lock();
        st.settle(now);
        let wall = st.wall_at(now);
        let result = st.tree.apply(&op, wall);
        let shown = if result.is_ok() {
            "ok".to_string()
        } else {
            format!("err {:?}", result.as_ref().err().map(io::Error::kind))
        };
        st.record(now, "harness", format!("{} {}: {shown}", op.name(), op.path().display()));
        result
    }

    /// Set a file's mtime from outside every process (`touch -d`: a
    /// hostile user dating a file into the future, or into the past); its
    /// ctime becomes the wall clock's now. Recorded in the history.
    pub fn harness_touch(&self, path: &Path, mtime: std::time::SystemTime) -> io::Result<()> {
        let now = now_ns();
        let mut st = self.lock();
        st.settle(now);
        let wall = st.wall_at(now);
        let result = st.tree.set_mtime(path, mtime, wall);
        let shown = match mtime.duration_since(wall) {
            Ok(ahead) => format!("+{} ms", ahead.as_millis()),
            Err(behind) => format!("-{} ms", behind.duration().as_millis()),
        };
        let outcome = if result.is_ok() { "ok" } else { "err" };
        st.record(now, "harness", format!("touch {} mtime {shown}: {outcome}", path.display()));
        result
    }

    /// Plant a FIFO (a special file) at `path` from outside every process.
    pub fn harness_special(&self, path: &Path) -> io::Result<()> {
        let now = now_ns();
        let mut st = self.lock();
        st.settle(now);
        let wall = st.wall_at(now);
        let result = st.tree.plant_special(path, wall);
        st.record(now, "harness", format!("mkfifo {}: {}", path.display(), if result.is_ok() { "ok" } else { "err" }));
        result
    }

    /// Run a read-only operation on the tree as it is now, without latency,
    /// faults or history: for checkers.
    pub fn peek(&self, op: FsOp) -> io::Result<FsOutput> {
        let read_only = matches!(
            op,
            FsOp::Read(_) | FsOp::ReadDir(_) | FsOp::SymlinkMetadata(_) | FsOp::Metadata(_) | FsOp::ReadLink(_)
        );
        assert!(read_only, "peek is for read-only operations, not {}", op.name());
        let now = now_ns();
        let mut st = self.lock();
        st.settle(now);
        let wall = st.wall_at(now);
        st.tree.apply(&op, wall)
    }

    /// Read a file as it is now (for checkers).
    pub fn peek_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        match self.peek(FsOp::Read(path.to_path_buf()))? {
            FsOutput::Bytes(b) => Ok(b),
            other => Err(io::Error::other(format!("read returned {other:?}"))),
        }
    }

    /// Every entry of the tree as it is now.
    pub fn listing(&self) -> Vec<Listed> {
        let now = now_ns();
        let mut st = self.lock();
        st.settle(now);
        st.tree.listing()
    }

    /// File operations whose effects landed so far.
    pub fn fs_ops(&self) -> u64 {
        self.lock().fs_ops
    }

    /// Summary counters and verdicts (for the runner).
    /// `with_tree`: list the final tree (a replay wants it; a sweep of
    /// thousands of seeds over 50,000-entry trees does not).
    pub(crate) fn take_report(&self, now: u64, with_tree: bool) -> Report {
        let mut st = self.lock();
        st.settle(now);
        Report {
            violations: std::mem::take(&mut st.violations),
            checks: std::mem::take(&mut st.checks),
            reached: st.reached.keys().cloned().collect(),
            tree: if with_tree { st.tree.listing() } else { Vec::new() },
            history: std::mem::replace(&mut st.history, History::new(0)),
            fs_ops: st.fs_ops,
            faults_injected: st.faults_injected,
            crashes_fired: std::mem::take(&mut st.crashes_fired),
            chaos_ops: st.chaos_ops.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            sim_ns: now,
        }
    }

    /// The run's Chrome trace (replay mode only: a world created with an
    /// unbounded history).
    pub fn chrome_trace(&self) -> Option<String> {
        self.lock().chrome.as_ref().map(crate::chrome::ChromeTrace::to_json)
    }

    /// After the run: kill every node (the world's own too) without a trace
    /// in the history, so madsim drops their tasks once the executor runs
    /// again; otherwise the tasks, and the world they hold, outlive the
    /// runtime (madsim's timers and tasks keep each other alive).
    pub(crate) fn kill_all_quietly(&self) {
        let ids: Vec<NodeId> = {
            let st = self.lock();
            let world = st.world_node.as_ref().map(NodeHandle::id);
            st.by_id.keys().copied().chain(world).collect()
        };
        for id in ids {
            Handle::current().kill(id);
        }
    }

    /// Break the reference cycles a finished run leaves (the world node's
    /// handle keeps madsim's executor, whose tasks hold this world; node
    /// inits and watchers may hold it too), so the run's memory is freed.
    /// The runner calls it after the report is taken.
    pub(crate) fn teardown(&self) {
        let (node, watchers) = {
            let mut st = self.lock();
            st.pending.clear();
            st.results.clear();
            (st.world_node.take(), std::mem::take(&mut st.watchers))
        };
        let inits = std::mem::take(&mut *self.0.inits.lock().unwrap_or_else(|p| p.into_inner()));
        drop((node, watchers, inits));
    }

    /// Time of the last recorded event (for a run that ended in a panic).
    pub(crate) fn last_event_ns(&self) -> u64 {
        self.lock().history.events().last().map_or(0, |e| e.at_ns)
    }

    /// Has `invariant` been violated in this run?
    pub(crate) fn has_violation(&self, invariant: &str) -> bool {
        self.lock().violations.iter().any(|v| v.invariant == invariant)
    }

    /// Record a violation found by the runner itself (a panic, a time-out).
    pub(crate) fn runner_violation(&self, invariant: &str, at_ns: u64, message: String) {
        let mut st = self.lock();
        st.record_violation(at_ns, format!("VIOLATION {invariant}: {message}"));
        st.violations.push(Violation { invariant: invariant.to_string(), at_ms: at_ns / 1_000_000, message });
    }

    // ----- operations ----------------------------------------------------

    /// Start an operation: `None` when the power is already going out (an
    /// armed crash point has passed), so it has no effect and no result.
    fn begin(&self, op: FsOp, blocking: bool) -> Option<(u64, u64)> {
        let mut st = self.lock();
        let node = self.current_node(&st);
        let t0 = self.local_now(&st);
        let name = node.map_or_else(|| "driver".to_string(), |i| st.nodes[i].name.clone());
        if let Some(((at, _), _)) = st.crash
            && t0 >= at
        {
            st.record(t0, &name, format!("{} {}: lost, the power is going out", op.name(), op.path().display()));
            return None;
        }
        // RUN4: a workload looping on zero-latency operations barely moves
        // virtual time (madsim adds nanoseconds per poll) and would spin
        // for ever: end the run instead.
        let (at, n) = st.ops_window;
        st.ops_window = if t0.saturating_sub(at) < 1_000_000_000 { (at, n + 1) } else { (t0, 1) };
        if st.ops_window.1 > SAME_INSTANT_OPS_MAX {
            let message = format!(
                "no progress: {SAME_INSTANT_OPS_MAX} file operations began within one virtual second, from {} ms (the last: {} {})",
                t0 / 1_000_000,
                op.name(),
                op.path().display()
            );
            st.record_violation(t0, format!("VIOLATION RUN4: {message}"));
            st.violations.push(Violation { invariant: "RUN4".into(), at_ms: t0 / 1_000_000, message });
            drop(st);
            std::panic::panic_any(NoProgress);
        }
        let latency = st.latency_ns(&self.0.schedule, &op);
        let effect = t0 + st.rng.range(0, latency);
        let chaos = t0 < ms_to_ns(self.0.schedule.duration_ms);
        if chaos {
            *st.chaos_ops.entry(op.name()).or_insert(0) += 1;
        }
        let fault = if chaos { st.fault_for(&self.0.schedule, &op) } else { None };
        let partial = match (&op, fault) {
            // An exclusive create is all or nothing (the `Fs` contract): a
            // failed one leaves no partial file.
            (FsOp::Write { data, .. } | FsOp::Append { data, .. }, Some(_)) if st.rng.chance(0.5) => {
                Some(st.rng.range(0, data.len() as u64) as usize)
            }
            _ => None,
        };
        let id = st.next_op;
        st.next_op += 1;
        let to = op.second_path().map(|p| format!(" -> {}", p.display())).unwrap_or_default();
        let line = format!(
            "{}{} {}{to}  window {}ms, lands +{}ms",
            if blocking { "BLOCKING " } else { "" },
            op.name(),
            op.path().display(),
            latency / 1_000_000,
            (effect - t0) / 1_000_000
        );
        if let Some(c) = &mut st.chrome {
            let args = serde_json::json!({
                "path": op.path().display().to_string(),
                "to": op.second_path().map(|p| p.display().to_string()),
                "blocking": blocking,
                "lands_at_ms": effect as f64 / 1e6,
            });
            c.span(&name, &current_task(), op.name(), t0, latency, args);
        }
        st.record(t0, &name, line);
        // Every op in the chaos phase counts toward a crash rule's nth, as
        // the enumeration counts them: one that fails (an injected error)
        // cuts the power right after its error too.
        let crash = if chaos { st.crash_for(&self.0.schedule, &op) } else { None };
        if let Some(rule) = crash {
            st.crash = Some(((effect, id), rule));
            st.record(t0, &name, format!("CRASH POINT crashes[{rule}]: power goes out when this lands"));
        }
        let pid = node.map_or(0, |i| st.nodes[i].pid);
        st.pending.insert((effect, id), Pending { id, op, node: name, pid, task: current_task(), fault, partial });
        if blocking {
            st.settle(effect);
        }
        drop(st);
        if let Some(rule) = crash {
            self.arm_crash(effect, id, rule);
        }
        if let (true, Some(i)) = (blocking, node) {
            self.stall(i, t0 + latency);
        }
        Some((id, t0 + latency))
    }

    /// Cut the power right after operation `id` lands at `effect`: nothing
    /// that lands later survives (`settle` stops at the crash point), and
    /// nothing begun after it takes effect (`begin` swallows it).
    fn arm_crash(&self, effect: u64, id: u64, rule: usize) {
        let world = self.clone();
        self.spawn_on_world(async move {
            sleep_until_ns(effect).await;
            let armed = {
                let mut st = world.lock();
                let armed = st.crash.is_some_and(|(key, _)| key == (effect, id));
                if armed {
                    st.crashes_fired.push(rule);
                }
                armed
            };
            if armed {
                let c = &world.0.schedule.crashes[rule];
                world.power_loss(c.torn, c.metadata_survives, c.restart_after_ms);
            }
        });
    }

    fn take_result(&self, id: u64, op_name: &'static str) -> io::Result<FsOutput> {
        let now = now_ns();
        let mut st = self.lock();
        st.settle(now);
        st.results.remove(&id).unwrap_or_else(|| Err(faults::lost_to_power_loss(op_name)))
    }

    /// Stall the calling node (if it is one) for `ns`.
    fn stall_current(&self, ns: u64) {
        let (node, now) = {
            let st = self.lock();
            (self.current_node(&st), self.local_now(&st))
        };
        if let Some(i) = node {
            self.stall(i, now + ns);
        }
    }

    /// Pause node `idx` until `until` (extending a stall in progress); the
    /// world node resumes it.
    fn stall(&self, idx: usize, until: u64) {
        let id = {
            let mut st = self.lock();
            let now = now_ns();
            let slot = &mut st.nodes[idx];
            slot.stall_until_ns = slot.stall_until_ns.max(until);
            if slot.paused || until <= now {
                return;
            }
            slot.paused = true;
            let name = slot.name.clone();
            st.record(now, &name, format!("event loop stalls until {}ms", until / 1_000_000));
            st.madsim_id(idx)
        };
        let Some(id) = id else { return };
        Handle::current().pause(id);
        let world = self.clone();
        self.spawn_on_world(async move {
            loop {
                let until = world.lock().nodes[idx].stall_until_ns;
                if now_ns() >= until {
                    break;
                }
                sleep_until_ns(until).await;
            }
            let mut st = world.lock();
            let slot = &mut st.nodes[idx];
            if !slot.paused {
                return; // killed meanwhile
            }
            slot.paused = false;
            let name = slot.name.clone();
            st.record(now_ns(), &name, "event loop resumes".to_string());
            drop(st);
            Handle::current().resume(id);
        });
    }
}

/// What a run leaves behind (consumed by the runner).
pub(crate) struct Report {
    pub violations: Vec<Violation>,
    pub checks: BTreeMap<String, u64>,
    pub reached: BTreeSet<String>,
    pub tree: Vec<Listed>,
    pub history: History,
    pub fs_ops: u64,
    pub faults_injected: u64,
    pub crashes_fired: Vec<usize>,
    pub chaos_ops: BTreeMap<String, u64>,
    pub sim_ns: u64,
}

impl State {
    /// The madsim id of node `idx` (set once the node is built).
    fn madsim_id(&self, idx: usize) -> Option<NodeId> {
        self.by_id.iter().find(|(_, i)| **i == idx).map(|(id, _)| *id)
    }

    fn verdict(&mut self, at_ns: u64, invariant: &str, ok: bool, message: String) {
        *self.checks.entry(invariant.to_string()).or_insert(0) += 1;
        if !ok {
            self.record_violation(at_ns, format!("VIOLATION {invariant}: {message}"));
            if self.violations.len() < 64 {
                self.violations.push(Violation { invariant: invariant.to_string(), at_ms: at_ns / 1_000_000, message });
            }
        }
    }

    fn reached_point(&mut self, at_ns: u64, name: &str) {
        let n = self.reached.entry(name.to_string()).or_insert(0);
        *n += 1;
        if *n == 1 {
            self.record(at_ns, "-", format!("reached {name}"));
        }
    }

    /// Run the watchers whose prefix covers `op` on its landed effect.
    fn run_watchers(&mut self, at: u64, node: &str, op: &FsOp, ok: bool) {
        let covers =
            |prefix: &Path| op.path().starts_with(prefix) || op.second_path().is_some_and(|p| p.starts_with(prefix));
        if !self.watchers.iter().any(|(prefix, _)| covers(prefix)) {
            return;
        }
        let mut watchers = std::mem::take(&mut self.watchers);
        let mut landed = Landed {
            at: Duration::from_nanos(at),
            node,
            op,
            ok,
            tree: &self.tree,
            nodes: &self.nodes,
            pending: &self.pending,
            verdicts: Vec::new(),
            reached: Vec::new(),
        };
        for (prefix, w) in &mut watchers {
            if covers(prefix) {
                w(&mut landed);
            }
        }
        let (verdicts, reached) = (landed.verdicts, landed.reached);
        self.watchers = watchers;
        for (invariant, ok, message) in verdicts {
            assert!(
                self.invariants.iter().any(|i| i.id == invariant),
                "invariant {invariant} is not declared by this scenario"
            );
            self.verdict(at, &invariant, ok, message);
        }
        for r in reached {
            self.reached_point(at, &r);
        }
    }

    fn record_violation(&mut self, at_ns: u64, what: String) {
        if let Some(c) = &mut self.chrome {
            c.instant("-", "-", at_ns, &what);
        }
        self.history.push_violation(HistEvent { at_ns, node: "-".into(), task: "-".into(), what });
    }

    fn record(&mut self, at_ns: u64, node: &str, what: String) {
        let task = if node == "-" { "-".to_string() } else { current_task() };
        self.record_task(at_ns, node, task, what);
    }

    fn record_task(&mut self, at_ns: u64, node: &str, task: String, what: String) {
        if let Some(c) = &mut self.chrome {
            c.instant(node, &task, at_ns, &what);
        }
        self.history.push(HistEvent { at_ns, node: node.to_string(), task, what });
    }

    fn wall_at(&self, t_ns: u64) -> SystemTime {
        let base = self.start_wall + Duration::from_nanos(t_ns);
        if self.wall_offset_ns >= 0 {
            base + Duration::from_nanos(self.wall_offset_ns as u64)
        } else {
            base.checked_sub(Duration::from_nanos(self.wall_offset_ns.unsigned_abs())).unwrap_or(SystemTime::UNIX_EPOCH)
        }
    }

    /// Apply every queued effect due at or before `t_ns`, in time order.
    fn settle(&mut self, t_ns: u64) {
        while let Some(entry) = self.pending.first_entry() {
            let (at, id) = *entry.key();
            if at > t_ns || self.crash.is_some_and(|(key, _)| (at, id) > key) {
                break;
            }
            let p = entry.remove();
            let wall = self.wall_at(at);
            let result = match (p.fault, p.partial) {
                (Some((fault, rule)), partial) => {
                    // A write that failed before its first byte changes
                    // nothing, not even the mtime.
                    if let Some(keep) = partial.filter(|&k| k > 0) {
                        let _ = self.tree.apply(&truncated(&p.op, keep), wall);
                    }
                    self.faults_injected += 1;
                    Err(faults::injected(fault, p.op.name(), rule))
                }
                (None, _) => self.tree.apply(&p.op, wall),
            };
            self.fs_ops += 1;
            let shown = match &result {
                Ok(_) => "ok".to_string(),
                Err(e) if faults::is_injected(e) => format!("ERR {e}"),
                Err(e) => format!("err {:?}", e.kind()),
            };
            let line = format!("  = {} {}: {shown}", p.op.name(), p.op.path().display());
            self.record_task(at, &p.node, p.task.clone(), line);
            self.run_watchers(at, &p.node, &p.op, result.is_ok());
            if !self.abandoned.remove(&p.id) {
                self.results.insert(p.id, result);
            }
        }
    }

    /// The latency of `op`: drawn from the first matching rule of the
    /// mount with the longest prefix over its path; an op with two paths
    /// (a rename across mounts) takes the slower of the two mounts' draws,
    /// as error and crash rules match either path.
    fn latency_ns(&mut self, schedule: &Schedule, op: &FsOp) -> u64 {
        let mount_of = |path: &Path| {
            schedule.mounts.iter().filter(|m| path.starts_with(&m.prefix)).max_by_key(|m| m.prefix.as_os_str().len())
        };
        let first = mount_of(op.path());
        let second = op.second_path().and_then(mount_of).filter(|m| first.is_none_or(|f| !std::ptr::eq(*m, f)));
        [first, second].into_iter().flatten().map(|m| self.mount_latency_ns(m, op)).max().unwrap_or(0)
    }

    fn mount_latency_ns(&mut self, mount: &crate::schedule::Mount, op: &FsOp) -> u64 {
        let Some(l) = mount.latency.iter().find(|l| l.ops.is_empty() || l.ops.iter().any(|o| o == op.name())) else {
            return 0;
        };
        let draws = if let FsOp::RemoveDirAll(p) = op { self.tree.count_tree(p).min(TREE_DRAWS_MAX) } else { 1 };
        (0..draws).map(|_| ms_to_ns(self.rng.range(l.ms_min, l.ms_max))).sum()
    }

    /// The crash rule this operation triggers, if any (one crash at a time).
    fn crash_for(&mut self, schedule: &Schedule, op: &FsOp) -> Option<usize> {
        let mut fired = None;
        for (i, rule) in schedule.crashes.iter().enumerate() {
            if rule.matches(op) {
                self.crash_hits[i] += 1;
                if rule.nth == self.crash_hits[i] && fired.is_none() && self.crash.is_none() {
                    fired = Some(i);
                }
            }
        }
        fired
    }

    fn fault_for(&mut self, schedule: &Schedule, op: &FsOp) -> Option<(FaultKind, usize)> {
        let mut fired = None;
        for (i, rule) in schedule.errors.iter().enumerate() {
            if !rule.matches(op) {
                continue;
            }
            self.rule_hits[i] += 1;
            let hit = rule.nth == Some(self.rule_hits[i]) || rule.probability.is_some_and(|p| self.rng.chance(p));
            if hit && fired.is_none() {
                fired = Some((rule.error, i));
            }
        }
        fired
    }
}

/// `op` with its data cut to `keep` bytes (a write interrupted by an error).
fn truncated(op: &FsOp, keep: usize) -> FsOp {
    let cut = |d: &Vec<u8>| d[..keep.min(d.len())].to_vec();
    match op {
        FsOp::Write { path, data } => FsOp::Write { path: path.clone(), data: cut(data) },
        FsOp::Append { path, data } => FsOp::Append { path: path.clone(), data: cut(data) },
        other => other.clone(),
    }
}

/// Is `pid` alive: a running node's process, or a killed one with an
/// operation still in flight (SIGKILL takes effect when its system calls
/// return, as in a kernel).
fn pid_alive(nodes: &[NodeSlot], pending: &BTreeMap<(u64, u64), Pending>, pid: u32) -> bool {
    nodes.iter().any(|n| n.alive && n.pid == pid) || pending.values().any(|p| p.pid == pid)
}

/// The address of the `idx`-th node added (10.0.0.2, 10.0.0.3, ...).
fn node_ip(idx: usize) -> std::net::IpAddr {
    std::net::Ipv4Addr::new(10, 0, (idx / 250) as u8, (idx % 250) as u8 + 2).into()
}

async fn sleep_until_ns(at_ns: u64) {
    let now = now_ns();
    if at_ns > now {
        madsim::time::sleep(Duration::from_nanos(at_ns - now)).await;
    }
}

// ----- the seams -----------------------------------------------------------

/// The simulated file system (see the [module docs](self) for timing).
#[derive(Clone)]
pub struct SimFs(World);

impl Fs for SimFs {
    fn exec(&self, op: FsOp) -> BoxFuture<'_, io::Result<FsOutput>> {
        Box::pin(async move {
            let name = op.name();
            let Some((id, done)) = self.0.begin(op, false) else {
                // The power is going out: the caller never sees a result.
                return std::future::pending().await;
            };
            let guard = ResultGuard { world: &self.0, id };
            let now = now_ns();
            if done > now {
                madsim::time::sleep(Duration::from_nanos(done - now)).await;
            } else {
                steadfast_core::yield_now().await;
            }
            let result = self.0.take_result(id, name);
            std::mem::forget(guard);
            result
        })
    }

    fn exec_blocking(&self, op: FsOp) -> io::Result<FsOutput> {
        let name = op.name();
        let Some((id, _)) = self.0.begin(op, true) else {
            // The power is going out: stall until the loss kills this node.
            self.0.stall_current(CRASH_STALL_NS);
            return Err(faults::lost_to_power_loss(name));
        };
        let mut st = self.0.lock();
        st.results.remove(&id).unwrap_or_else(|| Err(faults::lost_to_power_loss(name)))
    }
}

/// Forgets the result of an operation whose caller went away (killed or
/// cancelled); its effect still lands.
struct ResultGuard<'a> {
    world: &'a World,
    id: u64,
}

impl Drop for ResultGuard<'_> {
    fn drop(&mut self) {
        let mut st = self.world.lock();
        if st.results.remove(&self.id).is_none() {
            st.abandoned.insert(self.id);
        }
    }
}

/// Virtual time, per node (a stalled node's clock reads its stall's end).
#[derive(Clone)]
pub struct SimClock(World);

impl Clock for SimClock {
    fn now(&self) -> Mono {
        let st = self.0.lock();
        Mono::from_origin(Duration::from_nanos(self.0.local_now(&st)))
    }

    fn wall(&self) -> SystemTime {
        let st = self.0.lock();
        st.wall_at(self.0.local_now(&st))
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(madsim::time::sleep(duration))
    }
}

/// Simulated processes: one per node incarnation.
#[derive(Clone)]
pub struct SimProcs(World);

impl Procs for SimProcs {
    fn liveness(&self, pid: u32) -> Liveness {
        if pid == HARNESS_PID {
            return Liveness::Alive;
        }
        let mut st = self.0.lock();
        st.settle(now_ns());
        if pid_alive(&st.nodes, &st.pending, pid) { Liveness::Alive } else { Liveness::Dead }
    }

    fn start_time(&self, pid: u32) -> Option<u64> {
        let st = self.0.lock();
        st.nodes.iter().find(|n| n.alive && n.pid == pid).map(|n| n.start_ns / 1_000_000)
    }

    fn own_pid(&self) -> u32 {
        let st = self.0.lock();
        self.0.current_node(&st).map_or(HARNESS_PID, |i| st.nodes[i].pid)
    }
}

thread_local! {
    /// The name of the task being polled (set by [`Named`]): madsim runs a
    /// node's tasks on one thread and does not expose the current task.
    static TASK: std::cell::RefCell<Option<Arc<str>>> = const { std::cell::RefCell::new(None) };
}

/// The current task's name, for the history (`main` for a node's own
/// future and tasks spawned without a name).
fn current_task() -> String {
    TASK.with(|t| t.borrow().as_deref().map_or_else(|| "main".to_string(), String::from))
}

/// A future that names itself while it is polled.
struct Named {
    name: Arc<str>,
    inner: BoxFuture<'static, ()>,
}

impl Future for Named {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        let previous = TASK.with(|t| t.replace(Some(self.name.clone())));
        let out = self.inner.as_mut().poll(cx);
        TASK.with(|t| *t.borrow_mut() = previous);
        out
    }
}

/// Spawns on the calling node: the task dies with the node.
#[derive(Clone, Copy, Debug)]
pub struct SimSpawner;

struct SimTask(madsim::task::JoinHandle<()>);

impl Abort for SimTask {
    fn abort(&self) {
        self.0.abort()
    }
    fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

impl Spawn for SimSpawner {
    fn spawn(&self, name: &str, task: BoxFuture<'static, ()>) -> TaskHandle {
        TaskHandle::new(SimTask(madsim::task::spawn(Named { name: name.into(), inner: task })))
    }
}

/// madsim's seeded random stream.
#[derive(Clone, Copy, Debug)]
pub struct SimEntropy;

impl Entropy for SimEntropy {
    fn next_u64(&self) -> u64 {
        use madsim::rand::RngCore;
        madsim::rand::thread_rng().next_u64()
    }
}
