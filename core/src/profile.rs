//! The profile record: the one person on this device, stored sealed in the `profile` table.

use std::sync::Arc;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::crypto::StoreCipher;
use crate::error::StoreError;
use crate::identity::{DeviceKeys, Pseudonym, Role, StoredKeys};
use crate::store::{query_sealed, Writer};

const AAD: &[u8] = b"profile/1";

pub struct Profile {
    pub name: Pseudonym,
    pub role: Role,
    pub keys: Arc<DeviceKeys>,
    pub created_at: i64,
    /// The relay this profile syncs through, if one is set.
    pub relay: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    name: Pseudonym,
    role: Role,
    keys: StoredKeys,
    created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    relay: Option<String>,
}

fn sealed(w: &Writer<'_>, profile: &Profile) -> Result<Vec<u8>, StoreError> {
    w.seal(
        AAD,
        &Stored {
            name: profile.name.clone(),
            role: profile.role,
            keys: StoredKeys::from_keys(&profile.keys),
            created_at: profile.created_at,
            relay: profile.relay.clone(),
        },
    )
}

pub(crate) fn insert(w: &Writer<'_>, profile: &Profile) -> Result<(), StoreError> {
    let body = sealed(w, profile)?;
    w.tx.execute("INSERT INTO profile (id, body) VALUES (1, ?1)", [body])?;
    Ok(())
}

pub(crate) fn update(w: &Writer<'_>, profile: &Profile) -> Result<(), StoreError> {
    let body = sealed(w, profile)?;
    w.tx.execute("UPDATE profile SET body = ?1 WHERE id = 1", [body])?;
    Ok(())
}

pub(crate) fn load(conn: &Connection, cipher: &StoreCipher) -> Result<Profile, StoreError> {
    let stored: Stored = query_sealed(
        conn,
        cipher,
        AAD,
        "SELECT body FROM profile WHERE id = 1",
        [],
    )?
    .ok_or_else(|| StoreError::Decode {
        what: "profile".into(),
        detail: "the store has no profile".into(),
    })?;
    Ok(Profile {
        name: stored.name,
        role: stored.role,
        keys: Arc::new(stored.keys.into_keys()?),
        created_at: stored.created_at,
        relay: stored.relay,
    })
}
