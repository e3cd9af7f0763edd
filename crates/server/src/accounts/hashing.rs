//! Password hashing off the async threads, behind a bulkhead: at most
//! `concurrency` hashes run at once (one per core by default) and at most
//! `queue` more wait. Beyond that a login gets 503 with `Retry-After` at
//! once, so a flood of logins cannot slow every other endpoint.

use std::sync::Arc;

use babyshield_security::{PasswordParams, dummy_hash, hash_password, needs_rehash, verify_password};
use tokio::sync::Semaphore;

use crate::error::ApiError;

#[derive(Clone)]
pub struct PasswordHasher {
    params: PasswordParams,
    running: Arc<Semaphore>,
    admitted: Arc<Semaphore>,
}

impl PasswordHasher {
    pub fn new(params: PasswordParams, concurrency: usize, queue: usize) -> PasswordHasher {
        let concurrency = if concurrency == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        } else {
            concurrency
        };
        metrics::gauge!("password_hashing_slots").set(concurrency as f64);
        PasswordHasher {
            params,
            running: Arc::new(Semaphore::new(concurrency)),
            admitted: Arc::new(Semaphore::new(concurrency + queue)),
        }
    }

    pub fn params(&self) -> &PasswordParams {
        &self.params
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
        let permit = self.running.clone().acquire_owned().await.map_err(ApiError::internal)?;
        let params = self.params;
        // The permits travel with the job: if the client goes away the hash
        // still finishes, and still counts against the bound until it does.
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _admission = admission;
            job(&params)
        })
        .await
        .map_err(ApiError::internal)?;
        metrics::counter!("password_hashes_total").increment(1);
        Ok(result)
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
