//! Log bytes in any format → lines → events → rows, answers and retirement scrubbing:
//! nothing may panic; every event's offset is where its line starts (what checkpoints
//! record); no line starts two items; a reader in small pieces gives the same items as the
//! whole buffer; and scrubbing depends only on the row and the pseudonym.
#![no_main]

use std::collections::HashSet;
use std::io::BufReader;

use cairn_events::scrub::{own_emails, scrub_mentions, scrub_own};
use cairn_events::{
    DEFAULT_MAX_LINE, EventRow, Item, LineFormat, LogParser, answers::answers_of, for_each_line,
    lines,
};
use libfuzzer_sys::fuzz_target;

/// What an item says, for comparing two reads: (line, kind, offset).
fn summary(item: &Item<'_>) -> (u64, String, u64) {
    match item {
        Item::Event { line, offset, .. } => (*line, "event".into(), *offset),
        Item::CoursePublished { line, course_id } => (*line, format!("publish {course_id}"), 0),
        Item::Skipped { line, reason } => (*line, format!("skipped {reason}"), 0),
        Item::Rejected { line, reason, .. } => (*line, format!("rejected {reason}"), 0),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, log)) = data.split_first() else {
        return;
    };
    let format = match first % 5 {
        0 => LineFormat::Auto,
        1 => LineFormat::Tutor,
        2 => LineFormat::Json,
        3 => LineFormat::Docker,
        _ => LineFormat::Cri,
    };
    // A small line cap now and then, so that the too-long path is reached too.
    let max = if first & 0x80 != 0 {
        64 + usize::from(first & 0x3f) * 8
    } else {
        DEFAULT_MAX_LINE
    };
    let starts: Vec<u64> = lines(log).map(|(_, offset, _)| offset).collect();
    let mut whole = Vec::new();
    let mut started = HashSet::new();
    LogParser::new(format)
        .with_max_line(max)
        .parse_all(log, &mut |item| {
            let s = summary(&item);
            assert!(started.insert(s.0), "line {} starts two items", s.0);
            whole.push(s);
            if let Item::Event {
                line,
                offset,
                event,
            } = item
            {
                assert_eq!(
                    starts.get(line as usize - 1),
                    Some(&offset),
                    "line {line}: offset {offset} is not where it starts"
                );
                let _ = answers_of(&event);
                let row = EventRow::from_event(&event);
                let mut once = row.clone();
                scrub_own(&mut once, 0x8000_0000_0000_0001);
                let mut again = row.clone();
                scrub_own(&mut again, 0x8000_0000_0000_0001);
                assert_eq!(once, again, "scrubbing the same row twice gave two rows");
                let names = vec![row.username.clone(), "ada@example.org".to_string()];
                let mut other = row.clone();
                scrub_mentions(&mut other, &names);
                let _ = own_emails(&row.message);
            }
        });
    // The same bytes through a reader that hands them out a few at a time.
    let reader = BufReader::with_capacity(1 + usize::from(first & 0x0f), log);
    let mut parser = LogParser::new(format).with_max_line(max);
    let mut pieces = Vec::new();
    for_each_line(reader, max, 0, |n, offset, line| {
        parser.feed(n, offset, line, &mut |item| pieces.push(summary(&item)));
    })
    .expect("reading memory cannot fail");
    parser.finish(&mut |item| pieces.push(summary(&item)));
    assert_eq!(whole, pieces, "a reader in pieces gave other items");
});
