//! Every `Store` scenario, run against SQLite and against PostgreSQL.
//!
//! Each test gets its own database: a fresh SQLite file, or a fresh Postgres database
//! created on the server at `LATCHKEY_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and dropped afterwards. When Postgres is
//! unreachable the Postgres half is skipped with a loud note, except under `CI=true`,
//! where it fails. All scenarios live in this one binary: each test file is another
//! slow link.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod scenarios;

/// Declares each scenario as two tests, `<scenario>::on_sqlite` and
/// `<scenario>::on_postgres`, each on a database of its own.
macro_rules! on_both_backends {
    ($($area:ident::$scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn on_sqlite() {
                    let db = crate::support::TestDb::sqlite().await;
                    crate::scenarios::$area::$scenario(db.store.clone()).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn on_postgres() {
                    if let Some(db) = crate::support::TestDb::postgres().await {
                        crate::scenarios::$area::$scenario(db.store.clone()).await;
                    }
                }
            }
        )*
    };
}

/// As [`on_both_backends`], for scenarios that also open a second pool on the same
/// database, as another replica would.
macro_rules! on_both_backends_with_replicas {
    ($($area:ident::$scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn on_sqlite() {
                    let db = crate::support::TestDb::sqlite().await;
                    crate::scenarios::$area::$scenario(db.store.clone(), &db.url).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn on_postgres() {
                    if let Some(db) = crate::support::TestDb::postgres().await {
                        crate::scenarios::$area::$scenario(db.store.clone(), &db.url).await;
                    }
                }
            }
        )*
    };
}

on_both_backends!(
    consumers::migrations_leave_nothing_pending_and_the_database_answers_pings,
    consumers::every_migration_rolls_back_and_applies_again,
    consumers::consumers_are_inserted_read_listed_in_pages_updated_and_deleted_with_their_tokens,
    consumers::inserting_a_consumer_with_a_taken_key_is_a_conflict_and_writes_no_audit_line,
    consumers::times_round_trip_with_millisecond_precision,
    nonces::a_nonce_is_accepted_once_per_consumer_and_refused_for_an_unknown_one,
    nonces::twenty_concurrent_uses_of_one_nonce_admit_exactly_one,
    nonces::a_crowd_of_concurrent_nonces_admits_exactly_one_use_of_each,
    request_tokens::a_pending_request_token_is_decided_once_and_an_expired_one_never,
    request_tokens::thirty_concurrent_exchanges_of_one_request_token_yield_exactly_one_access_token,
    request_tokens::an_expired_or_unapproved_request_token_cannot_be_exchanged,
    request_tokens::wrong_verifiers_are_counted_and_kill_the_token_at_the_maximum,
    request_tokens::each_dance_write_commits_with_its_audit_line_or_not_at_all,
    access_tokens::revocation_selectors_count_only_live_tokens_and_audit_only_real_revocations,
    access_tokens::live_grants_exclude_revoked_and_expired_tokens_and_list_the_newest_first,
    access_tokens::a_consumers_live_tokens_are_listed_newest_first_up_to_the_limit,
    oauth2::clients_round_trip_and_go_with_their_codes_grants_and_tokens,
    oauth2::twenty_concurrent_redemptions_of_one_code_have_exactly_one_winner,
    oauth2::a_refresh_token_rotates_once_and_never_after_its_family_is_revoked,
    oauth2::ended_codes_tokens_and_grants_are_swept_in_bounded_batches,
);

on_both_backends!(
    sweeping::a_nonce_is_kept_until_its_window_passes_then_swept_or_taken_over,
    sweeping::request_tokens_in_every_state_go_in_bounded_batches_once_expired,
    sweeping::each_selection_deletes_exactly_the_access_tokens_it_names,
    sweeping::a_recorded_use_never_moves_backwards,
    sweeping::a_policy_applied_to_issued_tokens_cuts_only_longer_live_tokens_of_that_consumer,
    sweeping::a_sweep_lock_is_held_by_one_session_at_a_time_and_dies_with_it,
);

on_both_backends_with_replicas!(
    nonces::a_small_pool_still_serves_nonces_and_everything_else,
    sweeping::two_sweepers_on_one_database_remove_every_row_once_without_errors,
);

/// Scenarios only a SQLite file has (see `scenarios::sqlite_file`).
macro_rules! on_a_sqlite_file {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn on_sqlite() {
                    let db = crate::support::TestDb::sqlite().await;
                    crate::scenarios::sqlite_file::$scenario(db.store.clone(), &db.url).await;
                }
            }
        )*
    };
}

on_a_sqlite_file!(
    concurrent_writes_of_every_kind_queue_for_the_one_writer_and_all_land,
    the_log_starts_again_under_a_steady_stream_of_writes,
);
