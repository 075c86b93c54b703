//! The log: every [`SimEvent`] the world records, in the order effects
//! happen, with a hash over the typed values ([`History`]), and two
//! renderers of the same records: the text timeline ([`Record::line`]) and
//! the Chrome trace ([`chrome_trace`]).

mod chrome;
mod diag;
mod event;
mod hash;
mod history;
mod text;

pub use chrome::chrome_trace;
pub(crate) use diag::Capture;
pub use diag::{DIAGNOSTICS_KEPT_MAX, Diagnostic};
pub use event::{Ending, HarnessAct, KillCause, Record, SimEvent, Struck, Unhashed};
pub use history::{History, REPORT_WINDOW, report_window, try_report_window};
pub use text::what;
