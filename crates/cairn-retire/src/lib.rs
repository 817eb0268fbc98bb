//! Learner retirement: a learner the LMS retires (GDPR erasure) leaves no personal data in
//! Cairn's data lake.
//!
//! [`run`] reads the LMS's retirement requests ([`lms`]) and, for every learner whose
//! retirement is under way or done and whom Cairn has not handled yet (or who has events
//! again, stored before the ingester knew of the retirement):
//!
//! 1. **Their events** (`_events` rows with their user id, and rows without a user id under
//!    their username): in scrub mode rewritten by [`cairn_events::scrub::scrub_own`] under
//!    a pseudonym ([`cairn_import::retired::pseudonym`]), in delete mode deleted. The
//!    originals are removed by an `ALTER TABLE … DELETE` mutation whose condition holds
//!    only ids and hashes, never a name.
//! 2. **Other learners' events that name them** (a staff action on their account, a visit
//!    to their profile page): their username and e-mail addresses are removed
//!    ([`cairn_events::scrub::scrub_mentions`]). These searches run with `log_queries = 0`,
//!    so the names do not land in ClickHouse's query log.
//! 3. **Saved data**: saved charts and dashboards they authored or that name them (a new
//!    version without the names replaces every older one), their dashboard sign-in and
//!    access-rights rows, and on servers with SQL access control their ClickHouse user.
//! 4. **Waits** until ClickHouse has applied every mutation, and reports one that failed.
//! 5. **Records** the learner in `_retirements` (user id, mode, counts, keyed hashes of
//!    their names: no personal data) as retired. A first row, before anything changes,
//!    records them as under way: the ingester guards their late events from then on.
//!
//! Every step can run again: a crash before step 5 is finished by the next run, and a run
//! with nothing to do changes nothing.

pub mod cli;
pub mod lms;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use cairn_core::ClickHouse;
use cairn_core::config::{MysqlConfig, RetirementMode};
use cairn_core::sql::quote_str;
use cairn_events::scrub;
use cairn_import::ingest::store::{self, Located};
use cairn_import::retired::{NameHasher, pseudonym};
use clickhouse::Row;
use serde::{Deserialize, Serialize};

/// How a run goes.
#[derive(Debug, Clone)]
pub struct Options {
    /// Scrub or delete the learners' events.
    pub mode: RetirementMode,
    /// The key of the pseudonyms (needed to scrub).
    pub key: String,
    /// Count what would be done; change nothing.
    pub dry_run: bool,
    /// How long to wait for ClickHouse to apply the mutations.
    pub mutation_timeout: Duration,
}

/// What was (or, in a dry run, would be) done for one learner.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Learner {
    /// The LMS user id.
    pub user_id: u64,
    /// Their events scrubbed or deleted.
    pub events: u64,
    /// Other learners' events that named them, scrubbed.
    pub mentions: u64,
    /// Saved charts and dashboards rewritten without them.
    pub saved_objects: u64,
    /// Sign-in and access-rights rows removed.
    pub access_rows: u64,
    /// Whether Cairn had retired them before (these are events stored since).
    pub again: bool,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Scrub or delete.
    pub mode: String,
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// Requests the LMS has not carried out yet (pending or aborted).
    pub waiting: usize,
    /// Learners already retired, with nothing left to do.
    pub already_done: usize,
    /// The learners handled by this run.
    pub learners: Vec<Learner>,
    /// Mutations ClickHouse applied.
    pub mutations: usize,
    /// ClickHouse users dropped.
    pub users_dropped: usize,
    /// Data parts the mutations replaced that are still on disk (read by no query) when the
    /// run ends: ClickHouse removes them after `old_parts_lifetime`.
    pub replaced_parts: u64,
    /// The server's `old_parts_lifetime`, in seconds (none when no mutation ran).
    pub old_parts_lifetime: Option<u64>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = if self.dry_run {
            "would retire"
        } else {
            "retired"
        };
        let done = if self.mode == "delete" {
            "deleted"
        } else {
            "scrubbed"
        };
        let mut lines = vec![format!(
            "{verb} {} learners ({} mode); {} already retired; {} requests waiting in the LMS",
            self.learners.len(),
            self.mode,
            self.already_done,
            self.waiting
        )];
        for l in &self.learners {
            lines.push(format!(
                "  user {}: {} events {done}, {} mentions by others scrubbed, {} saved objects, {} sign-in and access rows{}",
                l.user_id,
                l.events,
                l.mentions,
                l.saved_objects,
                l.access_rows,
                if l.again {
                    " (events stored after an earlier retirement)"
                } else {
                    ""
                }
            ));
        }
        if !self.dry_run {
            lines.push(format!(
                "{} mutations applied by ClickHouse, {} ClickHouse users dropped",
                self.mutations, self.users_dropped
            ));
        }
        if let Some(lifetime) = self.old_parts_lifetime {
            lines.push(if self.replaced_parts == 0 {
                "the data parts the mutations replaced are removed from disk".to_owned()
            } else {
                format!(
                    "{} data parts the mutations replaced stay on disk, read by no query, until ClickHouse removes them: old_parts_lifetime ({lifetime} s) after each was replaced",
                    self.replaced_parts
                )
            });
        }
        f.write_str(&lines.join("\n"))
    }
}

fn ch_err(context: &str) -> impl Fn(clickhouse::error::Error) -> cairn_core::Error + '_ {
    move |e| cairn_core::Error::clickhouse(context, e)
}

/// Settings of the queries that carry names: kept out of ClickHouse's query log.
const UNLOGGED: &[(&str, &str)] = &[("log_queries", "0")];

/// Learners handled per batch.
const BATCH_LEARNERS: usize = 100;

/// Ids or hashes per `IN (…)` list of a mutation (well under `max_query_size`).
const IN_LIST: usize = 5_000;

/// Rows per INSERT of rewritten rows.
const INSERT_ROWS: usize = 10_000;

/// A name as it may stand in a raw JSON message: itself, and escaped when it is not ASCII.
fn in_json(name: &str) -> Vec<String> {
    let mut out = vec![name.to_owned()];
    if !name.is_ascii() {
        let mut escaped = String::new();
        for u in name.encode_utf16() {
            if u < 0x80 {
                escaped.push(char::from(u as u8));
            } else {
                escaped.push_str(&format!("\\u{u:04x}"));
            }
        }
        out.push(escaped);
    }
    out
}

/// `sipHash64` of each string, computed by the server (so the hash is ClickHouse's own).
async fn hashes(ch: &ClickHouse, names: &[String]) -> cairn_core::Result<Vec<u64>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    ch.client()
        .clone()
        .with_setting("log_queries", "0")
        .query("SELECT arrayMap(n -> sipHash64(n), ?)")
        .bind(names)
        .fetch_one::<Vec<u64>>()
        .await
        .map_err(ch_err("hashing names"))
}

fn id_list(ids: &[u64]) -> String {
    ids.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A mutation of one of the database's tables, on one node.
#[derive(Row, Deserialize)]
struct MutationState {
    table: String,
    mutation_id: String,
    is_done: u8,
    fail_reason: String,
    /// The node (`host:port`) on a cluster, empty on one server.
    #[serde(skip)]
    node: String,
}

impl MutationState {
    /// What tells it from every other mutation: its node, table and id (ids are per table).
    fn key(&self) -> (String, String, String) {
        (
            self.node.clone(),
            self.table.clone(),
            self.mutation_id.clone(),
        )
    }

    fn describe(&self) -> String {
        if self.node.is_empty() {
            format!("{} on {}", self.mutation_id, self.table)
        } else {
            format!(
                "{} on {} of node {}",
                self.mutation_id, self.table, self.node
            )
        }
    }
}

/// The mutations of the database's tables. On a cluster, those of every node in `nodes`
/// (from [`ClickHouse::cluster_nodes`]): a replica applies a mutation on its own, and a
/// query may read any replica.
async fn mutations(ch: &ClickHouse, nodes: &[String]) -> cairn_core::Result<Vec<MutationState>> {
    let fail = if ch.version().at_least(20, 1) {
        "latest_fail_reason"
    } else {
        "''"
    };
    let columns = format!("table, mutation_id, is_done, {fail} AS fail_reason");
    if nodes.is_empty() {
        return ch
            .server_client()
            .query(&format!(
                "SELECT {columns} FROM system.mutations WHERE database = ?"
            ))
            .bind(ch.database())
            .fetch_all()
            .await
            .map_err(ch_err("reading system.mutations"));
    }
    let mut all = Vec::new();
    for node in nodes {
        let (client, source) = ch.on_node(node, "mutations");
        let states: Vec<MutationState> = client
            .query(&format!(
                "SELECT {columns} FROM {source} WHERE database = ?"
            ))
            .bind(ch.database())
            .fetch_all()
            .await
            .map_err(|e| {
                cairn_core::Error::clickhouse(format!("reading system.mutations of node {node}"), e)
            })?;
        all.extend(states.into_iter().map(|mut m| {
            m.node = node.clone();
            m
        }));
    }
    Ok(all)
}

/// The mutations that exist now (to tell this run's from earlier ones).
async fn mutation_ids(ch: &ClickHouse) -> cairn_core::Result<HashSet<(String, String, String)>> {
    let nodes = ch.cluster_nodes().await?;
    Ok(mutations(ch, &nodes)
        .await?
        .iter()
        .map(MutationState::key)
        .collect())
}

/// Waits until ClickHouse has applied every mutation of the database not in `before` (on
/// every node of a cluster); returns how many there were. A mutation that fails (reported
/// by 20.x+) or is not done within `timeout` is an error naming it (and its node).
async fn wait_for_mutations(
    ch: &ClickHouse,
    before: &HashSet<(String, String, String)>,
    timeout: Duration,
) -> cairn_core::Result<Vec<MutationState>> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(50);
    let nodes = ch.cluster_nodes().await?;
    loop {
        let ours: Vec<MutationState> = mutations(ch, &nodes)
            .await?
            .into_iter()
            .filter(|m| !before.contains(&m.key()))
            .collect();
        if let Some(m) = ours
            .iter()
            .find(|m| m.is_done == 0 && !m.fail_reason.is_empty())
        {
            return Err(cairn_core::Error::Other(format!(
                "ClickHouse could not apply mutation {}: {}",
                m.describe(),
                m.fail_reason
            )));
        }
        let pending: Vec<String> = ours
            .iter()
            .filter(|m| m.is_done == 0)
            .map(MutationState::describe)
            .collect();
        if pending.is_empty() {
            return Ok(ours);
        }
        if started.elapsed() >= timeout {
            return Err(cairn_core::Error::Other(format!(
                "ClickHouse has not applied {} within {timeout:?}; run cairn retire again once it has (SELECT * FROM system.mutations WHERE NOT is_done)",
                pending.join(", ")
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

/// The learners Cairn has retired.
async fn retired_ids(ch: &ClickHouse) -> cairn_core::Result<BTreeSet<u64>> {
    let ids: Vec<u64> = ch
        .client()
        .query("SELECT DISTINCT user_id FROM _retirements WHERE done = 1")
        .fetch_all()
        .await
        .map_err(|e| {
            cairn_core::Error::Other(format!(
                "reading _retirements ({}): run `cairn migrate up` first",
                cairn_core::Error::clickhouse("", e)
            ))
        })?;
    Ok(ids.into_iter().collect())
}

/// Of `ids`, those with events under their own user id.
async fn with_events(ch: &ClickHouse, ids: &BTreeSet<u64>) -> cairn_core::Result<BTreeSet<u64>> {
    let mut out = BTreeSet::new();
    let ids: Vec<u64> = ids.iter().copied().collect();
    for chunk in ids.chunks(IN_LIST) {
        let found: Vec<u64> = ch
            .client()
            .query(&format!(
                "SELECT DISTINCT user_id FROM _events WHERE user_id IN ({})",
                id_list(chunk)
            ))
            .fetch_all()
            .await
            .map_err(ch_err("looking for retired learners' events"))?;
        out.extend(found);
    }
    Ok(out)
}

/// One learner's names while a batch is handled (never printed nor stored).
#[derive(Default)]
struct Names {
    usernames: BTreeSet<String>,
    emails: BTreeSet<String>,
    /// Their full name, from the LMS while its pipeline runs (only when it has two words
    /// or more: a single word is too often an ordinary one).
    full_names: BTreeSet<String>,
}

impl Names {
    fn all(&self) -> Vec<String> {
        self.usernames
            .iter()
            .chain(&self.emails)
            .chain(&self.full_names)
            .cloned()
            .collect()
    }
}

/// Runs retirement (see the crate's doc).
pub async fn run(ch: &ClickHouse, lms: &MysqlConfig, opts: &Options) -> cairn_core::Result<Report> {
    let requests = lms::requests(lms).await?;
    let done = retired_ids(ch).await?;
    let mut report = Report {
        mode: opts.mode.as_str().to_owned(),
        dry_run: opts.dry_run,
        waiting: requests.iter().filter(|r| !r.ready()).count(),
        ..Report::default()
    };
    let ready: BTreeMap<u64, lms::Request> = requests
        .into_iter()
        .filter(|r| r.ready())
        .map(|r| (r.user_id, r))
        .collect();
    let done_ready: BTreeSet<u64> = ready
        .keys()
        .filter(|id| done.contains(id))
        .copied()
        .collect();
    let again = with_events(ch, &done_ready).await?;
    let todo: Vec<u64> = ready
        .keys()
        .filter(|id| !done.contains(id) || again.contains(id))
        .copied()
        .collect();
    report.already_done = done_ready.len() - again.len();
    if todo.is_empty() {
        return Ok(report);
    }
    if opts.mode == RetirementMode::Scrub && opts.key.is_empty() {
        return Err(cairn_core::Error::Other(
            "CAIRN_RETIREMENT_KEY is not set: scrub mode derives each retired learner's pseudonym from it (make one with `openssl rand -hex 32` and keep it outside the data lake), or set CAIRN_RETIREMENT=delete".into(),
        ));
    }
    let before = mutation_ids(ch).await?;
    let mut applied = Vec::new();
    for batch in todo.chunks(BATCH_LEARNERS) {
        let (learners, hashes) = retire_batch(ch, opts, batch, &ready, &again, &mut report).await?;
        if !opts.dry_run {
            applied = wait_for_mutations(ch, &before, opts.mutation_timeout).await?;
            report.mutations = applied.len();
            record(ch, opts.mode, &learners, &hashes, true).await?;
        }
        report.learners.extend(learners);
    }
    if !applied.is_empty() {
        report.replaced_parts = replaced_parts(ch, &applied).await?;
        report.old_parts_lifetime = old_parts_lifetime(ch).await?;
    }
    Ok(report)
}

/// The inactive data parts of the tables `applied` mutated, on the nodes they ran on: the
/// parts the mutations (and merges) replaced, kept on disk until `old_parts_lifetime` ends.
async fn replaced_parts(ch: &ClickHouse, applied: &[MutationState]) -> cairn_core::Result<u64> {
    let mut tables: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for m in applied {
        tables.entry(&m.node).or_default().insert(&m.table);
    }
    let mut parts = 0;
    for (node, tables) in tables {
        let tables: Vec<&str> = tables.into_iter().collect();
        let (client, source) = if node.is_empty() {
            (ch.server_client(), "system.parts".to_owned())
        } else {
            ch.on_node(node, "parts")
        };
        let n: u64 = client
            .query(&format!(
                "SELECT count() FROM {source} WHERE database = ? AND has(?, table) AND NOT active"
            ))
            .bind(ch.database())
            .bind(tables)
            .fetch_one()
            .await
            .map_err(ch_err("reading system.parts"))?;
        parts += n;
    }
    Ok(parts)
}

/// The server's `old_parts_lifetime` (seconds), when it reports one.
async fn old_parts_lifetime(ch: &ClickHouse) -> cairn_core::Result<Option<u64>> {
    let values: Vec<String> = ch
        .server_client()
        .query("SELECT value FROM system.merge_tree_settings WHERE name = 'old_parts_lifetime'")
        .fetch_all()
        .await
        .map_err(ch_err("reading system.merge_tree_settings"))?;
    Ok(values.first().and_then(|v| v.trim().parse().ok()))
}

async fn retire_batch(
    ch: &ClickHouse,
    opts: &Options,
    batch: &[u64],
    ready: &BTreeMap<u64, lms::Request>,
    again: &BTreeSet<u64>,
    report: &mut Report,
) -> cairn_core::Result<(Vec<Learner>, BTreeMap<u64, String>)> {
    let mut learners: BTreeMap<u64, Learner> = batch
        .iter()
        .map(|&id| {
            let l = Learner {
                user_id: id,
                again: again.contains(&id),
                ..Learner::default()
            };
            (id, l)
        })
        .collect();
    let mut names: BTreeMap<u64, Names> = batch.iter().map(|&id| (id, Names::default())).collect();
    for (id, n) in names.iter_mut() {
        if let Some(r) = ready.get(id) {
            n.usernames.extend(r.original_username.clone());
            n.emails.extend(r.original_email.clone());
            n.full_names.extend(
                r.original_name
                    .clone()
                    .filter(|name| name.split_whitespace().count() > 1),
            );
        }
    }

    // 1. Their own events, by user id.
    let own = store::read_stored(ch, &format!("user_id IN ({})", id_list(batch)), UNLOGGED).await?;
    for r in &own {
        let Some(id) = r.row.user_id else { continue };
        if let Some(n) = names.get_mut(&id) {
            if !r.row.username.is_empty() {
                n.usernames.insert(r.row.username.clone());
            }
            n.emails.extend(scrub::own_emails(&r.row.message));
        }
    }
    // … and events without a user id under one of their usernames.
    let mut owner_of: HashMap<String, u64> = HashMap::new();
    for (id, n) in &names {
        for u in &n.usernames {
            owner_of.insert(u.clone(), *id);
        }
    }
    let usernames: Vec<String> = owner_of.keys().cloned().collect();
    let username_hashes = hashes(ch, &usernames).await?;
    let mut anonymous = Vec::new();
    for chunk in username_hashes.chunks(IN_LIST) {
        anonymous.extend(
            store::read_stored(
                ch,
                &format!(
                    "user_id = 0 AND sipHash64(username) IN ({})",
                    id_list(chunk)
                ),
                &[],
            )
            .await?,
        );
    }
    let mut rewritten: Vec<(String, Located)> = Vec::new();
    for (r, id) in own
        .into_iter()
        .map(|r| {
            let id = r.row.user_id.unwrap_or(0);
            (r, id)
        })
        .chain(anonymous.into_iter().filter_map(|r| {
            let id = *owner_of.get(&r.row.username)?;
            Some((r, id))
        }))
    {
        if let Some(l) = learners.get_mut(&id) {
            l.events += 1;
        }
        if opts.mode == RetirementMode::Scrub {
            let (source, mut located) = r.located();
            scrub::scrub_own(&mut located.row, pseudonym(&opts.key, id));
            rewritten.push((source, located));
        }
    }
    // Recorded as under way, with the hashes of their names, before anything changes: the
    // ingester guards their late events from now on, and a run that stops before the end
    // leaves the names for the next.
    let hashes = name_hashes(opts, &names);
    if !opts.dry_run {
        let started: Vec<Learner> = learners.values().cloned().collect();
        record(ch, opts.mode, &started, &hashes, false).await?;
    }

    // The originals go in one mutation per batch (each rewrites the parts it touches).
    let mut deletes = vec![format!("user_id IN ({})", id_list(batch))];
    for chunk in username_hashes.chunks(IN_LIST) {
        deletes.push(format!(
            "user_id = 0 AND sipHash64(username) IN ({})",
            id_list(chunk)
        ));
    }
    if !opts.dry_run {
        insert(ch, &rewritten).await?;
    }

    // 2. Other learners' events that name them.
    let all_names: Vec<String> = names.values().flat_map(Names::all).collect();
    if !all_names.is_empty() {
        let needles: Vec<String> = all_names
            .iter()
            .flat_map(|n| in_json(n))
            .map(|n| format!("position(message, {}) > 0", quote_str(&n)))
            .collect();
        let mut condition = format!(
            "user_id NOT IN ({}) AND ({})",
            id_list(batch),
            needles.join(" OR ")
        );
        if !username_hashes.is_empty() {
            // Their own events without a user id are handled above.
            condition.push_str(&format!(
                " AND NOT (user_id = 0 AND sipHash64(username) IN ({}))",
                id_list(&username_hashes)
            ));
        }
        let found = store::read_stored(ch, &condition, UNLOGGED).await?;
        let mut replaced: Vec<u64> = Vec::new();
        let mut mentions: Vec<(String, Located)> = Vec::new();
        for r in found {
            let original = r.row.message.clone();
            let event_id = r.event_id;
            let (source, mut located) = r.located();
            scrub::scrub_mentions(&mut located.row, &all_names);
            if located.row.message == original {
                continue;
            }
            for (id, n) in &names {
                if scrub::mentions(&original, &n.all())
                    && let Some(l) = learners.get_mut(id)
                {
                    l.mentions += 1;
                }
            }
            replaced.push(event_id);
            mentions.push((source, located));
        }
        if !opts.dry_run && !replaced.is_empty() {
            insert(ch, &mentions).await?;
            replaced.sort_unstable();
            replaced.dedup();
            for chunk in replaced.chunks(IN_LIST) {
                deletes.push(format!("event_id IN ({})", id_list(chunk)));
            }
        }
    }
    if !opts.dry_run {
        // The events, and the forum's copy of them (migration 0025: the same columns for
        // these conditions, and scrubbed rewrites copied there when inserted).
        for table in ["_events", "_forum_events"] {
            delete_where(ch, &ch.alter_target(table), &deletes).await?;
        }
        // Their pre-aggregated days (cairn-report's `aggregate`, which computes none for a
        // learner recorded in `_retirements`, so none come back), and their rows in the
        // copies of the LMS tables and the counts made from them (migrations 0023 and 0029;
        // cairn-report's `lms`, which copies and counts none either).
        let days = format!("user_id IN ({})", id_list(batch));
        for table in [
            "_learner_days",
            "_video_days",
            "_problem_days",
            "_answer_days",
            "_block_days",
            "_lms_block_completion",
            "_lms_course_enrollments",
            "_lms_course_grades",
            "_lms_progress",
        ] {
            delete_where(ch, &ch.alter_target(table), std::slice::from_ref(&days)).await?;
        }
    }

    // 3. Saved charts and dashboards, report schedules, sign-ins and access rights.
    saved_objects(ch, opts, &names, &mut learners).await?;
    report_schedules(ch, opts, &names, &mut learners).await?;
    report.users_dropped += access(ch, opts, &names, &mut learners).await?;
    Ok((learners.into_values().collect(), hashes))
}

/// Per learner, the comma-separated keyed hashes of their usernames and e-mail addresses.
fn name_hashes(opts: &Options, names: &BTreeMap<u64, Names>) -> BTreeMap<u64, String> {
    let hasher = NameHasher::new(&opts.key);
    names
        .iter()
        .map(|(id, n)| {
            let h: Vec<String> = n
                .usernames
                .iter()
                .chain(&n.emails)
                .map(|u| hasher.hash(u).to_string())
                .collect();
            (*id, h.join(","))
        })
        .collect()
}

/// Starts a mutation without waiting for it (`mutations_sync = 0`, the server default that
/// some builds change; 18.16 knows no such setting and never waits): [`run`] waits for all
/// of a batch's mutations at once, with its timeout.
async fn mutate(ch: &ClickHouse, sql: &str) -> cairn_core::Result<()> {
    let mut client = ch.client().clone();
    if ch.version().at_least(20, 1) {
        client = client.with_setting("mutations_sync", "0");
    }
    client
        .query(sql)
        .execute()
        .await
        .map_err(|e| cairn_core::Error::clickhouse("starting a mutation", e))
}

/// Statements longer than this are split (ClickHouse's `max_query_size` is 256 KiB).
const MAX_STATEMENT: usize = 200_000;

/// `ALTER TABLE table DELETE WHERE c1 OR c2 …`: as few mutations as the statement size
/// allows.
async fn delete_where(
    ch: &ClickHouse,
    table: &str,
    conditions: &[String],
) -> cairn_core::Result<()> {
    let mut pending: Vec<&str> = Vec::new();
    let mut size = 0;
    for (i, c) in conditions.iter().enumerate() {
        pending.push(c);
        size += c.len() + 8;
        let last = i + 1 == conditions.len();
        if last || size + conditions[i + 1].len() > MAX_STATEMENT {
            let or = pending
                .iter()
                .map(|c| format!("({c})"))
                .collect::<Vec<_>>()
                .join(" OR ");
            mutate(ch, &format!("ALTER TABLE {table} DELETE WHERE {or}")).await?;
            pending.clear();
            size = 0;
        }
    }
    Ok(())
}

async fn insert(ch: &ClickHouse, rows: &[(String, Located)]) -> cairn_core::Result<()> {
    for chunk in rows.chunks(INSERT_ROWS) {
        let rows: Vec<(&str, &Located)> = chunk.iter().map(|(s, r)| (s.as_str(), r)).collect();
        store::insert_from(ch, &rows).await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Row, Serialize, Deserialize)]
struct SavedRow {
    kind: String,
    id: String,
    version: u64,
    author: String,
    deleted: u8,
    body: String,
}

/// Saved charts and dashboards that a learner authored or that name them: a new version
/// without the names, and every older version deleted.
async fn saved_objects(
    ch: &ClickHouse,
    opts: &Options,
    names: &BTreeMap<u64, Names>,
    learners: &mut BTreeMap<u64, Learner>,
) -> cairn_core::Result<()> {
    let rows: Vec<SavedRow> = ch
        .client()
        .query("SELECT kind, id, version, author, deleted, body FROM _saved_objects")
        .fetch_all()
        .await
        .map_err(ch_err("reading _saved_objects"))?;
    let mut latest: BTreeMap<(String, String), SavedRow> = BTreeMap::new();
    let mut touched: BTreeMap<(String, String), BTreeSet<u64>> = BTreeMap::new();
    for r in rows {
        let key = (r.kind.clone(), r.id.clone());
        for (id, n) in names {
            if n.usernames.contains(&r.author) || scrub::mentions(&r.body, &n.all()) {
                touched.entry(key.clone()).or_default().insert(*id);
            }
        }
        if latest.get(&key).is_none_or(|l| l.version < r.version) {
            latest.insert(key, r);
        }
    }
    let all_names: Vec<String> = names.values().flat_map(Names::all).collect();
    for (key, ids) in &touched {
        for id in ids {
            if let Some(l) = learners.get_mut(id) {
                l.saved_objects += 1;
            }
        }
        if opts.dry_run {
            continue;
        }
        let Some(last) = latest.get(key) else {
            continue;
        };
        let mut next = last.clone();
        next.version = last.version + 1;
        if names.values().any(|n| n.usernames.contains(&next.author)) {
            next.author = String::new();
        }
        next.body = scrub::without_names(&next.body, &all_names);
        let mut insert = ch
            .client()
            .insert::<SavedRow>("_saved_objects")
            .await
            .map_err(ch_err("rewriting a saved object"))?;
        insert
            .write(&next)
            .await
            .map_err(ch_err("rewriting a saved object"))?;
        insert
            .end()
            .await
            .map_err(ch_err("rewriting a saved object"))?;
        mutate(
            ch,
            &format!(
                "ALTER TABLE _saved_objects DELETE WHERE kind = {} AND id = {} AND version < {}",
                quote_str(&key.0),
                quote_str(&key.1),
                next.version
            ),
        )
        .await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Row, Deserialize)]
struct ScheduleRow {
    id: String,
    version: u64,
    removed: u8,
    spec: String,
}

/// E-mail report schedules that name a learner's address as a recipient: a new version
/// without it (removed when no recipient is left), and every older version deleted.
async fn report_schedules(
    ch: &ClickHouse,
    opts: &Options,
    names: &BTreeMap<u64, Names>,
    learners: &mut BTreeMap<u64, Learner>,
) -> cairn_core::Result<()> {
    let rows: Vec<ScheduleRow> = ch
        .client()
        .query("SELECT id, version, removed, spec FROM _report_schedules")
        .fetch_all()
        .await
        .map_err(ch_err("reading _report_schedules"))?;
    let mut latest: BTreeMap<String, ScheduleRow> = BTreeMap::new();
    let mut touched: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for r in rows {
        for (id, n) in names {
            if scrub::mentions(&r.spec, &n.all()) {
                touched.entry(r.id.clone()).or_default().insert(*id);
            }
        }
        if latest.get(&r.id).is_none_or(|l| l.version < r.version) {
            latest.insert(r.id.clone(), r);
        }
    }
    let emails: BTreeSet<String> = names
        .values()
        .flat_map(|n| n.emails.iter().map(|e| e.to_lowercase()))
        .collect();
    for (id, who) in &touched {
        for w in who {
            if let Some(l) = learners.get_mut(w) {
                l.saved_objects += 1;
            }
        }
        let Some(last) = latest.get(id) else { continue };
        if opts.dry_run {
            continue;
        }
        // The recipients without the learner's addresses; anything else naming them (an
        // older version's spec) goes with the older versions.
        let mut spec: serde_json::Value = serde_json::from_str(&last.spec).unwrap_or_default();
        if let Some(list) = spec.get_mut("recipients").and_then(|r| r.as_array_mut()) {
            list.retain(|r| {
                r.get("email")
                    .and_then(|e| e.as_str())
                    .is_none_or(|e| !emails.contains(&e.to_lowercase()))
            });
        }
        let empty = spec
            .get("recipients")
            .and_then(|r| r.as_array())
            .is_none_or(|r| r.is_empty());
        let removed = last.removed == 1 || empty;
        let body = if removed {
            String::new()
        } else {
            spec.to_string()
        };
        ch.client()
            .query("INSERT INTO _report_schedules (id, version, removed, spec) SELECT ?, toUInt64(?), toUInt8(?), ?")
            .bind(id)
            .bind(last.version + 1)
            .bind(u8::from(removed))
            .bind(&body)
            .execute()
            .await
            .map_err(ch_err("rewriting a report schedule"))?;
        mutate(
            ch,
            &format!(
                "ALTER TABLE _report_schedules DELETE WHERE id = {} AND version <= {}",
                quote_str(id),
                last.version
            ),
        )
        .await?;
    }
    Ok(())
}

/// The tables of sign-ins, access rights and e-mail reports sent, with their name columns.
const ACCESS_TABLES: &[(&str, &[&str])] = &[
    ("_report_sends", &["recipient"]),
    ("_dashboard_logins", &["username"]),
    ("_acl_grants", &["username", "email"]),
    ("_acl_state", &["username"]),
    ("_acl_passwords", &["username"]),
];

/// Removes the learners' sign-in and access-rights rows, and drops their ClickHouse users
/// where the server manages users with SQL. Returns the users dropped.
async fn access(
    ch: &ClickHouse,
    opts: &Options,
    names: &BTreeMap<u64, Names>,
    learners: &mut BTreeMap<u64, Learner>,
) -> cairn_core::Result<usize> {
    // Each learner's names by hash (the tables are read as hashes, never as names).
    let mut owner: HashMap<u64, u64> = HashMap::new();
    for (id, n) in names {
        for h in hashes(ch, &n.all()).await? {
            owner.insert(h, *id);
        }
    }
    let mut with_state: BTreeSet<u64> = BTreeSet::new();
    for (table, columns) in ACCESS_TABLES {
        // A row counts once, for the first of its columns that names a learner.
        let select = columns
            .iter()
            .map(|c| format!("sipHash64({c})"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows: Vec<Vec<u64>> = ch
            .client()
            .query(&format!("SELECT [{select}] FROM {table}"))
            .fetch_all()
            .await
            .map_err(ch_err("reading the access tables"))?;
        let mut found: BTreeSet<u64> = BTreeSet::new();
        for row in rows {
            if let Some(id) = row.iter().find_map(|h| owner.get(h)) {
                found.extend(row.iter().filter(|h| owner.contains_key(h)));
                if let Some(l) = learners.get_mut(id) {
                    l.access_rows += 1;
                }
                if *table == "_acl_state" {
                    with_state.insert(*id);
                }
            }
        }
        if found.is_empty() || opts.dry_run {
            continue;
        }
        let list = id_list(&found.into_iter().collect::<Vec<_>>());
        let condition = columns
            .iter()
            .map(|c| format!("sipHash64({c}) IN ({list})"))
            .collect::<Vec<_>>()
            .join(" OR ");
        mutate(ch, &format!("ALTER TABLE {table} DELETE WHERE {condition}")).await?;
    }
    let mut dropped = 0;
    if !opts.dry_run && !with_state.is_empty() && cairn_acl::sync::require_rbac(ch).await.is_ok() {
        for id in &with_state {
            for u in names.get(id).map(|n| &n.usernames).into_iter().flatten() {
                for sql in cairn_acl::render::revoke_statements(ch.database(), u) {
                    ch.execute(&sql).await?;
                }
                dropped += 1;
            }
        }
    }
    Ok(dropped)
}

#[derive(Row, Serialize)]
struct RetirementRow {
    user_id: u64,
    mode: String,
    retired_at: u32,
    events: u64,
    mentions: u64,
    saved_objects: u64,
    access_rows: u64,
    name_hashes: String,
    done: u8,
}

/// Records `learners` in `_retirements`: under way (`done` false) or retired.
async fn record(
    ch: &ClickHouse,
    mode: RetirementMode,
    learners: &[Learner],
    hashes: &BTreeMap<u64, String>,
    done: bool,
) -> cairn_core::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0);
    let mut insert = ch
        .client()
        .insert::<RetirementRow>("_retirements")
        .await
        .map_err(ch_err("recording retirements"))?;
    for l in learners {
        insert
            .write(&RetirementRow {
                user_id: l.user_id,
                mode: mode.as_str().to_owned(),
                retired_at: now,
                events: l.events,
                mentions: l.mentions,
                saved_objects: l.saved_objects,
                access_rows: l.access_rows,
                name_hashes: hashes.get(&l.user_id).cloned().unwrap_or_default(),
                done: u8::from(done),
            })
            .await
            .map_err(ch_err("recording retirements"))?;
    }
    insert.end().await.map_err(ch_err("recording retirements"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_searched_as_logged() {
        assert_eq!(in_json("ada"), ["ada"]);
        assert_eq!(in_json("zoë"), ["zoë", "zo\\u00eb"]);
    }
}
