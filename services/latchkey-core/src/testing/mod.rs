//! What the use-case unit tests run on instead of a server and a database: an
//! in-memory [`MemoryStore`] that keeps every store trait's contract.

pub(crate) mod memory_store;

pub(crate) use memory_store::MemoryStore;
