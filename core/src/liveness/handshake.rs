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

/// Lines and bytes of pollution read so far.
#[derive(Default)]
struct Seen {
    lines: usize,
    bytes: usize,
}

impl Handshake {
    /// Read lines with `next_line` (`None` at EOF) until the answer, within
    /// the deadline; returns the answer line.
    ///
    /// `next_line` reads whole lines, so the bytes bound is only as good as
    /// its own: over a pipe, `Handshake::wait_reader` (feature `real`)
    /// holds no more than `bytes_max` however long a line is.
    pub async fn wait<F>(&self, clock: &dyn Clock, mut next_line: F) -> Result<String, HandshakeError>
    where
        F: FnMut() -> BoxFuture<'static, io::Result<Option<String>>>,
    {
        let read = async {
            let mut seen = Seen::default();
            loop {
                let Some(line) = next_line().await? else { return Err(HandshakeError::Eof) };
                let len = line.len();
                if let Some(verdict) = self.judge(line, len, &mut seen) {
                    return verdict;
                }
            }
        };
        self.within(clock, read).await
    }

    /// [`Handshake::wait`] on the child's output as bytes (its stdout
    /// pipe): a line ends at LF (a CR before it dropped) or at EOF. No line
    /// is kept past `bytes_max`: once the bytes of the lines before the
    /// answer and of the line arriving reach it, the wait ends
    /// [`HandshakeError::Polluted`] with that line counted and `bytes` at
    /// the bound, however the bytes arrive, so a child printing one endless
    /// line is stopped there instead of buffered until the deadline. The
    /// answer line counts too (where [`Handshake::wait`], given whole
    /// lines, looks at it first). Bytes are counted as they arrive; those
    /// that are no UTF-8 read as U+FFFD.
    #[cfg(feature = "real")]
    pub async fn wait_reader<R>(&self, clock: &dyn Clock, reader: &mut R) -> Result<String, HandshakeError>
    where
        R: tokio::io::AsyncRead + Unpin + ?Sized,
    {
        use tokio::io::AsyncReadExt;
        let read = async {
            let mut seen = Seen::default();
            let mut line = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = reader.read(&mut buf).await?;
                // EOF ends the last line as an LF would.
                let eof = n == 0;
                let bytes: &[u8] = if eof { b"\n" } else { &buf[..n] };
                for piece in bytes.split_inclusive(|&b| b == b'\n') {
                    let (body, ends) = match piece.strip_suffix(b"\n") {
                        Some(body) => (body, true),
                        None => (piece, false),
                    };
                    line.extend_from_slice(body);
                    // The line as it will be: a CR it ends in (so far) is
                    // none of its bytes, whichever read brings the LF.
                    let counted = line.len() - usize::from(line.last() == Some(&b'\r'));
                    if seen.bytes + counted >= self.bytes_max {
                        return Err(HandshakeError::Polluted { lines: seen.lines + 1, bytes: self.bytes_max });
                    }
                    if !ends || (eof && line.is_empty()) {
                        continue;
                    }
                    line.truncate(counted);
                    let whole = String::from_utf8_lossy(&line).into_owned();
                    line.clear();
                    if let Some(verdict) = self.judge(whole, counted, &mut seen) {
                        return verdict;
                    }
                }
                if eof {
                    return Err(HandshakeError::Eof);
                }
            }
        };
        self.within(clock, read).await
    }

    /// What one line (of `len` bytes as read) means: the answer, the
    /// child's failure, pollution past a bound, or (`None`) pollution
    /// within them, counted.
    fn judge(&self, line: String, len: usize, seen: &mut Seen) -> Option<Result<String, HandshakeError>> {
        if line.starts_with(&self.prefix) {
            return Some(Ok(line));
        }
        if let Some(why) = line.strip_prefix(&self.error_prefix) {
            return Some(Err(HandshakeError::Failed(why.trim().to_string())));
        }
        seen.lines += 1;
        seen.bytes += len;
        (seen.lines >= self.lines_max || seen.bytes >= self.bytes_max)
            .then_some(Err(HandshakeError::Polluted { lines: seen.lines, bytes: seen.bytes }))
    }

    /// `read` within the deadline.
    async fn within(
        &self,
        clock: &dyn Clock,
        read: impl Future<Output = Result<String, HandshakeError>>,
    ) -> Result<String, HandshakeError> {
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
