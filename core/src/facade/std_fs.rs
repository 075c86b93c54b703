//! A `std::fs`-shaped facade: the blocking twin of
//! [`tokio_fs`](crate::tokio_fs), with `File` implementing `std::io`'s
//! `Read`, `Write` and `Seek`. Every call blocks the calling thread; inside
//! a steadfast simulation it stalls every task of the calling node for the
//! operation's latency, as a blocking call in an async server stalls its
//! event loop. Code switches by changing its `use` lines:
//!
//! ```
//! // use std::fs::{self, File, OpenOptions};
//! use steadfast_core::std_fs::{self as fs, File, OpenOptions};
//! use std::io::Write;
//!
//! fn crash_note(dir: &std::path::Path, note: &str) -> std::io::Result<()> {
//!     let mut f = OpenOptions::new().append(true).create(true).open(dir.join("crash.log"))?;
//!     f.write_all(note.as_bytes())?;
//!     f.sync_data()
//! }
//! ```
//!
//! Differences from `std::fs` as in [`tokio_fs`](crate::tokio_fs).

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Entry, open_mode_setters};
use crate::ambient;
/// What `file_type` returns here: `is_file`, `is_dir`, `is_symlink` as std's `FileType`.
pub use crate::fs::FileKind as FileType;
/// What `metadata` returns here (std's `Metadata` cannot be built outside std).
pub use crate::fs::Metadata;
use crate::fs::{FileKind, Fs, FsExt, FsOp, Handle, OpenMode};

/// Read a whole file.
pub fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    ambient::current()?.read_blocking(path)
}

/// Read a whole file as UTF-8.
pub fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    super::utf8(read(path)?)
}

/// Create or truncate a file, then write `contents` (not synced).
pub fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    ambient::current()?.write_blocking(path, contents.as_ref().to_vec())
}

/// Create one directory.
pub fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    ambient::current()?.create_dir_blocking(path)
}

/// Create a directory and every missing parent.
pub fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    ambient::current()?.create_dir_all_blocking(path)
}

/// Remove a file or symlink.
pub fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    ambient::current()?.remove_file_blocking(path)
}

/// Remove an empty directory.
pub fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    ambient::current()?.remove_dir_blocking(path)
}

/// Remove a directory tree, never following symlinks.
pub fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    ambient::current()?.remove_dir_all_blocking(path)
}

/// Rename atomically, replacing the destination.
pub fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    ambient::current()?.rename_blocking(from, to)
}

/// Metadata after following symlinks.
pub fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    ambient::current()?.metadata_blocking(path)
}

/// Metadata of the entry itself.
pub fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    ambient::current()?.symlink_metadata_blocking(path)
}

/// Does the path lead somewhere (following symlinks)?
pub fn exists(path: impl AsRef<Path>) -> io::Result<bool> {
    super::exists(metadata(path))
}

/// Copy a file's content; the number of bytes copied.
pub fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let fs = ambient::current()?;
    let bytes = fs.read_blocking(from)?;
    let n = bytes.len() as u64;
    fs.write_blocking(to, bytes)?;
    Ok(n)
}

/// Create a symlink at `link` pointing to `target`
/// (`std::os::unix::fs::symlink`).
pub fn symlink(target: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    ambient::current()?.symlink_blocking(target, link)
}

/// A symlink's target.
pub fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    ambient::current()?.read_link_blocking(path)
}

/// Make a directory's entries durable (`File::open(dir)?.sync_all()`
/// works too).
pub fn sync_dir(path: impl AsRef<Path>) -> io::Result<()> {
    ambient::current()?.sync_dir_blocking(path)
}

/// List a directory (a snapshot taken by this call, sorted by name).
pub fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref();
    let entries = ambient::current()?.read_dir_blocking(path)?;
    Ok(ReadDir(Entry::list(path, entries)))
}

/// A directory listing, as `std::fs::ReadDir`.
#[derive(Debug)]
pub struct ReadDir(std::vec::IntoIter<Entry>);

impl Iterator for ReadDir {
    type Item = io::Result<DirEntry>;
    fn next(&mut self) -> Option<io::Result<DirEntry>> {
        self.0.next().map(|e| Ok(DirEntry(e)))
    }
}

/// One entry of a listing, as `std::fs::DirEntry`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry(Entry);

impl DirEntry {
    /// The full path: the listed directory joined with the name.
    pub fn path(&self) -> PathBuf {
        self.0.path()
    }
    /// The entry's name.
    pub fn file_name(&self) -> std::ffi::OsString {
        self.0.file_name()
    }
    /// The entry's kind, not following symlinks.
    pub fn file_type(&self) -> io::Result<FileKind> {
        Ok(self.0.kind())
    }
    /// The entry's metadata, not following symlinks.
    pub fn metadata(&self) -> io::Result<Metadata> {
        symlink_metadata(self.path())
    }
}

/// How to open a file, as `std::fs::OpenOptions`.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions(OpenMode);

impl OpenOptions {
    open_mode_setters!();

    /// Open `path` with these options.
    pub fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        File::open_with(self.0, path.as_ref())
    }
}

/// An open file, as `std::fs::File`: `Read`, `Write` and `Seek` for
/// `File` and `&File` (the cursor is shared, as a descriptor's is).
pub struct File {
    fs: Arc<dyn Fs>,
    handle: Handle,
    pos: AtomicU64,
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("File").field("path", &self.handle.path).field("id", &self.handle.id).finish()
    }
}

impl File {
    /// Open for reading.
    pub fn open(path: impl AsRef<Path>) -> io::Result<File> {
        File::open_with(OpenMode::READ, path.as_ref())
    }

    /// Create or truncate, for writing.
    pub fn create(path: impl AsRef<Path>) -> io::Result<File> {
        File::open_with(OpenMode::CREATE, path.as_ref())
    }

    /// Create, failing if anything is at the path; for reading and writing.
    pub fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        File::open_with(OpenMode::CREATE_NEW, path.as_ref())
    }

    /// Options to open with.
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    fn open_with(mode: OpenMode, path: &Path) -> io::Result<File> {
        let fs = ambient::current()?;
        let handle = fs.open_blocking(path, mode)?;
        Ok(File { fs, handle, pos: AtomicU64::new(0) })
    }

    /// `fsync`: the file's data and metadata are durable.
    pub fn sync_all(&self) -> io::Result<()> {
        self.fs.sync_handle_blocking(&self.handle, false)
    }

    /// `fdatasync`: the file's data is durable.
    pub fn sync_data(&self) -> io::Result<()> {
        self.fs.sync_handle_blocking(&self.handle, true)
    }

    /// Cut or zero-extend the file; the cursor stays where it is.
    pub fn set_len(&self, len: u64) -> io::Result<()> {
        self.fs.set_len_blocking(&self.handle, len)
    }

    /// Metadata of the open file.
    pub fn metadata(&self) -> io::Result<Metadata> {
        self.fs.handle_metadata_blocking(&self.handle)
    }

    /// Read into `buf` from `offset` without moving the cursor (`pread`).
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let bytes = self.fs.read_at_blocking(&self.handle, offset, buf.len() as u64)?;
        buf[..bytes.len()].copy_from_slice(&bytes);
        Ok(bytes.len())
    }

    /// Write all of `buf` at `offset` without moving the cursor (`pwrite`;
    /// at the end for a file opened to append).
    pub fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.fs.write_at_blocking(&self.handle, offset, buf.to_vec()).map(|_| ())
    }
}

impl Read for &File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let pos = self.pos.load(Ordering::Relaxed);
        let n = self.read_at(buf, pos)?;
        self.pos.store(pos + n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl Write for &File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let end = self.fs.write_at_blocking(&self.handle, self.pos.load(Ordering::Relaxed), buf.to_vec())?;
        self.pos.store(end, Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for &File {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let len = match to {
            SeekFrom::End(_) => Some(self.metadata()?.len),
            _ => None,
        };
        let pos = super::seek_target(self.pos.load(Ordering::Relaxed), len, to)?;
        self.pos.store(pos, Ordering::Relaxed);
        Ok(pos)
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for File {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        (&*self).seek(to)
    }
}

impl Drop for File {
    fn drop(&mut self) {
        let _ = self.fs.exec_blocking(FsOp::Close(self.handle.clone()));
    }
}
