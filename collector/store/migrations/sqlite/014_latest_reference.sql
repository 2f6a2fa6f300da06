-- A gateway's latest report is named by its key in reports, not copied (PostgreSQL 013):
-- a second ~2 KB write per report. Rows whose report is gone keep their copy (read with
-- coalesce); retention keeps each gateway's latest report.
ALTER TABLE gateways ADD COLUMN latest_epoch INTEGER;
ALTER TABLE gateways ADD COLUMN latest_seq INTEGER;
UPDATE gateways SET latest_epoch = r.epoch, latest_seq = r.seq, latest_payload = NULL
    FROM reports r
    WHERE r.gateway_id = gateways.gateway_id AND r.window_end = gateways.last_window_end
    AND r.kind = 'report' AND r.payload = gateways.latest_payload;
