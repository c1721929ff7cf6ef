//! Logging setup: tracing with text or JSON lines, filtered by `log.level`
//! (or `RUST_LOG` when set).

use postroom_core::config::{LogFormat, LogSettings};
use tracing_subscriber::EnvFilter;

/// Install the global subscriber. Call once, from `main`.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only on a terminal; files and journals get plain `key=value`.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match settings.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
        LogFormat::Text => builder.init(),
    }
}
