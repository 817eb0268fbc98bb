//! `cairn dashboards export` then `import` into a fresh data lake gives the same charts
//! and dashboards (round trip through the real binary, on the suite's server); a folder
//! with a bad file changes nothing and names the file.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use cairn_core::testing;
use serde_json::json;

fn cairn(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .env("CAIRN_CONFIG", testing::config_path().unwrap())
        .env("CAIRN_CLICKHOUSE_DATABASE", db)
        .output()
        .unwrap()
}

fn ok(o: Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Every file under `dir`, by relative path.
fn files(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for sub in ["charts", "dashboards"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let p = e.unwrap().path();
            out.insert(
                format!("{sub}/{}", p.file_name().unwrap().to_string_lossy()),
                std::fs::read_to_string(&p).unwrap(),
            );
        }
    }
    out
}

async fn versions(ch: &cairn_core::ClickHouse) -> u64 {
    ch.client()
        .query("SELECT count() FROM _saved_objects")
        .fetch_one::<u64>()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn export_then_import_into_a_fresh_data_lake_gives_the_same_dashboards() {
    let from = cairn_migrate::testing::data_lake("dashboards_export_from").await;
    let to = cairn_migrate::testing::data_lake("dashboards_export_to").await;
    let chart = json!({ "name": "Événements", "description": "per course", "sql": "SELECT course_id, count() AS n FROM events GROUP BY course_id", "type": "bar", "x": "course_id", "y": ["n"], "series": null, "stacked": true });
    let gone = json!({ "name": "Deleted", "sql": "SELECT 1 AS n", "type": "number", "y": ["n"] });
    let dash = json!({ "name": "Team", "description": "", "charts": ["c1"], "shared_with": ["inst", "ada"], "everyone": false });
    for (kind, id, author, body) in [
        ("chart", "c1", "teach", Some(&chart)),
        ("chart", "c2", "teach", Some(&gone)),
        ("dashboard", "d1", "teach", Some(&dash)),
    ] {
        cairn_serve::saved::record(&from, kind, id, author, 0, body)
            .await
            .unwrap();
    }
    let c2 = cairn_serve::saved::load(&from).await.unwrap().charts["c2"].version;
    cairn_serve::saved::record(&from, "chart", "c2", "teach", c2, None)
        .await
        .unwrap();

    let base = std::env::temp_dir().join(format!("cairn-dashboards-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (one, two) = (base.join("one"), base.join("two"));
    let out = ok(
        cairn(
            from.database(),
            &["dashboards", "export", one.to_str().unwrap()],
        ),
        "export",
    );
    assert!(out.contains("exported 1 charts and 1 dashboards"), "{out}");
    let exported = files(&one);
    assert_eq!(
        exported.keys().collect::<Vec<_>>(),
        ["charts/c1.json", "dashboards/d1.json"],
        "the deleted chart is not exported"
    );
    assert!(exported["charts/c1.json"].contains("\"name\": \"Événements\""));
    assert!(
        !exported["charts/c1.json"].contains("version"),
        "no version in the files"
    );

    let out = ok(
        cairn(
            to.database(),
            &["dashboards", "import", one.to_str().unwrap()],
        ),
        "import",
    );
    assert!(out.contains("imported 1 charts and 1 dashboards"), "{out}");
    ok(
        cairn(
            to.database(),
            &["dashboards", "export", two.to_str().unwrap()],
        ),
        "export again",
    );
    assert_eq!(files(&two), exported, "the round trip keeps everything");
    let a = cairn_serve::saved::load(&from).await.unwrap();
    let b = cairn_serve::saved::load(&to).await.unwrap();
    assert_eq!(a.charts["c1"].body, b.charts["c1"].body);
    assert_eq!(a.dashboards["d1"].body, b.dashboards["d1"].body);
    assert_eq!(b.dashboards["d1"].author, "teach");
    let out = ok(
        cairn(
            to.database(),
            &["dashboards", "import", one.to_str().unwrap()],
        ),
        "import again",
    );
    assert!(
        out.contains("imported 0 charts and 0 dashboards") && out.contains("2 unchanged"),
        "{out}"
    );

    // Bad folders change nothing and say which file.
    let before = versions(&to).await;
    let bad = base.join("bad");
    std::fs::create_dir_all(bad.join("charts")).unwrap();
    std::fs::write(
        bad.join("charts/c9.json"),
        "{ \"id\": \"c9\", \"author\": \"x\", \"name\": ",
    )
    .unwrap();
    let o = cairn(
        to.database(),
        &["dashboards", "import", bad.to_str().unwrap()],
    );
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("charts/c9.json") && e.contains("EOF"), "{e}");
    std::fs::write(
        bad.join("charts/c9.json"),
        json!({ "id": "c9", "author": "x", "name": "ok", "sql": "SELECT 1 AS n", "type": "number", "y": ["n"] }).to_string(),
    )
    .unwrap();
    std::fs::create_dir_all(bad.join("dashboards")).unwrap();
    std::fs::write(
        bad.join("dashboards/d9.json"),
        json!({ "id": "d9", "author": "x", "name": "D", "charts": ["nowhere"] }).to_string(),
    )
    .unwrap();
    let o = cairn(
        to.database(),
        &["dashboards", "import", bad.to_str().unwrap()],
    );
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && e.contains("d9.json") && e.contains("\"nowhere\""),
        "{e}"
    );
    std::fs::write(
        bad.join("dashboards/d9.json"),
        json!({ "id": "other", "author": "x", "name": "D", "charts": [] }).to_string(),
    )
    .unwrap();
    let o = cairn(
        to.database(),
        &["dashboards", "import", bad.to_str().unwrap()],
    );
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && e.contains("its name must be other.json"),
        "{e}"
    );
    assert_eq!(versions(&to).await, before, "nothing recorded");

    // CAIRN_DASHBOARDS_FOLDER: `cairn serve` imports the folder at start; a bad folder stops
    // it with the file named.
    let shipped = cairn_migrate::testing::data_lake("dashboards_shipped").await;
    let port = testing::free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["serve", "--listen", &listen])
        .env("CAIRN_CONFIG", testing::config_path().unwrap())
        .env("CAIRN_CLICKHOUSE_DATABASE", shipped.database())
        .env("CAIRN_DASHBOARDS_FOLDER", &one)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(&listen).is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = serve.kill();
    let out = serve.wait_with_output().unwrap();
    assert!(
        up,
        "cairn serve did not start: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("imported 1 charts and 1 dashboards"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let got = cairn_serve::saved::load(&shipped).await.unwrap();
    assert_eq!(got.dashboards["d1"].body, a.dashboards["d1"].body);
    let o = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["serve", "--listen", &listen])
        .env("CAIRN_CONFIG", testing::config_path().unwrap())
        .env("CAIRN_CLICKHOUSE_DATABASE", shipped.database())
        .env("CAIRN_DASHBOARDS_FOLDER", &bad)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && e.contains("CAIRN_DASHBOARDS_FOLDER") && e.contains("d9.json"),
        "{e}"
    );

    std::fs::remove_dir_all(&base).unwrap();
    from.drop_database().await.unwrap();
    to.drop_database().await.unwrap();
    shipped.drop_database().await.unwrap();
}
