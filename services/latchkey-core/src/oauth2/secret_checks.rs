//! The gate every OAuth 2.0 client secret check goes through.
//!
//! A client secret is stored only as an argon2 hash, and one argon2 check takes about
//! 19 MiB and tens of milliseconds, on purpose. Run inline on the async runtime, a
//! burst of token requests would hold every worker thread and allocate 19 MiB per
//! request at once (64 callers took the similar caller-credential path to 2.4 GiB).
//! So this gate keeps three promises:
//!
//! - Argon2 runs on Tokio's blocking pool, never on an async worker. The permit it
//!   holds goes with it there, so a caller that gives up does not free a slot while
//!   its check still runs.
//! - At most as many checks run at once as the machine has cores: memory stays
//!   bounded under any burst, and the rest wait their turn without holding a thread.
//! - A secret that matched is remembered, so later requests pay for one SHA-256 and a
//!   constant-time scan. Callers presenting the same secret queue behind one another,
//!   and each re-checks the memory when its turn comes: 64 callers presenting one new
//!   correct secret cost one argon2 check.
//!
//! What is remembered is a SHA-256 digest, never a secret, over the client id, the
//! stored PHC hash and the presented secret, each prefixed by its length so no field
//! can run into the next. The PHC string carries the client's random salt, so no
//! precomputed table maps digests back to secrets, and a new hash (a rotated secret, a
//! client registered again) can never match an entry made under the old one. Only
//! matches are remembered, at most [`REMEMBERED_LIMIT`] of them, oldest evicted first;
//! a wrong secret costs a full argon2 check every time.
//!
//! A request for an unknown client runs the same steps against a hash of a random
//! value nobody knows ([`ClientSecretChecks::check_unknown_client`]), and remembers
//! nothing even if it matched, so the response time does not tell which client ids
//! exist.

use super::client::secret_matches;
use base64::Engine as _;
use rand::Rng as _;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedMutexGuard, Semaphore};

/// How many verified (client, secret) pairs are remembered: enough for every client
/// of a typical deployment, and 32 KiB at most.
pub const REMEMBERED_LIMIT: usize = 1024;

/// A SHA-256 over (client id, PHC hash, presented secret).
type CheckDigest = [u8; 32];

/// A client secret check that could not finish (the blocking task was cancelled or
/// panicked). Never a verdict on the secret: the caller reports an internal error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a client secret check did not finish: {0}")]
pub struct SecretCheckUnfinished(String);

/// Bounded, off-runtime argon2 checks of OAuth 2.0 client secrets, with a memory of the
/// ones that matched. See the module documentation.
pub struct ClientSecretChecks {
    /// One permit per argon2 check allowed to run at once.
    permits: Arc<Semaphore>,
    /// Queues of callers presenting the same (client, hash, secret).
    turns: SameSecretTurns,
    shared: Arc<Shared>,
}

/// What the blocking task needs after its caller may have gone.
struct Shared {
    remembered: RememberedMatches,
    /// Argon2 checks started since start-up.
    argon2_checks: AtomicU64,
    #[cfg(test)]
    running: tests::RunningGauge,
}

impl std::fmt::Debug for ClientSecretChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecretChecks")
            .field("argon2_checks", &self.argon2_checks())
            .finish_non_exhaustive()
    }
}

impl Default for ClientSecretChecks {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientSecretChecks {
    /// A gate running as many argon2 checks at once as the machine has cores, and
    /// remembering up to [`REMEMBERED_LIMIT`] matches.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Self::with_limits(cores, REMEMBERED_LIMIT)
    }

    fn with_limits(concurrent_checks: usize, remembered: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(
                concurrent_checks.clamp(1, Semaphore::MAX_PERMITS),
            )),
            turns: SameSecretTurns::default(),
            shared: Arc::new(Shared {
                remembered: RememberedMatches::new(remembered),
                argon2_checks: AtomicU64::new(0),
                #[cfg(test)]
                running: tests::RunningGauge::default(),
            }),
        }
    }

    /// Argon2 checks run since start-up (a remembered match runs none).
    pub fn argon2_checks(&self) -> u64 {
        self.shared.argon2_checks.load(Ordering::Relaxed)
    }

    /// Whether `presented` is the secret of `client_id`, whose stored argon2 PHC hash
    /// is `phc_hash`. Answers from memory when this exact pair already matched;
    /// otherwise waits for a turn and runs argon2 off the async runtime.
    pub async fn matches(
        &self,
        client_id: &str,
        presented: &SecretString,
        phc_hash: &str,
    ) -> Result<bool, SecretCheckUnfinished> {
        self.check(client_id, presented, phc_hash, true).await
    }

    /// The same work as [`ClientSecretChecks::matches`] with a wrong secret, for a
    /// client id that no enabled client has. Never remembers anything.
    pub async fn check_unknown_client(
        &self,
        client_id: &str,
        presented: &SecretString,
    ) -> Result<(), SecretCheckUnfinished> {
        let unknown_client_hash = match UNKNOWN_CLIENT_HASH.get() {
            Some(hash) => hash,
            // Hashing is as slow as checking: the first caller does it off the runtime.
            None => {
                off_the_runtime(|| UNKNOWN_CLIENT_HASH.get_or_init(hash_of_unguessable)).await?
            }
        };
        if let Some(hash) = unknown_client_hash {
            self.check(client_id, presented, hash, false).await?;
        }
        Ok(())
    }

    async fn check(
        &self,
        client_id: &str,
        presented: &SecretString,
        phc_hash: &str,
        remember_a_match: bool,
    ) -> Result<bool, SecretCheckUnfinished> {
        let digest = check_digest(client_id, phc_hash, presented.expose_secret());
        if self.shared.remembered.contains(&digest) {
            return Ok(true);
        }
        // Same secret, same queue: only the first in line runs argon2 for it.
        let _turn = self.turns.wait_for_turn(digest).await;
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| SecretCheckUnfinished(e.to_string()))?;
        // Whoever went before may have just remembered this very pair.
        if self.shared.remembered.contains(&digest) {
            return Ok(true);
        }
        let shared = Arc::clone(&self.shared);
        let presented = presented.clone();
        let phc_hash = phc_hash.to_owned();
        off_the_runtime(move || {
            // Held until argon2 is done, even if the caller has stopped waiting.
            let _permit = permit;
            #[cfg(test)]
            let _running = shared.running.enter();
            shared.argon2_checks.fetch_add(1, Ordering::Relaxed);
            let matched = secret_matches(presented.expose_secret(), &phc_hash);
            if matched && remember_a_match {
                shared.remembered.remember(digest);
            }
            matched
        })
        .await
    }

    #[cfg(test)]
    fn remembered_len(&self) -> usize {
        self.shared.remembered.len()
    }
}

/// The PHC hash unknown clients are checked against: of a random value nobody knows,
/// with the same argon2 parameters as every client's. `None` only if hashing failed,
/// in which case unknown clients are refused without the work.
static UNKNOWN_CLIENT_HASH: OnceLock<Option<String>> = OnceLock::new();

fn hash_of_unguessable() -> Option<String> {
    let unguessable: [u8; 32] = rand::rngs::OsRng.r#gen();
    let unguessable = base64::engine::general_purpose::STANDARD_NO_PAD.encode(unguessable);
    crate::credentials::hash_credential(&unguessable).ok()
}

/// Runs `work` on Tokio's blocking pool, so no async worker waits on it. Outside a
/// Tokio runtime there is no worker to keep free, and `work` runs here.
async fn off_the_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SecretCheckUnfinished> {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime
            .spawn_blocking(work)
            .await
            .map_err(|e| SecretCheckUnfinished(e.to_string())),
        Err(_) => Ok(work()),
    }
}

fn check_digest(client_id: &str, phc_hash: &str, presented: &str) -> CheckDigest {
    let mut hasher = Sha256::new();
    hasher.update(b"latchkey oauth2 client secret check\0");
    for field in [client_id, phc_hash, presented] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hasher.finalize().into()
}

/// Digests of pairs that matched, oldest first.
struct RememberedMatches {
    digests: RwLock<VecDeque<CheckDigest>>,
    limit: usize,
}

impl RememberedMatches {
    fn new(limit: usize) -> Self {
        Self {
            digests: RwLock::new(VecDeque::new()),
            limit: limit.max(1),
        }
    }

    fn contains(&self, digest: &CheckDigest) -> bool {
        let digests = self.digests.read().unwrap_or_else(|p| p.into_inner());
        // Scan every entry so the time taken does not depend on which one matched.
        let mut found = subtle::Choice::from(0);
        for known in digests.iter() {
            found |= known.ct_eq(digest);
        }
        bool::from(found)
    }

    fn remember(&self, digest: CheckDigest) {
        let mut digests = self.digests.write().unwrap_or_else(|p| p.into_inner());
        if digests.contains(&digest) {
            return;
        }
        while digests.len() >= self.limit {
            digests.pop_front();
        }
        digests.push_back(digest);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.digests.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// One async lock per digest in flight, so callers presenting the same pair take
/// turns while callers presenting different ones do not wait for each other. The map
/// holds only weak handles: an entry lives as long as someone waits on it.
#[derive(Default)]
struct SameSecretTurns {
    queues: Mutex<TurnQueues>,
}

#[derive(Default)]
struct TurnQueues {
    by_digest: HashMap<CheckDigest, Weak<tokio::sync::Mutex<()>>>,
    /// When the map reaches this size, entries nobody waits on any more are swept
    /// (those a cancelled caller could not remove itself).
    sweep_at: usize,
}

/// A caller's turn for one digest; dropping it lets the next caller in.
struct Turn<'a> {
    turns: &'a SameSecretTurns,
    digest: CheckDigest,
    held: Option<OwnedMutexGuard<()>>,
}

impl SameSecretTurns {
    async fn wait_for_turn(&self, digest: CheckDigest) -> Turn<'_> {
        let queue = self.queue_for(digest);
        let held = queue.lock_owned().await;
        Turn {
            turns: self,
            digest,
            held: Some(held),
        }
    }

    fn queue_for(&self, digest: CheckDigest) -> Arc<tokio::sync::Mutex<()>> {
        let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(queue) = queues.by_digest.get(&digest).and_then(Weak::upgrade) {
            return queue;
        }
        if queues.by_digest.len() >= queues.sweep_at {
            queues.by_digest.retain(|_, queue| queue.strong_count() > 0);
            queues.sweep_at = (queues.by_digest.len() * 2).max(64);
        }
        let queue = Arc::new(tokio::sync::Mutex::new(()));
        queues.by_digest.insert(digest, Arc::downgrade(&queue));
        queue
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        // Let go of the lock (and its handle) first, then forget the queue if nobody
        // else is in it.
        drop(self.held.take());
        let mut queues = self.turns.queues.lock().unwrap_or_else(|p| p.into_inner());
        if queues
            .by_digest
            .get(&self.digest)
            .is_some_and(|queue| queue.strong_count() == 0)
        {
            queues.by_digest.remove(&self.digest);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::credentials::hash_credential;
    use std::sync::atomic::AtomicUsize;

    /// How many argon2 checks run at this moment, and the most that ever did.
    #[derive(Default)]
    pub(super) struct RunningGauge {
        now: AtomicUsize,
        peak: AtomicUsize,
    }

    pub(super) struct Running<'a>(&'a RunningGauge);

    impl RunningGauge {
        pub(super) fn enter(&self) -> Running<'_> {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            Running(self)
        }
    }

    impl Drop for Running<'_> {
        fn drop(&mut self) {
            self.0.now.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn secret(value: &str) -> SecretString {
        SecretString::from(value)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn eight_callers_presenting_one_new_correct_secret_at_once_share_one_argon2_check() {
        let hash = hash_credential("s3cret").unwrap();
        // Room for all eight at once: only the same-secret queue keeps it to one check.
        let checks = Arc::new(ClientSecretChecks::with_limits(8, REMEMBERED_LIMIT));
        let callers: Vec<_> = (0..8)
            .map(|_| {
                let checks = Arc::clone(&checks);
                let hash = hash.clone();
                tokio::spawn(async move { checks.matches("app", &secret("s3cret"), &hash).await })
            })
            .collect();
        for caller in callers {
            assert_eq!(caller.await.unwrap(), Ok(true));
        }
        assert_eq!(checks.argon2_checks(), 1);
        assert_eq!(checks.remembered_len(), 1);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_wrong_secret_is_refused_and_never_remembered() {
        let hash = hash_credential("s3cret").unwrap();
        let checks = ClientSecretChecks::new();
        assert_eq!(
            checks.matches("app", &secret("guess"), &hash).await,
            Ok(false)
        );
        assert_eq!(
            checks.matches("app", &secret("guess"), &hash).await,
            Ok(false)
        );
        assert_eq!(checks.argon2_checks(), 2);
        assert_eq!(checks.remembered_len(), 0);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_remembered_secret_is_refused_once_the_stored_hash_changes() {
        let old_hash = hash_credential("old-secret").unwrap();
        let checks = ClientSecretChecks::new();
        assert_eq!(
            checks
                .matches("app", &secret("old-secret"), &old_hash)
                .await,
            Ok(true)
        );
        assert_eq!(
            checks
                .matches("app", &secret("old-secret"), &old_hash)
                .await,
            Ok(true)
        );
        assert_eq!(checks.argon2_checks(), 1);

        let new_hash = hash_credential("new-secret").unwrap();
        assert_eq!(
            checks
                .matches("app", &secret("old-secret"), &new_hash)
                .await,
            Ok(false)
        );
        assert_eq!(
            checks
                .matches("app", &secret("new-secret"), &new_hash)
                .await,
            Ok(true)
        );
        assert_eq!(checks.argon2_checks(), 3);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_secret_remembered_for_one_client_does_not_pass_for_another() {
        let hash = hash_credential("shared").unwrap();
        let checks = ClientSecretChecks::new();
        assert_eq!(
            checks.matches("app", &secret("shared"), &hash).await,
            Ok(true)
        );
        assert_eq!(
            checks.matches("other", &secret("shared"), &hash).await,
            Ok(true)
        );
        assert_eq!(checks.argon2_checks(), 2);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn remembering_more_matches_than_the_limit_forgets_the_oldest() {
        let checks = ClientSecretChecks::with_limits(2, 3);
        let mut hashes = Vec::new();
        for n in 0..4 {
            let hash = hash_credential(&format!("secret-{n}")).unwrap();
            let client = format!("app-{n}");
            let presented = secret(&format!("secret-{n}"));
            assert_eq!(checks.matches(&client, &presented, &hash).await, Ok(true));
            hashes.push(hash);
        }
        assert_eq!(checks.remembered_len(), 3);
        assert_eq!(checks.argon2_checks(), 4);
        // The newest is answered from memory; the oldest was evicted and costs argon2.
        assert_eq!(
            checks
                .matches("app-3", &secret("secret-3"), &hashes[3])
                .await,
            Ok(true)
        );
        assert_eq!(checks.argon2_checks(), 4);
        assert_eq!(
            checks
                .matches("app-0", &secret("secret-0"), &hashes[0])
                .await,
            Ok(true)
        );
        assert_eq!(checks.argon2_checks(), 5);
        assert_eq!(checks.remembered_len(), 3);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_burst_of_different_wrong_secrets_runs_no_more_checks_at_once_than_the_limit() {
        let hash = hash_credential("s3cret").unwrap();
        let checks = Arc::new(ClientSecretChecks::with_limits(2, REMEMBERED_LIMIT));
        let callers: Vec<_> = (0..8)
            .map(|n| {
                let checks = Arc::clone(&checks);
                let hash = hash.clone();
                tokio::spawn(async move {
                    checks
                        .matches("app", &secret(&format!("guess-{n}")), &hash)
                        .await
                })
            })
            .collect();
        for caller in callers {
            assert_eq!(caller.await.unwrap(), Ok(false));
        }
        assert_eq!(checks.argon2_checks(), 8);
        let peak = checks.shared.running.peak.load(Ordering::SeqCst);
        assert!((1..=2).contains(&peak), "{peak} checks ran at once");
        assert_eq!(checks.turns.queues.lock().unwrap().by_digest.len(), 0);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_unknown_client_costs_an_argon2_check_every_time_and_leaves_nothing_remembered() {
        let checks = ClientSecretChecks::new();
        let presented = secret("anything");
        assert_eq!(
            checks.check_unknown_client("ghost", &presented).await,
            Ok(())
        );
        assert_eq!(
            checks.check_unknown_client("ghost", &presented).await,
            Ok(())
        );
        assert_eq!(checks.argon2_checks(), 2);
        assert_eq!(checks.remembered_len(), 0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn argon2_runs_off_the_async_worker() {
        let hash = hash_credential("s3cret").unwrap();
        let checks = Arc::new(ClientSecretChecks::new());
        let check = {
            let checks = Arc::clone(&checks);
            tokio::spawn(async move { checks.matches("app", &secret("s3cret"), &hash).await })
        };
        // This runtime has one worker thread. Had argon2 run on it, this task could
        // not get back in while the check was under way, only once it was over.
        let mut seen_while_running = false;
        while !check.is_finished() {
            if checks.shared.running.now.load(Ordering::SeqCst) == 1 {
                seen_while_running = true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        assert!(seen_while_running);
        assert_eq!(check.await.unwrap(), Ok(true));
    }
}
