//! What guarding retired learners' late events costs per event: `Retired::guard` over a
//! generated log's rows, with no retired learner and with 100 (whose ids and names the log
//! never matches, so the cost is the guard's own). `cargo bench -p cairn-import --bench guard`.

use cairn_core::config::RetirementMode;
use cairn_events::{EventRow, Item, LogParser};
use cairn_fixtures::{Spec, generate};
use cairn_import::ingest::store::Located;
use cairn_import::retired::Retired;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

fn rows() -> Vec<Located> {
    let dir = std::env::temp_dir().join(format!("cairn-bench-guard-{}", std::process::id()));
    let spec = Spec {
        learners: 200,
        courses: 2,
        days: 7,
        bad_every: 0,
        ..Spec::default()
    };
    generate(&spec, &dir).expect("generate");
    let log = std::fs::read(dir.join("tracking.log")).expect("read the log");
    std::fs::remove_dir_all(&dir).ok();
    let mut rows = Vec::new();
    LogParser::default().parse_all(&log, &mut |item| {
        if let Item::Event { event, .. } = item {
            rows.push(Located {
                row: EventRow::from_event(&event),
                offset: 0,
            });
        }
    });
    rows
}

fn bench(c: &mut Criterion) {
    let rows = rows();
    let none = Retired::new([], Some("k"));
    let mut some = Retired::new(
        (0..100).map(|i| (1_000_000 + i, RetirementMode::Scrub)),
        Some("k"),
    );
    for i in 0..100 {
        some = some
            .with_name(&format!("retired{i}"), 1_000_000 + i)
            .with_name(&format!("retired{i}@example.org"), 1_000_000 + i);
    }
    let mut g = c.benchmark_group("guard");
    g.throughput(Throughput::Elements(rows.len() as u64));
    for (name, retired) in [
        ("no retired learner", &none),
        ("100 retired learners", &some),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || rows.clone(),
                |mut batch| retired.guard(&mut batch),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
