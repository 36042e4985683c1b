//! Who may do what: principals, roles, and the one place permissions are decided.
//!
//! Every operation on entries takes a [`Permit`], and the only way to get one is
//! [`Policy::permit`]: a handler that forgets to ask cannot call the content service at all.
//! Account administration (users, tokens, the audit log) takes an [`AdminPermit`] from
//! [`Policy::administer`] in the same way.
//!
//! Roles: `admin` (everything, and administration), `editor` (every action on every type),
//! `author` (read, create, update and delete the entries they created; never publish),
//! `viewer` (read). A content type's `[access]` lists narrow an action to the roles named
//! (admins always keep it); `public` in `read` opens the type to the delivery API without a
//! token.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::schema::{Access, ContentType};

/// The roles every installation has.
pub const BUILTIN_ROLES: &[&str] = &["admin", "editor", "author", "viewer"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Create,
    Update,
    Delete,
    Publish,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Publish => "publish",
        }
    }

    fn allowed_by(self, access: &Access) -> &[String] {
        match self {
            Action::Read => &access.read,
            Action::Create => &access.create,
            Action::Update => &access.update,
            Action::Delete => &access.delete,
            Action::Publish => &access.publish,
        }
    }
}

/// What an API token may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenScope {
    /// Published content through the delivery API, nothing else.
    Delivery,
    /// The admin API as the given role.
    Admin(String),
}

impl TokenScope {
    pub fn as_str(&self) -> &'static str {
        match self {
            TokenScope::Delivery => "delivery",
            TokenScope::Admin(_) => "admin",
        }
    }
}

/// Who is asking.
#[derive(Debug, Clone)]
pub enum Principal {
    /// No credentials.
    Public,
    /// A signed-in user (by session).
    User {
        id: String,
        email: String,
        role: String,
        /// The session the request came with.
        session: String,
        /// The user's role requires two-factor login and they have not set it up: until they
        /// do, the session reaches their own account only.
        enrolment_only: bool,
    },
    /// An API token.
    Token {
        id: String,
        name: String,
        scope: TokenScope,
    },
}

impl Principal {
    /// The role the principal acts with, if any.
    pub fn role(&self) -> Option<&str> {
        match self {
            Principal::User { role, .. } => Some(role),
            Principal::Token {
                scope: TokenScope::Admin(role),
                ..
            } => Some(role),
            _ => None,
        }
    }

    /// What `created_by`, `updated_by` and the audit log record for this principal.
    pub fn actor(&self) -> String {
        match self {
            Principal::Public => "public".into(),
            Principal::User { id, .. } => format!("user:{id}"),
            Principal::Token { id, .. } => format!("token:{id}"),
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match self {
            Principal::User { id, .. } => Some(id),
            _ => None,
        }
    }
}

/// Proof that a principal may perform `action` on entries of one type. Content operations
/// take one; only [`Policy::permit`] makes them.
#[derive(Debug, Clone)]
pub struct Permit {
    type_id: String,
    action: Action,
    actor: String,
    /// Set for roles limited to their own entries: the actor whose entries these are.
    owner: Option<String>,
    /// Where the request came from, for the audit log.
    address: Option<String>,
}

impl Permit {
    pub fn action(&self) -> Action {
        self.action
    }

    /// What to record as the entry's author or last editor.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// The same permit, noting the client address for the audit log.
    pub fn at(mut self, address: Option<String>) -> Permit {
        self.address = address;
        self
    }

    pub fn address(&self) -> Option<&str> {
        self.address.as_deref()
    }

    /// For roles limited to their own entries, the `created_by` those entries carry.
    pub fn owner(&self) -> Option<&str> {
        self.owner.as_deref()
    }

    /// Checks the permit was made for `ct` and `action`: a handler passing the wrong one is a
    /// bug, refused rather than trusted.
    pub fn check(&self, ct: &ContentType, action: Action) -> Result<()> {
        if self.type_id == ct.id && self.action == action {
            Ok(())
        } else {
            Err(Error::internal(format!(
                "permit for {} on {} used for {} on {}",
                self.action.as_str(),
                self.type_id,
                action.as_str(),
                ct.id
            )))
        }
    }

    /// Whether a stored row (with its `created_by`) is within the permit.
    pub fn covers(&self, created_by: Option<&str>) -> bool {
        match &self.owner {
            None => true,
            Some(owner) => created_by == Some(owner.as_str()),
        }
    }
}

/// Proof that a principal may administer accounts, tokens and the audit log.
#[derive(Debug, Clone)]
pub struct AdminPermit {
    actor: String,
}

impl AdminPermit {
    pub fn actor(&self) -> &str {
        &self.actor
    }
}

/// Decides permissions.
#[derive(Clone, Default)]
pub struct Policy {
    _private: Arc<()>,
}

impl Policy {
    /// A permit for `action` on entries of `ct`, or why not. Unauthenticated callers get
    /// `Unauthenticated`; others `Forbidden`. Delivery tokens never get admin permits.
    pub fn permit(&self, who: &Principal, ct: &ContentType, action: Action) -> Result<Permit> {
        check_enrolled(who)?;
        let role = match who {
            Principal::Public => return Err(Error::Unauthenticated),
            Principal::Token {
                scope: TokenScope::Delivery,
                ..
            } => return Err(Error::Forbidden),
            _ => who.role().unwrap_or_default(),
        };
        if !role_may(role, ct, action) {
            return Err(Error::Forbidden);
        }
        Ok(Permit {
            type_id: ct.id.clone(),
            action,
            actor: who.actor(),
            owner: (role == "author").then(|| who.actor()),
            address: None,
        })
    }

    /// Whether the delivery API may show `ct` to `who`: public types to anyone, others to
    /// delivery tokens and to principals whose role may read the type.
    pub fn may_deliver(&self, who: &Principal, ct: &ContentType) -> bool {
        if ct.access.public_read() {
            return true;
        }
        if check_enrolled(who).is_err() {
            return false;
        }
        match who {
            Principal::Public => false,
            Principal::Token {
                scope: TokenScope::Delivery,
                ..
            } => true,
            _ => who
                .role()
                .is_some_and(|role| role_may(role, ct, Action::Read)),
        }
    }

    /// A permit to administer users, tokens and the audit log: admins only.
    pub fn administer(&self, who: &Principal) -> Result<AdminPermit> {
        check_enrolled(who)?;
        match who {
            Principal::Public => Err(Error::Unauthenticated),
            _ if who.role() == Some("admin") => Ok(AdminPermit { actor: who.actor() }),
            _ => Err(Error::Forbidden),
        }
    }
}

/// Refuses sessions that must first set up two-factor login.
fn check_enrolled(who: &Principal) -> Result<()> {
    match who {
        Principal::User {
            enrolment_only: true,
            ..
        } => Err(Error::TwoFactorRequired),
        _ => Ok(()),
    }
}

/// The role's own grants, narrowed by the type's `[access]` list for the action.
fn role_may(role: &str, ct: &ContentType, action: Action) -> bool {
    if role == "admin" {
        return true;
    }
    let builtin = match role {
        "editor" => true,
        "author" => action != Action::Publish,
        "viewer" => action == Action::Read,
        _ => false,
    };
    let listed = action.allowed_by(&ct.access);
    let narrowed = listed.iter().any(|r| r != "public");
    builtin && (!narrowed || listed.iter().any(|r| r == role))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct(access: Access) -> ContentType {
        let mut ct = ContentType::new_for_tests("article");
        ct.access = access;
        ct
    }

    fn user(role: &str) -> Principal {
        Principal::User {
            id: "u1".into(),
            email: "a@b.c".into(),
            role: role.into(),
            session: "s".into(),
            enrolment_only: false,
        }
    }

    #[test]
    fn builtin_roles() {
        let p = Policy::default();
        let t = ct(Access::default());
        for action in [
            Action::Read,
            Action::Create,
            Action::Update,
            Action::Delete,
            Action::Publish,
        ] {
            assert!(p.permit(&user("admin"), &t, action).is_ok());
            assert!(p.permit(&user("editor"), &t, action).is_ok());
            assert_eq!(
                p.permit(&user("author"), &t, action).is_ok(),
                action != Action::Publish
            );
            assert_eq!(
                p.permit(&user("viewer"), &t, action).is_ok(),
                action == Action::Read
            );
            assert!(matches!(
                p.permit(&Principal::Public, &t, action),
                Err(Error::Unauthenticated)
            ));
            assert!(p.permit(&user("nobody"), &t, action).is_err());
        }
        let author = p.permit(&user("author"), &t, Action::Update).unwrap();
        assert_eq!(author.owner(), Some("user:u1"));
        assert!(author.covers(Some("user:u1")) && !author.covers(Some("user:u2")));
        assert!(!author.covers(None));
        assert!(
            p.permit(&user("editor"), &t, Action::Update)
                .unwrap()
                .covers(Some("user:u2"))
        );
    }

    #[test]
    fn type_access_lists_narrow_actions() {
        let p = Policy::default();
        let t = ct(Access {
            publish: vec!["admin".into()],
            read: vec!["public".into()],
            ..Access::default()
        });
        assert!(p.permit(&user("editor"), &t, Action::Publish).is_err());
        assert!(p.permit(&user("admin"), &t, Action::Publish).is_ok());
        assert!(p.permit(&user("viewer"), &t, Action::Read).is_ok());
    }

    #[test]
    fn delivery_tokens_read_only_through_delivery() {
        let p = Policy::default();
        let private = ct(Access::default());
        let token = Principal::Token {
            id: "t".into(),
            name: "site".into(),
            scope: TokenScope::Delivery,
        };
        assert!(p.may_deliver(&token, &private));
        assert!(!p.may_deliver(&Principal::Public, &private));
        assert!(matches!(
            p.permit(&token, &private, Action::Read),
            Err(Error::Forbidden)
        ));
        assert!(p.administer(&token).is_err());
        assert!(p.administer(&user("editor")).is_err());
        assert!(p.administer(&user("admin")).is_ok());
    }

    #[test]
    fn permits_are_for_one_type_and_action() {
        let p = Policy::default();
        let a = ct(Access::default());
        let b = ContentType::new_for_tests("tag");
        let permit = p.permit(&user("editor"), &a, Action::Read).unwrap();
        assert!(permit.check(&a, Action::Read).is_ok());
        assert!(permit.check(&a, Action::Delete).is_err());
        assert!(permit.check(&b, Action::Read).is_err());
    }
}
