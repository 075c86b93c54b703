//! Validation: every schedule, generated or loaded, is checked against the
//! [`limits`] before it runs, with a message naming the field.

use std::path::Path;

use super::{Event, OP_NAMES, ParamSpec, Schedule, ScheduleError, VERSION, limits};

impl Schedule {
    /// Reject impossible values, and values past the [`limits`], with a
    /// message naming the field.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        use limits::*;
        let bad = |m: String| Err(ScheduleError::Invalid(m));
        if self.version != VERSION {
            return bad(format!("version {} is not supported (this build reads {VERSION})", self.version));
        }
        if self.duration_ms == 0 {
            return bad("duration_ms must be positive".into());
        }
        if self.duration_ms.checked_add(self.quiet_ms).is_none_or(|t| t > RUN_MS_MAX) {
            let (d, q) = (self.duration_ms, self.quiet_ms);
            return bad(format!("duration_ms {d} + quiet_ms {q} is over the maximum {RUN_MS_MAX} ms"));
        }
        match self.metadata_commit_ms {
            Some(0) => return bad("metadata_commit_ms must be positive".into()),
            Some(ms) if ms > DELAY_MS_MAX => {
                return bad(format!("metadata_commit_ms {ms} is over the maximum {DELAY_MS_MAX}"));
            }
            _ => {}
        }
        if self.capacity_bytes.is_some_and(|b| b > CAPACITY_BYTES_MAX) {
            let b = self.capacity_bytes.unwrap_or(0);
            return bad(format!("capacity_bytes {b} is over the maximum {CAPACITY_BYTES_MAX}"));
        }
        self.validate_counts()?;
        self.validate_mounts()?;
        self.validate_rules()?;
        self.validate_events()
    }

    fn validate_counts(&self) -> Result<(), ScheduleError> {
        use limits::*;
        let counts = [
            ("mounts", self.mounts.len(), RULES_MAX),
            ("errors", self.errors.len(), RULES_MAX),
            ("hangs", self.hangs.len(), RULES_MAX),
            ("crashes", self.crashes.len(), RULES_MAX),
            ("pauses", self.pauses.len(), RULES_MAX),
            ("spikes", self.spikes.len(), RULES_MAX),
            ("silent", self.silent.len(), RULES_MAX),
            ("events", self.events.len(), EVENTS_MAX),
            ("params", self.params.len(), PARAMS_MAX),
        ];
        match counts.into_iter().find(|(_, n, max)| n > max) {
            Some((field, n, max)) => {
                Err(ScheduleError::Invalid(format!("{field} has {n} entries, over the maximum {max}")))
            }
            None => Ok(()),
        }
    }

    fn validate_mounts(&self) -> Result<(), ScheduleError> {
        use limits::*;
        let bad = |m: String| Err(ScheduleError::Invalid(m));
        for (i, m) in self.mounts.iter().enumerate() {
            if !m.prefix.has_root() {
                return bad(format!("mounts[{i}].prefix {} is not absolute", m.prefix.display()));
            }
            check_path(&m.prefix, &format!("mounts[{i}].prefix"))?;
            if m.latency.len() > RULES_MAX {
                return bad(format!("mounts[{i}].latency has {} rules, over the maximum {RULES_MAX}", m.latency.len()));
            }
            for (j, l) in m.latency.iter().enumerate() {
                check_window(l.ms_min, l.ms_max, &format!("mounts[{i}].latency[{j}]"))?;
                check_ops(&l.ops, &format!("mounts[{i}].latency[{j}]"))?;
            }
        }
        Ok(())
    }

    fn validate_rules(&self) -> Result<(), ScheduleError> {
        for (i, r) in self.errors.iter().enumerate() {
            let at = format!("errors[{i}]");
            check_ops(&r.ops, &at)?;
            check_trigger(r.nth, r.probability, &at)?;
            check_prefix(r.path_prefix.as_deref(), &at)?;
        }
        for (i, h) in self.hangs.iter().enumerate() {
            let at = format!("hangs[{i}]");
            check_trigger(h.nth, h.probability, &at)?;
            if h.point.len() > limits::NAME_MAX {
                let n = h.point.len();
                return Err(ScheduleError::Invalid(format!(
                    "{at}.point is {n} bytes, over the maximum {}",
                    limits::NAME_MAX
                )));
            }
        }
        for (i, c) in self.crashes.iter().enumerate() {
            let at = format!("crashes[{i}]");
            check_ops(&c.ops, &at)?;
            check_trigger(Some(c.nth), None, &at)?;
            check_prefix(c.path_prefix.as_deref(), &at)?;
            check_delay(c.restart_after_ms, &format!("{at}.restart_after_ms"))?;
        }
        for (i, r) in self.pauses.iter().enumerate() {
            let at = format!("pauses[{i}]");
            check_ops(&r.ops, &at)?;
            check_trigger(r.nth, r.probability, &at)?;
            check_prefix(r.path_prefix.as_deref(), &at)?;
            if r.ms > limits::RUN_MS_MAX {
                let max = limits::RUN_MS_MAX;
                return Err(ScheduleError::Invalid(format!("{at}.ms {} is over the maximum {max}", r.ms)));
            }
        }
        for (i, r) in self.spikes.iter().enumerate() {
            let at = format!("spikes[{i}]");
            check_ops(&r.ops, &at)?;
            check_trigger(r.nth, r.probability, &at)?;
            check_prefix(r.path_prefix.as_deref(), &at)?;
            check_window(r.ms_min, r.ms_max, &at)?;
        }
        for (i, r) in self.silent.iter().enumerate() {
            let at = format!("silent[{i}]");
            check_trigger(r.nth, r.probability, &at)?;
            check_prefix(r.path_prefix.as_deref(), &at)?;
        }
        Ok(())
    }

    fn validate_events(&self) -> Result<(), ScheduleError> {
        use limits::*;
        let bad = |m: String| Err(ScheduleError::Invalid(m));
        for (i, e) in self.events.iter().enumerate() {
            if e.at_ms > self.duration_ms {
                return bad(format!("events[{i}].at_ms {} is after duration_ms {}", e.at_ms, self.duration_ms));
            }
            if let Event::Terminate { during: Some(d), .. } = &e.what {
                let at = format!("events[{i}].during");
                check_ops(&d.ops, &at)?;
                check_prefix(d.path_prefix.as_deref(), &at)?;
            }
            match &e.what {
                Event::PowerLoss { restart_after_ms, .. } => {
                    check_delay(*restart_after_ms, &format!("events[{i}].restart_after_ms"))?
                }
                Event::ClockJump { by_ms } | Event::HostClockJump { by_ms, .. }
                    if by_ms.unsigned_abs() > CLOCK_JUMP_MS_MAX =>
                {
                    return bad(format!(
                        "events[{i}].by_ms {by_ms} is over the maximum {CLOCK_JUMP_MS_MAX} either way"
                    ));
                }
                Event::Pause { ms, .. } if *ms > RUN_MS_MAX => {
                    return bad(format!("events[{i}].ms {ms} is over the maximum {RUN_MS_MAX}"));
                }
                _ => {}
            }
            if let Some(node) = e.what.node()
                && node.len() > NAME_MAX
            {
                return bad(format!("events[{i}].node is {} bytes, over the maximum {NAME_MAX}", node.len()));
            }
        }
        Ok(())
    }

    /// Check `params` against a scenario's declared knobs: with none
    /// declared, every value is at most [`limits::PARAM_DEFAULT_MAX`];
    /// otherwise every key must be declared and within its maximum.
    pub fn validate_params(&self, specs: &[ParamSpec]) -> Result<(), ScheduleError> {
        for (name, &value) in &self.params {
            let max = if specs.is_empty() {
                limits::PARAM_DEFAULT_MAX
            } else {
                match specs.iter().find(|p| p.name == name) {
                    Some(p) => p.max,
                    None => {
                        let known: Vec<&str> = specs.iter().map(|p| p.name).collect();
                        return Err(ScheduleError::Invalid(format!(
                            "params.{name} is not a parameter of this scenario (known: {})",
                            known.join(", ")
                        )));
                    }
                }
            };
            if value > max {
                return Err(ScheduleError::Invalid(format!("params.{name} {value} is over its maximum {max}")));
            }
        }
        Ok(())
    }
}

fn check_ops(ops: &[String], at: &str) -> Result<(), ScheduleError> {
    if ops.len() > limits::NAME_MAX {
        return Err(ScheduleError::Invalid(format!("{at}.ops has {} entries", ops.len())));
    }
    match ops.iter().find(|o| !OP_NAMES.contains(&o.as_str())) {
        Some(o) => {
            Err(ScheduleError::Invalid(format!("{at}: unknown operation {o:?} (known: {})", OP_NAMES.join(", "))))
        }
        None => Ok(()),
    }
}

fn check_delay(ms: Option<u64>, at: &str) -> Result<(), ScheduleError> {
    match ms {
        Some(ms) if ms > limits::DELAY_MS_MAX => {
            Err(ScheduleError::Invalid(format!("{at} {ms} is over the maximum {}", limits::DELAY_MS_MAX)))
        }
        _ => Ok(()),
    }
}

fn check_path(p: &Path, at: &str) -> Result<(), ScheduleError> {
    let n = p.as_os_str().len();
    if n > limits::NAME_MAX {
        return Err(ScheduleError::Invalid(format!("{at} is {n} bytes, over the maximum {}", limits::NAME_MAX)));
    }
    Ok(())
}

/// A latency window (a mount's, a spike's): `ms_min <= ms_max <=`
/// [`limits::DELAY_MS_MAX`].
fn check_window(ms_min: u64, ms_max: u64, at: &str) -> Result<(), ScheduleError> {
    if ms_min > ms_max {
        return Err(ScheduleError::Invalid(format!("{at}: ms_min {ms_min} > ms_max {ms_max}")));
    }
    if ms_max > limits::DELAY_MS_MAX {
        let max = limits::DELAY_MS_MAX;
        return Err(ScheduleError::Invalid(format!("{at}.ms_max {ms_max} is over the maximum {max}")));
    }
    Ok(())
}

/// A rule's path prefix: absolute, as every path SimFs takes is (a
/// relative one could never match an operation that lands, so the rule
/// would silently never fire).
fn check_prefix(p: Option<&Path>, at: &str) -> Result<(), ScheduleError> {
    let Some(p) = p else { return Ok(()) };
    if !p.has_root() {
        return Err(ScheduleError::Invalid(format!(
            "{at}.path_prefix {} is not absolute: SimFs paths are, so the rule would never fire",
            p.display()
        )));
    }
    check_path(p, &format!("{at}.path_prefix"))
}

fn check_trigger(nth: Option<u64>, probability: Option<f64>, at: &str) -> Result<(), ScheduleError> {
    match (nth, probability) {
        (Some(n), _) if n > limits::NTH_MAX => {
            Err(ScheduleError::Invalid(format!("{at}.nth {n} is over the maximum {}", limits::NTH_MAX)))
        }
        (None, None) => Err(ScheduleError::Invalid(format!("{at}: needs nth or probability"))),
        (Some(0), _) => Err(ScheduleError::Invalid(format!("{at}.nth is 1-based; 0 never fires"))),
        (_, Some(p)) if !(0.0..=1.0).contains(&p) => {
            Err(ScheduleError::Invalid(format!("{at}.probability {p} is outside 0..=1")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_rejected(json: &str, needle: &str) {
        match Schedule::from_json(json) {
            Err(e) => assert!(e.to_string().contains(needle), "{e} should mention {needle:?}"),
            Ok(s) => panic!("accepted {s:?}"),
        }
    }

    #[test]
    fn round_trips_the_documented_example() {
        let json = r#"{
          "version": 1, "seed": 42, "duration_ms": 60000, "quiet_ms": 30000,
          "mounts": [{ "prefix": "/efs", "latency": [{ "ops": ["rename"], "ms_min": 50, "ms_max": 5000 }] }],
          "errors": [{ "ops": ["write"], "path_prefix": "/efs", "error": "enospc", "nth": 3 }],
          "hangs": [{ "point": "compaction", "nth": 1 }],
          "pauses": [{ "ops": ["read"], "path_prefix": "/data/s.lock", "nth": 2, "ms": 6000 }],
          "spikes": [{ "ops": ["sync_file"], "path_prefix": "/efs", "probability": 0.05, "ms_min": 6000, "ms_max": 15000 }],
          "events": [{ "at_ms": 1200, "kind": "power_loss", "torn": true, "restart_after_ms": 100 },
                     { "at_ms": 10, "kind": "restart", "node": "a", "reuse_pid": true }],
          "params": { "burst": 12 }
        }"#;
        let s = Schedule::from_json(json).expect("valid");
        assert_eq!(s.param("burst", 0), 12);
        assert_eq!(s.pauses[0].ms, 6000);
        assert_eq!(s.spikes[0].ms_max, 15000);
        assert_eq!(Schedule::from_json(&s.to_json()).expect("round trip"), s);
    }

    #[test]
    fn rejects_impossible_values_naming_the_field() {
        let base = |extra: &str| format!(r#"{{"version":1,"seed":1,"duration_ms":100{extra}}}"#);
        check_rejected("{", "not valid JSON");
        check_rejected(r#"{"version":2,"seed":1,"duration_ms":1}"#, "version 2");
        check_rejected(r#"{"version":1,"seed":1,"duration_ms":0}"#, "duration_ms");
        check_rejected(&base(r#","mounts":[{"prefix":"efs","latency":[]}]"#), "mounts[0].prefix");
        check_rejected(
            &base(r#","mounts":[{"prefix":"/e","latency":[{"ms_min":5,"ms_max":1}]}]"#),
            "ms_min 5 > ms_max 1",
        );
        check_rejected(&base(r#","errors":[{"ops":["renam"],"error":"eio","nth":1}]"#), "unknown operation \"renam\"");
        check_rejected(&base(r#","errors":[{"error":"eio"}]"#), "errors[0]: needs nth or probability");
        check_rejected(&base(r#","errors":[{"error":"eio","nth":0}]"#), "errors[0].nth");
        check_rejected(&base(r#","hangs":[{"point":"x","probability":1.5}]"#), "hangs[0].probability");
        check_rejected(&base(r#","events":[{"at_ms":101,"kind":"clock_jump","by_ms":5}]"#), "events[0].at_ms 101");
        check_rejected(&base(r#","surprise":1"#), "unknown field");
        check_rejected(&base(r#","errors":[{"error":"eperm","nth":1}]"#), "unknown variant");
        check_rejected(&base(r#","silent":[{"fault":"lost_write"}]"#), "silent[0]: needs nth or probability");
        check_rejected(&base(r#","silent":[{"fault":"torn_read","nth":1}]"#), "unknown variant");
        check_rejected(&base(r#","capacity_bytes":18446744073709551615"#), "capacity_bytes");
        check_rejected(&base(r#","pauses":[{"ms":5}]"#), "pauses[0]: needs nth or probability");
        check_rejected(&base(r#","pauses":[{"ops":["reed"],"nth":1,"ms":5}]"#), "unknown operation \"reed\"");
        check_rejected(&base(r#","pauses":[{"nth":1}]"#), "missing field `ms`");
        check_rejected(&base(r#","pauses":[{"nth":1,"ms":999999999999}]"#), "pauses[0].ms");
        check_rejected(&base(r#","spikes":[{"ms_min":1,"ms_max":2}]"#), "spikes[0]: needs nth or probability");
        check_rejected(&base(r#","spikes":[{"nth":1,"ms_min":9,"ms_max":2}]"#), "spikes[0]: ms_min 9 > ms_max 2");
        check_rejected(&base(r#","spikes":[{"nth":1,"ms_min":0,"ms_max":99999999999}]"#), "spikes[0].ms_max");
        check_rejected(&base(r#","spikes":[{"ops":["fsync"],"nth":1,"ms_min":0,"ms_max":1}]"#), "unknown operation");
        check_rejected(
            &base(r#","spikes":[{"path_prefix":"efs","nth":1,"ms_min":0,"ms_max":1}]"#),
            "spikes[0].path_prefix",
        );
        // A relative prefix would never match a path SimFs takes.
        check_rejected(
            &base(r#","errors":[{"path_prefix":"efs","error":"eio","nth":1}]"#),
            "errors[0].path_prefix efs",
        );
        check_rejected(&base(r#","crashes":[{"ops":["rename"],"path_prefix":"data/x","nth":1}]"#), "not absolute");
        check_rejected(&base(r#","pauses":[{"path_prefix":"lock","nth":1,"ms":5}]"#), "pauses[0].path_prefix");
        check_rejected(
            &base(r#","silent":[{"fault":"lost_write","path_prefix":"d","nth":1}]"#),
            "silent[0].path_prefix",
        );
    }

    /// Issue 16: values that hung, overflowed or aborted the tool.
    #[test]
    fn rejects_values_past_the_bounds() {
        let base = |extra: &str| format!(r#"{{"version":1,"seed":1,"duration_ms":100{extra}}}"#);
        check_rejected(r#"{"version":1,"seed":1,"duration_ms":18446744073709551615}"#, "over the maximum");
        check_rejected(&base(r#","quiet_ms":18446744073709551615"#), "quiet_ms");
        check_rejected(&base(r#","metadata_commit_ms":999999999999"#), "metadata_commit_ms");
        check_rejected(
            &base(r#","mounts":[{"prefix":"/e","latency":[{"ms_min":0,"ms_max":99999999999}]}]"#),
            "mounts[0].latency[0].ms_max",
        );
        check_rejected(&base(r#","errors":[{"error":"eio","nth":99999999999}]"#), "errors[0].nth");
        check_rejected(&base(r#","events":[{"at_ms":1,"kind":"clock_jump","by_ms":-9223372036854775808}]"#), "by_ms");
        check_rejected(
            &base(r#","events":[{"at_ms":1,"kind":"pause","node":"a","ms":18446744073709551615}]"#),
            "events[0].ms",
        );
        check_rejected(
            &base(&format!(r#","events":[{{"at_ms":1,"kind":"pause","node":"{}","ms":1}}]"#, "n".repeat(5_000))),
            "events[0].node",
        );
        check_rejected(
            &base(r#","events":[{"at_ms":1,"kind":"power_loss","restart_after_ms":18446744073709551615}]"#),
            "events[0].restart_after_ms",
        );
        let many = vec![r#"{"at_ms":1,"kind":"clock_jump","by_ms":1}"#; limits::EVENTS_MAX + 1].join(",");
        check_rejected(&base(&format!(r#","events":[{many}]"#)), "events has 10001 entries");
        let s = Schedule::from_json(&base(r#","params":{"sessions":1000000000000}"#)).expect("shape is fine");
        let e = s.validate_params(&[]).expect_err("over the default maximum");
        assert!(e.to_string().contains("params.sessions"), "{e}");
        let specs = [ParamSpec { name: "sessions", max: 4, doc: "sessions" }];
        let e = s.validate_params(&specs).expect_err("over its maximum");
        assert!(e.to_string().contains("over its maximum 4"), "{e}");
        let typo = Schedule::from_json(&base(r#","params":{"sesions":1}"#)).expect("shape is fine");
        assert!(typo.validate_params(&specs).expect_err("unknown").to_string().contains("known: sessions"));
        let ok = Schedule::from_json(&base(r#","params":{"sessions":4}"#)).expect("fine");
        ok.validate_params(&specs).expect("within");
    }
}
