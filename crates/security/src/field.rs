//! Personal data encrypted at rest (names, phone numbers, child birth dates):
//! a leaked database dump or backup is useless without the keys.
//!
//! Sealed values are self-describing text, `v1:<kid>:<base64url(nonce || ciphertext || tag)>`,
//! so keys can rotate: new values use the current key, old ones still open
//! while their key stays in the ring, and [`DataKeyRing::needs_reseal`] finds
//! values a background job should re-encrypt.
//!
//! Callers pass AAD naming where the value lives (e.g. `b"users.phone:42"`), so
//! a ciphertext copied into another row or column fails to open.

use std::fmt;

use aes_gcm::aead::{Aead, Nonce, Payload};
use aes_gcm::{Aes256Gcm, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use crate::key_spec::parse_key_spec;

mod blind_index;

pub use blind_index::BlindIndex;

const VERSION: &str = "v1";
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Why a sealed value or a key could not be used. None of these reveal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("invalid data key configuration: {0}")]
    InvalidKey(String),
    #[error("encrypted value uses unknown key \"{0}\"")]
    UnknownKey(String),
    #[error("encrypted value is malformed")]
    Malformed,
    #[error("encrypted value failed authentication (tampered, or opened with the wrong context)")]
    AuthenticationFailed,
}

/// AES-256-GCM keys by kid; the first seals, all open.
pub struct DataKeyRing {
    keys: Vec<(String, Aes256Gcm)>,
}

impl fmt::Debug for DataKeyRing {
    /// Lists kids only; key material never reaches logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|(kid, _)| kid.as_str()).collect();
        f.debug_struct("DataKeyRing").field("kids", &kids).finish()
    }
}

impl DataKeyRing {
    /// Parses `"kid1:base64url-32-bytes,kid0:base64url-32-bytes"`, current key first.
    pub fn parse(spec: &str) -> Result<DataKeyRing, FieldError> {
        let entries = parse_key_spec(spec).map_err(FieldError::InvalidKey)?;
        let mut keys = Vec::with_capacity(entries.len());
        for (index, (kid, secret)) in entries.into_iter().enumerate() {
            if secret.len() != KEY_LEN {
                return Err(FieldError::InvalidKey(format!(
                    "entry {} (kid \"{kid}\"): key must be exactly {KEY_LEN} bytes, got {}",
                    index + 1,
                    secret.len()
                )));
            }
            let cipher = Aes256Gcm::new_from_slice(&secret)
                .map_err(|_| FieldError::InvalidKey(format!("entry {}: bad key", index + 1)))?;
            keys.push((kid, cipher));
        }
        Ok(DataKeyRing { keys })
    }

    /// The kid new values are sealed with.
    pub fn current_kid(&self) -> &str {
        &self.keys[0].0
    }

    /// Encrypts with the current key and a fresh random 96-bit nonce. Random
    /// nonces are safe for well over a billion values per key; rotate long before.
    pub fn seal(&self, plaintext: &str, aad: &[u8]) -> String {
        let (kid, cipher) = &self.keys[0];
        let mut nonce_bytes = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce_bytes);
        let nonce = Nonce::<Aes256Gcm>::from(nonce_bytes);
        let ciphertext = cipher
            .encrypt(&nonce, Payload { msg: plaintext.as_bytes(), aad })
            .expect("AES-GCM encryption only fails for inputs of many gigabytes");
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce_bytes);
        blob.extend_from_slice(&ciphertext);
        format!("{VERSION}:{kid}:{}", URL_SAFE_NO_PAD.encode(blob))
    }

    /// Decrypts a value from [`seal`](Self::seal) with the same `aad`.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<String, FieldError> {
        let (kid, body) = split_sealed(sealed).ok_or(FieldError::Malformed)?;
        let cipher = self
            .keys
            .iter()
            .find(|(k, _)| k == kid)
            .map(|(_, cipher)| cipher)
            .ok_or_else(|| FieldError::UnknownKey(kid.to_owned()))?;
        let blob = URL_SAFE_NO_PAD.decode(body).map_err(|_| FieldError::Malformed)?;
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(FieldError::Malformed);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let nonce = Nonce::<Aes256Gcm>::try_from(nonce).map_err(|_| FieldError::Malformed)?;
        let plaintext = cipher
            .decrypt(&nonce, Payload { msg: ciphertext, aad })
            .map_err(|_| FieldError::AuthenticationFailed)?;
        // Authenticated, so this only fails if someone sealed non-UTF-8 with our key.
        String::from_utf8(plaintext).map_err(|_| FieldError::Malformed)
    }

    /// Same as the free function [`sealed_kid`].
    pub fn sealed_kid(sealed: &str) -> Option<&str> {
        sealed_kid(sealed)
    }

    /// True when `sealed` was made with an older key and should be re-sealed.
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        sealed_kid(sealed) != Some(self.current_kid())
    }
}

/// The kid a sealed value names, without decrypting it (for rotation jobs and metrics).
pub fn sealed_kid(sealed: &str) -> Option<&str> {
    split_sealed(sealed).map(|(kid, _)| kid)
}

fn split_sealed(sealed: &str) -> Option<(&str, &str)> {
    let rest = sealed.strip_prefix(VERSION)?.strip_prefix(':')?;
    let (kid, body) = rest.split_once(':')?;
    (!kid.is_empty() && !body.is_empty()).then_some((kid, body))
}

#[cfg(test)]
mod tests;
