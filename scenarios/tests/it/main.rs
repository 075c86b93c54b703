//! Integration tests of `steadfast-scenarios`: one binary, a module per area.

mod cli;
mod snapshots;
mod sweeps;
