//! Background work that yields the CPU to requests: threads at a lower
//! scheduling priority, and a small pool of them.
//!
//! On a machine whose cores are all busy answering requests, work nobody
//! waits for (password hashes queued by a flood, an agency pull's pages)
//! should take what is left over, not an equal share. Linux schedules
//! threads, not processes, so a thread can lower its own priority: a nice
//! value (a smaller share of a busy core: nice 10 gets about a tenth of
//! what a nice-0 thread gets) or `SCHED_IDLE` (a core only when nothing
//! else wants it). A thread inherits its creator's priority, which is how a
//! database connection's own worker thread is made a background one
//! (`babyshield_storage`). Without privileges a lowered priority cannot be
//! raised again, so only threads that do nothing else are lowered.
//! Elsewhere than Linux these are no-ops.

use std::sync::{Arc, Mutex, mpsc};

use tokio::sync::oneshot;

/// How a background thread competes for the CPU with request handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadPriority {
    /// Like every other thread.
    Normal,
    /// A nice value from 1 (slightly below normal) to 19 (lowest share).
    Nice(i32),
    /// `SCHED_IDLE` (and nice 19 where that is refused): runs only on
    /// otherwise idle CPU, preempted by any other thread that wakes up.
    Idle,
}

impl ThreadPriority {
    /// `0` is normal, `1..=19` a nice value; anything else is refused.
    pub fn from_nice(nice: i32) -> Result<ThreadPriority, String> {
        match nice {
            0 => Ok(ThreadPriority::Normal),
            1..=19 => Ok(ThreadPriority::Nice(nice)),
            _ => Err(format!("a niceness must be between 0 (normal) and 19 (lowest), not {nice}")),
        }
    }
}

/// Lowers the calling thread's priority. Returns whether every step was
/// accepted; a refusal only leaves the thread at a higher priority.
pub fn lower_current_thread(priority: ThreadPriority) -> bool {
    match priority {
        ThreadPriority::Normal => true,
        ThreadPriority::Nice(nice) => set_nice(nice),
        ThreadPriority::Idle => set_nice(19) & set_idle_policy(),
    }
}

/// The calling thread's (scheduling policy, nice value), for tests and
/// diagnostics; `None` elsewhere than Linux.
pub fn current_thread_priority() -> Option<(i32, i32)> {
    #[cfg(target_os = "linux")]
    // SAFETY: both calls only read the calling thread's own scheduling
    // attributes.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        Some((libc::sched_getscheduler(0), libc::getpriority(libc::PRIO_PROCESS, tid)))
    }
    #[cfg(not(target_os = "linux"))]
    None
}

fn set_nice(nice: i32) -> bool {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on the calling thread's own id has no memory
    // effects.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, nice) == 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = nice;
        false
    }
}

fn set_idle_policy() -> bool {
    #[cfg(target_os = "linux")]
    // SAFETY: sched_setscheduler on the calling thread (0) with a plain
    // struct that outlives the call.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) == 0
    }
    #[cfg(not(target_os = "linux"))]
    false
}

type Job = Box<dyn FnOnce() + Send>;

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("background").to_string()
}

/// A fixed set of threads at one priority taking jobs in order from one
/// queue (unbounded: callers bound what they submit).
#[derive(Clone)]
pub struct BackgroundPool {
    jobs: mpsc::Sender<Job>,
}

/// The pool's threads are gone (they could not be started).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStopped;

impl std::fmt::Display for PoolStopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the background threads have stopped")
    }
}

impl std::error::Error for PoolStopped {}

impl BackgroundPool {
    /// Starts `threads` threads named `{name}-{i}` at `priority`
    /// (`0` threads: one per core).
    pub fn new(name: &str, threads: usize, priority: ThreadPriority) -> BackgroundPool {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        } else {
            threads
        };
        let (jobs, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..threads {
            let receiver = Arc::clone(&receiver);
            let spawned = std::thread::Builder::new().name(format!("{name}-{i}")).spawn(move || {
                if !lower_current_thread(priority) {
                    tracing::debug!(?priority, "could not lower a background thread's priority");
                }
                loop {
                    // The lock is held only while waiting for the next job.
                    let job = match receiver.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match job {
                        // A panicking job loses its value (its caller sees
                        // `PoolStopped`), not the thread.
                        Ok(job) => {
                            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                                tracing::error!(pool = %thread_name(), "a background job panicked");
                            }
                        }
                        Err(_) => return, // every pool handle dropped
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, pool = name, "cannot start a background thread");
            }
        }
        BackgroundPool { jobs }
    }

    /// Queues `job` (it runs even if nobody waits for it any more).
    pub fn execute(&self, job: impl FnOnce() + Send + 'static) -> Result<(), PoolStopped> {
        self.jobs.send(Box::new(job)).map_err(|_| PoolStopped)
    }

    /// Runs `job` on the pool and waits for its value. A job whose caller
    /// has gone away (the future was dropped) before a thread took it is
    /// skipped.
    pub async fn run<T, F>(&self, job: F) -> Result<T, PoolStopped>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (done, result) = oneshot::channel();
        self.execute(move || {
            if !done.is_closed() {
                let _ = done.send(job());
            }
        })?;
        result.await.map_err(|_| PoolStopped)
    }
}

impl std::fmt::Debug for BackgroundPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundPool").finish_non_exhaustive()
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pool_threads_run_at_the_priority_asked_for() {
        let nice = BackgroundPool::new("test-nice", 1, ThreadPriority::Nice(7));
        assert_eq!(nice.run(current_thread_priority).await.unwrap(), Some((libc::SCHED_OTHER, 7)));
        let idle = BackgroundPool::new("test-idle", 1, ThreadPriority::Idle);
        assert_eq!(idle.run(current_thread_priority).await.unwrap(), Some((libc::SCHED_IDLE, 19)));
        let normal = BackgroundPool::new("test-normal", 1, ThreadPriority::Normal);
        assert_eq!(normal.run(current_thread_priority).await.unwrap(), Some((libc::SCHED_OTHER, 0)));
    }

    #[test]
    fn a_thread_inherits_its_creators_priority() {
        let inherited = std::thread::spawn(|| {
            assert!(lower_current_thread(ThreadPriority::Nice(5)));
            std::thread::spawn(current_thread_priority).join().unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(inherited, Some((libc::SCHED_OTHER, 5)));
    }

    #[test]
    fn only_normal_and_nice_values_are_accepted() {
        assert_eq!(ThreadPriority::from_nice(0), Ok(ThreadPriority::Normal));
        assert_eq!(ThreadPriority::from_nice(10), Ok(ThreadPriority::Nice(10)));
        assert!(ThreadPriority::from_nice(-1).unwrap_err().contains("between 0 (normal) and 19"));
        assert!(ThreadPriority::from_nice(20).is_err());
    }

    #[tokio::test]
    async fn a_panicking_job_fails_alone_and_the_thread_goes_on() {
        let pool = BackgroundPool::new("test-panic", 1, ThreadPriority::Normal);
        assert_eq!(pool.run(|| -> u8 { panic!("a bad page") }).await, Err(PoolStopped));
        assert_eq!(pool.run(|| 7).await, Ok(7));
    }

    #[tokio::test]
    async fn a_job_nobody_waits_for_is_skipped() {
        let pool = BackgroundPool::new("test-skip", 1, ThreadPriority::Normal);
        // Occupy the only thread until released.
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let (started, running) = oneshot::channel();
        let busy = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.run(move || {
                    let _ = started.send(());
                    blocked.recv().is_ok()
                })
                .await
            }
        });
        running.await.unwrap();
        // Queued behind it (the first poll submits the job), then abandoned.
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut queued = Box::pin(pool.run({
            let ran = Arc::clone(&ran);
            move || ran.store(true, std::sync::atomic::Ordering::SeqCst)
        }));
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(queued.as_mut().poll(&mut context).is_pending());
        drop(queued);
        release.send(()).unwrap();
        assert!(busy.await.unwrap().unwrap());
        // One thread takes jobs in order: once a later job has run, the
        // abandoned one has been taken (and skipped).
        pool.run(|| ()).await.unwrap();
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst), "the abandoned job ran");
    }
}
