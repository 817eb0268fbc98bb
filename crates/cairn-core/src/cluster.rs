//! The data lake on a ClickHouse cluster (`CAIRN_CLICKHOUSE_CLUSTER`): the pieces of DDL
//! every crate shares.
//!
//! Two kinds of MergeTree tables live on a cluster:
//!
//! - **sharded** tables (the events): a `Replicated…MergeTree` local table per shard,
//!   `{name}_local`, replicated within its shard (ZooKeeper path
//!   `/clickhouse/tables/{shard}/DB/{name}_local`, replica `{replica}`), and a
//!   `Distributed` table under the public name;
//! - tables **on every node** (bookkeeping: migrations, locks, checkpoints, logins, ACL
//!   state, saved objects, schedules): one replicated table whose replicas are all the
//!   nodes (path `/clickhouse/tables/all/DB/NAME`, replica `{shard}-{replica}`), so that
//!   every node holds all of it and a write on any node reaches the others.
//!
//! ```
//! use cairn_core::cluster::{on_cluster, replicated, everywhere};
//! assert_eq!(on_cluster(""), "");
//! assert_eq!(on_cluster("cairn"), " ON CLUSTER `cairn`");
//! let (path, replica) = everywhere("openedx", "_migrations");
//! assert_eq!(
//!     replicated("ReplacingMergeTree(version)", &path, &replica).unwrap(),
//!     "ReplicatedReplacingMergeTree('/clickhouse/tables/all/openedx/_migrations', '{shard}-{replica}', version)"
//! );
//! assert!(replicated("MySQL('h:3306', 'db', 't', 'u', 'p')", &path, &replica).is_none());
//! ```

use crate::sql::{quote_ident, quote_str};

/// ` ON CLUSTER `name`` for a cluster, nothing for a single node (`""`).
pub fn on_cluster(cluster: &str) -> String {
    if cluster.is_empty() {
        String::new()
    } else {
        format!(" ON CLUSTER {}", quote_ident(cluster))
    }
}

/// The ZooKeeper path and replica name of a table held by every node of the cluster.
pub fn everywhere(database: &str, table: &str) -> (String, String) {
    (
        format!("/clickhouse/tables/all/{database}/{table}"),
        "{shard}-{replica}".to_owned(),
    )
}

/// The ZooKeeper path and replica name of one shard's part of a sharded table.
pub fn per_shard(database: &str, table: &str) -> (String, String) {
    (
        format!("/clickhouse/tables/{{shard}}/{database}/{table}"),
        "{replica}".to_owned(),
    )
}

/// The stored tables that are sharded on a cluster (by `cityHash64(course_id, user_id)`;
/// see `cairn_migrate::cluster`): the events. Every other MergeTree table is on every node.
pub const SHARDED_TABLES: &[&str] = &["_events"];

/// The name of a sharded table's local part.
pub fn local_name(table: &str) -> String {
    format!("{table}_local")
}

/// The `MergeTree` engines that have a `Replicated` form.
const MERGE_TREES: &[&str] = &[
    "MergeTree",
    "ReplacingMergeTree",
    "SummingMergeTree",
    "AggregatingMergeTree",
    "CollapsingMergeTree",
    "VersionedCollapsingMergeTree",
    "GraphiteMergeTree",
];

/// The replicated form of a `MergeTree`-family engine clause (`ReplacingMergeTree(ver)` →
/// `ReplicatedReplacingMergeTree('path', 'replica', ver)`); `None` for any other engine
/// (or one already replicated).
pub fn replicated(engine: &str, zk_path: &str, replica: &str) -> Option<String> {
    let engine = engine.trim();
    let name_end = engine
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(engine.len());
    let (name, rest) = engine.split_at(name_end);
    if !MERGE_TREES.contains(&name) {
        return None;
    }
    let rest = rest.trim_start();
    let args = match rest.strip_prefix('(') {
        Some(inner) => inner.strip_suffix(')')?.trim().to_owned(),
        None if rest.is_empty() => String::new(),
        None => return None,
    };
    let mut all = format!("{}, {}", quote_str(zk_path), quote_str(replica));
    if !args.is_empty() {
        all.push_str(", ");
        all.push_str(&args);
    }
    Some(format!("Replicated{name}({all})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicated_forms() {
        let (p, r) = per_shard("db", "_events_local");
        assert_eq!(p, "/clickhouse/tables/{shard}/db/_events_local");
        assert_eq!(
            replicated("MergeTree", &p, &r).unwrap(),
            "ReplicatedMergeTree('/clickhouse/tables/{shard}/db/_events_local', '{replica}')"
        );
        assert_eq!(
            replicated("MergeTree()", &p, &r).unwrap(),
            "ReplicatedMergeTree('/clickhouse/tables/{shard}/db/_events_local', '{replica}')"
        );
        assert_eq!(
            replicated(" SummingMergeTree((a, b)) ", &p, &r).unwrap(),
            "ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/db/_events_local', '{replica}', (a, b))"
        );
        assert!(replicated("ReplicatedMergeTree('x', 'y')", &p, &r).is_none());
        assert!(replicated("Log", &p, &r).is_none());
        assert!(replicated("MergeTree PARTITION BY x", &p, &r).is_none());
    }
}
