-- Named leases for the report schedule (collector/reports/lease.py): one owner until expiry,
-- so exactly one collector produces each scheduled report. (A stop-gap until the store's own
-- leases concern lands; see docs/operator.md.)
CREATE TABLE report_leases (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at REAL NOT NULL
);
