//! Barcodes (UPC-A, EAN-13, EAN-8, GTIN-14) as one value.
//!
//! GS1 defines all of these as left-zero-padded views of the same 14-digit
//! number, so a recall listing `012345678905` must match a scan of
//! `0012345678905`. Storing the padded form makes that equality structural.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A GS1 trade item number whose check digit has been verified.
///
/// Always held as the 14-digit GTIN-14 (ASCII digits) so that every printed
/// form of one product compares equal and `as_str` costs nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gtin([u8; 14]);

/// Why a string is not a usable barcode; messages are shown to end users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GtinError {
    #[error("barcode is empty")]
    Empty,
    #[error("barcode may only contain digits, spaces and dashes, found '{0}'")]
    InvalidCharacter(char),
    #[error("barcode must have 8, 12, 13 or 14 digits, got {0}")]
    WrongLength(usize),
    #[error("barcode check digit is wrong: expected {expected}, found {found}")]
    BadCheckDigit { expected: u8, found: u8 },
}

/// Computes the GS1 mod-10 check digit of `body`, the digits *without* the
/// check digit, given as digit values `0..=9` (not ASCII).
///
/// Weights alternate 3, 1, 3, … starting from the rightmost body digit, which
/// is why leading zeros never change the result. Public because the synthetic
/// data generator has to mint valid barcodes.
pub fn check_digit(body: &[u8]) -> u8 {
    let sum: u32 =
        body.iter().rev().enumerate().map(|(i, &d)| u32::from(d) * if i % 2 == 0 { 3 } else { 1 }).sum();
    ((10 - sum % 10) % 10) as u8
}

impl Gtin {
    /// Parses a barcode as typed or printed; spaces and dashes are ignored.
    pub fn parse(input: &str) -> Result<Gtin, GtinError> {
        let mut digits = [b'0'; 14];
        let mut len = 0usize;
        for c in input.chars() {
            match c {
                '0'..='9' => {
                    if len < 14 {
                        digits[len] = c as u8;
                    }
                    len += 1;
                }
                ' ' | '-' | '\t' => {}
                other => return Err(GtinError::InvalidCharacter(other)),
            }
        }
        match len {
            0 => Err(GtinError::Empty),
            8 | 12 | 13 | 14 => Self::from_ascii_digits(&digits[..len]),
            n => Err(GtinError::WrongLength(n)),
        }
    }

    /// `digits` are ASCII digits of an allowed length.
    fn from_ascii_digits(digits: &[u8]) -> Result<Gtin, GtinError> {
        let mut padded = [b'0'; 14];
        padded[14 - digits.len()..].copy_from_slice(digits);
        let values: Vec<u8> = padded.iter().map(|d| d - b'0').collect();
        let expected = check_digit(&values[..13]);
        let found = values[13];
        if expected != found {
            return Err(GtinError::BadCheckDigit { expected, found });
        }
        Ok(Gtin(padded))
    }

    /// The 14-digit GTIN-14 form, the canonical key for storage and lookup.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored, so this cannot fail.
        std::str::from_utf8(&self.0).expect("Gtin holds ASCII digits")
    }

    /// Every shorter spelling that names the same product (14, 13, 12 and,
    /// when six leading zeros allow it, 8 digits), longest first. Sources
    /// print whichever they like, so exact-match stores can index them all.
    pub fn forms(&self) -> Vec<String> {
        let s = self.as_str();
        let leading_zeros = s.bytes().take_while(|&b| b == b'0').count();
        [14usize, 13, 12, 8]
            .into_iter()
            .filter(|&len| leading_zeros >= 14 - len)
            .map(|len| s[14 - len..].to_owned())
            .collect()
    }
}

impl fmt::Display for Gtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Gtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Gtin({})", self.as_str())
    }
}

impl std::str::FromStr for Gtin {
    type Err = GtinError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Gtin::parse(s)
    }
}

impl Serialize for Gtin {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Gtin {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Gtin::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Finds barcodes in free text such as `"UPC 0 12345 67890 5"` or
/// `"UPCs: 012345678905, 041234567890"`.
///
/// Sources print barcodes split into groups, so digit groups separated by a
/// single space or dash are joined; a candidate is kept only when it is a
/// valid GTIN. Digits glued to letters (`"Lot A12345670"`) are not barcodes.
/// Results are de-duplicated and in order of appearance.
pub fn extract_gtins(text: &str) -> Vec<Gtin> {
    let mut found = Vec::new();
    for run in digit_runs(text) {
        let mut start = 0;
        while start < run.len() {
            match longest_valid_span(&run[start..]) {
                Some((gtin, used)) => {
                    if !found.contains(&gtin) {
                        found.push(gtin);
                    }
                    start += used;
                }
                None => start += 1,
            }
        }
    }
    found
}

/// From the first group on, the longest joined span of groups that forms a
/// valid GTIN, with the number of groups it used.
fn longest_valid_span(groups: &[&str]) -> Option<(Gtin, usize)> {
    let mut joined = String::new();
    let mut best = None;
    for (i, group) in groups.iter().enumerate() {
        joined.push_str(group);
        if joined.len() > 14 {
            break;
        }
        if matches!(joined.len(), 8 | 12 | 13 | 14)
            && let Ok(gtin) = Gtin::from_ascii_digits(joined.as_bytes())
        {
            best = Some((gtin, i + 1));
        }
    }
    best
}

/// Splits text into runs of digit groups that are separated by exactly one
/// space or dash. Groups touching a letter break the run and are dropped.
fn digit_runs(text: &str) -> Vec<Vec<&str>> {
    let bytes = text.as_bytes();
    let mut runs: Vec<Vec<&str>> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut last_end: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let glued = text[..start].chars().next_back().is_some_and(char::is_alphanumeric)
            || text[i..].chars().next().is_some_and(char::is_alphanumeric);
        let continues = last_end
            .is_some_and(|end| start == end + 1 && matches!(bytes[end], b' ' | b'-') && !current.is_empty());
        if !continues && !current.is_empty() {
            runs.push(std::mem::take(&mut current));
        }
        if glued {
            if !current.is_empty() {
                runs.push(std::mem::take(&mut current));
            }
            last_end = None;
        } else {
            current.push(&text[start..i]);
            last_end = Some(i);
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

#[cfg(test)]
mod tests;
