//! `liveness` on the real OS: the follow-up upstream proposed and never
//! built. The `/healthz` HTTP adapter boots on loopback beside a boot
//! sweep of a seeded orphan directory of real files; every probe during
//! the sweep must answer 200 within 1 s. Also: the heartbeat reports
//! stalled (503) when its loop is blocked, and the handshake helper's
//! failure modes.

#![allow(clippy::disallowed_methods)] // real sockets, real time

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use steadfast_core::liveness::http::serve_healthz;
use steadfast_core::liveness::{Handshake, HandshakeError, Heartbeat, HeartbeatConfig};
use steadfast_core::real::SystemClock;
use steadfast_core::retention::{OrphanPolicy, SessionIndex, sweep_orphans};
use steadfast_core::{BoxFuture, Env};

fn get(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    s.set_read_timeout(Some(Duration::from_secs(1)))?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

struct NoRows;

impl SessionIndex for NoRows {
    fn is_live<'a>(&'a self, _: &'a str) -> BoxFuture<'a, std::io::Result<bool>> {
        Box::pin(async { Ok(false) })
    }
}

fn seed_orphans(root: &Path, dirs: usize, files: usize) {
    for d in 0..dirs {
        let dir = root.join(format!("ws-{d}")).join("src");
        std::fs::create_dir_all(&dir).expect("mkdir");
        for f in 0..files {
            std::fs::write(dir.join(format!("f{f}")), b"x").expect("write");
        }
    }
}

#[test]
fn healthz_answers_within_a_second_throughout_a_boot_sweep() {
    let root = tempfile::tempdir().expect("tempdir");
    seed_orphans(root.path(), 10, 1_000);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let local = tokio::task::LocalSet::new();
    let (worst, answers, removed) = local.block_on(&rt, async {
        let env = Env::real().expect("env");
        let config = HeartbeatConfig { tick: Duration::from_millis(10), stalled_after: Duration::from_millis(500) };
        let (hb, _ticker) = Heartbeat::start(&env, config, None);
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(serve_healthz("127.0.0.1:0".parse().expect("addr"), hb, tx));
        let addr = rx.await.expect("bound");
        let root_path = root.path().to_path_buf();
        let sweep = tokio::task::spawn_local(async move {
            let policy = OrphanPolicy { age_floor: Duration::ZERO, removals_max: 10 };
            sweep_orphans(&Env::real().expect("env"), &root_path, &NoRows, &policy).await
        });
        // Probe from a real thread, as a load balancer would, until the
        // sweep is done.
        let prober = std::thread::spawn(move || {
            let (mut worst, mut answers) = (Duration::ZERO, Vec::new());
            for _ in 0..10_000 {
                let t = Instant::now();
                let answer = get(addr);
                worst = worst.max(t.elapsed());
                answers.push(
                    answer.map(|a| a.lines().next().unwrap_or_default().to_string()).unwrap_or_else(|e| e.to_string()),
                );
                if answers.len() >= 20 && std::fs::read_dir(root.path()).map(|d| d.count()).unwrap_or(0) == 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (worst, answers)
        });
        let report = sweep.await.expect("sweep");
        let (worst, answers) = tokio::task::spawn_blocking(move || prober.join().expect("prober")).await.expect("join");
        (worst, answers, report.deleted)
    });
    assert_eq!(removed, 10, "the sweep removed every orphan");
    assert!(answers.len() >= 20, "{answers:?}");
    assert!(answers.iter().all(|a| a == "HTTP/1.1 200 OK"), "every probe healthy: {answers:?}");
    assert!(worst < Duration::from_secs(1), "slowest probe {worst:?}");
}

#[test]
fn health_turns_stalled_when_the_loop_is_blocked_and_lag_is_measured() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let env = Env::real().expect("env");
        let config = HeartbeatConfig { tick: Duration::from_millis(10), stalled_after: Duration::from_millis(100) };
        let (hb, _ticker) = Heartbeat::start(&env, config, None);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(hb.health().ok);
        // Block the only event-loop thread, as a synchronous rm would.
        std::thread::sleep(Duration::from_millis(300));
        let h = hb.health();
        assert!(!h.ok && h.status_code() == 503, "{h:?}");
        assert!(h.since_tick_ms >= 300, "{h:?}");
        assert!(h.to_json().contains("\"status\":\"stalled\""));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let h = hb.health();
        assert!(h.ok, "{h:?}");
        assert!(h.lag_max_ms >= 250, "the blocked tick's lag was measured: {h:?}");
    });
}

#[test]
fn handshake_tells_its_failures_apart() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let clock = SystemClock::new();
    let lines = |v: Vec<&'static str>| {
        let mut it = v.into_iter();
        move || -> BoxFuture<'static, std::io::Result<Option<String>>> {
            let next = it.next().map(String::from);
            Box::pin(async move { Ok(next) })
        }
    };
    rt.block_on(async {
        let mut hs = Handshake::new("ready");
        assert_eq!(hs.wait(&clock, lines(vec!["noise", "ready 42"])).await.expect("ok"), "ready 42");
        assert!(matches!(hs.wait(&clock, lines(vec!["noise"])).await, Err(HandshakeError::Eof)));
        assert!(
            matches!(hs.wait(&clock, lines(vec!["error: boom"])).await, Err(HandshakeError::Failed(m)) if m == "boom")
        );
        let polluted: Vec<&'static str> = vec!["x"; 100];
        assert!(matches!(hs.wait(&clock, lines(polluted)).await, Err(HandshakeError::Polluted { lines: 64, .. })));
        hs.deadline = Duration::from_millis(20);
        let never = || -> BoxFuture<'static, std::io::Result<Option<String>>> { Box::pin(std::future::pending()) };
        assert!(matches!(hs.wait(&clock, never).await, Err(HandshakeError::Timeout(_))));
    });
}

/// A child's stdout: `chunks` in turn, then either EOF or (`endless`) an
/// endless line of `x`; counts the bytes it handed over.
struct Pipe {
    chunks: std::collections::VecDeque<Vec<u8>>,
    endless: bool,
    served: usize,
}

impl Pipe {
    fn new(text: &[u8], chunk: usize, endless: bool) -> Pipe {
        Pipe { chunks: text.chunks(chunk.max(1)).map(<[u8]>::to_vec).collect(), endless, served: 0 }
    }
}

impl tokio::io::AsyncRead for Pipe {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let piece = match self.chunks.pop_front() {
            Some(p) => p,
            None if self.endless => vec![b'x'; 1000],
            None => Vec::new(),
        };
        let n = piece.len().min(buf.remaining());
        buf.put_slice(&piece[..n]);
        if n < piece.len() {
            self.chunks.push_front(piece[n..].to_vec());
        }
        self.served += n;
        std::task::Poll::Ready(Ok(()))
    }
}

/// What `wait_reader` must return for `text`: `wait` on its lines (an LF
/// ends one, a CR before it dropped; EOF ends the last), except that the
/// line whose bytes reach the byte bound ends the wait there, answer or not.
fn over_a_pipe(hs: &Handshake, text: &str) -> Result<String, HandshakeError> {
    let mut lines: Vec<&str> = text.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    let (mut n, mut bytes) = (0, 0);
    for line in lines {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if bytes + line.len() >= hs.bytes_max {
            return Err(HandshakeError::Polluted { lines: n + 1, bytes: hs.bytes_max });
        }
        if line.starts_with(&hs.prefix) {
            return Ok(line.to_string());
        }
        if let Some(why) = line.strip_prefix(&hs.error_prefix) {
            return Err(HandshakeError::Failed(why.trim().to_string()));
        }
        (n, bytes) = (n + 1, bytes + line.len());
        if n >= hs.lines_max {
            return Err(HandshakeError::Polluted { lines: n, bytes });
        }
    }
    Err(HandshakeError::Eof)
}

/// The handshake over a pipe reads what `wait` reads from whole lines,
/// however the bytes arrive, and keeps no more than its bound of a line
/// (even one that never ends).
#[test]
fn handshake_over_a_pipe_reads_as_over_lines_and_within_its_bound() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let clock = SystemClock::new();
    let hs = Handshake::new("ready");
    let long = |n: usize| format!("{}\n", "y".repeat(n));
    let texts: Vec<String> = vec![
        "noise\r\nready 42\r\n".into(),
        "noise\nready 42".into(),
        "noise\nready 42\r".into(),
        "\n\nready 42\nafter\n".into(),
        "a\rb\nready\r\r\n".into(),
        "noise\n".into(),
        String::new(),
        "error: boom \r\n".into(),
        "x\n".repeat(100),
        long(3_000).repeat(30) + "ready late\n",
        long(3_000).repeat(20) + "ready " + &"z".repeat(6_000) + "\n",
        long(3_000).repeat(21) + &long(2_535) + "ready just\n",
        long(3_000).repeat(21) + &"y".repeat(2_535) + "\r\nready just\n",
        long(70_000) + "ready late\n",
        "caf\u{e9} \u{fffd}\nready \u{e9}t\u{e9}\n".into(),
    ];
    rt.block_on(async {
        for text in &texts {
            let want = over_a_pipe(&hs, text);
            // Where no line reaches the byte bound, that is what `wait`
            // returns given the lines.
            if text.len() < hs.bytes_max {
                let mut lines: Vec<String> =
                    text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l).to_string()).collect();
                if lines.last().is_some_and(String::is_empty) {
                    lines.pop();
                }
                let mut it = lines.into_iter();
                let by_lines = hs
                    .wait(&clock, || {
                        let next = it.next();
                        Box::pin(async move { Ok(next) }) as BoxFuture<'static, std::io::Result<Option<String>>>
                    })
                    .await;
                assert_eq!(format!("{by_lines:?}"), format!("{want:?}"), "{text:?}");
            }
            for chunk in [1, 2, 3, 7, 4096, text.len()] {
                let mut pipe = Pipe::new(text.as_bytes(), chunk, false);
                let got = hs.wait_reader(&clock, &mut pipe).await;
                assert_eq!(format!("{got:?}"), format!("{want:?}"), "{text:?} in chunks of {chunk}");
                assert!(pipe.served < hs.bytes_max + 4096 + 3_000, "read {} bytes", pipe.served);
            }
        }
        // A child that prints one endless line: pollution at the bound, with
        // no more read than the bound and one read.
        let mut endless = Pipe::new(b"starting\n", 4096, true);
        let got = hs.wait_reader(&clock, &mut endless).await;
        assert!(matches!(got, Err(HandshakeError::Polluted { lines: 2, bytes }) if bytes == hs.bytes_max), "{got:?}");
        assert!(endless.served < hs.bytes_max + 4096, "read {} bytes of an endless line", endless.served);
        // A silent child: the deadline.
        let quick = Handshake { deadline: Duration::from_millis(20), ..Handshake::new("ready") };
        let (mut silent, _writer) = tokio::io::duplex(64);
        assert!(matches!(quick.wait_reader(&clock, &mut silent).await, Err(HandshakeError::Timeout(_))));
    });
}

const HEALTH_DIR: &str = "STEADFAST_HEALTH_DIR";

/// Not a test: a `/healthz` server in a process limited to 64 open files,
/// for `healthz_survives_an_idle_flood_under_a_low_fd_limit`.
#[test]
#[ignore = "helper process of healthz_survives_an_idle_flood_under_a_low_fd_limit"]
fn healthz_server_process() {
    let Some(dir) = std::env::var_os(HEALTH_DIR).map(std::path::PathBuf::from) else { return };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let env = Env::real().expect("env");
        let (hb, _ticker) = Heartbeat::start(&env, HeartbeatConfig::default(), None);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let server = tokio::spawn(serve_healthz("127.0.0.1:0".parse().expect("addr"), hb, tx));
        let addr = rx.await.expect("bound");
        std::fs::write(dir.join("addr"), addr.to_string()).expect("addr file");
        let ended = server.await;
        std::fs::write(dir.join("ended"), format!("{ended:?}")).expect("ended file");
    });
}

fn raw(addr: SocketAddr, request: &[u8]) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    s.write_all(request)?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// H5: 200 idle connections against a server limited to 64 file
/// descriptors (its accepts fail with EMFILE), a slow-loris head, an
/// oversized head and pipelined requests; the server keeps serving, and
/// `/healthz` answers within 1 s during the flood and after it ends.
#[test]
fn healthz_survives_an_idle_flood_under_a_low_fd_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let script = format!(
        "ulimit -n 64; exec '{}' --exact liveness::healthz_server_process --ignored --test-threads=1",
        exe.display()
    );
    let child = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .env(HEALTH_DIR, dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Killed however the test ends: a failed assertion must not leave the
    // server running.
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let child = KillOnDrop(child);
    let addr_file = dir.path().join("addr");
    // The child writes the file in place: it may be seen before it is whole.
    let mut addr: Option<SocketAddr> = None;
    for _ in 0..2_000 {
        addr = std::fs::read_to_string(&addr_file).ok().and_then(|a| a.parse().ok());
        if addr.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let addr = addr.expect("the child wrote its bound address");
    let flood: Vec<TcpStream> =
        (0..200).filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()).collect();
    assert!(flood.len() > 64, "the flood exceeds the server's fd limit ({} connections)", flood.len());
    std::thread::sleep(Duration::from_millis(300));
    // A slow-loris head, an oversized head and pipelined requests.
    let mut loris = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok();
    if let Some(l) = loris.as_mut() {
        let _ = l.write_all(b"GET /hea");
    }
    // During the flood: the oldest idle connections make room (H5).
    for round in 0..3 {
        let t = Instant::now();
        let during = get(addr).expect("/healthz answers during the flood");
        assert!(t.elapsed() < Duration::from_secs(1), "round {round}: answered after {:?}", t.elapsed());
        assert!(during.starts_with("HTTP/1.1 200") || during.starts_with("HTTP/1.1 503"), "{during}");
    }
    drop(flood);
    let t = Instant::now();
    let answer = get(addr).expect("/healthz answers after the flood");
    assert!(t.elapsed() < Duration::from_secs(1), "answered after {:?}", t.elapsed());
    assert!(answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.1 503"), "{answer}");
    let big = [b"GET /healthz HTTP/1.1\r\nx: ".as_slice(), &[b'a'; 9_000]].concat();
    assert!(raw(addr, &big).expect("oversized").starts_with("HTTP/1.1 400"));
    let two = raw(addr, b"GET /healthz HTTP/1.1\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n").expect("pipelined");
    assert_eq!(two.matches("HTTP/1.1 ").count(), 1, "one answer, then close: {two}");
    assert!(raw(addr, b"POST /healthz HTTP/1.1\r\n\r\n").expect("post").starts_with("HTTP/1.1 405"));
    assert!(raw(addr, b"GET /other HTTP/1.1\r\n\r\n").expect("other").starts_with("HTTP/1.1 404"));
    drop(loris);
    assert!(!dir.path().join("ended").exists(), "the server loop ended");
    drop(child);
}

/// Services with their own server: the `http::Response` form and the tower
/// service answer as the standalone server does (status, `no-store`, JSON,
/// `HEAD` without a body but with the `GET`'s length, 405 with `allow`).
#[test]
fn healthz_mounts_in_other_servers_as_http_and_tower() {
    use steadfast_core::liveness::{HealthzService, healthz_http, healthz_http_response, healthz_response};
    use tower_service::Service;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let env = Env::real().expect("env");
        let (hb, _ticker) = Heartbeat::start(&env, HeartbeatConfig::default(), None);
        let plain = healthz_response(&hb);
        let get = healthz_http_response(&http::Method::GET, &hb);
        assert_eq!(get.status(), plain.status);
        assert_eq!(get.headers()["cache-control"], "no-store");
        assert_eq!(get.headers()["content-type"], "application/json");
        assert!(get.body().starts_with("{\"status\":\"ok\""), "{}", get.body());
        let head = healthz_http_response(&http::Method::HEAD, &hb);
        assert_eq!(head.status(), plain.status);
        assert!(head.body().is_empty());
        assert_eq!(head.headers()["content-length"], plain.body.len().to_string().as_str());
        for method in [http::Method::POST, http::Method::DELETE, http::Method::OPTIONS] {
            let r = healthz_http_response(&method, &hb);
            assert_eq!(r.status(), 405, "{method}");
            assert_eq!(r.headers()["allow"], "GET, HEAD");
        }
        let mut service = HealthzService::new(hb.clone());
        std::future::poll_fn(|cx| Service::<http::Request<()>>::poll_ready(&mut service, cx))
            .await
            .expect("always ready");
        let request = http::Request::get("/healthz").body(()).expect("request");
        let answered = service.call(request).await.expect("infallible");
        assert_eq!(answered.status(), 200);
        assert_eq!(answered.body(), healthz_http(&http::Request::get("/healthz").body(()).expect("r"), &hb).body());
        let post = service.call(http::Request::post("/healthz").body(vec![1u8; 10]).expect("request")).await;
        assert_eq!(post.expect("infallible").status(), 405);
    });
}

/// A request with a body the server does not read (a `POST` to
/// `/healthz`, say) still gets its answer: closing a socket with unread
/// bytes makes Linux reset the connection, and a reset can discard the
/// answer before the client reads it. The server drains what the client
/// sends, for a bounded time, after answering (RFC 9112 §9.6).
#[test]
fn healthz_answers_a_request_whose_body_it_does_not_read() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let addr = rt.block_on(async {
        let env = Env::real().expect("env");
        let (hb, ticker) = Heartbeat::start(&env, HeartbeatConfig::default(), None);
        std::mem::forget(ticker);
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(serve_healthz("127.0.0.1:0".parse().expect("addr"), hb, tx));
        rx.await.expect("bound")
    });
    // As a one-thread client sends it: the whole body, then a read. A
    // reset while it writes is the end of its request.
    for round in 0..5 {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        s.set_write_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let body = vec![b'x'; 8 << 20];
        let head = format!("POST /healthz HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n", body.len());
        let sent = s.write_all(head.as_bytes()).and_then(|()| s.write_all(&body));
        let mut out = Vec::new();
        let read = s.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out);
        assert!(
            sent.is_ok() && text.starts_with("HTTP/1.1 405"),
            "round {round}: sent {sent:?}, read {read:?}, answer {:?}",
            text.lines().next()
        );
    }
    drop(rt);
}
