//! Ingestion against the real ClickHouse server.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use cairn_core::{ClickHouse, testing};
use cairn_import::ingest::{IngestOptions, Input, LogPublishes, Summary, ingest};
use cairn_migrate::testing::data_lake;

async fn run(ch: &ClickHouse, inputs: Vec<Input>, opts: &IngestOptions) -> Summary {
    ingest(ch, inputs, opts, Box::new(LogPublishes))
        .await
        .unwrap()
}

async fn q_u64(ch: &ClickHouse, sql: &str) -> u64 {
    ch.client()
        .query(sql)
        .fetch_one::<u64>()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// (name, time with microseconds) of every stored event, sorted.
async fn identities(ch: &ClickHouse) -> Vec<(String, String)> {
    let rows: Vec<(String, u32, u32)> = ch
        .client()
        .query("SELECT name, toUInt32(time), time_us FROM _events")
        .fetch_all()
        .await
        .unwrap();
    let mut v: Vec<(String, String)> = rows
        .into_iter()
        .map(|(name, secs, us)| {
            let t = chrono::DateTime::from_timestamp(i64::from(secs), us * 1000).unwrap();
            (name, t.format("%Y-%m-%d %H:%M:%S%.6f").to_string())
        })
        .collect();
    v.sort();
    v
}

fn tmp(name: &str) -> testing::Scratch {
    testing::Scratch::new(&format!("ingest-{name}"))
}

/// The manifest's good events as (name, time) — the expected content of `events`.
fn manifest_events(shared: &Path) -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(shared.join("corpus/tracking/tutor-sample.manifest.tsv")).unwrap();
    let mut v: Vec<(String, String)> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            matches!(
                f[1],
                "tracking" | "passthrough" | "damaged:tracking-split-head"
            )
            .then(|| {
                let t = cairn_events::event::parse_time(f[3]).unwrap();
                (
                    f[2].to_owned(),
                    t.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
                )
            })
        })
        .collect();
    v.sort();
    v
}

async fn backfill_matches_manifest(test: &str, file: &str) {
    let Some(shared) = testing::shared_dir() else {
        return;
    };
    let ch = data_lake(test).await;
    let path = shared.join("corpus/tracking").join(file);
    let s = run(
        &ch,
        vec![Input::Path(path.clone())],
        &IngestOptions::default(),
    )
    .await;
    assert_eq!(s.inserted, 90, "{s}");
    assert_eq!(s.rejected.values().sum::<u64>(), 3, "{s}");
    assert_eq!(
        identities(&ch).await,
        manifest_events(&shared),
        "exactly the manifest's good events"
    );
    // Given again (and as a renamed gzip copy): nothing more.
    let dir = tmp(test);
    let gz = dir.join("rotated.log.1.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&std::fs::read(&path).unwrap()).unwrap();
    enc.finish().unwrap();
    let s = run(
        &ch,
        vec![Input::Path(path), Input::Path(gz)],
        &IngestOptions::default(),
    )
    .await;
    assert_eq!(s.inserted, 0, "{s}");
    assert_eq!(q_u64(&ch, "SELECT count() FROM _events").await, 90);
    ch.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn backfill_tutor_sample() {
    backfill_matches_manifest("ingest_tutor", "tutor-sample.log").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn backfill_docker_copy() {
    backfill_matches_manifest("ingest_docker", "tutor-sample.docker-json.log").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn backfill_cri_copy() {
    backfill_matches_manifest("ingest_cri", "tutor-sample.cri.log").await;
}

/// A Tutor tracking-log line of learner `user` at `secs` (Unix time), course `T+C+R`.
fn tracking_line(secs: u64, user: u64, name: &str, source: &str, event: &str) -> String {
    let t = chrono::DateTime::from_timestamp(secs as i64, 0).unwrap();
    format!(
        "{} INFO 7 [tracking] [user {user}] [ip 172.18.0.1] logger.py:41 - {{\"name\": \"{name}\", \"context\": {{\"user_id\": {user}, \"course_id\": \"course-v1:T+C+R\", \"org_id\": \"T\"}}, \"username\": \"u{user}\", \"event\": {event}, \"time\": \"{}\", \"event_type\": \"{name}\", \"event_source\": \"{source}\"}}\n",
        t.format("%Y-%m-%d %H:%M:%S,000"),
        t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00"),
    )
}

fn event_line(i: u64) -> String {
    let event = format!("\"{{\\\"id\\\": \\\"v1\\\", \\\"currentTime\\\": {i}}}\"");
    tracking_line(
        1_700_000_000 + i,
        i % 7 + 1,
        "play_video",
        "browser",
        &event,
    )
}

fn lines(range: std::ops::Range<u64>) -> String {
    range.map(event_line).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_after_growth_and_after_a_lost_checkpoint() {
    let ch = data_lake("ingest_resume").await;
    let dir = tmp("resume");
    let f = dir.join("tracking.log");
    std::fs::write(&f, lines(0..50)).unwrap();
    let s = run(&ch, vec![Input::Path(f.clone())], &IngestOptions::default()).await;
    assert_eq!(s.inserted, 50);
    // The file grew: only the new lines go in.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&f)
        .unwrap()
        .write_all(lines(50..120).as_bytes())
        .unwrap();
    let s = run(
        &ch,
        vec![Input::Path(f.clone())],
        &IngestOptions {
            batch_rows: 16,
            ..IngestOptions::default()
        },
    )
    .await;
    assert_eq!(s.inserted, 70, "{s}");
    // A crash between insert and checkpoint: events stored, checkpoints lost. Nothing is
    // stored twice: the events past the checkpoint are recognised.
    ch.execute("TRUNCATE TABLE _ingest_checkpoints")
        .await
        .unwrap();
    let s = run(&ch, vec![Input::Path(f.clone())], &IngestOptions::default()).await;
    assert_eq!(s.inserted, 0, "{s}");
    assert_eq!(s.duplicates_skipped, 120, "{s:?}");
    assert_eq!(q_u64(&ch, "SELECT count() FROM _events").await, 120);
    assert_eq!(
        q_u64(
            &ch,
            "SELECT toUInt64(uniqExact(ifNull(position, -1))) FROM _events"
        )
        .await,
        120
    );
    ch.drop_database().await.unwrap();
}

/// A forum thread created by learner `i % 7 + 1`, titled `T<i>`, one day after another.
fn forum_line(i: u64) -> String {
    let event = format!("{{\"id\": \"t{i}\", \"title\": \"T{i}\", \"body\": \"b\"}}");
    let secs = 1_700_000_000 + i * 86_400;
    tracking_line(
        secs,
        i % 7 + 1,
        "edx.forum.thread.created",
        "server",
        &event,
    )
}

/// An insert that stored the events but not what ClickHouse's views keep from them (the
/// server killed between the table's part and its views'), then the ingester killed before
/// its checkpoint: the next run finds the events past the checkpoint, stores none twice,
/// and writes their forum copy and their stale-day marks again.
#[tokio::test(flavor = "multi_thread")]
async fn the_views_rows_of_an_uncertain_insert_are_written_again() {
    let ch = data_lake("ingest_repair_views").await;
    let dir = tmp("repair");
    let f = dir.join("tracking.log");
    let log: String = (0..30).map(|i| forum_line(i) + &event_line(i)).collect();
    std::fs::write(&f, log).unwrap();
    let s = run(&ch, vec![Input::Path(f.clone())], &IngestOptions::default()).await;
    assert_eq!(s.inserted, 60, "{s}");
    let forum = "SELECT toUInt64(uniqExact(event_id)) FROM _forum_events \
                 WHERE title = concat('T', substring(target, 2))";
    let days = "SELECT toUInt64(uniqExact(day)) FROM _learner_days_dirty";
    assert_eq!(q_u64(&ch, forum).await, 30, "the view copied each thread");
    let marked = q_u64(&ch, days).await;
    assert!(marked >= 30, "{marked} days marked");
    for t in [
        "_forum_events",
        "_learner_days_dirty",
        "_ingest_checkpoints",
    ] {
        ch.execute(&format!("TRUNCATE TABLE {t}")).await.unwrap();
    }
    let s = run(&ch, vec![Input::Path(f.clone())], &IngestOptions::default()).await;
    assert_eq!((s.inserted, s.duplicates_skipped), (0, 60), "{s:?}");
    assert_eq!(q_u64(&ch, "SELECT count() FROM _events").await, 60);
    assert_eq!(q_u64(&ch, forum).await, 30, "the forum copy is whole again");
    assert_eq!(q_u64(&ch, days).await, marked, "every day is marked again");
    // A run with nothing uncertain (its checkpoint at the end) writes nothing again.
    ch.execute("TRUNCATE TABLE _forum_events").await.unwrap();
    run(&ch, vec![Input::Path(f.clone())], &IngestOptions::default()).await;
    assert_eq!(q_u64(&ch, "SELECT count() FROM _forum_events").await, 0);
    ch.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_inserts_nothing_and_rejects_are_written() {
    let ch = data_lake("ingest_dry").await;
    let dir = tmp("dry");
    let f = dir.join("t.log");
    std::fs::write(
        &f,
        format!(
            "{}{{\"name\": \"x\"}}\nnot json at all\n{}",
            lines(0..3),
            "{\"broken\": \n"
        ),
    )
    .unwrap();
    let rejects = dir.join("rejects.txt");
    let s = run(
        &ch,
        vec![Input::Path(f.clone())],
        &IngestOptions {
            dry_run: true,
            rejects: Some(rejects.clone()),
            ..IngestOptions::default()
        },
    )
    .await;
    assert_eq!((s.events, s.inserted), (3, 0));
    assert_eq!(q_u64(&ch, "SELECT count() FROM _events").await, 0);
    let text = std::fs::read_to_string(&rejects).unwrap();
    assert!(text.contains("t.log:4: no timestamp"), "{text}");
    assert!(text.contains("t.log:6: malformed JSON"), "{text}");
    assert_eq!(s.skipped.get("not a tracking line"), Some(&1));
    ch.drop_database().await.unwrap();
}

async fn wait_for(ch: &ClickHouse, n: u64, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        if q_u64(ch, "SELECT count() FROM _events").await >= n {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f.flush().unwrap();
}

/// `cairn ingest --follow` on `inputs` in a task (polling every 50 ms); its stop flag.
fn follow(
    ch: &ClickHouse,
    inputs: Vec<Input>,
) -> (
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    tokio::task::JoinHandle<Summary>,
) {
    let opts = IngestOptions {
        follow: true,
        poll: Duration::from_millis(50),
        ..IngestOptions::default()
    };
    let stop = opts.stop.clone();
    let ch = ch.clone();
    let task = tokio::spawn(async move {
        ingest(&ch, inputs, &opts, Box::new(LogPublishes))
            .await
            .unwrap()
    });
    (stop, task)
}

/// A lake and a `tracking.log` of 10 lines (in the scratch folder returned) followed
/// (`follow`), once they are stored.
async fn following(
    test: &str,
) -> (
    ClickHouse,
    testing::Scratch,
    PathBuf,
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    tokio::task::JoinHandle<Summary>,
) {
    let ch = data_lake(&format!("ingest_{test}")).await;
    let dir = tmp(test);
    let f = dir.join("tracking.log");
    std::fs::write(&f, lines(0..10)).unwrap();
    let (stop, task) = follow(&ch, vec![Input::Path(f.clone())]);
    assert!(
        wait_for(&ch, 10, Duration::from_secs(5)).await.is_some(),
        "initial content"
    );
    (ch, dir, f, stop, task)
}

/// Appends lines `range` to `f` and asserts they are all visible within a second.
async fn visible_within_a_second(ch: &ClickHouse, f: &Path, range: std::ops::Range<u64>) {
    let end = range.end;
    append(f, &lines(range));
    let took = wait_for(ch, end, Duration::from_secs(3))
        .await
        .expect("appended lines visible");
    assert!(
        took < Duration::from_secs(1),
        "append → visible took {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn follow_sees_appends_within_a_second_and_survives_rotations() {
    let (ch, dir, f, stop, task) = following("follow").await;
    // Appended lines are visible within a second.
    visible_within_a_second(&ch, &f, 10..15).await;

    // A line still being written is not parsed until complete.
    let partial = event_line(15);
    let (head, tail) = partial.split_at(60);
    append(&f, head);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        q_u64(&ch, "SELECT count() FROM _events").await,
        15,
        "half a line is held"
    );
    append(&f, tail);
    assert!(
        wait_for(&ch, 16, Duration::from_secs(3)).await.is_some(),
        "completed line visible"
    );

    // Rotation by rename and create (WatchedFileHandler, logrotate): a line written to the
    // old file just before the rename is not lost.
    append(&f, &lines(16..18));
    std::fs::rename(&f, dir.join("tracking.log.1")).unwrap();
    append(&dir.join("tracking.log.1"), &lines(18..19));
    append(&f, &lines(19..25));
    assert!(
        wait_for(&ch, 25, Duration::from_secs(5)).await.is_some(),
        "rename rotation"
    );

    // Rotation by copytruncate.
    append(&f, &lines(25..27));
    assert!(wait_for(&ch, 27, Duration::from_secs(3)).await.is_some());
    std::fs::copy(&f, dir.join("tracking.log.2")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&f)
        .unwrap();
    append(&f, &lines(27..33));
    assert!(
        wait_for(&ch, 33, Duration::from_secs(5)).await.is_some(),
        "copytruncate rotation"
    );

    stop.store(true, Ordering::Relaxed);
    let s = task.await.unwrap();
    assert_eq!(s.inserted, 33, "{s}");
    assert_eq!(q_u64(&ch, "SELECT count() FROM _events").await, 33);
    assert_eq!(
        q_u64(
            &ch,
            "SELECT toUInt64(uniqExact(ifNull(position, -1))) FROM _events"
        )
        .await,
        33,
        "each event once"
    );
    // Backfilling the rotated copies later adds nothing: they are the same sources.
    let s = run(
        &ch,
        vec![
            Input::Path(dir.join("tracking.log.1")),
            Input::Path(dir.join("tracking.log.2")),
        ],
        &IngestOptions::default(),
    )
    .await;
    assert_eq!(s.inserted, 0, "{s}");
    ch.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_after_catching_up_is_gathered_into_few_inserts() {
    let (ch, _dir, f, stop, task) = following("burst").await;
    // Caught up, the source is live; 30,000 lines appended at once are a backlog again:
    // 30 chunks of 1,024, gathered (not 30 inserts).
    append(&f, &lines(10..30_010));
    assert!(
        wait_for(&ch, 30_010, Duration::from_secs(30))
            .await
            .is_some(),
        "the burst is stored"
    );
    // Then live again: a few lines are visible within a second.
    visible_within_a_second(&ch, &f, 30_010..30_015).await;
    stop.store(true, Ordering::Relaxed);
    let s = task.await.unwrap();
    eprintln!("{s}");
    assert_eq!(s.inserted, 30_015, "{s}");
    assert!(s.inserts <= 12, "{s}");
    ch.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn due_rows_gather_while_an_insert_is_in_flight() {
    let ch = data_lake("ingest_gather_due").await;
    let dir = tmp("gather-due");
    let f = dir.join("tracking.log");
    std::fs::write(&f, lines(0..40_960)).unwrap();
    // Rows are due a millisecond after they arrive: each of the 40 chunks of 1,024 would
    // be an insert of its own. An insert takes longer than reading a chunk, so the rows
    // due while one is in flight go together in the next.
    let s = run(
        &ch,
        vec![Input::Path(f)],
        &IngestOptions {
            flush_interval: Duration::from_millis(1),
            ..IngestOptions::default()
        },
    )
    .await;
    eprintln!("{s}");
    assert_eq!(s.inserted, 40_960, "{s}");
    assert!(s.inserts <= 20, "{s}");
    assert_eq!(q_u64(&ch, "SELECT count() FROM _events").await, 40_960);
    ch.drop_database().await.unwrap();
}

fn gzip(path: &Path, text: &str) {
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap();
}

/// The Kubernetes collector's case: one pattern over the pods' logs, pods coming and going.
#[tokio::test(flavor = "multi_thread")]
async fn follow_a_pattern_reads_every_matching_file_at_once_and_those_that_appear_later() {
    let ch = data_lake("ingest_follow_pattern").await;
    let dir = tmp("follow-pattern");
    let pods = dir.join("pods");
    std::fs::create_dir_all(&pods).unwrap();
    let pattern = format!("{}/*/lms.log*", pods.display());
    let (stop, task) = follow(&ch, vec![Input::Pattern(pattern)]);
    // Nothing matches yet: the collector waits (it used to exit).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!task.is_finished(), "waits for a first file");

    // Pod a starts: its log is followed within the rescan interval.
    let a = pods.join("lms-a");
    std::fs::create_dir_all(&a).unwrap();
    append(&a.join("lms.log"), &lines(0..10));
    assert!(
        wait_for(&ch, 10, Duration::from_secs(5)).await.is_some(),
        "the first pod's log"
    );
    // Pod b starts later; both grow at once and both are read.
    let b = pods.join("lms-b");
    std::fs::create_dir_all(&b).unwrap();
    append(&b.join("lms.log"), &lines(100..110));
    assert!(
        wait_for(&ch, 20, Duration::from_secs(5)).await.is_some(),
        "a pod started later"
    );
    for k in 0..5 {
        append(&a.join("lms.log"), &lines(10 + k * 2..12 + k * 2));
        append(&b.join("lms.log"), &lines(110 + k * 2..112 + k * 2));
    }
    let took = wait_for(&ch, 40, Duration::from_secs(3))
        .await
        .expect("both logs followed at once");
    assert!(
        took < Duration::from_secs(1),
        "append → visible took {took:?}"
    );

    // b rotates by rename; the rotated file matches the pattern too, and is not read twice.
    append(&b.join("lms.log"), &lines(120..122));
    std::fs::rename(b.join("lms.log"), b.join("lms.log.1")).unwrap();
    append(&b.join("lms.log"), &lines(122..125));
    // An old rotation, compressed, is read once.
    gzip(&b.join("lms.log.0.gz"), &lines(200..204));
    assert!(
        wait_for(&ch, 49, Duration::from_secs(5)).await.is_some(),
        "rotation and compressed file"
    );

    // Pod a goes away with a last line unread; pod c comes.
    append(&a.join("lms.log"), &lines(20..21));
    std::fs::remove_dir_all(&a).unwrap();
    let c = pods.join("lms-c");
    std::fs::create_dir_all(&c).unwrap();
    append(&c.join("lms.log"), &lines(300..303));
    assert!(
        wait_for(&ch, 53, Duration::from_secs(5)).await.is_some(),
        "the removed pod's last line and the new pod"
    );
    // Let the removed pod go (after a few seconds), then stop.
    tokio::time::sleep(Duration::from_secs(6)).await;
    append(&b.join("lms.log"), &lines(125..126));
    assert!(wait_for(&ch, 54, Duration::from_secs(3)).await.is_some());
    stop.store(true, Ordering::Relaxed);
    let s = task.await.unwrap();
    assert_eq!(s.inserted, 54, "{s}");
    assert!(s.unreadable.is_empty(), "{s}");
    assert_eq!(q_u64(&ch, "SELECT count() FROM _events").await, 54);
    assert_eq!(
        q_u64(
            &ch,
            "SELECT toUInt64(uniqExact(ifNull(position, -1))) FROM _events"
        )
        .await,
        54,
        "each event once"
    );
    // A restart reads nothing again.
    let opts = IngestOptions::default();
    let s = run(
        &ch,
        vec![Input::Pattern(format!("{}/*/lms.log*", pods.display()))],
        &opts,
    )
    .await;
    assert_eq!(s.inserted, 0, "{s}");
    assert_eq!(s.sources, 4, "{s}");
    ch.drop_database().await.unwrap();
}
