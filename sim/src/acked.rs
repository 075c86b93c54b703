//! [`Acked`]: the most common durability invariant, ready-made. Record
//! every write a workload attempts and every one the code under test
//! acknowledged; after a crash and a reopen, every key must read its last
//! acknowledged value or a newer attempted one, never an older value, a
//! value nobody wrote, or nothing.
//!
//! "Nothing" is a missing key: leave a key out of what you read back when
//! the code under test has no value for it. A default (a counter's 0) for
//! a key never written is a value nobody wrote, and is judged as one.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::World;

/// The writes of one key: every value attempted, in order, and how many of
/// them had been acknowledged.
#[derive(Debug)]
struct Writes<V> {
    attempted: Vec<V>,
    /// Index into `attempted` of the last acknowledged value.
    acked: Option<usize>,
}

/// The acknowledged set of a workload, shared between the nodes that write
/// and the check that reads back. Cheap to clone.
///
/// ```
/// let acked = steadfast_sim::Acked::<String, u64>::new();
/// acked.attempt("a".into(), 1);
/// acked.ack(&"a".into(), &1);
/// acked.attempt("a".into(), 2); // in flight when the power went
/// assert!(acked.judge(&"a".into(), Some(&1)).is_ok());
/// assert!(acked.judge(&"a".into(), Some(&2)).is_ok(), "a newer attempted value may survive");
/// assert!(acked.judge(&"a".into(), None).is_err(), "an acknowledged write was lost");
/// assert!(acked.judge(&"a".into(), Some(&3)).is_err(), "nobody wrote 3");
/// ```
pub struct Acked<K, V>(Arc<Mutex<BTreeMap<K, Writes<V>>>>);

impl<K, V> std::fmt::Debug for Acked<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.0.lock().map_or(0, |m| m.len());
        f.debug_struct("Acked").field("keys", &keys).finish_non_exhaustive()
    }
}

impl<K, V> Clone for Acked<K, V> {
    fn clone(&self) -> Self {
        Acked(self.0.clone())
    }
}

impl<K: Ord + Clone + Debug, V: PartialEq + Debug> Default for Acked<K, V> {
    fn default() -> Self {
        Acked::new()
    }
}

impl<K: Ord + Clone + Debug, V: PartialEq + Debug> Acked<K, V> {
    /// An empty set.
    pub fn new() -> Acked<K, V> {
        Acked(Arc::default())
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<K, Writes<V>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The workload is about to write `value` to `key`.
    pub fn attempt(&self, key: K, value: V) {
        self.lock().entry(key).or_insert(Writes { attempted: Vec::new(), acked: None }).attempted.push(value);
    }

    /// The code under test acknowledged writing `value` to `key` (the last
    /// attempt of that value). Panics if it was never attempted: a bug in
    /// the workload, not in the code under test.
    pub fn ack(&self, key: &K, value: &V) {
        let mut map = self.lock();
        let w = map.get_mut(key).unwrap_or_else(|| panic!("ack of {key:?} that was never attempted"));
        let i = w.attempted.iter().rposition(|v| v == value);
        let i = i.unwrap_or_else(|| panic!("ack of {key:?} = {value:?} that was never attempted"));
        // An older acknowledgement arriving late never moves the floor back.
        w.acked = Some(w.acked.map_or(i, |a| a.max(i)));
    }

    /// Every key written so far.
    pub fn keys(&self) -> Vec<K> {
        self.lock().keys().cloned().collect()
    }

    /// Is `got` (what `key` reads back, `None` for nothing) allowed: its
    /// last acknowledged value or a later attempt; anything attempted (or
    /// nothing) when no write was acknowledged. The reason if not.
    pub fn judge(&self, key: &K, got: Option<&V>) -> Result<(), String> {
        let map = self.lock();
        let Some(w) = map.get(key) else {
            return match got {
                None => Ok(()),
                Some(v) => Err(format!("{key:?} reads {v:?}, but nothing was ever written to it")),
            };
        };
        let floor = w.acked.unwrap_or(0);
        match (got, w.acked) {
            (None, None) => Ok(()),
            (None, Some(a)) => Err(format!("{key:?} reads nothing, but {:?} was acknowledged", w.attempted[a])),
            (Some(v), _) => match w.attempted.iter().rposition(|a| a == v) {
                Some(i) if i >= floor || w.acked.is_none() => Ok(()),
                Some(_) => Err(format!("{key:?} reads {v:?}, older than its acknowledged {:?}", w.attempted[floor])),
                None => Err(format!("{key:?} reads {v:?}, a value never written to it")),
            },
        }
    }

    /// Check `invariant` for every key against `actual`, what the code
    /// under test reads back now (read it first, however that is done):
    /// one check per key written or read, a violation per key that broke it.
    pub fn check_all(&self, world: &World, invariant: &str, actual: &BTreeMap<K, V>) {
        let mut keys = self.keys();
        keys.extend(actual.keys().filter(|k| !self.lock().contains_key(*k)).cloned());
        for key in keys {
            let verdict = self.judge(&key, actual.get(&key));
            world.check(invariant, verdict.is_ok(), || verdict.err().unwrap_or_default());
        }
    }
}
