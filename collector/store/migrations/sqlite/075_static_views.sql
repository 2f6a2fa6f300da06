-- The static views of compact reports (protocol 1.2; collector/ingest/views.py): per gateway,
-- by view id (16 hex digits), the view's content as msgpack, pseudonymised like the reports.
CREATE TABLE static_views (
    gateway_id TEXT NOT NULL,
    view_id    TEXT NOT NULL,
    content    BLOB NOT NULL,
    stored_at  REAL NOT NULL,
    PRIMARY KEY (gateway_id, view_id)
);
CREATE INDEX static_views_age ON static_views (stored_at)
