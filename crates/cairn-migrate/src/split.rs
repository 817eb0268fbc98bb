//! Splits rendered SQL into statements on `;`, respecting quotes, backquotes and comments.

/// Splits `sql` into statements. A `;` inside `'…'`, `"…"`, `` `…` ``, a `-- …` line
/// comment or a `/* … */` block comment does not end a statement. Statements are trimmed;
/// empty ones and ones made only of comments are dropped.
pub fn split_statements(sql: &str) -> Vec<String> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut has_code = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                has_code = true;
                i += 1;
                while i < b.len() {
                    if b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == q {
                        // A doubled quote is an escaped quote.
                        if b.get(i + 1) == Some(&q) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
            }
            b';' => {
                if has_code {
                    out.push(sql[start..i].trim().to_owned());
                }
                i += 1;
                start = i;
                has_code = false;
            }
            c => {
                if !c.is_ascii_whitespace() {
                    has_code = true;
                }
                i += 1;
            }
        }
    }
    if has_code {
        let end = b.len().min(sql.len());
        out.push(sql[start.min(end)..end].trim().to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn semicolons_inside_strings_and_comments_do_not_split() {
        let sql = "-- a; comment\nSELECT 'a;b', \"c;d\", `e;f` /* g; h */ FROM t;\n\n  ;SELECT 'it''s;' ; SELECT 'x\\';y'";
        assert_eq!(
            split_statements(sql),
            vec![
                "-- a; comment\nSELECT 'a;b', \"c;d\", `e;f` /* g; h */ FROM t",
                "SELECT 'it''s;'",
                "SELECT 'x\\';y'",
            ]
        );
        assert!(split_statements("-- only a comment;\n/* and ; this */").is_empty());
    }

    #[test]
    fn unterminated_input_never_panics() {
        for s in ["'abc", "/* x", "`a", "SELECT '\\", "\"", "a;'"] {
            let _ = split_statements(s);
        }
    }

    /// One statement's pieces: plain words, quoted strings with awkward content, comments.
    fn piece() -> impl Strategy<Value = String> {
        let content = "[a-z ;'\"`\\\\*/-]{0,12}";
        prop_oneof![
            "[a-zA-Z_0-9(),=]{1,8}".prop_map(|s| s),
            content.prop_map(|s| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))),
            content.prop_map(|s| format!("`{}`", s.replace('\\', "\\\\").replace('`', "``"))),
            "[a-z ;'\"`]{0,12}".prop_map(|s| format!("/* {} */", s.replace("*/", ""))),
            "[a-z ;'\"`*/]{0,12}".prop_map(|s| format!("-- {s}\n")),
        ]
    }

    fn statement() -> impl Strategy<Value = String> {
        proptest::collection::vec(piece(), 1..6).prop_map(|p| format!("SELECT {}", p.join(" ")))
    }

    proptest! {
        #[test]
        fn split_of_joined_statements_gives_them_back(stmts in proptest::collection::vec(statement(), 1..6)) {
            let joined = stmts.join(";\n");
            let expected: Vec<String> = stmts.iter().map(|s| s.trim().to_owned()).collect();
            prop_assert_eq!(split_statements(&joined), expected);
        }

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
            let _ = split_statements(&s);
        }
    }
}
