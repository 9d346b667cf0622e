//! A fault-injecting TCP proxy in the style of Toxiproxy, for putting a bad mobile link
//! between a client device and the relay in tests.
//!
//! Hearth is meant for people whose phones are often on patchy 2G: round trips of half a
//! second or more, a few kilobytes per second, connections that die halfway through a
//! transfer and connections that never get going. Over loopback none of that happens, so a
//! sync protocol that only works on a good link would pass every test. [`Proxy`] listens on
//! `127.0.0.1`, relays each connection to an upstream address (the relay under test) and
//! degrades it as [`Faults`] says:
//!
//! - **Latency**, each way: every chunk read from one side is written to the other no earlier
//!   than `latency` after it was read. This is a delay line: the proxy keeps reading while
//!   earlier chunks wait, so latency costs time per round trip but does not reduce throughput,
//!   as on a real link where propagation delay and bandwidth are independent. End of stream
//!   (a half-close) travels through the same line, so it is delayed too.
//! - **Bandwidth**, per direction and per connection: a token bucket that releases bursts of at
//!   most 1/20 s worth of bytes. The bottleneck queues data rather than dropping it; the sender
//!   feels back-pressure once the (bounded) delay line and the kernel's socket buffers are full.
//! - **Cuts**: with `cut_probability`, a connection is cut after a uniformly chosen number of
//!   bytes (`0..cut_within_bytes`) in one uniformly chosen direction: exactly that many bytes
//!   get through, then both sockets are shut down at once, with no orderly half-close, whatever
//!   is still in flight the other way is lost. A connection that carries fewer bytes in that
//!   direction is never cut, just as a short exchange can slip through a bad patch.
//!   (A real drop often ends in an RST or in silence; std cannot set `SO_LINGER`, so the peers
//!   usually see EOF, or a reset if they keep writing.)
//! - **Refusals**: with `refuse_probability`, an accepted connection is closed immediately,
//!   without contacting upstream, like a link that comes up and drops before the handshake
//!   reaches the server.
//!
//! Not modelled: packet loss and jitter (TCP turns them into extra latency, which the fixed
//! latency stands in for), bandwidth shared between connections, and links that stall without
//! closing.
//!
//! **Reproducibility.** Every random decision comes from the seed given to [`Proxy::start`]:
//! the `n`th accepted connection (counting from 0, refused ones included) gets
//! [`Faults::decide`]`(seed, n)` under the faults in force when it was accepted, and
//! [`Faults::plan`] lists those decisions without any networking. So a run with the same seed,
//! and clients that connect one after another, refuses the same connections and cuts them at
//! the same byte. Thread timing still varies between runs: how reads are split into chunks,
//! exact delays, and the order in which concurrent connections are accepted.
//!
//! **Threads.** One accept thread, and per relayed connection one thread that connects upstream
//! plus a reader and a writer per direction. All of them poll a stop flag at least every 50 ms
//! (non-blocking accept, socket timeouts, timed waits), and [`Proxy::stop`] (also run on drop)
//! joins them all, so none outlives the `Proxy`. An I/O error ends only the connection it
//! happened on.
//!
//! ```no_run
//! use hearth_tests::proxy::{Faults, Proxy};
//!
//! # let relay: std::net::SocketAddr = "127.0.0.1:7000".parse().unwrap();
//! let mut link = Proxy::start(relay, Faults::patchy_2g(), 42)?;
//! // Point the client at `link.addr()` instead of the relay, then later:
//! link.set_faults(Faults::none()); // the phone is back in good coverage
//! println!("{:?}", link.stats());
//! link.stop();
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Longest any proxy thread goes without checking whether it should stop.
const POLL: Duration = Duration::from_millis(50);
/// Accept is non-blocking so the stop flag is seen; this is how long it naps when idle.
const ACCEPT_POLL: Duration = Duration::from_millis(10);
/// Upstream is local in tests; a short bound keeps `stop` prompt if it is not answering.
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const READ_CHUNK: usize = 16 * 1024;
/// Chunks the delay line holds per direction before the reader stops reading and the sender
/// feels back-pressure. Reads coalesce when the line is backed up, so this is up to 4 MiB.
const LINE_CHUNKS: usize = 256;

/// What the link does to connections. Applies per connection, fixed when it is accepted.
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    /// Added to every chunk in each direction (so a round trip gets twice this).
    pub latency: Duration,
    /// Per direction and per connection; `None` for unlimited. `Some(0)` counts as 1 byte/s.
    pub bandwidth_bytes_per_sec: Option<u64>,
    /// Chance, per connection, that it is cut (see [`Cut`]). Values outside `0.0..=1.0`
    /// behave as never/always.
    pub cut_probability: f64,
    /// A cut comes after a number of bytes chosen uniformly from `0..cut_within_bytes`.
    pub cut_within_bytes: u64,
    /// Chance, per connection, that it is closed on accept without contacting upstream.
    pub refuse_probability: f64,
}

impl Faults {
    /// A perfect link (apart from loopback itself).
    pub fn none() -> Faults {
        Faults {
            latency: Duration::ZERO,
            bandwidth_bytes_per_sec: None,
            cut_probability: 0.0,
            cut_within_bytes: 16 * 1024,
            refuse_probability: 0.0,
        }
    }

    /// A bad but usable 2G (GPRS/EDGE-like) link: 300 ms each way, 64 kbit/s each way, three
    /// connections in ten cut within their first 16 KiB, one in twenty refused.
    pub fn patchy_2g() -> Faults {
        Faults {
            latency: Duration::from_millis(300),
            bandwidth_bytes_per_sec: Some(8000),
            cut_probability: 0.3,
            cut_within_bytes: 16 * 1024,
            refuse_probability: 0.05,
        }
    }

    /// What happens to connection number `connection` (0-based, in accept order) of a proxy
    /// started with `seed`. Pure: the same arguments always give the same decision.
    pub fn decide(&self, seed: u64, connection: u64) -> Decision {
        // Each connection draws from its own stream, so its fate does not depend on how many
        // draws earlier connections made; and all four numbers are always drawn, so changing
        // one probability does not reshuffle the other decisions.
        let mut rng = SplitMix64(mix(seed ^ mix(connection)));
        let refuse = rng.unit();
        let cut = rng.unit();
        let downstream = rng.next() & 1 == 1;
        let after_bytes = rng.below(self.cut_within_bytes);
        if refuse < self.refuse_probability {
            return Decision::Refuse;
        }
        let cut = (cut < self.cut_probability).then_some(Cut {
            direction: if downstream {
                Direction::Downstream
            } else {
                Direction::Upstream
            },
            after_bytes,
        });
        Decision::Relay { cut }
    }

    /// The decisions for the first `connections` connections of a proxy started with `seed`,
    /// if these faults stay in force.
    pub fn plan(&self, seed: u64, connections: u64) -> Vec<Decision> {
        (0..connections).map(|n| self.decide(seed, n)).collect()
    }
}

impl Default for Faults {
    fn default() -> Faults {
        Faults::none()
    }
}

/// The fate of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Closed on accept; upstream never hears of it.
    Refuse,
    /// Relayed to upstream, and cut if `cut` says so.
    Relay { cut: Option<Cut> },
}

/// Where a connection is cut: once `after_bytes` bytes have been delivered in `direction`
/// (immediately if 0), both sides are shut down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cut {
    pub direction: Direction,
    pub after_bytes: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the connecting client to the upstream server.
    Upstream,
    /// From the upstream server back to the client.
    Downstream,
}

/// Counters since the proxy started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes delivered to upstream (client to server).
    pub bytes_upstream: u64,
    /// Bytes delivered to clients (server to client).
    pub bytes_downstream: u64,
    /// Every connection the listener accepted, refused ones included.
    pub connections_accepted: u64,
    pub connections_refused: u64,
    /// Connections that reached their planned cut (not ones that ended any other way).
    pub connections_cut: u64,
    /// Relayed connections closed because upstream could not be reached.
    pub upstream_failures: u64,
}

/// A running proxy; see the [module docs](self).
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Listens on `127.0.0.1` (a free port) and relays every connection to `upstream`,
    /// applying `faults`, with all random decisions derived from `seed`.
    pub fn start(upstream: SocketAddr, faults: Faults, seed: u64) -> io::Result<Proxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            seed,
            faults: Mutex::new(faults),
            stop: AtomicBool::new(false),
            counters: Counters::default(),
        });
        let acceptor = thread::Builder::new().name("proxy-accept".into()).spawn({
            let shared = Arc::clone(&shared);
            move || accept_loop(&listener, &shared)
        })?;
        Ok(Proxy {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// Where clients should connect instead of `upstream`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream
    }

    pub fn seed(&self) -> u64 {
        self.shared.seed
    }

    /// The faults new connections get.
    pub fn faults(&self) -> Faults {
        self.shared.faults()
    }

    /// Changes the faults for connections accepted from now on (e.g. to heal the link);
    /// connections already open keep theirs.
    pub fn set_faults(&self, faults: Faults) {
        *self
            .shared
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = faults;
    }

    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// Stops listening, shuts down every open connection and waits for all proxy threads to
    /// end (well under a second). Idempotent; [`Proxy::stats`] still works afterwards.
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            // A panic in a proxy thread is a bug in the proxy, not something to re-raise in
            // whatever test happens to drop it.
            let _ = acceptor.join();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Shared {
    upstream: SocketAddr,
    seed: u64,
    faults: Mutex<Faults>,
    stop: AtomicBool,
    counters: Counters,
}

impl Shared {
    fn faults(&self) -> Faults {
        self.faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

#[derive(Default)]
struct Counters {
    bytes_upstream: AtomicU64,
    bytes_downstream: AtomicU64,
    accepted: AtomicU64,
    refused: AtomicU64,
    cut: AtomicU64,
    upstream_failures: AtomicU64,
}

impl Counters {
    fn bytes(&self, direction: Direction) -> &AtomicU64 {
        match direction {
            Direction::Upstream => &self.bytes_upstream,
            Direction::Downstream => &self.bytes_downstream,
        }
    }

    fn snapshot(&self) -> Stats {
        let get = |counter: &AtomicU64| counter.load(Ordering::SeqCst);
        Stats {
            bytes_upstream: get(&self.bytes_upstream),
            bytes_downstream: get(&self.bytes_downstream),
            connections_accepted: get(&self.accepted),
            connections_refused: get(&self.refused),
            connections_cut: get(&self.cut),
            upstream_failures: get(&self.upstream_failures),
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    let mut connections: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stopping() {
        match listener.accept() {
            Ok((client, _)) => {
                let index = shared.counters.accepted.fetch_add(1, Ordering::SeqCst);
                let faults = shared.faults();
                match faults.decide(shared.seed, index) {
                    Decision::Refuse => {
                        shared.counters.refused.fetch_add(1, Ordering::SeqCst);
                        let _ = client.shutdown(Shutdown::Both);
                    }
                    Decision::Relay { cut } => {
                        let shared = Arc::clone(shared);
                        // If the thread cannot start, the closure (and the client socket in
                        // it) is dropped, closing the connection: one lost connection, as on a
                        // bad link, rather than a failed proxy.
                        if let Ok(thread) = thread::Builder::new()
                            .name(format!("proxy-{index}"))
                            .spawn(move || relay(client, &shared, &faults, cut, index))
                        {
                            connections.push(thread);
                        }
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                connections.retain(|thread| !thread.is_finished());
                thread::sleep(ACCEPT_POLL);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // Out of file descriptors and the like: the listener itself is still good, so back
            // off and keep serving.
            Err(_) => thread::sleep(ACCEPT_POLL),
        }
    }
    for thread in connections {
        let _ = thread.join();
    }
}

fn relay(client: TcpStream, shared: &Shared, faults: &Faults, cut: Option<Cut>, index: u64) {
    let upstream = match TcpStream::connect_timeout(&shared.upstream, UPSTREAM_CONNECT_TIMEOUT) {
        Ok(upstream) => upstream,
        Err(_) => {
            shared
                .counters
                .upstream_failures
                .fetch_add(1, Ordering::SeqCst);
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
    };
    let link = Link {
        client,
        upstream,
        dead: AtomicBool::new(false),
        shared,
    };
    if link.configure().is_err() {
        link.kill();
        return;
    }
    let link = &link;
    thread::scope(|scope| {
        for direction in [Direction::Upstream, Direction::Downstream] {
            let (line_in, line_out) = mpsc::sync_channel(LINE_CHUNKS);
            let bucket = faults.bandwidth_bytes_per_sec.map(Bucket::new);
            let cut_after = cut
                .filter(|cut| cut.direction == direction)
                .map(|cut| cut.after_bytes);
            let name = |side| format!("proxy-{index}-{direction:?}-{side}");
            let spawned = thread::Builder::new()
                .name(name("read"))
                .spawn_scoped(scope, move || {
                    link.read_side(direction, faults.latency, &line_in)
                })
                .and_then(|_| {
                    thread::Builder::new()
                        .name(name("write"))
                        .spawn_scoped(scope, move || {
                            link.write_side(direction, &line_out, bucket, cut_after)
                        })
                });
            if spawned.is_err() {
                // Whatever did start sees the flag and ends; the scope then joins it.
                link.kill();
            }
        }
    });
}

/// A chunk in the delay line; empty `bytes` is the end of the stream.
struct Chunk {
    due: Instant,
    bytes: Vec<u8>,
}

/// One relayed connection, shared by its four threads.
struct Link<'a> {
    client: TcpStream,
    upstream: TcpStream,
    /// Set once the connection is over for whatever reason: cut, error, or proxy stop.
    dead: AtomicBool,
    shared: &'a Shared,
}

impl Link<'_> {
    fn configure(&self) -> io::Result<()> {
        for socket in [&self.client, &self.upstream] {
            // Some platforms hand out accepted sockets non-blocking like their listener.
            socket.set_nonblocking(false)?;
            // The delay line and the bucket release data in timed pieces; Nagle would hold
            // small ones back for an ACK and add delay that is not part of the model.
            socket.set_nodelay(true)?;
            // So that no blocked read or write keeps a thread from seeing `dead` or stop.
            socket.set_read_timeout(Some(POLL))?;
            socket.set_write_timeout(Some(POLL))?;
        }
        Ok(())
    }

    /// (source, destination) for data travelling in `direction`.
    fn ends(&self, direction: Direction) -> (&TcpStream, &TcpStream) {
        match direction {
            Direction::Upstream => (&self.client, &self.upstream),
            Direction::Downstream => (&self.upstream, &self.client),
        }
    }

    /// Whether this connection's threads should give up now.
    fn over(&self) -> bool {
        if self.shared.stopping() {
            // The first thread to notice closes the sockets, so peers learn of the stop now
            // rather than when the sockets are dropped.
            self.kill();
            return true;
        }
        self.dead.load(Ordering::SeqCst)
    }

    /// Ends the connection abruptly; true if this call did it (rather than an earlier one).
    fn kill(&self) -> bool {
        let first = !self.dead.swap(true, Ordering::SeqCst);
        if first {
            // Wakes any read blocked on these sockets, and tells both peers at once.
            let _ = self.client.shutdown(Shutdown::Both);
            let _ = self.upstream.shutdown(Shutdown::Both);
        }
        first
    }

    fn cut(&self) {
        if self.kill() {
            self.shared.counters.cut.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn read_side(&self, direction: Direction, latency: Duration, line: &SyncSender<Chunk>) {
        let (mut source, _) = self.ends(direction);
        let mut buf = vec![0; READ_CHUNK];
        loop {
            if self.over() {
                return;
            }
            let bytes = match source.read(&mut buf) {
                Ok(n) => buf[..n].to_vec(),
                Err(e) if is_timeout(&e) || e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.kill();
                    return;
                }
            };
            let end = bytes.is_empty();
            let chunk = Chunk {
                due: Instant::now() + latency,
                bytes,
            };
            // Blocks while the line is full (back-pressure); fails once the writer has
            // given up, which it does promptly on stop or kill.
            if line.send(chunk).is_err() || end {
                return;
            }
        }
    }

    fn write_side(
        &self,
        direction: Direction,
        line: &Receiver<Chunk>,
        mut bucket: Option<Bucket>,
        mut cut_after: Option<u64>,
    ) {
        let (_, destination) = self.ends(direction);
        let delivered = self.shared.counters.bytes(direction);
        if cut_after == Some(0) {
            self.cut();
            return;
        }
        loop {
            let chunk = match line.recv_timeout(POLL) {
                Ok(chunk) => chunk,
                Err(RecvTimeoutError::Timeout) if !self.over() => continue,
                Err(_) => return,
            };
            if !self.wait_until(chunk.due) {
                return;
            }
            if chunk.bytes.is_empty() {
                // The sender half-closed: pass it on, and let the other direction carry on.
                let _ = destination.shutdown(Shutdown::Write);
                return;
            }
            let mut rest = &chunk.bytes[..];
            if let Some(left) = cut_after {
                rest = &rest[..rest.len().min(usize::try_from(left).unwrap_or(usize::MAX))];
            }
            let cut_here = rest.len() as u64;
            while !rest.is_empty() {
                let n = match &mut bucket {
                    Some(bucket) => match bucket.take(rest.len(), || self.over()) {
                        Some(n) => n,
                        None => return,
                    },
                    None => rest.len(),
                };
                if !self.write_all(destination, &rest[..n], delivered) {
                    return;
                }
                rest = &rest[n..];
            }
            if let Some(left) = &mut cut_after {
                *left -= cut_here;
                if *left == 0 {
                    self.cut();
                    return;
                }
            }
        }
    }

    /// Sleeps until `due`; false if the connection ended meanwhile.
    fn wait_until(&self, due: Instant) -> bool {
        loop {
            if self.over() {
                return false;
            }
            let now = Instant::now();
            if now >= due {
                return true;
            }
            thread::sleep((due - now).min(POLL));
        }
    }

    /// Writes all of `bytes`, counting them as they go; false (and the connection killed) on
    /// error, or false if the connection ended meanwhile.
    fn write_all(
        &self,
        mut destination: &TcpStream,
        mut bytes: &[u8],
        counter: &AtomicU64,
    ) -> bool {
        while !bytes.is_empty() {
            if self.over() {
                return false;
            }
            match destination.write(bytes) {
                Ok(0) => {
                    self.kill();
                    return false;
                }
                Ok(n) => {
                    counter.fetch_add(n as u64, Ordering::SeqCst);
                    bytes = &bytes[n..];
                }
                Err(e) if is_timeout(&e) || e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    self.kill();
                    return false;
                }
            }
        }
        true
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Token bucket for one direction of one connection.
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(bytes_per_sec: u64) -> Bucket {
        let rate = bytes_per_sec.max(1) as f64;
        // 1/20 s worth: smooth enough at 2G rates that a transfer's timing is its size over
        // the rate, without a write per byte.
        let burst = (rate / 20.0).floor().max(1.0);
        Bucket {
            rate,
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Waits until some of `want` (> 0) bytes may be sent and returns how many; `None` if
    /// `over` said to give up meanwhile.
    fn take(&mut self, want: usize, over: impl Fn() -> bool) -> Option<usize> {
        // Both are whole numbers of at least 1, so the cast back is exact.
        let need = (want as f64).min(self.burst);
        loop {
            let now = Instant::now();
            let earned = now.duration_since(self.last).as_secs_f64() * self.rate;
            self.tokens = (self.tokens + earned).min(self.burst);
            self.last = now;
            if self.tokens >= need {
                self.tokens -= need;
                return Some(need as usize);
            }
            if over() {
                return None;
            }
            let wait = Duration::from_secs_f64((need - self.tokens) / self.rate);
            thread::sleep(wait.min(POLL));
        }
    }
}

/// SplitMix64: tiny, fast, and good enough to make fault decisions look random.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (0 if `n` is 0); the modulo bias is far below what a test can see.
    fn below(&mut self, n: u64) -> u64 {
        let x = self.next();
        if n == 0 {
            0
        } else {
            x % n
        }
    }
}

/// SplitMix64's output function, also used to spread (seed, connection) over the state space.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
