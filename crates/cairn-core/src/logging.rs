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
    let var = |k: &str| std::env::var(k).ok();
    settings(
        var("CAIRN_LOG").as_deref(),
        var("RUST_LOG").as_deref(),
        var("CAIRN_LOG_FORMAT").as_deref(),
    )
}

/// The filter and format for these values of `CAIRN_LOG`, `RUST_LOG` and
/// `CAIRN_LOG_FORMAT` (pure).
pub fn settings(
    cairn_log: Option<&str>,
    rust_log: Option<&str>,
    format: Option<&str>,
) -> Result<(EnvFilter, Format), String> {
    let given = |v: Option<&str>| v.filter(|v| !v.trim().is_empty()).map(str::to_owned);
    let (name, directives) = match (given(cairn_log), given(rust_log)) {
        (Some(v), _) => ("CAIRN_LOG", v),
        (None, Some(v)) => ("RUST_LOG", v),
        (None, None) => ("CAIRN_LOG", "info".to_owned()),
    };
    let filter = EnvFilter::builder()
        .parse(&directives)
        .map_err(|e| format!("invalid {name}={directives:?}: {e}"))?;
    let format = match format {
        Some("json") => Format::Json,
        Some("text") | Some("") | None => Format::Text,
        Some(other) => {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_cairn_log_then_rust_log() {
        let (f, fmt) = settings(None, None, None).unwrap();
        assert_eq!(f.to_string(), "info");
        assert_eq!(fmt, Format::Text);
        let (f, _) = settings(Some("debug"), Some("warn"), None).unwrap();
        assert_eq!(f.to_string(), "debug");
        let (f, fmt) = settings(Some(" "), Some("cairn_serve=debug,warn"), Some("json")).unwrap();
        assert_eq!(f.to_string(), "cairn_serve=debug,warn");
        assert_eq!(fmt, Format::Json);
    }

    #[test]
    fn invalid_settings_name_the_setting() {
        let e = settings(None, None, Some("xml")).unwrap_err();
        assert!(e.starts_with("invalid CAIRN_LOG_FORMAT=\"xml\""), "{e}");
        let e = settings(Some("=="), None, None).unwrap_err();
        assert!(e.starts_with("invalid CAIRN_LOG=\"==\""), "{e}");
    }
}
