-- Idempotency keys: the first response to a POST that creates something,
-- kept (sealed) for replay. `scope` is the caller (user id, or a keyed hash
-- of the client address) plus method and route; `status` is NULL while the
-- first request is still running, which is what makes a concurrent duplicate
-- wait (409) instead of executing twice. Times are unix seconds.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER,
    headers TEXT,
    body TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expires_at);

-- Runtime overrides of the feature flags defined in the configuration. A
-- row holds either `enabled` or `percent`; no row means the config default.
-- Every instance re-reads this table every `flags.refresh_ms`.
CREATE TABLE feature_flags (
    name TEXT PRIMARY KEY,
    enabled BOOLEAN,
    percent INTEGER CHECK (percent BETWEEN 0 AND 100),
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    CHECK ((enabled IS NULL) <> (percent IS NULL))
);
