//! Delivery through an SMTP relay with `lettre`. TLS (`smtps://`) goes through
//! rustls with the ring provider, the only crypto backend in the workspace.

use std::time::Duration;

use anyhow::Context;
use futures::future::BoxFuture;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Mail, MailConfig, MailError, Mailer};

/// Sends through one relay. The transport (TLS configuration included) is
/// built once; each message opens its own connection.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.to_string())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    pub fn new(config: &MailConfig) -> anyhow::Result<Self> {
        let url = config.smtp_url.as_deref().context("mail.smtp_url is not set")?;
        validate_url(url).map_err(|why| anyhow::anyhow!("mail.smtp_url: {why}"))?;
        let from: Mailbox =
            config.from.parse().map_err(|e| anyhow::anyhow!("mail.from: not a valid mailbox ({e})"))?;
        let timeout = config.timeout();
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("mail.smtp_url: {e}"))?
            .timeout(Some(timeout))
            .build();
        Ok(SmtpMailer { transport, from, timeout })
    }

    fn message(&self, mail: Mail) -> Result<Message, MailError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|_| MailError::Rejected("recipient is not a valid address".to_owned()))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body)
            .map_err(|e| MailError::Rejected(format!("message could not be built: {e}")))
    }
}

impl Mailer for SmtpMailer {
    fn send<'a>(&'a self, mail: Mail) -> BoxFuture<'a, Result<(), MailError>> {
        Box::pin(async move {
            let message = self.message(mail)?;
            // lettre's timeout is per command; this bounds the whole exchange.
            match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
                Ok(Ok(_response)) => Ok(()),
                Ok(Err(err)) => Err(classify(&err)),
                Err(_elapsed) => Err(MailError::Unavailable(format!(
                    "SMTP relay did not finish within {} ms",
                    self.timeout.as_millis()
                ))),
            }
        })
    }

    fn kind(&self) -> &'static str {
        "smtp"
    }
}

/// Permanent replies (5xx) are refusals; everything else may pass with time.
/// Only the reply code is kept: the server's text often quotes the recipient.
fn classify(err: &smtp::Error) -> MailError {
    match err.status() {
        Some(code) if err.is_permanent() => MailError::Rejected(format!("SMTP server answered {code}")),
        Some(code) => MailError::Unavailable(format!("SMTP server answered {code}")),
        None if err.is_timeout() => MailError::Unavailable("SMTP relay timed out".to_owned()),
        None if err.is_response() => MailError::Unavailable("SMTP relay sent a malformed reply".to_owned()),
        None => MailError::Unavailable(err.to_string()),
    }
}

/// Accepts `smtp://host[:port]` and `smtps://[user:pass@]host[:port]`.
/// Credentials over plain `smtp://` are refused: they would cross the
/// network in clear text (lettre would also refuse to send them).
pub(super) fn validate_url(url: &str) -> Result<(), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| "expected smtp://host:port or smtps://user:pass@host:465".to_owned())?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    match scheme {
        "smtps" => {}
        "smtp" if authority.contains('@') && !rest.contains("tls=required") => {
            return Err("credentials need TLS; use smtps://user:pass@host:465".to_owned());
        }
        "smtp" => {}
        other => return Err(format!("scheme must be smtp or smtps, not {other:?}")),
    }
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    if host.is_empty() || host.starts_with(':') {
        return Err("the URL names no host".to_owned());
    }
    // lettre's own parser has the last word (port, tls parameter).
    AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map(|_| ())
        .map_err(|e| format!("not a valid SMTP URL ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_without_host_or_with_other_schemes_are_refused() {
        assert!(validate_url("smtp://").is_err());
        assert!(validate_url("smtp://:25").is_err());
        assert!(validate_url("smtps://user:pw@").is_err());
        assert!(validate_url("mailto:someone").is_err());
        assert!(validate_url("smtp://relay:notaport").is_err());
    }

    #[test]
    fn error_messages_do_not_echo_credentials() {
        let err = validate_url("smtp://user:hunter2@relay:25").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }
}
