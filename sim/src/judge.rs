//! The judge: the invariants a run declares, the verdict of every check,
//! the coverage points reached, and the watchers that check an invariant
//! on every landed effect. It decides what is a violation; the log records
//! it.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use steadfast_core::FsOp;

use crate::disk::Tree;
use crate::log::SimEvent;

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

/// Violations kept per run (every one is still recorded in the history).
pub(crate) const VIOLATIONS_KEPT_MAX: usize = 64;

/// A checker run on every landed effect under its path prefix (see
/// [`crate::World::watch`]).
pub type Watcher = Box<dyn FnMut(&mut Landed<'_>) + Send>;

/// One landed effect, as a watcher sees it: the operation, its result, and
/// the tree right after it (read-only).
pub struct Landed<'a> {
    /// Virtual time of the effect.
    pub at: Duration,
    /// The node whose operation it was.
    pub node: &'a str,
    /// The pid of the process that issued it (which incarnation of the
    /// node: a killed process's operation may land after its restart).
    /// 0 for the harness's.
    pub pid: u32,
    /// The task that issued it: its name (see [`crate::world::named`] and
    /// core's `Spawn`), or `main` for an unnamed one.
    pub task: &'a str,
    /// How many times that task had slept on the simulated clock
    /// (`Clock::sleep`) when it began the operation, if it is a named task
    /// (one spawned through core's `Spawn`, or wrapped in
    /// [`crate::world::named`]): two tries with the same count have no
    /// backoff between them.
    pub sleeps: Option<u64>,
    /// The operation.
    pub op: &'a FsOp,
    /// Did it succeed?
    pub ok: bool,
    /// Did it fail because the schedule injected an error (rather than
    /// for what the tree holds)?
    pub injected: bool,
    stat: Option<&'a steadfast_core::fs::Metadata>,
    pub(crate) tree: &'a Tree,
    pub(crate) alive: &'a dyn Fn(u32) -> bool,
    /// How many power losses the world has had before this effect: a
    /// watcher that remembers what a file held knows that memory is stale
    /// when this moved (a power loss changes files without an effect).
    pub power_losses: u64,
    /// The run's declared invariants: a check names one of them.
    invariants: &'a [Invariant],
    verdicts: Vec<(&'static str, bool, String)>,
    reached: Vec<String>,
    aims: Vec<crate::schedule::PauseRule>,
}

impl std::fmt::Debug for Landed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Landed")
            .field("at", &self.at)
            .field("node", &self.node)
            .field("pid", &self.pid)
            .field("task", &self.task)
            .field("sleeps", &self.sleeps)
            .field("op", &self.op)
            .field("ok", &self.ok)
            .field("injected", &self.injected)
            .finish_non_exhaustive()
    }
}

impl<'a> Landed<'a> {
    /// [`Landed::read`], borrowed: no copy of the file.
    pub fn bytes(&self, path: &Path) -> io::Result<&'a [u8]> {
        self.tree.file_bytes(path)
    }

    /// Read a file as it is right after this effect.
    pub fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.tree.read_file(path)
    }

    /// Is process `pid` alive right after this effect (running, or killed
    /// with a system call still in flight)?
    pub fn pid_alive(&self, pid: u32) -> bool {
        (self.alive)(pid)
    }

    /// Is there an entry at `path` right after this effect (a final
    /// symlink not followed)? Tells an operation that failed on a missing
    /// entry from one that failed on an entry that is there (an injected
    /// error, or the wrong kind).
    pub fn exists(&self, path: &Path) -> bool {
        self.tree.exists(path)
    }

    /// What the entry at `path` is right after this effect (a final
    /// symlink not followed), if there is one: tells a `stat` that found
    /// an entry replaced by another kind.
    pub fn kind(&self, path: &Path) -> Option<steadfast_core::FileKind> {
        self.tree.kind_of(path)
    }

    /// The entry at `path` right after this effect, as `symlink_metadata`
    /// reads it (a final symlink not followed), if there is one: its
    /// identity tells a directory from the one renamed into its place.
    pub fn metadata(&self, path: &Path) -> Option<steadfast_core::fs::Metadata> {
        self.tree.metadata(path, false).ok()
    }

    /// Is there an entry named by `path` in the directory open as `dir`
    /// right after this effect (a symlink not followed), wherever that
    /// directory is now: tells a step through an open directory that
    /// failed on a missing entry from one that failed on an entry there.
    pub fn exists_at(&self, dir: &steadfast_core::Handle, path: &Path) -> bool {
        self.tree.stat_at(dir, path).is_ok()
    }

    /// What the file or directory open as `h` is right after this effect
    /// (`fstat`), if the handle is open: its identity tells the directory
    /// a removal through it went to.
    pub fn handle_metadata(&self, h: &steadfast_core::Handle) -> Option<steadfast_core::fs::Metadata> {
        self.tree.handle_metadata(h).ok()
    }

    /// What this effect answered, if it is a `metadata` or
    /// `symlink_metadata` that succeeded: the caller's own view, without
    /// a walk of the tree.
    pub fn stat(&self) -> Option<&'a steadfast_core::fs::Metadata> {
        self.stat
    }

    /// List a directory as it is right after this effect.
    pub fn list(&self, dir: &Path) -> io::Result<Vec<steadfast_core::DirEntry>> {
        self.tree.list_dir(dir)
    }

    /// Count a check of `invariant`; a violation when `ok` is false.
    pub fn check(&mut self, invariant: &str, ok: bool, message: impl FnOnce() -> String) {
        let id = declared(self.invariants, invariant);
        let message = if ok { String::new() } else { message() };
        self.verdicts.push((id, ok, message));
    }

    /// Arm a pause point for the node whose operation this is (see
    /// [`crate::World::arm_pause`]): how a watcher aims a freeze at the
    /// step it knows comes next ("the look that follows this claim").
    pub fn arm_pause(&mut self, rule: crate::schedule::PauseRule) {
        self.aims.push(rule);
    }

    /// Record that the run reached a coverage point.
    pub fn reach(&mut self, name: &str) {
        self.reached.push(name.to_string());
    }
}

/// `invariant`'s ID among `invariants`; panics if it is not one of them
/// (a scenario bug).
fn declared(invariants: &[Invariant], invariant: &str) -> &'static str {
    match invariants.iter().find(|i| i.id == invariant) {
        Some(i) => i.id,
        None => panic!("invariant {invariant} is not declared by this scenario"),
    }
}

/// The verdicts of one run.
pub(crate) struct Judge {
    invariants: Vec<Invariant>,
    pub violations: Vec<Violation>,
    pub checks: BTreeMap<&'static str, u64>,
    pub reached: BTreeMap<String, u64>,
    watchers: Vec<(PathBuf, Watcher)>,
}

impl Judge {
    pub fn new(invariants: &[Invariant]) -> Judge {
        Judge {
            invariants: invariants.to_vec(),
            violations: Vec::new(),
            checks: BTreeMap::new(),
            reached: BTreeMap::new(),
            watchers: Vec::new(),
        }
    }

    /// `invariant`'s declared ID; panics if it was not declared (a scenario
    /// bug).
    pub fn declared(&self, invariant: &str) -> &'static str {
        declared(&self.invariants, invariant)
    }

    /// Count one check of the declared `invariant`; the event to record
    /// when it failed.
    pub fn verdict(&mut self, at_ns: u64, invariant: &'static str, ok: bool, message: String) -> Option<SimEvent> {
        *self.checks.entry(invariant).or_insert(0) += 1;
        if ok {
            return None;
        }
        Some(self.violation(at_ns, invariant, message))
    }

    /// A violation found outside any check (by the runner: a panic, a
    /// time-out, no progress); the event to record.
    pub fn violation(&mut self, at_ns: u64, invariant: &str, message: String) -> SimEvent {
        if self.violations.len() < VIOLATIONS_KEPT_MAX || invariant.starts_with("RUN") {
            let v = Violation { invariant: invariant.to_string(), at_ms: at_ns / 1_000_000, message: message.clone() };
            self.violations.push(v);
        }
        SimEvent::Violation { invariant: invariant.to_string(), message }
    }

    /// Count a coverage point; the event to record the first time.
    pub fn reach(&mut self, name: &str) -> Option<SimEvent> {
        if let Some(n) = self.reached.get_mut(name) {
            *n += 1;
            return None;
        }
        self.reached.insert(name.to_string(), 1);
        Some(SimEvent::Reached { point: name.to_string() })
    }

    /// Watch every effect under `prefix`.
    pub fn watch(&mut self, prefix: PathBuf, watcher: Watcher) {
        self.watchers.push((prefix, watcher));
    }

    /// Run the watchers that cover `op` on its landed effect; the events to
    /// record (violations, first reaches), in order, and the pause points
    /// they armed for `node`.
    pub fn run_watchers(
        &mut self,
        at_ns: u64,
        (node, pid, task, sleeps): (&str, u32, &str, Option<u64>),
        (op, stat): (&FsOp, Option<&steadfast_core::fs::Metadata>),
        (ok, injected): (bool, bool),
        tree: &Tree,
        (alive, power_losses): (&dyn Fn(u32) -> bool, u64),
    ) -> (Vec<SimEvent>, Vec<crate::schedule::PauseRule>) {
        let paths = crate::schedule::OpPaths::new(op);
        let mut covering = self.watchers.iter_mut().filter(|(prefix, _)| paths.touches(prefix)).peekable();
        if covering.peek().is_none() {
            return (Vec::new(), Vec::new());
        }
        let at = Duration::from_nanos(at_ns);
        let (verdicts, reached, aims) = (Vec::new(), Vec::new(), Vec::new());
        let invariants = &self.invariants;
        let mut landed = Landed {
            at,
            node,
            pid,
            task,
            sleeps,
            op,
            ok,
            injected,
            stat,
            tree,
            alive,
            power_losses,
            invariants,
            verdicts,
            reached,
            aims,
        };
        for (_, w) in covering {
            w(&mut landed);
        }
        let (verdicts, reached, aims) = (landed.verdicts, landed.reached, landed.aims);
        let mut events = Vec::new();
        for (invariant, ok, message) in verdicts {
            events.extend(self.verdict(at_ns, invariant, ok, message));
        }
        for r in reached {
            events.extend(self.reach(&r));
        }
        (events, aims)
    }

    /// Has `invariant` been violated?
    pub fn has_violation(&self, invariant: &str) -> bool {
        self.violations.iter().any(|v| v.invariant == invariant)
    }

    /// Drop the watchers (they may hold the world: a cycle).
    pub fn take_watchers(&mut self) -> Vec<(PathBuf, Watcher)> {
        std::mem::take(&mut self.watchers)
    }
}
