//! The history hash, over typed values (TigerBeetle's `hash_log` hashes
//! values, not their printouts): a record's instant, node and
//! [`SimEvent`](super::SimEvent), fed through `Hash` into [`ValueHasher`].
//! Wording in a renderer never changes a hash, and the task label is left
//! out (it names, it does not happen).

use std::hash::{Hash, Hasher};

use super::event::Record;

/// The hash of an empty history.
pub(crate) const SEED: u64 = 0x6A09_E667_F3BC_C909;

/// `h` extended by `record`.
pub(crate) fn chain(h: u64, record: &Record) -> u64 {
    let mut v = ValueHasher(h);
    record.at_ns.hash(&mut v);
    record.node.hash(&mut v);
    record.event.hash(&mut v);
    steadfast_core::mix64(v.0)
}

/// A `Hasher` that mixes integers as numbers (never as native-endian
/// bytes) and bytes a word at a time, so a hash is the same on every
/// machine. Derived `Hash` impls feed it enum discriminants, lengths,
/// strings and paths.
struct ValueHasher(u64);

impl ValueHasher {
    fn mix(&mut self, v: u64) {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        self.0 = (self.0 ^ v).wrapping_mul(K).rotate_left(31);
    }
}

impl Hasher for ValueHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let h = crate::disk::hash_bytes(bytes);
        self.mix(h);
    }
    fn write_u8(&mut self, v: u8) {
        self.mix(u64::from(v));
    }
    fn write_u16(&mut self, v: u16) {
        self.mix(u64::from(v));
    }
    fn write_u32(&mut self, v: u32) {
        self.mix(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.mix(v);
    }
    fn write_u128(&mut self, v: u128) {
        self.mix(v as u64);
        self.mix((v >> 64) as u64);
    }
    fn write_usize(&mut self, v: usize) {
        self.mix(v as u64);
    }
    fn write_i64(&mut self, v: i64) {
        self.mix(v as u64);
    }
    fn write_i128(&mut self, v: i128) {
        self.write_u128(v as u128);
    }
    fn write_isize(&mut self, v: isize) {
        self.mix(v as u64);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::log::SimEvent;

    fn rec(at_ns: u64, node: &str, task: &str, event: SimEvent) -> Record {
        Record { at_ns, node: Arc::from(node), task: Arc::from(task), event }
    }

    #[test]
    fn the_hash_covers_instant_node_and_event_not_the_task_label() {
        let base = rec(5, "a", "main", SimEvent::ProcessStarts { pid: 101 });
        let h = chain(SEED, &base);
        assert_eq!(h, chain(SEED, &rec(5, "a", "heartbeat", SimEvent::ProcessStarts { pid: 101 })));
        for other in [
            rec(6, "a", "main", SimEvent::ProcessStarts { pid: 101 }),
            rec(5, "b", "main", SimEvent::ProcessStarts { pid: 101 }),
            rec(5, "a", "main", SimEvent::ProcessStarts { pid: 102 }),
            rec(5, "a", "main", SimEvent::Resume),
        ] {
            assert_ne!(h, chain(SEED, &other), "{other:?}");
        }
    }

    #[test]
    fn the_hash_is_a_fixed_function_of_the_values() {
        // Pinned: a change here re-hashes every snapshot, so it must be a
        // deliberate one (and the snapshots reviewed with it).
        let r = rec(1_000, "n", "main", SimEvent::Note { text: "x".into() });
        assert_eq!(format!("{:016x}", chain(SEED, &r)), PINNED);
    }

    const PINNED: &str = "722f94475a64ddb9";
}
