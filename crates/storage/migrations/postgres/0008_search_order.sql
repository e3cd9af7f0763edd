-- The title's own tsvector and GIN index. Relevance tiers ask "is the word in
-- the title?" (crates/storage/src/recalls/tiers.rs); asked of the weighted
-- `search_tsv` ('crib':A), PostgreSQL would fetch and recheck every recall
-- carrying the word anywhere. Adding the column rewrites the table once.
ALTER TABLE recalls
    ADD COLUMN search_title_tsv TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', search_title)) STORED;
CREATE INDEX recalls_search_title ON recalls USING GIN (search_title_tsv);
