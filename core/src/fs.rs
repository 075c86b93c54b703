//! The file-system seam.
//!
//! Every file operation `core` performs is one [`FsOp`] value handed to an
//! [`Fs`] adapter, either asynchronously ([`Fs::exec`]) or as a blocking call
//! ([`Fs::exec_blocking`]). One operation type serves both paths so that an
//! adapter implements each operation once, a simulator can record, delay and
//! fault every call at one place, and a blocking call is a first-class
//! operation whose latency a simulator charges to the caller's whole event
//! loop.
//!
//! Code calls the typed helpers of [`FsExt`] (`fs.write(path, bytes).await`,
//! `fs.rename_blocking(from, to)`), which every `Fs` gets for free.
//!
//! # Contract
//!
//! The contract is POSIX as Linux implements it on a local file system; the
//! conformance suite (feature `conformance`) checks it against every adapter,
//! and where an adapter and the real file system disagree, the adapter is
//! wrong. Errors are `std::io::Error`s whose [`io::ErrorKind`] is the one the
//! real file system reports:
//!
//! | operation | success | errors (kind) |
//! |---|---|---|
//! | `CreateDirAll(p)` | `p` and every missing ancestor exist as directories; no-op if `p` is a directory | a component is a file: `NotADirectory`; `p` is a file: `AlreadyExists` |
//! | `Read(p)` | the whole content; never blocks on a FIFO or device | missing: `NotFound`; directory: `IsADirectory`; FIFO, socket or device: `InvalidInput` |
//! | `Write { path, data }` | file created or truncated, then `data` written; never blocks on a FIFO or device | missing parent: `NotFound`; `path` is a directory: `IsADirectory`; a parent is a file: `NotADirectory`; FIFO, socket or device: `InvalidInput` |
//! | `Append { path, data }` | file created if missing; `data` lands at the end in one piece, never interleaved with another append | as `Write` |
//! | `CreateNew { path, data }` | exclusive create (`O_EXCL`): exactly one of racing callers succeeds, and the file appears with all of `data` or not at all: a failed create leaves nothing behind | exists (even as a dangling symlink): `AlreadyExists`; as `Write` otherwise |
//! | `Rename { from, to }` | atomically replaces `to`; a directory may replace an empty directory | `from` missing or `to`'s parent missing: `NotFound`; directory onto non-empty directory: `DirectoryNotEmpty`; file onto directory: `IsADirectory`; directory onto file: `NotADirectory` |
//! | `RemoveFile(p)` | the entry (file or symlink, never its target) is gone | missing: `NotFound`; directory: `IsADirectory` |
//! | `RemoveDir(p)` | the empty directory is gone | missing: `NotFound`; not empty: `DirectoryNotEmpty`; a file: `NotADirectory` |
//! | `RemoveDirAll(p)` | the tree is gone; symlinks inside are removed, never followed | missing: `NotFound`; `p` is a file: `NotADirectory` |
//! | `ReadDir(p)` | the entries, sorted by name, without `.` and `..` | missing: `NotFound`; a file: `NotADirectory` |
//! | `ReadDirMetadata(p)` | as `ReadDir`, each entry with its `SymlinkMetadata` in the same call (`None` where the entry's look failed, or a file server sent no attributes: ask `SymlinkMetadata` for it); an entry gone before its look is not listed; named `read_dir` in histories and fault rules | as `ReadDir`; an adapter that does not offer it: `Unsupported` (callers fall back to `ReadDir` and a look per entry) |
//! | `SymlinkMetadata(p)` | metadata of the entry itself (a symlink is reported as a symlink, a FIFO, socket or device as `Special`) | missing: `NotFound` |
//! | `Metadata(p)` | metadata after following symlinks | missing or dangling: `NotFound` |
//! | `SyncFile(p)` | the file's data is durable (fsync); never blocks on a FIFO or device | missing: `NotFound`; FIFO, socket or device: `InvalidInput` |
//! | `SyncDir(p)` | the directory's entries (creates, renames, unlinks) are durable | missing: `NotFound`; a file: `NotADirectory`; FIFO, socket or device: `InvalidInput` |
//! | `Symlink { target, link }` | `link` is a symlink to `target` (which need not exist) | `link` exists: `AlreadyExists` |
//! | `ReadLink(p)` | the symlink's target | missing: `NotFound`; not a symlink: `InvalidInput` |
//! | `CreateDir(p)` | `p` is a new, empty directory | exists (even as a dangling symlink): `AlreadyExists`; missing parent: `NotFound`; a parent is a file: `NotADirectory` |
//!
//! # File handles
//!
//! Code that works through open files (`File::open`, seek, positioned
//! reads and writes, `set_len`, `sync_data`) uses the handle operations.
//! [`Handle`] names one open file description: it keeps referring to the
//! file it opened when that file is renamed or unlinked, as a descriptor
//! does, until [`FsOp::Close`]. The handle's `path` is the path it was
//! opened by, for histories and per-mount rules only; it is never
//! resolved again.
//!
//! | operation | success | errors (kind) |
//! |---|---|---|
//! | `Open { path, mode }` | a handle ([`FsOutput::Handle`]); with `create`, a missing file is created (following a symlink to its missing target); with `create_new`, exclusively (a dangling symlink counts as existing); with `truncate`, the file is emptied; a directory opens for reading only | a mode [`OpenMode::check`] refuses: `InvalidInput`; missing without `create`: `NotFound`; exists with `create_new`: `AlreadyExists`; a directory opened for writing: `IsADirectory`; FIFO, socket or device: `InvalidInput` (never blocks); with `no_follow`, a symlink as the last component (dangling or not, but for `create_new`, which says `AlreadyExists`): raw `ELOOP`; with `directory`, anything but a directory (never opened; with `no_follow`, a final symlink too, as Linux checks `O_DIRECTORY` first): `NotADirectory` |
//! | `ReadAt { handle, offset, len }` | up to `len` bytes from `offset` ([`FsOutput::Bytes`]); fewer only at the end of the file, none at or past it | not opened for reading: raw `EBADF`; a directory: `IsADirectory`; closed handle: raw `EBADF` |
//! | `WriteAt { handle, at, data }` | all of `data` lands at `at` (a gap past the end reads as zeros); on an `append` handle every write lands at the end, whatever `at` says (as Linux does for `pwrite`); returns the offset just past the data ([`FsOutput::Offset`]) | not opened for writing: raw `EBADF`; as `Write` for a full disk |
//! | `SetLen { handle, len }` | the file is cut or zero-extended to `len` | not opened for writing: `InvalidInput` |
//! | `SyncHandle { handle, data_only }` | the file's data (and for a directory handle, its entries) is durable (`fsync`; `fdatasync` with `data_only`) | closed handle: raw `EBADF` |
//! | `HandleMetadata(handle)` | metadata of the open file (even after it was renamed or unlinked) | closed handle: raw `EBADF` |
//! | `StatAt { dir, path }` | metadata of the entry `path` names in the open directory `dir`, the entry itself (a symlink not followed), wherever that directory is now (renamed, or another in its place: the open one is asked) | `path` is not `dir`'s path joined with one name ([`entry_name`]): `InvalidInput`; missing: `NotFound`; `dir` no directory: `NotADirectory`; closed handle: raw `EBADF`; an adapter without it: `Unsupported` |
//! | `RemoveFileAt { dir, path }` | the file or symlink `path` names is unlinked from the open directory `dir` (as for `StatAt`, wherever that is now) | as `StatAt`; a directory: `IsADirectory` |
//! | `Close(handle)` | the handle is gone; closing twice or an unknown handle is a no-op; operations already in flight through it still land | never fails |
//!
//! A handle operation names the same operation as its path twin in
//! histories and fault rules (`read`, `write`, `append` for an append
//! handle, `sync_file`, `metadata`, and for the two operations on an open
//! directory's entries `symlink_metadata` and `remove_file`), so one rule
//! covers code written either way; `open`, `set_len`, `close` and
//! `create_dir` are names of their own.
//!
//! The operations on an open directory's entries are how code removes
//! only in the directory it listed: a directory renamed away and replaced
//! (by a symlink, or by another directory) between a look and a removal
//! by path would have the replacement's entry removed; `RemoveFileAt`
//! through the handle opened before the listing cannot.
//!
//! Durability: data written by `Write`/`Append`/`CreateNew` is durable only
//! after `SyncFile`; a new, renamed or removed directory entry only after
//! `SyncDir` of its parent (both parents for a rename). An adapter that
//! simulates power loss drops whatever was not made durable.
//!
//! `CreateNew` is all-or-nothing for callers that see its result; a power
//! loss before `SyncFile` may still leave the entry without its data, and a
//! process killed mid-create on a file system without `O_TMPFILE` may leave
//! an empty file (the real adapter writes into an unnamed file and links it
//! into place where the file system allows).

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::SystemTime;

/// A boxed, sendable future: the return type of the seams' async methods, so
/// that the seams stay usable as trait objects (`Arc<dyn Fs>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One file-system operation. See the [module docs](self) for the contract.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FsOp {
    /// `mkdir -p`.
    CreateDirAll(PathBuf),
    /// Read a whole file.
    Read(PathBuf),
    /// Create or truncate, then write.
    Write {
        /// The file.
        path: PathBuf,
        /// Its new content.
        data: Vec<u8>,
    },
    /// Append in one piece, creating the file if missing.
    Append {
        /// The file.
        path: PathBuf,
        /// Bytes to add at its end.
        data: Vec<u8>,
    },
    /// Exclusive create, then write.
    CreateNew {
        /// The file, which must not exist.
        path: PathBuf,
        /// Its content.
        data: Vec<u8>,
    },
    /// Atomic rename, replacing the destination.
    Rename {
        /// Source path.
        from: PathBuf,
        /// Destination path.
        to: PathBuf,
    },
    /// Unlink a file or symlink.
    RemoveFile(PathBuf),
    /// Remove an empty directory.
    RemoveDir(PathBuf),
    /// Remove a tree without following symlinks.
    RemoveDirAll(PathBuf),
    /// List a directory.
    ReadDir(PathBuf),
    /// List a directory with each entry's metadata (not following
    /// symlinks), in one call: a directory of 55,000 files costs one
    /// operation, not 55,001.
    ReadDirMetadata(PathBuf),
    /// Metadata of the entry itself.
    SymlinkMetadata(PathBuf),
    /// Metadata after following symlinks.
    Metadata(PathBuf),
    /// fsync a file.
    SyncFile(PathBuf),
    /// fsync a directory.
    SyncDir(PathBuf),
    /// Create a symlink.
    Symlink {
        /// What the link points to; need not exist.
        target: PathBuf,
        /// The link to create.
        link: PathBuf,
    },
    /// Read a symlink's target.
    ReadLink(PathBuf),
    /// Create one directory (`mkdir`): the parent must exist.
    CreateDir(PathBuf),
    /// Open a file and get a [`Handle`] to it.
    Open {
        /// The file.
        path: PathBuf,
        /// How to open it.
        mode: OpenMode,
    },
    /// Read from an open file at an offset (`pread`).
    ReadAt {
        /// The open file.
        handle: Handle,
        /// Where to start.
        offset: u64,
        /// How many bytes at most.
        len: u64,
    },
    /// Write to an open file at an offset (`pwrite`; at the end for an
    /// append handle).
    WriteAt {
        /// The open file.
        handle: Handle,
        /// Where the data goes (ignored by an append handle).
        at: u64,
        /// The bytes.
        data: Vec<u8>,
    },
    /// Cut or zero-extend an open file (`ftruncate`).
    SetLen {
        /// The open file.
        handle: Handle,
        /// Its new length.
        len: u64,
    },
    /// Make an open file durable (`fsync`, or `fdatasync` with `data_only`).
    SyncHandle {
        /// The open file (or directory).
        handle: Handle,
        /// Data only (`fdatasync`): the same durability for the data.
        data_only: bool,
    },
    /// Metadata of an open file (`fstat`).
    HandleMetadata(Handle),
    /// Metadata of one entry of an open directory, the entry itself (a
    /// symlink not followed): `fstatat` with `AT_SYMLINK_NOFOLLOW`.
    StatAt {
        /// The open directory.
        dir: Handle,
        /// `dir`'s path joined with the entry's name (see [`entry_name`]):
        /// the name is looked up in the open directory, wherever it is
        /// now; the whole path names the operation in histories and fault
        /// rules and is never resolved.
        path: PathBuf,
    },
    /// Unlink a file or symlink of an open directory (`unlinkat`).
    RemoveFileAt {
        /// The open directory.
        dir: Handle,
        /// `dir`'s path joined with the entry's name, as for
        /// [`FsOp::StatAt`].
        path: PathBuf,
    },
    /// Close a handle.
    Close(Handle),
}

/// One open file description (see the [module docs](self#file-handles)).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Handle {
    /// The adapter's number for it, unique for the adapter's lifetime.
    pub id: u64,
    /// The path it was opened by (for histories and mount rules; never
    /// resolved again).
    pub path: std::sync::Arc<Path>,
    /// Opened in append mode: every write lands at the end.
    pub append: bool,
}

/// How [`FsOp::Open`] opens a file: the flags of `std::fs::OpenOptions`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct OpenMode {
    /// Open for reading.
    pub read: bool,
    /// Open for writing.
    pub write: bool,
    /// Every write lands at the end (implies writing).
    pub append: bool,
    /// Empty the file on open (needs `write`).
    pub truncate: bool,
    /// Create the file if missing (needs `write` or `append`).
    pub create: bool,
    /// Create the file, failing if anything exists at the path (needs
    /// `write` or `append`).
    pub create_new: bool,
    /// `O_NOFOLLOW`: a symlink as the path's last component is refused
    /// (`ELOOP`, raw OS error 40 on Linux) instead of followed; symlinks
    /// among the directories above it are still followed. A writer of a
    /// predictably named file (a pid in its name) asks for it, so that a
    /// symlink planted at that name cannot aim its writes at another file.
    /// An `Fs` that cannot honour it must refuse the open, never follow
    /// (the conformance case `no_follow_refuses_a_final_symlink_only`
    /// checks it).
    pub no_follow: bool,
    /// `O_DIRECTORY`: anything but a directory at the path (after
    /// following a final symlink, unless `no_follow`) is refused with
    /// `NotADirectory` before it is opened, so that a device or FIFO
    /// planted where a directory was expected is never opened at all
    /// (opening some devices acts). Reading only.
    pub directory: bool,
}

impl OpenMode {
    const NONE: OpenMode = OpenMode {
        read: false,
        write: false,
        append: false,
        truncate: false,
        create: false,
        create_new: false,
        no_follow: false,
        directory: false,
    };
    /// Read only (`File::open`).
    pub const READ: OpenMode = OpenMode { read: true, ..OpenMode::NONE };
    /// Write, create, truncate (`File::create`).
    pub const CREATE: OpenMode = OpenMode { write: true, truncate: true, create: true, ..OpenMode::NONE };
    /// Read and write a file that exists (`OpenOptions::new().read(true)
    /// .write(true)`): to cut or patch it in place.
    pub const READ_WRITE: OpenMode = OpenMode { read: true, write: true, ..OpenMode::NONE };
    /// Read and write a file that must not exist yet (`File::create_new`).
    pub const CREATE_NEW: OpenMode = OpenMode { read: true, write: true, create_new: true, ..OpenMode::NONE };
    /// Append, creating the file if missing (`OpenOptions::new()
    /// .append(true).create(true)`): every write lands at the end.
    pub const APPEND_CREATE: OpenMode = OpenMode { append: true, create: true, ..OpenMode::NONE };

    /// This mode with `no_follow` set: a symlink at the path is refused,
    /// not followed.
    pub const fn refuse_symlink(self) -> OpenMode {
        OpenMode { no_follow: true, ..self }
    }

    /// This mode with `directory` set: only a directory opens.
    pub const fn only_directory(self) -> OpenMode {
        OpenMode { directory: true, ..self }
    }

    /// Refuse the combinations `std::fs::OpenOptions` refuses, with
    /// `InvalidInput`: nothing to read or write, `truncate` without
    /// `write` or with `append`, a create without write access.
    pub fn check(&self) -> io::Result<()> {
        let writes = self.writes();
        let refuse = |why: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, format!("open mode: {why}")));
        if !self.read && !writes {
            return refuse("neither read, write nor append");
        }
        if self.truncate && (!self.write || self.append) {
            return refuse("truncate needs write and no append");
        }
        if (self.create || self.create_new) && !writes {
            return refuse("create needs write or append");
        }
        if self.directory && writes {
            return refuse("a directory opens for reading only");
        }
        Ok(())
    }

    /// Does a handle opened so allow writes?
    pub fn writes(&self) -> bool {
        self.write || self.append
    }
}

impl FsOp {
    /// The operation's name, as used in histories and fault rules
    /// (`"rename"`, `"sync_dir"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            FsOp::CreateDirAll(_) => "create_dir_all",
            FsOp::Read(_) => "read",
            FsOp::Write { .. } => "write",
            FsOp::Append { .. } => "append",
            FsOp::CreateNew { .. } => "create_new",
            FsOp::Rename { .. } => "rename",
            FsOp::RemoveFile(_) => "remove_file",
            FsOp::RemoveDir(_) => "remove_dir",
            FsOp::RemoveDirAll(_) => "remove_dir_all",
            FsOp::ReadDir(_) | FsOp::ReadDirMetadata(_) => "read_dir",
            FsOp::SymlinkMetadata(_) => "symlink_metadata",
            FsOp::Metadata(_) => "metadata",
            FsOp::SyncFile(_) => "sync_file",
            FsOp::SyncDir(_) => "sync_dir",
            FsOp::Symlink { .. } => "symlink",
            FsOp::ReadLink(_) => "read_link",
            FsOp::CreateDir(_) => "create_dir",
            FsOp::Open { .. } => "open",
            FsOp::ReadAt { .. } => "read",
            FsOp::WriteAt { handle, .. } if handle.append => "append",
            FsOp::WriteAt { .. } => "write",
            FsOp::SetLen { .. } => "set_len",
            FsOp::SyncHandle { .. } => "sync_file",
            FsOp::HandleMetadata(_) => "metadata",
            FsOp::StatAt { .. } => "symlink_metadata",
            FsOp::RemoveFileAt { .. } => "remove_file",
            FsOp::Close(_) => "close",
        }
    }

    /// The path the operation acts on (for a rename, its source; for a
    /// symlink, the link).
    pub fn path(&self) -> &Path {
        match self {
            FsOp::CreateDirAll(p)
            | FsOp::Read(p)
            | FsOp::RemoveFile(p)
            | FsOp::RemoveDir(p)
            | FsOp::RemoveDirAll(p)
            | FsOp::ReadDir(p)
            | FsOp::ReadDirMetadata(p)
            | FsOp::SymlinkMetadata(p)
            | FsOp::Metadata(p)
            | FsOp::SyncFile(p)
            | FsOp::SyncDir(p)
            | FsOp::ReadLink(p)
            | FsOp::CreateDir(p) => p,
            FsOp::Write { path, .. }
            | FsOp::Append { path, .. }
            | FsOp::CreateNew { path, .. }
            | FsOp::Open { path, .. }
            | FsOp::StatAt { path, .. }
            | FsOp::RemoveFileAt { path, .. } => path,
            FsOp::ReadAt { handle, .. }
            | FsOp::WriteAt { handle, .. }
            | FsOp::SetLen { handle, .. }
            | FsOp::SyncHandle { handle, .. }
            | FsOp::HandleMetadata(handle)
            | FsOp::Close(handle) => &handle.path,
            FsOp::Rename { from, .. } => from,
            FsOp::Symlink { link, .. } => link,
        }
    }

    /// The open file a handle operation acts on (for [`FsOp::StatAt`] and
    /// [`FsOp::RemoveFileAt`], the open directory).
    pub fn handle(&self) -> Option<&Handle> {
        match self {
            FsOp::ReadAt { handle, .. }
            | FsOp::WriteAt { handle, .. }
            | FsOp::SetLen { handle, .. }
            | FsOp::SyncHandle { handle, .. }
            | FsOp::HandleMetadata(handle)
            | FsOp::StatAt { dir: handle, .. }
            | FsOp::RemoveFileAt { dir: handle, .. }
            | FsOp::Close(handle) => Some(handle),
            _ => None,
        }
    }

    /// The second path of a two-path operation (a rename's destination).
    pub fn second_path(&self) -> Option<&Path> {
        match self {
            FsOp::Rename { to, .. } => Some(to),
            _ => None,
        }
    }
}

/// What an operation returns; which variant depends on the [`FsOp`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FsOutput {
    /// Operations with no result.
    Unit,
    /// `Read`.
    Bytes(Vec<u8>),
    /// `ReadDir`, sorted by name.
    Entries(Vec<DirEntry>),
    /// `ReadDirMetadata`, sorted by name: each entry with its metadata
    /// where the adapter could look (see the [module docs](self)).
    EntriesMetadata(Vec<(DirEntry, Option<Metadata>)>),
    /// `SymlinkMetadata` and `Metadata`.
    Metadata(Metadata),
    /// `ReadLink`.
    Path(PathBuf),
    /// `Open`.
    Handle(Handle),
    /// `WriteAt`: the offset just past the data written.
    Offset(u64),
}

/// The kind of a directory entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (only from `SymlinkMetadata` and `ReadDir`).
    Symlink,
    /// A FIFO, socket or device: never something `core` wrote, and never
    /// read (a read could block forever).
    Special,
}

/// Metadata of one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metadata {
    /// What the entry is.
    pub kind: FileKind,
    /// Length in bytes (for a symlink, the length of its target path).
    pub len: u64,
    /// Last modification of the content, from the adapter's wall clock.
    pub modified: SystemTime,
    /// Last change of the content or of the entry itself (`ctime`): moves
    /// on a write, a rename or a new link, which `modified` need not.
    pub changed: SystemTime,
    /// The file's identity on its file system (`st_dev` and `st_ino`
    /// mixed): a file replaced by a rename has another.
    pub id: u64,
}

impl Metadata {
    /// Metadata as an adapter reports it.
    pub fn new(kind: FileKind, len: u64, modified: SystemTime, changed: SystemTime, id: u64) -> Metadata {
        Metadata { kind, len, modified, changed, id }
    }

    /// The length in bytes, as `std::fs::Metadata::len`.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// What the entry is, as `std::fs::Metadata::file_type`.
    pub fn file_type(&self) -> FileKind {
        self.kind
    }

    /// A regular file?
    pub fn is_file(&self) -> bool {
        self.kind.is_file()
    }

    /// A directory?
    pub fn is_dir(&self) -> bool {
        self.kind.is_dir()
    }

    /// A symlink (only from a metadata call that does not follow one)?
    pub fn is_symlink(&self) -> bool {
        self.kind.is_symlink()
    }

    /// The last modification, as `std::fs::Metadata::modified` (never
    /// fails here: every adapter reports one).
    pub fn modified(&self) -> io::Result<SystemTime> {
        Ok(self.modified)
    }
}

impl FileKind {
    /// A regular file?
    pub fn is_file(self) -> bool {
        self == FileKind::File
    }

    /// A directory?
    pub fn is_dir(self) -> bool {
        self == FileKind::Dir
    }

    /// A symlink?
    pub fn is_symlink(self) -> bool {
        self == FileKind::Symlink
    }
}

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DirEntry {
    /// The entry's name (not its full path).
    pub name: std::ffi::OsString,
    /// The entry's kind, not following symlinks.
    pub kind: FileKind,
}

/// A file system: the seam between `core` and the disk, real or simulated.
///
/// Implementations must be usable from many tasks at once. See the
/// [module docs](self) for the contract every operation follows.
pub trait Fs: Send + Sync {
    /// Run `op` without blocking the caller's event loop.
    fn exec(&self, op: FsOp) -> BoxFuture<'_, io::Result<FsOutput>>;

    /// Run `op` synchronously, blocking the calling thread (and, in a
    /// simulator, every task of the calling node) until it completes. For
    /// paths that cannot await: panic hooks, signal handlers, explicit
    /// synchronous user actions.
    fn exec_blocking(&self, op: FsOp) -> io::Result<FsOutput>;
}

impl<T: Fs + ?Sized> Fs for std::sync::Arc<T> {
    fn exec(&self, op: FsOp) -> BoxFuture<'_, io::Result<FsOutput>> {
        (**self).exec(op)
    }
    fn exec_blocking(&self, op: FsOp) -> io::Result<FsOutput> {
        (**self).exec_blocking(op)
    }
}

pub(crate) fn unexpected(op: &'static str, out: FsOutput) -> io::Error {
    io::Error::other(format!("Fs adapter bug: {op} returned {out:?}"))
}

/// The raw OS error of an open that `no_follow` refused at a symlink, and
/// of a path with too many symlinks in it (Linux's `ELOOP` on x86 and ARM;
/// `std` has no stable `ErrorKind` for it): every adapter and checker
/// names it here.
pub const ELOOP: i32 = 40;

/// The name [`FsOp::StatAt`] and [`FsOp::RemoveFileAt`] look up in their
/// open directory: `path`'s last component, when `path` is exactly `dir`'s
/// path, a slash (unless that path ends in one) and one name, as
/// `dir.path.join(name)` makes it; `InvalidInput` otherwise: a name with a
/// `/` in it (a trailing one too: `c/` names a directory to resolve, not
/// the entry `c`), `.`, `..`, an empty or absolute one, a NUL byte, or a
/// path under another directory. Every adapter checks it here, so all
/// refuse the same.
pub fn entry_name<'a>(dir: &Handle, path: &'a Path) -> io::Result<&'a std::ffi::OsStr> {
    let refuse = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not one name in {}", path.display(), dir.path.display()),
        )
    };
    let name = path.file_name().ok_or_else(refuse)?;
    let (p, d, n) = (path.as_os_str(), dir.path.as_os_str(), name);
    let (p, d, n) = (p.as_encoded_bytes(), d.as_encoded_bytes(), n.as_encoded_bytes());
    let slash = usize::from(!d.ends_with(b"/"));
    let joined = p.len() == d.len() + slash + n.len()
        && p.starts_with(d)
        && p.ends_with(n)
        && (slash == 0 || p[d.len()] == b'/')
        && !n.contains(&0);
    if joined { Ok(name) } else { Err(refuse()) }
}

/// The refusal of a FIFO, socket or device where a regular file (or a
/// directory, for `Open` to read) was expected: `InvalidInput`, never a
/// call that blocks. Every adapter builds it here, so the words and the
/// kind are the same everywhere.
pub fn not_a_regular_file() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "not a regular file (FIFO, socket or device)")
}

fn unit(op: &'static str, out: FsOutput) -> io::Result<()> {
    match out {
        FsOutput::Unit => Ok(()),
        other => Err(unexpected(op, other)),
    }
}

fn bytes(op: &'static str, out: FsOutput) -> io::Result<Vec<u8>> {
    match out {
        FsOutput::Bytes(b) => Ok(b),
        other => Err(unexpected(op, other)),
    }
}

fn entries(op: &'static str, out: FsOutput) -> io::Result<Vec<DirEntry>> {
    match out {
        FsOutput::Entries(e) => Ok(e),
        other => Err(unexpected(op, other)),
    }
}

fn entries_metadata(op: &'static str, out: FsOutput) -> io::Result<Vec<(DirEntry, Option<Metadata>)>> {
    match out {
        FsOutput::EntriesMetadata(e) => Ok(e),
        other => Err(unexpected(op, other)),
    }
}

fn metadata(op: &'static str, out: FsOutput) -> io::Result<Metadata> {
    match out {
        FsOutput::Metadata(m) => Ok(m),
        other => Err(unexpected(op, other)),
    }
}

fn handle(op: &'static str, out: FsOutput) -> io::Result<Handle> {
    match out {
        FsOutput::Handle(h) => Ok(h),
        other => Err(unexpected(op, other)),
    }
}

fn offset(op: &'static str, out: FsOutput) -> io::Result<u64> {
    match out {
        FsOutput::Offset(n) => Ok(n),
        other => Err(unexpected(op, other)),
    }
}

fn path(op: &'static str, out: FsOutput) -> io::Result<PathBuf> {
    match out {
        FsOutput::Path(p) => Ok(p),
        other => Err(unexpected(op, other)),
    }
}

/// Defines one async and one blocking typed helper per operation, so the two
/// families cannot drift apart.
macro_rules! typed_ops {
    ($(
        $(#[$doc:meta])*
        $name:ident / $blocking:ident ( $($arg:ident : $ty:ty),* ) -> $out:ty
            = $conv:ident, $op:expr;
    )*) => {
        /// Typed helpers over [`Fs`], one async and one blocking per operation.
        pub trait FsExt: Fs {
            $(
                $(#[$doc])*
                fn $name(&self, $($arg: $ty),*) -> impl Future<Output = io::Result<$out>> + Send {
                    let op = $op;
                    let name = op.name();
                    let fut = self.exec(op);
                    async move { $conv(name, fut.await?) }
                }

                $(#[$doc])*
                ///
                /// Blocking variant: see [`Fs::exec_blocking`].
                fn $blocking(&self, $($arg: $ty),*) -> io::Result<$out> {
                    let op = $op;
                    let name = op.name();
                    $conv(name, self.exec_blocking(op)?)
                }
            )*
        }
    };
}

typed_ops! {
    /// `mkdir -p`: see [`FsOp::CreateDirAll`].
    create_dir_all / create_dir_all_blocking (p: impl AsRef<Path>) -> ()
        = unit, FsOp::CreateDirAll(p.as_ref().to_path_buf());
    /// Read a whole file: see [`FsOp::Read`].
    read / read_blocking (p: impl AsRef<Path>) -> Vec<u8>
        = bytes, FsOp::Read(p.as_ref().to_path_buf());
    /// Create or truncate, then write: see [`FsOp::Write`].
    write / write_blocking (p: impl AsRef<Path>, data: impl Into<Vec<u8>>) -> ()
        = unit, FsOp::Write { path: p.as_ref().to_path_buf(), data: data.into() };
    /// Append in one piece: see [`FsOp::Append`].
    append / append_blocking (p: impl AsRef<Path>, data: impl Into<Vec<u8>>) -> ()
        = unit, FsOp::Append { path: p.as_ref().to_path_buf(), data: data.into() };
    /// Exclusive create: see [`FsOp::CreateNew`].
    create_new / create_new_blocking (p: impl AsRef<Path>, data: impl Into<Vec<u8>>) -> ()
        = unit, FsOp::CreateNew { path: p.as_ref().to_path_buf(), data: data.into() };
    /// Atomic rename: see [`FsOp::Rename`].
    rename / rename_blocking (from: impl AsRef<Path>, to: impl AsRef<Path>) -> ()
        = unit, FsOp::Rename { from: from.as_ref().to_path_buf(), to: to.as_ref().to_path_buf() };
    /// Unlink: see [`FsOp::RemoveFile`].
    remove_file / remove_file_blocking (p: impl AsRef<Path>) -> ()
        = unit, FsOp::RemoveFile(p.as_ref().to_path_buf());
    /// Remove an empty directory: see [`FsOp::RemoveDir`].
    remove_dir / remove_dir_blocking (p: impl AsRef<Path>) -> ()
        = unit, FsOp::RemoveDir(p.as_ref().to_path_buf());
    /// Remove a tree: see [`FsOp::RemoveDirAll`].
    remove_dir_all / remove_dir_all_blocking (p: impl AsRef<Path>) -> ()
        = unit, FsOp::RemoveDirAll(p.as_ref().to_path_buf());
    /// List a directory: see [`FsOp::ReadDir`].
    read_dir / read_dir_blocking (p: impl AsRef<Path>) -> Vec<DirEntry>
        = entries, FsOp::ReadDir(p.as_ref().to_path_buf());
    /// List a directory with each entry's metadata: see
    /// [`FsOp::ReadDirMetadata`].
    read_dir_metadata / read_dir_metadata_blocking (p: impl AsRef<Path>) -> Vec<(DirEntry, Option<Metadata>)>
        = entries_metadata, FsOp::ReadDirMetadata(p.as_ref().to_path_buf());
    /// Metadata without following symlinks: see [`FsOp::SymlinkMetadata`].
    symlink_metadata / symlink_metadata_blocking (p: impl AsRef<Path>) -> Metadata
        = metadata, FsOp::SymlinkMetadata(p.as_ref().to_path_buf());
    /// Metadata after following symlinks: see [`FsOp::Metadata`].
    metadata / metadata_blocking (p: impl AsRef<Path>) -> Metadata
        = metadata, FsOp::Metadata(p.as_ref().to_path_buf());
    /// fsync a file: see [`FsOp::SyncFile`].
    sync_file / sync_file_blocking (p: impl AsRef<Path>) -> ()
        = unit, FsOp::SyncFile(p.as_ref().to_path_buf());
    /// fsync a directory: see [`FsOp::SyncDir`].
    sync_dir / sync_dir_blocking (p: impl AsRef<Path>) -> ()
        = unit, FsOp::SyncDir(p.as_ref().to_path_buf());
    /// Create a symlink: see [`FsOp::Symlink`].
    symlink / symlink_blocking (target: impl AsRef<Path>, link: impl AsRef<Path>) -> ()
        = unit, FsOp::Symlink { target: target.as_ref().to_path_buf(), link: link.as_ref().to_path_buf() };
    /// Read a symlink: see [`FsOp::ReadLink`].
    read_link / read_link_blocking (p: impl AsRef<Path>) -> PathBuf
        = path, FsOp::ReadLink(p.as_ref().to_path_buf());
    /// `mkdir`: see [`FsOp::CreateDir`].
    create_dir / create_dir_blocking (p: impl AsRef<Path>) -> ()
        = unit, FsOp::CreateDir(p.as_ref().to_path_buf());
    /// Open a file: see [`FsOp::Open`].
    open / open_blocking (p: impl AsRef<Path>, mode: OpenMode) -> Handle
        = handle, FsOp::Open { path: p.as_ref().to_path_buf(), mode };
    /// `pread`: see [`FsOp::ReadAt`].
    read_at / read_at_blocking (h: &Handle, offset: u64, len: u64) -> Vec<u8>
        = bytes, FsOp::ReadAt { handle: h.clone(), offset, len };
    /// `pwrite`: see [`FsOp::WriteAt`]; the offset just past the data.
    write_at / write_at_blocking (h: &Handle, at: u64, data: impl Into<Vec<u8>>) -> u64
        = offset, FsOp::WriteAt { handle: h.clone(), at, data: data.into() };
    /// `ftruncate`: see [`FsOp::SetLen`].
    set_len / set_len_blocking (h: &Handle, len: u64) -> ()
        = unit, FsOp::SetLen { handle: h.clone(), len };
    /// `fsync` or `fdatasync` of an open file: see [`FsOp::SyncHandle`].
    sync_handle / sync_handle_blocking (h: &Handle, data_only: bool) -> ()
        = unit, FsOp::SyncHandle { handle: h.clone(), data_only };
    /// `fstat`: see [`FsOp::HandleMetadata`].
    handle_metadata / handle_metadata_blocking (h: &Handle) -> Metadata
        = metadata, FsOp::HandleMetadata(h.clone());
    /// `fstatat` of one entry of an open directory: see [`FsOp::StatAt`].
    stat_at / stat_at_blocking (dir: &Handle, name: impl AsRef<std::ffi::OsStr>) -> Metadata
        = metadata, FsOp::StatAt { dir: dir.clone(), path: dir.path.join(name.as_ref()) };
    /// `unlinkat` of one entry of an open directory: see
    /// [`FsOp::RemoveFileAt`].
    remove_file_at / remove_file_at_blocking (dir: &Handle, name: impl AsRef<std::ffi::OsStr>) -> ()
        = unit, FsOp::RemoveFileAt { dir: dir.clone(), path: dir.path.join(name.as_ref()) };
    /// Close a handle: see [`FsOp::Close`].
    close / close_blocking (h: &Handle) -> ()
        = unit, FsOp::Close(h.clone());
}

impl<T: Fs + ?Sized> FsExt for T {}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt as _;
    use std::path::{Path, PathBuf};

    use super::{Handle, entry_name};

    fn dir(path: &str) -> Handle {
        Handle { id: 1, path: Path::new(path).into(), append: false }
    }

    /// One name in the open directory, as `join` makes it, and nothing
    /// else: what a file system takes as a name (non-UTF-8 bytes, dots
    /// that are not `.` or `..`, spaces) is taken; what would resolve
    /// anything but that entry is refused.
    #[test]
    fn entry_names_are_one_name_in_the_open_directory() {
        let latin1 = OsStr::from_bytes(b"traces-h\xf4te-1.jsonl");
        for (d, name) in [
            ("/efs/t", OsStr::new("a")),
            ("/efs/t", OsStr::new("...")),
            ("/efs/t", OsStr::new("a.")),
            ("/efs/t", OsStr::new(" a ")),
            ("/efs/t", latin1),
            ("/efs/t/", OsStr::new("a")),
            ("/", OsStr::new("a")),
            ("rel", OsStr::new("a")),
        ] {
            let path = dir(d).path.join(name);
            assert_eq!(entry_name(&dir(d), &path).ok(), Some(name), "{d} + {name:?}");
        }
        for (d, path) in [
            ("/efs/t", "/efs/t/a/b"),
            ("/efs/t", "/efs/t/a/"),
            ("/efs/t", "/efs/t//a"),
            ("/efs/t", "/efs/t/./a"),
            ("/efs/t", "/efs/t/.."),
            ("/efs/t", "/efs/t/."),
            ("/efs/t", "/efs/t"),
            ("/efs/t", "/efs/tt/a"),
            ("/efs/t", "/efs/a"),
            ("/efs/t", "/etc/passwd"),
            ("/efs/t", "a"),
            ("/efs/t/", "/efs/t/a/"),
        ] {
            let e = entry_name(&dir(d), Path::new(path)).expect_err(path);
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{d} + {path}");
        }
        let nul = PathBuf::from(OsStr::from_bytes(b"/efs/t/a\0b"));
        assert!(entry_name(&dir("/efs/t"), &nul).is_err(), "a NUL byte");
    }
}
