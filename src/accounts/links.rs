//! One-time links sent by mail: confirming an address, resetting a password, the invitation
//! to choose one; and the reset request, which does its work after the answer.

use std::future::Future;
use std::net::IpAddr;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::audit::Event;
use super::throttle::Verdict;
use super::users::new_password_hash;
use super::{Accounts, User, account_change, digest, secret};
use crate::error::{Error, Result, code};
use crate::mail::Mail;
use crate::storage::accounts::LinkRow;
use crate::time::stamp;

/// What a link sent by mail is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    Verify,
    Reset,
    Invite,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Verify => "verify",
            Purpose::Reset => "reset",
            Purpose::Invite => "invite",
        }
    }

    fn lifetime(self) -> chrono::Duration {
        match self {
            Purpose::Reset => chrono::Duration::hours(1),
            Purpose::Verify | Purpose::Invite => chrono::Duration::days(7),
        }
    }

    /// The admin UI page the link opens.
    fn page(self) -> &'static str {
        match self {
            Purpose::Verify => "verify-email",
            Purpose::Reset | Purpose::Invite => "reset-password",
        }
    }

    fn subject(self) -> &'static str {
        match self {
            Purpose::Verify => "Confirm your email address",
            Purpose::Reset => "Reset your password",
            Purpose::Invite => "You are invited to Folio",
        }
    }

    fn intro(self) -> &'static str {
        match self {
            Purpose::Verify => "Open this link to confirm your email address:",
            Purpose::Reset => {
                "Someone asked to reset the password of this account. To choose a new one, open:"
            }
            Purpose::Invite => "An account was made for you. Choose your password here:",
        }
    }
}

pub(super) fn invalid_link() -> Error {
    Error::bad_request(code::INVALID_LINK, "this link is not valid any more")
}

/// A link another request used up between reading it and using it is as invalid as any.
fn link_used_up(e: Error) -> Error {
    match e {
        Error::Conflict {
            code: code::NOT_FOUND,
            ..
        } => invalid_link(),
        other => other,
    }
}

impl Accounts {
    /// A one-time link for `user` (stored by its digest) and the message carrying it, for
    /// the caller to write with its change.
    pub(super) fn link_mail(&self, user: &str, email: &str, purpose: Purpose) -> (LinkRow, Mail) {
        let secret = secret("fl_");
        let expires = Utc::now() + purpose.lifetime();
        let url = format!(
            "{}/admin/{}?token={secret}",
            self.public_base,
            purpose.page()
        );
        let mail = Mail {
            to: email.to_owned(),
            subject: purpose.subject().to_owned(),
            text: format!(
                "{}\n\n{url}\n\nThe link works once, until {}. If you did not expect this \
                 message, ignore it.\n",
                purpose.intro(),
                expires.format("%Y-%m-%d %H:%M UTC")
            ),
        };
        let link = LinkRow {
            id: digest(&secret),
            purpose: purpose.as_str().to_owned(),
            user: Some(user.to_owned()),
            expires_at: stamp(expires),
        };
        (link, mail)
    }

    /// Sends a password-reset link to `email` if an active user has it. Returns as soon as the
    /// request is counted against the throttle: looking the address up and writing the link
    /// happen after the answer, so an address that has an account takes the caller exactly as
    /// long as one that has none (the lookup and the write made the difference measurable).
    pub async fn request_password_reset(
        &self,
        email: &str,
        ip: Option<IpAddr>,
        address: Option<&str>,
    ) -> Result<()> {
        // Requests count against the account and the address like failed sign-ins: a few
        // are free, then they slow down, whether the account exists or not.
        let key = format!("reset:{}", email.trim().to_lowercase());
        let ip = ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        if let Verdict::Wait(wait) = self.throttle.check(&key, ip, Instant::now()) {
            return Err(Error::TooManyAttempts {
                retry_after: wait.as_secs().max(1),
            });
        }
        self.throttle.failed(&key, ip, Instant::now());
        let this = self.clone();
        let email = email.to_owned();
        let address = address.map(str::to_owned);
        self.in_background(async move {
            if let Err(e) = this.send_reset_link(&email, address.as_deref()).await {
                tracing::warn!(error = %e, "a password-reset link could not be prepared");
            }
        });
        Ok(())
    }

    /// The part of [`Accounts::request_password_reset`] that runs after the answer.
    async fn send_reset_link(&self, email: &str, address: Option<&str>) -> Result<()> {
        let Ok(email) = super::normalize_email(email) else {
            return Ok(());
        };
        let Some(row) = self.store.user_by_email(&email).await? else {
            return Ok(());
        };
        let user = User::from_row(&row);
        if user.status != "active" {
            return Ok(());
        }
        let (link, mail) = self.link_mail(&user.id, &user.email, Purpose::Reset);
        let event = Event::new(
            "public",
            "user.password_reset_requested",
            format!("user/{}", user.id),
        )
        .from_address(address);
        self.store
            .mail_link(
                &link,
                &mail,
                &account_change(&event, "user.password_reset_requested", &[]),
            )
            .await?;
        self.mailer.poke();
        Ok(())
    }

    /// Waits for work started after an answer (reset links being written), so a server that
    /// stops does not close the database under it.
    pub async fn finish_background(&self) {
        let mut tasks = std::mem::take(&mut *self.tasks());
        while tasks.join_next().await.is_some() {}
    }

    fn in_background(&self, work: impl Future<Output = ()> + Send + 'static) {
        let mut tasks = self.tasks();
        // Forget what has finished, so the set holds only what is running.
        while tasks.try_join_next().is_some() {}
        tasks.spawn(work);
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, tokio::task::JoinSet<()>> {
        self.background.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets a new password with a reset (or invitation) link, which is used up; every session
    /// of the user ends, and the address counts as confirmed.
    pub async fn complete_password_reset(
        &self,
        token: &str,
        new_password: &str,
        address: Option<&str>,
    ) -> Result<()> {
        self.complete_password_reset_at(token, new_password, address, Utc::now())
            .await
    }

    /// [`Accounts::complete_password_reset`] as of `now`.
    pub(super) async fn complete_password_reset_at(
        &self,
        token: &str,
        new_password: &str,
        address: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (link_id, user_id) = self
            .live_link(token, &[Purpose::Reset, Purpose::Invite], now)
            .await?;
        let user = self.store.user(&user_id).await?.ok_or_else(invalid_link)?;
        let hash = new_password_hash(&user, new_password).await?;
        let event = Event::new(
            &format!("user:{user_id}"),
            "user.password_reset",
            format!("user/{user_id}"),
        )
        .from_address(address);
        self.store
            .reset_password(
                &link_id,
                &user_id,
                &hash,
                &stamp(now),
                &account_change(&event, "user.updated", &["password"]),
            )
            .await
            .map_err(link_used_up)
    }

    /// Confirms a user's address with the link sent to it.
    pub async fn verify_email(&self, token: &str) -> Result<()> {
        let (link_id, user_id) = self
            .live_link(token, &[Purpose::Verify], Utc::now())
            .await?;
        self.store
            .verify_email(&link_id, &user_id)
            .await
            .map_err(link_used_up)
    }

    /// The link record's key and user for a live link of one of `purposes`.
    async fn live_link(
        &self,
        token: &str,
        purposes: &[Purpose],
        now: DateTime<Utc>,
    ) -> Result<(String, String)> {
        if !token.starts_with("fl_") || token.len() > 100 {
            return Err(invalid_link());
        }
        let id = digest(token);
        let link = self.store.link(&id).await?.ok_or_else(invalid_link)?;
        let purpose_ok = purposes.iter().any(|want| want.as_str() == link.purpose);
        let alive = crate::time::parse(&link.expires_at).is_some_and(|e| e > now);
        match (purpose_ok && alive, link.user) {
            (true, Some(user)) => Ok((id, user)),
            _ => Err(invalid_link()),
        }
    }
}
