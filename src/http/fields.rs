//! A request's header fields, names and values in one string: a head's dozen fields cost two
//! allocations instead of two dozen, and are looked up by name, case-insensitively, as HTTP wants.

use std::ops::Range;

/// Header fields in the order they came.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    /// Every name and value, one after the other.
    text: String,
    /// Per field: its name's and its value's places in `text`.
    spans: Vec<(Range<usize>, Range<usize>)>,
}

impl Fields {
    pub fn with_capacity(fields: usize, bytes: usize) -> Fields {
        Fields {
            text: String::with_capacity(bytes),
            spans: Vec::with_capacity(fields),
        }
    }

    pub fn push(&mut self, name: &str, value: &str) {
        let name = self.append(name);
        let value = self.append(value);
        self.spans.push((name, value));
    }

    /// Each field as (name, value), in the order they came.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.spans.iter().map(|(name, value)| {
            (
                self.text.get(name.clone()).unwrap_or(""),
                self.text.get(value.clone()).unwrap_or(""),
            )
        })
    }

    /// The first field named `name` (in any case).
    pub fn get(&self, name: &str) -> Option<&str> {
        // Bytes, not `str` slices: a request asks for half a dozen fields, and each `str` slice
        // checks its char boundaries.
        let text = self.text.as_bytes();
        let (_, value) = self.spans.iter().find(|(n, _)| {
            n.len() == name.len()
                && text
                    .get(n.clone())
                    .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
        })?;
        self.text.get(value.clone())
    }

    /// Gives every field named `name` the value `value`.
    pub fn set_all(&mut self, name: &str, value: &str) {
        let mut appended = None;
        for i in 0..self.spans.len() {
            let named = self
                .text
                .get(self.spans[i].0.clone())
                .is_some_and(|n| n.eq_ignore_ascii_case(name));
            if named {
                let place = match &appended {
                    Some(place) => Range::clone(place),
                    None => self.append(value),
                };
                self.spans[i].1 = place.clone();
                appended = Some(place);
            }
        }
    }

    fn append(&mut self, s: &str) -> Range<usize> {
        let start = self.text.len();
        self.text.push_str(s);
        start..self.text.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_their_order_and_are_found_in_any_case() {
        let mut fields = Fields::default();
        fields.push("Host", "example.com");
        fields.push("X-Empty", "");
        fields.push("host", "second");
        let all: Vec<_> = fields.iter().collect();
        assert_eq!(
            all,
            vec![("Host", "example.com"), ("X-Empty", ""), ("host", "second")]
        );
        assert_eq!(fields.get("HOST"), Some("example.com"));
        assert_eq!(fields.get("x-empty"), Some(""));
        assert_eq!(fields.get("missing"), None);
        fields.set_all("HOST", "new:80");
        let all: Vec<_> = fields.iter().collect();
        assert_eq!(
            all,
            vec![("Host", "new:80"), ("X-Empty", ""), ("host", "new:80")]
        );
    }

    #[test]
    fn set_all_with_no_such_field_adds_none_and_keeps_the_others() {
        let mut fields = Fields::default();
        fields.set_all("host", "h");
        assert_eq!(fields.iter().count(), 0);
        fields.push("Accept", "*/*");
        fields.push("HoSt", "old");
        fields.set_all("Host", "");
        fields.set_all("x-missing", "never");
        let all: Vec<_> = fields.iter().collect();
        assert_eq!(all, vec![("Accept", "*/*"), ("HoSt", "")]);
        // A name that is only a prefix, or a value that equals the name, is not a match.
        fields.push("Hosts", "many");
        fields.push("X", "host");
        fields.set_all("host", "new");
        fields.push("After", "ä");
        let all: Vec<_> = fields.iter().collect();
        assert_eq!(
            all,
            vec![
                ("Accept", "*/*"),
                ("HoSt", "new"),
                ("Hosts", "many"),
                ("X", "host"),
                ("After", "ä")
            ]
        );
    }
}
