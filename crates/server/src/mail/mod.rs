//! Outgoing mail (account confirmation, password reset) behind a small trait,
//! so handlers do not care whether a message goes to an SMTP relay or, when
//! none is configured, to the sealed development outbox in the database.

mod outbox;
mod smtp;

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

pub use outbox::{OutboxMailer, Seal};
pub use smtp::SmtpMailer;

/// One message to one recipient. The recipient and body are personal data:
/// `Debug` shows only the subject so a stray `{:?}` cannot leak them.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

impl fmt::Debug for Mail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail").field("subject", &self.subject).finish_non_exhaustive()
    }
}

/// Why a message was not handed over, split by what the caller can do about it.
/// Messages never contain the recipient or the body.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The relay or database cannot take mail right now (down, timed out,
    /// transient 4xx). Retrying later may work.
    #[error("mail delivery unavailable: {0}")]
    Unavailable(String),
    /// The message was refused for good (permanent 5xx, invalid recipient).
    /// Retrying the same message will not help.
    #[error("mail rejected: {0}")]
    Rejected(String),
}

/// A way to send mail. A boxed future instead of `async fn` keeps the trait
/// object safe, so `AppState` can hold an `Arc<dyn Mailer>`.
pub trait Mailer: Send + Sync {
    fn send<'a>(&'a self, mail: Mail) -> BoxFuture<'a, Result<(), MailError>>;
    /// Short name for logs and the readiness report: `smtp` or `outbox`.
    fn kind(&self) -> &'static str;
}

/// The `[mail]` configuration section.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// `smtp://host:port` (plain, for a relay on localhost or a private
    /// network) or `smtps://user:pass@host:465` (implicit TLS). Unset: mail
    /// goes to the database outbox.
    pub smtp_url: Option<String>,
    /// The `From` mailbox, e.g. `BabyShield <no-reply@example.org>`.
    pub from: String,
    /// Upper bound for one delivery, connection included.
    pub timeout_ms: u64,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            smtp_url: None,
            from: "BabyShield <no-reply@babyshield.invalid>".to_owned(),
            timeout_ms: 10_000,
        }
    }
}

/// Hand-written so a password in `smtp_url` never reaches a log.
impl fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailConfig")
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_userinfo))
            .field("from", &self.from)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

impl MailConfig {
    /// Checks the section at start; the message names the bad key.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(url) = &self.smtp_url {
            smtp::validate_url(url).map_err(|why| format!("mail.smtp_url: {why}"))?;
        }
        self.from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| format!("mail.from: not a valid mailbox ({e})"))?;
        if self.timeout_ms == 0 {
            return Err("mail.timeout_ms: must be greater than 0".to_owned());
        }
        Ok(())
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.timeout_ms)
    }
}

/// SMTP when `smtp_url` is set, otherwise the database outbox.
pub fn from_config(config: &MailConfig, outbox: OutboxMailer) -> anyhow::Result<Arc<dyn Mailer>> {
    config.validate().map_err(anyhow::Error::msg)?;
    Ok(match config.smtp_url {
        Some(_) => Arc::new(SmtpMailer::new(config)?),
        None => Arc::new(outbox),
    })
}

/// `smtps://user:pass@host` -> `smtps://***@host`.
fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid_and_uses_the_outbox() {
        let config = MailConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert!(config.smtp_url.is_none());
    }

    #[test]
    fn validate_names_the_bad_key() {
        let bad_scheme = MailConfig { smtp_url: Some("http://relay:25".into()), ..MailConfig::default() };
        assert!(bad_scheme.validate().unwrap_err().starts_with("mail.smtp_url"));

        let bad_from = MailConfig { from: "not a mailbox".into(), ..MailConfig::default() };
        assert!(bad_from.validate().unwrap_err().starts_with("mail.from"));

        let zero = MailConfig { timeout_ms: 0, ..MailConfig::default() };
        assert!(zero.validate().unwrap_err().starts_with("mail.timeout_ms"));
    }

    #[test]
    fn validate_accepts_plain_and_tls_relays() {
        for url in
            ["smtp://localhost:2525", "smtps://user:secret@mail.example.org:465", "smtps://mail.example.org"]
        {
            let config = MailConfig { smtp_url: Some(url.into()), ..MailConfig::default() };
            assert_eq!(config.validate(), Ok(()), "{url}");
        }
    }

    #[test]
    fn validate_refuses_credentials_over_plain_smtp() {
        let config =
            MailConfig { smtp_url: Some("smtp://user:secret@relay:25".into()), ..MailConfig::default() };
        let err = config.validate().unwrap_err();
        assert!(err.contains("smtps://"), "{err}");
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn debug_hides_the_smtp_password() {
        let config = MailConfig {
            smtp_url: Some("smtps://user:secret@mail.example.org:465".into()),
            ..MailConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(!shown.contains("user"), "{shown}");
        assert!(shown.contains("mail.example.org:465"), "{shown}");
    }
}
