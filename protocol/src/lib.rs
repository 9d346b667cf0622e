//! The Hearth wire protocol, shared by devices (through `hearth-core`) and the blind relay.
//!
//! Everything that crosses a network or a phone-to-phone link is defined here, and nothing
//! here can decrypt content: the relay links this crate and no key material ever reaches it.
//! The crate owns the invariants both sides must agree on byte for byte:
//!
//! - [`wire`]: the versioned CBOR encoding and its size limits.
//! - [`ids`]: device, group and hash identifiers, roles, domain-separated hashing and signing.
//! - [`invite`]: invite codes and the keys derived from them.
//! - [`membership`]: the hash-chained log of moderator-signed operations and the state it
//!   verifies to — who is a member, with which role, in which key epoch.
//! - [`envelope`]: signed encrypted envelopes and snapshots (headers only; bodies are opaque).
//! - [`api`]: the sync and join requests and responses, and the refusal codes.
//!
//! `docs/protocol.md` is the prose specification; this crate is its reference.

pub mod api;
pub mod envelope;
pub mod ids;
pub mod invite;
pub mod membership;
pub mod wire;

pub use ids::{AgreementKey, DeviceId, GroupId, Hash, Role, Signature, Signer};

/// The protocol version every encoded structure carries.
pub const VERSION: u8 = 1;
