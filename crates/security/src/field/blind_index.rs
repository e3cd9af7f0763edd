//! Equality lookups on encrypted columns (e.g. "find the account for this
//! email") without decrypting every row: store a keyed hash next to the
//! ciphertext and search by it.
//!
//! Use a key separate from the encryption keys, and normalize the input first
//! (see [`crate::email::normalize_email`]) so equal values index equally.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::FieldError;
use crate::hex::to_hex;

/// Keeps these MACs distinct from any other HMAC made with the same key.
const DOMAIN: &[u8] = b"babyshield/blind-index/v1\0";
const MIN_KEY_LEN: usize = 32;

#[derive(Clone)]
pub struct BlindIndex {
    mac: Hmac<Sha256>,
}

impl fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlindIndex([redacted])")
    }
}

impl BlindIndex {
    /// Requires at least 32 bytes of key so the index cannot be brute-forced
    /// from the (low-entropy) values it hides.
    pub fn new(key: &[u8]) -> Result<BlindIndex, FieldError> {
        if key.len() < MIN_KEY_LEN {
            return Err(FieldError::InvalidKey(format!(
                "blind index key must be at least {MIN_KEY_LEN} bytes, got {}",
                key.len()
            )));
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(key)
            .map_err(|_| FieldError::InvalidKey("blind index key rejected".to_owned()))?;
        mac.update(DOMAIN);
        Ok(BlindIndex { mac })
    }

    /// HMAC-SHA256 of the domain prefix and `normalized`, lowercase hex (64 chars).
    pub fn compute(&self, normalized: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(normalized.as_bytes());
        to_hex(&mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_input_and_key_give_the_same_index() {
        let index = BlindIndex::new(&[7; 32]).unwrap();
        let a = index.compute("jane@example.com");
        assert_eq!(a, index.compute("jane@example.com"));
        assert_eq!(a, BlindIndex::new(&[7; 32]).unwrap().compute("jane@example.com"));
        assert_eq!(a.len(), 64);
        assert_ne!(a, index.compute("john@example.com"));
    }

    #[test]
    fn index_depends_on_the_key() {
        let a = BlindIndex::new(&[7; 32]).unwrap().compute("jane@example.com");
        let b = BlindIndex::new(&[8; 32]).unwrap().compute("jane@example.com");
        assert_ne!(a, b);
    }

    #[test]
    fn index_is_domain_separated_from_a_plain_hmac() {
        let key = [7u8; 32];
        let mut plain = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        plain.update(b"jane@example.com");
        let plain = to_hex(&plain.finalize().into_bytes());
        assert_ne!(BlindIndex::new(&key).unwrap().compute("jane@example.com"), plain);
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(matches!(BlindIndex::new(&[7; 31]), Err(FieldError::InvalidKey(_))));
    }
}
