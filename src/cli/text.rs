//! Text from a server on a terminal: how many columns it takes (a Chinese character two, a combining
//! accent none), and its control characters shown escaped, so that what others typed (a gate's
//! message) can neither break a table's row nor send an escape sequence to the terminal.
use std::borrow::Cow;

use unicode_width::UnicodeWidthStr;

/// Columns `s` takes on a terminal (control characters aside: show them `printable` first).
pub fn columns(s: &str) -> usize {
    s.width()
}

/// `s` with each control character escaped (`\n`, `\u{1b}`); as it is when it has none.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` followed by blanks up to `width` columns.
pub fn pad(s: &str, width: usize) -> String {
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(columns(s))));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_characters_take_two_columns_and_controls_are_escaped() {
        assert_eq!(columns("张三"), 4);
        assert_eq!(columns("e\u{301}"), 1);
        assert_eq!(pad("张三", 6), "张三  ");
        assert_eq!(printable("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        assert!(matches!(printable("plain"), Cow::Borrowed("plain")));
    }
}
