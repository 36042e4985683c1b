//! Who may do what: principals, roles, and the one place permissions are decided.
//!
//! Every operation on entries takes a [`Permit`], and the only way to get one is
//! [`Policy::permit`]: a handler that forgets to ask cannot call the content service at all.
//! Account administration (users, tokens, the audit log) takes an [`AdminPermit`] from
//! [`Policy::administer`] in the same way.
//!
//! Roles: `admin` (everything, and administration), `editor` (every action on every type),
//! `author` (read, create, update and delete the entries they created; never publish),
//! `viewer` (read), and custom roles admins define: actions per type (or `*` for every
//! type), optionally only on their own entries, and fields hidden from the role or read-only
//! for it. A content type's `[access]` lists narrow an action to the roles named (admins
//! always keep it); `public` in `read` opens the type to the delivery API without a token.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::query_model::{Audience, Sight};
use crate::schema::{Access, ContentType, Field, Schema};

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

/// A role defined by an admin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRole {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Content type id (or `*` for every type) → actions (`read`, `create`, `update`,
    /// `delete`, `publish`). A type's own entry wins over `*`.
    #[serde(default)]
    pub permissions: BTreeMap<String, Vec<String>>,
    /// Limited to the entries its users created, as `author` is.
    #[serde(default)]
    pub own_entries_only: bool,
    /// Content type id → fields the role neither sees nor writes in the admin API.
    #[serde(default)]
    pub hidden_fields: BTreeMap<String, Vec<String>>,
    /// Content type id → fields the role sees but may not change.
    #[serde(default)]
    pub read_only_fields: BTreeMap<String, Vec<String>>,
}

impl CustomRole {
    /// Whether the role may `action` on `key`: a content type's id, or `media`.
    fn grants(&self, key: &str, action: Action) -> bool {
        self.permissions
            .get(key)
            .or_else(|| self.permissions.get("*"))
            .is_some_and(|actions| actions.iter().any(|a| a == action.as_str()))
    }

    fn fields(map: &BTreeMap<String, Vec<String>>, ct: &ContentType) -> Vec<String> {
        map.get(&ct.id).cloned().unwrap_or_default()
    }
}

/// The names a custom role may not take.
pub fn reserved_role(name: &str) -> bool {
    BUILTIN_ROLES.contains(&name) || name == "public"
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
    /// Fields the role neither sees nor writes.
    hidden: Vec<String>,
    /// Fields the role sees but does not change.
    read_only: Vec<String>,
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

    /// Fields the caller does not see.
    pub fn hidden(&self) -> &[String] {
        &self.hidden
    }

    /// Fields the caller may not change: the hidden and the read-only ones.
    pub fn restricted(&self) -> impl Iterator<Item = &String> {
        self.hidden.iter().chain(&self.read_only)
    }

    pub fn may_not_change(&self, field: &str) -> bool {
        self.restricted().any(|f| f == field)
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

/// Proof that a principal may perform `action` on the media library. Roles limited to their
/// own entries may change and delete only the media they uploaded.
#[derive(Debug, Clone)]
pub struct MediaPermit {
    action: Action,
    actor: String,
    owner: Option<String>,
    address: Option<String>,
}

impl MediaPermit {
    pub fn action(&self) -> Action {
        self.action
    }

    pub fn actor(&self) -> &str {
        &self.actor
    }

    pub fn at(mut self, address: Option<String>) -> MediaPermit {
        self.address = address;
        self
    }

    pub fn address(&self) -> Option<&str> {
        self.address.as_deref()
    }

    /// For roles limited to their own uploads (changes and deletions), whose they are.
    pub fn owner(&self) -> Option<&str> {
        self.owner.as_deref()
    }

    /// Whether a media item uploaded by `created_by` is within the permit.
    pub fn covers(&self, created_by: Option<&str>) -> bool {
        match &self.owner {
            None => true,
            Some(owner) => created_by == Some(owner.as_str()),
        }
    }
}

/// What custom roles name the media library by in their `permissions`.
pub const MEDIA_PERMISSION_KEY: &str = "media";

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

/// Decides permissions. Cheap to clone; custom roles are shared by the clones.
#[derive(Clone, Default)]
pub struct Policy {
    custom: Arc<RwLock<HashMap<String, CustomRole>>>,
}

impl Policy {
    /// A permit for `action` on entries of `ct`, or why not. Unauthenticated callers get
    /// `Unauthenticated`; others `Forbidden`. Delivery tokens never get admin permits.
    pub fn permit(&self, who: &Principal, ct: &ContentType, action: Action) -> Result<Permit> {
        let role = admin_api_role(who)?;
        let custom = self.custom_role(role);
        if !self.role_may(role, custom.as_ref(), ct, action) {
            return Err(Error::Forbidden);
        }
        let own_only = role == "author" || custom.as_ref().is_some_and(|c| c.own_entries_only);
        let (hidden, read_only) = match &custom {
            Some(c) => (
                CustomRole::fields(&c.hidden_fields, ct),
                CustomRole::fields(&c.read_only_fields, ct),
            ),
            None => (Vec::new(), Vec::new()),
        };
        Ok(Permit {
            type_id: ct.id.clone(),
            action,
            actor: who.actor(),
            owner: own_only.then(|| who.actor()),
            address: None,
            hidden,
            read_only,
        })
    }

    /// Replaces the custom roles (at start-up, and after an admin changes them).
    pub fn set_custom_roles(&self, roles: Vec<CustomRole>) {
        let mut map = self.custom.write().unwrap_or_else(|e| e.into_inner());
        *map = roles.into_iter().map(|r| (r.name.clone(), r)).collect();
    }

    pub fn custom_role(&self, name: &str) -> Option<CustomRole> {
        self.custom
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    pub fn custom_role_names(&self) -> Vec<String> {
        self.custom
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// Whether `name` is a role users and tokens can have.
    pub fn role_exists(&self, name: &str) -> bool {
        BUILTIN_ROLES.contains(&name) || self.custom_role(name).is_some()
    }

    /// The role's own grants, narrowed by the type's `[access]` list for the action.
    fn role_may(
        &self,
        role: &str,
        custom: Option<&CustomRole>,
        ct: &ContentType,
        action: Action,
    ) -> bool {
        if role == "admin" {
            return true;
        }
        let granted = role_grants(role, custom, &ct.id, action);
        let listed = action.allowed_by(&ct.access);
        let narrowed = listed.iter().any(|r| r != "public");
        granted && (!narrowed || listed.iter().any(|r| r == role))
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
            _ => who.role().is_some_and(|role| {
                self.role_may(role, self.custom_role(role).as_ref(), ct, Action::Read)
            }),
        }
    }

    /// What `who` may see through `audience`, for parsing its queries and shaping what it is
    /// sent: on delivery, the types it may have delivered and no private field; in the admin
    /// API, the types its role reads and no field the role hides.
    pub fn sight(&self, who: &Principal, audience: Audience, schema: &Schema) -> CallerSight {
        let mut readable = HashSet::new();
        let mut hidden = HashMap::new();
        for ct in schema.types() {
            let reads = match audience {
                Audience::Delivery => self.may_deliver(who, ct),
                Audience::Admin => match self.permit(who, ct, Action::Read) {
                    Ok(permit) => {
                        if !permit.hidden.is_empty() {
                            hidden.insert(ct.id.clone(), permit.hidden);
                        }
                        true
                    }
                    Err(_) => false,
                },
            };
            if reads {
                readable.insert(ct.id.clone());
            }
        }
        CallerSight {
            audience,
            readable,
            hidden,
        }
    }

    /// A permit for `action` (read, create, update, delete) on the media library: admins and
    /// editors everything; authors read and upload, and change or delete their own uploads;
    /// viewers read; custom roles as their `media` (or `*`) permissions say.
    pub fn media(&self, who: &Principal, action: Action) -> Result<MediaPermit> {
        let role = admin_api_role(who)?;
        let custom = self.custom_role(role);
        if !role_grants(role, custom.as_ref(), MEDIA_PERMISSION_KEY, action) {
            return Err(Error::Forbidden);
        }
        let own_only = role == "author" || custom.as_ref().is_some_and(|c| c.own_entries_only);
        let limited = own_only && matches!(action, Action::Update | Action::Delete);
        Ok(MediaPermit {
            action,
            actor: who.actor(),
            owner: limited.then(|| who.actor()),
            address: None,
        })
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

/// What one caller may see of the schema: see [`Policy::sight`].
#[derive(Debug, Clone)]
pub struct CallerSight {
    audience: Audience,
    readable: HashSet<String>,
    /// Type id → the fields the caller's role hides.
    hidden: HashMap<String, Vec<String>>,
}

impl CallerSight {
    /// The fields of `ct` the caller may not see.
    pub fn hidden_in(&self, ct: &ContentType) -> &[String] {
        self.hidden.get(&ct.id).map_or(&[], Vec::as_slice)
    }
}

impl Sight for CallerSight {
    fn audience(&self) -> Audience {
        self.audience
    }

    fn sees(&self, ty: &ContentType, field: &Field) -> bool {
        self.audience.sees(ty, field) && !self.hidden_in(ty).contains(&field.name)
    }

    fn reads(&self, ty: &ContentType) -> bool {
        self.readable.contains(&ty.id)
    }
}

/// What a role's own grants allow on `key` (a content type's id, or `media`), before a type's
/// `[access]` lists narrow them.
fn role_grants(role: &str, custom: Option<&CustomRole>, key: &str, action: Action) -> bool {
    match role {
        "admin" | "editor" => true,
        "author" => action != Action::Publish,
        "viewer" => action == Action::Read,
        _ => custom.is_some_and(|c| c.grants(key, action)),
    }
}

/// The role a principal uses the admin API with: none for anonymous callers
/// (`Unauthenticated`), delivery tokens and sessions still to enrol in two-factor login
/// (`Forbidden`, `TwoFactorRequired`).
fn admin_api_role(who: &Principal) -> Result<&str> {
    check_enrolled(who)?;
    match who {
        Principal::Public => Err(Error::Unauthenticated),
        Principal::Token {
            scope: TokenScope::Delivery,
            ..
        } => Err(Error::Forbidden),
        _ => Ok(who.role().unwrap_or_default()),
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
