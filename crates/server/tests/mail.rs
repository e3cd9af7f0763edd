//! The mailers against real counterparts: a tiny SMTP server written here
//! (no mock of lettre) and a real SQLite store for the outbox.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use babyshield_server::mail::{self, Mail, MailConfig, MailError, Mailer, OutboxMailer, SmtpMailer};
use babyshield_storage::{DatabaseSettings, Store};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const RECIPIENT: &str = "parent@example.org";
const SUBJECT: &str = "Confirm your BabyShield account";
const BODY: &str = "Your confirmation code is 482913.";

/// One message as the sink received it.
#[derive(Debug, Clone, Default)]
struct Received {
    mail_from: String,
    rcpt_to: Vec<String>,
    data: String,
}

/// A minimal SMTP server: enough of RFC 5321 for lettre to deliver a message.
struct SmtpSink {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl SmtpSink {
    async fn start(reject_recipients: bool) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&received);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&store), reject_recipients));
            }
        });
        SmtpSink { addr, received }
    }

    fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    fn messages(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn serve(stream: TcpStream, received: Arc<Mutex<Vec<Received>>>, reject_recipients: bool) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut current = Received::default();
    let mut line = String::new();
    if write.write_all(b"220 sink.test ESMTP ready\r\n").await.is_err() {
        return;
    }
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return, // EOF, or bytes that are not SMTP (a TLS hello)
            Ok(_) => {}
        }
        let command = line.trim_end().to_ascii_uppercase();
        let reply: String = if command.starts_with("EHLO") {
            "250-sink.test greets you\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n".into()
        } else if command.starts_with("HELO") {
            "250 sink.test\r\n".into()
        } else if command.starts_with("MAIL FROM:") {
            current = Received { mail_from: angle_address(&line), ..Received::default() };
            "250 2.1.0 OK\r\n".into()
        } else if command.starts_with("RCPT TO:") {
            let address = angle_address(&line);
            if reject_recipients {
                format!("550 5.1.1 <{address}>: mailbox unavailable\r\n")
            } else {
                current.rcpt_to.push(address);
                "250 2.1.5 OK\r\n".into()
            }
        } else if command == "DATA" {
            if write.write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n").await.is_err() {
                return;
            }
            loop {
                line.clear();
                match lines.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if line == ".\r\n" {
                    break;
                }
                let unstuffed = line.strip_prefix('.').filter(|_| line.starts_with("..")).unwrap_or(&line);
                current.data.push_str(unstuffed);
            }
            received.lock().unwrap().push(std::mem::take(&mut current));
            "250 2.0.0 queued\r\n".into()
        } else if command == "RSET" {
            current = Received::default();
            "250 OK\r\n".into()
        } else if command == "NOOP" {
            "250 OK\r\n".into()
        } else if command == "QUIT" {
            let _ = write.write_all(b"221 2.0.0 bye\r\n").await;
            return;
        } else {
            "502 5.5.2 command not implemented\r\n".into()
        };
        if write.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// `MAIL FROM:<a@b> SIZE=12` -> `a@b`.
fn angle_address(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line[start..].find('>').map_or(line.len(), |i| start + i);
    line[start..end].to_owned()
}

fn config(smtp_url: String) -> MailConfig {
    MailConfig { smtp_url: Some(smtp_url), timeout_ms: 3_000, ..MailConfig::default() }
}

fn mail() -> Mail {
    Mail { to: RECIPIENT.to_owned(), subject: SUBJECT.to_owned(), body: BODY.to_owned() }
}

#[tokio::test]
async fn smtp_mailer_delivers_to_a_real_smtp_server() {
    let sink = SmtpSink::start(false).await;
    let mailer = SmtpMailer::new(&config(sink.url())).unwrap();

    mailer.send(mail()).await.expect("the sink accepts the message");

    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert_eq!(message.rcpt_to, vec![RECIPIENT.to_owned()]);
    assert_eq!(message.mail_from, "no-reply@babyshield.invalid");
    assert!(message.data.contains(&format!("Subject: {SUBJECT}\r\n")), "{}", message.data);
    assert!(message.data.contains(&format!("To: {RECIPIENT}\r\n")), "{}", message.data);
    assert!(message.data.contains("From: BabyShield <no-reply@babyshield.invalid>\r\n"), "{}", message.data);
    assert!(message.data.contains(BODY), "{}", message.data);
    assert_eq!(mailer.kind(), "smtp");
}

#[tokio::test]
async fn smtp_mailer_reports_unavailable_when_the_server_is_down() {
    let closed_port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let mailer = SmtpMailer::new(&config(format!("smtp://127.0.0.1:{closed_port}"))).unwrap();

    let result = mailer.send(mail()).await;

    assert!(matches!(result, Err(MailError::Unavailable(_))), "{result:?}");
}

#[tokio::test]
async fn a_silent_server_is_reported_as_unavailable_once_the_timeout_passes() {
    // Accepts the connection but never greets: only the timeout ends the wait.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(stream);
    });
    let mailer =
        SmtpMailer::new(&MailConfig { timeout_ms: 300, ..config(format!("smtp://{addr}")) }).unwrap();

    let result = tokio::time::timeout(Duration::from_secs(10), mailer.send(mail()))
        .await
        .expect("the mailer gives up on its own");

    assert!(matches!(result, Err(MailError::Unavailable(_))), "{result:?}");
    held.abort();
}

#[tokio::test]
async fn a_rejecting_server_is_reported_as_rejected() {
    let sink = SmtpSink::start(true).await;
    let mailer = SmtpMailer::new(&config(sink.url())).unwrap();

    let result = mailer.send(mail()).await;

    let Err(MailError::Rejected(reason)) = result else { panic!("expected Rejected, got {result:?}") };
    // The server's 550 text quotes the address; the error must not carry it on.
    assert!(!reason.contains(RECIPIENT), "{reason}");
    assert!(reason.contains("550"), "{reason}");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn an_invalid_recipient_is_rejected_before_connecting() {
    let sink = SmtpSink::start(false).await;
    let mailer = SmtpMailer::new(&config(sink.url())).unwrap();

    let result = mailer.send(Mail { to: "not an address".into(), ..mail() }).await;

    assert!(matches!(result, Err(MailError::Rejected(_))), "{result:?}");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn smtps_against_a_plain_text_server_is_unavailable() {
    // Exercises the rustls path for real: the crypto provider is present and a
    // failed handshake is an ordinary error, not a panic.
    let sink = SmtpSink::start(false).await;
    let mailer = SmtpMailer::new(&config(format!("smtps://user:pw@{}", sink.addr))).unwrap();

    let result = mailer.send(mail()).await;

    assert!(matches!(result, Err(MailError::Unavailable(_))), "{result:?}");
    assert!(sink.messages().is_empty());
}

#[test]
fn debug_output_hides_recipient_and_body() {
    let shown = format!("{:?}", mail());

    assert!(shown.contains(SUBJECT), "{shown}");
    assert!(!shown.contains(RECIPIENT), "{shown}");
    assert!(!shown.contains("parent"), "{shown}");
    assert!(!shown.contains("482913"), "{shown}");
}

async fn sqlite_store(dir: &tempfile::TempDir) -> Store {
    let store = Store::connect(&DatabaseSettings {
        url: format!("sqlite://{}/t.db", dir.path().display()),
        max_connections: 2,
        min_connections: 0,
        acquire_timeout: Duration::from_secs(1),
        statement_timeout: Duration::from_secs(5),
        sqlite_mmap_mib: 64,
        sqlite_cache_mib: 64,
        breaker: babyshield_storage::BreakerConfig { failures: 5, window_secs: 60, open_secs: 5 },
        read_retries: 0,
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    store
}

fn length_seal() -> mail::Seal {
    Arc::new(|s: &str| format!("sealed:{}", s.len()))
}

#[tokio::test]
async fn outbox_mailer_stores_sealed_mail() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let mailer = OutboxMailer::new(store.clone(), length_seal());

    mailer.send(mail()).await.unwrap();

    let rows = store.outbox_latest(10).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row.recipient_sealed, format!("sealed:{}", RECIPIENT.len()));
    assert_eq!(row.body_sealed, format!("sealed:{}", BODY.len()));
    assert_eq!(row.subject, SUBJECT);
    assert_eq!(mailer.kind(), "outbox");
}

#[tokio::test]
async fn from_config_uses_smtp_only_when_a_url_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let outbox = OutboxMailer::new(store, length_seal());

    let default = mail::from_config(&MailConfig::default(), outbox.clone()).unwrap();
    assert_eq!(default.kind(), "outbox");

    let relay = mail::from_config(&config("smtp://127.0.0.1:2525".into()), outbox.clone()).unwrap();
    assert_eq!(relay.kind(), "smtp");

    let invalid = MailConfig { timeout_ms: 0, ..config("smtp://127.0.0.1:2525".into()) };
    let err = mail::from_config(&invalid, outbox).err().expect("validation runs first");
    assert!(err.to_string().contains("mail.timeout_ms"), "{err}");
}
