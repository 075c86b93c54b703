//! Integration tests of `steadfast-sim`: one binary, a module per area.

mod check;
mod conformance;
mod diagnostics;
mod handles;
mod image;
mod world;
