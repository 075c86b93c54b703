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
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use steadfast_core::{DirEntry, FileKind, FsOp, FsOutput, Metadata};

type Ino = usize;
const ROOT: Ino = 0;
/// Linux's limit on symlinks followed in one path resolution.
const SYMLINK_HOPS_MAX: u32 = 40;
const ELOOP: i32 = 40;
const DIR_LEN: u64 = 4096;

#[derive(Clone, Debug)]
enum Node {
    File {
        data: Vec<u8>,
        durable: Vec<u8>,
    },
    Dir {
        live: BTreeMap<OsString, Ino>,
        durable: BTreeMap<OsString, Ino>,
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

/// The tree.
#[derive(Clone, Debug)]
pub struct Tree {
    inodes: Vec<Option<Inode>>,
    free: Vec<Ino>,
}

fn err(kind: ErrorKind) -> io::Error {
    io::Error::from(kind)
}

fn names(path: &Path) -> io::Result<Vec<OsString>> {
    let mut out = Vec::new();
    let mut comps = path.components();
    if comps.next() != Some(Component::RootDir) {
        return Err(io::Error::new(ErrorKind::InvalidInput, format!("SimFs paths are absolute: {}", path.display())));
    }
    for c in comps {
        match c {
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::ParentDir => out.push(OsString::from("..")),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Ok(out)
}

impl Tree {
    /// An empty tree: a root directory, durable.
    pub fn new(wall: SystemTime) -> Tree {
        let root = Inode {
            node: Node::Dir { live: BTreeMap::new(), durable: BTreeMap::new() },
            mtime: wall,
            ctime: wall,
            refs: 1,
        };
        Tree { inodes: vec![Some(root)], free: Vec::new() }
    }

    fn get(&self, ino: Ino) -> &Inode {
        self.inodes[ino].as_ref().expect("SimFs: dangling inode")
    }

    fn get_mut(&mut self, ino: Ino) -> &mut Inode {
        self.inodes[ino].as_mut().expect("SimFs: dangling inode")
    }

    fn alloc(&mut self, node: Node, wall: SystemTime) -> Ino {
        let inode = Some(Inode { node, mtime: wall, ctime: wall, refs: 0 });
        match self.free.pop() {
            Some(ino) => {
                self.inodes[ino] = inode;
                ino
            }
            None => {
                self.inodes.push(inode);
                self.inodes.len() - 1
            }
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
                if let Some(Inode { node: Node::Dir { live, durable }, .. }) = self.inodes[ino].take() {
                    stack.extend(live.into_values().chain(durable.into_values()));
                }
                self.inodes[ino] = None;
                self.free.push(ino);
            }
        }
    }

    fn entries(&self, dir: Ino) -> io::Result<&BTreeMap<OsString, Ino>> {
        match &self.get(dir).node {
            Node::Dir { live, .. } => Ok(live),
            _ => Err(err(ErrorKind::NotADirectory)),
        }
    }

    fn link(&mut self, dir: Ino, name: OsString, ino: Ino, wall: SystemTime) {
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
    /// if `follow_last`, in the last one.
    fn walk(&self, path: &Path, follow_last: bool) -> io::Result<Ino> {
        let mut todo: Vec<OsString> = names(path)?;
        todo.reverse();
        let mut stack = vec![ROOT];
        let mut hops = 0;
        let mut last = ROOT;
        while let Some(name) = todo.pop() {
            let dir = *stack.last().expect("stack holds the root");
            if name == ".." {
                if stack.len() > 1 {
                    stack.pop();
                }
                last = *stack.last().expect("stack holds the root");
                continue;
            }
            let child = *self.entries(dir)?.get(&name).ok_or_else(|| err(ErrorKind::NotFound))?;
            let is_last = todo.is_empty();
            match &self.get(child).node {
                Node::Symlink { target } if !is_last || follow_last => {
                    hops += 1;
                    if hops > SYMLINK_HOPS_MAX {
                        return Err(io::Error::from_raw_os_error(ELOOP));
                    }
                    if target.has_root() {
                        stack.truncate(1);
                    }
                    let comps: Vec<OsString> = target
                        .components()
                        .filter_map(|c| match c {
                            Component::Normal(n) => Some(n.to_os_string()),
                            Component::ParentDir => Some(OsString::from("..")),
                            _ => None,
                        })
                        .collect();
                    todo.extend(comps.into_iter().rev());
                    last = *stack.last().expect("stack holds the root");
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
    fn parent(&self, path: &Path) -> io::Result<(Ino, OsString)> {
        let name = match path.file_name() {
            Some(n) => n.to_os_string(),
            None => return Err(io::Error::new(ErrorKind::InvalidInput, format!("no file name: {}", path.display()))),
        };
        let dir = self.walk(path.parent().unwrap_or(Path::new("/")), true)?;
        self.entries(dir)?;
        Ok((dir, name))
    }

    fn child(&self, dir: Ino, name: &OsStr) -> Option<Ino> {
        self.entries(dir).ok().and_then(|e| e.get(name).copied())
    }

    fn kind(&self, ino: Ino) -> FileKind {
        match self.get(ino).node {
            Node::File { .. } => FileKind::File,
            Node::Dir { .. } => FileKind::Dir,
            Node::Symlink { .. } => FileKind::Symlink,
            Node::Special => FileKind::Special,
        }
    }

    /// Apply one operation at wall-clock instant `wall`.
    pub fn apply(&mut self, op: &FsOp, wall: SystemTime) -> io::Result<FsOutput> {
        let unit = |r: io::Result<()>| r.map(|()| FsOutput::Unit);
        match op {
            FsOp::CreateDirAll(p) => unit(self.create_dir_all(p, wall)),
            FsOp::Read(p) => self.read(p).map(FsOutput::Bytes),
            FsOp::Write { path, data } => unit(self.put(path, data, Put::Truncate, wall, 0)),
            FsOp::Append { path, data } => unit(self.put(path, data, Put::Append, wall, 0)),
            FsOp::CreateNew { path, data } => unit(self.put(path, data, Put::Exclusive, wall, 0)),
            FsOp::Rename { from, to } => unit(self.rename(from, to, wall)),
            FsOp::RemoveFile(p) => unit(self.remove_file(p, wall)),
            FsOp::RemoveDir(p) => unit(self.remove_dir(p, wall)),
            FsOp::RemoveDirAll(p) => unit(self.remove_dir_all(p, wall).map(|_| ())),
            FsOp::ReadDir(p) => self.read_dir(p).map(FsOutput::Entries),
            FsOp::SymlinkMetadata(p) => self.metadata(p, false).map(FsOutput::Metadata),
            FsOp::Metadata(p) => self.metadata(p, true).map(FsOutput::Metadata),
            FsOp::SyncFile(p) => unit(self.sync(p, false)),
            FsOp::SyncDir(p) => unit(self.sync(p, true)),
            FsOp::Symlink { target, link } => unit(self.symlink(target, link, wall)),
            FsOp::ReadLink(p) => self.read_link(p).map(FsOutput::Path),
            other => Err(io::Error::new(ErrorKind::Unsupported, format!("SimFs: {} not modelled", other.name()))),
        }
    }

    fn create_dir_all(&mut self, path: &Path, wall: SystemTime) -> io::Result<()> {
        let comps = names(path)?;
        let mut prefix = PathBuf::from("/");
        for (i, name) in comps.iter().enumerate() {
            prefix.push(name);
            match self.walk(&prefix, true) {
                Ok(ino) if self.kind(ino) == FileKind::Dir => {}
                Ok(_) if i + 1 == comps.len() => return Err(err(ErrorKind::AlreadyExists)),
                Ok(_) => return Err(err(ErrorKind::NotADirectory)),
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    let (dir, name) = self.parent(&prefix)?;
                    if self.child(dir, &name).is_some() {
                        // A dangling symlink: mkdir refuses it.
                        return Err(err(ErrorKind::AlreadyExists));
                    }
                    let ino = self.alloc(Node::Dir { live: BTreeMap::new(), durable: BTreeMap::new() }, wall);
                    self.link(dir, name, ino, wall);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Read a file as it is now, without changing anything (for checkers).
    pub fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.read(path)
    }

    /// List a directory as it is now (for checkers).
    pub fn list_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        self.read_dir(path)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        match &self.get(self.walk(path, true)?).node {
            Node::File { data, .. } => Ok(data.clone()),
            Node::Special => {
                Err(io::Error::new(ErrorKind::InvalidInput, "not a regular file (FIFO, socket or device)"))
            }
            _ => Err(err(ErrorKind::IsADirectory)),
        }
    }

    fn put(&mut self, path: &Path, bytes: &[u8], how: Put, wall: SystemTime, hops: u32) -> io::Result<()> {
        let (dir, name) = self.parent(path)?;
        let Some(ino) = self.child(dir, &name) else {
            let ino = self.alloc(Node::File { data: bytes.to_vec(), durable: Vec::new() }, wall);
            self.link(dir, name, ino, wall);
            return Ok(());
        };
        if how == Put::Exclusive {
            return Err(err(ErrorKind::AlreadyExists));
        }
        let inode = self.get_mut(ino);
        match &mut inode.node {
            Node::File { data, .. } => {
                if how == Put::Truncate {
                    data.clear();
                }
                data.extend_from_slice(bytes);
                inode.mtime = wall;
                inode.ctime = wall;
                Ok(())
            }
            Node::Dir { .. } => Err(err(ErrorKind::IsADirectory)),
            // Writing into a FIFO would block for a reader: refused, as
            // nothing in `core` writes anything but regular files.
            Node::Special => {
                Err(io::Error::new(ErrorKind::InvalidInput, "not a regular file (FIFO, socket or device)"))
            }
            Node::Symlink { target } => {
                // open(O_CREAT) follows the link, creating a missing target.
                if hops >= SYMLINK_HOPS_MAX {
                    return Err(io::Error::from_raw_os_error(ELOOP));
                }
                let target = path.parent().unwrap_or(Path::new("/")).join(target.clone());
                self.put(&target, bytes, how, wall, hops + 1)
            }
        }
    }

    fn rename(&mut self, from: &Path, to: &Path, wall: SystemTime) -> io::Result<()> {
        let (fdir, fname) = self.parent(from)?;
        let src = self.child(fdir, &fname).ok_or_else(|| err(ErrorKind::NotFound))?;
        let (tdir, tname) = self.parent(to)?;
        let dst = self.child(tdir, &tname);
        if dst == Some(src) {
            return Ok(());
        }
        let src_is_dir = self.kind(src) == FileKind::Dir;
        if src_is_dir && self.is_within(tdir, src, to)? {
            return Err(io::Error::new(ErrorKind::InvalidInput, "cannot move a directory into itself"));
        }
        if let Some(dst) = dst {
            match (src_is_dir, self.kind(dst)) {
                (true, FileKind::Dir) if !self.entries(dst)?.is_empty() => {
                    return Err(err(ErrorKind::DirectoryNotEmpty));
                }
                (true, FileKind::Dir) => {}
                (true, _) => return Err(err(ErrorKind::NotADirectory)),
                (false, FileKind::Dir) => return Err(err(ErrorKind::IsADirectory)),
                (false, _) => {}
            }
        }
        self.incref(src);
        self.unlink(fdir, &fname, wall);
        self.link(tdir, tname, src, wall);
        self.decref(src);
        Ok(())
    }

    /// Is directory `dir` (reached by resolving `to`'s parent) `ancestor` or
    /// inside it?
    fn is_within(&self, dir: Ino, ancestor: Ino, to: &Path) -> io::Result<bool> {
        if dir == ancestor {
            return Ok(true);
        }
        let mut prefix = PathBuf::from("/");
        for name in names(to.parent().unwrap_or(Path::new("/")))? {
            prefix.push(name);
            if self.walk(&prefix, true)? == ancestor {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn remove_file(&mut self, path: &Path, wall: SystemTime) -> io::Result<()> {
        let (dir, name) = self.parent(path)?;
        let ino = self.child(dir, &name).ok_or_else(|| err(ErrorKind::NotFound))?;
        if self.kind(ino) == FileKind::Dir {
            return Err(err(ErrorKind::IsADirectory));
        }
        self.unlink(dir, &name, wall);
        Ok(())
    }

    fn remove_dir(&mut self, path: &Path, wall: SystemTime) -> io::Result<()> {
        let (dir, name) = self.parent(path)?;
        let ino = self.child(dir, &name).ok_or_else(|| err(ErrorKind::NotFound))?;
        if self.kind(ino) != FileKind::Dir {
            return Err(err(ErrorKind::NotADirectory));
        }
        if !self.entries(ino)?.is_empty() {
            return Err(err(ErrorKind::DirectoryNotEmpty));
        }
        self.unlink(dir, &name, wall);
        Ok(())
    }

    /// Remove a tree entry by entry, as `rm -r` does: every unlink is a
    /// separate, separately volatile directory change. Returns the number of
    /// entries removed, the directory itself included.
    pub fn remove_dir_all(&mut self, path: &Path, wall: SystemTime) -> io::Result<u64> {
        let (dir, name) = self.parent(path)?;
        let ino = self.child(dir, &name).ok_or_else(|| err(ErrorKind::NotFound))?;
        if self.kind(ino) != FileKind::Dir {
            return Err(err(ErrorKind::NotADirectory));
        }
        let removed = self.empty_dir(ino, wall);
        self.unlink(dir, &name, wall);
        Ok(removed + 1)
    }

    fn empty_dir(&mut self, dir: Ino, wall: SystemTime) -> u64 {
        let children: Vec<(OsString, Ino)> =
            self.entries(dir).map(|e| e.iter().map(|(n, i)| (n.clone(), *i)).collect()).unwrap_or_default();
        let mut removed = 0;
        for (name, ino) in children {
            if self.kind(ino) == FileKind::Dir {
                removed += self.empty_dir(ino, wall);
            }
            self.unlink(dir, &name, wall);
            removed += 1;
        }
        removed
    }

    /// How many entries `remove_dir_all(path)` would remove (for latency).
    pub fn count_tree(&self, path: &Path) -> u64 {
        fn count(t: &Tree, ino: Ino) -> u64 {
            let children = t.entries(ino).map(|e| e.values().copied().collect::<Vec<_>>()).unwrap_or_default();
            1 + children.into_iter().map(|c| if t.kind(c) == FileKind::Dir { count(t, c) } else { 1 }).sum::<u64>()
        }
        match self.walk(path, false) {
            Ok(ino) if self.kind(ino) == FileKind::Dir => count(self, ino),
            _ => 1,
        }
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let dir = self.walk(path, true)?;
        Ok(self
            .entries(dir)?
            .iter()
            .map(|(name, &ino)| DirEntry { name: name.clone(), kind: self.kind(ino) })
            .collect())
    }

    fn metadata(&self, path: &Path, follow: bool) -> io::Result<Metadata> {
        let ino = self.walk(path, follow)?;
        let inode = self.get(ino);
        let len = match &inode.node {
            Node::File { data, .. } => data.len() as u64,
            Node::Dir { .. } => DIR_LEN,
            Node::Symlink { target } => target.as_os_str().len() as u64,
            Node::Special => 0,
        };
        Ok(Metadata::new(self.kind(ino), len, inode.mtime, inode.ctime, ino as u64))
    }

    fn sync(&mut self, path: &Path, dir_only: bool) -> io::Result<()> {
        let ino = self.walk(path, true)?;
        match self.kind(ino) {
            FileKind::File if dir_only => Err(err(ErrorKind::NotADirectory)),
            _ => {
                self.make_durable(ino, true);
                Ok(())
            }
        }
    }

    /// Copy a file's live data (if `files_too`) or a directory's live
    /// entries to its durable image, moving the durable references.
    fn make_durable(&mut self, ino: Ino, files_too: bool) {
        let (added, removed) = match &mut self.get_mut(ino).node {
            Node::File { data, durable } => {
                if files_too {
                    durable.clone_from(data);
                }
                return;
            }
            Node::Dir { live, durable } => {
                let added: Vec<Ino> = live.values().copied().collect();
                let removed: Vec<Ino> = durable.values().copied().collect();
                durable.clone_from(live);
                (added, removed)
            }
            Node::Symlink { .. } | Node::Special => return,
        };
        added.into_iter().for_each(|i| self.incref(i));
        removed.into_iter().for_each(|i| self.decref(i));
    }

    fn symlink(&mut self, target: &Path, link: &Path, wall: SystemTime) -> io::Result<()> {
        let (dir, name) = self.parent(link)?;
        if self.child(dir, &name).is_some() {
            return Err(err(ErrorKind::AlreadyExists));
        }
        let ino = self.alloc(Node::Symlink { target: target.to_path_buf() }, wall);
        self.link(dir, name, ino, wall);
        Ok(())
    }

    /// Plant a FIFO (or any special file) at `path`, as an operator or a
    /// hostile user could: not an [`FsOp`], since `core` never makes one.
    pub fn plant_special(&mut self, path: &Path, wall: SystemTime) -> io::Result<()> {
        let (dir, name) = self.parent(path)?;
        if self.child(dir, &name).is_some() {
            return Err(err(ErrorKind::AlreadyExists));
        }
        let ino = self.alloc(Node::Special, wall);
        self.link(dir, name, ino, wall);
        Ok(())
    }

    /// Set the mtime of what `path` names (not following a last symlink),
    /// as `touch -d` does: the ctime moves to `wall`, the moment of the
    /// change, whatever mtime is asked for.
    pub fn set_mtime(&mut self, path: &Path, mtime: SystemTime, wall: SystemTime) -> io::Result<()> {
        let ino = self.walk(path, false)?;
        let inode = self.get_mut(ino);
        inode.mtime = mtime;
        inode.ctime = wall;
        Ok(())
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        match &self.get(self.walk(path, false)?).node {
            Node::Symlink { target } => Ok(target.clone()),
            _ => Err(err(ErrorKind::InvalidInput)),
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
        self.commit(false)
    }

    fn commit(&mut self, files_too: bool) {
        let all: Vec<Ino> = (0..self.inodes.len()).filter(|&i| self.inodes[i].is_some()).collect();
        for ino in all {
            // An earlier directory's commit may have freed this inode.
            if self.inodes[ino].is_some() {
                self.make_durable(ino, files_too);
            }
        }
    }

    /// A power loss: every directory reverts to its durable entries and every
    /// file to its durable data, except that with [`Torn::Prefix`] a file
    /// keeps `durable + unsynced[..k]` where `k = keep(unsynced_len)` when its
    /// live data extends its durable data. Returns how many files were torn.
    pub fn power_loss(&mut self, torn: Torn, keep: &mut dyn FnMut(usize) -> usize) -> u64 {
        let mut torn_files = 0;
        let mut dir_changes: Vec<(Vec<Ino>, Vec<Ino>)> = Vec::new();
        for slot in self.inodes.iter_mut().flatten() {
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
                            torn_files += 1;
                        }
                    } else {
                        data.clone_from(durable);
                    }
                    durable.clone_from(data);
                }
                Node::Dir { live, durable } => {
                    let gone: Vec<Ino> = live.values().copied().collect();
                    let back: Vec<Ino> = durable.values().copied().collect();
                    live.clone_from(durable);
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
        torn_files
    }

    /// Every entry reachable from the root, depth first in name order.
    pub fn listing(&self) -> Vec<Listed> {
        let mut out = Vec::new();
        let mut stack = vec![(PathBuf::from("/"), ROOT)];
        while let Some((path, ino)) = stack.pop() {
            let Ok(entries) = self.entries(ino) else { continue };
            for (name, &child) in entries.iter().rev() {
                let p = path.join(name);
                if self.kind(child) == FileKind::Dir {
                    stack.push((p.clone(), child));
                }
                let (len, hash) = match &self.get(child).node {
                    Node::File { data, .. } => (data.len() as u64, hash_bytes(data)),
                    Node::Symlink { target } => {
                        (target.as_os_str().len() as u64, hash_bytes(target.as_os_str().as_encoded_bytes()))
                    }
                    Node::Dir { .. } | Node::Special => (0, 0),
                };
                out.push(Listed { path: p, kind: self.kind(child), len, hash });
            }
        }
        out.sort();
        out
    }

    /// Number of live inodes (for leak checks).
    pub fn inode_count(&self) -> usize {
        self.inodes.len() - self.free.len()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Put {
    Truncate,
    Append,
    Exclusive,
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
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    steadfast_core::mix64((h ^ u64::from_le_bytes(tail)).wrapping_mul(K))
}
