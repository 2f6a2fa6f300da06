-- Precise marketing held across collectors (docs/marketing.md, collector/marketing/delivery.py).
-- The contact policy lives in the database: a contact is recorded in the transaction that
-- claims its message, so two collectors or two campaigns cannot both contact a subscriber
-- beyond the cap. Audiences are frozen in one snapshot (audiences.py).

-- The contact log the policy counts: one row per message handed (or being handed) to a sender.
-- main_offer is the offer of a main message (NULL for a pre-heating one): one main contact per
-- subscriber and offer, ever ("no double contact for the same offer").
CREATE TABLE mkt_contacts (
    message_id    INTEGER PRIMARY KEY,
    subscriber_id TEXT NOT NULL,
    offer_id      TEXT NOT NULL,
    main_offer    TEXT,
    campaign_id   INTEGER NOT NULL,
    step          TEXT NOT NULL,
    at            REAL NOT NULL,
    UNIQUE (subscriber_id, main_offer)
);
CREATE INDEX mkt_contacts_subscriber ON mkt_contacts (subscriber_id, at);

-- One row per subscriber a contact was decided for: deciding first writes it, so two
-- decisions for one subscriber queue behind each other (PostgreSQL's row lock; SQLite has
-- one writer) and the second counts the first's contact.
CREATE TABLE mkt_contact_gates (
    subscriber_id TEXT PRIMARY KEY,
    touched_at    REAL NOT NULL
);

-- Who claimed a message for delivery (status 'sending'), and when.
ALTER TABLE mkt_messages ADD COLUMN claimed_by TEXT;
ALTER TABLE mkt_messages ADD COLUMN claimed_at REAL;

INSERT INTO mkt_contacts (message_id, subscriber_id, offer_id, main_offer, campaign_id, step, at)
SELECT id, subscriber_id, offer_id, CASE WHEN step = 'main' THEN offer_id END, campaign_id, step, sent_at
FROM mkt_messages WHERE status = 'sent' AND sent_at IS NOT NULL ORDER BY id
ON CONFLICT DO NOTHING;

-- An audience is written by one transaction that finds its own header by this token.
ALTER TABLE mkt_audiences ADD COLUMN freeze_token TEXT;
CREATE UNIQUE INDEX mkt_audiences_token ON mkt_audiences (freeze_token);

-- The member's figures when frozen (new audiences; older ones keep them in snapshot JSON).
ALTER TABLE mkt_audience_members ADD COLUMN plan_down_mbps REAL;
ALTER TABLE mkt_audience_members ADD COLUMN wifi_score REAL;
ALTER TABLE mkt_audience_members ADD COLUMN devices REAL;
ALTER TABLE mkt_audience_members ADD COLUMN online_hours REAL;
ALTER TABLE mkt_audience_members ADD COLUMN gb_per_day REAL;

-- Each member's evidence as frozen: the sentence of every segment rule it held.
CREATE TABLE mkt_audience_evidence (
    audience_id INTEGER NOT NULL,
    gateway_id  TEXT NOT NULL,
    rule        TEXT NOT NULL,
    sentence    TEXT NOT NULL,
    PRIMARY KEY (audience_id, gateway_id, rule)
);
