//! The `latchkey.v1` wire types, generated from `proto/` at build time.
//!
//! Both the server and its clients (the end-to-end tests, the load generator) depend on
//! this crate, so the contract lives in exactly one place.

pub mod codec;

/// Messages and services of package `latchkey.v1`.
#[allow(missing_docs, clippy::all)]
pub mod v1 {
    tonic::include_proto!("latchkey.v1");
}

/// The encoded `FileDescriptorSet` of every Latchkey proto, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("latchkey_descriptor");
