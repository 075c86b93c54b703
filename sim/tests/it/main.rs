//! Integration tests of `steadfast-sim`: one binary, a module per area.

mod conformance;
mod world;
