//! H5 under turmoil's simulated TCP: the `/healthz` accept loop production
//! runs (`serve_healthz_on`, generic over its listener) against a seeded
//! load balancer and hostile clients, and a replica of the server before
//! issue 15 that the same world must catch.
//!
//! Each seed draws a descriptor limit for the server (its accepts fail with
//! EMFILE while that many connections are open, the connection waiting in
//! the backlog as the kernel keeps it), and a mob: an idle flood of up to
//! 400 connections that each reconnect a while after the server closes
//! them, slow-loris heads (a byte every 300 ms), oversized heads, pipelined
//! requests and garbage; and well-formed requests in the forms a hand or
//! a proxy sends (bare LF line ends, the absolute form, a byte every 20 ms
//! after an empty line, and a `POST` whose 64 KiB body is still on its way
//! when the server answers it 405). The load balancer probes every 500 ms from 1 s to
//! the end, with a 1 s deadline per probe: connect, request, whole answer.
//!
//! Checks (H5): every probe is answered 200 or 503 within 1 s; every
//! oversized or garbage head is answered 400 (or closed, or reset with its
//! head unread), every pipelined pair gets exactly one answer, every
//! well-formed request a health answer (the `POST` its 405, not a reset
//! while it sends); the server's loop never ends.
//! The replica's world has no well-formed odd requests: it is caught by
//! the flood, as it was before they existed (it cannot read a bare LF).
//!
//! `STEADFAST_TURMOIL_SEEDS=N` changes the number of seeds (default 50).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use steadfast_core::clock::Mono;
use steadfast_core::liveness::http::{Listener, serve_healthz_on};
use steadfast_core::liveness::{Heartbeat, HeartbeatConfig};
use steadfast_core::{BoxFuture, Clock, Env};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

const PORT: u16 = 80;
const RUN: Duration = Duration::from_secs(30);
const FLOOD_END: Duration = Duration::from_secs(20);
const PROBE_EVERY: Duration = Duration::from_millis(500);
const PROBE_DEADLINE: Duration = Duration::from_secs(1);

/// tokio's (simulated) time as the heartbeat's clock.
struct TokioClock {
    origin: tokio::time::Instant,
}

impl Clock for TokioClock {
    fn now(&self) -> Mono {
        Mono::from_origin(self.origin.elapsed())
    }
    fn wall(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000) + self.origin.elapsed()
    }
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A listener with a descriptor limit: at the limit, accept fails with
/// EMFILE and the connection stays in the backlog.
struct FdLimited {
    inner: turmoil::net::TcpListener,
    backlog: Option<(turmoil::net::TcpStream, SocketAddr)>,
    open: Arc<AtomicUsize>,
    limit: usize,
    emfiles: Arc<AtomicU64>,
}

/// An accepted connection: one descriptor until dropped.
struct Counted {
    stream: turmoil::net::TcpStream,
    open: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

impl Listener for FdLimited {
    type Conn = Counted;
    async fn accept(&mut self) -> io::Result<(Counted, SocketAddr)> {
        let (stream, peer) = match self.backlog.take() {
            Some(accepted) => accepted,
            None => self.inner.accept().await?,
        };
        if self.open.load(Ordering::SeqCst) >= self.limit {
            self.backlog = Some((stream, peer));
            self.emfiles.fetch_add(1, Ordering::SeqCst);
            return Err(io::Error::from_raw_os_error(24)); // EMFILE
        }
        self.open.fetch_add(1, Ordering::SeqCst);
        Ok((Counted { stream, open: self.open.clone() }, peer))
    }
}

/// The accept loop before issue 15: `?` on accept, no head deadline, no
/// cap. What production ran when an idle flood killed its health checks.
async fn legacy_serve(mut listener: FdLimited, heartbeat: Heartbeat) -> io::Result<()> {
    loop {
        let (mut stream, _) = listener.accept().await?;
        let hb = heartbeat.clone();
        tokio::spawn(async move {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let body = hb.health().to_json();
            let status = hb.health().status_code();
            let answer =
                format!("HTTP/1.1 {status} OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

/// A small seeded generator for the mob's shape (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

#[derive(Clone, Copy, Debug)]
struct Mob {
    fd_limit: usize,
    idle: u64,
    renew_ms: (u64, u64),
    loris: u64,
    oversized: u64,
    pipelined: u64,
    garbage: u64,
    /// Well-formed requests in the forms a hand or a proxy sends: bare LF
    /// line ends (`printf | nc`), the absolute form, a byte at a time.
    plain: u64,
    /// Of the idle flood, how many ask first, read their answer and keep
    /// the connection open a while (a client ignoring `connection:
    /// close`): the server lingers on them after answering.
    chatty: u64,
}

impl Mob {
    fn draw(seed: u64) -> Mob {
        let mut r = Rng(seed);
        Mob {
            fd_limit: r.range(24, 128) as usize,
            idle: r.range(0, 400),
            renew_ms: (r.range(500, 1_000), r.range(1_000, 3_000)),
            loris: r.range(0, 40),
            oversized: r.range(0, 4),
            pipelined: r.range(0, 4),
            garbage: r.range(0, 4),
            plain: r.range(1, 4),
            chatty: r.range(0, 400),
        }
    }
}

/// What one run found.
#[derive(Debug, Default)]
struct Verdict {
    probes: u64,
    failures: Vec<String>,
    emfiles: u64,
}

/// Send `bytes`, then read the whole answer (the server closes), within
/// `deadline`.
async fn exchange(bytes: &[u8], deadline: Duration) -> Result<String, String> {
    let run = async {
        let mut s = turmoil::net::TcpStream::connect(("server", PORT)).await.map_err(|e| format!("connect: {e}"))?;
        s.write_all(bytes).await.map_err(|e| format!("write: {e}"))?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.map_err(|e| format!("read: {e}"))?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    };
    tokio::time::timeout(deadline, run).await.unwrap_or_else(|_| Err(format!("no answer within {deadline:?}")))
}

/// [`exchange`] for a request with a body, sent as a client writes one
/// through its socket buffer: the head, then the body 4 KiB every 5 ms,
/// then a read of the answer. The server answers (405) before the body
/// is all sent; the client must still get that answer, not a reset.
async fn post_body(body: usize, deadline: Duration) -> Result<String, String> {
    let run = async {
        let mut s = turmoil::net::TcpStream::connect(("server", PORT)).await.map_err(|e| format!("connect: {e}"))?;
        let head = format!("POST /healthz HTTP/1.1\r\nhost: server\r\ncontent-length: {body}\r\n\r\n");
        s.write_all(head.as_bytes()).await.map_err(|e| format!("write: {e}"))?;
        let mut left = body;
        while left > 0 {
            let n = left.min(4 << 10);
            s.write_all(&vec![b'p'; n]).await.map_err(|e| format!("write after {} body bytes: {e}", body - left))?;
            left -= n;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.map_err(|e| format!("read: {e}"))?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    };
    tokio::time::timeout(deadline, run).await.unwrap_or_else(|_| Err(format!("no answer within {deadline:?}")))
}

/// [`exchange`], the request sent a byte every 20 ms (within the head's
/// deadline: a slow client, not a slow-loris one).
async fn trickle(bytes: &[u8], deadline: Duration) -> Result<String, String> {
    let run = async {
        let mut s = turmoil::net::TcpStream::connect(("server", PORT)).await.map_err(|e| format!("connect: {e}"))?;
        for b in bytes {
            s.write_all(&[*b]).await.map_err(|e| format!("write: {e}"))?;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.map_err(|e| format!("read: {e}"))?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    };
    tokio::time::timeout(deadline, run).await.unwrap_or_else(|_| Err(format!("no answer within {deadline:?}")))
}

fn run(seed: u64, legacy: bool) -> Verdict {
    let drawn = Mob::draw(seed);
    let mob = if legacy { Mob { plain: 0, chatty: 0, ..drawn } } else { drawn };
    let verdict = Arc::new(Mutex::new(Verdict::default()));
    let emfiles = Arc::new(AtomicU64::new(0));
    let mut sim = turmoil::Builder::new()
        .simulation_duration(RUN + Duration::from_secs(5))
        .tick_duration(Duration::from_millis(10))
        .tcp_capacity(1 << 16)
        .rng_seed(seed)
        .build();
    let e = emfiles.clone();
    sim.host("server", move || {
        let emfiles = e.clone();
        async move {
            let inner = turmoil::net::TcpListener::bind(("0.0.0.0", PORT)).await?;
            let listener =
                FdLimited { inner, backlog: None, open: Arc::default(), limit: mob.fd_limit, emfiles: emfiles.clone() };
            let env = Env { clock: Arc::new(TokioClock { origin: tokio::time::Instant::now() }), ..Env::real()? };
            let (hb, _ticker) = Heartbeat::start(&env, HeartbeatConfig::default(), None);
            if legacy {
                legacy_serve(listener, hb).await?;
            } else {
                serve_healthz_on(listener, hb).await?;
            }
            Err("the health server's loop ended".into())
        }
    });
    let v = verdict.clone();
    sim.client("lb", async move {
        let start = tokio::time::Instant::now();
        tokio::time::sleep(Duration::from_secs(1)).await;
        while start.elapsed() < RUN {
            let at = tokio::time::Instant::now();
            let answer = exchange(b"GET /healthz HTTP/1.1\r\nhost: server\r\n\r\n", PROBE_DEADLINE).await;
            let ok = answer.as_ref().is_ok_and(|a| a.starts_with("HTTP/1.1 200") || a.starts_with("HTTP/1.1 503"));
            {
                let mut v = v.lock().expect("verdict");
                v.probes += 1;
                if !ok {
                    let t = start.elapsed();
                    v.failures.push(format!("H5: probe at {t:?} not answered within 1 s: {answer:?}"));
                }
            }
            tokio::time::sleep_until(at + PROBE_EVERY).await;
        }
        Ok(())
    });
    sim.client("mob", async move {
        let start = tokio::time::Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        let mut rng = Rng(seed ^ 0x5EED);
        for i in 0..mob.idle {
            let delay = Duration::from_millis(rng.range(0, 2_000));
            let renew = Duration::from_millis(rng.range(mob.renew_ms.0, mob.renew_ms.1));
            tasks.spawn_local(async move {
                tokio::time::sleep(delay).await;
                // Hold a connection without a word; reconnect a while
                // after the server closes it, until the flood ends.
                let chatty = i < mob.chatty;
                while start.elapsed() < FLOOD_END {
                    if let Ok(mut s) = turmoil::net::TcpStream::connect(("server", PORT)).await {
                        if chatty {
                            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\n\r\n").await;
                        }
                        let mut buf = [0u8; 64];
                        let _ = tokio::time::timeout(FLOOD_END.saturating_sub(start.elapsed()), s.read(&mut buf)).await;
                        if chatty {
                            tokio::time::sleep(renew).await;
                        }
                    }
                    tokio::time::sleep(renew).await;
                }
            });
        }
        for _ in 0..mob.loris {
            let delay = Duration::from_millis(rng.range(0, 10_000));
            tasks.spawn_local(async move {
                tokio::time::sleep(delay).await;
                if let Ok(mut s) = turmoil::net::TcpStream::connect(("server", PORT)).await {
                    for b in b"GET /healthz HTTP/1.1\r\nx-slow: ".iter().chain([b'z'; 200].iter()) {
                        if s.write_all(&[*b]).await.is_err() {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        Ok(())
    });
    // Requests that expect an answer come from an address of their own:
    // the flood's address is the one whose waiting connections are closed
    // first, its own odd requests included.
    let v = verdict.clone();
    sim.client("odd", async move {
        let mut tasks = tokio::task::JoinSet::new();
        let mut rng = Rng(seed ^ 0x0DD);
        let mut expect = |n: u64, what: &'static str, bytes: Vec<u8>, rng: &mut Rng| {
            for _ in 0..n {
                let delay = Duration::from_millis(rng.range(0, 15_000));
                let (v, bytes) = (v.clone(), bytes.clone());
                tasks.spawn_local(async move {
                    tokio::time::sleep(delay).await;
                    let answer = if what == "trickled" {
                        trickle(&bytes, Duration::from_secs(6)).await
                    } else if what == "posted" {
                        post_body(bytes.len(), Duration::from_secs(6)).await
                    } else {
                        exchange(&bytes, Duration::from_secs(6)).await
                    };
                    let ok = match what {
                        "pipelined" => answer.as_ref().is_ok_and(|a| a.matches("HTTP/1.1 ").count() == 1),
                        "bare-lf" | "absolute-form" | "trickled" => answer
                            .as_ref()
                            .is_ok_and(|a| a.starts_with("HTTP/1.1 200") || a.starts_with("HTTP/1.1 503")),
                        "posted" => answer.as_ref().is_ok_and(|a| a.starts_with("HTTP/1.1 405")),
                        // A 400, closed without a word (the head deadline), or
                        // reset (closed with the rest of the head unread).
                        _ => match &answer {
                            Ok(a) => a.is_empty() || a.starts_with("HTTP/1.1 400"),
                            Err(e) => e.contains("reset"),
                        },
                    };
                    if !ok {
                        v.lock().expect("verdict").failures.push(format!("H5: {what} request answered {answer:?}"));
                    }
                });
            }
        };
        let oversized = [b"GET /healthz HTTP/1.1\r\nx: ".as_slice(), &[b'a'; 9_000]].concat();
        expect(mob.oversized, "oversized", oversized, &mut rng);
        expect(
            mob.pipelined,
            "pipelined",
            b"GET /healthz HTTP/1.1\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n".to_vec(),
            &mut rng,
        );
        expect(mob.garbage, "garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(), &mut rng);
        expect(mob.plain, "bare-lf", b"GET /healthz HTTP/1.0\n\n".to_vec(), &mut rng);
        expect(mob.plain, "absolute-form", b"GET http://server:80/healthz HTTP/1.1\r\n\r\n".to_vec(), &mut rng);
        expect(mob.plain, "trickled", b"\r\nGET /healthz HTTP/1.1\r\nhost: server\r\n\r\n".to_vec(), &mut rng);
        // (Only its length is sent: `post_body` writes it in pieces.)
        expect(mob.plain, "posted", vec![b'p'; 64 << 10], &mut rng);
        while tasks.join_next().await.is_some() {}
        Ok(())
    });
    let ended = sim.run();
    drop(sim);
    let mut v = std::mem::take(&mut *verdict.lock().expect("verdict"));
    v.emfiles = emfiles.load(Ordering::SeqCst);
    if let Err(e) = ended {
        v.failures.push(format!("H5: the simulation ended: {e}"));
    }
    v
}

fn seeds() -> u64 {
    std::env::var("STEADFAST_TURMOIL_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(50)
}

#[test]
fn healthz_survives_hostile_clients_over_simulated_tcp() {
    let mut emfile_seeds = 0;
    for seed in 0..seeds() {
        let v = run(seed, false);
        assert!(v.probes > 50, "seed {seed}: the load balancer probed only {} times: {:?}", v.probes, v.failures);
        assert!(v.failures.is_empty(), "seed {seed} ({:?}): {:#?}", Mob::draw(seed), v.failures);
        emfile_seeds += u64::from(v.emfiles > 0);
    }
    assert!(emfile_seeds > 0, "no seed drove the server to its descriptor limit: the check would be vacuous");
}

#[test]
fn the_server_before_issue_15_is_caught_over_simulated_tcp() {
    let caught: Vec<u64> = (0..seeds()).filter(|&seed| !run(seed, true).failures.is_empty()).collect();
    assert!(!caught.is_empty(), "the legacy accept loop was never caught");
    assert!(caught[0] < 5, "first caught at seed {}", caught[0]);
}

#[test]
fn a_turmoil_run_replays_exactly() {
    let a = run(3, false);
    let b = run(3, false);
    assert_eq!((a.probes, a.emfiles, a.failures.len()), (b.probes, b.emfiles, b.failures.len()));
}
