//! A tiny durable key-value store: an append-only log of `put KEY VALUE`
//! lines in one directory, replayed on open. Written only against
//! `steadfast-core`'s `Env`, so the same code runs on real files (`main`)
//! and in steadfast's simulated world (`tests/durability.rs`).
//!
//! A put is acknowledged once its line is appended and fsynced (and the
//! directory fsynced when the log was created). A failed append may leave
//! part of a line; the store cuts the log back to its last whole line
//! before it appends again, and on open.

use std::collections::BTreeMap;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

use steadfast_core::{Env, FsExt};

/// The store.
pub struct KvStore {
    env: Env,
    dir: PathBuf,
    map: BTreeMap<String, u64>,
    /// The log may end in part of a line (an append failed): cut it first.
    dirty: bool,
    /// The log's directory entry is durable (the directory was fsynced
    /// since it was created, or it survived a restart).
    entry_durable: bool,
}

impl KvStore {
    /// Open the store in `dir`, creating it if needed.
    pub async fn open(env: &Env, dir: &Path) -> io::Result<KvStore> {
        env.fs.create_dir_all(dir).await?;
        let mut store = KvStore {
            env: env.clone(),
            dir: dir.to_path_buf(),
            map: BTreeMap::new(),
            dirty: true,
            entry_durable: true,
        };
        let bytes = match env.fs.read(store.log()).await {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                store.entry_durable = false;
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        store.map = parse(&bytes);
        store.repair(&bytes).await?;
        Ok(store)
    }

    fn log(&self) -> PathBuf {
        self.dir.join("log")
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
            let bytes = self.env.fs.read(self.log()).await.or_else(|e| match e.kind() {
                ErrorKind::NotFound => Ok(Vec::new()),
                _ => Err(e),
            })?;
            self.repair(&bytes).await?;
        }
        let line = format!("put {key} {value}\n");
        let appended = self.env.fs.append(self.log(), line.into_bytes()).await;
        if appended.is_err() {
            self.dirty = true;
        }
        appended?;
        if !cfg!(feature = "planted-bug") {
            self.env.fs.sync_file(self.log()).await?;
        }
        if !self.entry_durable {
            self.env.fs.sync_dir(&self.dir).await?;
            self.entry_durable = true;
        }
        self.map.insert(key.to_string(), value);
        Ok(())
    }

    /// Cut the log back to its last whole line, atomically (tmp, fsync,
    /// rename, directory fsync), if it ends in part of one.
    async fn repair(&mut self, bytes: &[u8]) -> io::Result<()> {
        let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if whole < bytes.len() {
            let tmp = self.dir.join("log.tmp");
            self.env.fs.write(&tmp, bytes[..whole].to_vec()).await?;
            self.env.fs.sync_file(&tmp).await?;
            self.env.fs.rename(&tmp, self.log()).await?;
            self.env.fs.sync_dir(&self.dir).await?;
            self.entry_durable = true;
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
