-- The fleet's unclassified domains (collector/dpi/, docs/dpi.md "Unclassified domains"): per ISO
-- week (year * 100 + week) and registrable domain, the pseudonymised homes that sent it
-- (HMAC of the gateway id with the deployment's privacy key) and their bytes. Shown only as
-- aggregates of at least min_homes homes; aged out by retention; a home's rows go with its erasure
-- (no index on home: an erase scans, as it scans every table; the fold's upserts stay one b-tree each).
CREATE TABLE dpi_unclassified (
    week   INTEGER NOT NULL,
    domain TEXT NOT NULL,
    home   TEXT NOT NULL,
    bytes  BIGINT NOT NULL,
    PRIMARY KEY (week, domain, home)
);
-- The operator's categories for domains the packaged tables do not know (from the page or the
-- TOML file); the fold counts a domain's bytes under its category from the next report on.
CREATE TABLE dpi_domain_rules (
    domain     TEXT PRIMARY KEY,
    category   TEXT NOT NULL,
    source     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
)
