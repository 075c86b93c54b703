//! What the code under test said through `tracing` during a run: every
//! event at `INFO` or above, with the virtual instant and the node that
//! said it, kept for checkers ([`crate::World::diagnostics`]). A warning
//! is behaviour too: "a forced release is diagnosed once, naming the
//! hold" is judged on the words an operator reads, not only on the typed
//! value a hook receives.
//!
//! The capture is the thread's default subscriber for the length of a run
//! (the runner installs it); whatever subscriber was the default before
//! still receives every event, so a test's own log output is unchanged.
//! The captured list is not part of the history, and not hashed.

use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record as SpanRecord};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Level, Metadata, Subscriber};

/// One captured `tracing` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Virtual nanoseconds since the run began.
    pub at_ns: u64,
    /// The node that emitted it (`driver` for the scenario's own driver).
    pub node: String,
    /// `ERROR`, `WARN` or `INFO`.
    pub level: &'static str,
    /// The event's target (its module path, unless set).
    pub target: String,
    /// The message.
    pub message: String,
    /// Every other field, `name=value`, in the order given.
    pub fields: Vec<(String, String)>,
}

impl Diagnostic {
    /// The value of field `name`, as it was rendered.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.level, self.target, self.message)?;
        for (n, v) in &self.fields {
            write!(f, " {n}={v}")?;
        }
        Ok(())
    }
}

/// Where a run's diagnostics go, and how to stamp them.
pub(crate) type Stamp = Arc<dyn Fn() -> (u64, String) + Send + Sync>;

/// The subscriber a run installs.
pub(crate) struct Capture {
    pub(crate) sink: Arc<Mutex<Vec<Diagnostic>>>,
    pub(crate) stamp: Stamp,
    /// The thread's default before the run: it still gets every event.
    pub(crate) before: Dispatch,
}

/// Kept at most per run: a workload that logs in a loop must not exhaust
/// memory.
pub const DIAGNOSTICS_KEPT_MAX: usize = 10_000;

#[derive(Default)]
struct Fields {
    message: String,
    fields: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.fields.push((field.name().to_string(), format!("{value:?}")));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.fields.push((field.name().to_string(), value.to_string()));
        }
    }
}

impl Subscriber for Capture {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // Asked per event: other threads run other subscribers.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        // Spans are not captured: only the previous default sees them.
        self.before.enabled(metadata) || (metadata.is_event() && self.captures(metadata))
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        self.before.new_span(span)
    }

    fn record(&self, span: &Id, values: &SpanRecord<'_>) {
        self.before.record(span, values);
    }

    fn record_follows_from(&self, span: &Id, follows: &Id) {
        self.before.record_follows_from(span, follows);
    }

    fn event(&self, event: &Event<'_>) {
        if self.before.enabled(event.metadata()) {
            self.before.event(event);
        }
        if !self.captures(event.metadata()) {
            return;
        }
        let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        if sink.len() >= DIAGNOSTICS_KEPT_MAX {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let (at_ns, node) = (self.stamp)();
        sink.push(Diagnostic {
            at_ns,
            node,
            level: event.metadata().level().as_str(),
            target: event.metadata().target().to_string(),
            message: fields.message,
            fields: fields.fields,
        });
    }

    fn enter(&self, span: &Id) {
        self.before.enter(span);
    }

    fn exit(&self, span: &Id) {
        self.before.exit(span);
    }
}

impl Capture {
    /// `INFO` and above, from anything but the runtime itself.
    fn captures(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= Level::INFO && !metadata.target().starts_with("madsim")
    }
}
