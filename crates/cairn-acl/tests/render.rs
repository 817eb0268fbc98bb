//! Rendered ACL statements: snapshots, hostile values, and every policy condition used as a
//! WHERE clause on the real server (18.16 and 26.9: scripts/test runs it on both). Also
//! writes the statements for ClickHouse 26.9 to parse (`target/ch-check/acl`, run by
//! scripts/test): no server here can apply SQL-managed access.

use std::collections::BTreeSet;

use cairn_acl::render::{Auth, Filter, condition, grant_statements, revoke_statements};
use cairn_acl::rights::Scope;
use cairn_core::mysql::mysql_async::prelude::Queryable;
use cairn_core::testing;

fn scoped(orgs: &[&str], courses: &[&str]) -> Scope {
    Scope::Some {
        orgs: orgs.iter().map(|o| o.to_lowercase()).collect(),
        courses: courses.iter().map(|c| (*c).to_owned()).collect(),
    }
}

const HOSTILE_USER: &str = "o'brien`\\x\n; DROP USER default; --";
const HOSTILE_COURSE: &str = "course-v1:evil'org+C\\+`R\n";

fn sample_users() -> Vec<(String, Scope, Auth)> {
    vec![
        (
            "teach".into(),
            scoped(&[], &["course-v1:edX+DemoX+Demo_Course"]),
            Auth::Password("correct horse".into()),
        ),
        (
            "orgstaff".into(),
            scoped(&["edX"], &[]),
            Auth::Password("pw".into()),
        ),
        ("admin".into(), Scope::All, Auth::Password("pw".into())),
        (
            HOSTILE_USER.into(),
            scoped(&["ev'il"], &[HOSTILE_COURSE]),
            Auth::Password("p'w\\".into()),
        ),
    ]
}

#[test]
fn rendered_statements_snapshot() {
    let users = sample_users();
    let mut out = String::new();
    for (u, scope, auth) in users.iter().take(3) {
        for s in grant_statements("openedx", u, scope, auth) {
            out.push_str(&s);
            out.push_str(";\n");
        }
    }
    for s in revoke_statements("openedx", "gone") {
        out.push_str(&s);
        out.push_str(";\n");
    }
    assert!(
        !out.contains("correct horse"),
        "passwords never appear, only their hash"
    );
    insta::assert_snapshot!("acl_statements", out);
}

#[test]
fn hostile_values_stay_quoted() {
    let (u, scope, auth) = &sample_users()[3];
    for s in grant_statements("openedx", u, scope, auth)
        .into_iter()
        .chain(revoke_statements("openedx", u))
    {
        assert!(!s.contains('\n'), "{s}");
        // A quote-aware reader sees one statement: nothing in the values ends it.
        assert_eq!(
            cairn_migrate::split::split_statements(&format!("{s};")),
            vec![s.clone()]
        );
    }
}

/// Course ids the checks use: the org-prefix trap, legacy and CCX keys, a hostile id.
const COURSES: &[&str] = &[
    "course-v1:edX+DemoX+Demo_Course",
    "course-v1:edX+Other+2024",
    "course-v1:edXtra+DemoX+Demo_Course",
    "course-v1:EDX+Upper+2024",
    "edX/E929/2014_T2",
    "edXtra/E929/2014_T2",
    "ccx-v1:edX+DemoX+Demo_Course+ccx@1",
    "course-v1:MITx+6.002x+2013_Spring",
    HOSTILE_COURSE,
];

fn scopes() -> Vec<(&'static str, Scope)> {
    vec![
        ("course", scoped(&[], &["course-v1:edX+DemoX+Demo_Course"])),
        ("org_edx", scoped(&["edX"], &[])),
        (
            "org_and_course",
            scoped(&["MITx"], &["edXtra/E929/2014_T2"]),
        ),
        ("hostile", scoped(&["ev'il"], &[HOSTILE_COURSE])),
        ("nothing", scoped(&[], &[])),
        ("all", Scope::All),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn conditions_select_exactly_the_allowed_rows_on_both_engines() {
    // The LMS: one learner per course, enrolled in it (learner i in COURSES[i]).
    let lms = testing::mysql_openedx("acl_lms").await;
    let mut conn = cairn_core::mysql::connect(&lms).await.unwrap();
    for (i, c) in COURSES.iter().enumerate() {
        conn.exec_drop(
            "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined) VALUES (?, '!', 0, ?, '', '', ?, 0, 1, '2024-01-01')",
            (i as i64 + 1, format!("l{i}"), format!("l{i}@x.org")),
        )
        .await
        .unwrap();
        conn.exec_drop(
            "INSERT INTO auth_userprofile (name, meta, courseware, language, location, user_id) VALUES ('', '', '', '', '', ?)",
            (i as i64 + 1,),
        )
        .await
        .unwrap();
        conn.exec_drop(
            "INSERT INTO student_courseenrollment (course_id, created, is_active, mode, user_id) VALUES (?, '2024-01-01', 1, 'audit', ?)",
            (*c, i as i64 + 1),
        )
        .await
        .unwrap();
    }
    let mut config = testing::config();
    config.mysql.database = lms.database.clone();
    let ch = cairn_migrate::testing::data_lake_with("acl_where", config).await;
    let db = ch.database().to_owned();
    // Events: two per course.
    let mut insert_events =
        String::from("INSERT INTO {db}._events (time, name, course_id, user_id, message) VALUES ");
    let values: Vec<String> = COURSES
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            let q = cairn_core::sql::quote_str(c);
            [
                format!("(now(), 'a', {q}, {}, 'm{i}a')", i + 1),
                format!("(now(), 'b', {q}, {}, 'm{i}b')", i + 1),
            ]
        })
        .collect();
    insert_events.push_str(&values.join(", "));
    ch.execute(&insert_events.replace("{db}", &format!("`{db}`")))
        .await
        .unwrap();

    let mut checked = 0;
    for (name, scope) in scopes() {
        for (table, filter) in [
            ("events", Filter::Course("course_id")),
            ("openedx_course_enrollments", Filter::Course("course_id")),
            ("course_enrollments", Filter::Course("course_id")),
            ("openedx_users", Filter::Learner("id")),
            ("openedx_user_profiles", Filter::Learner("user_id")),
        ] {
            // Expected, from the reference semantics: learners/events of allowed courses.
            let allowed: BTreeSet<usize> = (0..COURSES.len())
                .filter(|i| scope.allows(COURSES[*i]))
                .collect();
            let expected = match table {
                "events" => allowed.len() * 2,
                _ => allowed.len(),
            } as u64;
            let cond = condition(&db, filter, &scope);
            let sql = format!("SELECT count() FROM `{db}`.{table} WHERE {cond}");
            let got: u64 = ch
                .client()
                .query(&sql)
                .fetch_one()
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            assert_eq!(
                got,
                expected,
                "{name} on {table} ({}): {cond}",
                ch.version()
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 30);
    // For ClickHouse 26.9: every rendered statement must parse (run by scripts/test through
    // scripts/ch-modern-check).
    let out = testing::workspace_dir().join("target/ch-check/acl");
    std::fs::create_dir_all(&out).unwrap();
    let mut stmts = String::from("-- cairn-check: parse-only\n");
    for (u, scope, auth) in sample_users() {
        for s in grant_statements("openedx", &u, &scope, &auth)
            .into_iter()
            .chain(revoke_statements("openedx", &u))
        {
            stmts.push_str(&s);
            stmts.push_str(";\n");
        }
    }
    std::fs::write(out.join("0001_acl_statements.sql"), stmts).unwrap();
    conn.query_drop(format!("DROP DATABASE `{}`", lms.database))
        .await
        .unwrap();
    ch.drop_database().await.unwrap();
}
