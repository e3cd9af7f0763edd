//! The only places where SQLite and PostgreSQL recall SQL differ: how the
//! full-text index is queried and what substring search is called.
//! Both see the same pre-normalized tokens, so they match the same recalls.

use crate::Backend;

use babyshield_domain::{RecallFilters, ymd};

use super::{
    args::Args,
    query::{After, RecallQuery, TermGroup},
    tiers::{Level, fts_block_start},
};
use crate::StorageError;

/// Shortest term searched as a prefix ("pacif" finds "pacifier").
pub(crate) const MIN_PREFIX_LEN: usize = 3;

/// The low 32 bits of an FTS5 rowid are the recall's rid (migration 0008).
const FTS_RID: &str = "(recalls_fts.rowid & 4294967295)";

/// The FROM clause and the WHERE conditions that restrict recalls to those
/// matching every term group (AND across groups, OR within a group). On
/// SQLite the index also applies the agency, severity, category and date
/// filters (the `r.` conditions repeat them harmlessly).
pub(crate) fn full_text_source(
    backend: Backend,
    query: &RecallQuery,
    args: &mut Args,
) -> (String, Vec<String>) {
    match backend {
        Backend::Sqlite => {
            // CROSS JOIN makes the full-text match drive the join; otherwise
            // the planner may walk a filter index and re-run the match per row.
            let conditions = fts5_conditions(&fts5_expression(&query.groups), &query.filters, args);
            (format!("recalls_fts CROSS JOIN recalls r ON r.rid = {FTS_RID}"), conditions)
        }
        Backend::Postgres => {
            let expr = args.text(tsquery_expression(&query.groups));
            ("recalls r".to_string(), vec![format!("r.search_tsv @@ CAST({expr} AS tsquery)")])
        }
    }
}

/// A total counted in the full-text index alone, without reading a recall
/// row: SQLite, any filters but an exact id.
pub(crate) fn count_in_index(backend: Backend, query: &RecallQuery) -> Option<(String, Args)> {
    if backend != Backend::Sqlite || query.groups.is_empty() || query.id.is_some() {
        return None;
    }
    let mut args = Args::default();
    let conditions = fts5_conditions(&fts5_expression(&query.groups), &query.filters, &mut args);
    Some((format!("SELECT COUNT(*) FROM recalls_fts WHERE {}", conditions.join(" AND ")), args))
}

/// `recalls_fts MATCH` the text expression and the filter facets, plus the
/// rowid range of the date filters.
fn fts5_conditions(text: &str, filters: &RecallFilters, args: &mut Args) -> Vec<String> {
    let expr = match fts5_facets(filters) {
        Some(facets) => format!("({text}) AND {facets}"),
        None => text.to_string(),
    };
    let mut conditions = vec![format!("recalls_fts MATCH {}", args.text(expr))];
    let block = |date: Option<time::Date>| date.and_then(|d| fts_block_start(&ymd::format(d)));
    if let Some(newest) = block(filters.date_to) {
        conditions.push(format!("recalls_fts.rowid >= {}", args.int(newest)));
    }
    if let Some(oldest) = block(filters.date_from) {
        conditions.push(format!("recalls_fts.rowid < {}", args.int(oldest + (1 << 32))));
    }
    conditions
}

/// The filters as terms of the `facets` column (migration 0008):
/// `facets : ("agencycpsc" OR "agencyfda") AND facets : "severityhigh"`.
fn fts5_facets(filters: &RecallFilters) -> Option<String> {
    let token =
        |prefix: &str, value: &str| format!("\"{prefix}{}\"", value.to_ascii_lowercase().replace('_', ""));
    let mut parts = Vec::new();
    if !filters.agencies.is_empty() {
        let list: Vec<String> = filters.agencies.iter().map(|a| token("agency", a.as_str())).collect();
        parts.push(format!("(facets : ({}))", list.join(" OR ")));
    }
    if let Some(severity) = filters.severity {
        parts.push(format!("(facets : {})", token("severity", severity.as_str())));
    }
    if let Some(category) = filters.risk_category {
        parts.push(format!("(facets : {})", token("category", category.as_str())));
    }
    (!parts.is_empty()).then(|| parts.join(" AND "))
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
        .map(|g| format!("({TEXT_COLUMNS} : ({}))", fts5_alternatives(g)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Where query words are looked for (not in `facets`).
const TEXT_COLUMNS: &str = "{search_title search_body}";

/// `"pacifer"* OR "pacifier"`: the term (as a prefix when long enough) or one
/// of its typo variants.
fn fts5_alternatives(g: &TermGroup) -> String {
    let mut alternatives = vec![if g.term.len() >= MIN_PREFIX_LEN {
        format!("\"{}\"*", g.term)
    } else {
        format!("\"{}\"", g.term)
    }];
    alternatives.extend(g.variants.iter().map(|v| format!("\"{v}\"")));
    alternatives.join(" OR ")
}

/// `(pacifier:* | pacifer) & (clip:*)`.
fn tsquery_expression(groups: &[TermGroup]) -> String {
    groups.iter().map(|g| format!("({})", tsquery_alternatives(g))).collect::<Vec<_>>().join(" & ")
}

/// `'pacifer':* | 'pacifier'`: the term (as a prefix when long enough) or
/// one of its typo variants. Queries cast this to `tsquery`, which takes the
/// words verbatim, as the server writes them into the vectors (migration
/// 0012); `to_tsquery` would run PostgreSQL's parser over them.
fn tsquery_alternatives(g: &TermGroup) -> String {
    let mut alternatives = vec![if g.term.len() >= MIN_PREFIX_LEN {
        format!("'{}':*", g.term)
    } else {
        format!("'{}'", g.term)
    }];
    alternatives.extend(g.variants.iter().map(|v| format!("'{v}'")));
    alternatives.join(" | ")
}

/// The FTS5 expression matching exactly the recalls of one tier: the OR of
/// its level combinations. The levels of one group are disjoint: partial
/// excludes whole, elsewhere excludes every title match.
fn fts5_tier_expression(groups: &[TermGroup], combos: &[Vec<Level>]) -> String {
    let level = |g: &TermGroup, level: Level| -> String {
        let whole = format!("search_title : \"{}\"", g.term);
        let title = format!("search_title : ({})", fts5_alternatives(g));
        let anywhere = format!("{TEXT_COLUMNS} : ({})", fts5_alternatives(g));
        match level {
            Level::Whole => format!("({whole})"),
            Level::Partial => format!("(({title}) NOT ({whole}))"),
            Level::Elsewhere => format!("(({anywhere}) NOT ({title}))"),
        }
    };
    combos
        .iter()
        .map(|combo| {
            let parts: Vec<String> = groups.iter().zip(combo).map(|(g, l)| level(g, *l)).collect();
            format!("({})", parts.join(" AND "))
        })
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// The same tier as a PostgreSQL condition on the row `alias`. Title
/// matches use the title's own tsvector and GIN index (migration 0008):
/// a weight-restricted query on `search_tsv` would recheck every recall
/// carrying the word anywhere.
fn tsquery_tier_condition(
    alias: &str,
    groups: &[TermGroup],
    combos: &[Vec<Level>],
    args: &mut Args,
) -> String {
    let mut level = |g: &TermGroup, level: Level| -> String {
        let mut title =
            |query: String| format!("{alias}.search_title_tsv @@ CAST({} AS tsquery)", args.text(query));
        let whole = title(format!("'{}'", g.term));
        let title_any = title(tsquery_alternatives(g));
        match level {
            Level::Whole => whole,
            Level::Partial => format!("({title_any} AND NOT {whole})"),
            Level::Elsewhere => {
                let anywhere =
                    format!("{alias}.search_tsv @@ CAST({} AS tsquery)", args.text(tsquery_alternatives(g)));
                format!("({anywhere} AND NOT {title_any})")
            }
        }
    };
    let combos: Vec<String> = combos
        .iter()
        .map(|combo| {
            let parts: Vec<String> = groups.iter().zip(combo).map(|(g, l)| level(g, *l)).collect();
            format!("({})", parts.join(" AND "))
        })
        .collect();
    format!("({})", combos.join(" OR "))
}

/// Which rows of a tier one statement reads.
pub(crate) struct TierRead<'a> {
    pub groups: &'a [TermGroup],
    pub combos: &'a [Vec<Level>],
    /// Filter conditions on `r` (their arguments are already in the `Args`).
    pub conditions: &'a [String],
    /// The same filters, for SQLite's index to apply.
    pub filters: &'a RecallFilters,
    /// Resume strictly after this position (same tier).
    pub after: Option<&'a After>,
    /// SQLite only: just the recalls of this date, in id order.
    pub only_date: Option<&'a str>,
    /// PostgreSQL only: look among this many newest recalls (from the
    /// position, through the date indexes) instead of the whole tier.
    pub newest: Option<usize>,
    pub limit: usize,
}

/// Newest recalls PostgreSQL examines before it reads a tier through the
/// full-text index instead: a tier matching at least 1 in 50 recalls fills a
/// page from them. Without the bound, the planner may walk the whole date
/// index for a tier that turns out rare (seconds at a million recalls).
pub(crate) const NEWEST_FIRST_BUDGET: usize = 1_000;

/// `SELECT rid, recall_date, id` of up to `limit` recalls of one tier, in
/// result order (PostgreSQL) or newest-first FTS order (SQLite, where the id
/// order within a date is settled by a second read with `only_date`).
pub(crate) fn tier_statement(
    backend: Backend,
    read: &TierRead<'_>,
    args: &mut Args,
) -> Result<String, StorageError> {
    let mut conditions = match backend {
        Backend::Postgres => Vec::new(),
        Backend::Sqlite => {
            fts5_conditions(&fts5_tier_expression(read.groups, read.combos), read.filters, args)
        }
    };
    conditions.extend(read.conditions.iter().cloned());
    if let Some(after) = read.after {
        let (d, i) = (args.text(after.recall_date.clone()), args.text(after.id.clone()));
        conditions.push(format!("(r.recall_date < {d} OR (r.recall_date = {d} AND r.id > {i}))"));
    }
    match backend {
        Backend::Postgres => match read.newest {
            Some(budget) => {
                let budget = args.int(budget as i64);
                let tier = tsquery_tier_condition("w", read.groups, read.combos, args);
                let limit = args.int(read.limit as i64);
                Ok(format!(
                    "SELECT w.rid, w.recall_date, w.id FROM (\
                       SELECT r.rid, r.recall_date, r.id, r.search_title_tsv, r.search_tsv FROM recalls r{} \
                       ORDER BY r.recall_date DESC, r.id ASC LIMIT {budget}\
                     ) w WHERE {tier} ORDER BY w.recall_date DESC, w.id ASC LIMIT {limit}",
                    where_clause(&conditions),
                ))
            }
            // MATERIALIZED keeps the planner from walking a date index
            // through a rare tier: the tier comes from the GIN indexes, then
            // only its rows are sorted.
            None => {
                conditions.insert(0, tsquery_tier_condition("r", read.groups, read.combos, args));
                let limit = args.int(read.limit as i64);
                Ok(format!(
                    "WITH t AS MATERIALIZED (SELECT r.rid, r.recall_date, r.id FROM recalls r{}) \
                     SELECT rid, recall_date, id FROM t ORDER BY recall_date DESC, id ASC LIMIT {limit}",
                    where_clause(&conditions),
                ))
            }
        },
        Backend::Sqlite => {
            let limit = args.int(read.limit as i64);
            // Rows of later dates than the position or the date asked for
            // lie below these rowids: the scan starts past them.
            let block = |date: &str| {
                fts_block_start(date).ok_or_else(|| StorageError::Corrupt(format!("recall date {date:?}")))
            };
            let start = [read.after.map(|a| a.recall_date.as_str()), read.only_date].into_iter().flatten();
            if let Some(low) = start.map(block).collect::<Result<Vec<i64>, _>>()?.into_iter().max() {
                conditions.push(format!("recalls_fts.rowid >= {}", args.int(low)));
            }
            if let Some(date) = read.only_date {
                conditions.push(format!("recalls_fts.rowid < {}", args.int(block(date)? + (1 << 32))));
            }
            let order = if read.only_date.is_some() { "r.id" } else { "recalls_fts.rowid" };
            Ok(format!(
                "SELECT r.rid, r.recall_date, r.id FROM recalls_fts CROSS JOIN recalls r ON r.rid = {FTS_RID} \
                 WHERE {} ORDER BY {order} LIMIT {limit}",
                conditions.join(" AND ")
            ))
        }
    }
}

/// ` WHERE a AND b`, or nothing for no conditions.
pub(crate) fn where_clause(conditions: &[String]) -> String {
    if conditions.is_empty() { String::new() } else { format!(" WHERE {}", conditions.join(" AND ")) }
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
        assert_eq!(
            fts5_expression(&groups()),
            "({search_title search_body} : (\"pacifer\"* OR \"pacifier\")) AND ({search_title search_body} : (\"tv\"))"
        );
    }

    #[test]
    fn filters_become_facet_terms_and_dates_rowid_ranges() {
        let filters = RecallFilters {
            agencies: vec![
                babyshield_domain::AgencyCode::parse("EU_SAFETY_GATE").unwrap(),
                babyshield_domain::AgencyCode::parse("CPSC").unwrap(),
            ],
            severity: Some(babyshield_domain::Severity::High),
            risk_category: Some(babyshield_domain::RiskCategory::BabyProduct),
            date_from: ymd::parse("2024-01-01"),
            date_to: ymd::parse("2024-01-31"),
        };
        let mut args = Args::default();
        let conditions = fts5_conditions("x", &filters, &mut args);
        assert_eq!(
            conditions,
            vec!["recalls_fts MATCH $1", "recalls_fts.rowid >= $2", "recalls_fts.rowid < $3"]
        );
        assert_eq!(
            fts5_facets(&filters).unwrap(),
            "(facets : (\"agencyeusafetygate\" OR \"agencycpsc\")) AND (facets : \"severityhigh\") \
             AND (facets : \"categorybabyproduct\")"
        );
    }

    #[test]
    fn tsquery_expression_matches_the_fts5_semantics() {
        assert_eq!(tsquery_expression(&groups()), "('pacifer':* | 'pacifier') & ('tv')");
    }
}
