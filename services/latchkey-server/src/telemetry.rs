//! Logging set-up: text or JSON lines on stdout, filtered by `RUST_LOG` or the
//! configured filter. Nothing logs a token or secret value: handlers log the RPC name,
//! outcome and problem word, and the core's error details carry no secrets.
//!
//! Every RPC logs a line, so the write must not cost the caller a system call: lines
//! are formatted where they happen and handed to one writer thread, which writes them
//! through a buffer and flushes whenever it has caught up. When that thread falls
//! behind, callers wait rather than lose lines. The returned guard flushes what is
//! left when the process stops.

use crate::config::{LogConfig, LogFormat};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// How much the writer thread gathers before a write; it also writes whenever it has
/// caught up with the callers.
const LOG_BUFFER_BYTES: usize = 64 * 1024;

/// Lines waiting for the writer thread before callers wait. The queue is allocated
/// up front, so it is kept small enough for the idle memory budget.
const LOG_QUEUE_LINES: usize = 8 * 1024;

/// Installs the global subscriber; a second call installs nothing. Keep the guard for
/// as long as the process logs: dropping it flushes and stops the writer thread.
pub fn init(config: &LogConfig) -> WorkerGuard {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Database drivers log statements at debug level with their bound values; keep
    // them quiet whatever the filter says.
    let filter = filter
        .add_directive("sqlx=warn".parse().unwrap_or_default())
        .add_directive("sea_orm=warn".parse().unwrap_or_default());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let (writer, guard) = NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .lossy(false)
        .thread_name("latchkey-log")
        .finish(std::io::BufWriter::with_capacity(
            LOG_BUFFER_BYTES,
            std::io::stdout(),
        ));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    let _ = match config.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    guard
}
