//! Argon2 for the secrets a person may choose, with a hard bound on what it costs.
//!
//! Every credential and client secret Latchkey generates carries 256 random bits and is
//! checked by its SHA-256 digest in microseconds (see [`crate::credentials`]). Argon2
//! remains for hashes an operator chose: a credential hashed with `latchkey credential
//! hash`, or a client secret stored before digests. It is memory-hard on purpose, about
//! 19 MiB and tens of milliseconds a check, which makes it the cheapest way for a
//! stranger to spend our memory and CPU. So every argon2 check of the process goes
//! through one pool that keeps four promises:
//!
//! - **A fixed number of checks at once.** [`ARGON2_WORKERS`] threads of their own,
//!   never Tokio's workers or its blocking pool, so async callers and health never
//!   wait behind a check.
//! - **Memory reused, not allocated per check.** Each worker owns its block memory and
//!   reuses it for every check. Resident memory stays at workers × the largest cost,
//!   and glibc's per-thread arenas never fill with freed 19 MiB blocks.
//! - **A full queue refuses at once.** At most [`ARGON2_QUEUE`] checks wait. One more
//!   is refused with [`Argon2Refusal::Saturated`], which the wire layers answer with
//!   `RESOURCE_EXHAUSTED` or 503 and `Retry-After`: nobody queues behind a flood.
//! - **One check per secret in flight.** Callers presenting the same secret at once
//!   share one check, so a burst of one new correct secret costs one check, and the
//!   caller remembers the match (callers above the pool keep that memory).

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;
use tokio::sync::watch;
use zeroize::Zeroizing;

/// Argon2 checks that run at once in one process. Two, whatever the machine: each
/// holds about 19 MiB, and the chart's memory limit is 256 MiB.
pub const ARGON2_WORKERS: usize = 2;

/// Checks that may wait for a worker; one more is refused at once. With two workers
/// at tens of milliseconds a check, the last in line waits about 100 ms.
pub const ARGON2_QUEUE: usize = 4;

/// The highest memory cost a stored hash may ask for, in KiB (64 MiB): a worker's
/// memory grows to the largest cost it has checked, so this bounds it.
pub const ARGON2_MAX_MEMORY_KIB: u32 = 64 * 1024;

/// Identifies one (secret, hashes) question, so that callers asking the same share an
/// answer. A digest, never the secret.
pub type FlightKey = [u8; 32];

/// An argon2 PHC hash, parsed once.
#[derive(Clone)]
pub struct PhcHash {
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: Vec<u8>,
    expected: Vec<u8>,
}

impl std::fmt::Debug for PhcHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhcHash")
            .field("algorithm", &self.algorithm)
            .field("m_cost", &self.params.m_cost())
            .finish_non_exhaustive()
    }
}

impl PhcHash {
    /// Parses an argon2 PHC string (`$argon2id$v=19$m=...`). Refuses other algorithms,
    /// hashes without salt or output, and memory costs above [`ARGON2_MAX_MEMORY_KIB`].
    pub fn parse(phc: &str) -> Result<PhcHash, String> {
        let parsed = PasswordHash::new(phc).map_err(|e| e.to_string())?;
        let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|e| e.to_string())?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        let params = Params::try_from(&parsed).map_err(|e| e.to_string())?;
        if params.m_cost() > ARGON2_MAX_MEMORY_KIB {
            return Err(format!(
                "the memory cost m={} KiB is above the {ARGON2_MAX_MEMORY_KIB} KiB Latchkey accepts",
                params.m_cost()
            ));
        }
        let salt = parsed.salt.ok_or("the hash has no salt")?;
        let mut salt_buffer = [0u8; 64];
        let salt = salt
            .decode_b64(&mut salt_buffer)
            .map_err(|e| e.to_string())?
            .to_vec();
        let expected = parsed
            .hash
            .ok_or("the hash has no output")?
            .as_bytes()
            .to_vec();
        Ok(PhcHash {
            algorithm,
            version,
            params,
            salt,
            expected,
        })
    }

    /// Whether `presented` hashes to this hash, using (and growing) `memory`.
    fn matches(&self, presented: &[u8], memory: &mut Vec<Block>) -> bool {
        let needed = self.params.block_count();
        if memory.len() < needed {
            memory.resize(needed, Block::default());
        }
        let Some(blocks) = memory.get_mut(..needed) else {
            return false;
        };
        let argon2 = Argon2::new(self.algorithm, self.version, self.params.clone());
        let mut computed = Zeroizing::new(vec![0u8; self.expected.len()]);
        argon2
            .hash_password_into_with_memory(presented, &self.salt, &mut computed, blocks)
            .is_ok()
            && bool::from(computed.as_slice().ct_eq(&self.expected))
    }
}

/// Why a check gave no verdict. Never a verdict on the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Argon2Refusal {
    /// Every worker is busy and the queue is full: retry shortly.
    #[error("every argon2 worker is busy and {ARGON2_QUEUE} checks wait already")]
    Saturated,
    /// The check could not finish (the workers are gone or one failed).
    #[error("an argon2 check did not finish: {0}")]
    Unfinished(String),
}

/// For each hash asked about, whether it matched: bit `i` for `hashes[i]`.
type Verdict = Result<u64, String>;
type Answer = watch::Receiver<Option<Verdict>>;
type InFlight = Arc<Mutex<HashMap<FlightKey, Answer>>>;

struct Job {
    key: FlightKey,
    presented: SecretString,
    hashes: Arc<[PhcHash]>,
    answer: watch::Sender<Option<Verdict>>,
}

/// The process's argon2 workers and their queue. See the module documentation.
pub struct Argon2Pool {
    queue: Option<SyncSender<Job>>,
    in_flight: InFlight,
    checks: Arc<AtomicU64>,
}

impl std::fmt::Debug for Argon2Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Argon2Pool")
            .field("checks", &self.checks())
            .finish_non_exhaustive()
    }
}

impl Default for Argon2Pool {
    fn default() -> Self {
        Self::new()
    }
}

impl Argon2Pool {
    /// [`ARGON2_WORKERS`] workers behind a queue of [`ARGON2_QUEUE`].
    pub fn new() -> Self {
        Self::with_limits(ARGON2_WORKERS, ARGON2_QUEUE)
    }

    /// A pool of `workers` threads (at least one) behind a queue of `queue`. The
    /// threads end when the pool is dropped.
    pub fn with_limits(workers: usize, queue: usize) -> Self {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let in_flight: InFlight = Arc::default();
        let checks = Arc::new(AtomicU64::new(0));
        let mut started = 0;
        for number in 0..workers.max(1) {
            let (receiver, in_flight, checks) =
                (receiver.clone(), in_flight.clone(), checks.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{number}"))
                .spawn(move || work(&receiver, &in_flight, &checks));
            match spawned {
                Ok(_) => started += 1,
                Err(error) => tracing::error!(%error, "cannot start an argon2 worker"),
            }
        }
        Self {
            // With no worker, a queued check would wait for ever: refuse instead.
            queue: (started > 0).then_some(sender),
            in_flight,
            checks,
        }
    }

    /// Argon2 checks started since the pool was made (each may cover several hashes).
    pub fn checks(&self) -> u64 {
        self.checks.load(Ordering::Relaxed)
    }

    /// Checks `presented` against each of `hashes` on a worker and answers which
    /// matched (bit `i` for `hashes[i]`). `key` names this question: callers asking the
    /// same question at once share one check. Refuses at once when the queue is full.
    pub async fn check(
        &self,
        key: FlightKey,
        presented: &SecretString,
        hashes: Arc<[PhcHash]>,
    ) -> Result<u64, Argon2Refusal> {
        let mut answer = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            match in_flight.get(&key) {
                Some(answer) => answer.clone(),
                None => {
                    let queue = self.queue.as_ref().ok_or_else(|| {
                        Argon2Refusal::Unfinished("no argon2 worker could be started".into())
                    })?;
                    let (sender, answer) = watch::channel(None);
                    let job = Job {
                        key,
                        presented: presented.clone(),
                        hashes,
                        answer: sender,
                    };
                    match queue.try_send(job) {
                        Ok(()) => {}
                        Err(TrySendError::Full(_)) => return Err(Argon2Refusal::Saturated),
                        Err(TrySendError::Disconnected(_)) => {
                            return Err(Argon2Refusal::Unfinished(
                                "the argon2 workers have stopped".into(),
                            ));
                        }
                    }
                    // Inserted under the lock the worker takes to remove it, so the
                    // worker cannot remove it first.
                    in_flight.insert(key, answer.clone());
                    answer
                }
            }
        };
        let verdict = answer
            .wait_for(Option::is_some)
            .await
            .map_err(|_| Argon2Refusal::Unfinished("the argon2 worker stopped".into()))?;
        match verdict.as_ref() {
            Some(Ok(matched)) => Ok(*matched),
            Some(Err(reason)) => Err(Argon2Refusal::Unfinished(reason.clone())),
            None => Err(Argon2Refusal::Unfinished("no verdict".into())),
        }
    }
}

/// One worker: takes jobs until the pool is dropped, with one block memory for all.
fn work(queue: &Mutex<Receiver<Job>>, in_flight: &InFlight, checks: &AtomicU64) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = {
            let receiver = queue.lock().unwrap_or_else(|p| p.into_inner());
            match receiver.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        checks.fetch_add(1, Ordering::Relaxed);
        let presented = job.presented.expose_secret().as_bytes();
        let verdict = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            job.hashes
                .iter()
                .take(64)
                .enumerate()
                .filter(|(_, hash)| hash.matches(presented, &mut memory))
                .fold(0u64, |mask, (i, _)| mask | (1 << i))
        }))
        .map_err(|_| "the argon2 check panicked".to_owned());
        in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&job.key);
        let _ = job.answer.send(Some(verdict));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, SaltString};

    fn phc(secret: &str) -> PhcHash {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let hash = Argon2::default()
            .hash_password(secret.as_bytes(), &salt)
            .unwrap()
            .to_string();
        PhcHash::parse(&hash).unwrap()
    }

    fn key(n: u8) -> FlightKey {
        [n; 32]
    }

    #[tokio::test]
    async fn a_check_says_which_hashes_match() {
        let pool = Argon2Pool::with_limits(1, 4);
        let hashes: Arc<[PhcHash]> = vec![phc("a"), phc("b"), phc("a")].into();
        let secret = SecretString::from("a");
        assert_eq!(pool.check(key(1), &secret, hashes.clone()).await, Ok(0b101));
        let wrong = SecretString::from("c");
        assert_eq!(pool.check(key(2), &wrong, hashes).await, Ok(0));
        assert_eq!(pool.checks(), 2);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_the_pool_serves_again_afterwards() {
        let pool = Arc::new(Argon2Pool::with_limits(1, 1));
        let hashes: Arc<[PhcHash]> = vec![phc("right")].into();
        let callers: Vec<_> = (0..12u8)
            .map(|n| {
                let (pool, hashes) = (pool.clone(), hashes.clone());
                tokio::spawn(async move {
                    let secret = SecretString::from(format!("wrong-{n}"));
                    pool.check(key(n), &secret, hashes).await
                })
            })
            .collect();
        let mut saturated = 0;
        for caller in callers {
            match caller.await.unwrap() {
                Ok(0) => {}
                Err(Argon2Refusal::Saturated) => saturated += 1,
                other => panic!("{other:?}"),
            }
        }
        // One running and one waiting at most: the other ten were refused.
        assert!(saturated >= 10, "{saturated} refused");
        assert!(pool.checks() <= 2, "{} checks ran", pool.checks());
        let right = SecretString::from("right");
        assert_eq!(pool.check(key(99), &right, hashes).await, Ok(1));
    }

    #[tokio::test]
    async fn callers_asking_the_same_question_at_once_share_one_check() {
        let pool = Arc::new(Argon2Pool::with_limits(1, 1));
        let hashes: Arc<[PhcHash]> = vec![phc("right")].into();
        let callers: Vec<_> = (0..8)
            .map(|_| {
                let (pool, hashes) = (pool.clone(), hashes.clone());
                tokio::spawn(async move {
                    pool.check(key(7), &SecretString::from("right"), hashes)
                        .await
                })
            })
            .collect();
        for caller in callers {
            assert_eq!(caller.await.unwrap(), Ok(1));
        }
        assert_eq!(pool.checks(), 1);
    }

    #[test]
    fn a_hash_asking_for_more_memory_than_the_bound_is_refused() {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        )
        .hash_password(b"x", &salt)
        .unwrap()
        .to_string();
        assert!(PhcHash::parse(&small).is_ok());
        let greedy = small.replace("m=64,", &format!("m={},", ARGON2_MAX_MEMORY_KIB * 2));
        assert!(PhcHash::parse(&greedy).unwrap_err().contains("memory cost"));
        assert!(PhcHash::parse("plaintext").is_err());
    }
}
