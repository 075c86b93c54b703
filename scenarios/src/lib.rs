//! # steadfast-scenarios
//!
//! Seeded scenarios that run `steadfast-core` in the `steadfast-sim` world,
//! the invariant checkers that judge them, small replicas of the shipped
//! (buggy) behaviour of each incident, and the `steadfast` command line.
