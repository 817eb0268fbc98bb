//! Who may see what: LMS roles → rights, a pure value.
//!
//! Rules (`shared/openedx/lms-api.md` §6): active global staff (`is_staff`) and superusers
//! see everything; otherwise a `student_courseaccessrole` row with an analytics role
//! (`staff`, `instructor`, `data_researcher`, `limited_staff`) grants its course, or, with
//! an empty `course_id`, every course of its org. Org matching is on the key's org part,
//! exact but case-insensitive (MySQL compares orgs case-insensitively), never a prefix.
//! Inactive accounts get nothing. Manual grants add to the computed rights.

use std::collections::{BTreeMap, BTreeSet};

/// Roles that grant course analytics.
pub const ANALYTICS_ROLES: &[&str] = &["staff", "instructor", "data_researcher", "limited_staff"];

/// What one user may see.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Scope {
    /// Everything, learner identities included.
    All,
    /// These orgs (lower-case) and courses.
    Some {
        /// Orgs, lower-cased.
        orgs: BTreeSet<String>,
        /// Course keys.
        courses: BTreeSet<String>,
    },
}

impl Scope {
    /// Nothing at all.
    pub fn none() -> Scope {
        Scope::Some {
            orgs: BTreeSet::new(),
            courses: BTreeSet::new(),
        }
    }

    /// Whether this grants nothing.
    pub fn is_empty(&self) -> bool {
        matches!(self, Scope::Some { orgs, courses } if orgs.is_empty() && courses.is_empty())
    }

    /// Adds another scope.
    pub fn merge(&mut self, other: &Scope) {
        match (&mut *self, other) {
            (Scope::All, _) => {}
            (_, Scope::All) => *self = Scope::All,
            (
                Scope::Some { orgs, courses },
                Scope::Some {
                    orgs: o,
                    courses: c,
                },
            ) => {
                orgs.extend(o.iter().cloned());
                courses.extend(c.iter().cloned());
            }
        }
    }

    /// Whether a course is visible (the reference semantics the SQL conditions implement).
    pub fn allows(&self, course_id: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Some { orgs, courses } => {
                courses.contains(course_id)
                    || org_of(course_id).is_some_and(|o| orgs.contains(&o.to_lowercase()))
            }
        }
    }
}

/// The org part of a course key: after `course-v1:`/`ccx-v1:` up to the first `+`, or a
/// legacy key's text before the first `/`.
pub fn org_of(course_id: &str) -> Option<&str> {
    let rest = course_id
        .strip_prefix("course-v1:")
        .or_else(|| course_id.strip_prefix("ccx-v1:"));
    let org = match rest {
        Some(r) => r.split('+').next()?,
        None if course_id.contains(':') => return None,
        None => course_id.split('/').next()?,
    };
    (!org.is_empty()).then_some(org)
}

/// An LMS user (from `auth_user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LmsUser {
    /// `auth_user.id`.
    pub id: i64,
    /// Username.
    pub username: String,
    /// Email.
    pub email: String,
    /// Global staff.
    pub is_staff: bool,
    /// Superuser.
    pub is_superuser: bool,
    /// Active account.
    pub is_active: bool,
}

/// A `student_courseaccessrole` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRow {
    /// `user_id`.
    pub user_id: i64,
    /// `org` (`''` for global rows).
    pub org: String,
    /// `course_id` (`''` for org and global rows).
    pub course_id: String,
    /// `role`.
    pub role: String,
}

/// Computes every user's rights. Users with none are left out.
pub fn compute(
    users: &[LmsUser],
    roles: &[RoleRow],
    manual: &BTreeMap<String, Scope>,
) -> BTreeMap<String, Scope> {
    let by_id: BTreeMap<i64, &LmsUser> = users
        .iter()
        .filter(|u| u.is_active)
        .map(|u| (u.id, u))
        .collect();
    let mut out: BTreeMap<String, Scope> = BTreeMap::new();
    for u in by_id.values() {
        if u.is_staff || u.is_superuser {
            out.insert(u.username.clone(), Scope::All);
        }
    }
    for r in roles {
        let Some(u) = by_id.get(&r.user_id) else {
            continue;
        };
        if !ANALYTICS_ROLES.contains(&r.role.as_str()) {
            continue;
        }
        let add = if !r.course_id.is_empty() {
            Scope::Some {
                orgs: BTreeSet::new(),
                courses: [r.course_id.clone()].into(),
            }
        } else if !r.org.is_empty() {
            Scope::Some {
                orgs: [r.org.to_lowercase()].into(),
                courses: BTreeSet::new(),
            }
        } else {
            continue; // a global row of an analytics role grants nothing by itself
        };
        out.entry(u.username.clone())
            .or_insert_with(Scope::none)
            .merge(&add);
    }
    for (username, scope) in manual {
        out.entry(username.clone())
            .or_insert_with(Scope::none)
            .merge(scope);
    }
    out.retain(|_, s| !s.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn user(id: i64, name: &str, staff: bool, active: bool) -> LmsUser {
        LmsUser {
            id,
            username: name.into(),
            email: format!("{name}@x.org"),
            is_staff: staff,
            is_superuser: false,
            is_active: active,
        }
    }

    fn role(user_id: i64, org: &str, course_id: &str, role: &str) -> RoleRow {
        RoleRow {
            user_id,
            org: org.into(),
            course_id: course_id.into(),
            role: role.into(),
        }
    }

    #[test]
    fn staff_course_org_and_inactive() {
        let users = [
            user(1, "admin", true, true),
            user(2, "teach", false, true),
            user(3, "orgy", false, true),
            user(4, "gone", false, false),
            user(5, "beta", false, true),
        ];
        let roles = [
            role(2, "edX", "course-v1:edX+DemoX+Demo_Course", "instructor"),
            role(3, "MITx", "", "data_researcher"),
            role(4, "edX", "course-v1:edX+DemoX+Demo_Course", "staff"),
            role(5, "edX", "course-v1:edX+DemoX+Demo_Course", "beta_testers"),
            role(2, "", "", "staff"),
        ];
        let r = compute(&users, &roles, &BTreeMap::new());
        assert_eq!(r["admin"], Scope::All);
        assert!(r["teach"].allows("course-v1:edX+DemoX+Demo_Course"));
        assert!(!r["teach"].allows("course-v1:edX+Other+2024"));
        assert!(
            r["orgy"].allows("course-v1:mitx+6.002x+2013_Spring"),
            "org match is case-insensitive"
        );
        assert!(!r.contains_key("gone"), "inactive accounts get nothing");
        assert!(!r.contains_key("beta"), "beta testers do not see analytics");
    }

    #[test]
    fn org_matching_is_exact_not_a_prefix() {
        let s = Scope::Some {
            orgs: ["edx".into()].into(),
            courses: BTreeSet::new(),
        };
        assert!(s.allows("course-v1:edX+DemoX+Demo_Course"));
        assert!(s.allows("ccx-v1:edX+DemoX+Demo_Course+ccx@1"));
        assert!(s.allows("edX/E929/2014_T2"));
        assert!(!s.allows("course-v1:edXtra+DemoX+Demo_Course"));
        assert!(!s.allows("edXtra/E929/2014_T2"));
        assert!(!s.allows("library-v1:edX+lib"));
    }

    #[test]
    fn manual_grants_add() {
        let manual: BTreeMap<String, Scope> = [("analyst".to_string(), Scope::All)].into();
        let r = compute(&[], &[], &manual);
        assert_eq!(r["analyst"], Scope::All);
    }

    fn role_row() -> impl Strategy<Value = RoleRow> {
        (
            1i64..6,
            prop::sample::select(vec!["edX", "edx", "edXtra", "MITx", ""]),
            prop::sample::select(vec![
                "",
                "course-v1:edX+A+1",
                "course-v1:edXtra+A+1",
                "course-v1:MITx+B+2",
            ]),
            prop::sample::select(vec![
                "staff",
                "instructor",
                "data_researcher",
                "limited_staff",
                "beta_testers",
                "ccx_coach",
            ]),
        )
            .prop_map(|(user_id, org, course_id, role)| RoleRow {
                user_id,
                org: org.into(),
                course_id: course_id.into(),
                role: role.into(),
            })
    }

    proptest! {
        /// The computed scope allows a course exactly when some active user's qualifying
        /// role row names it or its org (case-insensitively), or the user is global staff.
        #[test]
        fn rights_follow_the_rules(roles in proptest::collection::vec(role_row(), 0..12), staff in proptest::collection::vec(any::<bool>(), 5), active in proptest::collection::vec(any::<bool>(), 5)) {
            let users: Vec<LmsUser> = (1..6).map(|i| user(i, &format!("u{i}"), staff[(i - 1) as usize], active[(i - 1) as usize])).collect();
            let rights = compute(&users, &roles, &BTreeMap::new());
            for u in &users {
                for course in ["course-v1:edX+A+1", "course-v1:edXtra+A+1", "course-v1:MITx+B+2", "course-v1:Other+C+3"] {
                    let expected = u.is_active && (u.is_staff || roles.iter().any(|r| r.user_id == u.id
                        && ANALYTICS_ROLES.contains(&r.role.as_str())
                        && (r.course_id == course || (r.course_id.is_empty() && !r.org.is_empty() && org_of(course).unwrap().eq_ignore_ascii_case(&r.org)))));
                    let got = rights.get(&u.username).is_some_and(|s| s.allows(course));
                    prop_assert_eq!(got, expected, "{} {}", u.username, course);
                }
            }
        }
    }
}
