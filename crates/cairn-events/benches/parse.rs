//! Parse throughput on a large Tutor-format log built from the corpus events.
//!
//! `cargo bench -p cairn-events --bench parse` (needs ../shared/corpus). The log repeats
//! the sample's lines (good, bad and noise alike) until it is at least 100 MB.

use std::hint::black_box;

use cairn_events::{EventRow, Item, LogParser};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn big_log() -> (Vec<u8>, u64) {
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/tracking/tutor-sample.log");
    let one = std::fs::read(&sample).unwrap_or_else(|e| panic!("{}: {e}", sample.display()));
    let one = if one.ends_with(b"\n") {
        one
    } else {
        [one, b"\n".to_vec()].concat()
    };
    let mut buf = Vec::with_capacity(110 << 20);
    while buf.len() < 100 << 20 {
        buf.extend_from_slice(&one);
    }
    let lines = memchr::memchr_iter(b'\n', &buf).count() as u64;
    (buf, lines)
}

fn bench(c: &mut Criterion) {
    let (log, lines) = big_log();
    eprintln!("log: {} MB, {} lines", log.len() >> 20, lines);
    let mut g = c.benchmark_group("parse_100mb");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(log.len() as u64));

    g.bench_function("cairn_rows", |b| {
        b.iter(|| {
            let mut n = 0u64;
            LogParser::default().parse_all(black_box(&log), &mut |item| {
                if let Item::Event { event, .. } = item {
                    black_box(EventRow::from_event(&event));
                    n += 1;
                }
            });
            n
        })
    });

    g.bench_function("cairn_events", |b| {
        b.iter(|| {
            let mut n = 0u64;
            LogParser::default().parse_all(black_box(&log), &mut |item| {
                if let Item::Event { event, .. } = item {
                    black_box(&event);
                    n += 1;
                }
            });
            n
        })
    });

    // Baseline: split lines, find the JSON after " - ", parse it into serde_json::Value.
    g.bench_function("baseline_serde_value", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for line in black_box(&log).split(|&c| c == b'\n') {
                if let Some(i) = memchr::memmem::find(line, b" - {")
                    && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&line[i + 3..])
                {
                    black_box(v);
                    n += 1;
                }
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
