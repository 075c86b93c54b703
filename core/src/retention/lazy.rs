//! [`LazySink`]: a JSONL file that appears on its first write only (R5).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::Env;
use crate::fs::{Fs, FsExt};

/// Appends one line per record to a file created on the first write.
pub struct LazySink {
    fs: Arc<dyn Fs>,
    path: PathBuf,
}

impl LazySink {
    /// A sink for `path`: creates its directory now (a bad directory is
    /// reported here, not at the first record) but not the file.
    pub async fn open(env: &Env, path: impl Into<PathBuf>) -> io::Result<LazySink> {
        let path = path.into();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            env.fs.create_dir_all(dir).await?;
        }
        Ok(LazySink { fs: env.fs.clone(), path })
    }

    /// The file (which may not exist yet).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one record as one line (a newline is added; the record must
    /// not contain one). Creates the file if needed, keeping what is there,
    /// and its directory if it was removed meanwhile (R5).
    pub async fn write_line(&self, record: &str) -> io::Result<()> {
        if record.contains('\n') {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a record must be one line"));
        }
        let mut line = Vec::with_capacity(record.len() + 1);
        line.extend_from_slice(record.as_bytes());
        line.push(b'\n');
        match self.fs.append(&self.path, line.clone()).await {
            // The directory was removed under a running sink (R5): make it
            // again, as the first write of a new sink would, and retry once.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    self.fs.create_dir_all(dir).await?;
                }
                self.fs.append(&self.path, line).await
            }
            other => other,
        }
    }
}
