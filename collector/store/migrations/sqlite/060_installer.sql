-- The installer's view: commands sent to gateways (measure now) with their answers, and
-- the acceptance baseline recorded at the end of each visit.
CREATE TABLE commands (
    command_id   TEXT PRIMARY KEY,
    gateway_id   TEXT NOT NULL,
    command      TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at REAL NOT NULL,
    expires_at   REAL NOT NULL,
    state        TEXT NOT NULL,
    answered_at  REAL,
    result       TEXT,
    error        TEXT
);
CREATE INDEX commands_gateway ON commands (gateway_id, requested_at);
CREATE TABLE installs (
    install_id   TEXT PRIMARY KEY,
    gateway_id   TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    recorded_at  REAL NOT NULL,
    mesh_added   INTEGER NOT NULL,
    placement    TEXT NOT NULL,
    notes        TEXT NOT NULL,
    command_id   TEXT,
    wifi_score   REAL,
    baseline     TEXT NOT NULL
);
CREATE INDEX installs_gateway ON installs (gateway_id, recorded_at)
