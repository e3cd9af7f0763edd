//! The only places where SQLite and PostgreSQL recall SQL differ: how the
//! full-text index is queried and what substring search is called.
//! Both see the same pre-normalized tokens, so they match the same recalls.

use crate::Backend;

use super::{args::Args, query::TermGroup};

/// Shortest term searched as a prefix ("pacif" finds "pacifier").
const MIN_PREFIX_LEN: usize = 3;

/// The FROM clause and extra WHERE condition that restrict recalls to those
/// matching every term group (AND across groups, OR within a group).
pub(crate) fn full_text_source(
    backend: Backend,
    groups: &[TermGroup],
    args: &mut Args,
) -> (String, Option<String>) {
    match backend {
        Backend::Sqlite => {
            // CROSS JOIN makes the full-text match drive the join; otherwise
            // the planner may walk a filter index and re-run the match per row.
            let expr = args.text(fts5_expression(groups));
            (
                "recalls_fts CROSS JOIN recalls r ON r.rid = recalls_fts.rowid".to_string(),
                Some(format!("recalls_fts MATCH {expr}")),
            )
        }
        Backend::Postgres => {
            let expr = args.text(tsquery_expression(groups));
            ("recalls r".to_string(), Some(format!("r.search_tsv @@ to_tsquery('simple', {expr})")))
        }
    }
}

/// A cheaper total for a pure full-text query (no filters): SQLite counts
/// the matches in the FTS index without reading a single recall row. The
/// match expression is the one `full_text_source` bound first (`$1`).
pub(crate) fn count_without_join(
    backend: Backend,
    query: &super::query::RecallQuery,
    conditions: &[String],
) -> Option<String> {
    let only_the_match = conditions.len() == 1 && query.id.is_none() && !query.groups.is_empty();
    (backend == Backend::Sqlite && only_the_match)
        .then(|| "SELECT COUNT(*) FROM recalls_fts WHERE recalls_fts MATCH $1".to_string())
}

/// Position of `needle` in `haystack` (0 when absent).
pub(crate) fn strpos(backend: Backend, haystack: &str, needle: &str) -> String {
    match backend {
        Backend::Sqlite => format!("instr({haystack}, {needle})"),
        Backend::Postgres => format!("strpos({haystack}, {needle})"),
    }
}

/// `("pacifier"* OR "pacifer") AND ("clip"*)`. Terms are normalized
/// alphanumeric tokens, so quoting cannot be escaped.
fn fts5_expression(groups: &[TermGroup]) -> String {
    groups
        .iter()
        .map(|g| {
            let mut alternatives = vec![if g.term.len() >= MIN_PREFIX_LEN {
                format!("\"{}\"*", g.term)
            } else {
                format!("\"{}\"", g.term)
            }];
            alternatives.extend(g.variants.iter().map(|v| format!("\"{v}\"")));
            format!("({})", alternatives.join(" OR "))
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// `(pacifier:* | pacifer) & (clip:*)`.
fn tsquery_expression(groups: &[TermGroup]) -> String {
    groups
        .iter()
        .map(|g| {
            let mut alternatives = vec![if g.term.len() >= MIN_PREFIX_LEN {
                format!("'{}':*", g.term)
            } else {
                format!("'{}'", g.term)
            }];
            alternatives.extend(g.variants.iter().map(|v| format!("'{v}'")));
            format!("({})", alternatives.join(" | "))
        })
        .collect::<Vec<_>>()
        .join(" & ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups() -> Vec<TermGroup> {
        vec![
            TermGroup { term: "pacifer".into(), variants: vec!["pacifier".into()] },
            TermGroup { term: "tv".into(), variants: vec![] },
        ]
    }

    #[test]
    fn fts5_expression_ors_variants_and_ands_groups() {
        assert_eq!(fts5_expression(&groups()), "(\"pacifer\"* OR \"pacifier\") AND (\"tv\")");
    }

    #[test]
    fn tsquery_expression_matches_the_fts5_semantics() {
        assert_eq!(tsquery_expression(&groups()), "('pacifer':* | 'pacifier') & ('tv')");
    }
}
