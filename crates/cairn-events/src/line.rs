//! Log lines: container framing (Docker json-file, CRI), Tutor's `standard` prefix, plain
//! JSON, and the classification of everything else.

use std::borrow::Cow;
use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use memchr::memmem;
use serde::Deserialize;

/// How lines are wrapped. `Auto` detects it per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineFormat {
    /// Detect per line.
    #[default]
    Auto,
    /// Tutor's `standard` formatter (`… [tracking] … - {json}`).
    Tutor,
    /// One JSON event per line.
    Json,
    /// Docker json-file entries (`{"log": …}`), partial entries joined.
    Docker,
    /// Kubernetes CRI lines (`TIME STREAM P|F TEXT`), partial entries joined.
    Cri,
}

impl std::str::FromStr for LineFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "auto" => LineFormat::Auto,
            "tutor" => LineFormat::Tutor,
            "json" => LineFormat::Json,
            "docker" => LineFormat::Docker,
            "cri" => LineFormat::Cri,
            other => {
                return Err(format!(
                    "unknown line format {other:?} (auto, tutor, json, docker, cri)"
                ));
            }
        })
    }
}

/// A container frame, unwrapped.
#[derive(Debug, PartialEq)]
pub enum Frame<'a> {
    /// Not wrapped: the line is the message.
    Bare(&'a str),
    /// The message part of a complete container entry.
    Full(Cow<'a, str>),
    /// A partial container entry, continued by the next entry.
    Partial(Cow<'a, str>),
}

#[derive(Deserialize)]
struct DockerEntry<'a> {
    #[serde(borrow)]
    log: Cow<'a, str>,
}

fn looks_like_cri(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 20 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[10] == b'T'
}

/// Unwraps the container frame of a line, per `format` (auto-detected for `Auto`).
/// Errors say why a line that claims a container format is malformed.
pub fn unwrap_frame(line: &str, format: LineFormat) -> Result<Frame<'_>, String> {
    let docker = match format {
        LineFormat::Docker => true,
        LineFormat::Auto => line.starts_with("{\"log\":"),
        _ => false,
    };
    if docker {
        let entry: DockerEntry<'_> = serde_json::from_str(line)
            .map_err(|e| format!("malformed Docker json-file entry: {e}"))?;
        return Ok(match entry.log {
            Cow::Borrowed(s) => match s.strip_suffix('\n') {
                Some(full) => Frame::Full(Cow::Borrowed(full.strip_suffix('\r').unwrap_or(full))),
                None => Frame::Partial(Cow::Borrowed(s)),
            },
            Cow::Owned(mut s) => {
                if s.ends_with('\n') {
                    s.pop();
                    if s.ends_with('\r') {
                        s.pop();
                    }
                    Frame::Full(Cow::Owned(s))
                } else {
                    Frame::Partial(Cow::Owned(s))
                }
            }
        });
    }
    let cri = match format {
        LineFormat::Cri => true,
        LineFormat::Auto => looks_like_cri(line),
        _ => false,
    };
    if cri {
        let mut parts = line.splitn(4, ' ');
        let (Some(_time), Some(stream), Some(flag)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err("malformed CRI line: expected TIME STREAM P|F TEXT".into());
        };
        let text = parts.next().unwrap_or("");
        if !matches!(stream, "stdout" | "stderr") {
            return Err(format!("malformed CRI line: unknown stream {stream:?}"));
        }
        return match flag {
            "F" => Ok(Frame::Full(Cow::Borrowed(text))),
            "P" => Ok(Frame::Partial(Cow::Borrowed(text))),
            other => Err(format!("malformed CRI line: unknown flag {other:?}")),
        };
    }
    Ok(Frame::Bare(line))
}

/// What a log message is.
#[derive(Debug, PartialEq)]
pub enum Message<'a> {
    /// A Tutor `[tracking]` line: the JSON after ` - ` and the line's own time.
    Tracking {
        /// The JSON text.
        json: &'a str,
        /// The line's `asctime` (UTC in Tutor), if readable.
        line_time: Option<DateTime<Utc>>,
    },
    /// A bare JSON line.
    Json(&'a str),
    /// `Updating/Creating course overview for <key>.`: a course was (re)published.
    CoursePublished(&'a str),
    /// A log line of another logger (Django warnings, errors, …).
    OtherLog,
    /// An empty or blank line.
    Blank,
    /// Text with no log prefix (traceback continuations, split tails, …).
    Text,
}

/// Parses Python's `asctime` (`2023-05-23 14:12:17,308`) at the start of `s`.
fn asctime(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() < 23 || b[4] != b'-' || b[10] != b' ' || b[19] != b',' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let mut n = 0u32;
        for &c in &b[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + u32::from(c - b'0');
        }
        Some(n)
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time =
        NaiveTime::from_hms_milli_opt(num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?)?;
    Some(date.and_time(time).and_utc())
}

fn has_log_prefix(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 19
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
}

const PUBLISH_MARKERS: [&str; 2] = [
    "Updating course overview for ",
    "Creating course overview for ",
];

/// The course key of a course-overview line's message, without the sentence's final period
/// (keys may contain dots: `course-v1:MITx+6.002x+2013_Spring`).
fn published_course(msg: &str) -> Option<&str> {
    let rest = PUBLISH_MARKERS.iter().find_map(|m| msg.strip_prefix(m))?;
    let key = rest.split_whitespace().next()?;
    let key = key.strip_suffix('.').unwrap_or(key);
    (!key.is_empty()).then_some(key)
}

/// Classifies one (unwrapped) log message.
pub fn classify(text: &str) -> Message<'_> {
    let t = text.trim_end_matches(['\r', '\n']);
    if t.trim().is_empty() {
        return Message::Blank;
    }
    if t.starts_with('{') {
        return Message::Json(t);
    }
    if !has_log_prefix(t) {
        return Message::Text;
    }
    // `asctime LEVEL PID [logger] … - message`: the logger is the first bracket.
    // memchr for the ASCII brackets (both on character boundaries): `str::find` sets up a
    // char searcher per call.
    let Some(open) = memchr::memchr(b'[', t.as_bytes()) else {
        return Message::OtherLog;
    };
    let Some(close) = memchr::memchr(b']', &t.as_bytes()[open..]).map(|c| open + c) else {
        return Message::OtherLog;
    };
    let logger = &t[open + 1..close];
    static DASH: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(" - "));
    let Some(dash) = DASH.find(&t.as_bytes()[close..]).map(|d| close + d) else {
        return Message::OtherLog;
    };
    let msg = &t[dash + 3..];
    if logger == "tracking" {
        return Message::Tracking {
            json: msg,
            line_time: asctime(t),
        };
    }
    match published_course(msg) {
        Some(key) => Message::CoursePublished(key),
        None => Message::OtherLog,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn course_publish_keeps_dotted_keys() {
        let l = "2024-05-14 10:30:01,234 INFO 19 [openedx.core.djangoapps.content.course_overviews.models] [user 3] [ip 172.18.0.1] models.py:213 - Updating course overview for course-v1:MITx+6.002x+2013_Spring.";
        assert_eq!(
            classify(l),
            Message::CoursePublished("course-v1:MITx+6.002x+2013_Spring")
        );
        let l = "2024-05-14 10:30:01,234 INFO 19 [x] models.py:1 - Creating course overview for course-v1:edX+DemoX+Demo_Course.";
        assert_eq!(
            classify(l),
            Message::CoursePublished("course-v1:edX+DemoX+Demo_Course")
        );
    }

    #[test]
    fn tracking_lines_old_and_new() {
        let new = "2023-05-23 14:12:17,308 INFO 7 [tracking] [user 6] [ip 172.18.0.1] logger.py:41 - {\"a\": 1}";
        let Message::Tracking { json, line_time } = classify(new) else {
            panic!()
        };
        assert_eq!(json, "{\"a\": 1}");
        assert_eq!(
            line_time.unwrap().to_rfc3339(),
            "2023-05-23T14:12:17.308+00:00"
        );
        let old = "2019-01-05 22:22:12,808 INFO 11 [tracking] logger.py:50 - {\"username\": \"\"}";
        assert!(matches!(
            classify(old),
            Message::Tracking {
                json: "{\"username\": \"\"}",
                ..
            }
        ));
    }

    #[test]
    fn other_lines_are_classified() {
        assert_eq!(classify(""), Message::Blank);
        assert_eq!(classify("   "), Message::Blank);
        assert_eq!(
            classify("Traceback (most recent call last):"),
            Message::Text
        );
        assert_eq!(
            classify(
                "2020-07-15 05:59:29,727 WARNING 7 [django.request] [user None] [ip 172.18.0.1] log.py:241 - Not Found: /favicon.ico"
            ),
            Message::OtherLog
        );
    }

    #[test]
    fn container_frames() {
        let d =
            r#"{"log":"hello \"x\"\n","stream":"stderr","time":"2023-05-23T14:12:17.308050123Z"}"#;
        assert_eq!(
            unwrap_frame(d, LineFormat::Auto).unwrap(),
            Frame::Full(Cow::Owned("hello \"x\"".into()))
        );
        let p = r#"{"log":"head","stream":"stderr","time":"2023-05-23T14:12:17.308050123Z"}"#;
        assert_eq!(
            unwrap_frame(p, LineFormat::Auto).unwrap(),
            Frame::Partial(Cow::Borrowed("head"))
        );
        let c = "2023-08-03T06:30:32.033082034Z stderr P abc def";
        assert_eq!(
            unwrap_frame(c, LineFormat::Auto).unwrap(),
            Frame::Partial(Cow::Borrowed("abc def"))
        );
        assert!(unwrap_frame("2023-08-03T06:30:32Z stdout X y", LineFormat::Cri).is_err());
        assert!(unwrap_frame("{\"log\": 5}", LineFormat::Docker).is_err());
        assert_eq!(
            unwrap_frame("{\"name\": 1}", LineFormat::Auto).unwrap(),
            Frame::Bare("{\"name\": 1}")
        );
    }
}
