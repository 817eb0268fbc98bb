//! `acl sync` and `createuser` against the real MariaDB (roles) and ClickHouse: 18.16 has
//! no access control, and 26.9 here (chdb) defines its users in users.xml only: applying
//! SQL must be refused on both, saying why.

use cairn_acl::rights::Scope;
use cairn_acl::sync;
use cairn_core::mysql::mysql_async::prelude::Queryable;
use cairn_core::testing;

async fn seeded(test: &str) -> (cairn_core::ClickHouse, cairn_core::config::MysqlConfig) {
    let lms = testing::mysql_openedx(&format!("{test}_lms")).await;
    let mut conn = cairn_core::mysql::connect(&lms).await.unwrap();
    conn.query_drop(
        "INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined) VALUES
           (1, '!', 0, 'learner', '', '', 'l@x.org', 0, 1, '2024-01-01'),
           (2, '!', 0, 'teach', '', '', 't@x.org', 0, 1, '2024-01-01'),
           (3, '!', 0, 'orgstaff', '', '', 'o@x.org', 0, 1, '2024-01-01'),
           (4, '!', 0, 'admin', '', '', 'a@x.org', 1, 1, '2024-01-01'),
           (5, '!', 0, 'left', '', '', 'x@x.org', 0, 0, '2024-01-01'),
           (6, '!', 0, 'beta', '', '', 'b@x.org', 0, 1, '2024-01-01');
         INSERT INTO student_courseaccessrole (org, course_id, role, user_id) VALUES
           ('edX', 'course-v1:edX+DemoX+Demo_Course', 'instructor', 2),
           ('edX', '', 'staff', 3),
           ('edX', 'course-v1:edX+DemoX+Demo_Course', 'staff', 5),
           ('edX', 'course-v1:edX+DemoX+Demo_Course', 'beta_testers', 6);",
    )
    .await
    .unwrap();
    conn.disconnect().await.unwrap();
    let ch = cairn_migrate::testing::data_lake(test).await;
    let mut reader = lms.clone();
    reader.username = testing::config().mysql.username;
    reader.password = testing::config().mysql.password;
    (ch, reader)
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_reads_roles_plans_and_refuses_sql_where_access_is_not_writable() {
    let (ch, lms) = seeded("acl_sync").await;
    let desired = sync::desired(&ch, &lms).await.unwrap();
    let names: Vec<&str> = desired.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["admin", "orgstaff", "teach"],
        "inactive and beta-tester accounts get nothing"
    );
    assert_eq!(desired["admin"], Scope::All);
    assert!(
        desired["orgstaff"].allows("course-v1:edX+Any+1")
            && !desired["orgstaff"].allows("course-v1:edXtra+Any+1")
    );
    let plan = sync::plan(&desired, &sync::applied(&ch).await.unwrap());
    assert_eq!(plan.create.len(), 3);
    assert!(plan.revoke.is_empty());
    // Applying is refused, naming the version (18.16) or the missing storage (26.9).
    let err = sync::apply(&ch, &plan).await.unwrap_err().to_string();
    if ch.version().at_least(21, 8) {
        assert!(
            err.contains("users.xml only") && err.contains("--users-xml"),
            "{err}"
        );
    } else {
        assert!(err.contains("18.16") && err.contains("21.8"), "{err}");
    }
    ch.drop_database().await.unwrap();
    testing::drop_mysql(&lms.database).await;
}
