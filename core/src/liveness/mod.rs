//! Liveness (incidents 0, 1 and 2; invariants H1 to H4).
//!
//! - [`Heartbeat`]: an event-loop heartbeat ticking every 5 s through
//!   `Clock`, recording each tick's measured lag; [`Heartbeat::health`]
//!   turns stalled once the last tick is older than 30 s (H1). [`Health`]
//!   renders the `/healthz` answer (200 or 503, a JSON body, `no-store`);
//!   `http::serve_healthz` (feature `real`) serves it over HTTP/1.1 (H5);
//!   services with their own server mount [`healthz_response`], an
//!   `http::Response` (feature `http`) or a tower `HealthzService`
//!   (feature `tower`, for axum and hyper).
//! - [`memory_watch`]: reads cgroup v2 `memory.current` through `Fs` every
//!   60 s; one warning on crossing above the threshold (13 GiB), one notice
//!   on recovery, nothing while it stays on one side, garbage samples
//!   ignored, and disabled with one notice when the file is absent (H3).
//! - [`Handshake`]: a parent waits for its child's first line with a
//!   deadline (30 s), reading at most 64 lines / 64 KiB; an error line and
//!   EOF are distinct failures (H4). Over the child's stdout pipe,
//!   `Handshake::wait_reader` (feature `real`) splits the lines itself and
//!   holds no more than the bound of a line that never ends; `wait` takes
//!   lines from any source. [`DeferUntilHandshake`] is the child's
//!   side of the rule: only handshake-critical work runs before the answer;
//!   expensive startup work (scans, sweeps) is queued until it is sent.

mod answer;
mod handshake;
mod heartbeat;
#[cfg(feature = "real")]
pub mod http;
mod memory;

#[cfg(feature = "tower")]
pub use answer::HealthzService;
pub use answer::{HealthResponse, healthz_response};
#[cfg(feature = "http")]
pub use answer::{healthz_http, healthz_http_response};
pub use handshake::{DeferUntilHandshake, Handshake, HandshakeError};
pub use heartbeat::{Health, Heartbeat, HeartbeatConfig, Tick};
pub use memory::{MemoryEvent, MemoryWatchConfig, memory_watch};
