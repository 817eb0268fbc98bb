//! What a report says: for each course, the past ISO week's engagement against the week
//! before, completion and grade highlights, learners newly at risk, a chart, CSV files
//! and a link to the dashboard. The numbers come from `cairn-report`'s metrics, the same
//! SQL as `cairn report course-overview` and the dashboard.

use cairn_core::ClickHouse;
use cairn_report::{AtRisk, Format, Funnel, GradeBucket, Range, UnitProgress, Week};
use chrono::{Datelike, Duration, NaiveDate};
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart, header::ContentType};
use serde::Serialize;

use crate::chart::{self, Series};

/// Weeks drawn in the chart and written to the CSV (the past week last).
pub const CHART_WEEKS: u32 = 8;
/// Days without activity that make an enrolled learner at risk.
pub const AT_RISK_DAYS: u32 = 7;

/// One course's part of a report.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// The course key.
    pub course_id: String,
    /// The course's name (its key when the course structure is not imported).
    pub name: String,
    /// The past week: its Monday and the Monday after.
    pub week: (NaiveDate, NaiveDate),
    /// The weekly engagement of the last [`CHART_WEEKS`] weeks (each week a row, zeros
    /// for one without activity, as in `cairn report course-overview`).
    pub weeks: Vec<Week>,
    /// The past week (its learners enrolled and zeros, when it had no activity).
    pub this: Option<Week>,
    /// The week before, the same way.
    pub before: Option<Week>,
    /// Progress per unit.
    pub progress: Vec<UnitProgress>,
    /// The grade distribution.
    pub grades: Vec<GradeBucket>,
    /// How far the enrolled learners got (active: during the past week).
    pub funnel: Funnel,
    /// Learners who became at risk during the past week: inactive for at least
    /// [`AT_RISK_DAYS`] days at its end, and not yet at its start.
    pub newly_at_risk: Vec<AtRisk>,
    /// The course on the dashboard.
    pub link: String,
}

/// The Monday of `day`'s ISO week.
pub fn monday(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// The past week of a period that fired on `day`: the whole ISO week before `day`'s.
pub fn past_week(day: NaiveDate) -> Range {
    let to = monday(day);
    Range {
        from: to - Duration::weeks(1),
        to,
    }
}

/// Reads one course's section for a period that fired on `day`.
pub async fn section(
    ch: &ClickHouse,
    course_id: &str,
    day: NaiveDate,
    dashboard_url: &str,
) -> cairn_core::Result<Section> {
    let past = past_week(day);
    let range = Range {
        from: past.to - Duration::weeks(i64::from(CHART_WEEKS)),
        to: past.to,
    };
    let as_of = past.to.and_hms_opt(0, 0, 0).unwrap_or_default();
    let course = [course_id.to_owned()];
    let (weeks, progress, grades, funnel, at_risk, mut names) = tokio::try_join!(
        cairn_report::weekly_engagement(ch, course_id, range),
        cairn_report::course_progress(ch, course_id),
        cairn_report::grade_distribution(ch, course_id),
        cairn_report::funnel(ch, course_id, past),
        cairn_report::at_risk(ch, course_id, as_of, AT_RISK_DAYS),
        cairn_report::course_names(ch, &course),
    )?;
    let key = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    let find = |d: NaiveDate| weeks.iter().find(|w| w.week == key(d)).cloned();
    Ok(Section {
        course_id: course_id.to_owned(),
        name: names
            .remove(course_id)
            .unwrap_or_else(|| course_id.to_owned()),
        week: (past.from, past.to),
        this: find(past.from),
        before: find(past.from - Duration::weeks(1)),
        weeks,
        progress,
        grades,
        funnel,
        newly_at_risk: at_risk
            .into_iter()
            .filter(|r| r.days_inactive < u64::from(AT_RISK_DAYS) + 7)
            .collect(),
        link: format!(
            "{}/#{}",
            dashboard_url.trim_end_matches('/'),
            utf8_percent_encode(course_id)
        ),
    })
}

fn utf8_percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'+' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One metric's line: this week, the week before and the change.
#[derive(Debug, Clone, Serialize)]
struct Line {
    name: &'static str,
    this: String,
    before: String,
    change: String,
}

fn change(this: f64, before: f64, unit: &str) -> String {
    let d = this - before;
    let abs = if unit.is_empty() {
        format!("{d:+.0}")
    } else {
        format!("{d:+.1}{unit}")
    };
    if before > 0.0 {
        format!("{abs} ({:+.0}%)", 100.0 * d / before)
    } else {
        abs
    }
}

/// A metric of the table: its name, its value in a week, and its unit.
type Metric = (&'static str, fn(&Week) -> f64, &'static str);

fn lines(s: &Section) -> Vec<Line> {
    let get = |w: &Option<Week>, f: fn(&Week) -> f64| w.as_ref().map(f);
    let metrics: [Metric; 5] = [
        ("Enrolled", |w| w.enrolled as f64, ""),
        ("Active learners", |w| w.active as f64, ""),
        ("Watched a video", |w| w.watched_video as f64, ""),
        ("Tried a problem", |w| w.tried_problem as f64, ""),
        ("Time spent (hours)", |w| w.time_spent as f64 / 3600.0, " h"),
    ];
    metrics
        .iter()
        .map(|(name, f, unit)| {
            let (a, b) = (get(&s.this, *f), get(&s.before, *f));
            let show = |v: Option<f64>| match v {
                None => "–".to_owned(),
                Some(v) if unit.is_empty() => format!("{v:.0}"),
                Some(v) => format!("{v:.1}"),
            };
            Line {
                name,
                this: show(a),
                before: show(b),
                change: match (a, b) {
                    (Some(a), Some(b)) => change(a, b, unit),
                    _ => "–".into(),
                },
            }
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
struct Highlights {
    units: usize,
    least_completed: Vec<UnitProgress>,
    graded: u64,
    passed: u64,
    pass_rate: String,
}

fn highlights(s: &Section) -> Highlights {
    let mut least = s.progress.clone();
    least.sort_by_key(|u| (u.completed, u.position));
    least.truncate(3);
    let graded: u64 = s.grades.iter().map(|g| g.learners).sum();
    let passed: u64 = s.grades.iter().map(|g| g.passed).sum();
    Highlights {
        units: s.progress.len(),
        least_completed: least,
        graded,
        passed,
        pass_rate: if graded > 0 {
            format!("{:.0}%", 100.0 * passed as f64 / graded as f64)
        } else {
            "–".into()
        },
    }
}

/// A file-name-safe form of a course key.
pub fn slug(course_id: &str) -> String {
    let s: String = course_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.trim_matches('_').to_owned()
}

/// The CSV files of a section: the weekly engagement (the columns of `cairn report
/// course-overview`), progress per unit, and (only with identities) the newly at-risk.
pub fn csv_files(s: &Section, identities: bool) -> Vec<(String, String)> {
    let base = slug(&s.course_id);
    let mut out = vec![
        (
            format!("{base}-weekly.csv"),
            cairn_report::format_rows(&s.weeks, Format::Csv),
        ),
        (
            format!("{base}-progress.csv"),
            cairn_report::format_rows(&s.progress, Format::Csv),
        ),
    ];
    if identities {
        out.push((
            format!("{base}-newly-at-risk.csv"),
            cairn_report::format_rows(&s.newly_at_risk, Format::Csv),
        ));
    }
    out
}

/// The chart of a section: learners per week.
pub fn chart_png(s: &Section) -> Result<Vec<u8>, String> {
    let mut labels = Vec::new();
    let (mut active, mut video, mut problem) = (Vec::new(), Vec::new(), Vec::new());
    let mut d = s.week.1 - Duration::weeks(i64::from(CHART_WEEKS));
    while d < s.week.1 {
        let key = d.format("%Y-%m-%d").to_string();
        let w = s.weeks.iter().find(|w| w.week == key);
        labels.push(d.format("%d %b").to_string());
        active.push(w.map_or(0.0, |w| w.active as f64));
        video.push(w.map_or(0.0, |w| w.watched_video as f64));
        problem.push(w.map_or(0.0, |w| w.tried_problem as f64));
        d += Duration::weeks(1);
    }
    chart::lines(
        "Learners per week",
        &labels,
        &[
            Series {
                name: "active".into(),
                values: active,
            },
            Series {
                name: "watched a video".into(),
                values: video,
            },
            Series {
                name: "tried a problem".into(),
                values: problem,
            },
        ],
    )
}

const HTML: &str = include_str!("../templates/report.html");
const TEXT: &str = include_str!("../templates/report.txt");

fn templates() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    // Names ending in .html are escaped as HTML; .txt is not.
    env.add_template("report.html", HTML)
        .expect("report.html parses");
    env.add_template("report.txt", TEXT)
        .expect("report.txt parses");
    env
}

#[derive(Serialize)]
struct CourseView<'a> {
    course_id: &'a str,
    /// "Name (key)", or the key alone when the course has no name.
    heading: String,
    link: &'a str,
    lines: Vec<Line>,
    highlights: Highlights,
    funnel: &'a Funnel,
    at_risk_count: usize,
    at_risk: &'a [AtRisk],
    chart: String,
}

/// A report ready to send.
#[derive(Debug, Clone)]
pub struct Report {
    /// The subject.
    pub subject: String,
    /// The HTML body.
    pub html: String,
    /// The plain-text body.
    pub text: String,
    /// Inline images: content id and PNG.
    pub images: Vec<(String, Vec<u8>)>,
    /// CSV attachments: file name and content.
    pub csv: Vec<(String, String)>,
}

/// Renders the report of `sections` for a recipient (`identities`: whether it may hold
/// learner identities).
pub fn render(
    sections: &[&Section],
    identities: bool,
    schedule_id: &str,
) -> Result<Report, String> {
    let env = templates();
    let mut images = Vec::new();
    let mut csv = Vec::new();
    let mut courses = Vec::new();
    for (i, s) in sections.iter().enumerate() {
        let cid = format!("chart-{i}@cairn");
        images.push((cid.clone(), chart_png(s)?));
        csv.extend(csv_files(s, identities));
        courses.push(minijinja::Value::from(minijinja::value::Serde(
            CourseView {
                course_id: &s.course_id,
                heading: if s.name == s.course_id {
                    s.course_id.clone()
                } else {
                    format!("{} ({})", s.name, s.course_id)
                },
                link: &s.link,
                lines: lines(s),
                highlights: highlights(s),
                funnel: &s.funnel,
                at_risk_count: s.newly_at_risk.len(),
                at_risk: if identities { &s.newly_at_risk } else { &[] },
                chart: cid,
            },
        )));
    }
    let week = sections.first().map(|s| s.week).unwrap_or_default();
    let subject = match sections {
        [one] => format!("Weekly report: {} (week of {})", one.name, week.0),
        many => format!("Weekly report: {} courses (week of {})", many.len(), week.0),
    };
    let ctx = minijinja::context! {
        subject => subject.clone(),
        week_from => week.0.to_string(),
        week_last => (week.1 - Duration::days(1)).to_string(),
        courses => courses,
        identities => identities,
        schedule_id => schedule_id,
    };
    let html = env
        .get_template("report.html")
        .and_then(|t| t.render(&ctx))
        .map_err(|e| e.to_string())?;
    let text = env
        .get_template("report.txt")
        .and_then(|t| t.render(&ctx))
        .map_err(|e| e.to_string())?;
    Ok(Report {
        subject,
        html,
        text,
        images,
        csv,
    })
}

/// The e-mail of a report: text and HTML alternatives, the charts inline, the CSV files
/// attached.
pub fn message(r: &Report, from: &Mailbox, to: &str, message_id: &str) -> Result<Message, String> {
    let to: Mailbox = to
        .parse()
        .map_err(|e| format!("{to:?} is not an address: {e}"))?;
    let mut related = MultiPart::related().singlepart(SinglePart::html(r.html.clone()));
    let png_type = ContentType::parse("image/png").map_err(|e| e.to_string())?;
    for (cid, png) in &r.images {
        related = related
            .singlepart(Attachment::new_inline(cid.clone()).body(png.clone(), png_type.clone()));
    }
    let alternative = MultiPart::alternative()
        .singlepart(SinglePart::plain(r.text.clone()))
        .multipart(related);
    let mut mixed = MultiPart::mixed().multipart(alternative);
    let csv_type = ContentType::parse("text/csv; charset=utf-8").map_err(|e| e.to_string())?;
    for (name, body) in &r.csv {
        mixed =
            mixed.singlepart(Attachment::new(name.clone()).body(body.clone(), csv_type.clone()));
    }
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(r.subject.clone())
        .message_id(Some(message_id.to_owned()))
        .multipart(mixed)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_past_week_is_the_whole_iso_week_before_the_day() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            past_week(d("2026-01-12")),
            Range {
                from: d("2026-01-05"),
                to: d("2026-01-12")
            }
        );
        assert_eq!(
            past_week(d("2026-01-15")),
            Range {
                from: d("2026-01-05"),
                to: d("2026-01-12")
            }
        );
        assert_eq!(
            past_week(d("2026-01-18")),
            Range {
                from: d("2026-01-05"),
                to: d("2026-01-12")
            }
        );
    }

    #[test]
    fn changes_are_signed_with_a_percentage_when_there_is_a_base() {
        assert_eq!(change(12.0, 10.0, ""), "+2 (+20%)");
        assert_eq!(change(5.0, 10.0, ""), "-5 (-50%)");
        assert_eq!(change(3.0, 0.0, ""), "+3");
        assert_eq!(change(1.5, 1.0, " h"), "+0.5 h (+50%)");
    }

    #[test]
    fn a_course_is_named_by_its_name_and_key_or_its_key_alone() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let section = |name: &str| Section {
            course_id: "course-v1:A+B+C".into(),
            name: name.into(),
            week: (d("2026-01-05"), d("2026-01-12")),
            weeks: Vec::new(),
            this: None,
            before: None,
            progress: Vec::new(),
            grades: Vec::new(),
            funnel: Funnel::default(),
            newly_at_risk: Vec::new(),
            link: "https://dash.example/#course-v1:A+B+C".into(),
        };
        let named = section("Data & Society");
        let r = render(&[&named], true, "s1").unwrap();
        assert_eq!(
            r.subject,
            "Weekly report: Data & Society (week of 2026-01-05)"
        );
        assert!(
            r.text.contains("== Data & Society (course-v1:A+B+C) =="),
            "{}",
            r.text
        );
        assert!(
            r.html
                .contains(">Data &amp; Society (course-v1:A+B+C)</h2>"),
            "{}",
            r.html
        );
        let unnamed = section("course-v1:A+B+C");
        let r = render(&[&unnamed], true, "s1").unwrap();
        assert_eq!(
            r.subject,
            "Weekly report: course-v1:A+B+C (week of 2026-01-05)"
        );
        assert!(r.text.contains("== course-v1:A+B+C =="), "{}", r.text);
        let r = render(&[&named, &unnamed], true, "s1").unwrap();
        assert_eq!(r.subject, "Weekly report: 2 courses (week of 2026-01-05)");
    }

    #[test]
    fn slugs_and_links_are_safe() {
        assert_eq!(
            slug("course-v1:edX+DemoX+Demo_Course"),
            "course-v1_edX_DemoX_Demo_Course"
        );
        assert_eq!(
            utf8_percent_encode("course-v1:a+b c#"),
            "course-v1:a+b%20c%23"
        );
    }
}
