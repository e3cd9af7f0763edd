-- The full-text index numbers its rows in result order: newest recall first.
-- An FTS5 rowid is (99999999 - YYYYMMDD) << 32 | rid, so reading a match in
-- rowid order reads it newest first and a relevance tier can stop after one
-- page instead of ranking every match (crates/storage/src/recalls/tiers.rs);
-- `rowid & 0xFFFFFFFF` is the recall's rid. A third column holds the filter
-- values as tokens ("agencycpsc severityhigh categorybabyproduct"), so a
-- filtered search is counted inside the index without reading one recall
-- row; searches look in the other two columns only. Contentless: the text
-- lives once, in `recalls`, and the index never reads it back. Queries are
-- single words, never phrases, so the index keeps which column a word is in
-- but not its positions (`detail = column`): a smaller index, faster writes,
-- and cheaper prefix expansion.
DROP TRIGGER recalls_fts_insert;
DROP TRIGGER recalls_fts_delete;
DROP TRIGGER recalls_fts_update;
DROP TABLE recalls_fts;

CREATE VIRTUAL TABLE recalls_fts USING fts5 (
    search_title,
    search_body,
    facets,
    content = '',
    contentless_delete = 1,
    detail = column,
    tokenize = 'unicode61 remove_diacritics 2'
);

INSERT INTO recalls_fts (rowid, search_title, search_body, facets)
SELECT ((99999999 - CAST(replace(r.recall_date, '-', '') AS INTEGER)) << 32) | r.rid, r.search_title, r.search_body,
       'agency' || lower(replace(r.agency_code, '_', '')) || ' severity' || coalesce(r.severity, 'none')
       || ' category' || replace(coalesce(r.risk_category, 'none'), '_', '')
FROM recalls r;

CREATE TRIGGER recalls_fts_insert AFTER INSERT ON recalls BEGIN
    INSERT INTO recalls_fts (rowid, search_title, search_body, facets)
    VALUES (((99999999 - CAST(replace(new.recall_date, '-', '') AS INTEGER)) << 32) | new.rid,
            new.search_title, new.search_body,
            'agency' || lower(replace(new.agency_code, '_', '')) || ' severity' || coalesce(new.severity, 'none')
            || ' category' || replace(coalesce(new.risk_category, 'none'), '_', ''));
END;
CREATE TRIGGER recalls_fts_delete AFTER DELETE ON recalls BEGIN
    DELETE FROM recalls_fts
    WHERE rowid = ((99999999 - CAST(replace(old.recall_date, '-', '') AS INTEGER)) << 32) | old.rid;
END;
CREATE TRIGGER recalls_fts_update AFTER UPDATE OF search_title, search_body, recall_date, agency_code, severity, risk_category ON recalls BEGIN
    DELETE FROM recalls_fts
    WHERE rowid = ((99999999 - CAST(replace(old.recall_date, '-', '') AS INTEGER)) << 32) | old.rid;
    INSERT INTO recalls_fts (rowid, search_title, search_body, facets)
    VALUES (((99999999 - CAST(replace(new.recall_date, '-', '') AS INTEGER)) << 32) | new.rid,
            new.search_title, new.search_body,
            'agency' || lower(replace(new.agency_code, '_', '')) || ' severity' || coalesce(new.severity, 'none')
            || ' category' || replace(coalesce(new.risk_category, 'none'), '_', ''));
END;
