//! Signing in (password, then the second factor when the user has one), sessions and their
//! expiry, signing out.

use std::net::IpAddr;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::audit::Event;
use super::throttle::Verdict;
use super::{
    Accounts, LoginOutcome, NewSession, SessionInfo, TOUCH_EVERY, User, account_change, csrf_for,
    digest, password, secret, totp,
};
use crate::access::Principal;
use crate::error::{Error, Result, code};
use crate::storage::accounts::{LinkRow, SecondFactor, SessionRow};
use crate::time::{parse, stamp};

impl Accounts {
    /// Checks an email and password and opens a session. Wrong passwords, unknown accounts
    /// and disabled accounts all answer the same, after the same work; repeated failures are
    /// slowed down and then locked out per account and per address.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        address: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Result<LoginOutcome> {
        let key = email.trim().to_lowercase();
        let ip = address.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        if let Verdict::Wait(wait) = self.throttle.check(&key, ip, Instant::now()) {
            return Err(Error::TooManyAttempts {
                retry_after: wait.as_secs().max(1),
            });
        }
        let row = match super::normalize_email(email) {
            Ok(e) => self.store.user_by_email(&e).await?,
            Err(_) => None,
        };
        let stored = row.as_ref().and_then(|r| r.password_hash.clone());
        let checked = password::verify(password.to_owned(), stored).await?;
        let active = row.as_ref().is_some_and(|r| r.status == "active");
        let (Some(row), true) = (row, active && checked != password::Checked::Wrong) else {
            self.throttle.failed(&key, ip, Instant::now());
            return Err(Error::InvalidCredentials);
        };
        self.throttle.succeeded(&key, Instant::now());
        let user = User::from_row(&row);
        if checked == password::Checked::RightButOutdated {
            // Parameters changed since this hash was made: store one made with today's.
            let fresh = password::hash(password.to_owned()).await?;
            self.store.rehash_password(&user.id, &fresh).await?;
        }
        if user.two_factor {
            let challenge = secret("fc_");
            self.store
                .create_link(&LinkRow {
                    id: digest(&challenge),
                    purpose: "two_factor".into(),
                    user: Some(user.id.clone()),
                    expires_at: stamp(Utc::now() + chrono::Duration::minutes(5)),
                })
                .await?;
            return Ok(LoginOutcome::SecondFactor { challenge });
        }
        Ok(LoginOutcome::Session(Box::new(
            self.open_session(user, address, user_agent).await?,
        )))
    }

    /// The second step of a two-factor login: a code from the authenticator app (each code
    /// works once) or one of the recovery codes (each works once).
    pub async fn login_second_factor(
        &self,
        challenge: &str,
        code: &str,
        address: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Result<NewSession> {
        let invalid = || Error::InvalidCredentials;
        if !challenge.starts_with("fc_") || challenge.len() > 100 {
            return Err(invalid());
        }
        let link_id = digest(challenge);
        let link = self
            .store
            .link(&link_id)
            .await?
            .filter(|l| l.purpose == "two_factor")
            .filter(|l| parse(&l.expires_at).is_some_and(|e| e > Utc::now()))
            .ok_or_else(invalid)?;
        let user_id = link.user.unwrap_or_default();
        // Guessing codes is throttled like guessing passwords, under the user's key.
        let key = format!("2fa:{user_id}");
        let ip = address.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        if let Verdict::Wait(wait) = self.throttle.check(&key, ip, Instant::now()) {
            return Err(Error::TooManyAttempts {
                retry_after: wait.as_secs().max(1),
            });
        }
        let row = self.store.user(&user_id).await?.ok_or_else(invalid)?;
        let totp_row = row.totp.clone().ok_or_else(invalid)?;
        let secret = totp::TotpSecret::from_base32(&totp_row.secret).ok_or_else(invalid)?;
        let now_secs = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
        let factor = match secret.verify(code, now_secs, totp_row.last_step) {
            Some(step) => SecondFactor::Step(step),
            None => {
                let hashed = totp::hash_recovery_code(code);
                if !totp_row.recovery.contains(&hashed) {
                    self.throttle.failed(&key, ip, Instant::now());
                    return Err(invalid());
                }
                SecondFactor::Recovery(hashed)
            }
        };
        if !self
            .store
            .use_second_factor(&link_id, &user_id, &factor)
            .await?
        {
            // Someone used this code (or recovery code) a moment ago.
            self.throttle.failed(&key, ip, Instant::now());
            return Err(invalid());
        }
        self.throttle.succeeded(&key, Instant::now());
        self.open_session(User::from_row(&row), address, user_agent)
            .await
    }

    pub(super) async fn open_session(
        &self,
        user: User,
        address: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Result<NewSession> {
        let token = secret("fs_");
        let now = Utc::now();
        let expires = now + chrono::Duration::from_std(self.sessions.absolute).unwrap_or_default();
        let session = SessionRow {
            id: digest(&token),
            user: user.id.clone(),
            created_at: stamp(now),
            last_seen_at: stamp(now),
            expires_at: stamp(expires),
            address: address.map(|a| a.to_string()),
            user_agent: user_agent.map(|u| u.chars().take(300).collect()),
        };
        let event = Event::new(
            &format!("user:{}", user.id),
            "session.create",
            format!("user/{}", user.id),
        )
        .from_address(session.address.as_deref());
        self.store
            .create_session(&session, &account_change(&event, "session.created", &[]))
            .await?;
        Ok(NewSession {
            csrf: csrf_for(&token),
            id: session.id,
            token,
            user,
            expires_at: session.expires_at,
        })
    }

    /// The principal a session token stands for, if the session is alive and its user active.
    pub async fn session_principal(&self, token: &str) -> Result<Option<Principal>> {
        self.session_principal_at(token, Utc::now()).await
    }

    /// [`Accounts::session_principal`] as of `now`.
    pub(super) async fn session_principal_at(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Principal>> {
        if !token.starts_with("fs_") || token.len() > 100 {
            return Ok(None);
        }
        let id = digest(token);
        let Some(session) = self.store.session(&id).await? else {
            return Ok(None);
        };
        let idle = chrono::Duration::from_std(self.sessions.idle).unwrap_or_default();
        let last_seen = parse(&session.last_seen_at);
        let alive = parse(&session.expires_at).is_some_and(|e| e > now)
            && last_seen.is_some_and(|l| l + idle > now);
        if !alive {
            self.store.drop_session(&id).await?;
            return Ok(None);
        }
        let Some(user) = self.get_user(&session.user).await? else {
            return Ok(None);
        };
        if user.status != "active" {
            return Ok(None);
        }
        if last_seen.is_some_and(|l| now - l > TOUCH_EVERY) {
            self.store.touch_session(&id, &stamp(now)).await?;
        }
        // Decided on every request, so setting up the second factor (or a change of role)
        // takes effect at once.
        let enrolment_only =
            !user.two_factor && self.sessions.two_factor_roles.contains(&user.role);
        Ok(Some(Principal::User {
            id: user.id,
            email: user.email,
            role: user.role,
            session: id,
            enrolment_only,
        }))
    }

    /// Ends one session of `user_id` (their own, or any for an admin caller).
    pub async fn end_session(&self, actor: &str, user_id: &str, session_id: &str) -> Result<bool> {
        let event = Event::new(actor, "session.delete", format!("user/{user_id}"));
        let out = self
            .store
            .end_session(
                session_id,
                user_id,
                &account_change(&event, "session.deleted", &[]),
            )
            .await;
        match out {
            Ok(()) => Ok(true),
            Err(Error::Conflict {
                code: code::NOT_FOUND,
                ..
            }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn sessions_of(
        &self,
        user_id: &str,
        current: Option<&str>,
    ) -> Result<Vec<SessionInfo>> {
        Ok(self
            .store
            .sessions_of(user_id)
            .await?
            .into_iter()
            .map(|s| SessionInfo {
                current: current == Some(s.id.as_str()),
                id: s.id,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                expires_at: s.expires_at,
                address: s.address,
                user_agent: s.user_agent,
            })
            .collect())
    }
}
