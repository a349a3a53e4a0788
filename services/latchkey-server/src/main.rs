//! The `latchkey` binary: parses arguments and hands over to [`latchkey_server::cli`].
//!
//! The runtime is built here rather than by `#[tokio::main]` so that its drop is
//! bounded: the process exits on time at the end of the grace period even if some
//! task still runs.

use clap::Parser;
use std::time::Duration;

/// How long the runtime may take to stop once `run` has returned.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(1);

fn main() -> std::process::ExitCode {
    let cli = latchkey_server::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("latchkey: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(latchkey_server::cli::run(cli));
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("latchkey: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
