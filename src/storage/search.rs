//! The search index's durable work queue and the reads that feed the indexer.
//!
//! Every write to entries of a searchable type adds a `folio_search_work` record, naming the
//! entries it touched, in the same transaction as the change. The indexer re-reads those
//! entries, updates the index, commits it, and only then deletes the records it handled, so
//! a crash between a database write and the index commit leaves the record behind and the
//! next start repairs exactly what was missed. Records are keyed by a fresh ULID per write:
//! concurrent writes never touch the same record, so the queue adds no conflicts.

use serde_json::{Value, json};
use surrealdb::types::RecordId;

use super::entries::{Row, normalize_id};
use super::{Store, take_json, take_rows};
use crate::error::Result;
use crate::schema::ContentType;

pub(crate) const WORK_TABLE: &str = "folio_search_work";

/// One recorded change: the entries of one type to look at again.
#[derive(Debug, Clone)]
pub struct SearchWork {
    pub key: String,
    pub type_id: String,
    pub ids: Vec<String>,
}

impl Store {
    /// Declares which types' writes the search index needs to hear of: the searchable types,
    /// and the types whose titles they show as facets (a renamed tag changes the facets of
    /// the articles tagged with it).
    pub fn set_indexed_types(&self, types: impl IntoIterator<Item = String>) {
        let mut set = self
            .indexed_types
            .write()
            .unwrap_or_else(|e| e.into_inner());
        set.clear();
        set.extend(types);
    }

    pub(super) fn is_indexed(&self, ct: &ContentType) -> bool {
        self.indexed_types
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&ct.id)
    }

    /// The statement (and its bindings) that records index work for `ids` of `ct`, run inside
    /// the caller's transaction; nothing for types the index does not follow.
    pub(super) fn work_script(
        &self,
        ct: &ContentType,
        ids: Vec<String>,
    ) -> (String, Vec<(String, Value)>) {
        if !self.is_indexed(ct) || ids.is_empty() {
            return (String::new(), Vec::new());
        }
        work_statement(ct, ids)
    }

    /// Entries of `ct` whose relation `field` points at any of `ids`: through the relation's
    /// index (one relation) or its link table (many; published snapshots only).
    pub async fn referencing(
        &self,
        ct: &ContentType,
        field: &crate::schema::Field,
        ids: &[String],
    ) -> Result<Vec<String>> {
        let (sql, column) = if super::migrate::is_linked(field) {
            let rel = super::migrate::link_table(&super::delivery_table(ct), &field.name);
            (
                format!("SELECT src FROM {} WHERE dst IN $ids", super::ident(&rel)?),
                "src",
            )
        } else {
            (
                format!(
                    "SELECT id FROM {} WHERE {} IN $ids",
                    super::ident(&super::entry_table(&ct.id))?,
                    super::ident(&field.name)?
                ),
                "id",
            )
        };
        let mut res = self.statement(sql).bind(("ids", ids.to_vec())).await?;
        super::fail_on_error(&mut res)?;
        let mut out: Vec<String> = take_rows(&mut res, 0)?
            .into_iter()
            .filter_map(|r| r.get(column).and_then(Value::as_str).map(super::record_key))
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }
}

fn work_statement(ct: &ContentType, ids: Vec<String>) -> (String, Vec<(String, Value)>) {
    (
        "CREATE type::record('folio_search_work', $search_key) CONTENT \
         { type: $search_type, ids: $search_ids, at: <string>time::now() } RETURN NONE;\n"
            .to_owned(),
        vec![
            ("search_key".into(), json!(ulid::Ulid::new().to_string())),
            ("search_type".into(), json!(ct.id)),
            ("search_ids".into(), json!(ids)),
        ],
    )
}

impl Store {
    /// The oldest recorded index work, up to `limit` records. (Not counted as a query: the
    /// indexer polls with it in the background.)
    pub async fn pending_search_work(&self, limit: usize) -> Result<Vec<SearchWork>> {
        let mut res = self
            .uncounted("SELECT * FROM folio_search_work ORDER BY id LIMIT $limit")
            .bind(("limit", limit as i64))
            .await?;
        super::fail_on_error(&mut res)?;
        Ok(take_rows(&mut res, 0)?
            .into_iter()
            .map(normalize_id)
            .map(|r| SearchWork {
                key: str_of(&r, "id"),
                type_id: str_of(&r, "type"),
                ids: r
                    .get("ids")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect())
    }

    /// Forgets work the index has committed.
    pub async fn finish_search_work(&self, keys: &[String]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let records: Vec<RecordId> = keys
            .iter()
            .map(|k| RecordId::new(WORK_TABLE, k.clone()))
            .collect();
        let mut res = self
            .statement("DELETE $records RETURN NONE")
            .bind(("records", records))
            .await?;
        super::fail_on_error(&mut res)
    }

    /// How much recorded work waits, and when the oldest was recorded.
    pub async fn search_backlog(&self) -> Result<(u64, Option<String>)> {
        let mut res = self
            .statement(
                "SELECT count() FROM folio_search_work GROUP ALL;
                 SELECT VALUE at FROM folio_search_work ORDER BY id LIMIT 1;",
            )
            .await?;
        let count = super::migrate::count_of(take_json(&mut res, 0)?);
        let oldest = match take_json(&mut res, 1)? {
            Value::Array(mut a) if !a.is_empty() => a.swap_remove(0).as_str().map(str::to_owned),
            _ => None,
        };
        Ok((count, oldest))
    }

    /// Up to `limit` rows of `table` with ids after `after`, in id order. Each call passes the
    /// rows before `after` again (see `walk_step`), so a walk takes large steps.
    pub async fn rows_after(
        &self,
        table: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Row>> {
        let mut res = super::walk_step(self, "*", table, after, limit).await?;
        super::fail_on_error(&mut res)?;
        Ok(take_rows(&mut res, 0)?
            .into_iter()
            .map(normalize_id)
            .collect())
    }
}

fn str_of(row: &Row, key: &str) -> String {
    row.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
