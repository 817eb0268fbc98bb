//! `cairn import answers` on the real server (18.16 and 26.9): a generated log stored as
//! before migration 0019 (no answer columns filled) gets every submission's answers, the
//! events are still counted once, and a second run reads only what carries no answers.

use cairn_events::{Item, LogParser};
use cairn_import::backfill;
use cairn_import::ingest::store::{self, Located};

#[tokio::test(flavor = "multi_thread")]
async fn answers_of_events_stored_before_0019_are_derived_once() {
    let ch = cairn_migrate::testing::data_lake("backfill_answers").await;
    let dir = tempfile::tempdir().unwrap();
    let spec = cairn_fixtures::Spec {
        learners: 30,
        courses: 1,
        days: 5,
        bad_every: 0,
        ..cairn_fixtures::Spec::default()
    };
    let truth = cairn_fixtures::generate(&spec, dir.path()).unwrap();
    // The rows as an ingester before 0019 stored them: answers not derived.
    let log = std::fs::read(dir.path().join("tracking.log")).unwrap();
    let mut rows = Vec::new();
    let mut expected = 0usize;
    let mut unanswerable = 0u64;
    LogParser::default().parse_all(&log, &mut |item| {
        if let Item::Event { event, offset, .. } = item {
            let mut row = cairn_events::EventRow::from_event(&event);
            if row.name == "problem_check" {
                if row.answers.is_empty() {
                    unanswerable += 1;
                }
                expected += row.answers.len();
            }
            row.answers.clear();
            rows.push(Located { row, offset });
        }
    });
    assert_eq!(rows.len() as u64, truth.events);
    store::insert_events(&ch, "old.log", &rows).await.unwrap();
    let one = |sql: &'static str| {
        let ch = ch.clone();
        async move { ch.client().query(sql).fetch_one::<u64>().await.unwrap() }
    };
    assert_eq!(
        one("SELECT sum(length(answer_input)) FROM _events").await,
        0
    );
    let submissions = one("SELECT count() FROM events WHERE name = 'problem_check'").await;
    assert!(submissions > 0 && expected > 0);

    let done = backfill::answers(&ch).await.unwrap();
    assert_eq!(done.read, submissions);
    assert_eq!(done.answered, submissions - unanswerable);
    // Counted once (the public view is exact), every input there, as derived from the
    // message.
    assert_eq!(one("SELECT count() FROM events").await, truth.events);
    assert_eq!(
        one("SELECT uniqExact(event_id) FROM _events").await,
        truth.events
    );
    assert_eq!(
        one("SELECT sum(length(answer_input)) FROM events").await,
        expected as u64
    );
    for r in store::read_stored(&ch, "length(answer_input) > 0", &[])
        .await
        .unwrap()
    {
        let (_, located) = r.located();
        let event = cairn_events::parse_event(&located.row.message, None).unwrap();
        assert_eq!(
            located.row.answers,
            cairn_events::answers::answers_of(&event)
        );
    }
    // Again: nothing left to answer.
    let again = backfill::answers(&ch).await.unwrap();
    assert_eq!(
        again,
        backfill::Backfilled {
            read: unanswerable,
            answered: 0
        }
    );
    ch.drop_database().await.unwrap();
}
