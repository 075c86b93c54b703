//! # steadfast-sim
//!
//! The simulated world every scenario runs in: SimFs, virtual time, seeded
//! scheduling, nodes that are killed and restarted, fault schedules, and the
//! runner that sweeps, replays and judges seeds. It implements the seams of
//! `steadfast-core` and knows nothing of traces, locks or sweeps.

#![warn(missing_docs)]

mod check;
mod chrome;
pub mod faults;
pub mod fs;
pub mod history;
pub mod rng;
pub mod runner;
pub mod schedule;
pub mod shrink;
#[cfg(feature = "proptest")]
pub mod strategy;
pub mod swarm;
pub mod world;

pub use check::{Check, check};
pub use faults::{FaultKind, InjectedFault, is_injected};
pub use rng::SimRng;
pub use runner::{Expect, Outcome, Scenario, Summary};
pub use schedule::{ParamSpec, Schedule};
pub use world::{Invariant, SimClock, SimEntropy, SimFs, SimProcs, SimSpawner, Violation, World};
