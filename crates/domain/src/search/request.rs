//! Field-by-field reading of the advanced search JSON body.

use serde_json::{Map, Value};

use super::{AdvancedSearch, RecallFilters, SearchRequestError};
use crate::agency::{AGENCIES, AgencyCode};
use crate::recall::{RecallId, RiskCategory, Severity};

pub const MAX_QUERY_LEN: usize = 200;
pub const MIN_QUERY_LEN: usize = 2;
pub const MAX_KEYWORDS: usize = 10;
pub const MAX_KEYWORD_LEN: usize = 50;
pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 50;
pub const MAX_OFFSET: u32 = 10_000;
pub const MAX_CURSOR_LEN: usize = 1024;

const KNOWN_FIELDS: &[&str] = &[
    "query",
    "product",
    "keywords",
    "id",
    "agencies",
    "agency",
    "severity",
    "risk_level",
    "riskCategory",
    "product_category",
    "date_from",
    "date_to",
    "limit",
    "offset",
    "nextCursor",
];

fn invalid(field: impl Into<String>, message: impl ToString) -> SearchRequestError {
    SearchRequestError::Invalid { field: field.into(), message: message.to_string() }
}

pub(super) fn parse(value: Value) -> Result<AdvancedSearch, SearchRequestError> {
    let Value::Object(map) = value else {
        return Err(invalid("body", "must be a JSON object"));
    };
    let mut unknown: Vec<String> = map
        .keys()
        .filter(|k| !KNOWN_FIELDS.contains(&k.as_str()))
        .map(|k| k.chars().take(64).collect())
        .collect();
    if !unknown.is_empty() {
        unknown.sort();
        return Err(SearchRequestError::UnknownFields(unknown));
    }
    let mut body = Body(map);

    let query = body.text("query")?;
    let product = body.text("product")?;
    let text = same_or_conflict(("query", query), ("product", product))?;
    let keywords = body.keywords()?;
    let id =
        body.string("id")?.map(|s| RecallId::parse(s.trim()).map_err(|e| invalid("id", e))).transpose()?;
    if text.is_none() && keywords.is_empty() && id.is_none() {
        return Err(invalid("query", "one of query, product, keywords or id is required"));
    }

    let agencies = body.agencies()?;
    let agency = body.parsed("agency", AgencyCode::parse)?;
    if agency.is_some() && agencies.is_some() {
        return Err(invalid("agency", "send either agency or agencies, not both"));
    }
    let severity = same_or_conflict(
        ("severity", body.parsed("severity", Severity::parse)?),
        ("risk_level", body.parsed("risk_level", Severity::parse)?),
    )?;
    let risk_category = same_or_conflict(
        ("riskCategory", body.parsed("riskCategory", RiskCategory::parse)?),
        ("product_category", body.parsed("product_category", RiskCategory::parse)?),
    )?;
    let date = |s: &str| crate::ymd::parse(s.trim()).ok_or("must be a date in YYYY-MM-DD format");
    let date_from = body.parsed("date_from", date)?;
    let date_to = body.parsed("date_to", date)?;
    if let (Some(from), Some(to)) = (date_from, date_to)
        && from > to
    {
        return Err(invalid("date_from", "must not be after date_to"));
    }

    let limit = body.integer("limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
    let offset = body.integer("offset", 0, MAX_OFFSET)?.unwrap_or(0);
    let cursor = body.string("nextCursor")?.filter(|c| !c.is_empty());
    if cursor.as_ref().is_some_and(|c| c.len() > MAX_CURSOR_LEN) {
        return Err(invalid("nextCursor", format!("must be at most {MAX_CURSOR_LEN} characters")));
    }

    Ok(AdvancedSearch {
        text,
        keywords,
        id,
        filters: RecallFilters {
            agencies: agencies.unwrap_or_else(|| agency.into_iter().collect()),
            severity,
            risk_category,
            date_from,
            date_to,
        },
        limit,
        offset,
        cursor,
    })
}

/// Resolves a field sent under two names: fine if only one is given or both
/// agree, an error naming the alias if they differ.
fn same_or_conflict<T: PartialEq>(
    (name, value): (&str, Option<T>),
    (alias, alias_value): (&str, Option<T>),
) -> Result<Option<T>, SearchRequestError> {
    match (value, alias_value) {
        (Some(a), Some(b)) if a != b => {
            Err(invalid(alias, format!("conflicts with {name}; send only one of them")))
        }
        (Some(a), _) => Ok(Some(a)),
        (None, b) => Ok(b),
    }
}

/// The body's members, consumed one field at a time; `null` is absent.
struct Body(Map<String, Value>);

impl Body {
    fn take(&mut self, name: &str) -> Option<Value> {
        self.0.remove(name).filter(|v| !v.is_null())
    }

    fn string(&mut self, name: &str) -> Result<Option<String>, SearchRequestError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(name, "must be a string")),
        }
    }

    fn parsed<T, E: ToString>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, SearchRequestError> {
        self.string(name)?.map(|s| parse(&s).map_err(|e| invalid(name, e))).transpose()
    }

    /// `query` / `product`: trimmed, 2..=200 characters.
    fn text(&mut self, name: &str) -> Result<Option<String>, SearchRequestError> {
        let Some(raw) = self.string(name)? else {
            return Ok(None);
        };
        let text = raw.trim();
        let len = text.chars().count();
        if len < MIN_QUERY_LEN {
            return Err(invalid(name, format!("must be at least {MIN_QUERY_LEN} characters")));
        }
        if len > MAX_QUERY_LEN {
            return Err(invalid(name, format!("must be at most {MAX_QUERY_LEN} characters")));
        }
        Ok(Some(text.to_owned()))
    }

    fn array(&mut self, name: &str, max: usize) -> Result<Option<Vec<Value>>, SearchRequestError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Array(items)) if items.len() > max => {
                Err(invalid(name, format!("must have at most {max} items")))
            }
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(invalid(name, "must be an array of strings")),
        }
    }

    fn keywords(&mut self) -> Result<Vec<String>, SearchRequestError> {
        let items = self.array("keywords", MAX_KEYWORDS)?.unwrap_or_default();
        let mut keywords = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let field = format!("keywords[{i}]");
            let Value::String(raw) = item else {
                return Err(invalid(field, "must be a string"));
            };
            let keyword = raw.trim();
            if keyword.is_empty() {
                return Err(invalid(field, "must not be empty"));
            }
            if keyword.chars().count() > MAX_KEYWORD_LEN {
                return Err(invalid(field, format!("must be at most {MAX_KEYWORD_LEN} characters")));
            }
            keywords.push(keyword.to_owned());
        }
        Ok(keywords)
    }

    fn agencies(&mut self) -> Result<Option<Vec<AgencyCode>>, SearchRequestError> {
        let Some(items) = self.array("agencies", AGENCIES.len())? else {
            return Ok(None);
        };
        let mut codes: Vec<AgencyCode> = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let field = format!("agencies[{i}]");
            let Value::String(raw) = item else {
                return Err(invalid(field, "must be a string"));
            };
            let code = AgencyCode::parse(&raw).map_err(|e| invalid(field, e))?;
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
        Ok(Some(codes))
    }

    /// An integer in `min..=max`. Integral floats (`20.0`) and numeric
    /// strings (`"20"`) are accepted too, as the previous backend did.
    fn integer(&mut self, name: &str, min: u32, max: u32) -> Result<Option<u32>, SearchRequestError> {
        let number = match self.take(name) {
            None => return Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from))
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e18).map(|f| f as i128)),
            Some(Value::String(s)) => s.trim().parse::<i128>().ok(),
            Some(_) => None,
        };
        let number = number.ok_or_else(|| invalid(name, "must be an integer"))?;
        if number < i128::from(min) || number > i128::from(max) {
            return Err(invalid(name, format!("must be between {min} and {max}")));
        }
        Ok(Some(number as u32))
    }
}
