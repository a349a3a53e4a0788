//! sea-orm entities: the tables as the store reads and writes them today.
//!
//! They mirror the migrations but are never used by them (migrations are history;
//! these are the present). Times are `i64` milliseconds since the Unix epoch and
//! secrets are sealed bytes; `oauth1::rows` and each OAuth 2.0 table module turn rows
//! into the core's records.
//! Entities carry no behaviour: no entity saves itself.

pub mod access_tokens;
pub mod audit_log;
pub mod consumers;
pub mod nonces;
pub mod oauth2_clients;
pub mod oauth2_codes;
pub mod oauth2_grants;
pub mod oauth2_tokens;
pub mod request_tokens;
