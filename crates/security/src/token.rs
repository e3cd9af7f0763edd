//! Short-lived JWT access tokens (HS256) signed by a rotating key ring.
//!
//! Only HS256 is ever accepted, and the header is checked by hand before the
//! library sees the token, so `alg: none`, RS256/ES256 key confusion and other
//! HMAC sizes fail with a clear [`TokenError::DisallowedAlgorithm`].
//! `exp` and `nbf` are checked against the caller's `now_unix` (the library
//! only knows the system clock), which keeps tests and clock injection honest.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};

mod keyring;

pub use keyring::{KeyRing, SigningKey};

/// Far above any token we issue; bounds the work spent on garbage input.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The claims of an access token. `sid` ties it to a server-side session so a
/// revoked session can be refused before the token expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: String,
    pub sid: String,
    pub role: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: String,
}

/// Issuer, audience and lifetime; `leeway_secs` absorbs clock skew between hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub ttl_secs: i64,
    pub leeway_secs: u64,
}

impl Default for TokenSettings {
    /// Fifteen minutes: short enough that a leaked token is soon useless,
    /// long enough that refreshes are rare.
    fn default() -> Self {
        Self {
            issuer: "babyshield".to_owned(),
            audience: "babyshield-app".to_owned(),
            ttl_secs: 900,
            leeway_secs: 30,
        }
    }
}

/// Why a token was refused. Display text is safe to return to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("access token is malformed")]
    Malformed,
    #[error("access token was signed with an unknown key")]
    UnknownKey,
    #[error("access token signature is invalid")]
    BadSignature,
    #[error("access token has expired")]
    Expired,
    #[error("access token is not valid yet")]
    NotYetValid,
    #[error("access token is not meant for this service")]
    WrongAudience,
    #[error("access token was issued by someone else")]
    WrongIssuer,
    #[error("access token algorithm is not allowed")]
    DisallowedAlgorithm,
    #[error("invalid signing key configuration: {0}")]
    InvalidKeyRing(String),
}

impl KeyRing {
    /// Signs a new access token with the current (first) key, naming it in the
    /// header `kid` so verifiers can pick the right key after a rotation.
    pub fn issue(
        &self,
        settings: &TokenSettings,
        sub: &str,
        sid: &str,
        role: &str,
        now_unix: i64,
    ) -> Result<(String, AccessClaims), TokenError> {
        let key = self.current();
        let claims = AccessClaims {
            sub: sub.to_owned(),
            sid: sid.to_owned(),
            role: role.to_owned(),
            iat: now_unix,
            nbf: now_unix,
            exp: now_unix.saturating_add(settings.ttl_secs),
            iss: settings.issuer.clone(),
            aud: settings.audience.clone(),
            jti: new_jti(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&key.secret))
            .map_err(|e| TokenError::InvalidKeyRing(format!("signing failed: {e}")))?;
        Ok((token, claims))
    }

    /// Checks algorithm, key id, signature, issuer, audience, then `exp`/`nbf`
    /// against `now_unix` with the configured leeway. All claims are required.
    pub fn verify(
        &self,
        settings: &TokenSettings,
        token: &str,
        now_unix: i64,
    ) -> Result<AccessClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let header = read_header(token)?;
        if header.get("alg").and_then(|v| v.as_str()) != Some("HS256") {
            return Err(TokenError::DisallowedAlgorithm);
        }
        let kid = header.get("kid").and_then(|v| v.as_str());
        let key = kid.and_then(|kid| self.find(kid)).ok_or(TokenError::UnknownKey)?;

        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);

        let claims =
            jsonwebtoken::decode::<AccessClaims>(token, &DecodingKey::from_secret(&key.secret), &validation)
                .map_err(|e| map_jwt_error(e.kind()))?
                .claims;

        let leeway = i64::try_from(settings.leeway_secs).unwrap_or(i64::MAX);
        if now_unix >= claims.exp.saturating_add(leeway) {
            return Err(TokenError::Expired);
        }
        if now_unix.saturating_add(leeway) < claims.nbf {
            return Err(TokenError::NotYetValid);
        }
        Ok(claims)
    }
}

/// Decodes the JOSE header ourselves so the algorithm and kid can be judged
/// before any key is chosen.
fn read_header(token: &str) -> Result<serde_json::Map<String, serde_json::Value>, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let bytes = URL_SAFE_NO_PAD.decode(header).map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

fn map_jwt_error(kind: &ErrorKind) -> TokenError {
    match kind {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::MissingAlgorithm
        | ErrorKind::UnsupportedAlgorithm => TokenError::DisallowedAlgorithm,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        _ => TokenError::Malformed,
    }
}

/// 128 random bits: unique per token, so a deny-list can name one token.
fn new_jti() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests;
