//! The simulated file system's data model. The adapter that puts it behind
//! `core`'s `Fs` seam, with latency, faults and stalls, is
//! [`SimFs`](crate::SimFs) in [`world`](crate::world).

mod tree;

pub use tree::{Listed, Torn, Tree, hash_bytes};
