//! # steadfast-core
//!
//! The library production code imports: file-system- and clock-heavy logic
//! that must not lose data, written against injectable seams so that the
//! same code runs in production and in the `steadfast-sim` simulator.
//!
//! The seams:
//! - [`Fs`] (with the typed helpers of [`FsExt`]): every file operation, async
//!   and blocking, with the contract written once in [`fs`];
//! - [`Clock`]: monotonic time, wall-clock time, sleeping, and [`timeout`];
//! - [`Procs`]: process liveness and our own pid;
//! - [`Spawn`] and [`Entropy`]: background tasks and randomness;
//! - [`Env`]: the bundle of all five that modules are built from.
//!
//! For code that is not written against `Fs`: [`tokio_fs`] and [`std_fs`]
//! are `tokio::fs`- and `std::fs`-shaped facades (free functions, `File`,
//! `OpenOptions`) over the file system of [`ambient`]: the simulated one
//! inside a steadfast simulation, the real one otherwise (feature `real`).
//! Existing code switches by changing its `use` lines.
//!
//! Real adapters (module `real`, feature `real`) implement them for production on
//! tokio and the operating system. The file-system conformance suite
//! (module `conformance`, feature `conformance`) checks any `Fs` adapter against
//! the contract.
//!
//! Architecture invariant: nothing here names a runtime. No tokio or madsim
//! type appears in a seam's signature; only module `real` uses tokio.

#![warn(missing_docs)]

pub mod ambient;
pub mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
mod env;
mod facade;
pub mod fs;
pub mod liveness;
pub mod lock;
pub mod procs;
#[cfg(feature = "real")]
pub mod real;
pub mod retention;
mod signal;
pub mod spawn;
pub mod trace;

pub use clock::{Clock, Elapsed, Mono, timeout, yield_now};
pub use env::Env;
pub use facade::{std_fs, tokio_fs};
pub use fs::{BoxFuture, DirEntry, FileKind, Fs, FsExt, FsOp, FsOutput, Handle, Metadata, OpenMode};
pub use procs::{Liveness, Procs};
pub use spawn::{Abort, Entropy, Spawn, TaskHandle};

/// SplitMix64's finaliser: a fast, well-mixed bijection on `u64`, used to
/// turn counters into random-looking values and to hash histories.
pub fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// FNV-1a over `bytes` from `offset` (two offsets give two independent
/// streams): a stable, dependency-free content hash for names and ids.
pub(crate) fn fnv1a64(bytes: &[u8], offset: u64) -> u64 {
    let [h] = fnv1a64_streams(bytes, [offset]);
    h
}

/// [`fnv1a64`] from each of `offsets`, in one pass over `bytes` (the
/// streams' multiply chains run side by side).
pub(crate) fn fnv1a64_streams<const N: usize>(bytes: &[u8], offsets: [u64; N]) -> [u64; N] {
    bytes.iter().fold(offsets, |hs, &b| hs.map(|h| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)))
}
