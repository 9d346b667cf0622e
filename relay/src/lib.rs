//! Hearth's blind relay: stores and forwards signed, encrypted envelopes for small closed
//! groups, and never holds a key that decrypts content.
//!
//! Devices talk to it with two calls ([`hearth_protocol::api`]): `POST /v1/sync` uploads and
//! downloads everything for all of a device's groups in one round trip, and `POST /v1/join`
//! registers a joiner with an invite. The relay verifies what it can without keys — request,
//! operation and envelope signatures, body hashes, the membership log, epochs, per-author
//! sequence chains — assigns each stored envelope a per-group cursor, and serves devices what
//! they are missing. It acknowledges an envelope only after the transaction holding it has
//! committed to disk.
//!
//! The same sync carries direct notes: one member to one other member of a group (a report
//! sealed to a moderator, a safety alert, a moderator's nudge, a shared self-check), with a body
//! sealed to the recipient. The relay checks the sender's signature and that both are current
//! members, holds the note until the recipient's device acknowledges it through its direct
//! cursor (or she is removed from the group), and then deletes it: it is a mailbox, not an
//! archive. It sees who wrote to whom and when, never what.
//!
//! Where things live:
//! - `server`: configuration ([`Config`]), start ([`Server`], [`serve`], [`spawn`]), graceful
//!   stop, and [`spawn_for_tests`].
//! - `http`: routes, body limits, error answers, request logging.
//! - `sync` (what a device uploads) and `reply` (what it receives), `join` (registrations).
//! - `commit`: the single writer thread with group commit.
//! - `groups`: verified membership state per group, in memory.
//! - [`store`]: the storage trait and its SQLite implementation.
//! - `limit`: per-client rate limits.
//! - `cli`: the `hearth-relay` command.

mod cli;
mod commit;
mod error;
mod groups;
mod http;
mod join;
mod limit;
mod reply;
mod server;
pub mod store;
mod sync;

pub use cli::main;
pub use error::RelayError;
pub use server::{serve, spawn, spawn_for_tests, Config, RelayHandle, Server};
