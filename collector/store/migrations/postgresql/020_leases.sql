-- Named leases (collector/store/leases.py): which collector does a job that exactly one may
-- do at a time (profile evaluation, reports). Times are epoch seconds of the collectors' clocks.
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    -- +1 each time the lease changes hands: a fencing token for work done under it
    term BIGINT NOT NULL,
    acquired_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
