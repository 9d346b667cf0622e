//! Invite codes: short enough to read out over the phone or put in a QR code.
//!
//! A code is 80 random bits written as 16 Crockford base-32 characters plus one check
//! character, in groups: `7KQ2-M9XD-4HTB-0WRC-F`. Everything else derives from it with HKDF:
//! an Ed25519 key pair whose public half is the invite's id in the membership log (the relay
//! indexes invites by it), and a symmetric key that seals what the joiner and the moderator tell
//! each other (the group's name, the joiner's pseudonym) so the relay reads neither. A joiner
//! proves she holds the code by signing her registration with the derived key. 80 bits cannot be
//! guessed online, and the relay rate-limits attempts anyway.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

use crate::ids::{Hash, KeyPairSigner, Signer};
use crate::DeviceId;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const DATA_CHARS: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InviteCodeError {
    #[error(
        "an invite code has 17 letters and digits (like 7KQ2-M9XD-4HTB-0WRC-F); this one has {0}"
    )]
    Length(usize),
    #[error("{0:?} cannot appear in an invite code")]
    Character(char),
    #[error(
        "this invite code has a typo (its last character does not match); check it and try again"
    )]
    Check,
    #[error("the system random number generator failed")]
    Random,
    #[error("the sealed invite details could not be opened with this code")]
    Open,
}

#[derive(Clone, PartialEq, Eq)]
pub struct InviteCode([u8; 10]);

impl std::fmt::Debug for InviteCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InviteCode(…)")
    }
}

impl InviteCode {
    pub fn random() -> Result<Self, InviteCodeError> {
        let mut b = [0u8; 10];
        SystemRandom::new()
            .fill(&mut b)
            .map_err(|_| InviteCodeError::Random)?;
        Ok(InviteCode(b))
    }

    pub fn as_bytes(&self) -> &[u8; 10] {
        &self.0
    }

    pub fn from_bytes(b: [u8; 10]) -> Self {
        InviteCode(b)
    }

    fn digits(&self) -> [u8; DATA_CHARS] {
        let mut acc: u128 = 0;
        for b in self.0 {
            acc = (acc << 8) | b as u128;
        }
        let mut out = [0u8; DATA_CHARS];
        for (i, d) in out.iter_mut().enumerate() {
            *d = ((acc >> (5 * (DATA_CHARS - 1 - i))) & 31) as u8;
        }
        out
    }

    fn check_digit(&self) -> u8 {
        Hash::of(crate::ids::Domain::InviteJoin, &[&self.0]).0[0] >> 3
    }

    /// Parses what a person typed or a QR code held: case, spaces and dashes are ignored, and
    /// the look-alikes O, I and L are read as 0, 1 and 1.
    pub fn parse(s: &str) -> Result<Self, InviteCodeError> {
        let mut vals = Vec::new();
        for c in s.chars().filter(|c| !c.is_whitespace() && *c != '-') {
            let u = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                u => u,
            };
            let v = ALPHABET
                .iter()
                .position(|&a| a as char == u)
                .ok_or(InviteCodeError::Character(c))?;
            vals.push(v as u8);
        }
        if vals.len() != DATA_CHARS + 1 {
            return Err(InviteCodeError::Length(vals.len()));
        }
        let mut acc: u128 = 0;
        for v in &vals[..DATA_CHARS] {
            acc = (acc << 5) | *v as u128;
        }
        let mut b = [0u8; 10];
        for (i, byte) in b.iter_mut().enumerate() {
            *byte = (acc >> (8 * (9 - i))) as u8;
        }
        let code = InviteCode(b);
        if code.check_digit() != vals[DATA_CHARS] {
            return Err(InviteCodeError::Check);
        }
        Ok(code)
    }

    /// The derived keys: who the invite is (its signing key) and the box both sides seal to.
    pub fn keys(&self) -> InviteKeys {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"hearth/v1/invite").extract(&self.0);
        let expand = |info: &[u8]| {
            let mut out = [0u8; 32];
            prk.expand(&[info], Len32)
                .and_then(|okm| okm.fill(&mut out))
                .expect("HKDF-SHA256 can always produce 32 bytes");
            out
        };
        let seed = expand(b"sign");
        let box_key = expand(b"box");
        InviteKeys {
            signer: KeyPairSigner::from_seed(&seed),
            box_key,
        }
    }
}

impl std::fmt::Display for InviteCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.digits();
        for (i, v) in d.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                f.write_str("-")?;
            }
            write!(f, "{}", ALPHABET[*v as usize] as char)?;
        }
        write!(f, "-{}", ALPHABET[self.check_digit() as usize] as char)
    }
}

struct Len32;
impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

/// Keys derived from an invite code.
pub struct InviteKeys {
    pub signer: KeyPairSigner,
    box_key: [u8; 32],
}

impl InviteKeys {
    /// The invite's public id, as the membership log and the relay know it.
    pub fn id(&self) -> DeviceId {
        self.signer.device()
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(
            UnboundKey::new(&CHACHA20_POLY1305, &self.box_key)
                .expect("a 32-byte key is valid for ChaCha20-Poly1305"),
        )
    }

    /// Seals `plaintext` for whoever holds the code. `aad` names what it is.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, InviteCodeError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| InviteCodeError::Random)?;
        let mut buf = plaintext.to_vec();
        self.aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| InviteCodeError::Random)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, InviteCodeError> {
        if sealed.len() < NONCE_LEN {
            return Err(InviteCodeError::Open);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| InviteCodeError::Open)?;
        let mut buf = ct.to_vec();
        let plain = self
            .aead()
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .map_err(|_| InviteCodeError::Open)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_tolerate_how_people_type() {
        for seed in 0..50u8 {
            let code = InviteCode::from_bytes([seed.wrapping_mul(37); 10].map(|b| b ^ seed));
            let s = code.to_string();
            assert_eq!(s.len(), 21, "{s}");
            assert_eq!(InviteCode::parse(&s).unwrap(), code);
            let sloppy = s.to_lowercase().replace('-', " ").replace('0', "o");
            assert_eq!(InviteCode::parse(&sloppy).unwrap(), code);
        }
        let code = InviteCode::random().unwrap();
        assert_eq!(code.keys().id(), code.keys().id(), "derivation is stable");
        assert_ne!(code.keys().id(), InviteCode::random().unwrap().keys().id());
    }

    #[test]
    fn bad_codes_say_what_is_wrong() {
        let code = InviteCode::random().unwrap().to_string();
        assert_eq!(
            InviteCode::parse(&code[..10]),
            Err(InviteCodeError::Length(8))
        );
        assert_eq!(
            InviteCode::parse("7KQ2-M9XD-4HTB-0WRC-U"),
            Err(InviteCodeError::Character('U'))
        );
        // Change one data character: the check character catches it (most of the time; try
        // until one is caught, then make sure the message is the typo one).
        let mut caught = 0;
        for c in ALPHABET.iter().map(|&c| c as char) {
            let typo: String = code
                .chars()
                .enumerate()
                .map(|(i, x)| if i == 2 { c } else { x })
                .collect();
            if typo != code && InviteCode::parse(&typo) == Err(InviteCodeError::Check) {
                caught += 1;
            }
        }
        assert!(caught >= 25, "only {caught} of 31 typos caught");
    }

    #[test]
    fn sealed_details_open_only_with_the_code() {
        let code = InviteCode::random().unwrap();
        let sealed = code.keys().seal(b"details", b"Due in March").unwrap();
        assert_eq!(
            code.keys().open(b"details", &sealed).unwrap(),
            b"Due in March"
        );
        assert!(code.keys().open(b"intro", &sealed).is_err());
        let other = InviteCode::random().unwrap();
        assert!(other.keys().open(b"details", &sealed).is_err());
    }
}
