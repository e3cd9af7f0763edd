//! CORS for the browser origins an operator lists in `http.cors_allowed_origins`.
//!
//! With an empty list (the default) no layer is installed: responses carry no
//! `Access-Control-*` headers, so browsers keep every other site from reading
//! them. Credentials are never allowed: the API authenticates with a bearer
//! token the caller sends explicitly, not with cookies.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::HttpConfig;

/// How long a browser may reuse a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The CORS layer for the configured allowlist, or `None` when it is empty.
pub(super) fn layer(config: &HttpConfig) -> Option<CorsLayer> {
    // `Config::validate` refuses malformed origins and `*` with a message
    // naming the key; a config assembled in code skips validation, so the
    // same values are dropped here rather than widening CORS to everyone.
    let origins: Vec<HeaderValue> = config
        .cors_allowed_origins
        .iter()
        .filter(|origin| origin.as_str() != "*")
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    let x_request_id = HeaderName::from_static("x-request-id");
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                x_request_id.clone(),
                HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers([
                x_request_id,
                HeaderName::from_static("ratelimit-limit"),
                HeaderName::from_static("ratelimit-remaining"),
                HeaderName::from_static("ratelimit-reset"),
                header::RETRY_AFTER,
            ])
            .max_age(PREFLIGHT_MAX_AGE),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn origins_error(list: &str) -> String {
        let toml = format!("[http]\ncors_allowed_origins = {list}");
        let error = Config::from_toml(&toml).expect_err(&toml);
        assert_eq!(error.key, "http.cors_allowed_origins", "{list}");
        error.message
    }

    #[test]
    fn wildcard_origin_is_refused_with_a_clear_message() {
        let message = origins_error(r#"["https://app.example", "*"]"#);
        assert!(message.contains("\"*\"") && message.contains("wildcard"), "{message}");
    }

    #[test]
    fn origins_must_be_exact_scheme_host_port() {
        for bad in [
            "app.example",
            "ftp://app.example",
            "https://app.example/",
            "https://app.example/path",
            "https://user@app.example",
            "https://App.Example",
            "https://app.example:0",
            "https://app.example:99999",
            "https://app.example:443",
            "http://app.example:80",
            "https://",
            "https://app example",
            "null",
        ] {
            origins_error(&format!("[{bad:?}]"));
        }
        let good =
            r#"["https://app.example", "http://localhost:5173", "http://[::1]:8080", "http://127.0.0.1"]"#;
        let config = Config::from_toml(&format!("[http]\ncors_allowed_origins = {good}")).unwrap();
        assert_eq!(config.http.cors_allowed_origins.len(), 4);
    }

    #[test]
    fn no_layer_without_origins_and_never_a_wildcard() {
        assert!(layer(&HttpConfig::default()).is_none());
        let only_wildcard = HttpConfig { cors_allowed_origins: vec!["*".into()], ..Default::default() };
        assert!(layer(&only_wildcard).is_none());
    }

    #[test]
    fn http_section_rejects_unknown_keys() {
        let error = Config::from_toml("[http]\nhtst = true").unwrap_err();
        assert!(error.key.starts_with("http"), "{error}");
    }
}
