//! [`scenario`]: a scenario without trait boilerplate. Name it, declare its
//! invariants, give it processes (nodes whose init runs again after every
//! restart), and optionally a schedule (the stock
//! [`Schedule::storage_faults`] by default), an initial tree, a hook at the
//! start of the quiet phase and a final check. State the nodes and hooks of
//! one run share lives in [`World::shared`], fresh for every seed (state a
//! closure captures would be shared by every seed of a sweep).
//!
//! ```
//! use std::collections::BTreeMap;
//! use steadfast_core::FsExt;
//! use steadfast_sim::{Acked, check, scenario};
//!
//! // One acknowledged set per run (per seed), shared by nodes and hooks.
//! type Set = Acked<String, Vec<u8>>;
//! let sc = scenario("doc/synced-file-survives")
//!     .invariant("A1", "an acknowledged write survives a power loss")
//!     .node("app", |w| async move {
//!         let (fs, acked) = (w.env().fs, w.shared::<Set>());
//!         let data = b"hello".to_vec();
//!         acked.attempt("/f".into(), data.clone());
//!         let done = async { fs.write("/f", data.clone()).await?; fs.sync_file("/f").await?; fs.sync_dir("/").await };
//!         if done.await.is_ok() {
//!             acked.ack(&"/f".to_string(), &data);
//!         }
//!     })
//!     .at_end(|w| async move {
//!         let mut now = BTreeMap::new();
//!         if let Ok(bytes) = w.peek_file("/f".as_ref()) {
//!             now.insert("/f".to_string(), bytes);
//!         }
//!         w.shared::<Set>().check_all(&w, "A1", &now);
//!     })
//!     .build();
//! # if cfg!(madsim) {
//! check(&sc).seeds(50).regressions(None).run();
//! # }
//! ```

use std::future::Future;
use std::sync::Arc;

use steadfast_core::FsOp;

use crate::runner::{Expect, Scenario};
use crate::schedule::Schedule;
use crate::world::{Invariant, LocalBoxFuture, World};

type Hook = Arc<dyn Fn(World) -> LocalBoxFuture<'static, ()> + Send + Sync>;

fn hook<F, Fut>(f: F) -> Hook
where
    F: Fn(World) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + 'static,
{
    Arc::new(move |w| Box::pin(f(w)))
}

fn leak(s: impl Into<String>) -> &'static str {
    // A scenario lives for the test binary; its names are part of every
    // outcome (`&'static str`), so they are leaked once per build.
    Box::leak(s.into().into_boxed_str())
}

/// Start building the scenario `name` (its name in reports, replay
/// variables and regression files).
pub fn scenario(name: &str) -> Builder {
    Builder {
        name: leak(name),
        description: "",
        expect: Expect::Hold,
        invariants: Vec::new(),
        sometimes: Vec::new(),
        schedule: Arc::new(Schedule::storage_faults),
        setup: Vec::new(),
        nodes: Vec::new(),
        quiet: None,
        at_end: None,
    }
}

/// A scenario being built; [`Builder::build`] ends it.
pub struct Builder {
    name: &'static str,
    description: &'static str,
    expect: Expect,
    invariants: Vec<Invariant>,
    sometimes: Vec<&'static str>,
    schedule: Arc<dyn Fn(u64) -> Schedule + Send + Sync>,
    setup: Vec<FsOp>,
    nodes: Vec<(String, Hook)>,
    quiet: Option<Hook>,
    at_end: Option<Hook>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder").field("name", &self.name).field("expect", &self.expect).finish_non_exhaustive()
    }
}

impl Builder {
    /// One line on what it runs (`steadfast list`, reports).
    pub fn description(mut self, text: &str) -> Self {
        self.description = leak(text);
        self
    }

    /// Must be caught rather than hold (a planted bug, a replica).
    pub fn expect(mut self, expect: Expect) -> Self {
        self.expect = expect;
        self
    }

    /// Declare an invariant its checks judge: an ID and one line.
    pub fn invariant(mut self, id: &str, statement: &str) -> Self {
        self.invariants.push(Invariant { id: leak(id), statement: leak(statement) });
        self
    }

    /// A dangerous moment a sweep must reach (`World::reach`).
    pub fn sometimes(mut self, point: &str) -> Self {
        self.sometimes.push(leak(point));
        self
    }

    /// The fault schedule of each seed (default [`Schedule::storage_faults`]).
    pub fn schedule(mut self, f: impl Fn(u64) -> Schedule + Send + Sync + 'static) -> Self {
        self.schedule = Arc::new(f);
        self
    }

    /// The initial tree: applied instantly and made durable.
    pub fn setup(mut self, ops: impl IntoIterator<Item = FsOp>) -> Self {
        self.setup.extend(ops);
        self
    }

    /// A process: `init` runs when the node starts and again after every
    /// restart (a power loss with `restart_after_ms`), with a new pid.
    pub fn node<F, Fut>(mut self, name: &str, init: F) -> Self
    where
        F: Fn(World) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.nodes.push((name.to_string(), hook(init)));
        self
    }

    /// Runs on the harness at the end of the chaos phase (faults stop).
    pub fn quiet<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(World) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.quiet = Some(hook(f));
        self
    }

    /// Runs on the harness at the end of the quiet phase: the final check.
    /// Every node is stopped first (killed, as a process crash: its file
    /// operations in flight still land), so the check reads a system at
    /// rest, never one a node is still writing to.
    pub fn at_end<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(World) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.at_end = Some(hook(f));
        self
    }

    /// The scenario. Panics without an invariant or a node: a scenario
    /// that runs nothing or judges nothing cannot fail.
    pub fn build(self) -> Built {
        assert!(!self.invariants.is_empty(), "scenario {}: declare at least one invariant", self.name);
        assert!(!self.nodes.is_empty(), "scenario {}: add at least one node", self.name);
        Built {
            invariants: Box::leak(self.invariants.into_boxed_slice()),
            sometimes: Box::leak(self.sometimes.into_boxed_slice()),
            description: if self.description.is_empty() { self.name } else { self.description },
            name: self.name,
            expect: self.expect,
            schedule: self.schedule,
            setup: self.setup,
            nodes: self.nodes,
            quiet: self.quiet,
            at_end: self.at_end,
        }
    }
}

/// A scenario made by [`scenario`].
pub struct Built {
    name: &'static str,
    description: &'static str,
    expect: Expect,
    invariants: &'static [Invariant],
    sometimes: &'static [&'static str],
    schedule: Arc<dyn Fn(u64) -> Schedule + Send + Sync>,
    setup: Vec<FsOp>,
    nodes: Vec<(String, Hook)>,
    quiet: Option<Hook>,
    at_end: Option<Hook>,
}

impl std::fmt::Debug for Built {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Built").field("name", &self.name).field("expect", &self.expect).finish_non_exhaustive()
    }
}

impl Scenario for Built {
    fn name(&self) -> &'static str {
        self.name
    }
    fn expect(&self) -> Expect {
        self.expect
    }
    fn description(&self) -> &'static str {
        self.description
    }
    fn invariants(&self) -> &'static [Invariant] {
        self.invariants
    }
    fn sometimes(&self) -> &'static [&'static str] {
        self.sometimes
    }
    fn schedule(&self, seed: u64) -> Schedule {
        (self.schedule)(seed)
    }
    fn run<'a>(&'a self, world: &'a World) -> LocalBoxFuture<'a, ()> {
        Box::pin(async move {
            // A schedule that names a node this scenario never adds would
            // fire at nothing (the world records the event as ignored): a
            // typo in a node's name must not pass as a seed that held.
            for e in &world.schedule().events {
                if let Some(node) = e.what.node()
                    && !self.nodes.iter().any(|(n, _)| n == node)
                {
                    let nodes: Vec<&str> = self.nodes.iter().map(|(n, _)| n.as_str()).collect();
                    panic!(
                        "scenario {}: the schedule's event at {} ms names node {node:?}, which the scenario does not add (its nodes: {nodes:?})",
                        self.name, e.at_ms
                    );
                }
            }
            world.setup(self.setup.iter().cloned());
            for (name, init) in &self.nodes {
                let init = init.clone();
                world.add_node(name, move |w| init(w));
            }
            world.sleep_until(world.chaos_end()).await;
            if let Some(q) = &self.quiet {
                q(world.clone()).await;
            }
            world.sleep_until(world.quiet_end()).await;
            if let Some(end) = &self.at_end {
                for (name, _) in &self.nodes {
                    world.kill(name);
                }
                end(world.clone()).await;
            }
        })
    }
}
