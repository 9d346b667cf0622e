//! The one error type the apps see. Each variant says what the app should do or show; the
//! `detail` field carries the core's own sentence (English, for logs and for a fallback text),
//! never the variant's only information.
//!
//! Platform callbacks (transport, key source, listeners) return this type too, so an
//! exception a Kotlin or Swift callback throws arrives in Rust as [`HearthError::Platform`]
//! (through `From<UnexpectedUniFFICallbackError>`) instead of a panic across the FFI.

use hearth_core::sync::TransportError;
use hearth_core::{Error, StoreError};
use hearth_protocol::api::Code;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi::export(Display)]
pub enum HearthError {
    /// A value the person typed or the app passed is not acceptable: show `detail` next to
    /// `field` and let her correct it. Nothing was written.
    #[error("{detail}")]
    InvalidInput { field: String, detail: String },
    /// The key from the platform keystore does not open this profile's store.
    #[error("{detail}")]
    WrongKey { detail: String },
    /// The platform could not hand over the store key (device locked before first unlock,
    /// keystore entry missing): try again when the device is unlocked.
    #[error("{detail}")]
    KeyUnavailable { detail: String },
    /// No profile in this directory: show onboarding.
    #[error("{detail}")]
    NoProfile { detail: String },
    /// A profile already exists in this directory: open it instead.
    #[error("{detail}")]
    ProfileExists { detail: String },
    /// The store is damaged or not a Hearth store; offer to report a problem.
    #[error("{detail}")]
    StoreDamaged { detail: String },
    /// Another process holds the store: retry shortly.
    #[error("{detail}")]
    StoreBusy { detail: String },
    /// The store was written by a newer app version: ask her to update the app.
    #[error("{detail}")]
    AppTooOld { detail: String },
    /// The file system failed (disk full, permissions).
    #[error("{detail}")]
    Storage { detail: String },
    /// Her role or standing does not allow this (only moderators can…, only your own
    /// messages…). Hide or disable the control.
    #[error("{detail}")]
    NotAllowed { detail: String },
    /// She is not (yet, or any more) a member of the group: she waits for admission or was
    /// removed.
    #[error("{detail}")]
    NotAMember { detail: String },
    /// She must read and accept the group's rules before posting.
    #[error("{detail}")]
    RulesNotAccepted { detail: String },
    /// A moderator paused her posting until `until_ms` (ms since 1970).
    #[error("{detail}")]
    Muted { until_ms: i64, detail: String },
    /// Slow mode: she can post again in `wait_secs` seconds.
    #[error("{detail}")]
    SlowMode { wait_secs: u32, detail: String },
    /// The group or message is not on this device (stale id, or several groups share a name).
    #[error("{detail}")]
    NotFound { detail: String },
    /// The message was deleted.
    #[error("{detail}")]
    MessageDeleted { detail: String },
    /// The relay refused the invite: `reason` is one of `unknown`, `used`, `expired`,
    /// `revoked`, `already_member`, `full`. Ask the moderator for a new code.
    #[error("{detail}")]
    InviteRefused { reason: String, detail: String },
    /// No relay address is set for this profile.
    #[error("{detail}")]
    NoRelay { detail: String },
    /// The relay could not be reached: nothing is lost, it goes out at the next sync.
    #[error("{detail}")]
    RelayUnreachable { detail: String },
    /// The relay answered with an error status (misconfigured address, rate limit, fault).
    #[error("{detail}")]
    RelayRefused { status: u16, detail: String },
    /// A platform callback (transport, key source, listener) threw something unexpected.
    #[error("{detail}")]
    Platform { detail: String },
    /// The profile was shut down; open it again.
    #[error("{detail}")]
    Closed { detail: String },
    /// Anything else: a bug or data the core could not make sense of. Log and report it.
    #[error("{detail}")]
    Internal { detail: String },
}

impl HearthError {
    pub(crate) fn closed() -> HearthError {
        HearthError::Closed {
            detail: "this profile was shut down; open it again".into(),
        }
    }

    pub(crate) fn input(field: &str, detail: impl Into<String>) -> HearthError {
        HearthError::InvalidInput {
            field: field.into(),
            detail: detail.into(),
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for HearthError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        HearthError::Platform {
            detail: format!("a platform callback failed: {}", e.reason),
        }
    }
}

impl From<Error> for HearthError {
    fn from(e: Error) -> Self {
        let detail = e.to_string();
        match e {
            Error::Input(i) => HearthError::InvalidInput {
                field: i.field,
                detail: i.reason,
            },
            Error::UnknownGroup { .. }
            | Error::AmbiguousGroup { .. }
            | Error::UnknownMessage { .. } => HearthError::NotFound { detail },
            Error::NotAllowed { .. } | Error::NotYourMessage { .. } => {
                HearthError::NotAllowed { detail }
            }
            Error::MessageDeleted => HearthError::MessageDeleted { detail },
            Error::NotAMember => HearthError::NotAMember { detail },
            Error::RulesNotAccepted => HearthError::RulesNotAccepted { detail },
            Error::Muted { until, .. } => HearthError::Muted {
                until_ms: until,
                detail,
            },
            Error::SlowMode { wait_secs } => HearthError::SlowMode { wait_secs, detail },
            Error::Relay(t) => t.into(),
            Error::JoinRefused { code, .. } => match code {
                Code::InviteUnknown => invite("unknown", detail),
                Code::InviteUsed => invite("used", detail),
                Code::InviteExpired => invite("expired", detail),
                Code::InviteRevoked => invite("revoked", detail),
                Code::AlreadyMember => invite("already_member", detail),
                Code::Full => invite("full", detail),
                Code::RateLimited => HearthError::RelayRefused {
                    status: 429,
                    detail,
                },
                _ => HearthError::RelayRefused { status: 0, detail },
            },
            Error::Store(s) => store(s, detail),
            Error::Document(_) | Error::Sync(_) => HearthError::Internal { detail },
        }
    }
}

fn invite(reason: &str, detail: String) -> HearthError {
    HearthError::InviteRefused {
        reason: reason.into(),
        detail,
    }
}

fn store(e: StoreError, detail: String) -> HearthError {
    match e {
        StoreError::NotFound { .. } => HearthError::NoProfile { detail },
        StoreError::AlreadyExists { .. } => HearthError::ProfileExists { detail },
        StoreError::WrongSecret { .. } | StoreError::NoSuchSlot { .. } => {
            HearthError::WrongKey { detail }
        }
        StoreError::TooNew { .. } => HearthError::AppTooOld { detail },
        StoreError::Busy => HearthError::StoreBusy { detail },
        StoreError::Io(_) => HearthError::Storage { detail },
        StoreError::NotAHearthStore { .. }
        | StoreError::Corrupt { .. }
        | StoreError::PreSyncGroups { .. }
        | StoreError::Decode { .. }
        | StoreError::Crypto(_)
        | StoreError::Sqlite(_) => HearthError::StoreDamaged { detail },
    }
}

impl From<TransportError> for HearthError {
    fn from(e: TransportError) -> Self {
        let detail = e.to_string();
        match e {
            TransportError::Unreachable(_) => HearthError::RelayUnreachable { detail },
            TransportError::Status { status, .. } => HearthError::RelayRefused { status, detail },
        }
    }
}

pub type Result<T, E = HearthError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_core::InputError;

    #[test]
    fn core_errors_map_to_what_the_app_should_do() {
        let e: HearthError = Error::Input(InputError::new("text", "too long")).into();
        assert_eq!(e, HearthError::input("text", "too long"));
        let e: HearthError = Error::SlowMode { wait_secs: 7 }.into();
        assert!(
            matches!(e, HearthError::SlowMode { wait_secs: 7, .. }),
            "{e:?}"
        );
        let e: HearthError = Error::JoinRefused {
            code: Code::InviteUsed,
            reason: "used".into(),
        }
        .into();
        assert!(matches!(&e, HearthError::InviteRefused { reason, .. } if reason == "used"));
        let e: HearthError = Error::Relay(TransportError::Unreachable("down".into())).into();
        assert!(matches!(e, HearthError::RelayUnreachable { .. }));
        let e: HearthError = Error::Store(StoreError::Busy).into();
        assert_eq!(
            e.to_string(),
            "another Hearth process is using this store; try again"
        );
    }

    #[test]
    fn a_throwing_callback_becomes_a_platform_error() {
        let e: HearthError = uniffi::UnexpectedUniFFICallbackError::new("boom").into();
        assert!(matches!(&e, HearthError::Platform { detail } if detail.contains("boom")));
    }
}
