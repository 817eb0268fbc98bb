//! Test support: a fresh database of one's own with the whole data lake migrated.

use std::time::Duration;

use cairn_core::{ClickHouse, Config};

use crate::{Migrator, UpOptions, source};

/// A fresh test database (`cairn_t_<test>`) with every built-in migration applied, for
/// `config` (whose MySQL settings the MySQL-engine tables use).
pub async fn data_lake_with(test: &str, config: Config) -> ClickHouse {
    let ch = cairn_core::testing::clickhouse(test).await;
    migrate(test, ch, config).await
}

/// [`data_lake_with`] on the ClickHouse server `config` names (a test's own server).
pub async fn data_lake_on(test: &str, config: Config) -> ClickHouse {
    let ch = cairn_core::testing::clickhouse_on(test, &config.clickhouse).await;
    migrate(test, ch, config).await
}

async fn migrate(test: &str, ch: ClickHouse, config: Config) -> ClickHouse {
    let opts = UpOptions {
        owner: format!("test {test}"),
        lock_wait: Duration::from_secs(60),
        ..UpOptions::default()
    };
    Migrator::with(ch.clone(), config, source::builtin())
        .up(&opts, |_| {})
        .await
        .unwrap_or_else(|e| panic!("migrating the test data lake: {e}"));
    ch
}

/// [`data_lake_with`] the local services' configuration.
pub async fn data_lake(test: &str) -> ClickHouse {
    data_lake_with(test, cairn_core::testing::config()).await
}
