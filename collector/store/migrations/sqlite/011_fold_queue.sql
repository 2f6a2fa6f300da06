-- Reports stored but not yet folded into home_days. Ingest adds a key in the batch's
-- transaction; the folder removes it in the transaction that folds the report, so every
-- report is folded exactly once even if the collector dies in between. (Reports stored
-- before this migration were folded at ingest: nothing to queue.)
CREATE TABLE home_fold_queue (
    gateway_id TEXT    NOT NULL,
    epoch      INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (gateway_id, epoch, seq)
) WITHOUT ROWID;
