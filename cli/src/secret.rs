//! Where the CLI gets the store secret: `HEARTH_KEY` (the raw-key path phones use) or
//! `HEARTH_PASSPHRASE` (a slow KDF). Exactly one must be set.

use hearth_core::{InputError, SecretKey, StoreSecret};

pub const KEY_VAR: &str = "HEARTH_KEY";
pub const PASSPHRASE_VAR: &str = "HEARTH_PASSPHRASE";

pub fn from_env() -> Result<StoreSecret, InputError> {
    // An empty variable counts as unset, as shells and CI systems often leave them empty.
    let key = std::env::var_os(KEY_VAR).filter(|v| !v.is_empty());
    let passphrase = std::env::var_os(PASSPHRASE_VAR).filter(|v| !v.is_empty());
    match (key, passphrase) {
        (Some(_), Some(_)) => Err(InputError::new(
            "secret",
            format!("both {KEY_VAR} and {PASSPHRASE_VAR} are set; set only the one this store was created with"),
        )),
        (None, None) => Err(InputError::new(
            "secret",
            format!(
                "no key to open the store: set {KEY_VAR} to 64 hex characters (a 32-byte key, e.g. \
                 from `openssl rand -hex 32`) or {PASSPHRASE_VAR} to a passphrase of at least 8 characters"
            ),
        )),
        (Some(key), None) => parse_key(&key.to_string_lossy()).map(StoreSecret::RawKey),
        (None, Some(p)) => {
            let p = p
                .into_string()
                .map_err(|_| InputError::new(PASSPHRASE_VAR, "is not valid UTF-8"))?;
            Ok(StoreSecret::Passphrase(p))
        }
    }
}

fn parse_key(s: &str) -> Result<SecretKey, InputError> {
    let s = s.trim();
    let bad = |why: String| {
        InputError::new(
            KEY_VAR,
            format!("{why}; it must be 64 hex characters (32 bytes)"),
        )
    };
    if s.chars().count() != 64 {
        return Err(bad(format!("has {} characters", s.chars().count())));
    }
    SecretKey::from_hex(s).ok_or_else(|| bad("contains a character that is not a hex digit".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_be_64_hex_digits() {
        assert!(parse_key(&"ab".repeat(32)).is_ok());
        assert!(parse_key(&format!(" {} ", "AB".repeat(32))).is_ok());
        assert!(parse_key(&"ab".repeat(31))
            .unwrap_err()
            .reason
            .contains("has 62 characters"));
        assert!(parse_key(&"zz".repeat(32))
            .unwrap_err()
            .reason
            .contains("not a hex digit"));
        // Multi-byte characters must not panic on slicing.
        assert!(parse_key(&"é".repeat(32)).is_err());
    }
}
