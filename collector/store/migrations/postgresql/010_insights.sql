-- Home profiles (collector/profiles/, docs/profiles.md): the tables of sqlite/010_insights.sql.
-- JSON is TEXT, as on SQLite: rollups are read and written whole by Python and never queried
-- inside by SQL, so jsonb would only add a parse on every fold and a re-serialisation on every
-- read (and refuse \u0000 escapes). Times are epoch seconds, days are UTC day numbers.
-- Text keys and names are COLLATE "C": ORDER BY and the id ranges evaluation workers read
-- (first_id..last_id of a sorted chunk) then follow Python's sorted(), whatever the locale.

-- Per home and UTC day: every report window of the day folded into one rollup.
CREATE TABLE home_days (
    gateway_id TEXT COLLATE "C" NOT NULL,
    day        INTEGER          NOT NULL,
    data       TEXT             NOT NULL,
    detail     TEXT             NOT NULL DEFAULT '{}',
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (gateway_id, day)
);
CREATE INDEX home_days_updated ON home_days (updated_at);

-- The operator's CRM: which subscriber, plan and area each gateway serves.
CREATE TABLE subscribers (
    gateway_id     TEXT COLLATE "C" PRIMARY KEY,
    subscriber_id  TEXT             NOT NULL,
    plan_down_mbps DOUBLE PRECISION,
    plan_up_mbps   DOUBLE PRECISION,
    price          DOUBLE PRECISION,
    contract_end   TEXT,
    area           TEXT COLLATE "C",
    community      TEXT COLLATE "C",
    imported_at    DOUBLE PRECISION NOT NULL
);
CREATE INDEX subscribers_area ON subscribers (area);

-- The labels, flags and warnings that hold now, one row per home and rule. Every evaluation
-- rewrites its homes' rows (evaluated_at moves): half-full pages let those updates stay on their
-- page without touching the indexes (HOT), 2.7 times faster. home_profiles likewise.
CREATE TABLE home_results (
    gateway_id   TEXT COLLATE "C" NOT NULL,
    rule         TEXT COLLATE "C" NOT NULL,
    kind         TEXT COLLATE "C" NOT NULL,
    version      INTEGER          NOT NULL,
    time_window  TEXT             NOT NULL,
    state        TEXT             NOT NULL,
    score        DOUBLE PRECISION,
    sentence     TEXT             NOT NULL,
    evidence     TEXT             NOT NULL,
    since        DOUBLE PRECISION NOT NULL,
    changed_at   DOUBLE PRECISION NOT NULL,
    evaluated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (gateway_id, rule)
) WITH (fillfactor = 50);
CREATE INDEX home_results_rule ON home_results (rule, gateway_id);

-- Every appearance, change (state or rule version) and clearance of a result.
CREATE TABLE result_history (
    id         BIGSERIAL PRIMARY KEY,
    gateway_id TEXT COLLATE "C" NOT NULL,
    rule       TEXT COLLATE "C" NOT NULL,
    change     TEXT             NOT NULL,
    at         DOUBLE PRECISION NOT NULL,
    version    INTEGER          NOT NULL,
    state      TEXT             NOT NULL,
    score      DOUBLE PRECISION,
    sentence   TEXT             NOT NULL
);
CREATE INDEX result_history_home ON result_history (gateway_id, at);

-- A few figures of each home's last evaluation, for lists and the area view.
CREATE TABLE home_profiles (
    gateway_id   TEXT COLLATE "C" PRIMARY KEY,
    evaluated_at DOUBLE PRECISION NOT NULL,
    wifi_score   DOUBLE PRECISION,
    devices      INTEGER          NOT NULL,
    gb_per_day   DOUBLE PRECISION NOT NULL,
    online_hours DOUBLE PRECISION NOT NULL,
    competitor   INTEGER          NOT NULL,
    summary      TEXT             NOT NULL
) WITH (fillfactor = 50);

-- Evaluation runs: what was evaluated when (incremental runs pick homes updated since the last).
CREATE TABLE evaluation_runs (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT             NOT NULL,
    started_at  DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION NOT NULL,
    as_of       BIGINT           NOT NULL,
    homes       BIGINT           NOT NULL,
    results     BIGINT           NOT NULL,
    seconds     DOUBLE PRECISION NOT NULL
);
