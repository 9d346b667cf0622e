//! Starting and stopping a relay: configuration, the listening socket, graceful shutdown, and
//! a handle for tests that runs a relay on its own thread.
//!
//! Shutdown order matters for "acknowledged means stored": stop accepting connections, let
//! in-flight requests finish (each waits for its commit), then stop the commit thread (which
//! commits whatever is still queued), and only then close the database.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify, Semaphore};

use crate::commit::CommitThread;
use crate::error::RelayError;
use crate::groups::GroupCache;
use crate::limit::RateLimiter;
use crate::reply::{SnapshotPolicy, SnapshotRequests};
use crate::store::{RelayStore, SqliteStore};

/// How a relay runs. [`Config::new`] gives production defaults for a database path.
#[derive(Debug, Clone)]
pub struct Config {
    /// `host:port` to listen on; port 0 picks a free one (see [`Server::local_addr`]).
    pub listen: String,
    /// The SQLite database file (created if missing).
    pub db: PathBuf,
    /// The largest request body accepted, in bytes.
    pub max_body: usize,
    /// Requests per second per client (signing device for sync, address for join); 0 turns
    /// rate limiting off.
    pub rate_per_sec: f64,
    /// How many requests a client may make at once before the rate applies.
    pub rate_burst: f64,
    /// Envelope bytes per sync response; the rest waits for the next sync (`more`).
    pub reply_envelope_bytes: u64,
    /// Snapshot bytes per sync response.
    pub reply_snapshot_bytes: u64,
    /// Direct notes per sync response, across all groups; the rest wait (`more_directs`).
    pub reply_direct_notes: usize,
    /// Direct note bytes per sync response, across all groups.
    pub reply_direct_bytes: u64,
    /// Ask for a snapshot of the newest chapter after this many envelopes since the last one…
    pub snapshot_after_envelopes: u64,
    /// …or this many bytes of them.
    pub snapshot_after_bytes: u64,
    /// How long the member asked for a snapshot has before someone else is asked.
    pub snapshot_lease: Duration,
    /// How long a request body may go without a single byte arriving. Stalls end a request;
    /// slowness does not (a snapshot over 2G takes minutes).
    pub body_stall: Duration,
    /// How long a request body may take to arrive at all.
    pub body_timeout: Duration,
    /// How long in-flight requests may take to finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Read transactions running at once (each on its own connection and blocking thread).
    pub readers: usize,
}

impl Config {
    pub fn new(db: impl Into<PathBuf>) -> Config {
        Config {
            listen: "127.0.0.1:7878".into(),
            db: db.into(),
            max_body: hearth_protocol::wire::MAX_MESSAGE_BYTES,
            rate_per_sec: 20.0,
            rate_burst: 60.0,
            reply_envelope_bytes: 1024 * 1024,
            // One snapshot of the largest size a snapshot body may have, and its header.
            reply_snapshot_bytes: hearth_protocol::envelope::MAX_SNAPSHOT_BODY as u64 + 4096,
            reply_direct_notes: 200,
            reply_direct_bytes: 1024 * 1024,
            snapshot_after_envelopes: 200,
            snapshot_after_bytes: 64 * 1024,
            snapshot_lease: Duration::from_secs(60),
            body_stall: Duration::from_secs(30),
            body_timeout: Duration::from_secs(15 * 60),
            shutdown_grace: Duration::from_secs(10),
            readers: 8,
        }
    }

    /// Loopback on a free port, no rate limit (tests sync as fast as they can), otherwise the
    /// production defaults.
    pub fn for_tests(db: &Path) -> Config {
        Config {
            listen: "127.0.0.1:0".into(),
            rate_per_sec: 0.0,
            ..Config::new(db)
        }
    }

    fn check(&self) -> Result<(), RelayError> {
        if self.max_body == 0 {
            return Err(RelayError::Config(
                "the body limit must be at least 1 byte".into(),
            ));
        }
        if !self.rate_per_sec.is_finite() || self.rate_per_sec < 0.0 {
            return Err(RelayError::Config(format!(
                "the rate must be a number of requests per second, 0 or more; got {}",
                self.rate_per_sec
            )));
        }
        if !self.rate_burst.is_finite() || self.rate_burst < 1.0 {
            return Err(RelayError::Config(format!(
                "the burst must be at least 1 request; got {}",
                self.rate_burst
            )));
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Config {
        Config::new("hearth-relay.db")
    }
}

/// Everything a request handler uses.
pub(crate) struct Relay {
    pub config: Config,
    pub store: Arc<dyn RelayStore>,
    pub groups: Arc<GroupCache>,
    pub commit: CommitThread,
    pub snapshots: SnapshotRequests,
    pub limiter: RateLimiter,
    pub readers: Arc<Semaphore>,
}

impl Relay {
    fn open(config: Config) -> Result<Relay, RelayError> {
        let store: Arc<dyn RelayStore> = Arc::new(SqliteStore::open(&config.db)?);
        let groups = Arc::new(GroupCache::default());
        let commit =
            CommitThread::start(store.clone(), groups.clone()).map_err(RelayError::Runtime)?;
        Ok(Relay {
            snapshots: SnapshotRequests::new(SnapshotPolicy {
                after_envelopes: config.snapshot_after_envelopes,
                after_bytes: config.snapshot_after_bytes,
                lease: config.snapshot_lease,
            }),
            limiter: RateLimiter::new(config.rate_per_sec, config.rate_burst),
            readers: Arc::new(Semaphore::new(config.readers.max(1))),
            store,
            groups,
            commit,
            config,
        })
    }

    /// Commits what is queued and closes the database. Blocking.
    fn close(&self) -> Result<(), RelayError> {
        self.readers.close();
        self.commit.stop();
        self.store.close()?;
        Ok(())
    }
}

/// A relay bound to its address, not yet serving.
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    relay: Arc<Relay>,
}

impl Server {
    /// Opens the database and binds the listening socket.
    pub async fn bind(config: Config) -> Result<Server, RelayError> {
        config.check()?;
        let listener = TcpListener::bind(config.listen.as_str())
            .await
            .map_err(|source| RelayError::Listen {
                addr: config.listen.clone(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| RelayError::Listen {
            addr: config.listen.clone(),
            source,
        })?;
        let relay = tokio::task::spawn_blocking(move || Relay::open(config))
            .await
            .map_err(|e| RelayError::Task(e.to_string()))??;
        Ok(Server {
            listener,
            addr,
            relay: Arc::new(relay),
        })
    }

    /// The address actually listened on (with the real port when the config said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests (for at most
    /// [`Config::shutdown_grace`]) and closes the database.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), RelayError> {
        let Server {
            listener,
            addr,
            relay,
        } = self;
        let grace = relay.config.shutdown_grace;
        let app =
            crate::http::router(relay.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let signalled = Arc::new(Notify::new());
        let notify = signalled.clone();
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections, finishing requests in flight");
            notify.notify_one();
        };
        tracing::info!(%addr, db = %relay.config.db.display(), "hearth-relay serving");
        let serving = axum::serve(listener, app)
            .with_graceful_shutdown(signal)
            .into_future();
        let overdue = async {
            signalled.notified().await;
            tokio::time::sleep(grace).await;
        };
        let served = tokio::select! {
            r = serving => r.map_err(|source| RelayError::Listen { addr: addr.to_string(), source }),
            () = overdue => {
                tracing::warn!(grace_s = grace.as_secs(), "requests still in flight after the grace period; closing anyway");
                Ok(())
            }
        };
        let closing = relay.clone();
        let closed = tokio::task::spawn_blocking(move || closing.close())
            .await
            .map_err(|e| RelayError::Task(e.to_string()))?;
        tracing::info!("database closed");
        served.and(closed)
    }
}

/// Serves `config` until `shutdown` completes. See [`Server`] to learn the bound address first.
pub async fn serve(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RelayError> {
    Server::bind(config).await?.run(shutdown).await
}

/// A relay running on its own thread and runtime, for tests and tools that are not async.
/// Dropping the handle shuts the relay down and waits for it.
pub struct RelayHandle {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), RelayError>>>,
}

impl std::fmt::Debug for RelayHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RelayHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, the base of every endpoint.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the relay gracefully and returns how it ended.
    pub fn shutdown(mut self) -> Result<(), RelayError> {
        self.stop_and_wait()
    }

    fn stop_and_wait(&mut self) -> Result<(), RelayError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| RelayError::Task("the relay thread panicked".into()))?,
            None => Ok(()),
        }
    }
}

impl Drop for RelayHandle {
    fn drop(&mut self) {
        if let Err(e) = self.stop_and_wait() {
            tracing::error!(error = %e, "the relay did not shut down cleanly");
        }
    }
}

/// Starts a relay on its own thread (a two-worker runtime) and returns once it listens.
pub fn spawn(config: Config) -> Result<RelayHandle, RelayError> {
    let (bound_tx, bound_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("hearth-relay".into())
        .spawn(move || -> Result<(), RelayError> {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("hearth-relay-worker")
                .enable_all()
                .build()
                .map_err(RelayError::Runtime)?;
            runtime.block_on(async move {
                let server = match Server::bind(config).await {
                    Ok(server) => server,
                    Err(e) => {
                        let _ = bound_tx.send(Err(e));
                        return Ok(());
                    }
                };
                let _ = bound_tx.send(Ok(server.local_addr()));
                server
                    .run(async {
                        // A dropped sender (the handle is gone) also means stop.
                        let _ = stop_rx.await;
                    })
                    .await
            })
        })
        .map_err(RelayError::Runtime)?;
    match bound_rx.recv() {
        Ok(Ok(addr)) => Ok(RelayHandle {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        // The thread ended before binding: its own error says why.
        Err(_) => match thread.join() {
            Ok(Err(e)) => Err(e),
            _ => Err(RelayError::Task(
                "the relay thread stopped while starting".into(),
            )),
        },
    }
}

/// Starts a relay on `127.0.0.1:0` with the database at `db` (see [`Config::for_tests`]).
///
/// # Panics
/// If the relay cannot start: this is a test helper, and a relay that cannot start is the
/// calling test's failure, reported with the reason.
pub fn spawn_for_tests(db: &Path) -> RelayHandle {
    match spawn(Config::for_tests(db)) {
        Ok(handle) => handle,
        Err(e) => panic!("hearth-relay could not start on {}: {e}", db.display()),
    }
}
