//! OWASP's secure-headers set on every response, errors and panics included.
//!
//! The API answers JSON that no browser should render, frame or embed, so its
//! Content-Security-Policy allows nothing. Swagger UI under `/docs` is the one
//! HTML page: it loads its bundled scripts, styles and icons from this origin
//! and fetches `/openapi.json`, so it gets a policy allowing exactly that.

use std::sync::Arc;

use axum::{
    extract::Request,
    http::{HeaderMap, HeaderName, HeaderValue, header},
    middleware::Next,
    response::Response,
};

use crate::config::HttpConfig;

/// For JSON: nothing may load, frame it, or be submitted from it.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// For Swagger UI. The vendored `index.html` has no inline script (it loads
/// `swagger-ui-bundle.js`, the preset and `swagger-initializer.js` from
/// `/docs/`), so scripts need only `'self'`. Styles keep `'unsafe-inline'`:
/// the UI renders `style` attributes inside markup it injects. Its icons are
/// `data:` SVGs in the stylesheet; "Try it out" fetches this origin.
const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                            img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
                            base-uri 'none'; form-action 'self'";

/// The barcode-photo feature uploads images; nothing served from this origin
/// uses the camera, microphone, location or payment APIs.
const PERMISSIONS_POLICY: &str = "camera=(), microphone=(), geolocation=(), payment=()";

/// The headers every response gets, computed once at start.
#[derive(Clone)]
pub(super) struct SecurityHeaders {
    common: Arc<HeaderMap>,
}

impl SecurityHeaders {
    pub(super) fn new(config: &HttpConfig) -> Self {
        let mut common = HeaderMap::new();
        let mut set = |name: HeaderName, value: &'static str| {
            common.insert(name, HeaderValue::from_static(value));
        };
        set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        set(header::X_FRAME_OPTIONS, "DENY");
        set(header::REFERRER_POLICY, "no-referrer");
        // `same-origin` rather than `same-site`: nothing here is meant to be
        // embedded as an image or script by any other origin, sibling
        // subdomains included. CORS fetches from allowed origins are not
        // subject to CORP, so the browser app is unaffected.
        set(HeaderName::from_static("cross-origin-resource-policy"), "same-origin");
        set(HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
        set(HeaderName::from_static("permissions-policy"), PERMISSIONS_POLICY);
        if config.hsts {
            let value = format!("max-age={}; includeSubDomains", config.hsts_max_age_secs);
            common.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_str(&value).expect("digits and ASCII form a valid header value"),
            );
        }
        SecurityHeaders { common: Arc::new(common) }
    }

    /// Runs the request, then stamps the headers over whatever the inner
    /// layers set, and drops any `Server` banner.
    pub(super) async fn apply(self, req: Request, next: Next) -> Response {
        let csp = if is_docs(req.uri().path()) { DOCS_CSP } else { API_CSP };
        let mut response = next.run(req).await;
        let headers = response.headers_mut();
        for (name, value) in self.common.iter() {
            headers.insert(name.clone(), value.clone());
        }
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
        headers.remove(header::SERVER);
        response
    }
}

/// `/docs`, `/docs/` and everything below it; not `/docsomething`.
fn is_docs(path: &str) -> bool {
    path.strip_prefix("/docs").is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_docs_tree_gets_the_docs_policy() {
        for path in ["/docs", "/docs/", "/docs/swagger-ui-bundle.js"] {
            assert!(is_docs(path), "{path}");
        }
        for path in ["/", "/docsx", "/api/v1/docs", "/openapi.json"] {
            assert!(!is_docs(path), "{path}");
        }
    }

    #[test]
    fn hsts_is_sent_only_when_configured() {
        let off = SecurityHeaders::new(&HttpConfig::default());
        assert!(!off.common.contains_key(header::STRICT_TRANSPORT_SECURITY));
        let on =
            SecurityHeaders::new(&HttpConfig { hsts: true, hsts_max_age_secs: 600, ..Default::default() });
        assert_eq!(on.common[header::STRICT_TRANSPORT_SECURITY], "max-age=600; includeSubDomains");
    }
}
