//! The scenarios, one module per area of the store. Each takes a migrated, empty
//! store of its own.

pub mod access_tokens;
pub mod consumers;
pub mod nonces;
pub mod oauth2;
pub mod request_tokens;
pub mod sqlite_file;
pub mod sweeping;
