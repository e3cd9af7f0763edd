-- Family safety: children's profiles, watched products, alerts, scan
-- history, webhooks, and the database job queue that connects them.
-- Personal fields are sealed (AES-256-GCM, row id bound as associated
-- data) exactly like the account email: a dump shows no child's name,
-- birth date or allergy, and no watched product.

CREATE TABLE family_members (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- JSON of name, birth date or age, relationship, allergies, diet.
    profile_sealed TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    -- Soft deletion: restorable until the purge removes the row.
    deleted_at TEXT
);
CREATE INDEX family_members_by_user ON family_members (user_id, id);
CREATE INDEX family_members_deleted ON family_members (deleted_at) WHERE deleted_at IS NOT NULL;

-- Products a user keeps at home. What they are is sealed; the match keys
-- (GTIN, model number, brand) are keyed blind indexes, so the alert job
-- finds the watchers of a new recall without opening every row.
CREATE TABLE watched_products (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    details_sealed TEXT NOT NULL,
    gtin_index TEXT,
    model_index TEXT,
    brand_index TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX watched_products_by_user ON watched_products (user_id, id);
CREATE INDEX watched_products_by_gtin ON watched_products (gtin_index) WHERE gtin_index IS NOT NULL;
CREATE INDEX watched_products_by_model ON watched_products (model_index) WHERE model_index IS NOT NULL;
CREATE INDEX watched_products_by_brand ON watched_products (brand_index) WHERE brand_index IS NOT NULL;

-- Recall alerts: at most one per user and recall, whatever number of jobs,
-- workers or watched products find it.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    recall_id TEXT NOT NULL,
    watch_id TEXT REFERENCES watched_products (id) ON DELETE SET NULL,
    match_type TEXT NOT NULL,
    confidence DOUBLE PRECISION NOT NULL,
    created_at TEXT NOT NULL,
    read_at TEXT,
    UNIQUE (user_id, recall_id)
);
CREATE INDEX notifications_by_user ON notifications (user_id, id);
CREATE INDEX notifications_unread ON notifications (user_id, id) WHERE read_at IS NULL;

-- Opt-in history of safety checks and scans (sealed).
CREATE TABLE scan_history (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    entry_sealed TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX scan_history_by_user ON scan_history (user_id, id);

CREATE TABLE user_preferences (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    scan_history BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at TEXT NOT NULL
);

-- Signed alert webhooks: the URL and the signing secret are sealed.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    config_sealed TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX webhooks_by_user ON webhooks (user_id, id);

-- Background jobs. A worker leases a job (lease_owner, lease_until); a job
-- whose lease ran out is taken over, so a crashed instance loses nothing.
-- Handlers are idempotent, so a job that runs twice does no harm.
CREATE TABLE jobs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_after BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX jobs_ready ON jobs (status, run_after, id);
