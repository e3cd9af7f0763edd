//! Black-box tests of the HTTP service against real databases.

mod harness;

mod accounts;
mod catalogue;
mod foundation;
mod hardening;
mod limits;
mod outages;
