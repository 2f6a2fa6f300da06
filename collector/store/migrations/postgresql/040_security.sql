-- Security (collector/security/, docs/security.md): operator accounts with scrypt password
-- hashes, server-side sessions and API tokens (both stored as SHA-256 of the secret, so a
-- copy of the database opens nothing), sign-in throttling, the security event log the
-- auditor reads, and erasure audit records (which name a home only by a keyed hash).
CREATE TABLE users (
    username        TEXT PRIMARY KEY,
    role            TEXT    NOT NULL,
    password_hash   TEXT    NOT NULL,
    created_at      DOUBLE PRECISION    NOT NULL,
    password_set_at DOUBLE PRECISION    NOT NULL,
    disabled        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
    id_hash     TEXT PRIMARY KEY,
    username    TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    created_at  DOUBLE PRECISION NOT NULL,
    last_seen   DOUBLE PRECISION NOT NULL,
    source      TEXT NOT NULL DEFAULT '',
    revoked_at  DOUBLE PRECISION
);
CREATE INDEX sessions_user ON sessions (username);

CREATE TABLE api_tokens (
    token_id    TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    expires_at  DOUBLE PRECISION NOT NULL,
    revoked_at  DOUBLE PRECISION,
    last_used   DOUBLE PRECISION
);
CREATE UNIQUE INDEX api_tokens_secret ON api_tokens (secret_hash);

-- One row per throttled key: 'user:<name>' or 'addr:<source address>'.
CREATE TABLE login_throttle (
    key           TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL,
    last_failure  DOUBLE PRECISION    NOT NULL,
    blocked_until DOUBLE PRECISION    NOT NULL,
    locked        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE security_events (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        DOUBLE PRECISION NOT NULL,
    event     TEXT NOT NULL,
    username  TEXT NOT NULL DEFAULT '',
    source    TEXT NOT NULL DEFAULT '',
    detail    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX security_events_at ON security_events (at);

CREATE TABLE erasures (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         DOUBLE PRECISION NOT NULL,
    actor      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    home_hash  TEXT NOT NULL,
    tables     TEXT NOT NULL,
    rows       INTEGER NOT NULL
);
