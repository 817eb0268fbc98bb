//! Property tests: no input makes the parser panic; every event's offset is where its line
//! starts and no line starts two items; a reader in small pieces gives the same items as
//! the whole buffer; rows survive serialization.

use std::collections::HashSet;
use std::io::BufReader;

use cairn_events::{EventRow, Item, LineFormat, LogParser, for_each_line, lines};
use proptest::prelude::*;

/// Real lines: the Tutor sample when the shared corpus is there, plus lines of each format.
fn real_lines() -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = vec![
        br#"2023-05-23 14:12:17,308 INFO 7 [tracking] [user 6] [ip 172.18.0.1] logger.py:41 - {"name": "problem_check", "context": {"user_id": 6, "path": "/event", "course_id": "course-v1:edX+DemoX+Demo_Course", "org_id": "edX", "module": {"usage_key": "block-v1:edX+DemoX+Demo_Course+type@problem+block@932e"}}, "username": "bmtcril", "event": "input_932e6f2ce8274072a355a94560216d1a_2_1=choice_2", "time": "2023-05-23T14:12:17.299491+00:00", "event_type": "problem_check", "event_source": "browser", "page": null}"#.to_vec(),
        br#"{"log":"2023-05-23 14:12:17,308 INFO 7 [tracking] [user 6] [ip 172.18.0.1] logger.py:41 - {\"name\": \"play_video\", \"event\": \"{\\\"id\\\": \\\"v\\\", \\\"currentTime\\\": 3}\", \"time\": \"2023-05-23T14:12:17Z\"}\n","stream":"stderr","time":"2023-05-23T14:12:17.308050123Z"}"#.to_vec(),
        br#"2023-08-03T06:30:32.033082034Z stderr F {"name": "edx.grades.subsection.grade_calculated", "timestamp": "2023-08-22T20:16:25.500832Z", "data": {"user_id": "4", "block_id": "block-v1:A+B+C+type@sequential+block@s"}}"#.to_vec(),
        b"2024-05-14 10:30:01,234 INFO 19 [openedx.core.djangoapps.content.course_overviews.models] [user 3] [ip 172.18.0.1] models.py:213 - Updating course overview for course-v1:MITx+6.002x+2013_Spring.".to_vec(),
    ];
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/tracking/tutor-sample.log");
    if let Ok(buf) = std::fs::read(sample) {
        lines.extend(buf.split(|&b| b == b'\n').map(<[u8]>::to_vec));
    }
    lines
}

fn formats() -> impl Strategy<Value = LineFormat> {
    prop_oneof![
        Just(LineFormat::Auto),
        Just(LineFormat::Tutor),
        Just(LineFormat::Json),
        Just(LineFormat::Docker),
        Just(LineFormat::Cri),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Delete(usize, usize),
    Insert(usize, u8),
    Flip(usize, u8),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 0usize..40).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (
            any::<usize>(),
            prop_oneof![
                Just(b'"'),
                Just(b'\\'),
                Just(b'{'),
                Just(b'}'),
                Just(b'\n'),
                any::<u8>()
            ]
        )
            .prop_map(|(a, b)| Mutation::Insert(a, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Flip(a, b)),
        (any::<usize>(), 0usize..60).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
    ]
}

fn apply(mut line: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let len = line.len().max(1);
        match *m {
            Mutation::Truncate(a) => line.truncate(a % len),
            Mutation::Delete(a, n) => {
                let a = a % len;
                let end = (a + n).min(line.len());
                if a < end {
                    line.drain(a..end);
                }
            }
            Mutation::Insert(a, b) => line.insert((a % len).min(line.len()), b),
            Mutation::Flip(a, b) => {
                if !line.is_empty() {
                    let i = a % line.len();
                    line[i] ^= b;
                }
            }
            Mutation::Duplicate(a, n) => {
                let a = a % len;
                let end = (a + n).min(line.len());
                if a < end {
                    let piece = line[a..end].to_vec();
                    line.splice(a..a, piece);
                }
            }
        }
    }
    line
}

fn parse_everything(buf: &[u8], format: LineFormat) -> Vec<EventRow> {
    let mut rows = Vec::new();
    LogParser::new(format)
        .with_max_line(1 << 16)
        .parse_all(buf, &mut |item| {
            if let Item::Event { event, .. } = item {
                rows.push(EventRow::from_event(&event));
            }
        });
    rows
}

/// What an item says, for comparing two reads: (line, kind, offset).
fn summary(item: &Item<'_>) -> (u64, String, u64) {
    match item {
        Item::Event { line, offset, .. } => (*line, "event".into(), *offset),
        Item::CoursePublished { line, course_id } => (*line, format!("publish {course_id}"), 0),
        Item::Skipped { line, reason } => (*line, format!("skipped {reason}"), 0),
        Item::Rejected { line, reason, .. } => (*line, format!("rejected {reason}"), 0),
    }
}

/// Mutated real lines, one log.
fn mutated_log(picks: Vec<(proptest::sample::Index, Vec<Mutation>)>) -> Vec<u8> {
    let lines = real_lines();
    let mut buf = Vec::new();
    for (idx, muts) in picks {
        buf.extend(apply(lines[idx.index(lines.len())].clone(), &muts));
        buf.push(b'\n');
    }
    buf
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// What `cargo fuzz run events` checks (fuzz/), here on every test run: offsets are
    /// what checkpoints record, and no line is counted twice or read differently in pieces.
    #[test]
    fn offsets_are_line_starts_and_a_reader_in_pieces_reads_the_same(
        picks in proptest::collection::vec((any::<proptest::sample::Index>(), proptest::collection::vec(mutation(), 0..4)), 1..8),
        format in formats(),
        piece in 1usize..24,
        max in prop_oneof![Just(1usize << 16), 64usize..600],
    ) {
        let buf = mutated_log(picks);
        let starts: Vec<u64> = lines(&buf).map(|(_, offset, _)| offset).collect();
        let mut whole = Vec::new();
        let mut started = HashSet::new();
        LogParser::new(format).with_max_line(max).parse_all(&buf, &mut |item| {
            let s = summary(&item);
            assert!(started.insert(s.0), "line {} starts two items", s.0);
            if let Item::Event { line, offset, .. } = item {
                assert_eq!(starts.get(line as usize - 1), Some(&offset), "line {line}");
            }
            whole.push(s);
        });
        let mut parser = LogParser::new(format).with_max_line(max);
        let mut pieces = Vec::new();
        for_each_line(BufReader::with_capacity(piece, buf.as_slice()), max, 0, |n, offset, line| {
            parser.feed(n, offset, line, &mut |item| pieces.push(summary(&item)));
        })
        .unwrap();
        parser.finish(&mut |item| pieces.push(summary(&item)));
        prop_assert_eq!(whole, pieces);
    }

    #[test]
    fn arbitrary_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..2048), format in formats()) {
        parse_everything(&buf, format);
    }

    #[test]
    fn mutated_real_lines_never_panic(
        picks in proptest::collection::vec((any::<proptest::sample::Index>(), proptest::collection::vec(mutation(), 0..4)), 1..6),
        format in formats(),
    ) {
        parse_everything(&mutated_log(picks), format);
    }

    #[test]
    fn rows_survive_serialization(
        idx in any::<proptest::sample::Index>(),
        muts in proptest::collection::vec(mutation(), 0..3),
    ) {
        let lines = real_lines();
        let line = apply(lines[idx.index(lines.len())].clone(), &muts);
        for row in parse_everything(&line, LineFormat::Auto) {
            let text = serde_json::to_string(&row).unwrap();
            let back: EventRow = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&back, &row);
            prop_assert_eq!(serde_json::to_string(&back).unwrap(), text);
        }
    }
}
