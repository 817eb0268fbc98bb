//! A deterministic, realistic Tutor-format tracking log and the matching LMS seed.
//!
//! From a seed, N learners, M courses and D days: enrollments, then per learner and day a
//! session of navigation, video (play/pause/seek/stop with positions), problem submissions
//! (server `problem_check`, `edx.grades.problem.submitted`), block completion and
//! subsection grades, written in Tutor's `standard` format in time order, with a few bad
//! lines mixed in (as real logs have). The LMS seed holds the users, profiles,
//! enrollments, course grades and completions consistent with the events, as SQL for
//! MariaDB/MySQL. `truth.json` records what was generated, for tests.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::json;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Random seed: the same spec gives the same files.
    pub seed: u64,
    /// Number of learners.
    pub learners: u32,
    /// Number of courses.
    pub courses: u32,
    /// Number of days.
    pub days: u32,
    /// First day (UTC).
    pub start: NaiveDate,
    /// One bad line (truncated JSON or a Django warning) per this many events; 0 for none.
    pub bad_every: u64,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            seed: 42,
            learners: 100,
            courses: 2,
            days: 14,
            start: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap_or_default(),
            bad_every: 1000,
        }
    }
}

/// Ground truth of a generated dataset.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Truth {
    /// Events written (good lines).
    pub events: u64,
    /// Bad lines written.
    pub bad_lines: u64,
    /// Events per course.
    pub events_per_course: BTreeMap<String, u64>,
    /// Events per name.
    pub events_per_name: BTreeMap<String, u64>,
    /// Enrollments per course.
    pub enrollments_per_course: BTreeMap<String, u64>,
    /// Learners with at least one event, per course.
    pub active_learners_per_course: BTreeMap<String, u64>,
    /// Per course, per ISO week (its Monday, `YYYY-MM-DD`): learners active, learners who
    /// played a video, learners who submitted a problem, and learners enrolled by the week's
    /// end.
    pub weekly: BTreeMap<String, BTreeMap<String, WeekTruth>>,
    /// Every event written, in log order (for tests that derive metrics themselves; not
    /// in `truth.json`).
    #[serde(skip)]
    pub log: Vec<LogFact>,
    /// Every video segment watched: a play up to the pause, stop or seek that ended it.
    #[serde(skip)]
    pub segments: Vec<SegmentFact>,
    /// Per learner id: `(username, email, gender code, level-of-education code)` as seeded.
    #[serde(skip)]
    pub learners: BTreeMap<u32, (String, String, String, String)>,
    /// Enrollments as seeded (all active): `(learner, course, time)`.
    #[serde(skip)]
    pub enrollments: Vec<(u32, String, DateTime<Utc>)>,
    /// Course grades as seeded: `(learner, course) → (percent 0..1, passed)`.
    #[serde(skip)]
    pub grades: BTreeMap<(u32, String), (f64, bool)>,
    /// Block completions as seeded: `(learner, course, block key)`.
    #[serde(skip)]
    pub completions: Vec<(u32, String, String)>,
}

/// One generated event.
#[derive(Debug, Clone, PartialEq)]
pub struct LogFact {
    /// Course key.
    pub course: String,
    /// Learner id.
    pub user: u32,
    /// Time (whole seconds).
    pub time: DateTime<Utc>,
    /// Event name.
    pub name: &'static str,
}

/// One generated stretch of video watching.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentFact {
    /// Course key.
    pub course: String,
    /// Video block id (the `id` of the video events).
    pub video: String,
    /// Learner id.
    pub user: u32,
    /// Position where the play started, in seconds.
    pub start: f64,
    /// Position where it ended, in seconds.
    pub end: f64,
}

/// Ground truth of one course week.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct WeekTruth {
    /// Learners with any event.
    pub active: u64,
    /// Learners with a video event.
    pub watched_video: u64,
    /// Learners with a problem event.
    pub tried_problem: u64,
    /// Learners enrolled before the week's end.
    pub enrolled: u64,
}

/// A course's generated structure.
#[derive(Debug, Clone)]
pub struct Course {
    /// Course key.
    pub id: String,
    /// Course name.
    pub name: String,
    /// Units: (sequential block id, vertical block id, video id, problem id).
    pub units: Vec<Unit>,
}

/// One unit of a generated course.
#[derive(Debug, Clone)]
pub struct Unit {
    /// Unit name (the vertical's `display_name`).
    pub name: String,
    /// Video name.
    pub video_name: String,
    /// Subsection block id.
    pub sequential: String,
    /// Unit block id.
    pub vertical: String,
    /// Video block id.
    pub video: String,
    /// Video length in seconds.
    pub video_length: u32,
    /// Problem block id.
    pub problem: String,
}

fn hex_id(rng: &mut ChaCha8Rng) -> String {
    (0..16)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

/// The courses of a spec (also used by the OLX-free tests of later issues).
pub fn courses(spec: &Spec) -> Vec<Course> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0xC0u64);
    (1..=spec.courses)
        .map(|k| Course {
            id: format!("course-v1:CairnX+C{k:02}+2026_T1"),
            name: format!("Cairn Course {k:02}"),
            units: (1..=8)
                .map(|u| Unit {
                    name: format!("Unit {u}: {}", TOPICS[(u + k as usize) % TOPICS.len()]),
                    video_name: format!("Lecture {u}"),
                    sequential: hex_id(&mut rng),
                    vertical: hex_id(&mut rng),
                    video: hex_id(&mut rng),
                    video_length: rng.random_range(120..900),
                    problem: hex_id(&mut rng),
                })
                .collect(),
        })
        .collect()
}

const TOPICS: &[&str] = &[
    "Getting started",
    "Data & models",
    "Measuring <things>",
    "Learners' paths",
    "Weekly rhythms",
    "Grades",
    "Video habits",
    "Wrapping up",
    "Review",
];

/// Where `generate` writes a course's OLX export: `DIR/courses/<course number>`.
pub fn olx_dir(dir: &Path, course: &Course) -> std::path::PathBuf {
    dir.join("courses")
        .join(course.id.split('+').nth(1).unwrap_or("course"))
}

/// Loads the generated courses' OLX into the data lake (what `cairn import courses --olx
/// DIR/courses/…` does), for tests and benchmarks.
pub async fn import_courses(
    ch: &cairn_core::ClickHouse,
    dir: &Path,
    courses: &[Course],
) -> Result<(), String> {
    for c in courses {
        let files = crate::courses::olx::open(&olx_dir(dir, c), Default::default())
            .map_err(|e| e.to_string())?;
        let olx = crate::courses::olx::read_course(files.as_ref()).map_err(|e| e.to_string())?;
        crate::courses::write_course(ch, &olx.course_id, &olx.blocks, "olx")
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Writes a course as an OLX export (folder `dir`), as Studio would: `course.xml`, then the
/// course file with one chapter per unit pair, a graded sequential per unit, and a video
/// and a problem in each unit.
pub fn write_olx(course: &Course, dir: &Path) -> io::Result<()> {
    let key = cairn_core::CourseKey::parse(&course.id).map_err(io::Error::other)?;
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    std::fs::create_dir_all(dir.join("course"))?;
    std::fs::write(
        dir.join("course.xml"),
        format!(
            "<course url_name=\"{}\" org=\"{}\" course=\"{}\"/>\n",
            esc(key.run()),
            esc(key.org()),
            esc(key.course())
        ),
    )?;
    let mut x = format!("<course display_name=\"{}\">\n", esc(&course.name));
    for (i, pair) in course.units.chunks(2).enumerate() {
        x += &format!(
            "  <chapter url_name=\"week{}\" display_name=\"Week {}\">\n",
            i + 1,
            i + 1
        );
        for u in pair {
            x += &format!(
                "    <sequential url_name=\"{}\" display_name=\"Lesson: {}\" graded=\"true\" format=\"Homework\">\n      <vertical url_name=\"{}\" display_name=\"{}\">\n        <video url_name=\"{}\" display_name=\"{}\"/>\n        <problem url_name=\"{}\" display_name=\"Check: {}\"/>\n      </vertical>\n    </sequential>\n",
                u.sequential,
                esc(&u.name),
                u.vertical,
                esc(&u.name),
                u.video,
                esc(&u.video_name),
                u.problem,
                esc(&u.name)
            );
        }
        x += "  </chapter>\n";
    }
    x += "</course>\n";
    std::fs::write(dir.join(format!("course/{}.xml", key.run())), x)
}

fn block(course: &str, ty: &str, id: &str) -> String {
    format!(
        "block-v1:{}+type@{ty}+block@{id}",
        course.trim_start_matches("course-v1:")
    )
}

struct Learner {
    id: u32,
    username: String,
    /// Per enrolled course: (course index, enrollment time, engagement 0..1).
    enrollments: Vec<(usize, DateTime<Utc>, f64)>,
}

struct Ev {
    time: DateTime<Utc>,
    json: String,
    user: u32,
    course: usize,
    name: &'static str,
}

const VIDEO_EVENTS: &[&str] = &["play_video", "pause_video", "seek_video", "stop_video"];
const PROBLEM_EVENTS: &[&str] = &["problem_check", "edx.grades.problem.submitted"];

const AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

/// Writes `tracking.log`, `lms-seed.sql` and `truth.json` into `dir`; returns the truth.
pub fn generate(spec: &Spec, dir: &Path) -> io::Result<Truth> {
    std::fs::create_dir_all(dir)?;
    let courses = courses(spec);
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let start = spec
        .start
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    let learners: Vec<Learner> = (1..=spec.learners)
        .map(|id| {
            let n = 1 + rng.random_range(0..courses.len().max(1));
            let mut picked: Vec<usize> = (0..courses.len()).collect();
            for i in 0..picked.len() {
                let j = rng.random_range(i..picked.len());
                picked.swap(i, j);
            }
            picked.truncate(n.min(courses.len()));
            picked.sort();
            let enrollments = picked
                .into_iter()
                .map(|c| {
                    let t = start
                        + Duration::seconds(
                            rng.random_range(0..(spec.days.max(1) as i64 * 86_400 / 3)),
                        );
                    let engagement: f64 = rng.random::<f64>().powf(0.7);
                    (c, t, engagement)
                })
                .collect();
            Learner {
                id,
                username: format!("learner{id:05}"),
                enrollments,
            }
        })
        .collect();

    let mut truth = Truth::default();
    let mut log =
        BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("tracking.log"))?);
    let mut active: BTreeMap<usize, std::collections::BTreeSet<u32>> = BTreeMap::new();
    // (course, week monday) → (active, video, problem) learner sets.
    type Sets = (
        std::collections::BTreeSet<u32>,
        std::collections::BTreeSet<u32>,
        std::collections::BTreeSet<u32>,
    );
    let mut weeks: BTreeMap<(usize, NaiveDate), Sets> = BTreeMap::new();
    // grades[(user, course)] = (earned, possible); completions: (user, course, block, time)
    let mut scores: BTreeMap<(u32, usize), (f64, f64)> = BTreeMap::new();
    let mut completions: Vec<(u32, usize, String, &'static str, DateTime<Utc>)> = Vec::new();
    let mut completed: std::collections::BTreeSet<(u32, usize, String)> =
        std::collections::BTreeSet::new();
    let mut written = 0u64;
    let mut segments: Vec<SegmentFact> = Vec::new();

    for day in 0..spec.days {
        let day_start = start + Duration::days(day as i64);
        let mut evs: Vec<Ev> = Vec::new();
        for l in &learners {
            for &(ci, enrolled_at, engagement) in &l.enrollments {
                let course = &courses[ci];
                if enrolled_at >= day_start && enrolled_at < day_start + Duration::days(1) {
                    evs.push(envelope(
                        l,
                        course,
                        ci,
                        enrolled_at,
                        "edx.course.enrollment.activated",
                        "server",
                        json!({"user_id": l.id, "course_id": course.id, "mode": "audit"}),
                        None,
                    ));
                }
                // Engagement fades over the course; dropouts stop early.
                let fade = 1.0 - day as f64 / (spec.days as f64 * 1.5);
                if enrolled_at >= day_start + Duration::days(1)
                    || rng.random::<f64>() > engagement * fade * 0.8
                {
                    continue;
                }
                let mut t =
                    day_start.max(enrolled_at) + Duration::seconds(rng.random_range(3600..72_000));
                let session = format!("{:032x}", rng.random::<u128>());
                let units = 1 + (engagement * 3.0) as usize;
                let first = rng.random_range(0..course.units.len());
                for u in course.units.iter().cycle().skip(first).take(units) {
                    let seq = block(&course.id, "sequential", &u.sequential);
                    evs.push(browser(
                        l,
                        course,
                        ci,
                        t,
                        &session,
                        "seq_goto",
                        "edx.ui.lms.sequence.tab_selected",
                        json!({"id": seq, "old": 1, "new": 2, "current_tab": 2, "tab_count": 3}),
                    ));
                    t += Duration::seconds(rng.random_range(5..60));
                    // Video: play, then pause / seek / stop.
                    let mut pos = 0.0f64;
                    for _ in 0..rng.random_range(1..4) {
                        evs.push(browser(l, course, ci, t, &session, "play_video", "play_video",
                            json!({"id": u.video, "code": "html5", "currentTime": pos, "duration": u.video_length})));
                        let watch = rng.random_range(10..(u.video_length / 2).max(11)) as f64;
                        t += Duration::seconds(watch as i64);
                        let end = (pos + watch).min(u.video_length as f64);
                        segments.push(SegmentFact {
                            course: course.id.clone(),
                            video: u.video.clone(),
                            user: l.id,
                            start: pos,
                            end,
                        });
                        match rng.random_range(0..3) {
                            0 => {
                                let to = rng.random_range(0..u.video_length) as f64;
                                evs.push(browser(l, course, ci, t, &session, "seek_video", "seek_video",
                                    json!({"id": u.video, "code": "html5", "old_time": end, "new_time": to, "type": "onSlideSeek", "duration": u.video_length})));
                                pos = to;
                            }
                            1 => {
                                evs.push(browser(l, course, ci, t, &session, "pause_video", "pause_video",
                                    json!({"id": u.video, "code": "html5", "currentTime": end, "duration": u.video_length})));
                                pos = end;
                            }
                            _ => {
                                evs.push(browser(l, course, ci, t, &session, "stop_video", "stop_video",
                                    json!({"id": u.video, "code": "html5", "currentTime": end, "duration": u.video_length})));
                                pos = 0.0;
                            }
                        }
                        t += Duration::seconds(rng.random_range(2..30));
                    }
                    let video_key = block(&course.id, "video", &u.video);
                    if completed.insert((l.id, ci, video_key.clone())) {
                        completions.push((l.id, ci, video_key.clone(), "video", t));
                        evs.push(envelope(l, course, ci, t, "edx.completion.block_completion.changed", "server",
                            json!({"user_id": l.id, "course_id": course.id, "block_id": video_key, "block_type": "video", "completion": 1.0}), None));
                    }
                    // Problem: one or two attempts.
                    if rng.random::<f64>() < 0.4 + engagement * 0.5 {
                        let problem = block(&course.id, "problem", &u.problem);
                        let attempts = rng.random_range(1..3);
                        let mut grade = 0.0;
                        for a in 1..=attempts {
                            t += Duration::seconds(rng.random_range(20..300));
                            grade = if rng.random::<f64>() < 0.3 + engagement * 0.6 {
                                1.0
                            } else {
                                0.0
                            };
                            evs.push(envelope(l, course, ci, t, "problem_check", "server",
                                json!({"problem_id": problem, "attempts": a, "grade": grade, "max_grade": 1, "success": if grade > 0.0 { "correct" } else { "incorrect" }, "answers": {}}),
                                Some(&problem)));
                            evs.push(envelope(l, course, ci, t, "edx.grades.problem.submitted", "server",
                                json!({"problem_id": problem, "weighted_earned": grade, "weighted_possible": 1.0}), Some(&problem)));
                        }
                        let e = scores.entry((l.id, ci)).or_insert((0.0, 0.0));
                        // Only the first time a problem is answered counts towards possible points.
                        if completed.insert((l.id, ci, problem.clone())) {
                            e.1 += 1.0;
                            completions.push((l.id, ci, problem.clone(), "problem", t));
                            evs.push(envelope(l, course, ci, t, "edx.completion.block_completion.changed", "server",
                                json!({"user_id": l.id, "course_id": course.id, "block_id": problem, "block_type": "problem", "completion": 1.0}), None));
                        }
                        e.0 = (e.0 + grade).min(e.1);
                        evs.push(envelope(l, course, ci, t, "edx.grades.subsection.grade_calculated", "server",
                            json!({"user_id": l.id.to_string(), "course_id": course.id, "block_id": seq, "weighted_graded_earned": grade, "weighted_graded_possible": 1.0}), None));
                    }
                    t += Duration::seconds(rng.random_range(30..600));
                }
            }
        }
        evs.sort_by(|a, b| a.time.cmp(&b.time).then(a.user.cmp(&b.user)));
        for e in evs {
            let asctime = (e.time + Duration::milliseconds(3)).format("%Y-%m-%d %H:%M:%S,%3f");
            if spec.bad_every > 0 && written > 0 && written.is_multiple_of(spec.bad_every) {
                if (written / spec.bad_every).is_multiple_of(2) {
                    writeln!(
                        log,
                        "{asctime} WARNING 7 [django.request] [user None] [ip 172.18.0.1] log.py:241 - Not Found: /favicon.ico"
                    )?;
                } else {
                    let cut = &e.json[..e.json.len() / 2];
                    writeln!(
                        log,
                        "{asctime} INFO 7 [tracking] [user {}] [ip 172.18.0.1] logger.py:41 - {cut}",
                        e.user
                    )?;
                }
                truth.bad_lines += 1;
            }
            writeln!(
                log,
                "{asctime} INFO 7 [tracking] [user {}] [ip 172.18.0.1] logger.py:41 - {}",
                e.user, e.json
            )?;
            written += 1;
            truth.events += 1;
            let cid = &courses[e.course].id;
            truth.log.push(LogFact {
                course: cid.clone(),
                user: e.user,
                time: e.time,
                name: e.name,
            });
            *truth.events_per_course.entry(cid.clone()).or_default() += 1;
            *truth.events_per_name.entry(e.name.to_owned()).or_default() += 1;
            active.entry(e.course).or_default().insert(e.user);
            let d = e.time.date_naive();
            let monday = d - Duration::days(i64::from(d.weekday().num_days_from_monday()));
            let w = weeks.entry((e.course, monday)).or_default();
            w.0.insert(e.user);
            if VIDEO_EVENTS.contains(&e.name) {
                w.1.insert(e.user);
            }
            if PROBLEM_EVENTS.contains(&e.name) {
                w.2.insert(e.user);
            }
        }
    }
    log.flush()?;
    for (ci, users) in &active {
        truth
            .active_learners_per_course
            .insert(courses[*ci].id.clone(), users.len() as u64);
    }
    for l in &learners {
        for (ci, _, _) in &l.enrollments {
            *truth
                .enrollments_per_course
                .entry(courses[*ci].id.clone())
                .or_default() += 1;
        }
    }
    for ((ci, monday), (a, v, p)) in &weeks {
        let end = monday.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() + Duration::days(7);
        let enrolled = learners
            .iter()
            .filter(|l| l.enrollments.iter().any(|(c, t, _)| c == ci && *t < end))
            .count() as u64;
        truth
            .weekly
            .entry(courses[*ci].id.clone())
            .or_default()
            .insert(
                monday.format("%Y-%m-%d").to_string(),
                WeekTruth {
                    active: a.len() as u64,
                    watched_video: v.len() as u64,
                    tried_problem: p.len() as u64,
                    enrolled,
                },
            );
    }
    truth.segments = segments;
    for l in &learners {
        for (ci, t, _) in &l.enrollments {
            truth.enrollments.push((l.id, courses[*ci].id.clone(), *t));
        }
    }
    for (u, ci, b, _, _) in &completions {
        truth
            .completions
            .push((*u, courses[*ci].id.clone(), b.clone()));
    }
    for ((u, ci), (earned, _)) in &scores {
        let pct = percent(*earned, &courses[*ci]);
        truth
            .grades
            .insert((*u, courses[*ci].id.clone()), (pct, pct >= 0.5));
    }
    truth.learners = write_seed(dir, &learners, &courses, &scores, &completions, &mut rng)?;
    for c in &courses {
        write_olx(c, &olx_dir(dir, c))?;
    }
    std::fs::write(
        dir.join("truth.json"),
        serde_json::to_string_pretty(&truth).map_err(io::Error::other)?,
    )?;
    Ok(truth)
}

#[allow(clippy::too_many_arguments)]
fn envelope(
    l: &Learner,
    course: &Course,
    ci: usize,
    time: DateTime<Utc>,
    name: &'static str,
    source: &str,
    payload: serde_json::Value,
    module: Option<&str>,
) -> Ev {
    let mut context =
        json!({"course_id": course.id, "org_id": "CairnX", "user_id": l.id, "path": "/event"});
    if let Some(m) = module {
        context["module"] = json!({"usage_key": m, "display_name": "Problem"});
    }
    let v = json!({
        "name": name, "context": context, "username": l.username, "session": "", "ip": "10.0.0.1",
        "agent": AGENT, "host": "lms.example.org", "referer": "", "accept_language": "en",
        "event": payload, "time": time.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
        "event_type": name, "event_source": source, "page": null,
    });
    Ev {
        time,
        json: v.to_string(),
        user: l.id,
        course: ci,
        name,
    }
}

#[allow(clippy::too_many_arguments)]
fn browser(
    l: &Learner,
    course: &Course,
    ci: usize,
    time: DateTime<Utc>,
    session: &str,
    event_type: &str,
    name: &'static str,
    payload: serde_json::Value,
) -> Ev {
    let page = format!("https://lms.example.org/courses/{}/courseware", course.id);
    let v = json!({
        "name": name, "context": {"course_id": course.id, "org_id": "CairnX", "user_id": l.id, "path": "/event"},
        "username": l.username, "session": session, "ip": "10.0.0.1", "agent": AGENT, "host": "lms.example.org",
        "referer": page, "accept_language": "en", "event": payload.to_string(),
        "time": time.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
        "event_type": event_type, "event_source": "browser", "page": page,
    });
    Ev {
        time,
        json: v.to_string(),
        user: l.id,
        course: ci,
        name,
    }
}

fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// A learner's course grade: points earned over the course's units, to two decimals.
fn percent(earned: f64, course: &Course) -> f64 {
    (earned / course.units.len() as f64 * 100.0).round() / 100.0
}

type Profiles = BTreeMap<u32, (String, String, String, String)>;

fn write_seed(
    dir: &Path,
    learners: &[Learner],
    courses: &[Course],
    scores: &BTreeMap<(u32, usize), (f64, f64)>,
    completions: &[(u32, usize, String, &'static str, DateTime<Utc>)],
    rng: &mut ChaCha8Rng,
) -> io::Result<Profiles> {
    let mut profiles = Profiles::new();
    let mut w = BufWriter::new(std::fs::File::create(dir.join("lms-seed.sql"))?);
    writeln!(
        w,
        "-- Generated by `cairn fixtures generate`: the LMS state matching tracking.log."
    )?;
    writeln!(w, "SET NAMES utf8mb4;")?;
    let ts = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    for chunk in learners.chunks(500) {
        writeln!(
            w,
            "INSERT INTO auth_user (id, password, last_login, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined) VALUES"
        )?;
        let rows: Vec<String> = chunk
            .iter()
            .map(|l| {
                format!(
                    "({}, '!', NULL, 0, {}, 'Learner', {}, {}, 0, 1, '2025-12-01 00:00:00')",
                    l.id,
                    sql_str(&l.username),
                    l.id,
                    sql_str(&format!("{}@example.org", l.username))
                )
            })
            .collect();
        writeln!(w, "{};", rows.join(",\n"))?;
        writeln!(
            w,
            "INSERT INTO auth_userprofile (id, name, meta, courseware, language, location, year_of_birth, gender, level_of_education, user_id) VALUES"
        )?;
        let genders = ["f", "m", "o", ""];
        let levels = ["p", "m", "b", "a", "hs", "jhs", "el", "none", "other", ""];
        let rows: Vec<String> = chunk
            .iter()
            .map(|l| {
                let g = genders[rng.random_range(0..genders.len())];
                let e = levels[rng.random_range(0..levels.len())];
                profiles.insert(
                    l.id,
                    (
                        l.username.clone(),
                        format!("{}@example.org", l.username),
                        g.to_owned(),
                        e.to_owned(),
                    ),
                );
                format!(
                    "({}, {}, '', 'course.xml', '', '', {}, {}, {}, {})",
                    l.id,
                    sql_str(&format!("Learner {}", l.id)),
                    1960 + rng.random_range(0..45),
                    sql_str(g),
                    sql_str(e),
                    l.id
                )
            })
            .collect();
        writeln!(w, "{};", rows.join(",\n"))?;
    }
    let mut enroll = Vec::new();
    for l in learners {
        for (ci, t, _) in &l.enrollments {
            enroll.push(format!(
                "({}, {}, 1, 'audit', {})",
                sql_str(&courses[*ci].id),
                sql_str(&ts(*t)),
                l.id
            ));
        }
    }
    for chunk in enroll.chunks(1000) {
        writeln!(
            w,
            "INSERT INTO student_courseenrollment (course_id, created, is_active, mode, user_id) VALUES\n{};",
            chunk.join(",\n")
        )?;
    }
    let grades: Vec<String> = scores
        .iter()
        .map(|((u, ci), (earned, _))| {
            let pct = percent(*earned, &courses[*ci]);
            let passed = if pct >= 0.5 { "'2026-02-01 00:00:00'" } else { "NULL" };
            let letter = if pct >= 0.5 { "'Pass'" } else { "''" };
            format!("('2026-02-01 00:00:00', '2026-02-01 00:00:00', {u}, {}, '', '', {pct}, {letter}, {passed})", sql_str(&courses[*ci].id))
        })
        .collect();
    for chunk in grades.chunks(1000) {
        writeln!(
            w,
            "INSERT INTO grades_persistentcoursegrade (created, modified, user_id, course_id, course_version, grading_policy_hash, percent_grade, letter_grade, passed_timestamp) VALUES\n{};",
            chunk.join(",\n")
        )?;
    }
    let comps: Vec<String> = completions
        .iter()
        .map(|(u, ci, b, ty, t)| {
            format!(
                "({}, {}, {}, {}, {}, 1.0, {u})",
                sql_str(&ts(*t)),
                sql_str(&ts(*t)),
                sql_str(&courses[*ci].id),
                sql_str(b),
                sql_str(ty)
            )
        })
        .collect();
    for chunk in comps.chunks(1000) {
        writeln!(
            w,
            "INSERT INTO completion_blockcompletion (created, modified, course_key, block_key, block_type, completion, user_id) VALUES\n{};",
            chunk.join(",\n")
        )?;
    }
    w.flush()?;
    Ok(profiles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_files_and_the_log_parses_as_stated() {
        let spec = Spec {
            learners: 20,
            courses: 2,
            days: 5,
            bad_every: 50,
            ..Spec::default()
        };
        let a = std::env::temp_dir().join(format!("cairn-gen-a-{}", std::process::id()));
        let b = std::env::temp_dir().join(format!("cairn-gen-b-{}", std::process::id()));
        let truth = generate(&spec, &a).unwrap();
        generate(&spec, &b).unwrap();
        for f in ["tracking.log", "lms-seed.sql", "truth.json"] {
            assert_eq!(
                std::fs::read(a.join(f)).unwrap(),
                std::fs::read(b.join(f)).unwrap(),
                "{f} differs"
            );
        }
        assert!(truth.events > 100, "{truth:?}");
        let buf = std::fs::read(a.join("tracking.log")).unwrap();
        let (mut events, mut bad) = (0u64, 0u64);
        cairn_events::LogParser::default().parse_all(&buf, &mut |item| match item {
            cairn_events::Item::Event { .. } => events += 1,
            _ => bad += 1,
        });
        assert_eq!((events, bad), (truth.events, truth.bad_lines));
        let other = generate(&Spec { seed: 7, ..spec }, &b).unwrap();
        assert_ne!(other.events, 0);
        assert_ne!(
            std::fs::read(a.join("tracking.log")).unwrap(),
            std::fs::read(b.join("tracking.log")).unwrap()
        );
        std::fs::remove_dir_all(&a).unwrap();
        std::fs::remove_dir_all(&b).unwrap();
    }
}
