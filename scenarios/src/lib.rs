//! # steadfast-scenarios
//!
//! Seeded scenarios that run `steadfast-core` in the `steadfast-sim` world,
//! the invariant checkers that judge them, small replicas of the shipped
//! (buggy) behaviour of each incident, and the `steadfast` command line.
//!
//! Every scenario is listed once, in [`all`]; its name is part of the CLI
//! contract.

#![warn(missing_docs)]

pub mod liveness;
pub mod lock;
pub mod retention;
pub mod selftest;
pub mod trace;

use std::sync::{Mutex, MutexGuard};

use steadfast_sim::Scenario;

/// Lock a scenario's shared book. A checker that panicked while holding it
/// is already a failed run (RUN2); the book is still the best record.
pub(crate) fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Both futures, polled together on the calling task (the first, then
/// the second, on every wake), until both are done: two of a workload's
/// tasks at once through one object (a session, a guard, a controller).
pub(crate) async fn join2<A: std::future::Future, B: std::future::Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
        if ra.is_none()
            && let std::task::Poll::Ready(v) = a.as_mut().poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let std::task::Poll::Ready(v) = b.as_mut().poll(cx)
        {
            rb = Some(v);
        }
        if ra.is_some() && rb.is_some() { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
    (ra.expect("polled to the end"), rb.expect("polled to the end"))
}

/// Did the world cause `e`: an injected fault, or an operation a power
/// loss cut short? (The latter possibly in a quiet phase too: a crash
/// point armed in the chaos phase fires when its operation lands, and a
/// slow mount's rename, or a spiked one, lands seconds later.)
pub(crate) fn fault_caused(e: &std::io::Error) -> bool {
    steadfast_sim::is_injected(e) || steadfast_sim::is_power_loss(e)
}

/// Every scenario, in the order `steadfast list` shows them.
pub fn all() -> Vec<&'static dyn Scenario> {
    vec![
        &selftest::RenameReplace { fsync: false },
        &selftest::RenameReplace { fsync: true },
        &selftest::TreeDelete { blocking: true },
        &selftest::TreeDelete { blocking: false },
        &selftest::StorageSelftest { mechanism: selftest::Mechanism::DiskFull, store: selftest::Store::Careless },
        &selftest::StorageSelftest { mechanism: selftest::Mechanism::DiskFull, store: selftest::Store::Careful },
        &selftest::StorageSelftest { mechanism: selftest::Mechanism::CorruptRead, store: selftest::Store::Careless },
        &selftest::StorageSelftest { mechanism: selftest::Mechanism::CorruptRead, store: selftest::Store::Careful },
        &selftest::StorageSelftest { mechanism: selftest::Mechanism::LostWrite, store: selftest::Store::Careless },
        &selftest::StorageSelftest { mechanism: selftest::Mechanism::LostWrite, store: selftest::Store::Careful },
        &trace::TraceScenario { variant: trace::Variant::Core },
        &trace::TraceScenario { variant: trace::Variant::DebounceDrop },
        &trace::TraceScenario { variant: trace::Variant::ExportOverwritesCrash },
        &trace::TraceScenario { variant: trace::Variant::RenameRace },
        &trace::TraceScenario { variant: trace::Variant::SharedExporter },
        &trace::TraceScenario { variant: trace::Variant::RawSessionKey },
        &trace::TraceScenario { variant: trace::Variant::UnderscoreNames },
        &trace::TraceScenario { variant: trace::Variant::HungEnd },
        &trace::SharedDirScenario { variant: trace::SharedVariant::Core },
        &trace::SharedDirScenario { variant: trace::SharedVariant::PerInstanceMarks },
        &trace::SharedDirScenario { variant: trace::SharedVariant::MarkWritesThrough },
        &lock::LockScenario { variant: lock::Variant::Core },
        &lock::LockScenario { variant: lock::Variant::HungCompaction },
        &lock::LockScenario { variant: lock::Variant::UncheckedRelease },
        &lock::LockScenario { variant: lock::Variant::DoubleHolder },
        &lock::LockScenario { variant: lock::Variant::Spin },
        &lock::LockScenario { variant: lock::Variant::EnospcLockout },
        &lock::LockScenario { variant: lock::Variant::TwoManagers },
        &lock::LockScenario { variant: lock::Variant::UnfencedAttempt },
        &lock::LockScenario { variant: lock::Variant::CheckThenRemove },
        &lock::LockScenario { variant: lock::Variant::ExitUnderWrite },
        &lock::LockScenario { variant: lock::Variant::RepairThroughSymlink },
        &lock::LockScenario { variant: lock::Variant::UnorderedTail },
        &lock::LockScenario { variant: lock::Variant::RepairByCopy },
        &retention::RetentionScenario { variant: retention::Variant::Core },
        &retention::RetentionScenario { variant: retention::Variant::TelemetryUnbounded },
        &retention::RetentionScenario { variant: retention::Variant::FollowsSwap },
        &retention::RetentionScenario { variant: retention::Variant::SkipsNonUtf8 },
        &retention::RetentionScenario { variant: retention::Variant::SinkFollowsSymlink },
        &liveness::LivenessScenario { variant: liveness::Variant::Core },
        &liveness::LivenessScenario { variant: liveness::Variant::SweepSyncRm },
        &liveness::LivenessScenario { variant: liveness::Variant::HubChildFullScan },
    ]
}

/// The scenario named `name`.
pub fn find(name: &str) -> Option<&'static dyn Scenario> {
    all().into_iter().find(|s| s.name() == name)
}
