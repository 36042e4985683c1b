//! The crate-wide error: one enum whose variants carry what the caller needs, and one table
//! ([`Error::code`], [`Error::status`]) giving each a stable snake_case code and an HTTP status.
//!
//! Infrastructure errors (database, I/O) come in through `#[from]` and are logged in full by
//! the API layer but never shown to a client: their public message is generic.

use serde::Serialize;

use crate::schema::FieldError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("content type `{0}` does not exist")]
    TypeNotFound(String),

    #[error("entry not found")]
    EntryNotFound,

    #[error("the entry is not valid")]
    Validation(Vec<FieldError>),

    #[error("the entry was changed by someone else: it is now at version {current}")]
    VersionConflict { current: u64 },

    #[error("{message}")]
    InvalidQuery {
        code: &'static str,
        param: String,
        message: String,
    },

    #[error("{message}")]
    BadRequest { code: &'static str, message: String },

    #[error("{message}")]
    Conflict { code: &'static str, message: String },

    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },

    #[error("the request body stopped arriving before it was complete")]
    BodyTimeout,

    #[error("this request came from another site's page; sign in from this server's own pages")]
    CrossSite,

    #[error("the file is larger than the limit of {limit} bytes")]
    FileTooLarge { limit: u64 },

    #[error("{message}")]
    UnsupportedMedia { code: &'static str, message: String },

    #[error("the media item is used by {} entr{}: remove it there first, or delete with force=true", uses.len(), if uses.len() == 1 { "y" } else { "ies" })]
    MediaInUse { uses: Vec<serde_json::Value> },

    #[error("authentication is required")]
    Unauthenticated,

    #[error("this action is not allowed")]
    Forbidden,

    #[error("the email address or password is not right")]
    InvalidCredentials,

    #[error("this request needs the X-CSRF-Token header the sign-in answered with")]
    CsrfFailed,

    #[error("your role requires two-factor login: set it up under /auth/two-factor first")]
    TwoFactorRequired,

    #[error("{message}")]
    NotFound { code: &'static str, message: String },

    #[error("too many failed sign-in attempts: try again in {retry_after} s")]
    TooManyAttempts { retry_after: u64 },

    #[error("too many requests for this token: try again in {retry_after} s")]
    RateLimited { retry_after: u64 },

    #[error("the search index of `{type_id}` is being rebuilt: try again shortly")]
    SearchUnavailable { type_id: String },

    /// A write lost to concurrent changes of the same records every time it was tried.
    #[error("other changes to the same data kept coming first: try again")]
    Busy,

    #[error("{0}")]
    Config(String),

    #[error("database error: {0}")]
    Database(#[from] surrealdb::Error),

    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),

    #[error("object store error: {0}")]
    ObjectStore(#[from] object_store::Error),

    #[error("image error: {0}")]
    Image(#[from] image::ImageError),

    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Error::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Error::NotFound {
            code,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }

    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::TypeNotFound(_) => "type_not_found",
            Error::EntryNotFound => "entry_not_found",
            Error::Validation(_) => "validation_failed",
            Error::VersionConflict { .. } => "version_conflict",
            Error::InvalidQuery { code, .. } => code,
            Error::BadRequest { code, .. } => code,
            Error::Conflict { code, .. } => code,
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::FileTooLarge { .. } => "file_too_large",
            Error::BodyTimeout => "body_timeout",
            Error::CrossSite => "cross_site_request",
            Error::UnsupportedMedia { code, .. } => code,
            Error::MediaInUse { .. } => "media_in_use",
            Error::Unauthenticated => "unauthenticated",
            Error::Forbidden => "forbidden",
            Error::InvalidCredentials => "invalid_credentials",
            Error::CsrfFailed => "csrf_failed",
            Error::TwoFactorRequired => "two_factor_required",
            Error::NotFound { code, .. } => code,
            Error::TooManyAttempts { .. } => "too_many_attempts",
            Error::RateLimited { .. } => "rate_limited",
            Error::SearchUnavailable { .. } => "search_unavailable",
            Error::Busy => "write_contention",
            Error::Config(_) => "config_error",
            Error::Database(_)
            | Error::Io(_)
            | Error::Index(_)
            | Error::ObjectStore(_)
            | Error::Image(_)
            | Error::Internal(_) => "internal_error",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Error::TypeNotFound(_) | Error::EntryNotFound | Error::NotFound { .. } => 404,
            Error::Validation(_) => 422,
            Error::VersionConflict { .. } | Error::Conflict { .. } | Error::MediaInUse { .. } => {
                409
            }
            Error::UnsupportedMedia { .. } => 415,
            Error::InvalidQuery { .. } | Error::BadRequest { .. } => 400,
            Error::PayloadTooLarge { .. } | Error::FileTooLarge { .. } => 413,
            Error::Unauthenticated | Error::InvalidCredentials => 401,
            Error::TooManyAttempts { .. } | Error::RateLimited { .. } => 429,
            Error::BodyTimeout => 408,
            Error::Forbidden | Error::CsrfFailed | Error::TwoFactorRequired | Error::CrossSite => {
                403
            }
            Error::SearchUnavailable { .. } | Error::Busy => 503,
            Error::Config(_)
            | Error::Database(_)
            | Error::Io(_)
            | Error::Index(_)
            | Error::ObjectStore(_)
            | Error::Image(_)
            | Error::Internal(_) => 500,
        }
    }

    /// Seconds a client should wait before trying again (the `Retry-After` header).
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::TooManyAttempts { retry_after } | Error::RateLimited { retry_after } => {
                Some(*retry_after)
            }
            Error::Busy => Some(1),
            _ => None,
        }
    }

    /// The body a client sees. Server-side failures say only that something went wrong (a
    /// 503 is a passing state and says which).
    pub fn body(&self) -> ErrorBody {
        let message = if self.status() == 500 {
            "the server could not complete the request; it has been logged".to_owned()
        } else {
            self.to_string()
        };
        let fields = match self {
            Error::Validation(errors) => Some(
                errors
                    .iter()
                    .map(|e| {
                        (
                            e.path.clone(),
                            FieldErrorBody {
                                code: e.code,
                                message: e.message.clone(),
                            },
                        )
                    })
                    .collect(),
            ),
            _ => None,
        };
        let (param, current_version) = match self {
            Error::InvalidQuery { param, .. } => (Some(param.clone()), None),
            Error::VersionConflict { current } => (None, Some(*current)),
            _ => (None, None),
        };
        let usage = match self {
            Error::MediaInUse { uses } => Some(uses.clone()),
            _ => None,
        };
        ErrorBody {
            code: self.code(),
            message,
            fields,
            param,
            current_version,
            usage,
        }
    }
}

/// `{"code": "...", "message": "...", "fields": {"fields.title": {...}}}`.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<indexmap::IndexMap<String, FieldErrorBody>>,
    /// The query parameter at fault, for query errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    /// The entry's version now, for a 409.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
    /// The entries that use a media item, for `media_in_use`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Vec<serde_json::Value>>,
}

#[derive(Debug, Serialize)]
pub struct FieldErrorBody {
    pub code: &'static str,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_that_keeps_losing_is_a_503_that_says_to_try_again() {
        let e = Error::Busy;
        assert_eq!((e.code(), e.status()), ("write_contention", 503));
        assert_eq!(e.retry_after(), Some(1));
        assert!(
            e.body().message.contains("try again"),
            "{}",
            e.body().message
        );
        let hidden = Error::internal("secret detail");
        assert!(!hidden.body().message.contains("secret"));
    }
}
