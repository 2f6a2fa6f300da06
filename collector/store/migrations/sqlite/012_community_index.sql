-- The homes list filtered by a community finds its homes by index, like by area.
CREATE INDEX subscribers_community ON subscribers (community);
