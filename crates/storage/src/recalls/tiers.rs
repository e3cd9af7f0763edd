//! Top-k by relevance without ranking every match.
//!
//! A recall's score is the sum, over the query's term groups, of how well the
//! group matched it: 100 whole word in the title, 70 a title word starting
//! with the term or a typo variant in the title, 40 anywhere else (see
//! `query.rs`). With up to [`MAX_TIERED_GROUPS`] groups the possible sums are
//! few, and each sum ("tier") is a full-text expression of its own: the OR of
//! the level combinations adding up to it, each level written so that the
//! three levels of a group never overlap. Tiers are read best first, each in
//! (recall date desc, id asc) order, and reading stops once the page is full,
//! so a query matching 100,000 recalls reads about one page of rows.
//!
//! SQLite reads a tier in FTS rowid order, which is newest first by
//! construction (migration 0008), then settles the id order among recalls of
//! the page's last date. PostgreSQL orders each tier by its date index.

use std::collections::BTreeMap;

use super::{dialect::MIN_PREFIX_LEN, query::TermGroup};

/// Above this many groups the combinations (3^n) outgrow the benefit and the
/// query ranks every match instead.
pub(crate) const MAX_TIERED_GROUPS: usize = 3;

/// How well one term group matched one recall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// The term is a whole word of the title.
    Whole,
    /// A title word starts with the term, or a typo variant is a title word;
    /// not a whole-word match.
    Partial,
    /// Matched, but not in the title in either way above.
    Elsewhere,
}

impl Level {
    pub(crate) const fn points(self) -> i64 {
        match self {
            Level::Whole => super::query::POINTS_PER_TERM,
            Level::Partial => 70,
            Level::Elsewhere => 40,
        }
    }
}

/// Every recall scoring exactly `score`: one of `combos` (a level per group,
/// in group order) holds for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tier {
    pub score: i64,
    pub combos: Vec<Vec<Level>>,
}

/// Whether a group can match partially at all: by prefix (terms of at least
/// [`MIN_PREFIX_LEN`] characters) or by a typo variant.
pub(crate) fn has_partial(group: &TermGroup) -> bool {
    group.term.len() >= MIN_PREFIX_LEN || !group.variants.is_empty()
}

/// The tiers of a query, best first; `None` when it has no groups or more
/// than [`MAX_TIERED_GROUPS`].
pub(crate) fn tiers(groups: &[TermGroup]) -> Option<Vec<Tier>> {
    if groups.is_empty() || groups.len() > MAX_TIERED_GROUPS {
        return None;
    }
    let mut combos: Vec<Vec<Level>> = vec![Vec::new()];
    for group in groups {
        let levels: &[Level] = if has_partial(group) {
            &[Level::Whole, Level::Partial, Level::Elsewhere]
        } else {
            &[Level::Whole, Level::Elsewhere]
        };
        combos = combos
            .into_iter()
            .flat_map(|combo| {
                levels.iter().map(move |level| {
                    let mut next = combo.clone();
                    next.push(*level);
                    next
                })
            })
            .collect();
    }
    let mut by_score: BTreeMap<i64, Vec<Vec<Level>>> = BTreeMap::new();
    for combo in combos {
        by_score.entry(combo.iter().map(|l| l.points()).sum()).or_default().push(combo);
    }
    Some(by_score.into_iter().rev().map(|(score, combos)| Tier { score, combos }).collect())
}

/// The FTS5 rowid block of a recall date: rowids of recalls of `date`
/// (`YYYY-MM-DD`) lie in `[start, start + 2^32)`, later dates below it.
pub(crate) fn fts_block_start(date: &str) -> Option<i64> {
    let digits: String = date.chars().filter(|c| *c != '-').collect();
    if digits.len() != 8 {
        return None;
    }
    let yyyymmdd: i64 = digits.parse().ok()?;
    Some((99_999_999 - yyyymmdd) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(term: &str, variants: &[&str]) -> TermGroup {
        TermGroup { term: term.into(), variants: variants.iter().map(|v| v.to_string()).collect() }
    }

    #[test]
    fn one_term_has_three_tiers_best_first() {
        let tiers = tiers(&[group("crib", &[])]).unwrap();
        let scores: Vec<i64> = tiers.iter().map(|t| t.score).collect();
        assert_eq!(scores, vec![100, 70, 40]);
        assert_eq!(tiers[0].combos, vec![vec![Level::Whole]]);
    }

    #[test]
    fn a_short_term_without_variants_cannot_match_partially() {
        let tiers = tiers(&[group("tv", &[])]).unwrap();
        assert_eq!(tiers.iter().map(|t| t.score).collect::<Vec<_>>(), vec![100, 40]);
        let with_variant = super::tiers(&[group("tv", &["tvs"])]).unwrap();
        assert_eq!(with_variant.len(), 3);
    }

    #[test]
    fn two_terms_group_equal_sums_into_one_tier() {
        let tiers = tiers(&[group("car", &[]), group("seat", &[])]).unwrap();
        let scores: Vec<i64> = tiers.iter().map(|t| t.score).collect();
        assert_eq!(scores, vec![200, 170, 140, 110, 80]);
        // 140 = 70 + 70 or 100 + 40 (either way round).
        let mut combos = tiers[2].combos.clone();
        combos.sort_by_key(|c| format!("{c:?}"));
        assert_eq!(
            combos,
            vec![
                vec![Level::Elsewhere, Level::Whole],
                vec![Level::Partial, Level::Partial],
                vec![Level::Whole, Level::Elsewhere],
            ]
        );
        // Every combination lands in exactly one tier.
        assert_eq!(tiers.iter().map(|t| t.combos.len()).sum::<usize>(), 9);
    }

    #[test]
    fn too_many_groups_fall_back_to_ranking_every_match() {
        let groups: Vec<TermGroup> = ["a1", "b2", "c3", "d4"].iter().map(|t| group(t, &[])).collect();
        assert!(tiers(&groups).is_none());
        assert!(tiers(&[]).is_none());
    }

    #[test]
    fn fts_blocks_put_newer_dates_first() {
        let newer = fts_block_start("2026-11-22").unwrap();
        let older = fts_block_start("2026-11-21").unwrap();
        assert!(newer < older);
        assert_eq!(older - newer, 1 << 32);
        assert_eq!(fts_block_start("not-a-date"), None);
    }
}
