//! Rights → a `users.xml` fragment for the server's `users.d/` folder: the same users,
//! grants and row conditions as the SQL path ([`crate::render`]), for servers whose users
//! are defined in configuration files (no writable access storage; the Kubernetes
//! operator's user specs; operators who keep users in files).
//!
//! Per LMS user, one ClickHouse user [`xml_user_name`] with its password's SHA-256 only,
//! `GRANT SELECT` on the public tables and views of [`crate::render::TABLES`] (never a
//! `_`-prefixed one), and, unless it sees everything, each of them filtered by the same
//! condition as the SQL path's restrictive row policy. A users.xml filter applies to the
//! table or view it names, so every public view carries its own filter: reading a view
//! never widens what its tables allow.
//!
//! ```
//! use cairn_acl::rights::Scope;
//! use cairn_acl::explorer::Limits;
//! use cairn_acl::users_xml::{XmlUser, render, parse};
//! let scope = Scope::Some { orgs: Default::default(), courses: ["course-v1:edX+D+1".to_owned()].into() };
//! let users = [XmlUser { username: "teach".into(), scope, sha256_hex: "ab".repeat(32) }];
//! let xml = render("openedx", &users, &Limits::default()).unwrap();
//! assert!(xml.contains("<openedx-teach>") && xml.contains("<filter>"));
//! assert_eq!(parse(&xml).unwrap()["teach"].scope, users[0].scope);
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use cairn_core::sql::quote_ident;

use crate::explorer::{Limits, profile_name};
use crate::render::{TABLES, condition};
use crate::rights::Scope;

/// The first line of every file Cairn writes (so it never overwrites another file).
/// (An XML comment may not hold `--`: the option is named in words.)
const MARK: &str = " Written by cairn acl sync, users.xml output";
/// The comment prefix that records a user's LMS username and scope.
const USER_MARK: &str = " cairn: ";

/// One ClickHouse user of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlUser {
    /// The LMS username.
    pub username: String,
    /// What the user may see.
    pub scope: Scope,
    /// SHA-256 of the user's ClickHouse password, hex.
    pub sha256_hex: String,
}

/// What went wrong rendering, reading or writing a users.xml fragment.
#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    /// The database name cannot be an XML element name.
    #[error(
        "database name {0:?} cannot be written in users.xml (letters, digits, `_` and `-`, starting with a letter or `_`)"
    )]
    Database(String),
    /// The existing file is not one Cairn wrote, or is broken.
    #[error("{0}")]
    Existing(String),
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// The user's name in users.xml: `openedx-<username>` (as on the SQL path) with the
/// characters an XML element name or a ClickHouse configuration key cannot hold encoded:
/// `_` is written `__`, and any character but ASCII letters, digits and `-` as `_` and its
/// UTF-8 bytes in hex (`john.doe` → `openedx-john_2edoe`). Names without such characters
/// are the SQL path's.
pub fn xml_user_name(username: &str) -> String {
    let mut out = String::from("openedx-");
    for c in username.chars() {
        if c.is_ascii_alphanumeric() || c == '-' {
            out.push(c);
        } else if c == '_' {
            out.push_str("__");
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "_{b:02x}");
            }
        }
    }
    out
}

fn valid_element(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Escapes text for an XML element's content.
fn text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// JSON for a comment: `--` may not appear in an XML comment, so every `-` is escaped
/// (`\u002d`, which JSON reads back as `-`; Cairn's JSON here holds only strings).
fn comment_json(v: &serde_json::Value) -> String {
    v.to_string().replace('-', "\\u002d")
}

/// The fragment for `users` (one `<clickhouse><profiles>…</profiles><users>…</users>
/// </clickhouse>` document) for the data lake in database `db`. Every user gets the
/// profile [`profile_name`]: read-only, within `limits` (which no query can lift).
pub fn render(db: &str, users: &[XmlUser], limits: &Limits) -> Result<String, XmlError> {
    if !valid_element(db) {
        return Err(XmlError::Database(db.to_owned()));
    }
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\"?>\n<clickhouse>\n");
    let _ = writeln!(
        x,
        "  <!--{MARK}: ClickHouse users of the LMS's course staff, from their roles and\n       Cairn's manual grants. The next sync rewrites this file: do not edit it.\n       ClickHouse rereads users.d/ within seconds; a server that reads it only at\n       start must be restarted. -->"
    );
    let profile = profile_name(db);
    let _ = writeln!(x, "  <profiles>\n    <{profile}>");
    for (name, value) in limits.settings() {
        let _ = writeln!(x, "      <{name}>{value}</{name}>");
    }
    // A query whose client went away (the explorer read the rows it shows) stops.
    x.push_str("      <cancel_http_readonly_queries_on_client_close>1</cancel_http_readonly_queries_on_client_close>\n");
    let _ = writeln!(x, "    </{profile}>\n  </profiles>");
    x.push_str("  <users>\n");
    for u in users {
        let name = xml_user_name(&u.username);
        let meta = serde_json::json!({ "username": u.username, "scope": u.scope });
        let _ = writeln!(x, "    <{name}>");
        let _ = writeln!(x, "      <!--{USER_MARK}{} -->", comment_json(&meta));
        let _ = writeln!(
            x,
            "      <password_sha256_hex>{}</password_sha256_hex>",
            text(&u.sha256_hex)
        );
        x.push_str("      <networks><ip>::/0</ip></networks>\n");
        let _ = writeln!(
            x,
            "      <profile>{profile}</profile>\n      <quota>default</quota>"
        );
        x.push_str("      <grants>\n");
        for (table, _) in TABLES {
            let _ = writeln!(
                x,
                "        <query>{}</query>",
                text(&format!(
                    "GRANT SELECT ON {}.{}",
                    quote_ident(db),
                    quote_ident(table)
                ))
            );
        }
        x.push_str("      </grants>\n");
        if u.scope != Scope::All {
            let _ = writeln!(x, "      <databases>\n        <{db}>");
            for (table, filter) in TABLES {
                let _ = writeln!(
                    x,
                    "          <{table}><filter>{}</filter></{table}>",
                    text(&condition(db, *filter, &u.scope))
                );
            }
            let _ = writeln!(x, "        </{db}>\n      </databases>");
        }
        let _ = writeln!(x, "    </{name}>");
    }
    x.push_str("  </users>\n</clickhouse>\n");
    Ok(x)
}

/// The users of a file Cairn wrote, by LMS username (an error for any other file).
pub fn parse(xml: &str) -> Result<BTreeMap<String, XmlUser>, XmlError> {
    let bad = |m: String| XmlError::Existing(m);
    let doc = roxmltree::Document::parse(xml).map_err(|e| bad(format!("not XML: {e}")))?;
    let root = doc.root_element();
    let ours = root
        .children()
        .any(|n| n.is_comment() && n.text().is_some_and(|t| t.starts_with(MARK)));
    if !ours {
        return Err(bad(
            "not a file written by `cairn acl sync --users-xml`".into()
        ));
    }
    let mut out = BTreeMap::new();
    for users in root.children().filter(|n| n.has_tag_name("users")) {
        for u in users.children().filter(|n| n.is_element()) {
            let meta = u
                .children()
                .find_map(|n| n.text().filter(|_| n.is_comment())?.strip_prefix(USER_MARK))
                .ok_or_else(|| bad(format!("user {} has no cairn comment", u.tag_name().name())))?;
            let meta: serde_json::Value = serde_json::from_str(meta.trim())
                .map_err(|e| bad(format!("user {}: {e}", u.tag_name().name())))?;
            let username = meta["username"].as_str().unwrap_or_default().to_owned();
            let scope: Scope = serde_json::from_value(meta["scope"].clone())
                .map_err(|e| bad(format!("user {}: {e}", u.tag_name().name())))?;
            let sha256_hex = u
                .children()
                .find(|n| n.has_tag_name("password_sha256_hex"))
                .and_then(|n| n.text())
                .unwrap_or_default()
                .to_owned();
            out.insert(
                username.clone(),
                XmlUser {
                    username,
                    scope,
                    sha256_hex,
                },
            );
        }
    }
    Ok(out)
}

/// The users of the file at `path` (none if it does not exist; an error if it is not one
/// Cairn wrote, so an operator's own file is never overwritten).
pub fn read(path: &Path) -> Result<BTreeMap<String, XmlUser>, XmlError> {
    match std::fs::read_to_string(path) {
        Ok(s) => parse(&s).map_err(|e| XmlError::Existing(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(source) => Err(XmlError::Io {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// Writes `xml` to `path` atomically (a temporary file beside it, then a rename), readable
/// by its owner and group only (it holds password hashes).
pub fn write(path: &Path, xml: &str) -> Result<(), XmlError> {
    let io = |source| XmlError::Io {
        path: path.display().to_string(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".cairn-users-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io)?;
    std::io::Write::write_all(&mut tmp, xml.as_bytes()).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o640)).map_err(io)?;
    }
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn some(courses: &[&str], orgs: &[&str]) -> Scope {
        Scope::Some {
            orgs: orgs.iter().map(|s| s.to_string()).collect(),
            courses: courses.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn names_are_encoded_only_where_needed() {
        assert_eq!(xml_user_name("teach"), "openedx-teach");
        assert_eq!(xml_user_name("a-b"), "openedx-a-b");
        assert_eq!(xml_user_name("john.doe"), "openedx-john_2edoe");
        assert_eq!(xml_user_name("a_b"), "openedx-a__b");
        assert_eq!(xml_user_name("a@b+c"), "openedx-a_40b_2bc");
        assert_eq!(xml_user_name("é"), "openedx-_c3_a9");
    }

    proptest! {
        #[test]
        fn names_are_distinct_and_valid(a in "\\PC{0,12}", b in "\\PC{0,12}") {
            let (x, y) = (xml_user_name(&a), xml_user_name(&b));
            prop_assert!(valid_element(&x));
            prop_assert_eq!(a == b, x == y);
        }

        #[test]
        fn hostile_scopes_round_trip(course in "[\\w:+.<>&'\"\\\\ /@-]{0,40}", org in "[\\w<>&'\"-]{0,20}", user in "[\\w.@+-]{1,20}") {
            let users = [XmlUser { username: user.clone(), scope: some(&[&course], &[&org]), sha256_hex: "00".repeat(32) }];
            let xml = render("openedx", &users, &Limits::default()).unwrap();
            let back = parse(&xml).unwrap();
            prop_assert_eq!(&back[&user], &users[0]);
        }
    }

    #[test]
    fn everything_has_no_filters_and_never_private_tables() {
        let users = [
            XmlUser {
                username: "admin".into(),
                scope: Scope::All,
                sha256_hex: "11".repeat(32),
            },
            XmlUser {
                username: "teach".into(),
                scope: some(&["course-v1:edX+D+1"], &[]),
                sha256_hex: "22".repeat(32),
            },
        ];
        let xml = render("openedx", &users, &Limits::default()).unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let user = |n: &str| {
            doc.descendants()
                .find(|e| e.has_tag_name(n))
                .unwrap_or_else(|| panic!("{n}"))
        };
        let filters = |n: &str| {
            user(n)
                .descendants()
                .filter(|e| e.has_tag_name("filter"))
                .count()
        };
        assert_eq!(filters("openedx-admin"), 0);
        assert_eq!(filters("openedx-teach"), TABLES.len());
        let grants: Vec<&str> = user("openedx-teach")
            .descendants()
            .filter(|e| e.has_tag_name("query"))
            .filter_map(|e| e.text())
            .collect();
        assert_eq!(grants.len(), TABLES.len());
        assert!(
            grants
                .iter()
                .all(|g| g.starts_with("GRANT SELECT ON `openedx`.`"))
        );
        assert!(!grants.iter().any(|g| g.contains(".`_")), "{grants:?}");
        assert!(!xml.contains("<password>"), "only hashes");
    }

    #[test]
    fn other_files_and_bad_databases_are_refused() {
        let e = parse("<clickhouse><users><ada/></users></clickhouse>").unwrap_err();
        assert!(e.to_string().contains("not a file written by"), "{e}");
        assert!(matches!(
            render("my db", &[], &Limits::default()),
            Err(XmlError::Database(_))
        ));
        assert!(matches!(
            render("1db", &[], &Limits::default()),
            Err(XmlError::Database(_))
        ));
    }

    #[test]
    fn writes_atomically_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.xml");
        assert!(read(&path).unwrap().is_empty());
        let users = [XmlUser {
            username: "t".into(),
            scope: some(&[], &["mitx"]),
            sha256_hex: "33".repeat(32),
        }];
        write(&path, &render("db", &users, &Limits::default()).unwrap()).unwrap();
        assert_eq!(read(&path).unwrap()["t"], users[0]);
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file left");
        std::fs::write(&path, "<clickhouse/>").unwrap();
        assert!(
            read(&path).is_err(),
            "an operator's file is never taken for ours"
        );
    }
}
