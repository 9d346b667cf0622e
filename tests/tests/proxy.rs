//! The fault-injecting proxy that later tests put between a device and the relay: it must pass
//! bytes intact on a clean link, delay and throttle them as configured, cut and refuse exactly
//! the connections its seed says, and stop promptly. Timing bounds are loose on purpose: these
//! check behaviour, not performance.

use std::collections::BTreeSet;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use hearth_tests::proxy::{Cut, Decision, Direction, Faults, Proxy, Stats};

/// Long enough never to fire on a healthy run, short enough that a hang fails the test.
const TIMEOUT: Duration = Duration::from_secs(5);

/// A stand-in for the relay on 127.0.0.1: runs `handler` on each connection and reports how
/// many bytes each one received, in the order the handlers finish.
struct Server {
    addr: SocketAddr,
    accepted: Arc<AtomicU64>,
    received: Receiver<u64>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    fn start(handler: fn(TcpStream) -> u64) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (report, received) = mpsc::channel();
        let acceptor = thread::spawn({
            let (accepted, stop) = (Arc::clone(&accepted), Arc::clone(&stop));
            move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            accepted.fetch_add(1, Ordering::SeqCst);
                            stream.set_nonblocking(false).unwrap();
                            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
                            let report = report.clone();
                            thread::spawn(move || {
                                let _ = report.send(handler(stream));
                            });
                        }
                        Err(_) => thread::sleep(Duration::from_millis(5)),
                    }
                }
            }
        });
        Server {
            addr,
            accepted,
            received,
            stop,
            acceptor: Some(acceptor),
        }
    }

    fn next_received(&self) -> u64 {
        self.received.recv_timeout(TIMEOUT).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Sends back everything it receives, and half-closes when the client does.
fn echo(mut stream: TcpStream) -> u64 {
    let mut buf = [0; 8192];
    let mut total = 0;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => {
                let _ = stream.shutdown(Shutdown::Write);
                return total;
            }
            Ok(n) => {
                total += n as u64;
                if stream.write_all(&buf[..n]).is_err() {
                    return total;
                }
            }
            Err(_) => return total,
        }
    }
}

/// Reads to the end, then answers with how many bytes that was (8 bytes, big-endian).
fn sink(mut stream: TcpStream) -> u64 {
    let mut total = 0;
    let mut buf = [0; 8192];
    while let Ok(n @ 1..) = stream.read(&mut buf) {
        total += n as u64;
    }
    let _ = stream.write_all(&total.to_be_bytes());
    total
}

fn connect(proxy: &Proxy) -> TcpStream {
    let stream = TcpStream::connect(proxy.addr()).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Everything the peer sends until it closes; resets count as a close. Panics on timeout.
fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!(
                    "connection still open after {TIMEOUT:?}, {} bytes in",
                    got.len()
                )
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return got,
        }
    }
}

/// Stats are counted after each write returns, which can be just after the peer has read.
fn settled_stats(proxy: &Proxy, done: impl Fn(&Stats) -> bool) -> Stats {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let stats = proxy.stats();
        if done(&stats) || Instant::now() > deadline {
            return stats;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 31) ^ (i >> 9)) as u8).collect()
}

#[test]
fn a_clean_link_passes_bytes_intact_both_ways() {
    let server = Server::start(echo);
    let proxy = Proxy::start(server.addr, Faults::none(), 1).unwrap();
    let sent = payload(300_000);

    let mut client = connect(&proxy);
    let writer = thread::spawn({
        let (mut client, sent) = (client.try_clone().unwrap(), sent.clone());
        move || {
            client.write_all(&sent).unwrap();
            client.shutdown(Shutdown::Write).unwrap();
        }
    });
    let back = read_until_closed(&mut client);
    writer.join().unwrap();

    assert!(
        back == sent,
        "{} bytes came back, not the 300000 sent",
        back.len()
    );
    assert_eq!(server.next_received(), 300_000);
    let stats = settled_stats(&proxy, |s| s.bytes_downstream == 300_000);
    assert_eq!(
        stats,
        Stats {
            bytes_upstream: 300_000,
            bytes_downstream: 300_000,
            connections_accepted: 1,
            ..Stats::default()
        }
    );
}

#[test]
fn latency_is_added_each_way() {
    let server = Server::start(echo);
    let faults = Faults {
        latency: Duration::from_millis(200),
        ..Faults::none()
    };
    let proxy = Proxy::start(server.addr, faults, 2).unwrap();
    let mut client = connect(&proxy);

    let start = Instant::now();
    client.write_all(b"ping").unwrap();
    let mut pong = [0; 4];
    client.read_exact(&mut pong).unwrap();
    let round_trip = start.elapsed();

    assert_eq!(&pong, b"ping");
    assert!(
        round_trip >= Duration::from_millis(400) && round_trip < Duration::from_secs(3),
        "round trip took {round_trip:?}"
    );
}

#[test]
fn latency_is_a_delay_line_not_a_wait_per_chunk() {
    let server = Server::start(echo);
    let faults = Faults {
        latency: Duration::from_millis(200),
        ..Faults::none()
    };
    let proxy = Proxy::start(server.addr, faults, 3).unwrap();
    let mut client = connect(&proxy);

    // Ten messages 50 ms apart: in flight together, they all arrive about 400 ms after being
    // sent, so the last one is back at ~0.85 s. Delaying each in turn would take over 4 s.
    let start = Instant::now();
    let writer = thread::spawn({
        let mut client = client.try_clone().unwrap();
        move || {
            for _ in 0..10 {
                client.write_all(b"ping").unwrap();
                thread::sleep(Duration::from_millis(50));
            }
        }
    });
    let mut pongs = [0; 40];
    client.read_exact(&mut pongs).unwrap();
    let elapsed = start.elapsed();
    writer.join().unwrap();

    assert_eq!(pongs.to_vec(), b"ping".repeat(10));
    assert!(
        elapsed >= Duration::from_millis(850) && elapsed < Duration::from_secs(2),
        "ten pings took {elapsed:?}"
    );
}

#[test]
fn bandwidth_is_limited_per_direction() {
    let server = Server::start(sink);
    let faults = Faults {
        bandwidth_bytes_per_sec: Some(8000),
        ..Faults::none()
    };
    let proxy = Proxy::start(server.addr, faults, 4).unwrap();
    let mut client = connect(&proxy);

    let start = Instant::now();
    client.write_all(&payload(16_000)).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let answer = read_until_closed(&mut client);
    let elapsed = start.elapsed();

    assert_eq!(answer, 16_000u64.to_be_bytes());
    assert!(
        elapsed >= Duration::from_millis(1500) && elapsed < Duration::from_secs(6),
        "16000 bytes at 8000 B/s took {elapsed:?}"
    );
}

#[test]
fn cuts_land_at_the_planned_byte_and_close_the_client() {
    let server = Server::start(echo);
    let seed = 5;
    let faults = Faults {
        cut_probability: 1.0,
        cut_within_bytes: 4096,
        ..Faults::none()
    };
    let plan = faults.plan(seed, 8);
    let proxy = Proxy::start(server.addr, faults, seed).unwrap();

    let mut offsets = BTreeSet::new();
    let mut directions = BTreeSet::new();
    for (i, decision) in plan.into_iter().enumerate() {
        let Decision::Relay {
            cut: Some(Cut {
                direction,
                after_bytes,
            }),
        } = decision
        else {
            panic!("connection {i}: cut_probability 1.0 planned {decision:?}");
        };
        offsets.insert(after_bytes);
        directions.insert(format!("{direction:?}"));

        // More than any cut offset, so every cut is reached; the write may fail once cut.
        let mut client = connect(&proxy);
        let _ = client.write_all(&payload(8192));
        let back = read_until_closed(&mut client).len() as u64;
        let at_server = server.next_received();
        match direction {
            // The server gets exactly the bytes before the cut; the echo of them may be lost.
            Direction::Upstream => {
                assert_eq!(at_server, after_bytes, "connection {i}, server side");
                assert!(
                    back <= after_bytes,
                    "connection {i}: {back} bytes came back"
                );
            }
            // The client gets exactly the bytes before the cut, then the connection closes.
            Direction::Downstream => {
                assert_eq!(back, after_bytes, "connection {i}, client side");
                assert!(
                    at_server >= after_bytes,
                    "connection {i}: server got {at_server}"
                );
            }
        }
    }

    assert!(
        offsets.len() > 1,
        "all cuts planned at the same offset: {offsets:?}"
    );
    assert_eq!(directions.len(), 2, "seed {seed} only cuts {directions:?}");
    let stats = settled_stats(&proxy, |s| s.connections_cut == 8);
    assert_eq!((stats.connections_accepted, stats.connections_cut), (8, 8));
}

#[test]
fn refused_connections_never_reach_upstream_until_the_link_heals() {
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let faults = Faults {
        refuse_probability: 1.0,
        ..Faults::none()
    };
    let proxy = Proxy::start(upstream.local_addr().unwrap(), faults, 6).unwrap();

    for _ in 0..5 {
        let mut client = connect(&proxy);
        let _ = client.write_all(b"hello?");
        assert!(read_until_closed(&mut client).is_empty());
    }
    // The kernel completes handshakes into the backlog even with nobody calling accept, so
    // any connection the proxy had made would be waiting here.
    upstream.set_nonblocking(true).unwrap();
    let err = upstream.accept().map(|_| ()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock, "upstream was contacted");
    let stats = proxy.stats();
    assert_eq!(
        (stats.connections_accepted, stats.connections_refused),
        (5, 5)
    );

    proxy.set_faults(Faults::none());
    let _client = connect(&proxy);
    let deadline = Instant::now() + TIMEOUT;
    while upstream.accept().is_err() {
        assert!(
            Instant::now() < deadline,
            "healed link never reached upstream"
        );
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(proxy.stats().connections_refused, 5);
}

#[test]
fn the_same_seed_plans_the_same_faults() {
    let faults = Faults::patchy_2g();
    let plan = faults.plan(42, 1000);
    assert_eq!(plan, faults.plan(42, 1000));
    assert_ne!(plan, faults.plan(43, 1000));
    // A longer plan starts with the shorter one: each connection's fate is its own.
    assert_eq!(plan[..10], faults.plan(42, 10)[..]);

    // Sanity of the preset's odds (fixed by the seed, so not flaky): 5% refused, 30% cut.
    let refused = plan.iter().filter(|d| **d == Decision::Refuse).count();
    let cuts: Vec<Cut> = plan
        .iter()
        .filter_map(|d| match d {
            Decision::Relay { cut } => *cut,
            Decision::Refuse => None,
        })
        .collect();
    assert!((25..=80).contains(&refused), "{refused} of 1000 refused");
    assert!((220..=380).contains(&cuts.len()), "{} cut", cuts.len());
    assert!(cuts.iter().all(|c| c.after_bytes < 16 * 1024));
    let upstream_cuts = cuts
        .iter()
        .filter(|c| c.direction == Direction::Upstream)
        .count();
    assert!((cuts.len() / 3..=cuts.len() * 2 / 3).contains(&upstream_cuts));

    // Changing one probability leaves the other decisions alone.
    let no_refusals = Faults {
        refuse_probability: 0.0,
        ..faults.clone()
    };
    for (with, without) in plan.iter().zip(no_refusals.plan(42, 1000)) {
        if *with != Decision::Refuse {
            assert_eq!(*with, without);
        }
    }
}

#[test]
fn a_live_proxy_refuses_the_connections_its_seed_plans() {
    let server = Server::start(echo);
    let seed = 7;
    let faults = Faults {
        refuse_probability: 0.5,
        ..Faults::none()
    };
    let plan = faults.plan(seed, 12);
    let planned_refusals = plan.iter().filter(|d| **d == Decision::Refuse).count();
    assert!(
        (1..12).contains(&planned_refusals),
        "seed {seed} plans {plan:?}"
    );
    let proxy = Proxy::start(server.addr, faults, seed).unwrap();

    // One after another, so connection i is the proxy's i-th accept.
    for (i, decision) in plan.iter().enumerate() {
        let mut client = connect(&proxy);
        let _ = client.write_all(b"ping");
        let _ = client.shutdown(Shutdown::Write);
        let back = read_until_closed(&mut client);
        let expected: &[u8] = match decision {
            Decision::Refuse => b"",
            Decision::Relay { .. } => b"ping",
        };
        assert_eq!(back, expected, "connection {i} ({decision:?})");
    }
    assert_eq!(
        server.accepted.load(Ordering::SeqCst),
        12 - planned_refusals as u64
    );
    assert_eq!(proxy.stats().connections_refused, planned_refusals as u64);
}

#[test]
fn stop_is_prompt_and_closes_open_connections() {
    let server = Server::start(echo);
    let faults = Faults {
        latency: Duration::from_millis(200),
        bandwidth_bytes_per_sec: Some(1000),
        ..Faults::none()
    };
    let mut proxy = Proxy::start(server.addr, faults, 8).unwrap();
    let mut client = connect(&proxy);
    client.write_all(b"x").unwrap();
    let mut one = [0; 1];
    client.read_exact(&mut one).unwrap();
    // Enough to keep the delay line and the bucket busy for many seconds.
    client.write_all(&payload(20_000)).unwrap();
    thread::sleep(Duration::from_millis(300));

    let start = Instant::now();
    proxy.stop();
    let stopping = start.elapsed();
    read_until_closed(&mut client);
    let closed = start.elapsed();

    assert!(stopping < Duration::from_secs(1), "stop took {stopping:?}");
    assert!(
        closed < Duration::from_secs(1),
        "client saw the close after {closed:?}"
    );
    assert_eq!(proxy.stats().connections_accepted, 1);
    proxy.stop(); // idempotent, and Drop runs it again
}
