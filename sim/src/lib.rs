//! # steadfast-sim
//!
//! The simulated world every scenario runs in: SimFs, virtual time, seeded
//! scheduling, nodes that are killed and restarted, fault schedules, and the
//! runner that sweeps, replays and judges seeds. It implements the seams of
//! `steadfast-core` and knows nothing of traces, locks or sweeps.
//!
//! One room per concern: [`schedule`] (what a run may do), `plan` (what
//! each operation meets), [`disk`] (the tree, queued effects, power loss,
//! capacity, silent faults), `procs` (nodes and pids), [`log`] (typed
//! events, hash, renderers), `judge` (invariants, watchers, coverage),
//! `seams` (the adapters `core` sees), [`world`] (the handle that joins
//! them) and [`runner`] (seeds in, outcomes out).

#![warn(missing_docs)]

mod check;
pub mod disk;
pub mod faults;
mod judge;
pub mod log;
mod plan;
mod procs;
pub mod rng;
pub mod runner;
pub mod schedule;
mod seams;
pub mod shrink;
#[cfg(feature = "proptest")]
pub mod strategy;
pub mod swarm;
pub mod world;

pub use check::{Check, check};
pub use faults::{FaultKind, InjectedFault, SilentFault, is_injected};
pub use log::{Record, SimEvent};
pub use rng::SimRng;
pub use runner::{Expect, Outcome, Scenario, Summary};
pub use schedule::{ParamSpec, Schedule};
pub use world::{Invariant, SimClock, SimEntropy, SimFs, SimProcs, SimSpawner, Violation, World};
