-- Raw spooled messages, kept for the raw retention (default 35 days).
-- The idempotency key is (gateway_id, epoch, seq).
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
CREATE INDEX reports_received ON reports (received_at);

-- Latest state per gateway, for fast reads and the next report's deltas.
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
    latest_payload  BLOB,
    latest_rates    TEXT,
    counters        TEXT
);

-- One row per report: figures plus per-item deltas packed as JSON.
CREATE TABLE gateway_facts (
    gateway_id     TEXT    NOT NULL,
    window_end     INTEGER NOT NULL,
    window_s       INTEGER NOT NULL,
    cpu_pct        REAL,
    mem_used_pct   REAL,
    wan_rx_bytes   INTEGER,
    wan_tx_bytes   INTEGER,
    wan_rx_bps     REAL,
    wan_tx_bps     REAL,
    stations       INTEGER NOT NULL,
    wifi_stations  INTEGER NOT NULL,
    weak_stations  INTEGER NOT NULL,
    interfaces     TEXT NOT NULL,
    station_deltas TEXT NOT NULL,
    apps           TEXT NOT NULL,
    PRIMARY KEY (gateway_id, window_end)
) WITHOUT ROWID;
CREATE INDEX gateway_facts_window ON gateway_facts (window_end);

-- Incremental rollups: sums and counts, so averages stay exact when windows arrive late.
CREATE TABLE gateway_hourly (
    gateway_id           TEXT    NOT NULL,
    start                INTEGER NOT NULL,
    windows              INTEGER NOT NULL,
    wan_rx_bytes         INTEGER NOT NULL,
    wan_tx_bytes         INTEGER NOT NULL,
    cpu_sum              REAL    NOT NULL,
    cpu_n                INTEGER NOT NULL,
    stations_max         INTEGER NOT NULL,
    weak_station_windows INTEGER NOT NULL,
    wifi_station_windows INTEGER NOT NULL,
    PRIMARY KEY (gateway_id, start)
) WITHOUT ROWID;
CREATE TABLE gateway_daily (
    gateway_id           TEXT    NOT NULL,
    start                INTEGER NOT NULL,
    windows              INTEGER NOT NULL,
    wan_rx_bytes         INTEGER NOT NULL,
    wan_tx_bytes         INTEGER NOT NULL,
    cpu_sum              REAL    NOT NULL,
    cpu_n                INTEGER NOT NULL,
    stations_max         INTEGER NOT NULL,
    weak_station_windows INTEGER NOT NULL,
    wifi_station_windows INTEGER NOT NULL,
    PRIMARY KEY (gateway_id, start)
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
CREATE INDEX events_ts ON events (ts);

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
