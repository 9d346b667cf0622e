//! Cryptography for data at rest: the store cipher, keyed hashes, key slots and the passphrase KDF.
//!
//! Every sensitive value the store writes goes through [`StoreCipher`]: ChaCha20-Poly1305 (ring)
//! with a fresh random 96-bit nonce per value and an associated-data label that names what the
//! value is and where it lives, so a ciphertext cannot be moved to another column or row and still
//! decrypt. Random 96-bit nonces are safe far beyond what one phone writes (collision odds stay
//! below 2^-40 for the first 2^28 values under one key).
//!
//! The store key (the data key) is random and never leaves the store except wrapped in a *key
//! slot*: one slot per way of opening the store — a raw 32-byte key from the platform keystore
//! (fast: one AEAD open) or a passphrase (Argon2id, parameters and salt stored beside the slot).
//! A wrong key or passphrase fails the slot's authentication tag before anything else is read.

use argon2::{Algorithm, Argon2, Params, Version};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{hkdf, hmac};
use serde::{Deserialize, Serialize};

/// Bytes added to every encrypted value: format version, nonce and tag.
pub const SEAL_OVERHEAD: usize = 1 + NONCE_LEN + 16;
const SEAL_VERSION: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The tag did not verify: wrong key, or bytes altered on disk.
    #[error("decryption failed: wrong key or damaged data ({context})")]
    Open { context: String },
    #[error("encryption failed: value too large")]
    Seal,
    #[error("the system random number generator failed")]
    Random,
    #[error("key derivation failed: {0}")]
    Kdf(String),
}

/// Fills a fresh array from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| CryptoError::Random)?;
    Ok(out)
}

/// A 32-byte secret that is wiped from memory when dropped.
pub struct SecretKey([u8; 32]);

impl SecretKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SecretKey(bytes)
    }
    pub fn random() -> Result<Self, CryptoError> {
        Ok(SecretKey(random_bytes()?))
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    /// Parses 64 hex digits (either case); `None` if `s` is anything else.
    pub fn from_hex(s: &str) -> Option<Self> {
        crate::identity::parse_hex(s).map(SecretKey)
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        // Volatile writes so the wipe is not optimised away.
        for b in self.0.iter_mut() {
            // SAFETY: `b` is a valid, aligned, exclusive reference into our own array.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

struct HkdfLen(usize);
impl hkdf::KeyType for HkdfLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// Derives a 32-byte subkey from `ikm` for one named purpose (HKDF-SHA256).
fn derive_subkey(ikm: &[u8], purpose: &[u8]) -> SecretKey {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"hearth/v1").extract(ikm);
    let info = [purpose];
    let mut out = [0u8; 32];
    // A 32-byte output is always within HKDF-SHA256's limit of 255 * 32 bytes.
    prk.expand(&info, HkdfLen(32))
        .and_then(|okm| okm.fill(&mut out))
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    SecretKey(out)
}

fn aead_key(key: &SecretKey) -> LessSafeKey {
    let unbound = UnboundKey::new(&CHACHA20_POLY1305, key.as_bytes())
        .expect("a 32-byte key is valid for ChaCha20-Poly1305");
    LessSafeKey::new(unbound)
}

/// Seals `plaintext` as `version || nonce || ciphertext || tag`.
fn seal_with(key: &LessSafeKey, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let nonce_bytes: [u8; NONCE_LEN] = random_bytes()?;
    let mut body = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce_bytes),
        Aad::from(aad),
        &mut body,
    )
    .map_err(|_| CryptoError::Seal)?;
    let mut out = Vec::with_capacity(body.len() + 1 + NONCE_LEN);
    out.push(SEAL_VERSION);
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&body);
    Ok(out)
}

fn open_with(key: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let context = || String::from_utf8_lossy(aad).into_owned();
    if sealed.len() < SEAL_OVERHEAD || sealed[0] != SEAL_VERSION {
        return Err(CryptoError::Open { context: context() });
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&sealed[1..1 + NONCE_LEN]);
    let mut body = sealed[1 + NONCE_LEN..].to_vec();
    let plain = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut body,
        )
        .map_err(|_| CryptoError::Open { context: context() })?;
    let len = plain.len();
    body.truncate(len);
    Ok(body)
}

/// A content key: seals and opens one purpose's bodies under a key derived from a group's
/// epoch key (`purpose` keeps envelope sections and snapshots under different keys).
pub struct ContentKey(LessSafeKey);

impl ContentKey {
    pub fn derive(epoch_key: &[u8; 32], purpose: &[u8]) -> ContentKey {
        ContentKey(aead_key(&derive_subkey(epoch_key, purpose)))
    }

    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        seal_with(&self.0, aad, plaintext)
    }

    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        open_with(&self.0, aad, sealed)
    }
}

/// Encrypts values and computes keyed hashes for one open store.
pub struct StoreCipher {
    aead: LessSafeKey,
    index: hmac::Key,
}

impl StoreCipher {
    /// Builds the cipher from the store's data key; separate subkeys for encryption and hashing.
    pub fn new(data_key: &SecretKey) -> Self {
        let enc = derive_subkey(data_key.as_bytes(), b"store/encrypt");
        let idx = derive_subkey(data_key.as_bytes(), b"store/index");
        StoreCipher {
            aead: aead_key(&enc),
            index: hmac::Key::new(hmac::HMAC_SHA256, idx.as_bytes()),
        }
    }

    /// Encrypts one value. `aad` names the value (table, column, row) so it cannot be swapped.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        seal_with(&self.aead, aad, plaintext)
    }

    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        open_with(&self.aead, aad, sealed)
    }

    /// A 16-byte keyed hash (HMAC-SHA256, truncated) of an identifier, for indexed lookups that
    /// must not reveal the identifier itself. `domain` keeps hashes of different kinds apart.
    pub fn index_hash(&self, domain: &str, id: &[u8]) -> [u8; 16] {
        let mut ctx = hmac::Context::with_key(&self.index);
        ctx.update(domain.as_bytes());
        ctx.update(&[0]);
        ctx.update(id);
        let tag = ctx.sign();
        let mut out = [0u8; 16];
        out.copy_from_slice(&tag.as_ref()[..16]);
        out
    }
}

/// Argon2id cost parameters, stored with a passphrase slot so they can be raised later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub algorithm: String,
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub salt: Vec<u8>,
}

impl KdfParams {
    /// Current defaults for new stores: Argon2id, 64 MiB, 3 passes (above OWASP's minimum).
    pub fn new_random() -> Result<Self, CryptoError> {
        Ok(KdfParams {
            algorithm: "argon2id".into(),
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
            salt: random_bytes::<16>()?.to_vec(),
        })
    }

    fn derive(&self, passphrase: &str) -> Result<SecretKey, CryptoError> {
        if self.algorithm != "argon2id" {
            return Err(CryptoError::Kdf(format!(
                "unknown passphrase algorithm {:?}",
                self.algorithm
            )));
        }
        // Refuse parameters so weak that a damaged or forged slot would make guessing cheap.
        if self.memory_kib < 8 * 1024 || self.iterations == 0 || self.salt.len() < 16 {
            return Err(CryptoError::Kdf(
                "passphrase parameters in the store are too weak to trust".into(),
            ));
        }
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|e| CryptoError::Kdf(e.to_string()))?;
        let mut out = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase.as_bytes(), &self.salt, &mut out)
            .map_err(|e| CryptoError::Kdf(e.to_string()))?;
        Ok(SecretKey(out))
    }
}

/// What the person or the platform hands over to open a store.
pub enum StoreSecret {
    /// 32 bytes from Android Keystore / iOS Keychain (or `HEARTH_KEY`).
    RawKey(SecretKey),
    /// A passphrase typed by a person (or `HEARTH_PASSPHRASE`).
    Passphrase(String),
}

impl StoreSecret {
    pub fn kind(&self) -> SlotKind {
        match self {
            StoreSecret::RawKey(_) => SlotKind::RawKey,
            StoreSecret::Passphrase(_) => SlotKind::Passphrase,
        }
    }
}

impl std::fmt::Debug for StoreSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreSecret::RawKey(_) => f.write_str("RawKey(..)"),
            StoreSecret::Passphrase(_) => f.write_str("Passphrase(..)"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKind {
    RawKey,
    Passphrase,
}

impl SlotKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SlotKind::RawKey => "raw-key",
            SlotKind::Passphrase => "passphrase",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "raw-key" => Some(SlotKind::RawKey),
            "passphrase" => Some(SlotKind::Passphrase),
            _ => None,
        }
    }
}

/// A data key wrapped under a key-encryption key, as stored on disk.
pub struct KeySlot {
    pub kind: SlotKind,
    /// Empty for raw-key slots.
    pub kdf: Option<KdfParams>,
    pub wrapped: Vec<u8>,
}

fn slot_aad(kind: SlotKind) -> Vec<u8> {
    format!("hearth/key-slot/{}", kind.as_str()).into_bytes()
}

fn key_encryption_key(
    secret: &StoreSecret,
    kdf: Option<&KdfParams>,
) -> Result<SecretKey, CryptoError> {
    match secret {
        StoreSecret::RawKey(k) => Ok(derive_subkey(k.as_bytes(), b"slot/raw-key")),
        StoreSecret::Passphrase(p) => {
            let params =
                kdf.ok_or_else(|| CryptoError::Kdf("passphrase slot has no parameters".into()))?;
            let stretched = params.derive(p)?;
            Ok(derive_subkey(stretched.as_bytes(), b"slot/passphrase"))
        }
    }
}

impl KeySlot {
    /// Wraps `data_key` for `secret` (runs the slow KDF for passphrases).
    pub fn wrap(secret: &StoreSecret, data_key: &SecretKey) -> Result<KeySlot, CryptoError> {
        let kdf = match secret {
            StoreSecret::RawKey(_) => None,
            StoreSecret::Passphrase(_) => Some(KdfParams::new_random()?),
        };
        let kek = key_encryption_key(secret, kdf.as_ref())?;
        let wrapped = seal_with(
            &aead_key(&kek),
            &slot_aad(secret.kind()),
            data_key.as_bytes(),
        )?;
        Ok(KeySlot {
            kind: secret.kind(),
            kdf,
            wrapped,
        })
    }

    /// Recovers the data key, or fails with [`CryptoError::Open`] for a wrong key or passphrase.
    pub fn unwrap(&self, secret: &StoreSecret) -> Result<SecretKey, CryptoError> {
        let kek = key_encryption_key(secret, self.kdf.as_ref())?;
        let plain = open_with(&aead_key(&kek), &slot_aad(self.kind), &self.wrapped)?;
        let bytes: [u8; 32] = plain.as_slice().try_into().map_err(|_| CryptoError::Open {
            context: "key slot holds a key of the wrong length".into(),
        })?;
        Ok(SecretKey(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> StoreCipher {
        StoreCipher::new(&SecretKey::from_bytes([7; 32]))
    }

    #[test]
    fn seal_round_trips_and_hides_plaintext() {
        let c = cipher();
        let sealed = c.seal(b"t/1", b"feeling low today").unwrap();
        assert_eq!(sealed.len(), 17 + SEAL_OVERHEAD);
        assert!(!sealed.windows(7).any(|w| w == b"feeling"));
        assert_eq!(c.open(b"t/1", &sealed).unwrap(), b"feeling low today");
    }

    #[test]
    fn sealed_value_cannot_move_to_another_place() {
        let c = cipher();
        let sealed = c.seal(b"messages/1", b"hello").unwrap();
        assert!(matches!(
            c.open(b"messages/2", &sealed),
            Err(CryptoError::Open { .. })
        ));
    }

    #[test]
    fn tampered_or_short_values_fail_to_open() {
        let c = cipher();
        let mut sealed = c.seal(b"x", b"hello").unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(c.open(b"x", &sealed).is_err());
        assert!(c.open(b"x", &[1, 2, 3]).is_err());
        assert!(c.open(b"x", &[]).is_err());
    }

    #[test]
    fn another_key_cannot_open() {
        let sealed = cipher().seal(b"x", b"hello").unwrap();
        let other = StoreCipher::new(&SecretKey::from_bytes([8; 32]));
        assert!(other.open(b"x", &sealed).is_err());
    }

    #[test]
    fn index_hashes_are_keyed_and_domain_separated() {
        let c = cipher();
        let other = StoreCipher::new(&SecretKey::from_bytes([8; 32]));
        assert_eq!(c.index_hash("group", b"abc"), c.index_hash("group", b"abc"));
        assert_ne!(
            c.index_hash("group", b"abc"),
            c.index_hash("message", b"abc")
        );
        assert_ne!(
            c.index_hash("group", b"abc"),
            other.index_hash("group", b"abc")
        );
    }

    #[test]
    fn raw_key_slot_opens_only_with_the_same_key() {
        let data = SecretKey::random().unwrap();
        let secret = StoreSecret::RawKey(SecretKey::from_bytes([1; 32]));
        let slot = KeySlot::wrap(&secret, &data).unwrap();
        assert_eq!(slot.unwrap(&secret).unwrap().as_bytes(), data.as_bytes());
        let wrong = StoreSecret::RawKey(SecretKey::from_bytes([2; 32]));
        assert!(matches!(slot.unwrap(&wrong), Err(CryptoError::Open { .. })));
    }

    #[test]
    fn passphrase_slot_opens_only_with_the_same_passphrase() {
        let data = SecretKey::random().unwrap();
        let secret = StoreSecret::Passphrase("correct horse battery".into());
        let slot = KeySlot::wrap(&secret, &data).unwrap();
        let kdf = slot.kdf.clone().unwrap();
        assert_eq!(kdf.salt.len(), 16);
        assert_eq!(slot.unwrap(&secret).unwrap().as_bytes(), data.as_bytes());
        let wrong = StoreSecret::Passphrase("correct horse battery!".into());
        assert!(matches!(slot.unwrap(&wrong), Err(CryptoError::Open { .. })));
    }

    #[test]
    fn weak_stored_kdf_parameters_are_refused() {
        let params = KdfParams {
            memory_kib: 8,
            ..KdfParams::new_random().unwrap()
        };
        assert!(matches!(params.derive("pw"), Err(CryptoError::Kdf(_))));
    }
}
