//! Who is using this device: a pseudonym, a role and the device's keys.
//!
//! A profile is one person on one device. Peers only ever see the pseudonym, so it is checked
//! not to be a phone number or an e-mail address — the stigma around mental health, HIV and loss
//! is why Hearth is pseudonymous at all.
//!
//! The device has two key pairs: Ed25519 (ring) to sign everything it publishes, and X25519 to
//! receive group keys sealed to it with HPKE. ring cannot persist a static X25519 key, so that
//! one comes from the `hpke` crate. The Ed25519 public key is the device's identity everywhere:
//! it is the Automerge actor id of every change the device makes, which lets every peer reject a
//! change whose actor is not the device that signed it.

use hpke::kem::{Kem as KemTrait, X25519HkdfSha256};
use hpke::{Deserializable, Serializable};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};

use crate::crypto::{random_bytes, CryptoError};
use crate::error::InputError;

pub use hearth_protocol::{DeviceId, Role};

/// Parses a role as a person typed it.
pub fn parse_role(s: &str) -> Result<Role, InputError> {
    Role::parse(s).ok_or_else(|| {
        InputError::new(
            "role",
            format!("{s:?} is not a role; expected mother, volunteer or moderator"),
        )
    })
}

/// The name peers see. Never a phone number or an e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pseudonym(String);

impl Pseudonym {
    pub const MAX_CHARS: usize = 40;

    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let name = raw.trim();
        let err = |why: &str| InputError::new("name", why.to_string());
        if name.is_empty() {
            return Err(err("a pseudonym cannot be empty"));
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(err(&format!(
                "a pseudonym can be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(err(
                "a pseudonym cannot contain control characters or line breaks",
            ));
        }
        if name.contains('@') {
            return Err(err(
                "this looks like an e-mail address; peers see your pseudonym, so choose a name that does not identify you",
            ));
        }
        if name.chars().filter(char::is_ascii_digit).count() >= 7 {
            return Err(err(
                "this looks like a phone number; peers see your pseudonym, so choose a name that does not identify you",
            ));
        }
        Ok(Pseudonym(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) use hearth_protocol::ids::{hex_lower, parse_hex};

/// The device's private keys. Only ever written to disk inside the encrypted store.
pub struct DeviceKeys {
    signing: Ed25519KeyPair,
    signing_pkcs8: Vec<u8>,
    agreement_secret: [u8; 32],
    agreement_public: [u8; 32],
}

impl DeviceKeys {
    pub fn generate() -> Result<Self, CryptoError> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| CryptoError::Random)?;
        let ikm: [u8; 32] = random_bytes()?;
        let (sk, _) = X25519HkdfSha256::derive_keypair(&ikm);
        let mut secret = [0u8; 32];
        secret.copy_from_slice(&sk.to_bytes());
        Self::from_parts(pkcs8.as_ref(), &secret)
    }

    fn from_parts(pkcs8: &[u8], agreement_secret: &[u8]) -> Result<Self, CryptoError> {
        let bad = || CryptoError::Open {
            context: "stored device keys".into(),
        };
        let signing = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| bad())?;
        let sk = <X25519HkdfSha256 as KemTrait>::PrivateKey::from_bytes(agreement_secret)
            .map_err(|_| bad())?;
        let pk = X25519HkdfSha256::sk_to_pk(&sk);
        let mut agreement_public = [0u8; 32];
        agreement_public.copy_from_slice(&pk.to_bytes());
        let mut secret = [0u8; 32];
        secret.copy_from_slice(agreement_secret);
        Ok(DeviceKeys {
            signing,
            signing_pkcs8: pkcs8.to_vec(),
            agreement_secret: secret,
            agreement_public,
        })
    }

    pub fn device_id(&self) -> DeviceId {
        let mut id = [0u8; 32];
        id.copy_from_slice(self.signing.public_key().as_ref());
        DeviceId(id)
    }

    /// The X25519 public key others seal group keys to.
    pub fn agreement_public(&self) -> [u8; 32] {
        self.agreement_public
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.signing.sign(message).as_ref().to_vec()
    }

    /// The X25519 private key, for opening epoch keys sealed to this device.
    pub(crate) fn agreement_secret(
        &self,
    ) -> Result<<X25519HkdfSha256 as KemTrait>::PrivateKey, CryptoError> {
        <X25519HkdfSha256 as KemTrait>::PrivateKey::from_bytes(&self.agreement_secret).map_err(
            |_| CryptoError::Open {
                context: "device agreement key".into(),
            },
        )
    }
}

impl hearth_protocol::Signer for DeviceKeys {
    fn device(&self) -> DeviceId {
        self.device_id()
    }
    fn sign_raw(&self, message: &[u8]) -> hearth_protocol::Signature {
        let mut s = [0u8; 64];
        s.copy_from_slice(self.signing.sign(message).as_ref());
        hearth_protocol::Signature(s)
    }
}

impl Drop for DeviceKeys {
    fn drop(&mut self) {
        for b in self
            .agreement_secret
            .iter_mut()
            .chain(self.signing_pkcs8.iter_mut())
        {
            // SAFETY: valid exclusive references into our own buffers.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// The form device keys take inside the store's encrypted profile record.
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredKeys {
    #[serde(with = "serde_bytes")]
    pub ed25519_pkcs8: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub x25519_secret: Vec<u8>,
}

impl StoredKeys {
    pub fn from_keys(keys: &DeviceKeys) -> Self {
        StoredKeys {
            ed25519_pkcs8: keys.signing_pkcs8.clone(),
            x25519_secret: keys.agreement_secret.to_vec(),
        }
    }
    pub fn into_keys(self) -> Result<DeviceKeys, CryptoError> {
        DeviceKeys::from_parts(&self.ed25519_pkcs8, &self.x25519_secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_refuse_contact_details() {
        assert_eq!(Pseudonym::parse("  Amina ").unwrap().as_str(), "Amina");
        assert_eq!(Pseudonym::parse("Mum of 2").unwrap().as_str(), "Mum of 2");
        for bad in [
            "",
            "   ",
            "amina@example.org",
            "07700 900123",
            "+44 7700 900 123",
            "a\nb",
        ] {
            let e = Pseudonym::parse(bad).unwrap_err();
            assert_eq!(e.field, "name", "{bad:?}");
        }
        assert!(Pseudonym::parse(&"x".repeat(41)).is_err());
        assert!(Pseudonym::parse(&"é".repeat(40)).is_ok());
    }

    #[test]
    fn roles_parse_and_reject_unknown() {
        assert_eq!(parse_role("Moderator").unwrap(), Role::Moderator);
        let e = parse_role("admin").unwrap_err();
        assert!(e.to_string().contains("mother, volunteer or moderator"));
    }

    #[test]
    fn device_keys_survive_storage_and_sign() {
        let keys = DeviceKeys::generate().unwrap();
        let id = keys.device_id();
        let public = keys.agreement_public();
        let stored = StoredKeys::from_keys(&keys);
        let restored = stored.into_keys().unwrap();
        assert_eq!(restored.device_id(), id);
        assert_eq!(restored.agreement_public(), public);
        use hearth_protocol::ids::{sign, Domain};
        let sig = sign(&restored, Domain::Op, b"hello");
        assert!(id.verify(Domain::Op, b"hello", &sig));
        assert!(!id.verify(Domain::Op, b"hellO", &sig));
        let other = DeviceKeys::generate().unwrap();
        assert!(!other.device_id().verify(Domain::Op, b"hello", &sig));
    }

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(hex_lower(&bytes), "0001abff");
        assert_eq!(parse_hex::<4>("0001ABff"), Some(bytes));
        assert_eq!(parse_hex::<4>("0001abf"), None);
        assert_eq!(parse_hex::<4>("0001abfg"), None);
    }
}
