//! `cairn parse`: tracking logs to normalized rows as JSON lines.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use cairn_events::{EventRow, Item, LineFormat, parse_reader};

/// Arguments of `cairn parse`.
#[derive(clap::Args)]
pub struct Args {
    /// Line format: auto (per line), tutor, json, docker or cri.
    #[arg(long, default_value = "auto")]
    format: LineFormat,
    /// Log files; `-` or none for standard input.
    files: Vec<PathBuf>,
}

/// Runs `cairn parse`; exit 1 when a file cannot be read (the others are still parsed).
pub fn run(args: &Args) -> ExitCode {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let stderr = io::stderr();
    let mut err = BufWriter::new(stderr.lock());
    let (mut parsed, mut rejected, mut skipped) = (0u64, 0u64, 0u64);
    let mut failed = false;
    let stdin_only = [PathBuf::from("-")];
    let files = if args.files.is_empty() {
        &stdin_only[..]
    } else {
        &args.files[..]
    };
    for path in files {
        let name = path.display().to_string();
        let mut sink = |item: Item<'_>| {
            let res = match item {
                Item::Event { event, .. } => {
                    parsed += 1;
                    serde_json::to_writer(&mut out, &EventRow::from_event(&event))
                        .map_err(io::Error::other)
                        .and_then(|()| out.write_all(b"\n"))
                }
                Item::CoursePublished { line, course_id } => {
                    skipped += 1;
                    writeln!(err, "{name}:{line}: course publish signal: {course_id}")
                }
                Item::Skipped { line, reason } => {
                    skipped += 1;
                    writeln!(err, "{name}:{line}: {reason}")
                }
                Item::Rejected {
                    line,
                    reason,
                    detail,
                } => {
                    rejected += 1;
                    writeln!(err, "{name}:{line}: {reason}: {detail}")
                }
            };
            if let Err(e) = res
                && e.kind() == io::ErrorKind::BrokenPipe
            {
                std::process::exit(0);
            }
        };
        let result = if name == "-" {
            parse_reader(io::stdin().lock(), args.format, &mut sink)
        } else {
            File::open(path).and_then(|f| {
                parse_reader(BufReader::with_capacity(1 << 16, f), args.format, &mut sink)
            })
        };
        if let Err(e) = result {
            failed = true;
            let _ = writeln!(err, "{name}: cannot read: {e}");
        }
    }
    let _ = out.flush();
    let _ = writeln!(
        err,
        "parsed {parsed}, rejected {rejected}, skipped {skipped}"
    );
    let _ = err.flush();
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
