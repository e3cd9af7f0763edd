//! Opaque bearer secrets (refresh, password-reset, email-verification tokens).
//!
//! Only their SHA-256 digest is stored, so a database leak does not hand out
//! working tokens; 256 random bits make a plain hash sufficient (no salt or
//! slow hash needed, unlike passwords).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::hex::to_hex;

/// 32 random bytes from the OS-seeded CSPRNG, base64url without padding (43 chars).
pub fn new_opaque_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Lowercase hex SHA-256 of the token as presented; the value to store and look up.
pub fn token_digest(token: &str) -> String {
    to_hex(&Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_43_url_safe_characters_encoding_32_bytes() {
        let token = new_opaque_token();
        assert_eq!(token.len(), 43);
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(URL_SAFE_NO_PAD.decode(&token).unwrap().len(), 32);
    }

    #[test]
    fn tokens_do_not_repeat() {
        let tokens: std::collections::HashSet<_> = (0..1000).map(|_| new_opaque_token()).collect();
        assert_eq!(tokens.len(), 1000);
    }

    #[test]
    fn digest_is_sha256_hex_of_the_token() {
        assert_eq!(token_digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let token = new_opaque_token();
        assert_eq!(token_digest(&token), token_digest(&token));
        assert_ne!(token_digest(&token), token_digest(&new_opaque_token()));
    }
}
