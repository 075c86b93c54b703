//! The plain-text timeline: one aligned line per [`Record`]. A renderer
//! only: nothing hashes or parses these lines.

use std::fmt::Write as _;

use super::event::{Ending, HarnessAct, KillCause, Record, SimEvent, Struck};

/// One aligned line: virtual time, node, task, what happened.
pub fn line(r: &Record) -> String {
    let what = what(&r.event);
    let mut s = String::with_capacity(64 + what.len());
    let ms = r.at_ns / 1_000_000;
    let us = (r.at_ns / 1_000) % 1_000;
    let _ = write!(s, "{ms:>9}.{us:03}ms  {:<10}  {:<16}  {what}", r.node, r.task);
    s
}

/// What happened, in words.
pub fn what(e: &SimEvent) -> String {
    match e {
        SimEvent::ProcessStarts { pid } => format!("process starts, pid {pid}"),
        SimEvent::Killed { cause } => killed(*cause).to_string(),
        SimEvent::OpBegun { op, path, to, blocking, window_ns, lands_ns } => {
            let to = to.as_ref().map(|p| format!(" -> {}", p.display())).unwrap_or_default();
            format!(
                "{}{op} {}{to}  window {}ms, lands +{}ms",
                if *blocking { "BLOCKING " } else { "" },
                path.display(),
                window_ns / 1_000_000,
                lands_ns / 1_000_000
            )
        }
        SimEvent::OpLost { op, path } => format!("{op} {}: lost, the power is going out", path.display()),
        SimEvent::Landed { op, path, ending } => format!("  = {op} {}: {}", path.display(), ending_text(op, ending)),
        SimEvent::CrashArmed { rule } => format!("CRASH POINT crashes[{rule}]: power goes out when this lands"),
        SimEvent::PausePoint { rule: Some(rule), ms } => {
            format!("PAUSE POINT pauses[{rule}]: the process freezes until {ms}ms after this returns")
        }
        SimEvent::PausePoint { rule: None, ms } => {
            format!("PAUSE POINT armed by the workload: the process freezes until {ms}ms after this returns")
        }
        SimEvent::Terminated => "SIGTERM: its handler runs".to_string(),
        SimEvent::TerminateArmed => "SIGTERM aimed at its next matching operation".to_string(),
        SimEvent::Spike { rule, ms } => format!("LATENCY SPIKE spikes[{rule}]: this operation takes {ms}ms longer"),
        SimEvent::PowerLoss { lost_ops, torn_files, unsynced: super::event::Unhashed((files, dirs)) } => format!(
            "POWER LOSS: {lost_ops} in-flight ops lost, {torn_files} files torn; unsynced changes lost in {files} files and {dirs} directories"
        ),
        SimEvent::RestartDropped => "restart after power loss dropped: a later power loss came first".into(),
        SimEvent::ClockJump { by_ms } => format!("wall clock jumps {by_ms:+}ms"),
        SimEvent::HostClockJump { by_ms } => format!("this host's wall clock jumps {by_ms:+}ms (the world's does not)"),
        SimEvent::UnknownNode { node } => format!("schedule names unknown node {node:?}: event ignored"),
        SimEvent::Hang { point } => format!("HANG at {point}: this future never completes"),
        SimEvent::Stall { until_ns } => format!("event loop stalls until {}ms", until_ns / 1_000_000),
        SimEvent::Resume => "event loop resumes".into(),
        SimEvent::Harness { act, path, err } => harness(act, path, err.as_deref()),
        SimEvent::Reached { point } => format!("reached {point}"),
        SimEvent::Violation { invariant, message } => format!("VIOLATION {invariant}: {message}"),
        SimEvent::Note { text } => text.clone(),
    }
}

fn killed(cause: KillCause) -> &'static str {
    match cause {
        KillCause::Sigkill => "killed (SIGKILL)",
        KillCause::ForRestart => "killed for restart",
        KillCause::PowerLoss => "power loss",
        KillCause::RestartAfterPowerLoss => "killed for restart after power loss",
        KillCause::Exit => "exits: its main returned (its other tasks end with it)",
        KillCause::Sigterm => "killed (SIGTERM, unhandled)",
    }
}

fn ending_text(op: &str, ending: &Ending) -> String {
    match ending {
        Ending::Ok => "ok".into(),
        Ending::Err(kind) => format!("err {kind}"),
        Ending::Injected { fault, rule } => format!("ERR injected {} on {op} (error rule {rule})", fault.errno()),
        Ending::DiskFull => "ERR disk full (ENOSPC: capacity_bytes reached)".into(),
        Ending::Silent { fault, rule, struck } => {
            format!("ok, SILENTLY {} (silent rule {rule}): {}", fault.describe(), struck_text(struck))
        }
    }
}

fn struck_text(struck: &Struck) -> String {
    match struck {
        Struck::Bit { byte, bit } => format!("bit {bit} of byte {byte} flipped"),
        Struck::Lost => "the data went nowhere".into(),
        Struck::LandedIn(path) => format!("the data landed in {}", path.display()),
    }
}

fn harness(act: &HarnessAct, path: &std::path::Path, err: Option<&str>) -> String {
    match act {
        HarnessAct::Op { op } => {
            let shown = err.map_or_else(|| "ok".to_string(), |k| format!("err {k}"));
            format!("{op} {}: {shown}", path.display())
        }
        HarnessAct::Touch { offset_ms } => {
            let sign = if *offset_ms < 0 { '-' } else { '+' };
            let shown = if err.is_some() { "err" } else { "ok" };
            format!("touch {} mtime {sign}{} ms: {shown}", path.display(), offset_ms.unsigned_abs())
        }
        HarnessAct::Fifo => format!("mkfifo {}: {}", path.display(), if err.is_some() { "err" } else { "ok" }),
    }
}

/// The Chrome trace category of an event: how the viewer colours it.
pub(crate) fn category(e: &SimEvent) -> &'static str {
    match e {
        SimEvent::Violation { .. } => "violation",
        SimEvent::Landed { ending: Ending::Injected { .. } | Ending::DiskFull | Ending::Silent { .. }, .. }
        | SimEvent::PowerLoss { .. }
        | SimEvent::Killed { .. }
        | SimEvent::Hang { .. } => "fault",
        SimEvent::Landed { .. } => "effect",
        _ => "event",
    }
}
