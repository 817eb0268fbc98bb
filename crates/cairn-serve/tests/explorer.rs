//! The SQL explorer's HTTP API (`/api/query`, `/api/query.csv`, `/api/schema`,
//! `/api/explorer/connection`) against the real servers: every restriction is ClickHouse's.
//!
//! - On a ClickHouse 26.9 server of the test's own, with the users `cairn acl sync
//!   --users-xml` writes under an explorer key: two course-staff users of different
//!   courses run the same queries and each gets only their course's rows, on every public
//!   table and view; writes, table functions, `_`-prefixed tables and `system.users` are
//!   refused, a runaway query stops at the time limit, and nothing changes.
//! - Without per-user identities (no key; or ClickHouse 18.16 whatever the key): admins
//!   only, read-only and limited, and the others are told why.

mod common;

use std::collections::BTreeSet;

use cairn_acl::render::TABLES;
use cairn_core::{Secret, testing};
use cairn_serve::explorer::{ExplorerOptions, PAGE_BYTES};
use common::{PASSWORD, Setup, client, dashboard_with, post_json, sign_in};
use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::{Value, json};

/// POSTs a query as the session; the status and the JSON answer.
async fn query(base: &str, session: &str, sql: &str, params: Value) -> (StatusCode, Value) {
    let r = client()
        .post(format!("{base}/api/query"))
        .header(COOKIE, session)
        .json(&json!({ "sql": sql, "params": params }))
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

/// The rows of a query that must succeed.
async fn rows(base: &str, session: &str, sql: &str) -> Vec<Vec<Value>> {
    let (status, body) = query(base, session, sql, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{sql}: {body}");
    serde_json::from_value(body["rows"].clone()).unwrap()
}

/// The ClickHouse error of a query that must be refused.
async fn refused(base: &str, session: &str, sql: &str) -> String {
    let (status, body) = query(base, session, sql, json!({})).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "{sql} was not refused: {body}"
    );
    assert_eq!(body["clickhouse"], true, "{sql}: {body}");
    body["error"].as_str().unwrap().to_owned()
}

async fn get_json(base: &str, session: &str, path: &str) -> (StatusCode, Value) {
    let r = client()
        .get(format!("{base}{path}"))
        .header(COOKIE, session)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

/// What the data lake holds, read as the dashboard's own user: events per course, and
/// the tables of the database.
async fn state(ch: &cairn_core::ClickHouse) -> (Vec<(String, u64)>, Vec<String>) {
    let events = ch
        .client()
        .query("SELECT course_id, count() FROM events GROUP BY course_id ORDER BY course_id")
        .fetch_all::<(String, u64)>()
        .await
        .unwrap();
    let tables = ch
        .client()
        .query("SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name")
        .fetch_all::<String>()
        .await
        .unwrap();
    (events, tables)
}

#[tokio::test(flavor = "multi_thread")]
async fn explorer_runs_each_query_as_the_users_own_clickhouse_user() {
    let suite = testing::clickhouse("explorer_gate").await;
    let modern = suite.version().at_least(23, 8);
    suite.drop_database().await.unwrap();
    let explorer = |key: &str| ExplorerOptions {
        key: Secret::new(key),
        limits: cairn_acl::explorer::Limits {
            max_execution_time: 3,
            ..Default::default()
        },
        ..Default::default()
    };
    if !modern {
        // ClickHouse 18.16 holds no per-user restricted identity: a key changes nothing,
        // course staff are told why.
        let f = dashboard_with(
            "explorer_key_old",
            Setup {
                explorer: explorer("some-key"),
                ..Setup::default()
            },
        )
        .await;
        let teach = sign_in(&f.base, "teach", PASSWORD).await.unwrap();
        let (status, body) = query(&f.base, &teach, "SELECT 1", json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let e = body["error"].as_str().unwrap();
        assert!(
            e.contains("admins only") && e.contains("ClickHouse 18.16") && e.contains("23.8"),
            "{e}"
        );
        f.drop_all().await;
        return;
    }

    let (own, f) = common::explorer_dashboard("explorer_own", 3).await;
    let (a, b) = (f.courses[0].clone(), f.courses[1].clone());
    let xml = std::fs::read_to_string(own.users_d().join("cairn.xml")).unwrap();
    assert!(
        xml.contains("<readonly>1</readonly>") && xml.contains("<max_execution_time>3<"),
        "the users' profile is read-only and limited (the configured limits)"
    );
    let before = state(&f.ch).await;
    let base = f.base.as_str();
    let teach = sign_in(base, "teach", PASSWORD).await.unwrap();
    let inst = sign_in(base, "inst", PASSWORD).await.unwrap();

    // The same query, each user's own rows, on every public table and view.
    let counts = |course: &str| {
        before
            .0
            .iter()
            .filter(|(c, _)| c == course)
            .map(|(c, n)| vec![json!(c), json!(n)])
            .collect::<Vec<_>>()
    };
    let by_course = "SELECT course_id, count() FROM events GROUP BY course_id ORDER BY course_id";
    assert_eq!(rows(base, &teach, by_course).await, counts(&a));
    assert_eq!(rows(base, &inst, by_course).await, counts(&b));
    for (table, filter) in TABLES {
        let sql = match filter {
            cairn_acl::render::Filter::Course(col) => {
                format!("SELECT DISTINCT toString({col}) FROM {table}")
            }
            cairn_acl::render::Filter::Learner(col) => format!(
                "SELECT DISTINCT c.course_id FROM {table} AS t INNER JOIN openedx_course_enrollments AS c ON c.user_id = t.{col}"
            ),
        };
        for (session, mine) in [(&teach, &a), (&inst, &b)] {
            let seen: BTreeSet<String> = rows(base, session, &sql)
                .await
                .into_iter()
                .map(|r| r[0].as_str().unwrap().to_owned())
                .collect();
            assert!(
                seen.iter().all(|c| c == mine),
                "{table}: a user of {mine} sees {seen:?}"
            );
        }
    }
    let enrolled = "SELECT count() FROM course_enrollments";
    let (ta, ib) = (
        rows(base, &teach, enrolled).await,
        rows(base, &inst, enrolled).await,
    );
    assert!(ta[0][0].as_u64().unwrap() > 0 && ib[0][0].as_u64().unwrap() > 0);

    // Parameters are bound by ClickHouse.
    let param_sql = "SELECT count() FROM events WHERE course_id = {course_id:String}";
    let (s, body) = query(base, &teach, param_sql, json!({ "course_id": a })).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["rows"], json!([[counts(&a)[0][1]]]));
    let (_, body) = query(base, &teach, param_sql, json!({ "course_id": b })).await;
    assert_eq!(
        body["rows"],
        json!([[0]]),
        "another course's rows stay hidden"
    );
    let (_, body) = query(
        base,
        &teach,
        param_sql,
        json!({ "course_id": "x' OR 1=1 --" }),
    )
    .await;
    assert_eq!(body["rows"], json!([[0]]), "a value is a value, never SQL");

    // Refused by ClickHouse, with its own message; nothing changes.
    for sql in [
        "INSERT INTO events (name, message) VALUES ('x', 'y')",
        "ALTER TABLE events DELETE WHERE 1",
        "DROP TABLE events",
        "CREATE TABLE mine (a UInt8) ENGINE = Memory",
        "TRUNCATE TABLE events",
        "SYSTEM FLUSH LOGS",
        "SET max_execution_time = 1000",
        "KILL QUERY WHERE 1",
        "SELECT * FROM url('http://127.0.0.1:1/x.csv', 'CSV', 'a String')",
        "SELECT * FROM file('/etc/passwd', 'LineAsString')",
        "SELECT * FROM mysql('127.0.0.1:3306', 'openedx', 'auth_user', 'root', '')",
        "SELECT * FROM remote('127.0.0.1', system.one)",
        "SELECT * FROM _acl_passwords",
        "SELECT * FROM _dashboard_logins",
        "SELECT name FROM system.users",
        "SELECT 1 SETTINGS max_execution_time = 1000",
        "SELECT 1; SELECT 2",
    ] {
        let e = refused(base, &teach, sql).await;
        assert!(
            e.contains("Code: "),
            "{sql}: ClickHouse's message as it is: {e}"
        );
    }
    let started = std::time::Instant::now();
    let e = refused(
        base,
        &teach,
        "SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) % 7 = 3",
    )
    .await;
    assert!(e.contains("TIMEOUT_EXCEEDED"), "{e}");
    let took = started.elapsed();
    assert!(
        took >= std::time::Duration::from_secs(3) && took < std::time::Duration::from_secs(15),
        "the users' limit (3 s) stops a runaway query: {took:?}"
    );
    let e = refused(base, &teach, "SELECT number FROM numbers(60000)").await;
    assert!(
        e.contains("Limit for result exceeded"),
        "over the row limit: {e}"
    );
    let csv = client()
        .post(format!("{base}/api/query.csv"))
        .header(COOKIE, &teach)
        .json(&json!({ "sql": "SELECT number FROM numbers(60000)" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        csv.status(),
        StatusCode::BAD_REQUEST,
        "the CSV is limited the same"
    );
    let (s, body) = query(base, &teach, "SELECT 1 FORMAT JSON", json!({})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().contains("leave FORMAT out"),
        "{body}"
    );
    let (s, body) = query(base, &teach, "  ", json!({})).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("the query is empty"))
    );
    assert_eq!(state(&f.ch).await, before, "nothing changed");

    // Results: the first 10,000 rows and a notice; the CSV has them all.
    let (_, big) = query(
        base,
        &teach,
        "SELECT number, toString(number) AS s FROM numbers(10005)",
        json!({}),
    )
    .await;
    assert_eq!(big["rows"].as_array().unwrap().len(), 10_000);
    assert_eq!(
        (&big["truncated"], &big["cut"]),
        (&json!(true), &json!("rows"))
    );
    assert_eq!(
        big["columns"],
        json!([{"name": "number", "type": "UInt64"}, {"name": "s", "type": "String"}])
    );
    assert_eq!(big["rows"][9_999], json!([9_999, "9999"]));
    assert!(
        big["rows_read"].as_u64().unwrap() >= 10_005,
        "{}",
        big["rows_read"]
    );
    let csv = client()
        .post(format!("{base}/api/query.csv"))
        .header(COOKIE, &teach)
        .json(&json!({ "sql": "SELECT number FROM numbers(20005)" }))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    let text = csv.text().await.unwrap();
    assert_eq!(text.lines().count(), 20_006, "header and every row");
    assert_eq!(text.lines().last(), Some("20004"));
    // No cell of it is a spreadsheet formula: not a column name, not a value.
    let csv = client()
        .post(format!("{base}/api/query.csv"))
        .header(COOKIE, &teach)
        .json(&json!({ "sql": "SELECT '=HYPERLINK(\"http://evil.example\",\"x\")' AS `@cmd`, -3 AS n, '+1, \"two\"' AS s, 'plain' AS p" }))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    assert_eq!(
        csv.text().await.unwrap(),
        "\"'@cmd\",\"n\",\"s\",\"p\"\n\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",-3,\"'+1, \"\"two\"\"\",\"plain\"\n"
    );

    // The schema browser: what the user may read, described.
    let (s, schema) = get_json(base, &teach, "/api/schema").await;
    assert_eq!(s, StatusCode::OK, "{schema}");
    let names: BTreeSet<&str> = schema
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let public: BTreeSet<&str> = TABLES.iter().map(|(t, _)| *t).collect();
    assert_eq!(names, public, "exactly the public tables and views");
    let events = schema
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "events")
        .unwrap();
    assert!(
        events["about"]
            .as_str()
            .unwrap()
            .contains("count() counts events")
    );
    assert!(
        events["columns"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c["about"].as_str().unwrap().is_empty())
    );

    // The same identity serves any SQL client, restricted the same.
    let (s, conn) = get_json(base, &teach, "/api/explorer/connection").await;
    assert_eq!(s, StatusCode::OK, "{conn}");
    assert_eq!(conn["username"], "openedx-teach");
    let direct = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/", own.http))
        .basic_auth("openedx-teach", conn["password"].as_str())
        .query(&[("database", f.ch.database())])
        .body("SELECT DISTINCT course_id FROM events FORMAT TSV")
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), StatusCode::OK);
    assert_eq!(direct.text().await.unwrap().trim(), a);

    charts_and_dashboards_show_each_viewer_their_own_rows(&f, &teach, &inst).await;

    // `cairn query --as USER`'s identity: the same user, the same rows.
    let id = cairn_serve::explorer::Identity::own(&f.ch, "explorer_own-key", "inst").unwrap();
    let http = reqwest::Client::new();
    let limits = cairn_acl::explorer::Limits::default();
    let target = cairn_serve::explorer::Target {
        ch: &f.ch,
        http: &http,
        limits: &limits,
    };
    let resp = cairn_serve::explorer::send(
        &target,
        &id,
        by_course,
        &Default::default(),
        cairn_serve::explorer::TSV,
    )
    .await
    .unwrap();
    let t =
        cairn_serve::explorer::read_table(resp, std::time::Instant::now(), usize::MAX, usize::MAX)
            .await
            .unwrap();
    assert_eq!(t.rows, counts(&b));

    // A dashboard whose key is not the one the users file was written with says so.
    let wrong = cairn_serve::App::new(
        f.ch.clone(),
        cairn_serve::RightsSource::Lms(f.lms.clone()),
        cairn_serve::Options {
            explorer: explorer("not-the-key"),
            ..Default::default()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let wrong_base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, wrong.router()).await });
    let session = sign_in(&wrong_base, "teach", PASSWORD).await.unwrap();
    let (s, body) = query(&wrong_base, &session, "SELECT 1", json!({})).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("cairn acl sync --users-xml"),
        "{body}"
    );
    f.drop_all().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_per_user_identities_the_explorer_is_for_admins_only() {
    let f = dashboard_with(
        "explorer_admins",
        Setup {
            explorer: ExplorerOptions {
                limits: cairn_acl::explorer::Limits {
                    max_execution_time: 2,
                    ..Default::default()
                },
                ..Default::default()
            },
            ..Setup::default()
        },
    )
    .await;
    let base = f.base.as_str();
    let version = f.ch.version();
    let teach = sign_in(base, "teach", PASSWORD).await.unwrap();
    let (s, body) = query(base, &teach, "SELECT 1", json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        body["error"].as_str().unwrap().contains("admins only"),
        "{body}"
    );
    let page = client()
        .get(format!("{base}/explore"))
        .header(COOKIE, &teach)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"closed\"") && page.contains("admins only"),
        "the page says why"
    );

    let boss = sign_in(base, "boss", PASSWORD).await.unwrap();
    let before = state(&f.ch).await;
    let total: u64 = before.0.iter().map(|(_, n)| n).sum();
    assert_eq!(
        rows(base, &boss, "SELECT count() FROM events").await,
        vec![vec![json!(total)]]
    );
    for sql in [
        "INSERT INTO events (name, message) VALUES ('x', 'y')",
        "CREATE TABLE mine (a UInt8) ENGINE = Memory",
        "DROP TABLE events",
        "SELECT 1 SETTINGS max_execution_time = 1000",
    ] {
        let e = refused(base, &boss, sql).await;
        assert!(e.contains("readonly mode"), "{sql}: {e}");
    }
    let e = refused(
        base,
        &boss,
        "SELECT count() FROM system.numbers WHERE sipHash64(number) % 7 = 3",
    )
    .await;
    assert!(
        e.contains("Timeout exceeded") || e.contains("TIMEOUT_EXCEEDED"),
        "{e}"
    );
    assert_eq!(state(&f.ch).await, before, "nothing changed");
    let param_sql = "SELECT count() FROM events WHERE course_id = {course_id:String}";
    let (s, body) = query(base, &boss, param_sql, json!({ "course_id": f.courses[0] })).await;
    if version.at_least(19, 3) {
        assert_eq!(s, StatusCode::OK, "{body}");
    } else {
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(
            body["error"].as_str().unwrap().contains("query parameters"),
            "{body}"
        );
    }
    // Rows of long text: the page reads at most PAGE_BYTES of a result, whole rows, and
    // says so; the answer stays that small however large the result. (system.numbers:
    // 18.16 refuses table functions to read-only users.)
    // n rows of `thousands` × 1,000 x (cheap to make within the test's 2 s limit).
    let long = |n: u64, thousands: u64| {
        format!(
            "SELECT number, arrayStringConcat(arrayMap(x -> '{}', range({thousands}))) AS s \
             FROM system.numbers LIMIT {n}",
            "x".repeat(1000)
        )
    };
    let r = client()
        .post(format!("{base}/api/query"))
        .header(COOKIE, &boss)
        .json(&json!({ "sql": long(100, 100) }))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.len() <= PAGE_BYTES + 64 * 1024,
        "an answer of {} bytes",
        text.len()
    );
    let big: Value = serde_json::from_str(&text).unwrap();
    let got = big["rows"].as_array().unwrap();
    // Each line is the number, a tab, 100,000 x and a newline; the names and types first.
    let mut used = "number\ts\nUInt64\tString\n".len();
    let fit = (0..100)
        .take_while(|i: &usize| {
            used += i.to_string().len() + 100_002;
            used <= PAGE_BYTES
        })
        .count();
    assert_eq!(fit, 83);
    assert_eq!(got.len(), fit, "the rows that fit, and no more");
    for (i, row) in got.iter().enumerate() {
        assert_eq!(row[0], json!(i));
        assert_eq!(
            row[1].as_str().map(str::len),
            Some(100_000),
            "row {i} whole"
        );
    }
    assert_eq!(
        (&big["truncated"], &big["cut"]),
        (&json!(true), &json!("bytes"))
    );
    let (s, one) = query(base, &boss, &long(1, 9_000), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{one}");
    assert_eq!(one["rows"], json!([]));
    assert_eq!(one["cut"], "bytes");
    assert_eq!(one["columns"][1]["name"], "s");
    // The CSV download of a row of 70 MB (more than cairn_report::MAX_ROW) fails rather
    // than the dashboard hold it: the body ends in an error after the rows before it.
    let huge = format!(
        "SELECT number AS n, if(number = 1, arrayStringConcat(arrayMap(x -> '{}', range(70000))), '') AS s \
         FROM system.numbers LIMIT 3",
        "x".repeat(1000)
    );
    let r = client()
        .post(format!("{base}/api/query.csv"))
        .header(COOKIE, &boss)
        .json(&json!({ "sql": huge }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mut got = Vec::new();
    let mut r = r;
    let end = loop {
        match r.chunk().await {
            Ok(Some(c)) => got.extend_from_slice(&c),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    assert!(end.is_err(), "the download ends in an error");
    assert_eq!(got, b"\"n\",\"s\"\n0,\"\"\n", "the rows before it");
    let (_, small) = query(base, &boss, &long(3, 1), json!({})).await;
    assert_eq!(small["rows"].as_array().unwrap().len(), 3);
    assert_eq!(
        (&small["truncated"], &small["cut"]),
        (&json!(false), &json!(null))
    );
    let (s, body) = get_json(base, &boss, "/api/explorer/connection").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    let (s, schema) = get_json(base, &boss, "/api/schema").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        schema
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "video_view_segments")
    );
    f.drop_all().await;
}

async fn delete(base: &str, session: &str, path: &str) -> StatusCode {
    client()
        .delete(format!("{base}{path}"))
        .header(COOKIE, session)
        .send()
        .await
        .unwrap()
        .status()
}

/// Charts and dashboards over HTTP: saved by one user, shared with another who sees their
/// own rows; the built-in overview run as a user gives cairn-report's numbers.
async fn charts_and_dashboards_show_each_viewer_their_own_rows(
    f: &common::Fixture,
    teach: &str,
    inst: &str,
) {
    let base = f.base.as_str();
    let (a, b) = (f.courses[0].as_str(), f.courses[1].as_str());
    let sql = "SELECT course_id, count() AS events FROM events GROUP BY course_id";
    let chart = |y: &str| json!({ "chart": { "name": "Events per course", "sql": sql, "type": "bar", "x": "course_id", "y": [y] } });
    let (s, body) = post_json(base, teach, "/api/charts", chart("nope")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("\"nope\" is not in the query's result"),
        "{body}"
    );
    let (s, body) = post_json(base, teach, "/api/charts", chart("events")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let chart_id = body["id"].as_str().unwrap().to_owned();
    let dash =
        json!({ "dashboard": { "name": "Mine", "charts": [chart_id], "shared_with": ["inst"] } });
    let (s, body) = post_json(base, teach, "/api/dashboards", dash).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let dash_id = body["id"].as_str().unwrap().to_owned();

    // Each viewer runs the shared chart as themselves.
    let run = format!("/api/charts/{chart_id}/run");
    let (_, mine) = post_json(base, teach, &run, json!({})).await;
    assert_eq!(mine["rows"].as_array().unwrap().len(), 1);
    assert_eq!(mine["rows"][0][0], a);
    let (s, list) = get_json(base, inst, "/api/saved").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        list["dashboards"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == dash_id.as_str())
    );
    let (s, got) = get_json(base, inst, &format!("/api/dashboards/{dash_id}")).await;
    assert_eq!(s, StatusCode::OK, "{got}");
    assert_eq!(got["editable"], false);
    let (_, theirs) = post_json(base, inst, &run, json!({})).await;
    assert_eq!(theirs["rows"].as_array().unwrap().len(), 1, "{theirs}");
    assert_eq!(
        theirs["rows"][0][0], b,
        "the viewer's rows, never the author's"
    );

    // Not shared with quiet; only the author changes or deletes.
    let quiet = sign_in(base, "quiet", PASSWORD).await.unwrap();
    assert_eq!(
        get_json(base, &quiet, &format!("/api/dashboards/{dash_id}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post_json(base, &quiet, &run, json!({})).await.0,
        StatusCode::NOT_FOUND
    );
    let change = json!({ "id": dash_id, "dashboard": { "name": "Taken", "charts": [] } });
    assert_eq!(
        post_json(base, inst, "/api/dashboards", change).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        delete(base, inst, &format!("/api/dashboards/{dash_id}")).await,
        StatusCode::FORBIDDEN
    );
    let (s, body) = post_json(
        base,
        teach,
        "/api/dashboards",
        json!({ "dashboard": { "name": " ", "charts": [] } }),
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("a dashboard needs a name"))
    );

    // The built-in overview, run as a user, is cairn-report's overview of their course.
    let (s, overview) = get_json(base, inst, "/api/dashboards/builtin-course-overview").await;
    assert_eq!(s, StatusCode::OK, "{overview}");
    assert_eq!(overview["charts"].as_array().unwrap().len(), 6);
    let from = f.spec.start;
    let to = chrono::Utc::now().date_naive();
    let params =
        json!({ "params": { "course_id": b, "from": from.to_string(), "to": to.to_string() } });
    let (s, weekly) = post_json(
        base,
        inst,
        "/api/charts/builtin-weekly-engagement/run",
        params,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{weekly}");
    let expected = cairn_report::weekly_engagement(
        &f.ch,
        b,
        cairn_report::Range {
            from,
            to: to + chrono::Duration::days(1),
        },
    )
    .await
    .unwrap();
    assert!(!expected.is_empty());
    let got: Vec<(String, u64, u64)> = weekly["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_owned(),
                r[1].as_u64().unwrap(),
                r[2].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, u64, u64)> = expected
        .iter()
        .map(|w| (w.week.clone(), w.enrolled, w.active))
        .collect();
    assert_eq!(got, want);
    let other =
        json!({ "params": { "course_id": a, "from": from.to_string(), "to": to.to_string() } });
    let (_, hidden) = post_json(
        base,
        inst,
        "/api/charts/builtin-weekly-engagement/run",
        other,
    )
    .await;
    assert!(
        hidden["rows"].as_array().unwrap().iter().all(|r| r[2] == 0),
        "another course's activity stays hidden: {hidden}"
    );

    // Duplicating the built-in overview gives the user an editable copy.
    let (s, dup) = post_json(
        base,
        inst,
        "/api/dashboards/builtin-course-overview/duplicate",
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{dup}");
    let (_, copy) = get_json(
        base,
        inst,
        &format!("/api/dashboards/{}", dup["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(copy["editable"], true);
    assert_eq!(copy["charts"].as_array().unwrap().len(), 6);
    assert_eq!(copy["dashboard"]["name"], "Course overview (copy)");
}
