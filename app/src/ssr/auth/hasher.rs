//! Where password hashes run. Each argon2id hash (`auth::password`) takes
//! ~19 MiB and tens of milliseconds of CPU, so hashing never runs on the
//! async runtime: it runs on a small pool of its own threads (`HashPool`),
//! at most `hash_concurrency` at a time behind a semaphore, so that sign-in
//! storms wait for a slot instead of starving page requests or exhausting
//! memory. The wait is bounded too (issue 8): at most `hash_queue_max`
//! requests wait, each for at most `hash_queue_timeout_secs`, and one whose
//! client has gone leaves the queue without hashing. Beyond that the answer
//! is `HashError::Busy` (503 with `Retry-After`), not an ever-growing queue.

use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use rand::{rngs::OsRng, RngCore};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::password::{hash_now, verify_now, HashError, Password};

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
