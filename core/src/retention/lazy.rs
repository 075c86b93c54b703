//! [`LazySink`]: a JSONL file that appears on its first write only (R5).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::Env;
use crate::fs::{Fs, FsExt, OpenMode};
use crate::signal::Signal;

/// Appends one line per record to a file created on the first write.
///
/// Records stay whole lines: a write that failed may have left a fragment
/// of its record at the end of the file (a short append before EIO or
/// ENOSPC), and the next write cuts the file back to its last whole line
/// before it appends, so that no record is glued to a fragment. Writes on
/// one sink take turns, so that a cut never races an append.
pub struct LazySink {
    fs: Arc<dyn Fs>,
    path: PathBuf,
    state: Mutex<State>,
    signal: Signal,
}

#[derive(Default)]
struct State {
    /// A write is in progress (its turn).
    busy: bool,
    /// A write failed: the file may end in a fragment.
    torn: bool,
}

/// How far back a cut looks for the last newline per read.
const CUT_CHUNK: u64 = 4096;

impl LazySink {
    /// A sink for `path`: creates its directory now (a bad directory is
    /// reported here, not at the first record) but not the file.
    pub async fn open(env: &Env, path: impl Into<PathBuf>) -> io::Result<LazySink> {
        let path = path.into();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            env.fs.create_dir_all(dir).await?;
        }
        Ok(LazySink { fs: env.fs.clone(), path, state: Mutex::default(), signal: Signal::default() })
    }

    /// The file (which may not exist yet).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Append one record as one line (a newline is added; the record must
    /// not contain one). Creates the file if needed, keeping what is there,
    /// and its directory if it was removed meanwhile (R5). After a failed
    /// write, first cuts the fragment it may have left; if that fails, the
    /// record is not written and the error is returned.
    pub async fn write_line(&self, record: &str) -> io::Result<()> {
        if record.contains('\n') {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a record must be one line"));
        }
        let _turn = self.turn().await;
        if self.state().torn {
            self.cut_fragment().await?;
            self.state().torn = false;
        }
        let mut line = Vec::with_capacity(record.len() + 1);
        line.extend_from_slice(record.as_bytes());
        line.push(b'\n');
        let result = match self.fs.append(&self.path, line.clone()).await {
            // The directory was removed under a running sink (R5): make it
            // again, as the first write of a new sink would, and retry once.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    self.fs.create_dir_all(dir).await?;
                }
                self.fs.append(&self.path, line).await
            }
            other => other,
        };
        if result.is_err() {
            self.state().torn = true;
        }
        result
    }

    /// Wait for this sink's turn to write; it ends when the guard drops
    /// (also when the write is cancelled).
    async fn turn(&self) -> Turn<'_> {
        self.signal
            .until(|| {
                let mut st = self.state();
                (!st.busy).then(|| st.busy = true)
            })
            .await;
        Turn(self)
    }

    /// Cut the file back to just after its last newline (to nothing if it
    /// has none), reading back from its end a chunk at a time. A missing
    /// file has nothing to cut.
    async fn cut_fragment(&self) -> io::Result<()> {
        let fs = &self.fs;
        let rw = OpenMode { read: true, write: true, ..OpenMode::default() };
        let h = match fs.open(&self.path, rw).await {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            other => other?,
        };
        let cut = async {
            let len = fs.handle_metadata(&h).await?.len;
            let mut end = len;
            let keep = loop {
                if end == 0 {
                    break 0;
                }
                let start = end.saturating_sub(CUT_CHUNK);
                let chunk = fs.read_at(&h, start, end - start).await?;
                if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
                    break start + i as u64 + 1;
                }
                end = start;
            };
            debug_assert!(keep <= len, "a cut never grows the file");
            if keep < len { fs.set_len(&h, keep).await } else { Ok(()) }
        };
        let result = cut.await;
        let closed = fs.close(&h).await;
        result.and(closed)
    }
}

/// A write's turn on its sink.
struct Turn<'a>(&'a LazySink);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.0.state().busy = false;
        self.0.signal.notify();
    }
}
