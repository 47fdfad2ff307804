//! A TCP proxy that adds a fixed delay each way and counts round trips: the
//! latency mode of `scripts/bench/webhook.sh` puts Postgres and Redis behind
//! it, as if they were in another building (the kernel's netem is not
//! available here). Not a benchmark of its own: a `[[bench]]` so it builds
//! with the dev-dependencies and never ships.
//!
//! Environment:
//! - `ROUTES=127.0.0.1:7001=127.0.0.1:5432,127.0.0.1:7002=127.0.0.1:6379`
//!   (listen=upstream pairs), or one pair as `LISTEN` and `UPSTREAM`;
//! - `DELAY_MS` (1): added to every chunk, in each direction;
//! - `STATS_FILE` (optional): rewritten every second, on SIGUSR1 and on
//!   SIGTERM/SIGINT with one JSON line,
//!   `{"routes":[{"listen":..,"connections":N,"round_trips":N,"bytes_up":N,"bytes_down":N}]}`.
//!
//! Each chunk is stamped when read and written once its stamp plus the delay
//! is due, in order per direction: chunks are delayed, never serialised by
//! the delay, so throughput does not collapse. A round trip is counted each
//! time a connection's traffic turns from client→server to server→client.
//!
//! The bytes move on plain threads with blocking sockets (four per
//! connection; the latency mode opens a handful): tokio's timer has 1 ms
//! ticks and turned a 1 ms delay into 2.1 ms each way (a Redis PING took
//! 4.3 ms instead of 2), while `thread::sleep` is late by tens of µs.
//! tokio only waits for signals and the stats tick.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use tokio::signal::unix::{signal, SignalKind};

/// Totals of one listen=upstream pair.
#[derive(Default)]
struct RouteStats {
    listen: String,
    connections: AtomicU64,
    round_trips: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
}

impl RouteStats {
    fn json(&self) -> serde_json::Value {
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        serde_json::json!({
            "listen": self.listen,
            "connections": n(&self.connections),
            "round_trips": n(&self.round_trips),
            "bytes_up": n(&self.bytes_up),
            "bytes_down": n(&self.bytes_down),
        })
    }
}

/// Which way bytes flow, from the client's side.
#[derive(Clone, Copy, PartialEq)]
enum Direction {
    Up,
    Down,
}

fn routes_from_env() -> Vec<(String, String)> {
    let spec = match (std::env::var("ROUTES"), std::env::var("LISTEN")) {
        (Ok(routes), _) => routes,
        (Err(_), Ok(listen)) => {
            format!("{listen}={}", std::env::var("UPSTREAM").expect("UPSTREAM"))
        }
        _ => panic!("set ROUTES=listen=upstream,... or LISTEN and UPSTREAM"),
    };
    spec.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| {
            let (listen, upstream) = pair
                .trim()
                .split_once('=')
                .expect("ROUTES: listen=upstream");
            (listen.to_string(), upstream.to_string())
        })
        .collect()
}

/// One direction of a connection and what it shares with the other.
struct Side {
    dir: Direction,
    delay: Duration,
    /// Whether the last bytes read went client→server.
    up_last: Arc<AtomicBool>,
    stats: Arc<RouteStats>,
}

impl Side {
    /// Counts `n` bytes read in this direction (and a round trip when the
    /// traffic turns back towards the client).
    fn count(&self, n: usize) {
        let bytes = match self.dir {
            Direction::Up => {
                self.up_last.store(true, Ordering::Relaxed);
                &self.stats.bytes_up
            }
            Direction::Down => {
                if self.up_last.swap(false, Ordering::Relaxed) {
                    self.stats.round_trips.fetch_add(1, Ordering::Relaxed);
                }
                &self.stats.bytes_down
            }
        };
        bytes.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Reads chunks from `from` and writes each to `to` once due, on two
    /// threads; shuts `to` down when `from` has ended and all is written.
    fn run(self, mut from: TcpStream, mut to: TcpStream) {
        let (queue, chunks) = mpsc::channel::<(Instant, Vec<u8>)>();
        thread::spawn(move || {
            for (due, chunk) in chunks {
                thread::sleep(due.saturating_duration_since(Instant::now()));
                if to.write_all(&chunk).is_err() {
                    let _ = to.shutdown(Shutdown::Both);
                    return;
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        });
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = from.read(&mut buf) {
            self.count(n);
            if queue
                .send((Instant::now() + self.delay, buf[..n].to_vec()))
                .is_err()
            {
                break;
            }
        }
    }
}

/// Runs one client connection: two delayed directions until both end.
fn proxy(client: TcpStream, upstream: &str, delay: Duration, stats: Arc<RouteStats>) {
    let server = match TcpStream::connect(upstream) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("delay proxy: cannot reach {upstream}: {e}");
            return;
        }
    };
    stats.connections.fetch_add(1, Ordering::Relaxed);
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let up_last = Arc::new(AtomicBool::new(false));
    let side = |dir| Side {
        dir,
        delay,
        up_last: up_last.clone(),
        stats: stats.clone(),
    };
    let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let up = side(Direction::Up);
    thread::spawn(move || up.run(client2, server2));
    side(Direction::Down).run(server, client);
}

fn serve(listener: TcpListener, upstream: String, delay: Duration, stats: Arc<RouteStats>) {
    for client in listener.incoming() {
        match client {
            Ok(client) => {
                let (upstream, stats) = (upstream.clone(), stats.clone());
                thread::spawn(move || proxy(client, &upstream, delay, stats));
            }
            Err(e) => eprintln!("delay proxy: accept failed: {e}"),
        }
    }
}

/// Replaces `path` with one line of totals (written aside, then renamed, so
/// a reader never sees half a line).
fn write_stats(path: &str, routes: &[Arc<RouteStats>]) {
    let line = serde_json::json!({ "routes": routes.iter().map(|r| r.json()).collect::<Vec<_>>() });
    let tmp = format!("{path}.tmp");
    if let Err(e) =
        std::fs::write(&tmp, format!("{line}\n")).and_then(|()| std::fs::rename(&tmp, path))
    {
        eprintln!("delay proxy: cannot write {path}: {e}");
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let delay_ms: u64 = std::env::var("DELAY_MS")
        .unwrap_or_else(|_| "1".into())
        .parse()
        .expect("DELAY_MS");
    let delay = Duration::from_millis(delay_ms);
    let stats_file = std::env::var("STATS_FILE").ok();
    let mut routes = Vec::new();
    for (listen, upstream) in routes_from_env() {
        let listener = TcpListener::bind(&listen).unwrap_or_else(|e| panic!("bind {listen}: {e}"));
        let stats = Arc::new(RouteStats {
            listen: listen.clone(),
            ..Default::default()
        });
        eprintln!("delay proxy: {listen} -> {upstream}, {delay_ms} ms each way");
        let route = stats.clone();
        thread::spawn(move || serve(listener, upstream, delay, route));
        routes.push(stats);
    }
    let (mut term, mut int, mut usr1) = (
        signal(SignalKind::terminate()).expect("SIGTERM"),
        signal(SignalKind::interrupt()).expect("SIGINT"),
        signal(SignalKind::user_defined1()).expect("SIGUSR1"),
    );
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let stop = tokio::select! {
            _ = tick.tick() => false,
            _ = usr1.recv() => false,
            _ = term.recv() => true,
            _ = int.recv() => true,
        };
        if let Some(path) = &stats_file {
            write_stats(path, &routes);
        }
        if stop {
            return;
        }
    }
}
