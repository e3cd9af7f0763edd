//! Stable percentage bucketing: a subject lands in the same bucket of a
//! flag on every request and every instance, and raising the percentage only
//! ever adds subjects. Buckets of different flags are independent, so the
//! same 10 % of users are not the guinea pigs of every rollout.

use sha2::{Digest, Sha256};

/// The subject's bucket for `flag`, in `0..100`; a percentage flag is on
/// for the subject when `bucket < percent`.
pub fn bucket(flag: &str, subject: &str) -> u8 {
    let digest =
        Sha256::new().chain_update(flag.as_bytes()).chain_update([0u8]).chain_update(subject).finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // 2^64 mod 100 skews the low buckets by under 1e-17: negligible.
    (u64::from_be_bytes(first) % 100) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_always_gets_the_same_bucket() {
        for subject in ["user-1", "203.0.113.9", ""] {
            assert_eq!(bucket("search.new_ranking", subject), bucket("search.new_ranking", subject));
            assert!(bucket("search.new_ranking", subject) < 100);
        }
    }

    #[test]
    fn shares_are_roughly_the_percentage() {
        let subjects: Vec<String> = (0..10_000).map(|i| format!("user-{i}")).collect();
        for percent in [0u8, 1, 25, 50, 90, 100] {
            let on = subjects.iter().filter(|s| bucket("search.new_ranking", s) < percent).count();
            let expected = usize::from(percent) * 100;
            assert!(on.abs_diff(expected) <= 250, "{percent}%: {on} of 10000");
        }
    }

    #[test]
    fn raising_the_percentage_only_adds_subjects() {
        let subjects: Vec<String> = (0..2_000).map(|i| format!("u{i}")).collect();
        let on = |p: u8| -> Vec<&String> { subjects.iter().filter(|s| bucket("f", s) < p).collect() };
        let (ten, thirty) = (on(10), on(30));
        assert!(ten.iter().all(|s| thirty.contains(s)));
    }

    #[test]
    fn flags_bucket_independently() {
        let subjects: Vec<String> = (0..2_000).map(|i| format!("u{i}")).collect();
        let in_both =
            subjects.iter().filter(|s| bucket("flag.a", s) < 50 && bucket("flag.b", s) < 50).count();
        // Independent halves overlap in about a quarter.
        assert!((400..=600).contains(&in_both), "{in_both}");
    }
}
