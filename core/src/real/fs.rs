//! [`RealFs`]: the operating system's file system.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::Path;

use crate::fs::{BoxFuture, DirEntry, FileKind, Fs, FsOp, FsOutput, Metadata};

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
        FsOp::Read(p) => fs::read(p).map(FsOutput::Bytes),
        FsOp::Write { path, data } => fs::write(path, data).map(unit),
        FsOp::Append { path, data } => append(&path, &data).map(unit),
        FsOp::CreateNew { path, data } => create_new(&path, &data).map(unit),
        FsOp::Rename { from, to } => fs::rename(from, to).map(unit),
        FsOp::RemoveFile(p) => fs::remove_file(p).map(unit),
        FsOp::RemoveDir(p) => fs::remove_dir(p).map(unit),
        FsOp::RemoveDirAll(p) => remove_dir_all(&p).map(unit),
        FsOp::ReadDir(p) => read_dir(&p).map(FsOutput::Entries),
        FsOp::SymlinkMetadata(p) => fs::symlink_metadata(p).and_then(meta),
        FsOp::Metadata(p) => fs::metadata(p).and_then(meta),
        FsOp::SyncFile(p) => File::open(p)?.sync_all().map(unit),
        FsOp::SyncDir(p) => sync_dir(&p).map(unit),
        FsOp::Symlink { target, link } => std::os::unix::fs::symlink(target, link).map(unit),
        FsOp::ReadLink(p) => fs::read_link(p).map(FsOutput::Path),
    }
}

fn unit(_: ()) -> FsOutput {
    FsOutput::Unit
}

fn append(path: &Path, data: &[u8]) -> io::Result<()> {
    // One write(2) on an O_APPEND descriptor: the kernel places it at the end
    // atomically, so concurrent appenders never interleave within a line.
    OpenOptions::new().append(true).create(true).open(path)?.write_all(data)
}

fn create_new(path: &Path, data: &[u8]) -> io::Result<()> {
    OpenOptions::new().write(true).create_new(true).open(path)?.write_all(data)
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

fn read_dir(path: &Path) -> io::Result<Vec<DirEntry>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(path)? {
        let entry = match entry {
            Ok(e) => e,
            // An entry that vanished between readdir and stat is simply not
            // listed, like `ls` does.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let kind = match entry.file_type() {
            Ok(t) => kind_of(t),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        out.push(DirEntry { name: entry.file_name(), kind });
    }
    out.sort();
    Ok(out)
}

fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = File::open(path)?;
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
    } else {
        FileKind::File
    }
}

fn meta(m: fs::Metadata) -> io::Result<FsOutput> {
    Ok(FsOutput::Metadata(Metadata { kind: kind_of(m.file_type()), len: m.len(), modified: m.modified()? }))
}
