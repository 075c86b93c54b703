//! A `tokio::fs`-shaped facade: the same free functions, `File` and
//! `OpenOptions`, with `File` implementing tokio's `AsyncRead`,
//! `AsyncWrite` and `AsyncSeek`. In production it runs on the real file
//! system (feature `real`: the same std calls `tokio::fs` makes, on tokio's
//! blocking pool); inside a steadfast simulation on the simulated one, with
//! its whole fault model (latency windows, effects landing inside them,
//! power loss that keeps only what was synced, torn writes, injected
//! errors). Code switches by changing its `use` lines:
//!
//! ```
//! // use tokio::fs::{self, File, OpenOptions};
//! use steadfast_core::tokio_fs::{self as fs, File, OpenOptions};
//! use tokio::io::AsyncWriteExt;
//!
//! async fn save(dir: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
//!     let tmp = dir.join("state.tmp");
//!     let mut f = File::create(&tmp).await?;
//!     f.write_all(bytes).await?;
//!     f.sync_all().await?;
//!     fs::rename(&tmp, dir.join("state")).await?;
//!     fs::sync_dir(dir).await // tokio has no sync_dir: File::open(dir) + sync_all works too
//! }
//! ```
//!
//! Like tokio's, a write is accepted at once and runs in the background;
//! the next operation on the file (a flush, a sync, a read, a seek) waits
//! for it and reports its error.
//!
//! # Differences from `tokio::fs` and `std::fs`
//!
//! - [`Metadata`] and [`FileType`] are this crate's (std's cannot be built
//!   outside std): `len`, `is_file`, `is_dir`, `is_symlink`, `modified`,
//!   `file_type`; no `created`, `accessed` or `permissions`.
//! - Not offered: permissions and modes (`set_permissions`,
//!   `OpenOptionsExt::mode`), hard links, `canonicalize`, `set_modified`,
//!   `File::try_clone`, `into_std`/`from_std`, `set_max_buf_size`,
//!   `DirEntry::ino`.
//! - Paths inside a simulation are absolute (a relative one is
//!   `InvalidInput`: a simulated process has no working directory).
//! - `read_dir` lists in name order, in production too.
//! - `Path::exists`, `Path::metadata`, `Path::is_file` and every other
//!   `std::path` helper that touches the disk go to the real one, never
//!   through this facade: use [`try_exists`] and [`metadata`].

use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};

use super::{Entry, open_mode_setters};
use crate::ambient;
/// What `file_type` returns here: `is_file`, `is_dir`, `is_symlink` as std's `FileType`.
pub use crate::fs::FileKind as FileType;
/// What `metadata` returns here (std's `Metadata` cannot be built outside std).
pub use crate::fs::Metadata;
use crate::fs::{BoxFuture, FileKind, Fs, FsExt, FsOp, FsOutput, Handle, OpenMode};

/// Read a whole file.
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    ambient::current()?.read(path).await
}

/// Read a whole file as UTF-8.
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    super::utf8(read(path).await?)
}

/// Create or truncate a file, then write `contents` (not synced).
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    ambient::current()?.write(path, contents.as_ref().to_vec()).await
}

/// Create one directory.
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    ambient::current()?.create_dir(path).await
}

/// Create a directory and every missing parent.
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    ambient::current()?.create_dir_all(path).await
}

/// Remove a file or symlink.
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    ambient::current()?.remove_file(path).await
}

/// Remove an empty directory.
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    ambient::current()?.remove_dir(path).await
}

/// Remove a directory tree, never following symlinks.
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    ambient::current()?.remove_dir_all(path).await
}

/// Rename atomically, replacing the destination.
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    ambient::current()?.rename(from, to).await
}

/// Metadata after following symlinks.
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    ambient::current()?.metadata(path).await
}

/// Metadata of the entry itself.
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    ambient::current()?.symlink_metadata(path).await
}

/// Does the path lead somewhere (following symlinks)?
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    super::exists(metadata(path).await)
}

/// Copy a file's content; the number of bytes copied.
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    super::copy(&ambient::current()?, from.as_ref(), to.as_ref()).await
}

/// Create a symlink at `link` pointing to `target` (`tokio::fs::symlink`).
pub async fn symlink(target: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    ambient::current()?.symlink(target, link).await
}

/// A symlink's target.
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    ambient::current()?.read_link(path).await
}

/// Make a directory's entries durable (creates, renames and removals in
/// it survive a power loss). Not in `tokio::fs`, where it is
/// `File::open(dir).await?.sync_all().await`, which works here too.
pub async fn sync_dir(path: impl AsRef<Path>) -> io::Result<()> {
    ambient::current()?.sync_dir(path).await
}

/// List a directory (a snapshot taken by this call, sorted by name).
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref();
    let entries = ambient::current()?.read_dir(path).await?;
    Ok(ReadDir(Entry::list(path, entries)))
}

/// A directory listing, as `tokio::fs::ReadDir`.
#[derive(Debug)]
pub struct ReadDir(std::vec::IntoIter<Entry>);

impl ReadDir {
    /// The next entry, `None` at the end.
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        Ok(self.0.next().map(DirEntry))
    }
}

/// One entry of a listing, as `tokio::fs::DirEntry`.
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
    pub async fn file_type(&self) -> io::Result<FileKind> {
        Ok(self.0.kind())
    }
    /// The entry's metadata, not following symlinks.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        symlink_metadata(self.path()).await
    }
}

/// How to open a file, as `tokio::fs::OpenOptions`.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions(OpenMode);

impl OpenOptions {
    open_mode_setters!();

    /// Open `path` with these options.
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        File::open_with(self.0, path.as_ref()).await
    }
}

/// What a file's operation in flight was for.
enum Kind {
    Read,
    /// A write accepted already: its error goes to the next operation.
    Write,
    /// A seek from the end, waiting for the file's length.
    SeekEnd(i64),
}

struct Busy {
    kind: Kind,
    fut: BoxFuture<'static, io::Result<FsOutput>>,
}

#[derive(Default)]
struct State {
    pos: u64,
    busy: Option<Busy>,
    /// The error of a write accepted earlier, for the next operation.
    deferred: Option<io::Error>,
    /// A seek started and not yet completed.
    seek: Option<SeekFrom>,
}

/// An open file, as `tokio::fs::File`.
pub struct File {
    fs: Arc<dyn Fs>,
    handle: Handle,
    state: Mutex<State>,
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("File").field("path", &self.handle.path).field("id", &self.handle.id).finish()
    }
}

impl File {
    /// Open for reading.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        File::open_with(OpenMode::READ, path.as_ref()).await
    }

    /// Create or truncate, for writing.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        File::open_with(OpenMode::CREATE, path.as_ref()).await
    }

    /// Create, failing if anything is at the path; for reading and writing.
    pub async fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        File::open_with(OpenMode::CREATE_NEW, path.as_ref()).await
    }

    /// Options to open with.
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    async fn open_with(mode: OpenMode, path: &Path) -> io::Result<File> {
        let fs = ambient::current()?;
        let handle = fs.open(path, mode).await?;
        Ok(File { fs, handle, state: Mutex::new(State::default()) })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a cursor and an operation slot: a panic elsewhere
        // cannot leave it half-changed.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn state_mut(&mut self) -> &mut State {
        self.state.get_mut().unwrap_or_else(|p| p.into_inner())
    }

    fn start(&self, op: FsOp) -> BoxFuture<'static, io::Result<FsOutput>> {
        let fs = self.fs.clone();
        Box::pin(async move { fs.exec(op).await })
    }

    /// Wait for the operation in flight and report a deferred error.
    async fn settle(&self) -> io::Result<()> {
        std::future::poll_fn(|cx| poll_settle(&mut self.lock(), cx)).await;
        self.lock().deferred.take().map_or(Ok(()), Err)
    }

    /// `fsync`: the file's data and metadata are durable.
    pub async fn sync_all(&self) -> io::Result<()> {
        self.settle().await?;
        self.fs.sync_handle(&self.handle, false).await
    }

    /// `fdatasync`: the file's data is durable.
    pub async fn sync_data(&self) -> io::Result<()> {
        self.settle().await?;
        self.fs.sync_handle(&self.handle, true).await
    }

    /// Cut or zero-extend the file; the cursor stays where it is.
    pub async fn set_len(&self, len: u64) -> io::Result<()> {
        self.settle().await?;
        self.fs.set_len(&self.handle, len).await
    }

    /// Metadata of the open file.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        self.settle().await?;
        self.fs.handle_metadata(&self.handle).await
    }

    /// Read into `buf` from `offset` without moving the cursor (`pread`);
    /// fewer bytes only at the end of the file.
    pub async fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.settle().await?;
        let bytes = self.fs.read_at(&self.handle, offset, buf.len() as u64).await?;
        buf[..bytes.len()].copy_from_slice(&bytes);
        Ok(bytes.len())
    }

    /// Write all of `buf` at `offset` without moving the cursor (`pwrite`;
    /// at the end for a file opened to append).
    pub async fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.settle().await?;
        self.fs.write_at(&self.handle, offset, buf.to_vec()).await.map(|_| ())
    }
}

/// Drive the operation in flight to its end and book its result.
fn poll_settle(st: &mut State, cx: &mut Context<'_>) -> Poll<()> {
    let Some(busy) = st.busy.as_mut() else { return Poll::Ready(()) };
    let out = ready!(busy.fut.as_mut().poll(cx));
    let Some(Busy { kind, .. }) = st.busy.take() else { return Poll::Ready(()) };
    match (kind, out) {
        // A read nobody waits for any more: its bytes are dropped and the
        // cursor stays.
        (Kind::Read, _) => {}
        (Kind::Write, Ok(FsOutput::Offset(end))) => {
            st.pos = end;
        }
        (Kind::SeekEnd(delta), Ok(FsOutput::Metadata(m))) => {
            match super::seek_target(st.pos, Some(m.len), SeekFrom::End(delta)) {
                Ok(pos) => st.pos = pos,
                Err(e) => st.deferred = Some(e),
            }
        }
        (_, Err(e)) => st.deferred = Some(e),
        (_, Ok(other)) => st.deferred = Some(crate::fs::unexpected("a file operation", other)),
    }
    Poll::Ready(())
}

impl AsyncRead for File {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            let st = this.state.get_mut().unwrap_or_else(|p| p.into_inner());
            if let Some(Busy { kind: Kind::Read, fut }) = st.busy.as_mut() {
                let out = ready!(fut.as_mut().poll(cx));
                st.busy = None;
                let bytes = match out {
                    Ok(FsOutput::Bytes(b)) => b,
                    Ok(other) => return Poll::Ready(Err(crate::fs::unexpected("read", other))),
                    Err(e) => return Poll::Ready(Err(e)),
                };
                let n = bytes.len().min(buf.remaining());
                buf.put_slice(&bytes[..n]);
                st.pos += n as u64;
                return Poll::Ready(Ok(()));
            }
            ready!(poll_settle(st, cx));
            if let Some(e) = st.deferred.take() {
                return Poll::Ready(Err(e));
            }
            if buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            let op = FsOp::ReadAt { handle: this.handle.clone(), offset: st.pos, len: buf.remaining() as u64 };
            let fut = this.start(op);
            this.state_mut().busy = Some(Busy { kind: Kind::Read, fut });
        }
    }
}

impl AsyncWrite for File {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let st = this.state_mut();
        ready!(poll_settle(st, cx));
        if let Some(e) = st.deferred.take() {
            return Poll::Ready(Err(e));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let at = st.pos;
        let op = FsOp::WriteAt { handle: this.handle.clone(), at, data: buf.to_vec() };
        let mut fut = this.start(op);
        let append = this.handle.append;
        // Begin the write now: it lands even if the file is dropped before
        // the next operation, as a write accepted by tokio's File does.
        let st = this.state_mut();
        match fut.as_mut().poll(cx) {
            Poll::Ready(Ok(FsOutput::Offset(end))) => st.pos = end,
            Poll::Ready(Ok(other)) => st.deferred = Some(crate::fs::unexpected("write", other)),
            Poll::Ready(Err(e)) => st.deferred = Some(e),
            Poll::Pending => {
                if !append {
                    st.pos = at + buf.len() as u64;
                }
                st.busy = Some(Busy { kind: Kind::Write, fut });
            }
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let st = self.state_mut();
        ready!(poll_settle(st, cx));
        Poll::Ready(st.deferred.take().map_or(Ok(()), Err))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl AsyncSeek for File {
    fn start_seek(mut self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        let st = self.state_mut();
        if st.seek.is_some() {
            return Err(io::Error::other("a seek is already in progress"));
        }
        st.seek = Some(position);
        Ok(())
    }

    fn poll_complete(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let this = &mut *self;
        let st = this.state_mut();
        ready!(poll_settle(st, cx));
        if let Some(e) = st.deferred.take() {
            st.seek = None;
            return Poll::Ready(Err(e));
        }
        match st.seek.take() {
            None => Poll::Ready(Ok(st.pos)),
            Some(SeekFrom::End(delta)) => {
                let fut = this.start(FsOp::HandleMetadata(this.handle.clone()));
                let st = this.state_mut();
                st.busy = Some(Busy { kind: Kind::SeekEnd(delta), fut });
                ready!(poll_settle(st, cx));
                Poll::Ready(st.deferred.take().map_or(Ok(st.pos), Err))
            }
            Some(to) => Poll::Ready(super::seek_target(st.pos, None, to).inspect(|&pos| st.pos = pos)),
        }
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // Closing never fails; operations in flight through the handle
        // still land.
        let _ = self.fs.exec_blocking(FsOp::Close(self.handle.clone()));
    }
}
