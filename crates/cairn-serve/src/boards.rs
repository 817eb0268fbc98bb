//! Charts and dashboards over HTTP: save, delete, share, duplicate, and run a chart as
//! the viewer, so that a dashboard always shows the rows the viewer's own rights allow,
//! never its author's. The built-in course overview is in the same list, read-only.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::explorer::{Fail, Table, run_as, signed_in};
use crate::saved::{self, Chart, ChartKind, Dashboard, Objects, Saved};
use crate::{App, Refused, Session};

/// The built-in overview's id.
pub const BUILTIN: &str = "builtin-course-overview";
/// The author of built-in objects.
const CAIRN: &str = "cairn";

/// One chart of the built-in overview.
struct Builtin<'a> {
    id: &'a str,
    name: &'a str,
    about: &'a str,
    template: &'a str,
    /// What each `?` of the template becomes.
    params: Vec<&'a str>,
    kind: ChartKind,
    x: &'a str,
    y: Vec<&'a str>,
    stacked: bool,
}

/// The built-in overview's charts: the dashboard's metrics (cairn-report's SQL) with the
/// dashboard's filters as named parameters.
fn builtin_charts(db: &str) -> Vec<Saved<Chart>> {
    let course = "{course_id:String}";
    let from = "toString({from:Date})";
    let to = "toString({to:Date} + 1)";
    // The course, the range's weeks (from, to, from), then the learner days' filter
    // (course, from, to) repeated.
    let weekly: Vec<&str> = [course, from, to, from]
        .into_iter()
        .chain([course, from, to].repeat(cairn_report::aggregate::COPIES))
        .collect();
    let spec = [
        Builtin {
            id: "weekly-engagement",
            name: "Weekly engagement",
            about: "Learners enrolled, active, watching a video and trying a problem, per week",
            template: cairn_report::WEEKLY_ENGAGEMENT_SQL,
            params: weekly.clone(),
            kind: ChartKind::Line,
            x: "week",
            y: vec!["enrolled", "active", "watched_video", "tried_problem"],
            stacked: false,
        },
        Builtin {
            id: "time-spent",
            name: "Average time spent per active learner (s)",
            about: "Seconds in the course per active learner, per week",
            template: cairn_report::WEEKLY_ENGAGEMENT_SQL,
            params: weekly.clone(),
            kind: ChartKind::Bar,
            x: "week",
            y: vec!["avg_time_spent"],
            stacked: false,
        },
        Builtin {
            id: "course-progress",
            name: "Course progress",
            about: "Learners who completed each unit, in course order",
            template: cairn_report::COURSE_PROGRESS_SQL,
            params: vec![course; 4],
            kind: ChartKind::Bar,
            x: "unit",
            y: vec!["completed"],
            stacked: false,
        },
        Builtin {
            id: "grade-distribution",
            name: "Grade distribution",
            about: "Learners per 10% grade band, and how many of them passed",
            template: cairn_report::GRADE_DISTRIBUTION_SQL,
            params: vec![course],
            kind: ChartKind::Bar,
            x: "from_percent",
            y: vec!["learners", "passed"],
            stacked: false,
        },
        Builtin {
            id: "demographics",
            name: "Demographics",
            about: "Enrolled learners by gender, level of education, age, country and enrollment mode",
            template: cairn_report::DEMOGRAPHICS_SQL,
            // Ages are reached in the year of the range's last day.
            params: vec!["toYear({to:Date})", course],
            kind: ChartKind::Table,
            x: "",
            y: vec![],
            stacked: false,
        },
        Builtin {
            id: "video-engagement",
            name: "Video engagement",
            about: "Viewers and watch time per video",
            template: cairn_report::VIDEO_ENGAGEMENT_SQL,
            params: [
                vec![from, to, from, to],
                vec![course; 3 * cairn_report::aggregate::COPIES],
                vec![from, to, course],
            ]
            .concat(),
            kind: ChartKind::Table,
            x: "",
            y: vec![],
            stacked: false,
        },
    ];
    spec.into_iter()
        .filter_map(|b| {
            let Builtin {
                id,
                name,
                about,
                template,
                params,
                kind,
                x,
                y,
                stacked,
            } = b;
            let sql = match cairn_report::with_named_params(template, db, &params) {
                Ok(s) => s,
                Err(e) => {
                    // Checked by the tests for every built-in metric.
                    tracing::error!("built-in chart {id}: {e}");
                    return None;
                }
            };
            Some(Saved {
                id: format!("builtin-{id}"),
                author: CAIRN.into(),
                version: 0,
                body: Chart {
                    name: name.into(),
                    description: about.into(),
                    sql,
                    kind,
                    x: x.into(),
                    y: y.into_iter().map(String::from).collect(),
                    series: None,
                    stacked,
                },
            })
        })
        .collect()
}

fn builtin_dashboard(charts: &[Saved<Chart>]) -> Saved<Dashboard> {
    Saved {
        id: BUILTIN.into(),
        author: CAIRN.into(),
        version: 0,
        body: Dashboard {
            name: "Course overview (built-in)".into(),
            description: "Cairn's course overview: duplicate it to change it".into(),
            charts: charts.iter().map(|c| c.id.clone()).collect(),
            shared_with: vec![],
            everyone: true,
        },
    }
}

/// The objects the data lake holds plus the built-in ones.
async fn objects(app: &App) -> Result<Objects, Fail> {
    let mut o = saved::load(&app.0.ch).await.map_err(crate::internal)?;
    let charts = builtin_charts(app.0.ch.database());
    let overview = builtin_dashboard(&charts);
    o.dashboards.insert(overview.id.clone(), overview);
    for c in charts {
        o.charts.insert(c.id.clone(), c);
    }
    Ok(o)
}

/// The viewer, who must have some course to see.
async fn viewer(app: &App, headers: &HeaderMap) -> Result<Session, Fail> {
    let s = signed_in(app, headers).await?;
    if app.scope(&s.username).await?.is_empty() {
        return Err(Fail::new(
            StatusCode::FORBIDDEN,
            "your account gives you no course to see here",
        ));
    }
    Ok(s)
}

/// Whether `user` may see the chart: its author, or a viewer of a dashboard holding it.
fn chart_visible(o: &Objects, id: &str, user: &str) -> bool {
    o.charts.get(id).is_some_and(|c| c.author == user)
        || o.dashboards
            .values()
            .any(|d| d.body.visible_to(&d.author, user) && d.body.charts.iter().any(|c| c == id))
}

/// The dashboard `id` if `user` may open it (else 404, as for one that does not exist).
fn visible_dashboard<'a>(
    o: &'a Objects,
    id: &str,
    user: &str,
) -> Result<&'a Saved<Dashboard>, Fail> {
    o.dashboards
        .get(id)
        .filter(|d| d.body.visible_to(&d.author, user))
        .ok_or_else(|| not_found("dashboard"))
}

fn not_found(what: &str) -> Fail {
    Fail::new(StatusCode::NOT_FOUND, format!("no such {what}"))
}

/// The latest version of the `what` `id` in `map`, if `user` is its author (404, 403).
fn owned<T>(
    map: &BTreeMap<String, Saved<T>>,
    id: &str,
    user: &str,
    what: &str,
    action: &str,
) -> Result<u64, Fail> {
    let o = map.get(id).ok_or_else(|| not_found(what))?;
    if o.author != user {
        return Err(Fail::new(
            StatusCode::FORBIDDEN,
            format!("only its author may {action} this {what}"),
        ));
    }
    Ok(o.version)
}

/// Records the deletion of the `kind` `id`, owned by `user`.
async fn delete_owned<T>(
    app: &App,
    map: &BTreeMap<String, Saved<T>>,
    kind: &str,
    id: &str,
    user: &str,
) -> Result<Json<Value>, Fail> {
    let version = owned(map, id, user, kind, "delete")?;
    saved::record(&app.0.ch, kind, id, user, version, None)
        .await
        .map_err(crate::internal)?;
    Ok(Json(json!({ "deleted": id })))
}

/// `GET /api/saved`: the charts and dashboards the viewer may see.
pub(crate) async fn api_saved(
    State(app): State<App>,
    headers: HeaderMap,
) -> Result<Json<Value>, Fail> {
    let s = viewer(&app, &headers).await?;
    let o = objects(&app).await?;
    let u = s.username.as_str();
    let charts: Vec<&Saved<Chart>> = o
        .charts
        .values()
        .filter(|c| chart_visible(&o, &c.id, u))
        .collect();
    let dashboards: Vec<&Saved<Dashboard>> = o
        .dashboards
        .values()
        .filter(|d| d.body.visible_to(&d.author, u))
        .collect();
    Ok(Json(
        json!({ "user": u, "charts": charts, "dashboards": dashboards }),
    ))
}

/// Records a version of `body` as the `kind` `id` (a new id when none) by `user`.
async fn save<T: serde::Serialize>(
    app: &App,
    kind: &str,
    id: Option<String>,
    user: &str,
    previous: u64,
    body: &T,
) -> Result<Json<Value>, Fail> {
    let id = id.unwrap_or_else(saved::new_id);
    let body = serde_json::to_value(body).map_err(crate::internal)?;
    let version = saved::record(&app.0.ch, kind, &id, user, previous, Some(&body))
        .await
        .map_err(crate::internal)?;
    Ok(Json(json!({ "id": id, "version": version })))
}

/// A chart to save.
#[derive(Deserialize)]
pub(crate) struct SaveChart {
    /// The chart to change (its author only), or none for a new one.
    #[serde(default)]
    id: Option<String>,
    chart: Chart,
    /// Values of the query's parameters, to check its columns.
    #[serde(default)]
    params: BTreeMap<String, Value>,
}

/// `POST /api/charts`: checks the chart (its query is run as the author: the columns it
/// names must be in the result) and saves a version of it.
pub(crate) async fn api_save_chart(
    State(app): State<App>,
    headers: HeaderMap,
    Json(req): Json<SaveChart>,
) -> Result<Json<Value>, Fail> {
    let s = viewer(&app, &headers).await?;
    let bad = |e: String| Fail::new(StatusCode::BAD_REQUEST, e);
    req.chart.check().map_err(bad)?;
    let o = objects(&app).await?;
    let previous = match &req.id {
        Some(id) => owned(&o.charts, id, &s.username, "chart", "change")?,
        None => 0,
    };
    let t = run_as(&app, &s, &req.chart.sql, &req.params).await?;
    let columns: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
    req.chart.check_columns(&columns).map_err(bad)?;
    save(&app, "chart", req.id, &s.username, previous, &req.chart).await
}

/// Values of a chart's parameters.
#[derive(Deserialize, Default)]
pub(crate) struct RunChart {
    #[serde(default)]
    params: BTreeMap<String, Value>,
}

/// `POST /api/charts/{id}/run`: the chart's query, run as the viewer.
pub(crate) async fn api_run_chart(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(req): Json<RunChart>,
) -> Result<Json<Table>, Fail> {
    let s = viewer(&app, &headers).await?;
    let o = objects(&app).await?;
    if !chart_visible(&o, &id, &s.username) {
        return Err(not_found("chart"));
    }
    let chart = &o.charts[&id].body;
    Ok(Json(run_as(&app, &s, &chart.sql, &req.params).await?))
}

/// `DELETE /api/charts/{id}` (its author only; dashboards holding it skip it).
pub(crate) async fn api_delete_chart(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, Fail> {
    let s = viewer(&app, &headers).await?;
    let o = objects(&app).await?;
    delete_owned(&app, &o.charts, "chart", &id, &s.username).await
}

/// A dashboard to save.
#[derive(Deserialize)]
pub(crate) struct SaveDashboard {
    #[serde(default)]
    id: Option<String>,
    dashboard: Dashboard,
}

/// `POST /api/dashboards`: saves a version (its author only; every chart must be one the
/// author may see).
pub(crate) async fn api_save_dashboard(
    State(app): State<App>,
    headers: HeaderMap,
    Json(mut req): Json<SaveDashboard>,
) -> Result<Json<Value>, Fail> {
    let s = viewer(&app, &headers).await?;
    req.dashboard
        .check()
        .map_err(|e| Fail::new(StatusCode::BAD_REQUEST, e))?;
    let o = objects(&app).await?;
    for c in &req.dashboard.charts {
        if !chart_visible(&o, c, &s.username) {
            return Err(Fail::new(
                StatusCode::BAD_REQUEST,
                format!("chart {c:?} is not one you may use"),
            ));
        }
    }
    let previous = match &req.id {
        Some(id) => owned(&o.dashboards, id, &s.username, "dashboard", "change")?,
        None => 0,
    };
    save(
        &app,
        "dashboard",
        req.id,
        &s.username,
        previous,
        &req.dashboard,
    )
    .await
}

/// `GET /api/dashboards/{id}`: the dashboard and its charts (those still there).
pub(crate) async fn api_dashboard(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, Fail> {
    let s = viewer(&app, &headers).await?;
    let o = objects(&app).await?;
    let d = visible_dashboard(&o, &id, &s.username)?;
    let charts: Vec<&Saved<Chart>> = d
        .body
        .charts
        .iter()
        .filter_map(|c| o.charts.get(c))
        .collect();
    Ok(Json(json!({
        "dashboard": d,
        "charts": charts,
        "editable": d.author == s.username,
    })))
}

/// `DELETE /api/dashboards/{id}` (its author only).
pub(crate) async fn api_delete_dashboard(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, Fail> {
    let s = viewer(&app, &headers).await?;
    let o = objects(&app).await?;
    delete_owned(&app, &o.dashboards, "dashboard", &id, &s.username).await
}

/// `POST /api/dashboards/{id}/duplicate`: a copy of a dashboard the viewer may see, and of
/// its charts, owned by the viewer and shared with nobody.
pub(crate) async fn api_duplicate_dashboard(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, Fail> {
    let s = viewer(&app, &headers).await?;
    let o = objects(&app).await?;
    let d = visible_dashboard(&o, &id, &s.username)?;
    let mut copy = d.body.clone();
    copy.name = format!("{} (copy)", d.body.name.trim_end_matches(" (built-in)"));
    copy.shared_with.clear();
    copy.everyone = false;
    copy.charts.clear();
    for c in d.body.charts.iter().filter_map(|c| o.charts.get(c)) {
        let new = saved::new_id();
        let body = serde_json::to_value(&c.body).map_err(crate::internal)?;
        saved::record(&app.0.ch, "chart", &new, &s.username, 0, Some(&body))
            .await
            .map_err(crate::internal)?;
        copy.charts.push(new);
    }
    let new = saved::new_id();
    let body = serde_json::to_value(&copy).map_err(crate::internal)?;
    saved::record(&app.0.ch, "dashboard", &new, &s.username, 0, Some(&body))
        .await
        .map_err(crate::internal)?;
    Ok(Json(json!({ "id": new })))
}

/// `GET /dashboards`: the dashboards page (list, view, edit; all in the page's script).
pub(crate) async fn page(State(app): State<App>, headers: HeaderMap) -> Result<Response, Refused> {
    let Some(s) = app.session(&headers).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let page = app.0.pages.get_template("dashboards.html").and_then(|t| {
        t.render(minijinja::context! {
            username => s.username,
            csrf => s.csrf,
        })
    });
    page.map(|p| Html(p).into_response())
        .map_err(crate::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_chart_converts() {
        let charts = builtin_charts("openedx");
        assert_eq!(charts.len(), 6);
        for c in &charts {
            c.body.check().unwrap();
            assert!(c.body.sql.contains("{course_id:String}"), "{}", c.id);
        }
        let d = builtin_dashboard(&charts);
        assert!(d.body.visible_to(&d.author, "anyone"));
    }
}
