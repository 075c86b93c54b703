//! Integration tests of `steadfast-core` against the real operating system.
//! One binary, a module per area.

mod clock;
mod conformance;
mod healthz_turmoil;
mod liveness;
mod lock;
mod lock_attempt;
mod lock_hostile;
mod retention;
mod trace;
