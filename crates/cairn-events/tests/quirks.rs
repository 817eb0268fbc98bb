//! One test per quirk of real logs (see shared/corpus/events/README.md and
//! shared/corpus/tracking/README.md).

use cairn_events::{
    EventRow, Family, Item, LineFormat, LogParser, PayloadForm, Reject, Skip, TimeFrom, parse_event,
};

const PREFIX: &str =
    "2023-05-23 14:12:17,308 INFO 7 [tracking] [user 6] [ip 172.18.0.1] logger.py:41 - ";

fn row(json: &str) -> EventRow {
    EventRow::from_event(&parse_event(json, None).unwrap())
}

/// Events with their line numbers, and every other item as (line, reason text).
type Outcome = (Vec<(u64, EventRow)>, Vec<(u64, String)>);

/// Parses a log.
fn run(log: &str, format: LineFormat) -> Outcome {
    let mut events = Vec::new();
    let mut other = Vec::new();
    LogParser::new(format).parse_all(log.as_bytes(), &mut |item| match item {
        Item::Event { line, event, .. } => events.push((line, EventRow::from_event(&event))),
        Item::CoursePublished { line, course_id } => {
            other.push((line, format!("publish {course_id}")))
        }
        Item::Skipped { line, reason } => other.push((line, reason.to_string())),
        Item::Rejected { line, reason, .. } => other.push((line, reason.to_string())),
    });
    (events, other)
}

#[test]
fn time_timestamp_or_the_log_line() {
    let e = parse_event(
        r#"{"name": "x", "time": "2023-05-23T14:12:17.299491+00:00"}"#,
        None,
    )
    .unwrap();
    assert_eq!(e.time_from, TimeFrom::Time);
    let e = parse_event(
        r#"{"name": "x", "timestamp": "2023-05-23T14:12:17.299491+00:00"}"#,
        None,
    )
    .unwrap();
    assert_eq!(e.time_from, TimeFrom::Timestamp);
    // No time in the JSON: the Tutor line's own time (UTC) is used.
    let (ev, _) = run(&format!("{PREFIX}{{\"name\": \"x\"}}\n"), LineFormat::Auto);
    assert_eq!(ev[0].1.time.to_rfc3339(), "2023-05-23T14:12:17.308+00:00");
    // A bare JSON line with no time at all is rejected with its reason.
    let (ev, other) = run("{\"name\": \"x\"}\n", LineFormat::Auto);
    assert!(ev.is_empty());
    assert_eq!(other, vec![(1, Reject::NoTimestamp.to_string())]);
    let (_, other) = run(
        "{\"name\": \"x\", \"time\": \"yesterday\"}\n",
        LineFormat::Auto,
    );
    assert_eq!(other, vec![(1, "no timestamp".to_string())]);
}

#[test]
fn z_and_offset_times_are_the_same_instant() {
    let a = row(r#"{"name": "x", "time": "2023-08-22T20:16:25.500832Z"}"#);
    let b = row(r#"{"name": "x", "time": "2023-08-22T20:16:25.500832+00:00"}"#);
    let c = row(r#"{"name": "x", "time": "2023-08-22T22:16:25.500832+02:00"}"#);
    assert_eq!(a.time, b.time);
    assert_eq!(a.time, c.time);
    assert_eq!(
        serde_json::to_value(&a).unwrap()["time"],
        "2023-08-22T20:16:25.500832Z"
    );
}

#[test]
fn payload_in_every_form() {
    let form = |j: &str| parse_event(j, None).unwrap().payload_form;
    let t = r#""time": "2023-01-01T00:00:00Z""#;
    assert_eq!(
        form(&format!(
            r#"{{"name": "play_video", {t}, "event": {{"id": "v"}}}}"#
        )),
        PayloadForm::Object
    );
    assert_eq!(
        form(&format!(
            r#"{{"name": "play_video", {t}, "event": "{{\"id\": \"v\"}}"}}"#
        )),
        PayloadForm::EncodedObject
    );
    assert_eq!(
        form(&format!(
            r#"{{"name": "play_video", {t}, "event": "\"{{\\\"id\\\": \\\"v\\\"}}\""}}"#
        )),
        PayloadForm::DoubleEncoded
    );
    assert_eq!(
        form(&format!(
            r#"{{"name": "problem_graded", {t}, "event": ["a", "b"]}}"#
        )),
        PayloadForm::List
    );
    assert_eq!(
        form(&format!(
            r#"{{"name": "problem_check", {t}, "event": "input_932e6f2ce8274072a355a94560216d1a_2_1=choice_2"}}"#
        )),
        PayloadForm::Form
    );
    assert_eq!(
        form(&format!(r#"{{"name": "problem_check", {t}}}"#)),
        PayloadForm::Absent
    );
    assert_eq!(
        form(&format!(r#"{{"name": "x", {t}, "event": null}}"#)),
        PayloadForm::Absent
    );
    assert_eq!(
        form(&format!(r#"{{"name": "x", {t}, "event": "hello world"}}"#)),
        PayloadForm::Text
    );
    // eventtracking shape: payload under `data`.
    let r = row(&format!(
        r#"{{"name": "play_video", {t}, "data": {{"id": "v1", "currentTime": 3}}}}"#
    ));
    assert_eq!((r.video_id.as_str(), r.position), ("v1", Some(3.0)));
    // Encoded and double-encoded payloads are read the same.
    let r = row(&format!(
        r#"{{"name": "play_video", {t}, "event": "\"{{\\\"id\\\": \\\"v2\\\", \\\"currentTime\\\": 4.5}}\""}}"#
    ));
    assert_eq!((r.video_id.as_str(), r.position), ("v2", Some(4.5)));
}

#[test]
fn browser_problem_form_names_the_problem() {
    let r = row(
        r#"{"name": "problem_check", "time": "2023-01-01T00:00:00Z", "event_source": "browser", "context": {"course_id": "course-v1:edX+DemoX+Demo_Course"}, "event": "input_932e6f2ce8274072a355a94560216d1a_2_1%5B%5D=choice_0&input_932e6f2ce8274072a355a94560216d1a_2_1%5B%5D=choice_2"}"#,
    );
    assert_eq!(
        r.block_id,
        "block-v1:edX+DemoX+Demo_Course+type@problem+block@932e6f2ce8274072a355a94560216d1a"
    );
    assert_eq!(r.block_type, "problem");
}

#[test]
fn user_id_int_string_null_empty_and_payload_fallback() {
    let uid = |ctx: &str, ev: &str| {
        row(&format!(r#"{{"name": "x", "time": "2023-01-01T00:00:00Z", "context": {{"user_id": {ctx}}}, "event": {{"user_id": {ev}}}}}"#)).user_id
    };
    assert_eq!(uid("3", "null"), Some(3));
    assert_eq!(uid("\"3\"", "null"), Some(3));
    assert_eq!(uid("null", "null"), None);
    assert_eq!(uid("\"\"", "null"), None);
    // Context wins; the payload fills in when the context has none.
    assert_eq!(uid("3", "\"4\""), Some(3));
    assert_eq!(uid("\"\"", "3"), Some(3));
    assert_eq!(uid("null", "\"7\""), Some(7));
}

#[test]
fn course_ids_missing_legacy_ccx_and_derived() {
    let t = r#""time": "2023-01-01T00:00:00Z""#;
    let r = row(&format!(r#"{{"name": "x", {t}}}"#));
    assert_eq!((r.course_id.as_str(), r.org.as_str()), ("", ""));
    let r = row(&format!(
        r#"{{"name": "x", {t}, "context": {{"course_id": "edX/E929/2014_T2"}}}}"#
    ));
    assert_eq!(
        (r.course_id.as_str(), r.org.as_str()),
        ("edX/E929/2014_T2", "edX")
    );
    let r = row(&format!(
        r#"{{"name": "x", {t}, "context": {{"course_id": "ccx-v1:edX+DemoX+Demo_Course+ccx@1", "org_id": ""}}}}"#
    ));
    assert_eq!(r.org, "edX");
    // org_id wins when present; the key's org is the fallback.
    let r = row(&format!(
        r#"{{"name": "x", {t}, "context": {{"course_id": "course-v1:MITx+6.002x+2013_Spring", "org_id": "MITx"}}}}"#
    ));
    assert_eq!(r.org, "MITx");
    // Course from the payload, then from the block's usage key.
    let r = row(&format!(
        r#"{{"name": "edx.course.enrollment.activated", {t}, "event": {{"course_id": "course-v1:A+B+C", "mode": "audit"}}}}"#
    ));
    assert_eq!(
        (
            r.course_id.as_str(),
            r.org.as_str(),
            r.enrollment_mode.as_str()
        ),
        ("course-v1:A+B+C", "A", "audit")
    );
    let r = row(&format!(
        r#"{{"name": "problem_check", {t}, "event": {{"problem_id": "block-v1:Org+C+R+type@problem+block@p1"}}}}"#
    ));
    assert_eq!(
        (r.course_id.as_str(), r.org.as_str()),
        ("course-v1:Org+C+R", "Org")
    );
}

#[test]
fn name_missing_or_a_url_path() {
    let r = row(r#"{"event_type": "seq_next", "time": "2023-01-01T00:00:00Z"}"#);
    assert_eq!(
        (r.name.as_str(), r.family),
        ("seq_next", Family::Navigation)
    );
    let r = row(
        r#"{"name": "/courses/course-v1:A+B+C/xblock/x/handler/h", "event_type": "/courses/course-v1:A+B+C/xblock/x/handler/h", "time": "2023-01-01T00:00:00Z", "event": "{\"GET\": {}, \"POST\": {}}"}"#,
    );
    assert_eq!(r.family, Family::Implicit);
    // name != event_type: the name is kept, event_type stays queryable.
    let r = row(
        r#"{"name": "edx.special_exam.practice.attempt.created", "event_type": "edx.special_exam.timed.attempt.created", "time": "2023-01-01T00:00:00Z"}"#,
    );
    assert_eq!(r.name, "edx.special_exam.practice.attempt.created");
    assert_eq!(r.event_type, "edx.special_exam.timed.attempt.created");
}

#[test]
fn context_absent_page_null_request_fields_empty() {
    let r = row(
        r#"{"name": "edx.ui.lms.link_clicked", "time": "2023-01-01T00:00:00Z", "page": null, "username": "", "session": "", "event": {"target_url": "http://x/y"}}"#,
    );
    assert_eq!(
        (r.page.as_str(), r.username.as_str(), r.target.as_str()),
        ("", "", "http://x/y")
    );
    // eventtracking shape: request fields inside context are used.
    let r = row(
        r#"{"name": "x", "timestamp": "2023-01-01T00:00:00Z", "context": {"username": "ada", "session": "s1", "ip": "10.0.0.1", "event_source": "browser", "page": "http://p"}}"#,
    );
    assert_eq!(
        (
            r.username.as_str(),
            r.session.as_str(),
            r.ip.as_str(),
            r.event_source.as_str(),
            r.page.as_str()
        ),
        ("ada", "s1", "10.0.0.1", "browser", "http://p")
    );
}

#[test]
fn context_of_the_wrong_type_is_ignored_not_fatal() {
    let r = row(r#"{"name": "x", "time": "2023-01-01T00:00:00Z", "context": "course-v1:A+B+C"}"#);
    assert_eq!(r.course_id, "");
}

#[test]
fn non_ascii_escapes_are_decoded() {
    let r = row(r#"{"name": "x", "time": "2023-01-01T00:00:00Z", "username": "Andr\u00e9"}"#);
    assert_eq!(r.username, "André");
}

#[test]
fn docker_partials_split_at_16k_are_joined() {
    let json = format!(
        r#"{{"name": "problem_check", "time": "2023-01-01T00:00:00Z", "event": {{"pad": "{}"}}}}"#,
        "x".repeat(40_000)
    );
    let line = format!("{PREFIX}{json}");
    let parts: Vec<&str> = [&line[..16384], &line[16384..32768], &line[32768..]].to_vec();
    let mut log = String::new();
    for (i, p) in parts.iter().enumerate() {
        let nl = if i == parts.len() - 1 { "\n" } else { "" };
        let entry = serde_json::json!({"log": format!("{p}{nl}"), "stream": "stderr", "time": "2023-01-01T00:00:00.1Z"});
        log.push_str(&entry.to_string());
        log.push('\n');
    }
    let (ev, other) = run(&log, LineFormat::Auto);
    assert!(other.is_empty(), "{other:?}");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].0, 1, "the event starts on the first partial's line");
}

#[test]
fn cri_partials_are_joined_and_bad_flags_reported() {
    let line = format!("{PREFIX}{{\"name\": \"x\", \"time\": \"2023-01-01T00:00:00Z\"}}");
    let (a, b) = line.split_at(50);
    let log = format!(
        "2023-01-01T00:00:00.1Z stderr P {a}\n2023-01-01T00:00:00.2Z stderr F {b}\n2023-01-01T00:00:00.3Z stderr X oops\n"
    );
    let (ev, other) = run(&log, LineFormat::Cri);
    assert_eq!(ev.len(), 1);
    assert_eq!(other, vec![(3, Reject::BadContainerLine.to_string())]);
}

#[test]
fn a_partial_never_completed_is_reported() {
    let log = "2023-01-01T00:00:00.1Z stderr P half a line\n";
    let (ev, other) = run(log, LineFormat::Auto);
    assert!(ev.is_empty());
    assert_eq!(other, vec![(1, Reject::IncompletePartial.to_string())]);
}

#[test]
fn a_plain_split_line_is_rejoined_and_a_truncated_one_rejected() {
    let json = r#"{"name": "x", "time": "2023-01-01T00:00:00Z", "event": {"a": "bcdef"}}"#;
    let (head, tail) = json.split_at(40);
    let log = format!(
        "{PREFIX}{head}\n{tail}\n{PREFIX}{head}\n2023-05-23 14:12:18,000 WARNING 7 [django.request] x.py:1 - Not Found\n"
    );
    let (ev, other) = run(&log, LineFormat::Auto);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].0, 1);
    assert_eq!(
        other,
        vec![
            (3, Reject::MalformedJson.to_string()),
            (4, Skip::NotTracking.to_string())
        ]
    );
}

#[test]
fn long_and_non_utf8_lines_are_rejected_and_parsing_goes_on() {
    let good = format!("{PREFIX}{{\"name\": \"x\", \"time\": \"2023-01-01T00:00:00Z\"}}");
    let mut log = Vec::new();
    log.extend_from_slice(b"\xff\xfe bad bytes\n");
    log.extend_from_slice(format!("{}\n", "y".repeat(200)).as_bytes());
    log.extend_from_slice(good.as_bytes());
    log.push(b'\n');
    let mut items = Vec::new();
    LogParser::new(LineFormat::Auto)
        .with_max_line(150)
        .parse_all(&log, &mut |item| {
            items.push(match item {
                Item::Event { line, .. } => (line, "event".to_string()),
                Item::Rejected {
                    line,
                    reason,
                    detail,
                } => {
                    if reason == Reject::InvalidUtf8 {
                        // Where the bad bytes are, as the standard library says it.
                        assert_eq!(detail, "invalid utf-8 sequence of 1 bytes from index 0");
                    }
                    (line, reason.to_string())
                }
                other => panic!("{other:?}"),
            })
        });
    assert_eq!(
        items,
        vec![
            (1, "invalid UTF-8".into()),
            (2, "too long".into()),
            (3, "event".into())
        ]
    );
}

#[test]
fn events_carry_the_byte_offset_of_their_first_line() {
    let first = format!("{PREFIX}{{\"name\": \"a\", \"time\": \"2023-01-01T00:00:00Z\"}}");
    let second = "2023-01-01T00:00:00.1Z stderr P {\"name\": \"b\", ";
    let third = "2023-01-01T00:00:00.2Z stderr F \"time\": \"2023-01-01T00:00:00Z\"}";
    let log = format!("{first}\n\n{second}\n{third}\n");
    let mut offsets = Vec::new();
    LogParser::default().parse_all(log.as_bytes(), &mut |item| {
        if let Item::Event { line, offset, .. } = item {
            offsets.push((line, offset));
        }
    });
    assert_eq!(offsets, vec![(1, 0), (3, first.len() as u64 + 2)]);
}

#[test]
fn reader_caps_line_memory() {
    let mut data = vec![b'z'; 10_000];
    data.extend_from_slice(b"\nshort\nlast-no-newline");
    let mut seen = Vec::new();
    let n = cairn_events::for_each_line(
        std::io::BufReader::with_capacity(64, &data[..]),
        100,
        7,
        |n, offset, l| seen.push((n, offset, l.len())),
    )
    .unwrap();
    assert_eq!(n, 3);
    // Offsets count every byte read, including the skipped tail of the long line.
    assert_eq!(
        seen,
        vec![(1, 7, 101), (2, 7 + 10_001, 5), (3, 7 + 10_007, 15)]
    );
}

#[test]
fn family_names_match_their_serialized_form() {
    for f in [
        Family::Enrollment,
        Family::Video,
        Family::Problem,
        Family::Navigation,
        Family::LinkClick,
        Family::Grade,
        Family::Completion,
        Family::Forum,
        Family::SpecialExam,
        Family::Certificate,
        Family::Implicit,
        Family::Other,
    ] {
        assert_eq!(serde_json::to_value(f).unwrap(), f.as_str());
    }
}
