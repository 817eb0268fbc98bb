//! Rights → ClickHouse statements: a user per LMS user (`openedx-<username>`, like Cairn),
//! `GRANT SELECT` on the public tables (never the `_`-prefixed ones), and row policies.
//!
//! Every table gets a permissive `USING 1` policy for the user (so rows are visible even
//! where other tools created policies) and, unless the user sees everything, a
//! **restrictive** policy with the user's condition, which no other policy can widen.
//! Course-keyed tables are filtered on the course key (listed courses, or the key's org
//! part, exact and case-insensitive); the learner tables without a course column
//! (`openedx_users`, `openedx_user_profiles`) to learners enrolled in an allowed course.
//! Identifiers and values go through `cairn_core::sql` quoting.

use cairn_core::sql::{quote_ident, quote_str};
use sha2::{Digest, Sha256};

use crate::rights::Scope;

/// How a public table is filtered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// By the course key in this column.
    Course(&'static str),
    /// By the learner id in this column (learners enrolled in allowed courses).
    Learner(&'static str),
}

/// The public tables and views of the data lake, with their filters.
pub const TABLES: &[(&str, Filter)] = &[
    ("events", Filter::Course("course_id")),
    ("video_events", Filter::Course("course_id")),
    ("video_view_segments", Filter::Course("course_id")),
    ("learner_days", Filter::Course("course_id")),
    ("learner_days_state", Filter::Course("course_id")),
    ("video_days", Filter::Course("course_id")),
    ("problem_days", Filter::Course("course_id")),
    ("answer_days", Filter::Course("course_id")),
    ("block_days", Filter::Course("course_id")),
    ("course_blocks", Filter::Course("course_id")),
    ("course_components", Filter::Course("course_id")),
    ("course_enrollments", Filter::Course("course_id")),
    ("course_block_completion", Filter::Course("course_id")),
    ("course_grades", Filter::Course("course_id")),
    ("openedx_course_enrollments", Filter::Course("course_id")),
    ("openedx_block_completion", Filter::Course("course_key")),
    ("openedx_course_overviews", Filter::Course("id")),
    ("openedx_users", Filter::Learner("id")),
    ("openedx_user_profiles", Filter::Learner("user_id")),
];

/// The ClickHouse user of an LMS user.
pub fn user_name(username: &str) -> String {
    format!("openedx-{username}")
}

/// The name of a user's policy on a table.
pub fn policy_name(username: &str, table: &str, restrictive: bool) -> String {
    format!(
        "cairn_{}_{}_{table}",
        if restrictive { "only" } else { "all" },
        user_name(username)
    )
}

/// The org part of the course key in `col`, lower-cased, as SQL (empty if none).
fn org_expr(col: &str) -> String {
    let c = quote_ident(col);
    format!(
        "lower(multiIf(startsWith({c}, 'course-v1:') OR startsWith({c}, 'ccx-v1:'), splitByChar('+', substring({c}, position({c}, ':') + 1))[1], position({c}, ':') = 0, splitByChar('/', {c})[1], ''))"
    )
}

fn list(values: impl Iterator<Item = String>) -> String {
    values.map(|v| quote_str(&v)).collect::<Vec<_>>().join(", ")
}

/// The condition on a course-key column (`1` for everything, `0` for nothing).
pub fn course_condition(col: &str, scope: &Scope) -> String {
    match scope {
        Scope::All => "1".into(),
        Scope::Some { orgs, courses } => {
            let mut parts = Vec::new();
            // `has([…], x)`, not `x IN (…)`: ClickHouse 18.16 pushes an `IN` with one
            // value down to MySQL-engine tables as invalid SQL.
            if !courses.is_empty() {
                parts.push(format!(
                    "has([{}], {})",
                    list(courses.iter().cloned()),
                    quote_ident(col)
                ));
            }
            if !orgs.is_empty() {
                parts.push(format!(
                    "has([{}], {})",
                    list(orgs.iter().map(|o| o.to_lowercase())),
                    org_expr(col)
                ));
            }
            if parts.is_empty() {
                "0".into()
            } else {
                parts.join(" OR ")
            }
        }
    }
}

/// The condition of a table for a scope, in database `db`.
pub fn condition(db: &str, filter: Filter, scope: &Scope) -> String {
    match (filter, scope) {
        (_, Scope::All) => "1".into(),
        (Filter::Course(col), _) => course_condition(col, scope),
        (Filter::Learner(col), _) => format!(
            "{} IN (SELECT user_id FROM {}.openedx_course_enrollments WHERE {})",
            quote_ident(col),
            quote_ident(db),
            course_condition("course_id", scope)
        ),
    }
}

/// How a user authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// A password, stored as its SHA-256 (the statement carries only the hash).
    Password(String),
    /// A random password nobody knows (users who reach data only through `cairn serve`).
    Random,
}

/// SHA-256 of a password, hex (how ClickHouse stores `sha256_hash` passwords).
pub fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A random 256-bit secret, hex (the password of users who reach data only through
/// `cairn serve`; nobody knows it).
pub fn random_secret() -> String {
    rand::random::<[u8; 32]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Statements that create or update a user and its rights (idempotent).
pub fn grant_statements(db: &str, username: &str, scope: &Scope, auth: &Auth) -> Vec<String> {
    let user = quote_ident(&user_name(username));
    let hash = match auth {
        Auth::Password(p) => sha256_hex(p),
        Auth::Random => sha256_hex(&random_secret()),
    };
    let mut out = vec![
        format!(
            "CREATE USER IF NOT EXISTS {user} IDENTIFIED WITH sha256_hash BY {}",
            quote_str(&hash)
        ),
        format!(
            "ALTER USER {user} IDENTIFIED WITH sha256_hash BY {}",
            quote_str(&hash)
        ),
    ];
    if matches!(auth, Auth::Random) {
        out.remove(1); // keep an existing user's password
    }
    for (table, filter) in TABLES {
        let t = format!("{}.{}", quote_ident(db), quote_ident(table));
        out.push(format!("GRANT SELECT ON {t} TO {user}"));
        out.push(format!(
            "CREATE ROW POLICY OR REPLACE {} ON {t} AS PERMISSIVE FOR SELECT USING 1 TO {user}",
            quote_ident(&policy_name(username, table, false))
        ));
        let restrictive = quote_ident(&policy_name(username, table, true));
        match scope {
            Scope::All => out.push(format!("DROP ROW POLICY IF EXISTS {restrictive} ON {t}")),
            _ => out.push(format!(
                "CREATE ROW POLICY OR REPLACE {restrictive} ON {t} AS RESTRICTIVE FOR SELECT USING {} TO {user}",
                condition(db, *filter, scope)
            )),
        }
    }
    out
}

/// Statements that take every right of a user away and drop it.
pub fn revoke_statements(db: &str, username: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (table, _) in TABLES {
        let t = format!("{}.{}", quote_ident(db), quote_ident(table));
        for restrictive in [true, false] {
            out.push(format!(
                "DROP ROW POLICY IF EXISTS {} ON {t}",
                quote_ident(&policy_name(username, table, restrictive))
            ));
        }
    }
    out.push(format!(
        "DROP USER IF EXISTS {}",
        quote_ident(&user_name(username))
    ));
    out
}
