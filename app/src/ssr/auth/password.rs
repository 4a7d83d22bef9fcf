//! Password hashing (argon2id). The rules a new password must meet are in
//! `password_rules`.
//!
//! Parameters: OWASP Password Storage Cheat Sheet's first argon2id option,
//! m = 19456 KiB, t = 2, p = 1. Each hash takes ~19 MiB and tens of
//! milliseconds of CPU, so hashing never runs on the async runtime: it runs
//! on a small pool of its own threads (`HashPool`), at most
//! `hash_concurrency` at a time behind a semaphore, so that sign-in storms
//! wait for a slot instead of starving page requests or exhausting memory.
//! The wait is bounded too (issue 8): at most `hash_queue_max` requests
//! wait, each for at most `hash_queue_timeout_secs`, and one whose client
//! has gone leaves the queue without hashing. Beyond that the answer is
//! `HashError::Busy` (503 with `Retry-After`), not an ever-growing queue.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::{self, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::{rngs::OsRng, RngCore};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A password in memory. It cannot be printed or logged by accident.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(text: String) -> Self {
        Self(text)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("argon2: {0}")]
    Argon2(String),
    #[error("cannot start a hashing thread: {0}")]
    Thread(std::io::Error),
    #[error("the hashing task panicked")]
    Panicked,
    #[error("the hashing pool is closed")]
    Closed,
    /// The queue for a hashing slot is full, or the wait for one timed out.
    #[error("too many passwords are waiting to be checked")]
    Busy,
    /// The client went away while the request waited for a slot.
    #[error("the client left before its password was checked")]
    Abandoned,
}

/// OWASP's first argon2id option: m = 19456 KiB, t = 2, p = 1.
const M_COST: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

fn argon2() -> Argon2<'static> {
    // Constant parameters, so this cannot fail.
    let params = Params::new(M_COST, T_COST, P_COST, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

thread_local! {
    /// Each hashing thread keeps one argon2 memory (19 MiB) for its whole
    /// life instead of allocating and freeing it per hash: memory stays at
    /// exactly `hash_concurrency` x 19 MiB whatever the allocator caches
    /// (make bench saw 87 to 138 MB after W2 with a fresh block per hash),
    /// and no page is faulted in again. Like the freed blocks before it,
    /// it holds only one-way argon2 state, never the password.
    static ARGON2_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs argon2 into `out`, in this thread's kept memory when the
/// parameters are Tessera's, in a temporary one otherwise (an old hash
/// with other parameters).
fn argon2_into(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> argon2::Result<()> {
    let blocks = argon2.params().block_count();
    if blocks != Params::new(M_COST, T_COST, P_COST, None).map_or(0, |p| p.block_count()) {
        return argon2.hash_password_into(password, salt, out);
    }
    ARGON2_MEMORY.with_borrow_mut(|memory| {
        if memory.len() != blocks {
            *memory = vec![Block::default(); blocks];
        }
        argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..])
    })
}

fn hash_error(e: impl fmt::Display) -> HashError {
    HashError::Argon2(e.to_string())
}

/// One argon2id hash with Tessera's parameters, as a PHC string. Blocks
/// for tens of milliseconds: the server calls it through `PasswordHasher`;
/// public for the raw-rate measurement (`server argon2-rate`).
pub fn hash_now(password: &str) -> Result<String, HashError> {
    let mut random = [0u8; 16];
    OsRng.fill_bytes(&mut random);
    let salt = SaltString::encode_b64(&random).map_err(hash_error)?;
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(hash_error)?;
    let argon2 = argon2();
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        argon2_into(&argon2, password.as_bytes(), salt_bytes, out)
            .map_err(|_| password_hash::Error::Crypto)
    })
    .map_err(hash_error)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(hash_error)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// One argon2 verification against a PHC string (the same cost as
/// `hash_now`); blocking. The parameters, salt and algorithm come from the
/// string; the comparison is constant-time (`password_hash::Output`).
pub fn verify_now(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params);
    Output::init_with(expected.len(), |out| {
        argon2_into(&argon2, password.as_bytes(), salt_bytes, out)
            .map_err(|_| password_hash::Error::Crypto)
    })
    .is_ok_and(|computed| computed == expected)
}

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of OS threads that only run argon2. Unlike tokio's blocking
/// pool they can be deprioritised without affecting other blocking work:
/// they run at `[password] hash_thread_nice` (Linux applies nice values per
/// thread). Alone they use every core, so sign-ins run at the raw argon2
/// rate; next to page traffic the scheduler weighs them below the runtime
/// threads, so a sign-in storm slows sign-ins rather than pages (issue 4:
/// W1's p99 during W2). The threads end when the last `PasswordHasher`
/// clone is dropped.
struct HashPool {
    jobs: mpsc::Sender<Job>,
}

impl HashPool {
    fn new(threads: usize, nice: i32) -> Result<Self, HashError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    lower_priority_of_this_thread(nice);
                    loop {
                        // The lock is held only while waiting for a job.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        // A panic loses one answer (the caller sees
                        // `Panicked`), never a thread of the pool.
                        let _ = catch_unwind(AssertUnwindSafe(job));
                    }
                })
                .map_err(HashError::Thread)?;
        }
        Ok(Self { jobs })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = answer.send(work());
            }))
            .map_err(|_| HashError::Closed)?;
        answered.await.map_err(|_| HashError::Panicked)
    }
}

fn lower_priority_of_this_thread(nice: i32) {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), nice) {
        tracing::warn!(error = %e, "cannot lower the priority of a hashing thread");
    }
}

/// How long and how many requests may wait for a hashing slot.
#[derive(Debug, Clone, Copy)]
pub struct HashQueue {
    pub max_waiting: usize,
    pub timeout: Duration,
}

#[derive(Clone)]
pub struct PasswordHasher {
    slots: Arc<Semaphore>,
    pool: Arc<HashPool>,
    queue: HashQueue,
    waiting: Arc<AtomicUsize>,
    /// Hash of a random password, verified against when the username is
    /// unknown, so that an unknown user costs the same argon2 run as a
    /// known one (no account enumeration by timing, ASVS 6.3.8).
    dummy_hash: Arc<str>,
    /// How many argon2 runs have been started (lets tests prove the
    /// unknown-user path hashes too, and that refused attempts do not).
    runs: Arc<AtomicU64>,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("free_slots", &self.slots.available_permits())
            .field("waiting", &self.waiting())
            .finish_non_exhaustive()
    }
}

/// One place in the queue for a slot, given back however the wait ends.
struct QueuePlace(Arc<AtomicUsize>);

impl Drop for QueuePlace {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl PasswordHasher {
    pub async fn new(
        concurrency: u32,
        thread_nice: i32,
        queue: HashQueue,
    ) -> Result<Self, HashError> {
        let mut random = [0u8; 32];
        OsRng.fill_bytes(&mut random);
        let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let concurrency = concurrency.max(1) as usize;
        let pool = HashPool::new(concurrency, thread_nice)?;
        let dummy_hash = pool.run(move || hash_now(&random)).await??;
        Ok(Self {
            slots: Arc::new(Semaphore::new(concurrency)),
            pool: Arc::new(pool),
            queue,
            waiting: Default::default(),
            dummy_hash: dummy_hash.into(),
            runs: Default::default(),
        })
    }

    /// Waits for a slot (bounded in number of waiters and in time, and
    /// given up if `client_gone` resolves first), then runs `work` on the
    /// hashing threads.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
        client_gone: impl Future<Output = ()>,
    ) -> Result<T, HashError> {
        let full = self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue.max_waiting;
        // Given back however this function returns.
        let place = QueuePlace(self.waiting.clone());
        if full {
            return Err(HashError::Busy);
        }
        let permit = tokio::select! {
            biased;
            permit = self.slots.clone().acquire_owned() => {
                permit.map_err(|_| HashError::Closed)?
            }
            () = client_gone => return Err(HashError::Abandoned),
            () = tokio::time::sleep(self.queue.timeout) => return Err(HashError::Busy),
        };
        drop(place);
        self.runs.fetch_add(1, Ordering::Relaxed);
        // The slot is held until the work ends, even if this request is
        // cancelled meanwhile: never more than `hash_concurrency` hashes.
        self.pool
            .run(move || {
                let _permit = permit;
                work()
            })
            .await
    }

    #[tracing::instrument(skip_all)]
    pub async fn hash(
        &self,
        password: &Password,
        client_gone: impl Future<Output = ()>,
    ) -> Result<String, HashError> {
        let password = password.clone();
        self.run(move || hash_now(password.expose()), client_gone)
            .await?
    }

    /// Verifies `password` against `stored`, or against the dummy hash when
    /// there is no such user; either way one full argon2 run.
    #[tracing::instrument(skip_all)]
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&str>,
        client_gone: impl Future<Output = ()>,
    ) -> Result<bool, HashError> {
        let known = stored.is_some();
        let phc: Arc<str> = stored
            .map(Arc::from)
            .unwrap_or_else(|| self.dummy_hash.clone());
        let password = password.clone();
        let matches = self
            .run(move || verify_now(password.expose(), &phc), client_gone)
            .await?;
        Ok(known && matches)
    }

    /// argon2 runs started so far.
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// Requests waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Takes one hashing slot until the permit is dropped: tests use it to
    /// hold the queue still (and it documents that slots are the limit).
    pub async fn hold_slot(&self) -> Result<OwnedSemaphorePermit, HashError> {
        self.slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| HashError::Closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_the_owasp_parameters_and_verify() {
        let phc = hash_now("correct horse battery staple").expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_now("correct horse battery staple", &phc));
        assert!(!verify_now("correct horse battery stapler", &phc));
        assert!(!verify_now("anything", "not a phc string"));
    }

    #[test]
    fn our_hashes_and_argon2s_own_verify_each_other() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let password = "correct horse battery staple";
        let ours = hash_now(password).expect("hash");
        let parsed = PasswordHash::new(&ours).expect("a PHC string");
        assert!(argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok());
        assert!(argon2().verify_password(b"wrong", &parsed).is_err());

        let salt = SaltString::encode_b64(b"sixteen byte slt").expect("salt");
        let theirs = argon2()
            .hash_password(password.as_bytes(), &salt)
            .expect("hash")
            .to_string();
        assert!(verify_now(password, &theirs));
        assert!(!verify_now("wrong", &theirs));
        // Other parameters (an older hash) go through a temporary memory.
        let light = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).expect("params"),
        )
        .hash_password(password.as_bytes(), &salt)
        .expect("hash")
        .to_string();
        assert!(verify_now(password, &light));
        assert!(!verify_now("wrong", &light));
        // A damaged hash never verifies.
        let cut = &theirs[..theirs.len() - 4];
        assert!(!verify_now(password, cut));
    }

    #[test]
    fn the_password_never_appears_in_debug_output() {
        let p = Password::new("hunter2-secret".into());
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[tokio::test]
    async fn hashing_runs_on_its_own_low_priority_threads_and_survives_a_panic() {
        let pool = HashPool::new(1, 7).expect("pool");
        let (name, nice) = pool
            .run(|| {
                let name = std::thread::current().name().map(str::to_owned);
                #[cfg(target_os = "linux")]
                let nice =
                    rustix::process::getpriority_process(Some(rustix::thread::gettid())).ok();
                #[cfg(not(target_os = "linux"))]
                let nice = Some(7);
                (name, nice)
            })
            .await
            .expect("answer");
        assert_eq!(
            name.as_deref(),
            Some("argon2-0"),
            "not on the async runtime"
        );
        assert_eq!(nice, Some(7));

        let lost = pool.run(|| panic!("a bug in a job")).await;
        assert!(matches!(lost, Err(HashError::Panicked)));
        assert_eq!(
            pool.run(|| 42).await.expect("the thread is still there"),
            42
        );
    }

    fn queue(max_waiting: usize) -> HashQueue {
        HashQueue {
            max_waiting,
            timeout: Duration::from_secs(60),
        }
    }

    fn never() -> std::future::Pending<()> {
        std::future::pending()
    }

    #[tokio::test]
    async fn a_full_queue_is_busy_and_a_long_wait_times_out_without_hashing() {
        let hasher = PasswordHasher::new(
            1,
            0,
            HashQueue {
                max_waiting: 1,
                timeout: Duration::from_millis(50),
            },
        )
        .await
        .expect("hasher");
        let slot = hasher.hold_slot().await.expect("slot");
        let password = Password::new("whatever".into());
        let (first, second) = tokio::join!(hasher.verify(&password, None, never()), async {
            // The first is queued before the second arrives.
            tokio::task::yield_now().await;
            hasher.verify(&password, None, never()).await
        });
        assert!(matches!(second, Err(HashError::Busy)), "queue full");
        assert!(matches!(first, Err(HashError::Busy)), "timed out");
        assert_eq!(hasher.runs(), 0);
        assert_eq!(hasher.waiting(), 0);
        drop(slot);
        assert!(hasher.verify(&password, None, never()).await.is_ok());
    }

    #[tokio::test]
    async fn a_queued_request_whose_client_left_does_not_hash() {
        let hasher = PasswordHasher::new(1, 0, queue(8)).await.expect("hasher");
        let slot = hasher.hold_slot().await.expect("slot");
        let (left, client_gone) = tokio::sync::oneshot::channel::<()>();
        let password = Password::new("x".into());
        let waiting = hasher.verify(&password, None, async {
            let _ = client_gone.await;
        });
        let (answer, ()) = tokio::join!(waiting, async {
            tokio::task::yield_now().await;
            let _ = left.send(());
        });
        assert!(matches!(answer, Err(HashError::Abandoned)));
        drop(slot);
        assert_eq!(hasher.runs(), 0);
        assert_eq!(hasher.waiting(), 0);
    }

    #[tokio::test]
    async fn unknown_users_cost_an_argon2_run_and_never_verify() {
        let hasher = PasswordHasher::new(1, 0, queue(8)).await.expect("hasher");
        let before = hasher.runs();
        let ok = hasher
            .verify(&Password::new("whatever".into()), None, never())
            .await
            .expect("verify");
        assert!(!ok);
        assert_eq!(hasher.runs(), before + 1);
    }
}
