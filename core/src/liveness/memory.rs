//! [`memory_watch`] (H3).

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::Env;
use crate::fs::FsExt;
use crate::spawn::TaskHandle;

/// Where and how often to read, and the threshold. Defaults are upstream's.
#[derive(Clone, Debug)]
pub struct MemoryWatchConfig {
    /// The cgroup v2 file. Default `/sys/fs/cgroup/memory.current`.
    pub path: PathBuf,
    /// Sampling interval. Default 60 s.
    pub interval: Duration,
    /// Warn when usage is strictly above this. Default 13 GiB.
    pub threshold_bytes: u64,
}

impl Default for MemoryWatchConfig {
    fn default() -> Self {
        MemoryWatchConfig {
            path: "/sys/fs/cgroup/memory.current".into(),
            interval: Duration::from_secs(60),
            threshold_bytes: 13 << 30,
        }
    }
}

/// What the watch reports (also logged through `tracing`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryEvent {
    /// Usage crossed above the threshold.
    Above {
        /// The sample.
        bytes: u64,
    },
    /// Usage came back to or below it.
    Recovered {
        /// The sample.
        bytes: u64,
    },
    /// The file did not exist at the first sample: the watch stops. A file
    /// that goes missing later is a skipped sample, like a garbage one.
    Disabled,
}

/// Start the watch on a background task (it never keeps the process alive
/// and never kills anything). `on_event` sees each event.
pub fn memory_watch(
    env: &Env,
    config: MemoryWatchConfig,
    on_event: Box<dyn Fn(MemoryEvent) + Send + Sync>,
) -> TaskHandle {
    let env2 = env.clone();
    env.spawner.spawn(
        "memory-watch",
        Box::pin(async move {
            let mut above = false;
            let mut seen = false;
            loop {
                match env2.fs.read(&config.path).await {
                    // No cgroup file at the start: not under a cgroup, silent.
                    Err(e) if e.kind() == io::ErrorKind::NotFound && !seen => {
                        tracing::info!(file = %config.path.display(), "memory watch disabled: no cgroup file");
                        on_event(MemoryEvent::Disabled);
                        return;
                    }
                    // Missing for one sample later on, unreadable this time,
                    // or garbage: skip the sample and keep watching.
                    Err(_) => {}
                    Ok(bytes) => {
                        seen = true;
                        if let Some(event) = judge(&bytes, config.threshold_bytes, &mut above) {
                            log(&event, config.threshold_bytes);
                            on_event(event);
                        }
                    }
                }
                env2.clock.sleep(config.interval).await;
            }
        }),
    )
}

/// One sample: an event when it crosses to the other side.
fn judge(bytes: &[u8], threshold: u64, above: &mut bool) -> Option<MemoryEvent> {
    let value: u64 = std::str::from_utf8(bytes).ok()?.trim().parse().ok()?;
    match (value > threshold, *above) {
        (true, false) => {
            *above = true;
            Some(MemoryEvent::Above { bytes: value })
        }
        (false, true) => {
            *above = false;
            Some(MemoryEvent::Recovered { bytes: value })
        }
        _ => None,
    }
}

fn log(event: &MemoryEvent, threshold: u64) {
    match event {
        MemoryEvent::Above { bytes } => tracing::warn!(bytes, threshold, "memory above threshold"),
        MemoryEvent::Recovered { bytes } => tracing::info!(bytes, threshold, "memory back below threshold"),
        MemoryEvent::Disabled => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_per_crossing_and_garbage_ignored() {
        let mut above = false;
        let samples: &[&[u8]] = &[b"5\n", b"20\n", b"21", b"garbage", b"", b"-3", b"10", b"9", b"11\n", b" 12 \n"];
        let events: Vec<_> = samples.iter().filter_map(|s| judge(s, 10, &mut above)).collect();
        assert_eq!(
            events,
            [MemoryEvent::Above { bytes: 20 }, MemoryEvent::Recovered { bytes: 10 }, MemoryEvent::Above { bytes: 11 }]
        );
    }
}
