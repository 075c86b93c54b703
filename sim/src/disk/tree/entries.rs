//! A directory's entries: in name order (the order a listing returns them
//! in, and every walk over a directory), and, once a directory is large,
//! hashed by name as well. A lookup in a directory of 55,000 names is then
//! one hash of the name and one comparison, where a B-tree compares it
//! with some thirty names byte by byte (and memcmp was a tenth of a large
//! `retention` seed).
//!
//! Names are shared ([`Name`] is an `Arc`): the index, a listing's copy and
//! the durable entries a sync makes hold the same allocation, so a sync of
//! a large directory copies pointers, not names, and comparing live with
//! durable entries finds shared names equal without reading them.
//!
//! The index only answers lookups; nothing iterates it, so its order (a
//! fixed hasher's, the same on every run anyway) never reaches a history.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use super::Ino;

/// An entry's name, shared between a directory's maps.
pub(super) type Name = Arc<OsStr>;

/// Entries a directory holds before it is indexed: below this a B-tree
/// lookup is a few comparisons in one or two nodes.
const INDEX_AT: usize = 64;

#[allow(clippy::disallowed_types, reason = "looked up by name only, never iterated: its order reaches nothing")]
type Index = std::collections::HashMap<Name, Ino, BuildHasherDefault<NameHasher>>;

/// A directory's live entries.
#[derive(Clone, Debug, Default)]
pub(super) struct Entries {
    sorted: BTreeMap<Name, Ino>,
    /// The same entries by name, once there are [`INDEX_AT`] of them
    /// (kept until the directory is empty again).
    index: Option<Box<Index>>,
}

impl Entries {
    pub(super) fn get(&self, name: &OsStr) -> Option<Ino> {
        match &self.index {
            Some(index) => index.get(name).copied(),
            None => self.sorted.get(name).copied(),
        }
    }

    /// Link `name` to `ino`; the inode it named before, if any.
    pub(super) fn insert(&mut self, name: Name, ino: Ino) -> Option<Ino> {
        if let Some(index) = &mut self.index {
            index.insert(name.clone(), ino);
        }
        let old = self.sorted.insert(name.clone(), ino);
        if self.index.is_none() {
            self.index = index_of(&self.sorted);
        }
        self.check(&name, Some(ino));
        old
    }

    /// Unlink `name`; the inode it named, if any.
    pub(super) fn remove(&mut self, name: &OsStr) -> Option<Ino> {
        let old = self.sorted.remove(name);
        if let Some(index) = &mut self.index {
            index.remove(name);
        }
        if self.sorted.is_empty() {
            self.index = None;
        }
        self.check(name, None);
        old
    }

    /// Entries in name order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&Name, &Ino)> {
        self.sorted.iter()
    }

    pub(super) fn values(&self) -> impl Iterator<Item = Ino> + '_ {
        self.sorted.values().copied()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The entries as a map (what a sync copies to the durable entries).
    pub(super) fn sorted(&self) -> &BTreeMap<Name, Ino> {
        &self.sorted
    }

    /// Entries that are `durable`'s (a power loss's revert).
    pub(super) fn from_sorted(sorted: BTreeMap<Name, Ino>) -> Entries {
        Entries { index: index_of(&sorted), sorted }
    }

    pub(super) fn into_values(self) -> impl Iterator<Item = Ino> {
        self.sorted.into_values()
    }

    /// After a step on `name`: the index, where there is one, holds as
    /// many entries as the sorted map, and says what it says of `name`.
    fn check(&self, name: &OsStr, now: Option<Ino>) {
        debug_assert_eq!(self.sorted.get(name).copied(), now);
        if let Some(index) = &self.index {
            assert_eq!(index.len(), self.sorted.len(), "a directory's index lost track of its entries");
            debug_assert_eq!(index.get(name).copied(), now, "a directory's index disagrees with its entries");
        }
    }
}

/// An index of `sorted`, if it holds [`INDEX_AT`] entries or more.
fn index_of(sorted: &BTreeMap<Name, Ino>) -> Option<Box<Index>> {
    (sorted.len() >= INDEX_AT).then(|| Box::new(sorted.iter().map(|(n, &i)| (n.clone(), i)).collect()))
}

/// A name's hash: [`super::hash_bytes`] over its bytes (the length prefix
/// `Hash for OsStr` feeds first is in that hash already).
#[derive(Default)]
pub(super) struct NameHasher(u64);

impl Hasher for NameHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 ^= super::hash_bytes(bytes);
    }
    fn write_usize(&mut self, _len: usize) {}
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt as _;

    use super::*;

    fn name(s: &str) -> Name {
        Arc::from(OsStr::new(s))
    }

    /// Seeded inserts and removes (names that share long prefixes, as a
    /// telemetry directory's do, and bytes that are not UTF-8), against a
    /// plain map: every lookup, every order and every old value agree,
    /// through the index's coming and going.
    #[test]
    fn entries_agree_with_a_plain_map_through_the_index_coming_and_going() {
        let mut rng = crate::rng::SimRng::new(7, 0xD1);
        let mut e = Entries::default();
        let mut plain: BTreeMap<OsString, Ino> = BTreeMap::new();
        for step in 0..20_000_u64 {
            let n = rng.next_u64() % 300;
            let mut bytes = if n % 7 == 0 {
                format!("traces-h\u{f6}st-{n}").into_bytes()
            } else {
                format!("traces-{n}.jsonl").into_bytes()
            };
            if n % 11 == 0 {
                bytes.push(0xf6);
            }
            let os = OsString::from_vec(bytes);
            // Grow for the first half, shrink to empty in the second.
            let grow = step < 10_000 && rng.next_u64() % 3 != 0;
            if grow {
                let ino = (rng.next_u64() % 1_000) as Ino;
                assert_eq!(e.insert(Arc::from(os.as_os_str()), ino), plain.insert(os.clone(), ino));
            } else {
                assert_eq!(e.remove(&os), plain.remove(&os));
            }
            assert_eq!(e.get(&os), plain.get(&os).copied());
            assert_eq!(e.is_empty(), plain.is_empty());
            if step % 997 == 0 {
                let got: Vec<(OsString, Ino)> = e.iter().map(|(n, &i)| (n.to_os_string(), i)).collect();
                let want: Vec<(OsString, Ino)> = plain.iter().map(|(n, &i)| (n.clone(), i)).collect();
                assert_eq!(got, want, "order at step {step}");
            }
        }
        while let Some((n, _)) = plain.pop_first() {
            assert!(e.remove(&n).is_some());
        }
        assert!(e.is_empty() && e.index.is_none());
    }

    #[test]
    fn a_large_directory_is_indexed_and_a_revert_rebuilds_its_index() {
        let mut e = Entries::default();
        for i in 0..INDEX_AT {
            assert!(e.index.is_none() || i == INDEX_AT);
            e.insert(name(&format!("f{i}")), i);
        }
        assert!(e.index.is_some());
        let back = Entries::from_sorted(e.sorted().clone());
        assert_eq!(back.get(OsStr::new("f3")), Some(3));
        assert!(back.index.is_some());
        assert_eq!(back.get(OsStr::new("f99")), None);
    }
}
