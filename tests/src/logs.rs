//! The servers' log lines, kept in memory so a test can read what an operator would.
//!
//! One subscriber serves the whole test binary (tracing allows one global default per
//! process), so every test's lines land in the same buffer, in the order they were
//! written. A test therefore asserts only about values that are its own (its tokens,
//! its consumer key) and never that a line is absent in general; that keeps tests
//! independent of each other and of their order. Lines are JSON, as the service writes
//! them in production with `log.format = "json"`, so every field is quoted alike.

use std::io::Write;
use std::sync::{Mutex, Once, PoisonError};
use tracing_subscriber::EnvFilter;

/// Everything logged since the first server started. A std `Mutex`: it is held only
/// to append or copy bytes, never across an `.await`.
static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// INFO from everyone, as the service's default filter, and DEBUG from Latchkey's own
/// crates, so a secret logged at debug level is caught too.
const FILTER: &str =
    "info,latchkey_core=debug,latchkey_store=debug,latchkey_server=debug,latchkey_migrations=debug";

/// Installs the capturing subscriber; later calls do nothing. `RUST_LOG` is ignored so
/// the tests see the same lines wherever they run.
pub fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        // Fails only when another subscriber is already the global default; then the
        // lines go there and the log assertions fail, which says so loudly enough.
        let _ = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_env_filter(EnvFilter::new(FILTER))
            .with_writer(|| Appender)
            .try_init();
    });
}

/// Where the captured text ends now: pass it to [`captured_since`] later.
pub fn position() -> usize {
    lock().len()
}

/// Every line captured so far, from every test.
pub fn captured() -> String {
    captured_since(0)
}

/// The lines captured after `position` (from [`position`]), from every test.
pub fn captured_since(position: usize) -> String {
    let captured = lock();
    String::from_utf8_lossy(captured.get(position..).unwrap_or_default()).into_owned()
}

fn lock() -> std::sync::MutexGuard<'static, Vec<u8>> {
    // A test that panicked elsewhere must not hide the logs from the others.
    CAPTURED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Appends to [`CAPTURED`]. The formatter writes each event in one call, so lines from
/// parallel tests never interleave.
struct Appender;

impl Write for Appender {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        lock().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
