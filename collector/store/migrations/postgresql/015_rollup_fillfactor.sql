-- A gateway's hourly row is rewritten with each of its hour's windows and its daily row
-- with each of the day's 96: room on the page keeps those updates HOT (no new index entry).
ALTER TABLE gateway_hourly SET (fillfactor = 70);
ALTER TABLE gateway_daily SET (fillfactor = 70);
