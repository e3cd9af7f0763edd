//! Password hashing off the async threads, behind a bulkhead: a dedicated
//! pool of `concurrency` threads (one per core by default) computes hashes,
//! and at most `queue` more wait. Beyond that a login gets 503 with
//! `Retry-After` at once. The pool's threads run at a lower OS priority
//! (nice 19, the lowest), so under a login flood the scheduler still gives request
//! handling (search, health) the CPU first, while idle cores hash at full
//! speed.

use std::sync::{Arc, Mutex, mpsc};

use babyshield_security::{PasswordParams, dummy_hash, hash_password, needs_rehash, verify_password};
use tokio::sync::{Semaphore, oneshot};

use crate::error::ApiError;

type Job = Box<dyn FnOnce() + Send>;

/// Niceness of the hashing threads (0 normal, 19 lowest).
const HASHING_NICE: i32 = 19;

#[derive(Clone)]
pub struct PasswordHasher {
    params: PasswordParams,
    admitted: Arc<Semaphore>,
    jobs: mpsc::Sender<Job>,
}

impl PasswordHasher {
    pub fn new(params: PasswordParams, concurrency: usize, queue: usize) -> PasswordHasher {
        let concurrency = if concurrency == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        } else {
            concurrency
        };
        metrics::gauge!("password_hashing_slots").set(concurrency as f64);
        let (jobs, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..concurrency {
            let receiver = Arc::clone(&receiver);
            let spawned = std::thread::Builder::new().name(format!("password-hash-{i}")).spawn(move || {
                lower_priority();
                loop {
                    // The lock is held only while waiting for the next job.
                    let job = match receiver.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return, // every hasher handle dropped
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        PasswordHasher { params, admitted: Arc::new(Semaphore::new(concurrency + queue)), jobs }
    }

    async fn run<T, F>(&self, job: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&PasswordParams) -> T + Send + 'static,
    {
        let Ok(admission) = self.admitted.clone().try_acquire_owned() else {
            metrics::counter!("password_hashing_rejected_total").increment(1);
            return Err(ApiError::Unavailable {
                public: "too many sign-ins are being processed; retry in a moment".into(),
                cause: "password hashing queue full".into(),
            });
        };
        let params = self.params;
        let (done, result) = oneshot::channel();
        // The admission travels with the job: if the client goes away the
        // hash still finishes, and still counts against the bound until it does.
        let task: Job = Box::new(move || {
            let _admission = admission;
            let _ = done.send(job(&params));
        });
        self.jobs.send(task).map_err(|_| ApiError::internal("password hashing pool stopped"))?;
        let value = result.await.map_err(|_| ApiError::internal("password hashing job lost"))?;
        metrics::counter!("password_hashes_total").increment(1);
        Ok(value)
    }

    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.run(move |params| hash_password(&password, params)).await?.map_err(ApiError::internal)
    }

    /// Verifies `password` against `phc`, or against a dummy hash when there
    /// is no account, so both cases cost the same. Also says whether the
    /// stored hash should be upgraded to the current parameters.
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<Verified, ApiError> {
        self.run(move |params| {
            let known = phc.is_some();
            let hash = phc.unwrap_or_else(|| dummy_hash(params).to_string());
            let matches = verify_password(&password, &hash).unwrap_or(false) && known;
            Verified { matches, rehash: matches && needs_rehash(&hash, params) }
        })
        .await
    }
}

/// Lowers the calling thread's scheduling priority (Linux: per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on the calling thread's own id has no memory
    // effects; failure only leaves the thread at normal priority.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, tid, HASHING_NICE) != 0 {
            tracing::debug!("could not lower the password hashing thread's priority");
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Verified {
    pub matches: bool,
    pub rehash: bool,
}
