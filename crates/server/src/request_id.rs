//! The request id: taken from `X-Request-ID` (or `X-Correlation-ID`) when it
//! is sane, generated otherwise. It is the `traceId` of every envelope, the
//! `X-Request-ID` response header and the `request_id` of every log line.

use tokio::task_local;

task_local! {
    static CURRENT: String;
}

/// Longest request id accepted from a client.
pub const MAX_LEN: usize = 128;

/// Why an inbound request id was refused.
pub fn validate(value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > MAX_LEN {
        return Err(format!("must be 1 to {MAX_LEN} characters"));
    }
    if !value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')) {
        return Err("may contain only letters, digits, '-', '_', '.' and ':'".into());
    }
    Ok(())
}

pub fn generate() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Runs `fut` with `id` as the current request id.
pub async fn scope<F: std::future::Future>(id: String, fut: F) -> F::Output {
    CURRENT.scope(id, fut).await
}

/// The current request's id (empty outside a request).
pub fn current() -> String {
    CURRENT.try_with(|id| id.clone()).unwrap_or_default()
}
