//! The `latchkey` binary: parses arguments and hands over to [`latchkey_server::cli`].

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = latchkey_server::cli::Cli::parse();
    match latchkey_server::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("latchkey: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
