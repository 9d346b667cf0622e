//! Membership on this device: epoch keys sealed and opened with HPKE, and operations signed by
//! this device. The rules themselves (who may do what, hash chaining, who a key must be sealed
//! to) live in `hearth_protocol::membership`, shared with the relay, so both verify the same way.
//!
//! An epoch key is 32 random bytes. A moderator starting an epoch seals it to each member
//! device's X25519 key with HPKE (RFC 9180, base mode, X25519-HKDF-SHA256, HKDF-SHA256,
//! ChaCha20-Poly1305); the info string names the group and epoch and the associated data names
//! the recipient, so a sealed key cannot be replayed into another group, epoch or recipient.

use std::collections::BTreeMap;

use hearth_protocol::ids::Signed;
use hearth_protocol::membership::{self, EpochKeys, MemberState, Op, OpBody, SealedKey};
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as KemTrait, OpModeR, OpModeS, Serializable};

use crate::crypto::{random_bytes, CryptoError};
use crate::group::GroupId;
use crate::identity::{DeviceId, DeviceKeys};

type Kem = X25519HkdfSha256;

/// A group's key for one epoch. Envelope and snapshot keys derive from it.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EpochKey(#[serde(with = "serde_bytes")] pub [u8; 32]);

impl std::fmt::Debug for EpochKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EpochKey(…)")
    }
}

impl EpochKey {
    pub fn random() -> Result<EpochKey, CryptoError> {
        Ok(EpochKey(random_bytes()?))
    }
}

fn info(group: &GroupId, number: u32) -> Vec<u8> {
    let mut v = b"hearth/v1/epoch-key".to_vec();
    v.extend_from_slice(&group.0);
    v.extend_from_slice(&number.to_be_bytes());
    v
}

/// Randomness for one HPKE encapsulation, drawn from the system generator up front so a
/// failure is an error here rather than a panic inside the HPKE crate.
struct Prefilled {
    bytes: [u8; 64],
    used: usize,
}

impl rand_core::RngCore for Prefilled {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        // X25519 encapsulation draws 32 bytes; 64 are ready. Running out would be a bug in the
        // HPKE crate's use of randomness, and reusing bytes would be worse than stopping.
        let end = self.used + dst.len();
        assert!(
            end <= self.bytes.len(),
            "HPKE asked for more randomness than prepared"
        );
        dst.copy_from_slice(&self.bytes[self.used..end]);
        self.used = end;
    }
}
impl rand_core::CryptoRng for Prefilled {}

/// Seals `key` for epoch `number` to every device in `members`.
pub fn seal_epoch(
    group: &GroupId,
    number: u32,
    key: &EpochKey,
    members: &BTreeMap<DeviceId, MemberState>,
) -> Result<EpochKeys, CryptoError> {
    let mut sealed = Vec::with_capacity(members.len());
    for (device, m) in members {
        let (enc, ct) = seal_to(
            device,
            &m.agreement.0,
            &info(group, number),
            &device.0,
            &key.0,
        )?;
        sealed.push(SealedKey {
            device: *device,
            enc,
            ct,
        });
    }
    Ok(EpochKeys { number, sealed })
}

/// Seals `plaintext` to one device's X25519 key (HPKE base mode, as epoch keys are): only
/// that device can open it, and only with the same `info` and `aad`. Returns (enc, ct).
pub fn seal_to(
    device: &DeviceId,
    agreement: &[u8; 32],
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let pk =
        <Kem as KemTrait>::PublicKey::from_bytes(agreement).map_err(|_| CryptoError::Open {
            context: format!("member {} key", device.short()),
        })?;
    let mut rng = Prefilled {
        bytes: random_bytes()?,
        used: 0,
    };
    let (enc, ct) = hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, Kem, _>(
        &OpModeS::Base,
        &pk,
        info,
        plaintext,
        aad,
        &mut rng,
    )
    .map_err(|_| CryptoError::Random)?;
    Ok((enc.to_bytes().to_vec(), ct))
}

/// Opens what [`seal_to`] sealed to this device. `context` names it in the error.
pub fn open_sealed(
    keys: &DeviceKeys,
    enc: &[u8],
    ct: &[u8],
    info: &[u8],
    aad: &[u8],
    context: impl FnOnce() -> String,
) -> Result<Vec<u8>, CryptoError> {
    let Ok(enc) = <Kem as KemTrait>::EncappedKey::from_bytes(enc) else {
        return Err(CryptoError::Open { context: context() });
    };
    let sk = keys.agreement_secret()?;
    hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, Kem>(
        &OpModeR::Base,
        &sk,
        &enc,
        info,
        ct,
        aad,
    )
    .map_err(|_| CryptoError::Open { context: context() })
}

/// Opens this device's copy of an epoch key; `None` if none was sealed to it.
pub fn open_epoch(
    keys: &DeviceKeys,
    group: &GroupId,
    epoch: &EpochKeys,
) -> Result<Option<EpochKey>, CryptoError> {
    let me = keys.device_id();
    let Some(s) = epoch.sealed.iter().find(|s| s.device == me) else {
        return Ok(None);
    };
    let context = || format!("epoch {} key", epoch.number);
    let plain = open_sealed(
        keys,
        &s.enc,
        &s.ct,
        &info(group, epoch.number),
        &me.0,
        context,
    )?;
    let key: [u8; 32] = plain
        .as_slice()
        .try_into()
        .map_err(|_| CryptoError::Open { context: context() })?;
    Ok(Some(EpochKey(key)))
}

/// Signs `body` as the next operation of the log whose state is `state`.
pub fn sign_next(
    keys: &DeviceKeys,
    state: &membership::Membership,
    at: i64,
    body: OpBody,
) -> Signed {
    membership::sign_op(
        keys,
        &Op {
            v: hearth_protocol::VERSION,
            group: state.group,
            index: state.len,
            prev: state.head,
            author: keys.device_id(),
            at,
            body,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_protocol::AgreementKey;
    use hearth_protocol::Role;

    #[test]
    fn epoch_keys_open_only_for_their_recipient() {
        let (a, b, c) = (
            DeviceKeys::generate().unwrap(),
            DeviceKeys::generate().unwrap(),
            DeviceKeys::generate().unwrap(),
        );
        let members: BTreeMap<DeviceId, MemberState> = [&a, &b]
            .iter()
            .map(|k| {
                (
                    k.device_id(),
                    MemberState {
                        role: Role::Mother,
                        agreement: AgreementKey(k.agreement_public()),
                        since_epoch: 1,
                        since_at: 0,
                    },
                )
            })
            .collect();
        let g = GroupId([1; 16]);
        let key = EpochKey::random().unwrap();
        let sealed = seal_epoch(&g, 2, &key, &members).unwrap();
        assert_eq!(open_epoch(&a, &g, &sealed).unwrap(), Some(key.clone()));
        assert_eq!(open_epoch(&b, &g, &sealed).unwrap(), Some(key.clone()));
        assert_eq!(
            open_epoch(&c, &g, &sealed).unwrap(),
            None,
            "not sealed to her"
        );
        // Her own entry moved into someone else's slot does not open for them.
        let mut stolen = sealed.clone();
        stolen.sealed[0].device = c.device_id();
        assert!(open_epoch(&c, &g, &stolen).is_err());
        // Nor does a sealed key replayed into another group or epoch.
        assert!(open_epoch(&a, &GroupId([2; 16]), &sealed).is_err());
        let mut renumbered = sealed;
        renumbered.number = 3;
        assert!(open_epoch(&a, &g, &renumbered).is_err());
    }
}
