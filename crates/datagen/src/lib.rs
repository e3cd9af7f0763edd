//! Recall data for demos and scale tests.
//!
//! Two sources, both in the normalized JSON Lines format of
//! `docs/RECALL_FORMAT.md`, so the importer treats them like any other feed:
//!
//! - [`SAMPLE_RECALLS_JSONL`]: a few hundred hand-curated recalls modelled on
//!   public notices from CPSC, FDA, Health Canada, EU Safety Gate and others.
//!   Small enough to bundle into the binary so a fresh install can be seeded
//!   without network access.
//! - [`synthetic`]: a deterministic generator for millions of realistic-looking
//!   recalls, to measure import and search at scale.

pub mod synthetic;

/// The bundled sample recalls, one JSON object per line (see `data/README.md`).
pub const SAMPLE_RECALLS_JSONL: &str = include_str!("../data/sample_recalls.jsonl");
