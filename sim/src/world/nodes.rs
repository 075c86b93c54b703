//! Processes run through madsim: nodes added, started, killed, restarted
//! and paused; timed schedule events; power losses and the restarts that
//! follow them. The bookkeeping is `crate::procs`; this is where it meets
//! the runtime.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use madsim::runtime::{Handle, NodeHandle};
use madsim::task::NodeId;

use super::state::WORLD;
use super::{NodeInit, World, ms_to_ns, sleep_until_ns};
use crate::log::{KillCause, SimEvent};
use crate::procs::node_ip;
use crate::schedule::Event;

impl World {
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
                // Runs for as long as the run: the kernel's journal commits.
                loop {
                    madsim::time::sleep(Duration::from_millis(every)).await;
                    let now = world.now_ns();
                    let mut st = world.lock();
                    st.settle(now);
                    st.disk.tree.commit_metadata();
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
        let _ = self.0.clock.set(tm.clone());
        self.lock().start(start_wall, node, tm);
    }

    /// Add a node named `name` whose process runs `init` (again after every
    /// restart, with a new pid). Returns its madsim handle.
    pub fn add_node<F, Fut>(&self, name: &str, init: F) -> NodeHandle
    where
        F: Fn(World) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let init: NodeInit = Arc::new(move |w| Box::pin(init(w)));
        let idx = self.lock().procs.add(name);
        self.0.inits.lock().unwrap_or_else(|p| p.into_inner()).push(init.clone());
        let world = self.clone();
        let handle = Handle::current()
            .create_node()
            .name(name)
            .ip(node_ip(idx))
            .init(move || {
                let world = world.clone();
                let init = init.clone();
                async move {
                    world.incarnate(idx);
                    init(world.clone()).await;
                    // madsim ends the node when its main returns: the
                    // process exits, and its pid is dead from now on.
                    world.exit_process(idx);
                }
            })
            .build();
        self.lock().procs.bind(handle.id(), idx);
        handle
    }

    /// The IP address of node `name`.
    pub fn ip(&self, name: &str) -> std::net::IpAddr {
        let idx = self.lock().procs.find(name).unwrap_or_else(|| panic!("no node {name:?}"));
        node_ip(idx)
    }

    /// Node `idx`'s main returned: its process exits.
    fn exit_process(&self, idx: usize) {
        let now = self.now_ns();
        let mut st = self.lock();
        st.settle(now);
        if st.procs.kill(idx) {
            st.died(idx, now);
            st.procs.nodes[idx].exited = true;
            let name = st.procs.nodes[idx].name.clone();
            st.record(now, name, SimEvent::Killed { cause: KillCause::Exit });
        }
    }

    fn incarnate(&self, idx: usize) {
        let now = self.now_ns();
        let mut st = self.lock();
        // What was due before this process existed lands first: a watcher
        // judging it must not see the new process (a reused pid).
        st.settle(now);
        // A kernel frees a pid only once its process is reaped, after every
        // system call of it returned: no reuse while one is in flight.
        let old = st.procs.nodes[idx].pid;
        if st.disk.pid_in_flight(old) {
            st.procs.nodes[idx].reuse_pid_next = false;
        }
        let pid = st.procs.incarnate(idx, now);
        let name = st.procs.nodes[idx].name.clone();
        st.record(now, name, SimEvent::ProcessStarts { pid });
    }

    /// Is node `name`'s process running?
    pub fn is_alive(&self, name: &str) -> bool {
        self.lock().procs.nodes.iter().any(|n| &*n.name == name && n.alive)
    }

    /// Did node `name`'s last process exit on its own (its main returned),
    /// rather than die (a kill, a power loss)? A checker that excuses a
    /// process that died mid-work (its litter, a call that never returned)
    /// does not excuse one that finished: `is_alive || exited`.
    pub fn exited(&self, name: &str) -> bool {
        self.lock().procs.nodes.iter().any(|n| &*n.name == name && n.exited)
    }

    /// The current pid of node `name` (its last one if dead).
    pub fn pid_of(&self, name: &str) -> Option<u32> {
        let st = self.lock();
        st.procs.find(name).map(|i| st.procs.nodes[i].pid)
    }

    /// How far node `name`'s host's wall clock is ahead of the world's, in
    /// ms (negative: behind), or `None` for a node that does not exist:
    /// the sum of its [`Event::HostClockJump`]s. A checker that compares
    /// wall-clock readings taken on different hosts converts them to the
    /// world's clock with it.
    pub fn host_clock_skew_ms(&self, name: &str) -> Option<i64> {
        let st = self.lock();
        st.procs.find(name).map(|i| st.procs.nodes[i].wall_skew_ns / 1_000_000)
    }

    /// Completes when the calling node's process receives SIGTERM
    /// ([`Event::Terminate`], [`World::terminate`]). Calling it installs
    /// the process's handler, at once: from then on SIGTERM wakes every
    /// task awaiting it, and the process exits when its main returns (so a
    /// main that selects on this runs its cleanup, then returns). Without
    /// a handler SIGTERM kills the process. A process restarted starts
    /// without one. Outside a node (the harness), it never completes.
    pub fn terminated(&self) -> impl Future<Output = ()> + 'static {
        let idx = {
            let mut st = self.lock();
            let idx = self.current_node(&st);
            if let Some(i) = idx {
                st.procs.nodes[i].term.handled = true;
            }
            idx.map(|i| (i, st.procs.nodes[i].pid, st.procs.nodes[i].start_ns))
        };
        let world = self.clone();
        std::future::poll_fn(move |cx| {
            let Some((i, pid, start_ns)) = idx else { return std::task::Poll::Pending };
            let mut st = world.lock();
            let slot = &mut st.procs.nodes[i];
            if slot.pid != pid || slot.start_ns != start_ns {
                return std::task::Poll::Pending; // a later process's signal
            }
            if slot.term.received {
                return std::task::Poll::Ready(());
            }
            if !slot.term.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                slot.term.waiters.push(cx.waker().clone());
            }
            std::task::Poll::Pending
        })
    }

    /// Has the calling node's process received SIGTERM? For a service
    /// whose main is a loop: install the handler first (call
    /// [`World::terminated`] and keep or drop its future), then ask this
    /// between steps and shut down once it says so. `false` outside a
    /// node, and for a process restarted since the signal.
    pub fn terminating(&self) -> bool {
        let st = self.lock();
        self.current_node(&st).is_some_and(|i| st.procs.nodes[i].term.received)
    }

    /// Send SIGTERM to node `name`'s process now (see
    /// [`World::terminated`]).
    pub fn terminate(&self, name: &str) {
        self.fire(&Event::Terminate { node: name.to_string(), during: None });
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
        let idx = st.procs.find(name)?;
        Some((idx, st.procs.madsim_id(idx)?))
    }

    /// Apply a schedule event now.
    pub fn fire(&self, event: &Event) {
        let now = self.now_ns();
        match event {
            Event::Kill { node } => {
                let Some((idx, id)) = self.node_id(node) else { return self.unknown_node(node) };
                self.kill_idx(idx, id, now, KillCause::Sigkill);
            }
            Event::Restart { node, reuse_pid } => {
                let Some((idx, id)) = self.node_id(node) else { return self.unknown_node(node) };
                self.kill_idx(idx, id, now, KillCause::ForRestart);
                self.lock().procs.nodes[idx].reuse_pid_next = *reuse_pid;
                Handle::current().restart(id);
            }
            Event::Terminate { node, during: Some(during) } => {
                let Some((idx, _)) = self.node_id(node) else { return self.unknown_node(node) };
                let mut st = self.lock();
                if st.procs.nodes[idx].alive {
                    st.armed_terms.push((idx, during.clone()));
                    let name = st.procs.nodes[idx].name.clone();
                    st.record(now, name, SimEvent::TerminateArmed);
                }
            }
            Event::Terminate { node, during: None } => {
                let Some((idx, _)) = self.node_id(node) else { return self.unknown_node(node) };
                self.sigterm(idx, now);
            }
            Event::PowerLoss { torn, restart_after_ms } => self.power_loss(*torn, false, *restart_after_ms),
            Event::Pause { node, ms } => {
                let Some((idx, _)) = self.node_id(node) else { return self.unknown_node(node) };
                if self.lock().procs.nodes[idx].alive {
                    self.freeze(idx, now, now.saturating_add(ms_to_ns(*ms)));
                }
            }
            Event::ClockJump { by_ms } => {
                let mut st = self.lock();
                st.settle(now); // effects due before the jump keep the old clock
                st.jump_wall(*by_ms);
                st.record(now, WORLD, SimEvent::ClockJump { by_ms: *by_ms });
            }
            Event::HostClockJump { node, by_ms } => {
                let mut st = self.lock();
                let Some(idx) = st.procs.find(node) else {
                    drop(st);
                    return self.unknown_node(node);
                };
                let slot = &mut st.procs.nodes[idx];
                slot.wall_skew_ns = slot.wall_skew_ns.saturating_add(by_ms.saturating_mul(1_000_000));
                let name = slot.name.clone();
                st.record(now, name, SimEvent::HostClockJump { by_ms: *by_ms });
            }
        }
    }

    /// SIGTERM to node `idx`'s process at `at` (the world's now, or the
    /// instant an aimed signal's operation began on a stalled node): its
    /// handler's waiters wake, or it dies. Its other aims are dropped: a
    /// process is told once.
    pub(crate) fn sigterm(&self, idx: usize, at: u64) {
        let (waiters, id) = {
            let now = self.now_ns();
            let mut st = self.lock();
            st.settle(now); // what was due lands first (never past the world's now)
            st.armed_terms.retain(|(i, _)| *i != idx);
            let id = st.procs.madsim_id(idx);
            let slot = &mut st.procs.nodes[idx];
            if !slot.alive || !slot.term.handled {
                (None, id)
            } else {
                slot.term.received = true;
                let waiters = std::mem::take(&mut slot.term.waiters);
                let name = slot.name.clone();
                st.record(at, name, SimEvent::Terminated);
                (Some(waiters), id)
            }
        };
        match (waiters, id) {
            (Some(waiters), _) => waiters.into_iter().for_each(std::task::Waker::wake),
            (None, Some(id)) => self.kill_idx(idx, id, self.now_ns(), KillCause::Sigterm),
            (None, None) => {}
        }
    }

    fn unknown_node(&self, node: &str) {
        let now = self.now_ns();
        self.lock().record(now, WORLD, SimEvent::UnknownNode { node: node.to_string() });
    }

    fn kill_idx(&self, idx: usize, id: NodeId, now: u64, cause: KillCause) {
        {
            let mut st = self.lock();
            // What was due before the kill lands while the process lives.
            st.settle(now);
            if !st.procs.kill(idx) {
                return;
            }
            st.died(idx, now);
            let name = st.procs.nodes[idx].name.clone();
            st.record(now, name, SimEvent::Killed { cause });
        }
        Handle::current().kill(id);
    }

    /// Every node dies and volatile state is lost; with `metadata_survives`
    /// the kernel committed directory entries first (data stays volatile).
    pub(crate) fn power_loss(&self, torn: bool, metadata_survives: bool, restart_after_ms: Option<u64>) {
        let now = self.now_ns();
        let names: Vec<Arc<str>> = self.lock().procs.nodes.iter().map(|n| n.name.clone()).collect();
        for name in &names {
            if let Some((idx, id)) = self.node_id(name) {
                self.kill_idx(idx, id, now, KillCause::PowerLoss);
            }
        }
        let epoch = {
            let mut st = self.lock();
            st.settle(now);
            let super::State { disk, rng, .. } = &mut *st;
            let (lost_ops, lost) =
                disk.power_loss(torn, metadata_survives, &mut |extra| rng.range(0, extra as u64) as usize);
            let unsynced = crate::log::Unhashed((lost.files, lost.dirs));
            st.record(now, WORLD, SimEvent::PowerLoss { lost_ops, torn_files: lost.torn_files, unsynced });
            st.procs.power_epoch += 1;
            st.procs.power_epoch
        };
        if let Some(after) = restart_after_ms {
            let world = self.clone();
            self.spawn_on_world(async move {
                madsim::time::sleep(Duration::from_millis(after.max(1))).await;
                world.restart_after_power_loss(epoch, &names);
            });
        }
    }

    fn restart_after_power_loss(&self, epoch: u64, names: &[Arc<str>]) {
        let now = self.now_ns();
        {
            let mut st = self.lock();
            if st.procs.power_epoch != epoch {
                // A later loss came while the power was off: its own
                // restart (or none) decides; restarts coalesce.
                st.record(now, WORLD, SimEvent::RestartDropped);
                return;
            }
        }
        for name in names {
            if let Some((idx, id)) = self.node_id(name) {
                // Every kill is recorded: a node a schedule event restarted
                // meanwhile is running.
                self.kill_idx(idx, id, now, KillCause::RestartAfterPowerLoss);
                Handle::current().restart(id);
            }
        }
    }

    /// Stall the calling node (if it is one) for `ns`.
    pub(crate) fn stall_current(&self, ns: u64) {
        let (node, now) = {
            let st = self.lock();
            (self.current_node(&st), self.local_now(&st))
        };
        if let Some(i) = node {
            self.stall(i, now + ns);
        }
    }

    /// Freeze node `idx` from `from` until `until` (a timed pause or a
    /// pause point), and keep the interval for [`World::frozen`].
    pub(crate) fn freeze(&self, idx: usize, from: u64, until: u64) {
        self.lock().procs.nodes[idx].freezes.push((from, until));
        self.stall(idx, until);
    }

    /// Arm a pause point for node `name`: the `rule.nth` operation from
    /// now (or each with `rule.probability`) that it begins and `rule`
    /// matches freezes its process while in flight, and `rule.ms` after
    /// its window; the point then disarms: how a workload aims a freeze at
    /// a step it knows comes next ("the read of a release"). Like every
    /// fault it fires only in the chaos phase (the quiet phase judges
    /// progress: a freeze there would be a fault after the faults end). It
    /// stays armed until it fires or the process dies (a kill, a power
    /// loss, an exit), so an aim that missed fires on the process's next
    /// match in the chaos phase, or never.
    /// An operation a schedule rule freezes does not count toward it.
    /// `false` if there is no such node.
    pub fn arm_pause(&self, name: &str, rule: crate::schedule::PauseRule) -> bool {
        let mut st = self.lock();
        let Some(idx) = st.procs.find(name) else { return false };
        st.armed_pauses.push((idx, rule, 0));
        true
    }

    /// How long node `name` was frozen (timed pauses and pause points,
    /// not blocking calls) within `from..to` of virtual time: what a
    /// checker that bounds how long something takes must not count.
    /// Overlapping freezes count once; a freeze ends early when its process
    /// dies (nothing of a dead process is frozen).
    pub fn frozen(&self, name: &str, from: Duration, to: Duration) -> Duration {
        let (from, to) = (from.as_nanos() as u64, to.as_nanos() as u64);
        let st = self.lock();
        let Some(idx) = st.procs.find(name) else { return Duration::ZERO };
        let mut spans: Vec<(u64, u64)> =
            st.procs.nodes[idx].freezes.iter().map(|&(a, b)| (a.max(from), b.min(to))).filter(|(a, b)| a < b).collect();
        spans.sort_unstable();
        let (mut ns, mut reached) = (0u64, from);
        for (a, b) in spans {
            let start = a.max(reached);
            if b > start {
                ns += b - start;
                reached = b;
            }
        }
        Duration::from_nanos(ns)
    }

    /// Pause node `idx` until `until` (extending a stall in progress); the
    /// world node resumes it.
    pub(crate) fn stall(&self, idx: usize, until: u64) {
        let id = {
            let mut st = self.lock();
            let now = self.now_ns();
            let slot = &mut st.procs.nodes[idx];
            slot.stall_until_ns = slot.stall_until_ns.max(until);
            if slot.paused || until <= now {
                return;
            }
            slot.paused = true;
            let name = slot.name.clone();
            st.record(now, name, SimEvent::Stall { until_ns: until });
            st.procs.madsim_id(idx)
        };
        let Some(id) = id else { return };
        Handle::current().pause(id);
        let world = self.clone();
        self.spawn_on_world(async move {
            loop {
                let until = world.lock().procs.nodes[idx].stall_until_ns;
                if world.now_ns() >= until {
                    break;
                }
                sleep_until_ns(until).await;
            }
            world.resume(idx, id);
        });
    }

    fn resume(&self, idx: usize, id: NodeId) {
        let mut st = self.lock();
        let slot = &mut st.procs.nodes[idx];
        if !slot.paused {
            return; // killed meanwhile
        }
        slot.paused = false;
        let name = slot.name.clone();
        st.record(self.now_ns(), name, SimEvent::Resume);
        drop(st);
        Handle::current().resume(id);
    }

    /// Spawn a task of the scenario's driver on the current node (a
    /// watcher, a vandal, a crasher: work beside the nodes' processes).
    /// The same as `madsim::task::spawn_local`, except that the task ends
    /// with the run: when the driver returns, or when a sweep ends the run
    /// once caught ([`crate::runner::SweepOptions::end_caught_seeds`]).
    /// Spawned with madsim's directly from the driver, a task still
    /// pending then would outlive the run and keep its memory.
    pub fn spawn_local<T: 'static>(&self, task: impl Future<Output = T> + 'static) -> madsim::task::JoinHandle<T> {
        let handle = madsim::task::spawn_local(task);
        self.lock().driver_tasks.push(handle.abort_handle());
        handle
    }

    /// After the run: kill every node (the world's own too) without a trace
    /// in the history, so madsim drops their tasks once the executor runs
    /// again; otherwise the tasks, and the world they hold, outlive the
    /// runtime (madsim's timers and tasks keep each other alive).
    /// The driver's own tasks ([`World::spawn_local`]) end with them: a
    /// task still pending (a sleep past the run's end, or a run a sweep
    /// ended once caught) would otherwise keep its memory.
    pub(crate) fn kill_all_quietly(&self) {
        let (ids, driver_tasks): (Vec<NodeId>, _) = {
            let mut st = self.lock();
            let world = st.world_node.as_ref().map(NodeHandle::id);
            (st.procs.ids().chain(world).collect(), std::mem::take(&mut st.driver_tasks))
        };
        for task in driver_tasks {
            task.abort();
        }
        for id in ids {
            Handle::current().kill(id);
        }
    }
}
