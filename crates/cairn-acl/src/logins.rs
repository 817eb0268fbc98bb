//! Dashboard sign-ins: an Argon2id hash per user in `_dashboard_logins`, written by
//! `cairn createuser`, checked by `cairn serve`.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use cairn_core::ClickHouse;
use cairn_core::sql::quote_ident;
use clickhouse::Row;
use serde::Deserialize;

/// A user's dashboard sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// Username (the LMS username).
    pub username: String,
    /// May see learner identities (usernames, emails).
    pub identities: bool,
    /// The version of the login record signed in with; a later `cairn createuser` of the
    /// same user (new password, identities changed, sign-in disabled) records a new one.
    pub version: u64,
}

/// Hashes a password (Argon2id, random salt) as a PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    let salt = SaltString::encode_b64(&bytes).map_err(|e| format!("cannot make a salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether a password matches a PHC hash (false for an empty or malformed hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Records a sign-in (`password_hash` empty disables it).
pub async fn record_login(
    ch: &ClickHouse,
    username: &str,
    password_hash: &str,
    identities: bool,
) -> cairn_core::Result<()> {
    let version = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let sql = format!(
        "INSERT INTO {}._dashboard_logins (username, password_hash, identities, version) \
         SELECT ?, ?, toUInt8(?), toUInt64(?)",
        quote_ident(ch.database())
    );
    ch.client()
        .query(&sql)
        .bind(username)
        .bind(password_hash)
        .bind(u8::from(identities))
        .bind(version)
        .execute()
        .await
        .map_err(|e| cairn_core::Error::clickhouse("recording in _dashboard_logins", e))
}

#[derive(Row, Deserialize)]
struct LoginRow {
    hash: String,
    #[serde(rename = "may_identify")]
    identities: u8,
    #[serde(rename = "latest")]
    version: u64,
}

fn login_sql(db: &str) -> String {
    format!(
        "SELECT argMax(password_hash, version) AS hash, argMax(identities, version) AS may_identify, \
         max(version) AS latest FROM {}._dashboard_logins WHERE username = ? GROUP BY username",
        quote_ident(db)
    )
}

/// Checks a sign-in: the user's latest hash must match the password. A missing user, a
/// disabled sign-in and a wrong password all give `None` (the caller cannot tell which).
pub async fn check_login(
    ch: &ClickHouse,
    username: &str,
    password: &str,
) -> cairn_core::Result<Option<Login>> {
    let Some(row) = latest_login(ch, username).await? else {
        // Spend the same time as a real check, so timing does not tell who exists.
        verify_off_thread(password, &DUMMY_HASH).await;
        return Ok(None);
    };
    let ok = verify_off_thread(password, &row.hash).await;
    Ok(ok.then(|| Login {
        username: username.to_owned(),
        identities: row.identities == 1,
        version: row.version,
    }))
}

/// Whether a user signing in another way (the LMS) may see learner identities: the flag
/// of the user's latest login record (`cairn createuser --no-identities`), else yes.
pub async fn may_identify(ch: &ClickHouse, username: &str) -> cairn_core::Result<bool> {
    Ok(latest_login(ch, username)
        .await?
        .is_none_or(|r| r.identities == 1))
}

/// The user's latest login record, if any.
async fn latest_login(ch: &ClickHouse, username: &str) -> cairn_core::Result<Option<LoginRow>> {
    let rows: Vec<LoginRow> = ch
        .client()
        .query(&login_sql(ch.database()))
        .bind(username)
        .fetch_all()
        .await
        .map_err(|e| cairn_core::Error::clickhouse("reading _dashboard_logins", e))?;
    Ok(rows.into_iter().next())
}

/// Argon2 is deliberately slow: verify off the async threads.
async fn verify_off_thread(password: &str, hash: &str) -> bool {
    let (p, h) = (password.to_owned(), hash.to_owned());
    tokio::task::spawn_blocking(move || verify_password(&p, &h))
        .await
        .unwrap_or(false)
}

#[derive(Row, Deserialize)]
struct VersionRow {
    username: String,
    #[serde(rename = "latest")]
    version: u64,
}

fn versions_sql(db: &str) -> String {
    format!(
        "SELECT username, latest FROM (SELECT username, max(version) AS latest, \
         argMax(password_hash, version) AS hash FROM {}._dashboard_logins GROUP BY username) \
         WHERE hash != ''",
        quote_ident(db)
    )
}

/// The latest login record's version of every user whose sign-in is enabled (a live
/// dashboard session is valid only while its user's latest version is the one it signed
/// in with).
pub async fn login_versions(ch: &ClickHouse) -> cairn_core::Result<BTreeMap<String, u64>> {
    let rows: Vec<VersionRow> = ch
        .client()
        .query(&versions_sql(ch.database()))
        .fetch_all()
        .await
        .map_err(|e| cairn_core::Error::clickhouse("reading _dashboard_logins", e))?;
    Ok(rows.into_iter().map(|r| (r.username, r.version)).collect())
}

/// A hash of a password nobody knows, checked against when the user is unknown.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let mut random = [0u8; 32];
    rand::fill(&mut random);
    hash_password(&format!("{random:?}")).unwrap_or_default()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_password() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(!h.contains("correct horse"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct hors", &h));
        assert!(!verify_password("correct horse", ""));
        assert!(!verify_password("x", "not a hash"));
        assert_ne!(h, hash_password("correct horse").unwrap(), "salted");
        assert!(PasswordHash::new(&DUMMY_HASH).is_ok());
    }

    /// On the live server: the rows' columns are what current servers check, and a new
    /// record of a user (re-created, disabled) changes the version sessions compare with.
    #[tokio::test(flavor = "multi_thread")]
    async fn logins_and_their_versions() {
        let ch = cairn_migrate::testing::data_lake("acl_logins").await;
        let db = ch.database().to_owned();
        let hash = hash_password("pw one").unwrap();
        record_login(&ch, "ada", &hash, true).await.unwrap();
        record_login(&ch, "bob", &hash, false).await.unwrap();
        use cairn_core::testing::assert_row_columns;
        let q = ch.client().query(&login_sql(&db)).bind("ada");
        assert_row_columns::<LoginRow>("check_login", q).await;
        assert_row_columns::<VersionRow>("login_versions", ch.client().query(&versions_sql(&db)))
            .await;

        let ada = check_login(&ch, "ada", "pw one").await.unwrap().unwrap();
        assert!(ada.identities);
        assert_eq!(check_login(&ch, "ada", "pw two").await.unwrap(), None);
        assert_eq!(check_login(&ch, "nobody", "pw one").await.unwrap(), None);
        let v = login_versions(&ch).await.unwrap();
        assert_eq!(v.get("ada"), Some(&ada.version));
        assert!(v.contains_key("bob"));

        record_login(&ch, "ada", &hash_password("pw two").unwrap(), false)
            .await
            .unwrap();
        record_login(&ch, "bob", "", false).await.unwrap();
        let v = login_versions(&ch).await.unwrap();
        let again = check_login(&ch, "ada", "pw two").await.unwrap().unwrap();
        assert!(!again.identities);
        assert!(again.version > ada.version);
        assert_eq!(v.get("ada"), Some(&again.version));
        assert!(!v.contains_key("bob"), "a disabled sign-in has no version");
        assert_eq!(check_login(&ch, "bob", "pw one").await.unwrap(), None);
        ch.drop_database().await.unwrap();
    }
}
