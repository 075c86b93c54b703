//! [`LazySink`]: a JSONL file that appears on its first write only (R5).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::Env;
use crate::fs::{Fs, FsExt, Handle, OpenMode};
use crate::signal::Signal;
use crate::spawn::{Spawn, run_detached};

/// Appends one line per record to a file created on the first write.
///
/// Records stay whole lines. A write that failed may have left a fragment
/// of its line at the end of the file (a short append before EIO or
/// ENOSPC); so may a process that died mid-write. The first write of a
/// sink, and the next write after a failed one, cut such a fragment (the
/// bytes after the file's last newline, at most one line's worth: the
/// failed line's, or [`FRAGMENT_MAX_AT_OPEN`] bytes of a previous
/// process's) before they append, so that no record is glued to one. Longer unterminated
/// data is not this sink's: it is kept whole, and ended with a newline so
/// that the next record starts a line of its own. A sink assumes it is
/// its file's only writer.
///
/// Writes on one sink take turns, and each runs to its end as a task of
/// its own: a caller that stops waiting (a timeout) does not abandon an
/// append or a cut halfway, so the next write never races one. One write
/// that hangs on the file system holds up the writes after it.
///
/// A sink never writes through a symlink at its path: every open it makes
/// refuses one (`O_NOFOLLOW`, see [`OpenMode::no_follow`]), and the write
/// fails with `ELOOP`. Its file's name is predictable (a pid in it, in a
/// shared directory), so a symlink planted there would otherwise aim its
/// appends, and its cuts, at any file the process may write. Symlinks
/// among the directories above the file are followed as before.
/// `O_NOFOLLOW` does nothing against a hard link to another file planted
/// at the path: in a directory other users can write, that is the
/// kernel's `fs.protected_hardlinks` to refuse (on a network file system,
/// the server's hosts' setting), or the sink's to avoid by living in a
/// directory only its user can write.
pub struct LazySink {
    inner: Arc<Inner>,
    spawner: Arc<dyn Spawn>,
}

impl std::fmt::Debug for LazySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazySink").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

struct Inner {
    fs: Arc<dyn Fs>,
    path: PathBuf,
    state: Mutex<State>,
    signal: Signal,
}

struct State {
    /// A write is in progress (its turn).
    busy: bool,
    /// The file may end in a fragment of at most this many bytes: before
    /// the first write (a previous writer's), and after a failed one.
    fragment_max: Option<u64>,
}

/// The longest fragment the first write of a sink cuts (a previous
/// process's unfinished line).
pub const FRAGMENT_MAX_AT_OPEN: u64 = 4096;

impl LazySink {
    /// A sink for `path`: creates its directory now (a bad directory is
    /// reported here, not at the first record) but not the file.
    pub async fn open(env: &Env, path: impl Into<PathBuf>) -> io::Result<LazySink> {
        let path = path.into();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            env.fs.create_dir_all(dir).await?;
        }
        let state = State { busy: false, fragment_max: Some(FRAGMENT_MAX_AT_OPEN) };
        let inner = Inner { fs: env.fs.clone(), path, state: Mutex::new(state), signal: Signal::default() };
        Ok(LazySink { inner: Arc::new(inner), spawner: env.spawner.clone() })
    }

    /// The file (which may not exist yet).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Append one record as one line (a newline is added; the record must
    /// not contain one). Creates the file if needed, keeping what is there,
    /// and its directory if it was removed meanwhile (R5). First cuts a
    /// fragment the file may end in (see the type's docs); if that fails,
    /// the record is not written and the error is returned.
    pub async fn write_line(&self, record: &str) -> io::Result<()> {
        if record.contains('\n') {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a record must be one line"));
        }
        let mut line = Vec::with_capacity(record.len() + 1);
        line.extend_from_slice(record.as_bytes());
        line.push(b'\n');
        let inner = self.inner.clone();
        run_detached(&*self.spawner, "lazy-sink-write", Box::pin(async move { inner.write(line).await })).await
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One write, in its turn.
    async fn write(&self, line: Vec<u8>) -> io::Result<()> {
        let _turn = self.turn().await;
        let fragment_max = self.state().fragment_max;
        if let Some(max) = fragment_max {
            self.cut_fragment(max).await?;
        }
        // Until it is known to have landed whole, this line may leave a
        // fragment of itself.
        self.state().fragment_max = Some(line.len() as u64 - 1);
        let result = match self.append(&line).await {
            // The directory was removed under a running sink (R5): make it
            // again, as the first write of a new sink would, and retry once.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    self.fs.create_dir_all(dir).await?;
                }
                self.append(&line).await
            }
            other => other,
        };
        if result.is_ok() {
            self.state().fragment_max = None;
        }
        result
    }

    /// Append `line` in one write on a descriptor opened to append (and
    /// create), refusing a symlink at the path. The close that follows
    /// never fails (the `Fs` contract), so the write's result is the
    /// record's.
    async fn append(&self, line: &[u8]) -> io::Result<()> {
        let fs = &self.fs;
        let h = fs.open(&self.path, OpenMode::APPEND_CREATE.refuse_symlink()).await?;
        let wrote = fs.write_at(&h, 0, line.to_vec()).await;
        let _ = fs.close(&h).await;
        wrote.map(|_| ())
    }

    /// Wait for this sink's turn to write; it ends when the guard drops.
    async fn turn(&self) -> Turn<'_> {
        self.signal
            .until(|| {
                let mut st = self.state();
                (!st.busy).then(|| st.busy = true)
            })
            .await;
        Turn(self)
    }

    /// Cut what follows the file's last newline, if that is at most `max`
    /// bytes; end a longer unterminated tail (not a fragment of this
    /// sink's) with a newline instead. A missing file has nothing to cut.
    /// Done: the file ends where a record can start.
    async fn cut_fragment(&self, max: u64) -> io::Result<()> {
        let fs = &self.fs;
        let h = match fs.open(&self.path, OpenMode::READ_WRITE.refuse_symlink()).await {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.state().fragment_max = None;
                return Ok(());
            }
            other => other?,
        };
        let cut = self.cut_open(&h, max).await;
        let closed = fs.close(&h).await;
        cut.and(closed)?;
        self.state().fragment_max = None;
        Ok(())
    }

    async fn cut_open(&self, h: &Handle, max: u64) -> io::Result<()> {
        let fs = &self.fs;
        let len = fs.handle_metadata(h).await?.len;
        // The tail: the fragment and the newline before it.
        let start = len.saturating_sub(max + 1);
        let tail = fs.read_at(h, start, len - start).await?;
        if tail.is_empty() || tail.last() == Some(&b'\n') {
            return Ok(());
        }
        let keep = tail.iter().rposition(|&b| b == b'\n').map_or(start, |i| start + i as u64 + 1);
        // Longer than one line of this sink's (no newline within reach):
        // not its fragment. Kept, and ended, so no record is glued to it.
        if len - keep > max {
            fs.write_at(h, len, b"\n".to_vec()).await?;
            return Ok(());
        }
        debug_assert!(keep < len, "a cut takes a fragment, never a whole line");
        fs.set_len(h, keep).await
    }
}

/// A write's turn on its sink.
struct Turn<'a>(&'a Inner);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.0.state().busy = false;
        self.0.signal.notify();
    }
}
