//! The strict reader of `content-types/*.toml`.
//!
//! It owns the file format: which keys exist, their defaults, and which rules apply to which
//! field types. Every problem becomes a [`LoadError`] carrying the file, the line and column of
//! the offending key or value, and a hint where one can be guessed. Every unknown key and every
//! problem of meaning in a file is reported, and [`load_dir`] collects errors across files, so
//! that one start-up lists (nearly) everything to fix; only a value of the wrong TOML type stops
//! a file early, because serde reads no further.
//!
//! Reading happens in three passes over one parse: a walk of the spanned TOML tree reports
//! (and removes) every unknown key with its context, serde then fills the raw structs below,
//! keeping spans, and `convert` checks meaning and builds the model.
//!
//! It must not know plugins (hook ids are checked for shape only; the caller checks that they
//! exist), storage, or entries beyond checking `default` values with the entry validator.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::validate::check_default;
use super::{
    Access, AdminSettings, ContentType, DeliverySettings, Field, FieldType, Hooks, Kind, Pattern,
    RESERVED_FIELD_NAMES, Rules, Schema, SearchSpec,
};

/// Groups and repeaters may hold groups and repeaters, this many levels deep in all.
const MAX_NESTING: usize = 3;

/// Entry metadata that `admin.list_columns` may show beside fields.
const META_COLUMNS: &[&str] = &["created_at", "updated_at", "published_at", "status"];

/// Field type names as written in files, in the order the documentation lists them.
const TYPE_NAMES: &[&str] = &[
    "text",
    "long_text",
    "markdown",
    "integer",
    "float",
    "boolean",
    "datetime",
    "date",
    "enum",
    "json",
    "uid",
    "email",
    "url",
    "relation",
    "media",
    "group",
    "repeater",
];

/// Names other systems use for our types; edit distance would not find these.
const TYPE_ALIASES: &[(&str, &str)] = &[
    ("string", "text"),
    ("str", "text"),
    ("textarea", "long_text"),
    ("richtext", "markdown"),
    ("rich_text", "markdown"),
    ("int", "integer"),
    ("number", "float"),
    ("decimal", "float"),
    ("double", "float"),
    ("bool", "boolean"),
    ("timestamp", "datetime"),
    ("time", "datetime"),
    ("select", "enum"),
    ("choice", "enum"),
    ("slug", "uid"),
    ("link", "url"),
    ("uri", "url"),
    ("reference", "relation"),
    ("ref", "relation"),
    ("image", "media"),
    ("file", "media"),
    ("asset", "media"),
    ("object", "group"),
    ("component", "group"),
    ("list", "repeater"),
    ("array", "repeater"),
];

/// The keys of a `search = { ... }` table (it is read as a plain value, not a struct).
const SEARCH_KEYS: &[&str] = &["boost"];

/// One problem in a content-type file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", render(.file, .line, .column, .message, .hint))]
pub struct LoadError {
    pub file: PathBuf,
    /// 1-based; `None` when the problem is the file as a whole (unreadable, say).
    pub line: Option<usize>,
    /// 1-based, in characters.
    pub column: Option<usize>,
    pub message: String,
    /// Shown on its own line after `hint:`, e.g. ``did you mean `required`?``.
    pub hint: Option<String>,
}

impl LoadError {
    fn whole_file(file: &Path, message: String) -> Self {
        Self {
            file: file.to_owned(),
            line: None,
            column: None,
            message,
            hint: None,
        }
    }
}

fn render(
    file: &Path,
    line: &Option<usize>,
    column: &Option<usize>,
    message: &str,
    hint: &Option<String>,
) -> String {
    let mut out = file.display().to_string();
    if let Some(line) = line {
        out.push_str(&format!(":{line}"));
        if let Some(column) = column {
            out.push_str(&format!(":{column}"));
        }
    }
    out.push_str(": ");
    out.push_str(message);
    if let Some(hint) = hint {
        out.push_str("\n  hint: ");
        out.push_str(hint);
    }
    out
}

/// Reads every `*.toml` file in `dir`, in file-name order, and checks them together: ids are
/// unique and every relation targets an existing type.
pub fn load_dir(dir: &Path) -> Result<Schema, Vec<LoadError>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        vec![LoadError::whole_file(
            dir,
            format!("cannot read the content-types directory: {e}"),
        )]
    })?;
    let mut errors = Vec::new();
    let mut paths = Vec::new();
    for entry in entries {
        match entry {
            // Hidden files are editor and OS litter (`.#article.toml`), never content types.
            Ok(entry)
                if entry.path().extension().is_some_and(|e| e == "toml")
                    && !entry.file_name().to_string_lossy().starts_with('.')
                    && entry.path().is_file() =>
            {
                paths.push(entry.path());
            }
            Ok(_) => {}
            Err(e) => errors.push(LoadError::whole_file(dir, format!("cannot list: {e}"))),
        }
    }
    paths.sort_by(|a, b| a.file_name().cmp(&b.file_name()));

    let mut loaded = Vec::with_capacity(paths.len());
    for path in &paths {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                errors.push(LoadError::whole_file(path, format!("cannot read: {e}")));
                continue;
            }
        };
        match load_file(path, &text) {
            Ok(file) => loaded.push(file),
            Err(file_errors) => errors.extend(file_errors),
        }
    }
    let all_loaded = errors.is_empty();

    let mut first_file: HashMap<&str, &Path> = HashMap::new();
    for file in &loaded {
        let id = file.ct.id.as_str();
        match first_file.get(id) {
            Some(first) => errors.push(LoadError {
                file: file.ct.source.clone(),
                line: Some(file.id_at.0),
                column: Some(file.id_at.1),
                message: format!(
                    "content type id `{id}` is already used by {}",
                    first.display()
                ),
                hint: Some("each file needs its own `id`".to_owned()),
            }),
            None => {
                first_file.insert(id, &file.ct.source);
            }
        }
    }
    // A target may live in a file that failed to load; reporting it missing would send the
    // reader after the wrong problem, so targets are checked once every file has loaded.
    if all_loaded {
        let ids: Vec<&str> = loaded.iter().map(|f| f.ct.id.as_str()).collect();
        for file in &loaded {
            for target in &file.targets {
                if ids.contains(&target.target.as_str()) {
                    continue;
                }
                let hint = match did_you_mean(&target.target, &ids) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => format!(
                        "no file in {} has `id = \"{}\"`; known types: {}",
                        dir.display(),
                        target.target,
                        ids.join(", ")
                    ),
                };
                errors.push(LoadError {
                    file: file.ct.source.clone(),
                    line: Some(target.at.0),
                    column: Some(target.at.1),
                    message: format!(
                        "relation `{}` targets `{}`, which is not a content type",
                        target.field, target.target
                    ),
                    hint: Some(hint),
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(Schema::new(loaded.into_iter().map(|f| f.ct).collect()))
    } else {
        Err(errors)
    }
}

/// Reads one content-type file; `path` is only used in messages and as `source`. Relation
/// targets are checked for shape only: whether they exist is [`load_dir`]'s business.
pub fn load_str(path: &Path, text: &str) -> Result<ContentType, Vec<LoadError>> {
    load_file(path, text).map(|file| file.ct)
}

/// A loaded file with what the cross-file checks need to point back into it.
struct LoadedFile {
    ct: ContentType,
    /// Line and column of the `id` value.
    id_at: (usize, usize),
    targets: Vec<TargetRef>,
}

struct TargetRef {
    /// Dotted field path, for messages.
    field: String,
    target: String,
    at: (usize, usize),
}

fn load_file(path: &Path, text: &str) -> Result<LoadedFile, Vec<LoadError>> {
    let mut cx = FileCx::new(path, text);
    let mut root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(e) => {
            cx.toml_error(&e);
            return Err(cx.errors);
        }
    };
    strip_unknown_keys(&mut cx, root.get_mut());
    let raw = match RawType::deserialize(toml::de::Deserializer::from(root)) {
        Ok(raw) => raw,
        Err(e) => {
            cx.toml_error(&e);
            cx.sort();
            return Err(cx.errors);
        }
    };
    let id_offset = raw.id.as_ref().map_or(0, |id| id.span().start);
    let ct = convert(&mut cx, raw);
    if cx.errors.is_empty() {
        Ok(LoadedFile {
            ct,
            id_at: cx.position(id_offset),
            targets: cx.targets,
        })
    } else {
        cx.sort();
        Err(cx.errors)
    }
}

/// Per-file state: where errors go and how byte offsets become lines.
struct FileCx<'a> {
    file: &'a Path,
    text: &'a str,
    line_starts: Vec<usize>,
    errors: Vec<LoadError>,
    targets: Vec<TargetRef>,
}

impl<'a> FileCx<'a> {
    fn new(file: &'a Path, text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            file,
            text,
            line_starts,
            errors: Vec::new(),
            targets: Vec::new(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        (line, self.text[start..offset].chars().count() + 1)
    }

    fn line(&self, span: &Range<usize>) -> usize {
        self.position(span.start).0
    }

    fn push(&mut self, span: Range<usize>, message: String, hint: Option<String>) {
        let (line, column) = self.position(span.start);
        self.errors.push(LoadError {
            file: self.file.to_owned(),
            line: Some(line),
            column: Some(column),
            message: cut_quotes(&message),
            hint: hint.map(|h| cut_quotes(&h)),
        });
    }

    /// Refuses a display text (a name, a label, a description) longer than `max` characters.
    fn check_length(&mut self, text: &S<String>, what: &str, max: usize) {
        let chars = text.get_ref().chars().count();
        if chars > max {
            self.error_hint(
                text.span(),
                format!("{what} is {chars} characters long"),
                format!("keep it to {max} characters at most"),
            );
        }
    }

    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.push(span, message.into(), None);
    }

    fn error_hint(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.push(span, message.into(), Some(hint.into()));
    }

    fn toml_error(&mut self, e: &toml::de::Error) {
        let message = e.message().trim_end().to_owned();
        match e.span() {
            Some(span) => self.push(span, message, None),
            None => self.errors.push(LoadError {
                file: self.file.to_owned(),
                line: None,
                column: None,
                message,
                hint: None,
            }),
        }
    }

    fn sort(&mut self) {
        self.errors.sort_by_key(|e| (e.line, e.column));
    }
}

// ---------------------------------------------------------------------------------------------
// Pass 1: unknown keys.

/// Reports every key the raw structs do not declare, with where it was found and a
/// did-you-mean, and removes it so that serde's `deny_unknown_fields` (kept as a safety net)
/// does not stop at the first one and hide the value errors behind it.
fn strip_unknown_keys(cx: &mut FileCx, root: &mut DeTable) {
    strip_table(cx, root, keys_of::<RawType>(), "at the top level");
    let sections = [
        ("admin", keys_of::<RawAdmin>()),
        ("access", keys_of::<RawAccess>()),
        ("delivery", keys_of::<RawDelivery>()),
        ("hooks", keys_of::<RawHooks>()),
    ];
    for (section, keys) in sections {
        if let Some(value) = root.get_mut(section)
            && let DeValue::Table(table) = value.get_mut()
        {
            strip_table(cx, table, keys, &format!("in `[{section}]`"));
        }
    }
    if let Some(fields) = root.get_mut("fields") {
        strip_fields(cx, fields.get_mut(), "");
    }
}

fn strip_fields(cx: &mut FileCx, fields: &mut DeValue, parent: &str) {
    let DeValue::Array(items) = fields else {
        return;
    };
    for (i, item) in items.iter_mut().enumerate() {
        let DeValue::Table(table) = item.get_mut() else {
            continue;
        };
        let name = table
            .get("name")
            .and_then(|n| n.get_ref().as_str())
            .map(|n| qualify(parent, n));
        let what = field_label(name.as_deref(), parent, i);
        strip_table(cx, table, keys_of::<RawField>(), &format!("in {what}"));
        if let Some(search) = table.get_mut("search")
            && let DeValue::Table(search) = search.get_mut()
        {
            strip_table(cx, search, SEARCH_KEYS, &format!("in `search` of {what}"));
        }
        if let Some(sub) = table.get_mut("fields") {
            let parent = name.unwrap_or_else(|| qualify(parent, &format!("#{}", i + 1)));
            strip_fields(cx, sub.get_mut(), &parent);
        }
    }
}

fn strip_table(cx: &mut FileCx, table: &mut DeTable, allowed: &[&str], context: &str) {
    let unknown: Vec<(String, Range<usize>)> = table
        .iter()
        .filter(|(key, _)| !allowed.contains(&key.get_ref().as_ref()))
        .map(|(key, _)| (key.get_ref().to_string(), key.span()))
        .collect();
    for (key, span) in &unknown {
        let hint = match did_you_mean(key, allowed) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!("known keys here: {}", allowed.join(", ")),
        };
        cx.error_hint(span.clone(), format!("unknown key `{key}` {context}"), hint);
    }
    for (key, _) in &unknown {
        table.remove(key.as_str());
    }
}

/// The keys a raw struct accepts, read from its derived `Deserialize`, so that the
/// unknown-key pass and serde cannot disagree.
fn keys_of<T: DeserializeOwned>() -> &'static [&'static str] {
    match T::deserialize(KeyProbe) {
        Err(ProbedKeys(keys)) => keys,
        Ok(_) => &[],
    }
}

/// A deserializer that only records the field list a struct asks for.
struct KeyProbe;

#[derive(Debug)]
struct ProbedKeys(&'static [&'static str]);

impl fmt::Display for ProbedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("key probe")
    }
}

impl std::error::Error for ProbedKeys {}

impl serde::de::Error for ProbedKeys {
    fn custom<T: fmt::Display>(_: T) -> Self {
        ProbedKeys(&[])
    }
}

impl<'de> serde::Deserializer<'de> for KeyProbe {
    type Error = ProbedKeys;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, ProbedKeys> {
        Err(ProbedKeys(&[]))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, ProbedKeys> {
        Err(ProbedKeys(fields))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

// ---------------------------------------------------------------------------------------------
// Pass 2: the raw file, as written. Everything is optional so that a missing key becomes our
// message with a hint rather than serde's.

type S<T> = Spanned<T>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawType {
    id: Option<S<String>>,
    kind: Option<S<String>>,
    name: Option<S<String>>,
    description: Option<S<String>>,
    drafts: Option<S<bool>>,
    locales: Option<S<Vec<S<String>>>>,
    search: Option<S<bool>>,
    admin: Option<RawAdmin>,
    access: Option<RawAccess>,
    delivery: Option<RawDelivery>,
    fields: Option<S<Vec<S<RawField>>>>,
    hooks: Option<RawHooks>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    title_field: Option<S<String>>,
    #[serde(default)]
    list_columns: Vec<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccess {
    #[serde(default)]
    read: Vec<S<String>>,
    #[serde(default)]
    create: Vec<S<String>>,
    #[serde(default)]
    update: Vec<S<String>>,
    #[serde(default)]
    delete: Vec<S<String>>,
    #[serde(default)]
    publish: Vec<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelivery {
    cache_control: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHooks {
    #[serde(default)]
    before_save: Vec<S<String>>,
    #[serde(default)]
    after_save: Vec<S<String>>,
    #[serde(default)]
    after_publish: Vec<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    name: Option<S<String>>,
    #[serde(rename = "type")]
    ty: Option<S<String>>,
    label: Option<S<String>>,
    description: Option<S<String>>,
    required: Option<S<bool>>,
    unique: Option<S<bool>>,
    min: Option<S<f64>>,
    max: Option<S<f64>>,
    min_length: Option<S<usize>>,
    max_length: Option<S<usize>>,
    pattern: Option<S<String>>,
    default: Option<S<toml::Value>>,
    private: Option<S<bool>>,
    localized: Option<S<bool>>,
    renamed_from: Option<S<String>>,
    /// `true`/`false` or `{ boost = 3.0 }`; read as a value to give our own message.
    search: Option<S<toml::Value>>,
    values: Option<S<Vec<S<String>>>>,
    from: Option<S<String>>,
    target: Option<S<String>>,
    many: Option<S<bool>>,
    accept: Option<S<Vec<S<String>>>>,
    fields: Option<S<Vec<S<RawField>>>>,
}

// ---------------------------------------------------------------------------------------------
// Pass 3: meaning.

/// What a field's checks need to know about the type around it.
struct TypeCx {
    has_locales: bool,
    search: bool,
}

fn flag(value: &Option<S<bool>>) -> bool {
    value.as_ref().is_some_and(|v| *v.get_ref())
}

fn convert(cx: &mut FileCx, raw: RawType) -> ContentType {
    let id = match &raw.id {
        Some(id) => {
            let value = id.get_ref();
            if !is_type_id(value) {
                let hint = suggest_type_id(value).map_or_else(
                    || {
                        "an id is 1 to 63 lowercase letters, digits and hyphens, starting \
                         with a letter, like `blog-post`"
                            .to_owned()
                    },
                    |s| format!("did you mean `{s}`?"),
                );
                cx.error_hint(id.span(), format!("invalid id `{value}`"), hint);
            } else if value == "media" {
                cx.error_hint(
                    id.span(),
                    "the id `media` is reserved",
                    "the media library is built in, and roles name it `media` in their \
                     permissions; pick another id, like `asset`",
                );
            }
            value.clone()
        }
        None => {
            let stem = cx
                .file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .filter(|s| is_type_id(s))
                .unwrap_or_else(|| "article".to_owned());
            cx.error_hint(
                0..0,
                "missing `id`",
                format!("add `id = \"{stem}\"` at the top (the type's API name)"),
            );
            String::new()
        }
    };

    let kind = match &raw.kind {
        None => Kind::Collection,
        Some(k) => match k.get_ref().as_str() {
            "collection" => Kind::Collection,
            "single" => Kind::Single,
            other => {
                let hint = did_you_mean(other, &["collection", "single"]).map_or_else(
                    || "`collection` (many entries) or `single` (exactly one)".to_owned(),
                    |s| format!("did you mean `{s}`?"),
                );
                cx.error_hint(k.span(), format!("unknown kind `{other}`"), hint);
                Kind::Collection
            }
        },
    };

    let locales = raw
        .locales
        .as_ref()
        .map_or_else(Vec::new, |l| locales(cx, l));
    let tcx = TypeCx {
        has_locales: !locales.is_empty(),
        search: flag(&raw.search),
    };

    let empty = Vec::new();
    let raw_fields = raw.fields.as_ref().map_or(&empty, |f| f.get_ref());
    let fields = convert_fields(cx, &tcx, raw_fields, "", 0);
    check_uid_sources(cx, raw_fields);

    let admin = raw
        .admin
        .as_ref()
        .map(|a| admin(cx, a, raw_fields))
        .unwrap_or_default();
    let access = raw
        .access
        .as_ref()
        .map(|a| access(cx, a))
        .unwrap_or_default();
    let hooks = raw.hooks.as_ref().map(|h| hooks(cx, h)).unwrap_or_default();
    let delivery = DeliverySettings {
        cache_control: raw
            .delivery
            .as_ref()
            .and_then(|d| d.cache_control.as_ref())
            .map(|c| {
                let value = c.get_ref();
                // It goes out verbatim as a header: a newline would split the response.
                if value.trim().is_empty()
                    || !value.chars().all(|ch| ch == ' ' || ch.is_ascii_graphic())
                {
                    cx.error_hint(
                        c.span(),
                        "`cache_control` is not a valid Cache-Control header value",
                        "something like \"public, max-age=60\"",
                    );
                }
                value.clone()
            }),
    };

    if let Some(name) = &raw.name {
        cx.check_length(name, "the type's `name`", MAX_NAME_CHARS);
    }
    if let Some(description) = &raw.description {
        cx.check_length(
            description,
            "the type's `description`",
            MAX_DESCRIPTION_CHARS,
        );
    }
    ContentType {
        name: raw
            .name
            .as_ref()
            .map_or_else(|| humanise(&id), |n| n.get_ref().clone()),
        id,
        kind,
        description: raw.description.as_ref().map(|d| d.get_ref().clone()),
        drafts: flag(&raw.drafts),
        locales,
        search: tcx.search,
        admin,
        access,
        delivery,
        fields,
        hooks,
        source: cx.file.to_owned(),
    }
}

fn locales(cx: &mut FileCx, raw: &S<Vec<S<String>>>) -> Vec<String> {
    if raw.get_ref().is_empty() {
        cx.error_hint(
            raw.span(),
            "`locales` is empty",
            "list at least one locale (the first is the default), or remove `locales`",
        );
    }
    let mut out: Vec<String> = Vec::new();
    for locale in raw.get_ref() {
        let value = locale.get_ref();
        if !is_locale(value) {
            cx.error_hint(
                locale.span(),
                format!("invalid locale `{value}`"),
                "locale codes look like `en`, `fr`, `pt-BR` or `zh-Hant`",
            );
        } else if out.contains(value) {
            cx.error(locale.span(), format!("locale `{value}` is listed twice"));
        }
        out.push(value.clone());
    }
    out
}

fn convert_fields(
    cx: &mut FileCx,
    tcx: &TypeCx,
    raws: &[S<RawField>],
    parent: &str,
    depth: usize,
) -> Vec<Field> {
    let mut first_line: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::with_capacity(raws.len());
    for (i, raw) in raws.iter().enumerate() {
        if let Some(name) = &raw.get_ref().name {
            let line = cx.line(&name.span());
            match first_line.get(name.get_ref().as_str()) {
                Some(first) => cx.error_hint(
                    name.span(),
                    format!(
                        "duplicate field name `{}` (first declared on line {first})",
                        qualify(parent, name.get_ref())
                    ),
                    "field names are unique within a type, group or repeater; \
                     rename one of them",
                ),
                None => {
                    first_line.insert(name.get_ref(), line);
                }
            }
        }
        if let Some(field) = convert_field(cx, tcx, raw, parent, depth, i) {
            out.push(field);
        }
    }
    // Data moves from `renamed_from` to the field at start-up: the old name must be gone.
    for raw in raws {
        let raw = raw.get_ref();
        if let (Some(old), Some(name)) = (&raw.renamed_from, &raw.name)
            && old.get_ref() != name.get_ref()
            && let Some(line) = first_line.get(old.get_ref().as_str())
        {
            cx.error_hint(
                old.span(),
                format!(
                    "`renamed_from = \"{}\"` names a field that still exists (line {line})",
                    old.get_ref()
                ),
                "remove the old field, or drop `renamed_from`",
            );
        }
    }
    out
}

fn convert_field(
    cx: &mut FileCx,
    tcx: &TypeCx,
    raw: &S<RawField>,
    parent: &str,
    depth: usize,
    index: usize,
) -> Option<Field> {
    let r = raw.get_ref();
    let header = raw.span();
    let path = r.name.as_ref().map(|n| qualify(parent, n.get_ref()));
    let what = field_label(path.as_deref(), parent, index);

    match &r.name {
        None => cx.error_hint(
            header.clone(),
            format!("{what} has no `name`"),
            "add `name = \"...\"`: lowercase letters, digits and `_`",
        ),
        Some(name) => check_field_name(cx, name),
    }
    let Some(ty_raw) = &r.ty else {
        cx.error_hint(
            header,
            format!("{what} has no `type`"),
            format!(
                "add `type = \"text\"` or another of: {}",
                TYPE_NAMES.join(", ")
            ),
        );
        return None;
    };
    let Some(mut ty) = blank_type(ty_raw.get_ref()) else {
        let given = ty_raw.get_ref();
        let close = TYPE_ALIASES
            .iter()
            .find(|(alias, _)| alias.eq_ignore_ascii_case(given))
            .map(|(_, ty)| *ty)
            .or_else(|| did_you_mean(given, TYPE_NAMES))
            .or_else(|| {
                // A typo of another system's name (`strng`) still deserves our name.
                let aliases: Vec<&str> = TYPE_ALIASES.iter().map(|(alias, _)| *alias).collect();
                let alias = did_you_mean(given, &aliases)?;
                TYPE_ALIASES
                    .iter()
                    .find(|(a, _)| *a == alias)
                    .map(|(_, ty)| *ty)
            });
        let valid = format!("valid types: {}", TYPE_NAMES.join(", "));
        let hint = match close {
            Some(close) => format!("did you mean `{close}`? {valid}"),
            None => valid,
        };
        cx.error_hint(
            ty_raw.span(),
            format!("unknown field type `{given}` for {what}"),
            hint,
        );
        return None;
    };
    let f = FieldCx {
        what,
        path,
        parent,
        depth,
        tname: ty.name(),
        type_span: ty_raw.span(),
    };
    type_parts(cx, tcx, r, &mut ty, &f);
    let what = &f.what;

    let localized = flag(&r.localized);
    if let Some(l) = r.localized.as_ref().filter(|_| localized) {
        if !tcx.has_locales {
            cx.error_hint(
                l.span(),
                format!("{what} is `localized` but the type has no `locales`"),
                "add `locales = [\"en\", \"fr\"]` at the top, or drop `localized`",
            );
        } else if depth > 0 {
            cx.error_hint(
                l.span(),
                format!("{what} is inside a group or repeater and cannot be `localized`"),
                "mark the top-level field that holds it `localized` instead",
            );
        }
    }

    let rules = rules(cx, r, &ty, &f, localized);

    let search = r.search.as_ref().and_then(|s| search_spec(cx, s, what));
    if let (Some(s), Some(_)) = (&r.search, search) {
        if !matches!(
            ty,
            FieldType::Text | FieldType::LongText | FieldType::Markdown
        ) {
            f.not_applicable(
                cx,
                s.span(),
                "search",
                "full-text search indexes text, long_text and markdown fields",
            );
        } else if !tcx.search {
            cx.error_hint(
                s.span(),
                format!("{what} has `search` but the type is not indexed"),
                "set `search = true` at the top",
            );
        }
    }

    if let Some(old) = &r.renamed_from {
        let value = old.get_ref();
        if !is_field_name(value) {
            cx.error_hint(
                old.span(),
                format!("`renamed_from` of {what} is not a valid field name: `{value}`"),
                "field names are lowercase letters, digits and `_`, starting with a letter",
            );
        } else if r.name.as_ref().is_some_and(|n| n.get_ref() == value) {
            cx.error_hint(
                old.span(),
                format!("`renamed_from` of {what} is its current name"),
                "drop `renamed_from` once the rename has been applied",
            );
        }
    }

    if let Some(label) = &r.label {
        cx.check_length(label, &format!("`label` of {what}"), MAX_NAME_CHARS);
    }
    if let Some(description) = &r.description {
        cx.check_length(
            description,
            &format!("`description` of {what}"),
            MAX_DESCRIPTION_CHARS,
        );
    }
    let mut field = Field {
        name: r
            .name
            .as_ref()
            .map(|n| n.get_ref().clone())
            .unwrap_or_default(),
        label: r.label.as_ref().map(|l| l.get_ref().clone()),
        description: r.description.as_ref().map(|d| d.get_ref().clone()),
        ty,
        rules,
        private: flag(&r.private),
        localized,
        default: None,
        renamed_from: r.renamed_from.as_ref().map(|o| o.get_ref().clone()),
        search,
    };
    if let Some(d) = &r.default {
        field.default = default_value(cx, &field, d, what);
    }
    r.name.is_some().then_some(field)
}

/// How the checks of one field name it in messages, and where it sits.
struct FieldCx<'a> {
    /// ``field `seo.title` ``, or `field #3` when it has no name.
    what: String,
    /// Dotted path of the field, when it has a name.
    path: Option<String>,
    parent: &'a str,
    /// Number of groups and repeaters around the field.
    depth: usize,
    tname: &'static str,
    type_span: Range<usize>,
}

impl FieldCx<'_> {
    fn not_applicable(&self, cx: &mut FileCx, span: Range<usize>, key: &str, hint: &str) {
        cx.error_hint(
            span,
            format!(
                "`{key}` does not apply to {} of type `{}`",
                self.what, self.tname
            ),
            hint,
        );
    }
}

/// Fills the parts of `ty` that come from type-specific keys, refusing those keys elsewhere.
fn type_parts(cx: &mut FileCx, tcx: &TypeCx, r: &RawField, ty: &mut FieldType, f: &FieldCx) {
    let (what, depth, type_span) = (&f.what, f.depth, &f.type_span);
    match (&mut *ty, &r.values) {
        (FieldType::Enum { values }, Some(raw_values)) => {
            *values = enum_values(cx, raw_values, what);
        }
        (FieldType::Enum { .. }, None) => cx.error_hint(
            type_span.clone(),
            format!("{what} is an enum without `values`"),
            "add `values = [\"draft\", \"final\"]`",
        ),
        (_, Some(v)) => {
            f.not_applicable(cx, v.span(), "values", "`values` lists an enum's choices")
        }
        _ => {}
    }
    match (&mut *ty, &r.from) {
        (FieldType::Uid { .. }, Some(source)) if depth > 0 => cx.error_hint(
            source.span(),
            format!("`from` on {what}: only top-level uid fields are generated"),
            "move the uid to the top level, or drop `from`",
        ),
        // Whether it names a text field is checked once all top-level fields are known.
        (FieldType::Uid { from }, Some(source)) => *from = Some(source.get_ref().clone()),
        (_, Some(source)) => f.not_applicable(
            cx,
            source.span(),
            "from",
            "`from` names the field a `uid` is generated from",
        ),
        _ => {}
    }
    match (&mut *ty, &r.target) {
        (FieldType::Relation { target, .. }, Some(t)) => {
            if is_type_id(t.get_ref()) {
                let at = cx.position(t.span().start);
                cx.targets.push(TargetRef {
                    field: f.path.clone().unwrap_or_default(),
                    target: t.get_ref().clone(),
                    at,
                });
            } else {
                cx.error_hint(
                    t.span(),
                    format!("invalid `target` `{}`", t.get_ref()),
                    "`target` is the `id` of another content type, like `author`",
                );
            }
            target.clone_from(t.get_ref());
        }
        (FieldType::Relation { .. }, None) => cx.error_hint(
            type_span.clone(),
            format!("{what} is a relation without `target`"),
            "add `target = \"author\"` (the id of the related content type)",
        ),
        (_, Some(t)) => f.not_applicable(
            cx,
            t.span(),
            "target",
            "`target` names the type a `relation` points to",
        ),
        _ => {}
    }
    match (&mut *ty, &r.many) {
        (FieldType::Relation { many, .. } | FieldType::Media { many, .. }, Some(m)) => {
            *many = *m.get_ref();
        }
        (_, Some(m)) => f.not_applicable(
            cx,
            m.span(),
            "many",
            "`many` applies to relation and media fields; use a repeater for a list of values",
        ),
        _ => {}
    }
    match (&mut *ty, &r.accept) {
        (FieldType::Media { accept, .. }, Some(a)) => *accept = mime_patterns(cx, a),
        (_, Some(a)) => {
            f.not_applicable(cx, a.span(), "accept", "`accept` applies to media fields")
        }
        _ => {}
    }
    match (&mut *ty, &r.fields) {
        (FieldType::Group { fields } | FieldType::Repeater { fields }, Some(sub)) => {
            if depth >= MAX_NESTING {
                cx.error_hint(
                    type_span.clone(),
                    format!("{what} nests groups and repeaters more than {MAX_NESTING} deep"),
                    "flatten the structure, or use a `json` field",
                );
            } else if sub.get_ref().is_empty() {
                cx.error(sub.span(), format!("{what} has an empty `fields` list"));
            } else {
                let parent = f.path.clone().unwrap_or_else(|| qualify(f.parent, "?"));
                *fields = convert_fields(cx, tcx, sub.get_ref(), &parent, depth + 1);
            }
        }
        (FieldType::Group { .. } | FieldType::Repeater { .. }, None) => cx.error_hint(
            type_span.clone(),
            format!("{what} has no member fields"),
            "declare them in `[[fields.fields]]` tables right after this field",
        ),
        (_, Some(sub)) => f.not_applicable(
            cx,
            sub.span(),
            "fields",
            "member fields belong to a `group` or `repeater`",
        ),
        _ => {}
    }
}

/// The validation rules of a field, each refused (with a hint) where it does not apply.
fn rules(cx: &mut FileCx, r: &RawField, ty: &FieldType, f: &FieldCx, localized: bool) -> Rules {
    let (what, depth) = (&f.what, f.depth);
    let string_like = matches!(
        ty,
        FieldType::Text
            | FieldType::LongText
            | FieldType::Markdown
            | FieldType::Uid { .. }
            | FieldType::Email
            | FieldType::Url
    );
    let counted = matches!(
        ty,
        FieldType::Relation { many: true, .. }
            | FieldType::Media { many: true, .. }
            | FieldType::Repeater { .. }
    );
    let numeric = matches!(ty, FieldType::Integer | FieldType::Float);

    let mut rules = Rules {
        required: flag(&r.required),
        ..Rules::default()
    };
    let length_hint = if numeric {
        "length and pattern rules apply to text-like fields; use `min`/`max` for numbers"
    } else if counted {
        "length and pattern rules apply to text-like fields; use `min`/`max` to bound the \
         number of items"
    } else {
        "length and pattern rules apply to text, long_text, markdown, uid, email and url fields"
    };
    for (key, value, slot) in [
        ("min_length", &r.min_length, &mut rules.min_length),
        ("max_length", &r.max_length, &mut rules.max_length),
    ] {
        if let Some(v) = value {
            if string_like {
                *slot = Some(*v.get_ref());
            } else {
                f.not_applicable(cx, v.span(), key, length_hint);
            }
        }
    }
    if let Some(max) = r
        .max_length
        .as_ref()
        .filter(|m| *m.get_ref() == 0 && string_like)
    {
        cx.error(
            max.span(),
            format!("`max_length` of {what} must be at least 1"),
        );
    }
    if let (Some(min), Some(max)) = (&r.min_length, rules.max_length)
        && let Some(min_value) = rules.min_length
        && min_value > max
    {
        cx.error(
            min.span(),
            format!("`min_length` ({min_value}) is greater than `max_length` ({max})"),
        );
    }
    if let Some(p) = &r.pattern {
        if string_like {
            match regex::Regex::new(p.get_ref()) {
                Ok(regex) => {
                    rules.pattern = Some(Pattern {
                        source: p.get_ref().clone(),
                        regex,
                    });
                }
                Err(e) => cx.error_hint(
                    p.span(),
                    format!("invalid `pattern` of {what}: {e}"),
                    "patterns use the syntax of the Rust `regex` crate (no look-around)",
                ),
            }
        } else {
            f.not_applicable(cx, p.span(), "pattern", length_hint);
        }
    }

    let bound_hint = match ty {
        FieldType::Relation { many: false, .. } | FieldType::Media { many: false, .. } => {
            "set `many = true` to bound the number of items"
        }
        _ if string_like => "use `min_length`/`max_length` for text",
        _ => {
            "`min`/`max` apply to integer and float values, and to the item count of many \
             relations, many media and repeaters"
        }
    };
    for (key, value, slot) in [
        ("min", &r.min, &mut rules.min),
        ("max", &r.max, &mut rules.max),
    ] {
        let Some(v) = value else { continue };
        let n = *v.get_ref();
        if !(numeric || counted) {
            f.not_applicable(cx, v.span(), key, bound_hint);
        } else if !n.is_finite() {
            cx.error(
                v.span(),
                format!("`{key}` of {what} must be a finite number"),
            );
        } else if counted && (n < 0.0 || n.fract() != 0.0) {
            cx.error(
                v.span(),
                format!("`{key}` of {what} counts items: it must be a whole number, 0 or more"),
            );
        } else if matches!(ty, FieldType::Integer) && n.fract() != 0.0 {
            cx.error(
                v.span(),
                format!("`{key}` of {what} must be a whole number, like the field"),
            );
        } else {
            *slot = Some(n);
        }
    }
    if let (Some(min), Some(min_value), Some(max_value)) = (&r.min, rules.min, rules.max)
        && min_value > max_value
    {
        cx.error(
            min.span(),
            format!("`min` ({min_value}) is greater than `max` ({max_value})"),
        );
    }

    if let Some(u) = r.unique.as_ref().filter(|u| *u.get_ref()) {
        let unique_type = matches!(
            ty,
            FieldType::Text
                | FieldType::Uid { .. }
                | FieldType::Email
                | FieldType::Url
                | FieldType::Integer
                | FieldType::Float
                | FieldType::Date
                | FieldType::Datetime
                | FieldType::Enum { .. }
        );
        if !unique_type {
            f.not_applicable(
                cx,
                u.span(),
                "unique",
                "`unique` applies to text, uid, email, url, integer, float, date, datetime \
                 and enum fields",
            );
        } else if depth > 0 {
            cx.error_hint(
                u.span(),
                format!("{what} is inside a group or repeater and cannot be `unique`"),
                "only top-level fields can be unique",
            );
        } else if localized {
            cx.error_hint(
                u.span(),
                format!("{what} is `localized` and cannot be `unique`"),
                "drop `unique`, or make the field not localized",
            );
        } else {
            rules.unique = true;
        }
    }

    rules
}

fn check_field_name(cx: &mut FileCx, name: &S<String>) {
    let value = name.get_ref();
    if RESERVED_FIELD_NAMES.contains(&value.as_str()) {
        cx.error_hint(
            name.span(),
            format!("field name `{value}` is reserved"),
            format!(
                "entry metadata uses {}; choose another name, like `{value}_value`",
                RESERVED_FIELD_NAMES.join(", ")
            ),
        );
    } else if !is_field_name(value) {
        let suggestion = value.to_lowercase().replace(['-', ' '], "_");
        let hint = if is_field_name(&suggestion) && !RESERVED_FIELD_NAMES.contains(&&*suggestion) {
            format!("did you mean `{suggestion}`?")
        } else {
            "field names are 1 to 63 lowercase letters, digits and `_`, starting with a letter"
                .to_owned()
        };
        cx.error_hint(name.span(), format!("invalid field name `{value}`"), hint);
    }
}

fn enum_values(cx: &mut FileCx, raw: &S<Vec<S<String>>>, what: &str) -> Vec<String> {
    if raw.get_ref().is_empty() {
        cx.error_hint(
            raw.span(),
            format!("{what} has an empty `values` list"),
            "an enum needs at least one value",
        );
    }
    let mut out: Vec<String> = Vec::new();
    for value in raw.get_ref() {
        let v = value.get_ref();
        if v.is_empty() {
            cx.error(
                value.span(),
                format!("{what} has an empty string in `values`"),
            );
        } else if out.contains(v) {
            cx.error(
                value.span(),
                format!("`{v}` is listed twice in `values` of {what}"),
            );
        }
        out.push(v.clone());
    }
    out
}

fn mime_patterns(cx: &mut FileCx, raw: &S<Vec<S<String>>>) -> Vec<String> {
    let token = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
    };
    raw.get_ref()
        .iter()
        .map(|p| {
            let value = p.get_ref();
            let ok = value.split_once('/').is_some_and(|(kind, sub)| {
                (token(kind) && (sub == "*" || token(sub))) || (kind == "*" && sub == "*")
            });
            if !ok {
                cx.error_hint(
                    p.span(),
                    format!("invalid MIME pattern `{value}` in `accept`"),
                    "patterns look like `image/*` or `application/pdf`",
                );
            }
            value.to_ascii_lowercase()
        })
        .collect()
}

fn search_spec(cx: &mut FileCx, raw: &S<toml::Value>, what: &str) -> Option<SearchSpec> {
    match raw.get_ref() {
        toml::Value::Boolean(false) => None,
        toml::Value::Boolean(true) => Some(SearchSpec::default()),
        toml::Value::Table(table) => {
            let boost = match table.get("boost") {
                None => return Some(SearchSpec::default()),
                Some(toml::Value::Float(f)) => *f,
                #[expect(
                    clippy::cast_precision_loss,
                    reason = "a boost is a small number; precision is moot"
                )]
                Some(toml::Value::Integer(i)) => *i as f64,
                Some(_) => f64::NAN,
            };
            if boost.is_finite() && boost > 0.0 && boost <= 1000.0 {
                #[expect(
                    clippy::cast_possible_truncation,
                    reason = "bounded to (0, 1000] above"
                )]
                let boost = boost as f32;
                Some(SearchSpec { boost })
            } else {
                cx.error_hint(
                    raw.span(),
                    format!("the `boost` of {what} must be a number above 0 (at most 1000)"),
                    "like `search = { boost = 2.0 }`",
                );
                None
            }
        }
        _ => {
            cx.error_hint(
                raw.span(),
                format!("`search` of {what} must be `true`, `false` or a table"),
                "like `search = true` or `search = { boost = 2.0 }`",
            );
            None
        }
    }
}

fn default_value(
    cx: &mut FileCx,
    field: &Field,
    raw: &S<toml::Value>,
    what: &str,
) -> Option<serde_json::Value> {
    let not_supported = match field.ty {
        FieldType::Relation { .. } | FieldType::Media { .. } => {
            Some("related entries and media are chosen per entry; drop `default`")
        }
        FieldType::Uid { .. } => Some("a uid is unique per entry; use `from` to generate it"),
        _ => None,
    };
    if let Some(hint) = not_supported {
        cx.error_hint(
            raw.span(),
            format!(
                "`default` does not apply to {what} of type `{}`",
                field.ty.name()
            ),
            hint,
        );
        return None;
    }
    let json = match toml_to_json(raw.get_ref()) {
        Ok(json) => json,
        Err(message) => {
            cx.error(raw.span(), format!("`default` of {what}: {message}"));
            return None;
        }
    };
    match check_default(field, &json) {
        Ok(normalised) => Some(normalised),
        Err(errors) => {
            for e in errors {
                // `default` itself, or a member of a group/repeater default.
                let place = e.path.strip_prefix("default").unwrap_or(&e.path);
                cx.error_hint(
                    raw.span(),
                    format!(
                        "`default{place}` of {what} is not a valid `{}` value: {}",
                        field.ty.name(),
                        e.message
                    ),
                    "the default must pass the field's own rules",
                );
            }
            None
        }
    }
}

fn toml_to_json(value: &toml::Value) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    Ok(match value {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .ok_or_else(|| "a default cannot be nan or infinite".to_owned())?,
        toml::Value::Boolean(b) => J::Bool(*b),
        // TOML dates and times are accepted and checked as the strings JSON would carry.
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(items) => {
            J::Array(items.iter().map(toml_to_json).collect::<Result<_, _>>()?)
        }
        toml::Value::Table(table) => J::Object(
            table
                .iter()
                .map(|(k, v)| Ok((k.clone(), toml_to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// A top-level uid's `from` must name a top-level text or long_text field.
fn check_uid_sources(cx: &mut FileCx, raws: &[S<RawField>]) {
    let top: Vec<(&str, Option<&str>)> = raws
        .iter()
        .filter_map(|r| {
            let r = r.get_ref();
            let name = r.name.as_ref()?.get_ref().as_str();
            Some((name, r.ty.as_ref().map(|t| t.get_ref().as_str())))
        })
        .collect();
    let texts: Vec<&str> = top
        .iter()
        .filter(|(_, ty)| matches!(ty, Some("text" | "long_text")))
        .map(|(name, _)| *name)
        .collect();
    for raw in raws {
        let r = raw.get_ref();
        let (Some(from), Some("uid")) = (&r.from, r.ty.as_ref().map(|t| t.get_ref().as_str()))
        else {
            continue;
        };
        let source = from.get_ref().as_str();
        match top.iter().find(|(name, _)| *name == source) {
            Some((_, Some("text" | "long_text"))) => {}
            Some((_, ty)) => cx.error_hint(
                from.span(),
                format!(
                    "`from = \"{source}\"` names a field of type `{}`; a uid is generated from text",
                    ty.unwrap_or("untyped")
                ),
                hint_among("name a text or long_text field", source, &texts),
            ),
            None => cx.error_hint(
                from.span(),
                format!("`from = \"{source}\"` names no top-level field of this type"),
                hint_among("name a text or long_text field", source, &texts),
            ),
        }
    }
}

fn admin(cx: &mut FileCx, raw: &RawAdmin, raws: &[S<RawField>]) -> AdminSettings {
    let top: Vec<(&str, Option<&str>)> = raws
        .iter()
        .filter_map(|r| {
            let r = r.get_ref();
            Some((
                r.name.as_ref()?.get_ref().as_str(),
                r.ty.as_ref().map(|t| t.get_ref().as_str()),
            ))
        })
        .collect();
    let names: Vec<&str> = top.iter().map(|(n, _)| *n).collect();
    if let Some(title) = &raw.title_field {
        let value = title.get_ref().as_str();
        match top.iter().find(|(n, _)| *n == value) {
            Some((_, Some("text" | "uid"))) => {}
            Some((_, ty)) => cx.error_hint(
                title.span(),
                format!(
                    "`title_field` names `{value}`, of type `{}`",
                    ty.unwrap_or("untyped")
                ),
                "the title shown in lists must be a text or uid field",
            ),
            None => {
                let texts: Vec<&str> = top
                    .iter()
                    .filter(|(_, ty)| matches!(ty, Some("text" | "uid")))
                    .map(|(n, _)| *n)
                    .collect();
                let hint = match did_you_mean(value, &names) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => hint_among("name a text or uid field", value, &texts),
                };
                cx.error_hint(
                    title.span(),
                    format!("`title_field` names `{value}`, which is not a field of this type"),
                    hint,
                );
            }
        }
    }
    let mut columns: Vec<String> = Vec::new();
    for column in &raw.list_columns {
        let value = column.get_ref();
        if !names.contains(&value.as_str()) && !META_COLUMNS.contains(&value.as_str()) {
            let choices: Vec<&str> = names.iter().chain(META_COLUMNS).copied().collect();
            cx.error_hint(
                column.span(),
                format!("list column `{value}` is neither a field nor entry metadata"),
                hint_among(
                    "name a field or one of created_at, updated_at, published_at, status",
                    value,
                    &choices,
                ),
            );
        } else if columns.contains(value) {
            cx.error(
                column.span(),
                format!("list column `{value}` is listed twice"),
            );
        }
        columns.push(value.clone());
    }
    AdminSettings {
        title_field: raw.title_field.as_ref().map(|t| t.get_ref().clone()),
        list_columns: columns,
    }
}

fn access(cx: &mut FileCx, raw: &RawAccess) -> Access {
    let mut roles = |list: &[S<String>], action: &str| -> Vec<String> {
        list.iter()
            .map(|role| {
                let value = role.get_ref();
                if !is_role(value) {
                    cx.error_hint(
                        role.span(),
                        format!("invalid role `{value}` in `access.{action}`"),
                        "role names are lowercase letters, digits, `_` and `-`, starting with \
                         a letter; `public` means anyone",
                    );
                }
                value.clone()
            })
            .collect()
    };
    Access {
        read: roles(&raw.read, "read"),
        create: roles(&raw.create, "create"),
        update: roles(&raw.update, "update"),
        delete: roles(&raw.delete, "delete"),
        publish: roles(&raw.publish, "publish"),
    }
}

fn hooks(cx: &mut FileCx, raw: &RawHooks) -> Hooks {
    let mut ids = |list: &[S<String>], event: &str| -> Vec<String> {
        list.iter()
            .map(|id| {
                let value = id.get_ref();
                if !is_plugin_id(value) {
                    cx.error_hint(
                        id.span(),
                        format!("invalid plugin id `{value}` in `hooks.{event}`"),
                        "plugin ids are lowercase letters, digits and `-`, like `reading-time`",
                    );
                }
                value.clone()
            })
            .collect()
    };
    Hooks {
        before_save: ids(&raw.before_save, "before_save"),
        after_save: ids(&raw.after_save, "after_save"),
        after_publish: ids(&raw.after_publish, "after_publish"),
    }
}

// ---------------------------------------------------------------------------------------------
// Names and hints.

/// A field type with empty parts, to be filled from the field's other keys.
fn blank_type(name: &str) -> Option<FieldType> {
    Some(match name {
        "text" => FieldType::Text,
        "long_text" => FieldType::LongText,
        "markdown" => FieldType::Markdown,
        "integer" => FieldType::Integer,
        "float" => FieldType::Float,
        "boolean" => FieldType::Boolean,
        "datetime" => FieldType::Datetime,
        "date" => FieldType::Date,
        "enum" => FieldType::Enum { values: Vec::new() },
        "json" => FieldType::Json,
        "uid" => FieldType::Uid { from: None },
        "email" => FieldType::Email,
        "url" => FieldType::Url,
        "relation" => FieldType::Relation {
            target: String::new(),
            many: false,
        },
        "media" => FieldType::Media {
            many: false,
            accept: Vec::new(),
        },
        "group" => FieldType::Group { fields: Vec::new() },
        "repeater" => FieldType::Repeater { fields: Vec::new() },
        _ => return None,
    })
}

fn qualify(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

/// How messages name a field: by its dotted path, or by position when it has no name.
fn field_label(path: Option<&str>, parent: &str, index: usize) -> String {
    match (path, parent) {
        (Some(path), _) => format!("field `{path}`"),
        (None, "") => format!("field #{}", index + 1),
        (None, parent) => format!("field #{} of `{parent}`", index + 1),
    }
}

fn hint_among(fallback: &str, given: &str, candidates: &[&str]) -> String {
    match did_you_mean(given, candidates) {
        Some(close) => format!("did you mean `{close}`?"),
        None if candidates.is_empty() => fallback.to_owned(),
        None => format!("{fallback}: {}", candidates.join(", ")),
    }
}

fn humanise(id: &str) -> String {
    let spaced = id.replace(['-', '_'], " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Longest type name or field label, in characters.
const MAX_NAME_CHARS: usize = 200;
/// Longest type or field description, in characters.
const MAX_DESCRIPTION_CHARS: usize = 2000;
/// Longest value quoted in an error message, in characters.
const MAX_QUOTED_CHARS: usize = 64;

/// `message` with every `quoted` value longer than [`MAX_QUOTED_CHARS`] cut short, so that a
/// megabyte-long name in a file gives an error of a line, not a megabyte.
fn cut_quotes(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(1024));
    for (i, part) in message.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        // Odd parts are between backticks.
        if i % 2 == 1 && part.chars().count() > MAX_QUOTED_CHARS {
            out.extend(part.chars().take(MAX_QUOTED_CHARS));
            out.push('…');
        } else {
            out.push_str(part);
        }
    }
    if out.chars().count() > 1000 {
        out = out.chars().take(1000).collect();
        out.push('…');
    }
    out
}

/// `^[a-z][a-z0-9-]{0,62}$`
fn is_type_id(s: &str) -> bool {
    s.len() <= 63 && starts_lower(s) && s.bytes().all(|c| is_lower_digit(c) || c == b'-')
}

/// `^[a-z][a-z0-9_]{0,62}$`
fn is_field_name(s: &str) -> bool {
    s.len() <= 63 && starts_lower(s) && s.bytes().all(|c| is_lower_digit(c) || c == b'_')
}

/// `^[a-z][a-z0-9_-]*$`
fn is_role(s: &str) -> bool {
    starts_lower(s)
        && s.bytes()
            .all(|c| is_lower_digit(c) || c == b'_' || c == b'-')
}

/// `^[a-z][a-z0-9-]*$`
fn is_plugin_id(s: &str) -> bool {
    starts_lower(s) && s.bytes().all(|c| is_lower_digit(c) || c == b'-')
}

fn starts_lower(s: &str) -> bool {
    s.bytes().next().is_some_and(|c| c.is_ascii_lowercase())
}

fn is_lower_digit(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn suggest_type_id(s: &str) -> Option<String> {
    let suggestion = s.to_lowercase().replace(['_', ' '], "-");
    (suggestion != s && is_type_id(&suggestion)).then_some(suggestion)
}

/// A BCP 47 tag of the common shapes: language (`en`), then optionally a script (`Hant`),
/// then optionally a region (`BR`, `419`).
fn is_locale(s: &str) -> bool {
    let mut parts = s.split('-').peekable();
    let language_ok = parts
        .next()
        .is_some_and(|l| (2..=3).contains(&l.len()) && l.bytes().all(|c| c.is_ascii_lowercase()));
    if !language_ok {
        return false;
    }
    if let Some(script) = parts.next_if(|p| p.len() == 4) {
        let mut b = script.bytes();
        let ok =
            b.next().is_some_and(|c| c.is_ascii_uppercase()) && b.all(|c| c.is_ascii_lowercase());
        if !ok {
            return false;
        }
    }
    if let Some(region) = parts.next() {
        let ok = (region.len() == 2 && region.bytes().all(|c| c.is_ascii_uppercase()))
            || (region.len() == 3 && region.bytes().all(|c| c.is_ascii_digit()));
        if !ok {
            return false;
        }
    }
    parts.next().is_none()
}

/// The candidate closest to `given` by edit distance, if it is close enough to be a typo
/// (or `given` is a prefix of it, for a truncated key like `max_len`).
pub(super) fn did_you_mean<'c>(given: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let given = given.to_lowercase().replace('-', "_");
    let allowed = given.chars().count().div_ceil(3).clamp(1, 3);
    candidates
        .iter()
        .map(|c| (edit_distance(&given, c), *c))
        .filter(|(d, c)| *d <= allowed || (given.len() >= 3 && c.starts_with(&given)))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: Levenshtein plus adjacent transpositions
/// (`lable` → `label` is one edit).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for (i, row) in d.chunks_mut(width).enumerate() {
        row[0] = i;
    }
    for (j, cell) in d.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ARTICLE: &str = r#"# content-types/article.toml
id = "article"            # API name: /api/v1/content/article
kind = "collection"       # or "single" (site settings, home page)
name = "Article"
drafts = true             # draft/publish workflow
locales = ["en", "fr"]    # optional; omitted = not localised
search = true             # indexed in tantivy

[admin]
title_field = "title"
list_columns = ["title", "author", "published_at"]

[access]                  # who may do what; "public" = the delivery API without a token
read = ["public"]

[delivery]
cache_control = "public, max-age=60"

[[fields]]
name = "title"
type = "text"
required = true
max_length = 200
localized = true
search = { boost = 3.0 }

[[fields]]
name = "slug"
type = "uid"
from = "title"            # generated when empty
unique = true

[[fields]]
name = "body"
type = "markdown"
search = true

[[fields]]
name = "author"
type = "relation"
target = "author"

[[fields]]
name = "tags"
type = "relation"
target = "tag"
many = true
max = 10

[[fields]]
name = "published_on"
type = "date"
default = 2024-01-01

[[fields]]
name = "blocks"
type = "repeater"

[[fields.fields]]
name = "heading"
type = "text"
max_length = 80

[[fields.fields]]
name = "style"
type = "enum"
values = ["plain", "quote"]
default = "plain"

[hooks]
before_save = ["reading-time"]    # plugin ids, run in order
"#;

    fn path() -> PathBuf {
        PathBuf::from("content-types/article.toml")
    }

    /// Loads a file that must fail, returning its errors.
    fn fail(text: &str) -> Vec<LoadError> {
        match load_str(&path(), text) {
            Ok(ct) => panic!("expected errors, loaded {}", ct.id),
            Err(errors) => errors,
        }
    }

    #[test]
    fn huge_names_are_refused_and_never_echoed_whole() {
        let huge = "N".repeat(1 << 20);
        let e = one(&format!("id = \"a\"\nname = \"{huge}\"\n"));
        assert!(e.message.contains("1048576 characters"), "{}", e.message);
        let e = one(&format!("id = \"{}\"\n", "x".repeat(1 << 20)));
        let text = e.to_string();
        assert!(text.len() < 1024, "{} bytes", text.len());
        assert!(text.contains("…"), "{text}");
        let e = one(&format!(
            "id = \"a\"\n[[fields]]\nname = \"t\"\ntype = \"text\"\nlabel = \"{}\"\n",
            "L".repeat(300)
        ));
        assert!(e.message.contains("`label` of field `t`"), "{}", e.message);
        // Within the caps, long display texts load.
        let ok = load_str(
            &path(),
            &format!(
                "id = \"a\"\nname = \"{}\"\ndescription = \"{}\"\n",
                "n".repeat(200),
                "d".repeat(2000)
            ),
        );
        assert!(ok.is_ok(), "{ok:?}");
    }

    /// The single error of a file that must fail with exactly one.
    fn one(text: &str) -> LoadError {
        let errors = fail(text);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        errors.into_iter().next().expect("one error")
    }

    fn with_field(field: &str) -> String {
        format!("id = \"article\"\n\n[[fields]]\n{field}\n")
    }

    #[test]
    fn the_design_sketch_loads_into_the_expected_model() {
        let ct = load_str(&path(), ARTICLE).expect("valid file");
        assert_eq!(ct.id, "article");
        assert_eq!(ct.kind, Kind::Collection);
        assert_eq!(ct.name, "Article");
        assert!(ct.drafts && ct.search);
        assert_eq!(ct.locales, ["en", "fr"]);
        assert_eq!(ct.admin.title_field.as_deref(), Some("title"));
        assert_eq!(ct.admin.list_columns, ["title", "author", "published_at"]);
        assert!(ct.access.public_read());
        assert!(ct.access.create.is_empty());
        assert_eq!(
            ct.delivery.cache_control.as_deref(),
            Some("public, max-age=60")
        );
        assert_eq!(ct.hooks.before_save, ["reading-time"]);
        assert_eq!(ct.source, path());
        let names: Vec<&str> = ct.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "title",
                "slug",
                "body",
                "author",
                "tags",
                "published_on",
                "blocks"
            ]
        );

        let title = ct.field("title").expect("title");
        assert!(matches!(title.ty, FieldType::Text));
        assert!(title.rules.required && title.localized);
        assert_eq!(title.rules.max_length, Some(200));
        assert_eq!(title.search, Some(SearchSpec { boost: 3.0 }));
        assert_eq!(
            ct.field("body").and_then(|f| f.search),
            Some(SearchSpec { boost: 1.0 })
        );

        let slug = ct.lookup_uid_field().expect("unique uid");
        assert_eq!(slug.name, "slug");
        assert!(matches!(&slug.ty, FieldType::Uid { from: Some(f) } if f == "title"));
        assert!(matches!(
            &ct.field("author").expect("author").ty,
            FieldType::Relation { target, many: false } if target == "author"
        ));
        let tags = ct.field("tags").expect("tags");
        assert!(matches!(&tags.ty, FieldType::Relation { target, many: true } if target == "tag"));
        assert_eq!(tags.rules.max, Some(10.0));
        // A TOML date is a valid default for a date field.
        assert_eq!(
            ct.field("published_on").expect("date").default,
            Some(json!("2024-01-01"))
        );

        let FieldType::Repeater { fields } = &ct.field("blocks").expect("blocks").ty else {
            panic!("blocks is a repeater");
        };
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0].rules.max_length, Some(80));
        assert!(
            matches!(&fields[1].ty, FieldType::Enum { values } if values == &["plain", "quote"])
        );
        assert_eq!(fields[1].default, Some(json!("plain")));
    }

    #[test]
    fn defaults_when_keys_are_left_out() {
        let ct = load_str(&path(), "id = \"blog-post\"\n").expect("minimal file");
        assert_eq!(ct.name, "Blog post");
        assert_eq!(ct.kind, Kind::Collection);
        assert!(!ct.drafts && !ct.search && !ct.is_localized());
        assert!(ct.fields.is_empty() && ct.access.read.is_empty());
    }

    #[test]
    fn unknown_key_names_the_field_line_and_a_hint() {
        let text = with_field("name = \"title\"\ntype = \"text\"\nrequird = true");
        let e = one(&text);
        assert_eq!((e.line, e.column), (Some(6), Some(1)));
        assert_eq!(
            e.to_string(),
            "content-types/article.toml:6:1: unknown key `requird` in field `title`\n  \
             hint: did you mean `required`?"
        );
    }

    #[test]
    fn unknown_keys_everywhere_are_all_reported() {
        let text = "id = \"a\"\nsearch = true\ndraft = true\n[admin]\ntitle = \"x\"\n\n[[fields]]\nname = \"g\"\n\
                    type = \"group\"\n[[fields.fields]]\nname = \"n\"\ntype = \"text\"\n\
                    search = { bost = 2 }\nmaxlength = 3\n";
        let errors = fail(text);
        let got: Vec<(Option<usize>, &str, Option<&str>)> = errors
            .iter()
            .map(|e| (e.line, e.message.as_str(), e.hint.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    Some(3),
                    "unknown key `draft` at the top level",
                    Some("did you mean `drafts`?")
                ),
                (
                    Some(5),
                    "unknown key `title` in `[admin]`",
                    Some("did you mean `title_field`?")
                ),
                (
                    Some(13),
                    "unknown key `bost` in `search` of field `g.n`",
                    Some("did you mean `boost`?")
                ),
                (
                    Some(14),
                    "unknown key `maxlength` in field `g.n`",
                    Some("did you mean `max_length`?")
                ),
            ]
        );
    }

    #[test]
    fn unknown_type_lists_the_valid_ones_and_guesses() {
        let e = one(&with_field("name = \"body\"\ntype = \"markdwon\""));
        assert_eq!(e.line, Some(5));
        assert_eq!(e.message, "unknown field type `markdwon` for field `body`");
        let hint = e.hint.expect("hint");
        assert!(hint.starts_with("did you mean `markdown`?"), "{hint}");
        assert!(
            hint.contains("long_text") && hint.contains("repeater"),
            "{hint}"
        );
        // Names from other systems are recognised too, even misspelt.
        for given in ["string", "strng", "Bool"] {
            let e = one(&with_field(&format!("name = \"body\"\ntype = \"{given}\"")));
            let hint = e.hint.expect("hint");
            let expected = if given == "Bool" { "boolean" } else { "text" };
            assert!(
                hint.starts_with(&format!("did you mean `{expected}`?")),
                "{hint}"
            );
        }
    }

    #[test]
    fn wrong_value_types_point_at_the_value() {
        let e = one(&with_field(
            "name = \"title\"\ntype = \"text\"\nrequired = \"yes\"",
        ));
        assert_eq!((e.line, e.column), (Some(6), Some(12)));
        assert!(e.message.contains("expected a boolean"), "{}", e.message);
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let e = one("id = \"a\"\nname = \"x\n");
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn relation_to_a_missing_type_is_found_across_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("article.toml"),
            "id = \"article\"\n\n[[fields]]\nname = \"author\"\ntype = \"relation\"\n\
             target = \"autor\"\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("author.toml"), "id = \"author\"\n").expect("write");
        std::fs::write(dir.path().join("notes.txt"), "not a type").expect("write");
        let errors = load_dir(dir.path()).expect_err("missing target");
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert_eq!(errors[0].file, dir.path().join("article.toml"));
        assert_eq!((errors[0].line, errors[0].column), (Some(6), Some(10)));
        assert_eq!(
            errors[0].message,
            "relation `author` targets `autor`, which is not a content type"
        );
        assert_eq!(errors[0].hint.as_deref(), Some("did you mean `author`?"));

        std::fs::write(
            dir.path().join("article.toml"),
            "id = \"article\"\n\n[[fields]]\nname = \"author\"\ntype = \"relation\"\n\
             target = \"author\"\n",
        )
        .expect("write");
        let schema = load_dir(dir.path()).expect("valid now");
        let ids: Vec<&str> = schema.types().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["article", "author"], "file-name order");
    }

    #[test]
    fn duplicate_ids_and_errors_of_every_file_are_collected() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("a.toml"), "id = \"post\"\n").expect("write");
        std::fs::write(dir.path().join("b.toml"), "\nid = \"post\"\n").expect("write");
        let errors = load_dir(dir.path()).expect_err("duplicate id");
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert_eq!(errors[0].file, dir.path().join("b.toml"));
        assert_eq!(errors[0].line, Some(2));
        assert!(
            errors[0].message.contains("already used by"),
            "{}",
            errors[0].message
        );

        std::fs::write(dir.path().join("a.toml"), "id = \"Post\"\n").expect("write");
        std::fs::write(dir.path().join("b.toml"), "id = \"b\"\nkind = \"singel\"\n")
            .expect("write");
        let errors = load_dir(dir.path()).expect_err("two bad files");
        let files: Vec<&Path> = errors.iter().map(|e| e.file.as_path()).collect();
        assert_eq!(
            files,
            [dir.path().join("a.toml"), dir.path().join("b.toml")]
        );
        assert_eq!(errors[0].hint.as_deref(), Some("did you mean `post`?"));
        assert_eq!(errors[1].hint.as_deref(), Some("did you mean `single`?"));
    }

    #[test]
    fn duplicate_field_name_points_at_the_second() {
        let text = "id = \"a\"\n\n[[fields]]\nname = \"title\"\ntype = \"text\"\n\n\
                    [[fields]]\nname = \"title\"\ntype = \"long_text\"\n";
        let e = one(text);
        assert_eq!(e.line, Some(8));
        assert_eq!(
            e.message,
            "duplicate field name `title` (first declared on line 4)"
        );
    }

    #[test]
    fn bad_regex_carries_the_regex_message() {
        let e = one(&with_field(
            "name = \"code\"\ntype = \"text\"\npattern = \"^[a-z\"",
        ));
        assert_eq!(e.line, Some(6));
        assert!(
            e.message.starts_with("invalid `pattern` of field `code`: "),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("unclosed character class"),
            "{}",
            e.message
        );
    }

    #[test]
    fn rules_that_do_not_apply_are_refused_with_a_hint() {
        let e = one(&with_field(
            "name = \"age\"\ntype = \"integer\"\nmax_length = 3",
        ));
        assert_eq!(e.line, Some(6));
        assert_eq!(
            e.message,
            "`max_length` does not apply to field `age` of type `integer`"
        );
        assert!(
            e.hint
                .expect("hint")
                .contains("use `min`/`max` for numbers")
        );

        let e = one(&with_field(
            "name = \"author\"\ntype = \"relation\"\ntarget = \"author\"\nmax = 2",
        ));
        assert_eq!(
            e.hint.as_deref(),
            Some("set `many = true` to bound the number of items")
        );

        for (rule, needle) in [
            ("unique = true", "`unique` does not apply"),
            ("many = true", "`many` does not apply"),
            ("accept = [\"image/*\"]", "`accept` does not apply"),
            ("values = [\"a\"]", "`values` does not apply"),
            ("target = \"x\"", "`target` does not apply"),
            ("from = \"x\"", "`from` does not apply"),
            ("search = true", "`search` does not apply"),
        ] {
            let e = one(&with_field(&format!(
                "name = \"data\"\ntype = \"json\"\n{rule}"
            )));
            assert!(e.message.starts_with(needle), "{rule}: {}", e.message);
            assert_eq!(e.line, Some(6), "{rule}");
        }
    }

    #[test]
    fn bounds_must_be_ordered() {
        let e = one(&with_field(
            "name = \"n\"\ntype = \"integer\"\nmin = 5\nmax = 1",
        ));
        assert_eq!(
            (e.line, e.message.as_str()),
            (Some(6), "`min` (5) is greater than `max` (1)")
        );
        let e = one(&with_field(
            "name = \"t\"\ntype = \"text\"\nmin_length = 5\nmax_length = 1",
        ));
        assert_eq!(
            e.message,
            "`min_length` (5) is greater than `max_length` (1)"
        );
    }

    #[test]
    fn unique_only_on_top_level_unlocalized_scalars() {
        let text = "id = \"a\"\nlocales = [\"en\"]\n\n[[fields]]\nname = \"t\"\ntype = \"text\"\n\
                    localized = true\nunique = true\n\n[[fields]]\nname = \"g\"\ntype = \"group\"\n\
                    [[fields.fields]]\nname = \"code\"\ntype = \"text\"\nunique = true\n";
        let errors = fail(text);
        let got: Vec<(Option<usize>, &str)> = errors
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (Some(8), "field `t` is `localized` and cannot be `unique`"),
                (
                    Some(16),
                    "field `g.code` is inside a group or repeater and cannot be `unique`"
                ),
            ]
        );
    }

    #[test]
    fn search_on_a_field_needs_search_on_the_type() {
        let e = one(&with_field(
            "name = \"body\"\ntype = \"markdown\"\nsearch = true",
        ));
        assert_eq!(e.line, Some(6));
        assert_eq!(e.hint.as_deref(), Some("set `search = true` at the top"));
        let e = one(
            "id = \"a\"\nsearch = true\n[[fields]]\nname = \"b\"\ntype = \"text\"\n\
                     search = { boost = -1 }\n",
        );
        assert!(e.message.contains("`boost`"), "{}", e.message);
    }

    #[test]
    fn reserved_names_are_refused() {
        let e = one(&with_field("name = \"status\"\ntype = \"text\""));
        assert_eq!((e.line, e.column), (Some(4), Some(8)));
        assert_eq!(e.message, "field name `status` is reserved");
        assert!(e.hint.expect("hint").contains("`status_value`"));
        let e = one(&with_field("name = \"Title\"\ntype = \"text\""));
        assert_eq!(e.hint.as_deref(), Some("did you mean `title`?"));
    }

    #[test]
    fn localized_needs_locales() {
        let e = one(&with_field(
            "name = \"title\"\ntype = \"text\"\nlocalized = true",
        ));
        assert_eq!(e.line, Some(6));
        assert_eq!(
            e.message,
            "field `title` is `localized` but the type has no `locales`"
        );
        assert!(e.hint.expect("hint").contains("locales = ["));
        let e = one("id = \"a\"\nlocales = [\"en\", \"pt_BR\"]\n");
        assert_eq!(e.message, "invalid locale `pt_BR`");
        let errors = fail("id = \"a\"\nlocales = [\"en\", \"en\"]\n");
        assert_eq!(errors[0].message, "locale `en` is listed twice");
    }

    #[test]
    fn bad_and_missing_ids() {
        let e = one("id = \"Blog_Post\"\n");
        assert_eq!((e.line, e.column), (Some(1), Some(6)));
        assert_eq!(e.message, "invalid id `Blog_Post`");
        assert_eq!(e.hint.as_deref(), Some("did you mean `blog-post`?"));
        let e = one("name = \"Article\"\n");
        assert_eq!((e.line, e.message.as_str()), (Some(1), "missing `id`"));
        assert_eq!(
            e.hint.as_deref(),
            Some("add `id = \"article\"` at the top (the type's API name)")
        );
        let e = one(&"id = \"x\"\n".replace('x', &"a".repeat(64)));
        assert!(e.message.starts_with("invalid id"));
    }

    #[test]
    fn defaults_must_be_valid_values_of_the_field() {
        let e = one(&with_field(
            "name = \"n\"\ntype = \"integer\"\ndefault = \"five\"",
        ));
        assert_eq!(e.line, Some(6));
        assert_eq!(
            e.message,
            "`default` of field `n` is not a valid `integer` value: must be an integer, not a string"
        );
        let e = one(&with_field(
            "name = \"s\"\ntype = \"enum\"\nvalues = [\"a\", \"b\"]\ndefault = \"c\"",
        ));
        assert!(e.message.contains("must be one of: a, b"), "{}", e.message);
        let e = one(&with_field(
            "name = \"t\"\ntype = \"text\"\nmax_length = 2\ndefault = \"abc\"",
        ));
        assert!(e.message.contains("at most 2 characters"), "{}", e.message);
        let e = one(&with_field(
            "name = \"a\"\ntype = \"relation\"\ntarget = \"author\"\ndefault = \"x\"",
        ));
        assert_eq!(
            e.message,
            "`default` does not apply to field `a` of type `relation`"
        );
        // Datetimes are normalised like input.
        let ct = load_str(
            &path(),
            &with_field("name = \"at\"\ntype = \"datetime\"\ndefault = 2024-01-01T10:00:00+02:00"),
        )
        .expect("valid");
        assert_eq!(
            ct.fields[0].default,
            Some(json!("2024-01-01T08:00:00.000Z"))
        );
    }

    #[test]
    fn type_specific_keys_are_required() {
        let errors = fail(
            "id = \"a\"\n[[fields]]\nname = \"e\"\ntype = \"enum\"\n[[fields]]\nname = \"r\"\n\
             type = \"relation\"\n[[fields]]\nname = \"g\"\ntype = \"group\"\n[[fields]]\n\
             type = \"text\"\n",
        );
        let got: Vec<(Option<usize>, &str)> = errors
            .iter()
            .map(|e| (e.line, e.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (Some(4), "field `e` is an enum without `values`"),
                (Some(7), "field `r` is a relation without `target`"),
                (Some(10), "field `g` has no member fields"),
                (Some(11), "field #4 has no `name`"),
            ]
        );
    }

    #[test]
    fn uid_source_must_be_a_top_level_text_field() {
        let e = one(
            "id = \"a\"\n[[fields]]\nname = \"n\"\ntype = \"integer\"\n[[fields]]\nname = \"slug\"\n\
             type = \"uid\"\nfrom = \"n\"\n",
        );
        assert_eq!(e.line, Some(8));
        assert!(
            e.message.contains("names a field of type `integer`"),
            "{}",
            e.message
        );
        let e = one(&with_field(
            "name = \"slug\"\ntype = \"uid\"\nfrom = \"title\"",
        ));
        assert_eq!(
            e.message,
            "`from = \"title\"` names no top-level field of this type"
        );
    }

    #[test]
    fn nesting_stops_at_three_levels() {
        let mut text = String::from("id = \"a\"\n");
        let mut table = String::from("fields");
        for level in 0..4 {
            text.push_str(&format!(
                "[[{table}]]\nname = \"g{level}\"\ntype = \"group\"\n"
            ));
            table.push_str(".fields");
        }
        text.push_str(&format!("[[{table}]]\nname = \"leaf\"\ntype = \"text\"\n"));
        let e = one(&text);
        assert_eq!(e.line, Some(13));
        assert_eq!(
            e.message,
            "field `g0.g1.g2.g3` nests groups and repeaters more than 3 deep"
        );
    }

    #[test]
    fn admin_settings_must_name_fields() {
        let errors = fail(
            "id = \"a\"\n[admin]\ntitle_field = \"count\"\nlist_columns = [\"titel\", \"status\"]\n\
             [[fields]]\nname = \"title\"\ntype = \"text\"\n[[fields]]\nname = \"count\"\n\
             type = \"integer\"\n",
        );
        let got: Vec<(&str, Option<&str>)> = errors
            .iter()
            .map(|e| (e.message.as_str(), e.hint.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "`title_field` names `count`, of type `integer`",
                    Some("the title shown in lists must be a text or uid field")
                ),
                (
                    "list column `titel` is neither a field nor entry metadata",
                    Some("did you mean `title`?")
                ),
            ]
        );
    }

    #[test]
    fn roles_hooks_and_headers_are_checked_for_shape() {
        let errors = fail(
            "id = \"a\"\n[access]\nread = [\"Public\"]\n[delivery]\ncache_control = \"a\\nb\"\n\
             [hooks]\nafter_save = [\"Reading_Time\"]\n",
        );
        let lines: Vec<Option<usize>> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [Some(3), Some(5), Some(7)], "{errors:#?}");
    }

    #[test]
    fn renamed_from_must_be_a_different_valid_name() {
        let e = one(&with_field(
            "name = \"title\"\ntype = \"text\"\nrenamed_from = \"title\"",
        ));
        assert_eq!(
            e.message,
            "`renamed_from` of field `title` is its current name"
        );
        let e = one(&with_field(
            "name = \"title\"\ntype = \"text\"\nrenamed_from = \"Old\"",
        ));
        assert!(
            e.message.contains("not a valid field name"),
            "{}",
            e.message
        );
    }

    #[test]
    fn raw_key_lists_come_from_the_structs() {
        let keys = keys_of::<RawField>();
        assert!(
            keys.contains(&"type") && keys.contains(&"renamed_from"),
            "{keys:?}"
        );
        assert!(!keys.contains(&"ty"));
        assert_eq!(keys_of::<RawDelivery>(), ["cache_control"]);
        for name in TYPE_NAMES {
            assert_eq!(blank_type(name).map(|t| t.name()), Some(*name));
        }
    }

    #[test]
    fn positions_count_characters() {
        let cx = FileCx::new(Path::new("x.toml"), "a = 1\né = \"b\"\n");
        assert_eq!(cx.position(0), (1, 1));
        assert_eq!(cx.position(6), (2, 1));
        // `=` is byte 9 of the file but the third character of line 2.
        assert_eq!(cx.position(9), (2, 3));
        assert_eq!(cx.position(1000), (3, 1));
    }

    #[test]
    fn locale_codes_and_suggestions() {
        for ok in ["en", "fr", "pt-BR", "zh-Hant", "zh-Hant-TW", "es-419"] {
            assert!(is_locale(ok), "{ok}");
        }
        for bad in ["EN", "pt_BR", "pt-br", "e", "en-", "en-US-x"] {
            assert!(!is_locale(bad), "{bad}");
        }
        assert_eq!(did_you_mean("lable", &["label", "name"]), Some("label"));
        assert_eq!(
            did_you_mean("max_len", &["max_length", "min_length"]),
            Some("max_length")
        );
        assert_eq!(did_you_mean("colour", &["name", "type"]), None);
    }
}
