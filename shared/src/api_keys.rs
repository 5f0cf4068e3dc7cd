//! API keys, made: random 256-bit keys (`cbk_` + 64 hex digits), printed once, stored in the
//! settings only as their SHA-256 with a role. The API checks them (`coinbeat_api::auth`); the
//! CLI (`coinbeat keys new`, `coinbeat up`) and the lab make them, all through this one module.
//!
//! SHA-256 without a salt or a slow hash is enough here: a key has 256 bits of entropy, so a
//! leaked hash cannot be reversed by guessing.

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::settings::{ApiKeyEntry, Role};

/// Every key starts with this, so a key pasted into the wrong place is recognisable.
pub const KEY_PREFIX: &str = "cbk_";

/// A freshly made key; its `Debug` never shows it.
pub struct ApiKey(String);

impl ApiKey {
    /// 32 random bytes from the thread's CSPRNG (seeded by the OS), hex-encoded.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(format!("{KEY_PREFIX}{}", hex(&bytes)))
    }

    /// The key itself, to print once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the settings hold for it.
    pub fn entry(&self, role: Role) -> ApiKeyEntry {
        ApiKeyEntry {
            role,
            sha256: sha256_hex(&self.0),
        }
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

/// Lowercase hex SHA-256 of `key`, as `[[api.keys]] sha256` holds it.
pub fn sha256_hex(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

/// The exact settings lines that configure `entry`: the TOML table and the environment
/// variable (which replaces the whole list, so it is for a deployment's only key).
pub fn settings_lines(entry: &ApiKeyEntry) -> (String, String) {
    let toml = format!(
        "[[api.keys]]\nrole = \"{}\"\nsha256 = \"{}\"",
        entry.role, entry.sha256
    );
    let env = format!(
        "COINBEAT_API__KEYS='{}'",
        env_value(std::slice::from_ref(entry))
    );
    (toml, env)
}

/// The value of `COINBEAT_API__KEYS` that configures exactly `entries`.
pub fn env_value(entries: &[ApiKeyEntry]) -> String {
    let items: Vec<String> = entries
        .iter()
        .map(|e| format!("{{role=\"{}\",sha256=\"{}\"}}", e.role, e.sha256))
        .collect();
    format!("[{}]", items.join(","))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_256_random_bits_shown_only_on_purpose() {
        let a = ApiKey::generate();
        let b = ApiKey::generate();
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with(KEY_PREFIX));
        let hex_part = &a.expose()[KEY_PREFIX.len()..];
        assert_eq!(hex_part.len(), 64);
        assert!(hex_part.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(!format!("{a:?}").contains(hex_part));
        assert_eq!(a.entry(Role::Admin).sha256, sha256_hex(a.expose()));
    }

    #[test]
    fn the_hash_is_plain_sha256_of_the_whole_key() {
        // SHA-256("test"), a published test vector.
        assert_eq!(
            sha256_hex("test"),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
    }

    #[test]
    fn the_settings_lines_configure_exactly_the_entry() {
        let entry = ApiKeyEntry {
            role: Role::Read,
            sha256: "ab".repeat(32),
        };
        let (toml, env) = settings_lines(&entry);
        assert_eq!(
            toml,
            format!(
                "[[api.keys]]\nrole = \"read\"\nsha256 = \"{}\"",
                entry.sha256
            )
        );
        assert_eq!(
            env,
            format!(
                "COINBEAT_API__KEYS='[{{role=\"read\",sha256=\"{}\"}}]'",
                entry.sha256
            )
        );
    }
}
