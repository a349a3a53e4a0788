//! Sweeping: the batched deletes select exactly what they name and no more, nonces
//! are forgotten only when their window has passed, recorded uses and policy cuts
//! behave, the sweep lock keeps replicas apart, and two sweepers on one database
//! remove every row exactly once.

use crate::support::*;
use chrono::Duration;
use latchkey_core::clock::ManualClock;
use latchkey_core::oauth1::records::{EndedAccessTokens, RequestTokenDecision, RevocationSelector};
use latchkey_core::oauth1::store::{
    AccessTokenStore, ConsumerStore, NonceStore, RequestTokenStore,
};
use latchkey_core::policy::Policy;
use latchkey_core::records::AuditAction;
use latchkey_core::store::SweepJob;
use latchkey_core::store::SweepStore;
use latchkey_core::sweep::{SweepOutcome, SweepSettings, Sweeper};
use sea_orm::DatabaseBackend;
use std::sync::Arc;

pub async fn a_nonce_is_kept_until_its_window_passes_then_swept_or_taken_over(
    store: Arc<SeaStore>,
) {
    insert_consumer(&store, "c-1").await;
    let t0 = now();
    let mut once = nonce("c-1", "once");
    once.expires_at = t0 + Duration::seconds(10);
    assert!(store.use_nonce(&once, t0).await.unwrap());
    let just_before = t0 + Duration::milliseconds(9_999);
    assert!(
        !store.use_nonce(&once, just_before).await.unwrap(),
        "a replay inside the window is refused"
    );
    assert_eq!(
        store.delete_expired_nonces(just_before, 10).await.unwrap(),
        0
    );
    // At the end of its window the record is forgotten: a new use takes it over
    // without waiting for the sweeper, and is then protected in turn.
    let mut again = once.clone();
    again.expires_at = t0 + Duration::seconds(30);
    let at_end = t0 + Duration::seconds(10);
    assert!(store.use_nonce(&again, at_end).await.unwrap());
    assert!(!store.use_nonce(&again, at_end).await.unwrap());

    for i in 0..5 {
        let mut old = nonce("c-1", &format!("old-{i}"));
        old.expires_at = t0 + Duration::seconds(1);
        assert!(store.use_nonce(&old, t0).await.unwrap());
    }
    let sweep_at = t0 + Duration::seconds(2);
    let mut batches = Vec::new();
    loop {
        let removed = store.delete_expired_nonces(sweep_at, 2).await.unwrap();
        batches.push(removed);
        if removed < 2 {
            break;
        }
    }
    assert_eq!(batches, [2, 2, 1]);
    assert_eq!(count_rows(&store, "nonces").await, 1, "the live one stays");
}

pub async fn request_tokens_in_every_state_go_in_bounded_batches_once_expired(
    store: Arc<SeaStore>,
) {
    insert_consumer(&store, "c-1").await;
    let t0 = now();
    // Pending, approved, denied and exchanged, all ending within ten minutes.
    insert_request_token(&store, &request_token("c-1", t0 + Duration::minutes(10))).await;
    approved_request_token(&store, "c-1", "ann", t0).await;
    let denied = request_token("c-1", t0 + Duration::minutes(10));
    insert_request_token(&store, &denied).await;
    let deny = RequestTokenDecision::Deny {
        user_id: "ann".to_owned(),
    };
    assert!(
        store
            .decide_request_token(
                denied.id,
                &deny,
                t0,
                &audit(AuditAction::RequestTokenDenied)
            )
            .await
            .unwrap()
    );
    issue_access_token(&store, "c-1", "ann", t0, t0 + Duration::days(1)).await;
    // One that lives on.
    let live = request_token("c-1", t0 + Duration::hours(2));
    insert_request_token(&store, &live).await;

    let by = t0 + Duration::hours(1);
    assert_eq!(
        store.delete_request_tokens_expired_by(by, 3).await.unwrap(),
        3
    );
    assert_eq!(
        store.delete_request_tokens_expired_by(by, 3).await.unwrap(),
        1
    );
    assert_eq!(
        store.delete_request_tokens_expired_by(by, 3).await.unwrap(),
        0
    );
    let left = store
        .find_request_token(&live.token_hash)
        .await
        .unwrap()
        .expect("the live token stays");
    assert_eq!(left.id, live.id);
    assert_eq!(count_rows(&store, "request_tokens").await, 1);
    assert_eq!(
        count_rows(&store, "access_tokens").await,
        1,
        "the access token outlives its request token"
    );
}

pub async fn each_selection_deletes_exactly_the_access_tokens_it_names(store: Arc<SeaStore>) {
    insert_consumer(&store, "c-a").await;
    insert_consumer(&store, "c-b").await;
    let base = now();
    let hour = base + Duration::hours(1);
    let expired = issue_access_token(
        &store,
        "c-b",
        "u",
        base - Duration::hours(2),
        base - Duration::hours(1),
    )
    .await;
    let revoked = issue_access_token(&store, "c-b", "u", base - Duration::hours(2), hour).await;
    let revoked_count = store
        .revoke_access_tokens(
            &RevocationSelector::Token(revoked.id),
            base - Duration::minutes(30),
            &audit(AuditAction::AccessTokensRevoked),
        )
        .await
        .unwrap();
    assert_eq!(revoked_count, 1);
    let ancient = issue_access_token(&store, "c-b", "u", base - Duration::days(400), hour).await;
    let idle_a = issue_access_token(&store, "c-a", "u", base - Duration::days(3), hour).await;
    let idle_b = issue_access_token(&store, "c-b", "u", base - Duration::days(3), hour).await;
    let used_a = issue_access_token(&store, "c-a", "u", base - Duration::days(3), hour).await;
    store
        .record_access_token_use(used_a.id, base - Duration::hours(1))
        .await
        .unwrap();

    let cases = [
        (EndedAccessTokens::ExpiredBy(base), expired.id),
        (EndedAccessTokens::RevokedBy(base), revoked.id),
        (
            EndedAccessTokens::IssuedBy(base - Duration::days(365)),
            ancient.id,
        ),
        (
            EndedAccessTokens::UnusedBy {
                consumer_key: "c-a".to_owned(),
                at: base - Duration::days(2),
            },
            idle_a.id,
        ),
    ];
    for (which, id) in cases {
        assert!(store.get_access_token(id).await.unwrap().is_some());
        assert_eq!(
            store.delete_ended_access_tokens(&which, 100).await.unwrap(),
            1,
            "{which:?}"
        );
        assert!(
            store.get_access_token(id).await.unwrap().is_none(),
            "{which:?}"
        );
        assert_eq!(
            store.delete_ended_access_tokens(&which, 100).await.unwrap(),
            0,
            "{which:?} again"
        );
    }
    // Another consumer's idle token and a recently used one are untouched.
    assert!(store.get_access_token(idle_b.id).await.unwrap().is_some());
    assert!(store.get_access_token(used_a.id).await.unwrap().is_some());
    assert_eq!(count_rows(&store, "access_tokens").await, 2);
}

pub async fn a_recorded_use_never_moves_backwards(store: Arc<SeaStore>) {
    insert_consumer(&store, "c-1").await;
    let base = now();
    let token = issue_access_token(&store, "c-1", "u", base, base + Duration::days(1)).await;
    let stored = store.get_access_token(token.id).await.unwrap().unwrap();
    assert_eq!(stored.last_used_at, base, "unused: its issue time");
    let later = base + Duration::minutes(10);
    store
        .record_access_token_use(token.id, later)
        .await
        .unwrap();
    store
        .record_access_token_use(token.id, base + Duration::minutes(5))
        .await
        .unwrap();
    let stored = store.get_access_token(token.id).await.unwrap().unwrap();
    assert_eq!(stored.last_used_at, later);
}

pub async fn a_policy_applied_to_issued_tokens_cuts_only_longer_live_tokens_of_that_consumer(
    store: Arc<SeaStore>,
) {
    insert_consumer(&store, "c-a").await;
    insert_consumer(&store, "c-b").await;
    let base = now();
    let long = issue_access_token(
        &store,
        "c-a",
        "u",
        base - Duration::days(1),
        base + Duration::days(30),
    )
    .await;
    let short = issue_access_token(&store, "c-a", "u", base, base + Duration::hours(1)).await;
    let revoked = issue_access_token(&store, "c-a", "u", base, base + Duration::days(30)).await;
    store
        .revoke_access_tokens(
            &RevocationSelector::Token(revoked.id),
            base,
            &audit(AuditAction::AccessTokensRevoked),
        )
        .await
        .unwrap();
    let other = issue_access_token(&store, "c-b", "u", base, base + Duration::days(30)).await;

    let shortened = store
        .update_consumer(
            &consumer("c-a"),
            Some(Duration::days(7)),
            &audit(AuditAction::ConsumerUpdated),
        )
        .await
        .unwrap();
    assert_eq!(shortened, Some(1));
    let expiry = |id| {
        let store = store.clone();
        async move {
            store
                .get_access_token(id)
                .await
                .unwrap()
                .unwrap()
                .expires_at
        }
    };
    assert_eq!(expiry(long.id).await, long.created_at + Duration::days(7));
    assert_eq!(expiry(short.id).await, short.expires_at, "never lengthened");
    assert_eq!(expiry(revoked.id).await, revoked.expires_at);
    assert_eq!(expiry(other.id).await, other.expires_at);
    assert_eq!(count_audit(&store, AuditAction::ConsumerUpdated).await, 1);
}

pub async fn a_sweep_lock_is_held_by_one_session_at_a_time_and_dies_with_it(store: Arc<SeaStore>) {
    let postgres = store.connection().get_database_backend() == DatabaseBackend::Postgres;
    let first = store
        .try_lock_sweep(SweepJob::Nonces)
        .await
        .unwrap()
        .expect("a free lock is granted");
    let other_job = store.try_lock_sweep(SweepJob::RequestTokens).await.unwrap();
    assert!(other_job.is_some(), "each job has its own lock");
    let second = store.try_lock_sweep(SweepJob::Nonces).await.unwrap();
    // SQLite is one process's file; Postgres sessions exclude each other.
    assert_eq!(second.is_none(), postgres);
    drop(second);
    first.release().await.unwrap();
    let third = store
        .try_lock_sweep(SweepJob::Nonces)
        .await
        .unwrap()
        .expect("released, so free again");
    // Dropped without a release (a failed or cancelled run): the session closes and
    // the lock goes with it.
    drop(third);
    let mut regained = None;
    for _ in 0..50 {
        regained = store.try_lock_sweep(SweepJob::Nonces).await.unwrap();
        if regained.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(regained.is_some(), "a dropped lease frees the lock");
}

pub async fn two_sweepers_on_one_database_remove_every_row_once_without_errors(
    store: Arc<SeaStore>,
    url: &str,
) {
    const EACH: usize = 300;
    insert_consumer(&store, "c-1").await;
    let t0 = now();
    for i in 0..EACH {
        let mut used = nonce("c-1", &format!("n-{i}"));
        used.expires_at = t0 - Duration::seconds(1);
        assert!(
            store
                .use_nonce(&used, t0 - Duration::minutes(1))
                .await
                .unwrap()
        );
        insert_request_token(&store, &request_token("c-1", t0 - Duration::hours(2))).await;
    }
    let replica = Arc::new(SeaStore::connect(url, 4).await.unwrap());
    let settings = SweepSettings {
        batch_size: 25,
        ..SweepSettings::default()
    };
    let sweeper = |store: Arc<SeaStore>| {
        Arc::new(Sweeper::new(
            store,
            Arc::new(ManualClock::new(t0)),
            Policy::default(),
            settings.clone(),
        ))
    };
    let sweepers = [sweeper(store.clone()), sweeper(replica)];
    let runs: Vec<_> = sweepers
        .iter()
        .flat_map(|sweeper| {
            SweepJob::ALL.into_iter().flat_map(move |job| {
                (0..4).map(move |_| {
                    let sweeper = sweeper.clone();
                    tokio::spawn(async move { sweeper.run(job).await })
                })
            })
        })
        .collect();
    let mut removed = std::collections::HashMap::<SweepJob, u64>::new();
    let mut completed = 0;
    for run in runs {
        let report = run.await.unwrap().expect("no sweep fails");
        *removed.entry(report.job).or_default() += report.removed;
        if report.outcome == SweepOutcome::Completed {
            completed += 1;
        }
    }
    assert!(completed >= 3, "every job ran somewhere");
    assert_eq!(removed[&SweepJob::Nonces], EACH as u64);
    assert_eq!(removed[&SweepJob::RequestTokens], EACH as u64);
    assert_eq!(
        removed.get(&SweepJob::AccessTokens).copied().unwrap_or(0),
        0
    );
    for job in SweepJob::ALL {
        let total: u64 = sweepers.iter().map(|s| s.totals().removed(job)).sum();
        assert_eq!(total, removed.get(&job).copied().unwrap_or(0), "{job:?}");
        assert_eq!(
            sweepers
                .iter()
                .map(|s| s.totals().failures(job))
                .sum::<u64>(),
            0
        );
    }
    assert_eq!(count_rows(&store, "nonces").await, 0);
    assert_eq!(count_rows(&store, "request_tokens").await, 0);
}
