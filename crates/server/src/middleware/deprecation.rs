//! The v1 routes that `/api/v2` supersedes, and what they answer about it:
//! `Deprecation: @<unix seconds>` (RFC 9745), `Sunset: <HTTP-date>`
//! (RFC 8594) and `Link: <successor>; rel="successor-version"`, on every
//! response of those routes (errors and 304s included). Their bodies are
//! unchanged. The same table marks the operations `deprecated` in the
//! OpenAPI document (`routes::docs`), so headers and docs cannot disagree.

use std::sync::LazyLock;

use axum::{
    extract::{MatchedPath, Request},
    http::{HeaderName, HeaderValue, Method, header::LINK},
    middleware::Next,
    response::Response,
};
use time::{Date, macros::date};

/// The day the superseded v1 routes were deprecated (00:00 UTC).
pub const DEPRECATED_ON: Date = date!(2026 - 11 - 22);
/// The day they may stop answering (00:00 UTC): a year of notice.
pub const SUNSET_ON: Date = date!(2027 - 11 - 22);

/// A v1 operation and the v2 route that replaces it.
#[derive(Debug, Clone, Copy)]
pub struct Superseded {
    /// Upper case, as in the request line.
    pub method: &'static str,
    /// The route as registered (no parameters in any of them).
    pub path: &'static str,
    pub successor: &'static str,
}

pub const SUPERSEDED: &[Superseded] = &[
    Superseded { method: "POST", path: "/api/v1/search/advanced", successor: "/api/v2/search" },
    Superseded { method: "GET", path: "/api/v1/recalls", successor: "/api/v2/recalls" },
    Superseded { method: "GET", path: "/api/v1/family/members", successor: "/api/v2/family/members" },
    Superseded {
        method: "GET",
        path: "/api/v1/monitoring/products",
        successor: "/api/v2/monitoring/products",
    },
    Superseded { method: "GET", path: "/api/v1/notifications", successor: "/api/v2/notifications" },
    Superseded { method: "GET", path: "/api/v1/scan/history", successor: "/api/v2/scan/history" },
];

static DEPRECATION: HeaderName = HeaderName::from_static("deprecation");
static SUNSET: HeaderName = HeaderName::from_static("sunset");

/// `Deprecation`, `Sunset` and `Link` of each entry of [`SUPERSEDED`], in order.
static HEADERS: LazyLock<Vec<[(HeaderName, HeaderValue); 3]>> = LazyLock::new(|| {
    let deprecation = HeaderValue::from_str(&deprecation_value()).expect("ASCII");
    let sunset = HeaderValue::from_str(&sunset_value()).expect("ASCII");
    SUPERSEDED
        .iter()
        .map(|entry| {
            let link = format!("<{}>; rel=\"successor-version\"", entry.successor);
            [
                (DEPRECATION.clone(), deprecation.clone()),
                (SUNSET.clone(), sunset.clone()),
                (LINK, HeaderValue::from_str(&link).expect("ASCII")),
            ]
        })
        .collect()
});

/// RFC 9745: a structured-field Date, `@` and Unix seconds.
fn deprecation_value() -> String {
    format!("@{}", DEPRECATED_ON.midnight().assume_utc().unix_timestamp())
}

/// RFC 8594: an HTTP-date (IMF-fixdate).
fn sunset_value() -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    SUNSET_ON.midnight().assume_utc().format(&format).expect("a date formats")
}

/// The entry for a request to `route` with `method`, if superseded. HEAD
/// is answered by the GET route, so it is superseded with it.
pub fn superseded(method: &Method, route: &str) -> Option<usize> {
    let method = if method == Method::HEAD { "GET" } else { method.as_str() };
    SUPERSEDED.iter().position(|entry| entry.method == method && entry.path == route)
}

/// Middleware: the deprecation headers on the superseded routes' responses.
/// Runs inside routing (a `Router::layer`), so the matched route is known.
pub(super) async fn announce(req: Request, next: Next) -> Response {
    let entry =
        req.extensions().get::<MatchedPath>().and_then(|route| superseded(req.method(), route.as_str()));
    let mut response = next.run(req).await;
    if let Some(index) = entry {
        let headers = response.headers_mut();
        for (name, value) in &HEADERS[index] {
            headers.insert(name.clone(), value.clone());
        }
    }
    response
}

/// A sentence for the OpenAPI description of a superseded operation.
pub fn notice(entry: &Superseded) -> String {
    format!(
        "**Deprecated** since {DEPRECATED_ON} (`Deprecation: {}`); it may be removed after {SUNSET_ON} \
         (`Sunset: {}`). Use `{} {}` (`Link: <{}>; rel=\"successor-version\"`).",
        deprecation_value(),
        sunset_value(),
        entry.method,
        entry.successor,
        entry.successor,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_follow_the_rfcs() {
        assert_eq!(deprecation_value(), "@1795305600");
        assert_eq!(sunset_value(), "Mon, 22 Nov 2027 00:00:00 GMT");
        assert!(SUNSET_ON > DEPRECATED_ON);
        assert_eq!(HEADERS.len(), SUPERSEDED.len());
        assert_eq!(HEADERS[0][2].1, "</api/v2/search>; rel=\"successor-version\"");
    }

    #[test]
    fn only_the_listed_method_and_route_are_superseded() {
        assert_eq!(superseded(&Method::GET, "/api/v1/recalls"), Some(1));
        assert_eq!(superseded(&Method::HEAD, "/api/v1/recalls"), Some(1));
        assert_eq!(superseded(&Method::POST, "/api/v1/search/advanced"), Some(0));
        assert_eq!(superseded(&Method::POST, "/api/v1/family/members"), None, "creating is not superseded");
        assert_eq!(superseded(&Method::GET, "/api/v1/recalls/stats"), None);
        assert_eq!(superseded(&Method::GET, "/api/v1/agencies"), None);
        for entry in SUPERSEDED {
            assert!(entry.path.starts_with("/api/v1/") && entry.successor.starts_with("/api/v2/"));
        }
    }
}
