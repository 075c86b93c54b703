//! `/healthz` over HTTP/1.1 on tokio (feature `real`): one route,
//! hand-written because it is a few dozen lines where a server stack would
//! be the biggest dependency of the build. It must survive its clients
//! (H5): an accept error (EMFILE under an idle-connection flood) is logged
//! and backed off, never the end of the server; every connection has a
//! deadline for its request head and a size limit; connections past a cap
//! are closed at once, so the server's descriptors and memory stay bounded; a
//! malformed head is answered 400, another method 405, another path 404;
//! (a flood that keeps 256 connections idle, renewing them every 2 s, can
//! still crowd out a probe: the cap bounds memory and descriptors, the head
//! deadline bounds how long each holds its slot);
//! each connection answers one request and closes (pipelined requests
//! after it are not read).
//!
//! Services that run their own HTTP server mount the same answer through
//! [`healthz_response`].

#![allow(clippy::disallowed_methods)]

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::Heartbeat;

/// Longest request head read before answering 400.
const HEAD_MAX: usize = 8 << 10;
/// How long a connection may take to send its request head: an idle or
/// slow-loris connection is closed after this.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(2);
/// Connections served at once; more are closed at accept.
pub const CONNECTIONS_MAX: usize = 256;
/// Back-off after a failed accept, doubling up to the maximum.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_millis(500);

/// An HTTP answer for a health request, for services that mount `/healthz`
/// in their own server (hyper, axum, actix): status, headers and body, with
/// no HTTP library named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthResponse {
    /// 200 when healthy, 503 when stalled.
    pub status: u16,
    /// `content-type` and `cache-control: no-store`.
    pub headers: Vec<(&'static str, &'static str)>,
    /// The JSON body of [`super::Health`].
    pub body: String,
}

/// The `/healthz` answer for `heartbeat` now (H1).
pub fn healthz_response(heartbeat: &Heartbeat) -> HealthResponse {
    let h = heartbeat.health();
    HealthResponse {
        status: h.status_code(),
        headers: vec![("content-type", "application/json"), ("cache-control", "no-store")],
        body: h.to_json(),
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
    let slots = Arc::new(tokio::sync::Semaphore::new(CONNECTIONS_MAX));
    let mut backoff = ACCEPT_BACKOFF_MIN;
    // Meant to run for the life of the process.
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                backoff = ACCEPT_BACKOFF_MIN;
                stream
            }
            Err(e) => {
                // EMFILE, ENFILE, ENOBUFS, a connection reset before accept:
                // the listener is fine, the moment is not.
                tracing::warn!(error = %e, backoff_ms = backoff.as_millis() as u64, "healthz accept failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream); // past the cap: closed at once, frees its fd
            continue;
        };
        let hb = heartbeat.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let _ = tokio::time::timeout(HEAD_TIMEOUT * 2, serve_one(stream, hb)).await;
        });
    }
}

/// Read one request head (bounded in size and time) and answer it.
async fn serve_one(mut stream: TcpStream, heartbeat: Heartbeat) {
    let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream)).await {
        Ok(Some(head)) => head,
        Ok(None) => {
            let _ = stream.write_all(&answer(400, "Bad Request", "", None)).await;
            let _ = stream.shutdown().await;
            return;
        }
        Err(_) => return, // idle or too slow: closed without a word
    };
    let response = route(&head, &heartbeat);
    let _ = stream.write_all(&response).await;
    let _ = stream.shutdown().await;
}

/// The head up to its blank line; `None` when it is oversized or the peer
/// closed before finishing it.
async fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    loop {
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            head.truncate(end);
            return Some(head);
        }
        if head.len() >= HEAD_MAX {
            return None;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
}

/// The response bytes for a request head.
fn route(head: &[u8], heartbeat: &Heartbeat) -> Vec<u8> {
    let line = head.split(|&b| b == b'\r' || b == b'\n').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return answer(400, "Bad Request", "", None);
    };
    if !version.starts_with(b"HTTP/1.") || method.is_empty() || !target.starts_with(b"/") {
        return answer(400, "Bad Request", "", None);
    }
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    if path != b"/healthz" {
        return answer(404, "Not Found", "", None);
    }
    if method != b"GET" && method != b"HEAD" {
        return answer(405, "Method Not Allowed", "", Some("allow: GET, HEAD\r\n"));
    }
    let r = healthz_response(heartbeat);
    let reason = if r.status == 200 { "OK" } else { "Service Unavailable" };
    let headers: String = r.headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let body = if method == b"HEAD" { "" } else { r.body.as_str() };
    let mut out = answer(r.status, reason, body, Some(&headers));
    if method == b"HEAD" {
        // HEAD carries the GET's length, not its body.
        out = format!(
            "HTTP/1.1 {} {reason}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n",
            r.status,
            r.body.len()
        )
        .into_bytes();
    }
    out
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
}
