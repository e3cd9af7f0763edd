-- Which catalogue generation last wrote each recall. The in-memory search
-- index (crates/storage/src/recalls/index_sync.rs) applies the rows of the
-- generations it has not seen yet; recalls written before this migration
-- are read by the index's first full build.
ALTER TABLE recalls ADD COLUMN change_gen INTEGER NOT NULL DEFAULT 0;
CREATE INDEX recalls_by_change ON recalls (change_gen);
