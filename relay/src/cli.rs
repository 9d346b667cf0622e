//! The `hearth-relay` command: flags, logging, signals, and the one line a supervisor (or a
//! test) reads to learn where the relay listens.
//!
//! stdout carries exactly one line, `hearth-relay listening on http://HOST:PORT` (the address
//! actually bound, so `--listen 127.0.0.1:0` names the real port), printed and flushed once the
//! socket is bound and the database open; logs go to stderr. SIGINT and SIGTERM stop the relay
//! gracefully and the process exits 0; a relay that cannot start exits 1 with the reason.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use tracing_subscriber::EnvFilter;

use crate::error::RelayError;
use crate::server::{Config, Server};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

/// Hearth's blind relay: stores and forwards signed, encrypted envelopes for small closed
/// groups. It verifies signatures and membership and never holds a key that opens content.
#[derive(Debug, Parser)]
#[command(name = "hearth-relay", version)]
struct Args {
    /// Address to listen on (port 0: any free port; the listening line says which).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:7878",
        env = "HEARTH_RELAY_LISTEN"
    )]
    listen: String,
    /// SQLite database file, created if missing.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "hearth-relay.db",
        env = "HEARTH_RELAY_DB"
    )]
    db: PathBuf,
    /// Largest request body accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = hearth_protocol::wire::MAX_MESSAGE_BYTES)]
    max_body: usize,
    /// Requests per second allowed per device (sync) or address (join); 0 turns limits off.
    #[arg(long, value_name = "PER_SEC", default_value_t = 20.0)]
    rate: f64,
    /// Requests a client may make at once before the rate applies (default: 3 s worth).
    #[arg(long, value_name = "REQUESTS")]
    burst: Option<f64>,
    /// Log line format (stderr). RUST_LOG filters as usual; the default level is info.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// Runs the relay as a command; exits the process.
pub fn main() {
    let args = Args::parse();
    init_logging(args.log_format);
    match run(args) {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            tracing::error!(error = %e, "hearth-relay stopped");
            eprintln!("hearth-relay: {e}");
            std::process::exit(1);
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // `try_init`: a second subscriber (there is none in the binary) would be a no-op, not a panic.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn run(args: Args) -> Result<(), RelayError> {
    let config = Config {
        listen: args.listen,
        db: args.db,
        max_body: args.max_body,
        rate_per_sec: args.rate,
        rate_burst: args.burst.unwrap_or((args.rate * 3.0).max(1.0)),
        ..Config::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RelayError::Runtime)?;
    runtime.block_on(async move {
        // Handlers are installed before the listening line goes out, so a signal sent the
        // moment a supervisor reads it is already a graceful stop, not the default kill.
        let stop = shutdown_signal().map_err(RelayError::Runtime)?;
        let server = Server::bind(config).await?;
        let mut out = std::io::stdout().lock();
        // A closed stdout (nobody reading) must not stop the relay.
        let _ = writeln!(
            out,
            "hearth-relay listening on http://{}",
            server.local_addr()
        );
        let _ = out.flush();
        drop(out);
        server.run(stop).await
    })
}

#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "stop requested");
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!(signal = "ctrl-c", "stop requested");
    })
}
