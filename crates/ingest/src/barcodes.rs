//! Collecting a recall's barcodes from explicit fields and free text.

use babyshield_domain::{Gtin, extract_gtins};

/// Barcodes in first-seen order, one per product whatever its printed form.
#[derive(Default)]
pub(crate) struct Barcodes {
    seen: Vec<Gtin>,
    printed: Vec<String>,
}

impl Barcodes {
    /// A value from a barcode field; one that is not a valid GTIN (wrong
    /// length or check digit, "N/A") is dropped rather than failing the
    /// recall, because the rest of the record is still worth having.
    pub(crate) fn add_declared(&mut self, raw: &str) {
        if let Ok(gtin) = Gtin::parse(raw.trim()) {
            self.add(gtin, raw.chars().filter(char::is_ascii_digit).collect());
        }
    }

    /// Every valid barcode printed in `text`.
    pub(crate) fn add_from_text(&mut self, text: &str) {
        for gtin in extract_gtins(text) {
            self.add(gtin, display_form(&gtin));
        }
    }

    fn add(&mut self, gtin: Gtin, printed: String) {
        if !self.seen.contains(&gtin) {
            self.seen.push(gtin);
            self.printed.push(printed);
        }
    }

    pub(crate) fn into_vec(self) -> Vec<String> {
        self.printed
    }
}

/// The form a shopper sees on the pack: UPC-A when the GTIN has two leading
/// zeros, EAN-13 with one, else all 14 digits. EAN-8 is not guessed, since
/// text rarely prints one padded.
fn display_form(gtin: &Gtin) -> String {
    let s = gtin.as_str();
    let zeros = s.bytes().take_while(|&b| b == b'0').count().min(2);
    s[zeros..].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_and_printed_forms_of_one_product_are_kept_once() {
        let mut b = Barcodes::default();
        b.add_declared("0-12345-67890-5");
        b.add_declared("012345678903");
        b.add_declared("N/A");
        b.add_from_text("UPC 0 12345 67890 5 and EAN 4006381333931");
        assert_eq!(b.into_vec(), ["012345678905", "4006381333931"]);
    }
}
