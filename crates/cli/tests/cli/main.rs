//! Black-box tests of the `babyshield` binary: each test runs the real
//! executable in its own temporary directory and checks exit codes, output,
//! files, HTTP answers and logs.

mod accounts;
mod config;
mod data;
mod harness;
mod ingest_url;
mod journey;
mod serve;
