//! Hearth's mobile library: a thin [uniffi] layer over `hearth-core`, one native library for
//! Android (Kotlin, through JNA) and iOS (Swift). It maps types and errors and adds only what
//! a foreign-language boundary needs: thread safety, listeners, and the platform's hooks.
//!
//! - [`companion`]: `HearthCompanion`, one open profile; its lifecycle (start, stop, sync_now,
//!   background_sync) and the profile-wide views (groups, review queue, filters, help card).
//! - [`timeline`]: `GroupTimeline`, one group's screen: messages, members, moderation, safety.
//! - [`toolkit`]: the rest of `GroupTimeline`: the moderators' toolkit (pins, mutes, review
//!   holds, slow mode, audit log, nudges), her own alerts and self-check sharing, the export.
//! - [`care`]: one-to-one support: check-ins, duty, caseload, supervision notes, a group's
//!   stage, quiet offers, asking for a different volunteer.
//! - [`selfcheck`]: the EPDS self-check on `HearthCompanion`: its questions, scoring, history.
//! - [`listeners`]: live updates through foreign callbacks, delivered off every lock.
//! - [`platform`]: foreign traits the app implements: HTTP transport and store key.
//! - [`error`]: `HearthError`, the one error type, by what the app should do.
//! - [`types`]: the records and enums that cross the boundary.
//!
//! See `docs/mobile.md` for how an Android or iOS engineer uses it.

pub mod care;
pub mod companion;
pub mod error;
pub mod listeners;
pub mod platform;
pub mod selfcheck;
pub mod timeline;
pub mod toolkit;
pub mod types;

pub use companion::HearthCompanion;
pub use error::HearthError;

uniffi::setup_scaffolding!("hearth");
