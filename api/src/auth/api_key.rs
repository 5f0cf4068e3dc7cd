//! API keys, checked: the configured keys as digests, each compared in constant time. Making a
//! key (and the settings lines for it) is `coinbeat_shared::api_keys`, shared with the CLI.

use coinbeat_shared::settings::{ApiKeyEntry, Role};
use sha2::{Digest, Sha256};

pub use coinbeat_shared::api_keys::{ApiKey, KEY_PREFIX, hex, sha256_hex};

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

    /// Whether a configured key has `id` (the 12 hex digits [`Self::identify`] names a key
    /// by) as the start of its hash.
    pub fn holds(&self, id: &str) -> bool {
        self.keys.iter().any(|(key, _)| hex(&key[..6]) == id)
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
    fn only_a_keys_own_hash_matches_it() {
        let a = ApiKey::generate();
        let b = ApiKey::generate();
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
    fn digests_are_equal_only_when_every_byte_is() {
        let a = [7u8; 32];
        let mut b = a;
        assert!(constant_time_eq(&a, &b));
        b[31] ^= 1;
        assert!(!constant_time_eq(&a, &b));
    }
}
