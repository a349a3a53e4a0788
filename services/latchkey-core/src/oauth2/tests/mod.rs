//! The OAuth 2.0 use cases, each rule tested against the in-memory store and a test
//! clock ([`crate::testing`]), one file per use-case file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod clients;
mod grant;
mod tokens;
