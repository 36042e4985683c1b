//! The media library's tables: `folio_media` (one record per stored file: name, kind, size,
//! hash, dimensions, alt text, caption, focal point, folder), `folio_media_folder`, and
//! `folio_media_use`, which says which entries use which media.
//!
//! `folio_media_use` is derived, like the link tables of many-relations: one row per (media,
//! entry, audience), rewritten in the same transaction as the entry's working copy
//! (`admin`) or its delivery row (`delivery`). It answers "who uses this image" and "may the
//! public see it" with one indexed read instead of a scan of every content table.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use surrealdb::types::RecordId;

use super::accounts::{Record, normalize};
use super::entries::Row;
use super::events::{ChangeRecord, events_script};
use super::{Store, ident, take_json, take_rows};
use crate::error::{Error, Result};
use crate::schema::ContentType;

pub const MEDIA_TABLE: &str = "folio_media";
pub(crate) const FOLDER_TABLE: &str = "folio_media_folder";
pub(crate) const USE_TABLE: &str = "folio_media_use";

/// A system table: name, fields with their types, indexes with their definitions.
pub(crate) type TableSpec = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    Vec<(&'static str, &'static str)>,
);

/// The statements that define the media tables, for `accounts::system_statements`.
pub(crate) fn media_tables() -> Vec<TableSpec> {
    vec![
        (
            MEDIA_TABLE,
            vec![
                ("filename", "string"),
                ("mime", "string"),
                ("size", "int"),
                ("sha256", "string"),
                ("width", "option<int>"),
                ("height", "option<int>"),
                ("placeholder", "option<string>"),
                ("alt", "any"),
                ("caption", "any"),
                ("focal", "any"),
                ("folder", "option<string>"),
                ("search_text", "string"),
                ("version", "int"),
                ("created_by", "string"),
                ("created_at", "string"),
                ("updated_at", "string"),
            ],
            vec![
                ("media_sha256", "FIELDS sha256 UNIQUE"),
                ("media_folder", "FIELDS folder, created_at"),
                ("media_created", "FIELDS created_at"),
            ],
        ),
        (
            FOLDER_TABLE,
            vec![
                ("name", "string"),
                ("parent", "option<string>"),
                ("created_at", "string"),
            ],
            vec![("folder_parent", "FIELDS parent, name UNIQUE")],
        ),
        (
            USE_TABLE,
            vec![
                ("media", "string"),
                ("type", "string"),
                ("entry", "string"),
                ("audience", "string"),
            ],
            vec![
                ("media_use_media", "FIELDS media, audience, type"),
                ("media_use_entry", "FIELDS type, entry, audience"),
            ],
        ),
    ]
}

/// Filters of the media list.
#[derive(Debug, Default, Clone)]
pub struct MediaFilter {
    /// Only media directly in this folder (`Some(None)`: at the root).
    pub folder: Option<Option<String>>,
    /// MIME prefix (`image/`) or full type.
    pub mime: Option<String>,
    /// Lower-case words that the name, alt text or caption must contain.
    pub text: Option<String>,
    /// Only media this actor uploaded.
    pub owner: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

impl Store {
    /// Stores a new media record with its audit record. A record with the same SHA-256 wins:
    /// `Conflict { code: code::ALREADY_EXISTS }`.
    pub async fn create_media(
        &self,
        id: &str,
        record: Record,
        change: &ChangeRecord,
    ) -> Result<Record> {
        let _changing = self.invalidate(&[MEDIA_TABLE]);
        let (events, binds) = events_script(
            &self.node,
            None,
            change,
            vec![(id.to_owned(), Some(1), None)],
        );
        let script = format!("CREATE type::record('{MEDIA_TABLE}', $id) CONTENT $row;\n{events}");
        self.write_record(&script, id, record, binds, 1).await
    }

    pub async fn get_media(&self, id: &str) -> Result<Option<Record>> {
        self.system_get(MEDIA_TABLE, id).await
    }

    pub async fn get_media_many(&self, ids: &[String]) -> Result<Vec<Record>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let records: Vec<RecordId> = ids
            .iter()
            .map(|id| RecordId::new(MEDIA_TABLE, id.clone()))
            .collect();
        let mut res = self
            .statement("SELECT * FROM $records")
            .bind(("records", records))
            .await?;
        super::fail_on_error(&mut res)?;
        Ok(take_rows(&mut res, 0)?.into_iter().map(normalize).collect())
    }

    pub async fn media_by_sha(&self, sha256: &str) -> Result<Option<Record>> {
        Ok(self
            .system_read(
                &format!("SELECT * FROM {MEDIA_TABLE} WHERE sha256 = $sha LIMIT 1"),
                vec![("sha".into(), json!(sha256))],
            )
            .await?
            .into_iter()
            .next())
    }

    /// A page of media, newest first, and the number matching.
    pub async fn list_media(&self, f: &MediaFilter) -> Result<(Vec<Record>, u64)> {
        let mut cond = Vec::new();
        let mut binds: Vec<(String, Value)> = Vec::new();
        match &f.folder {
            Some(Some(folder)) => {
                cond.push("folder = $folder");
                binds.push(("folder".into(), json!(folder)));
            }
            Some(None) => cond.push("folder = NONE"),
            None => {}
        }
        if let Some(mime) = &f.mime {
            if mime.ends_with('/') {
                cond.push("string::starts_with(mime, $mime)");
            } else {
                cond.push("mime = $mime");
            }
            binds.push(("mime".into(), json!(mime)));
        }
        if let Some(text) = &f.text {
            cond.push("string::contains(search_text, $text)");
            binds.push(("text".into(), json!(text)));
        }
        if let Some(owner) = &f.owner {
            cond.push("created_by = $owner");
            binds.push(("owner".into(), json!(owner)));
        }
        let filter = if cond.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", cond.join(" AND "))
        };
        let sql = format!(
            "SELECT * FROM {MEDIA_TABLE} {filter} ORDER BY created_at DESC LIMIT $limit START $offset;
             SELECT count() FROM {MEDIA_TABLE} {filter} GROUP ALL;"
        );
        binds.push(("limit".into(), json!(f.limit)));
        binds.push(("offset".into(), json!(f.offset)));
        let mut q = self.statement(sql);
        for b in binds {
            q = q.bind(b);
        }
        let mut res = q.await?;
        super::fail_on_error(&mut res)?;
        let rows = take_rows(&mut res, 0)?.into_iter().map(normalize).collect();
        let total = super::migrate::count_of(take_json(&mut res, 1)?);
        Ok((rows, total))
    }

    /// Replaces a media record if its version is still `expected`.
    pub async fn update_media(
        &self,
        id: &str,
        expected: u64,
        record: Record,
        change: &ChangeRecord,
    ) -> Result<Record> {
        let _changing = self.invalidate(&[MEDIA_TABLE]);
        let (events, mut binds) = events_script(
            &self.node,
            None,
            change,
            vec![(id.to_owned(), Some(expected + 1), None)],
        );
        let script = format!(
            "LET $current = (SELECT VALUE version FROM type::record('{MEDIA_TABLE}', $id))[0];
             IF $current = NONE {{ THROW 'folio:not_found' }};
             IF $current != $expected {{ THROW 'folio:version_conflict' }};
             UPDATE type::record('{MEDIA_TABLE}', $id) CONTENT $row RETURN AFTER;
             {events}"
        );
        binds.push(("expected".to_owned(), json!(expected)));
        self.write_record(&script, id, record, binds, 4).await
    }

    /// Deletes a media record and every record of its use.
    pub async fn delete_media(&self, id: &str, change: &ChangeRecord) -> Result<()> {
        let _changing = self.invalidate(&[MEDIA_TABLE]);
        let (events, mut binds) =
            events_script(&self.node, None, change, vec![(id.to_owned(), None, None)]);
        let script = format!(
            "DELETE type::record('{MEDIA_TABLE}', $id);
             DELETE {USE_TABLE} WHERE media = $id;
             {events}"
        );
        binds.push(("id".into(), json!(id)));
        self.system_write(&script, binds).await?;
        Ok(())
    }

    /// Who uses `media`: `{type, entry, audience}` rows.
    pub async fn media_uses(&self, media: &str) -> Result<Vec<Record>> {
        self.system_read(
            &format!("SELECT type, entry, audience FROM {USE_TABLE} WHERE media = $media"),
            vec![("media".into(), json!(media))],
        )
        .await
    }

    /// Whether a published entry of one of `types` uses `media`.
    pub async fn media_delivered(&self, media: &str, types: &[String]) -> Result<bool> {
        if types.is_empty() {
            return Ok(false);
        }
        let rows = self
            .system_read(
                &format!(
                    "SELECT type FROM {USE_TABLE} WHERE media = $media AND audience = 'delivery' \
                     AND type IN $types LIMIT 1"
                ),
                vec![
                    ("media".into(), json!(media)),
                    ("types".into(), json!(types)),
                ],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    // ---- folders ----------------------------------------------------------------------

    pub async fn list_folders(&self) -> Result<Vec<Record>> {
        self.system_read(
            &format!("SELECT * FROM {FOLDER_TABLE} ORDER BY name"),
            Vec::new(),
        )
        .await
    }

    pub async fn get_folder(&self, id: &str) -> Result<Option<Record>> {
        self.system_get(FOLDER_TABLE, id).await
    }

    /// Creates or replaces a folder (name and parent).
    pub async fn put_folder(
        &self,
        id: &str,
        record: Record,
        change: &ChangeRecord,
    ) -> Result<Record> {
        let (events, binds) =
            events_script(&self.node, None, change, vec![(id.to_owned(), None, None)]);
        let script = format!(
            "UPSERT type::record('{FOLDER_TABLE}', $id) CONTENT $row RETURN AFTER;\n{events}"
        );
        self.write_record(&script, id, record, binds, 1).await
    }

    /// Runs `script`, which writes record `$id` with `$row`, and returns the record
    /// statement `at` answered with.
    async fn write_record(
        &self,
        script: &str,
        id: &str,
        row: Record,
        mut binds: Vec<(String, Value)>,
        at: usize,
    ) -> Result<Record> {
        binds.extend([
            ("id".to_owned(), json!(id)),
            ("row".to_owned(), Value::Object(row)),
        ]);
        let out = self.system_write(script, binds).await;
        out?.get(at)
            .and_then(|rows| rows.first().cloned())
            .map(normalize)
            .ok_or_else(|| Error::internal("a media write returned nothing"))
    }

    /// Deletes an empty folder; one holding media or folders is refused.
    pub async fn delete_folder(&self, id: &str, change: &ChangeRecord) -> Result<()> {
        let (events, mut binds) =
            events_script(&self.node, None, change, vec![(id.to_owned(), None, None)]);
        let script = format!(
            "IF (SELECT VALUE id FROM {MEDIA_TABLE} WHERE folder = $id LIMIT 1)[0] != NONE
                OR (SELECT VALUE id FROM {FOLDER_TABLE} WHERE parent = $id LIMIT 1)[0] != NONE
                {{ THROW 'folio:folder_not_empty' }};
             DELETE type::record('{FOLDER_TABLE}', $id);
             {events}"
        );
        binds.push(("id".into(), json!(id)));
        self.system_write(&script, binds).await?;
        Ok(())
    }
}

/// Statements (and bindings) that rewrite the use records of entry `$id` of `ct` for one
/// audience, run inside the caller's transaction: `None` removes them (deleted, unpublished),
/// `Some(row)` sets them to the media `row` refers to. Nothing for types without media.
pub(super) fn use_script(
    ct: &ContentType,
    audience: &'static str,
    id: &str,
    row: Option<&Row>,
) -> (String, Vec<(String, Value)>) {
    if !ct.has_media() {
        return (String::new(), Vec::new());
    }
    let mut script = format!(
        "DELETE {USE_TABLE} WHERE type = $use_type AND entry = $id AND audience = '{audience}';\n"
    );
    let mut binds = vec![("use_type".to_owned(), json!(ct.id))];
    if let Some(row) = row {
        let uses = use_rows(ct, audience, id, row);
        if !uses.is_empty() {
            script.push_str(&format!(
                "INSERT INTO {USE_TABLE} $uses_{audience} RETURN NONE;\n"
            ));
            binds.push((format!("uses_{audience}"), Value::Array(uses)));
        }
    }
    (script, binds)
}

/// The use records of many new rows at once (import).
pub(super) fn insert_uses_script(
    ct: &ContentType,
    audience: &'static str,
    rows: &[Row],
) -> Result<(String, Vec<(String, Value)>)> {
    if !ct.has_media() {
        return Ok((String::new(), Vec::new()));
    }
    let uses: Vec<Value> = rows
        .iter()
        .flat_map(|r| {
            let id = r.get("id").and_then(Value::as_str).unwrap_or_default();
            use_rows(ct, audience, id, r)
        })
        .collect();
    if uses.is_empty() {
        return Ok((String::new(), Vec::new()));
    }
    Ok((
        format!(
            " INSERT INTO {} $uses_{audience} RETURN NONE;",
            ident(USE_TABLE)?
        ),
        vec![(format!("uses_{audience}"), Value::Array(uses))],
    ))
}

fn use_rows(ct: &ContentType, audience: &str, id: &str, row: &Row) -> Vec<Value> {
    let media: BTreeSet<String> = ct.media_ids(row);
    media
        .into_iter()
        .map(|m| json!({ "media": m, "type": ct.id, "entry": id, "audience": audience }))
        .collect()
}
