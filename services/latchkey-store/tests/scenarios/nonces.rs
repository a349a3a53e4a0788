//! Nonces: one use per consumer, even under a race.

use crate::support::*;
use latchkey_core::error::StoreError;
use latchkey_core::oauth1::store::{ConsumerStore, NonceStore};
use latchkey_core::store::Store;
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

/// Many validations at once share one write (see the store's nonces module): each
/// nonce still goes to exactly one of its users, and a bad nonce in the crowd (its
/// consumer unknown) fails alone.
pub async fn a_crowd_of_concurrent_nonces_admits_exactly_one_use_of_each(store: Arc<SeaStore>) {
    insert_consumer(&store, "c-1").await;
    insert_consumer(&store, "c-2").await;
    let tasks: Vec<_> = (0..400)
        .map(|i| {
            let store = store.clone();
            let consumer = if i % 2 == 0 { "c-1" } else { "c-2" };
            // 40 nonces per consumer, each used five times.
            let record = nonce(consumer, &format!("crowd-{}", i % 80));
            tokio::spawn(async move { (record.clone(), store.use_nonce(&record, now()).await) })
        })
        .collect();
    let ghost = {
        let store = store.clone();
        tokio::spawn(async move { store.use_nonce(&nonce("ghost-consumer", "x"), now()).await })
    };
    let mut admitted = std::collections::HashMap::new();
    for task in tasks {
        let (record, used) = task.await.unwrap();
        if used.unwrap() {
            *admitted
                .entry((record.consumer_key, record.nonce))
                .or_insert(0) += 1;
        }
    }
    assert_eq!(admitted.len(), 80, "every distinct nonce admitted once");
    assert!(admitted.values().all(|&uses| uses == 1), "{admitted:?}");
    assert!(matches!(ghost.await.unwrap(), Err(StoreError::Internal(_))));
    assert_eq!(count_rows(&store, "nonces").await, 80);
}

/// The nonce writers keep connections between batches only when the pool can spare
/// them: a store with a one- or two-connection pool still spends nonces and still
/// answers everything else, with nonce writes going on beside it.
pub async fn a_small_pool_still_serves_nonces_and_everything_else(store: Arc<SeaStore>, url: &str) {
    insert_consumer(&store, "c-1").await;
    for size in [1, 2] {
        let small = Arc::new(SeaStore::connect(url, size).await.unwrap());
        let spends: Vec<_> = (0..50)
            .map(|i| {
                let small = small.clone();
                let record = nonce("c-1", &format!("pool-{size}-{i}"));
                tokio::spawn(async move { small.use_nonce(&record, now()).await })
            })
            .collect();
        // Answered within the pool's 1 s acquire timeout: a writer holding the only
        // connection would leave this read waiting for it, then failing.
        let read =
            tokio::time::timeout(std::time::Duration::from_secs(5), small.get_consumer("c-1"))
                .await
                .expect("a read beside the nonce writers is answered");
        assert!(read.unwrap().is_some());
        for spend in spends {
            assert!(spend.await.unwrap().unwrap(), "pool of {size}");
        }
        assert!(
            tokio::time::timeout(std::time::Duration::from_secs(5), small.ping())
                .await
                .expect("the pool answers after the spends")
                .is_ok()
        );
    }
    assert_eq!(count_rows(&store, "nonces").await, 100);
}
