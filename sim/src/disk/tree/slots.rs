//! The inode table, forkable in O(1): a tree built from a [`TreeImage`]
//! shares the image's inodes with every other tree forked from it and
//! keeps only what it changed. A scenario whose every seed starts from
//! 20,000 files builds them once per process, not once per seed.
//!
//! An image is durable throughout (it is synced as it is frozen), so an
//! inode this tree never changed is durable too: a power loss or a
//! metadata commit need only look at the inodes it changed or added.
//! The image's instants are kept from its own epoch, and every read of an
//! unchanged inode's times, and every copy into this tree, moves them by
//! the distance from that epoch to the fork's wall clock: a fork reads as
//! if it had been built at the instant it was forked.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{Ino, Inode};

/// The instant an image is built at: its inodes' times count from here.
pub(super) const IMAGE_EPOCH: SystemTime = SystemTime::UNIX_EPOCH;

/// A frozen tree that trees fork from (see [`super::Tree::from_image`]).
#[derive(Debug)]
pub struct TreeImage {
    pub(super) inodes: Arc<Vec<Option<Inode>>>,
    pub(super) free: Vec<Ino>,
}

/// Inode slots: `0..base.len()` are the image's (or this tree's copy, once
/// changed), the rest this tree's own.
#[derive(Clone, Debug, Default)]
pub(super) struct Slots {
    base: Arc<Vec<Option<Inode>>>,
    /// Image inodes this tree changed (`None`: freed), with times moved.
    changed: BTreeMap<Ino, Option<Inode>>,
    own: Vec<Option<Inode>>,
    /// The fork's wall clock minus [`IMAGE_EPOCH`].
    shift: Duration,
}

impl Slots {
    /// A table of this tree's own inodes only.
    pub(super) fn new(own: Vec<Option<Inode>>) -> Slots {
        Slots { own, ..Slots::default() }
    }

    /// A fork of `image` whose times read as of `wall`.
    pub(super) fn fork(image: &TreeImage, wall: SystemTime) -> Slots {
        let shift = wall.duration_since(IMAGE_EPOCH).unwrap_or_default();
        Slots { base: image.inodes.clone(), changed: BTreeMap::new(), own: Vec::new(), shift }
    }

    /// The table as an image's inodes: only a table with no image under it.
    pub(super) fn into_own(self) -> Vec<Option<Inode>> {
        assert!(self.base.is_empty(), "an image is built from a tree of its own, not from a fork");
        self.own
    }

    /// Slots in all, used or free.
    pub(super) fn len(&self) -> usize {
        self.base.len() + self.own.len()
    }

    pub(super) fn get(&self, ino: Ino) -> Option<&Inode> {
        match ino.checked_sub(self.base.len()) {
            Some(i) => self.own[i].as_ref(),
            None => self.changed.get(&ino).map_or_else(|| self.base[ino].as_ref(), Option::as_ref),
        }
    }

    pub(super) fn get_mut(&mut self, ino: Ino) -> Option<&mut Inode> {
        match ino.checked_sub(self.base.len()) {
            Some(i) => self.own[i].as_mut(),
            None => {
                let (base, shift) = (&self.base, self.shift);
                self.changed.entry(ino).or_insert_with(|| moved(base[ino].clone(), shift)).as_mut()
            }
        }
    }

    /// Put `inode` in slot `ino` (a slot of the table); the old content.
    pub(super) fn set(&mut self, ino: Ino, inode: Option<Inode>) -> Option<Inode> {
        match ino.checked_sub(self.base.len()) {
            Some(i) => std::mem::replace(&mut self.own[i], inode),
            None => match self.changed.insert(ino, inode) {
                Some(old) => old,
                None => moved(self.base[ino].clone(), self.shift),
            },
        }
    }

    /// A new slot holding `inode`.
    pub(super) fn push(&mut self, inode: Inode) -> Ino {
        self.own.push(Some(inode));
        self.len() - 1
    }

    /// An inode's modification and change times.
    pub(super) fn times(&self, ino: Ino) -> Option<(SystemTime, SystemTime)> {
        let inode = self.get(ino)?;
        let unchanged = ino < self.base.len() && !self.changed.contains_key(&ino);
        let by = if unchanged { self.shift } else { Duration::ZERO };
        Some((inode.mtime + by, inode.ctime + by))
    }

    /// Every slot this tree changed or added, in slot order: every inode
    /// that can be other than durable.
    pub(super) fn touched(&self) -> Vec<Ino> {
        let own = (self.base.len()..self.len()).filter(|&i| self.get(i).is_some());
        self.changed.iter().filter(|(_, s)| s.is_some()).map(|(&i, _)| i).chain(own).collect()
    }

    /// [`Slots::touched`], mutably.
    pub(super) fn touched_mut(&mut self) -> impl Iterator<Item = &mut Inode> {
        self.changed.values_mut().flatten().chain(self.own.iter_mut().flatten())
    }
}

fn moved(inode: Option<Inode>, by: Duration) -> Option<Inode> {
    inode.map(|mut i| {
        i.mtime += by;
        i.ctime += by;
        i
    })
}
