-- A recall's JSON document, search text and weighted tsvector are usually
-- over the 2 KB at which PostgreSQL compresses a value; lz4 compresses them
-- several times faster than the default pglz (about 7 % more recalls/s
-- written by an import). Only on a server built with lz4 (the usual
-- packages are); elsewhere the columns keep pglz. Stored values stay as they
-- are until rewritten; reading either kind needs nothing.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE recalls
            ALTER COLUMN doc SET COMPRESSION lz4,
            ALTER COLUMN search_body SET COMPRESSION lz4,
            ALTER COLUMN search_tsv SET COMPRESSION lz4,
            ALTER COLUMN search_title_tsv SET COMPRESSION lz4;
    END IF;
END
$$;

-- Recalls written by an ingest wait in each GIN index's pending list until
-- it holds gin_pending_list_limit (4 MB by default), and every search scans
-- that list whole: while changed recalls streamed in, search p99 rose by
-- 143 % (bench/ingest). With 64 kB lists (the least allowed) the writer
-- merges them into the index in small, frequent steps: +56 % during
-- full-speed pulls, +47 % during paced ones, at the same ingest rate.
ALTER INDEX recalls_search SET (gin_pending_list_limit = 64);
ALTER INDEX recalls_search_title SET (gin_pending_list_limit = 64);
