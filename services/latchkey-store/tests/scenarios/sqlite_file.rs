//! A SQLite file: every write of the process goes through one connection, and the
//! write-ahead log still starts again from its beginning.

use crate::support::*;
use latchkey_core::oauth1::store::NonceStore;
use std::sync::Arc;

pub async fn concurrent_writes_of_every_kind_queue_for_the_one_writer_and_all_land(
    store: Arc<SeaStore>,
    _url: &str,
) {
    insert_consumer(&store, "c-queue").await;
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..40 {
        let store = store.clone();
        writes.spawn(async move {
            let key = format!("c-queue-{i}");
            insert_consumer(&store, &key).await;
            let spent = store
                .use_nonce(&nonce("c-queue", &format!("n-{i}")), now())
                .await
                .unwrap();
            assert!(spent, "nonce {i} was refused");
            store.delete_expired_nonces(now(), 10).await.unwrap();
        });
    }
    while let Some(done) = writes.join_next().await {
        done.unwrap();
    }
    assert_eq!(count_rows(&store, "consumers").await, 41);
    assert_eq!(count_rows(&store, "nonces").await, 40);
}

pub async fn the_log_starts_again_under_a_steady_stream_of_writes(store: Arc<SeaStore>, url: &str) {
    insert_consumer(&store, "c-stream").await;
    // One at a time, so that each spend is a commit of its own: at least one logged
    // page (4 KiB and a header) each, 20 MiB in all.
    const COMMITS: usize = 5_000;
    for i in 0..COMMITS {
        let spent = store
            .use_nonce(&nonce("c-stream", &format!("n-{i}")), now())
            .await
            .unwrap();
        assert!(spent);
    }
    let (path, _) = url.split_once('?').unwrap();
    let log = format!("{}-wal", path.trim_start_matches("sqlite://"));
    let log_bytes = std::fs::metadata(&log).unwrap().len();
    // The file is as long as the most the log ever held before it started again.
    assert!(
        log_bytes < 10 << 20,
        "the write-ahead log grew to {log_bytes} bytes over {COMMITS} commits"
    );
}
