//! A running dashboard over a generated data lake (2 courses, seeded LMS, course structure
//! imported) with four users:
//! - `teach`: manual grant for course C01, may see identities;
//! - `quiet`: manual grant for C01, identities hidden;
//! - `boss`: manual grant for everything;
//! - `inst`: no manual grant; an `instructor` role on C02 in the LMS.
//!
//! With [`dashboard_sso`], also the stand-in for the LMS's sign-in (scripts/lms-standin),
//! LMS users `orgstaff` (staff of the org CairnX: both courses), `admin` (global staff)
//! and the generated learners (no role), every one with the password [`LMS_PASSWORD`];
//! `broken-me` (whom the LMS fails to describe); and four more dashboards on the same
//! data: one with a wrong client secret, one whose LMS is down, one whose LMS answers 500,
//! one whose application asks the user (who may deny).
#![allow(dead_code)]

use cairn_acl::rights::Scope;
use cairn_core::config::MysqlConfig;
use cairn_core::mysql::mysql_async::prelude::Queryable;
use cairn_core::{ClickHouse, testing};
use cairn_fixtures::{Spec, courses, generate};
use cairn_import::ingest::{IngestOptions, Input, LogPublishes, ingest};

pub const PASSWORD: &str = "correct horse battery";
/// Every LMS user's password at the stand-in.
pub const LMS_PASSWORD: &str = "lms pass phrase";

/// The stand-in for the LMS's sign-in, stopped when dropped.
pub struct Standin {
    pub url: String,
    pub secret: String,
    dir: std::path::PathBuf,
}

impl Standin {
    fn script(dir: &std::path::Path, port: u16, action: &str, env: &[(&str, String)]) {
        let mut cmd =
            std::process::Command::new(testing::workspace_dir().join("scripts/lms-standin"));
        cmd.arg(action)
            .env("STANDIN_DIR", dir)
            .env("STANDIN_PORT", port.to_string());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let o = cmd.output().unwrap();
        assert!(
            o.status.success(),
            "lms-standin {action}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    fn start(name: &str, lms: &MysqlConfig, redirect_uris: &[String]) -> Standin {
        let port = free_port();
        let dir = testing::workspace_dir().join(format!(".cairn/test-standin-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        let secret = format!("secret-{}", std::process::id());
        let reader = testing::config().mysql;
        Self::script(
            &dir,
            port,
            "start",
            &[
                ("STANDIN_CLIENT_ID", "cairn".into()),
                ("STANDIN_CLIENT_SECRET", secret.clone()),
                ("STANDIN_REDIRECT_URI", redirect_uris.join(" ")),
                ("STANDIN_PASSWORD", LMS_PASSWORD.into()),
                ("STANDIN_MYSQL_HOST", reader.host.clone()),
                ("STANDIN_MYSQL_PORT", reader.port.to_string()),
                ("STANDIN_MYSQL_USER", reader.username.clone()),
                (
                    "STANDIN_MYSQL_PASSWORD",
                    reader.password.expose().to_owned(),
                ),
                ("STANDIN_MYSQL_DB", lms.database.clone()),
            ],
        );
        Standin {
            url: format!("http://127.0.0.1:{port}"),
            secret,
            dir,
        }
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        Self::script(&self.dir, 0, "stop", &[]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub use testing::free_port;

/// An HTTP client that does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of a `Set-Cookie` header with that name, and the whole header.
pub fn cookie_of(r: &reqwest::Response, name: &str) -> Option<(String, String)> {
    r.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .find_map(|v| {
            let v = v.to_str().ok()?;
            let (kv, _) = v.split_once(';').unwrap_or((v, ""));
            kv.starts_with(&format!("{name}="))
                .then(|| (kv.to_owned(), v.to_owned()))
        })
}

/// The CSRF token of a page's form.
pub fn hidden_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..at + 64].to_owned()
}

/// POSTs `body` as JSON to `path` with the session cookie; the status and the JSON answer.
pub async fn post_json(
    base: &str,
    session: &str,
    path: &str,
    body: serde_json::Value,
) -> (reqwest::StatusCode, serde_json::Value) {
    let r = client()
        .post(format!("{base}{path}"))
        .header(reqwest::header::COOKIE, session)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

/// Signs in with a password; returns the session cookie (`cairn_session=…`).
pub async fn sign_in(
    base: &str,
    user: &str,
    password: &str,
) -> Result<String, reqwest::StatusCode> {
    let c = client();
    let page = c.get(format!("{base}/login")).send().await.unwrap();
    let (csrf_cookie, _) = cookie_of(&page, "cairn_login_csrf").unwrap();
    let csrf = hidden_csrf(&page.text().await.unwrap());
    let r = c
        .post(format!("{base}/login"))
        .header(reqwest::header::COOKIE, csrf_cookie)
        .form(&[("username", user), ("password", password), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    if r.status() != reqwest::StatusCode::SEE_OTHER {
        return Err(r.status());
    }
    Ok(cookie_of(&r, "cairn_session").expect("a session cookie").0)
}

pub struct Fixture {
    pub base: String,
    pub ch: ClickHouse,
    pub lms: MysqlConfig,
    pub courses: Vec<String>,
    pub spec: Spec,
    dir: std::path::PathBuf,
    /// With [`dashboard_sso`]: the stand-in LMS.
    pub standin: Option<Standin>,
    /// With [`dashboard_sso`]: dashboards `wrong_secret`, `lms_down`, `lms_5xx`, `consent`.
    pub others: std::collections::BTreeMap<&'static str, String>,
}

impl Fixture {
    pub async fn drop_all(self) {
        let mut conn = cairn_core::mysql::connect(&self.lms).await.unwrap();
        conn.query_drop(format!("DROP DATABASE `{}`", self.lms.database))
            .await
            .unwrap();
        self.ch.drop_database().await.unwrap();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

pub async fn dashboard(name: &str) -> Fixture {
    dashboard_with(name, Setup::default()).await
}

pub async fn dashboard_sso(name: &str) -> Fixture {
    dashboard_with(
        name,
        Setup {
            sso: true,
            ..Setup::default()
        },
    )
    .await
}

/// How [`dashboard_with`] sets the dashboard up.
#[derive(Default)]
pub struct Setup {
    /// With the stand-in LMS and the four other dashboards.
    pub sso: bool,
    /// The configuration of a test's own ClickHouse server (else the suite's).
    pub own: Option<cairn_core::Config>,
    /// The SQL explorer's options.
    pub explorer: cairn_serve::explorer::ExplorerOptions,
}

pub async fn dashboard_with(name: &str, setup: Setup) -> Fixture {
    let sso = setup.sso;
    let dir = std::env::temp_dir().join(format!("cairn-serve-{name}-{}", std::process::id()));
    let spec = Spec {
        seed: 5,
        learners: 40,
        courses: 2,
        days: 14,
        start: chrono::Utc::now().date_naive() - chrono::Duration::days(20),
        bad_every: 0,

        ..Spec::default()
    };
    generate(&spec, &dir).unwrap();
    let generated = courses(&spec);
    let lms = testing::mysql_openedx(&format!("{name}_lms")).await;
    let mut conn = cairn_core::mysql::connect(&lms).await.unwrap();
    conn.query_drop(std::fs::read_to_string(dir.join("lms-seed.sql")).unwrap())
        .await
        .unwrap();
    conn.query_drop(format!(
        "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined) \
         VALUES (9001, '!', 0, 'inst', 'I', 'N', 'inst@example.org', 0, 1, '2025-01-01 00:00:00'); \
         INSERT INTO student_courseaccessrole (org, course_id, role, user_id) VALUES ('CairnX', '{}', 'instructor', 9001)",
        generated[1].id
    ))
    .await
    .unwrap();
    if sso {
        conn.query_drop(
            "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined) VALUES \
             (9002, '!', 0, 'orgstaff', 'O', 'S', 'orgstaff@example.org', 0, 1, '2025-01-01 00:00:00'), \
             (9003, '!', 0, 'admin', 'A', 'D', 'admin@example.org', 1, 1, '2025-01-01 00:00:00'), \
             (9004, '!', 0, 'broken-me', 'B', 'M', 'broken@example.org', 1, 1, '2025-01-01 00:00:00'); \
             INSERT INTO student_courseaccessrole (org, course_id, role, user_id) VALUES ('CairnX', '', 'staff', 9002)",
        )
        .await
        .unwrap();
    }
    let own = setup.own.is_some();
    let mut config = setup.own.unwrap_or_else(testing::config);
    config.mysql.database = lms.database.clone();
    let ch = if own {
        cairn_migrate::testing::data_lake_on(name, config.clone()).await
    } else {
        cairn_migrate::testing::data_lake_with(name, config.clone()).await
    };
    ingest(
        &ch,
        vec![Input::Path(dir.join("tracking.log"))],
        &IngestOptions::default(),
        Box::new(LogPublishes),
    )
    .await
    .unwrap();
    cairn_fixtures::import_courses(&ch, &dir, &generated)
        .await
        .unwrap();
    let only = |c: &str| Scope::Some {
        orgs: Default::default(),
        courses: [c.to_owned()].into(),
    };
    for (user, scope, identities) in [
        ("teach", Some(only(&generated[0].id)), true),
        ("quiet", Some(only(&generated[0].id)), false),
        ("boss", Some(Scope::All), true),
        ("inst", None, true),
    ] {
        if let Some(s) = &scope {
            cairn_acl::sync::record_grant(&ch, user, &format!("{user}@example.org"), s)
                .await
                .unwrap();
        }
        let hash = cairn_acl::logins::hash_password(PASSWORD).unwrap();
        cairn_acl::logins::record_login(&ch, user, &hash, identities)
            .await
            .unwrap();
    }
    // The dashboards' addresses first: the stand-in registers their redirect URIs.
    let names: &[&'static str] = if sso {
        &["main", "wrong_secret", "lms_down", "lms_5xx", "consent"]
    } else {
        &["main"]
    };
    let mut listeners = Vec::new();
    for n in names {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listeners.push((*n, format!("http://{}", l.local_addr().unwrap()), l));
    }
    let standin = sso.then(|| {
        let uris: Vec<String> = listeners
            .iter()
            .map(|(_, base, _)| cairn_serve::Sso::redirect_uri(base))
            .collect();
        Standin::start(name, &lms, &uris)
    });
    let mut bases = std::collections::BTreeMap::new();
    for (n, base, listener) in listeners {
        let sso = standin.as_ref().map(|st| {
            let (lms_url, client, secret) = match n {
                "wrong_secret" => (st.url.clone(), "cairn", "not-the-secret".to_owned()),
                "lms_down" => (
                    format!("http://127.0.0.1:{}", free_port()),
                    "cairn",
                    st.secret.clone(),
                ),
                "lms_5xx" => (
                    format!("{}/standin/fail500", st.url),
                    "cairn",
                    st.secret.clone(),
                ),
                "consent" => (st.url.clone(), "cairn-consent", st.secret.clone()),
                _ => (st.url.clone(), "cairn", st.secret.clone()),
            };
            std::sync::Arc::new(cairn_serve::Sso::new(&lms_url, &base, client, &secret).unwrap())
        });
        let app = cairn_serve::App::new(
            ch.clone(),
            cairn_serve::RightsSource::Lms(config.mysql.clone()),
            cairn_serve::Options {
                refresh_seconds: 5,
                rights_ttl: std::time::Duration::from_secs(1),
                sso,
                explorer: setup.explorer.clone(),
                ..Default::default()
            },
        );
        tokio::spawn(async move { axum::serve(listener, app.router()).await });
        bases.insert(n, base);
    }
    let base = bases.remove("main").unwrap();
    Fixture {
        base,
        ch,
        lms,
        courses: generated.iter().map(|c| c.id.clone()).collect(),
        spec,
        dir,
        standin,
        others: bases,
    }
}

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A chromedriver process and its browser's profile, killed and removed when dropped.
pub struct Driver(std::process::Child, std::path::PathBuf);

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver leads a process group of its own, which its browser joins: the whole
        // group goes, so a test that fails before closing its session leaves no browser
        // running (killing chromedriver alone left Chromium behind).
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

/// Headless Chromium (Debian's `chromium` and `chromium-driver`, installed by
/// scripts/test) with a profile of its own: each call is another browser.
pub async fn chromium() -> (Driver, fantoccini::Client) {
    use std::os::unix::process::CommandExt;
    for bin in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            std::path::Path::new(bin).exists(),
            "{bin} is missing: install Debian's chromium and chromium-driver (scripts/test does)"
        );
    }
    let port = free_port();
    let profile =
        std::env::temp_dir().join(format!("cairn-chromium-{}-{port}", std::process::id()));
    let driver = Driver(
        std::process::Command::new(CHROMEDRIVER)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
        profile.clone(),
    );
    let caps: serde_json::Map<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1400,2600", format!("--user-data-dir={}", profile.display()),
            ]
        }
    }))
    .unwrap();
    for _ in 0..50 {
        // chromedriver speaks plain HTTP on 127.0.0.1: no TLS (and no TLS library to build).
        let http = hyper_util::client::legacy::connect::HttpConnector::new();
        match fantoccini::ClientBuilder::new(http)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => return (driver, c),
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    }
    panic!("chromedriver does not answer");
}

/// Sets the page's `#from` and `#to` inputs to `from` and `to` as a viewer does (the
/// change event), and waits for the page to have loaded that range.
pub async fn choose_range(c: &fantoccini::Client, from: chrono::NaiveDate, to: chrono::NaiveDate) {
    c.execute(
        "document.body.dataset.ready = '0';
         const [f, t] = [document.getElementById('from'), document.getElementById('to')];
         f.value = arguments[0]; t.value = arguments[1];
         t.dispatchEvent(new Event('change'));",
        vec![
            serde_json::json!(from.to_string()),
            serde_json::json!(to.to_string()),
        ],
    )
    .await
    .unwrap();
    ready(c).await;
}

/// This week's Monday (UTC).
pub fn this_monday() -> chrono::NaiveDate {
    use chrono::Datelike;
    let d = chrono::Utc::now().date_naive();
    d - chrono::Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

/// Asserts that the page's `#from` and `#to` inputs show the default range of the
/// dashboard's pages: the last 8 ISO weeks, this one included (the last day inclusive).
pub async fn assert_default_range(c: &fantoccini::Client) {
    let monday = this_monday();
    let shown = c
        .execute(
            "return [document.getElementById('from').value, document.getElementById('to').value]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        shown,
        serde_json::json!([
            (monday - chrono::Duration::weeks(7)).to_string(),
            (monday + chrono::Duration::days(6)).to_string()
        ]),
        "the default range"
    );
}

/// Waits until the page has finished loading the overview.
pub async fn ready(c: &fantoccini::Client) {
    c.wait()
        .at_most(std::time::Duration::from_secs(30))
        .for_element(fantoccini::Locator::Css("body[data-ready='1']"))
        .await
        .expect("the overview finishes loading");
}

/// Types a username and password into the page's `#username` and `#password` fields and
/// clicks `#sign-in` (the dashboard's form and the LMS stand-in's alike).
pub async fn fill_sign_in(c: &fantoccini::Client, user: &str, password: &str) {
    use fantoccini::Locator;
    for (field, text) in [("#username", user), ("#password", password)] {
        c.find(Locator::Css(field))
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
    }
    c.find(Locator::Css("#sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The SQL explorer with per-user identities: a ClickHouse 26.9 server of the test's own,
/// the dashboard's data lake on it, the users file `cairn acl sync --users-xml` writes
/// with an explorer key (queries limited to `max_execution_time` seconds and 50,000 result
/// rows) in its users.d/,
/// and the server restarted with it. The server lives as long as the returned value.
pub async fn explorer_dashboard(
    name: &str,
    max_execution_time: u64,
) -> (testing::OwnServer, Fixture) {
    let own = testing::OwnServer::start(
        testing::workspace_dir().join(format!(".cairn/test-clickhouse-26.9-{name}")),
    );
    let mut config = own.config(testing::config());
    config.explorer.key = cairn_core::Secret::new(format!("{name}-key"));
    config.explorer.max_execution_time = max_execution_time;
    config.explorer.max_result_rows = 50_000;
    let f = dashboard_with(
        name,
        Setup {
            own: Some(config.clone()),
            explorer: cairn_serve::explorer::ExplorerOptions {
                key: config.explorer.key.clone(),
                limits: (&config.explorer).into(),
                ..Default::default()
            },
            ..Setup::default()
        },
    )
    .await;
    let users_file = own.users_d().join("cairn.xml");
    let (_, xml) = cairn_acl::sync::users_xml(&f.ch, &f.lms, &config.explorer, &users_file)
        .await
        .unwrap();
    cairn_acl::users_xml::write(&users_file, &xml).unwrap();
    own.restart();
    (own, f)
}

/// Types into the SQL explorer's editor (replacing its text) and runs it with Ctrl-Enter.
pub async fn run_in_explorer(c: &fantoccini::Client, sql: &str) {
    use fantoccini::Locator;
    use fantoccini::key::Key;
    let editor = c.find(Locator::Css(".cm-content")).await.unwrap();
    editor.click().await.unwrap();
    editor
        .send_keys(&format!("{}a{}", Key::Control, Key::Null))
        .await
        .unwrap();
    editor.send_keys(&format!("{}", Key::Delete)).await.unwrap();
    editor.send_keys(sql).await.unwrap();
    // Completion pop-ups close with Escape; Ctrl-Enter runs.
    editor.send_keys(&format!("{}", Key::Escape)).await.unwrap();
    editor
        .send_keys(&format!("{}{}{}", Key::Control, Key::Enter, Key::Null))
        .await
        .unwrap();
}
