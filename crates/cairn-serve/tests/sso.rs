//! Signing in with the LMS over HTTP, against the stand-in for the LMS's sign-in (Django +
//! django-oauth-toolkit 1.7, the LMS's library) and the real ClickHouse and MariaDB: the
//! authorization code flow with PKCE, rights from the LMS roles, every failure refused
//! with no session, role removal and sign-out.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use cairn_core::mysql::mysql_async::prelude::Queryable;
use common::{Fixture, LMS_PASSWORD, dashboard_sso};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

/// A browser as far as cookies go: the LMS's cookies in a jar (not `Secure`), the
/// dashboard's (`Secure`, which reqwest keeps off plain HTTP) by hand.
struct Browser {
    lms: reqwest::Client,
    dashboard: BTreeMap<String, String>,
}

fn plain() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn set_cookies(r: &reqwest::Response) -> Vec<(String, String)> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| {
            let v = v.to_str().ok()?;
            let kv = v.split(';').next()?;
            let (k, val) = kv.split_once('=')?;
            Some((k.to_owned(), val.to_owned()))
        })
        .collect()
}

impl Browser {
    fn new() -> Browser {
        Browser {
            lms: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(true)
                .build()
                .unwrap(),
            dashboard: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.dashboard
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// A GET on the dashboard, keeping its cookies.
    async fn get(&mut self, url: &str) -> reqwest::Response {
        let r = plain()
            .get(url)
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        for (k, v) in set_cookies(&r) {
            self.dashboard.insert(k, v);
        }
        r
    }

    fn session(&self) -> Option<&str> {
        self.dashboard
            .get("cairn_session")
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// Signs in at the LMS's own page.
    async fn lms_sign_in(&self, lms: &str, user: &str, password: &str) {
        let page = self
            .lms
            .get(format!("{lms}/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = field(&page, "csrfmiddlewaretoken");
        let r = self
            .lms
            .post(format!("{lms}/login"))
            .form(&[
                ("csrfmiddlewaretoken", csrf.as_str()),
                ("username", user),
                ("password", password),
                ("next", "/"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::FOUND,
            "sign-in at the LMS as {user}"
        );
    }

    /// "Sign in with the LMS" up to the LMS's answer: the callback URL it sends back to.
    async fn authorize(&mut self, base: &str) -> String {
        let r = self.get(&format!("{base}/login/lms")).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(self.dashboard.contains_key("cairn_sso_state"));
        let to_lms = r.headers()[LOCATION].to_str().unwrap().to_owned();
        let r = self.lms.get(&to_lms).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FOUND, "the LMS answers at once");
        r.headers()[LOCATION].to_str().unwrap().to_owned()
    }

    /// The whole flow; the callback's response.
    async fn sign_in(&mut self, f: &Fixture, user: &str) -> reqwest::Response {
        self.lms_sign_in(&standin(f).url, user, LMS_PASSWORD).await;
        let callback = self.authorize(&f.base).await;
        self.get(&callback).await
    }
}

fn standin(f: &Fixture) -> &common::Standin {
    f.standin.as_ref().unwrap()
}

/// The value of a hidden form field.
fn field(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("no field {name} in {html}"));
    let rest = &html[at..];
    let v = rest.find("value=\"").unwrap() + 7;
    let end = rest[v..].find('"').unwrap();
    rest[v..v + end].replace("&amp;", "&")
}

async fn courses(b: &mut Browser, base: &str) -> (StatusCode, Vec<String>) {
    let r = b.get(&format!("{base}/api/courses")).await;
    let status = r.status();
    if status != StatusCode::OK {
        return (status, Vec::new());
    }
    let v: serde_json::Value = r.json().await.unwrap();
    let list = v["courses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (status, list)
}

async fn active_tokens(f: &Fixture, user: &str) -> u64 {
    let v: serde_json::Value = plain()
        .get(format!("{}/standin/tokens/{user}", standin(f).url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["active_tokens"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_with_the_lms_gives_the_courses_of_the_lms_roles() {
    let f = dashboard_sso("serve_sso").await;
    let (c1, c2) = (f.courses[0].clone(), f.courses[1].clone());

    // The sign-in page offers both ways.
    let page = plain()
        .get(format!("{}/login", f.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"sign-in-lms\"") && page.contains("id=\"sign-in\""));

    for (user, expected) in [
        ("inst", vec![c2.clone()]),
        ("orgstaff", vec![c1.clone(), c2.clone()]),
        ("admin", vec![c1.clone(), c2.clone()]),
    ] {
        let mut b = Browser::new();
        let r = b.sign_in(&f, user).await;
        assert_eq!(r.status(), StatusCode::OK, "{user}");
        let html = r.text().await.unwrap();
        // On to the dashboard (the URL HTML-escaped: `/` is `&#x2f;`).
        assert!(
            html.contains("http-equiv=\"refresh\" content=\"0;url=&#x2f;\""),
            "{html}"
        );
        assert!(b.session().is_some(), "{user} has a session");
        assert_eq!(
            b.dashboard.get("cairn_sso_state").map(String::as_str),
            Some(""),
            "the flow's cookie is cleared"
        );
        let (status, mut got) = courses(&mut b, &f.base).await;
        got.sort();
        assert_eq!((status, got), (StatusCode::OK, expected), "{user}");
        // The LMS's token stays on the server: never in a cookie or the page.
        let cookies = b.cookie_header();
        assert!(
            !cookies.contains("access") && !html.contains("token"),
            "{cookies}"
        );
        assert_eq!(active_tokens(&f, user).await, 1, "{user}");
    }
    // A learner with no role: signed in, and told there is no course to see.
    let mut b = Browser::new();
    assert_eq!(b.sign_in(&f, "learner00001").await.status(), StatusCode::OK);
    let r = b.get(&format!("{}/", f.base)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("No course to show") && html.contains("learner00001"),
        "{html}"
    );
    assert_eq!(courses(&mut b, &f.base).await, (StatusCode::OK, vec![]));
    let r = b
        .get(&format!(
            "{}/api/overview?course_id={}",
            f.base,
            c1.replace('+', "%2B")
        ))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Removing the role in the LMS ends access within the rights refresh, in the open
    // session.
    let mut inst = Browser::new();
    inst.sign_in(&f, "inst").await;
    let overview = format!(
        "{}/api/overview?course_id={}",
        f.base,
        c2.replace('+', "%2B")
    );
    assert_eq!(inst.get(&overview).await.status(), StatusCode::OK);
    let mut conn = cairn_core::mysql::connect(&f.lms).await.unwrap();
    conn.query_drop("DELETE FROM student_courseaccessrole WHERE user_id = 9001")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(inst.get(&overview).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        inst.get(&format!("{}/", f.base)).await.status(),
        StatusCode::FORBIDDEN,
        "the no-course page"
    );

    // Sign-out ends the session, revokes the token at the LMS, and offers its logout.
    let mut b = Browser::new();
    b.sign_in(&f, "orgstaff").await;
    let tokens_before = active_tokens(&f, "orgstaff").await;
    let index = b.get(&format!("{}/", f.base)).await.text().await.unwrap();
    let csrf = field(&index, "csrf");
    let r = plain()
        .post(format!("{}/logout", f.base))
        .header(COOKIE, b.cookie_header())
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    // The LMS's logout offered (the URL HTML-escaped: `/` is `&#x2f;`).
    let lms_logout = format!("{}/logout", standin(&f).url).replace('/', "&#x2f;");
    assert!(html.contains(&lms_logout), "{html}");
    assert_eq!(
        active_tokens(&f, "orgstaff").await,
        tokens_before - 1,
        "revoked"
    );
    assert_eq!(courses(&mut b, &f.base).await.0, StatusCode::UNAUTHORIZED);
    f.drop_all().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_failed_sign_in_is_a_page_and_no_session() {
    let f = dashboard_sso("serve_sso_errors").await;
    let lms = standin(&f).url.clone();
    let no_session = |b: &Browser, what: &str| {
        assert!(b.session().is_none(), "{what}: no session");
    };

    // A tampered state, and a state from another browser (no cookie): refused.
    let mut b = Browser::new();
    b.lms_sign_in(&lms, "orgstaff", LMS_PASSWORD).await;
    let callback = b.authorize(&f.base).await;
    let r = b.get(&callback.replace("state=", "state=x")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("not started here"));
    no_session(&b, "tampered state");
    let mut other = Browser::new();
    let r = other.get(&callback).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    no_session(&other, "another browser's state");

    // A code used once already, with a new flow's state: the LMS refuses it.
    let mut b = Browser::new();
    b.lms_sign_in(&lms, "orgstaff", LMS_PASSWORD).await;
    let first = b.authorize(&f.base).await;
    assert_eq!(b.get(&first).await.status(), StatusCode::OK);
    let mut b2 = Browser::new();
    b2.lms_sign_in(&lms, "orgstaff", LMS_PASSWORD).await;
    let second = b2.authorize(&f.base).await;
    let code = first
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let state = second
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let replay = format!("{}/login/lms/callback?code={code}&state={state}", f.base);
    let r = b2.get(&replay).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("used already"));
    no_session(&b2, "reused code");
    // The same callback twice: its state is used.
    let r = b2.get(&second).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    no_session(&b2, "replayed callback");

    // A wrong client secret: the LMS refuses Cairn, the operator is told.
    let mut b = Browser::new();
    b.lms_sign_in(&lms, "orgstaff", LMS_PASSWORD).await;
    let callback = b.authorize(&f.others["wrong_secret"]).await;
    let r = b.get(&callback).await;
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("registration at the LMS is not right")
    );
    no_session(&b, "wrong secret");

    // The LMS down (its token endpoint unreachable), and the LMS answering 500 there: a
    // page saying so. (A flow started at that dashboard, its callback called with a code.)
    for (dashboard, what) in [("lms_down", "LMS down"), ("lms_5xx", "LMS 5xx")] {
        let base = &f.others[dashboard];
        let mut b = Browser::new();
        let r = b.get(&format!("{base}/login/lms")).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let state = b.dashboard["cairn_sso_state"].clone();
        let r = b
            .get(&format!(
                "{base}/login/lms/callback?code=anything&state={state}"
            ))
            .await;
        assert_eq!(r.status(), StatusCode::BAD_GATEWAY, "{what}");
        assert!(
            r.text().await.unwrap().contains("cannot be reached"),
            "{what}"
        );
        no_session(&b, what);
    }

    // /api/user/v1/me failing after a good exchange: no session, and the token given back.
    let mut b = Browser::new();
    let r = b.sign_in(&f, "broken-me").await;
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    assert!(r.text().await.unwrap().contains("cannot be reached"));
    no_session(&b, "me failing");
    assert_eq!(
        active_tokens(&f, "broken-me").await,
        0,
        "the token is revoked"
    );

    // The user denies access at the LMS's consent page: error=access_denied.
    let mut b = Browser::new();
    b.lms_sign_in(&lms, "orgstaff", LMS_PASSWORD).await;
    let r = b.get(&format!("{}/login/lms", f.others["consent"])).await;
    let to_lms = r.headers()[LOCATION].to_str().unwrap().to_owned();
    let consent = b.lms.get(&to_lms).send().await.unwrap();
    assert_eq!(consent.status(), StatusCode::OK, "the LMS asks");
    let html = consent.text().await.unwrap();
    let mut form: Vec<(String, String)> = Vec::new();
    for name in [
        "csrfmiddlewaretoken",
        "redirect_uri",
        "scope",
        "client_id",
        "state",
        "response_type",
        "code_challenge",
        "code_challenge_method",
    ] {
        form.push((name.to_owned(), field(&html, name)));
    }
    // Submitted without `allow`: denied.
    let r = b
        .lms
        .post(&to_lms)
        .header("Referer", &to_lms)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let back = r.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(back.contains("error=access_denied"), "{back}");
    let r = b.get(&back).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("did not let you sign in"));
    no_session(&b, "access denied");
    f.drop_all().await;
}
