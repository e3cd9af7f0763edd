//! The sign-up / password-change policy, following NIST SP 800-63B: a length
//! range and a blocklist of known-breached passwords instead of composition
//! rules, which push people to `Password1!`.

use std::collections::HashSet;
use std::sync::OnceLock;

const MIN_CHARS: usize = 8;
/// Long enough for any passphrase, short enough that hashing cost stays bounded.
const MAX_CHARS: usize = 128;

/// The 30,000 most frequent passwords from zxcvbn's list; see the header line
/// of the file for its source and license.
const COMMON_PASSWORDS: &str = include_str!("../../data/common-passwords.txt");

/// Why a new password is refused; the Display text is shown to the user as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("password must be at least 8 characters")]
    TooShort,
    #[error("password must be at most 128 characters")]
    TooLong,
    #[error("this password is too common; choose another")]
    TooCommon,
    #[error("password must not be your email address")]
    SameAsEmail,
}

/// Checks a new password. Length counts characters, not bytes, so non-Latin
/// passphrases are not penalised; comparisons ignore case because attackers'
/// guess lists do too.
pub fn check_policy(password: &str, email: Option<&str>) -> Result<(), PolicyError> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(PolicyError::TooShort);
    }
    if chars > MAX_CHARS {
        return Err(PolicyError::TooLong);
    }
    let lowered = password.to_lowercase();
    if common_passwords().contains(lowered.as_str()) {
        return Err(PolicyError::TooCommon);
    }
    if let Some(email) = email {
        let email = email.trim().to_lowercase();
        let local = email.rsplit_once('@').map_or(email.as_str(), |(l, _)| l);
        if lowered == email || (!local.is_empty() && lowered == local) {
            return Err(PolicyError::SameAsEmail);
        }
    }
    Ok(())
}

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS.lines().filter(|line| !line.is_empty() && !line.starts_with('#')).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_list_has_at_least_ten_thousand_lowercase_entries() {
        let set = common_passwords();
        assert!(set.len() >= 10_000, "only {} entries", set.len());
        assert!(set.iter().all(|p| *p == p.to_lowercase()));
    }

    #[test]
    fn common_passwords_are_rejected_whatever_their_case() {
        for pw in ["password1", "qwerty123", "iloveyou", "PassWord1", "IloveYOU"] {
            assert_eq!(check_policy(pw, None), Err(PolicyError::TooCommon), "{pw}");
        }
    }

    #[test]
    fn a_long_passphrase_is_accepted() {
        assert_eq!(check_policy("correct horse battery staple", None), Ok(()));
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // 7 characters but 21 bytes.
        assert_eq!(check_policy("ключ日本語", None), Err(PolicyError::TooShort));
        // 8 characters, 24 bytes.
        assert_eq!(check_policy("日本語日本語日本", None), Ok(()));
        assert_eq!(check_policy(&"é".repeat(128), None), Ok(()));
        assert_eq!(check_policy(&"é".repeat(129), None), Err(PolicyError::TooLong));
    }

    #[test]
    fn length_boundaries_are_eight_and_one_hundred_twenty_eight() {
        assert_eq!(check_policy("zq7#vT2", None), Err(PolicyError::TooShort));
        assert_eq!(check_policy("zq7#vT2m", None), Ok(()));
        assert_eq!(check_policy("", None), Err(PolicyError::TooShort));
    }

    #[test]
    fn the_email_or_its_local_part_is_rejected() {
        let email = Some("Jane.Parent@example.com");
        assert_eq!(check_policy("jane.parent@EXAMPLE.com", email), Err(PolicyError::SameAsEmail));
        assert_eq!(check_policy("JANE.PARENT", email), Err(PolicyError::SameAsEmail));
        assert_eq!(check_policy("jane.parent.2024!", email), Ok(()));
    }

    #[test]
    fn messages_are_user_facing() {
        assert_eq!(PolicyError::TooShort.to_string(), "password must be at least 8 characters");
        assert_eq!(PolicyError::TooLong.to_string(), "password must be at most 128 characters");
        assert_eq!(PolicyError::TooCommon.to_string(), "this password is too common; choose another");
        assert_eq!(PolicyError::SameAsEmail.to_string(), "password must not be your email address");
    }
}
