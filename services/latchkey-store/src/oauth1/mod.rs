//! The core's OAuth 1.0a store traits on sea-orm, one module per table family:
//! consumers, nonces, request tokens (with the Postgres-only statements of the dance),
//! access tokens; and their row conversions.

pub(crate) mod access_tokens;
pub(crate) mod consumers;
pub(crate) mod dance_statements;
pub(crate) mod nonces;
pub(crate) mod request_tokens;
pub(crate) mod rows;
