//! CPSC Recall Retrieval API (`/RestWebServices/Recall?format=json`): a
//! top-level array of recalls with nested product, firm and hazard lists.

use babyshield_domain::{AgencyCode, Recall, RecallId};
use serde_json::Value;

use crate::barcodes::Barcodes;
use crate::error::{PageError, RecordError};
use crate::hazard::{hazard_category, severity_from_words};
use crate::html::to_text;
use crate::limits::fit_and_normalize;
use crate::links::web_url;
use crate::page::{PageBuilder, ParsedPage};
use crate::record::SourceRecord;
use crate::risk_category::classify_consumer_product;

/// CPSC's site, for links the API gives as paths.
const SITE: &str = "https://www.cpsc.gov";

pub(crate) fn parse_page(body: &[u8]) -> Result<ParsedPage, PageError> {
    let value: Value = serde_json::from_slice(body).map_err(PageError::json)?;
    let Value::Array(items) = value else {
        return Err(PageError::Shape("a JSON array of CPSC recalls"));
    };
    let mut page = PageBuilder::default();
    for (index, item) in items.iter().enumerate() {
        page.push(index, source_id(item), map_recall(item));
    }
    Ok(page.finish(None))
}

/// `RecallID`, else `RecallNumber`, when readable.
fn source_id(item: &Value) -> Option<String> {
    let record = SourceRecord::from_value(item).ok()?;
    let id = record.text("RecallID").ok().flatten();
    id.or_else(|| record.text("RecallNumber").ok().flatten())
}

fn map_recall(item: &Value) -> Result<Recall, RecordError> {
    let r = SourceRecord::from_value(item)?;
    let source_id = match r.text("RecallID")? {
        Some(id) => id,
        None => r
            .text("RecallNumber")?
            .ok_or_else(|| RecordError::new("RecallID", "missing (and no RecallNumber)"))?,
    };
    let id = RecallId::parse(&format!("CPSC-{source_id}"))
        .map_err(|e| RecordError::new("RecallID", e.to_string()))?;
    let products = r.objects("Products")?;
    let product_names: Vec<String> = products
        .iter()
        .map(|p| p.text("Name"))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    let title = r.text("Title")?.map(|t| to_text(&t)).filter(|t| !t.is_empty());
    let title = title
        .or_else(|| product_names.first().cloned())
        .ok_or_else(|| RecordError::new("Title", "missing"))?;
    let recall_date = r.date("RecallDate")?.ok_or_else(|| RecordError::new("RecallDate", "missing"))?;
    let agency = AgencyCode::parse("CPSC").expect("CPSC is in the agency table");
    let mut recall = Recall::new(id, agency, title, recall_date);

    recall.description = r.text("Description")?.map(|d| to_text(&d));
    recall.url = r.text("URL")?.and_then(|u| web_url(&u, Some(SITE)));
    recall.source_url = recall.url.clone();
    recall.product_name = product_names.first().cloned();
    recall.last_updated = r.timestamp("LastPublishDate")?;
    recall.country = Some(agency.agency().country.to_owned());

    let mut product_texts = Vec::new();
    let mut product_types = Vec::new();
    for (i, product) in products.iter().enumerate() {
        let at = |e: RecordError| RecordError::new(format!("Products[{i}].{}", e.field), e.message);
        if let Some(models) = product.text("Model").map_err(at)? {
            if i == 0 {
                recall.model = Some(models.clone());
            }
            recall.model_numbers.extend(split_models(&models));
        }
        product_texts.extend(product.text("Description").map_err(at)?.map(|d| to_text(&d)));
        product_types.extend(product.text("Type").map_err(at)?);
    }
    recall.model_number = recall.model_numbers.first().cloned();

    let firm = [
        r.texts_of("Manufacturers", "Name")?,
        r.texts_of("Importers", "Name")?,
        r.texts_of("Distributors", "Name")?,
    ]
    .into_iter()
    .find_map(|names| names.into_iter().next());
    recall.manufacturer = firm.clone();
    recall.brand = firm;

    let mut barcodes = Barcodes::default();
    for upc in r.texts_of("ProductUPCs", "UPC")? {
        barcodes.add_declared(&upc);
    }
    for text in recall.description.iter().chain(&product_texts) {
        barcodes.add_from_text(text);
    }
    recall.upcs = barcodes.into_vec();

    let hazards: Vec<String> = r.texts_of("Hazards", "Name")?.iter().map(|h| to_text(h)).collect();
    recall.hazard = hazards.first().cloned();
    let hazard_words = hazards.join(" ");
    if !hazards.is_empty() {
        recall.hazard_category =
            Some(hazard_category(&format!("{hazard_words} {}", recall.title)).to_owned());
    }
    recall.severity = Some(severity_from_words(&format!("{hazard_words} {}", recall.title)));
    let remedies: Vec<String> = r.texts_of("Remedies", "Name")?.iter().map(|s| to_text(s)).collect();
    recall.remedy = Some(remedies.join("; "));

    // Where the recall applies: the US, plus countries that announced it
    // jointly. `ManufacturerCountries` says where the product was made, which
    // is not where families are affected.
    recall.affected_countries = std::iter::once(agency.agency().country.to_owned())
        .chain(r.texts_of("Inconjunctions", "Country")?)
        .collect();
    recall.image_url = r.texts_of("Images", "URL")?.iter().find_map(|u| web_url(u, Some(SITE)));

    let words = [recall.title.as_str()].into_iter().chain(product_names.iter().map(String::as_str));
    recall.risk_category =
        Some(classify_consumer_product(words.chain(product_types.iter().map(String::as_str))));
    fit_and_normalize(recall)
}

/// `"CB-100, CB-200; CB-300"` lists three models.
fn split_models(models: &str) -> impl Iterator<Item = String> + '_ {
    models.split([',', ';']).map(str::trim).filter(|m| !m.is_empty()).map(str::to_owned)
}
