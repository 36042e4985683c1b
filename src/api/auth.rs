//! Who is calling: credentials resolved once per request (in [`super::around`]) into a
//! [`Caller`] kept in the request's extensions (the sign-in routes that make sessions are
//! in `sign_in`).
//!
//! Credentials come as `Authorization: Bearer <secret>` (a session token `fs_…` or an API
//! token `ft_…`) or as the `folio_session` cookie the login sets. A request that sends the
//! cookie and changes something must also send `X-CSRF-Token` with the value the login gave
//! (and the `folio_csrf` cookie holds): another site can make a browser send the cookie, not
//! read the value.

use std::net::IpAddr;

use poem::Request;
use poem::http::{Method, header};

use super::AppState;
use crate::access::{AdminPermit, Principal};
use crate::accounts::csrf_for;
use crate::accounts::throttle::RateDecision;
use crate::error::{Error, Result};

pub const SESSION_COOKIE: &str = "folio_session";
pub const CSRF_COOKIE: &str = "folio_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The resolved caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub address: Option<IpAddr>,
    /// For API tokens: the rate-limit decision, sent back as `RateLimit-*` headers.
    pub rate: Option<RateDecision>,
}

impl Caller {
    pub fn address_text(&self) -> Option<String> {
        self.address.map(|a| a.to_string())
    }
}

/// The caller the middleware resolved (anonymous if it did not run, as in unit tests).
pub fn caller(req: &Request) -> Caller {
    req.extensions().get::<Caller>().cloned().unwrap_or(Caller {
        principal: Principal::Public,
        address: None,
        rate: None,
    })
}

/// Resolves the request's credentials. Credentials that are present but wrong (unknown,
/// expired, revoked) are an error rather than anonymous access, so a client learns its token
/// stopped working.
pub async fn resolve(req: &Request, state: &AppState) -> Result<Caller> {
    let address = req
        .remote_addr()
        .as_socket_addr()
        .map(std::net::SocketAddr::ip);
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(|t| t.trim().to_owned())
                .ok_or(Error::Unauthenticated)
        })
        .transpose()?;
    if let Some(secret) = bearer {
        if secret.starts_with("ft_") {
            let (principal, rate) = state
                .accounts
                .token_principal(&secret)
                .await?
                .ok_or(Error::Unauthenticated)?;
            if !rate.allowed {
                return Err(Error::RateLimited {
                    retry_after: rate.reset.as_secs().max(1),
                });
            }
            return Ok(Caller {
                principal,
                address,
                rate: Some(rate),
            });
        }
        let principal = state
            .accounts
            .session_principal(&secret)
            .await?
            .ok_or(Error::Unauthenticated)?;
        return Ok(Caller {
            principal,
            address,
            rate: None,
        });
    }
    if let Some(token) = cookie(req, SESSION_COOKIE) {
        let principal = state.accounts.session_principal(&token).await?;
        // A stale cookie on a read is just a signed-out visitor; on a write it is refused.
        let Some(principal) = principal else {
            return if is_write(req.method()) {
                Err(Error::Unauthenticated)
            } else {
                Ok(anonymous(address))
            };
        };
        if is_write(req.method()) {
            let sent = req
                .headers()
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !super::constant_time_eq(sent.as_bytes(), csrf_for(&token).as_bytes()) {
                return Err(Error::CsrfFailed);
            }
        }
        return Ok(Caller {
            principal,
            address,
            rate: None,
        });
    }
    Ok(anonymous(address))
}

/// The client's `User-Agent`, kept with the session so its owner can tell sessions apart.
pub(super) fn user_agent(req: &Request) -> Option<&str> {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
}

fn anonymous(address: Option<IpAddr>) -> Caller {
    Caller {
        principal: Principal::Public,
        address,
        rate: None,
    }
}

fn is_write(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A cookie's value from the `Cookie` header.
fn cookie(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}

/// The administration permit of the request's caller.
pub fn administer(req: &Request, state: &AppState) -> Result<AdminPermit> {
    state.policy.administer(&caller(req).principal)
}
