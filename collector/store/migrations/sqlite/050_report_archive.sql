-- Operator reports (collector/reports/): one row per report, named by its period
-- (week-2026-W48, month-2026-11, range-...), and its files (HTML, PDF, one CSV per table).
CREATE TABLE report_archive (
    name       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    first_day  TEXT NOT NULL,
    last_day   TEXT NOT NULL,
    created_at REAL NOT NULL,
    owner      TEXT NOT NULL,
    seconds    REAL NOT NULL,
    headline   TEXT NOT NULL,
    mailed_at  REAL
);
CREATE INDEX report_archive_created ON report_archive (created_at);
CREATE TABLE report_files (
    report_name  TEXT    NOT NULL,
    file_name    TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    data         BLOB    NOT NULL,
    PRIMARY KEY (report_name, file_name)
);
