//! Latchkey end to end: a real server per test on an ephemeral port, a real tonic
//! client, consumers that sign with an independent OAuth 1.0a library. Every scenario
//! runs on SQLite and on Postgres (see `on_both_backends!`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

/// Runs each listed `async fn(TestApp)` on both backends, each in its own database,
/// and cleans the database up even when the scenario fails.
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::run(latchkey_tests::Backend::Sqlite, super::$name).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::run(latchkey_tests::Backend::Postgres, super::$name).await;
                }
            )+
        }
    };
}

/// Runs each listed `async fn(TestApp)` on Postgres only, for what needs a database
/// server: several replicas on one database, or a database taken away.
macro_rules! on_postgres_only {
    ($($name:ident),+ $(,)?) => {
        mod postgres_only {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::run(latchkey_tests::Backend::Postgres, super::$name).await;
                }
            )+
        }
    };
}

/// As `on_both_backends!`, with the configuration changed by `$adjust` first; the
/// tests land in `$module` so a file may use this beside `on_both_backends!`.
macro_rules! on_both_backends_with {
    ($module:ident, $adjust:ident => $($name:ident),+ $(,)?) => {
        mod $module {
            mod sqlite {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        crate::run_with(latchkey_tests::Backend::Sqlite, super::super::$adjust, super::super::$name).await;
                    }
                )+
            }
            mod postgres {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        crate::run_with(latchkey_tests::Backend::Postgres, super::super::$adjust, super::super::$name).await;
                    }
                )+
            }
        }
    };
}

mod admin;
mod caching;
mod concurrency;
mod connections;
mod consumer_info;
mod dance;
mod ecosystem;
mod expiry;
mod hostile;
mod http;
mod oauth2;
mod oauth2_http;
mod operations;
mod problems;
mod revoke;
mod storage;
mod sweeping;
mod two_legged;
mod undecodable;
mod web;

use futures::FutureExt;
use latchkey_server::config::Config;
use latchkey_tests::app::spawn_app_with;
use latchkey_tests::{Backend, TestApp};

/// Starts an app, runs the scenario, removes the database, then re-raises any failure.
async fn run(backend: Backend, scenario: impl AsyncFnOnce(&TestApp)) {
    run_with(backend, |_| {}, scenario).await;
}

/// As [`run`], with the configuration adjusted first.
async fn run_with(
    backend: Backend,
    adjust: impl FnOnce(&mut Config),
    scenario: impl AsyncFnOnce(&TestApp),
) {
    let Some(app) = spawn_app_with(backend, adjust).await else {
        return;
    };
    let outcome = std::panic::AssertUnwindSafe(scenario(&app))
        .catch_unwind()
        .await;
    app.cleanup().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
