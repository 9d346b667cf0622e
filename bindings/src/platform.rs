//! What the platform supplies, as foreign traits: HTTP (the app's own stack — OkHttp or
//! HttpURLConnection, URLSession — with its proxies, certificate pinning and metering, as
//! Mozilla's viaduct does) and the store key (32 raw bytes from Android Keystore or the iOS
//! Keychain). [`RelayHttp`] adapts the app's HTTP to the core's sans-IO [`Transport`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth_core::{Transport, TransportError};

use crate::error::HearthError;

/// One POST to the relay. `timeout_ms` bounds the whole exchange (connect, send, receive):
/// honour it, or `background_sync` cannot keep its deadline.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpRequest {
    pub url: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub timeout_ms: u32,
}

/// The relay's answer, whatever its status (error statuses carry a JSON reason the core reads).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The app's HTTP client. Called on a background thread (never the UI thread), with no lock
/// held: it may block until the response arrives or `timeout_ms` passes.
#[uniffi::export(foreign)]
pub trait RelayTransport: Send + Sync {
    /// POSTs `request` and returns the response. On a network failure (no connection, DNS,
    /// timeout) throw `HearthError.RelayUnreachable`; anything else thrown is reported as
    /// `HearthError.Platform`.
    fn post(&self, request: HttpRequest) -> Result<HttpResponse, HearthError>;
}

/// Supplies the 32-byte key the profile's store is encrypted under, from the platform keystore.
/// Asked once when a profile is created or opened, with no lock held.
#[uniffi::export(foreign)]
pub trait StoreKeySource: Send + Sync {
    /// The raw key. Throw `HearthError.KeyUnavailable` when the keystore cannot give it now
    /// (device locked before first unlock, entry missing).
    fn store_key(&self) -> Result<Vec<u8>, HearthError>;
}

/// Reads the key from the platform and checks its length.
pub(crate) fn read_key(source: &dyn StoreKeySource) -> Result<[u8; 32], HearthError> {
    let bytes = source.store_key().map_err(|e| match e {
        HearthError::Platform { detail } => HearthError::KeyUnavailable { detail },
        other => other,
    })?;
    let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
        HearthError::input(
            "store key",
            format!(
                "a store key is exactly 32 bytes; the platform gave {}",
                bytes.len()
            ),
        )
    })?;
    Ok(key)
}

pub(crate) fn secret(key: &[u8; 32]) -> hearth_core::StoreSecret {
    hearth_core::StoreSecret::RawKey(hearth_core::SecretKey::from_bytes(*key))
}

/// Per-request timeout when no deadline is tighter.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Below this much time left before a deadline, no new request starts.
const MIN_REQUEST_TIME: Duration = Duration::from_millis(100);

/// The core's [`Transport`] over the app's HTTP client, bounded by an optional deadline.
pub(crate) struct RelayHttp {
    base: String,
    http: Arc<dyn RelayTransport>,
    deadline: Option<Instant>,
    /// The last failure the platform reported itself, to hand back unchanged (a throwing
    /// transport surfaces as `Platform`, not as a vague "unreachable").
    pub(crate) platform_failure: Option<HearthError>,
    pub(crate) deadline_hit: bool,
}

impl RelayHttp {
    pub(crate) fn new(
        base: String,
        http: Arc<dyn RelayTransport>,
        deadline: Option<Instant>,
    ) -> Self {
        RelayHttp {
            base,
            http,
            deadline,
            platform_failure: None,
            deadline_hit: false,
        }
    }

    /// The app-facing error for a failed sync or join: the platform's own, if it threw.
    pub(crate) fn explain(&self, e: hearth_core::Error) -> HearthError {
        match (&e, &self.platform_failure) {
            (hearth_core::Error::Relay(TransportError::Unreachable(_)), Some(p)) => p.clone(),
            _ => e.into(),
        }
    }
}

impl Transport for RelayHttp {
    fn post(&mut self, path: &str, body: &[u8]) -> Result<Vec<u8>, TransportError> {
        let timeout = match self.deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left < MIN_REQUEST_TIME {
                    self.deadline_hit = true;
                    return Err(TransportError::Unreachable(
                        "the background time allowed ran out before this request".into(),
                    ));
                }
                left.min(REQUEST_TIMEOUT)
            }
            None => REQUEST_TIMEOUT,
        };
        let request = HttpRequest {
            url: format!("{}{path}", self.base),
            headers: HashMap::from([("content-type".to_string(), "application/cbor".to_string())]),
            body: body.to_vec(),
            timeout_ms: u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX),
        };
        match self.http.post(request) {
            Ok(r) if (200..300).contains(&r.status) => {
                self.platform_failure = None;
                Ok(r.body)
            }
            Ok(r) => {
                self.platform_failure = None;
                Err(TransportError::from_status(r.status, &r.body))
            }
            Err(e) => {
                let detail = e.to_string();
                self.platform_failure = match e {
                    HearthError::RelayUnreachable { .. } => None,
                    other => Some(other),
                };
                Err(TransportError::Unreachable(detail))
            }
        }
    }
}
