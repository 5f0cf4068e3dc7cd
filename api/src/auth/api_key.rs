//! API keys: random 256-bit keys (`cbk_` + 64 hex digits), printed once when made, stored in
//! the settings only as their SHA-256 with a role, and checked in constant time.
//!
//! SHA-256 without a salt or a slow hash is enough here: a key has 256 bits of entropy, so a
//! leaked hash cannot be reversed by guessing.

use coinbeat_shared::settings::{ApiKeyEntry, Role};
use rand::RngCore;
use sha2::{Digest, Sha256};

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

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The configured keys, as digests.
#[derive(Debug)]
pub struct KeyRing {
    keys: Vec<([u8; 32], Role)>,
}

impl KeyRing {
    /// Fails with the index of an entry whose hash is not 64 hex digits.
    pub fn new(entries: &[ApiKeyEntry]) -> Result<Self, usize> {
        let keys = entries
            .iter()
            .enumerate()
            .map(|(i, e)| e.digest().map(|d| (d, e.role)).ok_or(i))
            .collect::<Result<_, _>>()?;
        Ok(Self { keys })
    }

    /// The role of `token` if it is a configured key. Every configured hash is compared, each
    /// in constant time, so the answer time says nothing about which key came close.
    pub fn role_of(&self, token: &str) -> Option<Role> {
        self.identify(token).map(|(role, _)| role)
    }

    /// The role of `token` and the first 12 hex digits of its SHA-256 (the start of the hash
    /// the settings hold, so an operator can tell which key it was), if it is a configured key.
    pub fn identify(&self, token: &str) -> Option<(Role, String)> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (key, role) in &self.keys {
            if constant_time_eq(&digest, key) {
                found = found.max(Some(*role));
            }
        }
        found.map(|role| (role, hex(&digest[..6])))
    }
}

/// Whether `a == b`, looking at every byte whatever the first difference.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_256_random_bits_and_only_its_own_hash_matches_it() {
        let a = ApiKey::generate();
        let b = ApiKey::generate();
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with(KEY_PREFIX));
        let hex_part = &a.expose()[KEY_PREFIX.len()..];
        assert_eq!(hex_part.len(), 64);
        assert!(hex_part.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(!format!("{a:?}").contains(hex_part));

        let ring = KeyRing::new(&[a.entry(Role::Enqueue)]).unwrap();
        assert_eq!(ring.role_of(a.expose()), Some(Role::Enqueue));
        assert_eq!(ring.role_of(b.expose()), None);
        let mut near = a.expose().to_owned();
        near.pop();
        assert_eq!(ring.role_of(&near), None);
        assert_eq!(
            ring.role_of(&a.entry(Role::Admin).sha256),
            None,
            "the hash is no key"
        );
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
    fn digests_are_equal_only_when_every_byte_is() {
        let a = [7u8; 32];
        let mut b = a;
        assert!(constant_time_eq(&a, &b));
        b[31] ^= 1;
        assert!(!constant_time_eq(&a, &b));
    }
}
