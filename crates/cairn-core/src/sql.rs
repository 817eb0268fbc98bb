//! The one place where text values become ClickHouse SQL literals.
//!
//! Prefer the `clickhouse` crate's `?` binding for queries; use these helpers where SQL
//! text itself is the product (rendered migrations, ACL statements shown by `--dry-run`).

/// Appends `s` escaped for use between quotes or backquotes.
fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '`' => out.push_str("\\`"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02X}", c as u32));
            }
            c => out.push(c),
        }
    }
}

/// A ClickHouse string literal: `'…'` with `\`, quotes and control characters escaped.
pub fn quote_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    escape_into(s, &mut out);
    out.push('\'');
    out
}

/// A ClickHouse identifier in backquotes, escaped the same way.
pub fn quote_ident(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('`');
    escape_into(s, &mut out);
    out.push('`');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_values_stay_inside_their_quotes() {
        assert_eq!(quote_str("it's"), r"'it\'s'");
        assert_eq!(
            quote_str("a\\'; DROP TABLE x; --"),
            r"'a\\\'; DROP TABLE x; --'"
        );
        assert_eq!(quote_str("l1\nl2\t\0"), r"'l1\nl2\t\0'");
        assert_eq!(quote_ident("we`ird"), r"`we\`ird`");
        assert_eq!(quote_str("\u{1}"), r"'\x01'");
    }
}
