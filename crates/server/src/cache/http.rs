//! The HTTP side of caching: envelopes built around cached bytes, ETags and
//! `If-None-Match`, and `Cache-Control` on every response.
//!
//! Public catalogue GETs answer `Cache-Control: public, no-cache` with an
//! ETag: clients and CDNs may keep the answer but must revalidate, which
//! costs a 304 without a body. Not `max-age`: a recall change must reach a
//! parent's phone as soon as the server knows about it, and the server
//! cannot recall what it let clients keep. Everything else (accounts,
//! admin, search POSTs, errors) is `no-store` unless a handler says otherwise.

use axum::{
    body::{Body, Bytes},
    extract::{FromRequestParts, Request},
    http::{
        HeaderValue, StatusCode,
        header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH},
        request::Parts,
    },
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

use super::local::Entry;
use crate::request_id;

static PUBLIC: HeaderValue = HeaderValue::from_static("public, no-cache");
static NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
static JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A weak validator over the `data` bytes: the body also carries the
/// request's `traceId`, so two answers are equivalent but never
/// byte-identical, which is what `W/` says (compression changes bytes too).
pub fn etag_for(data: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(data);
    let mut tag = String::with_capacity(20);
    tag.push_str("W/\"");
    tag.push_str(&babyshield_security::to_hex(&digest[..8]));
    tag.push('"');
    HeaderValue::from_str(&tag).expect("hex is a valid header value")
}

/// `If-None-Match` against our ETag with the weak comparison RFC 9110
/// prescribes for it: `*`, or any listed tag with the same opaque part.
pub fn none_match_hits(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(listed) = if_none_match.to_str() else { return false };
    let Ok(ours) = etag.to_str() else { return false };
    let opaque = |tag: &str| -> Option<String> {
        let tag = tag.trim();
        let tag = tag.strip_prefix("W/").unwrap_or(tag);
        (tag.len() >= 2 && tag.starts_with('"') && tag.ends_with('"')).then(|| tag.to_string())
    };
    let Some(ours) = opaque(ours) else { return false };
    if listed.trim() == "*" {
        return true;
    }
    listed.split(',').filter_map(opaque).any(|theirs| theirs == ours)
}

/// The contract's success envelope around already-serialized `data`:
/// `{"ok":true,"data":<data>,"traceId":"<request id>"}`.
pub fn envelope(data: &Bytes) -> Bytes {
    let trace_id = serde_json::to_string(&request_id::current()).unwrap_or_else(|_| "\"\"".into());
    let mut body = Vec::with_capacity(data.len() + trace_id.len() + 32);
    body.extend_from_slice(br#"{"ok":true,"data":"#);
    body.extend_from_slice(data);
    body.extend_from_slice(br#","traceId":"#);
    body.extend_from_slice(trace_id.as_bytes());
    body.extend_from_slice(b"}");
    Bytes::from(body)
}

/// The request's `If-None-Match`, if any.
pub struct IfNoneMatch(Option<HeaderValue>);

impl<S: Send + Sync> FromRequestParts<S> for IfNoneMatch {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(IfNoneMatch(parts.headers.get(IF_NONE_MATCH).cloned()))
    }
}

impl IfNoneMatch {
    /// A public answer: 304 when the client's copy is current, else the
    /// envelope with its ETag.
    pub fn answer(self, entry: Entry) -> CachedJson {
        let not_modified = self.0.as_ref().is_some_and(|given| none_match_hits(given, &entry.etag));
        CachedJson { entry, public: true, not_modified }
    }
}

/// An envelope answered from cached `data` bytes.
pub struct CachedJson {
    entry: Entry,
    public: bool,
    not_modified: bool,
}

impl CachedJson {
    /// An answer no one else should keep (search POSTs): no ETag, `no-store`.
    pub fn private(entry: Entry) -> CachedJson {
        CachedJson { entry, public: false, not_modified: false }
    }
}

impl IntoResponse for CachedJson {
    fn into_response(self) -> Response {
        let mut response = if self.not_modified {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let mut ok = Response::new(Body::from(envelope(&self.entry.data)));
            ok.headers_mut().insert(CONTENT_TYPE, JSON.clone());
            ok
        };
        let headers = response.headers_mut();
        if self.public {
            headers.insert(ETAG, self.entry.etag);
            headers.insert(CACHE_CONTROL, PUBLIC.clone());
        } else {
            headers.insert(CACHE_CONTROL, NO_STORE.clone());
        }
        response
    }
}

/// Middleware: `Cache-Control: no-store` on every response whose handler
/// did not choose a policy, so personal answers (accounts, tokens, admin
/// pages) and errors are never kept by a browser or a proxy, including
/// those of routes added later.
pub async fn no_store_by_default(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    if !response.headers().contains_key(CACHE_CONTROL) {
        response.headers_mut().insert(CACHE_CONTROL, NO_STORE.clone());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    #[test]
    fn etags_are_weak_quoted_and_follow_the_bytes() {
        let a = etag_for(b"{\"a\":1}");
        assert!(a.to_str().unwrap().starts_with("W/\""));
        assert_eq!(a.len(), 2 + 1 + 16 + 1);
        assert_eq!(a, etag_for(b"{\"a\":1}"));
        assert_ne!(a, etag_for(b"{\"a\":2}"));
    }

    #[test]
    fn if_none_match_accepts_star_lists_and_either_strength() {
        let ours = etag_for(b"x");
        let opaque = ours.to_str().unwrap().trim_start_matches("W/").to_string();
        assert!(none_match_hits(&value("*"), &ours));
        assert!(none_match_hits(&ours, &ours));
        assert!(none_match_hits(&value(&opaque), &ours), "strong spelling, weak comparison");
        assert!(none_match_hits(&value(&format!("\"nope\", {opaque}")), &ours));
        assert!(!none_match_hits(&value("\"nope\""), &ours));
        assert!(!none_match_hits(&value("garbage"), &ours));
        assert!(!none_match_hits(&value(""), &ours));
    }

    #[tokio::test]
    async fn the_envelope_is_the_contract_shape_with_the_current_trace_id() {
        let data = Bytes::from_static(br#"{"items":[1,2]}"#);
        let body = request_id::scope("trace-7".into(), async { envelope(&data) }).await;
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed, serde_json::json!({"ok": true, "data": {"items": [1, 2]}, "traceId": "trace-7"}));
    }
}
