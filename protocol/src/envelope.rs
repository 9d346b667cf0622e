//! Envelopes and snapshots: what devices publish, as the relay and peers see it.
//!
//! An envelope is a signed header plus an opaque body. The header says whose it is and where it
//! goes — group, key epoch, author device, the author's envelope sequence number in the group
//! and the hash of her previous envelope — and commits to the body by its hash; the author signs
//! the header's exact bytes. The body is the AEAD ciphertext of a batch of Automerge changes
//! (see `docs/protocol.md`), which only members holding the epoch key can open. The relay checks
//! everything in the header; devices check it again and then the contents.
//!
//! A snapshot is the same shape: a member's compacted copy of one chapter's document (again
//! encrypted), which lets a device that is far behind skip the envelopes it covers.

use serde::{Deserialize, Serialize};

use crate::ids::{Domain, Hash, Signed, Signer};
use crate::wire::{self, WireError};
use crate::{DeviceId, GroupId};

/// The largest envelope body accepted (a batch is split to fit).
pub const MAX_ENVELOPE_BODY: usize = 512 * 1024;
/// The largest snapshot body accepted.
pub const MAX_SNAPSHOT_BODY: usize = 4 * 1024 * 1024;
/// The largest direct note body accepted.
pub const MAX_DIRECT_BODY: usize = 64 * 1024;

/// A direct note's header: from one member of a group to another, for reports, safety alerts,
/// nudges and shared self-checks. The body is sealed (HPKE) to the recipient's agreement key,
/// so only her device can read it; the relay sees who wrote to whom in which group, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectHeader {
    #[serde(rename = "v")]
    pub v: u8,
    #[serde(rename = "g")]
    pub group: GroupId,
    #[serde(rename = "f")]
    pub from: DeviceId,
    #[serde(rename = "t")]
    pub to: DeviceId,
    /// Chosen at random by the sender; a note is stored once per recipient and id.
    #[serde(rename = "i", with = "serde_bytes")]
    pub id: [u8; 16],
    /// The sender's clock, milliseconds since 1970.
    #[serde(rename = "a")]
    pub at: i64,
    /// SHA-256 of the body.
    #[serde(rename = "h")]
    pub body_hash: Hash,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Direct {
    #[serde(rename = "h")]
    pub header: Signed,
    #[serde(rename = "b", with = "serde_bytes")]
    pub body: Vec<u8>,
}

impl Direct {
    pub fn seal(signer: &dyn Signer, header: &DirectHeader, body: Vec<u8>) -> Direct {
        Direct {
            header: Signed::new(signer, Domain::Direct, wire::encode(header)),
            body,
        }
    }

    /// Decodes the header and checks the sender's signature, the body hash and the size.
    pub fn open(&self) -> Result<DirectHeader, EnvelopeError> {
        let h: DirectHeader = wire::decode("direct note header", &self.header.bytes)?;
        wire::check_version("direct note header", h.v)?;
        check_sealed(
            "direct note",
            Domain::Direct,
            &self.header,
            &self.body,
            MAX_DIRECT_BODY,
            &h.from,
            &h.body_hash,
        )?;
        Ok(h)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeHeader {
    #[serde(rename = "v")]
    pub v: u8,
    #[serde(rename = "g")]
    pub group: GroupId,
    /// The key epoch the body is encrypted under.
    #[serde(rename = "e")]
    pub epoch: u32,
    #[serde(rename = "a")]
    pub author: DeviceId,
    /// The author's envelope number in this group: 1, 2, 3, … without gaps.
    #[serde(rename = "s")]
    pub seq: u64,
    /// Hash ([`Envelope::id`]) of the author's previous envelope in this group; zero for the first.
    #[serde(rename = "p")]
    pub prev: Hash,
    /// SHA-256 of the body.
    #[serde(rename = "h")]
    pub body_hash: Hash,
    /// The document chapters the body's changes belong to, ascending.
    #[serde(rename = "c")]
    pub chapters: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(rename = "h")]
    pub header: Signed,
    #[serde(rename = "b", with = "serde_bytes")]
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("the {0} signature does not verify")]
    BadSignature(&'static str),
    #[error("the {0} body does not match the hash its header commits to")]
    BodyHash(&'static str),
    #[error("the {what} body is {len} bytes; at most {max} are accepted")]
    TooLarge {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("envelope sequence numbers start at 1")]
    ZeroSeq,
    #[error(
        "the envelope's chapter list must be ascending, non-empty and no later than its epoch"
    )]
    Chapters,
}

impl Envelope {
    pub fn seal(signer: &dyn Signer, header: &EnvelopeHeader, body: Vec<u8>) -> Envelope {
        Envelope {
            header: Signed::new(signer, Domain::Envelope, wire::encode(header)),
            body,
        }
    }

    /// The envelope's id: the hash of its signed header (which commits to the body).
    pub fn id(&self) -> Hash {
        self.header.hash(Domain::Envelope)
    }

    /// Decodes the header and checks the author's signature, the body hash and the limits.
    pub fn open(&self) -> Result<EnvelopeHeader, EnvelopeError> {
        let h: EnvelopeHeader = wire::decode("envelope header", &self.header.bytes)?;
        wire::check_version("envelope header", h.v)?;
        check_sealed(
            "envelope",
            Domain::Envelope,
            &self.header,
            &self.body,
            MAX_ENVELOPE_BODY,
            &h.author,
            &h.body_hash,
        )?;
        if h.seq == 0 {
            return Err(EnvelopeError::ZeroSeq);
        }
        if h.chapters.is_empty()
            || h.chapters.windows(2).any(|w| w[0] >= w[1])
            || h.chapters.iter().any(|c| *c == 0 || *c > h.epoch)
        {
            return Err(EnvelopeError::Chapters);
        }
        Ok(h)
    }
}

/// The checks envelopes and snapshots share: the body's size, the signer's signature over the
/// header, and the body matching the hash the header commits to.
fn check_sealed(
    what: &'static str,
    domain: Domain,
    header: &Signed,
    body: &[u8],
    max: usize,
    signer: &DeviceId,
    committed: &Hash,
) -> Result<(), EnvelopeError> {
    if body.len() > max {
        return Err(EnvelopeError::TooLarge {
            what,
            len: body.len(),
            max,
        });
    }
    if !header.verify(domain, signer) {
        return Err(EnvelopeError::BadSignature(what));
    }
    if body_hash(body) != *committed {
        return Err(EnvelopeError::BodyHash(what));
    }
    Ok(())
}

/// Hashes a body the way headers commit to it.
pub fn body_hash(body: &[u8]) -> Hash {
    Hash::of(Domain::Envelope, &[body])
}

/// Associated data for an envelope body's AEAD: binds the ciphertext to its place.
pub fn envelope_aad(group: &GroupId, epoch: u32, author: &DeviceId, seq: u64) -> Vec<u8> {
    let mut aad = b"hearth/v1/envelope-body".to_vec();
    aad.extend_from_slice(&group.0);
    aad.extend_from_slice(&epoch.to_be_bytes());
    aad.extend_from_slice(&author.0);
    aad.extend_from_slice(&seq.to_be_bytes());
    aad
}

/// An author's signed statement, carried inside encrypted bodies: "my newest change in this
/// chapter is number `seq`, with hash `change`". Automerge change hashes chain through their
/// dependencies, so this vouches for every earlier change of hers in the chapter; a snapshot
/// carries one per author, which is how a device checks that nobody slipped a change into a
/// snapshot under someone else's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    #[serde(rename = "v")]
    pub v: u8,
    #[serde(rename = "g")]
    pub group: GroupId,
    #[serde(rename = "c")]
    pub chapter: u32,
    #[serde(rename = "a")]
    pub author: DeviceId,
    #[serde(rename = "s")]
    pub seq: u64,
    #[serde(rename = "h")]
    pub change: Hash,
}

impl Attestation {
    pub fn sign(&self, signer: &dyn Signer) -> Signed {
        Signed::new(signer, Domain::Attestation, wire::encode(self))
    }

    pub fn open(signed: &Signed) -> Result<Attestation, EnvelopeError> {
        let a: Attestation = wire::decode("attestation", &signed.bytes)?;
        wire::check_version("attestation", a.v)?;
        if !signed.verify(Domain::Attestation, &a.author) {
            return Err(EnvelopeError::BadSignature("attestation"));
        }
        Ok(a)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotHeader {
    #[serde(rename = "v")]
    pub v: u8,
    #[serde(rename = "g")]
    pub group: GroupId,
    /// The key epoch the body is encrypted under.
    #[serde(rename = "e")]
    pub epoch: u32,
    /// The chapter whose document it holds.
    #[serde(rename = "c")]
    pub chapter: u32,
    /// The member who made it.
    #[serde(rename = "a")]
    pub maker: DeviceId,
    /// The relay cursor it covers: every envelope up to here for this chapter is in it.
    #[serde(rename = "k")]
    pub covers: u64,
    #[serde(rename = "h")]
    pub body_hash: Hash,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    #[serde(rename = "h")]
    pub header: Signed,
    #[serde(rename = "b", with = "serde_bytes")]
    pub body: Vec<u8>,
}

impl Snapshot {
    pub fn seal(signer: &dyn Signer, header: &SnapshotHeader, body: Vec<u8>) -> Snapshot {
        Snapshot {
            header: Signed::new(signer, Domain::Snapshot, wire::encode(header)),
            body,
        }
    }

    pub fn open(&self) -> Result<SnapshotHeader, EnvelopeError> {
        let h: SnapshotHeader = wire::decode("snapshot header", &self.header.bytes)?;
        wire::check_version("snapshot header", h.v)?;
        check_sealed(
            "snapshot",
            Domain::Snapshot,
            &self.header,
            &self.body,
            MAX_SNAPSHOT_BODY,
            &h.maker,
            &h.body_hash,
        )?;
        if h.chapter == 0 || h.chapter > h.epoch {
            return Err(EnvelopeError::Chapters);
        }
        Ok(h)
    }
}

/// Associated data for a snapshot body's AEAD.
pub fn snapshot_aad(group: &GroupId, epoch: u32, chapter: u32, maker: &DeviceId) -> Vec<u8> {
    let mut aad = b"hearth/v1/snapshot-body".to_vec();
    aad.extend_from_slice(&group.0);
    aad.extend_from_slice(&epoch.to_be_bytes());
    aad.extend_from_slice(&chapter.to_be_bytes());
    aad.extend_from_slice(&maker.0);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::KeyPairSigner;

    fn header(author: DeviceId, body: &[u8]) -> EnvelopeHeader {
        EnvelopeHeader {
            v: 1,
            group: GroupId([1; 16]),
            epoch: 2,
            author,
            seq: 1,
            prev: Hash::ZERO,
            body_hash: body_hash(body),
            chapters: vec![2],
        }
    }

    #[test]
    fn envelopes_verify_and_refuse_tampering() {
        let k = KeyPairSigner::from_seed(&[5; 32]);
        let body = b"ciphertext".to_vec();
        let env = Envelope::seal(&k, &header(k.device(), &body), body.clone());
        assert_eq!(env.open().unwrap().author, k.device());
        let encoded = wire::encode(&env);
        // Signature, three 32-byte ids or hashes, the group id and framing: a fixed cost.
        assert!(encoded.len() <= body.len() + 225, "{} bytes", encoded.len());

        let mut swapped = env.clone();
        swapped.body = b"other".to_vec();
        assert_eq!(swapped.open(), Err(EnvelopeError::BodyHash("envelope")));

        // Someone else's key signing a header that names the victim.
        let eve = KeyPairSigner::from_seed(&[6; 32]);
        let forged = Envelope::seal(&eve, &header(k.device(), &body), body);
        assert_eq!(forged.open(), Err(EnvelopeError::BadSignature("envelope")));
    }
}
