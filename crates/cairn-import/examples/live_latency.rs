//! Live latency benchmark: append → visible in ClickHouse, at a sustained rate.
//!
//! `cargo run --release -p cairn-import --example live_latency -- [RATE] [SECONDS]`
//! (default 5000 events/s for 20 s) against the local services (`scripts/services start`).
//! A writer appends events to a followed file at RATE, each carrying its sequence number
//! as the video position; a poller reads `max(position)` every 5 ms. Batches are inserted
//! in order, so when the maximum reaches k every event up to k is visible: its latency is
//! that poll time minus its append time. Prints p50/p95/p99/max.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use cairn_import::ingest::{IngestOptions, Input, LogPublishes, ingest};
use cairn_migrate::{Migrator, UpOptions, source};

fn line(i: u64) -> String {
    let t = chrono::Utc::now();
    format!(
        "{} INFO 7 [tracking] [user {u}] [ip 172.18.0.1] logger.py:41 - {{\"name\": \"play_video\", \"context\": {{\"user_id\": {u}, \"course_id\": \"course-v1:Bench+L+R\", \"org_id\": \"Bench\", \"path\": \"/event\"}}, \"username\": \"learner{u}\", \"session\": \"abcdef0123456789abcdef0123456789\", \"ip\": \"10.0.0.1\", \"agent\": \"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36\", \"host\": \"lms.example.org\", \"referer\": \"https://lms.example.org/courses/course-v1:Bench+L+R/courseware\", \"accept_language\": \"en\", \"event\": \"{{\\\"id\\\": \\\"0b9e39477cf34507a7a48f74be381fdd\\\", \\\"code\\\": \\\"html5\\\", \\\"currentTime\\\": {i}, \\\"duration\\\": 600}}\", \"time\": \"{}\", \"event_type\": \"play_video\", \"event_source\": \"browser\", \"page\": \"https://lms.example.org/courses/course-v1:Bench+L+R/courseware\"}}\n",
        t.format("%Y-%m-%d %H:%M:%S,%3f"),
        t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00"),
        u = i % 500 + 1
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rate: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5000);
    let secs: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20);
    let ch = cairn_core::testing::clickhouse("bench_live_latency").await;
    let m = Migrator::with(ch.clone(), cairn_core::testing::config(), source::builtin());
    m.up(
        &UpOptions {
            owner: "bench".into(),
            lock_wait: Duration::from_secs(60),
            ..UpOptions::default()
        },
        |_| {},
    )
    .await
    .expect("migrate");
    let dir = std::env::temp_dir().join(format!("cairn-latency-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tracking.log");
    std::fs::write(&path, line(0)).unwrap();

    let opts = IngestOptions {
        follow: true,
        ..IngestOptions::default()
    };
    let stop = opts.stop.clone();
    let ingester = {
        let ch = ch.clone();
        let path = path.clone();
        tokio::spawn(async move {
            ingest(&ch, vec![Input::Path(path)], &opts, Box::new(LogPublishes)).await
        })
    };
    let total = rate * secs;
    let start = Instant::now();
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap();
            let mut appended = Vec::with_capacity(total as usize + 1);
            appended.push(start);
            for i in 1..=total {
                let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                f.write_all(line(i).as_bytes()).unwrap();
                appended.push(Instant::now());
            }
            appended
        })
    };
    let mut visible_at: Vec<Option<Instant>> = vec![None; total as usize + 1];
    let mut seen = 0usize;
    let deadline = start + Duration::from_secs(secs + 30);
    while seen < total as usize && Instant::now() < deadline {
        let max: f64 = ch
            .client()
            .query("SELECT toFloat64(max(ifNull(position, 0))) FROM events")
            .fetch_one()
            .await
            .unwrap_or(0.0);
        let now = Instant::now();
        let k = (max as usize).min(total as usize);
        for v in visible_at.iter_mut().take(k + 1).skip(seen) {
            *v = Some(now);
        }
        seen = seen.max(k);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let appended = writer.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    let summary = ingester.await.unwrap().unwrap();
    let mut lat: Vec<f64> = (1..=total as usize)
        .filter_map(|i| visible_at[i].map(|v| v.duration_since(appended[i]).as_secs_f64() * 1000.0))
        .collect();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    println!(
        "rate {rate}/s for {secs} s: {} of {total} events visible; latency ms p50 {:.0}, p95 {:.0}, p99 {:.0}, max {:.0}; inserted {}",
        lat.len(),
        pct(0.50),
        pct(0.95),
        pct(0.99),
        lat.last().copied().unwrap_or(0.0),
        summary.inserted
    );
    ch.drop_database().await.ok();
    std::fs::remove_dir_all(&dir).ok();
}
