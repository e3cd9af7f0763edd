//! Migrations, imports and synthetic data.

use crate::harness::Sandbox;

/// The schema version and the number applied by this run, from
/// "database schema at version N (M applied now, latest known L)".
fn migrate(sandbox: &Sandbox, env: &[(&str, &str)]) -> (u64, u64, u64) {
    let outcome = sandbox.run(&["migrate"], env);
    assert_eq!(outcome.code, Some(0), "{outcome:?}");
    let line = outcome
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("database schema at version "))
        .unwrap_or_else(|| panic!("no version line:\n{}", outcome.stdout));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(numbers.len(), 3, "{line}");
    (numbers[0], numbers[1], numbers[2])
}

/// `backend` names the directory of its migrations (`sqlite`, `postgres`).
fn assert_migrates_once(sandbox: &Sandbox, backend: &str, env: &[(&str, &str)]) {
    let (version, applied, latest) = migrate(sandbox, env);
    assert!(version > 0, "a fresh database gets the schema");
    assert_eq!(version, latest, "migrated to the latest version");
    // Versions are not contiguous (each backend has only the migrations it
    // needs), so "applied" counts migrations, not versions.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../storage/migrations").join(backend);
    let files = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).count() as u64;
    assert_eq!(applied, files, "a fresh database applies every migration");
    let again = migrate(sandbox, env);
    assert_eq!(again, (version, 0, latest), "the second run applies nothing");
}

mod migrate_applies_once_and_is_idempotent {
    use super::assert_migrates_once;
    use crate::harness::Sandbox;

    #[test]
    fn on_sqlite() {
        let sandbox = Sandbox::new();
        assert_migrates_once(&sandbox, "sqlite", &[]);
        assert!(sandbox.join("data/babyshield.db").exists(), "default database is ./data/babyshield.db");
    }

    #[tokio::test]
    async fn on_postgres() {
        let database = crate::harness::fresh_pg_database().await;
        let url = database.url().to_string();
        let sandbox = Sandbox::new();
        tokio::task::spawn_blocking(move || {
            assert_migrates_once(&sandbox, "postgres", &[("BABYSHIELD__DATABASE__URL", url.as_str())])
        })
        .await
        .unwrap();
    }
}

fn recall(id: &str, upc: &str) -> String {
    serde_json::json!({
        "id": id,
        "agencyCode": "CPSC",
        "title": format!("Test crib {id} recalled for entrapment hazard"),
        "recallDate": "2024-03-01",
        "productName": "Test crib",
        "upc": upc,
        "hazardCategory": "suffocation",
    })
    .to_string()
}

fn summary_line(stdout: &str) -> &str {
    stdout.lines().find(|l| l.starts_with("imported ")).unwrap_or_else(|| panic!("no summary:\n{stdout}"))
}

#[test]
fn import_reports_counts_and_rejects_bad_lines_by_number() {
    let sandbox = Sandbox::new();
    let lines = [
        recall("CPSC-90001", "012345678905"),
        recall("CPSC-90002", "036000291452"),
        recall("CPSC-90003", "4006381333931"),
        recall("CPSC-90004", "012345678904"),    // wrong check digit
        "{\"id\": \"CPSC-90005\", ".to_string(), // not JSON
    ];
    let file = sandbox.write("recalls.jsonl", &(lines.join("\n") + "\n"));
    let file = file.to_str().unwrap();
    let env = [("BABYSHIELD__DATABASE__LOAD_SAMPLE_DATA", "false")];

    let first = sandbox.run(&["import", file], &env);
    assert_eq!(first.code, Some(3), "{first:?}");
    let summary = summary_line(&first.stdout);
    assert!(summary.contains("3 inserted, 0 updated, 0 unchanged, 2 rejected"), "{summary}");
    assert!(summary.starts_with("imported 5 lines"), "{summary}");
    let rejected: Vec<&str> = first.stderr.lines().filter(|l| l.starts_with("line ")).collect();
    assert_eq!(rejected.len(), 2, "{}", first.stderr);
    assert!(rejected[0].starts_with("line 4:"), "{}", first.stderr);
    assert!(rejected[1].starts_with("line 5:"), "{}", first.stderr);
    // Into an empty SQLite catalogue the indexes were built after the
    // batches, the full-text one beside them.
    assert!(
        first.stdout.contains("built the deferred indexes after the last batch in",)
            && first.stdout.contains("the full-text index merged beside the batches"),
        "{first:?}"
    );

    let second = sandbox.run(&["import", file], &env);
    assert_eq!(second.code, Some(3), "{second:?}");
    let summary = summary_line(&second.stdout);
    assert!(summary.contains("0 inserted, 0 updated, 3 unchanged, 2 rejected"), "{summary}");
    assert!(!second.stdout.contains("built the deferred"), "not deferred into a catalogue with recalls");
}

#[test]
fn gen_data_is_deterministic_and_importable() {
    let sandbox = Sandbox::new();
    let generate = |seed: &str, out: &str| {
        let outcome = sandbox.run(&["gen-data", "--count", "500", "--seed", seed, "-o", out], &[]);
        assert_eq!(outcome.code, Some(0), "{outcome:?}");
        std::fs::read(sandbox.join(out)).unwrap()
    };
    let a = generate("7", "a.jsonl");
    let b = generate("7", "b.jsonl");
    let c = generate("8", "c.jsonl");
    assert_eq!(a.iter().filter(|&&byte| byte == b'\n').count(), 500);
    assert!(a == b, "the same seed must give the same bytes");
    assert!(a != c, "another seed must give other data");

    let outcome = sandbox.run(
        &["import", "--keep-indexes", "a.jsonl"],
        &[("BABYSHIELD__DATABASE__LOAD_SAMPLE_DATA", "false")],
    );
    assert_eq!(outcome.code, Some(0), "{outcome:?}");
    let summary = summary_line(&outcome.stdout);
    assert!(summary.contains("500 inserted, 0 updated, 0 unchanged, 0 rejected"), "{summary}");
    assert!(!outcome.stdout.contains("built the full-text"), "--keep-indexes keeps them live: {outcome:?}");
}

#[test]
fn ingest_reads_an_agency_page_reports_and_quarantines_and_fails_cleanly_on_garbage() {
    let sandbox = Sandbox::new();
    let env = [("BABYSHIELD__DATABASE__LOAD_SAMPLE_DATA", "false")];
    let fixture =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../ingest/tests/fixtures/openfda_food_enforcement.json");
    let first = sandbox.run(&["ingest", "--source", "fda-food", "--file", fixture], &env);
    assert_eq!(first.code, Some(0), "{first:?}");
    assert!(first.stdout.contains("(succeeded): fetched"), "{first:?}");
    assert!(!first.stdout.contains("inserted 0,"), "{first:?}");
    let second = sandbox.run(&["ingest", "--source", "fda-food", "--file", fixture], &env);
    assert_eq!(second.code, Some(0));
    assert!(second.stdout.contains("inserted 0, updated 0"), "re-ingesting changes nothing: {second:?}");

    let garbage = sandbox.path().join("garbage.json");
    std::fs::write(&garbage, "{not json").unwrap();
    let failed = sandbox.run(&["ingest", "--source", "cpsc", "--file", garbage.to_str().unwrap()], &env);
    assert_eq!(failed.code, Some(1), "{failed:?}");
    assert!(failed.stdout.contains("(failed)"), "{failed:?}");
    let unknown = sandbox.run(&["ingest", "--source", "nasa", "--file", fixture], &env);
    assert_eq!(unknown.code, Some(2), "clap refuses an unknown source: {unknown:?}");
}
