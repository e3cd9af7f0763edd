//! A fake agency on 127.0.0.1 (real sockets): CPSC's Recall endpoint,
//! openFDA's enforcement search and Health Canada's search and detail
//! endpoints, serving generated records with the sources' own paging and
//! date filters, and failing on request: a status, a response slower than
//! the client's read timeout, malformed JSON, a connection dropped
//! mid-body, or a request held open until released.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use babyshield_ingest::Source;
use serde_json::{Value, json};
use time::{Date, OffsetDateTime};

#[derive(Debug, Clone)]
pub enum Fault {
    Status(u16),
    /// Answers after this long (longer than the client's read timeout).
    Slow(Duration),
    /// `200` with a body that is not JSON.
    Malformed,
    /// Announces a long body, sends a few bytes, drops the connection.
    Cut,
    /// Waits until [`Feed::release`] (or 30 s).
    Hold,
}

/// A fault for the requests whose path and query contain `matching`,
/// `times` times (`None`: every time).
#[derive(Debug, Clone)]
struct Rule {
    matching: String,
    fault: Fault,
    times: Option<usize>,
}

struct Inner {
    fda: Mutex<Vec<Value>>,
    cpsc: Mutex<Vec<Value>>,
    hc: Mutex<Vec<Value>>,
    hc_without_detail: Mutex<HashSet<String>>,
    rules: Mutex<Vec<Rule>>,
    log: Mutex<Vec<String>>,
    released: tokio::sync::watch::Sender<bool>,
}

#[derive(Clone)]
pub struct Feed {
    pub base: String,
    inner: Arc<Inner>,
}

pub fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

pub fn days_ago(n: i64) -> Date {
    today() - time::Duration::days(n)
}

pub fn ymd(date: Date) -> String {
    babyshield_domain::ymd::format(date)
}

fn compact(date: Date) -> String {
    ymd(date).replace('-', "")
}

impl Feed {
    pub async fn start() -> Feed {
        let inner = Arc::new(Inner {
            fda: Mutex::default(),
            cpsc: Mutex::default(),
            hc: Mutex::default(),
            hc_without_detail: Mutex::default(),
            rules: Mutex::default(),
            log: Mutex::default(),
            released: tokio::sync::watch::Sender::new(false),
        });
        let app = Router::new().fallback(serve).with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Feed { base: format!("http://{addr}"), inner }
    }

    /// The `base_url` of `source` on this feed.
    pub fn url_for(&self, source: Source) -> String {
        match source {
            Source::Cpsc => format!("{}/cpsc/Recall", self.base),
            Source::FdaFood => format!("{}/fda/food/enforcement.json", self.base),
            Source::FdaDrug => format!("{}/fda/drug/enforcement.json", self.base),
            Source::FdaDevice => format!("{}/fda/device/enforcement.json", self.base),
            Source::HealthCanada => format!("{}/hc", self.base),
        }
    }

    /// openFDA reports `F-<n>` dated `date` (every FDA endpoint serves them).
    pub fn add_fda(&self, numbers: impl IntoIterator<Item = u32>, date: Date) {
        let mut fda = self.inner.fda.lock().unwrap();
        for n in numbers {
            fda.push(json!({
                "recall_number": format!("F-{n:04}-2024"),
                "status": "Ongoing",
                "classification": "Class II",
                "product_type": "Food",
                "product_description": format!("Crunchy Snack Bar number {n}, 2 oz. bags. Sold in cartons."),
                "code_info": "Lot 20240101",
                "reason_for_recall": "Undeclared peanuts",
                "recalling_firm": "Snack Co",
                "distribution_pattern": "Nationwide",
                "report_date": compact(date),
                "recall_initiation_date": compact(date),
            }));
        }
    }

    pub fn add_cpsc(&self, numbers: impl IntoIterator<Item = u32>, date: Date) {
        let mut cpsc = self.inner.cpsc.lock().unwrap();
        for n in numbers {
            cpsc.push(json!({
                "RecallID": n,
                "RecallNumber": format!("24-{n}"),
                "RecallDate": format!("{}T00:00:00", ymd(date)),
                "Title": format!("Sleeper number {n} recalled due to suffocation hazard"),
                "Description": "The sleeper's sides can collapse.",
                "URL": format!("/Recalls/2024/sleeper-{n}"),
                "Products": [{"Name": "Infant sleeper", "Model": format!("IS-{n}"), "Type": "Nursery"}],
                "Hazards": [{"Name": "Suffocation"}],
                "Manufacturers": [{"Name": "Sleep Co"}],
            }));
        }
    }

    pub fn add_hc(&self, numbers: impl IntoIterator<Item = u32>, date: Date) {
        let mut hc = self.inner.hc.lock().unwrap();
        let published = date.midnight().assume_utc().unix_timestamp() + 12 * 3600;
        for n in numbers {
            hc.push(json!({
                "recallId": format!("RA-{n}"),
                "title": format!("Teether number {n} recalled due to choking hazard"),
                "category": [4],
                "date_published": published,
                "url": format!("/en/alert-recall/teether-{n}"),
            }));
        }
    }

    /// Health Canada lists `RA-<n>` but answers 404 for its detail.
    pub fn without_detail(&self, n: u32) {
        self.inner.hc_without_detail.lock().unwrap().insert(format!("RA-{n}"));
    }

    pub fn fail(&self, matching: &str, fault: Fault, times: Option<usize>) {
        self.inner.rules.lock().unwrap().push(Rule { matching: matching.into(), fault, times });
    }

    pub fn heal(&self) {
        self.inner.rules.lock().unwrap().clear();
    }

    /// Lets every held request (and any later one) go on.
    pub fn release(&self) {
        self.inner.released.send_replace(true);
    }

    /// Every request so far (path and query), oldest first.
    pub fn requests(&self) -> Vec<String> {
        self.inner.log.lock().unwrap().clone()
    }

    pub fn requests_matching(&self, part: &str) -> Vec<String> {
        self.requests().into_iter().filter(|r| r.contains(part)).collect()
    }
}

async fn serve(State(inner): State<Arc<Inner>>, uri: Uri) -> Response {
    let target = uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    inner.log.lock().unwrap().push(target.clone());
    let fault = {
        let mut rules = inner.rules.lock().unwrap();
        let hit = rules.iter_mut().find(|r| target.contains(&r.matching) && r.times != Some(0));
        hit.map(|rule| {
            if let Some(n) = rule.times.as_mut() {
                *n -= 1;
            }
            rule.fault.clone()
        })
    };
    match fault {
        Some(Fault::Status(code)) => {
            return (StatusCode::from_u16(code).unwrap(), "upstream trouble").into_response();
        }
        Some(Fault::Slow(after)) => tokio::time::sleep(after).await,
        Some(Fault::Malformed) => {
            return (StatusCode::OK, "{\"results\": [{\"recall_number\": ").into_response();
        }
        Some(Fault::Cut) => {
            // The headers and the first bytes go out; then the connection drops.
            let head = futures::stream::once(async {
                Ok::<_, std::io::Error>(Bytes::from_static(b"{\"results\": ["))
            });
            let cut = futures::stream::once(async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err(std::io::Error::other("connection dropped"))
            });
            let stream = futures::StreamExt::chain(head, cut);
            return Response::builder()
                .header(header::CONTENT_LENGTH, "100000")
                .body(Body::from_stream(stream))
                .unwrap();
        }
        Some(Fault::Hold) => {
            let mut released = inner.released.subscribe();
            let _ = tokio::time::timeout(Duration::from_secs(30), released.wait_for(|r| *r)).await;
        }
        None => {}
    }
    let query = uri.query().unwrap_or_default();
    let path = uri.path();
    if path.starts_with("/fda/") {
        openfda(&inner, query)
    } else if path == "/cpsc/Recall" {
        cpsc(&inner, query)
    } else if path == "/hc/search" {
        hc_search(&inner, query)
    } else if let Some(rest) = path.strip_prefix("/hc/") {
        hc_detail(&inner, rest)
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| pair.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v))
}

fn number(query: &str, name: &str) -> usize {
    param(query, name).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// `search=report_date:[20240101+TO+20240131]&limit=3&skip=0`.
fn openfda(inner: &Inner, query: &str) -> Response {
    let search = param(query, "search").unwrap_or_default();
    let range = search.trim_start_matches("report_date:[").trim_end_matches(']');
    let (from, to) = range.split_once("+TO+").unwrap_or(("00000000", "99999999"));
    let mut matching: Vec<Value> = inner
        .fda
        .lock()
        .unwrap()
        .iter()
        .filter(|r| {
            let d = r["report_date"].as_str().unwrap();
            d >= from && d <= to
        })
        .cloned()
        .collect();
    matching.sort_by(|a, b| a["recall_number"].as_str().cmp(&b["recall_number"].as_str()));
    if matching.is_empty() {
        let body = json!({"error": {"code": "NOT_FOUND", "message": "No matches found!"}});
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    }
    let (limit, skip) = (number(query, "limit").max(1), number(query, "skip"));
    let page: Vec<Value> = matching.iter().skip(skip).take(limit).cloned().collect();
    let body = json!({"meta": {"results": {"skip": skip, "limit": limit, "total": matching.len()}}, "results": page});
    axum::Json(body).into_response()
}

/// `RecallDateStart=2024-01-01&RecallDateEnd=2024-01-31`: the whole window.
fn cpsc(inner: &Inner, query: &str) -> Response {
    let from = param(query, "RecallDateStart").unwrap_or("0000-00-00").to_string();
    let to = format!("{}T99", param(query, "RecallDateEnd").unwrap_or("9999-99-99"));
    let records: Vec<Value> = inner
        .cpsc
        .lock()
        .unwrap()
        .iter()
        .filter(|r| {
            let d = r["RecallDate"].as_str().unwrap();
            d >= from.as_str() && d <= to.as_str()
        })
        .cloned()
        .collect();
    axum::Json(Value::Array(records)).into_response()
}

/// Newest first, `lim` and `off`.
fn hc_search(inner: &Inner, query: &str) -> Response {
    let mut all = inner.hc.lock().unwrap().clone();
    all.sort_by_key(|r| std::cmp::Reverse(r["date_published"].as_i64()));
    let (lim, off) = (number(query, "lim").max(1), number(query, "off"));
    let page: Vec<Value> = all.iter().skip(off).take(lim).cloned().collect();
    axum::Json(json!({"results": page, "results_count": all.len().to_string()})).into_response()
}

/// `RA-<n>/en`: the listed recall with panels.
fn hc_detail(inner: &Inner, rest: &str) -> Response {
    let id = rest.split('/').next().unwrap_or_default();
    if inner.hc_without_detail.lock().unwrap().contains(id) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(listed) = inner.hc.lock().unwrap().iter().find(|r| r["recallId"] == id).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut detail = listed;
    detail["panels"] = json!([
        {"panelName": "issue", "title": "Issue", "text": "<p>Small parts can break off, posing a <em>choking</em> hazard.</p>", "data": null},
        {"panelName": "affected_products", "title": "Affected products", "text": "UPC 0 12345 67890 5", "data": null},
    ]);
    axum::Json(detail).into_response()
}
