//! Migrations on a ClickHouse cluster (`CAIRN_CLICKHOUSE_CLUSTER`): every rendered
//! statement is rewritten for a sharded, replicated cluster, so the same migration files
//! serve one node and many.
//!
//! - `CREATE TABLE` of a `MergeTree`-family table:
//!   - a **sharded** table (the events, see [`SHARDED`]) becomes a `Replicated…` local
//!     table `NAME_local` on every node (its shard's replicas share a ZooKeeper path) and
//!     a `Distributed` table under the public name, so every query, view, metric and row
//!     policy keeps working unchanged;
//!   - any other (bookkeeping: migrations, checkpoints, logins, ACL state, saved objects,
//!     schedules) is replicated to **every** node (one ZooKeeper path for all), so each
//!     node holds all of it and reads are consistent cluster-wide.
//! - `CREATE` of anything else (views, MySQL tables, dictionaries), `DROP`, `RENAME`:
//!   `ON CLUSTER`, and for a sharded table on both its parts.
//! - `ALTER`: of a sharded table, on its local tables `ON CLUSTER` (then its `Distributed`
//!   table is made again from the new columns: 18.16 refuses `ALTER … ON CLUSTER` of a
//!   Distributed table when shards have replicas); of a table on every node, once (the
//!   change replicates); of anything else, `ON CLUSTER`.
//! - A statement that says `ON CLUSTER` itself is left as written (an operator's
//!   migration that manages its cluster DDL, with `{{ cluster }}`).
//!
//! ```
//! use cairn_migrate::cluster::ClusterDdl;
//! let mut ddl = ClusterDdl::new("cairn", "lake");
//! let out = ddl.rewrite("CREATE VIEW IF NOT EXISTS `lake`.v AS SELECT 1").unwrap();
//! assert_eq!(out, vec!["CREATE VIEW IF NOT EXISTS `lake`.v ON CLUSTER `cairn` AS SELECT 1"]);
//! ```

use std::collections::BTreeMap;

use cairn_core::cluster::{everywhere, local_name, on_cluster, per_shard, replicated};
use cairn_core::sql::{quote_ident, quote_str};

/// The sharded tables of the built-in migrations and their sharding key.
///
/// Events are sharded by `cityHash64(course_id, user_id)`: all copies of one event (the
/// same line read twice) carry the same course and learner, so they meet on one shard and
/// collapse there (`FINAL`, `ReplacingMergeTree`), which keeps every count exact; one
/// learner's events in one course sit together; and a course with many learners is spread
/// over every shard, so one big course does not load one shard. Per-course metrics stay
/// exact because `Distributed` merges each shard's partial aggregates.
pub const SHARDED: &[(&str, &str)] = &[("events", "cityHash64(course_id, user_id)")];

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// Local replicated tables plus a `Distributed` table; the sharding key.
    Sharded(String),
    /// One replicated table whose replicas are all the nodes.
    Everywhere,
    /// Views, MySQL tables, dictionaries, anything else: one per node.
    Other,
}

/// The rewriter, which follows the tables the statements create, rename and drop.
#[derive(Debug, Clone)]
pub struct ClusterDdl {
    cluster: String,
    database: String,
    sharding: BTreeMap<String, String>,
    kinds: BTreeMap<String, Kind>,
}

/// A token of a statement's text: its byte range, and whether it is a word.
#[derive(Debug, Clone, Copy)]
struct Tok {
    start: usize,
    end: usize,
    word: bool,
}

/// Splits SQL into words (bare or back-quoted identifiers, keywords, numbers), string
/// literals and single punctuation characters, skipping spaces and comments.
fn tokens(sql: &str) -> Vec<Tok> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i = sql[i + 2..].find("*/").map_or(b.len(), |p| i + 2 + p + 2);
        } else if c == b'`' || c == b'\'' || c == b'"' {
            let start = i;
            i += 1;
            while i < b.len() && b[i] != c {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(b.len());
            out.push(Tok {
                start,
                end: i,
                word: c != b'\'',
            });
        } else if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
                i += 1;
            }
            out.push(Tok {
                start,
                end: i,
                word: true,
            });
        } else {
            // One character (a multi-byte one whole).
            let len = sql[i..].chars().next().map_or(1, char::len_utf8);
            out.push(Tok {
                start: i,
                end: i + len,
                word: false,
            });
            i += len;
        }
    }
    out
}

/// A statement's tokens with its text, for reading its head.
struct Stmt<'a> {
    sql: &'a str,
    toks: Vec<Tok>,
}

/// A table name as written: `db.name` or `name`.
#[derive(Debug, Clone)]
struct QName {
    database: Option<String>,
    name: String,
    /// Byte offset of the name (after any `db.`).
    start: usize,
    /// Byte offset just past the name.
    end: usize,
}

fn unquote(s: &str) -> String {
    match s.strip_prefix('`').and_then(|s| s.strip_suffix('`')) {
        Some(inner) => inner.replace("\\`", "`").replace("``", "`"),
        None => s.to_owned(),
    }
}

impl<'a> Stmt<'a> {
    fn new(sql: &'a str) -> Stmt<'a> {
        Stmt {
            sql,
            toks: tokens(sql),
        }
    }

    fn text(&self, i: usize) -> &'a str {
        self.toks.get(i).map_or("", |t| &self.sql[t.start..t.end])
    }

    fn is(&self, i: usize, kw: &str) -> bool {
        self.toks.get(i).is_some_and(|t| t.word) && self.text(i).eq_ignore_ascii_case(kw)
    }

    /// Skips the keywords `kws` in order if they are all there.
    fn skip(&self, i: usize, kws: &[&str]) -> usize {
        if kws.iter().enumerate().all(|(k, kw)| self.is(i + k, kw)) {
            i + kws.len()
        } else {
            i
        }
    }

    /// The table name at token `i`, and the index after it.
    fn qname(&self, i: usize) -> Option<(QName, usize)> {
        let first = self.toks.get(i).filter(|t| t.word)?;
        if self.text(i + 1) == "." && self.toks.get(i + 2).is_some_and(|t| t.word) {
            let t = self.toks[i + 2];
            Some((
                QName {
                    database: Some(unquote(self.text(i))),
                    name: unquote(self.text(i + 2)),
                    start: t.start,
                    end: t.end,
                },
                i + 3,
            ))
        } else {
            Some((
                QName {
                    database: None,
                    name: unquote(self.text(i)),
                    start: first.start,
                    end: first.end,
                },
                i + 1,
            ))
        }
    }

    /// Whether the statement says `ON CLUSTER`.
    fn has_on_cluster(&self) -> bool {
        (0..self.toks.len()).any(|i| self.is(i, "ON") && self.is(i + 1, "CLUSTER"))
    }

    /// The index of the first `word` at parenthesis depth 0 from token `from`.
    fn top_level(&self, from: usize, word: &str) -> Option<usize> {
        let mut depth = 0i32;
        for i in from..self.toks.len() {
            match self.text(i) {
                "(" => depth += 1,
                ")" => depth -= 1,
                _ if depth == 0 && self.is(i, word) => return Some(i),
                _ => {}
            }
        }
        None
    }

    /// The byte range of the engine clause after `ENGINE [=]` (its name and arguments).
    fn engine(&self, from: usize) -> Option<(usize, usize)> {
        let at = self.top_level(from, "ENGINE")?;
        let mut i = at + 1;
        if self.text(i) == "=" {
            i += 1;
        }
        let start = self.toks.get(i).filter(|t| t.word)?.start;
        let mut end = self.toks[i].end;
        if self.text(i + 1) == "(" {
            let mut depth = 0i32;
            for j in i + 1..self.toks.len() {
                match self.text(j) {
                    "(" => depth += 1,
                    ")" => {
                        depth -= 1;
                        if depth == 0 {
                            end = self.toks[j].end;
                            break;
                        }
                    }
                    _ => {}
                }
            }
        }
        Some((start, end))
    }
}

impl ClusterDdl {
    /// A rewriter for `cluster` and the data lake's database, knowing the built-in
    /// sharded tables ([`SHARDED`]).
    pub fn new(cluster: &str, database: &str) -> ClusterDdl {
        ClusterDdl {
            cluster: cluster.to_owned(),
            database: database.to_owned(),
            sharding: SHARDED
                .iter()
                .map(|(t, k)| ((*t).to_owned(), (*k).to_owned()))
                .collect(),
            kinds: BTreeMap::new(),
        }
    }

    /// The cluster's name.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// The key under which a table is followed: its name in the data lake's database, else
    /// `db.name`.
    fn key(&self, q: &QName) -> String {
        match &q.database {
            Some(db) if db != &self.database => format!("{db}.{}", q.name),
            _ => q.name.clone(),
        }
    }

    fn full(&self, q: &QName, name: &str) -> String {
        match &q.database {
            Some(db) => format!("{}.{}", quote_ident(db), quote_ident(name)),
            None => quote_ident(name),
        }
    }

    fn on(&self) -> String {
        on_cluster(&self.cluster)
    }

    /// `CREATE TABLE … AS local ENGINE = Distributed(…)` for a sharded table.
    fn distributed(&self, q: &QName, key: &str) -> String {
        let db = q.database.clone().unwrap_or_else(|| self.database.clone());
        format!(
            "CREATE TABLE IF NOT EXISTS {}{} AS {} ENGINE = Distributed({}, {}, {}, {key})",
            self.full(q, &q.name),
            self.on(),
            self.full(q, &local_name(&q.name)),
            quote_str(&self.cluster),
            quote_str(&db),
            quote_str(&local_name(&q.name)),
        )
    }

    /// The statement with ` ON CLUSTER c` inserted at byte `at`.
    fn insert_on(&self, sql: &str, at: usize) -> String {
        format!("{}{}{}", &sql[..at], self.on(), &sql[at..])
    }

    /// Rewrites one rendered statement into the statements that do the same on the
    /// cluster; an error names what it cannot rewrite.
    pub fn rewrite(&mut self, sql: &str) -> Result<Vec<String>, String> {
        let s = Stmt::new(sql);
        if s.toks.is_empty() || s.has_on_cluster() {
            return Ok(vec![sql.to_owned()]);
        }
        if s.is(0, "CREATE") {
            let mut i = s.skip(1, &["OR", "REPLACE"]);
            if s.is(i, "TABLE") {
                i = s.skip(i + 1, &["IF", "NOT", "EXISTS"]);
                let (q, after) = s.qname(i).ok_or("CREATE TABLE without a table name")?;
                return Ok(self.create_table(&s, q, after));
            }
            let i = s.skip(i, &["MATERIALIZED"]);
            if s.is(i, "VIEW") || s.is(i, "DICTIONARY") || s.is(i, "DATABASE") {
                let i = s.skip(i + 1, &["IF", "NOT", "EXISTS"]);
                let (q, _) = s.qname(i).ok_or("CREATE without a name")?;
                if !s.is(i - 1, "DATABASE") {
                    let key = self.key(&q);
                    self.kinds.insert(key, Kind::Other);
                }
                return Ok(vec![self.insert_on(sql, q.end)]);
            }
            return Ok(vec![sql.to_owned()]);
        }
        if s.is(0, "DROP") && (s.is(1, "TABLE") || s.is(1, "VIEW") || s.is(1, "DICTIONARY")) {
            let i = s.skip(2, &["IF", "EXISTS"]);
            let (q, _) = s.qname(i).ok_or("DROP without a name")?;
            let mut out = vec![self.insert_on(sql, q.end)];
            if let Some(Kind::Sharded(_)) = self.kinds.remove(&self.key(&q)) {
                out.push(format!(
                    "DROP TABLE IF EXISTS {}{}",
                    self.full(&q, &local_name(&q.name)),
                    self.on()
                ));
            }
            return Ok(out);
        }
        if s.is(0, "RENAME") && s.is(1, "TABLE") {
            return self.rename(&s);
        }
        if s.is(0, "ALTER") && s.is(1, "TABLE") {
            let (q, after) = s.qname(2).ok_or("ALTER TABLE without a name")?;
            return Ok(match self.kinds.get(&self.key(&q)).cloned() {
                Some(Kind::Everywhere) => vec![sql.to_owned()],
                Some(Kind::Sharded(key)) => {
                    let local = self.full(&q, &local_name(&q.name));
                    let rest = &sql[s.toks[after - 1].end..];
                    let mut out = vec![format!("ALTER TABLE {local}{}{rest}", self.on())];
                    if (after..s.toks.len()).any(|i| s.is(i, "COLUMN")) {
                        out.push(format!(
                            "DROP TABLE IF EXISTS {}{}",
                            self.full(&q, &q.name),
                            self.on()
                        ));
                        out.push(self.distributed(&q, &key));
                    }
                    out
                }
                _ => vec![self.insert_on(sql, q.end)],
            });
        }
        if s.is(0, "TRUNCATE") {
            let i = s.skip(s.skip(1, &["TABLE"]), &["IF", "EXISTS"]);
            let (q, _) = s.qname(i).ok_or("TRUNCATE without a name")?;
            return Ok(match self.kinds.get(&self.key(&q)) {
                Some(Kind::Sharded(_)) => vec![format!(
                    "TRUNCATE TABLE {}{}",
                    self.full(&q, &local_name(&q.name)),
                    self.on()
                )],
                _ => vec![self.insert_on(sql, q.end)],
            });
        }
        Ok(vec![sql.to_owned()])
    }

    fn create_table(&mut self, s: &Stmt<'_>, q: QName, after: usize) -> Vec<String> {
        let sql = s.sql;
        let key = self.key(&q);
        let engine = s.engine(after);
        let sharded = self.sharding.get(&key).cloned();
        let db = q.database.clone().unwrap_or_else(|| self.database.clone());
        let Some((e_start, e_end)) = engine else {
            self.kinds.insert(key, Kind::Other);
            return vec![self.insert_on(sql, q.end)];
        };
        match sharded {
            Some(sharding_key) => {
                let local = local_name(&q.name);
                let (path, replica) = per_shard(&db, &local);
                let Some(engine) = replicated(&sql[e_start..e_end], &path, &replica) else {
                    self.kinds.insert(key, Kind::Other);
                    return vec![self.insert_on(sql, q.end)];
                };
                let local_table = format!(
                    "{}{}{}{}{engine}{}",
                    &sql[..q.start],
                    quote_ident(&local),
                    self.on(),
                    &sql[q.end..e_start],
                    &sql[e_end..]
                );
                self.kinds.insert(key, Kind::Sharded(sharding_key.clone()));
                vec![local_table, self.distributed(&q, &sharding_key)]
            }
            None => {
                let (path, replica) = everywhere(&db, &q.name);
                match replicated(&sql[e_start..e_end], &path, &replica) {
                    Some(engine) => {
                        self.kinds.insert(key, Kind::Everywhere);
                        vec![format!(
                            "{}{}{}{engine}{}",
                            &sql[..q.end],
                            self.on(),
                            &sql[q.end..e_start],
                            &sql[e_end..]
                        )]
                    }
                    None => {
                        self.kinds.insert(key, Kind::Other);
                        vec![self.insert_on(sql, q.end)]
                    }
                }
            }
        }
    }

    fn rename(&mut self, s: &Stmt<'_>) -> Result<Vec<String>, String> {
        let mut pairs = Vec::new();
        let mut i = 2;
        loop {
            let (from, next) = s.qname(i).ok_or("RENAME TABLE without a name")?;
            if !s.is(next, "TO") {
                return Err("RENAME TABLE: expected TO".into());
            }
            let (to, next) = s.qname(next + 1).ok_or("RENAME TABLE without a new name")?;
            pairs.push((from, to));
            if s.text(next) == "," {
                i = next + 1;
            } else {
                break;
            }
        }
        let mut out = Vec::new();
        for (from, to) in pairs {
            let kind = self.kinds.remove(&self.key(&from)).unwrap_or(Kind::Other);
            match &kind {
                Kind::Sharded(key) => {
                    out.push(format!(
                        "RENAME TABLE {} TO {}{}",
                        self.full(&from, &local_name(&from.name)),
                        self.full(&to, &local_name(&to.name)),
                        self.on()
                    ));
                    out.push(format!(
                        "DROP TABLE IF EXISTS {}{}",
                        self.full(&from, &from.name),
                        self.on()
                    ));
                    out.push(self.distributed(&to, key));
                }
                _ => out.push(format!(
                    "RENAME TABLE {} TO {}{}",
                    self.full(&from, &from.name),
                    self.full(&to, &to.name),
                    self.on()
                )),
            }
            self.kinds.insert(self.key(&to), kind);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ddl() -> ClusterDdl {
        ClusterDdl::new("c", "lake")
    }

    proptest::proptest! {
        /// Any text, statement-like or not (unterminated quotes and comments, multi-byte
        /// names), is rewritten or refused with an error, never a panic.
        #[test]
        fn rewriting_never_panics(
            head in proptest::sample::select(vec![
                "CREATE TABLE IF NOT EXISTS ", "CREATE VIEW ", "DROP TABLE ", "RENAME TABLE ",
                "ALTER TABLE ", "TRUNCATE ", "INSERT INTO ", "",
            ]),
            rest in "[a-zA-Zé_`'\"\\.,;()=* /\n-]{0,60}",
        ) {
            let mut d = ddl();
            let _ = d.rewrite(&format!("{head}{rest}"));
            let _ = d.rewrite(&format!("{head}`lake`.events (a UInt8) ENGINE = MergeTree{rest}"));
            let _ = d.rewrite(&format!("ALTER TABLE `lake`.events {rest}"));
        }
    }

    #[test]
    fn sharded_table_and_its_rename_and_alter() {
        let mut d = ddl();
        let out = d
            .rewrite("CREATE TABLE IF NOT EXISTS `lake`.events\n(\n    a String,\n    course_id String\n)\nENGINE = ReplacingMergeTree\nORDER BY a")
            .unwrap();
        assert_eq!(
            out,
            vec![
                "CREATE TABLE IF NOT EXISTS `lake`.`events_local` ON CLUSTER `c`\n(\n    a String,\n    course_id String\n)\nENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/lake/events_local', '{replica}')\nORDER BY a",
                "CREATE TABLE IF NOT EXISTS `lake`.`events` ON CLUSTER `c` AS `lake`.`events_local` ENGINE = Distributed('c', 'lake', 'events_local', cityHash64(course_id, user_id))",
            ]
        );
        let out = d
            .rewrite("RENAME TABLE `lake`.events TO `lake`._events")
            .unwrap();
        assert_eq!(
            out,
            vec![
                "RENAME TABLE `lake`.`events_local` TO `lake`.`_events_local` ON CLUSTER `c`",
                "DROP TABLE IF EXISTS `lake`.`events` ON CLUSTER `c`",
                "CREATE TABLE IF NOT EXISTS `lake`.`_events` ON CLUSTER `c` AS `lake`.`_events_local` ENGINE = Distributed('c', 'lake', '_events_local', cityHash64(course_id, user_id))",
            ]
        );
        let out = d
            .rewrite("ALTER TABLE `lake`._events ADD COLUMN x UInt8 DEFAULT 0")
            .unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(
            out[0],
            "ALTER TABLE `lake`.`_events_local` ON CLUSTER `c` ADD COLUMN x UInt8 DEFAULT 0"
        );
        let out = d
            .rewrite("ALTER TABLE `lake`._events DELETE WHERE user_id = 7")
            .unwrap();
        assert_eq!(
            out,
            vec!["ALTER TABLE `lake`.`_events_local` ON CLUSTER `c` DELETE WHERE user_id = 7"]
        );
        let out = d.rewrite("DROP TABLE IF EXISTS `lake`._events").unwrap();
        assert_eq!(
            out,
            vec![
                "DROP TABLE IF EXISTS `lake`._events ON CLUSTER `c`",
                "DROP TABLE IF EXISTS `lake`.`_events_local` ON CLUSTER `c`",
            ]
        );
    }

    #[test]
    fn bookkeeping_tables_are_on_every_node_and_altered_once() {
        let mut d = ddl();
        let out = d
            .rewrite("CREATE TABLE IF NOT EXISTS `lake`._acl_state (k String, version UInt64) ENGINE = ReplacingMergeTree(version) ORDER BY k")
            .unwrap();
        assert_eq!(
            out,
            vec![
                "CREATE TABLE IF NOT EXISTS `lake`._acl_state ON CLUSTER `c` (k String, version UInt64) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/lake/_acl_state', '{shard}-{replica}', version) ORDER BY k"
            ]
        );
        let alter = "ALTER TABLE `lake`._acl_state ADD COLUMN x UInt8";
        assert_eq!(d.rewrite(alter).unwrap(), vec![alter]);
    }

    #[test]
    fn other_objects_get_on_cluster() {
        let mut d = ddl();
        let mysql = "CREATE TABLE IF NOT EXISTS `lake`.users\n(\n    id Int32\n)\nENGINE = MySQL('h:3306', 'db', 'auth_user', 'u', 'p;w')";
        assert_eq!(
            d.rewrite(mysql).unwrap(),
            vec![
                "CREATE TABLE IF NOT EXISTS `lake`.users ON CLUSTER `c`\n(\n    id Int32\n)\nENGINE = MySQL('h:3306', 'db', 'auth_user', 'u', 'p;w')"
            ]
        );
        assert_eq!(
            d.rewrite("ALTER TABLE `lake`.v MODIFY SQL SECURITY DEFINER")
                .unwrap(),
            vec!["ALTER TABLE `lake`.v ON CLUSTER `c` MODIFY SQL SECURITY DEFINER"]
        );
        assert_eq!(
            d.rewrite("-- a comment\nDROP TABLE IF EXISTS `lake`.v")
                .unwrap(),
            vec!["-- a comment\nDROP TABLE IF EXISTS `lake`.v ON CLUSTER `c`"]
        );
        assert_eq!(
            d.rewrite("RENAME TABLE `lake`.a TO `lake`.b, `lake`.c TO `lake`.d")
                .unwrap(),
            vec![
                "RENAME TABLE `lake`.`a` TO `lake`.`b` ON CLUSTER `c`",
                "RENAME TABLE `lake`.`c` TO `lake`.`d` ON CLUSTER `c`",
            ]
        );
        let own = "CREATE TABLE t ON CLUSTER `x` (a UInt8) ENGINE = MergeTree ORDER BY a";
        assert_eq!(d.rewrite(own).unwrap(), vec![own]);
        let insert = "INSERT INTO `lake`.t SELECT 1";
        assert_eq!(d.rewrite(insert).unwrap(), vec![insert]);
    }
}
