//! The core's OAuth 2.0 store traits on sea-orm, one module per table family:
//! clients, authorization codes, grants with their tokens.

pub(crate) mod clients;
pub(crate) mod codes;
pub(crate) mod tokens;
