//! Dashboard sign-ins: an Argon2id hash per user in `_dashboard_logins`, written by
//! `cairn createuser`, checked by `cairn serve`.

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
    identities: u8,
}

/// Checks a sign-in: the user's latest hash must match the password. A missing user, a
/// disabled sign-in and a wrong password all give `None` (the caller cannot tell which).
pub async fn check_login(
    ch: &ClickHouse,
    username: &str,
    password: &str,
) -> cairn_core::Result<Option<Login>> {
    let sql = format!(
        "SELECT argMax(password_hash, version) AS hash, argMax(identities, version) AS may_identify \
         FROM {}._dashboard_logins WHERE username = ? GROUP BY username",
        quote_ident(ch.database())
    );
    let rows: Vec<LoginRow> = ch
        .client()
        .query(&sql)
        .bind(username)
        .fetch_all()
        .await
        .map_err(|e| cairn_core::Error::clickhouse("reading _dashboard_logins", e))?;
    let Some(row) = rows.into_iter().next() else {
        // Spend the same time as a real check, so timing does not tell who exists.
        let _ = verify_password(password, &DUMMY_HASH);
        return Ok(None);
    };
    // Argon2 is deliberately slow: verify off the async threads.
    let (p, h) = (password.to_owned(), row.hash.clone());
    let ok = tokio::task::spawn_blocking(move || verify_password(&p, &h))
        .await
        .unwrap_or(false);
    Ok(ok.then(|| Login {
        username: username.to_owned(),
        identities: row.identities == 1,
    }))
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
}
