//! The relay's own failures (starting, storing, stopping). Refusals of a client's request are
//! not errors here: they are protocol outcomes ([`hearth_protocol::api::Outcome`]) or HTTP error
//! bodies ([`crate::http`]).

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A write that did not commit; the text is the store's error.
    #[error("storage failed: {0}")]
    Storage(String),
    #[error("the relay is shutting down")]
    ShuttingDown,
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot start the relay's threads: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("a relay task failed: {0}")]
    Task(String),
}
