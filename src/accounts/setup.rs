//! The first administrator: a one-time setup link while there are no users.

use std::net::IpAddr;

use chrono::Utc;

use super::{Accounts, NewSession, digest, secret};
use crate::error::{Error, Result, code};
use crate::storage::accounts::LinkRow;
use crate::time::stamp;

impl Accounts {
    /// With no users yet, a one-time link secret (valid for a day) for creating the first
    /// admin; `None` once there are users.
    pub async fn setup_secret(&self) -> Result<Option<String>> {
        if self.user_count().await? > 0 {
            return Ok(None);
        }
        let secret = secret("fl_");
        self.store
            .replace_setup_link(&LinkRow {
                id: digest(&secret),
                purpose: "setup".into(),
                user: None,
                expires_at: stamp(Utc::now() + chrono::Duration::hours(24)),
            })
            .await?;
        Ok(Some(secret))
    }

    /// Creates the first admin with a setup link's secret, which is used up, and signs them in.
    pub async fn complete_setup(
        &self,
        secret: &str,
        email: &str,
        name: &str,
        password: &str,
        address: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Result<NewSession> {
        let invalid =
            || Error::bad_request(code::INVALID_LINK, "this setup link is not valid any more");
        if !secret.starts_with("fl_") || secret.len() > 100 {
            return Err(invalid());
        }
        let id = digest(secret);
        let link = self.store.link(&id).await?.ok_or_else(invalid)?;
        let alive = link.purpose == "setup"
            && crate::time::parse(&link.expires_at).is_some_and(|e| e > Utc::now());
        if !alive || self.user_count().await? > 0 {
            return Err(invalid());
        }
        // Used up before the user exists: a second use of the same link fails even if this
        // one does not get further.
        self.store.use_link(&id).await.map_err(|_| invalid())?;
        let address_text = address.map(|a| a.to_string());
        let user = self
            .create_user(
                "setup",
                address_text.as_deref(),
                email,
                name,
                "admin",
                Some(password.to_owned()),
            )
            .await?;
        self.open_session(user, address, user_agent).await
    }
}
