//! The reads that feed the search indexer: which types it follows, the entries that point at
//! a changed one, and walks over whole tables for rebuilds. What changed it reads from the
//! change-event log (`events.rs`).

use serde_json::Value;

use super::entries::{Row, normalize_id};
use super::{Store, take_rows};
use crate::error::Result;
use crate::schema::ContentType;

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

    /// Whether the search index follows the writes to entries of `type_id`.
    pub fn is_indexed(&self, type_id: &str) -> bool {
        self.indexed_types
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(type_id)
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

impl Store {
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
