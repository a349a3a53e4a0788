//! Logging set-up: text or JSON lines on stdout, filtered by `RUST_LOG` or the
//! configured filter. Nothing logs a token or secret value: handlers log the RPC name,
//! outcome and problem word, and the core's error details carry no secrets.

use crate::config::{LogConfig, LogFormat};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; a second call does nothing.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Database drivers log statements at debug level with their bound values; keep
    // them quiet whatever the filter says.
    let filter = filter
        .add_directive("sqlx=warn".parse().unwrap_or_default())
        .add_directive("sea_orm=warn".parse().unwrap_or_default());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    let _ = match config.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
