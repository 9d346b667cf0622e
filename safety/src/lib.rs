//! Hearth's safety engine. Everything here is pure and runs on the device: nothing is sent
//! anywhere, and nothing here hides or punishes by itself — it informs the person and, only if
//! she chooses, her moderators.
//!
//! - [`detect`]: on-device risk detection on drafts and received messages, from lexicon data
//!   files a programme can extend (English and Spanish built in), with a small statistical
//!   classifier ([`classify`]) alongside that can only raise a message's level.
//! - [`epds`]: the Edinburgh Postnatal Depression Scale scoring engine and its content file
//!   format (the wording comes from the programme; a sample in our own words ships).
//! - [`helpcard`]: where to get help now, per region, readable offline.
//! - [`escalation`]: the escalation ladder (volunteer → moderator → urgent referral) with
//!   acknowledgement timers, computed from synced state and an injected clock.

pub mod classify;
mod data;
pub mod detect;
pub mod epds;
pub mod escalation;
pub mod helpcard;
