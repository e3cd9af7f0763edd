//! Security primitives for BabyShield: password hashing and policy, access
//! tokens, opaque tokens, field encryption, email normalization and the
//! tamper-evident audit chain. Pure functions and small types, no I/O.

pub mod audit;
pub mod email;
pub mod field;
mod hex;
mod key_spec;
pub mod opaque;
pub mod password;
pub mod token;

pub use audit::{AuditChain, AuditRecord, BreakKind, ChainBreak, GENESIS, hash_ip};
pub use email::{EmailError, normalize_email};
pub use field::{BlindIndex, DataKeyRing, FieldError, sealed_kid};
pub use hex::to_hex;
pub use opaque::{new_opaque_token, token_digest};
pub use password::{
    PasswordError, PasswordParams, PolicyError, check_policy, dummy_hash, hash_password, needs_rehash,
    verify_password,
};
pub use token::{AccessClaims, KeyRing, SigningKey, TokenError, TokenSettings};
