//! A tamper-evident audit log: each record carries an HMAC over its own
//! content and the previous record's MAC, so editing, deleting or reordering
//! stored rows is detectable by anyone holding the key, and cannot be hidden
//! without it.
//!
//! Writers must assign `seq` contiguously (previous seq + 1) in the same
//! transaction that reads the previous MAC; a gap is reported as a deletion.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::hex::to_hex;

mod verify;

pub use verify::{BreakKind, ChainBreak};

/// The `prev_mac` of the first record in a chain.
pub const GENESIS: &str = "genesis";

/// Separates audit MACs from any other use of the same key.
const MAC_DOMAIN: &[u8] = b"babyshield/audit/v1\0";
const IP_DOMAIN: &[u8] = b"babyshield/ip/v1\0";

/// One audit row. `ip_hash` comes from [`hash_ip`]; raw IPs are never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub request_id: String,
    pub ip_hash: String,
    pub details: String,
}

/// Computes and checks record MACs with the audit key.
#[derive(Clone)]
pub struct AuditChain {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for AuditChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditChain([redacted])")
    }
}

impl AuditChain {
    /// `key` should be at least 32 random bytes, kept apart from other keys.
    pub fn new(key: &[u8]) -> AuditChain {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
        mac.update(MAC_DOMAIN);
        AuditChain { mac }
    }

    /// HMAC-SHA256 (lowercase hex) over `prev_mac` and every field including
    /// `seq`, each length-prefixed so no two different records encode alike
    /// (`("ab","c")` vs `("a","bc")`).
    pub fn mac(&self, prev_mac: &str, record: &AuditRecord) -> String {
        let mut mac = self.mac.clone();
        let mut field = |bytes: &[u8]| {
            mac.update(&(bytes.len() as u64).to_be_bytes());
            mac.update(bytes);
        };
        field(prev_mac.as_bytes());
        field(&record.seq.to_be_bytes());
        for text in [
            &record.at,
            &record.actor,
            &record.action,
            &record.target,
            &record.outcome,
            &record.request_id,
            &record.ip_hash,
            &record.details,
        ] {
            field(text.as_bytes());
        }
        to_hex(&mac.finalize().into_bytes())
    }
}

/// Keyed hash of a client IP (first 32 hex chars = 128 bits): lets the log
/// correlate requests from one address without storing the address itself,
/// and a dictionary of all IPv4 addresses is useless without the key.
pub fn hash_ip(key: &[u8], ip: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(IP_DOMAIN);
    mac.update(ip.as_bytes());
    let mut hex = to_hex(&mac.finalize().into_bytes());
    hex.truncate(32);
    hex
}

#[cfg(test)]
mod tests;
