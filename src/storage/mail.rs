//! The mail outbox (`folio_mail`): messages stored with the change that causes them, claimed
//! for a minute by the node that sends them, then marked sent, or pending again with the time
//! of the next attempt, or failed.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::Store;
use super::accounts::Record;
use crate::error::Result;
use crate::time::stamp;

/// A message to send.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// A message claimed from the outbox.
#[derive(Debug, Clone)]
pub struct QueuedMail {
    pub id: String,
    pub mail: Mail,
    /// Deliveries tried before this one.
    pub attempts: u64,
}

/// What became of a delivery.
pub enum Delivery<'a> {
    Sent,
    /// Tried again from `next`.
    Retry {
        next: DateTime<Utc>,
        error: &'a str,
    },
    /// Given up.
    Failed {
        error: &'a str,
    },
}

/// How much of a transport's error is kept with the message.
const ERROR_KEPT: usize = 500;

/// The statement (and its bindings) that puts `mail` in the outbox, for a caller's
/// transaction.
pub(crate) fn enqueue_script(mail: &Mail) -> (String, Vec<(String, Value)>) {
    let now = crate::time::now();
    (
        "CREATE type::record('folio_mail', $mail_id) CONTENT $mail RETURN NONE;".to_owned(),
        vec![
            ("mail_id".into(), json!(ulid::Ulid::new().to_string())),
            (
                "mail".into(),
                json!({
                    "to": mail.to,
                    "subject": mail.subject,
                    "text": mail.text,
                    "status": "pending",
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": now,
                }),
            ),
        ],
    )
}

impl Store {
    /// Puts `mail` in the outbox on its own.
    pub async fn enqueue_mail(&self, mail: &Mail) -> Result<()> {
        let (script, binds) = enqueue_script(mail);
        self.system_write(&script, binds).await?;
        Ok(())
    }

    /// The texts of the messages in the outbox with subject `subject`, oldest first.
    pub async fn mail_texts(&self, subject: &str) -> Result<Vec<String>> {
        Ok(self
            .system_read(
                "SELECT text, created_at FROM folio_mail WHERE subject = $subject ORDER BY created_at",
                vec![("subject".into(), json!(subject))],
            )
            .await?
            .iter()
            .filter_map(|r| r.get("text").and_then(Value::as_str).map(str::to_owned))
            .collect())
    }

    /// Claims up to `limit` messages due at `now` that no node holds, until `lease_until`.
    pub async fn claim_due_mail(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<QueuedMail>> {
        let claimed = self
            .background_write(
                "UPDATE (SELECT VALUE id FROM folio_mail
                         WHERE status = 'pending' AND next_attempt_at <= $now
                           AND (lease_until = NONE OR lease_until < $now)
                         LIMIT $limit)
                 SET lease_until = $lease
                 WHERE status = 'pending' AND (lease_until = NONE OR lease_until < $now)
                 RETURN AFTER;",
                vec![
                    ("now".into(), json!(stamp(now))),
                    ("lease".into(), json!(stamp(lease_until))),
                    ("limit".into(), json!(limit)),
                ],
            )
            .await?;
        Ok(claimed
            .into_iter()
            .nth(1)
            .unwrap_or_default()
            .iter()
            .map(queued)
            .collect())
    }

    /// Records how the delivery of `message` went, releasing its claim.
    pub async fn finish_mail(&self, message: &QueuedMail, outcome: Delivery<'_>) -> Result<()> {
        let attempts = message.attempts + 1;
        let kept = |e: &str| e.chars().take(ERROR_KEPT).collect::<String>();
        let (script, binds) = match outcome {
            Delivery::Sent => (
                "UPDATE type::record('folio_mail', $id) SET status = 'sent', attempts = $attempts, \
                 sent_at = $now, lease_until = NONE, last_error = NONE;",
                vec![("now".to_owned(), json!(crate::time::now()))],
            ),
            Delivery::Retry { next, error } => (
                "UPDATE type::record('folio_mail', $id) SET status = 'pending', attempts = $attempts, \
                 next_attempt_at = $next, lease_until = NONE, last_error = $error;",
                vec![
                    ("next".to_owned(), json!(stamp(next))),
                    ("error".to_owned(), json!(kept(error))),
                ],
            ),
            Delivery::Failed { error } => (
                "UPDATE type::record('folio_mail', $id) SET status = 'failed', attempts = $attempts, \
                 lease_until = NONE, last_error = $error;",
                vec![("error".to_owned(), json!(kept(error)))],
            ),
        };
        let mut binds = binds;
        binds.extend([
            ("id".to_owned(), json!(message.id)),
            ("attempts".to_owned(), json!(attempts)),
        ]);
        self.background_write(script, binds).await?;
        Ok(())
    }
}

fn queued(row: &Record) -> QueuedMail {
    let text = |k: &str| {
        row.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    QueuedMail {
        id: super::record_key(&text("id")),
        mail: Mail {
            to: text("to"),
            subject: text("subject"),
            text: text("text"),
        },
        attempts: row.get("attempts").and_then(Value::as_u64).unwrap_or(0),
    }
}
