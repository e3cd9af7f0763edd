//! Deterministic synthetic recalls for scale tests.
//!
//! The output is a pure function of `(seed, count)`: the same inputs give
//! byte-identical JSON Lines on every platform (own PRNG, no libm), so a
//! benchmark or a failing import can be reproduced exactly from two numbers.
//! Text is shaped like real recall feeds: Zipf-distributed brands and words,
//! CPSC and FDA dominating the agency mix, valid barcodes, some barcodes
//! shared between recalls, and a vocabulary that keeps growing with size.

mod agencies;
mod barcode;
mod brands;
mod calendar;
mod catalog;
mod json;
mod prose;
mod record;
mod rng;
mod vocabulary;
mod zipf;

use std::io::{self, Write};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticConfig {
    /// Number of recalls (lines).
    pub count: u64,
    /// Output is fully determined by the seed and the count.
    pub seed: u64,
}

/// Flush to `out` in chunks of about this size, so an unbuffered writer is
/// not called once per field.
const CHUNK: usize = 64 * 1024;

/// Writes `cfg.count` recalls as JSON Lines and returns the number written.
///
/// Ids are `{AGENCY}-SYN-{n}` (`n` from 1), EU ids carry slashes like real
/// Safety Gate alert numbers; every line passes
/// `babyshield_domain::Recall::from_json_line`.
pub fn write_synthetic<W: Write>(cfg: &SyntheticConfig, mut out: W) -> io::Result<u64> {
    let mut generator = record::Generator::new(cfg.seed);
    let mut buf = Vec::with_capacity(CHUNK + 8 * 1024);
    for n in 1..=cfg.count {
        generator.write_line(n, &mut buf);
        if buf.len() >= CHUNK {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    out.flush()?;
    Ok(cfg.count)
}
