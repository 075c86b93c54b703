//! Stock schedules for code that is not this project's: a storage fault
//! mix drawn per seed by the swarm, so a user's first scenario needs no
//! hand-built schedule.

use super::{ErrorRule, Event, Latency, Mount, Schedule, TimedEvent};
use crate::faults::FaultKind;
use crate::swarm::Swarm;

/// The fault kinds [`Schedule::storage_faults`] draws rates for.
pub const STORAGE_FAULT_KINDS: &[&str] = &["slow", "eio", "enospc", "power"];

impl Schedule {
    /// A storage fault schedule for `seed`: 10 s of chaos, then 5 s of
    /// quiet. Each seed draws its own swarm (some calm, some one fault kind,
    /// some brutal): latency of 0 to 50 ms per operation everywhere (a slow
    /// disk when `slow` is on: up to 500 ms for fsyncs and renames), `EIO`
    /// and `ENOSPC` on writes, appends, creates, fsyncs and renames at the
    /// swarm's rates, the kernel committing directory metadata on its own
    /// every 5 to 500 ms, and when `power` is on a power loss at a seeded
    /// instant (torn or not) with every node restarted 10 to 500 ms later.
    ///
    /// ```
    /// let s = steadfast_sim::Schedule::storage_faults(7);
    /// assert!(s.validate().is_ok());
    /// assert_eq!(s, steadfast_sim::Schedule::storage_faults(7), "a seed draws the same schedule");
    /// ```
    pub fn storage_faults(seed: u64) -> Schedule {
        let mut swarm = Swarm::draw(seed, STORAGE_FAULT_KINDS);
        let mut s = Schedule::calm(seed, 10_000);
        s.quiet_ms = 5_000;
        let slow = swarm.on("slow");
        let (eio, enospc, power) = (swarm.rate("eio"), swarm.rate("enospc"), swarm.on("power"));
        let rng = swarm.rng();
        // ext4 commits its journal every 5 s by default: a power loss before
        // the commit loses a directory entry nobody fsynced.
        s.metadata_commit_ms = Some(rng.range(5, 5_000));
        let ops = |names: &[&str]| names.iter().map(|o| o.to_string()).collect::<Vec<_>>();
        let mut latency = Vec::new();
        if slow {
            latency.push(Latency { ops: ops(&["sync_file", "sync_dir", "rename"]), ms_min: 1, ms_max: 500 });
        }
        latency.push(Latency { ops: Vec::new(), ms_min: 0, ms_max: if slow { 50 } else { 5 } });
        s.mounts.push(Mount { prefix: "/".into(), latency });
        let writes = ops(&["write", "append", "create_new", "sync_file", "sync_dir", "rename"]);
        for (error, rate) in [(FaultKind::Eio, eio), (FaultKind::Enospc, enospc)] {
            if rate > 0.0 {
                let rule = ErrorRule {
                    ops: writes.clone(),
                    path_prefix: None,
                    error,
                    nth: None,
                    probability: Some(rate / 4.0),
                    while_renaming: false,
                };
                s.errors.push(rule);
            }
        }
        if power {
            let at_ms = rng.range(100, 9_000);
            let what = Event::PowerLoss { torn: rng.chance(0.5), restart_after_ms: Some(rng.range(10, 500)) };
            s.events.push(TimedEvent { at_ms, what });
        }
        s
    }
}
