//! Processes: the nodes of a run, each running one process at a time
//! (pid, start time, incarnations), whether it is alive or stalled, and
//! madsim's ids for them. Pure bookkeeping: killing, restarting and
//! pausing through madsim is the world's (`world::nodes`).

use std::collections::BTreeMap;
use std::sync::Arc;

use madsim::task::NodeId;

/// The pid the harness itself (node 0, the driver) reports.
pub const HARNESS_PID: u32 = 1;
const FIRST_PID: u32 = 100;

/// One node and its current process.
pub(crate) struct NodeSlot {
    pub name: Arc<str>,
    pub pid: u32,
    pub start_ns: u64,
    pub alive: bool,
    pub reuse_pid_next: bool,
    pub stall_until_ns: u64,
    pub paused: bool,
    /// Freezes (timed pauses and pause points), `(from, until)` in ns,
    /// over all its processes: what a checker excuses (no bound counts
    /// time a process could not run). Blocking calls' stalls are not here.
    pub freezes: Vec<(u64, u64)>,
    /// Its last process exited on its own (its main returned).
    pub exited: bool,
    /// SIGTERM, as its current process sees it.
    pub term: Term,
    /// Its host's wall clock ahead of the world's (negative: behind), the
    /// sum of its `HostClockJump`s: a property of the host, kept across
    /// its processes.
    pub wall_skew_ns: i64,
}

/// SIGTERM for one process: whether it handles it
/// ([`World::terminated`](crate::World::terminated)), whether it came,
/// and the tasks waiting for it.
#[derive(Default)]
pub(crate) struct Term {
    pub handled: bool,
    pub received: bool,
    pub waiters: Vec<std::task::Waker>,
}

/// Every node of a run.
pub(crate) struct Procs {
    pub nodes: Vec<NodeSlot>,
    by_id: BTreeMap<NodeId, usize>,
    next_pid: u32,
    /// Power losses so far: a restart scheduled by one is dropped when a
    /// later one came before it (power comes back once, after the last).
    pub power_epoch: u64,
}

impl Procs {
    pub fn new() -> Procs {
        Procs { nodes: Vec::new(), by_id: BTreeMap::new(), next_pid: FIRST_PID, power_epoch: 0 }
    }

    /// Add a node (not yet running); its index.
    pub fn add(&mut self, name: &str) -> usize {
        assert!(self.nodes.iter().all(|n| &*n.name != name), "node {name:?} added twice");
        self.nodes.push(NodeSlot {
            name: name.into(),
            pid: 0,
            start_ns: 0,
            alive: false,
            reuse_pid_next: false,
            stall_until_ns: 0,
            paused: false,
            freezes: Vec::new(),
            exited: false,
            term: Term::default(),
            wall_skew_ns: 0,
        });
        self.nodes.len() - 1
    }

    /// Node `idx` is madsim's node `id`.
    pub fn bind(&mut self, id: NodeId, idx: usize) {
        self.by_id.insert(id, idx);
    }

    /// The node madsim runs as `id`, if it is one of ours.
    pub fn index_of(&self, id: NodeId) -> Option<usize> {
        self.by_id.get(&id).copied()
    }

    /// The index of node `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| &*n.name == name)
    }

    /// The madsim id of node `idx` (set once the node is built).
    pub fn madsim_id(&self, idx: usize) -> Option<NodeId> {
        self.by_id.iter().find(|(_, i)| **i == idx).map(|(id, _)| *id)
    }

    /// Every madsim id of ours.
    pub fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.by_id.keys().copied()
    }

    /// Node `idx` starts a new process at `now_ns`: a new pid, or its old
    /// one if a restart asked for pid reuse. Returns the pid.
    pub fn incarnate(&mut self, idx: usize, now_ns: u64) -> u32 {
        let pid = if self.nodes[idx].reuse_pid_next && self.nodes[idx].pid != 0 {
            self.nodes[idx].pid
        } else {
            self.next_pid += 1;
            self.next_pid
        };
        let slot = &mut self.nodes[idx];
        slot.pid = pid;
        slot.start_ns = now_ns;
        slot.alive = true;
        slot.reuse_pid_next = false;
        slot.stall_until_ns = 0;
        slot.paused = false;
        slot.exited = false;
        slot.term = Term::default();
        pid
    }

    /// Node `idx`'s process dies; false if it was not running.
    pub fn kill(&mut self, idx: usize) -> bool {
        let slot = &mut self.nodes[idx];
        if !slot.alive {
            return false;
        }
        slot.alive = false;
        slot.paused = false;
        slot.stall_until_ns = 0;
        true
    }

    /// Is a running node's process `pid`?
    pub fn running(&self, pid: u32) -> bool {
        self.nodes.iter().any(|n| n.alive && n.pid == pid)
    }
}

/// The address of the `idx`-th node added (10.0.0.2, 10.0.0.3, ...).
pub(crate) fn node_ip(idx: usize) -> std::net::IpAddr {
    std::net::Ipv4Addr::new(10, 0, (idx / 250) as u8, (idx % 250) as u8 + 2).into()
}
