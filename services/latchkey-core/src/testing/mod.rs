//! What the use-case unit tests run on instead of a server and a database: an
//! in-memory [`MemoryStore`] that keeps every store trait's contract, a [`Fixture`]
//! that wires an [`crate::authority::Authority`] to it with a test clock, and a
//! consumer that signs with `oauth1-request`, an OAuth 1.0a client written
//! independently of Latchkey, so a passing test shows the rules hold for a real
//! client rather than that the core agrees with itself.

pub(crate) mod consumer;
pub(crate) mod fixture;
pub(crate) mod memory_store;
pub(crate) mod oauth2_flow;
pub(crate) mod refusals;

pub(crate) use consumer::{Extras, Signer, TestConsumer};
pub(crate) use fixture::{
    Access, CONSUMER_SECRET, Fixture, USER, admin, frontend, query_parameter, service,
};
pub(crate) use memory_store::MemoryStore;
pub(crate) use oauth2_flow::{Client, REDIRECT_URI, VERIFIER, value};
