//! Talking to the relay from the command line: which relay (the profile's, or `HEARTH_RELAY`
//! for one run), how hard to try, and what to tell the person when it does not work.
//!
//! The core reports a failed round trip with the transport's own error ([`Error::Relay`]), so
//! the message can say whether the relay was unreachable (nothing lost, try later) or refused
//! (something to change).

use std::time::Duration;

use hearth_core::{
    Backoff, Companion, Error, HttpTransport, InputError, SyncOptions, Transport, TransportError,
};
use hearth_protocol::api::Code;

use crate::Failure;

/// Overrides the profile's relay for one run, without storing it.
pub const RELAY_VAR: &str = "HEARTH_RELAY";

/// How to set a relay, for messages that need one.
pub const HOW_TO_SET: &str =
    "set one with `hearth relay URL` (or HEARTH_RELAY=URL for a single run)";

/// The relay a command talks to, and where that address came from.
pub struct Relay {
    pub url: String,
    pub from_env: bool,
}

impl Relay {
    /// `HEARTH_RELAY` if set (an empty value counts as unset), else the profile's relay.
    pub fn configured(c: &Companion) -> Result<Option<Relay>, Failure> {
        if let Some(raw) = std::env::var_os(RELAY_VAR).filter(|v| !v.is_empty()) {
            let raw = raw
                .into_string()
                .map_err(|_| InputError::new(RELAY_VAR, "is not valid UTF-8"))?;
            return Ok(Some(Relay {
                url: check_url(&raw, RELAY_VAR)?,
                from_env: true,
            }));
        }
        Ok(c.relay().map(|url| Relay {
            url,
            from_env: false,
        }))
    }

    /// Like [`Relay::configured`], but a missing relay is an error saying how to set one.
    pub fn required(c: &Companion, doing: &str) -> Result<Relay, Failure> {
        Relay::configured(c)?.ok_or_else(|| Failure {
            message: format!("no relay configured, so this device cannot {doing}; {HOW_TO_SET}"),
            usage: true,
        })
    }

    pub fn transport(&self) -> Attempts {
        Attempts {
            http: HttpTransport::new(&self.url),
            last_error: None,
        }
    }

    /// Turns a failed sync or join into a message naming the relay and what happened to the
    /// person's data. `kept` says what stays on the device ("nothing was lost: …").
    pub fn failure(&self, e: Error, t: &Attempts, kept: &str) -> Failure {
        let url = &self.url;
        let message = match (e, &t.last_error) {
            (Error::JoinRefused { code, reason }, _) => {
                let hint = match code {
                    Code::InviteUnknown
                    | Code::InviteUsed
                    | Code::InviteExpired
                    | Code::InviteRevoked => "; ask a moderator of the group for a new invite code",
                    Code::Full => "; the group has no room left, ask its moderator",
                    Code::AlreadyMember => {
                        "; this device is already in the group, run `hearth sync`"
                    }
                    _ => "",
                };
                let usage = !matches!(code, Code::Internal | Code::RateLimited);
                return Failure {
                    message: format!(
                        "the relay at {url} refused to let you join: {reason} ({code}){hint}"
                    ),
                    usage,
                };
            }
            (Error::Relay(TransportError::Unreachable(detail)), _) => {
                format!("the relay at {url} could not be reached ({detail}); {kept}")
            }
            (Error::Relay(TransportError::Status { status, reason, .. }), _)
                if status == 429 || status >= 500 =>
            {
                format!("the relay at {url} is busy or failing (HTTP {status}: {reason}); {kept}")
            }
            (
                Error::Relay(TransportError::Status {
                    status,
                    code,
                    reason,
                }),
                _,
            ) => {
                let code = code.map_or(String::new(), |c| format!(", {c}"));
                format!(
                    "the relay at {url} refused the request (HTTP {status}{code}): {reason}; \
                     is that the right address? {kept}"
                )
            }
            (Error::Sync(detail), None) => format!("sync with {url}: {detail}; {kept}"),
            (other, _) => return Failure::from(other),
        };
        Failure {
            message,
            usage: false,
        }
    }
}

/// An HTTP transport that remembers the last round trip's error, which the core folds into a
/// string.
pub struct Attempts {
    http: HttpTransport,
    last_error: Option<TransportError>,
}

impl Transport for Attempts {
    fn post(&mut self, path: &str, body: &[u8]) -> Result<Vec<u8>, TransportError> {
        let result = self.http.post(path, body);
        self.last_error = result.as_ref().err().cloned();
        result
    }
}

/// `hearth sync` and `hearth join`: a person is waiting, so a dead relay is reported within a
/// couple of seconds rather than after the core's patient default (the next sync resumes).
pub fn options() -> SyncOptions {
    SyncOptions {
        attempts: 3,
        backoff: Backoff::new(Duration::from_millis(400), Duration::from_secs(4)),
        ..SyncOptions::default()
    }
}

/// The sync `invite` and `remove` try on the side: one attempt per round trip, since the
/// change is already stored and goes out with the next sync anyway.
pub fn quick_options() -> SyncOptions {
    SyncOptions {
        attempts: 1,
        ..SyncOptions::default()
    }
}

/// The same rule the core applies in `Companion::set_relay`, checked before anything is
/// written (`init --relay`) or for an address that is never stored (`HEARTH_RELAY`).
pub fn check_url(raw: &str, field: &str) -> Result<String, InputError> {
    hearth_core::sync::parse_relay_url(raw).map_err(|e| match e {
        Error::Input(i) => InputError::new(field, i.reason),
        other => InputError::new(field, other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_addresses_are_bare_http_urls() {
        assert_eq!(
            check_url(" http://127.0.0.1:7878/ ", "relay").unwrap(),
            "http://127.0.0.1:7878"
        );
        assert!(check_url("https://relay.example", "relay").is_ok());
        let e = check_url("relay.example:7878", "--relay").unwrap_err();
        assert_eq!(e.field, "--relay");
        assert!(e.reason.contains("http://"), "{e}");
        assert!(check_url("http://relay.example/sync", "relay").is_err());
        assert!(check_url("http://", "relay").is_err());
    }
}
