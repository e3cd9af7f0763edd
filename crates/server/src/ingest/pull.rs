//! A pull: one source's feed read page by page into the catalogue.
//!
//! 1. **Lease.** [`Ingest::start`] takes the source's lease in the database
//!    (owner + expiry) and records a `running` run; while another
//!    instance's lease is valid the start is refused. The lease is renewed
//!    every third of `ingest.lease_secs` while the pull runs; an instance
//!    that dies stops renewing, and after the expiry another one takes the
//!    source over (recording the dead run as interrupted).
//! 2. **Cursor.** The pull starts from the saved cursor when an earlier
//!    pull stopped midway, else from the day after the last finished range
//!    (`since` for the first pull), up to today.
//! 3. **Pages.** Each page is fetched (timeouts, retries with full jitter,
//!    the source's breaker, the politeness pause), parsed (Health Canada:
//!    plus each recall's detail), upserted in one transaction, then its
//!    quarantined records, the run's counters and the cursor past it are
//!    committed together. While page N is stored, page N+1 is fetched and
//!    page N-1's rows go into the search index (handed over at its commit).
//! 4. **End.** Done, `max_pages` reached (the next pull continues), failed
//!    (fetch, parse or storage: the cursor stays at the failed page), or
//!    interrupted by shutdown or a lost lease; the run is finished and the
//!    lease released in one transaction.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use babyshield_domain::{Recall, ymd};
use babyshield_ingest::{
    RecordError, Source,
    paging::{Cursor, PageFacts, PagePlan},
    parse_health_canada_detail, parse_page,
};
use babyshield_resilience::BackgroundPool;
use babyshield_storage::{
    StorageError, Store,
    ingest::{IngestRun, Lease, PageCommit, PullEnd, Quarantined},
    recalls::{IndexUpdate, PreparedRecalls},
};
use tokio_util::sync::CancellationToken;

use super::{
    IngestConfig, SourceSchedule,
    fetch::{Fetched, Fetcher},
    is_no_match, split,
};
use crate::{
    catalogue::Catalogue,
    load::{LoadMark, RequestLoad},
    resilience::BreakerState,
};

/// Why a pull did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0} has no feed configured ({key}.base_url)", key = super::config::config_key(*.0))]
    NotConfigured(Source),
    #[error("a pull of {0} is already running (another run holds its lease)")]
    Running(Source),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A pull that holds its source's lease and has its run recorded.
#[derive(Debug)]
pub struct Started {
    pub source: Source,
    pub run_id: i64,
    lease: Lease,
}

/// Scheduled and triggered pulls of this instance, with one fetcher (and
/// breaker) per source.
pub struct Ingest {
    store: Store,
    catalogue: Option<Arc<Catalogue>>,
    config: IngestConfig,
    fetchers: HashMap<Source, Arc<Fetcher>>,
    owner: String,
    shutdown: CancellationToken,
    /// Parsing and preparing pages, under `SCHED_IDLE` (see
    /// [`IngestConfig::parsing_priority`]).
    background: BackgroundPool,
    /// The server's requests, which pulls give way to
    /// (`ingest.yield_percent`); none for a pull outside a server.
    load: Option<Arc<RequestLoad>>,
    /// This machine's cores, which requests in flight are compared with.
    cores: usize,
    /// Pauses made for requests, for [`Ingest::pauses`].
    pauses: std::sync::atomic::AtomicU64,
}

/// Threads parsing and preparing pages: one per core, so that pulls of
/// several sources at once can use an idle machine.
const BACKGROUND_THREADS: usize = 0;

/// How long a page's index update waits for the refresh turn when a
/// catch-up or a compaction's last step holds it (milliseconds, usually)
/// before its rows are left to the searches to read back; a first build
/// of a large catalogue holds it longer, and pages would pile up.
const INDEX_TURN_PATIENCE: Duration = Duration::from_secs(1);

/// The longest pause after one page, however long the page took to store
/// (a database slowed by an outage, not by requests, may take long).
const LONGEST_PAUSE: Duration = Duration::from_secs(10);

/// How much of a full pause a pull makes (0 to 1) when requests were in
/// flight `in_flight` on average: none while they leave a core over (at
/// most `cores - 1` in flight, so that an admin polling a run or a trickle
/// of searches does not slow a pull), in full from one per core, when a
/// pull's work can only take the cores from them.
fn busy_share(in_flight: f64, cores: usize) -> f64 {
    (in_flight - (cores as f64 - 1.0)).clamp(0.0, 1.0)
}

/// How the page loop ended.
struct Outcome {
    error: Option<String>,
    /// The range is done (else the cursor stays for the next pull).
    done: bool,
}

impl Outcome {
    fn failed(error: impl Into<String>) -> Outcome {
        Outcome { error: Some(error.into()), done: false }
    }
}

/// A page read, parsed and prepared for writing, ready to store.
struct ReadyPage {
    recalls: PreparedRecalls,
    quarantined: Vec<Quarantined>,
    fetched: i64,
    /// Where the pull goes after this page (`None`: the range is done).
    next: Option<Cursor>,
}

/// One pull's fixed facts.
struct RunContext<'a> {
    source: Source,
    run_id: i64,
    schedule: &'a SourceSchedule,
    plan: PagePlan,
    fetcher: &'a Fetcher,
    pacer: Pacer,
}

/// Keeps `politeness_ms` between two requests to a source.
struct Pacer {
    gap: Duration,
    last: Mutex<Option<Instant>>,
}

impl Pacer {
    async fn pace(&self) {
        let wait = {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let at = last.map_or(now, |t| (t + self.gap).max(now));
            *last = Some(at);
            at - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl Ingest {
    /// `shutdown` interrupts running pulls (they stop between requests and
    /// record where they stopped).
    pub fn new(
        config: &IngestConfig,
        store: Store,
        catalogue: Option<Arc<Catalogue>>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Ingest> {
        let mut fetchers = HashMap::new();
        for source in Source::ALL {
            fetchers.insert(*source, Arc::new(super::fetcher(config, *source)?));
        }
        Ok(Ingest {
            store,
            catalogue,
            config: config.clone(),
            fetchers,
            owner: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            shutdown,
            background: BackgroundPool::new("ingest", BACKGROUND_THREADS, config.parsing_priority()?),
            load: None,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            pauses: Default::default(),
        })
    }

    /// Pulls pause between pages while `load`'s requests are being served
    /// (`ingest.yield_percent`).
    pub fn yielding_to(mut self, load: Arc<RequestLoad>) -> Ingest {
        self.load = Some(load);
        self
    }

    /// This instance's name in the leases it takes.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn config(&self) -> &IngestConfig {
        &self.config
    }

    pub fn breaker_state(&self, source: Source) -> BreakerState {
        self.fetchers.get(&source).map_or(BreakerState::Closed, |f| f.breaker().state())
    }

    /// Seconds until `source` is due for a scheduled pull (0: now).
    pub async fn due_in(&self, source: Source) -> Result<Duration, StorageError> {
        let interval = i64::try_from(self.config.source(source).interval_secs).unwrap_or(i64::MAX);
        let last = self.store.ingest_source_state(source.as_str()).await?.and_then(|s| s.last_started_unix);
        Ok(match last {
            None => Duration::ZERO,
            Some(started) => {
                Duration::from_secs(u64::try_from(started.saturating_add(interval) - unix_now()).unwrap_or(0))
            }
        })
    }

    /// Takes the source's lease and records a `running` run.
    pub async fn start(&self, source: Source, origin: &str) -> Result<Started, StartError> {
        if self.config.source(source).base_url.is_none() {
            return Err(StartError::NotConfigured(source));
        }
        let now = unix_now();
        let until = now + self.lease_secs();
        let lease = self
            .store
            .acquire_ingest_lease(source.as_str(), origin, &self.owner, now, until)
            .await?
            .ok_or(StartError::Running(source))?;
        if lease.interrupted > 0 {
            tracing::warn!(source = %source, runs = lease.interrupted,
                "took over a source whose previous pull never finished; resuming from its cursor");
        }
        Ok(Started { source, run_id: lease.run_id, lease })
    }

    /// Starts and runs a pull to its end.
    pub async fn pull(&self, source: Source, origin: &str) -> Result<IngestRun, StartError> {
        let started = self.start(source, origin).await?;
        Ok(self.run(started).await?)
    }

    fn lease_secs(&self) -> i64 {
        i64::try_from(self.config.lease_secs).unwrap_or(60)
    }

    /// Runs a started pull to its end and returns the run as recorded.
    pub async fn run(&self, started: Started) -> Result<IngestRun, StorageError> {
        let Started { source, run_id, lease } = started;
        let schedule = self.config.source(source);
        let fetcher = self.fetchers.get(&source).expect("a fetcher per source");
        let plan = PagePlan {
            source,
            base_url: schedule.base_url.clone().unwrap_or_default(),
            page_size: schedule.page_size,
            window_days: schedule.window_days,
            language: schedule.language.clone(),
        };
        let today = time::OffsetDateTime::now_utc().date();
        let since = lease
            .state
            .next_since
            .as_deref()
            .and_then(ymd::parse)
            .or_else(|| ymd::parse(&schedule.since))
            .unwrap_or(today);
        let cursor = match lease.state.cursor.as_deref().map(Cursor::decode) {
            Some(Ok(cursor)) => {
                tracing::info!(source = %source, run = run_id, cursor = %cursor.encode(), "resuming from the saved cursor");
                cursor
            }
            Some(Err(e)) => {
                tracing::warn!(source = %source, error = %e, "ignoring an unreadable saved cursor");
                plan.start(since, today)
            }
            None => plan.start(since, today),
        };
        let context = RunContext {
            source,
            run_id,
            schedule,
            plan,
            fetcher,
            pacer: Pacer { gap: Duration::from_millis(schedule.politeness_ms), last: Mutex::new(None) },
        };
        tracing::info!(source = %source, run = run_id, from = %ymd::format(cursor.from), to = %ymd::format(cursor.to), "pull started");
        let started_at = Instant::now();
        let outcome = tokio::select! {
            outcome = self.pages(&context, cursor) => outcome,
            lost = self.keep_lease(source) => Outcome::failed(lost),
            _ = self.shutdown.cancelled() => Outcome::failed(
                "interrupted by shutdown; the next pull resumes from the saved cursor"),
        };
        let next_since = outcome.done.then(|| ymd::format(cursor.to));
        let end = PullEnd {
            source: source.as_str(),
            owner: &self.owner,
            run_id,
            succeeded: outcome.error.is_none(),
            error: outcome.error.as_deref(),
            next_since: next_since.as_deref(),
            now_unix: unix_now(),
        };
        let run = self.store.finish_ingest_pull(&end).await?.ok_or_else(|| {
            StorageError::Corrupt(format!("ingest run {run_id} disappeared while it was running"))
        })?;
        let seconds = started_at.elapsed().as_secs_f64();
        metrics::histogram!("ingest_pull_seconds", "source" => source.as_str()).record(seconds);
        match &outcome.error {
            None => {
                super::record_stored(source, &run);
                tracing::info!(source = %source, run = run_id, pages = run.pages, fetched = run.fetched,
                    inserted = run.inserted, updated = run.updated, unchanged = run.unchanged,
                    quarantined = run.quarantined, done = outcome.done, seconds, "pull finished");
            }
            Some(error) => {
                metrics::counter!("ingest_runs_failed_total", "source" => source.as_str()).increment(1);
                tracing::warn!(source = %source, run = run_id, pages = run.pages, error = %error, "pull failed");
            }
        }
        if run.inserted + run.updated > 0
            && let Some(catalogue) = &self.catalogue
            && let Err(e) = catalogue.refresh_vocabulary().await
        {
            tracing::warn!(error = %e, "search vocabulary refresh after a pull failed");
        }
        Ok(run)
    }

    /// Renews the lease until it is lost (resolves with the reason).
    async fn keep_lease(&self, source: Source) -> String {
        let every = Duration::from_secs((self.config.lease_secs / 3).max(1));
        loop {
            tokio::time::sleep(every).await;
            match self
                .store
                .renew_ingest_lease(source.as_str(), &self.owner, unix_now() + self.lease_secs())
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    return format!("lost the lease of {source}: another instance took the source over");
                }
                Err(e) => {
                    tracing::warn!(source = %source, error = %e, "cannot renew the ingest lease; retrying")
                }
            }
        }
    }

    /// Reads and stores pages from `cursor` until the range is done, a
    /// page fails, or `max_pages` pages are stored. While a page is
    /// written, the next one is fetched and parsed, and the one before goes
    /// into the search index: each page's rows are handed to the index as
    /// soon as the page commits and applied in commit order beside the
    /// writes, so searches see a page a few milliseconds after its commit
    /// (a pause before the next request, `politeness_ms`, does not hold
    /// them back) and the next page's write does not wait for them.
    async fn pages(&self, context: &RunContext<'_>, cursor: Cursor) -> Outcome {
        let (committed, mut to_index) = tokio::sync::mpsc::unbounded_channel::<IndexUpdate>();
        let index = async {
            while let Some(update) = to_index.recv().await {
                self.store.index_written_waiting(update, INDEX_TURN_PATIENCE).await;
            }
        };
        let (outcome, ()) = tokio::join!(self.page_loop(context, cursor, committed), index);
        outcome
    }

    /// The pages of [`Ingest::pages`]; each committed page's index update
    /// goes to `committed`.
    async fn page_loop(
        &self,
        context: &RunContext<'_>,
        mut cursor: Cursor,
        committed: tokio::sync::mpsc::UnboundedSender<IndexUpdate>,
    ) -> Outcome {
        let max_pages = context.schedule.max_pages;
        let mut stored = 0u32;
        let mut since = self.load.as_ref().map(|load| load.mark());
        let mut ready = self.read_page(context, cursor).await;
        loop {
            let page = match ready {
                Ok(page) => page,
                Err(e) => return Outcome::failed(e),
            };
            stored += 1;
            let page_next = page.next;
            let prefetch = page_next.filter(|_| stored < max_pages);
            // Store this page while the next one is on its way.
            let (written, next) = tokio::join!(
                async {
                    let storing = Instant::now();
                    let update = self.store_page(context, cursor, page).await?;
                    // Only fails once the receiver is gone (the pull was
                    // stopped); a dropped update is read back by the next
                    // search.
                    let _ = committed.send(update);
                    Ok::<Duration, String>(storing.elapsed())
                },
                async {
                    match prefetch {
                        Some(next) => Some(self.read_page(context, next).await),
                        None => None,
                    }
                }
            );
            let stored_in = match written {
                Ok(took) => took,
                Err(e) => return Outcome::failed(e),
            };
            match (page_next, next) {
                (None, _) => return Outcome { error: None, done: true },
                (Some(_), None) => {
                    tracing::info!(source = %context.source, pages = stored,
                        "max_pages reached; the next pull continues from the saved cursor");
                    return Outcome { error: None, done: false };
                }
                (Some(next_cursor), Some(next_page)) => {
                    self.give_way(context.source, stored_in, &mut since).await;
                    cursor = next_cursor;
                    ready = next_page;
                }
            }
        }
    }

    /// While requests are being served, pauses before the next page for
    /// `ingest.yield_percent` of the time the last page took to store (the
    /// database's work: not fetching, pacing or parsing, which run under
    /// `SCHED_IDLE` and wait for the source), in proportion to how busy the
    /// requests kept the cores since the last pause (see [`busy_share`]),
    /// and at most [`LONGEST_PAUSE`]. Niceness lowers only this process's
    /// threads; the pause also spares the cores the database spends on a
    /// page (PostgreSQL's backend, its index merges) when it runs on this
    /// machine. Only this instance's requests are seen.
    async fn give_way(&self, source: Source, stored_in: Duration, since: &mut Option<LoadMark>) {
        let (Some(load), Some(mark)) = (&self.load, since.as_mut()) else { return };
        let busy = busy_share(load.in_flight_since(*mark), self.cores);
        let pause = stored_in.mul_f64(busy * f64::from(self.config.yield_percent) / 100.0).min(LONGEST_PAUSE);
        if !pause.is_zero() {
            metrics::histogram!("ingest_page_pause_seconds", "source" => source.as_str())
                .record(pause.as_secs_f64());
            self.pauses.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(pause).await;
        }
        *mark = load.mark();
    }

    /// Pauses this instance's pulls made for requests (also in
    /// `ingest_page_pause_seconds`).
    pub fn pauses(&self) -> u64 {
        self.pauses.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Fetches and parses the page at `cursor`.
    async fn read_page(&self, context: &RunContext<'_>, cursor: Cursor) -> Result<ReadyPage, String> {
        let url = context.plan.url(&cursor);
        let body = self.fetch(context, &url).await?;
        let source = context.source;
        let parsed = self
            .background
            .run(move || parse_page(source, &body))
            .await
            .map_err(|e| format!("parsing {url} failed: {e}"))?
            .map_err(|e| format!("the page at {url} is unusable: {e}"))?;
        let items = (parsed.records.len() + parsed.duplicates) as u64;
        let total = parsed.total;
        let (records, all_older) = match source {
            Source::HealthCanada => self.with_details(context, &cursor, parsed.records).await?,
            _ => (parsed.records, false),
        };
        let fetched = records.len() as i64;
        let (recalls, quarantined) = split(records);
        // Serializing, hashing and search text, off the async threads and
        // while the page before is being written.
        let backend = self.store.backend();
        let recalls = self
            .background
            .run(move || PreparedRecalls::new(recalls, backend))
            .await
            .map_err(|e| format!("preparing {url} failed: {e}"))?
            .map_err(|e| format!("preparing {url} failed: {e}"))?;
        let next = context.plan.advance(&cursor, PageFacts { items, total, all_older });
        Ok(ReadyPage { recalls, quarantined, fetched, next })
    }

    /// The body of a 2xx answer (or of openFDA's "no matches" 404).
    async fn fetch(&self, context: &RunContext<'_>, url: &str) -> Result<Vec<u8>, String> {
        context.pacer.pace().await;
        match context.fetcher.get(url, &|_, _| {}).await {
            Ok(Fetched { status, body })
                if (200..300).contains(&status) || is_no_match(context.source, status, &body) =>
            {
                Ok(body)
            }
            Ok(Fetched { status, .. }) => {
                Err(format!("fetching {url} failed: the source answered HTTP {status}"))
            }
            Err(e) => Err(format!("fetching {url} failed: {e}")),
        }
    }

    /// Health Canada: each listed recall of the range replaced by its
    /// detail (which carries the description, hazard and barcodes). Recalls
    /// older than the range are left out; whether they all were is
    /// returned (the list is newest first, so paging stops there).
    async fn with_details(
        &self,
        context: &RunContext<'_>,
        cursor: &Cursor,
        records: Vec<Result<Recall, RecordError>>,
    ) -> Result<(Vec<Result<Recall, RecordError>>, bool), String> {
        let (mut dated, mut older) = (0usize, 0usize);
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let listed = match record {
                Ok(recall) => recall,
                Err(e) => {
                    out.push(Err(e));
                    continue;
                }
            };
            dated += 1;
            if listed.recall_date < cursor.from {
                older += 1;
                continue;
            }
            let id =
                listed.id.as_str().strip_prefix("HEALTH_CANADA-").unwrap_or(listed.id.as_str()).to_string();
            let url = context.plan.detail_url(&id);
            context.pacer.pace().await;
            let bad = |message: String| RecordError {
                index: 0,
                source_id: Some(id.clone()),
                field: "detail".into(),
                message,
            };
            match context.fetcher.get(&url, &|_, _| {}).await {
                Err(e) => return Err(format!("fetching the detail {url} failed: {e}")),
                Ok(Fetched { status, body }) if (200..300).contains(&status) => {
                    match parse_health_canada_detail(&body) {
                        Ok(Ok(recall)) => out.push(Ok(recall)),
                        Ok(Err(mut e)) => {
                            e.source_id.get_or_insert(id.clone());
                            out.push(Err(e));
                        }
                        Err(e) => out.push(Err(bad(e.to_string()))),
                    }
                }
                // Listed but without a detail page (yet): the list entry is
                // still a valid recall.
                Ok(Fetched { status: 404, .. }) => out.push(Ok(listed)),
                Ok(Fetched { status, .. }) => {
                    out.push(Err(bad(format!("the detail endpoint answered HTTP {status}"))));
                }
            }
        }
        Ok((out, dated > 0 && older == dated))
    }

    /// Upserts a page's recalls, then commits its quarantined records, the
    /// run's counters and the cursor past it (the cursor stays on this page
    /// when the range is done, until the run is finished). Returns the
    /// page's rows for the search index, still to apply.
    async fn store_page(
        &self,
        context: &RunContext<'_>,
        cursor: Cursor,
        page: ReadyPage,
    ) -> Result<IndexUpdate, String> {
        let (written, update) = self
            .store
            .write_prepared_in_background(page.recalls)
            .await
            .map_err(|e| format!("storing a page of {} failed: {e}", context.source))?;
        let commit = PageCommit {
            source: context.source.as_str(),
            owner: &self.owner,
            run_id: context.run_id,
            cursor: Some(page.next.unwrap_or(cursor).encode()),
            fetched: page.fetched,
            inserted: written.inserted as i64,
            updated: written.updated as i64,
            unchanged: written.unchanged as i64,
            quarantined: &page.quarantined,
        };
        let held = self
            .store
            .record_ingest_page(&commit)
            .await
            .map_err(|e| format!("recording a page of {} failed: {e}", context.source))?;
        if !held {
            return Err(format!(
                "lost the lease of {}: another instance took the source over",
                context.source
            ));
        }
        let source = context.source.as_str();
        metrics::counter!("ingest_pages_total", "source" => source).increment(1);
        metrics::counter!("ingest_records_fetched_total", "source" => source).increment(page.fetched as u64);
        Ok(update)
    }
}

#[cfg(test)]
mod tests {
    use super::busy_share;

    #[test]
    fn a_pull_pauses_only_when_requests_leave_no_core_over() {
        for (in_flight, cores, share) in [
            (0.0, 2, 0.0),
            (0.1, 2, 0.0),
            (1.0, 2, 0.0),
            (1.5, 2, 0.5),
            (2.0, 2, 1.0),
            (45.0, 2, 1.0),
            (0.0, 1, 0.0),
            (0.25, 1, 0.25),
            (3.5, 4, 0.5),
        ] {
            assert_eq!(busy_share(in_flight, cores), share, "{in_flight} in flight on {cores} cores");
        }
    }
}
