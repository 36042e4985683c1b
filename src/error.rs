//! The crate-wide error: one enum whose variants carry what the caller needs, and one table
//! of the codes a client can see ([`CODES`]): each a stable snake_case name, its HTTP status
//! and what it means. Every error maps to one of them ([`Error::code`]) and takes its status
//! from it; the README lists the table (a test keeps the two the same).
//!
//! Infrastructure errors (database, I/O) come in through `#[from]` and are logged in full by
//! the API layer but never shown to a client: their public message is generic.

use serde::Serialize;

use crate::schema::FieldError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error code a client can see in `code`: its name, HTTP status and meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub name: &'static str,
    pub status: u16,
    pub meaning: &'static str,
}

macro_rules! codes {
    ($($id:ident = $name:literal, $status:literal, $meaning:literal;)*) => {
        /// Every error code, one constant each.
        pub mod code {
            use super::Code;
            $(pub const $id: Code = Code { name: $name, status: $status, meaning: $meaning };)*
        }
        /// Every error code, in the order the README lists them.
        pub const CODES: &[Code] = &[$(code::$id),*];
    };
}

codes! {
    // Requests the server cannot read.
    INVALID_BODY = "invalid_body", 400, "the request body does not have the shape the operation takes";
    INVALID_JSON = "invalid_json", 400, "the request body is not valid JSON";
    DUPLICATE_KEY = "duplicate_key", 400, "a JSON object in the body names the same key twice";
    EMPTY_BODY = "empty_body", 400, "the operation needs a body and got none";
    BAD_REQUEST = "bad_request", 400, "the request is malformed in a way no other code names";
    PAYLOAD_TOO_LARGE = "payload_too_large", 413, "the body is larger than the operation accepts";
    BODY_TIMEOUT = "body_timeout", 408, "the body stopped arriving before it was complete";
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type", 415, "the body's Content-Type is not one the operation takes";
    ROUTE_NOT_FOUND = "route_not_found", 404, "no route has this path";
    METHOD_NOT_ALLOWED = "method_not_allowed", 405, "the route does not take this method (`Allow` lists those it takes)";
    // Query parameters (`param` names the one at fault).
    INVALID_PARAMETER = "invalid_parameter", 400, "a query parameter's value is not one it takes";
    UNKNOWN_PARAMETER = "unknown_parameter", 400, "the operation takes no query parameter of this name";
    DUPLICATE_PARAMETER = "duplicate_parameter", 400, "a query parameter is given twice";
    QUERY_TOO_LONG = "query_too_long", 400, "the query string is longer than the server reads";
    INVALID_QUERY = "invalid_query", 400, "the query string cannot be read";
    INVALID_FILTER = "invalid_filter", 400, "a `filter[...]` parameter is malformed or names what cannot be filtered";
    INVALID_FILTER_OPERATOR = "invalid_filter_operator", 400, "a filter uses an operator the field's type does not take";
    INVALID_FILTER_VALUE = "invalid_filter_value", 400, "a filter's value does not fit the field's type";
    INVALID_OPERATOR = "invalid_operator", 400, "a search filter uses an operator it does not take";
    TOO_MANY_FILTERS = "too_many_filters", 400, "more filters than a request may hold";
    TOO_MANY_VALUES = "too_many_values", 400, "a filter lists more values than it may";
    FILTER_TOO_BROAD = "filter_too_broad", 400, "a filter would match more related entries than a list reads";
    INVALID_SORT = "invalid_sort", 400, "`sort` names a field that cannot be sorted on, or is malformed";
    INVALID_FIELDS = "invalid_fields", 400, "`fields` names an unknown field or is empty";
    INVALID_POPULATE = "invalid_populate", 400, "`populate` names something that is not a relation";
    POPULATE_TOO_DEEP = "populate_too_deep", 400, "`populate` goes deeper than two levels";
    POPULATE_TOO_LARGE = "populate_too_large", 400, "the populated page would be larger than a response may be";
    INVALID_LIMIT = "invalid_limit", 400, "`limit` is not a number within its range";
    INVALID_PAGE = "invalid_page", 400, "`page` is not a number within its range";
    PAGE_AND_CURSOR = "page_and_cursor", 400, "`page` and `cursor` cannot be used together";
    INVALID_CURSOR = "invalid_cursor", 400, "`cursor` is not one this list gave out";
    INVALID_FORMAT = "invalid_format", 400, "`format` names no format this field can be rendered in";
    INVALID_RENDER = "invalid_render", 400, "`render` names no field that can be rendered";
    FORMAT_UNAVAILABLE = "format_unavailable", 400, "the format asked for cannot be produced for this entry";
    UNKNOWN_FIELD = "unknown_field", 400, "a parameter names a field the type does not have";
    UNKNOWN_LOCALE = "unknown_locale", 400, "`locale` names a locale the type does not have";
    INVALID_SEARCH = "invalid_search", 400, "the search words `q` cannot be read (too long, unbalanced quotes)";
    TYPE_NOT_SEARCHABLE = "type_not_searchable", 400, "the content type is not searchable";
    USE_SEARCH = "use_search", 400, "full-text matching is done by the search endpoint, not by a list filter";
    UNKNOWN_DOCUMENT = "unknown_document", 400, "no API document has this name";
    // Entries and content types.
    TYPE_NOT_FOUND = "type_not_found", 404, "no content type has this id";
    ENTRY_NOT_FOUND = "entry_not_found", 404, "no entry of this type has this id (or the caller may not see it)";
    NOT_FOUND = "not_found", 404, "what the request names does not exist";
    VALIDATION_FAILED = "validation_failed", 422, "fields are not valid: `fields` names each with a code of its own";
    VERSION_CONFLICT = "version_conflict", 409, "the record changed since the version the request names (`current_version`)";
    VERSION_MISMATCH = "version_mismatch", 422, "`If-Match` and the body name different versions";
    INVALID_IF_MATCH = "invalid_if_match", 400, "`If-Match` is not a version this server gave out";
    SINGLE_EXISTS = "single_exists", 409, "the single type already has its one entry";
    DRAFTS_DISABLED = "drafts_disabled", 400, "the type has no drafts: every save is published";
    ALREADY_EXISTS = "already_exists", 409, "a record with this unique value already exists";
    // Media.
    MEDIA_NOT_FOUND = "media_not_found", 404, "no media item has this id";
    FOLDER_NOT_FOUND = "folder_not_found", 404, "no media folder has this id";
    MEDIA_IN_USE = "media_in_use", 409, "entries use the media item (`usage` lists them): delete with `force=true`";
    FOLDER_EXISTS = "folder_exists", 409, "the parent folder already holds a folder of this name";
    FOLDER_NOT_EMPTY = "folder_not_empty", 409, "the folder still holds media or folders";
    INVALID_FOLDER = "invalid_folder", 400, "the folder name or parent is not valid (or would make a cycle)";
    INVALID_METADATA = "invalid_metadata", 400, "media metadata (alt text, caption, focal point, tags) is not valid";
    INVALID_UPLOAD = "invalid_upload", 400, "the upload is not a raw body or a multipart form with one file";
    UPLOAD_INTERRUPTED = "upload_interrupted", 400, "the upload ended before the whole file arrived";
    EMPTY_FILE = "empty_file", 422, "the uploaded file is empty";
    FILE_TOO_LARGE = "file_too_large", 413, "the file is larger than the upload limit";
    UNSUPPORTED_TYPE = "unsupported_type", 415, "the file's content is of a kind the server does not store";
    TYPE_NOT_ALLOWED = "type_not_allowed", 415, "the file's kind is not one the field or library accepts";
    EXTENSION_MISMATCH = "extension_mismatch", 415, "the file's name says one kind and its content another";
    ACTIVE_CONTENT = "active_content", 415, "the file holds content a browser would run (HTML, scripts)";
    SVG_NOT_ACCEPTED = "svg_not_accepted", 415, "SVG is not accepted here";
    INVALID_IMAGE = "invalid_image", 415, "the image cannot be decoded";
    IMAGE_TOO_LARGE = "image_too_large", 415, "the image has more pixels than the server decodes";
    INVALID_TRANSFORM = "invalid_transform", 400, "the image transform parameters are not valid";
    TOO_MANY_VARIANTS = "too_many_variants", 400, "the media item already has as many stored variants as it may";
    RANGE_NOT_SATISFIABLE = "range_not_satisfiable", 416, "the `Range` asked for lies outside the file";
    // Accounts and access.
    UNAUTHENTICATED = "unauthenticated", 401, "the request needs a session or token";
    INVALID_CREDENTIALS = "invalid_credentials", 401, "the email address or password is not right";
    FORBIDDEN = "forbidden", 403, "the caller's role does not allow this";
    CSRF_FAILED = "csrf_failed", 403, "a cookie session's write lacks the `X-CSRF-Token` it was given";
    CROSS_SITE_REQUEST = "cross_site_request", 403, "the request came from another site's page";
    TWO_FACTOR_REQUIRED = "two_factor_required", 403, "the caller's role needs two-factor sign-in, not set up yet";
    TWO_FACTOR_ENABLED = "two_factor_enabled", 409, "two-factor sign-in is already on";
    TWO_FACTOR_NOT_STARTED = "two_factor_not_started", 409, "confirming two-factor sign-in before starting its setup";
    INVALID_LINK = "invalid_link", 422, "the emailed link is unknown, used or expired";
    LAST_ADMIN = "last_admin", 409, "the change would leave no active administrator";
    ROLE_IN_USE = "role_in_use", 409, "users still have the role";
    USER_NOT_FOUND = "user_not_found", 404, "no user has this id";
    ROLE_NOT_FOUND = "role_not_found", 404, "no custom role has this name";
    TOKEN_NOT_FOUND = "token_not_found", 404, "no API token has this id";
    SESSION_NOT_FOUND = "session_not_found", 404, "no session of this user has this id";
    TOO_MANY_ATTEMPTS = "too_many_attempts", 429, "too many failed sign-ins: `Retry-After` says when to try again";
    RATE_LIMITED = "rate_limited", 429, "the token's request rate is spent: `Retry-After` says when to try again";
    // The server.
    SEARCH_UNAVAILABLE = "search_unavailable", 503, "the type's search index is being rebuilt: try again shortly";
    WRITE_CONTENTION = "write_contention", 503, "concurrent changes to the same data kept coming first: try again";
    CONFIG_ERROR = "config_error", 500, "the server's configuration or content types are not valid";
    INTERNAL_ERROR = "internal_error", 500, "the server failed; the details are in its log, never in the answer";
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("content type `{0}` does not exist")]
    TypeNotFound(String),

    #[error("entry not found")]
    EntryNotFound,

    #[error("some fields are not valid: see `fields`")]
    Validation(Vec<FieldError>),

    #[error("the entry was changed by someone else: it is now at version {current}")]
    VersionConflict { current: u64 },

    #[error("{message}")]
    InvalidQuery {
        code: Code,
        param: String,
        message: String,
    },

    #[error("{message}")]
    BadRequest { code: Code, message: String },

    #[error("{message}")]
    Conflict { code: Code, message: String },

    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },

    #[error("the request body stopped arriving before it was complete")]
    BodyTimeout,

    #[error("this request came from another site's page; sign in from this server's own pages")]
    CrossSite,

    #[error("the file is larger than the limit of {limit} bytes")]
    FileTooLarge { limit: u64 },

    #[error("{message}")]
    UnsupportedMedia { code: Code, message: String },

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
    NotFound { code: Code, message: String },

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
    pub fn bad_request(code: Code, message: impl Into<String>) -> Self {
        Error::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn not_found(code: Code, message: impl Into<String>) -> Self {
        Error::NotFound {
            code,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }

    /// The stable code clients match on.
    pub fn code(&self) -> Code {
        match self {
            Error::TypeNotFound(_) => code::TYPE_NOT_FOUND,
            Error::EntryNotFound => code::ENTRY_NOT_FOUND,
            Error::Validation(_) => code::VALIDATION_FAILED,
            Error::VersionConflict { .. } => code::VERSION_CONFLICT,
            Error::InvalidQuery { code, .. }
            | Error::BadRequest { code, .. }
            | Error::Conflict { code, .. }
            | Error::UnsupportedMedia { code, .. }
            | Error::NotFound { code, .. } => *code,
            Error::PayloadTooLarge { .. } => code::PAYLOAD_TOO_LARGE,
            Error::FileTooLarge { .. } => code::FILE_TOO_LARGE,
            Error::BodyTimeout => code::BODY_TIMEOUT,
            Error::CrossSite => code::CROSS_SITE_REQUEST,
            Error::MediaInUse { .. } => code::MEDIA_IN_USE,
            Error::Unauthenticated => code::UNAUTHENTICATED,
            Error::Forbidden => code::FORBIDDEN,
            Error::InvalidCredentials => code::INVALID_CREDENTIALS,
            Error::CsrfFailed => code::CSRF_FAILED,
            Error::TwoFactorRequired => code::TWO_FACTOR_REQUIRED,
            Error::TooManyAttempts { .. } => code::TOO_MANY_ATTEMPTS,
            Error::RateLimited { .. } => code::RATE_LIMITED,
            Error::SearchUnavailable { .. } => code::SEARCH_UNAVAILABLE,
            Error::Busy => code::WRITE_CONTENTION,
            Error::Config(_) => code::CONFIG_ERROR,
            Error::Database(_)
            | Error::Io(_)
            | Error::Index(_)
            | Error::ObjectStore(_)
            | Error::Image(_)
            | Error::Internal(_) => code::INTERNAL_ERROR,
        }
    }

    /// The HTTP status: its code's.
    pub fn status(&self) -> u16 {
        self.code().status
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
            code: self.code().name,
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
        assert_eq!((e.code(), e.status()), (code::WRITE_CONTENTION, 503));
        assert_eq!(e.retry_after(), Some(1));
        assert!(
            e.body().message.contains("try again"),
            "{}",
            e.body().message
        );
        let hidden = Error::internal("secret detail");
        assert!(!hidden.body().message.contains("secret"));
    }

    /// The table of codes as the README lists it.
    fn codes_table() -> String {
        let mut out = String::from("| code | status | meaning |\n|---|---:|---|\n");
        for c in CODES {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                c.name, c.status, c.meaning
            ));
        }
        out
    }

    #[test]
    fn the_readme_lists_every_code_as_the_table_has_it() {
        let readme = include_str!("../README.md");
        assert!(
            readme.contains(&codes_table()),
            "README.md's error-code table differs from `CODES`; it should read:\n{}",
            codes_table()
        );
    }

    #[test]
    fn each_code_is_named_once_in_snake_case_with_an_error_status() {
        let mut names: Vec<&str> = CODES.iter().map(|c| c.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "a code is listed twice");
        for c in CODES {
            assert!(
                c.name
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch == '_'),
                "{}",
                c.name
            );
            assert!((400..600).contains(&c.status), "{}: {}", c.name, c.status);
            assert!(!c.meaning.is_empty(), "{}", c.name);
        }
    }
}
