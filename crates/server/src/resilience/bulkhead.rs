//! A bulkhead: at most `concurrency` callers inside, at most `queue` more
//! waiting for a slot, and anyone beyond that refused at once. It keeps one
//! expensive kind of work (photo decoding, uncached searches) from taking
//! every thread or database connection, and it sheds with a fast 503
//! instead of letting a queue grow until statements time out.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct Bulkhead {
    permits: Arc<Semaphore>,
    /// Callers inside or waiting; more than `capacity` are refused.
    admitted: AtomicUsize,
    capacity: usize,
}

/// Counts a caller out of the bulkhead when it is dropped, however the
/// caller ends.
pub struct Admission<'a>(&'a AtomicUsize);

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A caller inside the bulkhead. The slot is the `permit` (it may move to
/// a blocking task that outlives the caller); the `admission` counts the
/// caller against the queue.
pub struct Entered<'a> {
    pub admission: Admission<'a>,
    pub permit: OwnedSemaphorePermit,
}

impl Bulkhead {
    pub fn new(concurrency: usize, queue: usize) -> Bulkhead {
        Bulkhead {
            permits: Arc::new(Semaphore::new(concurrency)),
            admitted: AtomicUsize::new(0),
            capacity: concurrency + queue,
        }
    }

    /// Waits for a slot; `None` when the bulkhead and its queue are full.
    pub async fn enter(&self) -> Option<Entered<'_>> {
        let admission = Admission(&self.admitted);
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            return None;
        }
        let permit = Arc::clone(&self.permits).acquire_owned().await.ok()?;
        Some(Entered { admission, permit })
    }

    /// Callers inside or waiting.
    pub fn admitted(&self) -> usize {
        self.admitted.load(Ordering::Acquire)
    }

    /// Slots nobody holds.
    pub fn free_slots(&self) -> usize {
        self.permits.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn admits_the_concurrency_queues_the_queue_and_sheds_the_rest() {
        let bulkhead = Arc::new(Bulkhead::new(1, 1));
        let inside = bulkhead.enter().await.expect("a free slot");
        // The second caller waits for the slot.
        let waiting = {
            let bulkhead = Arc::clone(&bulkhead);
            tokio::spawn(async move { bulkhead.enter().await.map(|_| ()) })
        };
        while bulkhead.admitted() < 2 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // The third is refused at once, and counted out again.
        assert!(bulkhead.enter().await.is_none());
        assert_eq!(bulkhead.admitted(), 2);
        drop(inside);
        assert_eq!(waiting.await.unwrap(), Some(()));
        assert_eq!(bulkhead.admitted(), 0);
    }

    #[tokio::test]
    async fn a_permit_moved_away_keeps_the_slot_after_the_caller_is_gone() {
        let bulkhead = Bulkhead::new(1, 0);
        let Entered { admission, permit } = bulkhead.enter().await.unwrap();
        drop(admission);
        assert_eq!(bulkhead.admitted(), 0);
        // Nobody is counted, but the slot is still taken: a new caller waits.
        assert!(tokio::time::timeout(Duration::from_millis(20), bulkhead.enter()).await.is_err());
        drop(permit);
        assert!(bulkhead.enter().await.is_some());
    }
}
