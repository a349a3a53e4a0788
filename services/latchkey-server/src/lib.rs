//! The `latchkey` service: configuration, start-up, the gRPC layer and the command
//! line, around the domain core in `latchkey-core` and the store in `latchkey-store`.
//!
//! - [`config`]: figment configuration (defaults, `latchkey.toml`, `LATCHKEY_*`).
//! - [`startup`]: builds the [`startup::Application`] from a configuration.
//! - [`grpc`]: thin translators between `latchkey.v1` and the core.
//! - [`cli`]: the `latchkey` command line.

pub mod cli;
pub mod config;
pub mod grpc;
pub mod shutdown;
pub mod startup;
pub mod telemetry;
