//! Point reads that arrive together share one query.
//!
//! A recall detail or a barcode lookup is one or two indexed row reads. At
//! thousands a second their cost is not the read but the round trip around
//! it: on SQLite a hand-off to the connection's worker thread and back (two
//! thread wake-ups), on PostgreSQL a network round trip and the backend's
//! per-statement work. A [`Coalescer`] runs at most `max_in_flight` queries
//! for one kind of read at a time; lookups that arrive while they run wait
//! and go together in the next query (up to `max_batch` keys). Under light
//! load every lookup therefore runs alone and at once, exactly as before;
//! under heavy load one round trip serves many lookups.
//!
//! Each query runs in a task of its own, so a caller that goes away (a client
//! that disconnects) never cancels the lookups of the others that share it,
//! and a panic in a query becomes an error for its batch instead of a
//! coalescer that never runs again.

use std::{
    collections::HashMap,
    future::Future,
    hash::Hash,
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex, PoisonError},
};

use futures::FutureExt;
use tokio::sync::oneshot;

use crate::StorageError;

type Reply<V> = oneshot::Sender<Result<V, StorageError>>;

pub(crate) struct Coalescer<K, V> {
    /// Label of the `db_point_read_batch_size` histogram.
    name: &'static str,
    max_in_flight: usize,
    max_batch: usize,
    state: Mutex<Waiting<K, V>>,
}

struct Waiting<K, V> {
    lookups: Vec<(K, Reply<V>)>,
    in_flight: usize,
}

impl<K, V> std::fmt::Debug for Coalescer<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalescer")
            .field("name", &self.name)
            .field("max_in_flight", &self.max_in_flight)
            .field("max_batch", &self.max_batch)
            .finish_non_exhaustive()
    }
}

impl<K, V> Coalescer<K, V>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Default + Send + 'static,
{
    pub(crate) fn new(name: &'static str, max_in_flight: usize, max_batch: usize) -> Coalescer<K, V> {
        Coalescer {
            name,
            max_in_flight: max_in_flight.max(1),
            max_batch: max_batch.max(1),
            state: Mutex::new(Waiting { lookups: Vec::new(), in_flight: 0 }),
        }
    }

    /// The value for `key`, read by `query` together with whatever other keys
    /// are waiting. `query` receives a clone of `context` (the store) and
    /// distinct keys, at most `max_batch`, and answers a value per key it
    /// found; a key it did not find gets `V::default()` (no recall, no
    /// recalls).
    pub(crate) async fn load<C, Q, F>(
        self: &Arc<Self>,
        key: K,
        context: &C,
        query: Q,
    ) -> Result<V, StorageError>
    where
        C: Clone + Send + Sync + 'static,
        Q: Fn(C, Vec<K>) -> F + Send + Sync + 'static,
        F: Future<Output = Result<HashMap<K, V>, StorageError>> + Send + 'static,
    {
        let mut values = self.load_many(vec![key], context, query).await?;
        Ok(values.pop().unwrap_or_default())
    }

    /// The values for `keys`, in their order, read together with whatever
    /// other keys are waiting (more than `max_batch` keys take several
    /// queries).
    pub(crate) async fn load_many<C, Q, F>(
        self: &Arc<Self>,
        keys: Vec<K>,
        context: &C,
        query: Q,
    ) -> Result<Vec<V>, StorageError>
    where
        C: Clone + Send + Sync + 'static,
        Q: Fn(C, Vec<K>) -> F + Send + Sync + 'static,
        F: Future<Output = Result<HashMap<K, V>, StorageError>> + Send + 'static,
    {
        let mut answers = Vec::with_capacity(keys.len());
        let first = {
            let mut waiting = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            for key in keys {
                let (reply, answer) = oneshot::channel();
                waiting.lookups.push((key, reply));
                answers.push(answer);
            }
            if waiting.in_flight < self.max_in_flight {
                waiting.in_flight += 1;
                Some(self.take(&mut waiting))
            } else {
                None
            }
        };
        if let Some(batch) = first {
            tokio::spawn(Arc::clone(self).run(batch, context.clone(), query));
        }
        let mut values = Vec::with_capacity(answers.len());
        for answer in answers {
            values.push(
                answer
                    .await
                    .unwrap_or_else(|_| Err(StorageError::Unavailable("the lookup was dropped".into())))?,
            );
        }
        Ok(values)
    }

    fn take(&self, waiting: &mut Waiting<K, V>) -> Vec<(K, Reply<V>)> {
        let n = waiting.lookups.len().min(self.max_batch);
        waiting.lookups.drain(..n).collect()
    }

    /// Runs batches until nobody is waiting, then gives its turn back.
    async fn run<C, Q, F>(self: Arc<Self>, mut batch: Vec<(K, Reply<V>)>, context: C, query: Q)
    where
        C: Clone + Send + Sync + 'static,
        Q: Fn(C, Vec<K>) -> F + Send + Sync + 'static,
        F: Future<Output = Result<HashMap<K, V>, StorageError>> + Send + 'static,
    {
        loop {
            self.answer(batch, &context, &query).await;
            let mut waiting = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if waiting.lookups.is_empty() {
                waiting.in_flight -= 1;
                return;
            }
            batch = self.take(&mut waiting);
        }
    }

    async fn answer<C, Q, F>(&self, batch: Vec<(K, Reply<V>)>, context: &C, query: &Q)
    where
        C: Clone + Send + Sync + 'static,
        Q: Fn(C, Vec<K>) -> F + Send + Sync + 'static,
        F: Future<Output = Result<HashMap<K, V>, StorageError>> + Send + 'static,
    {
        // Callers that went away while they waited need no answer.
        let mut replies: HashMap<K, Vec<Reply<V>>> = HashMap::with_capacity(batch.len());
        for (key, reply) in batch {
            if !reply.is_closed() {
                replies.entry(key).or_default().push(reply);
            }
        }
        if replies.is_empty() {
            return;
        }
        let keys: Vec<K> = replies.keys().cloned().collect();
        metrics::histogram!("db_point_read_batch_size", "read" => self.name).record(keys.len() as f64);
        // Called inside the caught future, so that a panic while building
        // the query is caught too.
        let result = AssertUnwindSafe(async { query(context.clone(), keys).await })
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(StorageError::Corrupt(format!("{} lookup panicked", self.name))));
        match result {
            Ok(mut found) => {
                for (key, mut waiting) in replies {
                    let value = found.remove(&key).unwrap_or_default();
                    let last = waiting.pop();
                    for reply in waiting {
                        let _ = reply.send(Ok(value.clone()));
                    }
                    if let Some(reply) = last {
                        let _ = reply.send(Ok(value));
                    }
                }
            }
            Err(error) => {
                for reply in replies.into_values().flatten() {
                    let _ = reply.send(Err(error.duplicate()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    use std::pin::Pin;

    type Answer = Pin<Box<dyn Future<Output = Result<HashMap<u32, Option<String>>, StorageError>> + Send>>;

    /// A batch "query" over an in-memory table that records each batch and
    /// waits for `gate` to open, so that lookups pile up behind it.
    fn table_query(
        batches: Arc<Mutex<Vec<Vec<u32>>>>,
        running: Arc<AtomicUsize>,
        most_running: Arc<AtomicUsize>,
        gate: tokio::sync::watch::Receiver<bool>,
    ) -> impl Fn((), Vec<u32>) -> Answer + Send + Sync + 'static {
        move |(), keys: Vec<u32>| {
            let batches = Arc::clone(&batches);
            let running = Arc::clone(&running);
            let most_running = Arc::clone(&most_running);
            let mut gate = gate.clone();
            Box::pin(async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most_running.fetch_max(now, Ordering::SeqCst);
                gate.wait_for(|open| *open).await.unwrap();
                batches.lock().unwrap().push(keys.clone());
                running.fetch_sub(1, Ordering::SeqCst);
                // Even keys exist; odd keys are missing.
                Ok(keys.into_iter().filter(|k| k % 2 == 0).map(|k| (k, Some(format!("row {k}")))).collect())
            })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_lookups_share_queries_and_each_gets_its_own_answer() {
        let coalescer = Arc::new(Coalescer::<u32, Option<String>>::new("test", 2, 16));
        let batches = Arc::new(Mutex::new(Vec::new()));
        let running = Arc::new(AtomicUsize::new(0));
        let most_running = Arc::new(AtomicUsize::new(0));
        let (open, gate) = tokio::sync::watch::channel(false);
        // 200 lookups, key 7 asked by eleven callers.
        let mut lookups = Vec::new();
        for i in 0..200u32 {
            let key = if i % 20 == 0 { 7 } else { i };
            let coalescer = Arc::clone(&coalescer);
            let query = table_query(
                Arc::clone(&batches),
                Arc::clone(&running),
                Arc::clone(&most_running),
                gate.clone(),
            );
            lookups.push(tokio::spawn(async move { (key, coalescer.load(key, &(), query).await) }));
        }
        // The first two lookups each started a query (max_in_flight = 2),
        // which waits at the gate; the other 198 wait for a turn.
        while coalescer.state.lock().unwrap().lookups.len() < 198 {
            tokio::task::yield_now().await;
        }
        open.send(true).unwrap();
        for lookup in lookups {
            let (key, answer) = lookup.await.unwrap();
            let expected = (key % 2 == 0).then(|| format!("row {key}"));
            assert_eq!(answer.unwrap(), expected, "key {key}");
        }
        let batches = batches.lock().unwrap();
        // Two queries of one key, then the 198 waiting in turns of 16.
        assert_eq!(batches.len(), 2 + 198usize.div_ceil(16), "{batches:?}");
        for batch in batches.iter() {
            assert!(batch.len() <= 16, "a batch above max_batch: {batch:?}");
            let mut distinct = batch.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(distinct.len(), batch.len(), "a key twice in one query: {batch:?}");
        }
        assert!(most_running.load(Ordering::SeqCst) <= 2, "more than max_in_flight queries at once");
        // Everything went home: the next lookup runs at once.
        let state = coalescer.state.lock().unwrap();
        assert_eq!((state.lookups.len(), state.in_flight), (0, 0));
    }

    #[tokio::test]
    async fn an_error_reaches_every_lookup_of_its_batch_and_the_next_batch_runs() {
        let coalescer = Arc::new(Coalescer::<u32, Option<String>>::new("test", 1, 64));
        let calls = Arc::new(AtomicUsize::new(0));
        let query = {
            let calls = Arc::clone(&calls);
            move |(), _keys: Vec<u32>| -> Answer {
                let call = calls.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    if call == 0 {
                        Err(StorageError::Unavailable("connection refused".into()))
                    } else {
                        Ok(HashMap::from([(1, Some("one".to_string()))]))
                    }
                })
            }
        };
        let first = coalescer.load(1, &(), query.clone());
        let second = coalescer.load(2, &(), query.clone());
        let (first, second) = tokio::join!(first, second);
        // The first query failed for the first lookup; the second lookup
        // waited and went in the next query, which succeeded.
        assert!(
            matches!(first, Err(StorageError::Unavailable(ref m)) if m == "connection refused"),
            "{first:?}"
        );
        assert_eq!(second.unwrap(), None);
        assert_eq!(coalescer.load(1, &(), query).await.unwrap(), Some("one".to_string()));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_panicking_query_fails_its_batch_and_frees_its_turn() {
        let coalescer = Arc::new(Coalescer::<u32, Option<String>>::new("test", 1, 64));
        let boom = |(), _keys: Vec<u32>| -> Answer { Box::pin(async { panic!("bug") }) };
        let error = coalescer.load(1, &(), boom).await.unwrap_err();
        assert!(matches!(error, StorageError::Corrupt(ref m) if m.contains("panicked")), "{error:?}");
        let early = |(), _keys: Vec<u32>| -> Answer { panic!("bug before the query") };
        let error = coalescer.load(1, &(), early).await.unwrap_err();
        assert!(matches!(error, StorageError::Corrupt(ref m) if m.contains("panicked")), "{error:?}");
        let fine = |(), _keys: Vec<u32>| -> Answer {
            Box::pin(async { Ok(HashMap::from([(1, Some("one".to_string()))])) })
        };
        assert_eq!(coalescer.load(1, &(), fine).await.unwrap(), Some("one".to_string()));
    }

    #[tokio::test]
    async fn a_caller_that_goes_away_does_not_cancel_the_others() {
        let coalescer = Arc::new(Coalescer::<u32, Option<String>>::new("test", 1, 64));
        let slow = |(), keys: Vec<u32>| -> Answer {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(keys.into_iter().map(|k| (k, Some(format!("row {k}")))).collect())
            })
        };
        // The first caller starts the query and is dropped before it answers.
        let abandoned = tokio::time::timeout(Duration::from_millis(5), coalescer.load(2, &(), slow)).await;
        assert!(abandoned.is_err());
        assert_eq!(coalescer.load(4, &(), slow).await.unwrap(), Some("row 4".to_string()));
    }
}
