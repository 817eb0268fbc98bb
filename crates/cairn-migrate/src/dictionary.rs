//! The data dictionary: a one-line description of each public table and view of the data
//! lake and of its columns (`dictionary/dictionary.toml`, shipped with the migrations).
//!
//! ```
//! let d = cairn_migrate::dictionary::builtin();
//! assert!(d.table("events").is_some_and(|t| !t.about.is_empty()));
//! assert!(d.column("events", "event_id").is_some());
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

const BUILTIN: &str = include_str!("../dictionary/dictionary.toml");

/// One table's entry.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TableDoc {
    /// What the table holds, in one line.
    #[serde(default)]
    pub about: String,
    /// Each column's description, by column name.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
}

/// Descriptions by table name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dictionary(pub BTreeMap<String, TableDoc>);

impl Dictionary {
    /// Reads a dictionary file's text (its tables, each with `about` and `columns`).
    pub fn parse(text: &str) -> Result<Dictionary, String> {
        toml::from_str(text)
            .map(Dictionary)
            .map_err(|e| e.message().to_owned())
    }

    /// The entry of a table.
    pub fn table(&self, table: &str) -> Option<&TableDoc> {
        self.0.get(table)
    }

    /// The description of a column.
    pub fn column(&self, table: &str, column: &str) -> Option<&str> {
        self.0.get(table)?.columns.get(column).map(String::as_str)
    }

    /// Adds `other`'s entries (an operator's dictionary), replacing what they name.
    pub fn extend(&mut self, other: Dictionary) {
        for (t, doc) in other.0 {
            let mine = self.0.entry(t).or_default();
            if !doc.about.is_empty() {
                mine.about = doc.about;
            }
            mine.columns.extend(doc.columns);
        }
    }
}

/// The built-in dictionary.
pub fn builtin() -> Dictionary {
    // Compiled in and checked by the tests: a parse error is a bug.
    Dictionary::parse(BUILTIN).unwrap_or_else(|e| panic!("dictionary/dictionary.toml: {e}"))
}

/// The built-in dictionary with the `dictionary.toml` of each migrations folder (in order)
/// on top; a folder's file that does not parse is an error naming it.
pub fn load(folders: &[std::path::PathBuf]) -> Result<Dictionary, String> {
    let mut d = builtin();
    for f in folders {
        let path = f.join("dictionary.toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                d.extend(Dictionary::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_parses_and_describes_every_entry() {
        let d = builtin();
        for (t, doc) in &d.0 {
            assert!(!doc.about.trim().is_empty(), "{t}: no description");
            assert!(
                !t.starts_with('_'),
                "{t}: private tables are not documented"
            );
            for (c, about) in &doc.columns {
                assert!(!about.trim().is_empty(), "{t}.{c}: no description");
            }
        }
    }

    #[test]
    fn a_folder_dictionary_adds_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("dictionary.toml"),
            "[my_view]\nabout = \"Mine\"\n[my_view.columns]\nx = \"An x\"\n[events.columns]\nextra = \"More\"\n",
        )
        .unwrap();
        let d = load(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(d.column("my_view", "x"), Some("An x"));
        assert_eq!(d.column("events", "extra"), Some("More"));
        assert!(
            d.column("events", "time").is_some(),
            "built-in entries stay"
        );
        std::fs::write(dir.path().join("dictionary.toml"), "[t]\nabout = 3\n").unwrap();
        let e = load(&[dir.path().to_path_buf()]).unwrap_err();
        assert!(e.contains("dictionary.toml"), "{e}");
    }
}
