//! Outgoing mail through an outbox in the database.
//!
//! Sending a message only stores it (in the same transaction as whatever caused it, where
//! there is one); a background task delivers what is due, and a message that fails is tried
//! again later with a growing pause, up to [`MAX_ATTEMPTS`] times. A mail server outage
//! delays mail and loses none. A node claims a message for a minute before sending it, so
//! nodes sharing a database do not send it twice.
//!
//! Transports: SMTP by URL (`smtp://user:pass@host:587?tls=required` for STARTTLS,
//! `smtps://user:pass@host` for TLS from the start, plain `smtp://host:25` for a local relay),
//! or by default `.eml` files written under `DATA_DIR/mail/`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::Notify;

use crate::error::{Error, Result};
use crate::storage::Store;
use crate::storage::mail::Delivery;

/// Deliveries tried before a message is given up (and logged as failed).
pub const MAX_ATTEMPTS: u64 = 10;

/// Where mail goes.
#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// The mail service: enqueue messages, and run the delivery task. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    store: Store,
    transport: Transport,
    from: Mailbox,
    /// The first pause after a failure; each further failure doubles it (capped at an hour).
    retry_base: Duration,
    wake: Arc<Notify>,
}

pub use crate::storage::mail::Mail;

impl Mailer {
    pub fn new(config: &crate::Config, store: Store) -> Result<Mailer> {
        let transport = match &config.mail.url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| Error::Config(format!("mail.url is not a usable SMTP URL: {e}")))?
                    .timeout(Some(Duration::from_secs(30)))
                    .build(),
            ),
            None => Transport::Files(config.data_dir.join("mail")),
        };
        let from = config
            .mail
            .from
            .parse()
            .map_err(|e| Error::Config(format!("mail.from is not an address: {e}")))?;
        Ok(Mailer {
            store,
            transport,
            from,
            retry_base: Duration::from_secs(config.mail.retry_seconds.max(1)),
            wake: Arc::new(Notify::new()),
        })
    }

    /// Puts `mail` in the outbox on its own.
    pub async fn enqueue(&self, mail: &Mail) -> Result<()> {
        self.store.enqueue_mail(mail).await?;
        self.poke();
        Ok(())
    }

    /// Wakes the delivery task (after a commit that enqueued mail).
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// Delivers due mail until `stop` completes: when woken, and every few seconds for
    /// retries and for mail other nodes enqueued.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            if let Err(e) = self.deliver_due().await {
                tracing::warn!(error = %e, "mail delivery pass failed");
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// Claims and sends every message that is due.
    pub async fn deliver_due(&self) -> Result<usize> {
        let now = Utc::now();
        let claimed = self
            .store
            .claim_due_mail(now, now + chrono::Duration::seconds(60), 20)
            .await?;
        let mut sent = 0;
        for message in claimed {
            let id = &message.id;
            let attempts = message.attempts + 1;
            let error = match self.send(&message.mail, id).await {
                Ok(()) => {
                    sent += 1;
                    self.store.finish_mail(&message, Delivery::Sent).await?;
                    continue;
                }
                Err(e) => e,
            };
            let delivery = if attempts >= MAX_ATTEMPTS {
                tracing::error!(mail = %id, attempts, error = %error, "mail given up");
                Delivery::Failed { error: &error }
            } else {
                let pause = self
                    .retry_base
                    .saturating_mul(1 << (attempts - 1).min(12))
                    .min(Duration::from_secs(3600));
                tracing::warn!(mail = %id, attempts, error = %error, retry_in_s = pause.as_secs(), "mail not delivered; will retry");
                Delivery::Retry {
                    next: Utc::now() + chrono::Duration::from_std(pause).unwrap_or_default(),
                    error: &error,
                }
            };
            self.store.finish_mail(&message, delivery).await?;
        }
        Ok(sent)
    }

    async fn send(&self, mail: &Mail, id: &str) -> std::result::Result<(), String> {
        let to: Mailbox = mail.to.parse().map_err(|e| format!("bad recipient: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text.clone())
            .map_err(|e| format!("building the message: {e}"))?;
        match &self.transport {
            Transport::Smtp(smtp) => smtp
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Transport::Files(dir) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::fs::write(dir.join(format!("{id}.eml")), message.formatted())
                    .await
                    .map_err(|e| e.to_string())
            }
        }
    }
}
