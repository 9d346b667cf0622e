//! Errors, one type per layer. Each message names the problem and, where a person can act on
//! it, what to do; internal detail stays in the `source` chain.

use std::path::PathBuf;

use crate::crypto::{CryptoError, SlotKind};
use crate::identity::Role;

/// A bad value from a person or a script: which field, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InputError {
    pub field: String,
    pub reason: String,
}

impl InputError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        InputError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Failures of the encrypted store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no Hearth store at {}", path.display())]
    NotFound { path: PathBuf },
    #[error("a Hearth store already exists at {}", path.display())]
    AlreadyExists { path: PathBuf },
    #[error("{} is not a Hearth store: {reason}", path.display())]
    NotAHearthStore { path: PathBuf, reason: String },
    #[error("the Hearth store at {} is damaged: {detail}", path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("wrong {}: it does not open this store", match kind { SlotKind::RawKey => "key", SlotKind::Passphrase => "passphrase" })]
    WrongSecret { kind: SlotKind },
    #[error("this store cannot be opened with a {}; it opens with: {}", given.as_str(), available.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", "))]
    NoSuchSlot {
        given: SlotKind,
        available: Vec<SlotKind>,
    },
    #[error("this store was written by a newer Hearth (schema {found}, this build knows up to {supported}); update Hearth")]
    TooNew { found: i64, supported: i64 },
    #[error("the Hearth store at {} holds {groups} group(s) made by a pre-release Hearth without sync; this version cannot carry them over. Move the store aside and run `hearth init` again", path.display())]
    PreSyncGroups { path: PathBuf, groups: i64 },
    #[error("another Hearth process is using this store; try again")]
    Busy,
    #[error("a stored record could not be read ({what}): {detail}")]
    Decode { what: String, detail: String },
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    #[error("database: {0}")]
    Sqlite(#[source] rusqlite::Error),
    #[error("file system: {0}")]
    Io(#[from] std::io::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => StoreError::Busy,
            Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => {
                StoreError::Corrupt {
                    path: PathBuf::new(),
                    detail: e.to_string(),
                }
            }
            _ => StoreError::Sqlite(e),
        }
    }
}

/// Errors from the core's public operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Input(#[from] InputError),
    #[error("no group matches {given:?}")]
    UnknownGroup { given: String },
    #[error("{count} groups are called {given:?}; use the group id instead")]
    AmbiguousGroup { given: String, count: usize },
    #[error("no message {id} in this group")]
    UnknownMessage { id: String },
    #[error("only {allowed} can {action}; this profile is a {role}")]
    NotAllowed {
        action: &'static str,
        allowed: &'static str,
        role: Role,
    },
    #[error("you can only {action} your own messages")]
    NotYourMessage { action: &'static str },
    #[error("this message was deleted")]
    MessageDeleted,
    #[error("you are not a member of this group (yet, or any more)")]
    NotAMember,
    #[error("read and accept the group's rules before posting")]
    RulesNotAccepted,
    /// A moderator muted this member; `until` is milliseconds since 1970.
    #[error("a moderator has paused your posting in this group until {until_text}")]
    Muted { until: i64, until_text: String },
    #[error("this group is in slow mode: you can post again in {wait_secs} s")]
    SlowMode { wait_secs: u32 },
    #[error("group document: {0}")]
    Document(String),
    /// A sync could not be completed; nothing half-done was kept, the next sync resumes.
    #[error("sync: {0}")]
    Sync(String),
    /// The relay could not be reached (after retries), or refused the whole request.
    #[error("relay: {0}")]
    Relay(crate::sync::TransportError),
    /// The relay refused a registration with an invite.
    #[error("joining was refused: {reason} ({code})")]
    JoinRefused {
        code: hearth_protocol::api::Code,
        reason: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Store(e.into())
    }
}

impl From<CryptoError> for Error {
    fn from(e: CryptoError) -> Self {
        Error::Store(e.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
