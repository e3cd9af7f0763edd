//! Health Canada's Recalls and Safety Alerts API (`recall-alert-rappel-avis/api/`).
//!
//! `recent/{lang}` groups the latest recalls by category list
//! (`ALL, CPS, FOOD, HEALTH, VEHICLE[S]`), `search` returns one list with a
//! count, and `{id}/{lang}` is one recall with its text in panels.
//!
//! The `category` integers are the API's own: 1 food, 2 vehicles, 3 health
//! products, 4 consumer products. They map to food, other, drug, and (by the
//! title's words) baby_product, toy or other.

use std::collections::HashSet;

use babyshield_domain::{AgencyCode, Recall, RecallId, RiskCategory};
use serde_json::{Map, Value};

use crate::barcodes::Barcodes;
use crate::error::{PageError, RecordError};
use crate::hazard::{hazard_category, severity_from_words};
use crate::html::to_text;
use crate::limits::fit_and_normalize;
use crate::links::web_url;
use crate::page::{PageBuilder, ParsedPage};
use crate::record::SourceRecord;
use crate::risk_category::classify_consumer_product;

/// The site the API's relative `url`s live on.
const SITE: &str = "https://recalls-rappels.canada.ca";

/// `ALL` first: the category lists repeat its entries and add older ones.
const LISTS: &[&str] = &["ALL", "CPS", "FOOD", "HEALTH", "VEHICLE", "VEHICLES"];

pub(crate) fn parse_list(body: &[u8]) -> Result<ParsedPage, PageError> {
    let value: Value = serde_json::from_slice(body).map_err(PageError::json)?;
    let results = value.as_object().and_then(|page| page.get("results"));
    match results {
        Some(Value::Object(lists)) => parse_category_lists(lists),
        Some(Value::Array(items)) => {
            let total = value.get("results_count").and_then(|c| match c {
                Value::String(s) => s.trim().parse().ok(),
                other => other.as_u64(),
            });
            let mut page = PageBuilder::default();
            push_items(&mut page, items, 0, &HashSet::new());
            Ok(page.finish(total))
        }
        _ => Err(PageError::Shape("a Health Canada object with `results`")),
    }
}

/// A recall listed under several categories is one recall: later lists only
/// add recalls the earlier ones lacked. Repeats *within* one list are
/// counted as duplicates.
fn parse_category_lists(lists: &Map<String, Value>) -> Result<ParsedPage, PageError> {
    if !LISTS.iter().any(|name| lists.contains_key(*name)) {
        return Err(PageError::Shape("Health Canada `results` with an `ALL` list"));
    }
    let mut page = PageBuilder::default();
    let mut earlier = HashSet::new();
    let mut index = 0;
    for name in LISTS {
        let items = match lists.get(*name) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(items)) => items,
            Some(_) => return Err(PageError::Shape("Health Canada `results` lists to be arrays")),
        };
        let ids = push_items(&mut page, items, index, &earlier);
        index += items.len();
        earlier.extend(ids);
    }
    Ok(page.finish(None))
}

/// Pushes the items not already in `skip`; returns the ids pushed.
fn push_items(
    page: &mut PageBuilder,
    items: &[Value],
    first_index: usize,
    skip: &HashSet<String>,
) -> Vec<String> {
    let mut pushed = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let id = source_id(item);
        if id.as_ref().is_some_and(|id| skip.contains(id)) {
            continue;
        }
        pushed.extend(id.clone());
        page.push(first_index + i, id, map_recall(item, false));
    }
    pushed
}

/// A JSON object with a top-level `recallId` and no `results`: the detail
/// shape rather than a list.
pub(crate) fn looks_like_detail(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "recallId")]
        recall_id: Option<serde::de::IgnoredAny>,
        results: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<Probe>(body).is_ok_and(|p| p.recall_id.is_some() && p.results.is_none())
}

pub(crate) fn parse_detail(body: &[u8]) -> Result<Result<Recall, RecordError>, PageError> {
    let value: Value = serde_json::from_slice(body).map_err(PageError::json)?;
    if !value.is_object() {
        return Err(PageError::Shape("a Health Canada recall object"));
    }
    let id = source_id(&value);
    Ok(map_recall(&value, true).map_err(|mut e| {
        e.source_id = id;
        e
    }))
}

fn source_id(item: &Value) -> Option<String> {
    SourceRecord::from_value(item).ok()?.text("recallId").ok().flatten()
}

/// A list entry, or with `detail` the single-recall shape and its panels.
fn map_recall(item: &Value, detail: bool) -> Result<Recall, RecordError> {
    let r = SourceRecord::from_value(item)?;
    let recall_id = r.required_text("recallId")?;
    let id = RecallId::parse(&format!("HEALTH_CANADA-{recall_id}"))
        .map_err(|e| RecordError::new("recallId", e.to_string()))?;
    let title = r.text("title")?.map(|t| to_text(&t)).filter(|t| !t.is_empty());
    let title = title.ok_or_else(|| RecordError::new("title", "missing"))?;
    let published = r.date("date_published")?;
    let started = if detail { r.date("start_date")? } else { None };
    let recall_date = started.or(published).ok_or_else(|| RecordError::new("date_published", "missing"))?;
    let agency = AgencyCode::parse("HEALTH_CANADA").expect("HEALTH_CANADA is in the agency table");
    let mut recall = Recall::new(id, agency, title, recall_date);

    recall.url = r.text("url")?.and_then(|u| web_url(&u, Some(SITE)));
    recall.source_url = recall.url.clone();
    recall.last_updated = r.timestamp("date_published")?;
    recall.country = Some(agency.agency().country.to_owned());
    recall.affected_countries = vec![agency.agency().country.to_owned()];
    recall.risk_category = Some(risk_category(&categories(&r)?, &recall.title));
    if detail {
        add_panels(&mut recall, &r)?;
    }
    fit_and_normalize(recall)
}

fn categories(r: &SourceRecord<'_>) -> Result<Vec<u64>, RecordError> {
    let items = match r.get("category") {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items.clone(),
        Some(single) => vec![single.clone()],
    };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let n = match v {
                Value::String(s) => s.trim().parse().ok(),
                other => other.as_u64(),
            };
            n.ok_or_else(|| RecordError::new(format!("category[{i}]"), "must be a category number"))
        })
        .collect()
}

/// The first category the API gives decides; none (or an unknown number)
/// falls back to the title's words.
fn risk_category(categories: &[u64], title: &str) -> RiskCategory {
    match categories.first() {
        Some(1) => RiskCategory::Food,
        Some(2) => RiskCategory::Other,
        Some(3) => RiskCategory::Drug,
        _ => classify_consumer_product([title]),
    }
}

/// Description from every panel's text; hazard and recall reason from the
/// panel about the issue or hazard; barcodes from panel text and data.
fn add_panels(recall: &mut Recall, r: &SourceRecord<'_>) -> Result<(), RecordError> {
    let mut texts = Vec::new();
    let mut barcodes = Barcodes::default();
    for (i, panel) in r.objects("panels")?.iter().enumerate() {
        let at = |e: RecordError| RecordError::new(format!("panels[{i}].{}", e.field), e.message);
        let name = panel.text("panelName").map_err(at)?.unwrap_or_default().to_ascii_lowercase();
        let heading = panel.text("title").map_err(at)?.unwrap_or_default().to_ascii_lowercase();
        let text = panel.text("text").map_err(at)?.map(|t| to_text(&t)).unwrap_or_default();
        if let Some(data) = panel.get("data") {
            for_each_string(data, &mut |s| barcodes.add_from_text(&to_text(s)));
        }
        if text.is_empty() {
            continue;
        }
        barcodes.add_from_text(&text);
        let about_hazard = ["issue", "hazard"].iter().any(|w| name.contains(w) || heading.contains(w));
        if about_hazard && recall.hazard.is_none() {
            recall.hazard = Some(text.clone());
            recall.recall_reason = Some(text.clone());
        }
        texts.push(text);
    }
    if !texts.is_empty() {
        recall.description = Some(texts.join("\n\n"));
    }
    recall.upcs = barcodes.into_vec();
    if let Some(hazard) = &recall.hazard {
        let words = format!("{hazard} {}", recall.title);
        recall.hazard_category = Some(hazard_category(&words).to_owned());
        recall.severity = Some(severity_from_words(&words));
    }
    Ok(())
}

fn for_each_string(value: &Value, f: &mut impl FnMut(&str)) {
    match value {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|v| for_each_string(v, f)),
        Value::Object(map) => map.values().for_each(|v| for_each_string(v, f)),
        _ => {}
    }
}
