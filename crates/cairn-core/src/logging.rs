//! The binaries' log: a `tracing` subscriber writing to stderr.
//!
//! What is logged: `CAIRN_LOG`, else `RUST_LOG` (filter directives such as `info`,
//! `debug` or `cairn_serve=debug,warn`), else `info`. How: `CAIRN_LOG_FORMAT=json` for one
//! JSON object per line, otherwise text. Log lines never carry a secret: callers log
//! causes and names, never passwords or tokens.

use tracing_subscriber::EnvFilter;

/// The log's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The filter directives and the format from the environment (see the module doc), or an
/// error naming the setting and its value.
pub fn settings_from_env() -> Result<(EnvFilter, Format), String> {
    let (name, directives) = match std::env::var("CAIRN_LOG") {
        Ok(v) if !v.trim().is_empty() => ("CAIRN_LOG", v),
        _ => match std::env::var("RUST_LOG") {
            Ok(v) if !v.trim().is_empty() => ("RUST_LOG", v),
            _ => ("CAIRN_LOG", "info".to_owned()),
        },
    };
    let filter = EnvFilter::builder()
        .parse(&directives)
        .map_err(|e| format!("invalid {name}={directives:?}: {e}"))?;
    let format = match std::env::var("CAIRN_LOG_FORMAT").as_deref() {
        Ok("json") => Format::Json,
        Ok("text") | Ok("") | Err(_) => Format::Text,
        Ok(other) => {
            return Err(format!(
                "invalid CAIRN_LOG_FORMAT={other:?}: expected text or json"
            ));
        }
    };
    Ok((filter, format))
}

/// Installs the subscriber (once per process; later calls do nothing). An invalid setting
/// is an error naming it, for the binary to print before exiting.
pub fn init() -> Result<(), String> {
    let (filter, format) = settings_from_env()?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        Format::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        Format::Json => builder.json().with_ansi(false).try_init(),
    };
    Ok(())
}
