//! The service's lifecycle: start time, the shutdown signal, and the
//! background tasks that must be cancelled and awaited before exit.

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Instant,
};

use tokio_util::{sync::CancellationToken, task::TaskTracker};

#[derive(Debug)]
pub struct Lifecycle {
    started: Instant,
    draining: AtomicBool,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            started: Instant::now(),
            draining: AtomicBool::new(false),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }
    }
}

impl Lifecycle {
    pub fn uptime_secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// True from the moment shutdown begins: readiness answers 503.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Starts shutting down: readiness flips at once, background tasks are
    /// told to stop.
    pub fn begin_shutdown(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.shutdown.cancel();
    }

    /// Resolves when shutdown begins.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Spawns a background task that shutdown waits for. The task must watch
    /// `shutdown_token()` and return promptly once it fires.
    pub fn spawn<F>(&self, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task);
    }

    /// Waits for every background task to finish.
    pub async fn join_tasks(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }
}
