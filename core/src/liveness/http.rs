//! `/healthz` over HTTP/1.1 on tokio (feature `real`): one GET route,
//! hand-written because it is a few dozen lines where a server stack would
//! be the biggest dependency of the build.

#![allow(clippy::disallowed_methods)]

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::Heartbeat;

/// Longest request head read before answering 400.
const HEAD_MAX: usize = 8 << 10;

/// Serve `GET /healthz` on `addr` until the task is dropped: 200 or 503
/// with the JSON body of [`super::Health`], `cache-control: no-store`; 404
/// for other paths. Returns the bound address through `bound`.
pub async fn serve_healthz(
    addr: SocketAddr,
    heartbeat: Heartbeat,
    bound: tokio::sync::oneshot::Sender<SocketAddr>,
) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    let _ = bound.send(listener.local_addr()?);
    loop {
        let (mut stream, _) = listener.accept().await?;
        let hb = heartbeat.clone();
        tokio::spawn(async move {
            let mut head = Vec::with_capacity(512);
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < HEAD_MAX {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
            let response = if line.starts_with(b"GET /healthz ") {
                let h = hb.health();
                let body = h.to_json();
                let reason = if h.ok { "OK" } else { "Service Unavailable" };
                format!(
                    "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncache-control: no-store\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    h.status_code(),
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string()
            };
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}
