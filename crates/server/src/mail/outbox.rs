//! The development mailer: with no SMTP relay configured, messages are kept in
//! the `mail_outbox` table for the operator to read with `babyshield outbox`.
//! Recipient and body are sealed before they reach the database.

use std::sync::Arc;

use babyshield_storage::Store;
use futures::future::BoxFuture;

use super::{Mail, MailError, Mailer};

/// Turns personal data into what may be stored (encryption in production).
/// A closure keeps this module independent of the crypto crate.
pub type Seal = Arc<dyn Fn(&str) -> String + Send + Sync>;

#[derive(Clone)]
pub struct OutboxMailer {
    store: Store,
    seal: Seal,
}

impl std::fmt::Debug for OutboxMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMailer").finish_non_exhaustive()
    }
}

impl OutboxMailer {
    pub fn new(store: Store, seal: Seal) -> Self {
        OutboxMailer { store, seal }
    }
}

impl Mailer for OutboxMailer {
    fn send<'a>(&'a self, mail: Mail) -> BoxFuture<'a, Result<(), MailError>> {
        Box::pin(async move {
            let recipient = (self.seal)(&mail.to);
            let body = (self.seal)(&mail.body);
            self.store
                .outbox_push(&recipient, &mail.subject, &body)
                .await
                .map_err(|e| MailError::Unavailable(format!("outbox: {e}")))
        })
    }

    fn kind(&self) -> &'static str {
        "outbox"
    }
}
