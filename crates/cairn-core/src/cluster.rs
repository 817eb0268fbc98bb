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

/// How long Cairn keeps waiting for an `ON CLUSTER` statement whose task outlived the
/// server's `distributed_ddl_task_timeout` (a slow host, such as a replica applying an
/// `ALTER` on a busy machine) before it reports the hosts that have not finished.
pub const DDL_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// The ZooKeeper path of the distributed DDL task named by a server's "Watching task … is
/// executing longer than distributed_ddl_task_timeout" error (Code 159); `None` for any
/// other error.
pub fn timed_out_ddl_task(message: &str) -> Option<&str> {
    if !message.contains("distributed_ddl_task_timeout") {
        return None;
    }
    let marker = "Watching task ";
    let rest = &message[message.find(marker)? + marker.len()..];
    let path = rest.split_whitespace().next()?;
    (path.starts_with('/') && path.len() > 1).then_some(path)
}

/// The hosts a distributed DDL task's entry names (its `hosts: ['h:p', …]` line), as its
/// `finished/` nodes name them.
pub fn ddl_task_hosts(entry: &str) -> Vec<String> {
    entry
        .lines()
        .find_map(|l| l.strip_prefix("hosts:"))
        .map(|list| {
            list.split('\'')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The error a host reported for a distributed DDL task (the value of its `finished/`
/// node: the error code, a newline, the message); `None` when it succeeded (code 0).
pub fn ddl_host_error(status: &str) -> Option<String> {
    let (code, message) = status.split_once('\n').unwrap_or((status, ""));
    match code.trim() {
        "0" => None,
        code => Some(format!("Code {code}: {}", message.trim())),
    }
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

    #[test]
    fn ddl_task_timeouts() {
        // 18.16's message, then a current server's.
        let old = "Code: 159, e.displayText() = DB::Exception: Watching task /clickhouse/task_queue/ddl/query-0000000146 is executing longer than distributed_ddl_task_timeout (=60) seconds. There are 1 unfinished hosts (1 of them are currently active), they are going to execute the query in background, e.what() = DB::Exception";
        assert_eq!(
            timed_out_ddl_task(old),
            Some("/clickhouse/task_queue/ddl/query-0000000146")
        );
        let new = "Code: 159. DB::Exception: Watching task /clickhouse/task_queue/ddl/query-0000000003 is executing longer than distributed_ddl_task_timeout (=180) seconds. There are 2 unfinished hosts (0 of them are currently executing the task), they are going to execute the query in background. (TIMEOUT_EXCEEDED)";
        assert_eq!(
            timed_out_ddl_task(new),
            Some("/clickhouse/task_queue/ddl/query-0000000003")
        );
        assert_eq!(
            timed_out_ddl_task("Code: 159. Timeout exceeded: elapsed 5 seconds"),
            None
        );
        assert_eq!(
            timed_out_ddl_task(
                "Watching task  is executing longer than distributed_ddl_task_timeout"
            ),
            None
        );
    }

    #[test]
    fn ddl_task_entries_and_statuses() {
        let entry = "version: 1\nquery: ALTER TABLE x ON CLUSTER c ADD COLUMN y UInt8\nhosts: ['127%2E0%2E0%2E1:9101','127%2E0%2E0%2E1:9102']\ninitiator: h:9101\n";
        assert_eq!(
            ddl_task_hosts(entry),
            vec!["127%2E0%2E0%2E1:9101", "127%2E0%2E0%2E1:9102"]
        );
        assert!(ddl_task_hosts("version: 1\n").is_empty());
        assert_eq!(ddl_host_error("0\n"), None);
        assert_eq!(ddl_host_error("0"), None);
        assert_eq!(
            ddl_host_error(
                "341\nAlter is not finished because timeout when waiting for some replicas"
            ),
            Some(
                "Code 341: Alter is not finished because timeout when waiting for some replicas"
                    .to_owned()
            )
        );
    }
}
