//! Reading a source record's JSON members with errors that name the member.

use serde_json::{Map, Value};

use crate::error::RecordError;

/// A source record: a JSON object read member by member.
pub(crate) struct SourceRecord<'a>(pub(crate) &'a Map<String, Value>);

impl<'a> SourceRecord<'a> {
    /// Wraps an array item, which every documented format makes an object.
    pub(crate) fn from_value(value: &'a Value) -> Result<SourceRecord<'a>, RecordError> {
        value.as_object().map(SourceRecord).ok_or_else(|| RecordError::new("record", "must be a JSON object"))
    }

    /// The member, with `null` counting as absent.
    pub(crate) fn get(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// A text member: strings are trimmed (empty counts as absent) and
    /// numbers are written out, because sources flip ids between the two.
    pub(crate) fn text(&self, name: &str) -> Result<Option<String>, RecordError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(RecordError::new(name, "must be a string")),
        }
    }

    /// An array member; absent means empty.
    pub(crate) fn array(&self, name: &str) -> Result<&'a [Value], RecordError> {
        match self.get(name) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(RecordError::new(name, "must be an array")),
        }
    }

    /// The objects of an array member, each wrapped for reading.
    pub(crate) fn objects(&self, name: &str) -> Result<Vec<SourceRecord<'a>>, RecordError> {
        self.array(name)?
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_object()
                    .map(SourceRecord)
                    .ok_or_else(|| RecordError::new(format!("{name}[{i}]"), "must be an object"))
            })
            .collect()
    }

    /// The `member` text of every object in array `name`, e.g. every
    /// `Hazards[].Name`, with errors naming the item.
    pub(crate) fn texts_of(&self, name: &str, member: &str) -> Result<Vec<String>, RecordError> {
        let mut out = Vec::new();
        for (i, item) in self.objects(name)?.iter().enumerate() {
            let value = item
                .text(member)
                .map_err(|e| RecordError::new(format!("{name}[{i}].{member}"), e.message))?;
            out.extend(value);
        }
        Ok(out)
    }

    /// Like [`SourceRecord::text`], but absence is an error.
    pub(crate) fn required_text(&self, name: &str) -> Result<String, RecordError> {
        self.text(name)?.ok_or_else(|| RecordError::new(name, "missing"))
    }
}

impl SourceRecord<'_> {
    /// A date member in any spelling of [`crate::dates`].
    pub(crate) fn date(&self, name: &str) -> Result<Option<time::Date>, RecordError> {
        self.get(name).map(|v| crate::dates::parse_date(v).map_err(|m| RecordError::new(name, m))).transpose()
    }

    /// A timestamp member (for `lastUpdated`).
    pub(crate) fn timestamp(&self, name: &str) -> Result<Option<time::OffsetDateTime>, RecordError> {
        self.get(name)
            .map(|v| crate::dates::parse_timestamp(v).map_err(|m| RecordError::new(name, m)))
            .transpose()
    }
}
