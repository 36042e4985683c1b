//! Bulk import from JSON Lines and export to it.
//!
//! A line is either an export line (`{"id": ..., "status": ..., "fields": {...}}`) or a flat
//! object of fields with entry metadata beside them (`status`, `published_at`, ...), as the
//! benchmark generator writes. Relation values may be entry ids, or name the related entry by
//! a unique field of its type: a string (a tag's slug) or an object carrying a unique field (an
//! author's email). Lines are written in batches, each one transaction; a bad line is reported
//! with its number and skipped without losing the good lines around it.
//!
//! An entry published with newer edits not yet published (`"status": "changed"`) is exported
//! with both: its working copy under `fields`, and what the public sees under `published`
//! (that snapshot's metadata and `fields`). Import restores both, with the versions and times
//! of the line, so export → import → export gives the same text.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::BufRead;

use serde_json::{Map, Value, json};

use super::{Content, fields_of};
use crate::accounts::audit::Event;
use crate::error::{Error, Result};
use crate::plugins::HookOutcome;
use crate::schema::{ContentType, FieldType, ValidateMode, validate_fields};
use crate::storage::{self, Row, Store};
use crate::time::now;

/// The pseudo-field under which relation values given as ids are checked.
const ID: &str = "\u{0}id";

/// Lines per transaction.
pub const BATCH: usize = 500;

/// How many batches are written at once. Batches of new entries do not touch the same
/// records and could commit side by side, but two large transactions at once cost the store
/// more than the same two in turn (1,266 vs 1,547 articles/s at 20k on two cores): one batch
/// is written while the next is read and prepared.
const WRITERS: usize = 1;

/// Metadata keys a flat line may carry beside its fields.
const LINE_META: &[&str] = &[
    "id",
    "type",
    "status",
    "version",
    "created_at",
    "updated_at",
    "published_at",
    "created_by",
    "updated_by",
    "locale",
];

#[derive(Debug, Default)]
pub struct ImportReport {
    pub imported: u64,
    /// (line number, message)
    pub errors: Vec<(u64, String)>,
}

struct Prepared {
    line: u64,
    row: Row,
    snapshot: Option<Row>,
}

impl Content {
    /// Imports every line of `input` into `ct`, calling `progress` with the bytes read so far.
    pub async fn import(
        &self,
        ct: &ContentType,
        input: impl BufRead,
        actor: &str,
        mut progress: impl FnMut(u64),
    ) -> Result<ImportReport> {
        let mut report = ImportReport::default();
        let mut cache: HashMap<(String, String, String), Option<String>> = HashMap::new();
        let mut batch: Vec<(u64, Map<String, Value>)> = Vec::with_capacity(BATCH);
        // Batches are written by tasks of their own, up to `WRITERS` at a time, while the
        // next batch is read and prepared.
        let mut writing: VecDeque<tokio::task::JoinHandle<Result<BatchOutcome>>> = VecDeque::new();
        // Values of unique fields met so far, with their line: a repeat is refused here, so
        // the first line keeps the value and batches written side by side never collide.
        let mut seen: HashMap<(String, String), u64> = HashMap::new();
        let mut read = 0u64;
        let mut lines = input.lines().enumerate().peekable();
        while let Some((n, line)) = lines.next() {
            let line_no = n as u64 + 1;
            let line = line?;
            read += line.len() as u64 + 1;
            if !line.trim().is_empty() {
                match serde_json::from_str::<Value>(&line) {
                    Ok(Value::Object(obj)) => batch.push((line_no, obj)),
                    Ok(_) => report
                        .errors
                        .push((line_no, "a line must be a JSON object".into())),
                    Err(e) => report
                        .errors
                        .push((line_no, format!("not valid JSON: {e}"))),
                }
            }
            if batch.len() < BATCH && lines.peek().is_some() {
                continue;
            }
            let batch = std::mem::take(&mut batch);
            // Preparing looks entries up (relations named by a unique field, free uid values);
            // when those could be in the batch still being written, it waits for that write.
            if !independent_of_previous(ct, &batch) {
                while let Some(w) = writing.pop_front() {
                    finish(w, &mut report).await?;
                }
            }
            let prepared = self
                .prepare_batch(ct, batch, actor, &mut cache, &mut seen, &mut report)
                .await?;
            if writing.len() >= WRITERS
                && let Some(w) = writing.pop_front()
            {
                finish(w, &mut report).await?;
            }
            writing.push_back(tokio::spawn(write_batch(
                self.store.clone(),
                ct.clone(),
                prepared,
                actor.to_owned(),
            )));
            progress(read);
        }
        while let Some(w) = writing.pop_front() {
            finish(w, &mut report).await?;
        }
        progress(read);
        Ok(report)
    }

    /// Resolves the relation lookups of a batch and prepares its lines; bad lines go to the
    /// report.
    async fn prepare_batch(
        &self,
        ct: &ContentType,
        lines: Vec<(u64, Map<String, Value>)>,
        actor: &str,
        cache: &mut HashMap<(String, String, String), Option<String>>,
        seen: &mut HashMap<(String, String), u64>,
        report: &mut ImportReport,
    ) -> Result<Vec<Prepared>> {
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        self.resolve_lookups(ct, &lines, cache).await?;
        let mut prepared = Vec::with_capacity(lines.len());
        for (line, obj) in lines {
            let (row, snapshot) = match self.prepare_line(ct, obj, actor, cache).await {
                Ok(p) => p,
                Err(msg) => {
                    report.errors.push((line, msg));
                    continue;
                }
            };
            let unique: Vec<(String, String)> = ct
                .fields
                .iter()
                .filter(|f| f.rules.unique)
                .filter_map(|f| {
                    let value = row.get(&f.name).filter(|v| !v.is_null())?;
                    Some((f.name.clone(), value.to_string()))
                })
                .collect();
            if let Some(((field, value), first)) = unique
                .iter()
                .find_map(|k| seen.get(k).map(|first| (k, *first)))
            {
                report.errors.push((
                    line,
                    format!("{field}: {value} is already used on line {first}"),
                ));
                continue;
            }
            seen.extend(unique.into_iter().map(|k| (k, line)));
            prepared.push(Prepared {
                line,
                row,
                snapshot,
            });
        }
        Ok(prepared)
    }

    /// Looks up, in one query per (type, field), every relation value given by a unique field.
    async fn resolve_lookups(
        &self,
        ct: &ContentType,
        lines: &[(u64, Map<String, Value>)],
        cache: &mut HashMap<(String, String, String), Option<String>>,
    ) -> Result<()> {
        let mut wanted: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for fields in lines
            .iter()
            .flat_map(|(_, obj)| [Some(line_fields(obj)), published_fields(obj)])
            .flatten()
        {
            for f in &ct.fields {
                let FieldType::Relation { target, .. } = &f.ty else {
                    continue;
                };
                let Ok(target_ct) = self.content_type(target) else {
                    continue;
                };
                let values = match fields.get(&f.name) {
                    Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
                    Some(v) => vec![v],
                    None => continue,
                };
                for v in values {
                    // Ids are checked too, under the pseudo-field `id`.
                    let key = match v {
                        Value::String(s) if lookup_key(&target_ct, v).is_none() => {
                            Some((ID.to_owned(), s.to_ascii_uppercase()))
                        }
                        _ => lookup_key(&target_ct, v),
                    };
                    if let Some((field, key)) = key
                        && !cache.contains_key(&(target.clone(), field.clone(), key.clone()))
                    {
                        wanted.entry((target.clone(), field)).or_default().push(key);
                    }
                }
            }
        }
        for ((target, field), mut keys) in wanted {
            keys.sort();
            keys.dedup();
            if field == ID {
                let found: std::collections::HashSet<String> = self
                    .store
                    .existing_ids(&storage::entry_table(&target), &keys)
                    .await?
                    .into_iter()
                    .collect();
                for k in keys {
                    let hit = found.contains(&k).then(|| k.clone());
                    cache.insert((target.clone(), ID.to_owned(), k), hit);
                }
                continue;
            }
            let found = self
                .store
                .ids_by_field(
                    &storage::entry_table(&target),
                    &field,
                    keys.iter().map(|k| json!(k)).collect(),
                )
                .await?;
            let found: HashMap<String, String> = found
                .into_iter()
                .filter_map(|(v, id)| v.as_str().map(|s| (s.to_owned(), id)))
                .collect();
            for k in keys {
                let id = found.get(&k).cloned();
                cache.insert((target.clone(), field.clone(), k), id);
            }
        }
        Ok(())
    }

    /// Relation values named by a unique field or given as ids become the ids of existing
    /// entries (looked up beforehand into `cache`), or the line is refused.
    fn resolve_relations(
        &self,
        ct: &ContentType,
        fields: &mut Map<String, Value>,
        cache: &HashMap<(String, String, String), Option<String>>,
    ) -> std::result::Result<(), String> {
        for f in &ct.fields {
            let FieldType::Relation { target, many } = &f.ty else {
                continue;
            };
            let Ok(target_ct) = self.content_type(target) else {
                continue;
            };
            let Some(value) = fields.get(&f.name).cloned() else {
                continue;
            };
            let resolve = |v: &Value| -> std::result::Result<Value, String> {
                match lookup_key(&target_ct, v) {
                    None => match v {
                        // An id: it must name an existing entry (looked up with the batch).
                        Value::String(id) => {
                            let id = id.to_ascii_uppercase();
                            match cache.get(&(target.clone(), ID.to_owned(), id.clone())) {
                                Some(Some(found)) => Ok(Value::String(found.clone())),
                                _ => Err(format!("{}: no `{target}` has id {id}", f.name)),
                            }
                        }
                        other => Ok(other.clone()),
                    },
                    Some((field, key)) => cache
                        .get(&(target.clone(), field.clone(), key.clone()))
                        .cloned()
                        .flatten()
                        .map(Value::String)
                        .ok_or_else(|| format!("{}: no `{target}` with {field} `{key}`", f.name)),
                }
            };
            let resolved = match (value, many) {
                (Value::Array(items), true) => Value::Array(
                    items
                        .iter()
                        .map(resolve)
                        .collect::<std::result::Result<Vec<_>, _>>()?,
                ),
                (Value::Null, _) => Value::Null,
                (v, _) => resolve(&v)?,
            };
            fields.insert(f.name.clone(), resolved);
        }
        Ok(())
    }

    /// One line to a stored row (and published snapshot), or the reason it is refused.
    async fn prepare_line(
        &self,
        ct: &ContentType,
        obj: Map<String, Value>,
        actor: &str,
        cache: &HashMap<(String, String, String), Option<String>>,
    ) -> std::result::Result<(Row, Option<Row>), String> {
        let mut fields = line_fields(&obj);
        let line_locale = obj.get("locale").and_then(Value::as_str);
        if let Some(l) = line_locale
            && !ct.locales.iter().any(|x| x == l)
        {
            return Err(format!("locale `{l}` is not one of the type's locales"));
        }
        super::localize_plain(ct, &mut fields, line_locale, None);
        self.resolve_relations(ct, &mut fields, cache)?;
        let fmt_errors = |errs: Vec<crate::schema::FieldError>| {
            errs.iter()
                .map(|e| format!("{} ({}): {}", e.path, e.code, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let id = match obj.get("id").and_then(Value::as_str) {
            Some(id) => {
                super::entry_id(id).map_err(|_| format!("id `{id}` is not a valid entry id"))?
            }
            None => ulid::Ulid::new().to_string(),
        };
        let fields = validate_fields(ct, &fields, ValidateMode::Full).map_err(fmt_errors)?;
        let fields = match self.plugins.before_save(ct, Some(&id), fields) {
            HookOutcome::Fields(f) => f,
            HookOutcome::Rejected(errs) => return Err(fmt_errors(errs)),
        };
        let mut fields = validate_fields(ct, &fields, ValidateMode::Full).map_err(fmt_errors)?;
        let needs_uid = ct
            .uid_fields()
            .any(|(f, _)| fields.get(&f.name).is_none_or(Value::is_null));
        if needs_uid {
            self.fill_uids(ct, Some(&id), &mut fields, None)
                .await
                .map_err(|e| match e {
                    Error::Validation(errs) => fmt_errors(errs),
                    other => other.to_string(),
                })?;
        }

        let status = obj
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("published");
        let status = match status {
            _ if !ct.drafts => "published",
            "published" | "draft" => status,
            // Published, with newer edits: the published snapshot comes with the line.
            "changed" if obj.get("published").is_some_and(Value::is_object) => status,
            "changed" => {
                return Err(
                    "status `changed` needs the published snapshot under `published` \
                            (as `folio export` writes it)"
                        .into(),
                );
            }
            other => {
                return Err(format!(
                    "status `{other}` is not draft, published or changed"
                ));
            }
        };
        let now = now();
        let mut row = entry_meta(&obj, actor, &now, status != "draft")?;
        row.insert("id".into(), json!(id));
        row.insert("status".into(), json!(status));
        row.extend(fields);
        let snapshot = match (status, obj.get("published")) {
            (_, _) if !ct.drafts => None,
            ("changed", Some(Value::Object(published))) => {
                let mut fields = published_fields(&obj).unwrap_or_default();
                super::localize_plain(ct, &mut fields, line_locale, None);
                self.resolve_relations(ct, &mut fields, cache)
                    .map_err(|e| format!("published: {e}"))?;
                let fields = validate_fields(ct, &fields, ValidateMode::Full)
                    .map_err(|e| format!("published: {}", fmt_errors(e)))?;
                let mut snap = entry_meta(published, actor, &now, true)
                    .map_err(|e| format!("published: {e}"))?;
                snap.insert("id".into(), json!(id));
                snap.extend(fields);
                Some(snap)
            }
            ("published", _) => {
                let mut snap = row.clone();
                snap.remove("status");
                Some(snap)
            }
            _ => None,
        };
        Ok((row, snapshot))
    }

    /// Writes every entry of `ct` as JSON Lines, oldest first, in pages.
    pub async fn export(&self, ct: &ContentType, out: &mut impl std::io::Write) -> Result<u64> {
        use super::query::{MetaField, Pagination, Sort, SortKey};
        let sort = [Sort {
            key: SortKey::Meta(MetaField::CreatedAt),
            desc: false,
        }];
        let mut cursor: Option<String> = None;
        let mut written = 0;
        loop {
            let page = self
                .store
                .list(&storage::ListPlan {
                    schema: &self.schema,
                    ct,
                    table: storage::entry_table(&ct.id),
                    filters: &[],
                    sort: &sort,
                    limit: 500,
                    pagination: &Pagination::Cursor(cursor.clone()),
                    locale: None,
                    max_count: 0,
                    owner: None,
                    working_copies: true,
                })
                .await?;
            // What the public sees of entries with unpublished edits.
            let changed: Vec<String> = page
                .rows
                .iter()
                .filter(|r| ct.drafts && r.get("status").and_then(Value::as_str) == Some("changed"))
                .filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_owned))
                .collect();
            let mut snapshots: HashMap<String, Row> = if changed.is_empty() {
                HashMap::new()
            } else {
                self.store
                    .get_rows(&storage::delivery_table(ct), &changed)
                    .await?
                    .into_iter()
                    .filter_map(|r| Some((r.get("id")?.as_str()?.to_owned(), r)))
                    .collect()
            };
            for row in &page.rows {
                let mut line = Map::new();
                for k in LINE_META
                    .iter()
                    .filter(|k| !matches!(**k, "type" | "locale"))
                {
                    line.insert((*k).into(), row.get(*k).cloned().unwrap_or(Value::Null));
                }
                if !ct.drafts {
                    line.insert("status".into(), json!("published"));
                }
                line.insert("fields".into(), Value::Object(fields_of(ct, row)));
                let id = row.get("id").and_then(Value::as_str).unwrap_or_default();
                if let Some(snap) = snapshots.remove(id) {
                    // A snapshot's metadata: a line's, less what is the entry's alone.
                    let mut published: Map<String, Value> = LINE_META
                        .iter()
                        .filter(|k| !matches!(**k, "id" | "type" | "status" | "locale"))
                        .map(|k| {
                            (
                                (*k).to_owned(),
                                snap.get(*k).cloned().unwrap_or(Value::Null),
                            )
                        })
                        .collect();
                    published.insert("fields".into(), Value::Object(fields_of(ct, &snap)));
                    line.insert("published".into(), Value::Object(published));
                }
                serde_json::to_writer(&mut *out, &line)
                    .map_err(|e| Error::internal(e.to_string()))?;
                out.write_all(b"\n")?;
                written += 1;
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        Ok(written)
    }
}

/// What writing one batch did.
#[derive(Default)]
struct BatchOutcome {
    imported: u64,
    errors: Vec<(u64, String)>,
}

/// Waits for a batch being written and adds its outcome to the report.
async fn finish(
    handle: tokio::task::JoinHandle<Result<BatchOutcome>>,
    report: &mut ImportReport,
) -> Result<()> {
    let outcome = handle
        .await
        .map_err(|e| Error::internal(format!("import writer failed: {e}")))??;
    report.imported += outcome.imported;
    report.errors.extend(outcome.errors);
    report.errors.sort_by_key(|(line, _)| *line);
    Ok(())
}

/// Writes a batch in one transaction; when the database refuses it (a duplicate, most
/// likely), writes it line by line to find the culprits and keep the rest.
async fn write_batch(
    store: Store,
    ct: ContentType,
    prepared: Vec<Prepared>,
    actor: String,
) -> Result<BatchOutcome> {
    let mut outcome = BatchOutcome::default();
    if prepared.is_empty() {
        return Ok(outcome);
    }
    // One audit record per transaction, naming the entries it wrote by digest.
    let audit = |rows: &[Row]| {
        let ids: Vec<&str> = rows
            .iter()
            .filter_map(|r| r.get("id").and_then(Value::as_str))
            .collect();
        let record = Event::new(&actor, "entry.import", format!("{}/*", ct.id))
            .after(Some(json!({ "ids": ids })))
            .data();
        // Every field of an imported entry is new.
        let mut change = super::entry_change("entry.import", &actor, &ct, None, None, record);
        change.changed = ct.fields.iter().map(|f| f.name.clone()).collect();
        change
    };
    let rows: Vec<Row> = prepared.iter().map(|p| p.row.clone()).collect();
    let snaps: Vec<Row> = prepared.iter().filter_map(|p| p.snapshot.clone()).collect();
    let record = audit(&rows);
    if store
        .insert_entries(&ct, rows, snaps, &record)
        .await
        .is_ok()
    {
        outcome.imported = prepared.len() as u64;
        return Ok(outcome);
    }
    for p in prepared {
        let snaps: Vec<Row> = p.snapshot.into_iter().collect();
        let record = audit(std::slice::from_ref(&p.row));
        match store.insert_entries(&ct, vec![p.row], snaps, &record).await {
            Ok(()) => outcome.imported += 1,
            Err(Error::Validation(errs)) => outcome.errors.push((
                p.line,
                errs.iter()
                    .map(|e| format!("{}: {}", e.path, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            )),
            Err(e) => {
                tracing::warn!(error = %e, line = p.line, "import line refused");
                outcome
                    .errors
                    .push((p.line, "refused by the database".into()));
            }
        }
    }
    Ok(outcome)
}

/// Whether a batch can be prepared while the previous one is still being written: not when
/// it may look up entries of its own type (a relation to the same type) or pick free values
/// for uid fields it leaves empty, as the previous batch may hold them.
fn independent_of_previous(ct: &ContentType, batch: &[(u64, Map<String, Value>)]) -> bool {
    let self_related = ct
        .fields
        .iter()
        .any(|f| matches!(&f.ty, FieldType::Relation { target, .. } if *target == ct.id));
    let fills_uids = batch.iter().any(|(_, obj)| {
        let fields = obj.get("fields").and_then(Value::as_object).unwrap_or(obj);
        ct.uid_fields()
            .any(|(f, _)| fields.get(&f.name).is_none_or(Value::is_null))
    });
    !self_related && !fills_uids
}

/// A stored row's metadata from a line (or its `published` object): `version`, the times and
/// who made and last changed it, with defaults for what is missing.
fn entry_meta(
    obj: &Map<String, Value>,
    actor: &str,
    now: &str,
    published: bool,
) -> std::result::Result<Row, String> {
    let meta_str = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
    let stamp = |k: &str| -> std::result::Result<Option<String>, String> {
        match meta_str(k) {
            None => Ok(None),
            Some(s) => crate::time::normalise(&s)
                .map(Some)
                .ok_or_else(|| format!("{k} `{s}` is not an RFC 3339 date and time")),
        }
    };
    let version = match obj.get("version") {
        None | Some(Value::Null) => 1,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=i64::MAX as u64).contains(n))
            .ok_or_else(|| format!("version `{v}` is not a whole number from 1"))?,
    };
    let created_at = stamp("created_at")?.unwrap_or_else(|| now.to_owned());
    let updated_at = stamp("updated_at")?.unwrap_or_else(|| created_at.clone());
    let published_at = if published {
        Some(stamp("published_at")?.unwrap_or_else(|| now.to_owned()))
    } else {
        None
    };
    let mut row = Row::new();
    row.insert("version".into(), json!(version));
    row.insert("created_at".into(), json!(created_at));
    row.insert("updated_at".into(), json!(updated_at));
    row.insert("published_at".into(), json!(published_at));
    for k in ["created_by", "updated_by"] {
        row.insert(
            k.into(),
            json!(meta_str(k).unwrap_or_else(|| actor.to_owned())),
        );
    }
    Ok(row)
}

/// The fields of a line's published snapshot, when it carries one.
fn published_fields(obj: &Map<String, Value>) -> Option<Map<String, Value>> {
    obj.get("published")?.get("fields")?.as_object().cloned()
}

/// The fields of a line: its `fields` object, or every key that is not metadata.
fn line_fields(obj: &Map<String, Value>) -> Map<String, Value> {
    match obj.get("fields") {
        Some(Value::Object(f)) => f.clone(),
        _ => obj
            .iter()
            .filter(|(k, _)| !LINE_META.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// How a relation value names its target when it is not an id: (unique field, value).
fn lookup_key(target: &ContentType, v: &Value) -> Option<(String, String)> {
    match v {
        Value::String(s) if ulid::Ulid::from_string(s).is_ok() && s.len() == 26 => None,
        Value::String(s) => target
            .lookup_uid_field()
            .or_else(|| target.fields.iter().find(|f| f.rules.unique))
            .map(|f| (f.name.clone(), s.clone())),
        Value::Object(o) => target
            .fields
            .iter()
            .filter(|f| f.rules.unique)
            .find_map(|f| {
                o.get(&f.name)
                    .and_then(Value::as_str)
                    .map(|s| (f.name.clone(), s.to_owned()))
            }),
        _ => None,
    }
}
