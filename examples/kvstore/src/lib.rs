//! A tiny durable key-value store: an append-only log of `put KEY VALUE`
//! lines in one directory, replayed on open. Written the way code written
//! for `tokio::fs` is, against `steadfast_core::tokio_fs` instead: the same
//! code runs on real files (`main`) and in steadfast's simulated world
//! (`tests/durability.rs`), where every call meets slow disks, errors and
//! power loss. Switching from tokio was the `use` lines below.
//!
//! A put is acknowledged once its line is appended and `fdatasync`ed (and
//! the directory fsynced when the log was created). A failed append may
//! leave part of a line; the store cuts the log back to its last whole
//! line (`set_len`, then `fdatasync`) before it appends again, and on open.

use std::collections::BTreeMap;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

// use tokio::fs::{self as fs, File, OpenOptions};
use steadfast_core::tokio_fs::{self as fs, File, OpenOptions};
use tokio::io::AsyncWriteExt as _;

/// The store.
pub struct KvStore {
    dir: PathBuf,
    /// The log, open for appending.
    log: File,
    /// Bytes of the log that hold whole lines.
    whole: u64,
    map: BTreeMap<String, u64>,
    /// The log may end in part of a line (an append failed): cut it first.
    dirty: bool,
    /// The log's directory entry is durable (the directory was fsynced
    /// since the log was created, or the log survived a restart).
    entry_durable: bool,
}

impl KvStore {
    /// Open the store in `dir`, creating it if needed.
    pub async fn open(dir: &Path) -> io::Result<KvStore> {
        fs::create_dir_all(dir).await?;
        let path = dir.join("log");
        let (bytes, entry_durable) = match fs::read(&path).await {
            Ok(b) => (b, true),
            // A new store: its directory's own entry must be durable too
            // (the simulator found this missing: a power loss took the
            // whole directory, fsynced log and all).
            Err(e) if e.kind() == ErrorKind::NotFound => {
                if let Some(parent) = dir.parent() {
                    File::open(parent).await?.sync_all().await?;
                }
                (Vec::new(), false)
            }
            Err(e) => return Err(e),
        };
        let log = OpenOptions::new().append(true).create(true).open(&path).await?;
        let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) as u64;
        let mut store = KvStore { dir: dir.to_path_buf(), log, whole, map: parse(&bytes), dirty: true, entry_durable };
        store.repair().await?;
        Ok(store)
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.map.get(key).copied()
    }

    /// Every key and value.
    pub fn all(&self) -> &BTreeMap<String, u64> {
        &self.map
    }

    /// Store `value` under `key`; `Ok` means it survives a crash.
    pub async fn put(&mut self, key: &str, value: u64) -> io::Result<()> {
        assert!(!key.is_empty() && !key.contains([' ', '\n']), "keys are single words: {key:?}");
        if self.dirty {
            self.repair().await?;
        }
        let line = format!("put {key} {value}\n");
        // The line is written whole or the log is cut back before the next.
        self.dirty = true;
        self.log.write_all(line.as_bytes()).await?;
        self.log.flush().await?;
        if !cfg!(feature = "planted-bug") {
            self.log.sync_data().await?;
        }
        if !self.entry_durable && !cfg!(feature = "planted-bug-dir") {
            // tokio has no sync_dir: fsync the directory through a handle.
            File::open(&self.dir).await?.sync_all().await?;
            self.entry_durable = true;
        }
        self.whole += line.len() as u64;
        self.dirty = false;
        self.map.insert(key.to_string(), value);
        Ok(())
    }

    /// Cut the log back to its last whole line if it ends in part of one,
    /// durably.
    async fn repair(&mut self) -> io::Result<()> {
        if self.log.metadata().await?.len() != self.whole {
            self.log.set_len(self.whole).await?;
            self.log.sync_data().await?;
        }
        self.dirty = false;
        Ok(())
    }
}

/// The map a log holds: every whole `put` line, in order (the last wins).
pub fn parse(bytes: &[u8]) -> BTreeMap<String, u64> {
    let text = String::from_utf8_lossy(bytes);
    let whole = text.rfind('\n').map_or("", |i| &text[..i]);
    let mut map = BTreeMap::new();
    for line in whole.lines() {
        let mut words = line.split(' ');
        if let (Some("put"), Some(key), Some(Ok(value)), None) =
            (words.next(), words.next(), words.next().map(str::parse), words.next())
        {
            map.insert(key.to_string(), value);
        }
    }
    map
}
