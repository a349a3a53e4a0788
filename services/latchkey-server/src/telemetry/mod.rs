//! Logging set-up: text or JSON lines on stdout, filtered by `RUST_LOG` or the
//! configured filter. Nothing logs a token or secret value: handlers log the RPC name,
//! outcome and problem word, and the core's error details carry no secrets.
//!
//! Every RPC logs a line, so the write must cost the caller neither a system call nor
//! a thread wake-up: lines are formatted where they happen and gathered in batches for
//! one writer thread ([`batched`]). When that thread falls behind, callers wait rather
//! than lose lines. The returned guard writes what is left when the process stops.

mod batched;

pub use batched::BatchedGuard;

use crate::config::{LogConfig, LogFormat};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber; a second call installs nothing. Keep the guard for
/// as long as the process logs: dropping it flushes and stops the writer thread.
pub fn init(config: &LogConfig) -> std::io::Result<BatchedGuard> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Database drivers log statements at debug level with their bound values; keep
    // them quiet whatever the filter says.
    let filter = filter
        .add_directive("sqlx=warn".parse().unwrap_or_default())
        .add_directive("sea_orm=warn".parse().unwrap_or_default());
    let (writer, guard) = batched::batched(std::io::stdout(), "latchkey-log")?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    // `try_init` also forwards the `log` crate's records (rustls logs through it).
    let _ = subscriber(config.format, filter, writer, ansi).try_init();
    Ok(guard)
}

/// The subscriber [`init`] installs for `format`, writing through `writer`; public so
/// that the bench's `log_loop` example counts the same formatting.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    match format {
        // `json-subscriber` writes the same objects as `tracing-subscriber`'s JSON
        // format for about two thirds of the work: it keeps each span's fields
        // serialized rather than parsing them again for every line. The span list would
        // only repeat the one span every call has (`request`, with its `request_id`).
        LogFormat::Json => Box::new(
            json_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(writer)
                .flatten_event(true)
                .with_span_list(false)
                .finish(),
        ),
        LogFormat::Text => Box::new(
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(ansi)
                .with_writer(writer)
                .finish(),
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Lines written, shared with the test.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn one_call_logged(format: LogFormat) -> String {
        let lines = Lines::default();
        let writer = {
            let lines = lines.clone();
            move || lines.clone()
        };
        let subscriber = subscriber(format, EnvFilter::new("info"), writer, false);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", request_id = "req-7");
            span.in_scope(|| {
                tracing::debug!(rpc = "ValidateAccess", "below the filter");
                tracing::info!(
                    rpc = "ValidateAccess",
                    code = "OK",
                    elapsed_ms = 0.25,
                    "rpc"
                );
            });
        });
        String::from_utf8(lines.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn a_json_line_is_one_object_with_the_fields_flat_and_the_request_id_under_span() {
        let text = one_call_logged(LogFormat::Json);
        assert_eq!(text.lines().count(), 1, "{text}");
        let line: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "rpc");
        assert_eq!(line["rpc"], "ValidateAccess");
        assert_eq!(line["code"], "OK");
        assert_eq!(line["elapsed_ms"], 0.25);
        assert_eq!(line["span"]["name"], "request");
        assert_eq!(line["span"]["request_id"], "req-7");
        assert!(
            line.get("spans").is_none(),
            "no list repeating the one span"
        );
        assert!(line["timestamp"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn a_text_line_carries_the_same_fields() {
        let text = one_call_logged(LogFormat::Text);
        assert_eq!(text.lines().count(), 1, "{text}");
        for part in [
            "INFO",
            "request_id=\"req-7\"",
            "rpc=\"ValidateAccess\"",
            "elapsed_ms=0.25",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
    }
}
