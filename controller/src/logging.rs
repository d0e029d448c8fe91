//! Logs: the tracing subscriber the binary installs (text or JSON lines on stderr, filtered by
//! `RUST_LOG`-style directives), and [`LogControl`], the handle that changes the filter while
//! the process runs (the admin listener's `/log/level`, STYLE item 17).
//!
//! stdout is left for data (the access log); every log line goes to stderr.

use std::fmt;

use anyhow::Context as _;
use clap::ValueEnum;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _, Registry, reload};

/// How log lines are written (`--log-format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (`2026-01-01T00:00:00Z  INFO strait: message key=value`); colours
    /// only when stderr is a terminal.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, the event's fields (`message`
    /// included) at the top level, and the current span.
    Json,
}

/// Changes the log filter of the running process. Cheap to clone.
#[derive(Clone)]
pub struct LogControl {
    handle: reload::Handle<EnvFilter, Registry>,
}

impl fmt::Debug for LogControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("LogControl");
        match self.current() {
            Ok(filter) => debug.field("filter", &filter),
            Err(_) => debug.field("filter", &"<subscriber gone>"),
        };
        debug.finish()
    }
}

/// Why a filter change was refused.
#[derive(Debug, thiserror::Error)]
pub enum LogControlError {
    /// The directives do not parse; the filter in force is unchanged.
    #[error("invalid log filter `{directives}`: {source}")]
    Invalid {
        directives: String,
        source: tracing_subscriber::filter::ParseError,
    },
    /// No filter was given.
    #[error("empty log filter (expected e.g. `info` or `info,strait_proxy=debug`)")]
    Empty,
    /// The subscriber the handle controlled no longer exists.
    #[error("the log subscriber is gone: {0}")]
    Gone(#[from] reload::Error),
}

impl LogControl {
    /// A reloadable filter layer and its handle, starting from `filter`. The layer must sit
    /// directly on a [`Registry`]; the handle works for as long as the layer lives.
    pub fn new(filter: EnvFilter) -> (reload::Layer<EnvFilter, Registry>, Self) {
        let (layer, handle) = reload::Layer::new(filter);
        (layer, Self { handle })
    }

    /// The filter in force, in `RUST_LOG` syntax.
    pub fn current(&self) -> Result<String, LogControlError> {
        Ok(self.handle.with_current(ToString::to_string)?)
    }

    /// Replaces the filter with `directives` (`RUST_LOG` syntax, e.g. `debug` or
    /// `info,strait_proxy=debug`). Returns the filter now in force. An invalid or empty filter
    /// changes nothing.
    pub fn set(&self, directives: &str) -> Result<String, LogControlError> {
        let directives = directives.trim();
        if directives.is_empty() {
            return Err(LogControlError::Empty);
        }
        let filter = EnvFilter::try_new(directives).map_err(|source| LogControlError::Invalid {
            directives: directives.to_owned(),
            source,
        })?;
        let before = self.current()?;
        self.handle.reload(filter)?;
        let now = self.current()?;
        tracing::info!(%before, %now, "log filter changed");
        Ok(now)
    }
}

/// The filter `--log` asks for, else `RUST_LOG`, else `info`.
pub fn initial_filter(log: Option<&str>) -> anyhow::Result<EnvFilter> {
    match log {
        Some(directives) => EnvFilter::try_new(directives).context("invalid --log filter"),
        None => Ok(EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new("info"))?),
    }
}

/// Installs the process-wide subscriber: the filter from [`initial_filter`], lines in `format`
/// on stderr. Returns the handle that changes the filter later.
pub fn install(format: LogFormat, log: Option<&str>) -> anyhow::Result<LogControl> {
    let (filter, control) = LogControl::new(initial_filter(log)?);
    let lines = match format {
        LogFormat::Text => {
            // Colours only on a terminal, so captured logs stay greppable.
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(ansi)
                .boxed()
        }
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .try_init()
        .context("installing the log subscriber")?;
    Ok(control)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handle whose layer is kept alive by the caller (never installed as the global
    /// subscriber, so tests do not interfere with each other).
    fn control(filter: &str) -> (reload::Layer<EnvFilter, Registry>, LogControl) {
        LogControl::new(EnvFilter::try_new(filter).expect("valid"))
    }

    #[test]
    fn the_filter_can_be_read_and_replaced() {
        let (_layer, control) = control("info");
        assert_eq!(control.current().unwrap(), "info");
        assert_eq!(
            control.set(" info,strait_proxy=debug\n").unwrap(),
            control.current().unwrap()
        );
        let now = control.current().unwrap();
        assert!(now.contains("strait_proxy=debug"), "{now}");
        assert!(format!("{control:?}").contains("strait_proxy=debug"));
    }

    #[test]
    fn an_invalid_or_empty_filter_changes_nothing() {
        let (_layer, control) = control("warn");
        let err = control.set("strait=loud").expect_err("invalid level");
        assert!(matches!(err, LogControlError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains("strait=loud"), "{err}");
        assert!(matches!(control.set("  "), Err(LogControlError::Empty)));
        assert_eq!(control.current().unwrap(), "warn");
    }

    #[test]
    fn a_handle_without_its_layer_reports_the_subscriber_gone() {
        let (layer, control) = control("info");
        drop(layer);
        assert!(matches!(
            control.set("debug"),
            Err(LogControlError::Gone(_))
        ));
    }
}
