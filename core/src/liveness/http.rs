//! `/healthz` over HTTP/1.1 on tokio (feature `real`): one route,
//! hand-written because it is a few dozen lines where a server stack would
//! be the biggest dependency of the build. It matches what a server stack
//! promises, point by point, and survives its clients (H5):
//! - an accept error is never the end of the server. EMFILE or ENFILE (an
//!   idle-connection flood past the descriptor limit) first closes a
//!   waiting connection (as below) and accepts again at once; other errors, or nothing to close, back off (5 ms doubling to
//!   500 ms) and retry;
//! - every connection has a deadline for its request head
//!   ([`HEAD_TIMEOUT`]) and a size limit (8 KiB, else 400);
//! - at most [`CONNECTIONS_MAX`] connections are held: a new one past the
//!   cap closes the oldest connection still waiting for its head (or
//!   lingering after its answer, below) of the peer address that holds
//!   the most of them, so a load balancer's probe
//!   is answered even while one client's idle connections fill every slot
//!   and renew faster than a probe's head arrives, and descriptors and
//!   memory stay bounded (a flood from as many addresses as there are
//!   slots can still crowd a probe out: that is a DDoS, for the network
//!   in front to stop);
//! - a malformed head is answered 400, another method 405 (with `allow`),
//!   another path 404, `HEAD` the `GET`'s headers without a body;
//! - a head is read as RFC 9112 has a server read one: a bare LF ends a
//!   line as CRLF does, empty lines before the request line are skipped,
//!   and a target in absolute form (`http://host/healthz`) is its path; a
//!   head trickled a byte at a time is scanned in linear time;
//! - each connection answers one request and closes (pipelined requests
//!   after it are not answered). Before it closes, it reads and discards
//!   what the peer still sends (a body, a pipelined request, the rest of
//!   an oversized head) until the peer closes, for at most [`LINGER`], as
//!   RFC 9112 §9.6 asks: a socket closed with unread bytes is reset, and a
//!   client still sending (a `POST` with a body) fails on the reset before
//!   it reads its answer. A lingering connection is again one a new
//!   connection may close.
//!
//! The accept loop is generic over [`Listener`]: tokio's `TcpListener` in
//! production, turmoil's simulated TCP in the tests that run hostile
//! clients over a seeded network (`healthz_turmoil`). Services that run
//! their own HTTP server mount the same answer through
//! [`healthz_response`](super::healthz_response) and its `http` and
//! `tower` forms.

#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use super::Heartbeat;
use super::answer::{Answer, answer_method};

/// Longest request head read before answering 400.
const HEAD_MAX: usize = 8 << 10;
/// How long a connection may take to send its request head: an idle or
/// slow-loris connection is closed after this.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest a connection is drained after its answer (see the module's
/// docs): what the peer sends after that is reset, as before.
pub const LINGER: Duration = Duration::from_secs(2);
/// Most bytes drained after an answer: the work a peer can ask of the
/// server per connection is bounded in bytes as well as in time.
const LINGER_BYTES_MAX: usize = 16 << 20;
/// Connections held at once; a new one past this closes the oldest still
/// waiting for its head (or lingering after its answer).
pub const CONNECTIONS_MAX: usize = 256;
/// Back-off after a failed accept, doubling up to the maximum.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_millis(500);

/// Where the server's connections come from: tokio's `TcpListener`, or a
/// simulated one (turmoil's) in tests.
pub trait Listener: Send + 'static {
    /// One accepted connection.
    type Conn: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Accept the next connection, and its peer's address.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Conn, SocketAddr)>> + Send;
}

impl Listener for TcpListener {
    type Conn = tokio::net::TcpStream;
    async fn accept(&mut self) -> io::Result<(Self::Conn, SocketAddr)> {
        TcpListener::accept(self).await
    }
}

/// Serve `/healthz` on `addr` until the task is dropped: `GET` (and
/// `HEAD`) answer 200 or 503 with the JSON body of [`super::Health`] and
/// `cache-control: no-store`; other methods 405, other paths 404, a
/// malformed or oversized head 400. Returns the bound address through
/// `bound`. Only binding fails; nothing a client does ends the loop.
pub async fn serve_healthz(
    addr: SocketAddr,
    heartbeat: Heartbeat,
    bound: tokio::sync::oneshot::Sender<SocketAddr>,
) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    let _ = bound.send(listener.local_addr()?);
    serve_healthz_on(listener, heartbeat).await
}

/// Connections still waiting for their head or lingering after their
/// answer, oldest first: the ones a new connection may close when the cap
/// or the descriptor limit is reached.
#[derive(Default)]
struct Waiting {
    next: u64,
    conns: BTreeMap<u64, (IpAddr, tokio::task::AbortHandle)>,
    /// Waiting (and lingering) connections per peer address.
    per_peer: BTreeMap<IpAddr, usize>,
    /// Connections whose tasks are alive (their `Held` not dropped).
    held: usize,
    /// Of those, closed by eviction and not yet dropped.
    evicted: std::collections::BTreeSet<u64>,
}

type SharedWaiting = Arc<Mutex<Waiting>>;

fn waiting(w: &SharedWaiting) -> std::sync::MutexGuard<'_, Waiting> {
    w.lock().unwrap_or_else(|p| p.into_inner())
}

/// A waiting connection's entry: its peer, and the handle that closes it.
type Entry = (IpAddr, tokio::task::AbortHandle);

impl Waiting {
    /// No longer one a new connection may close; its entry, to put back
    /// with [`Waiting::wait_again`].
    fn forget(&mut self, id: u64) -> Option<Entry> {
        let (peer, task) = self.conns.remove(&id)?;
        if let Some(n) = self.per_peer.get_mut(&peer) {
            *n -= 1;
            if *n == 0 {
                self.per_peer.remove(&peer);
            }
        }
        Some((peer, task))
    }

    /// One a new connection may close again (answered, and lingering).
    /// `entry` is what its own [`Waiting::forget`] took: `None` if an
    /// eviction took it first (the task is cancelled at its next await).
    fn wait_again(&mut self, id: u64, entry: Option<Entry>) {
        let Some((peer, task)) = entry else { return };
        debug_assert!(!self.evicted.contains(&id), "an evicted connection's entry was taken by its eviction");
        *self.per_peer.entry(peer).or_default() += 1;
        self.conns.insert(id, (peer, task));
    }
}

/// Close the oldest connection still waiting for its head (or lingering)
/// of the peer that holds the most of them (a flood from one address never crowds out
/// a load balancer's single probe); `false` if none waits.
fn evict_oldest(w: &SharedWaiting) -> bool {
    let mut st = waiting(w);
    let Some((&peer, _)) = st.per_peer.iter().max_by_key(|(ip, n)| (**n, std::cmp::Reverse(**ip))) else {
        return false;
    };
    let Some(id) = st.conns.iter().find(|(_, (ip, _))| *ip == peer).map(|(id, _)| *id) else { return false };
    if let Some((_, task)) = st.conns.get(&id) {
        task.abort();
    }
    st.forget(id);
    st.evicted.insert(id);
    true
}

/// Forgets a connection when its task ends, however it ends (answered,
/// timed out, aborted).
struct Held {
    w: SharedWaiting,
    id: u64,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut w = waiting(&self.w);
        w.forget(self.id);
        w.evicted.remove(&self.id);
        w.held -= 1;
    }
}

/// The accept loop of [`serve_healthz`] over any [`Listener`]; it returns
/// only if the runtime drops it.
pub async fn serve_healthz_on<L: Listener>(mut listener: L, heartbeat: Heartbeat) -> io::Result<()> {
    let w: SharedWaiting = Arc::default();
    let mut backoff = ACCEPT_BACKOFF_MIN;
    // Meant to run for the life of the process.
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => {
                backoff = ACCEPT_BACKOFF_MIN;
                accepted
            }
            Err(e) => {
                // Out of descriptors: the flood holds them; close its
                // oldest idle connection and take the next one at once.
                let exhausted = matches!(e.raw_os_error(), Some(code) if code == EMFILE || code == ENFILE);
                if exhausted && evict_oldest(&w) {
                    tokio::task::yield_now().await;
                    continue;
                }
                // ENOBUFS, a reset before accept, nothing to close: the
                // listener is fine, the moment is not.
                tracing::warn!(error = %e, backoff_ms = backoff.as_millis() as u64, "healthz accept failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };
        let full = {
            let st = waiting(&w);
            st.held - st.evicted.len() >= CONNECTIONS_MAX
        };
        if full && !evict_oldest(&w) {
            drop(stream); // every slot is answering: closed at once
            continue;
        }
        let id = {
            let mut st = waiting(&w);
            st.next += 1;
            st.held += 1;
            st.next
        };
        let held = Held { w: w.clone(), id };
        let hb = heartbeat.clone();
        // Spawned and registered under the lock: a task that ends at once
        // drops its `Held` (which takes the lock) only after this.
        let mut st = waiting(&w);
        let task = tokio::spawn(async move {
            let held = held;
            // The head's deadline, as long again for the answer to be
            // written, and the linger.
            let _ = tokio::time::timeout(HEAD_TIMEOUT * 2 + LINGER, serve_one(stream, hb, &held)).await;
        });
        st.conns.insert(id, (peer.ip(), task.abort_handle()));
        *st.per_peer.entry(peer.ip()).or_default() += 1;
        debug_assert!(st.held - st.evicted.len() <= CONNECTIONS_MAX, "the cap holds, closing ones aside");
    }
}

const EMFILE: i32 = 24;
const ENFILE: i32 = 23;

/// Read one request head (bounded in size and time) and answer it.
async fn serve_one<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, heartbeat: Heartbeat, held: &Held) {
    let response = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await {
        Ok(Some(head)) => Some(route(&head, &heartbeat)),
        Ok(None) => None,
        Err(_) => return, // idle or too slow: closed without a word
    };
    // Answering now: no longer one a new connection may close.
    let entry = waiting(&held.w).forget(held.id);
    let response = response.unwrap_or_else(|| answer(400, "Bad Request", "", None));
    if stream.write_all(&response).await.is_err() || stream.shutdown().await.is_err() {
        return;
    }
    waiting(&held.w).wait_again(held.id, entry);
    drain(&mut stream).await;
}

/// Read and discard what the peer still sends until it closes, for at
/// most [`LINGER`] and [`LINGER_BYTES_MAX`]: a close with unread bytes
/// would reset the connection under the answer just sent (RFC 9112 §9.6).
async fn drain<S: AsyncRead + Unpin>(stream: &mut S) {
    let mut buf = [0u8; 4096];
    let mut left = LINGER_BYTES_MAX;
    let _ = tokio::time::timeout(LINGER, async {
        while let Ok(n @ 1..) = stream.read(&mut buf).await {
            left = left.saturating_sub(n);
            if left == 0 {
                break;
            }
        }
    })
    .await;
}

/// The head up to its first empty line; `None` when it is oversized or the
/// peer closed before finishing it.
///
/// As RFC 9112 §2.2 allows and server stacks do, a bare LF ends a line as
/// CRLF does (`printf 'GET /healthz HTTP/1.0\n\n' | nc` is answered, not
/// left to its deadline), and empty lines before the request line are
/// skipped (they count toward the size limit). Each byte is scanned at
/// most three times however the head arrives: a peer trickling a byte at
/// a time costs the server a small constant more than one sending it whole.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    let mut skipped = 0usize;
    let mut scanned = 0usize;
    loop {
        if let Some(end) = blank_line(&head, scanned.saturating_sub(2)) {
            head.truncate(end);
            return Some(head);
        }
        scanned = head.len();
        if head.len() + skipped >= HEAD_MAX {
            return None;
        }
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => n,
        };
        let mut fresh = &buf[..n];
        if head.is_empty() {
            let lead = fresh.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
            skipped += lead;
            fresh = &fresh[lead..];
        }
        head.extend_from_slice(fresh);
    }
}

/// Where the head's last line ends (its LF) if an empty line follows it
/// (LF, or CR LF), searching from `from`; a head begins with no empty line
/// ([`read_head`] skips them).
fn blank_line(head: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(off) = head.get(i..)?.iter().position(|&b| b == b'\n') {
        let at = i + off;
        if let [b'\n', ..] | [b'\r', b'\n', ..] = head[at + 1..] {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// The response bytes for a request head.
fn route(head: &[u8], heartbeat: &Heartbeat) -> Vec<u8> {
    let line = head.split(|&b| b == b'\r' || b == b'\n').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return answer(400, "Bad Request", "", None);
    };
    let Some(target) = origin_form(target) else { return answer(400, "Bad Request", "", None) };
    if !version.starts_with(b"HTTP/1.") || method.is_empty() {
        return answer(400, "Bad Request", "", None);
    }
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    if path != b"/healthz" {
        return answer(404, "Not Found", "", None);
    }
    match answer_method(method, heartbeat) {
        Answer::MethodNotAllowed => answer(405, "Method Not Allowed", "", Some("allow: GET, HEAD\r\n")),
        Answer::Health { response: r, head } => {
            let reason = if r.status == 200 { "OK" } else { "Service Unavailable" };
            let headers: String = r.headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
            if head {
                // HEAD carries the GET's length, not its body.
                return format!(
                    "HTTP/1.1 {} {reason}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n",
                    r.status,
                    r.body.len()
                )
                .into_bytes();
            }
            answer(r.status, reason, &r.body, Some(&headers))
        }
    }
}

/// A request target as its path and query: the origin form (`/healthz`)
/// as sent, the absolute form (`http://host:8080/healthz`, which RFC 9112
/// §3.2.2 has every server accept, as a proxy's probe sends it) without
/// its scheme and authority, `/` for an empty path. `None` for anything
/// else (`*`, a bare name).
fn origin_form(target: &[u8]) -> Option<&[u8]> {
    if target.starts_with(b"/") {
        return Some(target);
    }
    let scheme = target.iter().position(|&b| b == b':')?;
    let rest = target[scheme..].strip_prefix(b"://")?;
    if !target[..scheme].eq_ignore_ascii_case(b"http") && !target[..scheme].eq_ignore_ascii_case(b"https") {
        return None;
    }
    match rest.iter().position(|&b| b == b'/' || b == b'?') {
        Some(i) if rest[i] == b'/' => Some(&rest[i..]),
        // No path: the query (if any) of the root.
        _ => Some(b"/"),
    }
}

fn answer(status: u16, reason: &str, body: &str, headers: Option<&str>) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} {reason}\r\n{}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        headers.unwrap_or_default(),
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(response: &[u8]) -> u16 {
        std::str::from_utf8(&response[9..12]).ok().and_then(|s| s.parse().ok()).unwrap_or(0)
    }

    #[test]
    fn routes_and_bad_heads() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let _in_rt = rt.enter();
        let env = crate::Env::real().expect("env");
        let (hb, _ticker) = Heartbeat::start(&env, super::super::HeartbeatConfig::default(), None);
        let cases: &[(&[u8], u16)] = &[
            (b"GET /healthz HTTP/1.1\r\nhost: x", 200),
            (b"GET /healthz?probe=lb HTTP/1.0", 200),
            (b"HEAD /healthz HTTP/1.1", 200),
            (b"POST /healthz HTTP/1.1", 405),
            (b"DELETE /healthz HTTP/1.1", 405),
            (b"GET / HTTP/1.1", 404),
            (b"GET /healthzz HTTP/1.1", 404),
            (b"GET /healthz", 400),
            (b"GET /healthz HTTP/1.1 extra", 400),
            (b"GET healthz HTTP/1.1", 400),
            (b"GET /healthz SPDY/3", 400),
            (b"", 400),
            (b"\x00\x01\x02", 400),
            (b"GET http://lb.internal:8080/healthz HTTP/1.1", 200),
            (b"GET HTTPS://lb.internal/healthz?x=1 HTTP/1.1", 200),
            (b"GET http://lb.internal HTTP/1.1", 404),
            (b"GET http://lb.internal/healthzz HTTP/1.1", 404),
            (b"GET ftp://lb.internal/healthz HTTP/1.1", 400),
            (b"GET http:/healthz HTTP/1.1", 400),
            (b"GET * HTTP/1.1", 400),
            (b"GET /healthz HTTP/1.1\nhost: x", 200),
        ];
        for (head, want) in cases {
            // A health answer is 200 or 503, whichever the heartbeat says.
            let got = match status(&route(head, &hb)) {
                503 => 200,
                other => other,
            };
            assert_eq!(got, *want, "{:?}", String::from_utf8_lossy(head));
        }
        let head_only = route(b"HEAD /healthz HTTP/1.1", &hb);
        assert!(head_only.ends_with(b"\r\n\r\n"), "HEAD has no body");
    }

    /// The book of closable connections through every path of a
    /// connection's life: waiting, answered (forgotten), lingering (waiting
    /// again), evicted, dropped; and an eviction that takes the entry while
    /// the connection is answering.
    #[test]
    fn a_lingering_connection_is_closable_again_and_counted_once() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let _in_rt = rt.enter();
        let w: SharedWaiting = Arc::default();
        let a: IpAddr = [10, 0, 0, 1].into();
        let open = |w: &SharedWaiting| {
            let task = tokio::spawn(std::future::pending::<()>());
            let mut st = waiting(w);
            st.next += 1;
            st.held += 1;
            let id = st.next;
            st.conns.insert(id, (a, task.abort_handle()));
            *st.per_peer.entry(a).or_default() += 1;
            (Held { w: w.clone(), id }, task)
        };
        let (first, first_task) = open(&w);
        let entry = waiting(&w).forget(first.id);
        assert!(entry.is_some() && !evict_oldest(&w), "an answering connection is not closable");
        waiting(&w).wait_again(first.id, entry);
        assert_eq!(waiting(&w).per_peer.get(&a), Some(&1), "lingering: closable again");
        assert!(evict_oldest(&w), "a lingering connection is closed for a new one");
        assert!(rt.block_on(first_task).is_err_and(|e| e.is_cancelled()), "its task is cancelled");
        assert_eq!(waiting(&w).evicted.len(), 1);
        drop(first);
        {
            let st = waiting(&w);
            assert!(st.conns.is_empty() && st.per_peer.is_empty() && st.evicted.is_empty() && st.held == 0);
        }
        // An eviction takes the entry first: the answer's own forget finds
        // none, and nothing is put back.
        let (second, _task) = open(&w);
        assert!(evict_oldest(&w));
        let entry = waiting(&w).forget(second.id);
        assert!(entry.is_none());
        waiting(&w).wait_again(second.id, entry);
        assert!(waiting(&w).conns.is_empty() && waiting(&w).per_peer.is_empty());
        drop(second);
        let st = waiting(&w);
        assert!(st.evicted.is_empty() && st.held == 0);
    }

    /// A stream that hands its bytes over in the given pieces, then ends.
    struct Pieces(std::collections::VecDeque<Vec<u8>>);

    impl AsyncRead for Pieces {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            if let Some(mut piece) = self.0.pop_front() {
                let n = piece.len().min(buf.remaining());
                buf.put_slice(&piece[..n]);
                if n < piece.len() {
                    self.0.push_front(piece.split_off(n));
                }
            }
            std::task::Poll::Ready(Ok(()))
        }
    }

    /// The head `bytes` reads as, whole and in every split into pieces of
    /// `size` bytes.
    fn heads(bytes: &[u8]) -> Vec<Option<Vec<u8>>> {
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        [bytes.len().max(1), 1, 2, 3, 5, 1024]
            .into_iter()
            .map(|size| {
                let pieces = bytes.chunks(size).map(<[u8]>::to_vec).collect();
                rt.block_on(read_head(&mut Pieces(pieces)))
            })
            .collect()
    }

    #[test]
    fn a_head_ends_at_its_first_empty_line_however_it_arrives() {
        let cases: &[(&[u8], Option<&[u8]>)] = &[
            (b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n", Some(b"GET /healthz HTTP/1.1\r\nhost: x\r")),
            // A bare LF ends a line (RFC 9112 2.2): `printf ... | nc`.
            (b"GET /healthz HTTP/1.0\n\n", Some(b"GET /healthz HTTP/1.0")),
            (b"GET /healthz HTTP/1.1\nhost: x\r\n\n", Some(b"GET /healthz HTTP/1.1\nhost: x\r")),
            (b"GET /healthz HTTP/1.1\r\n\nrest", Some(b"GET /healthz HTTP/1.1\r")),
            // Empty lines before the request line are skipped.
            (b"\r\n\r\n\nGET /healthz HTTP/1.1\r\n\r\n", Some(b"GET /healthz HTTP/1.1\r")),
            // Only what comes before the first empty line.
            (b"GET /healthz HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n", Some(b"GET /healthz HTTP/1.1\r")),
            // Not a head yet when the peer closes.
            (b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r", None),
            (b"GET /healthz HTTP/1.1\r\r", None),
            (b"\r\n\r\n", None),
            (b"", None),
        ];
        for (bytes, want) in cases {
            for (i, got) in heads(bytes).into_iter().enumerate() {
                assert_eq!(got.as_deref(), *want, "{:?}, split #{i}", String::from_utf8_lossy(bytes));
            }
        }
    }

    #[test]
    fn a_head_is_bounded_empty_lines_included() {
        let long = [b"GET /healthz HTTP/1.1\r\nx: ".as_slice(), &[b'a'; HEAD_MAX], b"\r\n\r\n"].concat();
        let blank = [[b'\n'; HEAD_MAX].as_slice(), b"GET /healthz HTTP/1.1\r\n\r\n"].concat();
        for bytes in [long, blank] {
            assert!(heads(&bytes).iter().all(Option::is_none), "{} bytes before the end", bytes.len());
        }
        let within = [b"GET /healthz HTTP/1.1\r\nx: ".as_slice(), &[b'a'; HEAD_MAX / 2], b"\r\n\r\n"].concat();
        assert!(heads(&within).iter().all(Option::is_some));
    }
}
