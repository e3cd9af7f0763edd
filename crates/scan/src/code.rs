//! Decoded codes, their symbology, and GTIN candidate extraction.

use serde::{Deserialize, Serialize};

/// The symbology (barcode family) of a decoded code.
///
/// Serialized as a flat snake_case string: `"ean13"`, `"ean8"`, `"upc_a"`, `"upc_e"`, `"qr"`,
/// `"code128"`, `"data_matrix"`; [`Symbology::Other`] serializes as its inner name (for example
/// `"gs1_databar"`), and any unknown string deserializes to `Other`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Symbology {
    /// EAN-13 (GTIN-13).
    Ean13,
    /// EAN-8 (GTIN-8).
    Ean8,
    /// UPC-A (GTIN-12).
    UpcA,
    /// UPC-E (zero-suppressed GTIN-12).
    UpcE,
    /// QR Code (GS1 Digital Link URIs, GS1 element strings, or anything else).
    Qr,
    /// Code 128, including GS1-128.
    Code128,
    /// Data Matrix, including GS1 DataMatrix.
    DataMatrix,
    /// Any other symbology, by a snake_case name (`gs1_databar`, `gs1_databar_expanded`, ...).
    #[serde(untagged)]
    Other(String),
}

impl Symbology {
    /// The serialized name (`"ean13"`, `"upc_a"`, ..., or the `Other` name).
    pub fn as_str(&self) -> &str {
        match self {
            Symbology::Ean13 => "ean13",
            Symbology::Ean8 => "ean8",
            Symbology::UpcA => "upc_a",
            Symbology::UpcE => "upc_e",
            Symbology::Qr => "qr",
            Symbology::Code128 => "code128",
            Symbology::DataMatrix => "data_matrix",
            Symbology::Other(name) => name,
        }
    }

    pub(crate) fn from_rxing(format: rxing::BarcodeFormat) -> Self {
        use rxing::BarcodeFormat as F;
        match format {
            F::EAN_13 => Symbology::Ean13,
            F::EAN_8 => Symbology::Ean8,
            F::UPC_A => Symbology::UpcA,
            F::UPC_E => Symbology::UpcE,
            F::QR_CODE => Symbology::Qr,
            F::CODE_128 => Symbology::Code128,
            F::DATA_MATRIX => Symbology::DataMatrix,
            F::RSS_14 => Symbology::Other("gs1_databar".to_owned()),
            F::RSS_EXPANDED => Symbology::Other("gs1_databar_expanded".to_owned()),
            other => Symbology::Other(other.to_string().to_lowercase().replace([' ', '/'], "_")),
        }
    }
}

impl std::fmt::Display for Symbology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One code found in an image: its symbology and its decoded text, as the reader returned it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Decoded {
    /// The symbology the code was read as.
    pub format: Symbology,
    /// The decoded payload (digits for EAN/UPC; for GS1-128, FNC1 separators after the first
    /// appear as ASCII GS, 0x1D).
    pub text: String,
}

impl Decoded {
    /// The digits of a GTIN candidate carried by this code, if any. The check digit is NOT
    /// verified here (the caller validates it).
    ///
    /// - EAN-13 / EAN-8 / UPC-A: the text itself when it has the right number of digits (13, 8, 12).
    /// - UPC-E: expanded to its 12-digit UPC-A form (for example `01234565` -> `012345000065`).
    /// - QR, DataMatrix, Code 128, GS1 DataBar (`Other`): the GTIN of AI (01), 14 digits, when
    ///   the payload is a GS1 element string (`(01)09506000134352...`, `0109506000134352...`,
    ///   optionally after a `]C1`/`]d2`/`]Q3`/`]e0` symbology identifier or a leading FNC1/GS)
    ///   or a GS1 Digital Link URI (`https://<any host>/[prefix/]01/<14 digits>[/...][?...]`; on
    ///   `id.gs1.org` also 8, 12 or 13 digits).
    pub fn product_code(&self) -> Option<String> {
        let text = self.text.trim();
        match &self.format {
            Symbology::Ean13 => digits_of_len(text, 13),
            Symbology::Ean8 => digits_of_len(text, 8),
            Symbology::UpcA => digits_of_len(text, 12),
            Symbology::UpcE => upce_to_upca(text),
            Symbology::Qr | Symbology::DataMatrix | Symbology::Code128 | Symbology::Other(_) => {
                gs1_element_gtin(text).or_else(|| digital_link_gtin(text))
            }
        }
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn digits_of_len(s: &str, len: usize) -> Option<String> {
    (s.len() == len && is_digits(s)).then(|| s.to_owned())
}

/// Expands an 8-digit UPC-E (number system 0 or 1, six data digits, check digit) to UPC-A.
/// A 12-digit all-digit text (a reader that already expanded it) is returned unchanged.
pub(crate) fn upce_to_upca(s: &str) -> Option<String> {
    if s.len() == 12 && is_digits(s) {
        return Some(s.to_owned());
    }
    if s.len() != 8 || !is_digits(s) {
        return None;
    }
    let b = s.as_bytes();
    if b[0] != b'0' && b[0] != b'1' {
        return None;
    }
    let d = &s[1..7];
    let mut out = String::with_capacity(12);
    out.push(b[0] as char);
    match b[6] {
        b'0'..=b'2' => {
            out.push_str(&d[0..2]);
            out.push(b[6] as char);
            out.push_str("0000");
            out.push_str(&d[2..5]);
        }
        b'3' => {
            out.push_str(&d[0..3]);
            out.push_str("00000");
            out.push_str(&d[3..5]);
        }
        b'4' => {
            out.push_str(&d[0..4]);
            out.push_str("00000");
            out.push_str(&d[4..5]);
        }
        _ => {
            out.push_str(&d[0..5]);
            out.push_str("0000");
            out.push(b[6] as char);
        }
    }
    out.push(b[7] as char);
    Some(out)
}

/// AI (01) at the start of a GS1 element string, in human-readable `(01)` or raw `01` form.
fn gs1_element_gtin(text: &str) -> Option<String> {
    let mut s = text;
    // AIM symbology identifiers that announce GS1 data: GS1-128, GS1 DataMatrix, GS1 QR,
    // GS1 DataBar.
    for prefix in ["]C1", "]d2", "]Q3", "]e0"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest;
            break;
        }
    }
    // A leading FNC1 may surface as GS (0x1D) or as the writer escape U+00F1.
    s = s.trim_start_matches(['\u{1d}', '\u{f1}']);
    let rest = s.strip_prefix("(01)").or_else(|| s.strip_prefix("01"))?;
    let gtin = rest.get(..14)?;
    if !is_digits(gtin) {
        return None;
    }
    // AI (01) is fixed-length: a further digit directly after 14 digits would still be a valid
    // element string (the next AI), so nothing more to check.
    Some(gtin.to_owned())
}

/// GTIN from a GS1 Digital Link URI: `http(s)://host[/prefix]/01/<gtin>[/...][?...][#...]`.
fn digital_link_gtin(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => return None,
    };
    let host = host.rsplit('@').next().unwrap_or(host);
    let host = host.split(':').next().unwrap_or(host);
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let gs1_resolver = host == "id.gs1.org";
    segments.windows(2).find_map(|w| {
        let (ai, value) = (w[0], w[1]);
        let ok_len = value.len() == 14 || (gs1_resolver && matches!(value.len(), 8 | 12 | 13));
        (ai == "01" && ok_len && is_digits(value)).then(|| value.to_owned())
    })
}
