//! The state of one run, one field per room, and the few steps that join
//! rooms: landing due effects (disk, log, judge), recording (log), and the
//! wall clock.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use madsim::runtime::NodeHandle;

use crate::disk::Disk;
use crate::judge::Judge;
use crate::log::{Ending, History, Record, SimEvent};
use crate::plan::Counters;
use crate::procs::Procs;
use crate::rng::SimRng;
use crate::schedule::Schedule;

/// Everything a run changes, behind the world's one lock.
pub(crate) struct State {
    pub disk: Disk,
    pub procs: Procs,
    pub counters: Counters,
    /// The world's own stream for file-system decisions.
    pub rng: SimRng,
    pub log: History,
    pub judge: Judge,
    /// Crash rules whose power loss happened, in order.
    pub crashes_fired: Vec<usize>,
    /// Pause points the workload armed: (node index, rule, matches so far).
    pub armed_pauses: Vec<(usize, crate::schedule::PauseRule, u64)>,
    /// Aimed SIGTERMs (`Event::Terminate` with `during`): per node, the
    /// operations they wait for.
    pub armed_terms: Vec<(usize, crate::schedule::During)>,
    pub world_node: Option<NodeHandle>,
    start_wall: SystemTime,
    wall_offset_ns: i64,
    /// The run's clock, once started.
    clock: Option<madsim::time::TimeHandle>,
    /// Ending the run once its first violation is reported (a sweep of a
    /// `violate` scenario; see `World::caught`).
    pub stop: Stop,
    /// The tasks the driver spawned through `World::spawn_local`, aborted
    /// when the run ends.
    pub driver_tasks: Vec<madsim::task::AbortHandle>,
}

/// Whether a run ends once its first violation is reported, and who waits
/// for that.
#[derive(Default)]
pub(crate) struct Stop {
    pub armed: bool,
    pub fired: bool,
    pub waker: Option<std::task::Waker>,
}

/// The node label of the world itself.
pub(crate) const WORLD: &str = "-";

impl State {
    pub fn new(schedule: &Schedule, judge: Judge, log: History) -> State {
        State {
            disk: Disk::new(SystemTime::UNIX_EPOCH, schedule.capacity_bytes),
            procs: Procs::new(),
            counters: Counters::new(schedule),
            rng: SimRng::new(schedule.seed, 0xF5),
            log,
            judge,
            crashes_fired: Vec::new(),
            armed_pauses: Vec::new(),
            armed_terms: Vec::new(),
            world_node: None,
            start_wall: SystemTime::UNIX_EPOCH,
            wall_offset_ns: 0,
            clock: None,
            stop: Stop::default(),
            driver_tasks: Vec::new(),
        }
    }

    /// The run starts: its wall clock reads `start_wall` at virtual 0.
    pub fn start(&mut self, start_wall: SystemTime, node: NodeHandle, clock: madsim::time::TimeHandle) {
        self.start_wall = start_wall;
        self.clock = Some(clock);
        self.disk.tree = crate::disk::Tree::new(start_wall);
        self.world_node = Some(node);
    }

    /// Virtual nanoseconds now.
    pub fn now_ns(&self) -> u64 {
        crate::world::now_on(self.clock.as_ref())
    }

    /// The wall clock at virtual `t_ns`.
    pub fn wall_at(&self, t_ns: u64) -> SystemTime {
        self.wall_on(None, t_ns)
    }

    /// The wall clock node `node`'s host reads at virtual `t_ns` (the
    /// world's, for the world itself).
    pub fn wall_on(&self, node: Option<usize>, t_ns: u64) -> SystemTime {
        let skew = node.map_or(0, |i| self.procs.nodes[i].wall_skew_ns);
        wall(self.start_wall, self.wall_offset_ns.saturating_add(skew), t_ns)
    }

    /// Jump the wall clock by `by_ms`.
    pub fn jump_wall(&mut self, by_ms: i64) {
        self.wall_offset_ns = self.wall_offset_ns.saturating_add(by_ms.saturating_mul(1_000_000));
    }

    /// Record `event` on node `node` by the current task (the world's own
    /// events carry no task). Effects due by now land first, so where an
    /// effect sits in the history never depends on whether something
    /// looked at the tree before this record (a checker's `peek`).
    pub fn record(&mut self, at_ns: u64, node: impl Into<Arc<str>>, event: SimEvent) {
        self.settle(self.now_ns());
        self.push(at_ns, node.into(), event);
    }

    /// Record `event` once everything due by `settled` (now: the caller
    /// settled at this virtual instant and still holds the lock) has
    /// landed already.
    pub fn record_settled(&mut self, settled: u64, at_ns: u64, node: Arc<str>, event: SimEvent) {
        debug_assert!(!self.disk.due(settled), "record_settled before settling");
        self.push(at_ns, node, event);
    }

    /// Record without landing anything first: inside `settle`, and for
    /// the runner's own verdicts after the runtime stopped.
    fn push(&mut self, at_ns: u64, node: Arc<str>, event: SimEvent) {
        let task = if &*node == WORLD { node.clone() } else { crate::seams::current_task() };
        self.record_task(at_ns, node, task, event);
    }

    /// Record `event` with its node and task given.
    pub fn record_task(&mut self, at_ns: u64, node: Arc<str>, task: Arc<str>, event: SimEvent) {
        self.log.push(Record { at_ns, node, task, event });
        if self.stop.armed && !self.stop.fired && self.log.first_violation_reported() {
            self.stop.fired = true;
            if let Some(waker) = self.stop.waker.take() {
                waker.wake();
            }
        }
    }

    /// Record a violation found outside any check.
    pub fn violation(&mut self, at_ns: u64, invariant: &str, message: String) {
        let event = self.judge.violation(at_ns, invariant, message);
        self.push(at_ns, WORLD.into(), event);
    }

    /// Record a check's verdict of the declared `invariant` (a violation if
    /// it failed).
    pub fn verdict(&mut self, at_ns: u64, invariant: &'static str, ok: bool, message: String) {
        // Violations found by watchers on effects due by now come first,
        // in the list as in the history.
        self.settle(self.now_ns());
        if let Some(event) = self.judge.verdict(at_ns, invariant, ok, message) {
            self.record(at_ns, WORLD, event);
        }
    }

    /// Count a coverage point (recorded the first time).
    pub fn reach(&mut self, at_ns: u64, name: &str) {
        self.settle(self.now_ns());
        if let Some(event) = self.judge.reach(name) {
            self.record(at_ns, WORLD, event);
        }
    }

    /// Node `idx`'s process died at `now` (a kill, a power loss, an exit):
    /// its freezes end, and the pause points aimed at it are disarmed (an
    /// aim was at that process, not at the next one on the node).
    pub fn died(&mut self, idx: usize, now: u64) {
        for f in &mut self.procs.nodes[idx].freezes {
            f.1 = f.1.min(now).max(f.0);
        }
        self.armed_pauses.retain(|(i, _, _)| *i != idx);
        self.armed_terms.retain(|(i, _)| *i != idx);
    }

    /// Is `pid` alive: a running node's process, or a killed one with an
    /// operation still in flight (SIGKILL takes effect when its system
    /// calls return, as in a kernel).
    pub fn pid_alive(&self, pid: u32) -> bool {
        self.procs.running(pid) || self.disk.pid_in_flight(pid)
    }

    /// Land every queued effect due at or before `t_ns`, in time order:
    /// each is recorded, then judged by the watchers over its path.
    pub fn settle(&mut self, t_ns: u64) {
        loop {
            let (start, offset) = (self.start_wall, self.wall_offset_ns);
            let Some(effect) = self.disk.land_next(t_ns, |at| wall(start, offset, at)) else { break };
            let p = &effect.pending;
            let outcome = (effect.ok, matches!(effect.ending, Ending::Injected { .. }));
            let event = SimEvent::Landed { op: p.op.name(), path: p.path.clone(), ending: effect.ending };
            self.record_task(effect.at, p.node.clone(), p.task.clone(), event);
            let State { judge, disk, procs, .. } = self;
            let alive = |pid: u32| procs.running(pid) || disk.pid_in_flight(pid);
            let world = (&alive as &dyn Fn(u32) -> bool, procs.power_epoch);
            let (events, aims) = judge.run_watchers(
                effect.at,
                (&p.node, p.pid, &p.task, p.sleeps),
                (&p.op, effect.stat.as_ref()),
                outcome,
                &disk.tree,
                world,
            );
            if let Some(idx) = procs.find(&p.node) {
                self.armed_pauses.extend(aims.into_iter().map(|rule| (idx, rule, 0)));
            }
            for e in events {
                self.push(effect.at, WORLD.into(), e);
            }
        }
    }
}

fn wall(start: SystemTime, offset_ns: i64, t_ns: u64) -> SystemTime {
    let base = start + Duration::from_nanos(t_ns);
    if offset_ns >= 0 {
        base + Duration::from_nanos(offset_ns as u64)
    } else {
        base.checked_sub(Duration::from_nanos(offset_ns.unsigned_abs())).unwrap_or(SystemTime::UNIX_EPOCH)
    }
}
