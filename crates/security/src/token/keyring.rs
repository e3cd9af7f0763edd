//! The set of HMAC keys for access tokens. Rotation: put the new key first,
//! keep the old one after it for one token lifetime, then drop it.

use std::fmt;

use super::TokenError;
use crate::key_spec::{check_kid, parse_key_spec};

/// HS256 keys shorter than the hash output weaken the MAC (RFC 7518 §3.2).
const MIN_SECRET_LEN: usize = 32;

/// One named HMAC secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub kid: String,
    pub secret: Vec<u8>,
}

impl fmt::Debug for SigningKey {
    /// The secret is never printed, so a logged config cannot leak it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("secret", &"[redacted]").finish()
    }
}

/// The first key signs; every key verifies.
#[derive(Debug, Clone)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
}

impl KeyRing {
    /// Requires at least one key, unique well-formed kids and 32-byte secrets.
    pub fn new(keys: Vec<SigningKey>) -> Result<KeyRing, TokenError> {
        if keys.is_empty() {
            return Err(TokenError::InvalidKeyRing("at least one key is required".to_owned()));
        }
        for (index, key) in keys.iter().enumerate() {
            let position = index + 1;
            check_kid(&key.kid).map_err(|e| TokenError::InvalidKeyRing(format!("entry {position}: {e}")))?;
            if keys[..index].iter().any(|k| k.kid == key.kid) {
                return Err(TokenError::InvalidKeyRing(format!(
                    "entry {position}: duplicate kid \"{}\"",
                    key.kid
                )));
            }
            if key.secret.len() < MIN_SECRET_LEN {
                return Err(TokenError::InvalidKeyRing(format!(
                    "entry {position} (kid \"{}\"): secret must be at least {MIN_SECRET_LEN} bytes, got {}",
                    key.kid,
                    key.secret.len()
                )));
            }
        }
        Ok(KeyRing { keys })
    }

    /// Parses `"kid1:base64url-secret,kid0:base64url-secret"`, current key first.
    pub fn parse(spec: &str) -> Result<KeyRing, TokenError> {
        let keys = parse_key_spec(spec).map_err(TokenError::InvalidKeyRing)?;
        KeyRing::new(keys.into_iter().map(|(kid, secret)| SigningKey { kid, secret }).collect())
    }

    /// The kid new tokens are signed with.
    pub fn current_kid(&self) -> &str {
        &self.current().kid
    }

    pub(super) fn current(&self) -> &SigningKey {
        &self.keys[0]
    }

    pub(super) fn find(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}
