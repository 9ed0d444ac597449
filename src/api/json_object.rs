//! A compact JSON object written by hand, for the answers a busy server writes most (a grant and a
//! release): serde's map and struct machinery costs more than the rest of such an answer. The bytes
//! are serde_json's compact output, key for key (the tests compare them).
use crate::http::message::{Seconds, push_decimal};

/// An object being written; keys are the caller's constants, written as given.
pub struct JsonObject {
    out: Vec<u8>,
    first: bool,
}

impl JsonObject {
    pub fn with_capacity(bytes: usize) -> JsonObject {
        let mut out = Vec::with_capacity(bytes);
        out.push(b'{');
        JsonObject { out, first: true }
    }

    /// `"key":value` with a JSON string value, escaped as serde_json escapes it.
    pub fn string(&mut self, key: &str, value: &str) -> &mut JsonObject {
        self.key(key);
        let plain = value.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
        if plain {
            self.out.push(b'"');
            self.out.extend_from_slice(value.as_bytes());
            self.out.push(b'"');
        } else {
            // Writing into a Vec cannot fail; were it to, the value would be missing, not wrong.
            let _ = serde_json::to_writer(&mut self.out, value);
        }
        self
    }

    /// `"key":value` with a value the caller knows needs no escape (a time, a token, a constant):
    /// written as it is, without the check.
    pub fn plain(&mut self, key: &str, value: &str) -> &mut JsonObject {
        debug_assert!(value.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\'));
        self.key(key);
        self.out.push(b'"');
        self.out.extend_from_slice(value.as_bytes());
        self.out.push(b'"');
        self
    }

    /// `"key":"2026-11-23T10:11:12.345Z"`: a time in milliseconds, as `timefmt::rfc3339` writes it.
    pub fn time(&mut self, key: &str, ms: u64) -> &mut JsonObject {
        self.key(key);
        self.out.push(b'"');
        crate::timefmt::push_rfc3339(&mut self.out, ms);
        self.out.push(b'"');
        self
    }

    pub fn number(&mut self, key: &str, value: u64) -> &mut JsonObject {
        self.key(key);
        push_decimal(&mut self.out, value);
        self
    }

    /// Milliseconds as seconds, as [`Seconds`] serializes them (`30`, `29.999`).
    pub fn seconds(&mut self, key: &str, ms: u64) -> &mut JsonObject {
        self.key(key);
        if ms.is_multiple_of(1000) {
            push_decimal(&mut self.out, ms / 1000);
        } else {
            let _ = serde_json::to_writer(&mut self.out, &Seconds(ms));
        }
        self
    }

    pub fn finish(&mut self) -> Vec<u8> {
        self.out.push(b'}');
        std::mem::take(&mut self.out)
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_object_reads_as_serde_json_writes_it() {
        for text in [
            "",
            "plain",
            "quote\"d",
            "back\\slash",
            "line\nbreak",
            "tab\t",
            "\u{1}",
            "\u{7f} del",
            "é ü 漢字 🔒",
        ] {
            for ms in [0, 1, 999, 1000, 29_999, 30_000, 86_400_000, 1_234_567] {
                let ours = JsonObject::with_capacity(8)
                    .string("a", text)
                    .number("n", ms)
                    .seconds("s", ms)
                    .finish();
                let theirs = serde_json::to_vec(&json!({"a": text, "n": ms, "s": Seconds(ms)}))
                    .expect("serializable");
                assert_eq!(
                    String::from_utf8_lossy(&ours),
                    String::from_utf8_lossy(&theirs)
                );
            }
        }
        assert_eq!(JsonObject::with_capacity(0).finish(), b"{}");
        let time = "2026-12-03T04:40:00.123Z";
        assert_eq!(
            JsonObject::with_capacity(0).plain("t", time).finish(),
            serde_json::to_vec(&json!({ "t": time })).expect("serializable")
        );
    }
}
