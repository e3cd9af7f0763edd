//! Shared helpers: load a fixture and reduce recalls to the fields the
//! tests pin down.

#![allow(dead_code)]

use babyshield_domain::Recall;
use babyshield_ingest::{ParsedPage, RecordError};

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The key fields of a recall, in a form a test can spell out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub id: &'static str,
    pub agency: &'static str,
    pub title: &'static str,
    pub date: &'static str,
    pub severity: Option<&'static str>,
    pub risk: Option<&'static str>,
    pub upcs: Vec<&'static str>,
    pub models: Vec<&'static str>,
    pub status: &'static str,
    pub reason: Option<&'static str>,
}

/// The same fields read from a produced recall (owned strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actual {
    pub id: String,
    pub agency: String,
    pub title: String,
    pub date: String,
    pub severity: Option<String>,
    pub risk: Option<String>,
    pub upcs: Vec<String>,
    pub models: Vec<String>,
    pub status: String,
    pub reason: Option<String>,
}

impl From<&Recall> for Actual {
    fn from(r: &Recall) -> Actual {
        Actual {
            id: r.id.to_string(),
            agency: r.agency_code.to_string(),
            title: r.title.clone(),
            date: babyshield_domain::ymd::format(r.recall_date),
            severity: r.severity.map(|s| s.as_str().to_owned()),
            risk: r.risk_category.map(|c| c.as_str().to_owned()),
            upcs: r.upcs.clone(),
            models: r.model_numbers.clone(),
            status: r.status.as_str().to_owned(),
            reason: r.recall_reason.clone(),
        }
    }
}

impl From<&Key> for Actual {
    fn from(k: &Key) -> Actual {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Actual {
            id: k.id.into(),
            agency: k.agency.into(),
            title: k.title.into(),
            date: k.date.into(),
            severity: k.severity.map(Into::into),
            risk: k.risk.map(Into::into),
            upcs: owned(&k.upcs),
            models: owned(&k.models),
            status: k.status.into(),
            reason: k.reason.map(Into::into),
        }
    }
}

/// Expected outcome of one record: its key fields or its error message.
pub enum Expect {
    Ok(Key),
    Err(&'static str),
}

/// Asserts every record of `page`, in order, and that each produced recall
/// survives normalization again unchanged.
pub fn assert_records(page: &ParsedPage, expected: &[Expect]) {
    let actual: Vec<Result<Actual, String>> = page.records.iter().map(summarize).collect();
    let wanted: Vec<Result<Actual, String>> = expected
        .iter()
        .map(|e| match e {
            Expect::Ok(key) => Ok(Actual::from(key)),
            Expect::Err(msg) => Err(msg.to_string()),
        })
        .collect();
    assert_eq!(actual.len(), wanted.len(), "record count: {actual:#?}");
    for (i, (a, w)) in actual.iter().zip(&wanted).enumerate() {
        assert_eq!(a, w, "record {i}");
    }
    for recall in page.records.iter().flatten() {
        assert_normalized(recall);
    }
}

pub fn summarize(r: &Result<Recall, RecordError>) -> Result<Actual, String> {
    r.as_ref().map(Actual::from).map_err(ToString::to_string)
}

/// A produced recall is already normalized: normalizing again, and a round
/// trip through the JSON Lines import, change nothing.
pub fn assert_normalized(recall: &Recall) {
    assert_eq!(recall.clone().normalize().as_ref(), Ok(recall), "normalize changed {}", recall.id);
    let line = serde_json::to_string(recall).unwrap();
    assert_eq!(Recall::from_json_line(&line).as_ref(), Ok(recall), "import rejected {line}");
}

pub fn ok(recalls: &ParsedPage) -> Vec<&Recall> {
    recalls.records.iter().flatten().collect()
}
