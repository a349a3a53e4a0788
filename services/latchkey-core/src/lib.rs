//! Latchkey's domain core: the OAuth 1.0a service-provider and OAuth 2.0
//! authorization-code rules, tokens, policies
//! and the contracts ([`store::Store`], [`clock::Clock`], [`secret::Randomness`]) that
//! the outer layers fulfil.
//!
//! Each protocol has its own folder, holding its wire rules, rows, store contract,
//! policy and use cases: [`oauth1`] and [`oauth2`]. What both share sits at the root:
//! the [`authority::Authority`] and its callers, the store's sum and errors, the change
//! feed, the record cache, secrets, the clock, the argon2 pool, and the shared policy
//! with the bounds every value is checked against ([`policy`], [`bounds`]).
//!
//! This crate knows nothing of gRPC, HTTP or SQL: the wire layers translate into it and
//! the store crate implements its traits. Time and randomness come in through traits,
//! so every expiry and every token is testable without sleeping.

pub mod argon2_pool;
pub mod authority;
pub mod bounds;
pub mod change_feed;
pub mod cipher;
pub mod clock;
pub mod credentials;
pub mod error;
pub mod oauth1;
pub mod oauth2;
pub mod policy;
pub mod record_cache;
pub mod records;
pub mod secret;
pub mod store;
pub mod sweep;
#[cfg(test)]
pub(crate) mod testing;

pub use error::{AuthorityError, AuthorityResult, OAuthFailure, Problem, StoreError};
