//! The file system the [`tokio_fs`](crate::tokio_fs) and
//! [`std_fs`](crate::std_fs) facades use: the one a simulation installed on
//! this thread, otherwise (feature `real`) the operating system's.
//!
//! `steadfast-sim` installs its world's file system for the length of each
//! run, so code written against the facades runs in the simulated world
//! without an `Fs` passed around. Outside a simulation, without the `real`
//! feature, every facade call fails with `Unsupported` instead of touching
//! a disk nobody chose.

use std::cell::RefCell;
use std::io;
use std::sync::Arc;

use crate::fs::Fs;

thread_local! {
    static CURRENT: RefCell<Option<Arc<dyn Fs>>> = const { RefCell::new(None) };
}

/// Make `fs` the facades' file system on this thread until the returned
/// guard drops (which restores the one before).
#[must_use = "the file system is uninstalled when the guard drops"]
pub fn install(fs: Arc<dyn Fs>) -> Installed {
    let previous = CURRENT.with(|c| c.replace(Some(fs)));
    Installed { previous }
}

/// Restores the facades' previous file system when dropped.
pub struct Installed {
    previous: Option<Arc<dyn Fs>>,
}

impl Drop for Installed {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

impl std::fmt::Debug for Installed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Installed")
    }
}

/// The facades' file system on this thread.
pub fn current() -> io::Result<Arc<dyn Fs>> {
    if let Some(fs) = CURRENT.with(|c| c.borrow().clone()) {
        return Ok(fs);
    }
    fallback()
}

#[cfg(feature = "real")]
fn fallback() -> io::Result<Arc<dyn Fs>> {
    static REAL: std::sync::OnceLock<Arc<dyn Fs>> = std::sync::OnceLock::new();
    Ok(REAL.get_or_init(|| Arc::new(crate::real::RealFs::new())).clone())
}

#[cfg(not(feature = "real"))]
fn fallback() -> io::Result<Arc<dyn Fs>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "steadfast_core facade: no file system here (not inside a steadfast simulation, and steadfast-core's `real` feature is off)",
    ))
}
