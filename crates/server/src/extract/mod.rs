//! Request extractors whose rejections are contract envelopes.

mod json;

pub use json::ApiJson;
