//! Open files: what a [`Handle`] names in the tree. A handle holds a
//! reference to its inode, so a file renamed or unlinked while open stays
//! readable and writable through it, as a descriptor does. Operations in
//! flight through a handle pin it: a close while they are queued takes
//! effect when the last of them has landed (the kernel finishes a system
//! call before the descriptor goes).

use std::collections::BTreeMap;
use std::io::{self, ErrorKind};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use steadfast_core::{FileKind, Handle, Metadata, OpenMode};

use super::ops::{Put, PutTarget};
use super::{Ino, Node, Tree, err};

/// One open file description.
#[derive(Clone, Debug)]
pub(super) struct OpenFile {
    ino: Ino,
    mode: OpenMode,
    /// Operations through it that are queued and not yet landed.
    pins: u32,
    /// Closed by its owner; gone once unpinned.
    closed: bool,
}

/// The open files of a tree.
#[derive(Clone, Debug, Default)]
pub(super) struct Handles {
    open: BTreeMap<u64, OpenFile>,
    next: u64,
}

impl Handles {
    /// Nothing open.
    pub(super) fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

/// A handle that is closed, was never opened, or lacks the access asked.
pub(crate) fn ebadf() -> io::Error {
    io::Error::from_raw_os_error(9)
}

/// The largest file the simulated disk holds: a write or `set_len` past it
/// fails with `EFBIG`. Real file systems keep a far-off write sparse; this
/// one keeps every byte in memory, and a seek to 1 TiB must not exhaust
/// the machine that runs the simulation.
pub const FILE_LEN_MAX: u64 = 1 << 30;

// Offsets below the limit index memory on every platform the simulator runs on.
const _: () = assert!(FILE_LEN_MAX <= usize::MAX as u64);

fn efbig() -> io::Error {
    io::Error::from_raw_os_error(27)
}

impl Tree {
    pub(super) fn open(&mut self, path: &Path, mode: OpenMode, wall: SystemTime) -> io::Result<Handle> {
        mode.check()?;
        // O_NOFOLLOW: a symlink as the last component is refused, dangling
        // or not, whatever else the mode asks (an exclusive create names
        // an existing entry first: EEXIST, as Linux answers).
        // (A trailing slash or `/.` makes the last name a directory to
        // resolve, which Linux follows even then.)
        let b = path.as_os_str().as_encoded_bytes();
        if mode.no_follow
            && !mode.create_new
            && !(b.ends_with(b"/") || b.ends_with(b"/."))
            && self.walk(path, false).is_ok_and(|ino| self.kind(ino) == FileKind::Symlink)
        {
            // Asked for a directory, a symlink is no directory (Linux
            // checks `O_DIRECTORY` before `O_NOFOLLOW`).
            return Err(if mode.directory {
                err(ErrorKind::NotADirectory)
            } else {
                io::Error::from_raw_os_error(super::ELOOP)
            });
        }
        let ino = if mode.create || mode.create_new {
            let how = if mode.create_new { Put::Exclusive } else { Put::Append };
            match self.put_target(path, how, 0)? {
                PutTarget::New(dir, name) => {
                    let ino = self.alloc(Node::File { data: Vec::new(), durable: Vec::new() }, wall);
                    self.link(dir, name, ino, wall);
                    ino
                }
                PutTarget::File(ino) => ino,
            }
        } else {
            self.walk(path, true)?
        };
        match self.kind(ino) {
            FileKind::Dir if mode.writes() => return Err(err(ErrorKind::IsADirectory)),
            kind if mode.directory && kind != FileKind::Dir => return Err(err(ErrorKind::NotADirectory)),
            FileKind::Special => {
                return Err(steadfast_core::fs::not_a_regular_file());
            }
            _ => {}
        }
        if mode.truncate {
            let inode = self.get_mut(ino);
            if let Node::File { data, .. } = &mut inode.node
                && !data.is_empty()
            {
                data.clear();
                inode.mtime = wall;
                inode.ctime = wall;
            }
        }
        self.incref(ino);
        let id = self.handles.next;
        self.handles.next += 1;
        self.handles.open.insert(id, OpenFile { ino, mode, pins: 0, closed: false });
        Ok(Handle { id, path: Arc::from(path), append: mode.append })
    }

    /// The open file behind `h`, if it is open (or closed with operations
    /// still in flight).
    fn open_file(&self, h: &Handle) -> io::Result<&OpenFile> {
        self.handles.open.get(&h.id).ok_or_else(ebadf)
    }

    pub(super) fn read_at(&self, h: &Handle, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        let f = self.open_file(h)?;
        if !f.mode.read {
            return Err(ebadf());
        }
        match &self.get(f.ino).node {
            Node::File { data, .. } => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(data.len());
                let end = start.saturating_add(usize::try_from(len).unwrap_or(usize::MAX)).min(data.len());
                Ok(data[start..end].to_vec())
            }
            _ => Err(err(ErrorKind::IsADirectory)),
        }
    }

    /// Where a write through `h` would start and the file's length now.
    pub(crate) fn write_span(&self, h: &Handle, at: u64) -> io::Result<(u64, u64)> {
        let f = self.open_file(h)?;
        if !f.mode.writes() {
            return Err(ebadf());
        }
        let len = match &self.get(f.ino).node {
            Node::File { data, .. } => data.len() as u64,
            _ => return Err(ebadf()),
        };
        Ok((if f.mode.append { len } else { at }, len))
    }

    pub(super) fn write_at(&mut self, h: &Handle, at: u64, bytes: &[u8], wall: SystemTime) -> io::Result<u64> {
        let (start, _) = self.write_span(h, at)?;
        if bytes.is_empty() {
            // pwrite of nothing changes nothing, not even the length.
            return Ok(start);
        }
        let end = start.checked_add(bytes.len() as u64).filter(|&e| e <= FILE_LEN_MAX).ok_or_else(efbig)?;
        let (start_idx, end_idx) = (start as usize, end as usize);
        let ino = self.open_file(h)?.ino;
        let inode = self.get_mut(ino);
        if let Node::File { data, .. } = &mut inode.node {
            if data.len() < end_idx {
                data.resize(end_idx, 0);
            }
            data[start_idx..end_idx].copy_from_slice(bytes);
        }
        inode.mtime = wall;
        inode.ctime = wall;
        Ok(end)
    }

    pub(super) fn set_len(&mut self, h: &Handle, len: u64, wall: SystemTime) -> io::Result<()> {
        let f = self.open_file(h)?;
        if !f.mode.writes() {
            return Err(err(ErrorKind::InvalidInput));
        }
        if len > FILE_LEN_MAX {
            return Err(efbig());
        }
        let len = len as usize;
        let inode = self.get_mut(f.ino);
        if let Node::File { data, .. } = &mut inode.node {
            data.resize(len, 0);
        }
        inode.mtime = wall;
        inode.ctime = wall;
        Ok(())
    }

    pub(super) fn sync_handle(&mut self, h: &Handle) -> io::Result<()> {
        let ino = self.open_file(h)?.ino;
        self.make_durable(ino, true);
        Ok(())
    }

    pub(crate) fn handle_metadata(&self, h: &Handle) -> io::Result<Metadata> {
        Ok(self.inode_metadata(self.open_file(h)?.ino))
    }

    /// The entry `path` names in the open directory `dir` (see
    /// [`steadfast_core::fs::entry_name`]): the directory's inode and the
    /// name, wherever that directory is now.
    fn entry_at<'p>(&self, dir: &Handle, path: &'p Path) -> io::Result<(Ino, &'p std::ffi::OsStr)> {
        let name = steadfast_core::fs::entry_name(dir, path)?;
        let ino = self.open_file(dir)?.ino;
        self.entries(ino)?;
        if name.len() > super::NAME_MAX {
            return Err(super::name_too_long());
        }
        Ok((ino, name))
    }

    /// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`.
    pub(crate) fn stat_at(&self, dir: &Handle, path: &Path) -> io::Result<Metadata> {
        let (d, name) = self.entry_at(dir, path)?;
        let ino = self.child(d, name).ok_or_else(|| err(ErrorKind::NotFound))?;
        Ok(self.inode_metadata(ino))
    }

    /// `unlinkat(dir, name, 0)`: a directory is refused.
    pub(super) fn remove_file_at(&mut self, dir: &Handle, path: &Path, wall: SystemTime) -> io::Result<()> {
        let (d, name) = self.entry_at(dir, path)?;
        self.unlink_file(d, name, wall)
    }

    /// Close `h`: at once, or when its last operation in flight lands.
    pub fn close(&mut self, id: u64) {
        let Some(f) = self.handles.open.get_mut(&id) else { return };
        f.closed = true;
        if f.pins == 0 {
            self.forget(id);
        }
    }

    fn forget(&mut self, id: u64) {
        if let Some(f) = self.handles.open.remove(&id) {
            self.decref(f.ino);
        }
    }

    /// An operation through `id` was queued: pin the handle, unless it is
    /// unknown or closed (then the operation fails with `EBADF` when it
    /// lands). Whether it pinned.
    pub fn pin(&mut self, id: u64) -> bool {
        match self.handles.open.get_mut(&id).filter(|f| !f.closed) {
            Some(f) => {
                f.pins += 1;
                true
            }
            None => false,
        }
    }

    /// An operation through `id` landed (or was lost).
    pub fn unpin(&mut self, id: u64) {
        let Some(f) = self.handles.open.get_mut(&id) else { return };
        assert!(f.pins > 0, "a handle was unpinned more often than pinned");
        f.pins -= 1;
        if f.closed && f.pins == 0 {
            self.forget(id);
        }
    }

    /// Every process died (a power loss): every handle is gone.
    pub fn close_all(&mut self) {
        let ids: Vec<u64> = self.handles.open.keys().copied().collect();
        ids.into_iter().for_each(|id| self.forget(id));
    }

    /// Open handles (for leak checks).
    pub fn open_handles(&self) -> usize {
        self.handles.open.len()
    }
}
