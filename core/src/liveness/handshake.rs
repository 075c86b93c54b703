//! [`Handshake`] (the parent's wait) and [`DeferUntilHandshake`] (the
//! child's rule) (H4).

use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::fs::BoxFuture;
use crate::{Clock, Spawn};

/// How a parent waits for its child's first message. Defaults are
/// upstream's.
#[derive(Clone, Debug)]
pub struct Handshake {
    /// The line that answers starts with this.
    pub prefix: String,
    /// A line starting with this is the child's failure.
    pub error_prefix: String,
    /// The deadline. Default 30 s.
    pub deadline: Duration,
    /// Lines read before giving up on pollution. Default 64.
    pub lines_max: usize,
    /// Bytes read before giving up on pollution. Default 64 KiB.
    pub bytes_max: usize,
}

impl Handshake {
    /// A handshake answered by a line starting with `prefix`.
    pub fn new(prefix: &str) -> Handshake {
        Handshake {
            prefix: prefix.into(),
            error_prefix: "error:".into(),
            deadline: Duration::from_secs(30),
            lines_max: 64,
            bytes_max: 64 << 10,
        }
    }
}

/// Why a handshake failed. On any of these the parent kills and reaps the
/// child.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// No answer before the deadline (H4).
    #[error("no handshake within {} ms", .0.as_millis())]
    Timeout(Duration),
    /// The child closed its output first.
    #[error("the child closed its output before its handshake")]
    Eof,
    /// The child reported a failure.
    #[error("the child failed: {0}")]
    Failed(String),
    /// Too much output before an answer.
    #[error("{lines} lines / {bytes} bytes before a handshake: polluted output")]
    Polluted {
        /// Lines read.
        lines: usize,
        /// Bytes read.
        bytes: usize,
    },
    /// Reading failed.
    #[error("reading the child's output: {0}")]
    Io(#[from] io::Error),
}

impl Handshake {
    /// Read lines with `next_line` (`None` at EOF) until the answer, within
    /// the deadline; returns the answer line.
    pub async fn wait<F>(&self, clock: &dyn Clock, mut next_line: F) -> Result<String, HandshakeError>
    where
        F: FnMut() -> BoxFuture<'static, io::Result<Option<String>>>,
    {
        let read = async {
            let (mut lines, mut bytes) = (0, 0);
            loop {
                let Some(line) = next_line().await? else { return Err(HandshakeError::Eof) };
                if line.starts_with(&self.prefix) {
                    return Ok(line);
                }
                if let Some(why) = line.strip_prefix(&self.error_prefix) {
                    return Err(HandshakeError::Failed(why.trim().to_string()));
                }
                lines += 1;
                bytes += line.len();
                if lines >= self.lines_max || bytes >= self.bytes_max {
                    return Err(HandshakeError::Polluted { lines, bytes });
                }
            }
        };
        match crate::timeout(clock, self.deadline, read).await {
            Ok(result) => result,
            Err(_) => Err(HandshakeError::Timeout(self.deadline)),
        }
    }
}

/// The child's side of H4: work queued here runs only once the handshake
/// was sent, so nothing expensive (a scan of every session, a sweep) can
/// delay the answer.
#[derive(Clone, Default)]
pub struct DeferUntilHandshake {
    inner: Arc<Mutex<(bool, Vec<BoxFuture<'static, ()>>)>>,
}

impl std::fmt::Debug for DeferUntilHandshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (sent, queued) = &*self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f.debug_struct("DeferUntilHandshake").field("sent", sent).field("queued", &queued.len()).finish()
    }
}

impl DeferUntilHandshake {
    /// An empty queue, handshake not yet sent.
    pub fn new() -> DeferUntilHandshake {
        DeferUntilHandshake::default()
    }

    /// Run `work` after the handshake (at once if it was already sent).
    pub fn defer(&self, spawner: &dyn Spawn, work: impl Future<Output = ()> + Send + 'static) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if g.0 {
            drop(g);
            drop(spawner.spawn("deferred-startup", Box::pin(work)));
        } else {
            g.1.push(Box::pin(work));
        }
    }

    /// Call right after sending the handshake: starts every queued task.
    pub fn handshake_sent(&self, spawner: &dyn Spawn) {
        let queued = {
            let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            g.0 = true;
            std::mem::take(&mut g.1)
        };
        for work in queued {
            drop(spawner.spawn("deferred-startup", work));
        }
    }
}
