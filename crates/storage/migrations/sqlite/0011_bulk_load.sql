-- Schema objects that a bulk load into an empty catalogue dropped and
-- creates again when it finishes (crates/storage/src/recalls/bulk.rs): the
-- full-text index's triggers and the facet indexes, with the exact SQL that
-- made them. A row left here by an interrupted load is finished by the next
-- `migrate`.
CREATE TABLE deferred_schema (
    name TEXT PRIMARY KEY,
    sql TEXT NOT NULL
) WITHOUT ROWID;
