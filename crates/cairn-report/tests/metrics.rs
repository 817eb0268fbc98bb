//! Metrics on a generated dataset, against the generator's ground truth (what it wrote,
//! recorded while writing: events, watched segments, seeded profiles, grades and
//! completions), with every expected number computed here in Rust, on the real ClickHouse.

use std::collections::{BTreeMap, BTreeSet};

use cairn_core::mysql::mysql_async::prelude::Queryable;
use cairn_core::testing;
use cairn_fixtures::{
    AnswerTruth, NavigationTruth, Profile, Spec, Truth, courses, enrollment_mode, generate,
};
use cairn_import::ingest::{IngestOptions, Input, LogPublishes, ingest};
use cairn_report::*;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};

fn monday(t: DateTime<Utc>) -> String {
    monday_of(t.date_naive()).format("%Y-%m-%d").to_string()
}

/// The Monday of `d`'s ISO week.
fn monday_of(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn close(a: f64, b: f64) -> bool {
    // Both round half up to 0.1: equal but for floating-point noise.
    (a - b).abs() <= 1e-9
}

/// Per course and learner, the event times in order.
fn timelines(truth: &Truth) -> BTreeMap<(String, u32), Vec<DateTime<Utc>>> {
    let mut m: BTreeMap<(String, u32), Vec<DateTime<Utc>>> = BTreeMap::new();
    for e in &truth.log {
        m.entry((e.course.clone(), e.user))
            .or_default()
            .push(e.time);
    }
    for v in m.values_mut() {
        v.sort();
    }
    m
}

/// Seconds credited per course and week (the sessionization rule of the README).
fn time_spent(truth: &Truth) -> BTreeMap<(String, String), u64> {
    let mut out: BTreeMap<(String, String), u64> = BTreeMap::new();
    for ((course, _), times) in timelines(truth) {
        for w in times.windows(2) {
            let gap = (w[1] - w[0]).num_seconds();
            let credit = if gap <= 1800 { gap.min(600) } else { 0 };
            *out.entry((course.clone(), monday(w[0]))).or_default() += credit as u64;
        }
        if let Some(last) = times.last() {
            out.entry((course.clone(), monday(*last))).or_default();
        }
    }
    out
}

/// Seconds credited per course and learner over the whole log.
fn spent_per_learner(truth: &Truth) -> BTreeMap<(String, u32), u64> {
    timelines(truth)
        .into_iter()
        .map(|(key, times)| {
            let credited = times
                .windows(2)
                .map(|w| {
                    let gap = (w[1] - w[0]).num_seconds();
                    if gap <= 1800 { gap.min(600) as u64 } else { 0 }
                })
                .sum();
            (key, credited)
        })
        .collect()
}

fn gender_label(code: &str) -> &str {
    match code {
        "m" => "Male",
        "f" => "Female",
        "o" => "Other / prefer not to say",
        "" => "Not specified",
        other => other,
    }
}

/// The band of an age (`None`: no year of birth).
fn age_band(age: Option<i32>) -> &'static str {
    match age {
        None => "Not specified",
        Some(a) if a < 18 => AGE_BANDS[0],
        Some(a) if a < 25 => AGE_BANDS[1],
        Some(a) if a < 35 => AGE_BANDS[2],
        Some(a) if a < 45 => AGE_BANDS[3],
        Some(a) if a < 55 => AGE_BANDS[4],
        Some(a) if a < 65 => AGE_BANDS[5],
        Some(_) => AGE_BANDS[6],
    }
}

/// The names of the countries the generator seeds, written out here (not read from the
/// crate the report uses).
const COUNTRY_NAMES: [(&str, &str); 12] = [
    ("US", "United States of America"),
    ("IN", "India"),
    ("BR", "Brazil"),
    ("FR", "France"),
    ("NG", "Nigeria"),
    ("GB", "United Kingdom of Great Britain and Northern Ireland"),
    ("EG", "Egypt"),
    ("MX", "Mexico"),
    ("DE", "Germany"),
    ("CN", "China"),
    ("XK", "Kosovo"),
    ("", "Not specified"),
];

fn country_label(code: &str) -> &'static str {
    COUNTRY_NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| *name)
        .unwrap_or_else(|| panic!("the generator seeds country {code:?}, not named here"))
}

fn education_label(code: &str) -> &str {
    match code {
        "p" => "Doctorate",
        "m" => "Master's or professional degree",
        "b" => "Bachelor's degree",
        "a" => "Associate degree",
        "hs" => "Secondary / high school",
        "jhs" => "Junior secondary / junior high / middle school",
        "el" => "Elementary / primary school",
        "none" => "No formal education",
        "other" => "Other education",
        "" => "Not specified",
        other => other,
    }
}

/// A generated platform: its ground truth, the data lake holding its log, and its LMS.
struct Lake {
    truth: Truth,
    ch: cairn_core::ClickHouse,
    lms: cairn_core::config::MysqlConfig,
    conn: cairn_core::mysql::mysql_async::Conn,
    /// What the ingestion of the log did.
    ingested: cairn_import::ingest::Summary,
}

/// Generates `spec` into `dir`, loads its LMS seed into a MariaDB database of this test's
/// own (`NAME_lms`) and ingests its log into the data lake `name` (every event stored).
async fn lake(name: &str, spec: &Spec, dir: &std::path::Path) -> Lake {
    let truth = generate(spec, dir).unwrap();
    let lms = testing::mysql_openedx(&format!("{name}_lms")).await;
    let mut conn = cairn_core::mysql::connect(&lms).await.unwrap();
    conn.query_drop(std::fs::read_to_string(dir.join("lms-seed.sql")).unwrap())
        .await
        .unwrap();
    let mut config = testing::config();
    config.mysql.database = lms.database.clone();
    let ch = cairn_migrate::testing::data_lake_with(name, config).await;
    let s = ingest(
        &ch,
        vec![Input::Path(dir.join("tracking.log"))],
        &IngestOptions::default(),
        Box::new(LogPublishes),
    )
    .await
    .unwrap();
    assert_eq!(s.inserted, truth.events);
    Lake {
        truth,
        ch,
        lms,
        conn,
        ingested: s,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_metric_matches_the_ground_truth() {
    let dir = std::env::temp_dir().join(format!("cairn-metrics-{}", std::process::id()));
    let spec = Spec {
        seed: 11,
        learners: 80,
        courses: 2,
        days: 24,
        bad_every: 500,
        ..Spec::default()
    };
    let Lake {
        truth,
        ch,
        lms,
        mut conn,
        ingested: s,
    } = lake("metrics", &spec, &dir).await;
    let generated = courses(&spec);
    // Every event stored twice, and kept twice (merges stopped), as when the same lines
    // reach ClickHouse from two sources. The public `events` still counts each once, and
    // every metric below must still match the ground truth.
    ch.execute("SYSTEM STOP MERGES _events").await.unwrap();
    ch.execute("INSERT INTO _events SELECT * FROM _events")
        .await
        .unwrap();
    let count = |sql: &'static str| {
        let ch = ch.clone();
        async move { ch.client().query(sql).fetch_one::<u64>().await.unwrap() }
    };
    assert_eq!(count("SELECT count() FROM _events").await, 2 * truth.events);
    assert_eq!(count("SELECT count() FROM events").await, truth.events);
    assert_eq!(
        count("SELECT count() FROM video_events").await,
        count("SELECT count() FROM _video_events").await / 2,
        "the public video events are exact too"
    );
    // The courses' structure, from the OLX the generator wrote.
    cairn_fixtures::import_courses(&ch, &dir, &generated)
        .await
        .unwrap();

    let range = Range {
        from: spec.start,
        to: spec.start + Duration::days(i64::from(spec.days) + 7),
    };
    let spent = time_spent(&truth);

    // Pre-aggregated learner days (migration 0021): nothing is aggregated yet, so the
    // activity metrics compute every day from the events. Then half the days are
    // aggregated: the metrics read those from the learner days and the others from the
    // events, with the same results, and every check below runs in that mixed state.
    let course_ids: Vec<String> = generated.iter().map(|c| c.id.clone()).collect();
    let as_of_days = (spec.start + Duration::days(12))
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let from_events = activity_metrics(&ch, &course_ids, range, as_of_days).await;
    let half = aggregate::refresh(&ch, Some(spec.days as usize / 2))
        .await
        .unwrap();
    assert!(half.course_days > 0 && half.rows > 0, "{half:?}");
    assert!(half.left > 0, "half the days left: {half:?}");
    assert_eq!(
        activity_metrics(&ch, &course_ids, range, as_of_days).await,
        from_events,
        "half the days aggregated"
    );

    // Every metric's result columns are its row type's fields: current servers (24.8+)
    // refuse to read a row otherwise, and 18.16 cannot check it.
    let c0 = generated[0].id.as_str();
    let as_of0 = (spec.start + Duration::days(20))
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let q = |template: &str, params: Vec<Param>| query(&ch, template, lms::Source::Live, &params);
    use testing::assert_row_columns as columns;
    let p = weekly_engagement_params(c0, range);
    columns::<Week>("weekly_engagement", q(WEEKLY_ENGAGEMENT_SQL, p)).await;
    let p = course_progress_params(c0);
    columns::<UnitProgress>("course_progress", q(COURSE_PROGRESS_SQL, p)).await;
    let p = grade_distribution_params(c0);
    columns::<GradeBucket>("grade_distribution", q(GRADE_DISTRIBUTION_SQL, p)).await;
    let p = demographics_params(c0, range);
    columns::<Demographic>("demographics", q(DEMOGRAPHICS_SQL, p)).await;
    let p = video_engagement_params(c0, range);
    columns::<VideoEngagement>("video_engagement", q(VIDEO_ENGAGEMENT_SQL, p)).await;
    let p = video_curve_params(c0, &generated[0].units[0].video, range);
    columns::<VideoSecond>("video_curve", q(VIDEO_CURVE_SQL, p)).await;
    let p = at_risk_params(c0, as_of0, 7);
    columns::<AtRisk>("at_risk", q(AT_RISK_SQL, p)).await;
    let p = learners_params(c0, range);
    columns::<CourseLearner>("learners", q(LEARNERS_SQL, p)).await;
    columns::<ProblemResult>("problems", q(PROBLEMS_SQL, problems_params(c0, range))).await;
    columns::<AnswerCount>("answers", q(ANSWERS_SQL, answers_params(c0, range))).await;
    let [pw, pt] = forums_params(c0, range, 5);
    columns::<ForumWeek>("forums", q(FORUMS_SQL, pw)).await;
    columns::<ForumThread>("forum_threads", q(FORUM_THREADS_SQL, pt)).await;
    let p = activity_hours_params(c0, range, chrono_tz::UTC);
    columns::<HourActivity>("activity_hours", q(ACTIVITY_HOURS_SQL, p)).await;
    let p = retention_params(c0, range);
    columns::<RetentionCell>("retention", q(RETENTION_SQL, p)).await;
    let p = navigation_params(c0, range);
    columns::<NavigationRow>("navigation", q(NAVIGATION_SQL, p)).await;
    let p = compare_params(&[c0.to_owned()], as_of0, range);
    columns::<CompareActivity>("compare", q(COMPARE_SQL, p)).await;
    let p = compare_lms_params(&[c0.to_owned()]);
    columns::<CompareLms>("compare_lms", q(COMPARE_LMS_SQL, p)).await;
    let p = compare_progress_params(&[c0.to_owned()]);
    columns::<CompareProgress>("compare_progress", q(COMPARE_PROGRESS_SQL, p)).await;
    let mut checked = BTreeMap::<&str, usize>::new();
    for c in &generated {
        let course = c.id.as_str();

        // Weekly engagement, time spent included: every week of the range, those without
        // activity (the range's last) with their learners enrolled and zeros.
        let got = weekly_engagement(&ch, course, range).await.unwrap();
        let mut weeks = truth.weekly[course].clone();
        assert!(weeks.len() >= 3, "{course}: {weeks:?}");
        let mut monday =
            range.from - Duration::days(i64::from(range.from.weekday().num_days_from_monday()));
        while monday < range.to {
            let end = monday.and_hms_opt(0, 0, 0).unwrap().and_utc() + Duration::days(7);
            let enrolled = truth
                .enrollments
                .iter()
                .filter(|(_, c, t)| c == course && *t < end)
                .count() as u64;
            weeks
                .entry(monday.format("%Y-%m-%d").to_string())
                .or_insert(cairn_fixtures::WeekTruth {
                    active: 0,
                    watched_video: 0,
                    tried_problem: 0,
                    enrolled,
                });
            monday += Duration::weeks(1);
        }
        assert!(
            weeks.len() > truth.weekly[course].len(),
            "a week without activity"
        );
        assert_eq!(got.len(), weeks.len(), "{course}");
        for (g, (week, t)) in got.iter().zip(&weeks) {
            let total = spent
                .get(&(course.to_owned(), week.clone()))
                .copied()
                .unwrap_or(0);
            let expected = (
                week.as_str(),
                t.enrolled,
                t.active,
                t.watched_video,
                t.tried_problem,
                total,
            );
            assert_eq!(
                (
                    g.week.as_str(),
                    g.enrolled,
                    g.active,
                    g.watched_video,
                    g.tried_problem,
                    g.time_spent
                ),
                expected,
                "{course}"
            );
            assert_eq!(total > 0, t.active > 0, "{course} {week}");
            assert!(
                close(
                    g.avg_time_spent,
                    round1(total as f64 / t.active.max(1) as f64)
                ),
                "{course} {week}: {} vs {total}/{}",
                g.avg_time_spent,
                t.active
            );
        }
        *checked.entry("weekly").or_default() += got.len();

        // Course progress: a unit is complete when its video and its problem are.
        let done: BTreeSet<(u32, &str)> = truth
            .completions
            .iter()
            .filter(|(_, c, _)| c == course)
            .map(|(u, _, b)| (*u, b.as_str()))
            .collect();
        let learners: BTreeSet<u32> = done.iter().map(|(u, _)| *u).collect();
        let key = |ty: &str, id: &str| {
            format!(
                "block-v1:{}+type@{ty}+block@{id}",
                course.trim_start_matches("course-v1:")
            )
        };
        let expected: Vec<(String, u64, u64)> = c
            .units
            .iter()
            .map(|u| {
                let (v, p) = (key("video", &u.video), key("problem", &u.problem));
                let n = learners
                    .iter()
                    .filter(|l| {
                        done.contains(&(**l, v.as_str())) && done.contains(&(**l, p.as_str()))
                    })
                    .count();
                (u.name.clone(), 2, n as u64)
            })
            .collect();
        let got = course_progress(&ch, course).await.unwrap();
        let got_t: Vec<(String, u64, u64)> = got
            .iter()
            .map(|r| (r.unit.clone(), r.components, r.completed))
            .collect();
        assert_eq!(got_t, expected, "{course}");
        assert!(got.windows(2).all(|w| w[0].position < w[1].position));
        assert!(expected.iter().any(|(_, _, n)| *n > 0));
        *checked.entry("progress").or_default() += got.len();

        // Grade distribution and passes.
        let mut buckets = [(0u64, 0u64); 10];
        for ((_, c), (pct, passed)) in &truth.grades {
            if c == course {
                let b = ((pct * 10.0).floor() as usize).min(9);
                buckets[b].0 += 1;
                buckets[b].1 += u64::from(*passed);
            }
        }
        let got = grade_distribution(&ch, course).await.unwrap();
        let expected: Vec<GradeBucket> = buckets
            .iter()
            .enumerate()
            .map(|(i, (n, p))| GradeBucket {
                from_percent: i as u32 * 10,
                to_percent: i as u32 * 10 + 10,
                learners: *n,
                passed: *p,
            })
            .collect();
        assert_eq!(got, expected, "{course}");
        assert!(expected.iter().map(|b| b.passed).sum::<u64>() > 0);
        *checked.entry("grades").or_default() += got.len();

        // Demographics of the enrolled learners.
        let mut groups: BTreeMap<(String, String), u64> = BTreeMap::new();
        let year = range.last().year();
        for (u, c, _) in &truth.enrollments {
            if c == course {
                let p = &truth.learners[u];
                for (dimension, label) in [
                    ("gender", gender_label(&p.gender)),
                    ("level_of_education", education_label(&p.education)),
                    ("age", age_band(p.year_of_birth.map(|born| year - born))),
                    ("country", country_label(&p.country)),
                    (
                        "enrollment_mode",
                        match enrollment_mode(*u) {
                            "audit" => "Audit",
                            "verified" => "Verified",
                            other => panic!("the generator seeds mode {other}, not named here"),
                        },
                    ),
                ] {
                    *groups.entry((dimension.into(), label.into())).or_default() += 1;
                }
            }
        }
        let mut expected: Vec<Demographic> = groups
            .into_iter()
            .map(|((dimension, label), learners)| Demographic {
                dimension,
                label,
                learners,
            })
            .collect();
        // Age bands in age order, the other groups by learners (most first), then label.
        let band = |d: &Demographic| {
            (d.dimension == "age")
                .then(|| AGE_BANDS.iter().position(|b| *b == d.label))
                .flatten()
        };
        expected.sort_by(|a, b| {
            (
                &a.dimension,
                band(a),
                std::cmp::Reverse(a.learners),
                &a.label,
            )
                .cmp(&(
                    &b.dimension,
                    band(b),
                    std::cmp::Reverse(b.learners),
                    &b.label,
                ))
        });
        let got = demographics(&ch, course, range).await.unwrap();
        assert_eq!(got, expected, "{course}");
        // Every band, country kind and mode the generator seeds is there.
        for (dimension, label) in [
            ("age", "Under 18"),
            ("age", "25–34"),
            ("age", "65 and over"),
            ("age", "Not specified"),
            ("country", "France"),
            ("country", "Kosovo"),
            ("country", "Not specified"),
            ("enrollment_mode", "Audit"),
            ("enrollment_mode", "Verified"),
        ] {
            let seen = got
                .iter()
                .any(|d| d.dimension == dimension && d.label == label);
            assert!(seen, "{dimension} {label}");
        }
        *checked.entry("demographics").or_default() += got.len();

        // Videos, in course order.
        let got = video_engagement(&ch, course, range).await.unwrap();
        assert_eq!(got.len(), c.units.len(), "{course}");
        for (g, u) in got.iter().zip(&c.units) {
            let segs: Vec<_> = truth
                .segments
                .iter()
                .filter(|s| s.course == course && s.video == u.video)
                .collect();
            let viewers: BTreeSet<u32> = segs.iter().map(|s| s.user).collect();
            let watched: f64 = segs.iter().map(|s| s.end - s.start).sum();
            assert_eq!(
                (g.video_id.as_str(), g.video.as_str(), g.viewers),
                (
                    u.video.as_str(),
                    u.video_name.as_str(),
                    viewers.len() as u64
                ),
                "{course}"
            );
            assert!(close(g.watch_time, round1(watched)), "{g:?} vs {watched}");
            assert!(close(
                g.avg_watch_time,
                round1(watched / viewers.len() as f64)
            ));
            assert_eq!(g.duration, f64::from(u.video_length));
        }
        *checked.entry("videos").or_default() += got.len();

        // The second-by-second curve of the most watched video.
        let top = got.iter().max_by_key(|v| v.viewers).unwrap();
        let mut per_second: BTreeMap<u32, (BTreeSet<u32>, u64)> = BTreeMap::new();
        for s in truth
            .segments
            .iter()
            .filter(|s| s.course == course && s.video == top.video_id)
        {
            for sec in (s.start.floor() as u32)..(s.end.ceil() as u32) {
                let e = per_second.entry(sec).or_default();
                e.0.insert(s.user);
                e.1 += 1;
            }
        }
        let expected: Vec<VideoSecond> = per_second
            .into_iter()
            .map(|(second, (users, views))| VideoSecond {
                second,
                viewers: users.len() as u64,
                views,
            })
            .collect();
        let got = video_curve(&ch, course, &top.video_id, range)
            .await
            .unwrap();
        assert_eq!(got, expected, "{course}");
        assert!(got.len() > 60);
        *checked.entry("curve").or_default() += got.len();

        // At-risk learners 20 days in, inactive for 7 days or more.
        let as_of = (spec.start + Duration::days(20))
            .and_hms_opt(12, 0, 0)
            .unwrap();
        let as_of_utc = as_of.and_utc();
        let lines = timelines(&truth);
        let mut expected = Vec::new();
        for (u, c, _) in &truth.enrollments {
            if c != course {
                continue;
            }
            let engaged = truth.log.iter().any(|e| {
                e.course == course && e.user == *u && !e.name.starts_with("edx.course.enrollment")
            });
            let Some(last) = lines.get(&(course.to_owned(), *u)).and_then(|t| t.last()) else {
                continue;
            };
            let idle = (as_of_utc - *last).num_seconds();
            let passed = truth
                .grades
                .get(&(*u, course.to_owned()))
                .is_some_and(|g| g.1);
            if !engaged || passed || idle < 0 || idle / 86_400 < 7 {
                continue;
            }
            let completed = truth
                .completions
                .iter()
                .filter(|(w, c, _)| w == u && c == course)
                .count();
            let Profile {
                username, email, ..
            } = &truth.learners[u];
            expected.push(AtRisk {
                user_id: u64::from(*u),
                username: username.clone(),
                email: email.clone(),
                last_activity: last.format("%Y-%m-%d %H:%M:%S").to_string(),
                days_inactive: (idle / 86_400) as u64,
                progress: round1(100.0 * completed as f64 / 16.0),
            });
        }
        expected.sort_by(|a, b| {
            (std::cmp::Reverse(a.days_inactive), &a.username)
                .cmp(&(std::cmp::Reverse(b.days_inactive), &b.username))
        });
        let got = at_risk(&ch, course, as_of, 7).await.unwrap();
        assert_eq!(got.len(), expected.len(), "{course}: {got:?}");
        for (g, e) in got.iter().zip(&expected) {
            assert!(close(g.progress, e.progress), "{g:?} vs {e:?}");
            assert_eq!(
                AtRisk {
                    progress: e.progress,
                    ..g.clone()
                },
                *e
            );
        }
        assert!(!got.is_empty(), "{course}: no learner at risk");
        *checked.entry("at_risk").or_default() += got.len();

        // The roster: every enrolled learner, against the generator's truth (the range
        // holds the whole log, so the time spent is the whole log's).
        let per_learner = spent_per_learner(&truth);
        let mut expected: Vec<CourseLearner> = truth
            .enrollments
            .iter()
            .filter(|(_, c, _)| c == course)
            .map(|(u, _, at)| {
                let Profile {
                    username, email, ..
                } = &truth.learners[u];
                let times = lines.get(&(course.to_owned(), *u));
                let days: BTreeSet<String> = times
                    .into_iter()
                    .flatten()
                    .map(|t| t.format("%Y-%m-%d").to_string())
                    .collect();
                let completed = truth
                    .completions
                    .iter()
                    .filter(|(w, c, _)| w == u && c == course)
                    .count();
                let (percent_grade, passed) = truth
                    .grades
                    .get(&(*u, course.to_owned()))
                    .copied()
                    .unwrap_or((0.0, false));
                CourseLearner {
                    user_id: u64::from(*u),
                    username: username.clone(),
                    email: email.clone(),
                    enrollment_mode: enrollment_mode(*u).into(),
                    enrolled_on: at.format("%Y-%m-%d").to_string(),
                    last_seen: times
                        .and_then(|t| t.last())
                        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                        .unwrap_or_default(),
                    active_days: days.len() as u64,
                    time_spent: per_learner
                        .get(&(course.to_owned(), *u))
                        .copied()
                        .unwrap_or(0),
                    progress: round1(100.0 * completed as f64 / 16.0),
                    components_done: completed as u64,
                    components: 16,
                    percent_grade,
                    passed: u8::from(passed),
                }
            })
            .collect();
        expected.sort_by(|a, b| (&a.username, a.user_id).cmp(&(&b.username, b.user_id)));
        let got = cairn_report::learners(&ch, course, range).await.unwrap();
        assert_eq!(got.len(), expected.len(), "{course}");
        for (g, e) in got.iter().zip(&expected) {
            assert!(close(g.progress, e.progress), "{g:?} vs {e:?}");
            assert_eq!(
                CourseLearner {
                    progress: e.progress,
                    ..g.clone()
                },
                *e
            );
        }
        assert!(
            got.iter().any(|l| l.passed == 0 && l.progress < 50.0)
                && got.iter().any(|l| l.passed == 1 && l.time_spent > 0),
            "{course}: the roster holds learners behind and learners who passed"
        );
        *checked.entry("learners").or_default() += got.len();
        // How far they got: each stage counted on the truth's roster.
        let count = |f: fn(&CourseLearner) -> bool| expected.iter().filter(|l| f(l)).count() as u64;
        let want = Funnel {
            enrolled: expected.len() as u64,
            started: count(|l| !l.last_seen.is_empty()),
            active: count(|l| l.active_days > 0),
            progressed: count(|l| l.components_done > 0),
            halfway: count(|l| l.components_done >= 8),
            completed: count(|l| l.components_done == 16),
            passed: count(|l| l.passed == 1),
        };
        assert_eq!(funnel(&ch, course, range).await.unwrap(), want, "{course}");
        assert!(
            want.progressed > want.halfway && want.halfway > want.completed && want.completed > 0,
            "{course}: a funnel that narrows: {want:?}"
        );
        *checked.entry("funnel").or_default() += 1;

        // Problems: per problem in course order, against the generator's truth.
        let (t0, t1) = (
            range.from.and_hms_opt(0, 0, 0).unwrap().and_utc(),
            range.to.and_hms_opt(0, 0, 0).unwrap().and_utc(),
        );
        let expected = truth.problems(course, t0, t1);
        assert_eq!(
            expected.values().cloned().collect::<Vec<_>>(),
            truth.problems[course],
            "truth.json carries the whole log's"
        );
        let got = problems(&ch, course, range).await.unwrap();
        assert_eq!(got.len(), expected.len(), "{course}: {got:?}");
        let order: Vec<String> = c
            .units
            .iter()
            .map(|u| {
                format!(
                    "block-v1:{}+type@problem+block@{}",
                    &course[10..],
                    u.problem
                )
            })
            .filter(|p| expected.contains_key(p))
            .collect();
        assert_eq!(
            got.iter().map(|g| g.problem_id.clone()).collect::<Vec<_>>(),
            order,
            "course order"
        );
        for g in &got {
            let e = &expected[&g.problem_id];
            let unit = c
                .units
                .iter()
                .find(|u| g.problem_id.ends_with(&u.problem))
                .unwrap();
            assert_eq!(g.problem, format!("Check: {}", unit.name));
            assert_eq!(
                (
                    g.learners,
                    g.submissions,
                    g.submissions_per_learner,
                    g.first_correct,
                    g.last_correct,
                    g.avg_score,
                    g.hints,
                    g.answers_shown
                ),
                (
                    e.learners,
                    e.submissions,
                    e.submissions_per_learner,
                    e.first_correct,
                    e.last_correct,
                    e.avg_score,
                    e.hints,
                    e.answers_shown
                ),
                "{course} {}",
                g.problem
            );
        }
        assert!(got.iter().any(|g| g.first_correct < g.last_correct));
        assert!(got.iter().any(|g| g.hints > 0) && got.iter().any(|g| g.answers_shown > 0));
        *checked.entry("problems").or_default() += got.len();

        // The answer distribution: every answer to every input, first and last rules.
        let mut got: Vec<AnswerTruth> = answers(&ch, course, range)
            .await
            .unwrap()
            .into_iter()
            .map(|a| AnswerTruth {
                problem_id: a.problem_id,
                input: a.input,
                value: a.value,
                answer: a.answer,
                correct: a.correct,
                learners: a.learners,
                first_learners: a.first_learners,
                last_learners: a.last_learners,
                submissions: a.submissions,
            })
            .collect();
        got.sort();
        assert_eq!(got, truth.answers(course, t0, t1), "{course}");
        assert!(got.iter().any(|a| a.value.contains(", ")), "checkbox sets");
        assert!(got.iter().any(|a| a.answer.starts_with("=HYPERLINK")));
        assert!(got.iter().any(|a| a.answer.contains("très")));
        *checked.entry("answers").or_default() += got.len();

        // Navigation and completion per section and subsection, whole range and a week.
        for (r, r0, r1) in [
            (range, t0, t1),
            (
                Range {
                    from: spec.start + Duration::days(7),
                    to: spec.start + Duration::days(14),
                },
                t0 + Duration::days(7),
                t0 + Duration::days(14),
            ),
        ] {
            let got: Vec<NavigationTruth> = navigation(&ch, course, r)
                .await
                .unwrap()
                .into_iter()
                .map(|n| NavigationTruth {
                    level: n.level,
                    section: n.section,
                    subsection: n.subsection,
                    block_id: n.block_id,
                    learners: n.learners,
                    visits: n.visits,
                    components: n.components,
                    completed: n.completed,
                    median_seconds: n.median_seconds,
                })
                .collect();
            assert_eq!(got, truth.navigation(c, r0, r1), "{course} {r:?}");
            assert!(got.iter().any(|n| n.completed > 0 && n.median_seconds > 0));
            *checked.entry("navigation").or_default() += got.len();
        }

        // The forum: per week, and the most active threads, whole range and a week.
        for (r, r0, r1) in [
            (range, t0, t1),
            (
                Range {
                    from: spec.start + Duration::days(7),
                    to: spec.start + Duration::days(14),
                },
                t0 + Duration::days(7),
                t0 + Duration::days(14),
            ),
        ] {
            let f = forums(&ch, course, r, 5).await.unwrap();
            // Users' copies of the two queries (the explorer's: the public events, not the
            // forum's stored copy of migration 0025) give the same rows.
            let (from, to) = r.bounds();
            let lit = |s: &str| cairn_core::sql::quote_str(s);
            let public = |template: &str, names: &[String]| {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                with_named_params(template, ch.database(), &names).unwrap()
            };
            let sql = public(FORUMS_SQL, &[lit(course), lit(&from), lit(&to)]);
            assert!(!sql.contains("_forum_events"), "{sql}");
            let weeks: Vec<ForumWeek> = ch.client().query(&sql).fetch_all().await.unwrap();
            assert_eq!(weeks, f.weeks, "users' copy, {course} {r:?}");
            let names = [lit(course), lit(&from), lit(&to), lit(course), "5".into()];
            let sql = public(FORUM_THREADS_SQL, &names);
            let threads: Vec<ForumThread> = ch.client().query(&sql).fetch_all().await.unwrap();
            assert_eq!(threads, f.threads, "users' copy, {course} {r:?}");
            let weeks: Vec<cairn_fixtures::ForumWeekTruth> = f
                .weeks
                .into_iter()
                .map(|w| cairn_fixtures::ForumWeekTruth {
                    week: w.week,
                    threads: w.threads,
                    responses: w.responses,
                    comments: w.comments,
                    votes: w.votes,
                    posters: w.posters,
                })
                .collect();
            assert_eq!(weeks, truth.forums(course, r0, r1), "{course} {r:?}");
            assert!(!weeks.is_empty());
            let threads: Vec<cairn_fixtures::ThreadTruth> = f
                .threads
                .into_iter()
                .map(|t| cairn_fixtures::ThreadTruth {
                    thread_id: t.thread_id,
                    title: t.title,
                    responses: t.responses,
                    comments: t.comments,
                    votes: t.votes,
                    learners: t.learners,
                })
                .collect();
            assert_eq!(
                threads,
                truth.forum_threads(course, r0, r1, 5),
                "{course} {r:?}"
            );
            *checked.entry("forums").or_default() += weeks.len() + threads.len();
        }

        // The hours of the week, in UTC, in zones half an hour and a quarter of an hour off
        // UTC's hours, and in one with summer time, against the log: the range's days and
        // the hours are the zone's.
        for zone in ["UTC", "Asia/Kolkata", "Asia/Kathmandu", "America/New_York"] {
            let tz = time_zone(zone).unwrap();
            let got = activity_hours(&ch, course, range, tz).await.unwrap();
            let start = |d: NaiveDate| {
                let midnight = d.and_hms_opt(0, 0, 0).unwrap();
                tz.from_local_datetime(&midnight)
                    .unwrap()
                    .with_timezone(&Utc)
            };
            let (lo, hi) = (start(range.from), start(range.to));
            // Left out: what the LMS does without the learner (grades computed, enrollments).
            let by_lms = |name: &str| {
                name.starts_with("edx.course.enrollment.")
                    || (name.starts_with("edx.grades.") && !name.starts_with("edx.grades.problem."))
            };
            let mut cells: BTreeMap<(u8, u8), BTreeSet<u32>> = BTreeMap::new();
            for e in truth.log.iter().filter(|e| {
                e.course == course && e.user != 0 && e.time >= lo && e.time < hi && !by_lms(e.name)
            }) {
                let local = e.time.with_timezone(&tz);
                let cell = (
                    local.weekday().number_from_monday() as u8,
                    local.hour() as u8,
                );
                cells.entry(cell).or_default().insert(e.user);
            }
            let expected: Vec<HourActivity> = cells
                .into_iter()
                .map(|((weekday, hour), users)| HourActivity {
                    weekday,
                    hour,
                    learners: users.len() as u64,
                })
                .collect();
            assert_eq!(got, expected, "{course} {zone}");
            assert!(expected.len() > 24, "{course} {zone}: {expected:?}");
            *checked.entry("hours").or_default() += got.len();
        }
        // The zones differ (Kolkata is 5:30 ahead): not the same rows shifted whole hours.
        let utc = activity_hours(&ch, course, range, time_zone("UTC").unwrap());
        let ist = activity_hours(&ch, course, range, time_zone("Asia/Kolkata").unwrap());
        assert_ne!(utc.await.unwrap(), ist.await.unwrap());

        // Retention by enrollment cohort, against the LMS seed and the log: over the whole
        // range, and over two weeks that leave out the first week's cohort.
        let two_weeks = Range {
            from: spec.start + Duration::days(7),
            to: spec.start + Duration::days(21),
        };
        for r in [range, two_weeks] {
            let got = retention(&ch, course, r).await.unwrap();
            let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap().and_utc();
            let (lo, hi) = (midnight(r.from), midnight(r.to));
            let cohort_of: BTreeMap<u32, NaiveDate> = truth
                .enrollments
                .iter()
                .filter(|(_, c, t)| c == course && *t >= lo && *t < hi)
                .map(|(u, _, t)| (*u, monday_of(t.date_naive())))
                .collect();
            let mut seen: BTreeMap<(NaiveDate, i64), BTreeSet<u32>> = BTreeMap::new();
            for e in truth.log.iter().filter(|e| {
                e.course == course
                    && e.time >= lo
                    && e.time < hi
                    && !matches!(
                        cairn_events::Family::of(e.name),
                        cairn_events::Family::Enrollment | cairn_events::Family::Implicit
                    )
            }) {
                if let Some(&cohort) = cohort_of.get(&e.user) {
                    let week = (monday_of(e.time.date_naive()) - cohort).num_weeks();
                    if week >= 0 {
                        seen.entry((cohort, week)).or_default().insert(e.user);
                    }
                }
            }
            let last = monday_of(r.to - Duration::days(1));
            let mut expected = Vec::new();
            let cohorts: BTreeSet<NaiveDate> = cohort_of.values().copied().collect();
            for cohort in cohorts {
                let enrolled = cohort_of.values().filter(|c| **c == cohort).count() as u64;
                for week in 0..=(last - cohort).num_weeks() {
                    expected.push(RetentionCell {
                        cohort: cohort.to_string(),
                        enrolled,
                        week: week as u32,
                        active: seen.get(&(cohort, week)).map_or(0, |s| s.len() as u64),
                    });
                }
            }
            assert_eq!(got, expected, "{course} {r:?}");
            assert!(
                expected.iter().any(|c| c.week > 0 && c.active > 0),
                "{course} {r:?}: nobody came back: {expected:?}"
            );
            *checked.entry("retention").or_default() += got.len();
        }

        // A range: the second week only (first and last are the range's).
        let week = Range {
            from: spec.start + Duration::days(7),
            to: spec.start + Duration::days(14),
        };
        let (w0, w1) = (
            week.from.and_hms_opt(0, 0, 0).unwrap().and_utc(),
            week.to.and_hms_opt(0, 0, 0).unwrap().and_utc(),
        );
        let got = problems(&ch, course, week).await.unwrap();
        let expected = truth.problems(course, w0, w1);
        assert_eq!(
            got.iter()
                .map(|g| (
                    g.problem_id.clone(),
                    (g.learners, g.submissions, g.first_correct)
                ))
                .collect::<BTreeMap<_, _>>(),
            expected
                .values()
                .map(|e| (
                    e.problem_id.clone(),
                    (e.learners, e.submissions, e.first_correct)
                ))
                .collect::<BTreeMap<_, _>>()
        );
        let mut got: Vec<(String, String, u64, u64)> = answers(&ch, course, week)
            .await
            .unwrap()
            .into_iter()
            .map(|a| (a.problem_id, a.value, a.first_learners, a.last_learners))
            .collect();
        got.sort();
        let expected: Vec<(String, String, u64, u64)> = truth
            .answers(course, w0, w1)
            .into_iter()
            .map(|a| (a.problem_id, a.value, a.first_learners, a.last_learners))
            .collect();
        assert_eq!(got, expected);

        // The overview runs every metric but the at-risk list.
        let o = overview(&ch, course, range).await.unwrap();
        assert_eq!(
            o.weekly,
            weekly_engagement(&ch, course, range).await.unwrap()
        );
        assert_eq!(o.grades.len(), 10);
        let text = format_overview(&o, Format::Table);
        assert!(text.contains("Progress per unit") && text.contains(&c.units[0].name));
    }
    // Course comparison over both courses, against the truth.
    let all: Vec<String> = generated.iter().map(|c| c.id.clone()).collect();
    let as_of = (spec.start + Duration::days(10))
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let got = compare(&ch, &all, as_of, range).await.unwrap();
    let spent = spent_per_learner(&truth);
    let expected: Vec<CourseComparison> = generated
        .iter()
        .map(|c| {
            let enrolled: BTreeSet<u32> = truth
                .enrollments
                .iter()
                .filter(|(_, course, _)| *course == c.id)
                .map(|(u, _, _)| *u)
                .collect();
            let n = enrolled.len() as u64;
            let week_before = as_of.and_utc() - Duration::days(7);
            let active: BTreeSet<u32> = truth
                .log
                .iter()
                .filter(|e| e.course == c.id && e.time >= week_before && e.time < as_of.and_utc())
                .map(|e| e.user)
                .collect();
            let done = truth
                .completions
                .iter()
                .filter(|(u, course, _)| *course == c.id && enrolled.contains(u))
                .count() as u64;
            let passed = enrolled
                .iter()
                .filter(|u| truth.grades.get(&(**u, c.id.clone())).is_some_and(|g| g.1))
                .count() as u64;
            let mut secs: Vec<u64> = spent
                .iter()
                .filter(|((course, _), _)| *course == c.id)
                .map(|(_, s)| *s)
                .collect();
            secs.sort_unstable();
            let d = 16 * n;
            CourseComparison {
                course_id: c.id.clone(),
                name: c.name.clone(),
                enrolled: n,
                active_7d: active.len() as u64,
                avg_progress: ((2000 * done + d) / (2 * d)) as f64 / 10.0,
                pass_rate: ((2000 * passed + n) / (2 * n)) as f64 / 10.0,
                median_time_spent: secs[secs.len() / 2],
            }
        })
        .collect();
    assert_eq!(got, expected);
    assert!(
        got.iter()
            .all(|c| c.active_7d > 0 && c.pass_rate > 0.0 && c.avg_progress > 0.0)
    );
    let mut sorted = got.clone();
    CompareSort::PassRate.apply(&mut sorted);
    assert!(sorted[0].pass_rate >= sorted[1].pass_rate);
    // Only the courses asked for.
    let one = compare(&ch, &all[1..], as_of, range).await.unwrap();
    assert_eq!(one, expected[1..]);
    *checked.entry("compare").or_default() += got.len();

    // One learner: the busiest of course 0 and one who never came.
    let c = &generated[0];
    let mut busy: BTreeMap<u32, usize> = BTreeMap::new();
    for e in truth.log.iter().filter(|e| e.course == c.id) {
        *busy.entry(e.user).or_default() += 1;
    }
    let (&who, _) = busy
        .iter()
        .max_by_key(|(u, n)| (**n, std::cmp::Reverse(**u)))
        .unwrap();
    let got = learner(&ch, &c.id, u64::from(who), range).await.unwrap();
    let mine: Vec<&cairn_fixtures::LogFact> = truth
        .log
        .iter()
        .filter(|e| e.course == c.id && e.user == who)
        .collect();
    let Profile {
        username, email, ..
    } = &truth.learners[&who];
    let (pct, passed) = truth.grades[&(who, c.id.clone())];
    let last = mine.iter().map(|e| e.time).max().unwrap();
    assert_eq!(
        got.summary,
        Some(LearnerSummary {
            user_id: u64::from(who),
            username: username.clone(),
            email: email.clone(),
            enrollment_mode: enrollment_mode(who).into(),
            enrolled: 1,
            percent_grade: pct,
            letter_grade: if passed { "Pass".into() } else { String::new() },
            passed: u8::from(passed),
            last_seen: last.format("%Y-%m-%d %H:%M:%S").to_string(),
        })
    );
    // Days: events and the seconds credited to each.
    let mut days: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let times = &timelines(&truth)[&(c.id.clone(), who)];
    for t in times {
        days.entry(t.format("%Y-%m-%d").to_string()).or_default().0 += 1;
    }
    for w in times.windows(2) {
        let gap = (w[1] - w[0]).num_seconds();
        let credit = if gap <= 1800 { gap.min(600) as u64 } else { 0 };
        days.get_mut(&w[0].format("%Y-%m-%d").to_string())
            .unwrap()
            .1 += credit;
    }
    let expected_days: Vec<LearnerDay> = days
        .into_iter()
        .map(|(day, (events, time_spent))| LearnerDay {
            day,
            events,
            time_spent,
        })
        .collect();
    assert_eq!(got.days, expected_days);
    // Units: its two components, completed or not.
    let done = |b: String| truth.completion_times.contains_key(&(who, c.id.clone(), b));
    let block = |ty: &str, id: &str| format!("block-v1:{}+type@{ty}+block@{id}", &c.id[10..]);
    let units: Vec<(String, u64, u64)> = c
        .units
        .iter()
        .map(|u| {
            let n = u64::from(done(block("video", &u.video)))
                + u64::from(done(block("problem", &u.problem)));
            (u.name.clone(), 2, n)
        })
        .collect();
    assert_eq!(
        got.units
            .iter()
            .map(|u| (u.unit.clone(), u.components, u.completed))
            .collect::<Vec<_>>(),
        units
    );
    // Videos: seconds watched, distinct seconds covered, their share of the length.
    let mut expected_videos = Vec::new();
    for u in &c.units {
        let segs: Vec<&cairn_fixtures::SegmentFact> = truth
            .segments
            .iter()
            .filter(|s| s.course == c.id && s.user == who && s.video == u.video)
            .collect();
        if segs.is_empty() {
            continue;
        }
        let watched: f64 = segs.iter().map(|s| s.end - s.start).sum();
        let covered: BTreeSet<u32> = segs
            .iter()
            .flat_map(|s| (s.start.floor() as u32)..(s.end.ceil() as u32))
            .collect();
        let length = f64::from(u.video_length);
        expected_videos.push(LearnerVideo {
            video_id: u.video.clone(),
            video: u.video_name.clone(),
            watched: (watched * 10.0 + 0.5).floor() / 10.0,
            covered: covered.len() as u64,
            duration: length,
            share: ((covered.len() as f64 / length).min(1.0) * 1000.0 + 0.5).floor() / 10.0,
        });
    }
    assert!(!expected_videos.is_empty());
    assert_eq!(got.videos, expected_videos);
    // Problems: submissions, first and last right, the last score.
    let mut expected_problems = Vec::new();
    for u in &c.units {
        let p = block("problem", &u.problem);
        let subs: Vec<&cairn_fixtures::SubmissionFact> = truth
            .submissions
            .iter()
            .filter(|s| s.user == who && s.problem == p)
            .collect();
        if let (Some(first), Some(last)) = (subs.first(), subs.last()) {
            expected_problems.push(LearnerProblem {
                problem_id: p.clone(),
                problem: format!("Check: {}", u.name),
                submissions: subs.len() as u64,
                first_correct: u8::from(first.correct),
                last_correct: u8::from(last.correct),
                last_score: if last.correct { 100.0 } else { 0.0 },
            });
        }
    }
    assert!(!expected_problems.is_empty());
    assert_eq!(got.problems, expected_problems);
    // Someone the LMS does not know: no summary, nothing else.
    let nobody = learner(&ch, &c.id, 987_654_321, range).await.unwrap();
    assert_eq!(nobody.summary, None);
    assert!(nobody.days.is_empty() && nobody.videos.is_empty() && nobody.problems.is_empty());
    assert!(nobody.units.iter().all(|u| u.completed == 0));
    *checked.entry("learner").or_default() +=
        got.days.len() + got.units.len() + got.videos.len() + got.problems.len() + 1;

    // The platform: every course, registrations and enrollments included (the seed has
    // everyone join on 2025-12-01); ingestion in the last 24 hours, freshness now.
    let wide = Range {
        from: NaiveDate::from_ymd_opt(2025, 12, 1).unwrap(),
        to: range.to,
    };
    let now = chrono::Utc::now().naive_utc();
    let got = platform(&ch, wide, now, 10).await.unwrap();
    let mut periods: BTreeMap<(usize, String), (BTreeSet<u32>, u64, u64)> = BTreeMap::new();
    let keys = |t: DateTime<Utc>| {
        let d = t.date_naive();
        [
            (0, d.to_string()),
            (1, monday(t)),
            (2, d.with_day(1).unwrap().to_string()),
        ]
    };
    for e in &truth.log {
        for k in keys(e.time) {
            periods.entry(k).or_default().0.insert(e.user);
        }
    }
    let joined = NaiveDate::from_ymd_opt(2025, 12, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    for k in keys(joined) {
        periods.entry(k).or_default().1 += truth.learners.len() as u64;
    }
    for (_, _, t) in &truth.enrollments {
        for k in keys(*t) {
            periods.entry(k).or_default().2 += 1;
        }
    }
    let expected: Vec<PlatformPeriod> = periods
        .into_iter()
        .map(
            |((p, start), (active, registrations, enrollments))| PlatformPeriod {
                period: ["day", "week", "month"][p].to_owned(),
                start,
                active: active.len() as u64,
                registrations,
                enrollments,
            },
        )
        .collect();
    assert_eq!(got.activity, expected);
    let mut top: Vec<PlatformCourse> = generated
        .iter()
        .map(|c| {
            let evs: Vec<&cairn_fixtures::LogFact> =
                truth.log.iter().filter(|e| e.course == c.id).collect();
            PlatformCourse {
                course_id: c.id.clone(),
                learners: evs.iter().map(|e| e.user).collect::<BTreeSet<_>>().len() as u64,
                events: evs.len() as u64,
            }
        })
        .collect();
    top.sort_by(|a, b| {
        (b.learners, b.events, &a.course_id).cmp(&(a.learners, a.events, &b.course_id))
    });
    assert_eq!(got.courses, top);
    assert_eq!(
        got.ingest.iter().map(|h| h.events).sum::<u64>(),
        truth.events,
        "{:?}",
        got.ingest
    );
    let rejected: u64 = s.rejected.values().sum();
    assert!(rejected > 0);
    assert_eq!(got.ingest.iter().map(|h| h.rejected).sum::<u64>(), rejected);
    assert!(got.ingest.iter().all(|h| h.path.ends_with("tracking.log")));
    let newest = truth.log.iter().map(|e| e.time).max().unwrap();
    assert_eq!(
        got.freshness.newest_event,
        newest.format("%Y-%m-%d %H:%M:%S").to_string()
    );
    let lag = (now.and_utc() - newest).num_seconds() as u64;
    assert!(
        got.freshness.lag_seconds.abs_diff(lag) <= 1,
        "{:?} vs {lag}",
        got.freshness
    );
    assert!(!got.freshness.last_ingest.is_empty());
    *checked.entry("platform").or_default() +=
        got.activity.len() + got.courses.len() + got.ingest.len() + 1;

    // Every day aggregated: the same results again, and one row per learner and day.
    let rest = aggregate::refresh(&ch, None).await.unwrap();
    assert!(rest.course_days > 0, "{rest:?}");
    assert_eq!(rest.left, 0, "{rest:?}");
    assert_eq!(
        activity_metrics(&ch, &course_ids, range, as_of_days).await,
        from_events,
        "every day aggregated"
    );
    let learner_days: BTreeSet<(String, u32, NaiveDate)> = truth
        .log
        .iter()
        .filter(|e| e.user != 0)
        .map(|e| (e.course.clone(), e.user, e.time.date_naive()))
        .collect();
    assert_eq!(
        count("SELECT count() FROM learner_days").await,
        learner_days.len() as u64
    );
    assert_eq!(
        count("SELECT toUInt64(sum(events)) FROM learner_days").await,
        truth.events - count("SELECT count() FROM events WHERE user_id = 0").await
    );
    // Active in the 7 days before a time that is not a midnight: the partial days at both
    // ends come from the events.
    let odd = as_of_days + Duration::seconds(13 * 3600 + 17 * 60 + 5);
    let got = compare(&ch, &course_ids, odd, range).await.unwrap();
    for (g, c) in got.iter().zip(&course_ids) {
        let start = (odd - Duration::days(7)).and_utc();
        let active: BTreeSet<u32> = truth
            .log
            .iter()
            .filter(|e| e.course == *c && e.time >= start && e.time < odd.and_utc())
            .map(|e| e.user)
            .collect();
        assert_eq!(g.active_7d, active.len() as u64, "{c}");
    }
    // Real time: an event inserted after aggregation counts at once (its day is stale
    // until the next aggregation, which then keeps it).
    let first_week = |w: Vec<Week>| (w[0].week.clone(), w[0].active);
    let before = first_week(weekly_engagement(&ch, c0, range).await.unwrap());
    ch.execute(&format!(
        "INSERT INTO _events (time, name, family, course_id, user_id, message) VALUES \
         (toDateTime('{} 12:00:00'), 'play_video', 'video', {}, 987654, 'late')",
        spec.start.format("%Y-%m-%d"),
        cairn_core::sql::quote_str(c0)
    ))
    .await
    .unwrap();
    let after = first_week(weekly_engagement(&ch, c0, range).await.unwrap());
    assert_eq!(
        (after.0.as_str(), after.1),
        (before.0.as_str(), before.1 + 1)
    );
    // (A day is stale while its newest insert is not older than its aggregation, to the
    // second: aggregated in a later second, it is current.)
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let late = aggregate::refresh(&ch, None).await.unwrap();
    assert_eq!((late.course_days, late.left), (1, 0), "{late:?}");
    let again = first_week(weekly_engagement(&ch, c0, range).await.unwrap());
    assert_eq!(again, after);
    *checked.entry("learner days").or_default() += learner_days.len();

    // A segment that spans two days (a play at 23:59:50, its pause 30 s later, the next
    // day), the play's day aggregated and the pause's not yet, then both.
    let videos = video_engagement(&ch, c0, range).await.unwrap();
    let video = videos[0].video_id.clone();
    let watched = |v: Vec<VideoEngagement>| {
        let v = v.into_iter().find(|v| v.video_id == video).unwrap();
        (v.viewers, (v.watch_time * 10.0).round() as u64)
    };
    let curve_at =
        |c: Vec<VideoSecond>, s: u32| c.iter().find(|x| x.second == s).map(|x| x.viewers);
    let before = watched(videos);
    let curve_before = video_curve(&ch, c0, &video, range).await.unwrap();
    let play_day = spec.start + Duration::days(2);
    let insert = |time: String, name: &str, position: u32| {
        format!(
            "INSERT INTO _events (time, name, family, course_id, user_id, video_id, position, message) \
             VALUES (toDateTime('{time}'), '{name}', 'video', {}, 987655, {}, {position}, '{name} late')",
            cairn_core::sql::quote_str(c0),
            cairn_core::sql::quote_str(&video)
        )
    };
    ch.execute(&insert(format!("{play_day} 23:59:50"), "play_video", 10))
        .await
        .unwrap();
    assert_eq!(
        watched(video_engagement(&ch, c0, range).await.unwrap()),
        before
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    aggregate::refresh(&ch, None).await.unwrap();
    let next_day = play_day + Duration::days(1);
    ch.execute(&insert(format!("{next_day} 00:00:20"), "pause_video", 40))
        .await
        .unwrap();
    let expected = (before.0 + 1, before.1 + 300);
    assert_eq!(
        watched(video_engagement(&ch, c0, range).await.unwrap()),
        expected,
        "the play's day aggregated, the pause's from the events"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = aggregate::refresh(&ch, None).await.unwrap();
    assert_eq!(r.left, 0);
    assert_eq!(
        watched(video_engagement(&ch, c0, range).await.unwrap()),
        expected,
        "both days aggregated"
    );
    let curve = video_curve(&ch, c0, &video, range).await.unwrap();
    for s in [10, 25, 39] {
        assert_eq!(
            curve_at(curve.clone(), s),
            Some(curve_at(curve_before.clone(), s).unwrap_or(0) + 1),
            "second {s}"
        );
    }
    assert_eq!(
        curve_at(curve.clone(), 40),
        curve_at(curve_before.clone(), 40)
    );
    *checked.entry("video days").or_default() += curve.len();

    eprintln!("rows checked per metric: {checked:?}");
    assert_eq!(
        courses_in(&ch).await,
        generated.iter().map(|c| c.id.clone()).collect::<Vec<_>>()
    );

    // A range cuts weeks off.
    let course = generated[0].id.as_str();
    let second_week = NaiveDate::from_ymd_opt(2026, 1, 12).unwrap();
    let got = weekly_engagement(
        &ch,
        course,
        Range {
            from: second_week,
            to: second_week + Duration::days(7),
        },
    )
    .await
    .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].week, "2026-01-12");
    conn.query_drop(format!("DROP DATABASE `{}`", lms.database))
        .await
        .unwrap();
    ch.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A server `problem_check` (or another problem event: `name`, `payload`) of learner
/// `user` on problem `P1` of course `P1`, as a Tutor tracking-log line.
fn problem_line(user: u64, time: &str, name: &str, payload: &str) -> String {
    let course = "course-v1:CairnX+P1+2026_T1";
    let problem = "block-v1:CairnX+P1+2026_T1+type@problem+block@p1";
    let payload = payload.replace("PROBLEM", problem);
    format!(
        "{} {},000 INFO 7 [tracking] [user {user}] [ip 10.0.0.1] logger.py:41 - \
         {{\"username\":\"u{user}\",\"ip\":\"10.0.0.1\",\"agent\":\"t\",\"session\":\"s{user}\",\
         \"host\":\"lms.example.org\",\"context\":{{\"course_id\":\"{course}\",\"org_id\":\"CairnX\",\
         \"path\":\"/courses/{course}/xblock/{problem}/handler/xmodule_handler/problem_check\",\
         \"user_id\":{user},\"module\":{{\"usage_key\":\"{problem}\",\"display_name\":\"p1\"}}}},\
         \"event\":{payload},\"event_source\":\"server\",\"event_type\":\"{name}\",\"name\":\"{name}\",\
         \"page\":null,\"time\":\"{}T{}.000000+00:00\"}}\n",
        &time[..10],
        &time[11..],
        &time[..10],
        &time[11..]
    )
}

/// A graded submission: attempt `n`, right (`choice_1`, "Yes") or not (`choice_0`,
/// "No").
fn check_line(user: u64, time: &str, n: u32, right: bool) -> String {
    check_with(user, time, n, right, true)
}

/// [`check_line`], with its answer or without any (`answered`: an empty `answers`).
fn check_with(user: u64, time: &str, n: u32, right: bool, answered: bool) -> String {
    let (grade, success, choice, text) = if right {
        (1, "correct", 1, "Yes")
    } else {
        (0, "incorrect", 0, "No")
    };
    let answers = if answered {
        format!(
            r#""answers":{{"p1_2_1":"choice_{choice}"}},"correct_map":{{"p1_2_1":{{"correctness":"{success}"}}}},"submission":{{"p1_2_1":{{"answer":"{text}","correct":{right},"input_type":"choicegroup"}}}}"#
        )
    } else {
        r#""answers":{},"correct_map":{}"#.to_owned()
    };
    problem_line(
        user,
        time,
        "problem_check",
        &format!(
            r#"{{"problem_id":"PROBLEM","attempts":{n},"grade":{grade},"max_grade":1,"success":"{success}",{answers},"state":{{}}}}"#
        ),
    )
}

/// Learners who submit one problem on two days: the problems page and the answer
/// distribution take each learner's first submission of their first day and last of
/// their last, count each submission once (a line logged twice included), and are the
/// same with no day, one day or every day pre-aggregated (the problem and answer days,
/// migrations 0026 and 0027).
#[tokio::test(flavor = "multi_thread")]
async fn problem_results_span_days_whatever_is_aggregated() {
    let ch =
        cairn_migrate::testing::data_lake_with("metrics_problem_days", testing::config()).await;
    let twice = check_line(8, "2026-01-06 10:00:00", 2, false);
    let log = [
        // Learner 7: wrong, wrong on the 5th, right on the 6th (after a hint).
        check_line(7, "2026-01-05 10:00:00", 1, false),
        check_line(7, "2026-01-05 11:00:00", 2, false),
        problem_line(
            7,
            "2026-01-06 08:59:00",
            "edx.problem.hint.demandhint_displayed",
            r#"{"module_id":"PROBLEM","hint_index":0,"hint_len":1,"hint_text":"h"}"#,
        ),
        check_line(7, "2026-01-06 09:00:00", 3, true),
        // Learner 8: right on the 5th (then the answer shown), wrong on the 6th, that line
        // logged twice.
        check_line(8, "2026-01-05 12:00:00", 1, true),
        problem_line(
            8,
            "2026-01-05 12:01:00",
            "showanswer",
            r#"{"problem_id":"PROBLEM"}"#,
        ),
        twice.clone(),
        twice,
        // Learner 9: wrong on the 5th (no answer sent), right on the 6th.
        check_with(9, "2026-01-05 13:00:00", 1, false, false),
        check_line(9, "2026-01-06 11:00:00", 2, true),
    ]
    .concat();
    let dir = std::env::temp_dir().join(format!("cairn-problem-days-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tracking.log");
    std::fs::write(&file, log).unwrap();
    let s = ingest(
        &ch,
        vec![Input::Path(file)],
        &IngestOptions::default(),
        Box::new(LogPublishes),
    )
    .await
    .unwrap();
    assert!(s.inserted == 10 && s.rejected.is_empty(), "{s:?}");
    let problem = "block-v1:CairnX+P1+2026_T1+type@problem+block@p1";
    let expected = vec![ProblemResult {
        position: u32::MAX,
        problem_id: problem.into(),
        problem: problem.into(),
        learners: 3,
        submissions: 7,
        submissions_per_learner: 2.3,
        first_correct: 33.3,
        last_correct: 66.7,
        avg_score: 66.7,
        hints: 1,
        answers_shown: 1,
    }];
    let range = Range {
        from: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
        to: NaiveDate::from_ymd_opt(2026, 1, 7).unwrap(),
    };
    let course = "course-v1:CairnX+P1+2026_T1";
    // Learner 9's first submission sent no answer: no answer was their first.
    let given =
        |value: &str, answer: &str, correct, learners, first, last, submissions| AnswerCount {
            position: u32::MAX,
            problem_id: problem.into(),
            problem: problem.into(),
            input: "p1_2_1".into(),
            value: value.into(),
            answer: answer.into(),
            correct,
            learners,
            first_learners: first,
            last_learners: last,
            submissions,
        };
    let expected_answers = vec![
        given("choice_1", "Yes", 1, 3, 1, 2, 3),
        given("choice_0", "No", 0, 2, 1, 1, 3),
    ];
    assert_eq!(
        problems(&ch, course, range).await.unwrap(),
        expected,
        "from the events"
    );
    assert_eq!(
        answers(&ch, course, range).await.unwrap(),
        expected_answers,
        "answers from the events"
    );
    let one = aggregate::refresh(&ch, Some(1)).await.unwrap();
    assert_eq!((one.course_days, one.left), (1, 1), "{one:?}");
    assert_eq!(
        problems(&ch, course, range).await.unwrap(),
        expected,
        "the first day aggregated"
    );
    assert_eq!(
        answers(&ch, course, range).await.unwrap(),
        expected_answers,
        "answers, the first day aggregated"
    );
    let rest = aggregate::refresh(&ch, None).await.unwrap();
    assert_eq!((rest.course_days, rest.left), (1, 0), "{rest:?}");
    let rows: u64 = ch
        .client()
        .query("SELECT count() FROM problem_days")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(rows, 6, "a row per learner and day");
    assert_eq!(
        problems(&ch, course, range).await.unwrap(),
        expected,
        "both days aggregated"
    );
    assert_eq!(
        answers(&ch, course, range).await.unwrap(),
        expected_answers,
        "answers, both days aggregated"
    );
    let rows: u64 = ch
        .client()
        .query("SELECT count() FROM answer_days")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(rows, 5, "a row per learner, day and answer given");
    // One day only: learner 8's day-6 line counted once.
    let sixth = Range {
        from: NaiveDate::from_ymd_opt(2026, 1, 6).unwrap(),
        to: NaiveDate::from_ymd_opt(2026, 1, 7).unwrap(),
    };
    let got = problems(&ch, course, sixth).await.unwrap();
    assert_eq!(
        (
            got[0].learners,
            got[0].submissions,
            got[0].first_correct,
            got[0].hints
        ),
        (3, 3, 66.7, 1),
        "{got:?}"
    );
    ch.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

/// Every result of the metrics read from the learner, video, problem, answer and block
/// days (activity, time spent, at-risk, videos, problems, answers, navigation, a few
/// learners' views, comparison, the platform), as one text: the same whatever part is
/// pre-aggregated.
async fn activity_metrics(
    ch: &cairn_core::ClickHouse,
    courses: &[String],
    range: Range,
    as_of: chrono::NaiveDateTime,
) -> String {
    let mut out = String::new();
    for c in courses {
        let w = weekly_engagement(ch, c, range).await.unwrap();
        let r = at_risk(ch, c, as_of, 7).await.unwrap();
        let v = video_engagement(ch, c, range).await.unwrap();
        let curve = video_curve(ch, c, &v[0].video_id, range).await.unwrap();
        let p = problems(ch, c, range).await.unwrap();
        let a = answers(ch, c, range).await.unwrap();
        let n = navigation(ch, c, range).await.unwrap();
        out.push_str(&format!(
            "{c}: {w:?}\n{r:?}\n{v:?}\n{curve:?}\n{p:?}\n{a:?}\n{n:?}\n"
        ));
        let kept = retention(ch, c, range).await.unwrap();
        out.push_str(&format!("{kept:?}\n"));
        // The hours of the week, read from the learner days' quarter hours.
        for zone in ["UTC", "Asia/Kolkata", "America/New_York"] {
            let h = activity_hours(ch, c, range, time_zone(zone).unwrap());
            out.push_str(&format!("{zone}: {:?}\n", h.await.unwrap()));
        }
        // The learner view of a few learners who watched videos (their videos are read
        // from the video days).
        let viewers: Vec<u64> = ch
            .client()
            .query(
                "SELECT DISTINCT toUInt64(user_id) FROM video_view_segments \
                 WHERE course_id = ? ORDER BY 1 LIMIT 5",
            )
            .bind(c)
            .fetch_all()
            .await
            .unwrap();
        assert!(!viewers.is_empty(), "{c}: nobody watched a video");
        for u in viewers {
            let l = learner(ch, c, u, range).await.unwrap();
            out.push_str(&format!("{u}: {:?}\n{:?}\n", l.videos, l.days));
        }
    }
    // as_of at a midnight (whole days) and at 13:17:05 (partial days at both ends).
    for t in [as_of, as_of + Duration::seconds(13 * 3600 + 17 * 60 + 5)] {
        let got = compare(ch, courses, t, range).await.unwrap();
        out.push_str(&format!("{got:?}\n"));
    }
    let wide = Range {
        from: range.from - Duration::days(60),
        to: range.to,
    };
    let p = platform(ch, wide, as_of, 10).await.unwrap();
    out.push_str(&format!("{:?}\n{:?}\n", p.activity, p.courses));
    out
}

/// Every page that reads the LMS answers from Cairn's copies of its tables (migration
/// 0023) as from the LMS live; the copies lag the LMS until the next copy; a learner
/// recorded as retired is never copied.
#[tokio::test(flavor = "multi_thread")]
async fn the_lms_copies_answer_as_the_lms_until_it_changes_and_leave_retired_learners_out() {
    let dir = std::env::temp_dir().join(format!("cairn-lms-copies-{}", std::process::id()));
    let spec = Spec {
        seed: 5,
        learners: 40,
        courses: 2,
        days: 14,
        ..Spec::default()
    };
    let Lake {
        ch, lms, mut conn, ..
    } = lake("metrics_copies", &spec, &dir).await;
    let generated = courses(&spec);
    cairn_fixtures::import_courses(&ch, &dir, &generated)
        .await
        .unwrap();
    // The courses' names, from their imported structure; a course not imported has none.
    let mut keys: Vec<String> = generated.iter().map(|c| c.id.clone()).collect();
    keys.push("course-v1:Not+Imported+Run".into());
    let names = cairn_report::course_names(&ch, &keys).await.unwrap();
    let want: std::collections::BTreeMap<String, String> = generated
        .iter()
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    assert_eq!(names, want);
    assert!(
        cairn_report::course_names(&ch, &[])
            .await
            .unwrap()
            .is_empty()
    );
    let course_ids: Vec<String> = generated.iter().map(|c| c.id.clone()).collect();
    let c0 = course_ids[0].as_str();
    let range = Range {
        from: spec.start,
        to: spec.start + Duration::days(i64::from(spec.days) + 7),
    };
    let as_of = (spec.start + Duration::days(12))
        .and_hms_opt(0, 0, 0)
        .unwrap();
    // The learner with the most completions in the first course.
    let (busy, completions): (u32, u64) = conn
        .exec_first(
            "SELECT user_id, COUNT(*) FROM completion_blockcompletion WHERE course_key = ? \
             GROUP BY user_id ORDER BY COUNT(*) DESC, user_id LIMIT 1",
            (c0,),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(completions > 0);
    let pages = || {
        let (ch, course_ids) = (ch.clone(), course_ids.clone());
        async move {
            let mut out = String::new();
            for c in &course_ids {
                let o = overview(&ch, c, range).await.unwrap();
                let r = at_risk(&ch, c, as_of, 3).await.unwrap();
                let n = navigation(&ch, c, range).await.unwrap();
                let l = learner(&ch, c, u64::from(busy), range).await.unwrap();
                let k = retention(&ch, c, range).await.unwrap();
                out.push_str(&format!(
                    "{c}: {:?}\n{:?}\n{:?}\n{:?}\n{r:?}\n{n:?}\n{:?}\n{:?}\n{k:?}\n",
                    o.weekly, o.progress, o.grades, o.demographics, l.summary, l.units
                ));
            }
            let cmp = compare(&ch, &course_ids, as_of, range).await.unwrap();
            let p = platform(&ch, range, as_of, 10).await.unwrap();
            out.push_str(&format!("{cmp:?}\n{:?}\n{:?}\n", p.activity, p.courses));
            out
        }
    };
    let progress = |source: lms::Source| {
        let ch = ch.clone();
        async move {
            query(
                &ch,
                COURSE_PROGRESS_SQL,
                source,
                &course_progress_params(c0),
            )
            .fetch_all::<UnitProgress>()
            .await
            .unwrap()
        }
    };

    // Before any copy the pages read the LMS live.
    assert_eq!(
        lms::source(&ch, COURSE_PROGRESS_SQL).await.unwrap(),
        lms::Source::Live
    );
    let live = pages().await;
    assert_eq!(overview(&ch, c0, range).await.unwrap().lms_as_of, None);
    assert!(
        progress(lms::Source::Live)
            .await
            .iter()
            .any(|u| u.completed > 0),
        "some units are completed: {live}"
    );
    let copied = lms::copy(&ch).await.unwrap();
    let mysql_count = |table: &'static str| {
        let lms = lms.clone();
        async move {
            let mut conn = cairn_core::mysql::connect(&lms).await.unwrap();
            conn.query_first::<u64, _>(format!("SELECT COUNT(*) FROM {table}"))
                .await
                .unwrap()
                .unwrap()
        }
    };
    let counts: Vec<u64> = copied.iter().map(|c| c.rows).collect();
    assert_eq!(
        counts[..3],
        [
            mysql_count("completion_blockcompletion").await,
            mysql_count("student_courseenrollment").await,
            mysql_count("grades_persistentcoursegrade").await,
        ],
        "every row copied: {copied:?}"
    );
    assert_eq!(copied[3].table, lms::PROGRESS, "{copied:?}");
    assert!(
        copied[3].rows > course_ids.len() as u64,
        "a mark per course and the learners' counts: {copied:?}"
    );
    assert_eq!(
        lms::source(&ch, COURSE_PROGRESS_SQL).await.unwrap(),
        lms::Source::Copies
    );
    assert_eq!(
        lms::source(&ch, VIDEO_ENGAGEMENT_SQL).await.unwrap(),
        lms::Source::Live,
        "a metric that reads no LMS table"
    );
    assert_eq!(pages().await, live, "the copies answer as the LMS");
    let as_of_copy = overview(&ch, c0, range).await.unwrap().lms_as_of;
    let now = chrono::Utc::now().naive_utc();
    let taken = chrono::NaiveDateTime::parse_from_str(
        as_of_copy
            .as_deref()
            .expect("the overview says when the copy was taken"),
        "%Y-%m-%d %H:%M:%S",
    )
    .unwrap();
    assert!((now - taken).num_seconds().abs() < 120, "{taken} vs {now}");
    counted_progress_is_read_while_the_structure_is_the_counted_one(
        &ch,
        &dir,
        &generated,
        (&course_ids, as_of, range),
    )
    .await;
    assert_eq!(pages().await, live, "the copies answer as the LMS");

    // The LMS changes: the learner's completions are deleted, every grade of the first
    // course passes, and an enrollment ends. The pages keep the copy's answer until the
    // next copy, then give the LMS's new one.
    conn.exec_drop(
        "DELETE FROM completion_blockcompletion WHERE user_id = ?",
        (busy,),
    )
    .await
    .unwrap();
    conn.exec_drop(
        "UPDATE grades_persistentcoursegrade SET percent_grade = 0.95, letter_grade = 'Pass', \
         passed_timestamp = '2026-01-01 00:00:00' WHERE course_id = ?",
        (c0,),
    )
    .await
    .unwrap();
    conn.exec_drop(
        "UPDATE student_courseenrollment SET is_active = 0 WHERE course_id = ? AND user_id = ?",
        (c0, busy),
    )
    .await
    .unwrap();
    let before = progress(lms::Source::Copies).await;
    assert_ne!(
        before,
        progress(lms::Source::Live).await,
        "the change shows live"
    );
    assert_eq!(pages().await, live, "the copy as it was taken");
    lms::copy(&ch).await.unwrap();
    let recopied = pages().await;
    assert_ne!(recopied, live, "the next copy has the change");
    assert_eq!(
        progress(lms::Source::Copies).await,
        progress(lms::Source::Live).await
    );
    // And every page equals the live one once the copies are dropped
    // (CAIRN_LMS_COPY_INTERVAL=0): they read the LMS, and no copy is left to grow stale.
    assert!(lms::forget(&ch).await.unwrap(), "there were copies");
    assert_eq!(overview(&ch, c0, range).await.unwrap().lms_as_of, None);
    for table in [
        "_lms_block_completion",
        "_lms_course_enrollments",
        "_lms_course_grades",
    ] {
        let n: u64 = ch
            .client()
            .query(&format!("SELECT count() FROM {table}"))
            .fetch_one()
            .await
            .unwrap();
        assert_eq!(n, 0, "{table} is dropped");
    }
    assert_eq!(
        pages().await,
        recopied,
        "the copies answer as the LMS, changed"
    );
    assert!(!lms::forget(&ch).await.unwrap(), "nothing left to drop");

    // A learner recorded as retired is not copied (`cairn retire` deletes theirs).
    let retired: u32 = conn
        .exec_first(
            "SELECT user_id FROM completion_blockcompletion WHERE course_key = ? \
             ORDER BY user_id LIMIT 1",
            (c0,),
        )
        .await
        .unwrap()
        .unwrap();
    ch.client()
        .query("INSERT INTO _retirements (user_id, mode, retired_at) VALUES (?, 'delete', now())")
        .bind(retired)
        .execute()
        .await
        .unwrap();
    lms::copy(&ch).await.unwrap();
    for (table, column) in [
        ("_lms_block_completion", "user_id"),
        ("_lms_course_enrollments", "user_id"),
        ("_lms_course_grades", "user_id"),
    ] {
        let n: u64 = ch
            .client()
            .query(&format!("SELECT count() FROM {table} WHERE {column} = ?"))
            .bind(retired)
            .fetch_one()
            .await
            .unwrap();
        assert_eq!(n, 0, "{table} holds none of the retired learner's rows");
    }
    let kept: u64 = ch
        .client()
        .query("SELECT count() FROM _lms_block_completion")
        .fetch_one()
        .await
        .unwrap();
    assert!(kept > 0, "the others' rows are copied");
    conn.disconnect().await.ok();
    testing::drop_mysql(&lms.database).await;
    ch.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The comparison's average progress: read from the learners' counts made at the copy
/// (migration 0029) while a course's structure is the one counted, from the completions
/// once the course is imported again (and exact both ways), counted again at the next
/// copy.
async fn counted_progress_is_read_while_the_structure_is_the_counted_one(
    ch: &cairn_core::ClickHouse,
    dir: &std::path::Path,
    generated: &[cairn_fixtures::Course],
    (course_ids, as_of, range): (&[String], chrono::NaiveDateTime, Range),
) {
    let c0 = course_ids[0].as_str();
    let progress = || async {
        compare(ch, course_ids, as_of, range)
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.course_id, c.avg_progress))
            .collect::<Vec<_>>()
    };
    let exact = progress().await;
    assert!(exact.iter().all(|(_, p)| *p > 0.0), "{exact:?}");
    let sum = |sql: &'static str| async move {
        ch.client()
            .query(sql)
            .bind(c0)
            .fetch_one::<u64>()
            .await
            .unwrap()
    };
    const COUNTED: &str = "SELECT toUInt64(sum(done)) FROM _lms_progress WHERE course_id = ?";
    let counted = sum(COUNTED).await;
    // Ground truth, by joins rather than the metric's sets.
    let truth = sum("SELECT toUInt64(count()) FROM \
         (SELECT course_key, user_id FROM _lms_block_completion \
          ALL INNER JOIN (SELECT course_id AS course_key, block_key FROM course_components) AS k \
          USING (course_key, block_key) WHERE course_key = ? AND completion >= 1) AS done \
         ALL INNER JOIN (SELECT course_id AS course_key, user_id FROM _lms_course_enrollments \
                         WHERE is_active = 1) AS enrolled USING (course_key, user_id)")
    .await;
    assert!(counted > 0);
    assert_eq!(counted, truth, "the copy counted every completed component");
    // A count the page reads: one more learner with every completion of the course.
    ch.client()
        .query(
            "INSERT INTO _lms_progress (course_id, import_version, user_id, done) \
             SELECT course_id, import_version, 999999, 1000000 FROM _lms_progress \
             WHERE course_id = ? AND user_id = 0",
        )
        .bind(c0)
        .execute()
        .await
        .unwrap();
    let skewed = progress().await;
    assert_ne!(skewed[0], exact[0], "the counts are read");
    assert_eq!(skewed[1..], exact[1..]);
    // Imported again: no course's count is read until the next copy, and the page is exact.
    cairn_fixtures::import_courses(ch, dir, generated)
        .await
        .unwrap();
    assert_eq!(progress().await, exact, "counted from the completions");
    // Counts of the new structure without the course's mark (a copy writes both at once)
    // are not read either: no course is counted twice.
    ch.client()
        .query(
            "INSERT INTO _lms_progress (course_id, import_version, user_id, done) \
             SELECT course_id, max(import_version), 999999, 1000000 FROM _course_imports \
             WHERE course_id = ? GROUP BY course_id",
        )
        .bind(c0)
        .execute()
        .await
        .unwrap();
    assert_eq!(
        progress().await,
        exact,
        "counted once, from the completions"
    );
    lms::copy(ch).await.unwrap();
    assert_eq!(progress().await, exact, "counted again");
    assert_eq!(sum(COUNTED).await, truth, "the skewed count is gone");
}

/// Data freshness: the newest event up to the as-of time, looked for from the newest day
/// with events marked, is found whatever the as-of time, and among every event when that
/// day holds none any more (its events deleted; here a mark inserted without events).
#[tokio::test]
async fn the_newest_event_is_found_from_the_marked_days_or_among_all() {
    let ch = cairn_migrate::testing::data_lake_with("metrics_freshness", testing::config()).await;
    let insert = |time: &str, course: &str| {
        format!(
            "INSERT INTO _events (time, name, family, course_id, user_id, message) VALUES \
             (toDateTime({}), 'play_video', 'video', {}, 5, 'x')",
            cairn_core::sql::quote_str(time),
            cairn_core::sql::quote_str(course)
        )
    };
    for (time, course) in [
        ("2026-01-05 10:00:00", "course-v1:A+B+C"),
        ("2026-01-07 08:00:00", "course-v1:A+B+C"),
        ("2026-01-07 09:30:00", ""),
        ("2026-01-07 18:00:00", "course-v1:X+Y+Z"),
        ("2026-02-03 12:00:00", "course-v1:X+Y+Z"),
    ] {
        ch.execute(&insert(time, course)).await.unwrap();
    }
    let at = |t: &str| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").unwrap();
    let newest = |as_of: &'static str| {
        let ch = &ch;
        async move {
            let p = vec![Param::Str(as_of.to_owned()); 5];
            query(ch, PLATFORM_FRESHNESS_SQL, lms::Source::Live, &p)
                .fetch_all::<Freshness>()
                .await
                .unwrap()
                .remove(0)
        }
    };
    let cases = [
        ("2026-03-01 00:00:00", "2026-02-03 12:00:00"),
        ("2026-02-03 11:59:59", "2026-01-07 18:00:00"),
        ("2026-01-07 17:59:59", "2026-01-07 09:30:00"),
        ("2026-01-07 09:00:00", "2026-01-07 08:00:00"),
        ("2026-01-06 23:59:59", "2026-01-05 10:00:00"),
        ("2026-01-05 09:59:59", ""),
    ];
    for (as_of, expected) in cases {
        let got = newest(as_of).await;
        assert_eq!(got.newest_event, expected, "as of {as_of}");
        let lag = if expected.is_empty() {
            0
        } else {
            (at(as_of) - at(expected)).num_seconds() as u64
        };
        assert_eq!(got.lag_seconds, lag, "as of {as_of}");
    }
    // A marked day whose events are gone: the newest is found among every event.
    ch.execute(
        "INSERT INTO _learner_days_dirty (course_id, day, dirty_at) \
         VALUES ('course-v1:A+B+C', toDate('2026-02-20'), now())",
    )
    .await
    .unwrap();
    assert_eq!(
        newest("2026-03-01 00:00:00").await.newest_event,
        "2026-02-03 12:00:00"
    );
    assert_eq!(
        newest("2026-02-20 23:00:00").await.newest_event,
        "2026-02-03 12:00:00"
    );
    ch.drop_database().await.unwrap();
}

#[tokio::test]
async fn the_median_time_spent_credits_a_gap_across_midnight_up_to_30_minutes() {
    let ch = cairn_migrate::testing::data_lake_with("metrics_midnight", testing::config()).await;
    let (a, b) = ("course-v1:M+N+O", "course-v1:P+Q+R");
    // (course, learner, time). Seconds spent, by the sessionization rule:
    // - 1 in a: 300 on the 5th, 600 for the gap across midnight (10 minutes, the cap), 120
    //   on the 6th: 1,020;
    // - 2 in a: 300;
    // - 3 in a: 0 on the 5th, 600 for a 21-minute gap across midnight (capped), 60: 660;
    // - 4 in b: a gap of 30 minutes and 1 second across midnight ends the session: 60;
    // - 5 in b: its late day's next active day is two days later: 60.
    let events = [
        (a, 1, "2026-01-05 23:50:00"),
        (a, 1, "2026-01-05 23:55:00"),
        (a, 1, "2026-01-06 00:05:00"),
        (a, 1, "2026-01-06 00:07:00"),
        (a, 2, "2026-01-05 10:00:00"),
        (a, 2, "2026-01-05 10:05:00"),
        (a, 3, "2026-01-05 23:59:00"),
        (a, 3, "2026-01-06 00:20:00"),
        (a, 3, "2026-01-06 00:21:00"),
        (b, 4, "2026-01-05 23:40:00"),
        (b, 4, "2026-01-06 00:10:01"),
        (b, 4, "2026-01-06 00:11:01"),
        (b, 5, "2026-01-05 23:59:30"),
        (b, 5, "2026-01-07 00:00:30"),
        (b, 5, "2026-01-07 00:01:30"),
    ];
    for (course, user, time) in events {
        ch.execute(&format!(
            "INSERT INTO _events (time, name, family, course_id, user_id, message) VALUES \
             (toDateTime({}), 'play_video', 'video', {}, {user}, {})",
            cairn_core::sql::quote_str(time),
            cairn_core::sql::quote_str(course),
            cairn_core::sql::quote_str(&format!("{course} {user} {time}"))
        ))
        .await
        .unwrap();
    }
    let courses = vec![a.to_owned(), b.to_owned()];
    let range = Range {
        from: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
        to: NaiveDate::from_ymd_opt(2026, 1, 12).unwrap(),
    };
    let as_of = range.to.and_hms_opt(0, 0, 0).unwrap();
    let medians = || {
        let (ch, courses) = (&ch, &courses);
        async move {
            query(
                ch,
                COMPARE_SQL,
                lms::Source::Live,
                &compare_params(courses, as_of, range),
            )
            .fetch_all::<CompareActivity>()
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.course_id, c.median_time_spent))
            .collect::<Vec<_>>()
        }
    };
    // a: 300, 660, 1,020 (the upper middle of an even count; here the middle): 660.
    let expected = vec![(a.to_owned(), 660), (b.to_owned(), 60)];
    // From the events (every day stale), then from the learner days.
    assert_eq!(medians().await, expected);
    let done = aggregate::refresh(&ch, None).await.unwrap();
    assert_eq!((done.course_days, done.left), (5, 0), "{done:?}");
    assert_eq!(medians().await, expected);
    ch.drop_database().await.unwrap();
}

/// A month whose days are computed again (a migration marks every day stale, say) keeps
/// one row per key afterwards: `cairn aggregate` merges its earlier rows away, which the
/// pages would otherwise read and skip. A month with fewer days computed again is left to
/// the server's merges, and a first computation merges nothing.
#[tokio::test]
async fn a_month_computed_again_keeps_one_row_per_key() {
    use cairn_core::sql::quote_str;
    let ch = cairn_migrate::testing::data_lake_with("metrics_compact", testing::config()).await;
    let c = "course-v1:C+O+M";
    let days: Vec<String> = (1..=8)
        .map(|d| format!("2026-01-{d:02}"))
        .chain(["2026-02-03".to_owned()])
        .collect();
    let mut rows = Vec::new();
    for day in &days {
        for user in [1, 2] {
            for (at, name, family, video, block) in [
                (
                    "10:00:00",
                    "play_video",
                    "video",
                    "v1",
                    "block-v1:C+O+M+type@video+block@v1",
                ),
                (
                    "10:05:00",
                    "problem_check",
                    "problem",
                    "",
                    "block-v1:C+O+M+type@problem+block@p1",
                ),
            ] {
                rows.push(format!(
                    "(toDateTime({}), {}, {}, {}, {user}, {}, {}, 'server', {})",
                    quote_str(&format!("{day} {at}")),
                    quote_str(name),
                    quote_str(family),
                    quote_str(c),
                    quote_str(video),
                    quote_str(block),
                    quote_str(&format!("{day} {user} {name}")),
                ));
            }
        }
    }
    ch.execute(&format!(
        "INSERT INTO _events (time, name, family, course_id, user_id, video_id, block_id, event_source, message) VALUES {}",
        rows.join(", ")
    ))
    .await
    .unwrap();
    let first = aggregate::refresh(&ch, None).await.unwrap();
    assert_eq!(
        (first.course_days, first.left, first.compacted),
        (9, 0, 0),
        "{first:?}"
    );
    // Every day stale again, a second after its computation.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    ch.execute(
        "INSERT INTO _learner_days_dirty (course_id, day, dirty_at) \
         SELECT course_id, day, now() FROM learner_days_state",
    )
    .await
    .unwrap();
    let again = aggregate::refresh(&ch, None).await.unwrap();
    // January (8 days computed again) merged, February (1 day) not.
    assert_eq!(
        (again.course_days, again.left, again.compacted),
        (9, 0, 1),
        "{again:?}"
    );
    let count = |sql: String| {
        let ch = &ch;
        async move { ch.client().query(&sql).fetch_one::<u64>().await.unwrap() }
    };
    for (table, view) in [
        ("_learner_days", "learner_days"),
        ("_video_days", "video_days"),
        ("_problem_days", "problem_days"),
        ("_answer_days", "answer_days"),
        ("_block_days", "block_days"),
    ] {
        let january = "day >= toDate('2026-01-01') AND day < toDate('2026-02-01')";
        let stored = count(format!("SELECT count() FROM {table} WHERE {january}")).await;
        let current = count(format!("SELECT count() FROM {view} WHERE {january}")).await;
        assert_eq!(stored, current, "{table}: one row per key in January");
        if table != "_answer_days" {
            // Two learners on 8 days (the block days: the video's block and the problem's).
            let per_day = if table == "_block_days" { 4 } else { 2 };
            assert_eq!(current, 8 * per_day, "{table}");
        }
    }
    ch.drop_database().await.unwrap();
}

async fn courses_in(ch: &cairn_core::ClickHouse) -> Vec<String> {
    cairn_report::courses(ch).await.unwrap()
}

#[test]
fn the_default_range_is_the_last_eight_iso_weeks() {
    let r = Range::last_weeks(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(), 8);
    assert_eq!(r.from, NaiveDate::from_ymd_opt(2026, 10, 5).unwrap());
    assert_eq!(r.to, NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
}

#[test]
fn rows_format_as_csv_and_aligned_tables() {
    let rows = vec![
        Demographic {
            dimension: "gender".into(),
            label: "Other, \"prefer not\"".into(),
            learners: 12,
        },
        Demographic {
            dimension: "gender".into(),
            label: "Male".into(),
            learners: 3,
        },
    ];
    assert_eq!(
        format_rows(&rows, Format::Csv),
        "dimension,label,learners\ngender,\"Other, \"\"prefer not\"\"\",12\ngender,Male,3\n"
    );
    assert_eq!(
        format_rows(&rows, Format::Table),
        "dimension  label                learners\ngender     Other, \"prefer not\"        12\ngender     Male                        3\n"
    );
    assert_eq!(
        format_rows::<Demographic>(&[], Format::Csv),
        "dimension,label,learners\n"
    );
}
