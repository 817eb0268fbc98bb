//! `cairn serve`: the course overview in a browser. Sign-in with the LMS (OAuth2, see
//! [`sso`]) or with the users `cairn createuser` records; every request is checked on
//! the server against the courses
//! cairn-acl allows the user (LMS roles plus manual grants); learner identities (the
//! at-risk list) only for users allowed to see them.
//!
//! Sessions are random 256-bit tokens held in memory, sent in an `HttpOnly`, `Secure`,
//! `SameSite=Strict` cookie; the two forms (sign-in, sign-out) carry a CSRF token checked
//! against a cookie (sign-in) or the session (sign-out); no secret ever goes in a URL. A
//! session lasts while its user's login record is the one it signed in with (a new
//! `cairn createuser` of the user ends it); repeated failed sign-ins lock the username
//! for a while.

#![warn(missing_docs)]

mod assets;
mod boards;
pub mod cli;
pub mod explorer;
pub mod saved;
mod session;
pub mod sso;
mod throttle;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use cairn_acl::rights::Scope;
use cairn_core::ClickHouse;
use cairn_core::config::MysqlConfig;
use cairn_report::{Format, Range};
use chrono::NaiveDate;
use serde::Deserialize;
use tokio::sync::Mutex;

pub use session::{SESSION_COOKIE, Session};
pub use sso::Sso;

/// How the dashboard runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seconds between the page's automatic refreshes.
    pub refresh_seconds: u32,
    /// How long rights read from the LMS are reused before being read again.
    pub rights_ttl: Duration,
    /// Idle time after which a session ends.
    pub session_idle: Duration,
    /// Sign-in attempts of one username without a success after which its sign-ins are
    /// refused...
    pub login_attempts: u32,
    /// ...until this long after the first of them.
    pub login_lockout: Duration,
    /// Sign-in with the LMS (OAuth2), when configured.
    pub sso: Option<Arc<Sso>>,
    /// Whether users of `cairn createuser` may sign in with their password.
    pub password_signin: bool,
    /// The SQL explorer.
    pub explorer: explorer::ExplorerOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            refresh_seconds: 30,
            rights_ttl: Duration::from_secs(10),
            session_idle: Duration::from_secs(8 * 3600),
            login_attempts: 5,
            login_lockout: Duration::from_secs(15 * 60),
            sso: None,
            password_signin: true,
            explorer: explorer::ExplorerOptions::default(),
        }
    }
}

/// Where rights come from.
#[derive(Clone)]
pub enum RightsSource {
    /// Read with cairn-acl from the LMS database and `_acl_grants`.
    Lms(MysqlConfig),
}

/// What is read from the LMS and the data lake per user, reread every `rights_ttl`.
struct RightsCache {
    at: Option<Instant>,
    rights: BTreeMap<String, Scope>,
    /// The latest login record's version of every user whose sign-in is enabled.
    logins: BTreeMap<String, u64>,
}

struct Inner {
    ch: ClickHouse,
    source: RightsSource,
    options: Options,
    sessions: session::Store,
    throttle: throttle::Throttle,
    rights: Mutex<RightsCache>,
    pages: minijinja::Environment<'static>,
    /// HTTP client of the explorer's queries (each signed in as its user).
    http: reqwest::Client,
}

/// The dashboard's shared state.
#[derive(Clone)]
pub struct App(Arc<Inner>);

impl App {
    /// A dashboard over a data lake.
    pub fn new(ch: ClickHouse, source: RightsSource, options: Options) -> App {
        App(Arc::new(Inner {
            ch,
            source,
            sessions: session::Store::new(options.session_idle),
            throttle: throttle::Throttle::new(options.login_attempts, options.login_lockout),
            options,
            rights: Mutex::new(RightsCache {
                at: None,
                rights: BTreeMap::new(),
                logins: BTreeMap::new(),
            }),
            pages: assets::pages(),
            http: reqwest::Client::new(),
        }))
    }

    /// The rights and logins, reread when older than `rights_ttl`.
    async fn current(&self) -> Result<tokio::sync::MutexGuard<'_, RightsCache>, Refused> {
        let mut cache = self.0.rights.lock().await;
        let fresh = cache
            .at
            .is_some_and(|t| t.elapsed() < self.0.options.rights_ttl);
        if !fresh {
            let RightsSource::Lms(mysql) = &self.0.source;
            let read = tokio::try_join!(
                cairn_acl::sync::desired(&self.0.ch, mysql),
                cairn_acl::logins::login_versions(&self.0.ch),
            );
            match read {
                Ok((rights, logins)) => {
                    cache.rights = rights;
                    cache.logins = logins;
                    cache.at = Some(Instant::now());
                }
                Err(e) => {
                    tracing::error!("reading access rights (LMS roles, sign-ins) failed: {e}");
                    return Err(error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "access rights cannot be read right now",
                    ));
                }
            }
        }
        Ok(cache)
    }

    /// The user's scope now (LMS roles and manual grants).
    async fn scope(&self, username: &str) -> Result<Scope, Refused> {
        Ok(self
            .current()
            .await?
            .rights
            .get(username)
            .cloned()
            .unwrap_or_else(Scope::none))
    }

    /// The request's session, if it is live: known, not idle, and its user's login record
    /// still the one it signed in with (otherwise it is ended).
    async fn session(&self, headers: &HeaderMap) -> Result<Option<Session>, Refused> {
        let Some(s) = self.0.sessions.lookup(headers) else {
            return Ok(None);
        };
        let live = match s.login_version {
            // A password sign-in lasts while its login record is the latest.
            Some(v) => self.current().await?.logins.get(&s.username) == Some(&v),
            // A sign-in with the LMS: what it may see is checked on every request.
            None => true,
        };
        if live {
            Ok(Some(s))
        } else {
            self.0.sessions.remove(&s.token);
            Ok(None)
        }
    }

    /// The router: pages, JSON API, CSV exports and assets.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(index))
            .route("/login", get(login_page).post(login))
            .route("/login/lms", get(lms_start))
            .route("/login/lms/callback", get(lms_callback))
            .route("/logout", post(logout))
            .route("/api/courses", get(api_courses))
            .route("/api/overview", get(api_overview))
            .route("/api/video-curve", get(api_video_curve))
            .route("/api/at-risk", get(api_at_risk))
            .route("/api/learners", get(api_learners))
            .route("/api/problems", get(api_problems))
            .route("/api/navigation", get(api_navigation))
            .route("/api/forums", get(api_forums))
            .route("/api/hours", get(api_hours))
            .route("/api/funnel", get(api_funnel))
            .route("/api/retention", get(api_retention))
            .route("/api/compare", get(api_compare))
            .route("/learner", get(learner_page))
            .route("/platform", get(platform_page))
            .route("/api/platform", get(api_platform))
            .route("/api/learner", get(api_learner))
            .route("/export/compare.csv", get(export_compare))
            .route("/api/answers", get(api_answers))
            .route("/export/{file}", get(export))
            .route("/explore", get(explorer::page))
            .route("/api/query", post(explorer::api_query))
            .route("/api/query.csv", post(explorer::api_query_csv))
            .route("/api/schema", get(explorer::api_schema))
            .route("/api/explorer/connection", get(explorer::api_connection))
            .route("/dashboards", get(boards::page))
            .route("/api/saved", get(boards::api_saved))
            .route("/api/charts", post(boards::api_save_chart))
            .route(
                "/api/charts/{id}",
                axum::routing::delete(boards::api_delete_chart),
            )
            .route("/api/charts/{id}/run", post(boards::api_run_chart))
            .route("/api/dashboards", post(boards::api_save_dashboard))
            .route(
                "/api/dashboards/{id}",
                get(boards::api_dashboard).delete(boards::api_delete_dashboard),
            )
            .route(
                "/api/dashboards/{id}/duplicate",
                post(boards::api_duplicate_dashboard),
            )
            .route("/assets/{file}", get(assets::serve))
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .layer(axum::middleware::map_response(security_headers))
            .layer(axum::middleware::from_fn(log_refusals))
            .layer(compression())
            .with_state(self.clone())
    }
}

/// gzip for the clients that accept it, for data (JSON, CSV, scripts): a course's roster
/// or a long CSV is several MB. Never for pages, which hold the sign-in's CSRF token beside
/// what the request put there (a compressed page's size could leak the token: BREACH).
fn compression()
-> tower_http::compression::CompressionLayer<impl tower_http::compression::Predicate> {
    use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
    // The fastest level: most of the ratio (JSON repeats its keys) for little CPU.
    tower_http::compression::CompressionLayer::new()
        .quality(tower_http::CompressionLevel::Fastest)
        .compress_when(DefaultPredicate::new().and(NotForContentType::const_new("text/html")))
}

/// Logs every refused or failed request (status 400 and up): method, path (never the query
/// string or a header, where secrets could be) and the refusal's reason.
async fn log_refusals(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let r = next.run(req).await;
    let status = r.status();
    if status.is_client_error() || status.is_server_error() {
        let reason = r.extensions().get::<Refused>().map_or("", |f| f.1);
        if status.is_server_error() {
            tracing::error!(%method, path, status = status.as_u16(), reason, "request failed");
        } else {
            tracing::warn!(%method, path, status = status.as_u16(), reason, "request refused");
        }
    }
    r
}

/// The Content-Security-Policy of every page, with `style` as its style sources.
fn csp(style: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self'; style-src {style}; img-src 'self' data:; \
         connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
}

async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    // A page may set its own (the explorer's lets its editor's styles in by a nonce).
    if !h.contains_key(header::CONTENT_SECURITY_POLICY)
        && let Ok(v) = HeaderValue::from_str(&csp("'self'"))
    {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "no-referrer");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    r
}

/// A refused or failed request: its status and a short message, as JSON.
#[derive(Debug, Clone, Copy)]
struct Refused(StatusCode, &'static str);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let mut r = (
            self.0,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({ "error": self.1 }).to_string(),
        )
            .into_response();
        r.extensions_mut().insert(self);
        r
    }
}

fn error(status: StatusCode, message: &'static str) -> Refused {
    Refused(status, message)
}

fn internal(e: impl std::fmt::Display) -> Refused {
    tracing::error!("{e}");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the data lake query failed",
    )
}

/// The signed-in viewer of an API request, or 401.
async fn viewer(app: &App, headers: &HeaderMap) -> Result<Session, Refused> {
    app.session(headers)
        .await?
        .ok_or_else(|| error(StatusCode::UNAUTHORIZED, "sign in first"))
}

/// Checks that the viewer may see the course (400 for a malformed key, 403 otherwise).
async fn allow_course(app: &App, viewer: &Session, course_id: &str) -> Result<(), Refused> {
    if cairn_core::CourseKey::parse(course_id).is_err() {
        return Err(error(StatusCode::BAD_REQUEST, "not a course key"));
    }
    if app.scope(&viewer.username).await?.allows(course_id) {
        Ok(())
    } else {
        Err(error(
            StatusCode::FORBIDDEN,
            "this course is not yours to see",
        ))
    }
}

async fn index(State(app): State<App>, headers: HeaderMap) -> Result<Response, Refused> {
    let Some(s) = app.session(&headers).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let scope = app.scope(&s.username).await?;
    if scope.is_empty() {
        return Ok(message_page(
            &app,
            StatusCode::FORBIDDEN,
            Page {
                title: "No course to show",
                message: &format!(
                    "Your account {} gives you no course to see here. Cairn shows a course to its staff, instructors and data researchers in the LMS: ask your Open edX administrator for a role in your course.",
                    s.username
                ),
                signout_csrf: Some(&s.csrf),
                ..Page::default()
            },
        ));
    }
    let page = app.0.pages.get_template("index.html").and_then(|t| {
        t.render(minijinja::context! {
            username => s.username,
            csrf => s.csrf,
            refresh => app.0.options.refresh_seconds,
            identities => s.identities,
            platform => matches!(scope, Scope::All),
        })
    });
    page.map(|p| Html(p).into_response()).map_err(internal)
}

fn login_form(app: &App, status: StatusCode, message: &str) -> Response {
    let csrf = session::token();
    let page = app.0.pages.get_template("login.html").and_then(|t| {
        t.render(minijinja::context! {
            csrf => &csrf,
            message => message,
            passwords => app.0.options.password_signin,
            lms => app.0.options.sso.as_ref().map(|s| s.lms_host()),
        })
    });
    match page {
        Ok(p) => (
            status,
            [(header::SET_COOKIE, session::login_csrf_cookie(&csrf))],
            Html(p),
        )
            .into_response(),
        Err(e) => internal(e).into_response(),
    }
}

/// Liveness, for orchestrators: the process serves requests (nothing else is checked, so a
/// ClickHouse outage does not get the dashboard restarted).
async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness, for orchestrators and proxies: ClickHouse answers within 2 s; otherwise 503
/// (the reason is logged, not shown).
async fn readyz(State(app): State<App>) -> Response {
    let reason =
        match tokio::time::timeout(std::time::Duration::from_secs(2), app.0.ch.ping()).await {
            Ok(Ok(())) => return (StatusCode::OK, "ready\n").into_response(),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "no answer within 2 s".to_owned(),
        };
    tracing::warn!("not ready: ClickHouse: {reason}");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "not ready: ClickHouse does not answer\n",
    )
        .into_response()
}

async fn login_page(State(app): State<App>) -> Response {
    login_form(&app, StatusCode::OK, "")
}

/// The sign-in form.
#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

async fn login(State(app): State<App>, headers: HeaderMap, Form(f): Form<LoginForm>) -> Response {
    if !app.0.options.password_signin {
        return login_form(
            &app,
            StatusCode::FORBIDDEN,
            "Password sign-in is turned off here: sign in with the LMS.",
        );
    }
    let expected = session::cookie(&headers, session::LOGIN_CSRF_COOKIE);
    if !expected.is_some_and(|c| session::same(&c, &f.csrf)) {
        return login_form(
            &app,
            StatusCode::FORBIDDEN,
            "The form expired; please sign in again.",
        );
    }
    if let Err(left) = app.0.throttle.attempt(&f.username) {
        let minutes = left.as_secs().div_ceil(60).max(1);
        tracing::warn!("sign-in of {:?} refused: too many failures", f.username);
        return login_form(
            &app,
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many failed sign-ins for this user; try again in {minutes} min."),
        );
    }
    match cairn_acl::logins::check_login(&app.0.ch, &f.username, &f.password).await {
        Ok(Some(login)) => {
            app.0.throttle.succeeded(&f.username);
            let s =
                app.0
                    .sessions
                    .create(&login.username, login.identities, Some(login.version), None);
            let mut r = Redirect::to("/").into_response();
            let h = r.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&session::session_cookie(&s.token)) {
                h.append(header::SET_COOKIE, v);
            }
            h.append(
                header::SET_COOKIE,
                HeaderValue::from_static(session::CLEAR_LOGIN_CSRF),
            );
            r
        }
        Ok(None) => login_form(
            &app,
            StatusCode::UNAUTHORIZED,
            "Wrong username or password.",
        ),
        Err(e) => internal(e).into_response(),
    }
}

/// The sign-out form.
#[derive(Deserialize)]
struct LogoutForm {
    csrf: String,
}

async fn logout(State(app): State<App>, headers: HeaderMap, Form(f): Form<LogoutForm>) -> Response {
    // An ended session signs out too: only the idle check matters here.
    let Some(s) = app.0.sessions.lookup(&headers) else {
        return Redirect::to("/login").into_response();
    };
    if !session::same(&s.csrf, &f.csrf) {
        return error(StatusCode::FORBIDDEN, "bad CSRF token").into_response();
    }
    app.0.sessions.remove(&s.token);
    if let (Some(token), Some(sso)) = (&s.lms_token, &app.0.options.sso) {
        sso.revoke(token).await;
        let logout = format!("{}/logout", sso.lms_url());
        let mut r = message_page(
            &app,
            StatusCode::OK,
            Page {
                title: "Signed out",
                message: "You are signed out of Cairn. You are still signed in to the LMS.",
                link: Some((&logout, "Sign out of the LMS too")),
                ..Page::default()
            },
        );
        r.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_static(session::CLEAR_SESSION),
        );
        return r;
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/login"),
            (header::SET_COOKIE, session::CLEAR_SESSION),
        ],
    )
        .into_response()
}

/// A page with a title and a message (errors of the sign-in with the LMS, no course,
/// signed out), optionally a sign-out button, a link, or an immediate move to another page.
#[derive(Default)]
struct Page<'a> {
    title: &'a str,
    message: &'a str,
    signout_csrf: Option<&'a str>,
    link: Option<(&'a str, &'a str)>,
    refresh_to: Option<&'a str>,
}

fn message_page(app: &App, status: StatusCode, p: Page<'_>) -> Response {
    let page = app.0.pages.get_template("message.html").and_then(|t| {
        t.render(minijinja::context! {
            title => p.title,
            message => p.message,
            signout_csrf => p.signout_csrf,
            link => p.link.map(|l| l.0),
            link_text => p.link.map(|l| l.1),
            refresh_to => p.refresh_to,
        })
    });
    match page {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => internal(e).into_response(),
    }
}

/// "Sign in with the LMS": a new flow, its `state` in a cookie, the browser to the LMS.
async fn lms_start(State(app): State<App>) -> Response {
    let Some(sso) = &app.0.options.sso else {
        return error(
            StatusCode::NOT_FOUND,
            "sign-in with the LMS is not configured",
        )
        .into_response();
    };
    let (url, state) = sso.start();
    let mut r = Redirect::to(&url).into_response();
    if let Ok(v) = HeaderValue::from_str(&session::sso_state_cookie(&state)) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// The LMS's answer.
#[derive(Deserialize)]
struct Callback {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

/// The callback: the `state` must be this browser's and a live flow's; then the code is
/// exchanged, the user read from the LMS, and a dashboard session made. Every failure is
/// a page that says what happened, a log line, and no session.
async fn lms_callback(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<Callback>,
) -> Response {
    let Some(sso) = app.0.options.sso.clone() else {
        return error(
            StatusCode::NOT_FOUND,
            "sign-in with the LMS is not configured",
        )
        .into_response();
    };
    let browser_state = session::cookie(&headers, session::SSO_STATE_COOKIE);
    let state = q.state.unwrap_or_default();
    let result = if browser_state.is_some_and(|b| session::same(&b, &state)) && !state.is_empty() {
        sso.finish(&state, q.code.as_deref(), q.error.as_deref())
            .await
    } else {
        Err(sso::SsoError::State)
    };
    let mut r = match result {
        Ok(who) => match cairn_acl::logins::may_identify(&app.0.ch, &who.username).await {
            Ok(identities) => {
                tracing::info!(username = who.username, "signed in with the LMS");
                let s =
                    app.0
                        .sessions
                        .create(&who.username, identities, None, Some(who.access_token));
                // A page of ours moves on to the dashboard: the SameSite=Strict session
                // cookie is sent on that same-site navigation, not on a redirect chain
                // that began at the LMS.
                let mut r = message_page(
                    &app,
                    StatusCode::OK,
                    Page {
                        title: "Signed in",
                        message: "Opening the dashboard…",
                        link: Some(("/", "Open the dashboard")),
                        refresh_to: Some("/"),
                        ..Page::default()
                    },
                );
                if let Ok(v) = HeaderValue::from_str(&session::session_cookie(&s.token)) {
                    r.headers_mut().append(header::SET_COOKIE, v);
                }
                r
            }
            Err(e) => {
                // No session: the LMS's token goes back.
                sso.revoke(&who.access_token).await;
                internal(e).into_response()
            }
        },
        Err(e) => {
            if e.status() >= 500 {
                tracing::error!(status = e.status(), "sign-in with the LMS failed: {e}");
            } else {
                tracing::warn!(status = e.status(), "sign-in with the LMS refused: {e}");
            }
            message_page(
                &app,
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_GATEWAY),
                Page {
                    title: "Sign-in failed",
                    message: e.message(),
                    link: Some(("/login", "Back to the sign-in page")),
                    ..Page::default()
                },
            )
        }
    };
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static(session::CLEAR_SSO_STATE),
    );
    r
}

async fn api_courses(State(app): State<App>, headers: HeaderMap) -> Result<Response, Refused> {
    let v = viewer(&app, &headers).await?;
    let scope = app.scope(&v.username).await?;
    let all = cairn_report::courses(&app.0.ch).await.map_err(internal)?;
    let lake_empty = all.is_empty();
    let mine: Vec<String> = all.into_iter().filter(|c| scope.allows(c)).collect();
    let names = cairn_report::course_names(&app.0.ch, &mine)
        .await
        .map_err(internal)?;
    // Why the list is empty, for the page to say: the data lake holds no course (said to
    // those who may see every course only), or none of the user's courses is in it yet.
    let empty = match (mine.is_empty(), lake_empty && matches!(scope, Scope::All)) {
        (false, _) => None,
        (true, true) => Some("lake"),
        (true, false) => Some("yours"),
    };
    Ok(axum::Json(serde_json::json!({
        "username": v.username,
        "identities": v.identities,
        "courses": mine,
        "names": names,
        "empty": empty,
    }))
    .into_response())
}

/// Query parameters of the course endpoints.
#[derive(Deserialize)]
struct CourseQuery {
    course_id: String,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    video_id: Option<String>,
    problem_id: Option<String>,
    user_id: Option<u64>,
    days: Option<u32>,
    tz: Option<String>,
}

impl CourseQuery {
    /// `from` through `to`, both included (the dashboard's "From" and "To").
    fn range(&self) -> Result<Range, Refused> {
        day_range(self.from, self.to)
    }

    /// The time zone of the hours of the week (`tz`, an IANA name); UTC when absent.
    fn tz(&self) -> Result<chrono_tz::Tz, Refused> {
        match &self.tz {
            None => Ok(chrono_tz::UTC),
            Some(name) => cairn_report::time_zone(name).map_err(|_| {
                error(
                    StatusCode::BAD_REQUEST,
                    "unknown time zone (tz): give an IANA name such as UTC or Europe/Paris",
                )
            }),
        }
    }
}

/// `from` through `to`, both included, each defaulting to the last 8 ISO weeks' ends; at
/// most ten years.
fn day_range(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<Range, Refused> {
    let default = Range::last_weeks(chrono::Utc::now().date_naive(), 8);
    let r = Range::through(from.unwrap_or(default.from), to.unwrap_or(default.last()));
    match r {
        Some(r) if (r.to - r.from).num_days() <= 3660 => Ok(r),
        _ => Err(error(StatusCode::BAD_REQUEST, "bad date range")),
    }
}

/// The viewer, after checking the course: the common head of the course endpoints.
async fn course_viewer(
    app: &App,
    headers: &HeaderMap,
    q: &CourseQuery,
) -> Result<Session, Refused> {
    let v = viewer(app, headers).await?;
    allow_course(app, &v, &q.course_id).await?;
    Ok(v)
}

async fn api_overview(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<CourseQuery>,
) -> Result<Response, Refused> {
    course_viewer(&app, &headers, &q).await?;
    let o = cairn_report::overview(&app.0.ch, &q.course_id, q.range()?)
        .await
        .map_err(internal)?;
    Ok(axum::Json(o).into_response())
}

async fn api_video_curve(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<CourseQuery>,
) -> Result<Response, Refused> {
    course_viewer(&app, &headers, &q).await?;
    let rows = video_curve_rows(&app, &q).await?;
    Ok(axum::Json(rows).into_response())
}

async fn video_curve_rows(
    app: &App,
    q: &CourseQuery,
) -> Result<Vec<cairn_report::VideoSecond>, Refused> {
    let video = q
        .video_id
        .as_deref()
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "video_id is missing"))?;
    cairn_report::video_curve(&app.0.ch, &q.course_id, video, q.range()?)
        .await
        .map_err(internal)
}

/// Query parameters of the course comparison.
#[derive(Deserialize)]
struct CompareQuery {
    org: Option<String>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    sort: Option<String>,
}

/// The comparison of the courses the viewer may see (of `org` when given), sorted.
async fn compare_rows(
    app: &App,
    headers: &HeaderMap,
    q: &CompareQuery,
) -> Result<Vec<cairn_report::CourseComparison>, Refused> {
    let v = viewer(app, headers).await?;
    let scope = app.scope(&v.username).await?;
    let range = day_range(q.from, q.to)?;
    // The CLI's names (`pass-rate`, `time-spent`, …).
    let sort = <cairn_report::CompareSort as clap::ValueEnum>::from_str(
        q.sort.as_deref().unwrap_or("course"),
        false,
    )
    .map_err(|_| error(StatusCode::BAD_REQUEST, "unknown sort"))?;
    let all = cairn_report::courses(&app.0.ch).await.map_err(internal)?;
    let mine: Vec<String> = all
        .into_iter()
        .filter(|c| scope.allows(c))
        .filter(|c| q.org.as_deref().is_none_or(|o| cairn_report::in_org(c, o)))
        .collect();
    let mut rows = cairn_report::compare(&app.0.ch, &mine, chrono::Utc::now().naive_utc(), range)
        .await
        .map_err(internal)?;
    sort.apply(&mut rows);
    Ok(rows)
}

async fn api_compare(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<CompareQuery>,
) -> Result<Response, Refused> {
    Ok(axum::Json(compare_rows(&app, &headers, &q).await?).into_response())
}

async fn export_compare(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<CompareQuery>,
) -> Result<Response, Refused> {
    let rows = compare_rows(&app, &headers, &q).await?;
    Ok(csv_download(
        "courses-compare.csv",
        cairn_report::format_rows(&rows, Format::Csv),
    ))
}

/// A CSV body as a download named `filename` (already safe).
fn csv_download(filename: &str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// The learner page: its data comes from /api/learner, which checks every right.
async fn learner_page(State(app): State<App>, headers: HeaderMap) -> Result<Response, Refused> {
    shell_page(&app, &headers, "learner.html").await
}

/// The platform page: its data comes from /api/platform, for global staff only.
async fn platform_page(State(app): State<App>, headers: HeaderMap) -> Result<Response, Refused> {
    shell_page(&app, &headers, "platform.html").await
}

/// The platform: activity, most active courses, ingestion and freshness. Global staff
/// only (those who may see every course).
async fn api_platform(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<CompareQuery>,
) -> Result<Response, Refused> {
    let v = viewer(&app, &headers).await?;
    if !matches!(app.scope(&v.username).await?, Scope::All) {
        return Err(error(
            StatusCode::FORBIDDEN,
            "the platform view is for global staff",
        ));
    }
    let range = day_range(q.from, q.to)?;
    let p = cairn_report::platform(&app.0.ch, range, chrono::Utc::now().naive_utc(), 10)
        .await
        .map_err(internal)?;
    Ok(axum::Json(p).into_response())
}

/// A page whose data its script fetches (each API call checks the rights): the viewer's
/// name and sign-out form, or the sign-in page.
async fn shell_page(app: &App, headers: &HeaderMap, name: &str) -> Result<Response, Refused> {
    let Some(s) = app.session(headers).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let page = app.0.pages.get_template(name).and_then(|t| {
        t.render(minijinja::context! {
            username => s.username,
            csrf => s.csrf,
        })
    });
    page.map(|p| Html(p).into_response()).map_err(internal)
}

/// One learner in one course: the course must be the viewer's, and identities theirs to see.
async fn api_learner(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<CourseQuery>,
) -> Result<Response, Refused> {
    identities_viewer(&app, &headers, &q).await?;
    let user = q
        .user_id
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "user_id is missing"))?;
    let view = cairn_report::learner(&app.0.ch, &q.course_id, user, q.range()?)
        .await
        .map_err(internal)?;
    if view.summary.is_none() {
        return Err(error(StatusCode::NOT_FOUND, "no such learner"));
    }
    Ok(axum::Json(view).into_response())
}

/// A course endpoint's JSON: the viewer and the course checked, then `run` on the data
/// lake with the course and the range.
async fn course_json<T, F, Fut>(
    app: &App,
    headers: &HeaderMap,
    q: &CourseQuery,
    run: F,
) -> Result<Response, Refused>
where
    T: serde::Serialize,
    F: FnOnce(cairn_core::ClickHouse, String, Range) -> Fut,
    Fut: std::future::Future<Output = cairn_core::Result<T>>,
{
    course_viewer(app, headers, q).await?;
    let out = run(app.0.ch.clone(), q.course_id.clone(), q.range()?)
        .await
        .map_err(internal)?;
    Ok(axum::Json(out).into_response())
}

async fn api_forums(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<CourseQuery>,
) -> Result<Response, Refused> {
    course_json(&app, &headers, &q, |ch, c, r| async move {
        cairn_report::forums(&ch, &c, r, 10).await
    })
    .await
}

async fn api_funnel(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<CourseQuery>,
) -> Result<Response, Refused> {
    course_json(&app, &headers, &q, |ch, c, r| async move {
        cairn_report::funnel(&ch, &c, r).await
    })
    .await
}

async fn api_retention(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<CourseQuery>,
) -> Result<Response, Refused> {
    course_json(&app, &headers, &q, |ch, c, r| async move {
        cairn_report::retention(&ch, &c, r).await
    })
    .await
}

async fn api_hours(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<CourseQuery>,
) -> Result<Response, Refused> {
    let tz = q.tz()?;
    course_json(&app, &headers, &q, |ch, c, r| async move {
        cairn_report::activity_hours(&ch, &c, r, tz).await
    })
    .await
}

async fn api_navigation(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<CourseQuery>,
) -> Result<Response, Refused> {
    course_json(&app, &headers, &q, |ch, c, r| async move {
        cairn_report::navigation(&ch, &c, r).await
    })
    .await
}

async fn api_problems(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<CourseQuery>,
) -> Result<Response, Refused> {
    course_json(&app, &headers, &q, |ch, c, r| async move {
        cairn_report::problems(&ch, &c, r).await
    })
    .await
}

/// The course's answer distribution, or one problem's (`problem_id`: only the course's
/// problems can match, since the query is the course's).
async fn answer_rows(
    app: &App,
    q: &CourseQuery,
) -> Result<Vec<cairn_report::AnswerCount>, Refused> {
    let mut rows = cairn_report::answers(&app.0.ch, &q.course_id, q.range()?)
        .await
        .map_err(internal)?;
    if let Some(p) = q.problem_id.as_deref().filter(|p| !p.is_empty()) {
        rows.retain(|r| r.problem_id == p);
    }
    Ok(rows)
}

async fn api_answers(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<CourseQuery>,
) -> Result<Response, Refused> {
    course_viewer(&app, &headers, &q).await?;
    Ok(axum::Json(answer_rows(&app, &q).await?).into_response())
}

async fn at_risk_rows(
    app: &App,
    headers: &HeaderMap,
    q: &CourseQuery,
) -> Result<Vec<cairn_report::AtRisk>, Refused> {
    identities_viewer(app, headers, q).await?;
    let days = q.days.unwrap_or(7).clamp(1, 3650);
    cairn_report::at_risk(
        &app.0.ch,
        &q.course_id,
        chrono::Utc::now().naive_utc(),
        days,
    )
    .await
    .map_err(internal)
}

/// [`course_viewer`] for what shows learner identities: refused to users without them.
async fn identities_viewer(app: &App, headers: &HeaderMap, q: &CourseQuery) -> Result<(), Refused> {
    let v = course_viewer(app, headers, q).await?;
    if !v.identities {
        return Err(error(
            StatusCode::FORBIDDEN,
            "learner identities are not yours to see",
        ));
    }
    Ok(())
}

/// The course's roster ([`cairn_report::learners`]): identities only.
async fn learner_rows(
    app: &App,
    headers: &HeaderMap,
    q: &CourseQuery,
) -> Result<Vec<cairn_report::CourseLearner>, Refused> {
    identities_viewer(app, headers, q).await?;
    cairn_report::learners(&app.0.ch, &q.course_id, q.range()?)
        .await
        .map_err(internal)
}

async fn api_learners(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<CourseQuery>,
) -> Result<Response, Refused> {
    let rows = learner_rows(&app, &headers, &q).await?;
    Ok(axum::Json(rows).into_response())
}

async fn api_at_risk(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<CourseQuery>,
) -> Result<Response, Refused> {
    let rows = at_risk_rows(&app, &headers, &q).await?;
    Ok(axum::Json(rows).into_response())
}

/// CSV exports: `/export/{name}.csv` for each name of [`EXPORTS`].
async fn export(
    State(app): State<App>,
    headers: HeaderMap,
    axum::extract::Path(file): axum::extract::Path<String>,
    Query(q): Query<CourseQuery>,
) -> Result<Response, Refused> {
    fn csv<T: cairn_report::Columns>(rows: cairn_core::Result<Vec<T>>) -> Result<String, Refused> {
        rows.map(|r| cairn_report::format_rows(&r, Format::Csv))
            .map_err(internal)
    }
    let name = file
        .strip_suffix(".csv")
        .filter(|n| EXPORTS.contains(n))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "no such export"))?;
    let (ch, course) = (&app.0.ch, q.course_id.as_str());
    let body = if name == "at-risk" {
        csv(Ok(at_risk_rows(&app, &headers, &q).await?))?
    } else if name == "learners" {
        csv(Ok(learner_rows(&app, &headers, &q).await?))?
    } else {
        course_viewer(&app, &headers, &q).await?;
        let range = q.range()?;
        match name {
            "weekly" => csv(cairn_report::weekly_engagement(ch, course, range).await)?,
            "progress" => csv(cairn_report::course_progress(ch, course).await)?,
            "grades" => csv(cairn_report::grade_distribution(ch, course).await)?,
            "demographics" => csv(cairn_report::demographics(ch, course, range).await)?,
            "videos" => csv(cairn_report::video_engagement(ch, course, range).await)?,
            "navigation" => csv(cairn_report::navigation(ch, course, range).await)?,
            "forums" => csv(cairn_report::forums(ch, course, range, 10)
                .await
                .map(|f| f.weeks))?,
            "forum-threads" => csv(cairn_report::forums(ch, course, range, 10)
                .await
                .map(|f| f.threads))?,
            "problems" => csv(cairn_report::problems(ch, course, range).await)?,
            "hours" => csv(cairn_report::activity_hours(ch, course, range, q.tz()?).await)?,
            "funnel" => csv(cairn_report::funnel(ch, course, range)
                .await
                .map(|f| vec![f]))?,
            "retention" => csv(cairn_report::retention(ch, course, range).await)?,
            "answers" => csv(Ok(answer_rows(&app, &q).await?))?,
            _ => csv(Ok(video_curve_rows(&app, &q).await?))?,
        }
    };
    let key = cairn_core::CourseKey::parse(course)
        .map(|k| format!("{}-{}-{}", k.org(), k.course(), k.run()))
        .unwrap_or_default();
    let filename: String = format!("{key}-{name}.csv")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(csv_download(&filename, body))
}

/// The CSV exports, by name.
pub const EXPORTS: &[&str] = &[
    "weekly",
    "progress",
    "grades",
    "demographics",
    "videos",
    "video-curve",
    "navigation",
    "forums",
    "forum-threads",
    "hours",
    "funnel",
    "retention",
    "problems",
    "answers",
    "at-risk",
    "learners",
];

/// Serves the dashboard until SIGINT or SIGTERM, then finishes the requests under way.
///
/// In a container `cairn serve` is process 1, which has no default action for SIGTERM:
/// without this, `docker stop` and Kubernetes would wait their grace period and kill it.
pub async fn serve(app: App, listen: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, app.router())
        .with_graceful_shutdown(stop_signal())
        .await
}

/// Resolves at the first SIGINT or SIGTERM.
async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut t) => {
                t.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    tracing::info!("cairn serve: stopping (finishing the requests under way)");
}
