//! GCRA in Redis, shared by every instance: one atomic Lua script per
//! request. It reads Redis's own clock, so instances with skewed clocks
//! still agree.

use super::gcra::{Decision, Quota, from_backlog};
use crate::dependencies::{Redis, RedisUnavailable};

/// KEYS[1] = the key; ARGV = emission interval, tolerance (ms).
/// Returns {allowed, backlog_ms, retry_after_ms}.
const SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local emission = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if tat - now > tolerance then
  return {0, tat - now, tat - tolerance - now}
end
local new_tat = tat + emission
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now)
return {1, new_tat - now, 0}
";

pub async fn check(redis: &Redis, quota: Quota, key: &str) -> Result<Decision, RedisUnavailable> {
    let script = redis::Script::new(SCRIPT);
    let (allowed, backlog, retry): (i64, i64, i64) = redis
        .run(|mut connection| async move {
            script
                .key(key)
                .arg(quota.emission_ms())
                .arg(quota.tolerance_ms())
                .invoke_async(&mut connection)
                .await
        })
        .await?;
    Ok(from_backlog(quota, allowed == 1, backlog.max(0) as u64, retry.max(0) as u64))
}
