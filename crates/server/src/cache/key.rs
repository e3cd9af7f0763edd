//! Cache keys for requests whose canonical form is not a single value:
//! pages of search results and of the recall list.

use babyshield_security::to_hex;
use sha2::{Digest, Sha256};

/// A page of results: the query's fingerprint (which already ignores how
/// the JSON spelled it), the page size and position. Cursors are long and
/// client-supplied, so only their digest goes into the key.
pub fn page(fingerprint: &[u8; 32], limit: u32, offset: u32, cursor: Option<&str>) -> String {
    let cursor = match cursor {
        Some(token) => to_hex(&Sha256::digest(token.as_bytes())[..16]),
        None => "-".to_string(),
    };
    format!("{}:l{limit}:o{offset}:c{cursor}", to_hex(fingerprint))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_differ_by_size_position_and_cursor_but_not_by_cursor_length() {
        let f = [7u8; 32];
        let first = page(&f, 20, 0, None);
        assert_ne!(first, page(&f, 10, 0, None));
        assert_ne!(first, page(&f, 20, 20, None));
        let long = "c".repeat(900);
        let with_cursor = page(&f, 20, 0, Some(&long));
        assert_ne!(first, with_cursor);
        assert!(with_cursor.len() < 120, "{with_cursor}");
        assert_ne!(with_cursor, page(&f, 20, 0, Some("other")));
        assert_ne!(first, page(&[8u8; 32], 20, 0, None));
    }
}
