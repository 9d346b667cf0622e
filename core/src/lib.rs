//! Hearth core: all product logic for online peer support in pregnancy and early parenthood.
//!
//! Shells (the `hearth` CLI, the Android and iOS apps) drive a [`Companion`] — one profile on
//! one device — and render the view models it returns. The core has no threads or sockets of
//! its own. Module map:
//!
//! - [`identity`]: pseudonym, role, device keys (Ed25519 signing, X25519 for sealed keys).
//! - [`crypto`]: store cipher (ChaCha20-Poly1305), keyed hashes, key slots, passphrase KDF.
//! - [`store`]: the encrypted SQLite store — migrations, opening, transactions.
//! - [`group`]: groups and their Automerge documents ([`group::doc`]); capacity rules.
//! - [`message`]: message ids, text rules, reactions, the agreed order.
//! - [`timeline`]: the chat screen's data, readable without loading a document.
//! - [`membership`]: epoch keys sealed with HPKE; operations signed by this device.
//! - [`outbox`]: local changes waiting for the relay.
//! - [`sync`]: the sans-IO sync engine, invites, joining, removal, phone-to-phone bundles.
//! - [`moderation`]: moderator actions as signed, synced records; rules, review, duty, audit.
//! - [`export`]: her own messages as a readable file, the group as an Automerge document.
//! - [`filters`]: each member's content filters (topics to blur or hide).
//! - [`notes`]: direct notes sealed to one member: reports, safety alerts, nudges, self-checks.
//! - [`cohorts`]: confirming a cohort plan: its groups and their invites.
//! - [`companion`]: the facade that ties them together.

pub mod clock;
pub mod cohorts;
pub mod companion;
pub mod crypto;
pub mod error;
pub mod export;
pub mod filters;
pub mod group;
pub mod identity;
pub mod membership;
pub mod message;
pub mod moderation;
pub mod notes;
pub mod outbox;
pub mod profile;
pub mod store;
pub mod sync;
pub mod timeline;

pub use clock::{Clock, ManualClock, SystemClock};
pub use companion::{
    Companion, GroupInfo, ProfileInfo, ReactionCount, TimelineItem, TimelinePage, STORE_FILE,
};
pub use crypto::{SecretKey, StoreSecret};
pub use error::{Error, InputError, Result, StoreError};
pub use group::{Capacity, GroupId};
pub use identity::{DeviceId, Role};
pub use message::{MessageId, MessageText, Reaction, SortKey};
#[cfg(feature = "http")]
pub use sync::transport::HttpTransport;
pub use sync::{
    Backoff, ImportReport, InviteInfo, MemberInfo, MembersView, SyncOptions, SyncReport, Transport,
    TransportError, WaitingMember,
};
pub use timeline::DeliveryState;
