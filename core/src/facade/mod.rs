//! Shared parts of the two file facades: the open-mode builder and
//! directory listings. See [`crate::tokio_fs`] and [`crate::std_fs`].

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::fs::{DirEntry as SeamEntry, FileKind, Fs, FsExt, Metadata};

pub mod std_fs;
pub mod tokio_fs;

/// The setters of `std::fs::OpenOptions`, once for both facades.
macro_rules! open_mode_setters {
    () => {
        /// Options with nothing set (as `OpenOptions::new`).
        pub fn new() -> Self {
            Self(crate::fs::OpenMode::default())
        }
        /// Open for reading.
        pub fn read(&mut self, on: bool) -> &mut Self {
            self.0.read = on;
            self
        }
        /// Open for writing.
        pub fn write(&mut self, on: bool) -> &mut Self {
            self.0.write = on;
            self
        }
        /// Every write lands at the end of the file.
        pub fn append(&mut self, on: bool) -> &mut Self {
            self.0.append = on;
            self
        }
        /// Empty the file when it is opened (needs `write`).
        pub fn truncate(&mut self, on: bool) -> &mut Self {
            self.0.truncate = on;
            self
        }
        /// Create the file if it is missing.
        pub fn create(&mut self, on: bool) -> &mut Self {
            self.0.create = on;
            self
        }
        /// Create the file, failing if anything is at the path.
        pub fn create_new(&mut self, on: bool) -> &mut Self {
            self.0.create_new = on;
            self
        }
    };
}
pub(crate) use open_mode_setters;

/// One entry of a facade directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub dir: PathBuf,
    pub entry: SeamEntry,
}

impl Entry {
    pub fn list(dir: &Path, entries: Vec<SeamEntry>) -> std::vec::IntoIter<Entry> {
        entries.into_iter().map(|entry| Entry { dir: dir.to_path_buf(), entry }).collect::<Vec<_>>().into_iter()
    }
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.entry.name)
    }
    pub fn file_name(&self) -> OsString {
        self.entry.name.clone()
    }
    pub fn kind(&self) -> FileKind {
        self.entry.kind
    }
}

/// `copy`: the content of `from` written to `to`; the bytes copied.
pub(crate) async fn copy(fs: &Arc<dyn Fs>, from: &Path, to: &Path) -> io::Result<u64> {
    let bytes = fs.read(from).await?;
    let n = bytes.len() as u64;
    fs.write(to, bytes).await?;
    Ok(n)
}

/// `try_exists`: `Ok(false)` for a missing or dangling path.
pub(crate) fn exists(result: io::Result<Metadata>) -> io::Result<bool> {
    match result {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// `read_to_string`: the bytes as UTF-8, `InvalidData` otherwise.
pub(crate) fn utf8(bytes: Vec<u8>) -> io::Result<String> {
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Where a seek lands, or `InvalidInput` before the start of the file.
pub(crate) fn seek_target(pos: u64, len: Option<u64>, to: io::SeekFrom) -> io::Result<u64> {
    let (base, delta) = match to {
        io::SeekFrom::Start(n) => return Ok(n),
        io::SeekFrom::Current(d) => (pos, d),
        io::SeekFrom::End(d) => (len.unwrap_or(0), d),
    };
    base.checked_add_signed(delta)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek to a negative or overflowing position"))
}
