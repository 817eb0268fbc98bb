//! Scrubbing a retired learner's personal data out of normalized rows and their raw
//! messages (learner retirement, GDPR).
//!
//! Two cases:
//! - **The learner's own events** ([`scrub_own`]): the identity columns (`username`,
//!   `session`, `ip`, `agent`, `referer`) are emptied, `user_id` becomes a pseudonym, and the
//!   raw message is rewritten: personal keys ([`PERSONAL_KEYS`]) and free text
//!   ([`FREE_TEXT_KEYS`]) emptied wherever they are nested (JSON encoded in a string
//!   included), `user_id` values replaced by the pseudonym,
//!   and in every other string the row's own username, IP, agent and session, and any
//!   e-mail address or IPv4 address, removed. The result depends only on the row and the
//!   pseudonym, so the same event scrubbed twice (a late copy of a retired learner's line)
//!   is the same row.
//! - **Other learners' events that mention the learner** ([`scrub_mentions`]): only the
//!   given names (username, e-mail) are removed, where they stand as whole words.
//!
//! ```
//! use cairn_events::{EventRow, Family};
//! use cairn_events::scrub::scrub_own;
//!
//! let msg = r#"{"username": "ada", "ip": "10.1.2.3", "context": {"user_id": 6, "path": "/u/ada"}, "event": "{\"email\": \"ada@example.org\"}"}"#;
//! let mut row = EventRow::for_message(msg);
//! row.user_id = Some(6);
//! row.username = "ada".into();
//! row.ip = "10.1.2.3".into();
//! scrub_own(&mut row, 9_000_000_000_000_000_001);
//! assert_eq!(row.user_id, Some(9_000_000_000_000_000_001));
//! assert_eq!(row.username, "");
//! assert!(!row.message.contains("ada") && !row.message.contains("10.1.2.3"));
//! assert!(row.message.contains("9000000000000000001"));
//! ```

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::EventRow;

/// Keys whose values are personal wherever they are nested in a learner's own event.
pub const PERSONAL_KEYS: &[&str] = &[
    "username",
    "email",
    "ip",
    "agent",
    "session",
    "referer",
    "full_name",
    "name_on_certificate",
];

/// Keys of free text a learner typed (answers, forum posts, searches), which may name
/// anyone: emptied in their own events.
pub const FREE_TEXT_KEYS: &[&str] = &[
    "answers",
    "submission",
    "student_answer",
    "response",
    "body",
    "title",
    "search_string",
];

/// Events whose `old`/`new` values are the learner's own settings (name, e-mail, …).
const SETTINGS_EVENTS: &[&str] = &["edx.user.settings.changed", "edx.user.settings.viewed"];

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
        .expect("the e-mail pattern compiles")
});

static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:\d{1,3}\.){3}\d{1,3}\b").expect("the IPv4 pattern compiles")
});

fn word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '@' | '+')
}

/// `text` without the whole-word occurrences of `needle` (an occurrence inside a longer
/// word, e.g. `ada` in `adam`, stays), an @-mention (`@ada` where the `@` starts a word,
/// as in a forum post) included. Empty needles remove nothing.
pub fn remove_word(text: &str, needle: &str) -> String {
    if needle.is_empty() || !text.contains(needle) {
        return text.to_owned();
    }
    let starts_word = needle.chars().next().is_some_and(word_char);
    let ends_word = needle.chars().next_back().is_some_and(word_char);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(needle) {
        // The two characters before the occurrence, in `out` too when `rest` has fewer.
        let mut back = rest[..at].chars().rev().chain(out.chars().rev());
        let (before, before_that) = (back.next(), back.next());
        let mention = before == Some('@') && !before_that.is_some_and(word_char);
        let after = rest[at + needle.len()..].chars().next();
        let inside_a_word = (starts_word && before.is_some_and(word_char) && !mention)
            || (ends_word && after.is_some_and(word_char));
        out.push_str(&rest[..at]);
        if inside_a_word {
            out.push_str(needle);
        }
        rest = &rest[at + needle.len()..];
    }
    out.push_str(rest);
    out
}

/// What to remove from the strings of one event.
struct Scrubber<'a> {
    /// Whole words to remove from every string.
    names: &'a [String],
    /// The learner's own event: personal keys, e-mails, IPs and user ids too.
    own: Option<Own>,
}

#[derive(Clone, Copy)]
struct Own {
    user_id: Option<u64>,
    pseudonym: u64,
    settings: bool,
}

impl Scrubber<'_> {
    fn text(&self, s: &str) -> String {
        let mut out = s.to_owned();
        for n in self.names {
            out = remove_word(&out, n);
        }
        if self.own.is_some() {
            out = EMAIL.replace_all(&out, "").into_owned();
            out = IPV4.replace_all(&out, "").into_owned();
        }
        out
    }

    fn string(&self, s: &str) -> Value {
        let t = s.trim_start();
        if (t.starts_with('{') || t.starts_with('['))
            && let Ok(mut inner) = serde_json::from_str::<Value>(s)
        {
            self.value(&mut inner);
            return Value::String(inner.to_string());
        }
        Value::String(self.text(s))
    }

    fn value(&self, v: &mut Value) {
        match v {
            Value::String(s) => *v = self.string(s),
            Value::Array(items) => items.iter_mut().for_each(|i| self.value(i)),
            Value::Object(map) => {
                for (k, item) in map.iter_mut() {
                    match self.own {
                        Some(_) if PERSONAL_KEYS.contains(&k.as_str()) => {
                            *item = Value::String(String::new());
                        }
                        Some(_) if FREE_TEXT_KEYS.contains(&k.as_str()) => {
                            *item = match item {
                                Value::String(_) => Value::String(String::new()),
                                _ => Value::Null,
                            };
                        }
                        Some(own) if own.settings && (k == "old" || k == "new") => {
                            *item = Value::Null;
                        }
                        Some(own) if k == "user_id" => self.user_id(item, own),
                        _ => self.value(item),
                    }
                }
            }
            _ => {}
        }
    }

    fn user_id(&self, v: &mut Value, own: Own) {
        let Some(id) = own.user_id else { return };
        match v {
            Value::Number(n) if n.as_u64() == Some(id) => *v = Value::from(own.pseudonym),
            Value::String(s) if s.trim() == id.to_string() => {
                *v = Value::String(own.pseudonym.to_string())
            }
            _ => self.value(v),
        }
    }

    fn message(&self, msg: &str) -> String {
        match serde_json::from_str::<Value>(msg) {
            Ok(mut v) => {
                self.value(&mut v);
                v.to_string()
            }
            Err(_) => self.text(msg),
        }
    }

    /// The string columns that are not identity columns (they may carry a name in a URL).
    fn columns(&self, row: &mut EventRow) {
        for col in [
            &mut row.page,
            &mut row.path,
            &mut row.host,
            &mut row.target,
            &mut row.item_id,
            &mut row.accept_language,
        ] {
            *col = self.text(col);
        }
        for a in &mut row.answers {
            for v in a.values.iter_mut().chain(a.text.iter_mut()) {
                *v = self.text(v);
            }
        }
    }
}

/// Scrubs one of a retired learner's own events: identity columns emptied, `user_id` set to
/// `pseudonym`, the raw message rewritten without personal data (see the module's doc).
pub fn scrub_own(row: &mut EventRow, pseudonym: u64) {
    let mut names: Vec<String> = [&row.username, &row.ip, &row.agent, &row.session]
        .into_iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let s = Scrubber {
        names: &names,
        own: Some(Own {
            user_id: row.user_id,
            pseudonym,
            settings: SETTINGS_EVENTS.contains(&row.name.as_str()),
        }),
    };
    row.message = s.message(&row.message);
    s.columns(row);
    row.user_id = Some(pseudonym);
    // Answers are free text the learner typed: emptied, as in the message.
    row.answers.clear();
    for col in [
        &mut row.username,
        &mut row.session,
        &mut row.ip,
        &mut row.agent,
        &mut row.referer,
    ] {
        col.clear();
    }
}

fn longest_first(names: &[String]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().filter(|n| !n.is_empty()).cloned().collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    names
}

/// `text` (JSON, in which case it is rewritten value by value, JSON in strings included;
/// or plain text) without the whole-word `names`. Text that names none of them is returned
/// as it is.
pub fn without_names(text: &str, names: &[String]) -> String {
    let names = longest_first(names);
    if !mentions(text, &names) {
        return text.to_owned();
    }
    Scrubber {
        names: &names,
        own: None,
    }
    .message(text)
}

/// Removes the whole-word `names` (a retired learner's username and e-mail addresses) from
/// another learner's event, in its raw message and string columns. Returns whether anything
/// changed.
pub fn scrub_mentions(row: &mut EventRow, names: &[String]) -> bool {
    let names = longest_first(names);
    let s = Scrubber {
        names: &names,
        own: None,
    };
    let before = row.clone();
    row.message = without_names(&row.message, &names);
    s.columns(row);
    for col in [&mut row.referer, &mut row.username] {
        *col = s.text(col);
    }
    *row != before
}

/// Whether `text` has a whole-word occurrence of one of `names`.
pub fn mentions(text: &str, names: &[String]) -> bool {
    names
        .iter()
        .any(|n| !n.is_empty() && remove_word(text, n).len() != text.len())
}

/// The learner's own e-mail addresses in one of their events' raw message: the values of
/// `email` keys, and of `old`/`new` (a settings change), that are an address, wherever
/// nested (JSON in strings too). Addresses in free text are not taken: they may be anyone's.
pub fn own_emails(message: &str) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, item) in map {
                    match item {
                        Value::String(s) if matches!(k.as_str(), "email" | "old" | "new") => {
                            let s = s.trim();
                            if EMAIL.find(s).is_some_and(|m| m.len() == s.len()) {
                                out.push(s.to_owned());
                            }
                        }
                        _ => walk(item, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Value::String(s) if s.trim_start().starts_with('{') => {
                if let Ok(inner) = serde_json::from_str::<Value>(s) {
                    walk(&inner, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(v) = serde_json::from_str::<Value>(message) {
        walk(&v, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own_row(msg: &str) -> EventRow {
        let mut r = EventRow::for_message(msg);
        r.user_id = Some(42);
        r.username = "alice_b".into();
        r.ip = "203.0.113.9".into();
        r.agent = "RetireMe/1.0 (X11)".into();
        r.session = "s3ss10n".into();
        r.referer = "https://lms.example/u/alice_b".into();
        r.page = "https://lms.example/u/alice_b?x=1".into();
        r
    }

    #[test]
    fn whole_words_only() {
        assert_eq!(remove_word("/u/ada?x", "ada"), "/u/?x");
        assert_eq!(remove_word("adam ada", "ada"), "adam ");
        assert_eq!(remove_word("ada.b", "ada"), "ada.b");
        assert_eq!(remove_word("ada,ada", "ada"), ",");
        assert_eq!(remove_word("x", ""), "x");
        assert_eq!(remove_word("1.2.3.45 1.2.3.4", "1.2.3.4"), "1.2.3.45 ");
        // An @-mention is the name; an address's domain is not.
        assert_eq!(remove_word("@ada hi, @ada", "ada"), "@ hi, @");
        assert_eq!(remove_word("x@ada", "ada"), "x@ada");
        assert_eq!(remove_word("x@@ada", "ada"), "x@@ada");
        assert!(mentions("thanks @ada_l", &["ada_l".to_owned()]));
    }

    #[test]
    fn own_events_lose_every_identity_nested_or_encoded() {
        let msg = r#"{"username":"alice_b","ip":"203.0.113.9","agent":"RetireMe/1.0 (X11)","session":"s3ss10n","referer":"https://lms.example/u/alice_b","name":"problem_check","context":{"user_id":42,"username":"alice_b","path":"/u/alice_b","course_id":"course-v1:A+B+C"},"event":"{\"answers\": {\"q\": \"mail me at alice@example.org from 203.0.113.9\"}, \"user_id\": \"42\"}"}"#;
        let mut r = own_row(msg);
        scrub_own(&mut r, 1 << 63 | 7);
        for needle in [
            "alice",
            "203.0.113.9",
            "RetireMe",
            "s3ss10n",
            "example.org",
            "\"42\"",
            ":42",
        ] {
            assert!(!r.message.contains(needle), "{needle} in {}", r.message);
        }
        assert!(r.message.contains("course-v1:A+B+C"));
        assert!(r.message.contains(&(1u64 << 63 | 7).to_string()));
        assert_eq!(r.page, "https://lms.example/u/?x=1");
        assert_eq!(
            (r.username.as_str(), r.ip.as_str(), r.agent.as_str()),
            ("", "", "")
        );
        assert_eq!(r.user_id, Some(1 << 63 | 7));
        // Deterministic: a late copy of the same line scrubs to the same row.
        let mut again = own_row(msg);
        scrub_own(&mut again, 1 << 63 | 7);
        assert_eq!(r, again);
    }

    #[test]
    fn settings_changes_lose_their_values() {
        let msg = r#"{"name":"edx.user.settings.changed","event":{"setting":"name","old":"Alice B","new":"Alice C"}}"#;
        let mut r = own_row(msg);
        r.name = "edx.user.settings.changed".into();
        scrub_own(&mut r, 5);
        assert!(!r.message.contains("Alice"), "{}", r.message);
    }

    #[test]
    fn a_message_that_is_not_json_is_scrubbed_as_text() {
        let mut r = own_row("not json alice_b alice@example.org");
        scrub_own(&mut r, 5);
        assert_eq!(r.message, "not json  ");
    }

    #[test]
    fn mentions_by_others_lose_only_the_names() {
        let msg = r#"{"username":"staff1","ip":"198.51.100.1","event":{"student":"alice_b","note":"see alice@example.org"}}"#;
        let mut r = EventRow::for_message(msg);
        r.username = "staff1".into();
        r.ip = "198.51.100.1".into();
        let names = vec!["alice_b".to_owned(), "alice@example.org".to_owned()];
        assert!(mentions(&r.message, &names));
        assert!(scrub_mentions(&mut r, &names));
        assert!(!r.message.contains("alice"), "{}", r.message);
        assert!(r.message.contains("staff1") && r.message.contains("198.51.100.1"));
        assert_eq!(r.ip, "198.51.100.1");
        // Nothing to remove: unchanged, message kept byte for byte.
        let mut other = EventRow::for_message(r#"{"b": 1,  "a": "alice_bb"}"#);
        assert!(!scrub_mentions(&mut other, &names));
        assert_eq!(other.message, r#"{"b": 1,  "a": "alice_bb"}"#);
    }

    #[test]
    fn own_emails_are_their_email_fields_not_free_text() {
        let msg = r#"{"email":"a.b+c@mail.example.co.uk","event":"{\"setting\":\"email\",\"old\":\"x@example.org\",\"new\":\"y@example.org\"}","answers":{"q":"write to teacher@example.org"}}"#;
        let mut found = own_emails(msg);
        found.sort();
        assert_eq!(
            found,
            ["a.b+c@mail.example.co.uk", "x@example.org", "y@example.org"]
        );
        assert!(own_emails("not json a@example.org").is_empty());
    }
}
