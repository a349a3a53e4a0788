//! OAuth 2.0 authorization-code grants (RFC 6749 section 4.1) beside OAuth 1.0a, under
//! the OAuth 2.0 Security Best Current Practice (RFC 9700): exact redirect URIs, PKCE
//! (RFC 7636), single-use codes, rotating refresh tokens with reuse detection.
//!
//! - Rules that need no store: error words ([`error`]), PKCE ([`pkce`]), scopes
//!   ([`scope`]), client registration checks ([`client`]), the gate client secrets
//!   are checked through ([`secret_checks`]).
//! - Rows, storage contract and lifetimes: [`records`], [`store`], [`policy`].
//! - Use cases, as methods of [`crate::authority::Authority`]: client administration
//!   ([`clients`]), the authorization-code grant ([`grant`]), and what follows it:
//!   refresh, bearer validation, revocation, introspection, a user's grants
//!   ([`tokens`]).
//!
//! Invariants kept across the module:
//! - codes and tokens are stored only as SHA-256 hashes ([`crate::secret::TokenHash`]);
//!   client secrets only as digests (or, for rows from before those, argon2 hashes);
//! - every grant (a "family") starts from one code; a code's second use, or a rotated
//!   refresh token's reuse, revokes the whole family;
//! - expiry is read from each row at use, so it never depends on the sweeper.

pub mod client;
pub mod clients;
pub mod error;
pub mod grant;
pub mod pkce;
pub mod policy;
pub mod records;
pub mod scope;
pub mod secret_checks;
pub mod store;
pub mod tokens;

#[cfg(test)]
mod tests;

pub use error::{OAuth2Error, OAuth2Failure};
