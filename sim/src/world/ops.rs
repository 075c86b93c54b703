//! One file operation through the rooms: the plan decides, the log records
//! its window, the disk queues its effect, and an armed crash point cuts
//! the power right after it lands.

use std::io;
use std::path::Path;
use std::sync::Arc;

use steadfast_core::{FsOp, FsOutput};

use super::{NoProgress, World, ms_to_ns, sleep_until_ns};
use crate::disk::Pending;
use crate::log::SimEvent;
use crate::plan::{self, At, SAME_INSTANT_OPS_MAX};

impl World {
    /// Start an operation: `None` when the power is already going out (an
    /// armed crash point has passed), so it has no effect and no result.
    /// Otherwise its id and the instant its window ends.
    pub(crate) fn begin(&self, op: FsOp, blocking: bool) -> Option<(u64, u64)> {
        let now = self.now_ns();
        let mut st = self.lock();
        // The plan sees the tree as it is now, whoever looked at it before;
        // virtual time stands still while the lock is held, so the records
        // below need not settle again.
        st.settle(now);
        let node = self.current_node(&st);
        let t0 = Self::local_at(&st, node, now);
        let name = Self::node_name(&st, node);
        if let Some(((at, _), _)) = st.disk.crash
            && t0 >= at
        {
            st.record_settled(now, t0, name, SimEvent::OpLost { op: op.name(), path: Arc::from(op.path()) });
            return None;
        }
        if !st.counters.progress(t0) {
            let message = format!(
                "no progress: {SAME_INSTANT_OPS_MAX} file operations began within one virtual second, from {} ms (the last: {} {})",
                t0 / 1_000_000,
                op.name(),
                op.path().display()
            );
            st.violation(t0, "RUN4", message);
            drop(st);
            std::panic::panic_any(NoProgress);
        }
        let chaos = t0 < ms_to_ns(self.0.schedule.duration_ms);
        let super::State { counters, rng, disk, .. } = &mut *st;
        let tree = &disk.tree;
        let renaming = |p: &Path| {
            disk.in_flight_landing()
                .any(|(_, pending)| matches!(&pending.op, FsOp::Rename { from, .. } if **from == *p))
        };
        let at =
            At { chaos, crash_armed: disk.crash.is_some(), tree_count: &|p| tree.count_tree(p), renaming: &renaming };
        let mut plan = plan::plan(&self.0.schedule, counters, rng, &op, &at);
        // An operation a schedule rule freezes already is no aimed
        // point's: the aim waits for the next match.
        // Like every fault, aimed ones fire only in the chaos phase.
        if let Some(i) = node
            && chaos
            && plan.pause.is_none()
            && !st.armed_pauses.is_empty()
        {
            let super::State { armed_pauses, rng, .. } = &mut *st;
            plan.pause = plan::armed_pause(armed_pauses, rng, i, &op).map(|ms| (None, ms));
        }
        // An aimed SIGTERM fires on this operation: delivered once it is
        // in flight (below). Not on a blocking call, which has landed by
        // the time anything else of its process runs.
        let term = node.filter(|_| chaos && !blocking).filter(|&i| {
            let at = st.armed_terms.iter().position(|(n, d)| *n == i && d.matches(&op));
            at.map(|at| st.armed_terms.remove(at)).is_some()
        });
        let effect = t0 + plan.lands_ns;
        let id = st.disk.next_id();
        let path: Arc<Path> = Arc::from(op.path());
        let begun = SimEvent::OpBegun {
            op: op.name(),
            path: path.clone(),
            to: op.second_path().map(Arc::from),
            blocking,
            window_ns: plan.latency_ns,
            lands_ns: plan.lands_ns,
        };
        st.record_settled(now, t0, name.clone(), begun);
        if let Some((rule, ms)) = plan.spike {
            st.record_settled(now, t0, name.clone(), SimEvent::Spike { rule, ms });
        }
        if let Some(rule) = plan.crash {
            st.disk.crash = Some(((effect, id), rule));
            st.record_settled(now, t0, name.clone(), SimEvent::CrashArmed { rule });
        }
        // A pause point freezes a node's process, not the harness.
        let pause = plan.pause.filter(|_| node.is_some());
        if let Some((rule, ms)) = pause {
            st.record_settled(now, t0, name.clone(), SimEvent::PausePoint { rule, ms });
        }
        let pid = node.map_or(0, |i| st.procs.nodes[i].pid);
        let (task, sleeps) = (crate::seams::current_task(), crate::seams::current_sleeps());
        let (fault, partial, silent) = (plan.fault, plan.partial, plan.silent);
        st.disk.queue(
            effect,
            Pending { id, op, path, node: name, pid, task, sleeps, fault, partial, silent, pinned: false },
        );
        if blocking {
            st.settle(effect);
        }
        drop(st);
        if let Some(rule) = plan.crash {
            self.arm_crash(effect, id, rule);
        }
        if let (true, Some(i)) = (blocking, node) {
            self.stall(i, t0 + plan.latency_ns);
        }
        if let (Some((_, ms)), Some(i)) = (pause, node) {
            // Frozen from now: the kernel lands the operation on time, and
            // nothing of the process runs until `ms` after its window.
            self.freeze(i, t0, t0 + plan.latency_ns + ms_to_ns(ms));
        }
        if let Some(i) = term {
            self.sigterm(i, t0);
        }
        Some((id, t0 + plan.latency_ns))
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
                let armed = st.disk.crash.is_some_and(|(key, _)| key == (effect, id));
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

    /// The result of operation `id`, landing what is due first.
    pub(crate) fn take_result(&self, id: u64, op_name: &'static str) -> io::Result<FsOutput> {
        let now = self.now_ns();
        let mut st = self.lock();
        st.settle(now);
        st.disk.take_result(id, op_name)
    }

    /// The result of a blocking operation, which landed in `begin`.
    pub(crate) fn take_landed(&self, id: u64, op_name: &'static str) -> io::Result<FsOutput> {
        self.lock().disk.take_result(id, op_name)
    }

    /// Close handle `id`: at once, or once its operations in flight land.
    pub(crate) fn close_handle(&self, id: u64) {
        self.lock().disk.tree.close(id);
    }

    /// The caller of operation `id` went away; its effect still lands.
    pub(crate) fn abandon(&self, id: u64) {
        self.lock().disk.abandon(id);
    }
}
