//! The seam adapters `core` sees in a simulation: [`SimFs`] (every
//! operation through the world's plan, disk and log; see `crate::world`
//! for timing), [`SimClock`] (virtual time, per node), [`SimProcs`] (one
//! process per node incarnation), [`SimSpawner`] (tasks that die with
//! their node and name themselves in the history) and [`SimEntropy`]
//! (madsim's seeded stream).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use steadfast_core::{Abort, BoxFuture, Clock, Entropy, Fs, FsOp, FsOutput, Liveness, Mono, Procs, Spawn, TaskHandle};

use crate::faults;
use crate::procs::HARNESS_PID;
use crate::world::World;

/// How long a node that calls into a file system whose power is going out
/// stalls: longer than the loss takes to arrive (it is due already).
const CRASH_STALL_NS: u64 = 1_000_000_000;

/// The simulated file system (see the [world docs](crate::world) for timing).
#[derive(Clone)]
pub struct SimFs(pub(crate) World);

impl std::fmt::Debug for SimFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SimFs").field(&self.0).finish()
    }
}

impl Fs for SimFs {
    fn exec(&self, op: FsOp) -> BoxFuture<'_, io::Result<FsOutput>> {
        Box::pin(async move {
            if let FsOp::Close(h) = &op {
                self.0.close_handle(h.id);
                return Ok(FsOutput::Unit);
            }
            let name = op.name();
            let Some((id, done)) = self.0.begin(op, false) else {
                // The power is going out: the caller never sees a result.
                return std::future::pending().await;
            };
            let guard = ResultGuard { world: &self.0, id };
            let now = self.0.now_ns();
            if done > now {
                self.0.sleep_for(Duration::from_nanos(done - now)).await;
            } else {
                steadfast_core::yield_now().await;
            }
            let result = self.0.take_result(id, name);
            std::mem::forget(guard);
            result
        })
    }

    fn exec_blocking(&self, op: FsOp) -> io::Result<FsOutput> {
        if let FsOp::Close(h) = &op {
            // A close is instant and never fails: it runs from `Drop`, even
            // while a node is being killed.
            self.0.close_handle(h.id);
            return Ok(FsOutput::Unit);
        }
        let name = op.name();
        let Some((id, _)) = self.0.begin(op, true) else {
            // The power is going out: stall until the loss kills this node.
            self.0.stall_current(CRASH_STALL_NS);
            return Err(faults::lost_to_power_loss(name));
        };
        self.0.take_landed(id, name)
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
        self.world.abandon(self.id);
    }
}

/// Virtual time, per node (a stalled node's clock reads its stall's end).
#[derive(Clone)]
pub struct SimClock(pub(crate) World);

impl std::fmt::Debug for SimClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SimClock").field(&self.0).finish()
    }
}

impl Clock for SimClock {
    fn now(&self) -> Mono {
        let st = self.0.lock();
        Mono::from_origin(Duration::from_nanos(self.0.local_now(&st)))
    }

    fn wall(&self) -> SystemTime {
        let st = self.0.lock();
        let node = self.0.current_node(&st);
        st.wall_on(node, World::local_at(&st, node, self.0.now_ns()))
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        count_sleep();
        Box::pin(self.0.sleep_for(duration))
    }
}

/// Simulated processes: one per node incarnation.
#[derive(Clone)]
pub struct SimProcs(pub(crate) World);

impl std::fmt::Debug for SimProcs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SimProcs").field(&self.0).finish()
    }
}

impl Procs for SimProcs {
    fn liveness(&self, pid: u32) -> Liveness {
        if pid == HARNESS_PID {
            return Liveness::Alive;
        }
        let mut st = self.0.lock();
        let now = st.now_ns();
        st.settle(now);
        if st.pid_alive(pid) { Liveness::Alive } else { Liveness::Dead }
    }

    fn start_time(&self, pid: u32) -> Option<u64> {
        let st = self.0.lock();
        st.procs.nodes.iter().find(|n| n.alive && n.pid == pid).map(|n| n.start_ns / 1_000_000)
    }

    fn own_pid(&self) -> u32 {
        let st = self.0.lock();
        self.0.current_node(&st).map_or(HARNESS_PID, |i| st.procs.nodes[i].pid)
    }
}

/// A named task: its name, and how many times it has slept on the
/// simulated clock (`Clock::sleep`), so that a watcher can tell a retry
/// that backed off from one that spun ([`Landed::sleeps`](crate::world::Landed::sleeps)).
#[derive(Clone)]
struct Label {
    name: Arc<str>,
    sleeps: Arc<AtomicU64>,
}

impl Label {
    fn new(name: &str) -> Label {
        Label { name: name.into(), sleeps: Arc::default() }
    }
}

thread_local! {
    /// The task being polled (set by [`Named`]): madsim runs a node's
    /// tasks on one thread and does not expose the current task.
    static TASK: std::cell::RefCell<Option<Label>> = const { std::cell::RefCell::new(None) };
}

/// The current task's name, for the history (`main` for a node's own
/// future and tasks spawned without a name).
pub(crate) fn current_task() -> Arc<str> {
    TASK.with(|t| t.borrow().as_ref().map(|l| l.name.clone())).unwrap_or_else(|| MAIN.with(Arc::clone))
}

/// How many times the current task has slept on the simulated clock, if
/// it is a named task (an unnamed one has no count of its own).
pub(crate) fn current_sleeps() -> Option<u64> {
    TASK.with(|t| t.borrow().as_ref().map(|l| l.sleeps.load(Ordering::Relaxed)))
}

/// The current task sleeps (on the simulated clock).
fn count_sleep() {
    TASK.with(|t| {
        if let Some(l) = t.borrow().as_ref() {
            l.sleeps.fetch_add(1, Ordering::Relaxed);
        }
    });
}

thread_local! {
    static MAIN: Arc<str> = Arc::from("main");
}

/// A future that names itself while it is polled.
struct Named {
    label: Label,
    inner: BoxFuture<'static, ()>,
}

impl Future for Named {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        let label = self.label.clone();
        labelled(label, || self.inner.as_mut().poll(cx))
    }
}

/// Run `poll` with the current task labelled `label` (restored after).
fn labelled<R>(label: Label, poll: impl FnOnce() -> R) -> R {
    let previous = TASK.with(|t| t.replace(Some(label)));
    let out = poll();
    TASK.with(|t| *t.borrow_mut() = previous);
    out
}

/// `fut`, labelled `name` while it is polled: its operations carry that
/// task name (the timeline shows it, and a watcher reads it as
/// [`Landed::task`](crate::world::Landed::task)), as a task spawned through
/// core's `Spawn` does. For a workload's own `spawn_local` tasks, which
/// are otherwise all `main`.
pub fn named<F: Future<Output = ()>>(name: &str, fut: F) -> impl Future<Output = ()> + use<F> {
    NamedLocal { label: Label::new(name), inner: Box::pin(fut) }
}

/// [`named`]'s future: a [`Named`] that need not be `Send`.
struct NamedLocal<F> {
    label: Label,
    inner: Pin<Box<F>>,
}

impl<F: Future<Output = ()>> Future for NamedLocal<F> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        let label = self.label.clone();
        labelled(label, || self.inner.as_mut().poll(cx))
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
        TaskHandle::new(SimTask(madsim::task::spawn(Named { label: Label::new(name), inner: task })))
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
