//! The encoding: CBOR (RFC 8949) through serde, with one-letter map keys to keep envelopes
//! small on 2G links, and byte strings (not arrays of integers) for keys, hashes and bodies.
//!
//! Signatures never cover a re-encoding: a signed structure carries the exact bytes that were
//! signed ([`crate::ids::Signed`]), and a verifier decodes those bytes only after checking the
//! signature. So two CBOR encoders that disagree on map order or integer width cannot make a
//! valid signature invalid, or the other way round.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The largest encoded request or response either side accepts (a relay may set less).
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("{what} is not valid Hearth CBOR: {reason}")]
    Malformed { what: &'static str, reason: String },
    #[error("{what} is {len} bytes; at most {max} are accepted")]
    TooLarge {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{what} has protocol version {found}; this build speaks version {expected}")]
    Version {
        what: &'static str,
        found: u8,
        expected: u8,
    },
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail, and every type here serialises without custom errors.
    ciborium::into_writer(value, &mut out).expect("CBOR encoding into memory cannot fail");
    out
}

pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, WireError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(WireError::TooLarge {
            what,
            len: bytes.len(),
            max: MAX_MESSAGE_BYTES,
        });
    }
    ciborium::from_reader(bytes).map_err(|e| WireError::Malformed {
        what,
        reason: e.to_string(),
    })
}

pub fn check_version(what: &'static str, found: u8) -> Result<(), WireError> {
    if found != crate::VERSION {
        return Err(WireError::Version {
            what,
            found,
            expected: crate::VERSION,
        });
    }
    Ok(())
}
