-- Home profiles (collector/profiles/, docs/profiles.md). JSON is stored as TEXT so the same
-- statements port to PostgreSQL (jsonb there); times are epoch seconds, days are UTC day numbers.

-- Per home and UTC day: every report window of the day folded into one rollup at ingest.
CREATE TABLE home_days (
    gateway_id TEXT    NOT NULL,
    day        INTEGER NOT NULL,
    data       TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '{}',
    updated_at REAL    NOT NULL,
    PRIMARY KEY (gateway_id, day)
);
CREATE INDEX home_days_updated ON home_days (updated_at);

-- The operator's CRM: which subscriber, plan and area each gateway serves.
CREATE TABLE subscribers (
    gateway_id     TEXT PRIMARY KEY,
    subscriber_id  TEXT NOT NULL,
    plan_down_mbps REAL,
    plan_up_mbps   REAL,
    price          REAL,
    contract_end   TEXT,
    area           TEXT,
    community      TEXT,
    imported_at    REAL NOT NULL
);
CREATE INDEX subscribers_area ON subscribers (area);

-- The labels, flags and warnings that hold now, one row per home and rule.
CREATE TABLE home_results (
    gateway_id   TEXT    NOT NULL,
    rule         TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    time_window  TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    score        REAL,
    sentence     TEXT    NOT NULL,
    evidence     TEXT    NOT NULL,
    since        REAL    NOT NULL,
    changed_at   REAL    NOT NULL,
    evaluated_at REAL    NOT NULL,
    PRIMARY KEY (gateway_id, rule)
);
CREATE INDEX home_results_rule ON home_results (rule, gateway_id);

-- Every appearance, change (state or rule version) and clearance of a result.
CREATE TABLE result_history (
    id         INTEGER PRIMARY KEY,
    gateway_id TEXT    NOT NULL,
    rule       TEXT    NOT NULL,
    change     TEXT    NOT NULL,
    at         REAL    NOT NULL,
    version    INTEGER NOT NULL,
    state      TEXT    NOT NULL,
    score      REAL,
    sentence   TEXT    NOT NULL
);
CREATE INDEX result_history_home ON result_history (gateway_id, at);

-- A few figures of each home's last evaluation, for lists and the area view.
CREATE TABLE home_profiles (
    gateway_id   TEXT PRIMARY KEY,
    evaluated_at REAL    NOT NULL,
    wifi_score   REAL,
    devices      INTEGER NOT NULL,
    gb_per_day   REAL    NOT NULL,
    online_hours REAL    NOT NULL,
    competitor   INTEGER NOT NULL,
    summary      TEXT    NOT NULL
);

-- Evaluation runs: what was evaluated when (incremental runs pick homes updated since the last).
CREATE TABLE evaluation_runs (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL,
    started_at  REAL    NOT NULL,
    finished_at REAL    NOT NULL,
    as_of       INTEGER NOT NULL,
    homes       INTEGER NOT NULL,
    results     INTEGER NOT NULL,
    seconds     REAL    NOT NULL
)
