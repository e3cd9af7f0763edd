//! Cursor paging of the family lists: `?limit=1..100&cursor=<nextCursor>`.
//! The cursor is the last row id, opaque to clients; every query is scoped
//! by owner, so a forged cursor can only move within the caller's own rows.

use std::collections::HashMap;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::Serialize;

use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// A validated page request.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: i64,
    /// Row id the page starts after (exclusive).
    pub after: Option<String>,
}

impl PageRequest {
    /// Reads `limit` and `cursor` from the query string; any other key not in
    /// `extra` is refused, so a typo is not silently ignored.
    pub fn from_query(query: &HashMap<String, String>, extra: &[&str]) -> Result<PageRequest, ApiError> {
        let mut unknown: Vec<String> = query
            .keys()
            .filter(|k| !matches!(k.as_str(), "limit" | "cursor") && !extra.contains(&k.as_str()))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            unknown.sort();
            return Err(ApiError::UnknownFields(unknown));
        }
        let limit = match query.get("limit") {
            None => DEFAULT_LIMIT,
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(ApiError::invalid(
                        "limit",
                        format!("must be an integer from 1 to {MAX_LIMIT}"),
                    ));
                }
            },
        };
        let after = query.get("cursor").filter(|c| !c.is_empty()).map(|c| decode(c)).transpose()?;
        Ok(PageRequest { limit, after })
    }

    /// Rows to fetch: one more than the page, to know whether another follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// Cuts the extra row off and returns the page with its next cursor.
    pub fn page<R, T>(
        &self,
        mut rows: Vec<R>,
        id: impl Fn(&R) -> &str,
        map: impl FnMut(R) -> Result<T, ApiError>,
    ) -> Result<Page<T>, ApiError> {
        let has_more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let next_cursor = if has_more { rows.last().map(|r| encode(id(r))) } else { None };
        let items = rows.into_iter().map(map).collect::<Result<Vec<T>, ApiError>>()?;
        Ok(Page { items, next_cursor, has_more, limit: self.limit })
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    pub has_more: bool,
    pub limit: i64,
}

fn encode(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{id}"))
}

fn decode(cursor: &str) -> Result<String, ApiError> {
    let bad = || ApiError::InvalidCursor("cursor is not one this list returned".into());
    if cursor.len() > 64 {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let id = text.strip_prefix("v1:").ok_or_else(bad)?;
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return Err(bad());
    }
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn cursors_round_trip_and_forgeries_are_refused() {
        let id = "0193a1b2c3d4e5f60718293a4b5c6d7e";
        let request = PageRequest::from_query(&query(&[("cursor", &encode(id))]), &[]).unwrap();
        assert_eq!(request.after.as_deref(), Some(id));
        assert_eq!(request.limit, DEFAULT_LIMIT);
        for bad in ["x", "djE6Li4v", &URL_SAFE_NO_PAD.encode("v1:' OR 1=1 --"), &"A".repeat(100)] {
            let err = PageRequest::from_query(&query(&[("cursor", bad)]), &[]).unwrap_err();
            assert_eq!(err.code(), "INVALID_CURSOR", "{bad}");
        }
    }

    #[test]
    fn limits_and_unknown_parameters_are_checked() {
        for bad in ["0", "101", "-1", "ten"] {
            let err = PageRequest::from_query(&query(&[("limit", bad)]), &[]).unwrap_err();
            assert_eq!(err.code(), "INVALID_PARAMETERS");
        }
        let err = PageRequest::from_query(&query(&[("lmit", "5")]), &[]).unwrap_err();
        assert!(matches!(err, ApiError::UnknownFields(ref f) if f == &["lmit".to_string()]));
        assert!(PageRequest::from_query(&query(&[("unread", "true")]), &["unread"]).is_ok());
    }

    #[test]
    fn page_sets_the_next_cursor_only_when_more_rows_follow() {
        let request = PageRequest { limit: 2, after: None };
        let ids = [
            "0193a1b2c3d4e5f60718293a4b5c6d71",
            "0193a1b2c3d4e5f60718293a4b5c6d72",
            "0193a1b2c3d4e5f60718293a4b5c6d73",
        ];
        let page = request.page(ids.to_vec(), |s| s, |s| Ok(s.to_string())).unwrap();
        assert_eq!(page.items.len(), 2);
        assert!(page.has_more);
        assert_eq!(decode(page.next_cursor.as_deref().unwrap()).unwrap(), ids[1]);
        let last = request.page(ids[..2].to_vec(), |s| s, |s| Ok(s.to_string())).unwrap();
        assert!(!last.has_more && last.next_cursor.is_none());
    }
}
