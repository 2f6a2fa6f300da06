-- Raw spooled messages: the idempotency key is (gateway_id, epoch, seq).
CREATE TABLE reports (
    gateway_id   TEXT    NOT NULL,
    epoch        INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    window_start INTEGER NOT NULL,
    window_end   INTEGER NOT NULL,
    uptime_s     INTEGER NOT NULL,
    sent_at      INTEGER NOT NULL,
    received_at  REAL    NOT NULL,
    payload      BLOB    NOT NULL,
    PRIMARY KEY (gateway_id, epoch, seq)
) WITHOUT ROWID;
CREATE INDEX reports_window ON reports (window_end);

-- Latest state per gateway, for fast reads.
CREATE TABLE gateways (
    gateway_id      TEXT PRIMARY KEY,
    first_seen      REAL    NOT NULL,
    last_seen       REAL    NOT NULL,
    last_window_end INTEGER NOT NULL DEFAULT 0,
    last_uptime_s   INTEGER NOT NULL DEFAULT 0,
    reports         INTEGER NOT NULL DEFAULT 0,
    events          INTEGER NOT NULL DEFAULT 0,
    status          TEXT,
    status_at       REAL,
    agent_version   TEXT,
    latest_body     TEXT,
    latest_rates    TEXT
);

-- A few figures per gateway and window, for charts.
CREATE TABLE gateway_facts (
    gateway_id   TEXT    NOT NULL,
    window_end   INTEGER NOT NULL,
    cpu_pct      REAL,
    mem_used_pct REAL,
    wan_rx_bps   REAL,
    wan_tx_bps   REAL,
    stations     INTEGER,
    PRIMARY KEY (gateway_id, window_end)
) WITHOUT ROWID;

CREATE TABLE events (
    gateway_id TEXT    NOT NULL,
    epoch      INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    idx        INTEGER NOT NULL,
    ts         INTEGER NOT NULL,
    type       TEXT    NOT NULL,
    mac        TEXT,
    data       TEXT    NOT NULL,
    PRIMARY KEY (gateway_id, epoch, seq, idx)
) WITHOUT ROWID;

CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    received_at REAL NOT NULL,
    topic       TEXT NOT NULL,
    gateway_id  TEXT,
    reason      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    payload     BLOB NOT NULL
);
CREATE INDEX quarantine_reason ON quarantine (reason);
