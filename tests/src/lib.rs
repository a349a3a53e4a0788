//! Support for Latchkey's end-to-end tests: a real server per test on an ephemeral
//! port, over its own SQLite file or its own Postgres database, with a moveable clock;
//! tonic clients; and a consumer that signs with an independent OAuth 1.0a client
//! library (`oauth1-request`), not with Latchkey's own code.
//!
//! Postgres comes from `LATCHKEY_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). When it cannot be reached the Postgres
//! tests are skipped with a loud note, unless `CI=true`: then they fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

pub mod app;
pub mod consumer;
pub mod flows;
pub mod http;
pub mod logs;
pub mod oauth2;

pub use app::{Backend, TestApp, spawn_app};
pub use consumer::{Extras, TestConsumer};

use tonic::Code;
use tonic_types::StatusExt;

/// Asserts a failed call's gRPC code and OAuth problem word (both the ErrorInfo
/// reason and the `oauth-problem` metadata).
#[track_caller]
pub fn assert_problem<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
    code: Code,
    problem: &str,
) -> tonic::Status {
    let status = result.expect_err("the call should have failed");
    assert_eq!(status.code(), code, "wrong code for {problem}: {status:?}");
    let reason = status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone());
    assert_eq!(
        reason.as_deref(),
        Some(problem),
        "wrong problem in {status:?}"
    );
    assert_eq!(
        status
            .metadata()
            .get("oauth-problem")
            .and_then(|v| v.to_str().ok()),
        Some(problem)
    );
    status
}
