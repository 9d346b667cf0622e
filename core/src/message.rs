//! Messages in a group: ids, text rules, reactions, and the order every device agrees on.
//!
//! Ordering: each message carries an *order stamp*, a hybrid logical clock in milliseconds —
//! the larger of the device clock and one more than the largest stamp the device has seen in
//! the group. Messages sort by (stamp, id). Every device computes the same order from the same
//! document, and a reply always sorts after what it replies to, even when the replier's clock is
//! behind. `sent_at` is the author's device clock, shown as such and never used for ordering.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::InputError;
use crate::identity::{parse_hex, DeviceId};

/// A 16-byte id chosen at random by the device that makes the thing it names (a message, a
/// moderation record, a direct note): `random`, `to_hex`, and hex `Debug`/`Display`. Parsing
/// stays with each type, whose errors name what was expected.
macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
        )]
        pub struct $name(pub [u8; 16]);

        impl $name {
            pub fn random() -> Result<Self, $crate::crypto::CryptoError> {
                Ok($name($crate::crypto::random_bytes()?))
            }
            pub fn to_hex(&self) -> String {
                $crate::identity::hex_lower(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.to_hex())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.to_hex())
            }
        }
    };
}
pub(crate) use random_id;

random_id! {
    /// Client-generated message id: 16 random bytes. Also the outbox idempotency key.
    MessageId
}

impl MessageId {
    pub fn parse(s: &str) -> Result<Self, InputError> {
        parse_hex(s.trim()).map(MessageId).ok_or_else(|| {
            InputError::new(
                "message",
                format!("{s:?} is not a message id (32 hex digits)"),
            )
        })
    }
}

/// Message text, trimmed, non-empty and at most [`MessageText::MAX_BYTES`] of UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    /// 8 KiB: several screens of text on a phone, and small enough for a 2G link.
    pub const MAX_BYTES: usize = 8 * 1024;

    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(InputError::new(
                "text",
                "a message cannot be empty or only spaces",
            ));
        }
        if text.len() > Self::MAX_BYTES {
            return Err(InputError::new(
                "text",
                format!(
                    "a message can be at most {} bytes; this one is {}",
                    Self::MAX_BYTES,
                    text.len()
                ),
            ));
        }
        if let Some(c) = text
            .chars()
            .find(|c| c.is_control() && *c != '\n' && *c != '\t')
        {
            return Err(InputError::new(
                "text",
                format!(
                    "a message cannot contain the control character U+{:04X}",
                    c as u32
                ),
            ));
        }
        Ok(MessageText(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Reactions that fit the kinds of peer support: emotional, informational and appraisal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Reaction {
    Hug,
    Helpful,
    SameHere,
    YouGotThis,
    ThankYou,
}

impl Reaction {
    pub const ALL: [Reaction; 5] = [
        Reaction::Hug,
        Reaction::Helpful,
        Reaction::SameHere,
        Reaction::YouGotThis,
        Reaction::ThankYou,
    ];

    /// The stable key used in documents, JSON and the CLI.
    pub fn key(self) -> &'static str {
        match self {
            Reaction::Hug => "hug",
            Reaction::Helpful => "helpful",
            Reaction::SameHere => "same-here",
            Reaction::YouGotThis => "you-got-this",
            Reaction::ThankYou => "thank-you",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Reaction::Hug => "Hug",
            Reaction::Helpful => "Helpful",
            Reaction::SameHere => "Same here",
            Reaction::YouGotThis => "You've got this",
            Reaction::ThankYou => "Thank you",
        }
    }

    pub fn parse(s: &str) -> Result<Self, InputError> {
        Reaction::ALL
            .into_iter()
            .find(|r| r.key() == s.trim())
            .ok_or_else(|| {
                let keys: Vec<_> = Reaction::ALL.iter().map(|r| r.key()).collect();
                InputError::new(
                    "reaction",
                    format!(
                        "{s:?} is not a reaction; expected one of {}",
                        keys.join(", ")
                    ),
                )
            })
    }
}

/// Where a message sorts in its group: (order stamp, id). Identical on every device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SortKey {
    pub stamp: i64,
    pub id: MessageId,
}

impl SortKey {
    /// Bytes that sort like the key (sign-flipped big-endian stamp, then the id).
    pub fn to_bytes(&self) -> [u8; 24] {
        let mut out = [0u8; 24];
        out[..8].copy_from_slice(&((self.stamp as u64) ^ (1 << 63)).to_be_bytes());
        out[8..].copy_from_slice(&self.id.0);
        out
    }

    /// The key as a cursor string for shells (48 hex digits).
    pub fn to_hex(&self) -> String {
        crate::identity::hex_lower(&self.to_bytes())
    }

    /// Parses what [`SortKey::to_hex`] printed; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        crate::identity::parse_hex::<24>(s.trim()).and_then(|b| Self::from_bytes(&b))
    }

    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() != 24 {
            return None;
        }
        let stamp = (u64::from_be_bytes(b[..8].try_into().ok()?) ^ (1 << 63)) as i64;
        Some(SortKey {
            stamp,
            id: MessageId(b[8..].try_into().ok()?),
        })
    }
}

/// The next order stamp: the device clock, but always after everything already seen.
pub fn next_stamp(now_ms: i64, max_seen: i64) -> i64 {
    now_ms.max(max_seen.saturating_add(1))
}

/// A message as the group document holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    pub id: MessageId,
    pub author: DeviceId,
    pub text: String,
    /// Author's device clock, milliseconds since the epoch.
    pub sent_at: i64,
    pub stamp: i64,
    pub edited_at: Option<i64>,
    pub deleted: bool,
    pub reactions: BTreeMap<Reaction, BTreeSet<DeviceId>>,
    /// The author's content warning, if any.
    pub warning: Option<String>,
}

impl MessageRecord {
    pub fn sort_key(&self) -> SortKey {
        SortKey {
            stamp: self.stamp,
            id: self.id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules() {
        assert_eq!(MessageText::parse("  hello \n").unwrap().as_str(), "hello");
        assert_eq!(
            MessageText::parse("line one\nline two").unwrap().as_str(),
            "line one\nline two"
        );
        for bad in ["", "   ", "\n\t \n", "bell\u{7}"] {
            assert_eq!(
                MessageText::parse(bad).unwrap_err().field,
                "text",
                "{bad:?}"
            );
        }
        assert!(MessageText::parse(&"a".repeat(MessageText::MAX_BYTES)).is_ok());
        let e = MessageText::parse(&"a".repeat(MessageText::MAX_BYTES + 1)).unwrap_err();
        assert!(e.reason.contains("at most 8192 bytes"), "{e}");
        // The limit is in bytes: multi-byte characters count for what they cost on the wire.
        assert!(MessageText::parse(&"é".repeat(MessageText::MAX_BYTES / 2 + 1)).is_err());
    }

    #[test]
    fn sort_key_bytes_sort_like_keys() {
        let mk = |stamp, b| SortKey {
            stamp,
            id: MessageId([b; 16]),
        };
        let mut keys = vec![
            mk(5, 1),
            mk(-3, 9),
            mk(5, 0),
            mk(i64::MAX, 0),
            mk(i64::MIN, 3),
            mk(0, 2),
        ];
        let mut by_bytes = keys.clone();
        keys.sort();
        by_bytes.sort_by_key(|k| k.to_bytes());
        assert_eq!(keys, by_bytes);
        for k in keys {
            assert_eq!(SortKey::from_bytes(&k.to_bytes()), Some(k));
        }
    }

    #[test]
    fn stamps_follow_the_clock_but_never_go_back() {
        assert_eq!(next_stamp(1000, 10), 1000);
        assert_eq!(next_stamp(1000, 5000), 5001);
        assert_eq!(next_stamp(1000, i64::MAX), i64::MAX);
    }

    #[test]
    fn reactions_parse_by_key() {
        for r in Reaction::ALL {
            assert_eq!(Reaction::parse(r.key()).unwrap(), r);
        }
        assert!(Reaction::parse("like")
            .unwrap_err()
            .reason
            .contains("hug, helpful"));
    }

    #[test]
    fn message_ids_parse() {
        let id = MessageId([0xab; 16]);
        assert_eq!(MessageId::parse(&id.to_hex()).unwrap(), id);
        assert!(MessageId::parse("abc").is_err());
    }

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let key = SortKey {
            stamp: -5,
            id: MessageId([0xab; 16]),
        };
        assert_eq!(SortKey::parse(&key.to_hex()), Some(key));
        assert_eq!(
            SortKey::parse(&format!(" {} ", key.to_hex().to_uppercase())),
            Some(key)
        );
        assert_eq!(SortKey::parse("zz"), None);
        assert_eq!(SortKey::parse(&key.to_hex()[2..]), None);
    }
}
