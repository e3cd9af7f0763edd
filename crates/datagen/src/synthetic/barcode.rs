//! Minting valid barcodes in the shapes each market prints.

use super::agencies::AgencyProfile;
use super::rng::Rng;
use babyshield_domain::gtin::check_digit;

/// A barcode as ASCII digits (8, 12, 13 or 14 of them).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Barcode {
    digits: [u8; 14],
    len: u8,
}

impl Barcode {
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.digits[..usize::from(self.len)]).expect("ASCII digits")
    }

    /// `body` holds digit values; the GS1 check digit is appended.
    fn from_body(body: &[u8]) -> Barcode {
        let mut digits = [0u8; 14];
        for (slot, d) in digits.iter_mut().zip(body) {
            *slot = b'0' + d;
        }
        digits[body.len()] = b'0' + check_digit(body);
        Barcode { digits, len: body.len() as u8 + 1 }
    }
}

fn push_digits(body: &mut [u8], at: usize, value: u64, width: usize) {
    let mut v = value;
    for i in (at..at + width).rev() {
        body[i] = (v % 10) as u8;
        v /= 10;
    }
}

/// A barcode for `company`'s product in `agency`'s market: UPC-A in the
/// U.S. and Canada, EAN-13 elsewhere, with the occasional case-level GTIN-14
/// and, in EAN markets, small-pack EAN-8.
pub(crate) fn mint(rng: &mut Rng, agency: &AgencyProfile, company: u32) -> Barcode {
    let roll = rng.below(100);
    let item = rng.below(100_000);
    match agency.ean_prefix {
        Some(prefix) if roll < 3 => {
            let mut body = [0u8; 7];
            push_digits(&mut body, 0, u64::from(prefix), 3);
            push_digits(&mut body, 3, item % 10_000, 4);
            Barcode::from_body(&body)
        }
        Some(prefix) => {
            let mut body = [0u8; 13];
            let start = usize::from(roll < 8);
            if start == 1 {
                body[0] = 1 + rng.below(8) as u8;
            }
            push_digits(&mut body, start, u64::from(prefix), 3);
            push_digits(&mut body, start + 3, u64::from(company % 10_000), 4);
            push_digits(&mut body, start + 7, item, 5);
            Barcode::from_body(&body[..12 + start])
        }
        None => {
            // UPC-A: number system, five-digit company, five-digit item.
            let mut body = [0u8; 13];
            let start = if roll < 6 { 2 } else { 0 };
            if start == 2 {
                body[0] = 1 + rng.below(8) as u8;
            }
            body[start] = *rng.pick(&[0u8, 0, 0, 6, 7, 8]);
            push_digits(&mut body, start + 1, u64::from(company), 5);
            push_digits(&mut body, start + 6, item, 5);
            Barcode::from_body(&body[..11 + start])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::agencies::AGENCIES;
    use babyshield_domain::Gtin;

    #[test]
    fn minted_barcodes_always_validate_and_have_printed_lengths() {
        let mut rng = Rng::new(11);
        let mut lengths = std::collections::BTreeSet::new();
        for agency in &AGENCIES {
            for _ in 0..500 {
                let code = mint(&mut rng, agency, 12_345);
                assert!(Gtin::parse(code.as_str()).is_ok(), "{}", code.as_str());
                lengths.insert(code.as_str().len());
            }
        }
        assert_eq!(lengths.into_iter().collect::<Vec<_>>(), vec![8, 12, 13, 14]);
    }
}
