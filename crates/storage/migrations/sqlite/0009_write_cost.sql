-- Re-ingesting a changed recall rewrites its row; the full-text entry only
-- needs rewriting when what it indexes changed (the text, or the date and
-- facets its rowid and `facets` column are made of). A recall whose status,
-- remedy date or source link changed keeps its index entry.
DROP TRIGGER recalls_fts_update;
CREATE TRIGGER recalls_fts_update AFTER UPDATE OF search_title, search_body, recall_date, agency_code, severity, risk_category ON recalls
WHEN old.search_title IS NOT new.search_title OR old.search_body IS NOT new.search_body
  OR old.recall_date IS NOT new.recall_date OR old.agency_code IS NOT new.agency_code
  OR old.severity IS NOT new.severity OR old.risk_category IS NOT new.risk_category
BEGIN
    DELETE FROM recalls_fts
    WHERE rowid = ((99999999 - CAST(replace(old.recall_date, '-', '') AS INTEGER)) << 32) | old.rid;
    INSERT INTO recalls_fts (rowid, search_title, search_body, facets)
    VALUES (((99999999 - CAST(replace(new.recall_date, '-', '') AS INTEGER)) << 32) | new.rid,
            new.search_title, new.search_body,
            'agency' || lower(replace(new.agency_code, '_', '')) || ' severity' || coalesce(new.severity, 'none')
            || ' category' || replace(coalesce(new.risk_category, 'none'), '_', ''));
END;
