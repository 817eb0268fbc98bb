//! The page templates and static files, embedded in the binary (Chart.js from npm, see
//! build.rs).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Chart.js's built UMD file, from the npm package pinned in web/package-lock.json.
const CHART_JS: &[u8] = include_bytes!(concat!(
    env!("OUT_DIR"),
    "/web/node_modules/chart.js/dist/chart.umd.min.js"
));
/// The SQL editor: web/editor.js with CodeMirror 6, bundled by esbuild (see build.rs).
const EDITOR_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/web/editor.js"));
const APP_JS: &str = include_str!("../assets/app.js");
const EXPLORE_JS: &str = include_str!("../assets/explore.js");
const CHARTS_JS: &str = include_str!("../assets/charts.js");
const DASHBOARDS_JS: &str = include_str!("../assets/dashboards.js");
const APP_CSS: &str = include_str!("../assets/app.css");
const LEARNER_JS: &str = include_str!("../assets/learner.js");
const COMMON_JS: &str = include_str!("../assets/common.js");
const PLATFORM_JS: &str = include_str!("../assets/platform.js");

/// The page templates (HTML-escaped by minijinja).
pub(crate) fn pages() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // Templates are compiled in: an error here is a bug caught by every test.
    env.add_template("index.html", include_str!("../assets/index.html"))
        .expect("index.html");
    env.add_template("login.html", include_str!("../assets/login.html"))
        .expect("login.html");
    env.add_template("message.html", include_str!("../assets/message.html"))
        .expect("message.html");
    env.add_template("explore.html", include_str!("../assets/explore.html"))
        .expect("explore.html");
    env.add_template("dashboards.html", include_str!("../assets/dashboards.html"))
        .expect("dashboards.html");
    env.add_template("learner.html", include_str!("../assets/learner.html"))
        .expect("learner.html");
    env.add_template("platform.html", include_str!("../assets/platform.html"))
        .expect("platform.html");
    env
}

pub(crate) async fn serve(Path(file): Path<String>) -> Response {
    let (body, ty): (&'static [u8], &str) = match file.as_str() {
        "chart.umd.min.js" => (CHART_JS, "text/javascript; charset=utf-8"),
        "app.js" => (APP_JS.as_bytes(), "text/javascript; charset=utf-8"),
        "editor.js" => (EDITOR_JS, "text/javascript; charset=utf-8"),
        "explore.js" => (EXPLORE_JS.as_bytes(), "text/javascript; charset=utf-8"),
        "charts.js" => (CHARTS_JS.as_bytes(), "text/javascript; charset=utf-8"),
        "dashboards.js" => (DASHBOARDS_JS.as_bytes(), "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS.as_bytes(), "text/css; charset=utf-8"),
        "common.js" => (COMMON_JS.as_bytes(), "text/javascript; charset=utf-8"),
        "learner.js" => (LEARNER_JS.as_bytes(), "text/javascript; charset=utf-8"),
        "platform.js" => (PLATFORM_JS.as_bytes(), "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, ty),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
