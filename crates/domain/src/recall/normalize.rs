//! The rules every stored recall satisfies.

use super::{Recall, RecallError};
use crate::gtin::Gtin;

pub const MAX_TITLE_LEN: usize = 500;
pub const MAX_DESCRIPTION_LEN: usize = 20_000;
/// Limit for every other string, including list items.
pub const MAX_TEXT_LEN: usize = 2_000;
/// Limit for list fields (`upcs`, `modelNumbers`, ...), so one record cannot
/// blow up the index.
pub const MAX_LIST_LEN: usize = 1_000;

impl Recall {
    /// Trims text, turns empty optional strings into `None`, checks lengths
    /// and URLs, verifies every barcode and merges `upc` into `upcs`.
    ///
    /// Barcodes are kept as printed minus spaces and dashes (a UPC-A stays
    /// 12 digits for display); `upcs` holds each product once, whatever its
    /// printed form, with `upc` first.
    pub fn normalize(mut self) -> Result<Recall, RecallError> {
        self.title = self.title.trim().to_owned();
        if self.title.is_empty() {
            return Err(RecallError::invalid("title", "must not be empty"));
        }
        check_len("title", &self.title, MAX_TITLE_LEN)?;

        let optional = [
            ("productName", &mut self.product_name, MAX_TEXT_LEN),
            ("brand", &mut self.brand, MAX_TEXT_LEN),
            ("manufacturer", &mut self.manufacturer, MAX_TEXT_LEN),
            ("model", &mut self.model, MAX_TEXT_LEN),
            ("modelNumber", &mut self.model_number, MAX_TEXT_LEN),
            ("upc", &mut self.upc, MAX_TEXT_LEN),
            ("hazard", &mut self.hazard, MAX_TEXT_LEN),
            ("hazardCategory", &mut self.hazard_category, MAX_TEXT_LEN),
            ("recallReason", &mut self.recall_reason, MAX_TEXT_LEN),
            ("recallClass", &mut self.recall_class, MAX_TEXT_LEN),
            ("remedy", &mut self.remedy, MAX_TEXT_LEN),
            ("lotNumber", &mut self.lot_number, MAX_TEXT_LEN),
            ("batchNumber", &mut self.batch_number, MAX_TEXT_LEN),
            ("description", &mut self.description, MAX_DESCRIPTION_LEN),
            ("imageUrl", &mut self.image_url, MAX_TEXT_LEN),
            ("sourceUrl", &mut self.source_url, MAX_TEXT_LEN),
            ("url", &mut self.url, MAX_TEXT_LEN),
            ("country", &mut self.country, MAX_TEXT_LEN),
        ];
        for (field, value, max) in optional {
            *value = value.take().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
            if let Some(s) = value {
                check_len(field, s, max)?;
            }
        }
        for (field, url) in
            [("imageUrl", &self.image_url), ("sourceUrl", &self.source_url), ("url", &self.url)]
        {
            if let Some(url) = url {
                check_url(field, url)?;
            }
        }

        let lists = [
            ("modelNumbers", &mut self.model_numbers),
            ("affectedCountries", &mut self.affected_countries),
            ("regionsAffected", &mut self.regions_affected),
        ];
        for (field, list) in lists {
            *list = clean_list(field, std::mem::take(list))?;
        }
        self.normalize_barcodes()?;
        Ok(self)
    }

    fn normalize_barcodes(&mut self) -> Result<(), RecallError> {
        let primary = match self.upc.take() {
            Some(upc) => {
                let gtin = Gtin::parse(&upc).map_err(|e| RecallError::invalid("upc", e))?;
                Some((gtin, printed_digits(&upc)))
            }
            None => None,
        };
        if self.upcs.len() > MAX_LIST_LEN {
            return Err(RecallError::invalid("upcs", format!("must have at most {MAX_LIST_LEN} entries")));
        }
        let mut seen: Vec<Gtin> = Vec::new();
        let mut upcs = Vec::with_capacity(self.upcs.len() + 1);
        if let Some((gtin, digits)) = &primary {
            seen.push(*gtin);
            upcs.push(digits.clone());
        }
        for (i, code) in self.upcs.iter().enumerate() {
            if code.trim().is_empty() {
                continue;
            }
            let gtin = Gtin::parse(code).map_err(|e| RecallError::invalid(format!("upcs[{i}]"), e))?;
            if !seen.contains(&gtin) {
                seen.push(gtin);
                upcs.push(printed_digits(code));
            }
        }
        self.upc = primary.map(|(_, digits)| digits);
        self.upcs = upcs;
        Ok(())
    }
}

/// The digits of a barcode that already parsed (separators dropped).
fn printed_digits(code: &str) -> String {
    code.chars().filter(char::is_ascii_digit).collect()
}

fn check_len(field: &str, value: &str, max: usize) -> Result<(), RecallError> {
    if value.chars().count() > max {
        return Err(RecallError::invalid(field, format!("must be at most {max} characters")));
    }
    Ok(())
}

/// Only web links: other schemes (`javascript:`, `file:`) must never reach
/// an app that renders them.
fn check_url(field: &str, url: &str) -> Result<(), RecallError> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let web = lower.starts_with("http://") || lower.starts_with("https://");
    let host_present = url.split_once("//").is_some_and(|(_, rest)| !rest.is_empty());
    if !web || !host_present || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(RecallError::invalid(field, "must be an http:// or https:// URL"));
    }
    Ok(())
}

/// Trims items, drops empty ones and exact duplicates, checks lengths.
fn clean_list(field: &str, items: Vec<String>) -> Result<Vec<String>, RecallError> {
    if items.len() > MAX_LIST_LEN {
        return Err(RecallError::invalid(field, format!("must have at most {MAX_LIST_LEN} entries")));
    }
    let mut cleaned: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let item = item.trim();
        check_len(&format!("{field}[{i}]"), item, MAX_TEXT_LEN)?;
        if !item.is_empty() && !cleaned.iter().any(|c| c == item) {
            cleaned.push(item.to_owned());
        }
    }
    Ok(cleaned)
}
