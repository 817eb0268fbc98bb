//! Parse throughput by stage, in memory (a benchmark, not a test): how many messages per
//! second serde_json skips (`IgnoredAny`), reads whole (`Value`), [`parse_event`] reads,
//! `parse_event` plus [`EventRow::set_from_event`], and the whole [`LogParser`] with rows.
//!
//! `cargo run --release -p cairn-events --example parse_stages -- LOG [ROUNDS]`: with
//! ROUNDS, only parses and fills rows ROUNDS times (for a profiler).
use std::time::Instant;

use cairn_events::{EventRow, Item, LogParser, parse_event};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: parse_stages LOG [ROUNDS]");
        std::process::exit(2);
    };
    let buf = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let text = String::from_utf8_lossy(&buf);
    // The tracking messages that parse (what a tracking line holds after ` - `).
    let msgs: Vec<&str> = text
        .lines()
        .filter_map(|l| l.find(" - {").map(|i| &l[i + 3..]))
        .filter(|m| parse_event(m, None).is_ok())
        .collect();
    let n = msgs.len() as f64;
    let mut row = EventRow::default();
    if let Some(rounds) = args.next() {
        let rounds: usize = rounds.parse().expect("ROUNDS is a number");
        for _ in 0..rounds {
            for m in &msgs {
                let e = parse_event(m, None).expect("parsed before");
                row.set_from_event(&e);
                std::hint::black_box(&row);
            }
        }
        return;
    }
    println!("{} messages of {path}", msgs.len());
    let rate =
        |what: &str, t: Instant| println!("{what:<14} {:>9.0} /s", n / t.elapsed().as_secs_f64());
    let t = Instant::now();
    for m in &msgs {
        std::hint::black_box(serde_json::from_str::<serde::de::IgnoredAny>(m).ok());
    }
    rate("ignored_any", t);
    let t = Instant::now();
    for m in &msgs {
        std::hint::black_box(serde_json::from_str::<serde_json::Value>(m).ok());
    }
    rate("value", t);
    let t = Instant::now();
    for m in &msgs {
        std::hint::black_box(parse_event(m, None).ok());
    }
    rate("parse_event", t);
    let t = Instant::now();
    for m in &msgs {
        if let Ok(e) = parse_event(m, None) {
            row.set_from_event(&e);
            std::hint::black_box(&row);
        }
    }
    rate("+ row", t);
    let t = Instant::now();
    LogParser::default().parse_all(&buf, &mut |item| {
        if let Item::Event { event, .. } = item {
            row.set_from_event(&event);
            std::hint::black_box(&row);
        }
    });
    rate("LogParser+row", t);
}
