//! The `latchkey` service: configuration, start-up, the gRPC layer and the command
//! line, around the domain core in `latchkey-core` and the store in `latchkey-store`.
//!
//! - [`config`]: figment configuration (defaults, `latchkey.toml`, `LATCHKEY_*`).
//! - [`startup`]: builds the [`startup::Application`] from a configuration.
//! - [`grpc`]: thin translators between `latchkey.v1` and the core.
//! - [`http`]: Jira's OAuth 1.0a endpoints over HTTP, over the same core.
//! - [`gate`]: the one credential gate every listener asks who is calling.
//! - [`scheduler`]: runs the core's sweeper on cron schedules.
//! - [`operations`], [`call_limit`], [`first_byte`], [`health`], [`metrics`], [`request_id`], [`tls`],
//!   [`telemetry`]: what operators and the gRPC ecosystem expect around the service
//!   (limits, health, Prometheus, request ids, TLS, logs).
//! - [`outbound`]: the bounded fetches Latchkey makes of other applications.
//! - [`shutdown`]: the one stop signal everything listens to.
//! - [`web`]: the built-in consent, "My authorizations" and administration pages.
//! - [`cli`]: the `latchkey` command line.

pub mod call_limit;
pub mod cli;
pub mod config;
pub mod first_byte;
pub mod gate;
pub mod grpc;
pub mod health;
pub mod http;
pub mod metrics;
pub mod operations;
pub mod outbound;
pub mod request_id;
pub mod scheduler;
pub mod shutdown;
pub mod startup;
pub mod telemetry;
pub mod tls;
pub mod web;
