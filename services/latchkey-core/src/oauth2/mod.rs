//! OAuth 2.0 authorization-code grants (RFC 6749 section 4.1) beside OAuth 1.0a, under
//! the OAuth 2.0 Security Best Current Practice (RFC 9700): exact redirect URIs, PKCE
//! (RFC 7636), single-use codes, rotating refresh tokens with reuse detection.
//!
//! This module holds the rules that need no store: error words ([`error`]), the rows
//! ([`records`]), the storage contract ([`store`]), PKCE ([`pkce`]), scopes
//! ([`scope`]), client registration checks ([`client`]), the gate client secrets
//! are checked through ([`secret_checks`]) and lifetimes ([`policy`]).
//! The use cases live in `authority::oauth2_*`.
//!
//! Invariants kept across the module:
//! - codes and tokens are stored only as SHA-256 hashes ([`crate::secret::TokenHash`]);
//!   client secrets only as argon2 hashes;
//! - every grant (a "family") starts from one code; a code's second use, or a rotated
//!   refresh token's reuse, revokes the whole family;
//! - expiry is read from each row at use, so it never depends on the sweeper.

pub mod client;
pub mod error;
pub mod pkce;
pub mod policy;
pub mod records;
pub mod scope;
pub mod secret_checks;
pub mod store;

pub use error::{OAuth2Error, OAuth2Failure};
