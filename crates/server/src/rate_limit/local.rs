//! In-process GCRA state: one map per shard, bounded. Used alone on a single
//! instance, and as the fallback while Redis is unavailable.

use std::{collections::HashMap, sync::Mutex};

use super::gcra::{Decision, Quota, decide};

const SHARDS: usize = 16;
/// Keys kept per shard before expired ones are swept.
const SWEEP_AT: usize = 8_192;

#[derive(Debug)]
pub struct LocalLimiter {
    shards: Vec<Mutex<HashMap<String, u64>>>,
}

impl Default for LocalLimiter {
    fn default() -> Self {
        LocalLimiter { shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect() }
    }
}

impl LocalLimiter {
    pub fn check(&self, quota: Quota, key: &str, now_ms: u64) -> Decision {
        let shard = &self.shards[shard_of(key)];
        let mut map = shard.lock().unwrap_or_else(|p| p.into_inner());
        let (decision, next) = decide(quota, map.get(key).copied(), now_ms);
        if let Some(tat) = next {
            if map.len() >= SWEEP_AT && !map.contains_key(key) {
                // A TAT in the past means the key is back to a full burst:
                // forgetting it changes nothing.
                map.retain(|_, tat| *tat > now_ms);
            }
            map.insert(key.to_string(), tat);
        }
        decision
    }
}

fn shard_of(key: &str) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    (hasher.finish() as usize) % SHARDS
}
