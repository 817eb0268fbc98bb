//! Log bytes in any format → lines → events → rows, answers and retirement scrubbing:
//! nothing may panic, and scrubbing depends only on the row and the pseudonym.
#![no_main]

use cairn_events::scrub::{own_emails, scrub_mentions, scrub_own};
use cairn_events::{EventRow, Item, LineFormat, LogParser, answers::answers_of};
use libfuzzer_sys::fuzz_target;

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
    let mut parser = if first & 0x80 != 0 {
        LogParser::new(format).with_max_line(64 + usize::from(first & 0x3f) * 8)
    } else {
        LogParser::new(format)
    };
    parser.parse_all(log, &mut |item| {
        if let Item::Event { event, .. } = item {
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
});
