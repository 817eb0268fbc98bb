//! The data dictionary matches the live data lake (18.16 and 26.9): every public table,
//! view and column the migrations make has a description, and every description names a
//! table and column that exist.

use std::collections::{BTreeMap, BTreeSet};

use cairn_migrate::dictionary;

#[derive(clickhouse::Row, serde::Deserialize)]
struct Col {
    table: String,
    name: String,
}

#[tokio::test]
async fn every_public_table_and_column_is_described_and_nothing_else() {
    let ch = cairn_migrate::testing::data_lake("dictionary_live").await;
    let cols: Vec<Col> = ch
        .client()
        .query("SELECT table, name FROM system.columns WHERE database = ? AND NOT startsWith(table, '_')")
        .bind(ch.database())
        .fetch_all()
        .await
        .unwrap();
    let mut live: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in cols {
        live.entry(c.table).or_default().insert(c.name);
    }
    assert!(live.contains_key("events"), "{live:?}");
    let d = dictionary::builtin();
    let documented: BTreeMap<String, BTreeSet<String>> =
        d.0.iter()
            .map(|(t, doc)| (t.clone(), doc.columns.keys().cloned().collect()))
            .collect();
    assert_eq!(
        documented, live,
        "dictionary/dictionary.toml (left) and the migrated data lake (right) differ"
    );
    ch.drop_database().await.unwrap();
}
