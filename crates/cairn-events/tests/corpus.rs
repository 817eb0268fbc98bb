//! The shared corpus, line by line, as its manifest and READMEs say.
//! Needs `../shared/corpus` (warns loudly without it; fails under CI=true).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cairn_events::{EventRow, Item, LineFormat, LogParser, Reject, Skip, parse_event};

fn shared() -> Option<PathBuf> {
    cairn_core::testing::shared_dir()
}

#[derive(Debug, PartialEq)]
enum Seen {
    Event { name: String, time: String },
    Published(String),
    Skipped(Skip),
    Rejected(Reject),
}

fn outcomes(path: &Path, format: LineFormat) -> BTreeMap<u64, Seen> {
    let buf = std::fs::read(path).unwrap();
    let mut seen = BTreeMap::new();
    LogParser::new(format).parse_all(&buf, &mut |item| {
        let (line, s) = match item {
            Item::Event { line, event, .. } => (
                line,
                Seen::Event {
                    name: event.name.into_owned(),
                    time: event
                        .time
                        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                },
            ),
            Item::CoursePublished { line, course_id } => {
                (line, Seen::Published(course_id.to_owned()))
            }
            Item::Skipped { line, reason } => (line, Seen::Skipped(reason)),
            Item::Rejected { line, reason, .. } => (line, Seen::Rejected(reason)),
        };
        assert!(seen.insert(line, s).is_none(), "two items for line {line}");
    });
    seen
}

struct ManifestLine {
    line: u64,
    kind: String,
    name: String,
    json_time: String,
}

fn manifest(dir: &Path) -> Vec<ManifestLine> {
    let text =
        std::fs::read_to_string(dir.join("corpus/tracking/tutor-sample.manifest.tsv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            ManifestLine {
                line: f[0].parse().unwrap(),
                kind: f[1].to_owned(),
                name: f.get(2).copied().unwrap_or("").to_owned(),
                json_time: f.get(3).copied().unwrap_or("").to_owned(),
            }
        })
        .collect()
}

fn norm_time(t: &str) -> String {
    cairn_events::event::parse_time(t)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn check_sample(file: &str, format: LineFormat) {
    let Some(dir) = shared() else { return };
    let seen = outcomes(&dir.join("corpus/tracking").join(file), format);
    let lines = manifest(&dir);
    assert_eq!(lines.len(), 104);
    let mut events = 0;
    for m in &lines {
        let got = seen.get(&m.line);
        let expected = match m.kind.as_str() {
            "tracking" | "passthrough" | "damaged:tracking-split-head" => {
                events += 1;
                Some(Seen::Event {
                    name: m.name.clone(),
                    time: norm_time(&m.json_time),
                })
            }
            // The tail is joined into the head's event: no item of its own.
            "damaged:tracking-split-tail" => None,
            "damaged:tracking-truncated-json" | "passthrough-broken-json" => {
                Some(Seen::Rejected(Reject::MalformedJson))
            }
            "noise:empty" => Some(Seen::Skipped(Skip::Blank)),
            "noise:django-warning"
            | "noise:python-warning"
            | "noise:error-with-traceback"
            | "noise:traceback-continuation" => Some(Seen::Skipped(Skip::NotTracking)),
            "noise:cms-course-published" => None, // checked below
            other => panic!("unknown manifest kind {other}"),
        };
        if m.kind != "noise:cms-course-published" {
            assert_eq!(got, expected.as_ref(), "{file}:{} ({})", m.line, m.kind);
        }
    }
    assert_eq!(events, 90);
    assert_eq!(
        seen.get(&40),
        Some(&Seen::Published("course-v1:MITx+6.002x+2013_Spring".into())),
        "dotted key kept whole"
    );
    assert_eq!(
        seen.get(&85),
        Some(&Seen::Published("course-v1:edX+DemoX+Demo_Course".into()))
    );
    assert_eq!(
        seen.len(),
        103,
        "every line but the split tail has exactly one item"
    );
}

#[test]
fn tutor_sample_matches_manifest() {
    check_sample("tutor-sample.log", LineFormat::Auto);
    check_sample("tutor-sample.log", LineFormat::Tutor);
}

#[test]
fn docker_copy_matches_manifest() {
    check_sample("tutor-sample.docker-json.log", LineFormat::Auto);
    check_sample("tutor-sample.docker-json.log", LineFormat::Docker);
}

#[test]
fn cri_copy_matches_manifest() {
    check_sample("tutor-sample.cri.log", LineFormat::Auto);
    check_sample("tutor-sample.cri.log", LineFormat::Cri);
}

#[test]
fn erb_tracking_log_ten_events_two_broken() {
    let Some(dir) = shared() else { return };
    let seen = outcomes(
        &dir.join("corpus/events/erb/tracking.log"),
        LineFormat::Auto,
    );
    let events = seen
        .values()
        .filter(|s| matches!(s, Seen::Event { .. }))
        .count();
    assert_eq!(events, 10);
    assert_eq!(seen.get(&3), Some(&Seen::Rejected(Reject::MalformedJson)));
    assert_eq!(seen.get(&11), Some(&Seen::Rejected(Reject::MalformedJson)));
    // Line 10 has `timestamp`, not `time`.
    assert!(matches!(seen.get(&10), Some(Seen::Event { .. })));
}

fn erb_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("corpus/events/erb"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_erb_json_event_parses() {
    let Some(dir) = shared() else { return };
    let files = erb_files(&dir);
    assert_eq!(files.len(), 81);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let e = parse_event(&text, None).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(!e.name.is_empty(), "{}", f.display());
    }
}

/// Snapshot of the normalized rows of every event in the Tutor sample (raw message left
/// out: it is the input). A reviewer sees here what changes in the data lake.
#[test]
fn normalized_rows_of_the_corpus() {
    let Some(dir) = shared() else { return };
    let buf = std::fs::read(dir.join("corpus/tracking/tutor-sample.log")).unwrap();
    let mut rows = Vec::new();
    LogParser::default().parse_all(&buf, &mut |item| {
        if let Item::Event { line, event, .. } = item {
            let mut row = serde_json::to_value(EventRow::from_event(&event)).unwrap();
            let obj = row.as_object_mut().unwrap();
            obj.remove("message");
            obj.retain(|_, v| !(v.is_null() || v.as_str() == Some("")));
            obj.insert("line".into(), line.into());
            rows.push(row);
        }
    });
    assert_eq!(rows.len(), 90);
    insta::assert_json_snapshot!("tutor_sample_rows", rows);
}

/// A row refilled event after event (as the ingester reuses its rows) equals the row made
/// fresh for each: every event of the Tutor sample and the 81 erb events, in order and
/// reversed, so each field is left over from events of other families.
#[test]
fn a_refilled_row_equals_a_fresh_one() {
    let Some(dir) = shared() else { return };
    let mut raws: Vec<String> = Vec::new();
    let buf = std::fs::read(dir.join("corpus/tracking/tutor-sample.log")).unwrap();
    LogParser::default().parse_all(&buf, &mut |item| {
        if let Item::Event { event, .. } = item {
            raws.push(event.raw.to_owned());
        }
    });
    for f in erb_files(&dir) {
        raws.push(std::fs::read_to_string(&f).unwrap());
    }
    assert_eq!(raws.len(), 90 + 81);
    let mut order: Vec<&String> = raws.iter().collect();
    order.extend(raws.iter().rev());
    let mut reused = EventRow::default();
    let mut families = std::collections::BTreeSet::new();
    for raw in order {
        let e = parse_event(raw, None).unwrap();
        families.insert(format!("{:?}", e.family));
        reused.set_from_event(&e);
        assert_eq!(reused, EventRow::from_event(&e), "{raw}");
    }
    assert!(families.len() >= 6, "{families:?}");
}

/// A JSON value as the strings it holds (a list flattened, `null` none).
fn json_strings(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::Null => vec![],
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a.iter().flat_map(json_strings).collect(),
        other => vec![other.to_string()],
    }
}

/// What a `problem_check` says was answered, read from its raw JSON independently of the
/// parser: (input, values) per input, in the order given.
fn answered(raw: &serde_json::Value) -> Vec<(String, Vec<String>)> {
    let payload = raw
        .get("event")
        .filter(|v| !v.is_null())
        .or(raw.get("data"));
    match payload {
        Some(serde_json::Value::String(form)) => {
            let mut out: Vec<(String, Vec<String>)> = Vec::new();
            for pair in form.split('&') {
                let (k, v) = pair.split_once('=').unwrap();
                let k = k.strip_prefix("input_").unwrap().replace("%5B%5D", "");
                let v = v.replace("%5B", "[").replace('+', " ");
                match out.iter_mut().find(|(i, _)| *i == k) {
                    Some((_, vs)) => vs.push(v),
                    None => out.push((k, vec![v])),
                }
            }
            out
        }
        Some(serde_json::Value::Object(p)) => {
            let empty = serde_json::Map::new();
            let answers = p
                .get("answers")
                .and_then(|a| a.as_object())
                .unwrap_or(&empty);
            let submission = p
                .get("submission")
                .and_then(|a| a.as_object())
                .unwrap_or(&empty);
            let mut keys: Vec<&String> = answers.keys().chain(submission.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .map(|k| {
                    let v = answers
                        .get(k)
                        .or_else(|| submission[k].get("answer"))
                        .map(json_strings)
                        .unwrap_or_default();
                    (k.clone(), v)
                })
                .collect()
        }
        _ => vec![],
    }
}

/// Every `problem_check` of the corpus (the event-routing-backends variants and the Tutor
/// sample's) comes out with every input and every value it holds, with its text and
/// correctness where the server said them.
#[test]
fn every_problem_check_variant_parses_into_its_answers_without_loss() {
    let Some(dir) = shared() else { return };
    let mut messages: Vec<(String, String)> = erb_files(&dir)
        .into_iter()
        .filter(|f| {
            f.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("problem_check")
        })
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            (f.file_name().unwrap().to_string_lossy().into_owned(), text)
        })
        .collect();
    assert_eq!(messages.len(), 13);
    let buf = std::fs::read(dir.join("corpus/tracking/tutor-sample.log")).unwrap();
    LogParser::default().parse_all(&buf, &mut |item| {
        if let Item::Event { line, event, .. } = item
            && event.name == "problem_check"
        {
            messages.push((format!("tutor-sample.log:{line}"), event.raw.to_owned()));
        }
    });
    let (mut with_answers, mut values, mut with_text) = (0, 0, 0);
    for (what, text) in &messages {
        let raw: serde_json::Value = serde_json::from_str(text).unwrap();
        let row = EventRow::from_event(&parse_event(text, None).unwrap());
        let mut expected = answered(&raw);
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        let mut got: Vec<(String, Vec<String>)> = row
            .answers
            .iter()
            .map(|a| (a.input.clone(), a.values.clone()))
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        // Percent-decoding is the parser's; the independent reading above only undoes
        // brackets and `+`, which is all these forms use.
        assert_eq!(got, expected, "{what}");
        with_answers += usize::from(!row.answers.is_empty());
        values += row.answers.iter().map(|a| a.values.len()).sum::<usize>();
        let server = raw
            .get("event_source")
            .or(raw.pointer("/context/event_source"))
            .and_then(|s| s.as_str())
            == Some("server");
        for a in &row.answers {
            if server {
                assert!(a.correct >= 0, "{what}: {} has no correctness", a.input);
                assert!(!a.text.is_empty(), "{what}: {} has no text", a.input);
                with_text += 1;
            } else {
                assert_eq!(a.correct, -1, "{what}");
            }
        }
    }
    // 13 variants plus the sample's copies; only the one without a payload has none.
    assert_eq!(messages.len(), 13 + 15);
    assert_eq!(
        with_answers,
        messages.len() - 2,
        "a payload-less variant and its copy"
    );
    assert!(values > 0 && with_text > 0);
    // The accented answers arrive intact.
    let french = messages
        .iter()
        .find(|(w, _)| w.contains("list_answers"))
        .map(|(_, t)| EventRow::from_event(&parse_event(t, None).unwrap()))
        .unwrap();
    assert!(french.answers.iter().any(|a| {
        a.text
            .iter()
            .any(|t| t == "Un emprunt à l'anglais ou anglicisme")
    }));
}
