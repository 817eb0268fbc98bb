//! Who gets which courses: a schedule's recipients resolved against the LMS at send time.
//!
//! Every recipient is an active LMS account: an address names the account with that
//! e-mail, and `course-staff` the accounts with a `staff` or `instructor` role on one of
//! the schedule's courses (or on its org). What each may see is decided as in the
//! dashboard (`cairn_acl`: LMS roles plus manual grants; identities unless `cairn
//! createuser --no-identities`), so a report never holds a course or an identity its
//! recipient may not see.

use std::collections::BTreeMap;

use cairn_acl::rights::{Scope, org_of};
use cairn_core::ClickHouse;
use cairn_core::config::MysqlConfig;
use mysql_async::prelude::Queryable;

use crate::schedule::{Recipient, Schedule};

/// The roles whose holders are a course's staff.
pub const STAFF_ROLES: &[&str] = &["staff", "instructor"];

/// One person a schedule's period goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Their address (as the LMS has it, or as the schedule names it).
    pub email: String,
    /// Their LMS username, when the address is an active account's.
    pub username: Option<String>,
    /// The schedule's courses they may see, in order.
    pub courses: Vec<String>,
    /// Whether they may see learner identities.
    pub identities: bool,
    /// Why they get nothing, when `courses` is empty.
    pub skipped: Option<String>,
}

/// The schedule's courses among `known` (for a one-course schedule, that course).
pub fn target_courses(s: &Schedule, known: &[String]) -> Vec<String> {
    match &s.target {
        crate::schedule::Target::Course(c) => vec![c.clone()],
        t => known.iter().filter(|c| t.includes(c)).cloned().collect(),
    }
}

struct Account {
    username: String,
    email: String,
}

/// Resolves a schedule's recipients for the given courses.
pub async fn resolve(
    ch: &ClickHouse,
    mysql: &MysqlConfig,
    s: &Schedule,
    courses: &[String],
) -> cairn_core::Result<Vec<Member>> {
    let rights = cairn_acl::sync::desired(ch, mysql).await?;
    let mut conn = cairn_core::mysql::connect(mysql).await?;
    // Addresses are matched case-insensitively, as the LMS compares them.
    let mut by_email: BTreeMap<String, (String, Option<Account>)> = BTreeMap::new();
    for r in &s.recipients {
        if let Recipient::Email(e) = r {
            by_email
                .entry(e.to_lowercase())
                .or_insert((e.clone(), None));
        }
    }
    if !by_email.is_empty() {
        let marks = vec!["?"; by_email.len()].join(", ");
        let rows: Vec<(String, String)> = conn
            .exec(
                format!("SELECT username, email FROM auth_user WHERE is_active = 1 AND email IN ({marks}) ORDER BY id"),
                by_email.values().map(|(e, _)| e.clone()).collect::<Vec<_>>(),
            )
            .await
            .map_err(|e| cairn_core::Error::mysql("reading auth_user", e))?;
        for (username, email) in rows {
            if let Some(slot) = by_email.get_mut(&email.to_lowercase())
                && slot.1.is_none()
            {
                slot.1 = Some(Account { username, email });
            }
        }
    }
    if s.recipients.contains(&Recipient::CourseStaff) {
        let marks = vec!["?"; STAFF_ROLES.len()].join(", ");
        let rows: Vec<(String, String, String, String)> = conn
            .exec(
                format!(
                    "SELECT u.username, u.email, r.org, r.course_id FROM student_courseaccessrole AS r \
                     JOIN auth_user AS u ON u.id = r.user_id WHERE u.is_active = 1 AND r.role IN ({marks}) ORDER BY u.id"
                ),
                STAFF_ROLES.to_vec(),
            )
            .await
            .map_err(|e| cairn_core::Error::mysql("reading student_courseaccessrole", e))?;
        for (username, email, org, course_id) in rows {
            let staff_here = courses.iter().any(|c| {
                *c == course_id
                    || (course_id.is_empty()
                        && !org.is_empty()
                        && org_of(c).is_some_and(|o| o.eq_ignore_ascii_case(&org)))
            });
            if staff_here && !email.trim().is_empty() {
                by_email
                    .entry(email.to_lowercase())
                    .or_insert_with(|| (email.clone(), Some(Account { username, email })));
            }
        }
    }
    conn.disconnect().await.ok();
    let mut out = Vec::new();
    for (_, (named, account)) in by_email {
        let Some(a) = account else {
            out.push(Member {
                email: named,
                username: None,
                courses: Vec::new(),
                identities: false,
                skipped: Some("no active LMS account has this address".into()),
            });
            continue;
        };
        let scope = rights.get(&a.username).cloned().unwrap_or_else(Scope::none);
        let mine: Vec<String> = courses
            .iter()
            .filter(|c| scope.allows(c))
            .cloned()
            .collect();
        let identities =
            !mine.is_empty() && cairn_acl::logins::may_identify(ch, &a.username).await?;
        let skipped = mine
            .is_empty()
            .then(|| format!("{} may see none of the schedule's courses", a.username));
        out.push(Member {
            email: a.email,
            username: Some(a.username),
            courses: mine,
            identities,
            skipped,
        });
    }
    Ok(out)
}

/// The LMS time zone preference (`user_api_userpreference` `time_zone`) of the active
/// account with address `email`, if it has one.
pub async fn preferred_timezone(
    mysql: &MysqlConfig,
    email: &str,
) -> cairn_core::Result<Option<String>> {
    let mut conn = cairn_core::mysql::connect(mysql).await?;
    let tz: Option<String> = conn
        .exec_first(
            "SELECT p.`value` FROM user_api_userpreference AS p JOIN auth_user AS u ON u.id = p.user_id \
             WHERE u.is_active = 1 AND u.email = ? AND p.`key` = 'time_zone' ORDER BY u.id LIMIT 1",
            (email,),
        )
        .await
        .map_err(|e| cairn_core::Error::mysql("reading user_api_userpreference", e))?;
    conn.disconnect().await.ok();
    Ok(tz.filter(|t| !t.trim().is_empty()))
}
