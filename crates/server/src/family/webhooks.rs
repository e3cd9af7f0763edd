//! Signed alert webhooks. A user registers an HTTPS URL; each new alert is
//! POSTed to it as JSON by a `deliver_webhook` job, signed with a secret
//! shown once at registration:
//!
//! `X-BabyShield-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
//!
//! Failed deliveries are retried by the job queue with exponential backoff
//! and full jitter (8 attempts over about an hour); each endpoint has its
//! own circuit breaker, so a dead endpoint is not hammered (its jobs wait
//! until the breaker lets a trial through). URLs on loopback or private
//! networks are refused unless `family.webhook_allow_private` is set: at
//! registration for literal addresses, and at connection time for names
//! (the client's resolver drops private addresses, so a name re-pointed at
//! an internal service after registration reaches nothing).

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use babyshield_resilience::{BreakerConfig, CircuitBreaker, RetryPolicy};
use babyshield_storage::{
    family::{DeliverWebhook, WebhookRow},
    jobs::Job,
};
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};

use super::{Family, FamilyConfig, SealedColumn, aad, new_id};
use crate::{accounts::AuthUser, error::ApiError};

const MAX_URL: usize = 500;
type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// `POST /api/v1/webhooks`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// https:// URL that receives alerts.
    pub url: String,
}

/// A webhook as listed (the secret is never shown again).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub created_at: String,
}

/// The answer of a registration: the signing secret, this once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookCreated {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// HMAC-SHA256 key of `X-BabyShield-Signature`; store it now.
    pub secret: String,
}

/// What is sealed in `webhooks.config_sealed`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    url: String,
    secret: String,
}

/// Delivery: the HTTP client, the retry policy and a breaker per endpoint.
pub(super) struct Delivery {
    client: reqwest::Client,
    allow_private: bool,
    retry: RetryPolicy,
    breakers: Mutex<HashMap<String, Arc<CircuitBreaker>>>,
}

/// Why one delivery did not succeed.
#[derive(Debug)]
pub(crate) enum DeliveryError {
    /// Retry later (endpoint down, breaker open, database busy).
    Retry(String),
    /// Nothing to retry (webhook or alert deleted).
    Drop(String),
}

impl Delivery {
    pub(super) fn new(config: &FamilyConfig) -> anyhow::Result<Delivery> {
        crate::tls::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.webhook_timeout_ms))
            .connect_timeout(Duration::from_millis(config.webhook_timeout_ms.min(3_000)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("BabyShield-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !config.webhook_allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        let client = builder.build()?;
        Ok(Delivery {
            client,
            allow_private: config.webhook_allow_private,
            retry: RetryPolicy {
                max_retries: 8,
                base: Duration::from_secs(10),
                cap: Duration::from_secs(1_800),
            },
            breakers: Mutex::new(HashMap::new()),
        })
    }

    fn breaker(&self, webhook_id: &str) -> Arc<CircuitBreaker> {
        let mut breakers = self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        if breakers.len() > 10_000 {
            breakers.retain(|_, b| b.refusing());
        }
        Arc::clone(breakers.entry(webhook_id.to_string()).or_insert_with(|| {
            Arc::new(CircuitBreaker::new(
                "webhook",
                BreakerConfig { failures: 3, window_secs: 300, open_secs: 300 },
            ))
        }))
    }

    /// Wait before attempt `attempts + 1` of a failed delivery.
    pub(crate) fn backoff(&self, attempts: i64) -> Duration {
        self.retry.backoff(u32::try_from(attempts).unwrap_or(1).max(1)).max(Duration::from_secs(1))
    }

    /// Checks a URL a user registers: absolute https (or http to a private
    /// address when allowed), no credentials, no private destination.
    fn check_url(&self, raw: &str) -> Result<reqwest::Url, ApiError> {
        let raw = raw.trim();
        if raw.len() > MAX_URL {
            return Err(ApiError::invalid("url", format!("must be at most {MAX_URL} characters")));
        }
        let url = reqwest::Url::parse(raw).map_err(|e| ApiError::invalid("url", e))?;
        let allowed_scheme = url.scheme() == "https" || (self.allow_private && url.scheme() == "http");
        if !allowed_scheme {
            return Err(ApiError::invalid("url", "must be an https:// URL"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ApiError::invalid("url", "must not contain credentials"));
        }
        let Some(host) = url.host_str() else {
            return Err(ApiError::invalid("url", "must name a host"));
        };
        if !self.allow_private {
            let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
            if host.eq_ignore_ascii_case("localhost") || literal.is_some_and(is_private) {
                return Err(ApiError::invalid("url", "must not point at a loopback or private address"));
            }
        }
        Ok(url)
    }
}

/// The webhook client's resolver: public addresses only, decided at
/// connection time (no window between a check and the connect).
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<std::net::SocketAddr> =
                resolved.into_iter().filter(|a| !is_private(a.ip())).collect();
            if public.is_empty() {
                return Err("webhook host has no public address".into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Loopback, private, link-local, unspecified or otherwise internal.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1])
                || v4.octets()[0] == 0
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// The signature header value for `body` sent at `t`.
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex = babyshield_security::to_hex(&digest);
    format!("t={t},v1={hex}")
}

impl Family {
    fn webhook_view(&self, row: &WebhookRow) -> Result<(Webhook, Stored), ApiError> {
        let stored: Stored = self.open(&row.config_sealed, &aad(SealedColumn::WebhookConfig, &row.id))?;
        Ok((
            Webhook { id: row.id.clone(), url: stored.url.clone(), created_at: row.created_at.clone() },
            stored,
        ))
    }

    pub async fn create_webhook(
        &self,
        user: &AuthUser,
        input: WebhookInput,
    ) -> Result<WebhookCreated, ApiError> {
        let url = self.webhooks.check_url(&input.url)?;
        let id = new_id();
        let secret = babyshield_security::new_opaque_token();
        let stored = Stored { url: url.to_string(), secret: secret.clone() };
        let sealed = self.seal(&stored, &aad(SealedColumn::WebhookConfig, &id))?;
        if !self.store.create_webhook(&user.user_id, &id, &sealed, self.config.max_webhooks).await? {
            return Err(ApiError::Conflict(format!(
                "an account can have at most {} webhooks",
                self.config.max_webhooks
            )));
        }
        Ok(WebhookCreated {
            webhook: Webhook { id, url: stored.url, created_at: super::rfc3339(super::now()) },
            secret,
        })
    }

    pub async fn list_webhooks(&self, user: &AuthUser) -> Result<Vec<Webhook>, ApiError> {
        let rows = self.store.list_webhooks(&user.user_id).await?;
        rows.iter().map(|r| self.webhook_view(r).map(|(w, _)| w)).collect()
    }

    pub async fn delete_webhook(&self, user: &AuthUser, id: &str) -> Result<(), ApiError> {
        if self.store.delete_webhook(&user.user_id, id).await? {
            Ok(())
        } else {
            Err(ApiError::NotFound("no webhook with this id".into()))
        }
    }

    /// Wait before the next attempt of a failed delivery job.
    pub(crate) fn webhook_backoff(&self, attempts: i64) -> Duration {
        self.webhooks.backoff(attempts)
    }

    /// Runs one `deliver_webhook` job.
    pub(crate) async fn deliver_webhook(&self, job: &Job) -> Result<(), DeliveryError> {
        let payload: DeliverWebhook = serde_json::from_str(&job.payload)
            .map_err(|e| DeliveryError::Drop(format!("bad job payload: {e}")))?;
        let retry = |e: ApiError| DeliveryError::Retry(e.to_string());
        let Some(row) = self.store.webhook(&payload.webhook_id).await.map_err(|e| retry(e.into()))? else {
            return Err(DeliveryError::Drop("webhook was deleted".into()));
        };
        let (_, stored) = self.webhook_view(&row).map_err(|e| DeliveryError::Drop(e.to_string()))?;
        let Some(alert) = self
            .store
            .notification(&row.user_id, &payload.notification_id)
            .await
            .map_err(|e| retry(e.into()))?
        else {
            return Err(DeliveryError::Drop("alert was deleted".into()));
        };
        let alert = self.notification_view(alert).map_err(|e| DeliveryError::Drop(e.to_string()))?;
        let body = serde_json::to_vec(&serde_json::json!({
            "type": "recall_alert",
            "deliveryId": job.id,
            "notification": alert,
        }))
        .map_err(|e| DeliveryError::Drop(e.to_string()))?;

        let breaker = self.webhooks.breaker(&row.id);
        if !breaker.allow() {
            return Err(DeliveryError::Retry("endpoint circuit breaker is open".into()));
        }
        let url = reqwest::Url::parse(&stored.url).map_err(|e| DeliveryError::Drop(e.to_string()))?;
        let t = time::OffsetDateTime::now_utc().unix_timestamp();
        let sent = self
            .webhooks
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("x-babyshield-signature", signature(&stored.secret, t, &body))
            .header("x-babyshield-delivery", job.id.to_string())
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                breaker.record_success();
                metrics::counter!("webhook_deliveries_total", "outcome" => "delivered").increment(1);
                Ok(())
            }
            Ok(response) => {
                breaker.record_failure();
                metrics::counter!("webhook_deliveries_total", "outcome" => "refused").increment(1);
                Err(DeliveryError::Retry(format!("endpoint answered {}", response.status().as_u16())))
            }
            Err(e) => {
                breaker.record_failure();
                metrics::counter!("webhook_deliveries_total", "outcome" => "unreachable").increment(1);
                let kind = if e.is_timeout() { "timed out" } else { "unreachable" };
                Err(DeliveryError::Retry(format!("endpoint {kind}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_destinations_are_recognized() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.4",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_are_checked_before_they_are_stored() {
        crate::tls::install_crypto_provider();
        let strict = Delivery::new(&FamilyConfig::default()).unwrap();
        for bad in [
            "http://example.com/hook",
            "https://localhost/x",
            "https://127.0.0.1/x",
            "https://[::1]/x",
            "https://u:p@example.com/x",
            "ftp://example.com",
            "not a url",
            &format!("https://example.com/{}", "a".repeat(600)),
        ] {
            assert!(strict.check_url(bad).is_err(), "{bad}");
        }
        assert!(strict.check_url("https://hooks.example.com/babyshield").is_ok());
        let lab =
            Delivery::new(&FamilyConfig { webhook_allow_private: true, ..FamilyConfig::default() }).unwrap();
        assert!(lab.check_url("http://127.0.0.1:9000/hook").is_ok());
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_reach_nothing() {
        use reqwest::dns::Resolve;
        let err = PublicOnly.resolve("localhost".parse().unwrap()).await.err().expect("refused");
        assert!(err.to_string().contains("no public address"), "{err}");
        // And end to end: the strict client cannot call a loopback name.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let strict = Delivery::new(&FamilyConfig::default()).unwrap();
        let sent = strict.client.post(format!("http://localhost:{port}/hook")).send().await;
        assert!(sent.is_err(), "a loopback name must not be reachable");
    }

    #[test]
    fn signature_is_hmac_sha256_of_time_and_body() {
        // Known answer from Python: hmac.new(b"secret", b"1700000000.{}", sha256).
        let sig = signature("secret", 1_700_000_000, b"{}");
        assert_eq!(sig, "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163");
        assert_ne!(sig, signature("secret", 1_700_000_001, b"{}"));
        assert_ne!(sig, signature("other", 1_700_000_000, b"{}"));
    }
}
