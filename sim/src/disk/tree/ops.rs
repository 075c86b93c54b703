//! The tree's operations: what each `FsOp` does to the live image, as the
//! `Fs` contract in `core` states it.

use std::collections::BTreeMap;

use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use steadfast_core::{DirEntry, FileKind, FsOp, FsOutput, Metadata};

use super::{DIR_LEN, ELOOP, Entries, Ino, Name, Node, SYMLINK_HOPS_MAX, Tree, err, names};

/// Where a write lands: a new file in a directory, or an existing file.
pub(super) enum PutTarget {
    New(Ino, Name),
    File(Ino),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Put {
    Truncate,
    Append,
    Exclusive,
}

impl Tree {
    /// Apply one operation at wall-clock instant `wall`.
    pub fn apply(&mut self, op: &FsOp, wall: SystemTime) -> io::Result<FsOutput> {
        let unit = |r: io::Result<()>| r.map(|()| FsOutput::Unit);
        if let Some(e) = self.refuse_trailing_slash(op) {
            return Err(e);
        }
        match op {
            FsOp::CreateDirAll(p) => unit(self.create_dir_all(p, wall)),
            FsOp::Read(p) => self.read(p).map(FsOutput::Bytes),
            FsOp::Write { path, data } => unit(self.put(path, data, Put::Truncate, wall)),
            FsOp::Append { path, data } => unit(self.put(path, data, Put::Append, wall)),
            FsOp::CreateNew { path, data } => unit(self.put(path, data, Put::Exclusive, wall)),
            FsOp::Rename { from, to } => unit(self.rename(from, to, wall)),
            FsOp::RemoveFile(p) => unit(self.remove_file(p, wall)),
            FsOp::RemoveDir(p) => unit(self.remove_dir(p, wall)),
            FsOp::RemoveDirAll(p) => unit(self.remove_dir_all(p, wall).map(|_| ())),
            FsOp::ReadDir(p) => self.read_dir(p).map(FsOutput::Entries),
            FsOp::ReadDirMetadata(p) => self.read_dir_metadata(p).map(FsOutput::EntriesMetadata),
            FsOp::SymlinkMetadata(p) => self.metadata(p, false).map(FsOutput::Metadata),
            FsOp::Metadata(p) => self.metadata(p, true).map(FsOutput::Metadata),
            FsOp::SyncFile(p) => unit(self.sync(p, false)),
            FsOp::SyncDir(p) => unit(self.sync(p, true)),
            FsOp::Symlink { target, link } => unit(self.symlink(target, link, wall)),
            FsOp::ReadLink(p) => self.read_link(p).map(FsOutput::Path),
            FsOp::CreateDir(p) => unit(self.create_dir(p, wall)),
            FsOp::Open { path, mode } => self.open(path, *mode, wall).map(FsOutput::Handle),
            FsOp::ReadAt { handle, offset, len } => self.read_at(handle, *offset, *len).map(FsOutput::Bytes),
            FsOp::WriteAt { handle, at, data } => self.write_at(handle, *at, data, wall).map(FsOutput::Offset),
            FsOp::SetLen { handle, len } => unit(self.set_len(handle, *len, wall)),
            FsOp::SyncHandle { handle, .. } => unit(self.sync_handle(handle)),
            FsOp::HandleMetadata(handle) => self.handle_metadata(handle).map(FsOutput::Metadata),
            FsOp::StatAt { dir, path } => self.stat_at(dir, path).map(FsOutput::Metadata),
            FsOp::RemoveFileAt { dir, path } => unit(self.remove_file_at(dir, path, wall)),
            FsOp::Close(handle) => {
                self.close(handle.id);
                Ok(FsOutput::Unit)
            }
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
                // Missing, or a dangling symlink (which mkdir refuses).
                Err(e) if e.kind() == ErrorKind::NotFound => self.create_dir(&prefix, wall)?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// A path that ends in `/` names a directory: `open(O_CREAT)` of one is
    /// `EISDIR`, and reaching anything else through one is `ENOTDIR`.
    fn refuse_trailing_slash(&self, op: &FsOp) -> Option<io::Error> {
        let slashed = |p: &Path| {
            let b = p.as_os_str().as_encoded_bytes();
            b.len() > 1 && b.ends_with(b"/")
        };
        if op.handle().is_some() || !(slashed(op.path()) || op.second_path().is_some_and(slashed)) {
            return None;
        }
        let creates = matches!(op, FsOp::Write { .. } | FsOp::Append { .. } | FsOp::CreateNew { .. })
            || matches!(op, FsOp::Open { mode, .. } if mode.create || mode.create_new);
        if creates {
            return Some(err(ErrorKind::IsADirectory));
        }
        match self.walk(op.path(), true) {
            Ok(ino) if self.kind(ino) != FileKind::Dir => Some(err(ErrorKind::NotADirectory)),
            _ => None,
        }
    }

    fn create_dir(&mut self, path: &Path, wall: SystemTime) -> io::Result<()> {
        let (dir, name) = self.parent(path)?;
        if self.child(dir, &name).is_some() {
            return Err(err(ErrorKind::AlreadyExists));
        }
        let ino = self.alloc(Node::Dir { live: Entries::default(), durable: BTreeMap::new() }, wall);
        self.link(dir, name, ino, wall);
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
        self.file_bytes(path).map(<[u8]>::to_vec)
    }

    /// A file's bytes as they are now, borrowed (for checkers: a watcher
    /// reading a growing file after every append need not copy it).
    pub fn file_bytes(&self, path: &Path) -> io::Result<&[u8]> {
        match &self.get(self.walk(path, true)?).node {
            Node::File { data, .. } => Ok(data),
            Node::Special => Err(steadfast_core::fs::not_a_regular_file()),
            _ => Err(err(ErrorKind::IsADirectory)),
        }
    }

    /// Apply `ops` in order, as [`Tree::apply`] does one by one, stopping
    /// at the first that fails (returned with its error): a scenario's
    /// initial tree. A run of new files in one directory resolves that
    /// directory once, not once per file.
    pub fn apply_all(
        &mut self,
        ops: impl IntoIterator<Item = FsOp>,
        wall: SystemTime,
    ) -> Result<(), (FsOp, io::Error)> {
        // The directory the last new file went into, by the path that named it.
        let mut last: Option<(PathBuf, Ino)> = None;
        for op in ops {
            if let FsOp::Write { path, data } = &op
                && let (Some(parent), Some(name)) = crate::schedule::split_plain(path)
                    .map_or_else(|| (path.parent(), path.file_name()), |(dir, name)| (Some(dir), Some(name)))
                && let Some((_, dir)) = last.as_ref().filter(|(p, _)| p == parent)
                && self.child(*dir, name).is_none()
                && self.refuse_trailing_slash(&op).is_none()
            {
                let (dir, name) = (*dir, Name::from(name));
                let ino = self.alloc(Node::File { data: data.clone(), durable: Vec::new() }, wall);
                self.link(dir, name, ino, wall);
                continue;
            }
            if let Err(e) = self.apply(&op, wall) {
                return Err((op, e));
            }
            // Only a new file keeps the directory (nothing else changed the
            // way to it).
            last = match &op {
                FsOp::Write { path, .. } => match (path.parent(), self.parent(path)) {
                    (Some(p), Ok((dir, _))) => Some((p.to_path_buf(), dir)),
                    _ => None,
                },
                _ => None,
            };
        }
        Ok(())
    }

    fn put(&mut self, path: &Path, bytes: &[u8], how: Put, wall: SystemTime) -> io::Result<()> {
        match self.put_target(path, how, 0)? {
            PutTarget::New(dir, name) => {
                let ino = self.alloc(Node::File { data: bytes.to_vec(), durable: Vec::new() }, wall);
                self.link(dir, name, ino, wall);
            }
            PutTarget::File(ino) => {
                let inode = self.get_mut(ino);
                if let Node::File { data, .. } = &mut inode.node {
                    if how == Put::Truncate {
                        data.clear();
                    }
                    data.extend_from_slice(bytes);
                }
                inode.mtime = wall;
                inode.ctime = wall;
            }
        }
        Ok(())
    }

    /// Where a write-like operation on `path` would land, or the error it
    /// would fail with, changing nothing.
    pub(super) fn put_target(&self, path: &Path, how: Put, hops: u32) -> io::Result<PutTarget> {
        let (dir, name) = self.parent(path)?;
        let Some(ino) = self.child(dir, &name) else { return Ok(PutTarget::New(dir, name)) };
        if how == Put::Exclusive {
            return Err(err(ErrorKind::AlreadyExists));
        }
        match &self.get(ino).node {
            Node::File { .. } => Ok(PutTarget::File(ino)),
            Node::Dir { .. } => Err(err(ErrorKind::IsADirectory)),
            // Writing into a FIFO would block for a reader: refused, as
            // nothing in `core` writes anything but regular files.
            Node::Special => Err(steadfast_core::fs::not_a_regular_file()),
            Node::Symlink { target } => {
                // open(O_CREAT) follows the link, creating a missing target.
                if hops >= SYMLINK_HOPS_MAX {
                    return Err(io::Error::from_raw_os_error(ELOOP));
                }
                let target = path.parent().unwrap_or(Path::new("/")).join(target);
                self.put_target(&target, how, hops + 1)
            }
        }
    }

    /// For a write, append or exclusive create: the length of the file it
    /// would replace or extend (0 for a new one), or the error it would
    /// fail with, changing nothing. `None` for any other operation.
    pub fn put_len(&self, op: &FsOp) -> Option<io::Result<u64>> {
        let (path, how) = match op {
            FsOp::Write { path, .. } => (path, Put::Truncate),
            FsOp::Append { path, .. } => (path, Put::Append),
            FsOp::CreateNew { path, .. } => (path, Put::Exclusive),
            _ => return None,
        };
        Some(self.put_target(path, how, 0).map(|t| match t {
            PutTarget::New(..) => 0,
            PutTarget::File(ino) => match &self.get(ino).node {
                Node::File { data, .. } => data.len() as u64,
                _ => 0,
            },
        }))
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
        self.unlink_file(dir, &name, wall)
    }

    /// `unlink(2)` of `name` in directory `dir`: a directory is refused.
    pub(super) fn unlink_file(&mut self, dir: Ino, name: &std::ffi::OsStr, wall: SystemTime) -> io::Result<()> {
        let ino = self.child(dir, name).ok_or_else(|| err(ErrorKind::NotFound))?;
        if self.kind(ino) == FileKind::Dir {
            return Err(err(ErrorKind::IsADirectory));
        }
        self.unlink(dir, name, wall);
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
        let children: Vec<(Name, Ino)> =
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
        fn count(t: &Tree, ino: Ino, seen: &mut std::collections::BTreeSet<Ino>) -> u64 {
            if !seen.insert(ino) {
                return 0; // a directory cycle a power loss left (see `live_bytes`)
            }
            let children = t.entries(ino).map(|e| e.values().collect::<Vec<_>>()).unwrap_or_default();
            1 + children
                .into_iter()
                .map(|c| if t.kind(c) == FileKind::Dir { count(t, c, seen) } else { 1 })
                .sum::<u64>()
        }
        match self.walk(path, false) {
            Ok(ino) if self.kind(ino) == FileKind::Dir => count(self, ino, &mut Default::default()),
            _ => 1,
        }
    }

    /// Each entry of the directory at `path` (followed), in name order,
    /// made into what a listing says of it.
    fn list<T>(&self, path: &Path, each: impl Fn(DirEntry, Ino) -> T) -> io::Result<Vec<T>> {
        let dir = self.walk(path, true)?;
        let entries = self.entries(dir)?.iter();
        Ok(entries
            .map(|(name, &ino)| each(DirEntry { name: name.to_os_string(), kind: self.kind(ino) }, ino))
            .collect())
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        self.list(path, |entry, _| entry)
    }

    /// The listing and each entry's metadata, at one instant: no entry can
    /// go between the two, so every entry has its metadata.
    fn read_dir_metadata(&self, path: &Path) -> io::Result<Vec<(DirEntry, Option<Metadata>)>> {
        self.list(path, |entry, ino| (entry, Some(self.inode_metadata(ino))))
    }

    pub(crate) fn metadata(&self, path: &Path, follow: bool) -> io::Result<Metadata> {
        Ok(self.inode_metadata(self.walk(path, follow)?))
    }

    pub(super) fn inode_metadata(&self, ino: Ino) -> Metadata {
        let inode = self.get(ino);
        let len = match &inode.node {
            Node::File { data, .. } => data.len() as u64,
            Node::Dir { .. } => DIR_LEN,
            Node::Symlink { target } => target.as_os_str().len() as u64,
            Node::Special => 0,
        };
        let (mtime, ctime) = self.slots.times(ino).expect("SimFs: dangling inode");
        Metadata::new(self.kind(ino), len, mtime, ctime, ino as u64)
    }

    fn sync(&mut self, path: &Path, dir_only: bool) -> io::Result<()> {
        let ino = self.walk(path, true)?;
        match self.kind(ino) {
            // A real fsync opens the path first, which a FIFO would block:
            // refused, as every adapter refuses a special file.
            FileKind::Special => Err(steadfast_core::fs::not_a_regular_file()),
            FileKind::File if dir_only => Err(err(ErrorKind::NotADirectory)),
            _ => {
                self.make_durable(ino, true);
                Ok(())
            }
        }
    }

    /// Copy a file's live data (if `files_too`) or a directory's live
    /// entries to its durable image, moving the durable references.
    pub(super) fn make_durable(&mut self, ino: Ino, files_too: bool) {
        // Already durable: nothing to copy, and no inode of an image to
        // copy into this tree (a journal commit looks at every directory).
        match &self.get(ino).node {
            Node::File { data, durable } if data == durable || !files_too => return,
            Node::Dir { live, durable } if live.sorted() == durable => return,
            _ => {}
        }
        let (added, removed) = match &mut self.get_mut(ino).node {
            Node::File { data, durable } => {
                durable.clone_from(data);
                return;
            }
            Node::Dir { live, durable } => {
                let added: Vec<Ino> = live.values().collect();
                let removed: Vec<Ino> = durable.values().copied().collect();
                durable.clone_from(live.sorted());
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
}
