//! # steadfast-sim
//!
//! The simulated world every scenario runs in: SimFs, virtual time, seeded
//! scheduling, nodes that are killed and restarted, fault schedules, and the
//! runner that sweeps, replays and judges seeds. It implements the seams of
//! `steadfast-core` and knows nothing of traces, locks or sweeps.
