//! Open edX opaque keys: course keys and usage (block) keys.
//!
//! Rules follow `openedx/opaque-keys` (see `shared/openedx/lms-api.md` §1): a key is
//! `NAMESPACE:rest`; unknown namespaces fall back to the legacy parsers (`ORG/COURSE/RUN`
//! for course keys, `i4x://ORG/COURSE/TYPE/ID` for usage keys). Parsing never panics;
//! `key.to_string()` gives back exactly the string that was parsed.

use std::fmt;
use std::str::FromStr;

/// Why a string is not a valid key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: {reason}")]
pub struct KeyError {
    /// "course key" or "usage key".
    pub kind: &'static str,
    /// The rejected input (keys are not secret).
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

fn key_err(kind: &'static str, value: &str, reason: &'static str) -> KeyError {
    KeyError {
        kind,
        value: value.to_owned(),
        reason,
    }
}

/// Is `c` allowed inside a key part (`[\w\-~.:]`)?
fn part_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '~' | '.' | ':')
}

/// Is `s` a non-empty key part? Legacy keys additionally allow `%`.
fn valid_part(s: &str, legacy: bool) -> bool {
    !s.is_empty() && s.chars().all(|c| part_char(c) || (legacy && c == '%'))
}

/// A course run key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CourseKey {
    /// `course-v1:ORG+COURSE+RUN`, optionally with `+branch@B` and/or `+version@V`.
    V1 {
        /// Organisation.
        org: String,
        /// Course number.
        course: String,
        /// Course run.
        run: String,
        /// Studio branch (`+branch@…`), not seen in LMS data.
        branch: Option<String>,
        /// Version (`+version@…`), not seen in LMS data.
        version: Option<String>,
    },
    /// Legacy (deprecated) `ORG/COURSE/RUN`.
    Legacy {
        /// Organisation.
        org: String,
        /// Course number.
        course: String,
        /// Course run.
        run: String,
    },
    /// CCX (custom course) `ccx-v1:ORG+COURSE+RUN+ccx@N`.
    Ccx {
        /// Organisation.
        org: String,
        /// Course number.
        course: String,
        /// Course run.
        run: String,
        /// CCX id (digits).
        ccx: String,
    },
}

impl CourseKey {
    /// Parses a course key string.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        const K: &str = "course key";
        if let Some(rest) = s.strip_prefix("course-v1:") {
            let (org, course, run, tail) = split_v1(rest).ok_or_else(|| {
                key_err(
                    K,
                    s,
                    "expected course-v1:ORG+COURSE+RUN with non-empty parts",
                )
            })?;
            let (branch, version) = parse_branch_version(&tail)
                .ok_or_else(|| key_err(K, s, "unexpected part after the run"))?;
            return Ok(CourseKey::V1 {
                org,
                course,
                run,
                branch,
                version,
            });
        }
        if let Some(rest) = s.strip_prefix("ccx-v1:") {
            let (org, course, run, tail) = split_v1(rest)
                .ok_or_else(|| key_err(K, s, "expected ccx-v1:ORG+COURSE+RUN+ccx@N"))?;
            let ccx = match tail.as_slice() {
                [one] => one.strip_prefix("ccx@"),
                _ => None,
            }
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| key_err(K, s, "expected a single +ccx@N part with digits"))?;
            return Ok(CourseKey::Ccx {
                org,
                course,
                run,
                ccx: ccx.to_owned(),
            });
        }
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [org, course, run] if [org, course, run].iter().all(|p| valid_part(p, true)) => {
                Ok(CourseKey::Legacy {
                    org: (*org).to_owned(),
                    course: (*course).to_owned(),
                    run: (*run).to_owned(),
                })
            }
            _ => Err(key_err(
                K,
                s,
                "expected course-v1:ORG+COURSE+RUN, ccx-v1:…+ccx@N or ORG/COURSE/RUN",
            )),
        }
    }

    /// The organisation: the first part of the key.
    pub fn org(&self) -> &str {
        match self {
            CourseKey::V1 { org, .. }
            | CourseKey::Legacy { org, .. }
            | CourseKey::Ccx { org, .. } => org,
        }
    }

    /// The course number part.
    pub fn course(&self) -> &str {
        match self {
            CourseKey::V1 { course, .. }
            | CourseKey::Legacy { course, .. }
            | CourseKey::Ccx { course, .. } => course,
        }
    }

    /// The run part.
    pub fn run(&self) -> &str {
        match self {
            CourseKey::V1 { run, .. }
            | CourseKey::Legacy { run, .. }
            | CourseKey::Ccx { run, .. } => run,
        }
    }

    /// For a CCX key, the master course (`course-v1:ORG+COURSE+RUN`); otherwise itself.
    pub fn master(&self) -> CourseKey {
        match self {
            CourseKey::Ccx {
                org, course, run, ..
            } => CourseKey::V1 {
                org: org.clone(),
                course: course.clone(),
                run: run.clone(),
                branch: None,
                version: None,
            },
            other => other.clone(),
        }
    }

    /// The usage key of this course's root block (`…+type@course+block@course`).
    pub fn course_block(&self) -> UsageKey {
        match self {
            CourseKey::Legacy { org, course, run } => UsageKey::I4x {
                org: org.clone(),
                course: course.clone(),
                block_type: "course".into(),
                block_id: run.clone(),
                revision: None,
            },
            _ => UsageKey::BlockV1 {
                course: self.clone(),
                block_type: "course".into(),
                block_id: "course".into(),
            },
        }
    }
}

/// Splits `ORG+COURSE+RUN[+more…]` into its three first parts and the rest.
fn split_v1(rest: &str) -> Option<(String, String, String, Vec<String>)> {
    let mut it = rest.split('+');
    let org = it.next()?;
    let course = it.next()?;
    let run = it.next()?;
    if ![org, course, run].iter().all(|p| valid_part(p, false)) {
        return None;
    }
    let tail: Vec<String> = it.map(str::to_owned).collect();
    Some((org.to_owned(), course.to_owned(), run.to_owned(), tail))
}

type BranchVersion = (Option<String>, Option<String>);

/// Parses the optional `branch@B` then `version@V` parts of a v1 key.
fn parse_branch_version(tail: &[String]) -> Option<BranchVersion> {
    let mut branch = None;
    let mut version = None;
    let mut it = tail.iter().peekable();
    if let Some(b) = it.peek().and_then(|p| p.strip_prefix("branch@")) {
        if !valid_part(b, false) {
            return None;
        }
        branch = Some(b.to_owned());
        it.next();
    }
    if let Some(v) = it.peek().and_then(|p| p.strip_prefix("version@")) {
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        version = Some(v.to_owned());
        it.next();
    }
    it.next().is_none().then_some((branch, version))
}

impl fmt::Display for CourseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CourseKey::V1 {
                org,
                course,
                run,
                branch,
                version,
            } => {
                write!(f, "course-v1:{org}+{course}+{run}")?;
                if let Some(b) = branch {
                    write!(f, "+branch@{b}")?;
                }
                if let Some(v) = version {
                    write!(f, "+version@{v}")?;
                }
                Ok(())
            }
            CourseKey::Legacy { org, course, run } => write!(f, "{org}/{course}/{run}"),
            CourseKey::Ccx {
                org,
                course,
                run,
                ccx,
            } => write!(f, "ccx-v1:{org}+{course}+{run}+ccx@{ccx}"),
        }
    }
}

impl FromStr for CourseKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A block usage key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UsageKey {
    /// `block-v1:…+type@T+block@ID` (or `ccx-block-v1:…+ccx@N+type@T+block@ID`); the
    /// embedded course key is V1 (possibly with branch/version) or CCX.
    BlockV1 {
        /// The course the block belongs to.
        course: CourseKey,
        /// XBlock type (`problem`, `video`, …).
        block_type: String,
        /// Block id.
        block_id: String,
    },
    /// Legacy `i4x://ORG/COURSE/TYPE/ID[@revision]`: no run.
    I4x {
        /// Organisation.
        org: String,
        /// Course number.
        course: String,
        /// XBlock type.
        block_type: String,
        /// Block id.
        block_id: String,
        /// Optional `@revision` suffix.
        revision: Option<String>,
    },
}

impl UsageKey {
    /// Parses a usage key string.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        const K: &str = "usage key";
        let v1 = s
            .strip_prefix("block-v1:")
            .map(|r| ("course-v1:", r))
            .or_else(|| s.strip_prefix("ccx-block-v1:").map(|r| ("ccx-v1:", r)));
        if let Some((course_ns, rest)) = v1 {
            // The last two `+` parts are type@ and block@; the rest is the course key.
            let mut rparts = rest.rsplitn(3, '+');
            let block = rparts.next().and_then(|p| p.strip_prefix("block@"));
            let ty = rparts.next().and_then(|p| p.strip_prefix("type@"));
            let course = rparts.next();
            let (Some(block_id), Some(block_type), Some(course)) = (block, ty, course) else {
                return Err(key_err(K, s, "expected …+type@TYPE+block@ID"));
            };
            if !valid_part(block_type, false) || !valid_part(block_id, false) {
                return Err(key_err(K, s, "empty or invalid block type or id"));
            }
            let course = CourseKey::parse(&format!("{course_ns}{course}"))
                .map_err(|_| key_err(K, s, "invalid course part"))?;
            return Ok(UsageKey::BlockV1 {
                course,
                block_type: block_type.to_owned(),
                block_id: block_id.to_owned(),
            });
        }
        if let Some(rest) = s.strip_prefix("i4x://") {
            let parts: Vec<&str> = rest.split('/').collect();
            if let [org, course, ty, id] = parts.as_slice() {
                let (id, revision) = match id.split_once('@') {
                    Some((i, r)) => (i, Some(r)),
                    None => (*id, None),
                };
                let ok = [org, course, ty, &id].iter().all(|p| valid_part(p, true))
                    && revision.is_none_or(|r| valid_part(r, true));
                if ok {
                    return Ok(UsageKey::I4x {
                        org: (*org).to_owned(),
                        course: (*course).to_owned(),
                        block_type: (*ty).to_owned(),
                        block_id: id.to_owned(),
                        revision: revision.map(str::to_owned),
                    });
                }
            }
            return Err(key_err(K, s, "expected i4x://ORG/COURSE/TYPE/ID"));
        }
        Err(key_err(
            K,
            s,
            "expected block-v1:…, ccx-block-v1:… or i4x://… usage key",
        ))
    }

    /// The organisation of the block's course.
    pub fn org(&self) -> &str {
        match self {
            UsageKey::BlockV1 { course, .. } => course.org(),
            UsageKey::I4x { org, .. } => org,
        }
    }

    /// The XBlock type.
    pub fn block_type(&self) -> &str {
        match self {
            UsageKey::BlockV1 { block_type, .. } | UsageKey::I4x { block_type, .. } => block_type,
        }
    }

    /// The block id.
    pub fn block_id(&self) -> &str {
        match self {
            UsageKey::BlockV1 { block_id, .. } | UsageKey::I4x { block_id, .. } => block_id,
        }
    }

    /// The course this block belongs to; `None` for legacy `i4x://` keys, which have no
    /// run (use [`UsageKey::in_course`] with the event's course key to fill it in).
    pub fn course_key(&self) -> Option<&CourseKey> {
        match self {
            UsageKey::BlockV1 { course, .. } => Some(course),
            UsageKey::I4x { .. } => None,
        }
    }

    /// Whether this block belongs to `course` (a legacy key matches on org and course number,
    /// filling in the run from `course` as the LMS does).
    pub fn in_course(&self, course: &CourseKey) -> bool {
        match self {
            UsageKey::BlockV1 { course: c, .. } => c == course,
            UsageKey::I4x {
                org, course: num, ..
            } => org == course.org() && num == course.course(),
        }
    }
}

impl fmt::Display for UsageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageKey::BlockV1 {
                course,
                block_type,
                block_id,
            } => {
                let c = course.to_string();
                let (ns, rest) = match c.split_once(':') {
                    Some(("ccx-v1", rest)) => ("ccx-block-v1", rest),
                    Some((_, rest)) => ("block-v1", rest),
                    None => ("block-v1", c.as_str()),
                };
                write!(f, "{ns}:{rest}+type@{block_type}+block@{block_id}")
            }
            UsageKey::I4x {
                org,
                course,
                block_type,
                block_id,
                revision,
            } => {
                write!(f, "i4x://{org}/{course}/{block_type}/{block_id}")?;
                if let Some(r) = revision {
                    write!(f, "@{r}")?;
                }
                Ok(())
            }
        }
    }
}

impl FromStr for UsageKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_three_course_key_forms() {
        let k = CourseKey::parse("course-v1:MITx+6.002x+2013_Spring").unwrap();
        assert_eq!(
            (k.org(), k.course(), k.run()),
            ("MITx", "6.002x", "2013_Spring")
        );
        let k = CourseKey::parse("edX/E929/2014_T2").unwrap();
        assert!(matches!(k, CourseKey::Legacy { .. }));
        assert_eq!(k.org(), "edX");
        let k = CourseKey::parse("ccx-v1:edX+DemoX+Demo_Course+ccx@1").unwrap();
        assert_eq!(k.org(), "edX");
        assert_eq!(k.master().to_string(), "course-v1:edX+DemoX+Demo_Course");
    }

    #[test]
    fn rejects_malformed_course_keys() {
        for bad in [
            "",
            "course-v1:",
            "course-v1:a+b",
            "course-v1:a++c",
            "course-v1:a+b+c+d",
            "ccx-v1:a+b+c",
            "ccx-v1:a+b+c+ccx@x",
            "a/b",
            "a/b/c/d",
            "a b/c/d",
            "block-v1:a+b+c+type@x+block@y",
        ] {
            assert!(CourseKey::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn org_is_exact_not_prefix() {
        let a = CourseKey::parse("course-v1:edXtra+C+R").unwrap();
        assert_ne!(a.org(), "edX");
    }

    #[test]
    fn usage_keys_and_their_courses() {
        let u = UsageKey::parse(
            "block-v1:edX+DemoX+Demo_Course+type@problem+block@932e6f2ce8274072a355a94560216d1a",
        )
        .unwrap();
        assert_eq!(u.block_type(), "problem");
        assert_eq!(u.org(), "edX");
        assert_eq!(
            u.course_key().unwrap().to_string(),
            "course-v1:edX+DemoX+Demo_Course"
        );
        let u = UsageKey::parse("i4x://edX/E929/problem/466b@draft").unwrap();
        assert_eq!(u.course_key(), None);
        assert!(u.in_course(&CourseKey::parse("edX/E929/2014_T2").unwrap()));
        assert!(!u.in_course(&CourseKey::parse("edX/E930/2014_T2").unwrap()));
        let u = UsageKey::parse("ccx-block-v1:edX+DemoX+Demo_Course+ccx@1+type@video+block@v1")
            .unwrap();
        assert!(matches!(u.course_key(), Some(CourseKey::Ccx { .. })));
        let c = CourseKey::parse("course-v1:O+C+R").unwrap();
        assert_eq!(
            c.course_block().to_string(),
            "block-v1:O+C+R+type@course+block@course"
        );
    }

    fn part() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_.~-]{1,12}"
    }

    fn course_key() -> impl Strategy<Value = CourseKey> {
        prop_oneof![
            (
                part(),
                part(),
                part(),
                proptest::option::of(part()),
                proptest::option::of("[0-9a-f]{1,24}")
            )
                .prop_map(|(org, course, run, branch, version)| CourseKey::V1 {
                    org,
                    course,
                    run,
                    branch,
                    version
                }),
            (part(), part(), part()).prop_map(|(org, course, run)| CourseKey::Legacy {
                org,
                course,
                run
            }),
            (part(), part(), part(), "[0-9]{1,5}").prop_map(|(org, course, run, ccx)| {
                CourseKey::Ccx {
                    org,
                    course,
                    run,
                    ccx,
                }
            }),
        ]
    }

    fn usage_key() -> impl Strategy<Value = UsageKey> {
        prop_oneof![
            (
                course_key().prop_filter("v1 or ccx", |c| !matches!(c, CourseKey::Legacy { .. })),
                part(),
                part()
            )
                .prop_map(|(course, block_type, block_id)| UsageKey::BlockV1 {
                    course,
                    block_type,
                    block_id
                }),
            (part(), part(), part(), part(), proptest::option::of(part())).prop_map(
                |(org, course, block_type, block_id, revision)| UsageKey::I4x {
                    org,
                    course,
                    block_type,
                    block_id: block_id.replace('@', "_"),
                    revision
                }
            ),
        ]
    }

    proptest! {
        #[test]
        fn course_key_display_parse_roundtrip(k in course_key()) {
            let s = k.to_string();
            prop_assert_eq!(CourseKey::parse(&s).unwrap(), k);
        }

        #[test]
        fn usage_key_display_parse_roundtrip(k in usage_key()) {
            let s = k.to_string();
            let back = UsageKey::parse(&s).unwrap();
            prop_assert_eq!(back.to_string(), s);
            prop_assert_eq!(back, k);
        }

        #[test]
        fn parse_then_display_is_identity_for_accepted_strings(s in "\\PC{0,60}") {
            if let Ok(k) = CourseKey::parse(&s) { prop_assert_eq!(k.to_string(), s.clone()); }
            if let Ok(k) = UsageKey::parse(&s) { prop_assert_eq!(k.to_string(), s); }
        }

        #[test]
        fn keyish_strings_never_panic(s in "(course-v1:|ccx-v1:|block-v1:|ccx-block-v1:|i4x://)?[a-z+@/:.]{0,40}") {
            let _ = CourseKey::parse(&s);
            let _ = UsageKey::parse(&s);
        }
    }
}
