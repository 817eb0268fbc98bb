//! Reconciling ClickHouse with the LMS: read roles, compute the plan, apply only the
//! difference (create, update, revoke).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use cairn_core::ClickHouse;
use cairn_core::config::{ExplorerConfig, MysqlConfig};
use cairn_core::mysql::mysql_async::prelude::Queryable;
use cairn_core::sql::quote_ident;
use clickhouse::Row;
use serde::Deserialize;

use crate::render::{Auth, grant_statements, revoke_statements};
use crate::rights::{ANALYTICS_ROLES, LmsUser, RoleRow, Scope, compute};
use crate::users_xml::XmlUser;

/// The first ClickHouse with the access control Cairn uses (SQL users, grants, restrictive
/// row policies).
pub const RBAC_MIN: (u32, u32) = (21, 8);

/// The first ClickHouse whose users.xml takes `<grants>` that Cairn supports writing
/// (`cairn acl sync --users-xml`): 23.8, the oldest release Cairn's users run.
pub const USERS_XML_MIN: (u32, u32) = (23, 8);

/// Fails, naming the server's version, when it cannot apply access rights with SQL: too
/// old, or without a writable access storage (users defined in users.xml only).
pub async fn require_rbac(ch: &ClickHouse) -> cairn_core::Result<()> {
    ch.require(
        "access rights (SQL users, grants and row policies)",
        RBAC_MIN.0,
        RBAC_MIN.1,
    )?;
    let writable: u64 = ch
        .server_client()
        .query(WRITABLE_STORAGES_SQL)
        .fetch_one()
        .await
        .map_err(|e| cairn_core::Error::clickhouse("reading system.user_directories", e))?;
    if writable == 0 {
        return Err(cairn_core::Error::Other(
            "access rights (SQL users, grants and row policies) need a writable access storage, and this server defines its users in users.xml only: write them there with `cairn acl sync --users-xml PATH`".into(),
        ));
    }
    if !ch.cluster().is_empty() {
        let replicated: u64 = ch
            .server_client()
            .query(REPLICATED_STORAGES_SQL)
            .fetch_one()
            .await
            .map_err(|e| cairn_core::Error::clickhouse("reading system.user_directories", e))?;
        if replicated == 0 {
            return Err(cairn_core::Error::Other(format!(
                "on a cluster ({}), access rights must reach every node: give the servers a replicated access storage (<user_directories><replicated><zookeeper_path>/clickhouse/access</zookeeper_path></replicated></user_directories>, see docs/cluster.md); this node keeps users only for itself",
                ch.cluster()
            )));
        }
    }
    Ok(())
}

/// Counts the server's replicated access storages (users, grants and policies shared by
/// every node through Keeper/ZooKeeper).
const REPLICATED_STORAGES_SQL: &str =
    "SELECT toUInt64(count()) FROM system.user_directories WHERE type = 'replicated'";

/// Counts the server's access storages that `CREATE USER` can write to.
const WRITABLE_STORAGES_SQL: &str = "SELECT toUInt64(count()) FROM system.user_directories WHERE type NOT IN ('users_xml', 'users.xml', 'ldap')";

/// Fails, naming the server's version, when its users.xml cannot take Cairn's grants.
pub fn require_users_xml(ch: &ClickHouse) -> cairn_core::Result<()> {
    ch.require(
        "users.xml users with grants and row filters (`--users-xml`)",
        USERS_XML_MIN.0,
        USERS_XML_MIN.1,
    )
}

/// Reads LMS users and their analytics roles.
pub async fn read_lms(cfg: &MysqlConfig) -> cairn_core::Result<(Vec<LmsUser>, Vec<RoleRow>)> {
    let mut conn = cairn_core::mysql::connect(cfg).await?;
    let roles_list = ANALYTICS_ROLES
        .iter()
        .map(|r| format!("'{r}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let roles: Vec<(i64, String, String, String)> = conn
        .query(format!("SELECT user_id, org, course_id, role FROM student_courseaccessrole WHERE role IN ({roles_list})"))
        .await
        .map_err(|e| cairn_core::Error::mysql("reading student_courseaccessrole", e))?;
    let users: Vec<(i64, String, String, bool, bool, bool)> = conn
        .query(format!(
            "SELECT id, username, email, is_staff, is_superuser, is_active FROM auth_user \
             WHERE is_staff = 1 OR is_superuser = 1 OR id IN (SELECT user_id FROM student_courseaccessrole WHERE role IN ({roles_list}))"
        ))
        .await
        .map_err(|e| cairn_core::Error::mysql("reading auth_user", e))?;
    conn.disconnect().await.ok();
    Ok((
        users
            .into_iter()
            .map(
                |(id, username, email, is_staff, is_superuser, is_active)| LmsUser {
                    id,
                    username,
                    email,
                    is_staff,
                    is_superuser,
                    is_active,
                },
            )
            .collect(),
        roles
            .into_iter()
            .map(|(user_id, org, course_id, role)| RoleRow {
                user_id,
                org,
                course_id,
                role,
            })
            .collect(),
    ))
}

#[derive(Row, Deserialize)]
struct ScopeRow {
    username: String,
    #[serde(rename = "last_scope")]
    scope: String,
}

fn latest_scopes_sql(ch: &ClickHouse, table: &str) -> String {
    format!(
        "SELECT username, argMax(scope, version) AS last_scope FROM {}.{} GROUP BY username",
        quote_ident(ch.database()),
        quote_ident(table)
    )
}

async fn latest_scopes(
    ch: &ClickHouse,
    table: &str,
) -> cairn_core::Result<BTreeMap<String, Scope>> {
    let rows: Vec<ScopeRow> = ch
        .client()
        .query(&latest_scopes_sql(ch, table))
        .fetch_all()
        .await
        .map_err(|e| cairn_core::Error::clickhouse(format!("reading {table}"), e))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            serde_json::from_str::<Option<Scope>>(&r.scope)
                .ok()
                .flatten()
                .map(|s| (r.username, s))
        })
        .collect())
}

/// Manual grants recorded by `cairn createuser`.
pub async fn manual_grants(ch: &ClickHouse) -> cairn_core::Result<BTreeMap<String, Scope>> {
    latest_scopes(ch, "_acl_grants").await
}

/// The rights Cairn last applied, per user.
pub async fn applied(ch: &ClickHouse) -> cairn_core::Result<BTreeMap<String, Scope>> {
    latest_scopes(ch, "_acl_state").await
}

/// What a sync changes (of users' rights, or of users.xml users).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Plan<T = Scope> {
    /// New users and their rights.
    pub create: Vec<(String, T)>,
    /// Users whose rights change.
    pub update: Vec<(String, T)>,
    /// Users who lost every right: dropped with their policies.
    pub revoke: Vec<String>,
    /// Users already right.
    pub unchanged: usize,
}

impl<T> Default for Plan<T> {
    fn default() -> Self {
        Plan {
            create: Vec::new(),
            update: Vec::new(),
            revoke: Vec::new(),
            unchanged: 0,
        }
    }
}

impl<T> std::fmt::Display for Plan<T> {
    /// The summary line, then one line per user created, updated or revoked.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "plan: {} to create, {} to update, {} to revoke, {} unchanged",
            self.create.len(),
            self.update.len(),
            self.revoke.len(),
            self.unchanged
        )?;
        for (u, _) in &self.create {
            writeln!(f, "create {u}")?;
        }
        for (u, _) in &self.update {
            writeln!(f, "update {u}")?;
        }
        for u in &self.revoke {
            writeln!(f, "revoke {u}")?;
        }
        Ok(())
    }
}

/// The difference between what should be and what was applied (pure).
pub fn plan<T: PartialEq + Clone>(
    desired: &BTreeMap<String, T>,
    applied: &BTreeMap<String, T>,
) -> Plan<T> {
    let mut p = Plan::default();
    for (u, s) in desired {
        match applied.get(u) {
            None => p.create.push((u.clone(), s.clone())),
            Some(a) if a != s => p.update.push((u.clone(), s.clone())),
            Some(_) => p.unchanged += 1,
        }
    }
    p.revoke = applied
        .keys()
        .filter(|u| !desired.contains_key(*u))
        .cloned()
        .collect();
    p
}

/// The statements of a plan, in order.
pub fn plan_statements(db: &str, p: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    for (u, s) in p.create.iter().chain(&p.update) {
        out.extend(grant_statements(db, u, s, &Auth::Random));
    }
    for u in &p.revoke {
        out.extend(revoke_statements(db, u));
    }
    out
}

fn version() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

async fn record(
    ch: &ClickHouse,
    table: &str,
    username: &str,
    email: Option<&str>,
    scope: Option<&Scope>,
) -> cairn_core::Result<()> {
    let scope = serde_json::to_string(&scope).unwrap_or_else(|_| "null".into());
    let db = quote_ident(ch.database());
    let q = match email {
        Some(e) => ch
            .client()
            .query(&format!("INSERT INTO {db}.{table} (username, email, scope, version) SELECT ?, ?, ?, toUInt64(?)"))
            .bind(username)
            .bind(e)
            .bind(&scope)
            .bind(version()),
        None => ch
            .client()
            .query(&format!("INSERT INTO {db}.{table} (username, scope, version) SELECT ?, ?, toUInt64(?)"))
            .bind(username)
            .bind(&scope)
            .bind(version()),
    };
    q.execute()
        .await
        .map_err(|e| cairn_core::Error::clickhouse(format!("recording in {table}"), e))
}

/// Applies a plan (the server must support access control).
pub async fn apply(ch: &ClickHouse, p: &Plan) -> cairn_core::Result<()> {
    require_rbac(ch).await?;
    let db = ch.database().to_owned();
    for (u, s) in p.create.iter().chain(&p.update) {
        for stmt in grant_statements(&db, u, s, &Auth::Random) {
            ch.execute(&stmt).await?;
        }
        record(ch, "_acl_state", u, None, Some(s)).await?;
    }
    for u in &p.revoke {
        for stmt in revoke_statements(&db, u) {
            ch.execute(&stmt).await?;
        }
        record(ch, "_acl_state", u, None, None).await?;
    }
    Ok(())
}

/// The desired rights: LMS roles plus manual grants.
pub async fn desired(
    ch: &ClickHouse,
    lms: &MysqlConfig,
) -> cairn_core::Result<BTreeMap<String, Scope>> {
    let (users, roles) = read_lms(lms).await?;
    Ok(compute(&users, &roles, &manual_grants(ch).await?))
}

/// `cairn createuser`: creates or updates one ClickHouse user with a password and records
/// the grant (the server must support access control).
pub async fn create_user(
    ch: &ClickHouse,
    username: &str,
    email: &str,
    scope: &Scope,
    password: &str,
) -> cairn_core::Result<()> {
    require_rbac(ch).await?;
    for stmt in grant_statements(
        ch.database(),
        username,
        scope,
        &Auth::Password(password.to_owned()),
    ) {
        ch.execute(&stmt).await?;
    }
    record_grant(ch, username, email, scope).await?;
    record(ch, "_acl_state", username, None, Some(scope)).await
}

#[derive(Row, Deserialize)]
struct PasswordRow {
    username: String,
    #[serde(rename = "last_hash")]
    sha256_hex: String,
}

fn passwords_sql(ch: &ClickHouse) -> String {
    format!(
        "SELECT username, argMax(sha256_hex, version) AS last_hash FROM {}._acl_passwords GROUP BY username",
        quote_ident(ch.database())
    )
}

/// The ClickHouse passwords recorded per user (SHA-256, hex): `cairn createuser
/// --password`, `cairn acl password`.
pub async fn passwords(ch: &ClickHouse) -> cairn_core::Result<BTreeMap<String, String>> {
    let rows: Vec<PasswordRow> = ch
        .client()
        .query(&passwords_sql(ch))
        .fetch_all()
        .await
        .map_err(|e| cairn_core::Error::clickhouse("reading _acl_passwords", e))?;
    Ok(rows
        .into_iter()
        .filter(|r| !r.sha256_hex.is_empty())
        .map(|r| (r.username, r.sha256_hex))
        .collect())
}

/// Records a user's ClickHouse password, as its SHA-256 only (for `--users-xml`).
pub async fn record_password(
    ch: &ClickHouse,
    username: &str,
    password: &str,
) -> cairn_core::Result<()> {
    ch.client()
        .query(&format!(
            "INSERT INTO {}._acl_passwords (username, sha256_hex, version) SELECT ?, ?, toUInt64(?)",
            quote_ident(ch.database())
        ))
        .bind(username)
        .bind(crate::render::sha256_hex(password))
        .bind(version())
        .execute()
        .await
        .map_err(|e| cairn_core::Error::clickhouse("recording in _acl_passwords", e))
}

/// The users.xml users the rights call for. With an explorer key (`CAIRN_EXPLORER_KEY`),
/// each user's password is the one derived from it ([`crate::explorer::derive_password`]:
/// the dashboard's explorer signs in with it). Without one: its recorded password's hash,
/// else the hash it has in the `existing` file, else a random password's (nobody knows it:
/// the user reaches data through `cairn serve` until a password is set).
pub fn xml_users(
    db: &str,
    desired: &BTreeMap<String, Scope>,
    key: Option<&str>,
    passwords: &BTreeMap<String, String>,
    existing: &BTreeMap<String, XmlUser>,
) -> BTreeMap<String, XmlUser> {
    desired
        .iter()
        .map(|(u, s)| {
            let derived =
                key.map(|k| crate::render::sha256_hex(&crate::explorer::derive_password(k, db, u)));
            let sha256_hex = derived
                .or_else(|| {
                    passwords
                        .get(u)
                        .or_else(|| existing.get(u).map(|x| &x.sha256_hex))
                        .filter(|h| !h.is_empty())
                        .cloned()
                })
                .unwrap_or_else(|| crate::render::sha256_hex(&crate::render::random_secret()));
            let user = XmlUser {
                username: u.clone(),
                scope: s.clone(),
                sha256_hex,
            };
            (u.clone(), user)
        })
        .collect()
}

/// `cairn acl sync --users-xml PATH`: the plan against the file at `path` and the new
/// file's text (written by the caller unless it is a dry run). `explorer` gives the
/// key passwords are derived from (if set) and the users' limits.
pub async fn users_xml(
    ch: &ClickHouse,
    lms: &MysqlConfig,
    explorer: &ExplorerConfig,
    path: &std::path::Path,
) -> Result<(Plan<XmlUser>, String), String> {
    require_users_xml(ch).map_err(|e| e.to_string())?;
    let existing = crate::users_xml::read(path).map_err(|e| e.to_string())?;
    let desired = desired(ch, lms).await.map_err(|e| e.to_string())?;
    let passwords = passwords(ch).await.map_err(|e| e.to_string())?;
    let key = Some(explorer.key.expose()).filter(|k| !k.is_empty());
    let users = xml_users(ch.database(), &desired, key, &passwords, &existing);
    let plan = plan(&users, &existing);
    let list: Vec<XmlUser> = users.into_values().collect();
    let xml = crate::users_xml::render(ch.database(), &list, &explorer.into())
        .map_err(|e| e.to_string())?;
    Ok((plan, xml))
}

/// Records a manual grant (what `cairn createuser` gives), on any server: `cairn serve`
/// and `cairn acl sync` read it.
pub async fn record_grant(
    ch: &ClickHouse,
    username: &str,
    email: &str,
    scope: &Scope,
) -> cairn_core::Result<()> {
    record(ch, "_acl_grants", username, Some(email), Some(scope)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On the live server: the scope rows' columns are `ScopeRow`'s (current servers check).
    #[tokio::test(flavor = "multi_thread")]
    async fn scope_columns_are_the_row_fields() {
        let ch = cairn_migrate::testing::data_lake("acl_scope_columns").await;
        for table in ["_acl_grants", "_acl_state"] {
            let q = ch.client().query(&latest_scopes_sql(&ch, table));
            cairn_core::testing::assert_row_columns::<ScopeRow>(table, q).await;
        }
        let q = ch.client().query(&passwords_sql(&ch));
        cairn_core::testing::assert_row_columns::<PasswordRow>("_acl_passwords", q).await;
        ch.drop_database().await.unwrap();
    }

    #[test]
    fn plan_creates_updates_and_revokes() {
        let s = |c: &str| Scope::Some {
            orgs: Default::default(),
            courses: [c.to_owned()].into(),
        };
        let desired: BTreeMap<String, Scope> = [
            ("new".into(), s("a")),
            ("moved".into(), s("b")),
            ("same".into(), Scope::All),
        ]
        .into();
        let applied: BTreeMap<String, Scope> = [
            ("moved".into(), s("a")),
            ("same".into(), Scope::All),
            ("left".into(), s("a")),
        ]
        .into();
        let p = plan(&desired, &applied);
        assert_eq!(p.create, vec![("new".to_string(), s("a"))]);
        assert_eq!(p.update, vec![("moved".to_string(), s("b"))]);
        assert_eq!(p.revoke, vec!["left".to_string()]);
        assert_eq!(p.unchanged, 1);
        let stmts = plan_statements("openedx", &p);
        assert!(
            stmts
                .iter()
                .any(|s| s == "DROP USER IF EXISTS `openedx-left`")
        );
    }
}
