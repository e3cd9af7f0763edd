-- Accounts. Personal fields are stored sealed (AES-256-GCM, key id inside the
-- value, row id bound as associated data); lookups go through a keyed blind
-- index, so a dump of this table shows no email address.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email_sealed TEXT NOT NULL,
    email_index TEXT NOT NULL UNIQUE,
    display_name_sealed TEXT,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleted')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    password_changed_at TEXT NOT NULL,
    last_login_at TEXT,
    deleted_at TEXT
);
CREATE INDEX users_deleted ON users (status, deleted_at);

-- One row per login; the access token carries its id (`sid`). Revoking the
-- session refuses its access tokens at once.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at TEXT,
    revoke_reason TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Refresh tokens, stored hashed, rotated on every use. A spent token used
-- again revokes its whole session (token family).
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at TEXT
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at TEXT
);

-- Failed-login counters per account, per client and per (account, client).
CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    blocked_until INTEGER NOT NULL
);

-- Security events, HMAC-chained: each row's mac covers its content and the
-- previous row's mac, so an edited, deleted or reordered row is detected.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    request_id TEXT NOT NULL,
    ip_hash TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_mac TEXT NOT NULL,
    mac TEXT NOT NULL
);
CREATE INDEX audit_by_action ON audit_log (action, seq);
CREATE INDEX audit_by_actor ON audit_log (actor, seq);

-- Development mailer: messages the operator reads with `babyshield outbox`
-- when no SMTP server is configured. Sealed like every personal field.
CREATE TABLE mail_outbox (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    recipient_sealed TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_sealed TEXT NOT NULL
);
