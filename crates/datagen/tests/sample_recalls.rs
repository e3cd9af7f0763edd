//! The bundled sample must import cleanly: it seeds every fresh install and
//! the demo, so a single bad line would break both.

use babyshield_datagen::SAMPLE_RECALLS_JSONL;
use babyshield_domain::{Gtin, Recall};
use std::collections::{HashMap, HashSet};

fn sample() -> Vec<Recall> {
    SAMPLE_RECALLS_JSONL
        .lines()
        .enumerate()
        .map(|(i, line)| {
            Recall::from_json_line(line)
                .unwrap_or_else(|e| panic!("sample_recalls.jsonl line {}: {e}", i + 1))
        })
        .collect()
}

fn text_of(recall: &Recall) -> String {
    serde_json::to_string(recall).unwrap().to_lowercase()
}

#[test]
fn every_sample_line_parses_as_a_recall() {
    assert!(SAMPLE_RECALLS_JSONL.lines().all(|l| !l.trim().is_empty()));
    assert!(sample().len() >= 300, "only {} sample recalls", sample().len());
}

#[test]
fn sample_ids_are_unique() {
    let mut seen = HashSet::new();
    for recall in sample() {
        assert!(seen.insert(recall.id.to_string()), "duplicate id {}", recall.id);
    }
}

#[test]
fn sample_covers_many_agencies_with_cpsc_and_fda_well_represented() {
    let mut per_agency: HashMap<&str, usize> = HashMap::new();
    let recalls = sample();
    for recall in &recalls {
        *per_agency.entry(recall.agency_code.as_str()).or_default() += 1;
    }
    assert!(per_agency.len() >= 10, "{per_agency:?}");
    assert!(per_agency["CPSC"] >= 20 && per_agency["FDA"] >= 20, "{per_agency:?}");
}

#[test]
fn sample_has_the_topics_demos_search_for() {
    let recalls = sample();
    let count = |word: &str| recalls.iter().filter(|r| text_of(r).contains(word)).count();
    assert!(count("crib") >= 15);
    assert!(count("pacifier") >= 10);
    let allergen_recalls = recalls
        .iter()
        .filter(|r| r.hazard_category.as_deref() == Some("allergen"))
        .filter(|r| r.recall_reason.as_deref().is_some_and(|t| t.to_lowercase().contains("undeclared")))
        .count();
    assert!(allergen_recalls >= 20, "{allergen_recalls}");
}

#[test]
fn most_sample_recalls_carry_barcodes_and_some_are_shared_across_agencies() {
    let recalls = sample();
    let with_barcodes = recalls.iter().filter(|r| !r.gtins().is_empty()).count();
    assert!(with_barcodes * 10 >= recalls.len() * 9, "{with_barcodes}");
    let mut agencies_by_gtin: HashMap<Gtin, HashSet<&str>> = HashMap::new();
    for recall in &recalls {
        for gtin in recall.gtins() {
            agencies_by_gtin.entry(gtin).or_default().insert(recall.agency_code.as_str());
        }
    }
    let shared = agencies_by_gtin.values().filter(|a| a.len() > 1).count();
    assert!(shared >= 5, "{shared}");
}

#[test]
fn readme_demo_barcodes_hit_the_recalls_they_name() {
    // Keep data/README.md honest: these are quoted there for demos and tests.
    let recalls = sample();
    for (code, id) in [
        ("642105759904", "CPSC-24156"),
        ("663758040843", "CPSC-24183"),
        ("626085865572", "CPSC-19094"),
        ("626085865572", "HEALTH_CANADA-RA-69468"),
    ] {
        let gtin = Gtin::parse(code).unwrap();
        let recall =
            recalls.iter().find(|r| r.id.to_string() == id).unwrap_or_else(|| panic!("{id} missing"));
        assert!(recall.gtins().contains(&gtin), "{code} does not hit {id}");
    }
}
