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

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::{Event, PayloadForm};
use crate::lenient::{Obj, Text};

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
    let c = &e.check;
    from_server(&c.answers, &c.submission, &c.correct_map)
}

/// A server `problem_check`'s `answers`, `submission` and `correct_map`, read in the
/// message's one pass with the rest of the payload (what [`answers_of`] reads, without a
/// second pass over the message). A part that is not an object is empty, and a repeated
/// key keeps its last value, as in a JSON object read whole.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckParts<'a> {
    answers: BTreeMap<Key<'a>, Strings<'a>>,
    submission: BTreeMap<Key<'a>, Obj<Submitted<'a>>>,
    correct_map: BTreeMap<Key<'a>, Obj<Correctness<'a>>>,
}

/// The parts as the payload's fields read them: each an object, or anything else.
pub(crate) type Part<'a, V> = Obj<BTreeMap<Key<'a>, V>>;

impl<'a> CheckParts<'a> {
    /// The parts from the payload's fields.
    pub(crate) fn new(
        answers: Part<'a, Strings<'a>>,
        submission: Part<'a, Obj<Submitted<'a>>>,
        correct_map: Part<'a, Obj<Correctness<'a>>>,
    ) -> CheckParts<'a> {
        CheckParts {
            answers: answers.0.unwrap_or_default(),
            submission: submission.0.unwrap_or_default(),
            correct_map: correct_map.0.unwrap_or_default(),
        }
    }

    /// Whether no part names an input.
    pub fn is_empty(&self) -> bool {
        self.answers.is_empty() && self.submission.is_empty() && self.correct_map.is_empty()
    }
}

/// Owned copy of a borrowed text.
fn own(c: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(c.into_owned())
}

/// Owned copy of a part (for payloads decoded from a JSON string).
pub(crate) fn own_part<V, W>(part: Part<'_, V>, f: impl Fn(V) -> W) -> Part<'static, W> {
    Obj(part
        .0
        .map(|m| m.into_iter().map(|(k, v)| (Key(own(k.0)), f(v))).collect()))
}

impl Strings<'_> {
    /// Owned copy.
    pub(crate) fn into_owned(self) -> Strings<'static> {
        Strings(self.0.into_iter().map(own).collect())
    }
}

impl Submitted<'_> {
    /// Owned copy.
    pub(crate) fn into_owned(self) -> Submitted<'static> {
        Submitted {
            answer: self.answer.map(Strings::into_owned),
            correct: self.correct,
            input_type: self.input_type.map(own),
        }
    }
}

impl Correctness<'_> {
    /// Owned copy.
    pub(crate) fn into_owned(self) -> Correctness<'static> {
        Correctness(self.0.map(own))
    }
}

/// An object key, borrowed from the message unless it had escapes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Key(Text::deserialize(d)?.0.unwrap_or_default()))
    }
}

/// A JSON value as a list of strings: a string, the strings of a list (nested lists
/// flattened), any other value as its JSON text; `null` is none.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Strings<'a>(Vec<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Strings<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Strings<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Strings<'a>, E> {
                Ok(Strings(vec![Cow::Borrowed(v)]))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Strings<'a>, E> {
                Ok(Strings(vec![Cow::Owned(v.to_owned())]))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Strings<'a>, E> {
                Ok(Strings::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Strings<'a>, E> {
                Ok(Strings::default())
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Strings<'a>, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strings<'a>, A::Error> {
                let mut all = Vec::new();
                while let Some(Strings(s)) = seq.next_element()? {
                    all.extend(s);
                }
                Ok(Strings(all))
            }
            // Numbers, bools and objects: their JSON text, as serde_json writes it.
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Strings<'a>, E> {
                Ok(Strings(vec![Cow::Owned(Value::from(v).to_string())]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Strings<'a>, E> {
                Ok(Strings(vec![Cow::Owned(Value::from(v).to_string())]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Strings<'a>, E> {
                Ok(Strings(vec![Cow::Owned(Value::from(v).to_string())]))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Strings<'a>, E> {
                Ok(Strings(vec![Cow::Owned(Value::from(v).to_string())]))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Strings<'a>, A::Error> {
                let v = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Strings(vec![Cow::Owned(v.to_string())]))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
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

/// A value as the submission's fields need it: a bool or a string kept, anything else
/// skipped.
enum Scalar<'a> {
    Bool(bool),
    Str(Cow<'a, str>),
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'a>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'a>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// One input's `submission` entry (an object): what the learner saw, whether it was
/// right (a JSON bool), the input type (a JSON string). A repeated key's last value wins,
/// as in a JSON object read whole.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Submitted<'a> {
    answer: Option<Strings<'a>>,
    correct: Option<bool>,
    input_type: Option<Cow<'a, str>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Submitted<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Submitted<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Submitted<'a>, A::Error> {
                let mut s = Submitted::default();
                while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                    match k.as_ref() {
                        "answer" => s.answer = Some(map.next_value()?),
                        "correct" => {
                            s.correct = match map.next_value()? {
                                Scalar::Bool(b) => Some(b),
                                _ => None,
                            }
                        }
                        "input_type" => {
                            s.input_type = match map.next_value()? {
                                Scalar::Str(t) => Some(t),
                                _ => None,
                            }
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(s)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// One input's `correct_map` entry (an object): its `correctness`, when a string.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Correctness<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Correctness<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Correctness<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut c = Correctness::default();
                while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                    if k == "correctness" {
                        c.0 = match map.next_value()? {
                            Scalar::Str(t) => Some(t),
                            _ => None,
                        };
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(c)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// One input's answer: correct when `correct_map` says `correct`, not when it says
/// anything else, else as the submission's `correct` flag says (-1 when neither does).
fn answer(
    input: &str,
    values: Vec<String>,
    text: Vec<String>,
    correctness: Option<&str>,
    flag: Option<bool>,
    input_type: Option<&str>,
) -> Answer {
    let correct = match (correctness, flag) {
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
        input_type: input_type.unwrap_or("").to_owned(),
    }
}

fn from_server(
    raw: &BTreeMap<Key<'_>, Strings<'_>>,
    submission: &BTreeMap<Key<'_>, Obj<Submitted<'_>>>,
    correct_map: &BTreeMap<Key<'_>, Obj<Correctness<'_>>>,
) -> Vec<Answer> {
    let owned = |s: &[Cow<'_, str>]| s.iter().map(|v| v.to_string()).collect::<Vec<_>>();
    let mut inputs: Vec<&str> = raw.keys().chain(submission.keys()).map(|k| &*k.0).collect();
    inputs.sort_unstable();
    inputs.dedup();
    let answers = inputs
        .into_iter()
        .map(|input| {
            let key = Key(Cow::Borrowed(input));
            let sub = submission.get(&key).and_then(|s| s.0.as_ref());
            let text = sub
                .and_then(|s| s.answer.as_ref())
                .map_or_else(Vec::new, |a| owned(&a.0));
            let values = match raw.get(&key) {
                Some(v) => owned(&v.0),
                // `answers: {}` with the answer only in `submission` (a quirk of real logs).
                None => text.clone(),
            };
            let correctness = correct_map
                .get(&key)
                .and_then(|c| c.0.as_ref())
                .and_then(|c| c.0.as_deref());
            answer(
                input,
                values,
                text,
                correctness,
                sub.and_then(|s| s.correct),
                sub.and_then(|s| s.input_type.as_deref()),
            )
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
    use proptest::prelude::*;

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
    fn a_server_checks_parts_are_read_with_the_payload_borrowing_the_message() {
        let msg = r#"{"name": "problem_check", "event_source": "server", "time": "2024-01-02T10:00:00Z",
            "event": {"answers": {"p_2_1": "choice_1"}, "state": {"big": [1, 2, 3]}, "correct_map": null}}"#;
        let e = parse_event(msg, None).unwrap();
        let (key, values) = e.check.answers.iter().next().expect("one input");
        assert!(matches!(key.0, Cow::Borrowed("p_2_1")));
        assert!(matches!(values.0[..], [Cow::Borrowed("choice_1")]));
        assert!(e.check.submission.is_empty() && e.check.correct_map.is_empty());
        // Encoded in a string, they are decoded (owned).
        let enc = r#"{"name": "problem_check", "time": "2024-01-02T10:00:00Z",
            "event": "{\"answers\": {\"p_2_1\": \"x\"}}"}"#;
        let e = parse_event(enc, None).unwrap();
        assert_eq!(e.payload_form, PayloadForm::EncodedObject);
        assert!(matches!(e.check.answers.keys().next(), Some(Key(Cow::Owned(k))) if k == "p_2_1"));
        assert_eq!(answers_of(&e)[0].values, ["x"]);
        // Parts that are not objects are empty; the rest of the payload is kept.
        let odd = r#"{"name": "problem_check", "time": "2024-01-02T10:00:00Z",
            "event": {"answers": [1], "submission": "x", "correct_map": 3, "problem_id": "p"}}"#;
        let e = parse_event(odd, None).unwrap();
        assert!(e.check.is_empty());
        assert!(
            matches!(&e.payload, crate::Payload::Problem { problem_id, .. } if problem_id == "p")
        );
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

    /// The reading through `serde_json::Value` that the typed one replaced: the reference
    /// the property below compares with.
    fn reference(answers: &str, submission: &str, correct_map: &str) -> Vec<Answer> {
        use serde_json::Map;
        fn strings(v: &Value) -> Vec<String> {
            match v {
                Value::Null => Vec::new(),
                Value::String(s) => vec![s.clone()],
                Value::Array(items) => items.iter().flat_map(strings).collect(),
                other => vec![other.to_string()],
            }
        }
        let object =
            |raw: &str| serde_json::from_str::<Map<String, Value>>(raw).unwrap_or_default();
        let (raw, submission, correct_map) =
            (object(answers), object(submission), object(correct_map));
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
                    None => text.clone(),
                };
                let correctness = correct_map
                    .get(input)
                    .and_then(|c| c.get("correctness"))
                    .and_then(Value::as_str);
                answer(
                    input,
                    values,
                    text,
                    correctness,
                    field("correct").and_then(Value::as_bool),
                    field("input_type").and_then(Value::as_str),
                )
            })
            .collect();
        sorted(answers)
    }

    fn server_check(answers: &str, submission: &str, correct_map: &str) -> Vec<Answer> {
        let msg = format!(
            r#"{{"name": "problem_check", "event_source": "server", "time": "2024-01-02T10:00:00Z",
               "event": {{"answers": {answers}, "submission": {submission}, "correct_map": {correct_map}}}}}"#
        );
        of(&msg)
    }

    /// The same check with its payload encoded in a JSON string (browser-style), so the
    /// parts are read from the decoded text and owned.
    fn server_check_encoded(answers: &str, submission: &str, correct_map: &str) -> Vec<Answer> {
        let payload = format!(
            r#"{{"answers": {answers}, "submission": {submission}, "correct_map": {correct_map}}}"#
        );
        let msg = format!(
            r#"{{"name": "problem_check", "event_source": "server", "time": "2024-01-02T10:00:00Z", "event": {}}}"#,
            Value::from(payload)
        );
        of(&msg)
    }

    #[test]
    fn repeated_keys_keep_their_last_value_as_before() {
        let (a, s, c) = (
            r#"{"p_2_1": "x", "p_2_1": ["y", "z"]}"#,
            r#"{"p_2_1": {"correct": true, "correct": "no", "input_type": "a", "input_type": 3}}"#,
            r#"{"p_2_1": {"correctness": "correct"}, "p_2_1": 7}"#,
        );
        assert_eq!(server_check(a, s, c), reference(a, s, c));
        assert_eq!(server_check(a, s, c)[0].values, ["y", "z"]);
    }

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e9f64..1e9).prop_map(Value::from),
            prop_oneof![Just(3.0), Just(1e-7), Just(2.5e20)].prop_map(Value::from),
            "[a-c_0-9\"\\\\é \n]{0,6}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map(
                    "(p_[0-9]{1,2}_1|answer|correct|input_type|correctness|x\"y)",
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A part: mostly an object of inputs, each mostly an object of the fields read.
    fn part() -> impl Strategy<Value = Value> {
        let entry = prop_oneof![
            1 => json(),
            3 => proptest::collection::btree_map(
                "(answer|correct|input_type|correctness|other)",
                prop_oneof![Just(Value::from("correct")), any::<bool>().prop_map(Value::from), json()],
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ];
        prop_oneof![
            1 => json(),
            4 => proptest::collection::btree_map("p_[0-9]{1,2}_[0-9]", entry, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    }

    proptest::proptest! {
        #[test]
        fn typed_reading_equals_reading_through_values(a in part(), s in part(), c in part()) {
            let (a, s, c) = (a.to_string(), s.to_string(), c.to_string());
            proptest::prop_assert_eq!(server_check(&a, &s, &c), reference(&a, &s, &c));
            proptest::prop_assert_eq!(server_check_encoded(&a, &s, &c), reference(&a, &s, &c));
        }
    }
}
