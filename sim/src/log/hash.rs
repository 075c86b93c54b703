//! The history hash.

use super::event::Record;

/// The hash of an empty history.
pub(crate) const SEED: u64 = 0x6A09_E667_F3BC_C909;

/// `h` extended by `record`.
pub(crate) fn chain(h: u64, record: &Record) -> u64 {
    steadfast_core::mix64(h ^ crate::disk::hash_bytes(record.line().as_bytes()))
}
