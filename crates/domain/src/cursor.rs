//! Tamper-evident keyset cursors for search paging.
//!
//! A cursor carries the last position of a page (score, recall date, id) so
//! the next page continues after it without `OFFSET` scans. It is signed so
//! clients cannot forge positions, bound to the query's fingerprint so it
//! cannot be replayed against another search, and time-stamped so stale
//! cursors expire.
//!
//! Layout before base64url (no padding), integers big-endian:
//! `version u8 | fingerprint[..16] | score i64 | issued_at i64 |
//! date_len u16 | date | id_len u16 | id | HMAC-SHA256 tag (32)`.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const FINGERPRINT_LEN: usize = 16;
const TAG_LEN: usize = 32;
const FIXED_LEN: usize = 1 + FINGERPRINT_LEN + 8 + 8 + 2 + 2;
/// Far above any token we issue; rejects junk before decoding it.
const MAX_TOKEN_LEN: usize = 2048;
/// Cursors issued by a server whose clock runs slightly ahead stay usable.
const CLOCK_SKEW_SECS: i64 = 300;

/// The server's secret for signing cursors. Not printed by `Debug`.
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl CursorKey {
    pub fn new(bytes: [u8; 32]) -> CursorKey {
        CursorKey(bytes)
    }

    /// Derives a key from a configured secret of any length, so operators
    /// can supply a passphrase rather than exactly 32 bytes.
    pub fn derive(secret: &[u8]) -> CursorKey {
        let mut hasher = Sha256::new();
        hasher.update(b"babyshield-cursor-key-v1");
        hasher.update(secret);
        CursorKey(hasher.finalize().into())
    }

    fn mac(&self) -> HmacSha256 {
        <HmacSha256 as KeyInit>::new_from_slice(&self.0).expect("HMAC accepts keys of any length")
    }
}

impl fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

/// Where the previous page ended, in the search order
/// (score desc, recall date desc, id asc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPosition {
    pub score: i64,
    /// `YYYY-MM-DD`.
    pub recall_date: String,
    pub id: String,
}

/// Why a cursor was refused; messages are shown to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("cursor is malformed")]
    Malformed,
    #[error("cursor is invalid or was modified")]
    BadSignature,
    #[error("cursor was not issued for this query")]
    WrongQuery,
    #[error("cursor has expired; repeat the search")]
    Expired,
}

/// Encodes and signs `pos` for the query with `fingerprint`.
///
/// `pos.recall_date` and `pos.id` are short (a date and a recall id of at
/// most 128 characters); longer values are truncated to 65535 bytes, which
/// only matters for misuse.
pub fn encode_cursor(
    key: &CursorKey,
    fingerprint: &[u8; 32],
    pos: &SearchPosition,
    issued_at_unix: i64,
) -> String {
    let date = bounded(&pos.recall_date);
    let id = bounded(&pos.id);
    let mut bytes = Vec::with_capacity(FIXED_LEN + date.len() + id.len() + TAG_LEN);
    bytes.push(VERSION);
    bytes.extend_from_slice(&fingerprint[..FINGERPRINT_LEN]);
    bytes.extend_from_slice(&pos.score.to_be_bytes());
    bytes.extend_from_slice(&issued_at_unix.to_be_bytes());
    for field in [date, id] {
        bytes.extend_from_slice(&(field.len() as u16).to_be_bytes());
        bytes.extend_from_slice(field);
    }
    let mut mac = key.mac();
    mac.update(&bytes);
    bytes.extend_from_slice(&mac.finalize().into_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

fn bounded(s: &str) -> &[u8] {
    let bytes = s.as_bytes();
    &bytes[..bytes.len().min(usize::from(u16::MAX))]
}

/// Verifies a cursor and returns the position it carries.
///
/// The signature is checked (in constant time) before anything inside is
/// trusted; then the query binding, then the age.
pub fn decode_cursor(
    key: &CursorKey,
    token: &str,
    fingerprint: &[u8; 32],
    now_unix: i64,
    max_age_secs: i64,
) -> Result<SearchPosition, CursorError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(CursorError::Malformed);
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| CursorError::Malformed)?;
    if bytes.len() < FIXED_LEN + TAG_LEN {
        return Err(CursorError::Malformed);
    }
    let (payload, tag) = bytes.split_at(bytes.len() - TAG_LEN);
    let mut mac = key.mac();
    mac.update(payload);
    mac.verify_slice(tag).map_err(|_| CursorError::BadSignature)?;

    let mut reader = Reader(payload);
    if reader.take::<1>()? != [VERSION] {
        return Err(CursorError::Malformed);
    }
    let cursor_fingerprint = reader.take::<FINGERPRINT_LEN>()?;
    let score = i64::from_be_bytes(reader.take::<8>()?);
    let issued_at = i64::from_be_bytes(reader.take::<8>()?);
    let recall_date = reader.string()?;
    let id = reader.string()?;
    if !reader.0.is_empty() {
        return Err(CursorError::Malformed);
    }
    if cursor_fingerprint != fingerprint[..FINGERPRINT_LEN] {
        return Err(CursorError::WrongQuery);
    }
    let age = now_unix.saturating_sub(issued_at);
    if age > max_age_secs || age < -CLOCK_SKEW_SECS {
        return Err(CursorError::Expired);
    }
    Ok(SearchPosition { score, recall_date, id })
}

/// Reads the payload front to back; any shortfall is `Malformed`.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], CursorError> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or(CursorError::Malformed)?;
        self.0 = rest;
        Ok(*head)
    }

    fn string(&mut self) -> Result<String, CursorError> {
        let len = usize::from(u16::from_be_bytes(self.take::<2>()?));
        if self.0.len() < len {
            return Err(CursorError::Malformed);
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8(head.to_vec()).map_err(|_| CursorError::Malformed)
    }
}

#[cfg(test)]
mod tests;
