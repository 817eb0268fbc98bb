//! The LMS source against recorded responses served by a local HTTP server (the LMS is an
//! external service we cannot run here): token, pagination, a retried 5xx, a 401, a
//! malformed body; and the import written to the real ClickHouse.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use cairn_core::{Secret, testing};
use cairn_import::courses::lms::{LmsClient, LmsError};

struct Lms {
    base: String,
    blocks_calls: AtomicU32,
}

fn fixture(name: &str, base: &str) -> String {
    std::fs::read_to_string(testing::workspace_dir().join("fixtures/lms").join(name))
        .unwrap()
        .replace("__BASE__", base)
}

fn authorized(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some("JWT token-123")
}

async fn token(Form(f): Form<HashMap<String, String>>) -> (StatusCode, String) {
    let ok = f.get("grant_type").map(String::as_str) == Some("client_credentials")
        && f.get("client_id").map(String::as_str) == Some("cairn")
        && f.get("client_secret").map(String::as_str) == Some("s3cret");
    if ok {
        (StatusCode::OK, r#"{"access_token": "token-123", "token_type": "JWT", "expires_in": 3600, "scope": "read"}"#.into())
    } else {
        (
            StatusCode::UNAUTHORIZED,
            r#"{"error": "invalid_client"}"#.into(),
        )
    }
}

async fn courses(
    State(s): State<Arc<Lms>>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> (StatusCode, String) {
    if !authorized(&h) {
        return (StatusCode::UNAUTHORIZED, "{}".into());
    }
    let page = if q.get("page").map(String::as_str) == Some("2") {
        "courses-page-2.json"
    } else {
        "courses-page-1.json"
    };
    (StatusCode::OK, fixture(page, &s.base))
}

async fn blocks(
    State(s): State<Arc<Lms>>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> (StatusCode, String) {
    if !authorized(&h) {
        return (StatusCode::UNAUTHORIZED, "{}".into());
    }
    let wanted = q.get("all_blocks").map(String::as_str) == Some("true")
        && q.get("depth").map(String::as_str) == Some("all");
    match q.get("course_id").map(String::as_str) {
        _ if !wanted => (StatusCode::BAD_REQUEST, "{}".into()),
        Some("course-v1:Acme+Bio101+2025_T1") => {
            // The first call fails like an overloaded LMS: the client retries.
            if s.blocks_calls.fetch_add(1, Ordering::SeqCst) == 0 {
                (StatusCode::SERVICE_UNAVAILABLE, "<html>busy</html>".into())
            } else {
                (StatusCode::OK, fixture("blocks-bio101.json", &s.base))
            }
        }
        Some("course-v1:Acme+Chem101+2025_T1") => {
            (StatusCode::OK, "<html>Server Error</html>".into())
        }
        _ => (StatusCode::NOT_FOUND, "{}".into()),
    }
}

async fn serve() -> Arc<Lms> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(Lms {
        base,
        blocks_calls: AtomicU32::new(0),
    });
    let app = Router::new()
        .route("/oauth2/access_token", post(token))
        .route("/api/courses/v1/courses/", get(courses))
        .route("/api/courses/v1/blocks/", get(blocks))
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    state
}

fn client(lms: &Lms, secret: &str) -> LmsClient {
    let mut c = LmsClient::new(&lms.base, "cairn", &Secret::new(secret)).unwrap();
    c.backoff = Duration::from_millis(20);
    c
}

#[tokio::test]
async fn courses_follow_pagination() {
    let lms = serve().await;
    let ids = client(&lms, "s3cret").course_ids().await.unwrap();
    assert_eq!(
        ids,
        [
            "course-v1:Acme+Bio101+2025_T1",
            "course-v1:Acme+Chem101+2025_T1"
        ]
    );
}

#[tokio::test]
async fn blocks_survive_a_5xx_and_come_in_course_order() {
    let lms = serve().await;
    let blocks = client(&lms, "s3cret")
        .blocks("course-v1:Acme+Bio101+2025_T1")
        .await
        .unwrap();
    assert_eq!(
        lms.blocks_calls.load(Ordering::SeqCst),
        2,
        "one 503, one retry"
    );
    let got: Vec<(u32, &str, &str, bool, &str)> = blocks
        .iter()
        .map(|b| {
            (
                b.position,
                b.block_type.as_str(),
                b.full_name.as_str(),
                b.graded,
                b.format.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "course", "", false, ""),
            (2, "chapter", "Week 1", false, ""),
            (3, "sequential", "Week 1 > Reading", false, ""),
            (4, "vertical", "Week 1 > Reading > Cells", false, ""),
            (5, "html", "Week 1 > Reading > Cells > Text", false, ""),
            (
                6,
                "video",
                "Week 1 > Reading > Cells > Cell division",
                false,
                ""
            ),
            (7, "sequential", "Week 1 > Homework 1", true, "Homework"),
            (
                8,
                "vertical",
                "Week 1 > Homework 1 > Unit 1",
                true,
                "Homework"
            ),
            (
                9,
                "problem",
                "Week 1 > Homework 1 > Unit 1 > Cell quiz",
                true,
                "Homework"
            ),
        ]
    );
    assert_eq!(
        blocks[8].parent,
        "block-v1:Acme+Bio101+2025_T1+type@vertical+block@u1"
    );
}

#[tokio::test]
async fn a_malformed_body_names_the_url() {
    let lms = serve().await;
    match client(&lms, "s3cret")
        .blocks("course-v1:Acme+Chem101+2025_T1")
        .await
    {
        Err(e @ LmsError::Malformed { .. }) => {
            assert!(e.to_string().contains("/api/courses/v1/blocks/"), "{e}")
        }
        other => panic!("{:?}", other.map(|b| b.len())),
    }
}

#[tokio::test]
async fn bad_credentials_are_a_clear_401() {
    let lms = serve().await;
    match client(&lms, "wrong").course_ids().await {
        Err(e @ LmsError::Unauthorized { .. }) => {
            let m = e.to_string();
            assert!(
                m.contains("CAIRN_LMS_CLIENT_SECRET") && !m.contains("wrong"),
                "{m}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn lms_import_lands_in_course_blocks() {
    let lms = serve().await;
    let ch = cairn_migrate::testing::data_lake("courses_lms").await;
    let mut c = client(&lms, "s3cret");
    let blocks = c.blocks("course-v1:Acme+Bio101+2025_T1").await.unwrap();
    cairn_import::courses::write_course(&ch, "course-v1:Acme+Bio101+2025_T1", &blocks, "lms")
        .await
        .unwrap();
    let graded: Vec<String> = ch
        .client()
        .query("SELECT display_name FROM course_blocks WHERE graded = 1 AND format = 'Homework' ORDER BY position")
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(graded, ["Homework 1", "Unit 1", "Cell quiz"]);
    ch.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn publishes_seen_while_ingesting_reimport_the_course_once() {
    use cairn_import::ingest::{IngestOptions, Input, ingest};
    let lms = serve().await;
    let ch = cairn_migrate::testing::data_lake("courses_publish").await;
    let dir = cairn_core::testing::Scratch::new("publish");
    let log = dir.join("cms.log");
    let line = |s: u32| {
        format!(
            "2024-05-14 10:30:{s:02},234 INFO 19 [openedx.core.djangoapps.content.course_overviews.models] [user 3] [ip 172.18.0.1] models.py:213 - Updating course overview for course-v1:Acme+Bio101+2025_T1.\n"
        )
    };
    std::fs::write(&log, format!("{}{}{}", line(1), line(2), line(3))).unwrap();
    let hook = cairn_import::courses::LmsPublishHook::spawn(
        ch.clone(),
        tokio::runtime::Handle::current(),
        &lms.base,
        "cairn",
        &Secret::new("s3cret"),
        Duration::from_millis(300),
    )
    .unwrap();
    let s = ingest(
        &ch,
        vec![Input::Path(log)],
        &IngestOptions::default(),
        Box::new(hook),
    )
    .await
    .unwrap();
    assert_eq!(s.course_publishes, 3);
    let mut n = 0u64;
    for _ in 0..100 {
        n = ch
            .client()
            .query("SELECT count() FROM course_blocks")
            .fetch_one()
            .await
            .unwrap();
        if n > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(n, 9, "the published course was imported");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let imports: u64 = ch
        .client()
        .query("SELECT count() FROM _course_imports")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(imports, 1, "three publishes within the window: one import");
    ch.drop_database().await.unwrap();
}
