//! A minimal JSON object writer into a reusable byte buffer.
//!
//! Building `serde_json::Value`s per line would dominate the generator's cost;
//! the generated text is known to be plain strings, so direct writing with
//! correct escaping is both simpler and several times faster.

/// Writes one JSON object; fields are appended in call order.
pub(crate) struct ObjectWriter<'a> {
    buf: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> ObjectWriter<'a> {
    pub(crate) fn new(buf: &'a mut Vec<u8>) -> ObjectWriter<'a> {
        buf.push(b'{');
        ObjectWriter { buf, first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        self.buf.push(b'"');
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"\":");
    }

    pub(crate) fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        escape_into(self.buf, value);
    }

    /// A string field whose value is produced by `fill`, which appends raw,
    /// already JSON-safe text (no quotes, backslashes or control characters).
    pub(crate) fn raw_string(&mut self, key: &str, fill: impl FnOnce(&mut Vec<u8>)) {
        self.key(key);
        self.buf.push(b'"');
        let start = self.buf.len();
        fill(self.buf);
        debug_assert!(
            self.buf[start..].iter().all(|&b| b != b'"' && b != b'\\' && b >= 0x20),
            "raw_string filled with text that needs escaping"
        );
        self.buf.push(b'"');
    }

    pub(crate) fn strings<'s>(&mut self, key: &str, values: impl IntoIterator<Item = &'s str>) {
        self.key(key);
        self.buf.push(b'[');
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            escape_into(self.buf, value);
        }
        self.buf.push(b']');
    }

    pub(crate) fn finish(self) {
        self.buf.extend_from_slice(b"}\n");
    }
}

fn escape_into(buf: &mut Vec<u8>, value: &str) {
    buf.push(b'"');
    for &b in value.as_bytes() {
        match b {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            0..=0x1f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                buf.extend_from_slice(b"\\u00");
                buf.push(HEX[usize::from(b >> 4)]);
                buf.push(HEX[usize::from(b & 0xf)]);
            }
            _ => buf.push(b),
        }
    }
    buf.push(b'"');
}

/// Appends `n` in decimal, zero-padded to `width` digits.
pub(crate) fn push_padded(buf: &mut Vec<u8>, n: u64, width: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for _ in (digits.len() - i)..width {
        buf.push(b'0');
    }
    buf.extend_from_slice(&digits[i..]);
}

/// Appends `n` in decimal.
pub(crate) fn push_u64(buf: &mut Vec<u8>, n: u64) {
    push_padded(buf, n, 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_quotes_backslashes_and_control_characters() {
        let mut buf = Vec::new();
        let mut obj = ObjectWriter::new(&mut buf);
        obj.string("a", "say \"hi\"\\ \u{1}\n");
        obj.strings("b", ["x", "y"]);
        obj.finish();
        let text = String::from_utf8(buf).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(parsed["a"], "say \"hi\"\\ \u{1}\n");
        assert_eq!(parsed["b"][1], "y");
    }

    #[test]
    fn pads_numbers() {
        let mut buf = Vec::new();
        push_padded(&mut buf, 7, 3);
        buf.push(b' ');
        push_u64(&mut buf, 1_234_567);
        assert_eq!(buf, b"007 1234567");
    }
}
