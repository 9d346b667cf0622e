//! What is inside an envelope or snapshot body, and how it is sealed.
//!
//! An envelope body is a CBOR list of **sections**, one per chapter whose changes it carries.
//! Each section is sealed on its own under a key derived from *that chapter's* epoch key, so a
//! member admitted in epoch 5 cannot open chapter-4 changes even when they travel (sent late by
//! a device that wrote them offline) in an envelope whose header says epoch 5. Inside a section:
//! DEFLATE-compressed CBOR of the Automerge changes and the author's signed attestation of her
//! newest change in the chapter. Compression happens before encryption; ciphertext does not
//! compress.
//!
//! A snapshot body is the chapter saved as one Automerge document plus every author's newest
//! attestation, compressed and sealed the same way under the chapter's key.

use std::io::{Read, Write};

use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use hearth_protocol::envelope::{envelope_aad, snapshot_aad, Attestation};
use hearth_protocol::ids::Signed;
use hearth_protocol::wire;
use hearth_protocol::{DeviceId, GroupId};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::crypto::{ContentKey, CryptoError};
use crate::membership::EpochKey;

/// Inflated section payloads larger than this are refused (a compression bomb, or garbage).
const MAX_SECTION_PLAIN: u64 = 16 * 1024 * 1024;
const MAX_SNAPSHOT_PLAIN: u64 = 64 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
struct Section {
    #[serde(rename = "c")]
    chapter: u32,
    #[serde(rename = "x", with = "serde_bytes")]
    sealed: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct SectionPayload {
    #[serde(rename = "ch")]
    changes: Vec<ByteBuf>,
    #[serde(rename = "a")]
    attestation: Signed,
}

#[derive(Serialize, Deserialize)]
struct SnapshotPayload {
    #[serde(rename = "d", with = "serde_bytes")]
    doc: Vec<u8>,
    #[serde(rename = "a")]
    attestations: Vec<Signed>,
}

/// One chapter's changes to seal into an envelope.
pub struct SectionIn<'a> {
    pub chapter: u32,
    pub key: &'a EpochKey,
    pub changes: Vec<Vec<u8>>,
    pub attestation: Signed,
}

/// One chapter's changes as opened from an envelope.
pub struct SectionOut {
    pub chapter: u32,
    pub changes: Vec<Vec<u8>>,
    pub attestation: Signed,
}

/// Why a body could not be opened. The relay checked signatures; this is about content.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("{0}")]
    Malformed(String),
    #[error("it does not decrypt under the chapter's key ({0})")]
    Decrypt(#[from] CryptoError),
}

fn section_aad(group: &GroupId, epoch: u32, author: &DeviceId, seq: u64, chapter: u32) -> Vec<u8> {
    let mut aad = envelope_aad(group, epoch, author, seq);
    aad.extend_from_slice(&chapter.to_be_bytes());
    aad
}

fn section_key(key: &EpochKey) -> ContentKey {
    ContentKey::derive(&key.0, b"envelope-section")
}

fn snapshot_key(key: &EpochKey) -> ContentKey {
    ContentKey::derive(&key.0, b"snapshot")
}

fn compress(plain: &[u8]) -> Vec<u8> {
    let mut z = DeflateEncoder::new(Vec::with_capacity(plain.len() / 2), Compression::best());
    // Writing into a Vec cannot fail.
    z.write_all(plain).expect("deflate into memory");
    z.finish().expect("deflate into memory")
}

fn inflate(compressed: &[u8], limit: u64) -> Result<Vec<u8>, PayloadError> {
    let mut out = Vec::new();
    DeflateDecoder::new(compressed)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| PayloadError::Malformed(format!("it does not decompress: {e}")))?;
    if out.len() as u64 > limit {
        return Err(PayloadError::Malformed(format!(
            "it decompresses to more than {limit} bytes"
        )));
    }
    Ok(out)
}

/// Seals an envelope body; returns it with the chapter list for the header.
pub fn seal_envelope_body(
    group: &GroupId,
    epoch: u32,
    author: &DeviceId,
    seq: u64,
    sections: Vec<SectionIn<'_>>,
) -> Result<(Vec<u8>, Vec<u32>), CryptoError> {
    let mut out = Vec::with_capacity(sections.len());
    let mut chapters = Vec::with_capacity(sections.len());
    for s in sections {
        let payload = SectionPayload {
            changes: s.changes.into_iter().map(ByteBuf::from).collect(),
            attestation: s.attestation,
        };
        let plain = compress(&wire::encode(&payload));
        let aad = section_aad(group, epoch, author, seq, s.chapter);
        out.push(Section {
            chapter: s.chapter,
            sealed: section_key(s.key).seal(&aad, &plain)?,
        });
        chapters.push(s.chapter);
    }
    Ok((wire::encode(&out), chapters))
}

/// Opens the sections of an envelope body whose chapter key `key_for` knows; sections of
/// chapters before this device's admission are returned in `skipped`.
pub fn open_envelope_body<'k>(
    group: &GroupId,
    epoch: u32,
    author: &DeviceId,
    seq: u64,
    chapters: &[u32],
    body: &[u8],
    key_for: impl Fn(u32) -> Option<&'k EpochKey>,
) -> Result<(Vec<SectionOut>, Vec<u32>), PayloadError> {
    let sections: Vec<Section> =
        wire::decode("envelope body", body).map_err(|e| PayloadError::Malformed(e.to_string()))?;
    let listed: Vec<u32> = sections.iter().map(|s| s.chapter).collect();
    if listed != chapters {
        return Err(PayloadError::Malformed(format!(
            "its sections are for chapters {listed:?}, but its header says {chapters:?}"
        )));
    }
    let mut opened = Vec::new();
    let mut skipped = Vec::new();
    for s in sections {
        let Some(key) = key_for(s.chapter) else {
            skipped.push(s.chapter);
            continue;
        };
        let aad = section_aad(group, epoch, author, seq, s.chapter);
        let plain = inflate(&section_key(key).open(&aad, &s.sealed)?, MAX_SECTION_PLAIN)?;
        let p: SectionPayload = wire::decode("envelope section", &plain)
            .map_err(|e| PayloadError::Malformed(e.to_string()))?;
        opened.push(SectionOut {
            chapter: s.chapter,
            changes: p.changes.into_iter().map(ByteBuf::into_vec).collect(),
            attestation: p.attestation,
        });
    }
    Ok((opened, skipped))
}

/// Checks an attestation found in `chapter` of `group`, claimed to be by `author`.
pub fn check_attestation(
    signed: &Signed,
    group: &GroupId,
    chapter: u32,
    author: &DeviceId,
) -> Result<Attestation, PayloadError> {
    let a = Attestation::open(signed).map_err(|e| PayloadError::Malformed(e.to_string()))?;
    if a.group != *group || a.chapter != chapter || a.author != *author {
        return Err(PayloadError::Malformed(format!(
            "an attestation for chapter {} by {} is out of place",
            a.chapter,
            a.author.short()
        )));
    }
    Ok(a)
}

pub fn seal_snapshot_body(
    group: &GroupId,
    chapter: u32,
    maker: &DeviceId,
    key: &EpochKey,
    doc: Vec<u8>,
    attestations: Vec<Signed>,
) -> Result<Vec<u8>, CryptoError> {
    let plain = compress(&wire::encode(&SnapshotPayload { doc, attestations }));
    snapshot_key(key).seal(&snapshot_aad(group, chapter, chapter, maker), &plain)
}

pub fn open_snapshot_body(
    group: &GroupId,
    chapter: u32,
    maker: &DeviceId,
    key: &EpochKey,
    body: &[u8],
) -> Result<(Vec<u8>, Vec<Signed>), PayloadError> {
    let sealed = snapshot_key(key).open(&snapshot_aad(group, chapter, chapter, maker), body)?;
    let plain = inflate(&sealed, MAX_SNAPSHOT_PLAIN)?;
    let p: SnapshotPayload = wire::decode("snapshot body", &plain)
        .map_err(|e| PayloadError::Malformed(e.to_string()))?;
    Ok((p.doc, p.attestations))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn att(chapter: u32) -> Signed {
        let k = hearth_protocol::ids::KeyPairSigner::from_seed(&[3; 32]);
        use hearth_protocol::ids::Signer;
        Attestation {
            v: 1,
            group: GroupId([1; 16]),
            chapter,
            author: k.device(),
            seq: 1,
            change: hearth_protocol::Hash([9; 32]),
        }
        .sign(&k)
    }

    #[test]
    fn sections_open_only_with_their_chapter_key_and_place() {
        let g = GroupId([1; 16]);
        let a = DeviceId([2; 32]);
        let (k4, k5) = (EpochKey([4; 32]), EpochKey([5; 32]));
        let (body, chapters) = seal_envelope_body(
            &g,
            5,
            &a,
            7,
            vec![
                SectionIn {
                    chapter: 4,
                    key: &k4,
                    changes: vec![b"old".to_vec()],
                    attestation: att(4),
                },
                SectionIn {
                    chapter: 5,
                    key: &k5,
                    changes: vec![b"new".to_vec(), b"newer".to_vec()],
                    attestation: att(5),
                },
            ],
        )
        .unwrap();
        assert_eq!(chapters, vec![4, 5]);
        // A newcomer of epoch 5 holds only key 5: chapter 4 stays closed to her.
        let (opened, skipped) =
            open_envelope_body(&g, 5, &a, 7, &chapters, &body, |c| (c == 5).then_some(&k5))
                .unwrap();
        assert_eq!(skipped, vec![4]);
        assert_eq!(opened.len(), 1);
        assert_eq!(opened[0].changes, vec![b"new".to_vec(), b"newer".to_vec()]);
        // A wrong key (say, her key for 5 tried on 4) fails loudly.
        let wrong = open_envelope_body(&g, 5, &a, 7, &chapters, &body, |_| Some(&k5));
        assert!(matches!(wrong, Err(PayloadError::Decrypt(_))));
        // Moved to another seq or author, the body does not open.
        let both = |c: u32| if c == 4 { Some(&k4) } else { Some(&k5) };
        assert!(open_envelope_body(&g, 5, &a, 8, &chapters, &body, both).is_err());
        assert!(open_envelope_body(&g, 5, &DeviceId([3; 32]), 7, &chapters, &body, both).is_err());
        // A header that lies about the chapters is caught.
        assert!(open_envelope_body(&g, 5, &a, 7, &[5], &body, both).is_err());
    }

    #[test]
    fn a_compression_bomb_is_refused() {
        let zeros = compress(&vec![0u8; 1024 * 1024]);
        assert!(inflate(&zeros, 1000).is_err());
        assert_eq!(inflate(&zeros, 2 * 1024 * 1024).unwrap().len(), 1024 * 1024);
    }
}
