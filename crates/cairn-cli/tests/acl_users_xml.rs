//! `cairn acl sync --users-xml` enforced by a live ClickHouse 26.9: LMS roles seeded in
//! MariaDB (course staff, an org role, a CCX instructor, global staff, an inactive staff
//! account, a beta tester), the data lake filled through the real binary, the file written
//! into the users.d/ of a 26.9 server of the test's own and the server restarted with it;
//! then each user connects over HTTP and over the native protocol, and for every public
//! table and view sees exactly the rows the seed allows, and nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use cairn_acl::render::TABLES;
use cairn_acl::rights::Scope;
use cairn_core::mysql::mysql_async::prelude::Queryable;
use cairn_core::testing;

const A: &str = "course-v1:CairnX+C01+2026_T1";
const CCX: &str = "ccx-v1:CairnX+C02+2026_T1+ccx@7";
const B_MASTER: &str = "course-v1:CairnX+C02+2026_T1";
const M: &str = "course-v1:MITx+C03+2026_T1";

use testing::OwnServer as Server;

/// Runs the `cairn` binary on `server` (or the suite's server), databases `db`/`lms_db`.
fn cairn(
    server: Option<&Server>,
    db: &str,
    lms_db: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
    cmd.args(args)
        .env("CAIRN_CONFIG", testing::config_path().unwrap())
        .env("CAIRN_CLICKHOUSE_DATABASE", db)
        .env("OPENEDX_MYSQL_DATABASE", lms_db);
    if let Some(s) = server {
        cmd.env("CAIRN_CLICKHOUSE_HTTP_PORT", s.http.to_string())
            .env("CAIRN_CLICKHOUSE_PORT", s.tcp.to_string());
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn ok(o: Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// One query as a user, over HTTP (`http`) or the native protocol (clickhouse-client):
/// the TSV answer, or the error text.
fn query(
    s: &Server,
    user: &str,
    password: &str,
    native: bool,
    sql: &str,
) -> Result<String, String> {
    let o = if native {
        Command::new("clickhouse-client")
            .args(["--host", "127.0.0.1", "--port", &s.tcp.to_string()])
            .args([
                "--user",
                user,
                "--password",
                password,
                "--format",
                "TabSeparated",
            ])
            .args(["--query", sql])
            .output()
            .unwrap()
    } else {
        Command::new("curl")
            .args(["-sS", "--fail-with-body", "--max-time", "30"])
            .args(["-u", &format!("{user}:{password}")])
            .arg(format!("http://127.0.0.1:{}/", s.http))
            .args(["--data-binary", sql])
            .output()
            .unwrap()
    };
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    if o.status.success() {
        Ok(out)
    } else {
        Err(format!("{out}{}", String::from_utf8_lossy(&o.stderr)))
    }
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn users_xml_rights_are_enforced_by_a_live_26_9_server() {
    let suite = testing::clickhouse("acl_users_xml_gate").await;
    if !suite.version().at_least(23, 8) {
        // On the suite's older server (18.16) the option is refused, saying why.
        let o = cairn(None, suite.database(), "openedx", &["migrate", "up"], &[]);
        ok(o, "migrate up");
        let o = cairn(
            None,
            suite.database(),
            "openedx",
            &["acl", "sync", "--users-xml", "/nonexistent/x.xml"],
            &[],
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success());
        assert!(
            err.contains("needs ClickHouse 23.8 or newer; the server is 18.16"),
            "{err}"
        );
        suite.drop_database().await.unwrap();
        return;
    }
    suite.drop_database().await.unwrap();

    // Data: three generated courses, re-keyed: A stays, C02's learners, events and
    // completions go to a CCX of it (its blocks `ccx-block-v1:…`, as the LMS keys them;
    // the structure imported is the master course's), C03 moves to the org MITx.
    let data = std::env::temp_dir().join(format!("cairn-users-xml-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    ok(
        Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args([
                "fixtures",
                "generate",
                "--out",
                data.to_str().unwrap(),
                "--seed",
                "9",
            ])
            .args([
                "--learners",
                "30",
                "--courses",
                "3",
                "--days",
                "4",
                "--bad-every",
                "0",
            ])
            .output()
            .unwrap(),
        "fixtures generate",
    );
    let rekey = |p: &Path| {
        let t = std::fs::read_to_string(p).unwrap();
        let t = t
            .replace(
                "block-v1:CairnX+C02+2026_T1",
                "ccx-block-v1:CairnX+C02+2026_T1+ccx@7",
            )
            .replace(B_MASTER, CCX)
            .replace("course-v1:CairnX+C03+2026_T1", M)
            .replace("block-v1:CairnX+C03+2026_T1", "block-v1:MITx+C03+2026_T1");
        std::fs::write(p, t).unwrap();
    };
    rekey(&data.join("tracking.log"));
    rekey(&data.join("lms-seed.sql"));
    let c03 = data.join("courses/C03/course.xml");
    let t = std::fs::read_to_string(&c03)
        .unwrap()
        .replace("org=\"CairnX\"", "org=\"MITx\"");
    std::fs::write(&c03, t).unwrap();

    // The LMS: the generated learners, plus the roles (ids above the learners').
    let lms = testing::mysql_openedx("acl_users_xml_lms").await;
    let mut conn = cairn_core::mysql::connect(&lms).await.unwrap();
    conn.query_drop(std::fs::read_to_string(data.join("lms-seed.sql")).unwrap())
        .await
        .unwrap();
    conn.query_drop(format!(
        "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined) VALUES
           (9001, '!', 0, 'teach', '', '', 't@x.org', 0, 1, '2024-01-01'),
           (9002, '!', 0, 'orgstaff', '', '', 'o@x.org', 0, 1, '2024-01-01'),
           (9003, '!', 0, 'ccx.coach', '', '', 'c@x.org', 0, 1, '2024-01-01'),
           (9004, '!', 0, 'admin', '', '', 'a@x.org', 1, 1, '2024-01-01'),
           (9005, '!', 0, 'gone', '', '', 'g@x.org', 1, 0, '2024-01-01'),
           (9006, '!', 0, 'beta', '', '', 'b@x.org', 0, 1, '2024-01-01'),
           (9007, '!', 0, 'mitstaff', '', '', 'm@x.org', 0, 1, '2024-01-01');
         INSERT INTO student_courseaccessrole (org, course_id, role, user_id) VALUES
           ('CairnX', '{A}', 'staff', 9001),
           ('CairnX', '', 'staff', 9002),
           ('CairnX', '{CCX}', 'instructor', 9003),
           ('CairnX', '{A}', 'staff', 9005),
           ('CairnX', '{A}', 'beta_testers', 9006),
           ('MITx', '{M}', 'staff', 9007);"
    ))
    .await
    .unwrap();
    for (i, c) in [A, CCX, M].iter().enumerate() {
        conn.exec_drop(
            "INSERT INTO course_overviews_courseoverview (created, modified, version, id, _location, display_name, display_number_with_default, display_org_with_default, start, end, course_image_url, certificates_show_before_end, cert_html_view_enabled, has_any_active_web_certificate, cert_name_short, cert_name_long, lowest_passing_grade, mobile_available, visible_to_staff_only, _pre_requisite_courses_json, invitation_only, org, self_paced, eligible_for_financial_aid, banner_image_url, allow_proctoring_opt_out, enable_proctored_exams, entrance_exam_enabled, entrance_exam_id, entrance_exam_minimum_score_pct, force_on_flexible_peer_openassessments) VALUES ('2024-01-01', '2024-01-01', 1, ?, '', ?, '', '', '2024-01-01', NULL, '', 0, 0, 0, '', '', 0.5, 0, 0, '[]', 0, '', 1, 1, '', 0, 0, 0, '', 0.65, 0)",
            (*c, format!("Course {i}")),
        )
        .await
        .unwrap();
    }

    let server =
        Server::start(testing::workspace_dir().join(".cairn/test-clickhouse-26.9-users-xml"));
    let db = testing::db_name("acl_users_xml");
    let run =
        |args: &[&str], env: &[(&str, &str)]| cairn(Some(&server), &db, &lms.database, args, env);
    assert!(ok(run(&["status"], &[]), "status").contains("26.9"));
    ok(run(&["migrate", "up"], &[]), "migrate up");
    ok(
        run(
            &["ingest", data.join("tracking.log").to_str().unwrap()],
            &[],
        ),
        "ingest",
    );
    // The pre-aggregated days too, so that their row policies have rows to filter.
    ok(run(&["aggregate"], &[]), "aggregate");
    for c in ["C01", "C02", "C03"] {
        let olx = data.join("courses").join(c);
        ok(
            run(&["import", "courses", "--olx", olx.to_str().unwrap()], &[]),
            "import",
        );
    }
    // A manual grant with a password (createuser), and passwords for the LMS-role users.
    ok(
        run(
            &[
                "createuser",
                "ada",
                "ada@x.org",
                "--course-id",
                M,
                "--dashboard-only",
            ],
            &[("CAIRN_USER_PASSWORD", "ada-pw")],
        ),
        "createuser",
    );
    // Who may see what, as `cairn acl show` says it: the LMS roles and the manual grant.
    let show = ok(run(&["acl", "show"], &[]), "acl show");
    for (user, what) in [
        ("ada", format!("courses {M}")),
        ("admin", "everything (every course)".to_owned()),
        ("ccx.coach", format!("courses {CCX}")),
        ("orgstaff", "the courses of orgs cairnx".to_owned()),
        ("teach", format!("courses {A}")),
    ] {
        let line = show
            .lines()
            .find(|l| l.split_whitespace().next() == Some(user))
            .unwrap_or_else(|| panic!("{user} is not in:\n{show}"));
        assert_eq!(line.split_once(' ').unwrap().1.trim_start(), what, "{show}");
    }
    for user in ["gone", "beta"] {
        assert!(!show.contains(user), "{user} may see nothing: {show}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&ok(run(&["acl", "show", "--json"], &[]), "acl show --json")).unwrap();
    assert_eq!(json["admin"], "all");
    assert_eq!(json["teach"]["courses"], serde_json::json!([A]));
    assert_eq!(
        json.as_object().unwrap().len(),
        show.lines().count(),
        "{json}"
    );
    for u in ["teach", "orgstaff", "ccx.coach", "admin", "gone", "beta"] {
        let pw = format!("{u}-pw");
        ok(
            run(&["acl", "password", u], &[("CAIRN_USER_PASSWORD", &pw)]),
            "acl password",
        );
    }

    let xml_path = server.dir.join("users.d/cairn.xml");
    let xml_arg = xml_path.to_str().unwrap();
    let dry = ok(
        run(&["acl", "sync", "--users-xml", xml_arg, "--dry-run"], &[]),
        "dry run",
    );
    assert!(!xml_path.exists(), "a dry run writes nothing");
    assert!(
        dry.starts_with("plan: 6 to create, 0 to update, 0 to revoke, 0 unchanged\n"),
        "{dry}"
    );
    for secret in ["ada-pw", "teach-pw"] {
        assert!(!dry.contains(secret), "never a password");
    }
    let out = ok(run(&["acl", "sync", "--users-xml", xml_arg], &[]), "sync");
    assert!(
        out.contains("6 users") && out.contains("restarted"),
        "{out}"
    );
    let again = ok(
        run(&["acl", "sync", "--users-xml", xml_arg], &[]),
        "sync again",
    );
    assert!(
        again.starts_with("plan: 0 to create, 0 to update, 0 to revoke, 6 unchanged\n"),
        "{again}"
    );
    server.services("restart-clickhouse");

    // What the seed allows: per course-keyed table the rows per course, and the learners
    // enrolled per course, read as `default`.
    let admin_q = |sql: &str| {
        query(&server, "default", "", false, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    };
    let mut per_course: BTreeMap<&str, BTreeMap<String, u64>> = BTreeMap::new();
    for (table, filter) in TABLES {
        if let cairn_acl::render::Filter::Course(col) = filter {
            let rows = admin_q(&format!(
                "SELECT {col}, count() FROM `{db}`.{table} GROUP BY {col} ORDER BY {col}"
            ));
            let m: BTreeMap<String, u64> = rows
                .lines()
                .map(|l| {
                    let (c, n) = l.rsplit_once('\t').unwrap();
                    (c.to_owned(), n.parse().unwrap())
                })
                .collect();
            assert!(!m.is_empty(), "{table} has rows to check");
            per_course.insert(table, m);
        }
    }
    let enrolled: Vec<(u64, String)> = admin_q(&format!(
        "SELECT user_id, course_id FROM `{db}`.openedx_course_enrollments"
    ))
    .lines()
    .map(|l| {
        let (u, c) = l.split_once('\t').unwrap();
        (u.parse().unwrap(), c.to_owned())
    })
    .collect();
    let all_users: BTreeSet<u64> = lines(&admin_q(&format!("SELECT id FROM `{db}`.openedx_users")))
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let all_profiles: BTreeSet<u64> = lines(&admin_q(&format!(
        "SELECT user_id FROM `{db}`.openedx_user_profiles"
    )))
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    // The structure of the CCX's master course is not the CCX's.
    assert!(per_course["course_blocks"].contains_key(B_MASTER));
    assert!(per_course["events"].contains_key(CCX));

    let some = |orgs: &[&str], courses: &[&str]| Scope::Some {
        orgs: orgs.iter().map(|s| s.to_lowercase()).collect(),
        courses: courses.iter().map(|s| s.to_string()).collect(),
    };
    let users: Vec<(&str, Scope)> = vec![
        ("teach", some(&[], &[A])),
        ("orgstaff", some(&["CairnX"], &[])),
        ("ccx.coach", some(&[], &[CCX])),
        ("admin", Scope::All),
        ("ada", some(&[], &[M])),
    ];
    for (u, scope) in &users {
        let name = cairn_acl::users_xml::xml_user_name(u);
        let pw = format!("{u}-pw");
        for native in [false, true] {
            let how = if native { "native" } else { "HTTP" };
            let q = |sql: &str| query(&server, &name, &pw, native, sql);
            for (table, m) in &per_course {
                let col = TABLES
                    .iter()
                    .find(|(t, _)| t == table)
                    .map(|(_, f)| match f {
                        cairn_acl::render::Filter::Course(c) => *c,
                        cairn_acl::render::Filter::Learner(c) => *c,
                    })
                    .unwrap();
                let expected: Vec<String> = m
                    .iter()
                    .filter(|(c, _)| scope.allows(c))
                    .map(|(c, n)| format!("{c}\t{n}"))
                    .collect();
                let got = q(&format!(
                    "SELECT {col}, count() FROM `{db}`.{table} GROUP BY {col} ORDER BY {col}"
                ))
                .unwrap_or_else(|e| panic!("{u} ({how}) on {table}: {e}"));
                assert_eq!(lines(&got), expected, "{u} ({how}) on {table}");
                // A WHERE on other rows finds nothing either.
                let others = q(&format!(
                    "SELECT count() FROM `{db}`.{table} WHERE NOT ({})",
                    {
                        let allowed: Vec<String> = m
                            .keys()
                            .filter(|c| scope.allows(c))
                            .map(|c| cairn_core::sql::quote_str(c))
                            .collect();
                        format!("has([{}], {col})", allowed.join(", "))
                    }
                ))
                .unwrap();
                assert_eq!(
                    others.trim(),
                    "0",
                    "{u} ({how}) on {table}: other courses' rows"
                );
            }
            // Learner tables: the learners enrolled in an allowed course.
            let allowed_learners: BTreeSet<u64> = enrolled
                .iter()
                .filter(|(_, c)| scope.allows(c))
                .map(|(u, _)| *u)
                .collect();
            for (table, col, all) in [
                ("openedx_users", "id", &all_users),
                ("openedx_user_profiles", "user_id", &all_profiles),
            ] {
                let expected: BTreeSet<u64> = if *scope == Scope::All {
                    all.clone()
                } else {
                    all.intersection(&allowed_learners).copied().collect()
                };
                let got: BTreeSet<u64> = lines(
                    &q(&format!("SELECT {col} FROM `{db}`.{table}"))
                        .unwrap_or_else(|e| panic!("{u} ({how}) on {table}: {e}")),
                )
                .iter()
                .map(|s| s.parse().unwrap())
                .collect();
                assert_eq!(got, expected, "{u} ({how}) on {table}");
                if *scope != Scope::All {
                    assert!(
                        got.len() < all.len(),
                        "{u}: some learners are hidden from {table}"
                    );
                }
            }
            // Refused: private tables, system users, table functions, writes.
            let refused = [
                format!("SELECT count() FROM `{db}`._course_blocks"),
                format!("SELECT count() FROM `{db}`._acl_passwords"),
                format!("SELECT count() FROM `{db}`._dashboard_logins"),
                format!("SELECT count() FROM `{db}`._migrations"),
                "SELECT name FROM system.users".to_owned(),
                format!(
                    "SELECT * FROM mysql('127.0.0.1:3306', '{}', 'auth_user', 'cairn_reader', 'x')",
                    lms.database
                ),
                format!(
                    "SELECT * FROM url('http://127.0.0.1:{}/?query=SELECT+1', 'TSV', 'x String')",
                    server.http
                ),
                "SELECT * FROM file('x.tsv', 'TSV', 'x String')".to_owned(),
                format!(
                    "SELECT * FROM remote('127.0.0.1:{}', `{db}`.events)",
                    server.tcp
                ),
                format!("INSERT INTO `{db}`.events (name) VALUES ('x')"),
                format!("CREATE TABLE `{db}`.mine (x UInt8) ENGINE = Memory"),
                format!("ALTER TABLE `{db}`.events DELETE WHERE 1"),
                format!("DROP TABLE `{db}`.events"),
            ];
            for sql in &refused {
                let e = q(sql).expect_err(sql);
                assert!(
                    e.contains("ACCESS_DENIED")
                        || e.contains("Code: 497")
                        || e.contains("NOT_ENOUGH_PRIVILEGES"),
                    "{u} ({how}): {sql}: {e}"
                );
            }
        }
    }
    // Nobody else gets in: the inactive staff account, the beta tester, a role holder
    // without a password set (random), a wrong password.
    for (u, pw) in [
        ("gone", "gone-pw"),
        ("beta", "beta-pw"),
        ("mitstaff", ""),
        ("teach", "wrong"),
    ] {
        for native in [false, true] {
            let name = cairn_acl::users_xml::xml_user_name(u);
            let e = query(&server, &name, pw, native, "SELECT 1").expect_err(u);
            assert!(
                e.contains("516") || e.contains("AUTHENTICATION_FAILED"),
                "{u}: {e}"
            );
        }
    }
    let file = std::fs::read_to_string(&xml_path).unwrap();
    assert!(
        file.contains("<openedx-mitstaff>") && !file.contains("gone") && !file.contains("beta")
    );
    assert!(file.contains("<openedx-ccx_2ecoach>"), "encoded name");

    // The role of teach is removed in the LMS: the next sync revokes the user.
    conn.query_drop("DELETE FROM student_courseaccessrole WHERE user_id = 9001")
        .await
        .unwrap();
    let out = ok(
        run(&["acl", "sync", "--users-xml", xml_arg], &[]),
        "sync after revoke",
    );
    assert!(
        out.starts_with("plan: 0 to create, 0 to update, 1 to revoke, 5 unchanged\nrevoke teach\n"),
        "{out}"
    );
    server.services("restart-clickhouse");
    let e = query(&server, "openedx-teach", "teach-pw", false, "SELECT 1").expect_err("revoked");
    assert!(e.contains("AUTHENTICATION_FAILED"), "{e}");
    assert!(
        query(
            &server,
            "openedx-orgstaff",
            "orgstaff-pw",
            false,
            "SELECT 1"
        )
        .is_ok()
    );

    drop(server);
    conn.query_drop(format!("DROP DATABASE `{}`", lms.database))
        .await
        .unwrap();
    std::fs::remove_dir_all(&data).ok();
}
