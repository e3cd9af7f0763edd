//! The `kid:base64url-secret,kid:base64url-secret` format shared by the token
//! signing keys and the field-encryption keys. The first entry is the current
//! key; the rest are older keys still accepted for reading during a rotation.
//!
//! Error messages name the entry (position and kid) but never echo a secret.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const MAX_KID_LEN: usize = 64;

/// Splits and decodes a key spec into `(kid, secret)` pairs in order, rejecting
/// empty specs, bad kids, bad base64url and duplicate kids.
pub(crate) fn parse_key_spec(spec: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut keys: Vec<(String, Vec<u8>)> = Vec::new();
    for (index, entry) in spec.split(',').map(str::trim).enumerate() {
        let position = index + 1;
        if entry.is_empty() {
            return Err(format!("entry {position} is empty"));
        }
        let Some((kid, secret)) = entry.split_once(':') else {
            return Err(format!("entry {position}: expected kid:base64url-secret"));
        };
        let kid = kid.trim();
        check_kid(kid).map_err(|e| format!("entry {position}: {e}"))?;
        let secret = URL_SAFE_NO_PAD
            .decode(secret.trim().trim_end_matches('='))
            .map_err(|_| format!("entry {position} (kid \"{kid}\"): secret is not valid base64url"))?;
        if keys.iter().any(|(existing, _)| existing == kid) {
            return Err(format!("entry {position}: duplicate kid \"{kid}\""));
        }
        keys.push((kid.to_owned(), secret));
    }
    Ok(keys)
}

/// Kids travel in JWT headers and inside sealed field values (`v1:<kid>:...`),
/// so they are limited to characters that need no escaping in either place.
pub(crate) fn check_kid(kid: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if kid.is_empty() || kid.len() > MAX_KID_LEN || !kid.chars().all(allowed) {
        return Err(format!("kid must be 1-{MAX_KID_LEN} characters of A-Z a-z 0-9 . _ -"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn parses_entries_in_order_with_optional_padding_and_spaces() {
        let spec = format!("new:{} , old:{}=", b64(&[1; 32]), b64(&[2; 32]));
        let keys = parse_key_spec(&spec).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0], ("new".to_owned(), vec![1; 32]));
        assert_eq!(keys[1], ("old".to_owned(), vec![2; 32]));
    }

    #[test]
    fn errors_name_the_bad_entry_without_the_secret() {
        let good = b64(&[1; 32]);
        let err = parse_key_spec(&format!("a:{good},b:not*base64")).unwrap_err();
        assert!(err.contains("entry 2") && err.contains("\"b\""), "{err}");
        assert!(!err.contains("not*base64"));
        assert!(parse_key_spec("").unwrap_err().contains("entry 1"));
        assert!(parse_key_spec(&format!("a:{good},")).unwrap_err().contains("entry 2"));
        assert!(parse_key_spec("nocolon").unwrap_err().contains("expected kid:"));
        assert!(parse_key_spec(&format!("a:{good},a:{good}")).unwrap_err().contains("duplicate"));
        assert!(parse_key_spec(&format!("b@d:{good}")).unwrap_err().contains("kid must be"));
    }
}
