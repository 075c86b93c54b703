//! # steadfast-sim
//!
//! The simulated world every scenario runs in: SimFs, virtual time, seeded
//! scheduling, nodes that are killed and restarted, fault schedules, and the
//! runner that sweeps, replays and judges seeds. It implements the seams of
//! `steadfast-core` and knows nothing of traces, locks or sweeps.
//!
//! # Testing your own code
//!
//! Code that uses files runs on real files in production and, in a test,
//! in this world, if its file operations go through `steadfast-core`:
//!
//! - **Code written for `tokio::fs` or `std::fs`** switches by changing its
//!   `use` lines to `steadfast_core::tokio_fs` or `steadfast_core::std_fs`:
//!   the same free functions, `File` (tokio's `AsyncRead`, `AsyncWrite`,
//!   `AsyncSeek`, or std's `Read`, `Write`, `Seek`; `sync_all`,
//!   `sync_data`, `set_len`, `read_at`, `write_all_at`), `OpenOptions` and
//!   `read_dir`. In production (feature `real` of `steadfast-core`) they
//!   run on the real file system; inside a run of this crate on the
//!   simulated one, which the runner installs for the run
//!   (`steadfast_core::ambient`).
//!
//!   ```ignore
//!   // use tokio::fs::{self as fs, File, OpenOptions};
//!   use steadfast_core::tokio_fs::{self as fs, File, OpenOptions};
//!   use tokio::io::AsyncWriteExt; // needs tokio's `io-util` feature
//!   ```
//! - **Code written against the seams** (`Env`: `Fs`, `Clock`, `Procs`,
//!   `Spawn`, `Entropy`; `Env::real()` in production) gets `w.env()` here.
//!
//! **1. Turn the simulator on.** madsim simulates only under `--cfg
//! madsim`. In `.cargo/config.toml` at the root of your workspace:
//!
//! ```toml
//! [build]
//! rustflags = ["--cfg", "madsim"]
//! rustdocflags = ["--cfg", "madsim"]
//! ```
//!
//! Never set `RUSTFLAGS` (CI often sets `-D warnings` there): it replaces
//! these flags, and this crate then refuses to build with an error that
//! says so. Declare the cfg for your own crate's lints:
//! `[lints.rust] unexpected_cfgs = { level = "warn", check-cfg = ['cfg(madsim)'] }`.
//!
//! **2. Make the simulator fast in tests** (sweeps run thousands of seeds;
//! unoptimised they are about 4 times slower):
//!
//! ```toml
//! [profile.dev.package.steadfast-sim]
//! opt-level = 2
//! [profile.dev.package.steadfast-core]
//! opt-level = 2
//! [profile.dev.package.madsim]
//! opt-level = 2
//! ```
//!
//! **3. Write the scenario** with [`scenario`]: processes are nodes whose
//! init runs again after every restart; [`Schedule::storage_faults`] is the
//! default schedule (a swarm of latency, EIO, ENOSPC and power losses with
//! restarts; give your own with [`Builder::schedule`], for example
//! [`Schedule::calm`] plus the events you want, whose nodes must be ones
//! the scenario adds); [`Acked`] is the "every acknowledged write survives"
//! check.
//! Then check it from `cargo test` in one call:
//!
//! ```ignore
//! #[test]
//! fn put_survives_crash() {
//!     let sc = steadfast_sim::scenario("kv/put-survives-crash")
//!         .invariant("K1", "every acknowledged put survives a power loss and a reopen")
//!         .node("kv", |w| async move { /* open the store on w.env(), put, acked.ack(..) */ })
//!         .at_end(|w| async move { /* reopen, read back, acked.check_all(&w, "K1", &read) */ })
//!         .build();
//!     steadfast_sim::check(&sc).seeds(500).run();
//! }
//! ```
//!
//! `examples/kvstore/` in the steadfast repository is a complete outside
//! crate doing exactly this, with planted bugs behind features.
//!
//! What trips new users:
//! - **Keep the workload going.** A node whose open fails on an injected
//!   error and returns has stopped testing anything: retry it (the example
//!   loops with a short sleep). A node's closure runs again after every
//!   restart, so the reopen is the place to check what survived.
//! - **Stop at the end of the chaos phase** (`while w.now() <
//!   w.chaos_end()`), so the quiet phase lets the system settle.
//!   `at_end` runs after every node was stopped.
//! - **`Acked` judges what was read**: pass only keys that hold a value.
//!   A key your store reads as empty (0, `""`) must be left out, or it
//!   reads as a value nothing wrote.
//! - **Paths are absolute** in a simulation (a relative path is
//!   `InvalidInput`), and `Path::exists`-style helpers of `std::path` look
//!   at the real disk: use the facade's `try_exists` and `metadata`.
//! - **A planted bug's seeds are not regressions**: with a planted-bug
//!   feature on, pass `.regressions(None)` so that the file you commit
//!   keeps only seeds that broke the real code.
//! - **A check that could not have failed fails**: a `hold` check whose
//!   declared invariant no seed checked (a node that stopped early, a
//!   `check` on a path never taken), or of 0 seeds.
//!
//! **4. When a seed fails**, the panic message has the report (the
//! invariant, its statement, the events around the first violation) and
//! the command that replays it from your test:
//!
//! ```text
//! replay:   STEADFAST_SCENARIO='kv/put-survives-crash' STEADFAST_SEED=7 cargo test -p kvstore --test durability -- put_survives_crash --exact --nocapture
//! ```
//!
//! The command selects the binary the check ran in (`--test`, `--lib`,
//! `--bin`, `--bins`, `--bench`, `--example`, from the package's files
//! and its manifest's target tables; every kind that could have built a
//! binary of that name when several could, as `--lib --bins` for the unit
//! tests of a package with both), and passes `--include-ignored` when the
//! check ran from an ignored test.
//!
//! | variable | effect |
//! |---|---|
//! | `STEADFAST_SCENARIO=NAME` | the replay variables and `STEADFAST_SEEDS` apply to this scenario only; other checks in the binary are skipped, and a skipped check passes (a note on stderr names it: a mistyped name skips them all). Set alone, it scopes nothing |
//! | `STEADFAST_SEED=S` | run seed S only, and print its report whether it failed or not (`cargo test` shows it with `-- --nocapture`, as the printed commands pass) |
//! | `STEADFAST_SCHEDULE=FILE` | run this schedule (a shrunk one) only |
//! | `STEADFAST_SEEDS=N` | sweep N seeds |
//! | `STEADFAST_ARTIFACTS=DIR` | write the replayed (or first failing) seed's timeline, Chrome trace (open in Perfetto), schedule and shrunk schedule under DIR |
//! | `STEADFAST_REPORT_WINDOW=B,A` | events shown up to and including the first violation (B) and after it (A); a value that is not two numbers panics |
//! | `STEADFAST_SEED_TIMEOUT_S=N` | a run still going after N s of wall time (default 300; 0: no limit) is a task that never yields: the watchdog prints its scenario, seed and replay command (RUN6) and exits the process with status 1 |
//!
//! A seed that broke a `hold` scenario is kept in
//! `steadfast-regressions/<scenario>.txt` (every character of the name but
//! letters, digits, `.` and `_` as `_`; a header line names the scenario,
//! and a file that names another is refused) beside your crate (at most 8 new ones per check, each with its
//! replay command) and runs first on every later check; commit the file.
//! A seed kept because the *test* was wrong is deleted from it by hand. A
//! passing check prints one line
//! (`check NAME: N seeds, ...`; visible with `--nocapture`).
//!
//! **Features.** A running test cannot see the features it was built with:
//! pass them for the printed commands, as `examples/kvstore` does:
//! `check(&sc).cargo_args(if cfg!(feature = "planted-bug") { "--features planted-bug" } else { "" })`.
//!
//! **The file operations** through the seam are `steadfast_core::FsExt`'s
//! methods on `env.fs` (`use steadfast_core::{Env, FsExt};`): `read`,
//! `write`, `append`, `create_new`, `rename`, `remove_file`,
//! `create_dir_all`, `read_dir`, `metadata`, `sync_file`, `sync_dir`, and
//! through open files `open`, `read_at`, `write_at`, `set_len`,
//! `sync_handle`..., each with a `_blocking` twin that stalls the whole
//! node for its latency in the simulation (the `std_fs` facade is made of
//! those twins).
//!
//! **What is simulated:** every file operation through `steadfast-core`
//! (the facades or `Env`'s `Fs`): latency windows with effects landing
//! inside them, injected errors, partial writes, power loss that keeps
//! only synced data and synced directory entries (the kernel commits
//! directory metadata on its own every few seconds, as ext4's journal
//! does), torn appends, a disk that fills, corrupt reads, lost and
//! misdirected writes; open files that follow their file through renames
//! and unlinks; blocking calls stalling their whole node; virtual time
//! through `Clock` and madsim; wall-clock jumps of the whole world
//! ([`schedule::Event::ClockJump`]) or of one host
//! ([`schedule::Event::HostClockJump`], every node a host of its own, seen
//! only through `Env`'s `Clock`: hosts then disagree, and with the disk,
//! which stamps mtimes by the world's clock; [`World::host_clock_skew_ms`]
//! puts a host's readings on the world's clock); processes killed and
//! restarted with new pids (a pid is reused only once nothing of its last
//! process is in flight); SIGTERM (`Event::Terminate`), handled by a task that awaits
//! [`World::terminated`] while the process's other tasks are mid-call
//! (or asked between a loop's steps, [`World::terminating`]), and aimed, if asked, at the next write in flight; frozen processes
//! and latency spikes; madsim's simulated network. A fault rule that names `write`,
//! `append`, `read`, `sync_file` or `metadata` strikes the path operation
//! and its open-file twin alike.
//!
//! **What is not:** `std::fs`, `tokio::fs` and any other I/O that does not
//! go through `steadfast-core` (it touches the real machine, unsimulated,
//! and a check still passes: nothing can intercept it), `tokio::time` and
//! tokio's runtime (use `w.env().clock` or `madsim::time`), real threads,
//! and wall-clock time read around `Clock`. Of files: permissions, hard
//! links, `mmap`, `O_DIRECT` and file locks are not offered; a torn power
//! loss tears only data appended past the synced length (an unsynced
//! overwrite in place reverts whole); a write through an open file cannot
//! be misdirected (it is lost instead); the bytes of an unlinked but open
//! file do not count against the disk's capacity.
//!
//! # The rooms
//!
//! One room per concern: [`schedule`] (what a run may do), `plan` (what
//! each operation meets), [`disk`] (the tree, queued effects, power loss,
//! capacity, silent faults), `procs` (nodes and pids), [`log`] (typed
//! events, hash, renderers), `judge` (invariants, watchers, coverage),
//! `seams` (the adapters `core` sees), [`world`] (the handle that joins
//! them) and [`runner`] (seeds in, outcomes out).

#![warn(missing_docs)]

// Without `--cfg madsim` madsim is a thin wrapper over tokio and nothing
// here is simulated: say how to fix it instead of failing on `madsim::runtime`.
#[cfg(not(madsim))]
compile_error!(
    "steadfast-sim needs `--cfg madsim`. Add to `.cargo/config.toml` at the root of your workspace:\n\n    [build]\n    rustflags = [\"--cfg\", \"madsim\"]\n    rustdocflags = [\"--cfg\", \"madsim\"]\n\nand do not set RUSTFLAGS, which replaces those flags (put `-D warnings` in `[lints]` or in that list instead)."
);

mod acked;
mod builder;
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

pub use acked::Acked;
pub use builder::{Builder, Built, scenario};
pub use check::{Check, check};
pub use disk::TreeImage;
pub use faults::{FaultKind, InjectedFault, SilentFault, is_injected, is_power_loss};
pub use log::{Record, SimEvent};
pub use rng::SimRng;
pub use runner::{Expect, Outcome, Scenario, Summary};
pub use schedule::{
    CrashRule, During, ErrorRule, Event as ScheduleEvent, HangRule, Latency, Mount, ParamSpec, Schedule, SilentRule,
    SpikeRule, TimedEvent,
};
pub use world::{Invariant, SimClock, SimEntropy, SimFs, SimProcs, SimSpawner, Violation, World};
