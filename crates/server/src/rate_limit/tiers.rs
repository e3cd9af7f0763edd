//! Which routes are limited by which tier: the one place to look.

use axum::http::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Everything not listed below.
    Standard,
    /// Account changes and admin actions.
    Strict,
    /// Credential endpoints, always per client address (on top of the
    /// per-account failed-login throttling).
    Auth,
    /// Search and lists: per client when anonymous, per user (higher) when
    /// signed in.
    Search,
}

impl Tier {
    pub fn name(self) -> &'static str {
        match self {
            Tier::Standard => "standard",
            Tier::Strict => "strict",
            Tier::Auth => "auth",
            Tier::Search => "search",
        }
    }
}

/// `None`: not limited (probes and scrapes must never be refused).
pub fn tier_for(method: &Method, route: &str) -> Option<Tier> {
    match route {
        "/health"
        | "/health/live"
        | "/health/ready"
        | "/health/dependencies"
        | "/health/detailed"
        | "/api/v1/healthz"
        | "/metrics" => None,
        "/api/v1/auth/token"
        | "/api/v1/auth/login"
        | "/api/v1/auth/register"
        | "/api/v1/auth/refresh"
        | "/api/v1/auth/password-reset/request"
        | "/api/v1/auth/password-reset/confirm" => Some(Tier::Auth),
        "/api/v1/search/advanced"
        | "/api/v1/recalls"
        | "/api/v1/search/bulk"
        | "/api/v1/safety-check"
        | "/api/v2/search"
        | "/api/v2/recalls" => Some(Tier::Search),
        "/api/v1/auth/password/change" | "/api/v1/account" => Some(Tier::Strict),
        // A photo costs up to a second of CPU to decode; an export reads
        // everything the user has; a webhook makes us call out.
        "/api/v1/scan/image" | "/api/v1/user/data/export" => Some(Tier::Strict),
        "/api/v1/webhooks" if method == Method::POST => Some(Tier::Strict),
        r if r.starts_with("/api/v1/admin/") => Some(Tier::Strict),
        _ if method == Method::OPTIONS => None,
        _ => Some(Tier::Standard),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expensive_and_sensitive_routes_get_the_strict_tier() {
        let cases = [
            (Method::POST, "/api/v1/scan/image", Some(Tier::Strict)),
            (Method::GET, "/api/v1/user/data/export", Some(Tier::Strict)),
            (Method::POST, "/api/v1/webhooks", Some(Tier::Strict)),
            (Method::GET, "/api/v1/webhooks", Some(Tier::Standard)),
            (Method::POST, "/api/v1/safety-check", Some(Tier::Search)),
            (Method::POST, "/api/v1/search/bulk", Some(Tier::Search)),
            (Method::POST, "/api/v2/search", Some(Tier::Search)),
            (Method::GET, "/api/v1/family/members", Some(Tier::Standard)),
            (Method::POST, "/api/v1/auth/token", Some(Tier::Auth)),
            (Method::GET, "/health/ready", None),
        ];
        for (method, route, tier) in cases {
            assert_eq!(tier_for(&method, route), tier, "{method} {route}");
        }
    }
}
