//! Command-line front ends shared by `cairn-import` and `cairn`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use cairn_core::{ClickHouse, Config};
use cairn_events::LineFormat;

use crate::ingest::{IngestOptions, LogPublishes, expand_inputs, ingest as run_ingest};

/// Arguments of `cairn ingest` / `cairn-import events`.
#[derive(clap::Args, Debug)]
pub struct IngestArgs {
    /// Log files (plain or .gz; quoted globs are expanded), or `-` for standard input.
    #[arg(required = true)]
    inputs: Vec<String>,
    /// Keep reading as the files grow, across rotations (rename or copytruncate), all
    /// inputs at once; quoted globs are matched again every second, so files that appear
    /// later (a new pod's log) are followed too.
    #[arg(long)]
    follow: bool,
    /// Line format: auto (per line), tutor, json, docker or cri.
    #[arg(long, default_value = "auto")]
    format: LineFormat,
    /// Parse and count; insert nothing.
    #[arg(long)]
    dry_run: bool,
    /// Write rejected lines to this file.
    #[arg(long, value_name = "FILE")]
    rejects: Option<PathBuf>,
    /// Rows per insert, at most (they are held compressed, about 12 MB per insert).
    #[arg(long, default_value_t = 200_000)]
    batch_rows: usize,
    /// Longest wait before a batch is inserted, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    flush_ms: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// On course-publish lines, re-import the course from this LMS (default: https://LMS_HOST
    /// when CAIRN_LMS_CLIENT_ID is set; otherwise publishes are only reported).
    #[arg(long, value_name = "URL")]
    lms_url: Option<String>,
    /// Seconds to wait after a course's last publish before re-importing it.
    #[arg(long, default_value_t = 30)]
    publish_debounce: u64,
}

/// Runs an ingestion from the command line; SIGINT/SIGTERM stop a follow run cleanly.
pub fn ingest(args: &IngestArgs, config: &Config) -> ExitCode {
    ingest_with(args, config, None)
}

/// [`ingest`], running `background` beside a follow run (not a one-off or dry run).
pub fn ingest_with(
    args: &IngestArgs,
    config: &Config,
    background: Option<cairn_core::Background>,
) -> ExitCode {
    let inputs = match expand_inputs(&args.inputs, args.follow) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("cairn ingest: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = IngestOptions {
        format: args.format,
        batch_rows: args.batch_rows,
        flush_interval: Duration::from_millis(args.flush_ms),
        follow: args.follow,
        dry_run: args.dry_run,
        rejects: args.rejects.clone(),
        progress: true,
        retirement_key: config.retirement.key.clone(),
        ..IngestOptions::default()
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cairn ingest: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        let stop = opts.stop.clone();
        tokio::spawn(async move {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
            }
            eprintln!("cairn ingest: stopping…");
            stop.store(true, Ordering::Relaxed);
        });
        // A collector starts before (or while) ClickHouse is down: wait for it.
        let mut backoff = Duration::from_millis(200);
        let ch = loop {
            match ClickHouse::connect(&config.clickhouse).await {
                Ok(ch) => break ch,
                Err(e) if !opts.stop.load(Ordering::Relaxed) => {
                    eprintln!("cairn ingest: ClickHouse is not reachable ({e}); retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e),
            }
        };
        if let Some(task) = background.filter(|_| args.follow && !args.dry_run) {
            tokio::spawn(task(ch.clone()));
        }
        let lms_url = args.lms_url.clone().or_else(|| {
            (!config.lms.client_id.is_empty()).then(|| format!("https://{}", config.lms.host))
        });
        let hook: Box<dyn crate::ingest::PublishHook> = match lms_url {
            Some(url) if !args.dry_run => Box::new(
                crate::courses::LmsPublishHook::spawn(
                    ch.clone(),
                    tokio::runtime::Handle::current(),
                    &url,
                    &config.lms.client_id,
                    &config.lms.client_secret,
                    Duration::from_secs(args.publish_debounce),
                )
                .map_err(|e| cairn_core::Error::Other(e.to_string()))?,
            ),
            _ => Box::new(LogPublishes),
        };
        run_ingest(&ch, inputs, &opts, hook).await
    });
    match result {
        Ok(summary) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&summary).unwrap_or_default()
                );
            } else {
                eprintln!("{summary}");
            }
            if summary.unreadable.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("cairn ingest: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Arguments of `cairn import courses` / `cairn-import courses`.
#[derive(clap::Args, Debug)]
pub struct CoursesArgs {
    /// An exported course: a folder holding course.xml, or Studio's .tar.gz export.
    #[arg(long, value_name = "PATH", required_unless_present = "lms_url")]
    olx: Vec<PathBuf>,
    /// Read courses from this LMS's APIs instead (OAuth2 with CAIRN_LMS_CLIENT_ID/_SECRET).
    #[arg(long, value_name = "URL", conflicts_with = "olx")]
    lms_url: Option<String>,
    /// Import only these courses (repeatable); default: every course given.
    #[arg(long = "course-id", value_name = "KEY")]
    course_ids: Vec<String>,
}

/// Imports course structure into `course_blocks`.
pub fn import_courses(args: &CoursesArgs, config: &Config) -> ExitCode {
    use crate::courses::olx::{Limits, OlxError, open, read_course};
    // Read (and check) everything first: a bad export imports nothing.
    let mut courses = Vec::new();
    for path in &args.olx {
        match open(path, Limits::default()).and_then(|f| read_course(f.as_ref())) {
            Ok(c) if args.course_ids.is_empty() || args.course_ids.contains(&c.course_id) => {
                courses.push(c)
            }
            Ok(c) => eprintln!(
                "cairn import courses: {}: {} is not selected, skipped",
                path.display(),
                c.course_id
            ),
            Err(e) => {
                // An I/O error names its file already; the others name the export.
                match e {
                    OlxError::Io { .. } => eprintln!("cairn import courses: {e}"),
                    _ => eprintln!("cairn import courses: {}: {e}", path.display()),
                }
                return ExitCode::FAILURE;
            }
        }
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cairn import courses: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        let ch = ClickHouse::connect(&config.clickhouse).await?;
        for c in &courses {
            let v = crate::courses::write_course(&ch, &c.course_id, &c.blocks, "olx").await?;
            println!(
                "imported {} ({}): {} blocks, import version {v}",
                c.course_id,
                c.display_name,
                c.blocks.len()
            );
        }
        Ok::<_, cairn_core::Error>(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn import courses: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `cairn import answers`: the answers of `problem_check` events stored before Cairn
/// derived them (migration 0019), derived from their messages and stored.
pub fn backfill_answers(config: &Config) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cairn import answers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        let ch = ClickHouse::connect(&config.clickhouse).await?;
        crate::backfill::answers(&ch).await
    });
    match result {
        Ok(done) => {
            println!(
                "{} problem_check events had no answers stored; {} now have them (the others carry none)",
                done.read, done.answered
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cairn import answers: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Arguments of `cairn retention`.
#[derive(clap::Args, Debug)]
pub struct RetentionArgs {
    /// Months of events to keep (default: CAIRN_EVENTS_RETENTION_MONTHS).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    months: Option<u32>,
    /// List the partitions that would be dropped; drop nothing.
    #[arg(long)]
    dry_run: bool,
}

/// Runs `cairn retention`: drops the monthly partitions of `events` older than the
/// retention (whole months only).
pub fn retention(args: &RetentionArgs, config: &Config) -> ExitCode {
    let Some(months) = args.months.or(config.events_retention_months) else {
        eprintln!(
            "cairn retention: no retention set: give --months N or set CAIRN_EVENTS_RETENTION_MONTHS"
        );
        return ExitCode::from(2);
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cairn retention: {e}");
            return ExitCode::FAILURE;
        }
    };
    let today = chrono::Utc::now().date_naive();
    let result = rt.block_on(async {
        let ch = ClickHouse::connect(&config.clickhouse).await?;
        crate::retention::apply(&ch, today, months, args.dry_run).await
    });
    match result {
        Ok(dropped) => {
            let first = crate::retention::first_kept_month(today, months);
            let verb = if args.dry_run {
                "would drop"
            } else {
                "dropped"
            };
            for p in &dropped {
                println!("{verb} partition {} ({} events)", p.id, p.events);
            }
            println!(
                "retention {months} months: {} partitions {verb}, events from {}-{:02} on kept",
                dropped.len(),
                first / 100,
                first % 100
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cairn retention: {e}");
            ExitCode::FAILURE
        }
    }
}
