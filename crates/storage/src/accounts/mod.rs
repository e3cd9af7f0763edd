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
pub use sessions::{NewSession, RefreshOutcome, SessionInfo};
pub use throttle::ThrottleState;
pub use users::{NewUser, UserRow};

/// Revokes every live session of a user inside the transaction `$tx`, so
/// their access and refresh tokens stop working with the change that caused
/// it (password change or reset, account deletion).
macro_rules! revoke_user_sessions {
    ($tx:ident, $user_id:expr, $reason:literal, $now:expr) => {
        sqlx::query(concat!(
            "UPDATE sessions SET revoked_at = $1, revoke_reason = '",
            $reason,
            "' WHERE user_id = $2 AND revoked_at IS NULL"
        ))
        .bind($now)
        .bind($user_id)
        .execute(&mut *$tx)
        .await?;
    };
}
pub(crate) use revoke_user_sessions;

pub(crate) fn now_rfc3339() -> String {
    crate::recalls::now_rfc3339()
}
