//! The answers of a `problem_check` submission, one per input of the problem.
//!
//! Real logs carry them in two shapes (the corpus has both):
//! - **server** `problem_check`: `answers` (the raw values per input: a choice id such as
//!   `choice_2`, a list of them for a checkbox group, or the text typed), `submission` (per
//!   input, what the learner saw: `answer` as text, `correct`, `input_type`,
//!   `response_type`, `question`), and `correct_map` (per input, `correctness`). Any of
//!   them may be missing or empty (`answers: {}` with the text only in `submission`), and
//!   `state.student_answers` is the state *before* this submission, so it is not read;
//! - **browser** `problem_check`: a url-encoded form, `input_<id>_2_1%5B%5D=choice_0&…`
//!   (repeated for every value of a list), with no correctness.
//!
//! The raw message stays the source of truth: these are derived from it, and every input
//! that `answers` or `submission` names comes out with every value it had.
//!
//! ```
//! use cairn_events::{answers::answers_of, parse_event};
//!
//! let msg = r#"{"name": "problem_check", "event_source": "server", "time": "2024-01-02T10:00:00+00:00",
//!   "event": {"problem_id": "block-v1:o+c+r+type@problem+block@p1", "answers": {"p1_2_1": ["choice_0", "choice_2"], "p1_3_1": "blue"},
//!             "correct_map": {"p1_2_1": {"correctness": "incorrect"}, "p1_3_1": {"correctness": "correct"}},
//!             "submission": {"p1_2_1": {"answer": ["a piano", "a tree"], "input_type": "checkboxgroup", "correct": false},
//!                            "p1_3_1": {"answer": "blue", "input_type": "optioninput", "correct": true}}}}"#;
//! let a = answers_of(&parse_event(msg, None).unwrap());
//! assert_eq!(a.len(), 2);
//! assert_eq!(a[0].input, "p1_2_1");
//! assert_eq!(a[0].values, ["choice_0", "choice_2"]);
//! assert_eq!(a[0].text, ["a piano", "a tree"]);
//! assert_eq!((a[0].correct, a[1].correct), (0, 1));
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::{Event, PayloadForm};

/// One input's answer in one submission.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The input's response key (`<problem block id>_2_1`).
    pub input: String,
    /// The values submitted: choice ids (`choice_0`) or the text typed; several for a
    /// checkbox group, none for an input left empty.
    pub values: Vec<String>,
    /// What the learner saw for them (the choices' text, from `submission`); empty when
    /// the event does not say (browser events).
    pub text: Vec<String>,
    /// 1 correct, 0 not (incorrect or partially correct), -1 unknown (browser events).
    pub correct: i8,
    /// The input type (`choicegroup`, `checkboxgroup`, `optioninput`, `textline`, …;
    /// `""` when the event does not say).
    pub input_type: String,
}

/// Whether an event is a problem submission whose answers [`answers_of`] reads.
pub fn is_submission(e: &Event<'_>) -> bool {
    e.name == "problem_check"
}

/// The answers of a `problem_check` event, in input order (`_2_1` before `_10_1`); empty
/// for any other event or a submission without answers.
pub fn answers_of(e: &Event<'_>) -> Vec<Answer> {
    if !is_submission(e) {
        return Vec::new();
    }
    if let Some(form) = &e.form {
        return from_form(form);
    }
    if !matches!(
        e.payload_form,
        PayloadForm::Object | PayloadForm::EncodedObject | PayloadForm::DoubleEncoded
    ) {
        return Vec::new();
    }
    let object = |part: &Option<std::borrow::Cow<'_, str>>| {
        part.as_deref()
            .and_then(|raw| serde_json::from_str::<serde_json::Map<String, Value>>(raw).ok())
            .unwrap_or_default()
    };
    let c = &e.check;
    from_server(
        &object(&c.answers),
        &object(&c.submission),
        &object(&c.correct_map),
    )
}

/// A JSON value as a list of strings (a string, a list of them, a number …; `null` is none).
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Null => Vec::new(),
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        other => vec![other.to_string()],
    }
}

/// Sort key of a response key: its text with every run of digits compared as a number.
fn input_order(key: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut chars = key.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            let mut n = u64::from(c.to_digit(10).unwrap_or(0));
            while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                n = n.saturating_mul(10).saturating_add(u64::from(d));
                chars.next();
            }
            out.push((std::mem::take(&mut text), n));
        } else {
            text.push(c);
        }
    }
    out.push((text, 0));
    out
}

fn sorted(mut answers: Vec<Answer>) -> Vec<Answer> {
    answers.sort_by_cached_key(|a| input_order(&a.input));
    answers
}

fn from_server(
    raw: &serde_json::Map<String, Value>,
    submission: &serde_json::Map<String, Value>,
    correct_map: &serde_json::Map<String, Value>,
) -> Vec<Answer> {
    let mut inputs: BTreeMap<&str, ()> = BTreeMap::new();
    inputs.extend(raw.keys().map(|k| (k.as_str(), ())));
    inputs.extend(submission.keys().map(|k| (k.as_str(), ())));
    let answers = inputs
        .into_keys()
        .map(|input| {
            let sub = submission.get(input).and_then(Value::as_object);
            let field = |k: &str| sub.and_then(|s| s.get(k));
            let text = field("answer").map(strings).unwrap_or_default();
            let values = match raw.get(input) {
                Some(v) => strings(v),
                // `answers: {}` with the answer only in `submission` (a quirk of real logs).
                None => text.clone(),
            };
            let correctness = correct_map
                .get(input)
                .and_then(|c| c.get("correctness"))
                .and_then(Value::as_str);
            let correct = match (correctness, field("correct").and_then(Value::as_bool)) {
                (Some("correct"), _) => 1,
                (Some(_), _) => 0,
                (None, Some(true)) => 1,
                (None, Some(false)) => 0,
                (None, None) => -1,
            };
            Answer {
                input: input.to_owned(),
                values,
                text,
                correct,
                input_type: field("input_type")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            }
        })
        .collect();
    sorted(answers)
}

/// A browser form: `input_<key>` or `input_<key>[]` (percent-encoded) per value.
fn from_form(form: &str) -> Vec<Answer> {
    let mut answers: Vec<Answer> = Vec::new();
    for (name, value) in form_urlencoded::parse(form.as_bytes()) {
        let Some(key) = name.strip_prefix("input_") else {
            continue;
        };
        let key = key.strip_suffix("[]").unwrap_or(key);
        let at = match answers.iter().position(|a| a.input == key) {
            Some(i) => i,
            None => {
                answers.push(Answer {
                    input: key.to_owned(),
                    correct: -1,
                    ..Answer::default()
                });
                answers.len() - 1
            }
        };
        answers[at].values.push(value.into_owned());
    }
    sorted(answers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_event;

    fn of(msg: &str) -> Vec<Answer> {
        answers_of(&parse_event(msg, None).expect("parses"))
    }

    #[test]
    fn browser_forms_group_repeated_values_per_input() {
        let msg = r#"{"name": "problem_check", "event_source": "browser", "time": "2024-01-02T10:00:00Z",
            "event": "input_abc_2_1%5B%5D=choice_0&input_abc_2_1%5B%5D=choice_2&input_abc_10_1=caf%C3%A9+au+lait&input_abc_3_1=x%3Dy%26z"}"#;
        let a = of(msg);
        let got: Vec<(&str, Vec<&str>, i8)> = a
            .iter()
            .map(|a| {
                (
                    a.input.as_str(),
                    a.values.iter().map(String::as_str).collect(),
                    a.correct,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("abc_2_1", vec!["choice_0", "choice_2"], -1),
                ("abc_3_1", vec!["x=y&z"], -1),
                ("abc_10_1", vec!["café au lait"], -1),
            ]
        );
    }

    #[test]
    fn server_answers_fall_back_to_the_submission_and_its_correct_flag() {
        let msg = r#"{"name": "problem_check", "event_source": "server", "time": "2024-01-02T10:00:00Z",
            "event": {"answers": {}, "submission": {"p_2_1": {"answer": "A correct answer", "correct": false, "input_type": "textline"}}}}"#;
        assert_eq!(
            of(msg),
            vec![Answer {
                input: "p_2_1".into(),
                values: vec!["A correct answer".into()],
                text: vec!["A correct answer".into()],
                correct: 0,
                input_type: "textline".into(),
            }]
        );
    }

    #[test]
    fn encoded_payloads_and_odd_values_are_read() {
        let msg = r#"{"name": "problem_check", "event_source": "server", "time": "2024-01-02T10:00:00Z",
            "event": "{\"answers\": {\"p_2_1\": 3.5, \"p_3_1\": null}, \"correct_map\": {\"p_2_1\": {\"correctness\": \"partially-correct\"}}}"}"#;
        let a = of(msg);
        assert_eq!(a.len(), 2);
        assert_eq!((a[0].values.clone(), a[0].correct), (vec!["3.5".into()], 0));
        assert_eq!((a[1].values.len(), a[1].correct), (0, -1));
    }

    #[test]
    fn other_events_and_empty_payloads_have_no_answers() {
        for msg in [
            r#"{"name": "problem_check", "time": "2024-01-02T10:00:00Z"}"#,
            r#"{"name": "problem_check", "time": "2024-01-02T10:00:00Z", "event": "not a form"}"#,
            r#"{"name": "problem_check", "time": "2024-01-02T10:00:00Z", "event": [1, 2]}"#,
            r#"{"name": "problem_graded", "time": "2024-01-02T10:00:00Z", "event": {"answers": {"p_2_1": "x"}}}"#,
        ] {
            assert_eq!(of(msg), Vec::new(), "{msg}");
        }
    }
}
