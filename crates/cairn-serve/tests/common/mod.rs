//! A running dashboard over a generated data lake (2 courses, seeded LMS, course structure
//! imported) with four users:
//! - `teach`: manual grant for course C01, may see identities;
//! - `quiet`: manual grant for C01, identities hidden;
//! - `boss`: manual grant for everything;
//! - `inst`: no manual grant; an `instructor` role on C02 in the LMS.
#![allow(dead_code)]

use cairn_acl::rights::Scope;
use cairn_core::config::MysqlConfig;
use cairn_core::mysql::mysql_async::prelude::Queryable;
use cairn_core::{ClickHouse, testing};
use cairn_import::generate::{Spec, courses, generate};
use cairn_import::ingest::{IngestOptions, Input, LogPublishes, ingest};

pub const PASSWORD: &str = "correct horse battery";

pub struct Fixture {
    pub base: String,
    pub ch: ClickHouse,
    pub lms: MysqlConfig,
    pub courses: Vec<String>,
    pub spec: Spec,
    dir: std::path::PathBuf,
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
    let dir = std::env::temp_dir().join(format!("cairn-serve-{name}-{}", std::process::id()));
    let spec = Spec {
        seed: 5,
        learners: 40,
        courses: 2,
        days: 14,
        start: chrono::Utc::now().date_naive() - chrono::Duration::days(20),
        bad_every: 0,
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
    let mut config = testing::config();
    config.mysql.database = lms.database.clone();
    let ch = cairn_migrate::testing::data_lake_with(name, config.clone()).await;
    ingest(
        &ch,
        vec![Input::Path(dir.join("tracking.log"))],
        &IngestOptions::default(),
        Box::new(LogPublishes),
    )
    .await
    .unwrap();
    cairn_import::generate::import_courses(&ch, &dir, &generated)
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
    let app = cairn_serve::App::new(
        ch.clone(),
        cairn_serve::RightsSource::Lms(config.mysql.clone()),
        cairn_serve::Options {
            refresh_seconds: 5,
            rights_ttl: std::time::Duration::from_secs(1),
            ..Default::default()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app.router()).await });
    Fixture {
        base: format!("http://{addr}"),
        ch,
        lms,
        courses: generated.iter().map(|c| c.id.clone()).collect(),
        spec,
        dir,
    }
}
