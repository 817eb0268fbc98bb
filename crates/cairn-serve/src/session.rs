//! In-memory sessions behind random tokens, and the cookies that carry them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "cairn_session";
/// The sign-in form's CSRF cookie.
pub(crate) const LOGIN_CSRF_COOKIE: &str = "cairn_login_csrf";
pub(crate) const CLEAR_LOGIN_CSRF: &str =
    "cairn_login_csrf=; Path=/login; Max-Age=0; HttpOnly; Secure; SameSite=Strict";
pub(crate) const CLEAR_SESSION: &str =
    "cairn_session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict";

/// A signed-in user's session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The token in the cookie.
    pub token: String,
    /// Username.
    pub username: String,
    /// May see learner identities.
    pub identities: bool,
    /// The CSRF token of the session's forms.
    pub csrf: String,
    /// The version of the user's login record signed in with (password sign-ins): the
    /// session ends when the user's latest record is another one (re-created, changed or
    /// disabled). `None` for sign-ins with the LMS.
    pub login_version: Option<u64>,
    /// The LMS's access token of a sign-in with the LMS (server-side only; revoked at
    /// sign-out).
    pub lms_token: Option<String>,
    last_seen: Instant,
}

/// A random 256-bit token, hex.
pub(crate) fn token() -> String {
    let mut b = [0u8; 32];
    rand::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Compares two secrets in time independent of where they differ.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub(crate) fn session_cookie(token: &str) -> String {
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=Strict")
}

/// The cookie binding a sign-in with the LMS to this browser: `Lax`, since the LMS sends
/// the browser back to the callback from another site.
pub(crate) const SSO_STATE_COOKIE: &str = "cairn_sso_state";
pub(crate) const CLEAR_SSO_STATE: &str =
    "cairn_sso_state=; Path=/login/lms; Max-Age=0; HttpOnly; Secure; SameSite=Lax";

pub(crate) fn sso_state_cookie(state: &str) -> String {
    format!(
        "{SSO_STATE_COOKIE}={state}; Path=/login/lms; Max-Age=600; HttpOnly; Secure; SameSite=Lax"
    )
}

pub(crate) fn login_csrf_cookie(token: &str) -> String {
    format!("{LOGIN_CSRF_COOKIE}={token}; Path=/login; HttpOnly; Secure; SameSite=Strict")
}

/// A cookie's value from the request headers.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

pub(crate) struct Store {
    idle: Duration,
    sessions: Mutex<HashMap<String, Session>>,
}

impl Store {
    pub(crate) fn new(idle: Duration) -> Store {
        Store {
            idle,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn create(
        &self,
        username: &str,
        identities: bool,
        login_version: Option<u64>,
        lms_token: Option<String>,
    ) -> Session {
        let s = Session {
            token: token(),
            username: username.to_owned(),
            identities,
            csrf: token(),
            login_version,
            lms_token,
            last_seen: Instant::now(),
        };
        if let Ok(mut m) = self.sessions.lock() {
            m.retain(|_, v| v.last_seen.elapsed() < self.idle);
            m.insert(s.token.clone(), s.clone());
        }
        s
    }

    /// The live session of a request's cookie (refreshing its idle timer).
    pub(crate) fn lookup(&self, headers: &HeaderMap) -> Option<Session> {
        let t = cookie(headers, SESSION_COOKIE)?;
        let mut m = self.sessions.lock().ok()?;
        let s = m.get_mut(&t)?;
        if s.last_seen.elapsed() >= self.idle {
            m.remove(&t);
            return None;
        }
        s.last_seen = Instant::now();
        Some(s.clone())
    }

    pub(crate) fn remove(&self, token: &str) {
        if let Ok(mut m) = self.sessions.lock() {
            m.remove(token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_compared_whole() {
        let (a, b) = (token(), token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, &b));
        assert!(!same(&a, &a[..63]));
    }

    #[test]
    fn sessions_expire_when_idle() {
        let store = Store::new(Duration::from_millis(50));
        let s = store.create("ada", true, Some(1), None);
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::COOKIE,
            format!("other=1; {SESSION_COOKIE}={}", s.token)
                .parse()
                .unwrap(),
        );
        assert_eq!(store.lookup(&h).unwrap().username, "ada");
        std::thread::sleep(Duration::from_millis(80));
        assert!(store.lookup(&h).is_none());
    }
}
