-- Facts in a rowid table with a unique key index, instead of clustered on the key (as the
-- raw reports since 013): a batch holds one window of each of many gateways, so each of its
-- ~500-byte rows went into the middle of the clustered tree and split a page; a batch of 500
-- rewrote ~1,200 pages of it (two thirds of the WAL a commit writes). Appended by rowid, the
-- rows fill new pages and only the small key index is touched per gateway.
CREATE TABLE gateway_facts_by_rowid (
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
    apps           TEXT NOT NULL
);
INSERT INTO gateway_facts_by_rowid SELECT * FROM gateway_facts ORDER BY window_end;
DROP TABLE gateway_facts;
ALTER TABLE gateway_facts_by_rowid RENAME TO gateway_facts;
CREATE UNIQUE INDEX gateway_facts_key ON gateway_facts (gateway_id, window_end);
CREATE INDEX gateway_facts_window ON gateway_facts (window_end)
