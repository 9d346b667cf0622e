//! How sync bytes travel. The engine never opens a socket: it hands a request body to a
//! [`Transport`] and gets the response body back. Shells bring their own (the phone's HTTP
//! stack); the CLI and tests use [`HttpTransport`] (feature `http`).

use std::time::Duration;

use hearth_protocol::api::{Code, ErrorBody};

/// Why a round trip failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TransportError {
    /// The relay could not be reached, or the connection broke: try again later.
    #[error("the relay could not be reached: {0}")]
    Unreachable(String),
    /// The relay answered with an error status.
    #[error("the relay refused the request ({status}, {code:?}): {reason}")]
    Status {
        status: u16,
        code: Option<Code>,
        reason: String,
    },
}

impl TransportError {
    /// Whether the same request may succeed later: network trouble, rate limits, relay faults.
    pub fn is_retryable(&self) -> bool {
        match self {
            TransportError::Unreachable(_) => true,
            TransportError::Status { status, .. } => *status == 429 || *status >= 500,
        }
    }

    /// Builds the error for an HTTP error status from its body (JSON [`ErrorBody`] if the
    /// relay sent one).
    pub fn from_status(status: u16, body: &[u8]) -> TransportError {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(e) => TransportError::Status {
                status,
                code: Some(e.code),
                reason: e.reason,
            },
            Err(_) => TransportError::Status {
                status,
                code: None,
                reason: String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
            },
        }
    }
}

/// Carries one request body to the relay and brings the response body back.
pub trait Transport {
    fn post(&mut self, path: &str, body: &[u8]) -> Result<Vec<u8>, TransportError>;
}

/// Exponential backoff with jitter: 0.5 s, 1 s, 2 s, … up to `max`, each randomised to
/// 50–100 % so many phones coming back online at once do not retry in step.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Backoff {
        Backoff {
            base,
            max,
            attempt: 0,
        }
    }

    /// The delay before the next retry.
    pub fn next_delay(&mut self) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.max);
        self.attempt += 1;
        let jitter: [u8; 1] = crate::crypto::random_bytes().unwrap_or([255]);
        exp.mul_f64(0.5 + f64::from(jitter[0]) / 510.0)
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(feature = "http")]
pub use http::HttpTransport;

#[cfg(feature = "http")]
mod http {
    use std::io::Read;
    use std::time::Duration;

    use super::{Transport, TransportError};

    /// Largest response body read (a sync response is capped well below this by the relay).
    const MAX_RESPONSE: u64 = 64 * 1024 * 1024;

    /// Plain HTTP/1.1 to a relay, for the CLI and tests. (This build has no TLS: put the
    /// relay behind a TLS-terminating proxy and use the phone's own HTTPS stack in the apps.)
    pub struct HttpTransport {
        base: String,
        agent: ureq::Agent,
    }

    impl HttpTransport {
        pub fn new(base_url: &str) -> HttpTransport {
            HttpTransport {
                base: base_url.trim_end_matches('/').to_string(),
                agent: ureq::AgentBuilder::new()
                    .timeout_connect(Duration::from_secs(15))
                    .timeout_read(Duration::from_secs(60))
                    .timeout_write(Duration::from_secs(60))
                    .build(),
            }
        }
    }

    fn read_all(resp: ureq::Response) -> Result<Vec<u8>, TransportError> {
        let mut body = Vec::new();
        resp.into_reader()
            .take(MAX_RESPONSE)
            .read_to_end(&mut body)
            .map_err(|e| TransportError::Unreachable(format!("reading the response: {e}")))?;
        Ok(body)
    }

    impl Transport for HttpTransport {
        fn post(&mut self, path: &str, body: &[u8]) -> Result<Vec<u8>, TransportError> {
            let url = format!("{}{path}", self.base);
            match self
                .agent
                .post(&url)
                .set("content-type", "application/cbor")
                .send_bytes(body)
            {
                Ok(resp) => read_all(resp),
                Err(ureq::Error::Status(status, resp)) => {
                    let body = read_all(resp).unwrap_or_default();
                    Err(TransportError::from_status(status, &body))
                }
                Err(ureq::Error::Transport(t)) => Err(TransportError::Unreachable(t.to_string())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_with_jitter() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let d: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        assert!(d[0] >= Duration::from_millis(50) && d[0] <= Duration::from_millis(100));
        assert!(d[3] >= Duration::from_millis(400) && d[3] <= Duration::from_millis(800));
        assert!(d.iter().all(|x| *x <= Duration::from_secs(1)));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn error_statuses_say_whether_to_retry() {
        let e = TransportError::from_status(409, br#"{"code":"full","reason":"no room"}"#);
        assert_eq!(
            e,
            TransportError::Status {
                status: 409,
                code: Some(Code::Full),
                reason: "no room".into()
            }
        );
        assert!(!e.is_retryable());
        assert!(TransportError::from_status(503, b"busy").is_retryable());
        assert!(TransportError::from_status(429, b"").is_retryable());
    }
}
