//! The stored form of a response, and the replay built from it. Only the
//! headers that describe the body travel: everything else (request id, rate
//! limit, security headers) belongs to the retry and is set by the stack.

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::Response,
};

use super::REPLAYED_HEADER;
use crate::{accounts::Accounts, error::ApiError};

const REPLAYED: &[HeaderName] = &[header::CONTENT_TYPE, header::LOCATION, header::CACHE_CONTROL];

/// Associated data binding a sealed body to its key.
fn context(scope: &str, key: &str) -> String {
    format!("idempotency/{scope}/{key}")
}

/// The replayable headers as JSON `[[name, value], ...]`.
pub(super) fn encode_headers(headers: &HeaderMap) -> String {
    let pairs: Vec<(&str, &str)> =
        REPLAYED.iter().filter_map(|name| Some((name.as_str(), headers.get(name)?.to_str().ok()?))).collect();
    serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into())
}

pub(super) fn seal_body(accounts: &Accounts, scope: &str, key: &str, body: &[u8]) -> String {
    accounts.seal_blob(body, &context(scope, key))
}

/// The stored response, marked as a replay.
pub(super) fn response(
    accounts: &Accounts,
    scope: &str,
    key: &str,
    status: i32,
    headers: Option<&str>,
    sealed_body: Option<&str>,
) -> Result<Response, ApiError> {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| ApiError::internal(format!("stored idempotent status {status} is not a status")))?;
    let body = match sealed_body {
        Some(sealed) => accounts.open_blob(sealed, &context(scope, key))?,
        None => Vec::new(),
    };
    let pairs: Vec<(String, String)> =
        serde_json::from_str(headers.unwrap_or("[]")).map_err(ApiError::internal)?;
    let mut response = Response::new(Body::from(Bytes::from(body)));
    *response.status_mut() = status;
    for (name, value) in pairs {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response.headers_mut().insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_body_describing_headers_are_kept() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert("x-request-id", HeaderValue::from_static("abc"));
        headers.insert("ratelimit-remaining", HeaderValue::from_static("3"));
        let encoded = encode_headers(&headers);
        assert_eq!(encoded, r#"[["content-type","application/json"],["cache-control","no-store"]]"#);
    }
}
