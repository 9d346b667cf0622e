//! Identifiers, roles, hashing and signing.
//!
//! A device is its Ed25519 public key ([`DeviceId`]); it is also the Automerge actor id of every
//! change the device makes, which is how a change is tied to the device that signed it. Every
//! signature and hash here is domain-separated ([`Domain`]) so a signature made for one purpose
//! can never be replayed as another.

use ring::digest;
use ring::signature::{self, Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! byte_id {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            pub const LEN: usize = $len;
            pub fn to_hex(&self) -> String {
                hex_lower(&self.0)
            }
            pub fn parse_hex(s: &str) -> Option<Self> {
                parse_hex(s.trim()).map($name)
            }
            pub fn from_slice(bytes: &[u8]) -> Option<Self> {
                bytes.try_into().ok().map($name)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name([0; $len])
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                serde_bytes::ByteArray::<$len>::deserialize(d).map(|b| $name(b.into_array()))
            }
        }
    };
}

byte_id!(
    /// A device's public identity: its Ed25519 public key. Also its Automerge actor id.
    DeviceId,
    32
);
byte_id!(
    /// A group's random id. Visible to the relay; names and everything else are not.
    GroupId,
    16
);
byte_id!(
    /// A SHA-256 digest.
    Hash,
    32
);
byte_id!(
    /// An Ed25519 signature.
    Signature,
    64
);
byte_id!(
    /// An X25519 public key that epoch keys are sealed to with HPKE.
    AgreementKey,
    32
);

impl DeviceId {
    /// The first 8 hex digits, enough for a person to tell devices apart in a list.
    pub fn short(&self) -> String {
        hex_lower(&self.0[..4])
    }

    /// Checks an Ed25519 signature made by this device over `domain ‖ message`.
    pub fn verify(&self, domain: Domain, message: &[u8], sig: &Signature) -> bool {
        signature::UnparsedPublicKey::new(&signature::ED25519, &self.0)
            .verify(&domain.prefixed(message), &sig.0)
            .is_ok()
    }
}

impl std::fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceId({})", self.short())
    }
}

impl std::fmt::Debug for GroupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GroupId({})", self.to_hex())
    }
}

impl std::fmt::Display for GroupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hash({})", hex_lower(&self.0[..6]))
    }
}

impl std::fmt::Debug for AgreementKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AgreementKey({})", hex_lower(&self.0[..4]))
    }
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature({}…)", hex_lower(&self.0[..6]))
    }
}

impl Hash {
    pub const ZERO: Hash = Hash([0; 32]);

    /// SHA-256 over `domain ‖ parts…`.
    pub fn of(domain: Domain, parts: &[&[u8]]) -> Hash {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(domain.tag());
        for p in parts {
            ctx.update(p);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        Hash(out)
    }
}

/// What a signature or hash is for. The tag is prefixed to the signed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// A membership-log operation.
    Op,
    /// A joiner's registration, signed by her device.
    Join,
    /// The same registration, signed by the key derived from the invite code.
    InviteJoin,
    /// An envelope header.
    Envelope,
    /// A snapshot header.
    Snapshot,
    /// An author's statement of her newest change in a chapter (inside encrypted bodies).
    Attestation,
    /// A sync request.
    Sync,
    /// A direct note's header: one member to one member, sealed to the recipient.
    Direct,
}

impl Domain {
    pub fn tag(self) -> &'static [u8] {
        match self {
            Domain::Op => b"hearth/v1/op\0",
            Domain::Join => b"hearth/v1/join\0",
            Domain::InviteJoin => b"hearth/v1/invite-join\0",
            Domain::Envelope => b"hearth/v1/envelope\0",
            Domain::Snapshot => b"hearth/v1/snapshot\0",
            Domain::Attestation => b"hearth/v1/attestation\0",
            Domain::Sync => b"hearth/v1/sync\0",
            Domain::Direct => b"hearth/v1/direct\0",
        }
    }

    fn prefixed(self, message: &[u8]) -> Vec<u8> {
        let mut m = Vec::with_capacity(self.tag().len() + message.len());
        m.extend_from_slice(self.tag());
        m.extend_from_slice(message);
        m
    }
}

/// Something that signs as a device: the device's own keys, or a test's attacker.
pub trait Signer {
    fn device(&self) -> DeviceId;
    /// Ed25519 over `message` exactly (callers add the domain through [`sign`]).
    fn sign_raw(&self, message: &[u8]) -> Signature;
}

/// Signs `domain ‖ message`.
pub fn sign(signer: &dyn Signer, domain: Domain, message: &[u8]) -> Signature {
    signer.sign_raw(&domain.prefixed(message))
}

/// An Ed25519 key pair held in memory (invite keys, tests).
pub struct KeyPairSigner(pub Ed25519KeyPair);

impl KeyPairSigner {
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        // A 32-byte seed is always a valid Ed25519 private key.
        KeyPairSigner(
            Ed25519KeyPair::from_seed_unchecked(seed).expect("any 32-byte seed is a valid key"),
        )
    }
}

impl Signer for KeyPairSigner {
    fn device(&self) -> DeviceId {
        let mut id = [0u8; 32];
        id.copy_from_slice(self.0.public_key().as_ref());
        DeviceId(id)
    }
    fn sign_raw(&self, message: &[u8]) -> Signature {
        let mut s = [0u8; 64];
        s.copy_from_slice(self.0.sign(message).as_ref());
        Signature(s)
    }
}

/// What a person does in Hearth; decides what she may do in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Mother,
    Volunteer,
    Moderator,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Mother, Role::Volunteer, Role::Moderator];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Mother => "mother",
            Role::Volunteer => "volunteer",
            Role::Moderator => "moderator",
        }
    }

    /// Parses a role name, ignoring case and surrounding space.
    pub fn parse(s: &str) -> Option<Role> {
        let s = s.trim().to_ascii_lowercase();
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

pub fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.as_bytes();
    if s.len() != N * 2 {
        return None;
    }
    let val = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in s.chunks(2).enumerate() {
        out[i] = (val(pair[0])? << 4) | val(pair[1])?;
    }
    Some(out)
}

/// Bytes together with a signature over exactly those bytes. The signer is named inside the
/// bytes, so a verifier decodes, learns who claims to have signed, then checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    #[serde(rename = "b", with = "serde_bytes")]
    pub bytes: Vec<u8>,
    #[serde(rename = "s")]
    pub sig: Signature,
}

impl Signed {
    pub fn new(signer: &dyn Signer, domain: Domain, bytes: Vec<u8>) -> Signed {
        let sig = sign(signer, domain, &bytes);
        Signed { bytes, sig }
    }

    /// The content address of the signed bytes.
    pub fn hash(&self, domain: Domain) -> Hash {
        Hash::of(domain, &[&self.bytes])
    }

    pub fn verify(&self, domain: Domain, signer: &DeviceId) -> bool {
        signer.verify(domain, &self.bytes, &self.sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_encode_as_byte_strings() {
        let id = DeviceId([7; 32]);
        let bytes = crate::wire::encode(&id);
        assert_eq!(bytes.len(), 2 + 32, "a CBOR byte string, not an array");
        assert_eq!(crate::wire::decode::<DeviceId>("id", &bytes).unwrap(), id);
        assert!(crate::wire::decode::<GroupId>("id", &bytes).is_err());
    }

    #[test]
    fn signatures_are_bound_to_their_domain() {
        let k = KeyPairSigner::from_seed(&[1; 32]);
        let s = Signed::new(&k, Domain::Op, b"hello".to_vec());
        assert!(s.verify(Domain::Op, &k.device()));
        assert!(!s.verify(Domain::Envelope, &k.device()));
        let other = KeyPairSigner::from_seed(&[2; 32]);
        assert!(!s.verify(Domain::Op, &other.device()));
        let mut tampered = s.clone();
        tampered.bytes[0] ^= 1;
        assert!(!tampered.verify(Domain::Op, &k.device()));
    }

    #[test]
    fn roles_and_hex() {
        assert_eq!(Role::parse(" Moderator "), Some(Role::Moderator));
        assert_eq!(Role::parse("admin"), None);
        let h = Hash::of(Domain::Op, &[b"x"]);
        assert_eq!(Hash::parse_hex(&h.to_hex()), Some(h));
        assert_ne!(h, Hash::of(Domain::Envelope, &[b"x"]));
    }
}
