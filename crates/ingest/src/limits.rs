//! Fitting source text into the normalized format's length limits.
//!
//! A 600-character CPSC title or a 5,000-character openFDA `code_info` is
//! still a real recall; clipping keeps it instead of letting
//! [`Recall::normalize`] reject it.

use babyshield_domain::Recall;
use babyshield_domain::recall::{MAX_DESCRIPTION_LEN, MAX_LIST_LEN, MAX_TEXT_LEN, MAX_TITLE_LEN};

/// Cuts `s` to at most `max` characters, at a word boundary when one is
/// near, marking the cut with `…`.
pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let head: String = s.chars().take(max.saturating_sub(1)).collect();
    let cut = match head.rfind(char::is_whitespace) {
        Some(at) if at > head.len() * 3 / 4 => head[..at].trim_end().to_owned(),
        _ => head,
    };
    format!("{cut}…")
}

/// Clips every text and list of `recall` to the limits normalization checks.
pub(crate) fn fit(mut recall: Recall) -> Recall {
    recall.title = clip(recall.title.trim(), MAX_TITLE_LEN);
    if let Some(d) = recall.description.as_mut() {
        *d = clip(d, MAX_DESCRIPTION_LEN);
    }
    for field in [
        &mut recall.product_name,
        &mut recall.brand,
        &mut recall.manufacturer,
        &mut recall.model,
        &mut recall.model_number,
        &mut recall.hazard,
        &mut recall.hazard_category,
        &mut recall.recall_reason,
        &mut recall.recall_class,
        &mut recall.remedy,
        &mut recall.lot_number,
        &mut recall.batch_number,
        &mut recall.country,
    ] {
        if let Some(s) = field.as_mut() {
            *s = clip(s, MAX_TEXT_LEN);
        }
    }
    for list in [
        &mut recall.upcs,
        &mut recall.model_numbers,
        &mut recall.affected_countries,
        &mut recall.regions_affected,
    ] {
        list.truncate(MAX_LIST_LEN);
        for item in list.iter_mut() {
            *item = clip(item, MAX_TEXT_LEN);
        }
    }
    recall
}

/// The last step of every mapping: fit, then normalize, reporting a
/// rejection under the normalized field's name.
pub(crate) fn fit_and_normalize(recall: Recall) -> Result<Recall, crate::RecordError> {
    fit(recall).normalize().map_err(crate::RecordError::from_recall)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_untouched_and_long_text_is_cut_at_a_word() {
        assert_eq!(clip("crib recall", 20), "crib recall");
        assert_eq!(clip("aaaa bbbb cccc dddd", 12), "aaaa bbbb…");
        assert_eq!(clip("abcdefghij", 5), "abcd…");
        assert_eq!(clip(&"é".repeat(10), 4).chars().count(), 4);
    }
}
