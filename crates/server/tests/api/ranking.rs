//! Issue: recall catalogue. Both search engines, the in-memory index and
//! the database's relevance tiers (reading the best-scoring recalls first
//! and stopping after a page), must give exactly the order and totals of the
//! reference ranking that scores every match, on every page, through cursors
//! and offsets, with filters, on SQLite and PostgreSQL.
//!
//! The fixture is built to stress the tie-breaks: 600 recalls over a few
//! dates (about 75 per date) and 120 more on one day, ids in an order unrelated to insertion order,
//! titles that make whole-word, prefix, variant and body-only matches common.

use babyshield_domain::{AgencyCode, Recall, RecallFilters, Severity, ymd};
use babyshield_server::import::IndexUpkeep::Live;
use babyshield_storage::{
    Store,
    recalls::{After, FullTextBuild, IndexRefresh, PreparedRecalls, RecallQuery, SearchCaches, TermGroup},
};
use serde_json::json;

use crate::harness::{Db, TestApp};

crate::on_both_databases!(
    tiers_agree_with_ranking_every_match_on_every_page,
    the_index_follows_writes_here_at_once_and_elsewhere_after_a_refresh,
    a_crowded_index_is_compacted_and_answers_the_same,
    a_result_page_shows_the_version_the_index_holds,
    a_load_into_an_empty_catalogue_builds_its_indexes_at_the_end_even_after_a_crash,
    a_full_text_index_built_beside_a_load_that_does_not_add_up_is_filled_instead,
    words_are_looked_up_as_the_tokenizer_wrote_them_in_every_engine,
    index_updates_applied_late_out_of_order_or_never_leave_searches_exact,
);

const WORDS: &[&str] = &[
    "crib", "cribs", "cribbage", "car", "carseat", "seat", "seats", "tv", "tvs", "pacifier", "strap",
    "sheet", "bed", "stroller", "monitor", "lamp",
];
const DATES: &[&str] = &[
    "2024-01-05",
    "2024-01-06",
    "2024-02-29",
    "2024-03-01",
    "2023-12-31",
    "2022-07-04",
    "2024-01-04",
    "2021-05-05",
];

/// xorshift64*: a fixed, dependency-free sequence.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
    fn words(&mut self, n: u64) -> String {
        let count = 1 + self.next() % n;
        (0..count).map(|_| self.pick(WORDS)).collect::<Vec<_>>().join(" ")
    }
}

fn fixture() -> String {
    let mut rng = Rng(0x5EED_CAFE_F00D_0001);
    let mut ids: Vec<u64> = (0..600).map(|i| (i * 7919) % 100_000).collect();
    // Shuffle so id order is unrelated to insertion (rid) order.
    for i in (1..ids.len()).rev() {
        ids.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    let mut lines: Vec<String> = ids
        .iter()
        .map(|n| {
            json!({
                "id": format!("CPSC-{n:05}"),
                "agencyCode": rng.pick(&["CPSC", "FDA"]),
                "title": rng.words(4),
                "recallDate": rng.pick(DATES),
                "severity": rng.pick(&["high", "low"]),
                "description": rng.words(6),
            })
            .to_string()
        })
        .collect();
    // One day with more matches of one word than a page and its lookahead
    // hold: the page's last date is read again in id order.
    lines.extend((0..120u64).map(|i| {
        json!({
            "id": format!("FDA-{:05}", (i * 7907 + rng.next() % 7) % 100_000),
            "agencyCode": "FDA",
            "title": format!("nightlight {}", rng.words(2)),
            "recallDate": "2020-02-02",
            "description": rng.words(3),
        })
        .to_string()
    }));
    lines.join("\n")
}

/// `fixture()` and then 40 of its recalls again, revised: new titles (some
/// of them cribs), and half of them a new date, so their full-text rowid
/// changes too. In batches of 100 the revisions change recalls that
/// earlier batches wrote.
fn fixture_with_revisions() -> String {
    let revised = (0..40u64).map(|i| {
        let n = (i * 7919) % 100_000;
        json!({
            "id": format!("CPSC-{n:05}"),
            "agencyCode": "CPSC",
            "title": format!("revised {} number {i}", if i % 3 == 0 { "crib" } else { "lamp" }),
            "recallDate": if i % 2 == 0 { "2025-12-24" } else { DATES[0] },
            "severity": "high",
            "description": "revised",
        })
        .to_string()
    });
    std::iter::once(fixture()).chain(revised).collect::<Vec<_>>().join("\n")
}

/// `jsonl` imported in batches of 100 with every index kept current.
async fn import_live(store: &Store, jsonl: String) -> babyshield_server::import::ImportReport {
    babyshield_server::import::import_jsonl(store, std::io::Cursor::new(jsonl), Some(100), Live, |_| {})
        .await
        .unwrap()
}

/// The files bulk loads build their full-text index in, beside the
/// catalogue (none on PostgreSQL).
fn full_text_scratch(app: &TestApp) -> Vec<std::path::PathBuf> {
    match app.state.store().pool() {
        babyshield_storage::Pool::Sqlite(p) => {
            let catalogue = p.connect_options().get_filename().to_path_buf();
            let prefix = format!("{}-fulltext-load-", catalogue.file_name().unwrap().to_string_lossy());
            std::fs::read_dir(catalogue.parent().unwrap())
                .unwrap()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| e.path())
                .collect()
        }
        babyshield_storage::Pool::Postgres(_) => Vec::new(),
    }
}

/// FTS5's own check of the full-text index's structure (SQLite).
async fn full_text_is_sound(app: &TestApp) {
    if let babyshield_storage::Pool::Sqlite(_) = app.state.store().pool() {
        crate::family::exec(app, "INSERT INTO recalls_fts (recalls_fts) VALUES ('integrity-check')").await;
    }
}

fn group(term: &str, variants: &[&str]) -> TermGroup {
    TermGroup { term: term.into(), variants: variants.iter().map(|v| v.to_string()).collect() }
}

fn queries() -> Vec<(&'static str, RecallQuery)> {
    let plain = |groups: Vec<TermGroup>| RecallQuery { groups, id: None, filters: RecallFilters::default() };
    let with = |groups: Vec<TermGroup>, filters: RecallFilters| RecallQuery { groups, id: None, filters };
    let date = |s: &str| ymd::parse(s).unwrap();
    vec![
        ("one term", plain(vec![group("crib", &[])])),
        ("a prefix shared by other words", plain(vec![group("car", &[])])),
        ("a typo with its variant", plain(vec![group("cirb", &["crib"])])),
        ("a short term", plain(vec![group("tv", &[])])),
        ("a short term with a variant", plain(vec![group("tv", &["tvs"])])),
        ("two terms", plain(vec![group("car", &[]), group("seat", &[])])),
        ("three terms", plain(vec![group("seat", &[]), group("strap", &[]), group("bed", &["beds"])])),
        ("no match", plain(vec![group("zebra", &[])])),
        ("many matches on one day", plain(vec![group("nightlight", &[])])),
        (
            "severity filter",
            with(
                vec![group("crib", &[])],
                RecallFilters { severity: Some(Severity::High), ..Default::default() },
            ),
        ),
        (
            "agency filter, two terms",
            with(
                vec![group("sheet", &[]), group("crib", &[])],
                RecallFilters { agencies: vec![AgencyCode::parse("FDA").unwrap()], ..Default::default() },
            ),
        ),
        (
            "date range inside the data",
            with(
                vec![group("crib", &[])],
                RecallFilters {
                    date_from: Some(date("2024-01-04")),
                    date_to: Some(date("2024-02-29")),
                    ..Default::default()
                },
            ),
        ),
        (
            "a single day",
            with(
                vec![group("seat", &[])],
                RecallFilters {
                    date_from: Some(date("2024-01-05")),
                    date_to: Some(date("2024-01-05")),
                    ..Default::default()
                },
            ),
        ),
    ]
}

type Row = (i64, String, String);

async fn reference(store: &Store, query: &RecallQuery) -> (i64, Vec<Row>) {
    let page = store.search_ranking_every_match(query, None, 0, 10_000).await.unwrap();
    (page.total, rows(&page.items))
}

fn rows(items: &[babyshield_storage::recalls::ScoredRecall]) -> Vec<Row> {
    items.iter().map(|r| (r.score, r.recall_date.clone(), r.recall.id.as_str().to_string())).collect()
}

async fn tiers_agree_with_ranking_every_match_on_every_page(db: Db) {
    let app = TestApp::spawn(db).await;
    let report = app.import(&fixture()).await;
    assert_eq!(report.rejected, 0, "{:?}", report.rejections);
    let store = app.state.store();
    // The app's index took the fixture as writes, out of result order; a
    // store of its own builds one from the database, in result order.
    let rebuilt = babyshield_server::open_store(app.state.config()).await.unwrap().with_search_index();
    assert!(matches!(rebuilt.refresh_search_index().await.unwrap(), IndexRefresh::Built { recalls: 720 }));
    let built = rebuilt.search_index_stats().unwrap();
    assert_eq!((built.unordered, store.search_index_stats().unwrap().unordered > 0), (0, true));
    let mut nonempty = 0;
    for (name, query) in queries() {
        let (total, expected) = reference(store, &query).await;
        assert_eq!(total as usize, expected.len(), "{name}: reference total");
        if !expected.is_empty() {
            nonempty += 1;
        }

        for (engine, store) in
            [(Engine::Index, store), (Engine::Rebuilt, &rebuilt), (Engine::Database, store)]
        {
            // Walk every page through keyset positions, as cursors do.
            let mut walked: Vec<Row> = Vec::new();
            let mut after: Option<After> = None;
            loop {
                let page = engine.search(store, &query, after.as_ref(), 0, 7).await;
                assert_eq!(page.total, total, "{name}, {engine:?}: total on a page");
                if page.items.is_empty() {
                    break;
                }
                walked.extend(rows(&page.items));
                let (score, recall_date, id) = walked.last().unwrap().clone();
                after = Some(After { score, recall_date, id });
                assert!(walked.len() <= expected.len(), "{name}, {engine:?}: walked past the end");
            }
            assert_eq!(walked, expected, "{name}, {engine:?}: keyset walk");

            // Offsets land on the same rows.
            for offset in [0usize, 3, 11, 40, 150] {
                let page = engine.search(store, &query, None, offset as u32, 5).await;
                let want: Vec<Row> = expected.iter().skip(offset).take(5).cloned().collect();
                assert_eq!(rows(&page.items), want, "{name}, {engine:?}: offset {offset}");
            }
        }
    }
    assert!(nonempty >= 10, "the fixture must make most queries match");
    // The in-memory index answered (the app enables it by default).
    let index = store.search_index_stats().expect("the search index is built");
    assert_eq!(index.recalls, 720);
}

/// The two engines behind `Store::search_recalls`.
#[derive(Debug, Clone, Copy)]
enum Engine {
    /// The in-memory index (`recalls/index/`), taking recalls as written.
    Index,
    /// The same, built from the database in result order.
    Rebuilt,
    /// The database's full-text indexes, read tier by tier.
    Database,
}

impl Engine {
    async fn search(
        self,
        store: &Store,
        query: &RecallQuery,
        after: Option<&After>,
        offset: u32,
        limit: u32,
    ) -> babyshield_storage::recalls::RecallPage {
        match self {
            Engine::Index | Engine::Rebuilt => {
                store.search_recalls(query, after, offset, limit).await.unwrap()
            }
            Engine::Database => store.search_in_database(query, after, offset, limit).await.unwrap(),
        }
    }
}

fn recall_line(id: &str, title: &str) -> String {
    json!({ "id": id, "agencyCode": "CPSC", "title": title, "recallDate": "2024-05-01" }).to_string()
}

/// Every engine looks a word up exactly as the domain tokenizer wrote it.
/// PostgreSQL's own text parser takes a superscript digit for a separator,
/// so when it built the vectors (before migration 0012) "Model AB²" was
/// stored and searched as "ab", and the database engine answered a search
/// for "ab²" with both lamps below while the in-memory index found one.
/// The rows are written by an update too, the other path to the vectors.
async fn words_are_looked_up_as_the_tokenizer_wrote_them_in_every_engine(db: Db) {
    let app = TestApp::spawn(db).await;
    let store = app.state.store();
    for (id, title) in
        [("CPSC-91001", "Lamp model AB²"), ("CPSC-91002", "Lamp model AB"), ("CPSC-91003", "Old title")]
    {
        app.import(&recall_line(id, title)).await;
    }
    app.import(&recall_line("CPSC-91003", "Crib model AB2 kit")).await;
    let query = |term: &str| RecallQuery {
        groups: vec![group(term, &[])],
        id: None,
        filters: RecallFilters::default(),
    };
    let expectations = [
        ("ab²", vec!["CPSC-91001"]),
        ("ab", vec!["CPSC-91002"]),
        ("ab2", vec!["CPSC-91003"]),
        ("old", vec![]),
    ];
    for (term, expected) in expectations {
        for engine in [Engine::Index, Engine::Database] {
            let page = engine.search(store, &query(term), None, 0, 10).await;
            let ids: Vec<&str> = page.items.iter().map(|r| r.recall.id.as_str()).collect();
            assert_eq!((ids, page.total), (expected.clone(), expected.len() as i64), "{term}, {engine:?}");
        }
    }
}

async fn the_index_follows_writes_here_at_once_and_elsewhere_after_a_refresh(db: Db) {
    let app = TestApp::spawn(db).await;
    let store = app.state.store();
    let zeppelin =
        RecallQuery { groups: vec![group("zeppelin", &[])], id: None, filters: RecallFilters::default() };
    let ids = |page: babyshield_storage::recalls::RecallPage| -> Vec<String> {
        page.items.iter().map(|r| r.recall.id.as_str().to_string()).collect()
    };
    assert_eq!(store.search_recalls(&zeppelin, None, 0, 10).await.unwrap().total, 0);

    // A write through this process is searchable at once.
    app.import(&recall_line("CPSC-90001", "Zeppelin crib")).await;
    let page = store.search_recalls(&zeppelin, None, 0, 10).await.unwrap();
    assert_eq!(ids(page), vec!["CPSC-90001"]);

    // Another process (an instance, the import command) writes the same
    // database: the refresh the server runs at every generation poll
    // applies it (here or already in the background).
    let other = babyshield_server::open_store(app.state.config()).await.unwrap();
    let import = |line: String| {
        let other = other.clone();
        async move {
            babyshield_server::import::import_jsonl(
                &other,
                std::io::Cursor::new(line),
                Some(100),
                Live,
                |_| {},
            )
            .await
            .unwrap()
        }
    };
    import(recall_line("CPSC-90002", "Zeppelin lamp")).await;
    let refresh = store.refresh_search_index().await.unwrap();
    assert!(matches!(refresh, IndexRefresh::CaughtUp { rows: 1 } | IndexRefresh::Current), "{refresh:?}");
    let page = store.search_recalls(&zeppelin, None, 0, 10).await.unwrap();
    assert_eq!(page.total, 2);

    // A changed recall leaves its old words and is found by its new ones;
    // both engines agree.
    import(recall_line("CPSC-90001", "Walrus crib")).await;
    store.refresh_search_index().await.unwrap();
    for page in [
        store.search_recalls(&zeppelin, None, 0, 10).await.unwrap(),
        store.search_in_database(&zeppelin, None, 0, 10).await.unwrap(),
    ] {
        assert_eq!(ids(page), vec!["CPSC-90002"]);
    }
    let walrus = RecallQuery { groups: vec![group("walrus", &[])], ..zeppelin.clone() };
    assert_eq!(ids(store.search_recalls(&walrus, None, 0, 10).await.unwrap()), vec!["CPSC-90001"]);
    let stats = store.search_index_stats().unwrap();
    assert_eq!((stats.recalls, stats.dead), (2, 1));

    // Re-importing the same data changes nothing, in the database or here.
    import(recall_line("CPSC-90001", "Walrus crib")).await;
    assert_eq!(store.refresh_search_index().await.unwrap(), IndexRefresh::Current);
    assert_eq!(store.search_index_stats().unwrap().dead, 1);
}

/// A pull writes its pages with `write_prepared_in_background` and applies
/// each page's rows to the index while the next page is written. Until an
/// update is applied, searches answer as before its write; applied, the
/// index moves to its generation; applied after a later one (the index is
/// then a generation behind it), the later one is read back from the
/// database and the earlier one changes nothing; dropped unapplied, its
/// rows are read back by the next refresh or search. A refresh meanwhile
/// leaves a pending update's rows to it. Both engines agree throughout.
/// A store of its own, so that no background refresh catches up meanwhile.
async fn index_updates_applied_late_out_of_order_or_never_leave_searches_exact(db: Db) {
    let app = TestApp::spawn(db).await;
    let store = babyshield_server::open_store(app.state.config()).await.unwrap().with_search_index();
    assert!(matches!(store.refresh_search_index().await.unwrap(), IndexRefresh::Built { .. }));
    let write = |recalls: &[(&str, &str)]| {
        let recalls: Vec<Recall> = recalls
            .iter()
            .map(|(id, title)| Recall::from_json_line(&recall_line(id, title)).unwrap())
            .collect();
        let store = store.clone();
        async move {
            let batch = PreparedRecalls::new(recalls, store.backend()).unwrap();
            store.write_prepared_in_background(batch).await.unwrap()
        }
    };
    let found = |word: &'static str| {
        let store = store.clone();
        async move {
            let query =
                RecallQuery { groups: vec![group(word, &[])], id: None, filters: RecallFilters::default() };
            let ids = |page: babyshield_storage::recalls::RecallPage| {
                let mut ids: Vec<String> =
                    page.items.iter().map(|r| r.recall.id.as_str().to_string()).collect();
                ids.sort();
                ids
            };
            (
                ids(store.search_recalls(&query, None, 0, 10).await.unwrap()),
                ids(store.search_in_database(&query, None, 0, 10).await.unwrap()),
            )
        }
    };
    let owned = |ids: &[&str]| ids.iter().map(|id| id.to_string()).collect::<Vec<_>>();

    // Committed, not applied yet: the index answers as before the write,
    // and the periodic refresh leaves the rows to the update instead of
    // reading them back.
    let (outcome, update) = write(&[("CPSC-80001", "Quokka crib"), ("CPSC-80002", "Quokka lamp")]).await;
    assert_eq!((outcome.inserted, outcome.updated), (2, 0));
    let both = owned(&["CPSC-80001", "CPSC-80002"]);
    assert_eq!(found("quokka").await, (vec![], both.clone()));
    assert_eq!(store.refresh_search_index().await.unwrap(), IndexRefresh::Current);
    assert_eq!(found("quokka").await, (vec![], both.clone()));
    store.index_written(update).await;
    assert_eq!(found("quokka").await, (both.clone(), both));

    // Two writes applied in the wrong order.
    let (_, first) = write(&[("CPSC-80003", "Quokka stroller")]).await;
    let (outcome, second) = write(&[("CPSC-80001", "Numbat crib")]).await;
    assert_eq!((outcome.inserted, outcome.updated), (0, 1));
    store.index_written(second).await;
    store.index_written(first).await;
    let quokkas = owned(&["CPSC-80002", "CPSC-80003"]);
    assert_eq!(found("quokka").await, (quokkas.clone(), quokkas));
    let numbat = owned(&["CPSC-80001"]);
    assert_eq!(found("numbat").await, (numbat.clone(), numbat));

    // Dropped unapplied: the next refresh (or search) reads it back.
    let (_, dropped) = write(&[("CPSC-80004", "Quokka monitor")]).await;
    drop(dropped);
    assert_eq!(store.refresh_search_index().await.unwrap(), IndexRefresh::CaughtUp { rows: 1 });
    let quokkas = owned(&["CPSC-80002", "CPSC-80003", "CPSC-80004"]);
    assert_eq!(found("quokka").await, (quokkas.clone(), quokkas));
    let stats = store.search_index_stats().unwrap();
    assert_eq!((stats.recalls, stats.dead), (4, 1));
}

async fn a_crowded_index_is_compacted_and_answers_the_same(db: Db) {
    let app = TestApp::spawn(db).await;
    // A store of its own, compacting after a few changed recalls.
    let store = babyshield_server::open_store(app.state.config())
        .await
        .unwrap()
        .with_search_index_compacting_after(5);
    let import = |suffix: &'static str| {
        let store = store.clone();
        async move {
            let lines: Vec<String> = (0..8)
                .map(|i| recall_line(&format!("CPSC-8100{i}"), &format!("Kettle {suffix} {i}")))
                .collect();
            babyshield_server::import::import_jsonl(
                &store,
                std::io::Cursor::new(lines.join("\n")),
                Some(100),
                Live,
                |_| {},
            )
            .await
            .unwrap()
        }
    };
    import("red").await;
    assert!(matches!(store.refresh_search_index().await.unwrap(), IndexRefresh::Built { recalls: 8 }));
    // Changed twice, each time seen by a search: 16 old versions against
    // 8 live recalls.
    let kettle =
        RecallQuery { groups: vec![group("kettle", &[])], id: None, filters: RecallFilters::default() };
    import("blue").await;
    assert_eq!(store.search_recalls(&kettle, None, 0, 20).await.unwrap().total, 8);
    import("green").await;
    let green = RecallQuery { groups: vec![group("green", &[])], ..kettle.clone() };
    let before = rows(&store.search_recalls(&kettle, None, 0, 20).await.unwrap().items);
    assert_eq!(store.search_recalls(&green, None, 0, 20).await.unwrap().total, 8);
    assert_eq!(store.search_index_stats().unwrap().dead, 16);

    assert_eq!(store.refresh_search_index().await.unwrap(), IndexRefresh::Compacted { recalls: 8 });
    assert_eq!(store.search_index_stats().unwrap().dead, 0);
    assert_eq!(rows(&store.search_recalls(&kettle, None, 0, 20).await.unwrap().items), before);
    assert_eq!(store.search_recalls(&green, None, 0, 20).await.unwrap().total, 8);
    let blue = RecallQuery { groups: vec![group("blue", &[])], ..kettle.clone() };
    assert_eq!(store.search_recalls(&blue, None, 0, 20).await.unwrap().total, 0);

    // The term cache (`search.term_cache_mib`) held "kettle" and "green"
    // over the 24 document numbers of the old index (green: the last 8);
    // the compact one numbers 8 anew, and after 20 more it has more numbers
    // than the old one had. Its answers are its own, never the old index's
    // sets extended.
    let more: Vec<String> =
        (0..20).map(|i| recall_line(&format!("CPSC-8200{i:02}"), &format!("Kettle spout {i}"))).collect();
    babyshield_server::import::import_jsonl(
        &store,
        std::io::Cursor::new(more.join("\n")),
        Some(100),
        Live,
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(store.search_index_stats().unwrap().recalls, 28);
    for query in [&kettle, &green] {
        let from_index = store.search_recalls(query, None, 0, 50).await.unwrap();
        let from_database = store.search_in_database(query, None, 0, 50).await.unwrap();
        assert_eq!(from_index.total, from_database.total);
        assert_eq!(rows(&from_index.items), rows(&from_database.items));
    }
    assert_eq!(store.search_recalls(&kettle, None, 0, 50).await.unwrap().total, 28);
}

/// Result pages' recalls are kept in memory by version
/// (`search.document_cache_mib`): a recall changed by another process is
/// shown as it now is once the index has its new version, an unchanged one
/// is not read from the database again, and the version a write through this
/// process committed is kept without being read back.
async fn a_result_page_shows_the_version_the_index_holds(db: Db) {
    let app = TestApp::spawn(db).await;
    let store = app.state.store();
    let other = babyshield_server::open_store(app.state.config()).await.unwrap();
    let import_into = |into: &Store, description: &'static str| {
        let into = into.clone();
        async move {
            let line = json!({
                "id": "CPSC-92001", "agencyCode": "CPSC", "title": "Heron crib",
                "recallDate": "2024-05-01", "description": description,
            });
            babyshield_server::import::import_jsonl(
                &into,
                std::io::Cursor::new(line.to_string()),
                Some(100),
                Live,
                |_| {},
            )
            .await
            .unwrap()
        }
    };
    let import = |description: &'static str| import_into(&other, description);
    let heron =
        RecallQuery { groups: vec![group("heron", &[])], id: None, filters: RecallFilters::default() };
    let description = |store: Store| {
        let heron = heron.clone();
        async move {
            let page = store.search_recalls(&heron, None, 0, 10).await.unwrap();
            assert_eq!(page.items.len(), 1);
            page.items[0].recall.description.clone().unwrap()
        }
    };

    import("Sold in spring").await;
    store.refresh_search_index().await.unwrap();
    assert_eq!(description(store.clone()).await, "Sold in spring");
    // Changed elsewhere: the cached version is older than the index's.
    import("Sold in autumn").await;
    assert!(matches!(store.refresh_search_index().await.unwrap(), IndexRefresh::CaughtUp { rows: 1 }));
    assert_eq!(description(store.clone()).await, "Sold in autumn");

    // An edit by hand that leaves the row's generation alone is not seen
    // through the cache (the page is not read from the database again),
    // and is seen by a store without one.
    crate::family::exec(
        &app,
        "UPDATE recalls SET doc = replace(doc, 'Sold in autumn', 'Edited by hand') WHERE id = 'CPSC-92001'",
    )
    .await;
    assert_eq!(description(store.clone()).await, "Sold in autumn");
    let uncached = babyshield_server::open_store(app.state.config())
        .await
        .unwrap()
        .with_search_index_and_caches(SearchCaches { document_mib: 0, ..SearchCaches::default() });
    uncached.refresh_search_index().await.unwrap();
    assert_eq!(description(uncached).await, "Edited by hand");

    // Written through this store: the page shows the committed version from
    // memory, so an edit by hand right after the write is not seen.
    import_into(store, "Sold in winter").await;
    crate::family::exec(
        &app,
        "UPDATE recalls SET doc = replace(doc, 'Sold in winter', 'Edited again') WHERE id = 'CPSC-92001'",
    )
    .await;
    assert_eq!(description(store.clone()).await, "Sold in winter");
}

/// The triggers and indexes a bulk load defers, as SQLite's schema holds
/// them (nothing on PostgreSQL, which never defers).
async fn deferrable_schema(app: &TestApp) -> Vec<(String, String)> {
    match app.state.store().pool() {
        babyshield_storage::Pool::Sqlite(p) => sqlx::query_as(
            "SELECT name, sql FROM sqlite_schema WHERE name IN ('recalls_fts_insert', 'recalls_fts_update', \
             'recalls_fts_delete', 'recalls_by_date', 'recalls_by_agency_date', 'recalls_by_severity_date', \
             'recalls_by_category_date') \
             ORDER BY name",
        )
        .fetch_all(p)
        .await
        .unwrap(),
        babyshield_storage::Pool::Postgres(_) => Vec::new(),
    }
}

/// The full-text index's stored options (`recalls_fts_config`), none on
/// PostgreSQL.
async fn full_text_options(app: &TestApp) -> Vec<(String, String)> {
    match app.state.store().pool() {
        babyshield_storage::Pool::Sqlite(p) => {
            sqlx::query_as("SELECT k, CAST(v AS TEXT) FROM recalls_fts_config ORDER BY k")
                .fetch_all(p)
                .await
                .unwrap()
        }
        babyshield_storage::Pool::Postgres(_) => Vec::new(),
    }
}

/// Every query of `queries()` through the database engine, whole.
async fn database_answers(store: &Store) -> Vec<(i64, Vec<Row>)> {
    let mut answers = Vec::new();
    for (_, query) in queries() {
        let page = store.search_in_database(&query, None, 0, 10_000).await.unwrap();
        answers.push((page.total, rows(&page.items)));
    }
    answers
}

async fn a_load_into_an_empty_catalogue_builds_its_indexes_at_the_end_even_after_a_crash(db: Db) {
    let sqlite = db == Db::Sqlite;
    // The same fixture loaded with every index kept current...
    let live = TestApp::spawn(db).await;
    let schema = deferrable_schema(&live).await;
    assert_eq!(schema.len(), if sqlite { 7 } else { 0 });
    let report = import_live(live.state.store(), fixture_with_revisions()).await;
    assert_eq!((report.inserted, report.updated, report.deferred_index_build), (720, 40, None));
    let expected = database_answers(live.state.store()).await;
    assert!(expected.iter().filter(|(total, _)| *total > 0).count() >= 10, "most queries match");

    // ... and into an empty catalogue the way `babyshield import` does:
    // on SQLite with the full-text, facet and date indexes built at the
    // end, the full-text one beside the batches (and revised by the later
    // ones).
    let app = TestApp::spawn(db).await;
    let report = app.import(&fixture_with_revisions()).await;
    assert_eq!((report.inserted, report.updated, report.deferred_index_build.is_some()), (720, 40, sqlite));
    assert_eq!(report.full_text, sqlite.then_some(FullTextBuild::Beside));
    assert!(full_text_scratch(&app).is_empty(), "the scratch index is removed");
    full_text_is_sound(&app).await;
    assert_eq!(deferrable_schema(&app).await, schema, "the same triggers and indexes again");
    // The fill's larger in-memory hash is not left behind for later writes.
    let options = full_text_options(&live).await;
    assert_eq!(full_text_options(&app).await, options);
    let store = app.state.store();
    assert_eq!(database_answers(store).await, expected);
    // The catalogue is not empty any more: the next import keeps the
    // indexes current, through the restored triggers.
    let report = app.import(&recall_line("CPSC-99001", "Zeppelin crib")).await;
    assert_eq!((report.inserted, report.deferred_index_build), (1, None));
    let zeppelin =
        RecallQuery { groups: vec![group("zeppelin", &[])], id: None, filters: RecallFilters::default() };
    assert_eq!(store.search_in_database(&zeppelin, None, 0, 10).await.unwrap().total, 1);
    assert!(!store.begin_bulk_load().await.unwrap(), "never deferred into a catalogue with recalls");

    // A load whose process died between its batches and the build.
    let crashed = TestApp::spawn(db).await;
    let store = crashed.state.store();
    assert_eq!(store.begin_bulk_load().await.unwrap(), sqlite);
    import_live(store, fixture()).await;
    if sqlite {
        // Really deferred: the database engine does not find its recalls yet,
        // and the drop is recorded for whoever finishes it.
        assert!(database_answers(store).await.iter().all(|(total, _)| *total == 0));
        assert_eq!(crate::family::count(&crashed, "SELECT COUNT(*) FROM deferred_schema").await, 7);
        assert!(deferrable_schema(&crashed).await.is_empty());
        assert!(store.begin_bulk_load().await.unwrap(), "a pending load is joined, not begun twice");
        // The scratch index the crashed load was building is left behind.
        let beside = store.full_text_beside().await.unwrap().expect("a file database");
        std::mem::forget(beside);
        assert_eq!(full_text_scratch(&crashed).len(), 1);
    }
    // The next process to migrate (any server start or CLI command)
    // finishes it, and removes what the crashed load left beside it.
    let next = babyshield_server::open_store(crashed.state.config()).await.unwrap();
    next.migrate().await.unwrap();
    assert!(full_text_scratch(&crashed).is_empty());
    assert_eq!(deferrable_schema(&crashed).await, schema);
    assert_eq!(full_text_options(&crashed).await, options);
    full_text_is_sound(&crashed).await;
    let unrevised = TestApp::spawn(db).await;
    import_live(unrevised.state.store(), fixture()).await;
    assert_eq!(database_answers(&next).await, database_answers(unrevised.state.store()).await);
    if sqlite {
        assert_eq!(crate::family::count(&crashed, "SELECT COUNT(*) FROM deferred_schema").await, 0);
    }
    assert!(!next.finish_bulk_load().await.unwrap(), "nothing left to finish");

    // A schema from before the deferral table (not migrated) keeps its
    // indexes live instead of failing the import.
    if sqlite {
        let unmigrated = TestApp::spawn(db).await;
        crate::family::exec(&unmigrated, "DROP TABLE deferred_schema").await;
        let report = unmigrated.import(&recall_line("CPSC-99002", "Zeppelin cot")).await;
        assert_eq!((report.inserted, report.deferred_index_build), (1, None));
        assert_eq!(deferrable_schema(&unmigrated).await, schema);
    }
}

/// What the scratch index holds is checked before it is used: a recall
/// that went missing behind the load's back (nothing in the service
/// deletes recalls) makes the load fill the index from the table instead.
/// A scratch index given up removes its file.
async fn a_full_text_index_built_beside_a_load_that_does_not_add_up_is_filled_instead(db: Db) {
    let app = TestApp::spawn(db).await;
    let store = app.state.store();
    if !store.begin_bulk_load().await.unwrap() {
        // PostgreSQL keeps its indexes current and builds nothing beside.
        assert!(store.full_text_beside().await.unwrap().is_none());
        return;
    }
    let given_up = store.full_text_beside().await.unwrap().expect("a file database");
    assert_eq!(full_text_scratch(&app).len(), 1);
    drop(given_up);
    for _ in 0..200 {
        if full_text_scratch(&app).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(full_text_scratch(&app).is_empty(), "a scratch index given up is removed");

    let beside = store.full_text_beside().await.unwrap().expect("a file database");
    import_live(store, fixture()).await;
    beside.written();
    let gone = "DELETE FROM recalls WHERE id = 'CPSC-00000'";
    crate::family::exec(&app, gone).await;
    assert_eq!(store.finish_bulk_load_beside(Some(beside)).await.unwrap(), Some(FullTextBuild::Filled));
    assert!(full_text_scratch(&app).is_empty());
    full_text_is_sound(&app).await;

    let live = TestApp::spawn(db).await;
    import_live(live.state.store(), fixture()).await;
    crate::family::exec(&live, gone).await;
    assert_eq!(database_answers(store).await, database_answers(live.state.store()).await);

    // A scratch file removed behind the load's back (another process's
    // `migrate` removes the ones it finds) is still the load's own: its
    // connections hold it open, and the index is built beside all the same.
    let other = TestApp::spawn(db).await;
    let store = other.state.store();
    assert!(store.begin_bulk_load().await.unwrap());
    let beside = store.full_text_beside().await.unwrap().expect("a file database");
    import_live(store, fixture()).await;
    for file in full_text_scratch(&other) {
        std::fs::remove_file(file).unwrap();
    }
    assert_eq!(store.finish_bulk_load_beside(Some(beside)).await.unwrap(), Some(FullTextBuild::Beside));
    assert!(full_text_scratch(&other).is_empty());
    full_text_is_sound(&other).await;
    let intact = TestApp::spawn(db).await;
    import_live(intact.state.store(), fixture()).await;
    assert_eq!(database_answers(store).await, database_answers(intact.state.store()).await);
}
