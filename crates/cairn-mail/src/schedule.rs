//! A report schedule: what (a course, an org, or every course the recipient may see), to
//! whom (addresses, or the course's staff resolved at send time), and when (a cron
//! pattern in a time zone). Pure values: parsing, checking and the period due at a time.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde::{Deserialize, Serialize};

/// The default schedule: Mondays at 08:00.
pub const DEFAULT_CRON: &str = "0 8 * * MON";

/// Which courses a schedule reports on (always cut down to what each recipient may see).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// One course.
    Course(String),
    /// Every course of an org (the key's org part, compared case-insensitively).
    Org(String),
    /// Every course the recipient may see.
    Visible,
}

impl Target {
    /// Whether `course_id` is one of the target's courses (before the recipient's rights).
    pub fn includes(&self, course_id: &str) -> bool {
        match self {
            Target::Course(c) => c == course_id,
            Target::Org(o) => {
                cairn_acl::rights::org_of(course_id).is_some_and(|x| x.eq_ignore_ascii_case(o))
            }
            Target::Visible => true,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Course(c) => write!(f, "course {c}"),
            Target::Org(o) => write!(f, "org {o}"),
            Target::Visible => f.write_str("every course the recipient may see"),
        }
    }
}

/// Who receives a schedule's reports.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// An address; what it may see is the rights of the active LMS account with it.
    Email(String),
    /// The staff and instructors of the target's courses, read from the LMS at send time.
    CourseStaff,
}

impl std::fmt::Display for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Recipient::Email(e) => f.write_str(e),
            Recipient::CourseStaff => f.write_str("course-staff"),
        }
    }
}

/// A stored schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Its id (`r-` and hex).
    pub id: String,
    /// The courses.
    pub target: Target,
    /// The recipients.
    pub recipients: Vec<Recipient>,
    /// A cron pattern (5 fields, or 6 with seconds), in `timezone`.
    pub cron: String,
    /// An IANA time zone name.
    pub timezone: String,
    /// When it was added: its first period is the first time the pattern fires after.
    pub created_at: DateTime<Utc>,
}

/// A schedule that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// The cron pattern.
    #[error(
        "invalid schedule {pattern:?}: {reason} (expected cron fields \"minute hour day-of-month month day-of-week\", e.g. \"0 8 * * MON\")"
    )]
    Cron {
        /// The pattern.
        pattern: String,
        /// The parser's reason.
        reason: String,
    },
    /// The time zone.
    #[error("unknown time zone {0:?} (expected an IANA name such as Europe/Paris or UTC)")]
    TimeZone(String),
    /// A recipient address.
    #[error("invalid e-mail address {address:?}: {reason}")]
    Address {
        /// The address.
        address: String,
        /// Why.
        reason: String,
    },
    /// No recipients.
    #[error("a schedule needs at least one recipient (an address, or course-staff)")]
    NoRecipients,
    /// Staff recipients of "every course the recipient may see".
    #[error(
        "course-staff needs a course or an org: with --all-visible there is no course whose staff to ask"
    )]
    StaffWithoutCourses,
}

/// Parses a cron pattern.
pub fn parse_cron(pattern: &str) -> Result<Cron, Invalid> {
    Cron::from_str(pattern.trim()).map_err(|e| Invalid::Cron {
        pattern: pattern.to_owned(),
        reason: e.to_string(),
    })
}

/// Parses a time zone name.
pub fn parse_timezone(name: &str) -> Result<Tz, Invalid> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| Invalid::TimeZone(name.to_owned()))
}

/// Parses one recipient: `course-staff`, or an address (checked by `lettre`).
pub fn parse_recipient(s: &str) -> Result<Recipient, Invalid> {
    let s = s.trim();
    if s == "course-staff" {
        return Ok(Recipient::CourseStaff);
    }
    s.parse::<lettre::Address>()
        .map(|a| Recipient::Email(a.to_string()))
        .map_err(|e| Invalid::Address {
            address: s.to_owned(),
            reason: e.to_string(),
        })
}

impl Schedule {
    /// Checks every part of the schedule.
    pub fn check(&self) -> Result<(), Invalid> {
        parse_cron(&self.cron)?;
        parse_timezone(&self.timezone)?;
        if self.recipients.is_empty() {
            return Err(Invalid::NoRecipients);
        }
        for r in &self.recipients {
            if let Recipient::Email(e) = r {
                parse_recipient(e)?;
            }
        }
        if self.target == Target::Visible && self.recipients.contains(&Recipient::CourseStaff) {
            return Err(Invalid::StaffWithoutCourses);
        }
        Ok(())
    }

    /// The period due at `now`: the latest time the pattern fired at or before `now`, if
    /// that is after the schedule was added. Missed periods are not returned: only the
    /// latest counts, so a sender down for weeks catches up once.
    pub fn due_period(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, Invalid> {
        let cron = parse_cron(&self.cron)?;
        let tz = parse_timezone(&self.timezone)?;
        let local = tz.from_utc_datetime(&now.naive_utc());
        let fired = match cron.find_previous_occurrence(&local, true) {
            Ok(t) => t.with_timezone(&Utc),
            Err(_) => return Ok(None),
        };
        Ok((fired > self.created_at).then_some(fired))
    }

    /// The next time the pattern fires after `now`.
    pub fn next_period(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, Invalid> {
        let cron = parse_cron(&self.cron)?;
        let tz = parse_timezone(&self.timezone)?;
        let local = tz.from_utc_datetime(&now.naive_utc());
        Ok(cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc)))
    }

    /// The day (in the schedule's zone) a period fired on: its report covers the whole
    /// ISO weeks before that day's week.
    pub fn period_day(&self, period: DateTime<Utc>) -> NaiveDate {
        match parse_timezone(&self.timezone) {
            Ok(tz) => period.with_timezone(&tz).date_naive(),
            Err(_) => period.date_naive(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn weekly(tz: &str, created: &str) -> Schedule {
        Schedule {
            id: "r-1".into(),
            target: Target::Course("course-v1:edX+DemoX+Demo_Course".into()),
            recipients: vec![Recipient::CourseStaff],
            cron: DEFAULT_CRON.into(),
            timezone: tz.into(),
            created_at: at(created),
        }
    }

    #[test]
    fn the_period_is_the_latest_firing_after_creation_in_the_zone() {
        let s = weekly("Europe/Paris", "2026-01-01T00:00:00Z");
        // Monday 2026-01-12 08:00 in Paris is 07:00 UTC.
        assert_eq!(
            s.due_period(at("2026-01-12T06:59:59Z")).unwrap(),
            Some(at("2026-01-05T07:00:00Z"))
        );
        assert_eq!(
            s.due_period(at("2026-01-12T07:00:00Z")).unwrap(),
            Some(at("2026-01-12T07:00:00Z"))
        );
        // Weeks later: only the latest period, not one per missed week.
        assert_eq!(
            s.due_period(at("2026-02-04T12:00:00Z")).unwrap(),
            Some(at("2026-02-02T07:00:00Z"))
        );
        // Before the first firing after creation: nothing due.
        let s = weekly("UTC", "2026-01-06T00:00:00Z");
        assert_eq!(s.due_period(at("2026-01-10T00:00:00Z")).unwrap(), None);
        assert_eq!(
            s.due_period(at("2026-01-12T08:00:00Z")).unwrap(),
            Some(at("2026-01-12T08:00:00Z"))
        );
        assert_eq!(
            s.next_period(at("2026-01-12T08:00:00Z")).unwrap(),
            Some(at("2026-01-19T08:00:00Z"))
        );
        assert_eq!(
            s.period_day(at("2026-01-12T08:00:00Z")),
            NaiveDate::from_ymd_opt(2026, 1, 12).unwrap()
        );
    }

    #[test]
    fn summer_time_moves_the_utc_hour_not_the_local_one() {
        let s = weekly("Europe/Paris", "2026-01-01T00:00:00Z");
        // After 2026-03-29 Paris is UTC+2: 08:00 local is 06:00 UTC.
        assert_eq!(
            s.due_period(at("2026-04-06T06:30:00Z")).unwrap(),
            Some(at("2026-04-06T06:00:00Z"))
        );
    }

    #[test]
    fn bad_parts_are_named() {
        let mut s = weekly("Mars/Olympus", "2026-01-01T00:00:00Z");
        assert_eq!(
            s.check().unwrap_err(),
            Invalid::TimeZone("Mars/Olympus".into())
        );
        s.timezone = "UTC".into();
        s.cron = "every monday".into();
        assert!(matches!(s.check().unwrap_err(), Invalid::Cron { .. }));
        s.cron = "0 25 * * *".into();
        assert!(matches!(s.check().unwrap_err(), Invalid::Cron { .. }));
        s.cron = DEFAULT_CRON.into();
        assert!(s.check().is_ok());
        s.target = Target::Visible;
        assert_eq!(s.check().unwrap_err(), Invalid::StaffWithoutCourses);
        s.recipients = vec![];
        assert_eq!(s.check().unwrap_err(), Invalid::NoRecipients);
        assert!(matches!(
            parse_recipient("not an address"),
            Err(Invalid::Address { .. })
        ));
        assert!(matches!(
            parse_recipient("a@b@c"),
            Err(Invalid::Address { .. })
        ));
        assert_eq!(
            parse_recipient(" ada@example.org ").unwrap(),
            Recipient::Email("ada@example.org".into())
        );
        assert_eq!(
            parse_recipient("course-staff").unwrap(),
            Recipient::CourseStaff
        );
    }

    #[test]
    fn org_targets_match_the_org_part_case_insensitively() {
        let t = Target::Org("edx".into());
        assert!(t.includes("course-v1:edX+DemoX+Demo_Course"));
        assert!(!t.includes("course-v1:edXtra+DemoX+Demo_Course"));
        assert!(Target::Course("c".into()).includes("c"));
        assert!(!Target::Course("c".into()).includes("d"));
    }
}
