//! The attempt controller under the `lock` scenario (L10): each process
//! runs attempts that write under the coarse lock, let go of it for a wait
//! (a model call) while others use the session, and write again through
//! the transcript fence; then clean up and try one late write.
//!
//! Judged on every write after a wait, against the book's log of every
//! landed change of the transcript:
//! - safety: a write that landed had no change by anyone else between the
//!   wait's start and its own landing;
//! - progress (the twin that a fence refusing everything would break): a
//!   write refused for a changed session had a change to be refused for;
//! - after cleanup, a late write is refused;
//! - in one attempt in three the write after the wait comes from two tasks
//!   at once through the one controller (an attempt's parallel tool
//!   calls): neither write is refused or fails for the other's sake (a
//!   write of the attempt's own is no change by someone else), and neither
//!   reports a hold it never released.

use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use steadfast_core::lock::{LockError, LockGuard};

use super::{MAX_HOLD, Proc, SESSIONS, TAKEOVER_GRACE, Variant, calling, lock_book, register};
use steadfast_sim::schedule::PauseRule;

/// Coverage: the fence refused a write because the session changed.
pub(super) const FENCED: &str = "a write after a wait refused: the session changed";
/// Coverage: a write after a wait landed.
pub(super) const PASSED: &str = "a write after a wait landed";

/// The workload streams of the pair draws (one per `attempts` stream).
const PAIRS_STREAM: u64 = 0xA77_0000;

fn line(nonce: u64, k: u64) -> Vec<u8> {
    format!("{{\"n\":{nonce},\"fence\":0,\"k\":{k}}}\n").into_bytes()
}

/// Attempts until the chaos ends.
pub(super) async fn attempts(p: &Rc<Proc>, stream: u64) {
    let mut rng = p.world.workload_rng(stream);
    // Which attempts write from two tasks after their wait: a stream of its
    // own, so that the attempts' other draws stay.
    let mut pairs = p.world.workload_rng(PAIRS_STREAM + stream);
    while p.world.now() < p.world.chaos_end() {
        let session = rng.range(0, 1) as usize;
        let wait = Duration::from_millis(rng.range(50, 1_500));
        // The second writer starts up to 300 ms after the first: inside
        // the first one's hold, or after it.
        let two = pairs.chance(1.0 / 3.0).then(|| Duration::from_millis(pairs.range(0, 300)));
        if p.variant == Variant::UnfencedAttempt {
            unfenced(p, session, wait).await;
        } else {
            fenced(p, session, wait, two).await;
        }
        p.env.clock.sleep(Duration::from_millis(rng.range(0, 300))).await;
    }
}

/// Write one line through `write`, booking the hold it ran under; the
/// nonce of that hold, if it ran.
async fn write_line(
    p: &Proc,
    ctl: &steadfast_core::lock::AttemptController,
    session: usize,
    k: u64,
) -> (Result<(), LockError>, Option<u64>) {
    let mut nonce = None;
    let out = ctl
        .write(async |g: &LockGuard| {
            nonce = Some(g.owner().nonce);
            if !lock_book(&p.book).holds.contains_key(&g.owner().nonce) {
                register(p, session, g.owner());
            }
            let out = calling(p, session, g.append(&line(g.owner().nonce, k))).await;
            // The controller may let go of this hold as soon as this
            // returns: no longer entitled from here on.
            if let Some(h) = lock_book(&p.book).holds.get_mut(&g.owner().nonce) {
                h.ending = true;
            }
            out
        })
        .await;
    (out, nonce)
}

async fn fenced(p: &Proc, session: usize, wait: Duration, two: Option<Duration>) {
    let ctl = p.manager.controller(Path::new(SESSIONS[session]));
    let asked = p.world.now();
    if ctl.acquire().await.is_err() {
        return;
    }
    // L16: the coarse lock is taken, not promised: this process's lock
    // file for the session appeared since the call began (whoever has
    // taken it over or removed it since).
    let pid = p.env.procs.own_pid();
    let created = lock_book(&p.book).lock_creates.iter().any(|&(at, by, s)| at >= asked && by == pid && s == session);
    p.world.check("L16", created, || {
        format!("an attempt's acquire of {} returned Ok, but no lock file of its process appeared", SESSIONS[session])
    });
    // In a `freeze_fingerprint` seed, a process's first fenced attempt
    // freezes at its write's refresh of the fingerprint (the next look at
    // the session file's metadata), past max hold + grace: its release for
    // the wait then looks again only after others may have taken the lock
    // over and written (L10: that look is no record of how it left the
    // file).
    if p.world.schedule().param("freeze_fingerprint", 0) == 1 && !p.fingerprint_frozen.replace(true) {
        let ms = (MAX_HOLD + TAKEOVER_GRACE).as_millis() as u64 + 500 + p.world.now().as_millis() as u64 % 2_500;
        let rule = PauseRule {
            ops: vec!["metadata".into()],
            path_prefix: Some(SESSIONS[session].into()),
            nth: Some(1),
            probability: None,
            ms,
        };
        p.world.arm_pause(&p.name, rule);
    }
    let (first, coarse) = write_line(p, &ctl, session, 1).await;
    // The wait starts while the lock is still held: nobody else can change
    // the session before the release lands, and anybody may after it.
    let since = p.world.now();
    let before = p.world.peek_file(Path::new(SESSIONS[session])).ok();
    let released = ctl.release_for_wait().await;
    coarse.into_iter().for_each(|n| end_hold(p, n));
    if first.is_err() || released.is_err() {
        ctl.cleanup().await;
        return;
    }
    p.world.check("L10", !ctl.is_taken_over(), || {
        format!("an attempt on {} that wrote and let go says it was taken over", SESSIONS[session])
    });
    p.env.clock.sleep(wait).await;
    let (out, nonce, second) = if let Some(lag) = two {
        let later = async {
            p.env.clock.sleep(lag).await;
            write_line(p, &ctl, session, 5).await
        };
        let ((out, nonce), other) = crate::join2(write_line(p, &ctl, session, 2), later).await;
        (out, nonce, Some(other))
    } else {
        let (out, nonce) = write_line(p, &ctl, session, 2).await;
        (out, nonce, None)
    };
    let ours: Vec<u64> = nonce.into_iter().chain(second.as_ref().and_then(|s| s.1)).collect();
    ours.iter().for_each(|&n| end_hold(p, n));
    // With two writers the file changes by the attempt's own hand: only
    // the log of changes (less the attempt's) may excuse a refusal.
    let before = if second.is_some() { None } else { Some(before) };
    judge(p, session, since, before.clone(), &out, nonce, &ours);
    if let Some((other, other_nonce)) = &second {
        judge(p, session, since, before, other, *other_nonce, &ours);
    }
    let outs: Vec<&Result<(), LockError>> = std::iter::once(&out).chain(second.as_ref().map(|s| &s.0)).collect();
    for o in &outs {
        p.world.check("L10", !matches!(o, Err(LockError::Released(_))), || {
            format!("a write through an attempt on {} reported a hold it never released: {o:?}", SESSIONS[session])
        });
    }
    // Takeover is what the attempt says it is: sticky once a write was
    // refused for it, absent after writes that landed.
    let refused = outs.iter().any(|o| matches!(o, Err(LockError::Takeover { .. })));
    let landed = outs.iter().all(|o| o.is_ok());
    if refused || landed {
        p.world.check("L10", ctl.is_taken_over() == refused, || {
            format!("after writes on {} that returned {outs:?}, is_taken_over() is {}", SESSIONS[session], !refused)
        });
    }
    // A second wait after a write that landed: the fence now rests on the
    // fingerprint that write's refresh took (or failed to take: then no
    // write after the wait may land). Judged from the instant that write
    // landed, when the lock was still held.
    if let (Ok(()), Some(_)) = (&out, nonce) {
        // From the last of the attempt's writes (two, with two writers).
        let last = lock_book(&p.book)
            .changes
            .get(&session)
            .and_then(|c| c.iter().filter(|(_, m)| ours.contains(m)).map(|&(at, _)| at).max());
        if let Some(since) = last {
            p.env.clock.sleep(wait).await;
            // The other writer's refusal may have taken the attempt over
            // already (its hold's release then cut a torn tail: a change of
            // the attempt's own, after the change that refused it): a
            // refusal is then takeover's stickiness, not a fence's verdict.
            // (The scenario's own observation, not the controller's say.)
            let sticky = refused;
            let (again, again_nonce) = write_line(p, &ctl, session, 4).await;
            again_nonce.into_iter().for_each(|n| end_hold(p, n));
            if sticky {
                p.world.check("L10", matches!(again, Err(LockError::Takeover { .. })), || {
                    format!("a write on {} after the attempt was taken over returned {again:?}", SESSIONS[session])
                });
            } else {
                judge(p, session, since, None, &again, again_nonce, &[]);
            }
        }
    }
    let logged = || {
        let prefix = "attempt cleaned up";
        p.world.diagnostics().iter().filter(|d| d.node == p.name && d.message.starts_with(prefix)).count()
    };
    let logs_before = logged();
    ctl.cleanup().await;
    let first_logs = logged() - logs_before;
    // Cleanup is idempotent and logs once, the first time: a second one
    // releases nothing and says nothing.
    let again = ctl.cleanup().await;
    let second_logs = logged() - logs_before - first_logs;
    p.world.check("L10", again == 0 && first_logs == 1 && second_logs == 0, || {
        format!(
            "cleanup of an attempt on {} twice: {again} released the second time; {first_logs} then {second_logs} logs",
            SESSIONS[session]
        )
    });
    p.world.check("L10", ctl.is_taken_over(), || {
        format!("a cleaned-up attempt on {} does not say it was taken over", SESSIONS[session])
    });
    // The late write through `append`, the controller's own line writer:
    // refused, and its line (the only one with nonce 0) never lands.
    let late_line = line(0, 3);
    let late = calling(p, session, ctl.append(&late_line)).await;
    let landed = p
        .world
        .peek_file(Path::new(SESSIONS[session]))
        .is_ok_and(|b| b.windows(late_line.len()).any(|w| w == late_line.as_slice()));
    p.world.check("L10", late.is_err() && !landed, || {
        format!("a write through a cleaned-up attempt on {} returned {late:?} (landed: {landed})", SESSIONS[session])
    });
}

/// Upstream before the fence: after the wait, reacquire and write.
async fn unfenced(p: &Proc, session: usize, wait: Duration) {
    let path = Path::new(SESSIONS[session]);
    let Ok(g) = p.manager.acquire(path).await else { return };
    register(p, session, g.owner());
    let first = calling(p, session, g.append(&line(g.owner().nonce, 1))).await;
    let since = p.world.now();
    let before = p.world.peek_file(path).ok();
    ending(p, g.owner().nonce);
    let _ = g.release().await;
    end_hold(p, g.owner().nonce);
    if first.is_err() {
        return;
    }
    p.env.clock.sleep(wait).await;
    let Ok(g) = p.manager.acquire(path).await else { return };
    register(p, session, g.owner());
    let out = calling(p, session, g.append(&line(g.owner().nonce, 2))).await;
    let nonce = g.owner().nonce;
    ending(p, nonce);
    let _ = g.release().await;
    end_hold(p, nonce);
    judge(p, session, since, Some(before), &out, Some(nonce), &[]);
}

fn ending(p: &Proc, nonce: u64) {
    if let Some(h) = lock_book(&p.book).holds.get_mut(&nonce) {
        h.ending = true;
    }
}

fn end_hold(p: &Proc, nonce: u64) {
    if let Some(h) = lock_book(&p.book).holds.get_mut(&nonce) {
        h.ending = true;
        h.ended = true;
    }
}

/// L10 for one write after a wait that started at `since`; `before` is
/// the session file then, if it was read (`Some(None)`: there was none),
/// else only the log of changes judges a refusal. Changes by the holds in
/// `ours` (the attempt's other writes after the same wait) are its own,
/// no change by someone else.
fn judge(
    p: &Proc,
    session: usize,
    since: Duration,
    before: Option<Option<Vec<u8>>>,
    out: &Result<(), LockError>,
    nonce: Option<u64>,
    ours: &[u64],
) {
    let changes = lock_book(&p.book).changes.get(&session).cloned().unwrap_or_default();
    let after: Vec<(Duration, u64)> =
        changes.into_iter().filter(|(at, m)| *at > since && (Some(*m) == nonce || !ours.contains(m))).collect();
    match (out, nonce) {
        (Ok(()), Some(n)) => {
            p.world.reach(PASSED);
            let landed = after.iter().find(|(_, m)| *m == n).map(|(at, _)| *at);
            let others: Vec<u64> =
                after.iter().filter(|(at, m)| *m != n && landed.is_none_or(|t| *at < t)).map(|(_, m)| *m).collect();
            p.world.check("L10", others.is_empty(), || {
                format!(
                    "a write by hold {n:016x} on {} landed after a wait in which the session changed (by {others:x?})",
                    SESSIONS[session]
                )
            });
        }
        (Err(LockError::Takeover { reason, .. }), _) if reason.contains("changed") => {
            p.world.reach(FENCED);
            let now = p.world.peek_file(Path::new(SESSIONS[session])).ok();
            let file_changed = before.is_some_and(|b| b != now);
            p.world.check("L10", !after.is_empty() || file_changed, || {
                format!("a write on {} was refused as changed, but nothing changed during the wait", SESSIONS[session])
            });
        }
        _ => {}
    }
}
