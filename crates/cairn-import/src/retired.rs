//! The learners Cairn has retired or is retiring (`_retirements`, written by `cairn
//! retire` before and after it changes anything) and what ingestion does with their late
//! events (a backfill of old logs after the retirement):
//! scrubbed under the learner's pseudonym, or dropped, as the learner was retired; never
//! stored with personal data.
//!
//! ```
//! use cairn_import::retired::pseudonym;
//! let p = pseudonym("secret", 42);
//! assert!(p >= 1 << 63, "never an LMS user id");
//! assert_eq!(p, pseudonym("secret", 42));
//! assert_ne!(p, pseudonym("other secret", 42));
//! ```

use std::collections::HashMap;
use std::hash::Hasher;

use cairn_core::ClickHouse;
use cairn_core::config::RetirementMode;
use cairn_core::sql::quote_ident;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::ingest::store::Located;

/// A retired learner's pseudonym: from the secret key and the user id, the same on every
/// run (so counts of distinct learners stay right), with the top bit set (never an LMS id).
/// Without the key it cannot be traced back to the user id.
pub fn pseudonym(key: &str, user_id: u64) -> u64 {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"cairn retired learner ");
    mac.update(user_id.to_string().as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) | 1 << 63
}

/// The keys of [`name_hash`], derived from the retirement key.
fn name_keys(key: &str) -> (u64, u64) {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"cairn retired names");
    let d = mac.finalize().into_bytes();
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    let (a, b) = k.split_at(8);
    (
        u64::from_le_bytes(a.try_into().unwrap_or_default()),
        u64::from_le_bytes(b.try_into().unwrap_or_default()),
    )
}

/// Keyed hashes of retired learners' names (usernames, e-mail addresses), as
/// `_retirements` keeps them: the ingester recognizes the names in late events (their own
/// without a user id, or another learner's naming them) without holding the names.
#[derive(Debug, Clone, Copy)]
pub struct NameHasher {
    k0: u64,
    k1: u64,
}

impl NameHasher {
    /// The hasher of the retirement key.
    pub fn new(key: &str) -> NameHasher {
        let (k0, k1) = name_keys(key);
        NameHasher { k0, k1 }
    }

    /// The hash of one name.
    pub fn hash(&self, name: &str) -> u64 {
        let mut h = siphasher::sip::SipHasher13::new_with_keys(self.k0, self.k1);
        h.write(name.as_bytes());
        h.finish()
    }
}

fn word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@' | b'+') || b >= 0x80
}

/// The words of `text`: maximal runs of the characters of usernames and e-mail addresses
/// (ASCII letters, digits, `_-.@+`, and any non-ASCII character), and of a run that starts
/// with `@` (an @-mention, as in a forum post) the run without its leading `@`s too.
/// Scanned byte by byte: a run ends only at an ASCII byte, so every word is whole UTF-8.
pub fn words(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut mention: Option<&str> = None;
    std::iter::from_fn(move || {
        if let Some(m) = mention.take() {
            return Some(m);
        }
        while i < bytes.len() && !word_byte(bytes[i]) {
            i += 1;
        }
        if i >= bytes.len() {
            return None;
        }
        let start = i;
        while i < bytes.len() && word_byte(bytes[i]) {
            i += 1;
        }
        let word = text.get(start..i)?;
        let named = word.trim_start_matches('@');
        if named.len() < word.len() && !named.is_empty() {
            mention = Some(named);
        }
        Some(word)
    })
}

/// The retired learners, by user id, with the mode each was retired in.
#[derive(Debug, Clone)]
pub struct Retired {
    modes: HashMap<u64, RetirementMode>,
    /// User ids by the [`NameHasher`] hash of their names (already keyed hashes: the map
    /// does not hash them again).
    names: nohash_hasher::IntMap<u64, u64>,
    hasher: NameHasher,
    key: Option<String>,
}

impl Default for Retired {
    fn default() -> Self {
        Retired::new([], None)
    }
}

/// What [`Retired::guard`] did to a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Guarded {
    /// Late events scrubbed under a pseudonym.
    pub scrubbed: u64,
    /// Late events dropped.
    pub dropped: u64,
    /// Other learners' events naming a retired learner, scrubbed of the names.
    pub mentions: u64,
}

impl Retired {
    /// Retired learners `ids` in `mode`, with the scrub key (for tests and tools).
    pub fn new(ids: impl IntoIterator<Item = (u64, RetirementMode)>, key: Option<&str>) -> Self {
        Retired {
            modes: ids.into_iter().collect(),
            names: nohash_hasher::IntMap::default(),
            hasher: NameHasher::new(key.unwrap_or("")),
            key: key.filter(|k| !k.is_empty()).map(str::to_owned),
        }
    }

    /// Adds a retired learner's name (username or e-mail address).
    pub fn with_name(mut self, name: &str, user_id: u64) -> Self {
        self.names.insert(self.hasher.hash(name), user_id);
        self
    }

    /// Reads `_retirements` (none when the table does not exist yet).
    pub async fn load(ch: &ClickHouse, key: &str) -> cairn_core::Result<Retired> {
        let exists: u64 = ch
            .client()
            .query("SELECT count() FROM system.tables WHERE database = ? AND name = '_retirements'")
            .bind(ch.database())
            .fetch_one()
            .await
            .map_err(|e| cairn_core::Error::clickhouse("reading system.tables", e))?;
        if exists == 0 {
            return Ok(Retired::new([], Some(key)));
        }
        let rows: Vec<(u64, String, String)> = ch
            .client()
            .query(&format!(
                "SELECT user_id, argMax(mode, retired_at), arrayStringConcat(groupArray(name_hashes), ',') \
                 FROM {}._retirements GROUP BY user_id",
                quote_ident(ch.database())
            ))
            .fetch_all()
            .await
            .map_err(|e| cairn_core::Error::clickhouse("reading _retirements", e))?;
        let mut retired = Retired::new([], Some(key));
        for (id, mode, hashes) in rows {
            let mode = if mode == "delete" {
                RetirementMode::Delete
            } else {
                RetirementMode::Scrub
            };
            retired.modes.insert(id, mode);
            for h in hashes
                .split(',')
                .filter_map(|h| h.trim().parse::<u64>().ok())
            {
                retired.names.insert(h, id);
            }
        }
        Ok(retired)
    }

    /// Whether no learner is retired.
    pub fn is_empty(&self) -> bool {
        self.modes.is_empty()
    }

    /// Whether `user_id` is retired.
    pub fn contains(&self, user_id: u64) -> bool {
        self.modes.contains_key(&user_id)
    }

    /// The retired names among the words of `text`.
    fn names_in(&self, text: &str) -> Vec<String> {
        let mut found: Vec<String> = words(text)
            .filter(|w| self.names.contains_key(&self.hasher.hash(w)))
            .map(str::to_owned)
            .collect();
        found.sort();
        found.dedup();
        found
    }

    /// Scrubs or drops the retired learners' events in `rows` (by user id, or by username
    /// when the event has none), and removes retired learners' names from other learners'
    /// events. A learner retired in scrub mode whose pseudonym cannot be derived (no key
    /// configured) has the events dropped.
    pub fn guard<L: std::borrow::BorrowMut<Located>>(&self, rows: &mut Vec<L>) -> Guarded {
        let mut g = Guarded::default();
        rows.retain_mut(|r| self.check(r.borrow_mut(), &mut g));
        g
    }

    /// [`Retired::guard`] for one row: scrubs it as need be, counts what it did in `g`;
    /// false when the row is to be dropped.
    pub fn check(&self, r: &mut Located, g: &mut Guarded) -> bool {
        if self.modes.is_empty() {
            return true;
        }
        let retired = match r.row.user_id {
            Some(id) => self.modes.contains_key(&id).then_some(id),
            None if r.row.username.is_empty() => None,
            None => self.names.get(&self.hasher.hash(&r.row.username)).copied(),
        };
        let Some(id) = retired else {
            if !self.names.is_empty() {
                let names = self.names_in(&r.row.message);
                if !names.is_empty() && cairn_events::scrub::scrub_mentions(&mut r.row, &names) {
                    g.mentions += 1;
                }
            }
            return true;
        };
        match (self.modes.get(&id), &self.key) {
            (Some(RetirementMode::Scrub), Some(key)) => {
                cairn_events::scrub::scrub_own(&mut r.row, pseudonym(key, id));
                g.scrubbed += 1;
                true
            }
            _ => {
                g.dropped += 1;
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_events::EventRow;

    fn row(user: u64, msg: &str) -> Located {
        let mut r = EventRow::for_message(msg);
        r.user_id = Some(user);
        r.username = format!("u{user}");
        Located { row: r, offset: 0 }
    }

    #[test]
    fn late_events_are_scrubbed_or_dropped_as_their_learner_was_retired() {
        let retired = Retired::new(
            [(1, RetirementMode::Scrub), (2, RetirementMode::Delete)],
            Some("k"),
        );
        let mut rows = vec![
            row(1, r#"{"username":"u1"}"#),
            row(2, "{}"),
            row(3, r#"{"username":"u3"}"#),
        ];
        let g = retired.guard(&mut rows);
        assert_eq!(
            g,
            Guarded {
                scrubbed: 1,
                dropped: 1,
                mentions: 0
            }
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].row.user_id, Some(pseudonym("k", 1)));
        assert!(!rows[0].row.message.contains("u1"));
        assert_eq!(rows[1].row.username, "u3");
    }

    #[test]
    fn late_events_without_a_user_id_are_known_by_their_username() {
        let retired = Retired::new([(1, RetirementMode::Scrub)], Some("k")).with_name("u1", 1);
        let mut anonymous = row(1, r#"{"username":"u1"}"#);
        anonymous.row.user_id = None;
        let mut other = row(3, "{}");
        other.row.user_id = None;
        let mut rows = vec![anonymous, other];
        assert_eq!(retired.guard(&mut rows).scrubbed, 1);
        assert_eq!(rows[0].row.user_id, Some(pseudonym("k", 1)));
        assert_eq!(rows[0].row.username, "");
        assert_eq!(rows[1].row.username, "u3");
    }

    #[test]
    fn other_learners_events_lose_the_retired_names() {
        let retired = Retired::new([(1, RetirementMode::Delete)], Some("k"))
            .with_name("u1", 1)
            .with_name("u1@example.org", 1);
        let mut rows = vec![
            row(
                3,
                r#"{"event":{"student":"u1","note":"from u1@example.org, not u11"},"page":"/u/u1?x"}"#,
            ),
            row(4, r#"{"event":{"student":"u11"}}"#),
        ];
        let g = retired.guard(&mut rows);
        assert_eq!(g.mentions, 1);
        assert!(
            !rows[0].row.message.contains("u1\""),
            "{}",
            rows[0].row.message
        );
        assert!(
            !rows[0].row.message.contains("u1@"),
            "{}",
            rows[0].row.message
        );
        assert!(rows[0].row.message.contains("u11"));
        assert_eq!(rows[1].row.message, r#"{"event":{"student":"u11"}}"#);
    }

    #[test]
    fn words_are_runs_of_name_characters() {
        let w: Vec<&str> =
            words(r#"{"a":"/u/rita_r?x=1 mail rita.r@example.org, zoë @ada @@ @bo@x"}"#).collect();
        assert_eq!(
            w,
            [
                "a",
                "u",
                "rita_r",
                "x",
                "1",
                "mail",
                "rita.r@example.org",
                "zoë",
                "@ada",
                "ada",
                "@@",
                "@bo@x",
                "bo@x"
            ]
        );
    }

    #[test]
    fn without_a_key_scrub_mode_drops() {
        let retired = Retired::new([(1, RetirementMode::Scrub)], None);
        let mut rows = vec![row(1, "{}")];
        assert_eq!(retired.guard(&mut rows).dropped, 1);
        assert!(rows.is_empty());
    }
}
