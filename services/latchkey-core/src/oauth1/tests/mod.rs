//! The OAuth 1.0a use cases, each rule tested against the in-memory store and a
//! test clock ([`crate::testing`]), one file per use-case file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access;
mod consumer_revoke;
mod consumers;
mod dance;
mod two_legged;
mod verify;

use crate::oauth1::dance::IssuedRequestToken;
use crate::oauth1::records::{AccessTokenRecord, RequestTokenRecord};
use crate::secret::TokenHash;
use crate::testing::MemoryStore;
use secrecy::ExposeSecret;

/// The stored row of an issued request token.
fn stored_request_token(store: &MemoryStore, issued: &IssuedRequestToken) -> RequestTokenRecord {
    let hash = TokenHash::of(issued.token.expose_secret());
    store
        .read(|t| {
            t.request_tokens
                .values()
                .find(|token| token.token_hash == hash)
                .cloned()
        })
        .expect("the request token is stored")
}

/// The stored row of an access token.
fn stored_access_token(store: &MemoryStore, id: uuid::Uuid) -> AccessTokenRecord {
    store
        .read(|t| t.access_tokens.get(&id).cloned())
        .expect("the access token is stored")
}
