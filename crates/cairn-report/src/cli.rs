//! `cairn report …`: the course metrics in a terminal or for scripts.

use std::process::ExitCode;
use std::time::Duration;

use cairn_core::{ClickHouse, Config};
use chrono::{NaiveDate, NaiveDateTime};
use clap::Subcommand;

use crate::{Format, Range};

/// The time range options shared by the reports.
#[derive(clap::Args, Debug, Clone)]
pub struct RangeArgs {
    /// First day (YYYY-MM-DD); default: the Monday 7 weeks before this week's.
    #[arg(long)]
    from: Option<NaiveDate>,
    /// Last day (YYYY-MM-DD), included; default: this week's Sunday.
    #[arg(long)]
    to: Option<NaiveDate>,
}

impl RangeArgs {
    /// The range, defaults filled in (the last 8 ISO weeks); `--to` is its last day; an
    /// error when `--from` is after `--to`.
    pub fn range(&self) -> Result<Range, String> {
        let default = Range::last_weeks(chrono::Utc::now().date_naive(), 8);
        let from = self.from.unwrap_or(default.from);
        let last = self.to.unwrap_or(default.last());
        Range::through(from, last).ok_or_else(|| {
            format!("the range is empty: --from {from} is after --to {last} (its last day)")
        })
    }
}

/// `cairn report` subcommands.
#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// The course overview: weekly engagement and time spent, progress per unit, grade
    /// distribution, demographics, video engagement.
    CourseOverview {
        /// The course key.
        #[arg(long = "course-id", value_name = "KEY")]
        course_id: String,
        /// The time range.
        #[command(flatten)]
        range: RangeArgs,
        /// Output format: table, json or csv.
        #[arg(long, default_value = "table")]
        format: Format,
    },
    /// Learners at risk: enrolled, did something, not passed, inactive for N days.
    AtRisk {
        /// The course key.
        #[arg(long = "course-id", value_name = "KEY")]
        course_id: String,
        /// Days without activity.
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// The time to count from (UTC, `YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ss`); default: now.
        #[arg(long = "as-of", value_parser = parse_time)]
        as_of: Option<NaiveDateTime>,
        /// Output format: table, json or csv.
        #[arg(long, default_value = "table")]
        format: Format,
    },
    /// Problem results per problem in course order: learners who submitted, submissions per
    /// learner, % right at the first and at the last submission, mean score, hints and
    /// answers shown; with `--answers`, the answer distribution per input instead.
    Problems {
        /// The course key.
        #[arg(long = "course-id", value_name = "KEY")]
        course_id: String,
        /// The time range.
        #[command(flatten)]
        range: RangeArgs,
        /// Every answer given to every input: learners who gave it, at their first and at
        /// their last submission.
        #[arg(long)]
        answers: bool,
        /// Output format: table, json or csv.
        #[arg(long, default_value = "table")]
        format: Format,
    },
    /// Navigation and completion per section and subsection: learners who visited, visits,
    /// learners who completed all its components, median time to complete.
    Navigation {
        /// The course key.
        #[arg(long = "course-id", value_name = "KEY")]
        course_id: String,
        /// The time range (of visits; completion is the LMS's current state).
        #[command(flatten)]
        range: RangeArgs,
        /// Output format: table, json or csv.
        #[arg(long, default_value = "table")]
        format: Format,
    },
    /// Every actively enrolled learner: enrollment, last seen, active days and time spent
    /// in the range, progress, grade, passed (by username).
    Learners {
        /// The course key.
        #[arg(long = "course-id", value_name = "KEY")]
        course_id: String,
        /// The time range (of active days and time spent).
        #[command(flatten)]
        range: RangeArgs,
        /// Output format: table, json or csv.
        #[arg(long, default_value = "table")]
        format: Format,
    },
    /// Courses side by side: enrolled, active in the last 7 days, average progress, pass
    /// rate, median time spent (every course with data, or those given, or an org's).
    Compare {
        /// The courses (repeatable); default: every course with events or a structure.
        #[arg(long = "course-id", value_name = "KEY")]
        course_ids: Vec<String>,
        /// Only this org's courses.
        #[arg(long)]
        org: Option<String>,
        /// Sort by (largest first): course, enrolled, active, progress, pass-rate, time-spent.
        #[arg(long, value_enum, default_value_t = crate::CompareSort::Course)]
        sort: crate::CompareSort,
        /// The time the 7 active days end (UTC, `YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ss`);
        /// default: now.
        #[arg(long = "as-of", value_parser = parse_time)]
        as_of: Option<NaiveDateTime>,
        /// The time range of the time spent.
        #[command(flatten)]
        range: RangeArgs,
        /// Output format: table, json or csv.
        #[arg(long, default_value = "table")]
        format: Format,
    },
    /// One learner in one course: grade and passing, last seen, activity and time per day,
    /// progress per unit, share of each video watched, problems and results.
    Learner {
        /// The course key.
        #[arg(long = "course-id", value_name = "KEY")]
        course_id: String,
        /// The learner's LMS user id.
        #[arg(long = "user-id")]
        user_id: u64,
        /// The time range (of activity, videos and problems).
        #[command(flatten)]
        range: RangeArgs,
        /// Output format: table or json.
        #[arg(long, default_value = "table")]
        format: Format,
    },
    /// The whole platform (for global staff): active learners per day, week and month,
    /// registrations, enrollments, the most active courses, ingestion per source and hour
    /// over the last 24 hours, and data freshness.
    Platform {
        /// The time range of the activity and the courses.
        #[command(flatten)]
        range: RangeArgs,
        /// How many of the most active courses.
        #[arg(long, default_value_t = 10)]
        top: u32,
        /// Output format: table or json.
        #[arg(long, default_value = "table")]
        format: Format,
    },
    /// The forum: threads, responses, comments, votes and learners who posted, per week;
    /// with `--threads`, the most active threads instead.
    Forums {
        /// The course key.
        #[arg(long = "course-id", value_name = "KEY")]
        course_id: String,
        /// The time range.
        #[command(flatten)]
        range: RangeArgs,
        /// The N most active threads instead of the weeks.
        #[arg(long, value_name = "N")]
        threads: Option<u32>,
        /// Output format: table, json or csv.
        #[arg(long, default_value = "table")]
        format: Format,
    },
    /// How far the enrolled learners got: seen, active in the range, completed a component,
    /// half, every one, passed.
    Funnel {
        /// The course key.
        #[arg(long = "course-id", value_name = "KEY")]
        course_id: String,
        /// The time range (of "active in the range").
        #[command(flatten)]
        range: RangeArgs,
        /// Output format: table, json or csv.
        #[arg(long, default_value = "table")]
        format: Format,
    },
    /// Retention by enrollment cohort: the learners who enrolled each week of the range, and
    /// how many of them came back each week after (a table shows the cohorts' weeks in %).
    Retention {
        /// The course key.
        #[arg(long = "course-id", value_name = "KEY")]
        course_id: String,
        /// The time range (of the enrollments and of the weeks after).
        #[command(flatten)]
        range: RangeArgs,
        /// Output format: table, json or csv.
        #[arg(long, default_value = "table")]
        format: Format,
    },
    /// When learners are active: per day of the week and hour, the learners with an event
    /// then (a table shows the week as a grid).
    Hours {
        /// The course key.
        #[arg(long = "course-id", value_name = "KEY")]
        course_id: String,
        /// The time range (its days are the time zone's).
        #[command(flatten)]
        range: RangeArgs,
        /// The time zone of the days and hours (an IANA name: UTC, Europe/Paris, …).
        #[arg(long, default_value = "UTC", value_name = "ZONE")]
        tz: String,
        /// Output format: table, json or csv.
        #[arg(long, default_value = "table")]
        format: Format,
    },
    /// The second-by-second audience of one video.
    VideoCurve {
        /// The course key.
        #[arg(long = "course-id", value_name = "KEY")]
        course_id: String,
        /// The video's block id.
        #[arg(long = "video-id")]
        video_id: String,
        /// The time range.
        #[command(flatten)]
        range: RangeArgs,
        /// Output format: table, json or csv.
        #[arg(long, default_value = "table")]
        format: Format,
    },
}

fn parse_time(s: &str) -> Result<NaiveDateTime, String> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .map_err(|_| format!("{s:?} is not YYYY-MM-DD or YYYY-MM-DDThh:mm:ss"))
}

fn course(id: &str) -> Result<(), String> {
    cairn_core::CourseKey::parse(id)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

impl ReportCommand {
    /// The course a one-course report is about.
    fn course_id(&self) -> Option<&str> {
        match self {
            ReportCommand::CourseOverview { course_id, .. }
            | ReportCommand::AtRisk { course_id, .. }
            | ReportCommand::Problems { course_id, .. }
            | ReportCommand::Navigation { course_id, .. }
            | ReportCommand::Learners { course_id, .. }
            | ReportCommand::Learner { course_id, .. }
            | ReportCommand::Forums { course_id, .. }
            | ReportCommand::Hours { course_id, .. }
            | ReportCommand::Retention { course_id, .. }
            | ReportCommand::Funnel { course_id, .. }
            | ReportCommand::VideoCurve { course_id, .. } => Some(course_id),
            ReportCommand::Compare { .. } | ReportCommand::Platform { .. } => None,
        }
    }
}

/// A note for a course the data lake knows nothing of (no events, no imported
/// structure), whose report is all zeros: most often a mistyped key. Names a known course
/// that differs only in case, else a few known courses.
async fn unknown_course_note(ch: &ClickHouse, course_id: &str) -> Result<Option<String>, String> {
    let known = crate::courses(ch).await.map_err(|e| e.to_string())?;
    if known.iter().any(|c| c == course_id) {
        return Ok(None);
    }
    let head = format!(
        "note: the data lake (database {}) has no events and no imported structure for {course_id}",
        ch.database()
    );
    let tail = if let Some(c) = known.iter().find(|c| c.eq_ignore_ascii_case(course_id)) {
        format!("; did you mean {c}? (course keys are case-sensitive)")
    } else if known.is_empty() {
        ": it holds no course yet (`cairn ingest` and `cairn import courses` fill it)".to_owned()
    } else {
        let shown: Vec<&str> = known.iter().take(5).map(String::as_str).collect();
        let more = match known.len() - shown.len() {
            0 => String::new(),
            n => format!(" and {n} more (`cairn report compare` lists them)"),
        };
        format!("; its courses: {}{more}", shown.join(", "))
    };
    Ok(Some(head + &tail))
}

/// A table's title line, then the table; JSON and CSV get the body alone.
fn titled(format: Format, title: String, body: String) -> String {
    if format == Format::Table {
        format!("{title}\n{body}")
    } else {
        body
    }
}

/// Runs `cairn report …`.
pub fn run(cmd: &ReportCommand, config: &Config) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cairn: {e}");
            return ExitCode::FAILURE;
        }
    };
    let r: Result<String, String> = rt.block_on(async {
        // Arguments are checked before connecting.
        let connect = || async {
            ClickHouse::connect(&config.clickhouse)
                .await
                .map_err(|e| e.to_string())
        };
        let text: Result<String, String> = match cmd {
            ReportCommand::CourseOverview {
                course_id,
                range,
                format,
            } => {
                course(course_id)?;
                let range = range.range()?;
                let o = crate::overview(&connect().await?, course_id, range)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(crate::format_overview(&o, *format))
            }
            ReportCommand::AtRisk {
                course_id,
                days,
                as_of,
                format,
            } => {
                course(course_id)?;
                let as_of = as_of.unwrap_or_else(|| chrono::Utc::now().naive_utc());
                let rows = crate::at_risk(&connect().await?, course_id, as_of, *days)
                    .await
                    .map_err(|e| e.to_string())?;
                let title = format!(
                    "{course_id}: {} learners at risk (no activity for {days} days before {} UTC)",
                    rows.len(),
                    as_of.format("%Y-%m-%d %H:%M:%S")
                );
                Ok(titled(*format, title, crate::format_rows(&rows, *format)))
            }
            ReportCommand::Problems {
                course_id,
                range,
                answers,
                format,
            } => {
                course(course_id)?;
                let range = range.range()?;
                let ch = connect().await?;
                let text = if *answers {
                    crate::format_rows(
                        &crate::answers(&ch, course_id, range)
                            .await
                            .map_err(|e| e.to_string())?,
                        *format,
                    )
                } else {
                    crate::format_rows(
                        &crate::problems(&ch, course_id, range)
                            .await
                            .map_err(|e| e.to_string())?,
                        *format,
                    )
                };
                Ok(text)
            }
            ReportCommand::Navigation {
                course_id,
                range,
                format,
            } => {
                course(course_id)?;
                let range = range.range()?;
                let rows = crate::navigation(&connect().await?, course_id, range)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(crate::format_rows(&rows, *format))
            }
            ReportCommand::Learners {
                course_id,
                range,
                format,
            } => {
                course(course_id)?;
                let range = range.range()?;
                let rows = crate::learners(&connect().await?, course_id, range)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(crate::format_rows(&rows, *format))
            }
            ReportCommand::Compare {
                course_ids,
                org,
                sort,
                as_of,
                range,
                format,
            } => {
                for c in course_ids {
                    course(c)?;
                }
                let range = range.range()?;
                let as_of = as_of.unwrap_or_else(|| chrono::Utc::now().naive_utc());
                let ch = connect().await?;
                let mut courses = if course_ids.is_empty() {
                    crate::courses(&ch).await.map_err(|e| e.to_string())?
                } else {
                    course_ids.clone()
                };
                if let Some(org) = org {
                    courses.retain(|c| crate::in_org(c, org));
                }
                let mut rows = crate::compare(&ch, &courses, as_of, range)
                    .await
                    .map_err(|e| e.to_string())?;
                sort.apply(&mut rows);
                Ok(crate::format_rows(&rows, *format))
            }
            ReportCommand::Learner {
                course_id,
                user_id,
                range,
                format,
            } => {
                course(course_id)?;
                let range = range.range()?;
                let v = crate::learner(&connect().await?, course_id, *user_id, range)
                    .await
                    .map_err(|e| e.to_string())?;
                if v.summary.is_none() {
                    return Err(format!("the LMS has no user {user_id}"));
                }
                Ok(crate::format_learner(&v, *format))
            }
            ReportCommand::Platform { range, top, format } => {
                let range = range.range()?;
                let p = crate::platform(
                    &connect().await?,
                    range,
                    chrono::Utc::now().naive_utc(),
                    *top,
                )
                .await
                .map_err(|e| e.to_string())?;
                Ok(crate::format_platform(&p, *format))
            }
            ReportCommand::Forums {
                course_id,
                range,
                threads,
                format,
            } => {
                course(course_id)?;
                let range = range.range()?;
                let f = crate::forums(&connect().await?, course_id, range, threads.unwrap_or(10))
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(match threads {
                    Some(_) => crate::format_rows(&f.threads, *format),
                    None => crate::format_rows(&f.weeks, *format),
                })
            }
            ReportCommand::Funnel {
                course_id,
                range,
                format,
            } => {
                course(course_id)?;
                let range = range.range()?;
                let f = crate::funnel(&connect().await?, course_id, range)
                    .await
                    .map_err(|e| e.to_string())?;
                let title = format!(
                    "{course_id}: how far the enrolled learners got (active: {} to {})",
                    range.from,
                    range.last()
                );
                Ok(titled(*format, title, crate::format_funnel(&f, *format)))
            }
            ReportCommand::Hours {
                course_id,
                range,
                tz,
                format,
            } => {
                course(course_id)?;
                let range = range.range()?;
                let tz = crate::time_zone(tz)?;
                let rows = crate::activity_hours(&connect().await?, course_id, range, tz)
                    .await
                    .map_err(|e| e.to_string())?;
                let title = format!(
                    "{course_id}: learners active per day of the week and hour ({tz}), {} to {}",
                    range.from,
                    range.last()
                );
                Ok(titled(*format, title, crate::format_hours(&rows, *format)))
            }
            ReportCommand::Retention {
                course_id,
                range,
                format,
            } => {
                course(course_id)?;
                let range = range.range()?;
                let cells = crate::retention(&connect().await?, course_id, range)
                    .await
                    .map_err(|e| e.to_string())?;
                let title = format!(
                    "{course_id}: learners engaged each week after they enrolled, per week of enrollment, {} to {}",
                    range.from,
                    range.last()
                );
                Ok(titled(*format, title, crate::format_retention(&cells, *format)))
            }
            ReportCommand::VideoCurve {
                course_id,
                video_id,
                range,
                format,
            } => {
                course(course_id)?;
                let range = range.range()?;
                let rows = crate::video_curve(&connect().await?, course_id, video_id, range)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(crate::format_rows(&rows, *format))
            }
        };
        let text = text?;
        if let Some(c) = cmd.course_id()
            && let Some(note) = unknown_course_note(&connect().await?, c).await?
        {
            eprintln!("cairn: {note}");
        }
        Ok(text)
    });
    match r {
        Ok(s) => {
            print!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cairn: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Arguments of `cairn aggregate`.
#[derive(clap::Args, Debug)]
pub struct AggregateArgs {
    /// Compute at most N days (oldest first; the next run goes on), default all.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_days: Option<u32>,
    /// Do not copy the LMS tables the metrics read (block completions, enrollments, course
    /// grades); by default they are copied after the learner days.
    #[arg(long)]
    no_lms_copy: bool,
}

/// Runs `cairn aggregate`: computes the learner days of the stale course-days, then copies
/// the LMS tables the metrics read.
pub fn aggregate(args: &AggregateArgs, config: &Config) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cairn aggregate: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = std::time::Instant::now();
    let r = rt.block_on(async {
        let ch = ClickHouse::connect(&config.clickhouse).await?;
        let done = crate::aggregate::refresh(&ch, args.max_days.map(|n| n as usize)).await?;
        println!(
            "aggregated {} course-days ({} learner days) in {:.1} s; {} course-days left{}",
            done.course_days,
            done.rows,
            started.elapsed().as_secs_f64(),
            done.left,
            match done.compacted {
                0 => String::new(),
                n => format!("; earlier rows merged away in {n} month(s)"),
            }
        );
        if args.no_lms_copy {
            return Ok(());
        }
        if config.lms_copy_interval_secs == 0 {
            let dropped = crate::lms::forget(&ch).await?;
            println!(
                "LMS tables not copied (CAIRN_LMS_COPY_INTERVAL=0): the pages read the LMS live{}",
                if dropped { "; the earlier copies were dropped" } else { "" }
            );
            return Ok(());
        }
        let copied = crate::lms::copy(&ch).await.map_err(|e| {
            cairn_core::Error::Other(format!(
                "{e} (the learner days above are stored; `cairn aggregate --no-lms-copy` skips the copy)"
            ))
        })?;
        println!("copied the LMS tables: {}", copied_summary(&copied));
        Ok::<(), cairn_core::Error>(())
    });
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn aggregate: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Computes the stale learner days every `CAIRN_AGGREGATE_INTERVAL` seconds, and copies
/// the LMS tables every `CAIRN_LMS_COPY_INTERVAL` seconds (the first time at once; with
/// `0`, drops the earlier copies at once), until the process ends (for `cairn serve` and
/// `cairn ingest --follow`).
pub async fn schedule(ch: ClickHouse, config: Config) {
    let every = config.aggregate_interval_secs;
    let copy_every = config.lms_copy_interval_secs;
    if copy_every == 0 {
        // No copies: none is left to grow stale, the pages read the LMS live.
        match crate::lms::forget(&ch).await {
            Ok(true) => tracing::info!(
                "LMS copy: off (CAIRN_LMS_COPY_INTERVAL=0); the earlier copies were dropped, the pages read the LMS live"
            ),
            Ok(false) => {}
            Err(e) => tracing::warn!("LMS copy: off, but the earlier copies stay: {e}"),
        }
    }
    if every == 0 && copy_every == 0 {
        return;
    }
    let owner = format!("cairn background aggregation (pid {})", std::process::id());
    let mut next_copy = std::time::Instant::now();
    loop {
        if every > 0 {
            match crate::aggregate::refresh_locked(&ch, &owner, None, Duration::ZERO).await {
                Ok(None) => tracing::debug!("aggregate: another refresher runs"),
                Ok(Some(d)) if d.course_days > 0 => tracing::info!(
                    "aggregated {} course-days ({} learner days)",
                    d.course_days,
                    d.rows
                ),
                Ok(_) => tracing::debug!("aggregate: nothing to do"),
                Err(e) => tracing::warn!("aggregate: {e} (next try in {every} s)"),
            }
        }
        if copy_every > 0 && std::time::Instant::now() >= next_copy {
            match crate::lms::copy_locked(&ch, &owner, Duration::ZERO).await {
                // Tried again at the next tick.
                Ok(None) => tracing::debug!("LMS copy: another refresher runs"),
                Ok(Some(copied)) => {
                    tracing::info!("LMS copy: {}", copied_summary(&copied));
                    next_copy = std::time::Instant::now() + Duration::from_secs(copy_every);
                }
                Err(e) => {
                    tracing::warn!("LMS copy: {e} (next try in {copy_every} s)");
                    next_copy = std::time::Instant::now() + Duration::from_secs(copy_every);
                }
            }
        }
        let until_copy = next_copy.saturating_duration_since(std::time::Instant::now());
        let tick = match (every, copy_every) {
            (0, _) => until_copy,
            (n, 0) => Duration::from_secs(n),
            (n, _) => Duration::from_secs(n).min(until_copy),
        };
        tokio::time::sleep(tick.max(Duration::from_secs(1))).await;
    }
}

/// What a copy of the LMS tables did, in one line.
fn copied_summary(copied: &[crate::lms::Copied]) -> String {
    let parts: Vec<String> = copied
        .iter()
        .map(|c| format!("{} rows of {} in {:.1} s", c.rows, c.table, c.seconds))
        .collect();
    parts.join(", ")
}
