//! Entry data validation: checks the `fields` object of an entry against its content type and
//! returns it normalised (the type's field order, datetimes in UTC, canonical ids), or every
//! problem found, each with a JSON path (`fields.blocks[1].heading`) and a stable snake_case
//! code that API clients may match on.
//!
//! It must not look anything up: whether a related entry or a media item exists, whether a
//! `unique` value is already taken, and the generation of empty `uid` fields that name a
//! `from` source all belong to the content service, which runs after this.
//!
//! Size defaults (they apply when the type does not set a rule, and are part of the contract):
//! - `text`: at most 255 characters; `long_text` and `markdown`: at most 1 000 000 characters;
//!   an explicit `max_length` replaces these.
//! - `uid`: at most 200 characters; `email`: 254 (the SMTP limit); `url`: 2048.
//! - `json` values nest at most 32 levels; many-relations, many-media and repeaters hold at
//!   most 1000 items. These two are hard caps against hostile input, whatever the type says.
//!
//! An empty string in an optional `uid`, `email` or `url` field becomes `null`: forms send ""
//! for an untouched input, and it is no valid value of those types.

use serde_json::{Map, Number, Value};

use super::load::did_you_mean;
use super::{ContentType, Field, FieldType};

const DEFAULT_TEXT_MAX: usize = 255;
const DEFAULT_LONG_TEXT_MAX: usize = 1_000_000;
const UID_MAX: usize = 200;
const EMAIL_MAX: usize = 254;
const URL_MAX: usize = 2048;
const JSON_MAX_DEPTH: usize = 32;
pub(super) const MAX_ITEMS: usize = 1000;

/// What [`is_uid`] accepts, for documents that describe it.
pub(super) const UID_PATTERN: &str = "^[a-z0-9]+(?:-[a-z0-9]+)*$";
/// What an id looks like (a ULID, whose first character is at most 7), for documents.
pub(super) const ID_PATTERN: &str = "^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$";

/// The length cap a string-like field is checked against: its `max_length`, or the type's
/// default. `None` for types that are not strings.
pub(super) fn max_length(field: &Field) -> Option<usize> {
    let default = match field.ty {
        FieldType::Text => DEFAULT_TEXT_MAX,
        FieldType::LongText | FieldType::Markdown => DEFAULT_LONG_TEXT_MAX,
        FieldType::Uid { .. } => UID_MAX,
        FieldType::Email => EMAIL_MAX,
        FieldType::Url => URL_MAX,
        _ => return None,
    };
    Some(field.rules.max_length.unwrap_or(default))
}

macro_rules! field_codes {
    ($($id:ident = $name:literal, $meaning:literal;)*) => {
        /// The code of one failing field (inside a `validation_failed` answer's `fields`),
        /// one constant each.
        pub mod field_code {
            $(pub const $id: &str = $name;)*
        }
        /// Every field code with its meaning, in the order the README lists them.
        pub const FIELD_CODES: &[(&str, &str)] = &[$(($name, $meaning)),*];
    };
}

field_codes! {
    REQUIRED = "required", "the field needs a value";
    UNKNOWN_FIELD = "unknown_field", "the type has no field of this name";
    WRONG_TYPE = "wrong_type", "the value is not of the field's type (a number for text, ...)";
    TOO_SHORT = "too_short", "shorter than the field's `min_length`";
    TOO_LONG = "too_long", "longer than the field's `max_length` (or its type's limit)";
    PATTERN_MISMATCH = "pattern_mismatch", "the text does not match the field's `pattern`";
    TOO_SMALL = "too_small", "below the field's `min`";
    TOO_LARGE = "too_large", "above the field's `max`";
    NOT_INTEGER = "not_integer", "an integer field was given a fraction";
    NOT_IN_ENUM = "not_in_enum", "not one of the enum's values";
    INVALID_EMAIL = "invalid_email", "not an email address";
    INVALID_URL = "invalid_url", "not an http(s) URL";
    INVALID_DATETIME = "invalid_datetime", "not an RFC 3339 date and time";
    INVALID_DATE = "invalid_date", "not a `YYYY-MM-DD` date";
    INVALID_UID = "invalid_uid", "not a slug of lowercase letters, digits and dashes";
    INVALID_ID = "invalid_id", "not an entry or media id (a ULID)";
    TOO_FEW_ITEMS = "too_few_items", "fewer items than the field's `min`";
    TOO_MANY_ITEMS = "too_many_items", "more items than the field's `max`";
    DUPLICATE_ITEM = "duplicate_item", "the same related entry or media item twice";
    INVALID_LOCALE = "invalid_locale", "a localized value names a locale the type does not have";
    NOT_UNIQUE = "not_unique", "another record already has this value of a unique field";
    RELATION_NOT_FOUND = "relation_not_found", "no entry of the related type has this id (or the caller may not see it)";
    MEDIA_NOT_FOUND = "media_not_found", "no media item has this id";
    MEDIA_NOT_ACCEPTED = "media_not_accepted", "the media item's kind is not one the field's `accept` lists";
    NOT_ALLOWED = "not_allowed", "the caller's role may not change this field";
    REJECTED_BY_PLUGIN = "rejected_by_plugin", "a plugin's `before_save` refused the value";
    INVALID = "invalid", "the value is not one the field takes (names, statuses, dates of accounts and tokens)";
    IN_THE_PAST = "in_the_past", "an expiry that has already passed";
    UNKNOWN_ROLE = "unknown_role", "no role has this name";
    WRONG_PASSWORD = "wrong_password", "the current password is not right";
    WRONG_CODE = "wrong_code", "the two-factor code is not the current one";
    TOO_COMMON = "too_common", "the password is too easy to guess";
}

use field_code as code;

/// How much of an entry's `fields` the input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidateMode {
    /// The whole object of a create or replace: `required` is enforced, missing fields get
    /// their default, or `null`.
    Full,
    /// A patch: only the keys present are checked; `null` on a required field is an error.
    /// A value given in a patch replaces the field whole, so a group, a repeater or a
    /// localized field's object of locales is checked in full.
    Partial,
}

/// One problem in entry data.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FieldError {
    /// `fields.title`, `fields.tags[2]`, `fields.seo.description`, `fields.title.fr`.
    pub path: String,
    /// Stable snake_case code (`too_long`, `invalid_id`, ...).
    pub code: &'static str,
    /// A sentence for humans; wording may change.
    pub message: String,
}

/// Checks the `fields` object of an entry and returns it normalised, in the type's field
/// order, or every error found.
pub fn validate_fields(
    ct: &ContentType,
    input: &Map<String, Value>,
    mode: ValidateMode,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    let mut v = Validator {
        locales: &ct.locales,
        errors: Vec::new(),
    };
    let out = v.object(&ct.fields, input, "fields", mode);
    if v.errors.is_empty() {
        Ok(out)
    } else {
        Err(v.errors)
    }
}

/// Checks a `default` from a content-type file as if an editor had typed it (not localised:
/// a localized field's default fills its default locale). Used by the loader.
pub(super) fn check_default(field: &Field, value: &Value) -> Result<Value, Vec<FieldError>> {
    let mut v = Validator {
        locales: &[],
        errors: Vec::new(),
    };
    let out = v.value(field, value, "default", field.rules.required);
    if v.errors.is_empty() {
        Ok(out)
    } else {
        Err(v.errors)
    }
}

struct Validator<'a> {
    locales: &'a [String],
    errors: Vec<FieldError>,
}

/// A `uid` with a `from` source is filled in by the content service when left empty.
fn is_generated(field: &Field) -> bool {
    matches!(field.ty, FieldType::Uid { from: Some(_) })
}

impl Validator<'_> {
    fn push(&mut self, path: &str, code: &'static str, message: impl Into<String>) {
        self.errors.push(FieldError {
            path: path.to_owned(),
            code,
            message: message.into(),
        });
    }

    fn object(
        &mut self,
        fields: &[Field],
        input: &Map<String, Value>,
        prefix: &str,
        mode: ValidateMode,
    ) -> Map<String, Value> {
        for key in input.keys() {
            if !fields.iter().any(|f| &f.name == key) {
                let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                let message = match did_you_mean(key, &names) {
                    Some(close) => format!("no field `{key}` here; did you mean `{close}`?"),
                    None => format!("no field `{key}` here"),
                };
                self.push(&format!("{prefix}.{key}"), code::UNKNOWN_FIELD, message);
            }
        }
        let mut out = Map::with_capacity(fields.len());
        for field in fields {
            let path = format!("{prefix}.{}", field.name);
            let value = match input.get(&field.name) {
                Some(value) if field.localized => self.localized(field, value, &path),
                Some(value) => self.value(field, value, &path, field.rules.required),
                None if mode == ValidateMode::Partial => continue,
                None => self.missing(field, &path),
            };
            out.insert(field.name.clone(), value);
        }
        out
    }

    /// The value a create gets for a field it left out.
    fn missing(&mut self, field: &Field, path: &str) -> Value {
        if let Some(default) = &field.default {
            return match (field.localized, self.locales.first()) {
                (true, Some(locale)) => {
                    Value::Object(Map::from_iter([(locale.clone(), default.clone())]))
                }
                _ => default.clone(),
            };
        }
        if field.rules.required && !is_generated(field) {
            self.push(path, code::REQUIRED, "is required");
        }
        Value::Null
    }

    fn localized(&mut self, field: &Field, value: &Value, path: &str) -> Value {
        let Some(map) = value.as_object() else {
            if value.is_null() {
                if field.rules.required && !is_generated(field) {
                    self.push(path, code::REQUIRED, "is required");
                }
            } else {
                let locales = self.locales.join(", ");
                self.push(
                    path,
                    code::WRONG_TYPE,
                    format!("must be an object with one value per locale ({locales})"),
                );
            }
            return Value::Null;
        };
        for key in map.keys() {
            if !self.locales.contains(key) {
                let locales = self.locales.join(", ");
                self.push(
                    &format!("{path}.{key}"),
                    code::INVALID_LOCALE,
                    format!("`{key}` is not a locale of this type ({locales})"),
                );
            }
        }
        let mut out = Map::new();
        for (i, locale) in self.locales.iter().enumerate() {
            let locale_path = format!("{path}.{locale}");
            // `required` asks for the default locale only: translations may lag behind.
            let required = i == 0 && field.rules.required;
            match map.get(locale) {
                Some(v) => {
                    let normalised = self.value(field, v, &locale_path, required);
                    out.insert(locale.clone(), normalised);
                }
                None if required && !is_generated(field) => {
                    self.push(&locale_path, code::REQUIRED, "is required");
                }
                None => {}
            }
        }
        Value::Object(out)
    }

    /// Checks one (non-localised) value; returns it normalised, or `null` after an error.
    fn value(&mut self, field: &Field, value: &Value, path: &str, required: bool) -> Value {
        if value.is_null() {
            if required && !is_generated(field) {
                self.push(path, code::REQUIRED, "is required");
            }
            return Value::Null;
        }
        match &field.ty {
            FieldType::Text
            | FieldType::LongText
            | FieldType::Markdown
            | FieldType::Uid { .. }
            | FieldType::Email
            | FieldType::Url => self.string(field, value, path, required),
            FieldType::Enum { values } => {
                let Some(s) = self.expect_str(value, path) else {
                    return Value::Null;
                };
                if s.is_empty() && required {
                    self.push(path, code::REQUIRED, "is required");
                } else if !values.iter().any(|v| v == s) {
                    self.push(
                        path,
                        code::NOT_IN_ENUM,
                        format!("must be one of: {}", values.join(", ")),
                    );
                }
                Value::String(s.to_owned())
            }
            FieldType::Integer => self.integer(field, value, path),
            FieldType::Float => self.float(field, value, path),
            FieldType::Boolean => {
                if !value.is_boolean() {
                    self.wrong_type(path, "true or false", value);
                    return Value::Null;
                }
                value.clone()
            }
            FieldType::Datetime => {
                let Some(s) = self.expect_str(value, path) else {
                    return Value::Null;
                };
                match crate::time::normalise(s) {
                    // Fixed width and UTC, so that comparing the strings compares the times.
                    Some(t) => Value::String(t),
                    None => {
                        self.push(
                            path,
                            code::INVALID_DATETIME,
                            "must be an RFC 3339 date and time with an offset, like \
                             2024-05-01T09:30:00Z",
                        );
                        Value::Null
                    }
                }
            }
            FieldType::Date => {
                let Some(s) = self.expect_str(value, path) else {
                    return Value::Null;
                };
                match parse_date(s) {
                    Some(d) => Value::String(d.format("%Y-%m-%d").to_string()),
                    None => {
                        self.push(
                            path,
                            code::INVALID_DATE,
                            "must be a calendar date like 2024-05-01",
                        );
                        Value::Null
                    }
                }
            }
            FieldType::Json => {
                if nesting_exceeds(value, JSON_MAX_DEPTH) {
                    self.push(
                        path,
                        code::TOO_LARGE,
                        format!("nests deeper than {JSON_MAX_DEPTH} levels"),
                    );
                    return Value::Null;
                }
                value.clone()
            }
            FieldType::Relation { many: false, .. } | FieldType::Media { many: false, .. } => {
                self.id(value, path).map_or(Value::Null, Value::String)
            }
            FieldType::Relation { many: true, .. } | FieldType::Media { many: true, .. } => {
                self.ids(field, value, path, required)
            }
            FieldType::Group { fields } => {
                let Some(map) = value.as_object() else {
                    self.wrong_type(path, "an object", value);
                    return Value::Null;
                };
                Value::Object(self.object(fields, map, path, ValidateMode::Full))
            }
            FieldType::Repeater { fields } => self.repeater(field, fields, value, path, required),
        }
    }

    fn string(&mut self, field: &Field, value: &Value, path: &str, required: bool) -> Value {
        let Some(s) = self.expect_str(value, path) else {
            return Value::Null;
        };
        let empty_is_none = matches!(
            field.ty,
            FieldType::Uid { .. } | FieldType::Email | FieldType::Url
        );
        if s.is_empty() {
            if required && !is_generated(field) {
                self.push(path, code::REQUIRED, "is required");
                return Value::Null;
            }
            // A form sends "" for an untouched input; for these types it can only mean "none".
            if empty_is_none {
                return Value::Null;
            }
        }
        let rules = &field.rules;
        let len = s.chars().count();
        if let Some(min) = rules.min_length
            && len < min
        {
            self.push(
                path,
                code::TOO_SHORT,
                format!("must be at least {min} characters (got {len})"),
            );
        }
        let max = max_length(field).unwrap_or(DEFAULT_LONG_TEXT_MAX);
        let too_long = len > max;
        if too_long {
            self.push(
                path,
                code::TOO_LONG,
                format!("must be at most {max} characters (got {len})"),
            );
        }
        if let Some(pattern) = &rules.pattern
            && !too_long
            && !pattern.regex.is_match(s)
        {
            self.push(
                path,
                code::PATTERN_MISMATCH,
                format!("must match the pattern {}", pattern.source),
            );
        }
        match field.ty {
            FieldType::Email if !is_email(s) => {
                self.push(path, code::INVALID_EMAIL, "must be an email address");
            }
            FieldType::Url if !is_http_url(s) => self.push(
                path,
                code::INVALID_URL,
                "must be an absolute http:// or https:// URL",
            ),
            FieldType::Uid { .. } if !is_uid(s) => self.push(
                path,
                code::INVALID_UID,
                format!(
                    "must be lowercase letters and digits separated by single hyphens, \
                     at most {UID_MAX} characters"
                ),
            ),
            _ => {}
        }
        Value::String(s.to_owned())
    }

    fn integer(&mut self, field: &Field, value: &Value, path: &str) -> Value {
        let Some(n) = value.as_number() else {
            self.wrong_type(path, "an integer", value);
            return Value::Null;
        };
        let i = if let Some(i) = n.as_i64() {
            i
        } else if n.is_u64() {
            self.push(path, code::TOO_LARGE, "is outside the 64-bit integer range");
            return Value::Null;
        } else {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() != 0.0 || !f.is_finite() {
                self.push(path, code::NOT_INTEGER, "must be a whole number");
                return Value::Null;
            }
            // 2^63 is exactly representable; anything at or past it does not fit.
            if f >= 9_223_372_036_854_775_808.0 {
                self.push(path, code::TOO_LARGE, "is outside the 64-bit integer range");
                return Value::Null;
            }
            if f < -9_223_372_036_854_775_808.0 {
                self.push(path, code::TOO_SMALL, "is outside the 64-bit integer range");
                return Value::Null;
            }
            #[expect(
                clippy::cast_possible_truncation,
                reason = "whole and within i64 range, checked above"
            )]
            let i = f as i64;
            i
        };
        #[expect(
            clippy::cast_precision_loss,
            reason = "bounds are f64 in the model; near 2^53 a rounding is acceptable"
        )]
        self.bounds(field, i as f64, path);
        Value::Number(Number::from(i))
    }

    fn float(&mut self, field: &Field, value: &Value, path: &str) -> Value {
        let Some(f) = value.as_f64() else {
            self.wrong_type(path, "a number", value);
            return Value::Null;
        };
        self.bounds(field, f, path);
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }

    fn bounds(&mut self, field: &Field, n: f64, path: &str) {
        if let Some(min) = field.rules.min
            && n < min
        {
            self.push(path, code::TOO_SMALL, format!("must be at least {min}"));
        }
        if let Some(max) = field.rules.max
            && n > max
        {
            self.push(path, code::TOO_LARGE, format!("must be at most {max}"));
        }
    }

    /// One relation or media id: a ULID, returned in its canonical upper-case form.
    fn id(&mut self, value: &Value, path: &str) -> Option<String> {
        let s = self.expect_str(value, path)?;
        match ulid::Ulid::from_string(s) {
            // The parser lets a first character above 7 overflow silently; the round trip
            // refuses those, so that one id has one spelling.
            Ok(id) if id.to_string().eq_ignore_ascii_case(s) => Some(id.to_string()),
            _ => {
                self.push(
                    path,
                    code::INVALID_ID,
                    "must be an id (a 26-character ULID)",
                );
                None
            }
        }
    }

    fn ids(&mut self, field: &Field, value: &Value, path: &str, required: bool) -> Value {
        let Some(items) = value.as_array() else {
            self.wrong_type(path, "an array of ids", value);
            return Value::Null;
        };
        if self.item_count(field, items.len(), path, required) {
            return Value::Null;
        }
        let mut out: Vec<Value> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            let Some(id) = self.id(item, &item_path) else {
                continue;
            };
            // At most 1000 items, so the quadratic scan stays cheap.
            if out.iter().any(|seen| seen.as_str() == Some(id.as_str())) {
                self.push(
                    &item_path,
                    code::DUPLICATE_ITEM,
                    format!("`{id}` is listed twice"),
                );
                continue;
            }
            out.push(Value::String(id));
        }
        Value::Array(out)
    }

    fn repeater(
        &mut self,
        field: &Field,
        fields: &[Field],
        value: &Value,
        path: &str,
        required: bool,
    ) -> Value {
        let Some(items) = value.as_array() else {
            self.wrong_type(path, "an array of objects", value);
            return Value::Null;
        };
        if self.item_count(field, items.len(), path, required) {
            return Value::Null;
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            match item.as_object() {
                Some(map) => out.push(Value::Object(self.object(
                    fields,
                    map,
                    &item_path,
                    ValidateMode::Full,
                ))),
                None => {
                    self.wrong_type(&item_path, "an object", item);
                    out.push(Value::Null);
                }
            }
        }
        Value::Array(out)
    }

    /// Checks an item count; true when the items are not worth looking at (hard cap hit).
    fn item_count(&mut self, field: &Field, len: usize, path: &str, required: bool) -> bool {
        if len > MAX_ITEMS {
            self.push(
                path,
                code::TOO_MANY_ITEMS,
                format!("holds {len} items; at most {MAX_ITEMS} are accepted"),
            );
            return true;
        }
        if len == 0 && required {
            self.push(path, code::REQUIRED, "needs at least one item");
            return false;
        }
        #[expect(clippy::cast_precision_loss, reason = "len is at most 1000")]
        let n = len as f64;
        if let Some(min) = field.rules.min
            && n < min
        {
            self.push(
                path,
                code::TOO_FEW_ITEMS,
                format!("needs at least {min} items (got {len})"),
            );
        }
        if let Some(max) = field.rules.max
            && n > max
        {
            self.push(
                path,
                code::TOO_MANY_ITEMS,
                format!("holds at most {max} items (got {len})"),
            );
        }
        false
    }

    fn expect_str<'v>(&mut self, value: &'v Value, path: &str) -> Option<&'v str> {
        let s = value.as_str();
        if s.is_none() {
            self.wrong_type(path, "a string", value);
        }
        s
    }

    fn wrong_type(&mut self, path: &str, expected: &str, got: &Value) {
        let got = match got {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        };
        self.push(
            path,
            code::WRONG_TYPE,
            format!("must be {expected}, not {got}"),
        );
    }
}

/// `YYYY-MM-DD` exactly: chrono alone would also take `2024-5-1` or a signed year.
fn parse_date(s: &str) -> Option<chrono::NaiveDate> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// Whether `value` nests more than `limit` arrays/objects deep. Recursion stops at the
/// limit, so hostile input cannot exhaust the stack here.
fn nesting_exceeds(value: &Value, limit: usize) -> bool {
    let children: Box<dyn Iterator<Item = &Value>> = match value {
        Value::Array(items) => Box::new(items.iter()),
        Value::Object(map) => Box::new(map.values()),
        _ => return false,
    };
    if limit == 0 {
        return true;
    }
    children
        .into_iter()
        .any(|child| nesting_exceeds(child, limit - 1))
}

/// `^[a-z0-9]+(?:-[a-z0-9]+)*$`, at most 200 characters.
pub(super) fn is_uid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= UID_MAX
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// A practical address check (what a form can reasonably catch): one `@`, a local part of
/// printable characters, and a dotted domain of letters, digits and inner hyphens.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| {
            c.is_alphanumeric() || (c.is_ascii_punctuation() && !"()<>[]:;@\\,\"".contains(c))
        });
    local_ok && domain.contains('.') && is_hostname(domain)
}

fn is_hostname(host: &str) -> bool {
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// An absolute `http`/`https` URL with a host; no whitespace or control characters.
fn is_http_url(s: &str) -> bool {
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &s[8..]
    } else if lower.starts_with("http://") {
        &s[7..]
    } else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else {
            return false;
        };
        if addr.is_empty()
            || !addr
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return false;
        }
        (None, after.strip_prefix(':'))
    } else {
        match host_port.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(host_port), None),
        }
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.parse::<u16>().is_ok());
    port_ok && host.is_none_or(is_hostname)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_readme_lists_every_field_code_as_the_table_has_it() {
        let mut table = String::from("| field code | meaning |\n|---|---|\n");
        for (name, meaning) in FIELD_CODES {
            table.push_str(&format!("| `{name}` | {meaning} |\n"));
        }
        assert!(
            include_str!("../../README.md").contains(&table),
            "README.md's field-code table differs from `FIELD_CODES`; it should read:\n{table}"
        );
    }
    use crate::schema::{Access, AdminSettings, DeliverySettings, Hooks, Kind, Pattern};

    const ID1: &str = "01HZY7X3M2V6Q8R9S0T1A2B3C4";

    fn field(name: &str, ty: FieldType) -> Field {
        Field::new(name, ty)
    }

    fn with(mut f: Field, edit: impl FnOnce(&mut Field)) -> Field {
        edit(&mut f);
        f
    }

    fn required(f: Field) -> Field {
        with(f, |f| f.rules.required = true)
    }

    fn ct(fields: Vec<Field>) -> ContentType {
        ContentType {
            id: "article".to_owned(),
            kind: Kind::Collection,
            name: "Article".to_owned(),
            description: None,
            drafts: false,
            locales: vec!["en".to_owned(), "fr".to_owned()],
            search: false,
            admin: AdminSettings::default(),
            access: Access::default(),
            delivery: DeliverySettings::default(),
            fields,
            hooks: Hooks::default(),
            source: "content-types/article.toml".into(),
        }
    }

    /// A type exercising every rule the validator knows.
    fn article() -> ContentType {
        ct(vec![
            required(with(field("title", FieldType::Text), |f| {
                f.rules.max_length = Some(20);
                f.rules.min_length = Some(2);
                f.localized = true;
            })),
            with(
                field(
                    "slug",
                    FieldType::Uid {
                        from: Some("title".into()),
                    },
                ),
                |f| {
                    f.rules.required = true;
                },
            ),
            field("code", FieldType::Uid { from: None }),
            with(field("sku", FieldType::Text), |f| {
                f.rules.pattern = Some(Pattern {
                    source: "^[A-Z]{3}-[0-9]+$".into(),
                    regex: regex::Regex::new("^[A-Z]{3}-[0-9]+$").expect("valid regex"),
                });
            }),
            field("summary", FieldType::Text),
            field("body", FieldType::Markdown),
            with(field("rating", FieldType::Integer), |f| {
                f.rules.min = Some(1.0);
                f.rules.max = Some(5.0);
            }),
            with(field("price", FieldType::Float), |f| {
                f.rules.min = Some(0.0)
            }),
            field("featured", FieldType::Boolean),
            with(
                field(
                    "status_label",
                    FieldType::Enum {
                        values: vec!["news".into(), "opinion".into()],
                    },
                ),
                |f| f.default = Some(json!("news")),
            ),
            field("starts_at", FieldType::Datetime),
            field("day", FieldType::Date),
            field("extra", FieldType::Json),
            field("contact", FieldType::Email),
            field("website", FieldType::Url),
            field(
                "author",
                FieldType::Relation {
                    target: "author".into(),
                    many: false,
                },
            ),
            with(
                field(
                    "tags",
                    FieldType::Relation {
                        target: "tag".into(),
                        many: true,
                    },
                ),
                |f| {
                    f.rules.required = true;
                    f.rules.max = Some(5.0);
                },
            ),
            field(
                "cover",
                FieldType::Media {
                    many: false,
                    accept: vec![],
                },
            ),
            field(
                "seo",
                FieldType::Group {
                    fields: vec![
                        field("description", FieldType::Text),
                        field("noindex", FieldType::Boolean),
                    ],
                },
            ),
            with(
                field(
                    "blocks",
                    FieldType::Repeater {
                        fields: vec![
                            with(field("heading", FieldType::Text), |f| {
                                f.rules.max_length = Some(10)
                            }),
                            required(field(
                                "kind",
                                FieldType::Enum {
                                    values: vec!["quote".into(), "text".into()],
                                },
                            )),
                        ],
                    },
                ),
                |f| f.rules.max = Some(3.0),
            ),
        ])
    }

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    fn full(ct: &ContentType, v: Value) -> Result<Map<String, Value>, Vec<FieldError>> {
        validate_fields(ct, &obj(v), ValidateMode::Full)
    }

    /// The (path, code) pairs of a failed validation.
    fn errors(result: Result<Map<String, Value>, Vec<FieldError>>) -> Vec<(String, &'static str)> {
        match result {
            Ok(ok) => panic!("expected errors, got {}", Value::Object(ok)),
            Err(errors) => errors.into_iter().map(|e| (e.path, e.code)).collect(),
        }
    }

    fn one_error(ct: &ContentType, v: Value) -> (String, &'static str) {
        let errs = errors(validate_fields(ct, &obj(v), ValidateMode::Partial));
        assert_eq!(errs.len(), 1, "{errs:?}");
        errs.into_iter().next().expect("one error")
    }

    fn minimal() -> Value {
        json!({ "title": { "en": "Hello" }, "tags": [ID1] })
    }

    #[test]
    fn full_fills_defaults_nulls_and_keeps_field_order() {
        let ct = article();
        let out = full(
            &ct,
            json!({ "tags": [ID1], "title": { "fr": "Salut", "en": "Hi" } }),
        )
        .expect("valid");
        let keys: Vec<&str> = out.keys().map(String::as_str).collect();
        let expected: Vec<&str> = ct.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(keys, expected);
        assert_eq!(out["status_label"], json!("news"));
        assert_eq!(out["summary"], Value::Null);
        // A required uid with `from` is left for the content service to generate.
        assert_eq!(out["slug"], Value::Null);
        // Locales come back in the type's order.
        assert_eq!(
            serde_json::to_string(&out["title"]).expect("json"),
            r#"{"en":"Hi","fr":"Salut"}"#
        );
    }

    #[test]
    fn partial_checks_only_present_keys() {
        let ct = article();
        let out = validate_fields(&ct, &obj(json!({ "rating": 3 })), ValidateMode::Partial)
            .expect("valid");
        assert_eq!(Value::Object(out), json!({ "rating": 3 }));
        assert_eq!(
            one_error(&ct, json!({ "title": null })),
            ("fields.title".to_owned(), "required")
        );
    }

    #[test]
    fn every_error_is_reported_not_just_the_first() {
        let ct = article();
        let errs = errors(full(
            &ct,
            json!({ "rating": 9, "nope": 1, "featured": "yes" }),
        ));
        assert_eq!(
            errs,
            vec![
                ("fields.nope".to_owned(), "unknown_field"),
                ("fields.title".to_owned(), "required"),
                ("fields.rating".to_owned(), "too_large"),
                ("fields.featured".to_owned(), "wrong_type"),
                ("fields.tags".to_owned(), "required"),
            ]
        );
    }

    #[test]
    fn unknown_field_suggests_a_close_name() {
        let ct = article();
        let err = validate_fields(&ct, &obj(json!({ "titel": "x" })), ValidateMode::Partial)
            .expect_err("unknown");
        assert_eq!(err[0].path, "fields.titel");
        assert_eq!(err[0].code, "unknown_field");
        assert!(err[0].message.contains("`title`"), "{}", err[0].message);
    }

    #[test]
    fn required_refuses_empty_string_and_empty_array() {
        let ct = article();
        assert_eq!(
            one_error(&ct, json!({ "title": { "en": "" } })),
            ("fields.title.en".to_owned(), "required")
        );
        assert_eq!(
            one_error(&ct, json!({ "tags": [] })),
            ("fields.tags".to_owned(), "required")
        );
        // A required uid without `from` follows `required`.
        let plain = ct_of(required(field("code", FieldType::Uid { from: None })));
        assert_eq!(
            errors(full(&plain, json!({}))),
            vec![("fields.code".to_owned(), "required")]
        );
        assert_eq!(
            errors(full(&plain, json!({ "code": "" }))),
            vec![("fields.code".to_owned(), "required")]
        );
    }

    fn ct_of(f: Field) -> ContentType {
        ct(vec![f])
    }

    #[test]
    fn string_lengths_count_characters_and_default_caps_apply() {
        let ct = article();
        // 20 characters but 40 bytes: fits.
        let out = validate_fields(
            &ct,
            &obj(json!({ "title": { "en": "éééééééééééééééééééé" } })),
            ValidateMode::Partial,
        );
        assert!(out.is_ok(), "{out:?}");
        assert_eq!(
            one_error(&ct, json!({ "title": { "en": "x" } })),
            ("fields.title.en".to_owned(), "too_short")
        );
        assert_eq!(
            one_error(
                &ct,
                json!({ "title": { "en": "ok", "fr": "x".repeat(21) } })
            ),
            ("fields.title.fr".to_owned(), "too_long")
        );
        // No max_length: text stops at 255, markdown goes far beyond.
        assert_eq!(
            one_error(&ct, json!({ "summary": "x".repeat(256) })),
            ("fields.summary".to_owned(), "too_long")
        );
        assert!(
            validate_fields(
                &ct,
                &obj(json!({ "summary": "x".repeat(255), "body": "x".repeat(10_000) })),
                ValidateMode::Partial
            )
            .is_ok()
        );
    }

    #[test]
    fn pattern_enum_and_type_errors() {
        let ct = article();
        assert_eq!(
            one_error(&ct, json!({ "sku": "abc-1" })),
            ("fields.sku".to_owned(), "pattern_mismatch")
        );
        assert!(
            validate_fields(&ct, &obj(json!({ "sku": "ABC-12" })), ValidateMode::Partial).is_ok()
        );
        assert_eq!(
            one_error(&ct, json!({ "status_label": "rumour" })),
            ("fields.status_label".to_owned(), "not_in_enum")
        );
        assert_eq!(
            one_error(&ct, json!({ "summary": 12 })),
            ("fields.summary".to_owned(), "wrong_type")
        );
        assert_eq!(
            one_error(&ct, json!({ "title": "Hello" })),
            ("fields.title".to_owned(), "wrong_type")
        );
    }

    #[test]
    fn numbers() {
        let ct = article();
        assert_eq!(
            one_error(&ct, json!({ "rating": 1.5 })),
            ("fields.rating".to_owned(), "not_integer")
        );
        assert_eq!(
            one_error(&ct, json!({ "rating": 0 })),
            ("fields.rating".to_owned(), "too_small")
        );
        assert_eq!(
            one_error(&ct, json!({ "rating": 6 })),
            ("fields.rating".to_owned(), "too_large")
        );
        assert_eq!(
            one_error(&ct, json!({ "rating": "3" })),
            ("fields.rating".to_owned(), "wrong_type")
        );
        let unbounded = ct_of(field("n", FieldType::Integer));
        assert_eq!(
            one_error(&unbounded, json!({ "n": u64::MAX })),
            ("fields.n".to_owned(), "too_large")
        );
        assert_eq!(
            one_error(&unbounded, json!({ "n": -1e19 })),
            ("fields.n".to_owned(), "too_small")
        );
        let out = validate_fields(&unbounded, &obj(json!({ "n": 4.0 })), ValidateMode::Partial)
            .expect("whole float");
        assert_eq!(out["n"], json!(4));
        // Floats take integers and come back as floats.
        let out = validate_fields(&ct, &obj(json!({ "price": 3 })), ValidateMode::Partial)
            .expect("integer price");
        assert_eq!(serde_json::to_string(&out["price"]).expect("json"), "3.0");
        assert_eq!(
            one_error(&ct, json!({ "price": -0.5 })),
            ("fields.price".to_owned(), "too_small")
        );
    }

    #[test]
    fn datetimes_are_normalised_to_utc_with_milliseconds() {
        let ct = article();
        let out = validate_fields(
            &ct,
            &obj(json!({ "starts_at": "2024-05-01T11:30:00+02:00", "day": "2024-02-29" })),
            ValidateMode::Partial,
        )
        .expect("valid");
        assert_eq!(out["starts_at"], json!("2024-05-01T09:30:00.000Z"));
        assert_eq!(out["day"], json!("2024-02-29"));
        let out = validate_fields(
            &ct,
            &obj(json!({ "starts_at": "2024-05-01T09:30:00.123456Z" })),
            ValidateMode::Partial,
        )
        .expect("valid");
        assert_eq!(out["starts_at"], json!("2024-05-01T09:30:00.123Z"));
        for bad in ["2024-05-01", "2024-05-01T09:30:00", "yesterday"] {
            assert_eq!(
                one_error(&ct, json!({ "starts_at": bad })),
                ("fields.starts_at".to_owned(), "invalid_datetime"),
                "{bad}"
            );
        }
        for bad in ["2023-02-29", "2024-5-1", "2024-05-01T00:00:00Z"] {
            assert_eq!(
                one_error(&ct, json!({ "day": bad })),
                ("fields.day".to_owned(), "invalid_date"),
                "{bad}"
            );
        }
    }

    #[test]
    fn email_url_and_uid_formats() {
        let ct = article();
        for bad in ["nobody", "a@b", "a b@example.com", "@example.com"] {
            assert_eq!(
                one_error(&ct, json!({ "contact": bad })),
                ("fields.contact".to_owned(), "invalid_email"),
                "{bad}"
            );
        }
        for bad in [
            "ftp://example.com",
            "/relative",
            "https://",
            "https://exa mple.com",
            "javascript:alert(1)",
            "http://example.com:99999/",
        ] {
            assert_eq!(
                one_error(&ct, json!({ "website": bad })),
                ("fields.website".to_owned(), "invalid_url"),
                "{bad}"
            );
        }
        for bad in ["Hello", "a--b", "-a", "a_b"] {
            assert_eq!(
                one_error(&ct, json!({ "code": bad })),
                ("fields.code".to_owned(), "invalid_uid"),
                "{bad}"
            );
        }
        let good = json!({
            "contact": "jo.smith+cms@example.co.uk",
            "website": "https://example.com:8443/a?b=c#d",
            "code": "hello-world-2",
            "slug": "",
        });
        let out = validate_fields(&ct, &obj(good), ValidateMode::Partial).expect("valid");
        assert_eq!(
            out["slug"],
            Value::Null,
            "empty generated uid is left for the service"
        );
        assert!(is_http_url("http://[::1]:8080/x"));
        assert!(!is_uid(&"a".repeat(201)));
    }

    #[test]
    fn relation_ids_are_checked_item_by_item() {
        let ct = article();
        let lower = ID1.to_ascii_lowercase();
        assert_eq!(
            one_error(
                &ct,
                json!({ "tags": [ID1, "01HZY7X3M2V6Q8R9S0T1A2B3C5", "nope"] })
            ),
            ("fields.tags[2]".to_owned(), "invalid_id")
        );
        assert_eq!(
            one_error(&ct, json!({ "tags": [ID1, lower] })),
            ("fields.tags[1]".to_owned(), "duplicate_item")
        );
        assert_eq!(
            one_error(&ct, json!({ "author": ID1.replace('0', "U") })),
            ("fields.author".to_owned(), "invalid_id")
        );
        // Overflowing first character: 26 valid letters, but not a 128-bit value.
        assert_eq!(
            one_error(&ct, json!({ "cover": "Z1HZY7X3M2V6Q8R9S0T1A2B3C4" })),
            ("fields.cover".to_owned(), "invalid_id")
        );
        assert_eq!(
            one_error(&ct, json!({ "author": [ID1] })),
            ("fields.author".to_owned(), "wrong_type")
        );
        let out = validate_fields(&ct, &obj(json!({ "author": lower })), ValidateMode::Partial)
            .expect("valid");
        assert_eq!(out["author"], json!(ID1), "ids come back canonical");
    }

    #[test]
    fn item_counts() {
        let ct = article();
        let ids: Vec<String> = (0..6u128)
            .map(|i| ulid::Ulid(0x0100_0000_0000_0000_0000_0000_0000 + i).to_string())
            .collect();
        assert_eq!(
            one_error(&ct, json!({ "tags": ids })),
            ("fields.tags".to_owned(), "too_many_items")
        );
        let few = ct_of(with(
            field(
                "tags",
                FieldType::Relation {
                    target: "tag".into(),
                    many: true,
                },
            ),
            |f| f.rules.min = Some(2.0),
        ));
        assert_eq!(
            one_error(&few, json!({ "tags": [ID1] })),
            ("fields.tags".to_owned(), "too_few_items")
        );
        // The hard cap holds even when the type sets no maximum.
        let many = ct_of(field(
            "m",
            FieldType::Media {
                many: true,
                accept: vec![],
            },
        ));
        let ids: Vec<String> = (0..1001u128).map(|i| ulid::Ulid(i).to_string()).collect();
        assert_eq!(
            one_error(&many, json!({ "m": ids })),
            ("fields.m".to_owned(), "too_many_items")
        );
        assert_eq!(
            one_error(
                &ct,
                json!({ "blocks": [{ "kind": "quote" }, { "kind": "quote" }, { "kind": "quote" }, { "kind": "quote" }] })
            ),
            ("fields.blocks".to_owned(), "too_many_items")
        );
    }

    #[test]
    fn nested_paths_in_groups_and_repeaters() {
        let ct = article();
        let errs = errors(validate_fields(
            &ct,
            &obj(json!({
                "seo": { "description": 5, "noidx": true },
                "blocks": [
                    { "kind": "quote", "heading": "short" },
                    { "kind": "text", "heading": "far too long a heading" },
                    { "heading": "ok" },
                    "not an object",
                ],
            })),
            ValidateMode::Partial,
        ));
        assert_eq!(
            errs,
            vec![
                ("fields.seo.noidx".to_owned(), "unknown_field"),
                ("fields.seo.description".to_owned(), "wrong_type"),
                ("fields.blocks".to_owned(), "too_many_items"),
                ("fields.blocks[1].heading".to_owned(), "too_long"),
                ("fields.blocks[2].kind".to_owned(), "required"),
                ("fields.blocks[3]".to_owned(), "wrong_type"),
            ]
        );
        // Missing group members are filled like a full create.
        let out =
            validate_fields(&ct, &obj(json!({ "seo": {} })), ValidateMode::Partial).expect("valid");
        assert_eq!(out["seo"], json!({ "description": null, "noindex": null }));
    }

    #[test]
    fn localized_values() {
        let ct = article();
        assert_eq!(
            one_error(&ct, json!({ "title": { "en": "Hello", "de": "Hallo" } })),
            ("fields.title.de".to_owned(), "invalid_locale")
        );
        // Required means the default locale; other locales may be missing.
        assert_eq!(
            one_error(&ct, json!({ "title": { "fr": "Salut" } })),
            ("fields.title.en".to_owned(), "required")
        );
        let out = full(&ct, minimal()).expect("valid");
        assert_eq!(out["title"], json!({ "en": "Hello" }));
        // A localized default fills the default locale.
        let with_default = ct_of(with(field("motto", FieldType::Text), |f| {
            f.localized = true;
            f.default = Some(json!("Hi"));
        }));
        let out = full(&with_default, json!({})).expect("valid");
        assert_eq!(out["motto"], json!({ "en": "Hi" }));
    }

    #[test]
    fn json_nesting_is_capped() {
        let ct = article();
        let mut deep = json!(1);
        for _ in 0..32 {
            deep = json!([deep]);
        }
        assert!(
            validate_fields(
                &ct,
                &obj(json!({ "extra": deep.clone() })),
                ValidateMode::Partial
            )
            .is_ok()
        );
        deep = json!({ "k": deep });
        assert_eq!(
            one_error(&ct, json!({ "extra": deep })),
            ("fields.extra".to_owned(), "too_large")
        );
    }

    #[test]
    fn defaults_are_checked_like_input() {
        let f = with(field("n", FieldType::Integer), |f| f.rules.max = Some(3.0));
        assert_eq!(check_default(&f, &json!(2)), Ok(json!(2)));
        let err = check_default(&f, &json!(9)).expect_err("too large");
        assert_eq!(err[0].code, "too_large");
        let d = field("d", FieldType::Datetime);
        assert_eq!(
            check_default(&d, &json!("2024-01-01T00:00:00+01:00")),
            Ok(json!("2023-12-31T23:00:00.000Z"))
        );
    }
}
