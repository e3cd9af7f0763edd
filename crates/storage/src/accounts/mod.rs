//! Accounts, sessions, password resets, login throttling, the audit trail
//! and the development outbox. Every change to an account is written in the
//! same transaction as its audit row.

mod audit;
mod outbox;
mod sessions;
mod throttle;
mod users;

pub use audit::{AuditEvent, AuditFilter, AuditRow};
pub use outbox::OutboxMessage;
pub use sessions::{RefreshOutcome, SessionInfo};
pub use throttle::ThrottleState;
pub use users::{NewUser, UserRow};

pub(crate) fn now_rfc3339() -> String {
    crate::recalls::now_rfc3339()
}
