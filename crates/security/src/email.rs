//! Email normalization: one canonical form per address, so sign-up, login
//! and the blind index all agree that `Jane@Example.com ` is `jane@example.com`.
//!
//! Deliberately a plausibility check, not RFC 5322: the address is proven by
//! the verification mail, this only keeps obvious junk out of the database.

const MIN_LEN: usize = 3;
/// RFC 5321 path limit, in octets.
const MAX_LEN: usize = 254;
/// RFC 5321 local-part limit, in octets.
const MAX_LOCAL_LEN: usize = 64;

/// The address was refused; the Display text is shown to the user as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("email address is not valid")]
pub struct EmailError;

/// Trims and lowercases, then requires: 3-254 bytes, exactly one `@`, a
/// local part of 1-64 bytes, a domain of dot-separated non-empty labels with
/// at least one dot, and no whitespace or control characters anywhere.
pub fn normalize_email(input: &str) -> Result<String, EmailError> {
    let email = input.trim().to_lowercase();
    if !(MIN_LEN..=MAX_LEN).contains(&email.len()) {
        return Err(EmailError);
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(EmailError);
    }
    let mut parts = email.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(EmailError);
    };
    if local.is_empty() || local.len() > MAX_LOCAL_LEN {
        return Err(EmailError);
    }
    if !domain.contains('.') || domain.split('.').any(str::is_empty) {
        return Err(EmailError);
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_lowercases() {
        assert_eq!(
            normalize_email("  Jane.Parent+Recalls@Example.COM \n").unwrap(),
            "jane.parent+recalls@example.com"
        );
    }

    #[test]
    fn accepts_short_and_maximal_addresses() {
        assert_eq!(normalize_email("a@b.c").unwrap(), "a@b.c");
        let local = "l".repeat(64);
        let domain = format!("{}.com", "d".repeat(254 - 64 - 1 - 4));
        let longest = format!("{local}@{domain}");
        assert_eq!(longest.len(), 254);
        assert_eq!(normalize_email(&longest).unwrap(), longest);
        assert!(normalize_email(&format!("{longest}m")).is_err());
    }

    #[test]
    fn rejects_addresses_without_exactly_one_at() {
        for bad in ["jane.example.com", "jane@@example.com", "a@b@example.com", "@", "@@@"] {
            assert_eq!(normalize_email(bad), Err(EmailError), "{bad}");
        }
    }

    #[test]
    fn rejects_empty_or_overlong_local_parts() {
        assert_eq!(normalize_email("@example.com"), Err(EmailError));
        assert_eq!(normalize_email(&format!("{}@example.com", "l".repeat(65))), Err(EmailError));
    }

    #[test]
    fn rejects_domains_without_a_proper_dot() {
        for bad in ["jane@localhost", "jane@.com", "jane@example.", "jane@example..com", "jane@"] {
            assert_eq!(normalize_email(bad), Err(EmailError), "{bad}");
        }
    }

    #[test]
    fn rejects_inner_spaces_and_control_characters() {
        for bad in [
            "jane doe@example.com",
            "jane@exa mple.com",
            "jane\t@example.com",
            "ja\u{0}ne@example.com",
            "jane@example.com\u{7f}x",
        ] {
            assert_eq!(normalize_email(bad), Err(EmailError), "{bad:?}");
        }
    }

    #[test]
    fn rejects_too_short_input() {
        assert_eq!(normalize_email(""), Err(EmailError));
        assert_eq!(normalize_email("   "), Err(EmailError));
        assert_eq!(normalize_email("a@"), Err(EmailError));
    }

    #[test]
    fn error_message_is_user_facing() {
        assert_eq!(EmailError.to_string(), "email address is not valid");
    }
}
