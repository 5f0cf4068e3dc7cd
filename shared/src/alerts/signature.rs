//! Signing a delivery, so a receiver can tell it came from coinbeat and was not replayed.
//!
//! Each delivery carries `Coinbeat-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`, the MAC
//! of `"<t>.<body>"` keyed with the alert's secret (the scheme Stripe and others use). A
//! receiver recomputes it over the raw body, compares in constant time, and refuses a `t` too
//! far from its own clock.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header a delivery's signature travels in.
pub const SIGNATURE_HEADER: &str = "coinbeat-signature";

/// A new signing secret: `whsec_` and 32 random bytes in hex.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", crate::api_keys::hex(&bytes))
}

/// The header value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", crate::api_keys::hex(&mac))
}

/// Whether `header` signs `body` with `secret`, at a time within `tolerance_secs` of `now`.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64, tolerance_secs: i64) -> bool {
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signature = decode_hex(v),
            _ => {}
        }
    }
    let (Some(t), Some(sig)) = (timestamp, signature) else {
        return false;
    };
    now.abs_diff(t) <= tolerance_secs.unsigned_abs()
        && mac(secret, t, body).verify_slice(&sig).is_ok()
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any size");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let secret = new_secret();
        assert!(secret.starts_with("whsec_") && secret.len() == 6 + 64);
        let body = br#"{"alert_id":"x"}"#;
        let header = sign(&secret, 1_700_000_000, body);
        assert!(verify(&secret, &header, body, 1_700_000_010, 300));
        assert!(!verify(&secret, &header, b"{}", 1_700_000_010, 300));
        assert!(!verify("whsec_other", &header, body, 1_700_000_010, 300));
        assert!(
            !verify(&secret, &header, body, 1_700_001_000, 300),
            "too old"
        );
        assert!(!verify(&secret, "t=1,v1=zz", body, 1, 300));
        assert!(!verify(
            &secret,
            &format!("t={},v1=00", i64::MIN),
            body,
            i64::MAX,
            300
        ));
    }

    #[test]
    fn the_mac_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231 test case 2 shape, checked with Python:
        // hmac.new(b"Jefe", b"1.what do ya want for nothing?", hashlib.sha256).hexdigest()
        assert_eq!(
            sign("Jefe", 1, b"what do ya want for nothing?"),
            "t=1,v1=a9049465ce89cfb8e9aac62333abda66f80e3403f51f57f6bae3c3a4485eca38"
        );
    }
}
