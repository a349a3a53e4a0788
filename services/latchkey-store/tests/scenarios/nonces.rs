//! Nonces: one use per consumer, even under a race.

use crate::support::*;
use latchkey_core::store::{Store, StoreError};
use std::sync::Arc;

pub async fn a_nonce_is_accepted_once_per_consumer_and_refused_for_an_unknown_one(
    store: Arc<SeaStore>,
) {
    insert_consumer(&store, "c-1").await;
    insert_consumer(&store, "c-2").await;
    assert!(store.use_nonce(&nonce("c-1", "abc"), now()).await.unwrap());
    assert!(!store.use_nonce(&nonce("c-1", "abc"), now()).await.unwrap());
    assert!(store.use_nonce(&nonce("c-2", "abc"), now()).await.unwrap());
    assert!(store.use_nonce(&nonce("c-1", "abd"), now()).await.unwrap());
    // The foreign key is enforced on every pooled connection, and the error does not
    // quote the offending values (Postgres puts them in DETAIL, which is left out).
    let err = store
        .use_nonce(&nonce("ghost-consumer", "abc"), now())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Internal(_)), "{err:?}");
    assert!(!err.to_string().contains("ghost-consumer"), "{err}");
}

pub async fn twenty_concurrent_uses_of_one_nonce_admit_exactly_one(store: Arc<SeaStore>) {
    insert_consumer(&store, "c-1").await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.use_nonce(&nonce("c-1", "race"), now()).await })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 1);
    assert_eq!(count_rows(&store, "nonces").await, 1);
}
