//! Password hashing off the async threads, behind a bulkhead: a dedicated
//! pool of `concurrency` threads (one per core by default) computes hashes,
//! and at most `queue` more wait. Beyond that a login gets 503 with
//! `Retry-After` at once.
//!
//! The pool's threads run under Linux's `SCHED_IDLE` policy (and nice 19
//! where that is refused): they get a core only when nothing else wants it,
//! and any request-handling thread that wakes up preempts them at once. So a
//! login flood hashes on idle CPU only and cannot slow search or health
//! checks, while on an idle machine logins hash at full speed. The price is
//! paid by logins while the machine is saturated by other work: they wait
//! in the queue (`bench/login` measured 6-13 hashes/s while search saturates
//! both cores, against 95-101 alone). A hash whose client has gone away by the
//! time a thread takes it is skipped.

use std::sync::Arc;

use babyshield_resilience::{BackgroundPool, ThreadPriority};
use babyshield_security::{PasswordParams, dummy_hash, hash_password, needs_rehash, verify_password};
use tokio::sync::{Semaphore, oneshot};

use crate::error::ApiError;

#[derive(Clone)]
pub struct PasswordHasher {
    params: PasswordParams,
    admitted: Arc<Semaphore>,
    threads: BackgroundPool,
}

impl PasswordHasher {
    pub fn new(params: PasswordParams, concurrency: usize, queue: usize) -> PasswordHasher {
        let concurrency = if concurrency == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        } else {
            concurrency
        };
        metrics::gauge!("password_hashing_slots").set(concurrency as f64);
        let threads = BackgroundPool::new("password-hash", concurrency, ThreadPriority::Idle);
        PasswordHasher { params, admitted: Arc::new(Semaphore::new(concurrency + queue)), threads }
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
        let task = move || {
            let _admission = admission;
            // Nobody waits for it any more (the client disconnected and the
            // handler was dropped): computing it would only delay the queue.
            if done.is_closed() {
                metrics::counter!("password_hashing_abandoned_total").increment(1);
                return;
            }
            let _ = done.send(job(&params));
        };
        self.threads.execute(task).map_err(|_| ApiError::internal("password hashing pool stopped"))?;
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

#[derive(Debug, Clone, Copy)]
pub struct Verified {
    pub matches: bool,
    pub rehash: bool,
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn params() -> PasswordParams {
        PasswordParams { m_cost_kib: 64, t_cost: 1, p_cost: 1 }
    }

    #[tokio::test]
    async fn hashing_threads_run_at_idle_priority() {
        let hasher = PasswordHasher::new(params(), 1, 1);
        let priority = hasher.run(|_| babyshield_resilience::current_thread_priority()).await.unwrap();
        assert_eq!(priority, Some((libc::SCHED_IDLE, 19)));
    }

    #[tokio::test]
    async fn a_hash_nobody_waits_for_is_skipped() {
        let hasher = PasswordHasher::new(params(), 1, 4);
        // Occupy the only thread until released.
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let busy = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.run(move |_| blocked.recv().is_ok()).await }
        });
        while hasher.admitted.available_permits() == 5 {
            tokio::task::yield_now().await;
        }
        // Queued behind it, then abandoned by its caller.
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let queued = tokio::spawn({
            let (hasher, ran) = (hasher.clone(), Arc::clone(&ran));
            async move { hasher.run(move |_| ran.store(true, std::sync::atomic::Ordering::SeqCst)).await }
        });
        while hasher.admitted.available_permits() == 4 {
            tokio::task::yield_now().await;
        }
        queued.abort();
        assert!(queued.await.unwrap_err().is_cancelled());
        release.send(()).unwrap();
        assert!(busy.await.unwrap().unwrap());
        // One thread takes jobs in order: once a later job has run, the
        // abandoned one has been taken (and skipped).
        hasher.run(|_| ()).await.unwrap();
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst), "the abandoned hash ran");
    }
}
