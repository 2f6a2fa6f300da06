-- Reports stored but not yet folded into home_days (as sqlite/011_fold_queue.sql). Ingest adds
-- a key in the batch's transaction; a folder claims keys by deleting them (SKIP LOCKED, so
-- several collectors share the queue) in the transaction that folds them: every report is
-- folded exactly once, even if a collector dies in between. gateway_id keeps the database's
-- collation, like reports.gateway_id, so the join to the raw reports uses their primary key.
CREATE TABLE home_fold_queue (
    gateway_id TEXT   NOT NULL,
    epoch      BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    PRIMARY KEY (gateway_id, epoch, seq)
);
