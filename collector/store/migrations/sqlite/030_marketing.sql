-- Precise marketing (collector/marketing/, docs/marketing.md): segments, audiences, contact
-- fields, campaigns with their arms and messages, opt-outs, outcomes, webhook pushes.
-- Times are epoch seconds; definitions, evidence and snapshots are JSON in TEXT.

-- The call-centre screen finds a subscriber's home by subscriber id.
CREATE INDEX mkt_subscribers_subscriber ON subscribers (subscriber_id);

-- Contact fields from the CRM (personal data: only roles with contacts.read see them).
CREATE TABLE mkt_contact_fields (
    subscriber_id TEXT PRIMARY KEY,
    name          TEXT,
    phone         TEXT,
    address       TEXT,
    imported_at   REAL NOT NULL
);

CREATE TABLE mkt_segments (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    definition TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);

-- A frozen snapshot of a segment at a time.
CREATE TABLE mkt_audiences (
    id         INTEGER PRIMARY KEY,
    segment_id INTEGER,
    name       TEXT NOT NULL,
    definition TEXT NOT NULL,
    size       INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL
);

CREATE TABLE mkt_audience_members (
    audience_id   INTEGER NOT NULL,
    gateway_id    TEXT NOT NULL,
    subscriber_id TEXT,
    area          TEXT,
    community     TEXT,
    rules         TEXT NOT NULL,
    evidence      TEXT NOT NULL,
    snapshot      TEXT NOT NULL,
    PRIMARY KEY (audience_id, gateway_id)
);

CREATE TABLE mkt_campaigns (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL,
    audience_id      INTEGER NOT NULL,
    offer_id         TEXT NOT NULL,
    channel          TEXT NOT NULL,
    template         TEXT NOT NULL,
    preheat_template TEXT,
    preheat_at       REAL,
    send_at          REAL NOT NULL,
    control_share    REAL NOT NULL,
    seed             INTEGER NOT NULL,
    state            TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    created_at       REAL NOT NULL,
    launched_at      REAL
);

-- Each audience member's arm: treatment (contacted) or control (never contacted).
CREATE TABLE mkt_members (
    campaign_id   INTEGER NOT NULL,
    gateway_id    TEXT NOT NULL,
    subscriber_id TEXT NOT NULL,
    arm           TEXT NOT NULL,
    stratum       TEXT NOT NULL,
    PRIMARY KEY (campaign_id, gateway_id)
);

-- Every message planned for a treated member; sent ones are the contact log the policy counts.
CREATE TABLE mkt_messages (
    id            INTEGER PRIMARY KEY,
    campaign_id   INTEGER NOT NULL,
    gateway_id    TEXT NOT NULL,
    subscriber_id TEXT NOT NULL,
    offer_id      TEXT NOT NULL,
    step          TEXT NOT NULL,
    send_at       REAL NOT NULL,
    status        TEXT NOT NULL,
    reason        TEXT,
    body          TEXT NOT NULL,
    sent_at       REAL,
    UNIQUE (campaign_id, gateway_id, step)
);
CREATE INDEX mkt_messages_due ON mkt_messages (status, send_at);
CREATE INDEX mkt_messages_subscriber ON mkt_messages (subscriber_id, sent_at);

CREATE TABLE mkt_opt_outs (
    subscriber_id TEXT PRIMARY KEY,
    at            REAL NOT NULL,
    source        TEXT NOT NULL
);

-- Orders, plan changes and opt-outs from the CRM (import-outcomes); re-importing is idempotent.
CREATE TABLE mkt_outcomes (
    id             INTEGER PRIMARY KEY,
    subscriber_id  TEXT NOT NULL,
    offer_id       TEXT NOT NULL,
    kind           TEXT NOT NULL,
    at             REAL NOT NULL,
    plan_down_mbps REAL,
    imported_at    REAL NOT NULL,
    UNIQUE (subscriber_id, offer_id, kind, at)
);
CREATE INDEX mkt_outcomes_offer ON mkt_outcomes (offer_id, at);

-- Webhook pushes of audiences, by idempotency key (a retried push is sent under the same key).
CREATE TABLE mkt_pushes (
    key         TEXT PRIMARY KEY,
    audience_id INTEGER NOT NULL,
    url         TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    at          REAL NOT NULL
);
