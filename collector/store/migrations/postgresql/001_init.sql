-- Raw spooled messages, kept for the raw retention (default 35 days).
-- The idempotency key is (gateway_id, epoch, seq).
CREATE TABLE reports (
    gateway_id   TEXT    NOT NULL,
    epoch        BIGINT NOT NULL,
    seq          BIGINT NOT NULL,
    kind         TEXT    NOT NULL,
    window_start BIGINT NOT NULL,
    window_end   BIGINT NOT NULL,
    uptime_s     BIGINT NOT NULL,
    sent_at      BIGINT NOT NULL,
    received_at  DOUBLE PRECISION    NOT NULL,
    payload      BYTEA    NOT NULL,
    PRIMARY KEY (gateway_id, epoch, seq)
);
CREATE INDEX reports_received ON reports (received_at);

-- Latest state per gateway, for fast reads and the next report's deltas.
CREATE TABLE gateways (
    gateway_id      TEXT PRIMARY KEY,
    first_seen      DOUBLE PRECISION    NOT NULL,
    last_seen       DOUBLE PRECISION    NOT NULL,
    last_window_end BIGINT NOT NULL DEFAULT 0,
    last_uptime_s   BIGINT NOT NULL DEFAULT 0,
    reports         BIGINT NOT NULL DEFAULT 0,
    events          BIGINT NOT NULL DEFAULT 0,
    status          TEXT,
    status_at       DOUBLE PRECISION,
    agent_version   TEXT,
    latest_payload  BYTEA,
    latest_rates    TEXT,
    counters        TEXT
);

-- One row per report: figures plus per-item deltas packed as JSON; partitioned by month of window_end.
CREATE TABLE gateway_facts (
    gateway_id     TEXT    NOT NULL,
    window_end     BIGINT NOT NULL,
    window_s       BIGINT NOT NULL,
    cpu_pct        DOUBLE PRECISION,
    mem_used_pct   DOUBLE PRECISION,
    wan_rx_bytes   BIGINT,
    wan_tx_bytes   BIGINT,
    wan_rx_bps     DOUBLE PRECISION,
    wan_tx_bps     DOUBLE PRECISION,
    stations       BIGINT NOT NULL,
    wifi_stations  BIGINT NOT NULL,
    weak_stations  BIGINT NOT NULL,
    interfaces     TEXT NOT NULL,
    station_deltas TEXT NOT NULL,
    apps           TEXT NOT NULL,
    PRIMARY KEY (gateway_id, window_end)
) PARTITION BY RANGE (window_end);
CREATE TABLE gateway_facts_default PARTITION OF gateway_facts DEFAULT;
CREATE INDEX gateway_facts_window ON gateway_facts (window_end);

-- Incremental rollups: sums and counts, so averages stay exact when windows arrive late.
CREATE TABLE gateway_hourly (
    gateway_id           TEXT    NOT NULL,
    start                BIGINT NOT NULL,
    windows              BIGINT NOT NULL,
    wan_rx_bytes         BIGINT NOT NULL,
    wan_tx_bytes         BIGINT NOT NULL,
    cpu_sum              DOUBLE PRECISION    NOT NULL,
    cpu_n                BIGINT NOT NULL,
    stations_max         BIGINT NOT NULL,
    weak_station_windows BIGINT NOT NULL,
    wifi_station_windows BIGINT NOT NULL,
    PRIMARY KEY (gateway_id, start)
);
CREATE TABLE gateway_daily (
    gateway_id           TEXT    NOT NULL,
    start                BIGINT NOT NULL,
    windows              BIGINT NOT NULL,
    wan_rx_bytes         BIGINT NOT NULL,
    wan_tx_bytes         BIGINT NOT NULL,
    cpu_sum              DOUBLE PRECISION    NOT NULL,
    cpu_n                BIGINT NOT NULL,
    stations_max         BIGINT NOT NULL,
    weak_station_windows BIGINT NOT NULL,
    wifi_station_windows BIGINT NOT NULL,
    PRIMARY KEY (gateway_id, start)
);

CREATE TABLE events (
    gateway_id TEXT    NOT NULL,
    epoch      BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    idx        BIGINT NOT NULL,
    ts         BIGINT NOT NULL,
    type       TEXT    NOT NULL,
    mac        TEXT,
    data       TEXT    NOT NULL,
    PRIMARY KEY (gateway_id, epoch, seq, idx)
);
CREATE INDEX events_ts ON events (ts);

CREATE TABLE quarantine (
    id          BIGSERIAL PRIMARY KEY,
    received_at DOUBLE PRECISION NOT NULL,
    topic       TEXT NOT NULL,
    gateway_id  TEXT,
    reason      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    size        BIGINT NOT NULL,
    payload     BYTEA NOT NULL
);
CREATE INDEX quarantine_reason ON quarantine (reason);
