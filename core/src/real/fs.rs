//! [`RealFs`]: the operating system's file system.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::Path;

use crate::fs::{
    BoxFuture, DirEntry, FileKind, Fs, FsOp, FsOutput, Handle, Metadata, OpenMode, entry_name, not_a_regular_file,
};

/// The real file system: blocking operations run `std::fs` on the calling
/// thread; async operations run the same code on tokio's blocking pool (which
/// is what `tokio::fs` does), so both paths share one implementation.
///
/// Async calls must be made from within a tokio runtime.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealFs {
    _private: (),
}

impl RealFs {
    /// The real file system.
    pub fn new() -> RealFs {
        RealFs { _private: () }
    }
}

impl Fs for RealFs {
    fn exec(&self, op: FsOp) -> BoxFuture<'_, io::Result<FsOutput>> {
        Box::pin(async move {
            match tokio::task::spawn_blocking(move || run(op)).await {
                Ok(result) => result,
                Err(join) => Err(io::Error::other(format!("RealFs worker failed: {join}"))),
            }
        })
    }

    fn exec_blocking(&self, op: FsOp) -> io::Result<FsOutput> {
        run(op)
    }
}

fn run(op: FsOp) -> io::Result<FsOutput> {
    match op {
        FsOp::CreateDirAll(p) => fs::create_dir_all(p).map(unit),
        FsOp::Read(p) => read(&p).map(FsOutput::Bytes),
        FsOp::Write { path, data } => write(&path, &data).map(unit),
        FsOp::Append { path, data } => append(&path, &data).map(unit),
        FsOp::CreateNew { path, data } => create_new(&path, &data).map(unit),
        FsOp::Rename { from, to } => fs::rename(from, to).map(unit),
        FsOp::RemoveFile(p) => fs::remove_file(p).map(unit),
        FsOp::RemoveDir(p) => fs::remove_dir(p).map(unit),
        FsOp::RemoveDirAll(p) => remove_dir_all(&p).map(unit),
        FsOp::ReadDir(p) => read_dir(&p).map(FsOutput::Entries),
        FsOp::ReadDirMetadata(p) => read_dir_metadata(&p).map(FsOutput::EntriesMetadata),
        FsOp::SymlinkMetadata(p) => fs::symlink_metadata(p).and_then(meta),
        FsOp::Metadata(p) => fs::metadata(p).and_then(meta),
        FsOp::SyncFile(p) => sync_file(&p).map(unit),
        FsOp::SyncDir(p) => sync_dir(&p).map(unit),
        FsOp::Symlink { target, link } => std::os::unix::fs::symlink(target, link).map(unit),
        FsOp::ReadLink(p) => fs::read_link(p).map(FsOutput::Path),
        FsOp::CreateDir(p) => fs::create_dir(p).map(unit),
        FsOp::Open { path, mode } => open(path, mode).map(FsOutput::Handle),
        FsOp::ReadAt { handle, offset, len } => read_at(&*handles::get(&handle)?, offset, len).map(FsOutput::Bytes),
        FsOp::WriteAt { handle, at, data } => write_at(&handle, at, &data).map(FsOutput::Offset),
        FsOp::SetLen { handle, len } => handles::get(&handle)?.set_len(len).map(unit),
        FsOp::SyncHandle { handle, data_only: true } => handles::get(&handle)?.sync_data().map(unit),
        FsOp::SyncHandle { handle, data_only: false } => handles::get(&handle)?.sync_all().map(unit),
        FsOp::HandleMetadata(handle) => handles::get(&handle)?.metadata().and_then(meta),
        FsOp::StatAt { dir, path } => stat_at(&dir, &path).map(FsOutput::Metadata),
        FsOp::RemoveFileAt { dir, path } => remove_file_at(&dir, &path).map(unit),
        FsOp::Close(handle) => {
            handles::close(&handle);
            Ok(FsOutput::Unit)
        }
    }
}

/// The open files behind [`Handle`]s: one table for the process, since
/// `RealFs` is a plain value that any number of copies share.
mod handles {
    use std::collections::BTreeMap;
    use std::fs::File;
    use std::io;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex, MutexGuard};

    use crate::fs::Handle;

    static OPEN: Mutex<BTreeMap<u64, Arc<File>>> = Mutex::new(BTreeMap::new());
    static NEXT: AtomicU64 = AtomicU64::new(1);

    fn table() -> MutexGuard<'static, BTreeMap<u64, Arc<File>>> {
        // A panic while the lock was held cannot leave the map torn.
        OPEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn insert(file: File) -> u64 {
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let previous = table().insert(id, Arc::new(file));
        assert!(previous.is_none(), "handle ids are never reused");
        id
    }

    /// The open file, kept open for the caller even if the handle is
    /// closed meanwhile (an operation in flight still lands).
    pub(super) fn get(h: &Handle) -> io::Result<Arc<File>> {
        table().get(&h.id).cloned().ok_or_else(|| io::Error::from_raw_os_error(rustix::io::Errno::BADF.raw_os_error()))
    }

    pub(super) fn close(h: &Handle) {
        table().remove(&h.id);
    }
}

fn open(path: std::path::PathBuf, mode: OpenMode) -> io::Result<Handle> {
    mode.check()?;
    let mut options = OpenOptions::new();
    options
        .read(mode.read)
        .write(mode.write)
        .append(mode.append)
        .truncate(mode.truncate)
        .create(mode.create)
        .create_new(mode.create_new);
    let mut flags = rustix::fs::OFlags::empty();
    if mode.no_follow {
        flags |= rustix::fs::OFlags::NOFOLLOW;
    }
    if mode.directory {
        flags |= rustix::fs::OFlags::DIRECTORY;
    }
    let file = open_flagged(&mut options, &path, flags)?;
    let id = handles::insert(file);
    Ok(Handle { id, path: path.into(), append: mode.append })
}

fn read_at(file: &File, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt as _;
    // The length asked for is a bound, not a size to reserve up front.
    let mut out = vec![0; len.min(1 << 20) as usize];
    let mut got = 0;
    while (got as u64) < len {
        if got == out.len() {
            out.resize((out.len() * 2).min(len as usize), 0);
        }
        match file.read_at(&mut out[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    out.truncate(got);
    Ok(out)
}

fn write_at(handle: &Handle, at: u64, data: &[u8]) -> io::Result<u64> {
    use std::io::Seek as _;
    use std::os::unix::fs::FileExt as _;
    let file = handles::get(handle)?;
    if handle.append {
        // One write on an O_APPEND descriptor lands at the end atomically;
        // the offset after it is the end it landed at.
        (&*file).write_all(data)?;
        return (&*file).stream_position();
    }
    file.write_all_at(data, at)?;
    Ok(at + data.len() as u64)
}

fn unit(_: ()) -> FsOutput {
    FsOutput::Unit
}

/// Open `path` as `options` say without ever blocking on it: a FIFO (or a
/// device) planted at the path, by anyone, would block a plain open(2)
/// until a peer came (to read a FIFO: a writer; to write it: a reader),
/// and the caller with it, forever. So the open is non-blocking, and the
/// descriptor is checked after it: a regular file or a directory goes on
/// (with `O_NONBLOCK` cleared, as std's would be), anything else is
/// refused with [`not_a_regular_file`], as the simulated adapter refuses
/// its special files.
fn open_checked(options: &mut OpenOptions, path: &Path) -> io::Result<File> {
    open_flagged(options, path, rustix::fs::OFlags::empty())
}

/// [`open_checked`] with `flags` added to the open (`O_NOFOLLOW`).
fn open_flagged(options: &mut OpenOptions, path: &Path, flags: rustix::fs::OFlags) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let flags = rustix::fs::OFlags::NONBLOCK | flags;
    let file = options.custom_flags(flags.bits() as i32).open(path).map_err(|e| {
        // A FIFO opened to write without a reader (or a device without
        // its driver) is ENXIO: the same refusal as a special file.
        if e.raw_os_error() == Some(rustix::io::Errno::NXIO.raw_os_error()) { not_a_regular_file() } else { e }
    })?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() && !kind.is_dir() {
        return Err(not_a_regular_file());
    }
    // Regular files ignore O_NONBLOCK; clear it all the same so the
    // descriptor behaves as std's would.
    rustix::fs::fcntl_setfl(&file, rustix::fs::fcntl_getfl(&file)? - rustix::fs::OFlags::NONBLOCK)?;
    Ok(file)
}

/// Create or truncate, then write: `std::fs::write`, with the open
/// checked (see [`open_checked`]).
fn write(path: &Path, data: &[u8]) -> io::Result<()> {
    open_checked(OpenOptions::new().write(true).create(true).truncate(true), path)?.write_all(data)
}

fn append(path: &Path, data: &[u8]) -> io::Result<()> {
    // One write(2) on an O_APPEND descriptor: the kernel places it at the end
    // atomically, so concurrent appenders never interleave within a line.
    open_checked(OpenOptions::new().append(true).create(true), path)?.write_all(data)
}

/// fsync a file (or a directory, as `File::open(p)?.sync_all()` would),
/// the open checked (see [`open_checked`]).
fn sync_file(path: &Path) -> io::Result<()> {
    open_checked(OpenOptions::new().read(true), path)?.sync_all()
}

/// Exclusive create, all or nothing: the data goes into an unnamed file
/// (`O_TMPFILE`) that is then linked into place, so the entry appears with
/// its whole content or not at all, even if this process is killed midway.
/// Where the file system has no `O_TMPFILE` (NFS, older kernels) it falls
/// back to `O_EXCL` and removes the file again if the write fails (a full
/// disk must not leave an empty lock file behind).
fn create_new(path: &Path, data: &[u8]) -> io::Result<()> {
    match create_linked(path, data) {
        Err(e) if tmpfile_unsupported(&e) => create_exclusive(path, data),
        other => other,
    }
}

fn create_linked(path: &Path, data: &[u8]) -> io::Result<()> {
    use rustix::fs::{AtFlags, CWD, Mode, OFlags};
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let fd = rustix::fs::openat(CWD, parent, OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC, Mode::from(0o644))?;
    let mut file = File::from(fd);
    file.write_all(data)?;
    let proc_path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&file));
    rustix::fs::linkat(CWD, proc_path.as_str(), CWD, path, AtFlags::SYMLINK_FOLLOW)?;
    Ok(())
}

fn tmpfile_unsupported(e: &io::Error) -> bool {
    // EOPNOTSUPP, EISDIR (kernels before 3.11 read O_TMPFILE as O_DIRECTORY),
    // EINVAL; ENOENT when /proc is not mounted but the parent exists.
    let errno = e.raw_os_error();
    [rustix::io::Errno::OPNOTSUPP, rustix::io::Errno::ISDIR, rustix::io::Errno::INVAL]
        .iter()
        .any(|n| errno == Some(n.raw_os_error()))
        || (e.kind() == io::ErrorKind::NotFound && !Path::new("/proc/self/fd").exists())
}

fn create_exclusive(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    if let Err(e) = file.write_all(data) {
        drop(file);
        let _ = fs::remove_file(path);
        return Err(e);
    }
    Ok(())
}

fn remove_dir_all(path: &Path) -> io::Result<()> {
    // std's remove_dir_all on a symlink removes the link; the contract says
    // the root must be a directory, as `rm -r` on a symlink also refuses to
    // recurse. Check the entry itself first.
    let kind = fs::symlink_metadata(path)?.file_type();
    if !kind.is_dir() {
        return Err(io::Error::from(io::ErrorKind::NotADirectory));
    }
    fs::remove_dir_all(path)
}

/// Every entry of `path` that `each` makes into a listed one, sorted by
/// name. An entry that vanished between readdir and its look (`each`'s
/// `Ok(None)`) is simply not listed, like `ls` does.
fn list<T>(
    path: &Path,
    each: impl Fn(&fs::DirEntry) -> io::Result<Option<(DirEntry, T)>>,
) -> io::Result<Vec<(DirEntry, T)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(path)? {
        let listed = match entry {
            Ok(e) => each(&e)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        out.extend(listed);
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// `Ok(None)` for a look that found the entry gone.
fn unless_gone<T>(look: io::Result<T>) -> io::Result<Option<T>> {
    match look {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn read_dir(path: &Path) -> io::Result<Vec<DirEntry>> {
    let listed = list(path, |e| {
        Ok(unless_gone(e.file_type())?.map(|t| (DirEntry { name: e.file_name(), kind: kind_of(t) }, ())))
    })?;
    Ok(listed.into_iter().map(|(e, ())| e).collect())
}

/// The listing and every entry's `lstat`, in one blocking call: each look
/// is an `fstatat` relative to the open directory (no walk of the path per
/// entry). An entry gone before its look is not listed, as `ReadDir` drops
/// one gone before its type was known; an entry whose look failed
/// otherwise is listed without metadata when the directory gave its type
/// (its caller looks again, and meets the error there), and fails the
/// listing as `ReadDir` does when the type too needs the look (a file
/// system without `d_type`).
fn read_dir_metadata(path: &Path) -> io::Result<Vec<(DirEntry, Option<Metadata>)>> {
    list(path, |e| {
        let (kind, meta) = match unless_gone(e.metadata().map(|m| metadata_of(&m))) {
            Ok(Some(m)) => (m.kind, Some(m)),
            Ok(None) => return Ok(None),
            Err(_) => match unless_gone(e.file_type())? {
                Some(t) => (kind_of(t), None),
                None => return Ok(None),
            },
        };
        Ok(Some((DirEntry { name: e.file_name(), kind }, meta)))
    })
}

fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = open_checked(OpenOptions::new().read(true), path)?;
    if !dir.metadata()?.is_dir() {
        return Err(io::Error::from(io::ErrorKind::NotADirectory));
    }
    dir.sync_all()
}

fn kind_of(t: fs::FileType) -> FileKind {
    if t.is_symlink() {
        FileKind::Symlink
    } else if t.is_dir() {
        FileKind::Dir
    } else if t.is_file() {
        FileKind::File
    } else {
        FileKind::Special
    }
}

fn meta(m: fs::Metadata) -> io::Result<FsOutput> {
    Ok(FsOutput::Metadata(metadata_of(&m)))
}

fn metadata_of(m: &fs::Metadata) -> Metadata {
    use std::os::unix::fs::MetadataExt as _;
    let times = ((m.mtime(), m.mtime_nsec()), (m.ctime(), m.ctime_nsec()));
    from_stat(kind_of(m.file_type()), m.len(), times, (m.dev(), m.ino()))
}

/// Metadata from a `stat`'s fields: one conversion for every look (std's,
/// a listing's, an `fstatat`'s), so that looks at one file compare equal.
/// The identity mixes the device and inode numbers.
fn from_stat(kind: FileKind, len: u64, (mtime, ctime): ((i64, i64), (i64, i64)), (dev, ino): (u64, u64)) -> Metadata {
    let (modified, changed) = (instant(mtime.0, mtime.1), instant(ctime.0, ctime.1));
    Metadata::new(kind, len, modified, changed, crate::mix64(dev ^ crate::mix64(ino)))
}

/// The instant a `stat` time (seconds and nanoseconds since the epoch)
/// names; before the epoch for negative seconds, as std reads one.
fn instant(secs: i64, nanos: i64) -> std::time::SystemTime {
    let nanos = std::time::Duration::from_nanos(nanos.clamp(0, 999_999_999) as u64);
    let whole = std::time::Duration::from_secs(secs.unsigned_abs());
    if secs >= 0 { std::time::UNIX_EPOCH + whole + nanos } else { std::time::UNIX_EPOCH - whole + nanos }
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`: the entry in the open
/// directory, wherever that directory is now.
fn stat_at(dir: &Handle, path: &Path) -> io::Result<Metadata> {
    use rustix::fs::FileType;
    let open = handles::get(dir)?;
    let name = entry_name(dir, path)?;
    let st = rustix::fs::statat(&*open, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)?;
    let kind = match FileType::from_raw_mode(st.st_mode as _) {
        FileType::RegularFile => FileKind::File,
        FileType::Directory => FileKind::Dir,
        FileType::Symlink => FileKind::Symlink,
        _ => FileKind::Special,
    };
    #[allow(clippy::unnecessary_cast, reason = "the stat fields' types differ between targets")]
    let (len, times, id) = (
        st.st_size as u64,
        ((st.st_mtime as i64, st.st_mtime_nsec as i64), (st.st_ctime as i64, st.st_ctime_nsec as i64)),
        (st.st_dev as u64, st.st_ino as u64),
    );
    Ok(from_stat(kind, len, times, id))
}

/// `unlinkat(dir, name, 0)`: a directory is refused (`EISDIR`).
fn remove_file_at(dir: &Handle, path: &Path) -> io::Result<()> {
    let open = handles::get(dir)?;
    let name = entry_name(dir, path)?;
    Ok(rustix::fs::unlinkat(&*open, name, rustix::fs::AtFlags::empty())?)
}

/// Read a whole regular file. Opened non-blocking and checked after open,
/// so a FIFO or device at `path` (planted by anyone) is refused at once
/// instead of blocking the caller forever.
fn read(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut file = open_checked(OpenOptions::new().read(true), path)?;
    let m = file.metadata()?;
    if m.is_dir() {
        return Err(io::Error::from(io::ErrorKind::IsADirectory));
    }
    // The length is a hint (a sparse file may claim terabytes): reserve
    // at most 1 MiB up front, grow as bytes arrive.
    let mut out = Vec::with_capacity(m.len().min(1 << 20) as usize);
    file.read_to_end(&mut out)?;
    Ok(out)
}
