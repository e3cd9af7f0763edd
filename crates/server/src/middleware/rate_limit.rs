use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, MatchedPath, Request, State},
    http::{HeaderMap, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{
    error::ApiError,
    rate_limit::{Subject, Tier, tier_for},
    state::AppState,
};

/// The client's address as the service sees it: the peer, or, when the peer
/// is a trusted proxy, the nearest untrusted address in `X-Forwarded-For`.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

pub(crate) fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()).unwrap_or("");
    let hops: Vec<IpAddr> = forwarded.split(',').filter_map(|h| h.trim().parse().ok()).collect();
    // Walk from the proxy back towards the client; the first hop that is not
    // one of our proxies is the client (anything before it is client-supplied).
    Some(hops.into_iter().rev().find(|ip| !trusted.contains(ip)).unwrap_or(peer))
}

pub(super) async fn limit(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let ip = client_ip(peer, req.headers(), &state.config().rate_limit.trusted_proxies);
    if let Some(ip) = ip {
        req.extensions_mut().insert(ClientIp(ip));
    }
    let limiter = state.limiter();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let tier = route.as_deref().and_then(|r| tier_for(req.method(), r));
    let (Some(tier), Some(ip), true) = (tier, ip, limiter.enabled()) else {
        return next.run(req).await;
    };
    let subject = match tier {
        // Credential endpoints count per client address, whoever signs in.
        Tier::Auth => Subject::Client(ip),
        _ => crate::auth::bearer_token(req.headers())
            .and_then(|token| state.accounts().token_subject(token))
            .map(Subject::User)
            .unwrap_or(Subject::Client(ip)),
    };
    let decision = limiter.check(tier, &subject).await;
    let mut response = if decision.allowed {
        next.run(req).await
    } else {
        metrics::counter!("rate_limited_total", "tier" => tier.name()).increment(1);
        ApiError::RateLimited {
            message: format!("rate limit of the {} tier exceeded; retry later", tier.name()),
            retry_after_secs: decision.retry_after_ms.div_ceil(1000),
        }
        .into_response()
    };
    let headers = response.headers_mut();
    headers.insert("ratelimit-limit", HeaderValue::from(decision.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(decision.remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(decision.reset_ms.div_ceil(1000)));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_ip(Some(peer), &headers("1.2.3.4"), &[]), Some(peer));
    }

    #[test]
    fn the_nearest_untrusted_hop_behind_a_trusted_proxy_is_the_client() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let got = client_ip(Some(proxy), &headers("6.6.6.6, 198.51.100.7"), &[proxy]);
        assert_eq!(got, Some("198.51.100.7".parse().unwrap()), "a spoofed first hop is not believed");
    }
}
