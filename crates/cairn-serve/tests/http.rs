//! The dashboard over HTTP, against the real ClickHouse and MariaDB: sign-in, sessions,
//! CSRF, and per-course restriction on every endpoint (API, CSV exports, direct URLs).

mod common;

use common::{PASSWORD, client, cookie_of, dashboard, hidden_csrf, sign_in};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};

async fn get(base: &str, path: &str, session: Option<&str>) -> reqwest::Response {
    let mut rq = client().get(format!("{base}{path}"));
    if let Some(s) = session {
        rq = rq.header(COOKIE, s);
    }
    rq.send().await.unwrap()
}

fn urlencode(key: &str) -> String {
    key.replace('+', "%2B")
        .replace(':', "%3A")
        .replace('@', "%40")
}

fn q(course: &str) -> String {
    format!("course_id={}", urlencode(course))
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_sessions_and_per_course_restriction() {
    let f = dashboard("serve_http").await;
    let (a, b) = (f.courses[0].as_str(), f.courses[1].as_str());
    let base = f.base.as_str();

    // Signed out: pages redirect, the API answers 401, assets are public.
    let r = get(base, "/", None).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/login");
    assert_eq!(
        get(base, &format!("/api/overview?{}", q(a)), None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(base, &format!("/export/weekly.csv?{}", q(a)), None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let chart = get(base, "/assets/chart.umd.min.js", None).await;
    assert_eq!(chart.status(), StatusCode::OK);
    assert!(chart.text().await.unwrap().contains("Chart.js v4.6.1"));

    // The sign-in page: CSRF cookie flags and security headers.
    let page = get(base, "/login", None).await;
    let (_, full) = cookie_of(&page, "cairn_login_csrf").unwrap();
    for flag in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(full.contains(flag), "{full}");
    }
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.headers()["x-frame-options"], "DENY");

    // Wrong password, unknown user: 401 and no session; a form without the CSRF cookie: 403.
    assert_eq!(
        sign_in(base, "teach", "wrong").await,
        Err(StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        sign_in(base, "nobody", PASSWORD).await,
        Err(StatusCode::UNAUTHORIZED)
    );
    let page = get(base, "/login", None).await;
    let csrf = hidden_csrf(&page.text().await.unwrap());
    let r = client()
        .post(format!("{base}/login"))
        .form(&[
            ("username", "teach"),
            ("password", PASSWORD),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(cookie_of(&r, "cairn_session").is_none());

    // teach: course A only, through every door.
    let teach = sign_in(base, "teach", PASSWORD).await.unwrap();
    let page = get(base, "/", Some(&teach)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("/assets/chart.umd.min.js") && html.contains("teach"));
    let me: serde_json::Value = get(base, "/api/courses", Some(&teach))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["courses"], serde_json::json!([a]));
    // Each with its name, from the imported structure; none of another course.
    assert_eq!(me["names"], serde_json::json!({ a: "Cairn Course 01" }));
    let o = get(base, &format!("/api/overview?{}", q(a)), Some(&teach)).await;
    assert_eq!(o.status(), StatusCode::OK);
    let o: serde_json::Value = o.json().await.unwrap();
    assert!(!o["weekly"].as_array().unwrap().is_empty());
    assert_eq!(o["progress"].as_array().unwrap().len(), 8);
    let video = o["videos"][0]["video_id"].as_str().unwrap().to_owned();
    // "From" and "To" are the first and last day, both included: one day is from=D&to=D.
    let day = o["from"].as_str().unwrap().to_owned();
    let r = get(
        base,
        &format!("/api/overview?{}&from={day}&to={day}", q(a)),
        Some(&teach),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let one: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (&one["from"], &one["to"]),
        (&o["from"], &o["from"]),
        "{one}"
    );
    let before = (chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").unwrap()
        - chrono::Duration::days(1))
    .to_string();
    let r = get(
        base,
        &format!("/api/overview?{}&from={day}&to={before}", q(a)),
        Some(&teach),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "to before from");
    // The hours of the week: in a zone given by its IANA name; another is refused, saying
    // what to give.
    let r = get(
        base,
        &format!("/api/hours?{}&tz=Nowhere%2FBogus", q(a)),
        Some(&teach),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("IANA name"));
    let path = format!("/export/hours.csv?{}&tz=Asia%2FKolkata", q(a));
    let r = get(base, &path, Some(&teach)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let csv = r.text().await.unwrap();
    assert!(
        csv.starts_with("weekday,hour,learners\n") && csv.lines().count() > 1,
        "{csv}"
    );
    // How far the learners got: counts only, so also for a user without identities.
    let r = get(base, &format!("/export/funnel.csv?{}", q(a)), Some(&teach)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let csv = r.text().await.unwrap();
    let head = "enrolled,started,active,progressed,halfway,completed,passed\n";
    assert!(csv.starts_with(head) && csv.lines().count() == 2, "{csv}");
    // Retention by enrollment cohort: counts only too; a row per cohort and week since.
    let r = get(base, &format!("/api/retention?{}", q(a)), Some(&teach)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let cells: Vec<cairn_report::RetentionCell> = r.json().await.unwrap();
    assert!(
        cells.iter().any(|c| c.week == 0 && c.enrolled > 0),
        "{cells:?}"
    );
    let r = get(
        base,
        &format!("/export/retention.csv?{}", q(a)),
        Some(&teach),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let csv = r.text().await.unwrap();
    assert!(csv.starts_with("cohort,enrolled,week,active\n"), "{csv}");
    assert_eq!(csv.lines().count(), cells.len() + 1, "{csv}");
    for path in [
        format!("/api/overview?{}", q(b)),
        format!("/api/video-curve?{}&video_id={video}", q(b)),
        format!("/api/at-risk?{}", q(b)),
        format!("/export/weekly.csv?{}", q(b)),
        format!("/export/progress.csv?{}", q(b)),
        format!("/export/grades.csv?{}", q(b)),
        format!("/export/demographics.csv?{}", q(b)),
        format!("/export/videos.csv?{}", q(b)),
        format!("/export/video-curve.csv?{}&video_id={video}", q(b)),
        format!("/export/at-risk.csv?{}", q(b)),
        format!("/api/learners?{}", q(b)),
        format!("/export/learners.csv?{}", q(b)),
        format!("/api/problems?{}", q(b)),
        format!("/api/navigation?{}", q(b)),
        format!("/api/forums?{}", q(b)),
        format!("/export/forums.csv?{}", q(b)),
        format!("/api/hours?{}", q(b)),
        format!("/api/funnel?{}", q(b)),
        format!("/export/funnel.csv?{}", q(b)),
        format!("/api/retention?{}", q(b)),
        format!("/export/retention.csv?{}", q(b)),
        format!("/export/hours.csv?{}&tz=UTC", q(b)),
        format!("/export/forum-threads.csv?{}", q(b)),
        format!("/export/navigation.csv?{}", q(b)),
        format!("/api/answers?{}", q(b)),
        format!("/export/problems.csv?{}", q(b)),
        format!("/export/answers.csv?{}", q(b)),
    ] {
        let r = get(base, &path, Some(&teach)).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        let body = r.text().await.unwrap();
        assert!(!body.contains("learner0"), "{path}: {body}");
    }
    // A course of another org, a malformed key: refused too.
    let r = get(
        base,
        &format!("/api/overview?{}", q("course-v1:Other+X+Y")),
        Some(&teach),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = get(base, "/api/overview?course_id=nonsense", Some(&teach)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Course A's exports are CSV downloads with the metric's columns.
    let r = get(base, &format!("/export/weekly.csv?{}", q(a)), Some(&teach)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"CairnX-C01-2026_T1-weekly.csv\"")
    );
    let csv = r.text().await.unwrap();
    assert!(csv.starts_with(
        "week,enrolled,active,watched_video,tried_problem,time_spent,avg_time_spent\n"
    ));
    assert!(csv.lines().count() >= 2, "{csv}");
    let r = get(
        base,
        &format!("/export/video-curve.csv?{}&video_id={video}", q(a)),
        Some(&teach),
    )
    .await;
    assert!(
        r.text()
            .await
            .unwrap()
            .starts_with("second,viewers,views\n0,")
    );
    // The comparison: teach's course only; boss's both, sorted as asked; CSV the same.
    let names = |v: serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| c["course_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let r = get(base, "/api/compare", Some(&teach)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(names(r.json().await.unwrap()), vec![a.to_owned()]);
    let boss_compare = sign_in(base, "boss", PASSWORD).await.unwrap();
    let r = get(base, "/api/compare?sort=enrolled", Some(&boss_compare)).await;
    let rows: serde_json::Value = r.json().await.unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert!(rows[0]["enrolled"].as_u64() >= rows[1]["enrolled"].as_u64());
    let r = get(base, "/api/compare?org=cairnx", Some(&teach)).await;
    assert_eq!(names(r.json().await.unwrap()), vec![a.to_owned()]);
    let r = get(base, "/api/compare?org=Other", Some(&boss_compare)).await;
    assert_eq!(names(r.json().await.unwrap()), Vec::<String>::new());
    let r = get(base, "/api/compare?sort=nonsense", Some(&teach)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = get(base, "/export/compare.csv", Some(&teach)).await;
    let csv_text = r.text().await.unwrap();
    assert!(
        csv_text.starts_with("course_id,name,enrolled,"),
        "{csv_text}"
    );
    assert_eq!(csv_text.lines().count(), 2, "{csv_text}");
    assert_eq!(
        get(base, "/api/compare", None).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // The platform: global staff only.
    let r = get(base, "/api/platform", Some(&boss_compare)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["courses"].as_array().unwrap().len(), 2, "{p}");
    assert!(
        p["freshness"]["newest_event"].as_str().unwrap().len() == 19,
        "{p}"
    );
    assert!(!p["ingest"].as_array().unwrap().is_empty(), "{p}");
    let r = get(base, "/api/platform", Some(&teach)).await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "course staff and the platform"
    );
    assert_eq!(
        get(base, "/api/platform", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(get(base, "/platform", None).await.status().is_redirection());
    let home = |s: String| {
        let base = base.to_owned();
        async move { get(&base, "/", Some(&s)).await.text().await.unwrap() }
    };
    assert!(
        home(boss_compare.clone())
            .await
            .contains("href=\"/platform\"")
    );
    assert!(!home(teach.clone()).await.contains("href=\"/platform\""));

    // Problems of A, and one problem's answers; B's problem asked through A is nobody's.
    let problems_of = |course: String| {
        let base = base.to_owned();
        let s = teach.clone();
        async move {
            let r = get(&base, &format!("/api/problems?{}", q(&course)), Some(&s)).await;
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<Vec<serde_json::Value>>().await.unwrap()
        }
    };
    let problems = problems_of(a.to_owned()).await;
    assert!(!problems.is_empty());
    let p0 = problems[0]["problem_id"].as_str().unwrap().to_owned();
    let r = get(
        base,
        &format!("/api/answers?{}&problem_id={}", q(a), urlencode(&p0)),
        Some(&teach),
    )
    .await;
    let answers: Vec<serde_json::Value> = r.json().await.unwrap();
    assert!(!answers.is_empty() && answers.iter().all(|x| x["problem_id"] == p0.as_str()));
    let boss_session = sign_in(base, "boss", PASSWORD).await.unwrap();
    let r = get(
        base,
        &format!("/api/problems?{}", q(b)),
        Some(&boss_session),
    )
    .await;
    let b_problems: Vec<serde_json::Value> = r.json().await.unwrap();
    let pb = b_problems[0]["problem_id"].as_str().unwrap().to_owned();
    let r = get(
        base,
        &format!("/api/answers?{}&problem_id={}", q(a), urlencode(&pb)),
        Some(&teach),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Vec<serde_json::Value>>().await.unwrap().len(), 0);
    let r = get(base, &format!("/export/secrets.csv?{}", q(a)), Some(&teach)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Identities: teach sees the at-risk list of A; quiet (same course) does not.
    let r = get(base, &format!("/api/at-risk?{}", q(a)), Some(&teach)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let risk: Vec<serde_json::Value> = r.json().await.unwrap();
    assert!(
        !risk.is_empty(),
        "the generated course has inactive learners"
    );
    assert!(risk[0]["email"].as_str().unwrap().ends_with("@example.org"));
    // One learner's page, from the at-risk list: for identities only, and the course's.
    let uid = risk[0]["user_id"].as_u64().unwrap();
    let r = get(
        base,
        &format!("/api/learner?{}&user_id={uid}", q(a)),
        Some(&teach),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let one: serde_json::Value = r.json().await.unwrap();
    assert_eq!(one["summary"]["username"], risk[0]["username"]);
    assert!(!one["days"].as_array().unwrap().is_empty());
    let r = get(
        base,
        &format!("/api/learner?{}&user_id=987654321", q(a)),
        Some(&teach),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = get(base, &format!("/api/learner?{}", q(a)), Some(&teach)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = get(
        base,
        &format!("/api/learner?{}&user_id={uid}", q(b)),
        Some(&teach),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "another course's learner page"
    );
    let r = get(base, &format!("/learner?{}&user_id={uid}", q(a)), None).await;
    assert!(r.status().is_redirection(), "the page needs a session");
    let quiet = sign_in(base, "quiet", PASSWORD).await.unwrap();
    // The roster of A: its learners only, the at-risk ones among them; as CSV too.
    let r = get(base, &format!("/api/learners?{}", q(a)), Some(&teach)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let roster: Vec<serde_json::Value> = r.json().await.unwrap();
    let names = |rows: &[serde_json::Value]| -> std::collections::BTreeSet<String> {
        rows.iter()
            .map(|l| l["username"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(names(&risk).is_subset(&names(&roster)), "{roster:?}");
    let r = get(
        base,
        &format!("/export/learners.csv?{}", q(a)),
        Some(&teach),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let csv = r.text().await.unwrap();
    assert!(
        csv.starts_with("user_id,username,email,enrollment_mode,"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), roster.len() + 1);
    // Data goes gzipped to a client that accepts it, pages never (BREACH: a page holds
    // the CSRF token); a client that does not ask gets it as it is (above).
    let gzipped = |path: String| {
        let teach = teach.clone();
        async move {
            let r = client()
                .get(format!("{base}{path}"))
                .header(COOKIE, teach)
                .header(reqwest::header::ACCEPT_ENCODING, "gzip")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            let encoding = r.headers().get(reqwest::header::CONTENT_ENCODING).cloned();
            (encoding, r.bytes().await.unwrap().len())
        }
    };
    let plain = serde_json::to_vec(&roster).unwrap().len();
    let (encoding, size) = gzipped(format!("/api/learners?{}", q(a))).await;
    assert_eq!(encoding.as_ref().map(|e| e.to_str().unwrap()), Some("gzip"));
    assert!(size * 3 < plain, "{size} bytes gzipped against {plain}");
    let (encoding, _) = gzipped(format!("/export/learners.csv?{}", q(a))).await;
    assert!(encoding.is_some(), "the CSV");
    let (encoding, _) = gzipped("/".to_owned()).await;
    assert_eq!(encoding, None, "the page");
    for path in [
        format!("/api/at-risk?{}", q(a)),
        format!("/export/at-risk.csv?{}", q(a)),
        format!("/api/learner?{}&user_id={uid}", q(a)),
        format!("/api/learners?{}", q(a)),
        format!("/export/learners.csv?{}", q(a)),
    ] {
        let r = get(base, &path, Some(&quiet)).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(
        get(base, &format!("/api/overview?{}", q(a)), Some(&quiet))
            .await
            .status(),
        StatusCode::OK
    );

    // inst: rights from the LMS role only (course B), no manual grant.
    let inst = sign_in(base, "inst", PASSWORD).await.unwrap();
    let me: serde_json::Value = get(base, "/api/courses", Some(&inst))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["courses"], serde_json::json!([b]));
    assert_eq!(me["names"], serde_json::json!({ b: "Cairn Course 02" }));
    assert_eq!(
        get(base, &format!("/api/overview?{}", q(a)), Some(&inst))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    // boss: everything.
    let boss = sign_in(base, "boss", PASSWORD).await.unwrap();
    let me: serde_json::Value = get(base, "/api/courses", Some(&boss))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["courses"], serde_json::json!([a, b]));
    assert_eq!(
        me["names"],
        serde_json::json!({ a: "Cairn Course 01", b: "Cairn Course 02" })
    );

    // Sign-out needs the session's CSRF token, then the session is gone.
    let r = client()
        .post(format!("{base}/logout"))
        .header(COOKIE, &teach)
        .form(&[("csrf", "0".repeat(64))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        get(base, "/api/courses", Some(&teach)).await.status(),
        StatusCode::OK
    );
    let html = get(base, "/", Some(&teach)).await.text().await.unwrap();
    let csrf = hidden_csrf(&html);
    let r = client()
        .post(format!("{base}/logout"))
        .header(COOKIE, &teach)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        get(base, "/api/courses", Some(&teach)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // A made-up session token is nobody.
    let fake = format!("cairn_session={}", "ab".repeat(32));
    assert_eq!(
        get(base, "/api/courses", Some(&fake)).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // A disabled sign-in (empty hash recorded later) no longer works, and ends the
    // session already open (within the 1 s the fixture rereads rights and logins).
    cairn_acl::logins::record_login(&f.ch, "quiet", "", false)
        .await
        .unwrap();
    assert_eq!(
        sign_in(base, "quiet", PASSWORD).await,
        Err(StatusCode::UNAUTHORIZED)
    );
    assert_eq!(ended(base, &quiet).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(base, "/", Some(&quiet)).await.headers()[LOCATION],
        "/login"
    );

    // Taking learner identities away (createuser again) ends inst's session; signed in
    // again, inst no longer gets the at-risk list.
    let r = get(base, &format!("/api/at-risk?{}", q(b)), Some(&inst)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let hash = cairn_acl::logins::hash_password(PASSWORD).unwrap();
    cairn_acl::logins::record_login(&f.ch, "inst", &hash, false)
        .await
        .unwrap();
    assert_eq!(ended(base, &inst).await, StatusCode::UNAUTHORIZED);
    let inst = sign_in(base, "inst", PASSWORD).await.unwrap();
    let r = get(base, &format!("/api/at-risk?{}", q(b)), Some(&inst)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Password guessing: after 5 failures boss's sign-ins are refused, even with the right
    // password, while the session boss already has goes on.
    for _ in 0..5 {
        assert_eq!(
            sign_in(base, "boss", "guess").await,
            Err(StatusCode::UNAUTHORIZED)
        );
    }
    assert_eq!(
        sign_in(base, "boss", PASSWORD).await,
        Err(StatusCode::TOO_MANY_REQUESTS)
    );
    assert_eq!(
        get(base, "/api/courses", Some(&boss)).await.status(),
        StatusCode::OK
    );
    assert!(
        sign_in(base, "teach", PASSWORD).await.is_ok(),
        "per username"
    );
    f.drop_all().await;
}

/// The status `/api/courses` settles on for a session within 5 s (rights and logins are
/// reread every second in the fixture).
async fn ended(base: &str, session: &str) -> StatusCode {
    let mut status = StatusCode::OK;
    for _ in 0..50 {
        status = get(base, "/api/courses", Some(session)).await.status();
        if status != StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    status
}

/// The orchestrators' probes, on a ClickHouse server of the test's own that is stopped and
/// started again: liveness answers throughout; readiness only while ClickHouse answers.
#[tokio::test(flavor = "multi_thread")]
async fn liveness_and_readiness_follow_clickhouse() {
    let name = "serve_probes";
    let own = cairn_core::testing::OwnServer::start(
        cairn_core::testing::workspace_dir().join(format!(".cairn/test-clickhouse-26.9-{name}")),
    );
    let config = own.config(cairn_core::testing::config());
    let f = common::dashboard_with(
        name,
        common::Setup {
            own: Some(config),
            ..common::Setup::default()
        },
    )
    .await;
    let base = f.base.as_str();
    for path in ["/healthz", "/readyz"] {
        let r = get(base, path, None).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
    own.services("stop-clickhouse");
    let r = get(base, "/readyz", None).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = r.text().await.unwrap();
    assert_eq!(body, "not ready: ClickHouse does not answer\n");
    assert_eq!(get(base, "/healthz", None).await.status(), StatusCode::OK);
    own.services("start-clickhouse");
    let r = get(base, "/readyz", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    f.drop_all().await;
}

/// The cells of a CSV download.
async fn csv_cells(r: reqwest::Response, path: &str) -> Vec<Vec<String>> {
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    let body = r.bytes().await.unwrap();
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body.as_ref())
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn csv_downloads_with_hostile_unit_video_and_user_names_hold_no_formula() {
    use cairn_core::mysql::mysql_async::prelude::Queryable;
    let f = dashboard("serve_csv_formulas").await;
    let a = f.courses[0].as_str();
    let base = f.base.as_str();
    // Course A's units and videos, renamed in Studio and imported again from its OLX.
    let mut course = cairn_fixtures::courses(&f.spec)[0].clone();
    assert_eq!(course.id, a);
    for (i, u) in course.units.iter_mut().enumerate() {
        u.name = format!("=HYPERLINK(\"http://evil.example\",\"Unit {i}\")");
        u.video_name = format!("@SUM(1+1)*cmd|' /C calc'!A{i}");
    }
    let dir = std::env::temp_dir().join(format!("cairn-csv-formulas-{}", std::process::id()));
    cairn_fixtures::write_olx(&course, &cairn_fixtures::olx_dir(&dir, &course)).unwrap();
    cairn_fixtures::import_courses(&f.ch, &dir, std::slice::from_ref(&course))
        .await
        .unwrap();
    // Learners who chose hostile usernames in the LMS.
    let mut conn = cairn_core::mysql::connect(&f.lms).await.unwrap();
    conn.query_drop(
        "UPDATE auth_user SET username = CONCAT('-1+1+cmd|', username) WHERE id < 9000",
    )
    .await
    .unwrap();

    let teach = sign_in(base, "teach", PASSWORD).await.unwrap();
    let o: serde_json::Value = get(base, &format!("/api/overview?{}", q(a)), Some(&teach))
        .await
        .json()
        .await
        .unwrap();
    let video = o["videos"][0]["video_id"].as_str().unwrap().to_owned();
    let mut seen = Vec::new();
    for &name in cairn_serve::EXPORTS {
        let path = format!("/export/{name}.csv?{}&video_id={video}", q(a));
        let cells = csv_cells(get(base, &path, Some(&teach)).await, &path).await;
        assert!(cells.len() > 1, "{path}: {cells:?}");
        for cell in cells.iter().flatten() {
            assert_eq!(
                cairn_report::neutralize(cell),
                cell.as_str(),
                "{path}: a cell a spreadsheet would run"
            );
            for hostile in ["'=HYPERLINK(", "'@SUM(", "'-1+1+cmd|"] {
                if cell.starts_with(hostile) {
                    seen.push((name, hostile));
                }
            }
        }
    }
    seen.dedup();
    for (export, hostile) in [
        ("progress", "'=HYPERLINK("),
        ("videos", "'@SUM("),
        ("at-risk", "'-1+1+cmd|"),
        ("learners", "'-1+1+cmd|"),
        ("answers", "'=HYPERLINK("),
    ] {
        assert!(
            seen.contains(&(export, hostile)),
            "{export}.csv carries the hostile name, neutralised: {seen:?}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
    f.drop_all().await;
}
