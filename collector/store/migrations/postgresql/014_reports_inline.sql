-- Raw frames stay in the reports heap, not in TOAST: a frame near 2 KB put the row past the
-- default TOAST threshold (2032 bytes), and PostgreSQL then tried to compress what zlib
-- already had (in vain) and stored it out of line (a second heap row and index entry).
-- Rows up to a page stay inline; larger ones go out of line uncompressed.
ALTER TABLE reports SET (toast_tuple_target = 8160);
ALTER TABLE reports ALTER COLUMN payload SET STORAGE EXTERNAL;
