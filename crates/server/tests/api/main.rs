//! Black-box tests of the HTTP service against real databases.

mod harness;

mod accounts;
mod caching;
mod catalogue;
mod family;
mod flags;
mod foundation;
mod hardening;
mod idempotency;
mod ingest_feed;
mod ingest_schedule;
mod ingestion;
mod limits;
mod outages;
mod ranking;
mod scan;
mod versioning;
