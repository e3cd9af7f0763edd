-- What a recall write costs PostgreSQL's backend (docs/PERFORMANCE.md,
-- "Ingestion"). The first two changes were measured on the same 100,000
-- rows inserted into copies of `recalls`: 36.1 s as it was, 25.9 s with the
-- search vectors supplied, 22.1 s with byte-order keys as well.
--
-- 1. The search vectors are written by the server instead of generated.
--    `search_title` and `search_body` already hold the domain tokenizer's
--    words (crates/domain/src/text.rs), so running PostgreSQL's text parser
--    over them again (`to_tsvector`, about a fifth of the backend's time in
--    a write) only split them where they were split already. The server now
--    sends each vector as its distinct words (no positions or weights: no
--    query reads them), and queries pass their words verbatim too
--    (`CAST(... AS tsquery)`), so a word is looked up exactly as the
--    tokenizer wrote it, as in SQLite's index and the in-memory one. Rows
--    written before keep the vectors the parser made; they differ only for
--    words with characters the parser does not take for letters or digits
--    (a superscript digit, say).
-- 2. Keys compare by byte (`COLLATE "C"`) instead of by the database's
--    locale: every B-tree insert and lookup of an id, a date, a facet, a
--    barcode or a vocabulary word compared through the locale's collation.
--    Ids now also sort exactly as in SQLite (`BINARY`), whatever locale the
--    operator's database was created with.
ALTER TABLE recalls
    ALTER COLUMN search_tsv DROP EXPRESSION,
    ALTER COLUMN search_title_tsv DROP EXPRESSION;

ALTER TABLE agencies ALTER COLUMN code TYPE TEXT COLLATE "C";
ALTER TABLE recalls
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN agency_code TYPE TEXT COLLATE "C",
    ALTER COLUMN recall_date TYPE TEXT COLLATE "C",
    ALTER COLUMN severity TYPE TEXT COLLATE "C",
    ALTER COLUMN risk_category TYPE TEXT COLLATE "C";
ALTER TABLE recall_gtins ALTER COLUMN gtin TYPE TEXT COLLATE "C";
ALTER TABLE search_terms ALTER COLUMN term TYPE TEXT COLLATE "C";

-- 3. Larger pending lists for the full-text indexes: 1 MB instead of 64 kB
--    (migration 0009). Merging a full list into the index took 46 % of the
--    backend in a profiled import; `babyshield import` of 100,000 recalls
--    measured 2,883/s with 64 kB lists, 3,253/s with 256 kB, 3,940/s with
--    1 MB and 4,407/s with 4 MB. The cost is on the searches that read these
--    indexes, which scan the list whole: about 0.8 ms more per index read at
--    1 MB (2.2-2.4 ms at 4 MB). Searches are answered from the in-memory
--    index (`search.in_memory_index`, on by default), which leaves to the
--    database only the first minute after a start, queries of more than
--    three words and exact ids; 64 kB was chosen when every search read
--    these indexes.
ALTER INDEX recalls_search SET (gin_pending_list_limit = 1024);
ALTER INDEX recalls_search_title SET (gin_pending_list_limit = 1024);
