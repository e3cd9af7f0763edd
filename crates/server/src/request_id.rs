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

/// A UUIDv7 (time first, then random bits). Without a shared context:
/// `Uuid::now_v7` keeps ids in strict order across threads behind one
/// mutex, which every request took and the async threads queued on under
/// load; request ids need to be unique, not ordered within a millisecond.
pub fn generate() -> String {
    uuid::Uuid::new_v7(uuid::Timestamp::now(uuid::NoContext)).simple().to_string()
}

/// Runs `fut` with `id` as the current request id.
pub async fn scope<F: std::future::Future>(id: String, fut: F) -> F::Output {
    CURRENT.scope(id, fut).await
}

/// The current request's id (empty outside a request).
pub fn current() -> String {
    CURRENT.try_with(|id| id.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_distinct_version_7_uuids() {
        let ids: Vec<String> = std::thread::scope(|s| {
            let workers: Vec<_> =
                (0..4).map(|_| s.spawn(|| (0..2_000).map(|_| generate()).collect::<Vec<_>>())).collect();
            workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
        });
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        for id in &ids {
            let uuid = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!((id.len(), uuid.get_version_num()), (32, 7), "{id}");
            assert!(validate(id).is_ok());
        }
    }
}
