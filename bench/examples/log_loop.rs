//! Logs one typical call N times (the first argument, 10,000 by default) as the server
//! does, a `request` span with its `request_id` around one `rpc` line, formatted by the
//! server's own JSON subscriber into a sink, for counting instructions with callgrind.
//! With `tracing-subscriber` as the second argument, the line is formatted the way
//! the server did before `json-subscriber` (its JSON format with the span list), to
//! compare the two:
//!
//! ```text
//! cargo build --release -p latchkey-bench --example log_loop
//! valgrind --tool=callgrind target/release/examples/log_loop 11000
//! valgrind --tool=callgrind target/release/examples/log_loop 1000   # subtract
//! ```
//!
//! Writing the lines is left out: that cost is the writer thread's, in context
//! switches more than instructions.

use latchkey_server::config::LogFormat;
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    let times: usize = match std::env::args().nth(1) {
        Some(given) => given.parse()?,
        None => 10_000,
    };
    let subscriber = match std::env::args().nth(2).as_deref() {
        Some("tracing-subscriber") => Box::new(
            tracing_subscriber::fmt()
                .with_env_filter(EnvFilter::new("info"))
                .with_writer(std::io::sink)
                .json()
                .flatten_event(true)
                .finish(),
        ),
        None => latchkey_server::telemetry::subscriber(
            LogFormat::Json,
            EnvFilter::new("info"),
            std::io::sink,
            false,
        ),
        Some(other) => anyhow::bail!("unknown formatter {other}"),
    };
    tracing::subscriber::with_default(subscriber, || {
        for n in 0..times {
            let request_id = format!("6f1c2a4e-9b7d-4c3e-8a21-{n:012x}");
            let span = tracing::info_span!("request", request_id = %request_id);
            span.in_scope(|| {
                let elapsed_ms = 0.125;
                tracing::info!(rpc = "ValidateAccess", code = "OK", elapsed_ms, "rpc");
            });
        }
    });
    println!("{times} calls logged");
    Ok(())
}
