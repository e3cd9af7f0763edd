//! One TLS stack: rustls with the ring provider (sqlx and lettre use ring
//! already; reqwest's default would compile aws-lc as well).

/// Makes ring the process-wide rustls provider, once; later calls (and a
/// provider installed by someone else first) are fine.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
