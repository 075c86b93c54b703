//! The in-memory POSIX-like tree behind SimFs, with two images per inode as
//! in redb's crash tests: the live state every operation sees and the durable
//! state that survives a power loss. `sync_file` copies a file's live data to
//! its durable data; `sync_dir` copies a directory's live entries to its
//! durable entries; a power loss keeps only durable state (or, for a torn
//! write, a seeded prefix of the unsynced bytes).
//!
//! The tree is pure data: it knows nothing of time except the wall-clock
//! instant it is handed for mtimes, and nothing of latency or faults.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::{self, ErrorKind};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use steadfast_core::FileKind;
use steadfast_core::fs::ELOOP;

mod entries;
use entries::{Entries, Name};
mod handles;
pub use handles::FILE_LEN_MAX;
pub(crate) use handles::ebadf;
mod ops;
mod slots;
pub use slots::TreeImage;
use slots::{IMAGE_EPOCH, Slots};

type Ino = usize;
const ROOT: Ino = 0;
/// Linux's limit on symlinks followed in one path resolution.
const SYMLINK_HOPS_MAX: u32 = 40;
const ENAMETOOLONG: i32 = 36;

/// The longest file name (one path component) a Linux file system takes:
/// a longer one fails with `ENAMETOOLONG`, to look up as to create.
pub const NAME_MAX: usize = 255;

fn name_too_long() -> io::Error {
    io::Error::from_raw_os_error(ENAMETOOLONG)
}
const DIR_LEN: u64 = 4096;

#[derive(Clone, Debug)]
enum Node {
    File {
        data: Vec<u8>,
        durable: Vec<u8>,
    },
    Dir {
        live: Entries,
        durable: BTreeMap<Name, Ino>,
    },
    Symlink {
        target: PathBuf,
    },
    /// A FIFO, socket or device, planted from outside (`core` never makes
    /// one): reads are refused, as the real adapter refuses them.
    Special,
}

#[derive(Clone, Debug)]
struct Inode {
    node: Node,
    /// Written here; read through [`Slots::times`] (an image's inodes
    /// count from the image's epoch).
    mtime: SystemTime,
    /// `ctime`: moves with `mtime` and on renames.
    ctime: SystemTime,
    /// Live plus durable directory entries naming this inode (the root holds
    /// one permanent reference). Freed at zero.
    refs: u32,
}

/// How a power loss treats data that was written but not synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Torn {
    /// Unsynced data is lost entirely.
    None,
    /// Each file with unsynced data keeps a prefix of it whose length is
    /// drawn from the given source (LazyFS-style torn writes).
    Prefix,
}

/// One entry of a tree listing (see [`Tree::listing`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Listed {
    /// Absolute path.
    pub path: PathBuf,
    /// Kind of the entry itself.
    #[serde(serialize_with = "kind_name")]
    pub kind: FileKind,
    /// Length in bytes (files), target length (symlinks), 0 (directories).
    pub len: u64,
    /// A hash of the content (files) or target (symlinks).
    pub hash: u64,
}

fn kind_name<S: serde::Serializer>(kind: &FileKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match kind {
        FileKind::File => "file",
        FileKind::Dir => "dir",
        FileKind::Symlink => "symlink",
        FileKind::Special => "special",
    })
}

/// What a power loss took (see [`Tree::power_loss`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PowerLost {
    /// Files that kept a torn prefix of their unsynced data.
    pub torn_files: u64,
    /// Files that lost unsynced data (torn ones that lost any included).
    pub files: u64,
    /// Directories that lost unsynced entries.
    pub dirs: u64,
}

/// The tree.
#[derive(Clone, Debug)]
pub struct Tree {
    slots: Slots,
    free: Vec<Ino>,
    handles: handles::Handles,
    /// A directory's live entries changed since the last commit (a
    /// journal commit of metadata finds nothing to do otherwise, and runs
    /// every few milliseconds of virtual time). The invariant it keeps:
    /// while false, every directory's live entries equal its durable ones.
    /// `link` and `unlink` are the only steps that change live entries;
    /// any new one must set it.
    entries_changed: bool,
}

fn err(kind: ErrorKind) -> io::Error {
    io::Error::from(kind)
}

/// `path`'s bytes after checking it is absolute, as SimFs paths are.
fn below_root(path: &Path) -> io::Result<&[u8]> {
    let b = path.as_os_str().as_bytes();
    if b.first() != Some(&b'/') {
        return Err(io::Error::new(ErrorKind::InvalidInput, format!("SimFs paths are absolute: {}", path.display())));
    }
    Ok(b)
}

fn names(path: &Path) -> io::Result<Vec<OsString>> {
    let mut out = Vec::new();
    let mut rest = below_root(path)?;
    while let Some((name, tail)) = next_name(rest) {
        out.push(OsStr::from_bytes(name).to_os_string());
        rest = tail;
    }
    Ok(out)
}

/// The first name in `rest` (an entry's name or `..`; empty and `.`
/// segments name nothing, as `Path::components` reads them), and what
/// follows it.
fn next_name(mut rest: &[u8]) -> Option<(&[u8], &[u8])> {
    loop {
        let start = rest.iter().position(|&c| c != b'/')?;
        rest = &rest[start..];
        let end = rest.iter().position(|&c| c == b'/').unwrap_or(rest.len());
        let (name, tail) = rest.split_at(end);
        if name != b"." {
            return Some((name, tail));
        }
        rest = tail;
    }
}

/// The directories a walk is inside, the root first: inline up to
/// [`Ancestors::INLINE`] deep, so a walk allocates nothing.
struct Ancestors {
    inline: [Ino; Ancestors::INLINE],
    len: usize,
    deeper: Vec<Ino>,
}

impl Ancestors {
    const INLINE: usize = 16;

    fn root() -> Ancestors {
        Ancestors { inline: [ROOT; Ancestors::INLINE], len: 1, deeper: Vec::new() }
    }

    fn last(&self) -> Ino {
        match self.deeper.last() {
            Some(&ino) => ino,
            None => self.inline[self.len - 1],
        }
    }

    fn push(&mut self, ino: Ino) {
        if self.len < Ancestors::INLINE {
            self.inline[self.len] = ino;
        } else {
            self.deeper.push(ino);
        }
        self.len += 1;
    }

    /// Up one directory; the root's parent is the root.
    fn pop(&mut self) {
        if self.len > 1 {
            if self.len > Ancestors::INLINE {
                self.deeper.pop();
            }
            self.len -= 1;
        }
    }

    fn back_to_root(&mut self) {
        self.len = 1;
        self.deeper.clear();
    }
}

impl Tree {
    /// An empty tree: a root directory, durable.
    pub fn new(wall: SystemTime) -> Tree {
        let root = Inode {
            node: Node::Dir { live: Entries::default(), durable: BTreeMap::new() },
            mtime: wall,
            ctime: wall,
            refs: 1,
        };
        Tree {
            slots: Slots::new(vec![Some(root)]),
            free: Vec::new(),
            handles: handles::Handles::default(),
            entries_changed: false,
        }
    }

    /// Freeze the tree `ops` build (applied in order, then everything made
    /// durable) as an image that trees fork from in O(1) (see
    /// [`Tree::from_image`]). Panics on an error, as a setup does.
    pub fn image(ops: impl IntoIterator<Item = steadfast_core::FsOp>) -> TreeImage {
        let mut tree = Tree::new(IMAGE_EPOCH);
        if let Err((op, e)) = tree.apply_all(ops, IMAGE_EPOCH) {
            panic!("image {} {}: {e}", op.name(), op.path().display());
        }
        tree.sync_all();
        TreeImage { inodes: std::sync::Arc::new(tree.slots.into_own()), free: tree.free }
    }

    /// A tree that is `image`, as if built at `wall`: it shares the image's
    /// inodes and copies only those it changes.
    pub fn from_image(image: &TreeImage, wall: SystemTime) -> Tree {
        Tree {
            slots: Slots::fork(image, wall),
            free: image.free.clone(),
            handles: handles::Handles::default(),
            entries_changed: false,
        }
    }

    /// Nothing but an empty root, and nothing open: a tree as new.
    pub fn is_new(&self) -> bool {
        self.slots.len() == 1 && self.entries(ROOT).is_ok_and(Entries::is_empty) && self.handles.is_empty()
    }

    fn get(&self, ino: Ino) -> &Inode {
        self.slots.get(ino).expect("SimFs: dangling inode")
    }

    fn get_mut(&mut self, ino: Ino) -> &mut Inode {
        self.slots.get_mut(ino).expect("SimFs: dangling inode")
    }

    fn alloc(&mut self, node: Node, wall: SystemTime) -> Ino {
        let inode = Inode { node, mtime: wall, ctime: wall, refs: 0 };
        match self.free.pop() {
            Some(ino) => {
                self.slots.set(ino, Some(inode));
                ino
            }
            None => self.slots.push(inode),
        }
    }

    fn incref(&mut self, ino: Ino) {
        self.get_mut(ino).refs += 1;
    }

    fn decref(&mut self, ino: Ino) {
        let mut stack = vec![ino];
        while let Some(ino) = stack.pop() {
            let inode = self.get_mut(ino);
            inode.refs -= 1;
            if inode.refs == 0 {
                if let Some(Inode { node: Node::Dir { live, durable }, .. }) = self.slots.set(ino, None) {
                    stack.extend(live.into_values().chain(durable.into_values()));
                }
                self.free.push(ino);
            }
        }
    }

    fn entries(&self, dir: Ino) -> io::Result<&Entries> {
        match &self.get(dir).node {
            Node::Dir { live, .. } => Ok(live),
            _ => Err(err(ErrorKind::NotADirectory)),
        }
    }

    fn link(&mut self, dir: Ino, name: Name, ino: Ino, wall: SystemTime) {
        self.entries_changed = true;
        self.incref(ino);
        self.get_mut(ino).ctime = wall;
        let d = self.get_mut(dir);
        d.mtime = wall;
        d.ctime = wall;
        if let Node::Dir { live, .. } = &mut d.node
            && let Some(old) = live.insert(name, ino)
        {
            self.decref(old);
        }
    }

    fn unlink(&mut self, dir: Ino, name: &OsStr, wall: SystemTime) {
        self.entries_changed = true;
        let d = self.get_mut(dir);
        d.mtime = wall;
        d.ctime = wall;
        if let Node::Dir { live, .. } = &mut d.node
            && let Some(old) = live.remove(name)
        {
            self.decref(old);
        }
    }

    /// Resolve `path` to an inode, following symlinks in every component and,
    /// if `follow_last`, in the last one. Names are borrowed from `path`
    /// and from the symlinks met, never copied: every operation walks.
    fn walk(&self, path: &Path, follow_last: bool) -> io::Result<Ino> {
        // What is left to resolve: the rest of `path`, under the rests of
        // the symlinks being followed (the innermost is `rest`, the outer
        // ones wait in `outer`). Paths are bytes split at `/`: `.` and
        // empty segments name nothing, as `Path::components` reads them.
        let mut rest = below_root(path)?;
        let mut outer: Vec<&[u8]> = Vec::new();
        let mut stack = Ancestors::root();
        let mut hops = 0;
        let mut last = ROOT;
        loop {
            let name = match next_name(rest) {
                Some((name, tail)) => {
                    rest = tail;
                    name
                }
                None => match outer.pop() {
                    Some(r) => {
                        rest = r;
                        continue;
                    }
                    None => break,
                },
            };
            let dir = stack.last();
            if name == b".." {
                stack.pop();
                last = stack.last();
                continue;
            }
            if name.len() > NAME_MAX {
                return Err(name_too_long());
            }
            let child = self.entries(dir)?.get(OsStr::from_bytes(name)).ok_or_else(|| err(ErrorKind::NotFound))?;
            let is_last = next_name(rest).is_none() && outer.iter().all(|r| next_name(r).is_none());
            match &self.get(child).node {
                Node::Symlink { target } if !is_last || follow_last => {
                    hops += 1;
                    if hops > SYMLINK_HOPS_MAX {
                        return Err(io::Error::from_raw_os_error(ELOOP));
                    }
                    let target = target.as_os_str().as_bytes();
                    if target.first() == Some(&b'/') {
                        stack.back_to_root();
                    }
                    outer.push(rest);
                    rest = target;
                    last = stack.last();
                }
                Node::Dir { .. } => {
                    stack.push(child);
                    last = child;
                }
                _ if is_last => last = child,
                _ => return Err(err(ErrorKind::NotADirectory)),
            }
        }
        Ok(last)
    }

    /// The directory that holds `path`'s last component, and that component.
    fn parent(&self, path: &Path) -> io::Result<(Ino, Name)> {
        // A plain path (most are) splits at its last slash.
        let b = path.as_os_str().as_bytes();
        if crate::schedule::plain(b)
            && let Some(i) = b.iter().rposition(|&c| c == b'/')
            && i + 1 < b.len()
            && &b[i + 1..] != b".."
        {
            let dir = self.walk(Path::new(OsStr::from_bytes(if i == 0 { b"/" } else { &b[..i] })), true)?;
            self.entries(dir)?;
            if b.len() - i - 1 > NAME_MAX {
                return Err(name_too_long());
            }
            return Ok((dir, Name::from(OsStr::from_bytes(&b[i + 1..]))));
        }
        // A relative path is named whole, not by the parent it would have.
        below_root(path)?;
        let name = match path.file_name() {
            Some(n) => Name::from(n),
            None => return Err(io::Error::new(ErrorKind::InvalidInput, format!("no file name: {}", path.display()))),
        };
        let dir = self.walk(path.parent().unwrap_or(Path::new("/")), true)?;
        self.entries(dir)?;
        if name.len() > NAME_MAX {
            return Err(name_too_long());
        }
        Ok((dir, name))
    }

    fn child(&self, dir: Ino, name: &OsStr) -> Option<Ino> {
        self.entries(dir).ok().and_then(|e| e.get(name))
    }

    fn kind(&self, ino: Ino) -> FileKind {
        match self.get(ino).node {
            Node::File { .. } => FileKind::File,
            Node::Dir { .. } => FileKind::Dir,
            Node::Symlink { .. } => FileKind::Symlink,
            Node::Special => FileKind::Special,
        }
    }

    /// Make everything durable, as if every file and directory were synced
    /// (for a scenario's initial state).
    pub fn sync_all(&mut self) {
        self.commit(true)
    }

    /// Make every directory's entries durable but no file data (a journal
    /// commit of metadata).
    pub fn commit_metadata(&mut self) {
        // Every directory is as durable as its live entries already.
        if self.entries_changed {
            self.commit(false)
        }
    }

    fn commit(&mut self, files_too: bool) {
        self.entries_changed = false;
        // An image's inodes this tree never changed are durable already.
        for ino in self.slots.touched() {
            // An earlier directory's commit may have freed this inode.
            if self.slots.get(ino).is_some() {
                self.make_durable(ino, files_too);
            }
        }
    }

    /// A power loss: every directory reverts to its durable entries and every
    /// file to its durable data, except that with [`Torn::Prefix`] a file
    /// keeps `durable + unsynced[..k]` where `k = keep(unsynced_len)` when its
    /// live data extends its durable data. Returns how many files were
    /// torn, and how many files and directories lost unsynced changes.
    pub fn power_loss(&mut self, torn: Torn, keep: &mut dyn FnMut(usize) -> usize) -> PowerLost {
        let mut lost = PowerLost::default();
        let mut dir_changes: Vec<(Vec<Ino>, Vec<Ino>)> = Vec::new();
        // An image's inodes this tree never changed are durable already.
        for slot in self.slots.touched_mut() {
            match &mut slot.node {
                Node::File { data, durable } => {
                    if data == durable {
                        continue;
                    }
                    let extends = data.len() > durable.len() && data.starts_with(durable);
                    if torn == Torn::Prefix && extends {
                        let extra = data.len() - durable.len();
                        let k = keep(extra).min(extra);
                        data.truncate(durable.len() + k);
                        if k > 0 {
                            lost.torn_files += 1;
                        }
                        lost.files += u64::from(k < extra);
                    } else {
                        data.clone_from(durable);
                        lost.files += 1;
                    }
                    durable.clone_from(data);
                }
                Node::Dir { live, durable } => {
                    lost.dirs += u64::from(live.sorted() != durable);
                    let gone: Vec<Ino> = live.values().collect();
                    let back: Vec<Ino> = durable.values().copied().collect();
                    *live = Entries::from_sorted(durable.clone());
                    dir_changes.push((back, gone));
                }
                Node::Symlink { .. } | Node::Special => {}
            }
        }
        // Every reference that comes back is counted before any that goes:
        // a directory freed by its parent's change drops its children, and
        // a child it still holds durably must not be freed under it.
        let (back, gone): (Vec<Vec<Ino>>, Vec<Vec<Ino>>) = dir_changes.into_iter().unzip();
        back.into_iter().flatten().for_each(|i| self.incref(i));
        gone.into_iter().flatten().for_each(|i| self.decref(i));
        lost
    }

    /// Every entry reachable from the root, in path order (an entry, then
    /// everything under it, then its next sibling by name: a depth-first
    /// walk in name order yields it, so nothing is sorted).
    pub fn listing(&self) -> Vec<Listed> {
        let mut out = Vec::new();
        // Directories whose entries are still to come, innermost last,
        // each with the entries it has left (in name order).
        let mut stack = vec![(PathBuf::from("/"), self.entries(ROOT).ok().map(|e| e.iter()))];
        let mut seen = std::collections::BTreeSet::from([ROOT]);
        while let Some((path, rest)) = stack.last_mut() {
            let Some((name, &child)) = rest.as_mut().and_then(Iterator::next) else {
                stack.pop();
                continue;
            };
            let p = path.join(&**name);
            let (len, hash) = match &self.get(child).node {
                Node::File { data, .. } => (data.len() as u64, hash_bytes(data)),
                Node::Symlink { target } => {
                    (target.as_os_str().len() as u64, hash_bytes(target.as_os_str().as_encoded_bytes()))
                }
                Node::Dir { .. } | Node::Special => (0, 0),
            };
            let kind = self.kind(child);
            out.push(Listed { path: p.clone(), kind, len, hash });
            // A directory a power loss left in a cycle (see `live_bytes`)
            // is listed where it is first met, and its entries only there.
            if kind == FileKind::Dir && seen.insert(child) {
                stack.push((p, self.entries(child).ok().map(|e| e.iter())));
            }
        }
        out
    }

    /// Is there an entry at `path` (a final symlink not followed)?
    pub fn exists(&self, path: &Path) -> bool {
        self.walk(path, false).is_ok()
    }

    /// What the entry at `path` is (a final symlink not followed), if
    /// there is one.
    pub fn kind_of(&self, path: &Path) -> Option<FileKind> {
        self.walk(path, false).ok().map(|ino| self.kind(ino))
    }

    /// The entries of directory `dir` (symlinks followed to it, as
    /// `read_dir` does; [`Tree::listing`] never follows one), in name
    /// order, each with its own metadata (a final symlink not followed, as
    /// `symlink_metadata` reads it): one directory's `read_dir` and a
    /// `symlink_metadata` of each entry, in one step.
    pub fn dir_entries(&self, dir: &Path) -> io::Result<Vec<(OsString, steadfast_core::fs::Metadata)>> {
        let entries = self.entries(self.walk(dir, true)?)?;
        Ok(entries.iter().map(|(name, &ino)| (name.to_os_string(), self.inode_metadata(ino))).collect())
    }

    /// The length of the regular file `path` names (following symlinks),
    /// if it is one.
    pub fn file_len(&self, path: &Path) -> Option<u64> {
        let ino = self.walk(path, true).ok()?;
        match &self.get(ino).node {
            Node::File { data, .. } => Some(data.len() as u64),
            _ => None,
        }
    }

    /// Bytes of live data in every file reachable from the root (what a
    /// disk of limited capacity holds).
    pub fn live_bytes(&self) -> u64 {
        let mut total = 0;
        let mut stack = vec![ROOT];
        // A power loss can leave a directory cycle (two renames, one of
        // them synced): each inode counts once.
        let mut seen = std::collections::BTreeSet::new();
        while let Some(ino) = stack.pop() {
            if !seen.insert(ino) {
                continue;
            }
            match &self.get(ino).node {
                Node::File { data, .. } => total += data.len() as u64,
                Node::Dir { live, .. } => stack.extend(live.values()),
                Node::Symlink { .. } | Node::Special => {}
            }
        }
        total
    }

    /// Number of live inodes (for leak checks).
    pub fn inode_count(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}

/// A stable, platform-independent content hash, a word at a time
/// (multiply-rotate per 8 bytes, then SplitMix64's finaliser): fast enough
/// to hash every history line and every version of a checked file.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h: u64 = 0xCBF2_9CE4_8422_2325 ^ bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        h = (h ^ u64::from_le_bytes(b)).wrapping_mul(K).rotate_left(29);
    }
    // The tail as a little-endian word, zero-padded, without a copy (a
    // variable-length copy is a call to memcpy, and most names are short).
    let tail = words.remainder().iter().rev().fold(0u64, |t, &b| (t << 8) | u64::from(b));
    steadfast_core::mix64((h ^ tail).wrapping_mul(K))
}

#[cfg(test)]
mod hash_tests {
    /// The definition `hash_bytes` keeps (the tail copied into a zeroed
    /// word): every history hash and listing depends on its values.
    fn reference(bytes: &[u8]) -> u64 {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut h: u64 = 0xCBF2_9CE4_8422_2325 ^ bytes.len() as u64;
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            h = (h ^ u64::from_le_bytes(w.try_into().expect("8 bytes"))).wrapping_mul(K).rotate_left(29);
        }
        let mut tail = [0u8; 8];
        tail[..words.remainder().len()].copy_from_slice(words.remainder());
        steadfast_core::mix64((h ^ u64::from_le_bytes(tail)).wrapping_mul(K))
    }

    #[test]
    fn hash_bytes_keeps_its_values() {
        let bytes: Vec<u8> = (0..64u32).map(|i| (i.wrapping_mul(151) ^ 0xA5) as u8).collect();
        for len in 0..bytes.len() {
            assert_eq!(super::hash_bytes(&bytes[..len]), reference(&bytes[..len]), "length {len}");
        }
    }
}

#[cfg(test)]
mod walk_tests {
    use std::ffi::OsString;
    use std::path::{Component, Path, PathBuf};
    use std::time::SystemTime;

    use steadfast_core::FsOp;

    use super::*;

    /// A tree whose names sort differently by bytes and by components
    /// (`a.b` against `a/b`), with relative, absolute, upward, dotted and
    /// looping symlinks.
    fn tricky() -> Tree {
        let wall = SystemTime::UNIX_EPOCH;
        let mut t = Tree::new(wall);
        let p = |s: &str| PathBuf::from(s);
        let link = |target: &str, link: &str| FsOp::Symlink { target: p(target), link: p(link) };
        for op in [
            FsOp::CreateDirAll(p("/a/b/c")),
            FsOp::CreateDir(p("/a.b")),
            FsOp::CreateDir(p("/a-b")),
            FsOp::Write { path: p("/a/f"), data: b"f".to_vec() },
            FsOp::Write { path: p("/a/b/g"), data: b"gg".to_vec() },
            FsOp::Write { path: p("/a.b/h"), data: Vec::new() },
            link("a/b", "/l1"),
            link("/a/../a.b", "/l2"),
            link("../a.b", "/a/l3"),
            link("/loop", "/loop"),
            link("..", "/a/b/up"),
            link("./b//c/.", "/a/dots"),
            link("", "/a/empty"),
            link("f/x", "/a/through-file"),
        ] {
            t.apply(&op, wall).unwrap_or_else(|e| panic!("{} {}: {e}", op.name(), op.path().display()));
        }
        t
    }

    /// The walk as it was written over `Path::components`: the reference
    /// the byte walk must agree with.
    fn reference_walk(t: &Tree, path: &Path, follow_last: bool) -> io::Result<Ino> {
        let is_name = |c: Component<'_>| matches!(c, Component::Normal(_) | Component::ParentDir);
        let mut comps = path.components();
        if comps.next() != Some(Component::RootDir) {
            return Err(err(ErrorKind::InvalidInput));
        }
        let mut todo = vec![comps];
        let mut stack = vec![ROOT];
        let (mut hops, mut last) = (0, ROOT);
        loop {
            let name: OsString = match todo.last_mut() {
                None => break,
                Some(rest) => match rest.next() {
                    Some(Component::Normal(n)) => n.to_os_string(),
                    Some(Component::ParentDir) => "..".into(),
                    Some(_) => continue,
                    None => {
                        todo.pop();
                        continue;
                    }
                },
            };
            let dir = *stack.last().expect("root");
            if name == ".." {
                if stack.len() > 1 {
                    stack.pop();
                }
                last = *stack.last().expect("root");
                continue;
            }
            let child = t.entries(dir)?.get(&name).ok_or_else(|| err(ErrorKind::NotFound))?;
            let is_last = todo.iter().all(|rest| rest.clone().all(|c| !is_name(c)));
            match &t.get(child).node {
                Node::Symlink { target } if !is_last || follow_last => {
                    hops += 1;
                    if hops > SYMLINK_HOPS_MAX {
                        return Err(io::Error::from_raw_os_error(ELOOP));
                    }
                    if target.has_root() {
                        stack.truncate(1);
                    }
                    todo.push(target.components());
                    last = *stack.last().expect("root");
                }
                Node::Dir { .. } => {
                    stack.push(child);
                    last = child;
                }
                _ if is_last => last = child,
                _ => return Err(err(ErrorKind::NotADirectory)),
            }
        }
        Ok(last)
    }

    /// Every path of up to four segments over the tree's names and the
    /// awkward spellings, both ways of treating the last symlink: the
    /// byte walk resolves each as the components walk did.
    #[test]
    fn the_byte_walk_resolves_as_components_do() {
        let mut t = tricky();
        let deep = PathBuf::from("/d".repeat(20));
        t.apply(&FsOp::CreateDirAll(deep.clone()), SystemTime::UNIX_EPOCH).expect("deep");
        let up = FsOp::Symlink { target: "..".into(), link: deep.join("up") };
        t.apply(&up, SystemTime::UNIX_EPOCH).expect("up");
        let segs = [
            "a",
            "b",
            "c",
            "a.b",
            "f",
            "g",
            "l1",
            "l2",
            "l3",
            "loop",
            "up",
            "dots",
            "empty",
            "through-file",
            ".",
            "..",
            "",
        ];
        let mut paths = vec![String::new()];
        let mut all = Vec::new();
        for _ in 0..4 {
            paths = paths.iter().flat_map(|p| segs.iter().map(move |s| format!("{p}/{s}"))).collect();
            all.extend(paths.iter().cloned());
            all.extend(paths.iter().map(|p| format!("{p}/")));
        }
        all.push("relative/a".into());
        // Deeper than the walk's inline ancestors, and back up past them.
        let deep = "/d".repeat(20);
        all.extend([
            deep.clone(),
            format!("{deep}/{}a/f", "../".repeat(19)),
            format!("{deep}/{}", "../".repeat(25)),
            format!("{deep}/up/d/e/../../d"),
            format!("{deep}/nope"),
        ]);
        for path in &all {
            for follow in [true, false] {
                let (got, want) = (t.walk(Path::new(path), follow), reference_walk(&t, Path::new(path), follow));
                match (got, want) {
                    (Ok(g), Ok(w)) => assert_eq!(g, w, "{path:?} follow={follow}"),
                    (Err(g), Err(w)) => assert_eq!(
                        (g.kind(), g.raw_os_error()),
                        (w.kind(), w.raw_os_error()),
                        "{path:?} follow={follow}"
                    ),
                    (g, w) => panic!("{path:?} follow={follow}: {g:?} against {w:?}"),
                }
            }
        }
    }

    /// A listing is in path order (components compared, so `/a/b` before
    /// `/a.b`), as sorting it would leave it.
    #[test]
    fn a_listing_is_in_path_order_without_a_sort() {
        let t = tricky();
        let listing = t.listing();
        let mut sorted = listing.clone();
        sorted.sort();
        assert_eq!(listing, sorted);
        let at = |s: &str| listing.iter().position(|l| l.path == Path::new(s)).expect(s);
        assert!(at("/a/b/c") < at("/a.b"), "{listing:#?}");
        assert_eq!(listing.len(), 16, "{listing:#?}");
    }

    /// A file name longer than 255 bytes fails with `ENAMETOOLONG`, to
    /// create as to look up, as on Linux; 255 bytes is a name.
    #[test]
    fn a_name_past_255_bytes_is_too_long() {
        let wall = SystemTime::UNIX_EPOCH;
        let mut t = Tree::new(wall);
        let at = |name: &str| PathBuf::from(format!("/d/{name}"));
        t.apply(&FsOp::CreateDir(PathBuf::from("/d")), wall).expect("dir");
        let longest = "n".repeat(NAME_MAX);
        t.apply(&FsOp::Write { path: at(&longest), data: b"x".to_vec() }, wall).expect("255 bytes");
        let past = "n".repeat(NAME_MAX + 1);
        for op in [
            FsOp::Write { path: at(&past), data: b"x".to_vec() },
            FsOp::CreateDir(at(&past)),
            FsOp::Read(at(&past)),
            FsOp::SymlinkMetadata(at(&format!("{past}/below"))),
            FsOp::Rename { from: at(&longest), to: at(&past) },
        ] {
            let e = t.apply(&op, wall).expect_err(op.name());
            assert_eq!(e.raw_os_error(), Some(36), "{}: {e}", op.name());
        }
        assert!(t.apply(&FsOp::Read(at(&longest)), wall).is_ok(), "the rename changed nothing");
    }

    /// A power loss says what it took: files whose unsynced data went
    /// (a torn file that kept all of it lost none), directories whose
    /// unsynced entries went.
    #[test]
    fn a_power_loss_counts_what_it_took() {
        let wall = SystemTime::UNIX_EPOCH;
        let p = |s: &str| PathBuf::from(s);
        let mut t = Tree::new(wall);
        for op in [FsOp::CreateDirAll(p("/a")), FsOp::Write { path: p("/a/old"), data: b"old".to_vec() }] {
            t.apply(&op, wall).expect("setup");
        }
        t.sync_all();
        for op in [
            FsOp::Write { path: p("/a/new"), data: b"new".to_vec() },
            FsOp::Append { path: p("/a/old"), data: b"+more".to_vec() },
        ] {
            t.apply(&op, wall).expect("op");
        }
        let mut all_of_it = |extra: usize| extra;
        let lost = t.clone().power_loss(Torn::Prefix, &mut all_of_it);
        // Both files keep their unsynced bytes; the new one's entry goes.
        assert_eq!(lost, PowerLost { torn_files: 2, files: 0, dirs: 1 });
        let lost = t.power_loss(Torn::None, &mut all_of_it);
        assert_eq!(lost, PowerLost { torn_files: 0, files: 2, dirs: 1 });
    }

    /// A journal commit skipped because no directory changed since the
    /// last leaves the same durable state as one that ran: after the same
    /// operations and a power loss, both trees list the same.
    #[test]
    fn a_skipped_journal_commit_changes_nothing_durable() {
        let wall = SystemTime::UNIX_EPOCH;
        let (mut skipping, mut always) = (tricky(), tricky());
        let p = |s: &str| PathBuf::from(s);
        let ops = [
            FsOp::Write { path: p("/a/new"), data: b"n".to_vec() },
            FsOp::Write { path: p("/a/f"), data: b"again".to_vec() },
            FsOp::Rename { from: p("/a/new"), to: p("/a.b/moved") },
            FsOp::RemoveFile(p("/a/b/g")),
            FsOp::CreateDir(p("/a/b/c/d")),
            FsOp::Write { path: p("/a/b/c/d/e"), data: b"e".to_vec() },
        ];
        for (i, op) in ops.iter().enumerate() {
            for t in [&mut skipping, &mut always] {
                t.apply(op, wall).unwrap_or_else(|e| panic!("{}: {e}", op.name()));
            }
            // Commit after some operations only, and twice in a row once.
            if i % 2 == 0 {
                skipping.commit_metadata();
                skipping.commit_metadata();
                always.commit(false);
                always.commit(false);
            }
        }
        for t in [&mut skipping, &mut always] {
            t.power_loss(Torn::None, &mut |n| n);
        }
        assert_eq!(skipping.listing(), always.listing());
    }
}

#[cfg(test)]
mod special_tests {
    use std::io::ErrorKind;
    use std::path::PathBuf;
    use std::time::SystemTime;

    use steadfast_core::FsOp;

    use super::*;

    /// A FIFO planted where a file is expected is refused by every
    /// operation that would open it, with the error `RealFs` gives (its
    /// conformance test plants a real FIFO): `create_new` finds it there,
    /// the rest refuse a special file. Nothing replaces it.
    #[test]
    fn every_open_of_a_special_file_is_refused_as_real_fs_refuses_it() {
        let wall = SystemTime::UNIX_EPOCH;
        let mut t = Tree::new(wall);
        let fifo = PathBuf::from("/fifo");
        t.plant_special(&fifo, wall).expect("planted");
        let data = b"x".to_vec();
        let cases = [
            (FsOp::Write { path: fifo.clone(), data: data.clone() }, ErrorKind::InvalidInput),
            (FsOp::Append { path: fifo.clone(), data: data.clone() }, ErrorKind::InvalidInput),
            (FsOp::SyncFile(fifo.clone()), ErrorKind::InvalidInput),
            (FsOp::SyncDir(fifo.clone()), ErrorKind::InvalidInput),
            (FsOp::Read(fifo.clone()), ErrorKind::InvalidInput),
            (FsOp::CreateNew { path: fifo.clone(), data }, ErrorKind::AlreadyExists),
        ];
        for (op, kind) in cases {
            let e = t.apply(&op, wall).expect_err(op.name());
            assert_eq!(e.kind(), kind, "{}: {e}", op.name());
            if kind == ErrorKind::InvalidInput {
                assert_eq!(e.to_string(), steadfast_core::fs::not_a_regular_file().to_string(), "{}", op.name());
            }
        }
        let entry = t.listing().into_iter().find(|e| e.path == fifo).expect("still there");
        assert_eq!(entry.kind, steadfast_core::FileKind::Special);
    }
}
