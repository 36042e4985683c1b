//! List queries: filters, sorts, offset and keyset pages, and totals, turned into SurrealQL
//! over the indexes `migrate` defines.
//!
//! Keyset pages avoid `OR` chains, which SurrealDB answers with a full scan: the page after a
//! cursor is read as (a) the rows tied with the cursor on the first sort key, then (b) the rows
//! strictly beyond it — two index range scans, each limited.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use surrealdb::types::RecordId;

use super::entries::Row;
use super::migrate::{count_of, is_linked, link_table};
use super::{Store, delivery_table, ident, record_key, take_json, take_rows};
use crate::error::{Error, Result, code};
use crate::query_model::{
    Filter, FilterTarget, FilterValue, MetaField, Op, Pagination, Sort, SortKey,
};
use crate::schema::{ContentType, Schema};

/// Most ids a filter on a related type's field may match; beyond it the request is refused
/// rather than turned into an unbounded `IN`.
const MAX_RELATED_MATCHES: usize = 1000;

/// Everything storage needs to read one page.
pub struct ListPlan<'a> {
    pub schema: &'a Schema,
    pub ct: &'a ContentType,
    pub table: String,
    pub filters: &'a [Filter],
    /// Never empty: the caller adds the type's default sort.
    pub sort: &'a [Sort],
    pub limit: u32,
    pub pagination: &'a Pagination,
    /// Locale whose value localised fields are filtered and sorted by.
    pub locale: Option<&'a str>,
    /// Count matching rows up to this many.
    pub max_count: u64,
    /// Only rows this actor created (an author's own entries).
    pub owner: Option<&'a str>,
    /// The admin view: filters on related entries' fields (`filter[tags.slug]`) read their
    /// working copies too, as the list does; otherwise only published ones.
    pub working_copies: bool,
}

pub struct ListResult {
    pub rows: Vec<Row>,
    pub total: Total,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Total {
    pub count: u64,
    /// More rows match than were counted; `count` is a lower bound.
    pub capped: bool,
}

/// The opaque cursor: the last row's sort values and id, and the sort it belongs to.
#[derive(Debug, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "s")]
    sort: String,
    #[serde(rename = "v")]
    values: Vec<Value>,
    id: String,
}

impl Cursor {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(token: &str, sort_sig: &str) -> Result<Cursor> {
        let invalid = || Error::InvalidQuery {
            code: code::INVALID_CURSOR,
            param: "cursor".into(),
            message: "the cursor is not valid for this list; start again without one".into(),
        };
        if token.len() > 4096 {
            return Err(invalid());
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if cursor.sort != sort_sig || cursor.id.len() > 64 {
            return Err(invalid());
        }
        Ok(cursor)
    }
}

/// A WHERE clause under construction with its bound parameters.
#[derive(Default)]
struct Clause {
    parts: Vec<String>,
    params: Vec<(String, Value)>,
    records: Vec<(String, RecordId)>,
    record_lists: Vec<(String, Vec<RecordId>)>,
}

impl Clause {
    fn param(&mut self, value: Value) -> String {
        let name = format!(
            "p{}",
            self.params.len() + self.records.len() + self.record_lists.len()
        );
        self.params.push((name.clone(), value));
        format!("${name}")
    }

    fn record(&mut self, table: &str, id: &str) -> String {
        let name = format!(
            "p{}",
            self.params.len() + self.records.len() + self.record_lists.len()
        );
        self.records
            .push((name.clone(), RecordId::new(table.to_owned(), id.to_owned())));
        format!("${name}")
    }

    fn record_list(&mut self, table: &str, ids: &[Value]) -> String {
        let name = format!(
            "p{}",
            self.params.len() + self.records.len() + self.record_lists.len()
        );
        let list = ids
            .iter()
            .filter_map(Value::as_str)
            .map(|id| RecordId::new(table.to_owned(), id.to_owned()))
            .collect();
        self.record_lists.push((name.clone(), list));
        format!("${name}")
    }

    fn sql(&self) -> String {
        if self.parts.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.parts.join(" AND "))
        }
    }

    fn bind<'q>(&self, mut q: super::Statement<'q>) -> super::Statement<'q> {
        for (k, v) in &self.params {
            q = q.bind((k.clone(), v.clone()));
        }
        for (k, v) in &self.records {
            q = q.bind((k.clone(), v.clone()));
        }
        for (k, v) in &self.record_lists {
            q = q.bind((k.clone(), v.clone()));
        }
        q
    }
}

/// Column expression for a meta field.
fn meta_column(m: &MetaField) -> &'static str {
    match m {
        MetaField::Id => "id",
        MetaField::CreatedAt => "created_at",
        MetaField::UpdatedAt => "updated_at",
        MetaField::PublishedAt => "published_at",
        MetaField::Status => "status",
    }
}

/// Column expression for a field, resolving localised fields to one locale's value. Another
/// locale than the default falls back to the default's value where it is empty, as delivery
/// does, so that lists filter and sort by the values they show.
fn field_column(ct: &ContentType, name: &str, locale: Option<&str>) -> Result<String> {
    let col = ident(name)?;
    match ct.field(name) {
        Some(f) if f.localized => {
            let default = ct.default_locale().unwrap_or("en");
            let loc = locale.unwrap_or(default);
            for l in [loc, default] {
                if !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    return Err(Error::internal("bad locale"));
                }
            }
            if loc == default {
                Ok(format!("{col}.`{loc}`"))
            } else {
                // `?:` takes the first truthy value: "" and NONE both fall back.
                Ok(format!("({col}.`{loc}` ?: {col}.`{default}`)"))
            }
        }
        _ => Ok(col),
    }
}

impl Store {
    /// Reads one page of `plan.table`, and the total of rows matching its filters.
    pub async fn list(&self, plan: &ListPlan<'_>) -> Result<ListResult> {
        if plan.table == delivery_table(plan.ct)
            && plan.owner.is_none()
            && let Some((field, dst)) = self.linked_filter(plan).await?
        {
            return self.list_linked(plan, &field, dst).await;
        }
        let mut clause = Clause::default();
        for filter in plan.filters {
            let part = self
                .condition(
                    plan.schema,
                    plan.ct,
                    &plan.table,
                    filter,
                    (plan.locale, plan.working_copies, plan.owner),
                    &mut clause,
                )
                .await?;
            clause.parts.push(part);
        }
        if let Some(owner) = plan.owner {
            let p = clause.param(Value::String(owner.to_owned()));
            clause.parts.push(format!("created_by = {p}"));
        }
        let t = ident(&plan.table)?;
        let mut order = Vec::new();
        let mut sort_cols = Vec::new();
        for (i, s) in plan.sort.iter().enumerate() {
            let col = match &s.key {
                SortKey::Meta(m) => meta_column(m).to_owned(),
                SortKey::Field(f) => field_column(plan.ct, f, plan.locale)?,
            };
            // ORDER BY takes selected names, not expressions: a nested path or a locale
            // fallback is selected under an alias (below) and ordered by that.
            let key = if col.contains('.') {
                format!("__sort{i}")
            } else {
                col.clone()
            };
            order.push(format!("{key} {}", if s.desc { "DESC" } else { "ASC" }));
            sort_cols.push((col, s.desc));
        }
        let first_desc = plan.sort.first().is_some_and(|s| s.desc);
        order.push(format!("id {}", if first_desc { "DESC" } else { "ASC" }));
        let order_sql = order.join(", ");
        let sort_sig = plan
            .sort
            .iter()
            .zip(&sort_cols)
            .map(|(s, (c, _))| format!("{}{c}", if s.desc { "-" } else { "" }))
            .collect::<Vec<_>>()
            .join(",");
        let limit = plan.limit as usize;
        // Sort values on nested paths (one locale of a field) are selected under aliases so a
        // cursor can be built from the last row; plain columns are read as they are.
        let sort_aliases: String = sort_cols
            .iter()
            .enumerate()
            .filter(|(_, (c, _))| c.contains('.'))
            .map(|(i, (c, _))| format!(", {c} AS __sort{i}"))
            .collect();
        let select = format!("SELECT *{sort_aliases} FROM {t}");
        let count_sql = if clause.parts.is_empty() {
            // Answered from the table's count index (see migrate), not by reading the rows.
            format!("SELECT count() FROM {t} GROUP ALL")
        } else {
            format!(
                "SELECT count() FROM (SELECT id FROM {t}{} LIMIT {}) GROUP ALL",
                clause.sql(),
                plan.max_count + 1
            )
        };
        // A total counted before, with no write since, is reused; the statement stays in the
        // script (as a no-op) so result positions do not move.
        let count_key = format!(
            "{count_sql}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}",
            clause.params, clause.records, clause.record_lists
        );
        let (cached_total, generation) = self.cached_total(&plan.table, &count_key);
        let count_sql = if cached_total.is_some() {
            "RETURN NONE".to_owned()
        } else {
            count_sql
        };

        let (rows, count_json) = match plan.pagination {
            Pagination::Page(page) => {
                let start = u64::from(page.saturating_sub(1)) * limit as u64;
                let sql = format!(
                    "{select}{} ORDER BY {order_sql} LIMIT {} START {start}; {count_sql};",
                    clause.sql(),
                    limit
                );
                let mut res = clause.bind(self.statement(sql)).await?;
                super::fail_on_error(&mut res)?;
                (take_rows(&mut res, 0)?, take_json(&mut res, 1)?)
            }
            Pagination::Cursor(token) => {
                let token = token.as_deref().filter(|t| !t.is_empty());
                match token {
                    None => {
                        let sql = format!(
                            "{select}{} ORDER BY {order_sql} LIMIT {}; {count_sql};",
                            clause.sql(),
                            limit + 1
                        );
                        let mut res = clause.bind(self.statement(sql)).await?;
                        super::fail_on_error(&mut res)?;
                        (take_rows(&mut res, 0)?, take_json(&mut res, 1)?)
                    }
                    Some(token) => {
                        let cursor = Cursor::decode(token, &sort_sig)?;
                        if cursor.values.len() != sort_cols.len() {
                            return Err(Error::InvalidQuery {
                                code: code::INVALID_CURSOR,
                                param: "cursor".into(),
                                message: "the cursor is not valid for this list".into(),
                            });
                        }
                        self.after_cursor(
                            &plan.table,
                            &select,
                            &clause,
                            &sort_cols,
                            &cursor,
                            &order_sql,
                            limit,
                            &count_sql,
                        )
                        .await?
                    }
                }
            }
        };
        let mut rows: Vec<Row> = rows;
        let mut next_cursor = None;
        if matches!(plan.pagination, Pagination::Cursor(_)) && rows.len() > limit {
            rows.truncate(limit);
            if let Some(last) = rows.last() {
                let values = sort_cols
                    .iter()
                    .enumerate()
                    .map(|(i, (c, _))| {
                        let key = if c.contains('.') {
                            format!("__sort{i}")
                        } else {
                            c.trim_matches('`').to_owned()
                        };
                        match last.get(&key) {
                            Some(Value::String(id)) if key == "id" => Value::String(record_key(id)),
                            Some(v) => v.clone(),
                            None => Value::Null,
                        }
                    })
                    .collect();
                let id = last
                    .get("id")
                    .and_then(Value::as_str)
                    .map(record_key)
                    .unwrap_or_default();
                next_cursor = Some(
                    Cursor {
                        sort: sort_sig.clone(),
                        values,
                        id,
                    }
                    .encode(),
                );
            }
        }
        let rows = rows
            .into_iter()
            .map(|mut r| {
                r.retain(|k, _| !k.starts_with("__sort"));
                if let Some(Value::String(id)) = r.get("id") {
                    let key = record_key(id);
                    r.insert("id".into(), Value::String(key));
                }
                r
            })
            .collect();
        let counted = match cached_total {
            Some(n) => n,
            None => {
                let n = count_of(count_json);
                self.store_total(&plan.table, count_key, generation, n);
                n
            }
        };
        let capped = !plan.filters.is_empty() && counted > plan.max_count;
        Ok(ListResult {
            rows,
            total: Total {
                count: counted.min(if capped { plan.max_count } else { u64::MAX }),
                capped,
            },
            next_cursor,
        })
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the pieces of one query, built by `list`"
    )]
    async fn after_cursor(
        &self,
        table: &str,
        select: &str,
        clause: &Clause,
        sort_cols: &[(String, bool)],
        cursor: &Cursor,
        order_sql: &str,
        limit: usize,
        count_sql: &str,
    ) -> Result<(Vec<Row>, Value)> {
        // (a) rows tied with the cursor on the first key, after it on the rest and the id.
        let mut tied = Clause {
            parts: clause.parts.clone(),
            params: clause.params.clone(),
            records: clause.records.clone(),
            record_lists: clause.record_lists.clone(),
        };
        // A row without a value stores NONE, which the cursor carries as JSON null; bound as
        // it is, null would be a different value (NONE = NULL is false) and the walk would
        // repeat or skip the rows without one.
        // A sort on `id` compares record ids, so its cursor value binds as one.
        let value = |clause: &mut Clause, col: &str, v: &Value| match v {
            Value::Null => "NONE".to_owned(),
            Value::String(id) if col == "id" => clause.record(table, id),
            _ => clause.param(v.clone()),
        };
        let (first_col, first_desc) = &sort_cols[0];
        let first = value(&mut tied, first_col, &cursor.values[0]);
        tied.parts.push(format!("{first_col} = {first}"));
        let mut rest = Vec::new();
        // Within the tie: later keys then id, as a (small) OR chain over the tied rows only.
        let mut eq_prefix: Vec<String> = Vec::new();
        for (i, (col, desc)) in sort_cols.iter().enumerate().skip(1) {
            let p = value(&mut tied, col, &cursor.values[i]);
            let cmp = if *desc { "<" } else { ">" };
            let mut terms = eq_prefix.clone();
            terms.push(format!("{col} {cmp} {p}"));
            rest.push(format!("({})", terms.join(" AND ")));
            eq_prefix.push(format!("{col} = {p}"));
        }
        let rid = tied.record(table, &cursor.id);
        let id_cmp = if *first_desc { "<" } else { ">" };
        let mut terms = eq_prefix;
        terms.push(format!("id {id_cmp} {rid}"));
        rest.push(format!("({})", terms.join(" AND ")));
        tied.parts.push(format!("({})", rest.join(" OR ")));

        // (b) rows strictly beyond the cursor on the first key.
        let mut beyond = Clause {
            parts: clause.parts.clone(),
            params: Vec::new(),
            records: Vec::new(),
            record_lists: Vec::new(),
        };
        // Parameter names must not clash with `tied`'s, so (b) reuses (a)'s bindings.
        beyond.params = tied.params.clone();
        beyond.records = tied.records.clone();
        beyond.record_lists = tied.record_lists.clone();
        let cmp = if *first_desc { "<" } else { ">" };
        beyond.parts.push(format!("{first_col} {cmp} {first}"));

        let sql = format!(
            "{select}{} ORDER BY {order_sql} LIMIT {n}; {select}{} ORDER BY {order_sql} LIMIT {n}; {count_sql};",
            tied.sql(),
            beyond.sql(),
            n = limit + 1
        );
        let mut res = tied.bind(self.statement(sql)).await?;
        super::fail_on_error(&mut res)?;
        let mut rows = take_rows(&mut res, 0)?;
        rows.extend(take_rows(&mut res, 1)?);
        rows.truncate(limit + 1);
        Ok((rows, take_json(&mut res, 2)?))
    }

    /// The ids of the related entries a nested filter (`filter[tags.slug][eq]=rust`) matches,
    /// from one bounded query on the related type's delivery table (its entry table, with
    /// drafts, for `working_copies`).
    async fn related_ids(
        &self,
        schema: &Schema,
        filter: &Filter,
        field: &str,
        target_type: &str,
        inner: &FilterTarget,
        (locale, working_copies, owner): (Option<&str>, bool, Option<&str>),
    ) -> Result<Vec<Value>> {
        let target = schema
            .get(target_type)
            .ok_or_else(|| Error::TypeNotFound(target_type.to_owned()))?;
        let target_table = if working_copies {
            super::entry_table(&target.id)
        } else {
            delivery_table(target)
        };
        let inner_filter = Filter {
            target: inner.clone(),
            op: filter.op,
            value: filter.value.clone(),
        };
        let mut sub = Clause::default();
        let cond = Box::pin(self.condition(
            schema,
            target,
            &target_table,
            &inner_filter,
            (locale, working_copies, owner),
            &mut sub,
        ))
        .await?;
        sub.parts.push(cond);
        // A role limited to its own entries matches only its own among the related ones too:
        // a filter on the others' fields would read what it may not.
        if working_copies && let Some(owner) = owner {
            let p = sub.param(Value::String(owner.to_owned()));
            sub.parts.push(format!("created_by = {p}"));
        }
        let sql = format!(
            "SELECT VALUE id FROM {}{} LIMIT {}",
            ident(&target_table)?,
            sub.sql(),
            MAX_RELATED_MATCHES + 1
        );
        let mut res = sub.bind(self.statement(sql)).await?;
        super::fail_on_error(&mut res)?;
        let ids: Vec<Value> = match take_json(&mut res, 0)? {
            Value::Array(a) => a
                .into_iter()
                .filter_map(|v| v.as_str().map(|s| Value::String(record_key(s))))
                .collect(),
            _ => Vec::new(),
        };
        if ids.len() > MAX_RELATED_MATCHES {
            return Err(Error::InvalidQuery {
                code: code::FILTER_TOO_BROAD,
                param: "filter".into(),
                message: format!(
                    "the filter on `{field}` matches more than {MAX_RELATED_MATCHES} \
                     related entries; narrow it"
                ),
            });
        }
        Ok(ids)
    }

    /// The one related entry a lone many-relation filter names, when the list can be read
    /// from that field's link table: sorted by `published_at` only. `Some((field, None))`
    /// means the filter matches no related entry at all.
    async fn linked_filter(&self, plan: &ListPlan<'_>) -> Result<Option<(String, Option<String>)>> {
        let ([filter], [sort]) = (plan.filters, plan.sort) else {
            return Ok(None);
        };
        if sort.key != SortKey::Meta(MetaField::PublishedAt) {
            return Ok(None);
        }
        let linked = |name: &str| plan.ct.field(name).is_some_and(is_linked);
        match (&filter.target, filter.op, &filter.value) {
            (
                FilterTarget::Field(name),
                Op::Contains | Op::Eq,
                FilterValue::One(Value::String(id)),
            ) if linked(name) => Ok(Some((name.clone(), Some(id.clone())))),
            (
                FilterTarget::Related {
                    field,
                    target_type,
                    inner,
                    ..
                },
                _,
                _,
            ) if linked(field) => {
                let ids = self
                    .related_ids(
                        plan.schema,
                        filter,
                        field,
                        target_type,
                        inner,
                        (plan.locale, plan.working_copies, plan.owner),
                    )
                    .await?;
                match ids.as_slice() {
                    [] => Ok(Some((field.clone(), None))),
                    [Value::String(id)] => Ok(Some((field.clone(), Some(id.clone())))),
                    _ => Ok(None),
                }
            }
            _ => Ok(None),
        }
    }

    /// A page of the entries related to `dst`, newest (or oldest) first, read through the
    /// link table: one index range for the ids, one batched read for the rows, and an index
    /// count for the total.
    async fn list_linked(
        &self,
        plan: &ListPlan<'_>,
        field: &str,
        dst: Option<String>,
    ) -> Result<ListResult> {
        let desc = plan.sort.first().is_some_and(|s| s.desc);
        let sort_sig = format!("{}published_at", if desc { "-" } else { "" });
        let limit = plan.limit as usize;
        let empty = ListResult {
            rows: Vec::new(),
            total: Total {
                count: 0,
                capped: false,
            },
            next_cursor: None,
        };
        let Some(dst) = dst else {
            return Ok(empty);
        };
        let rel = ident(&link_table(&plan.table, field))?;
        let order = if desc { "DESC" } else { "ASC" };
        let count_key = format!("{rel}\u{1f}{dst}");
        let (cached_total, generation) = self.cached_total(&plan.table, &count_key);
        let count_sql = match cached_total {
            Some(_) => "RETURN NONE".to_owned(),
            None => format!("SELECT count() FROM {rel} WHERE dst = $dst GROUP ALL"),
        };
        let (range, fetch, start, after) = match plan.pagination {
            Pagination::Page(page) => (
                String::new(),
                limit,
                u64::from(page.saturating_sub(1)) * limit as u64,
                None,
            ),
            Pagination::Cursor(token) => match token.as_deref().filter(|t| !t.is_empty()) {
                None => (String::new(), limit + 1, 0, None),
                Some(token) => {
                    let cursor = Cursor::decode(token, &sort_sig)?;
                    let at = match cursor.values.as_slice() {
                        [Value::String(published_at)] => format!("{published_at}|{}", cursor.id),
                        _ => {
                            return Err(Error::InvalidQuery {
                                code: code::INVALID_CURSOR,
                                param: "cursor".into(),
                                message: "the cursor is not valid for this list".into(),
                            });
                        }
                    };
                    let cmp = if desc { "<" } else { ">" };
                    (format!(" AND at {cmp} $after"), limit + 1, 0, Some(at))
                }
            },
        };
        let sql = format!(
            "SELECT VALUE src FROM {rel} WHERE dst = $dst{range} ORDER BY at {order} \
             LIMIT {fetch} START {start}; {count_sql};"
        );
        let mut res = self
            .statement(sql)
            .bind(("dst", dst))
            .bind(("after", after))
            .await?;
        super::fail_on_error(&mut res)?;
        let ids: Vec<String> = match take_json(&mut res, 0)? {
            Value::Array(a) => a
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        let total = match cached_total {
            Some(n) => n,
            None => {
                let n = count_of(take_json(&mut res, 1)?);
                self.store_total(&plan.table, count_key, generation, n);
                n
            }
        };
        let mut by_id: std::collections::HashMap<String, Row> = self
            .get_rows(&plan.table, &ids)
            .await?
            .into_iter()
            .filter_map(|r| {
                let id = r.get("id").and_then(Value::as_str)?.to_owned();
                Some((id, r))
            })
            .collect();
        let mut rows: Vec<Row> = ids.iter().filter_map(|id| by_id.remove(id)).collect();
        let mut next_cursor = None;
        if matches!(plan.pagination, Pagination::Cursor(_)) && rows.len() > limit {
            rows.truncate(limit);
            if let Some(last) = rows.last() {
                next_cursor = Some(
                    Cursor {
                        sort: sort_sig,
                        values: vec![last.get("published_at").cloned().unwrap_or(Value::Null)],
                        id: last
                            .get("id")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    }
                    .encode(),
                );
            }
        }
        Ok(ListResult {
            rows,
            total: Total {
                count: total,
                capped: false,
            },
            next_cursor,
        })
    }

    /// One filter as a SurrealQL condition. A filter on a related type's field is resolved to
    /// the matching ids first (one query, bounded), then becomes a membership test.
    async fn condition(
        &self,
        schema: &Schema,
        ct: &ContentType,
        table: &str,
        filter: &Filter,
        (locale, working_copies, owner): (Option<&str>, bool, Option<&str>),
        clause: &mut Clause,
    ) -> Result<String> {
        match &filter.target {
            FilterTarget::Related {
                field,
                target_type,
                many,
                inner,
            } => {
                let ids = self
                    .related_ids(
                        schema,
                        filter,
                        field,
                        target_type,
                        inner,
                        (locale, working_copies, owner),
                    )
                    .await?;
                let col = ident(field)?;
                let p = clause.param(Value::Array(ids));
                Ok(if *many {
                    format!("{col} CONTAINSANY {p}")
                } else {
                    format!("{col} IN {p}")
                })
            }
            FilterTarget::Meta(MetaField::Id) => {
                let col = "id";
                Ok(match (&filter.op, &filter.value) {
                    (Op::Exists, FilterValue::Exists(e)) => {
                        if *e {
                            "true".into()
                        } else {
                            "false".into()
                        }
                    }
                    (Op::In | Op::Nin, FilterValue::Many(values)) => {
                        let p = clause.record_list(table, values);
                        let not = if matches!(filter.op, Op::Nin) {
                            "NOT "
                        } else {
                            ""
                        };
                        format!("{col} {not}IN {p}")
                    }
                    (op, FilterValue::One(Value::String(id))) => {
                        let p = clause.record(table, id);
                        format!("{col} {} {p}", comparison(op)?)
                    }
                    _ => return Err(Error::internal("id filter shape")),
                })
            }
            FilterTarget::Meta(m) => scalar_condition(meta_column(m), filter, clause),
            FilterTarget::Field(name) => {
                let col = field_column(ct, name, locale)?;
                let many = ct.field(name).is_some_and(|f| {
                    matches!(
                        f.ty,
                        crate::schema::FieldType::Relation { many: true, .. }
                            | crate::schema::FieldType::Media { many: true, .. }
                    )
                });
                if many {
                    return Ok(match (&filter.op, &filter.value) {
                        (Op::Contains | Op::Eq, FilterValue::One(v)) => {
                            let p = clause.param(v.clone());
                            format!("{col} CONTAINS {p}")
                        }
                        (Op::Ne, FilterValue::One(v)) => {
                            let p = clause.param(v.clone());
                            format!("{col} CONTAINSNOT {p}")
                        }
                        (Op::In, FilterValue::Many(v)) => {
                            let p = clause.param(Value::Array(v.clone()));
                            format!("{col} CONTAINSANY {p}")
                        }
                        (Op::Nin, FilterValue::Many(v)) => {
                            let p = clause.param(Value::Array(v.clone()));
                            format!("{col} CONTAINSNONE {p}")
                        }
                        (Op::Exists, FilterValue::Exists(true)) => {
                            format!("array::len({col} ?? []) > 0")
                        }
                        (Op::Exists, FilterValue::Exists(false)) => {
                            format!("array::len({col} ?? []) = 0")
                        }
                        _ => return Err(Error::internal("many-relation filter shape")),
                    });
                }
                scalar_condition(&col, filter, clause)
            }
        }
    }
}

fn comparison(op: &Op) -> Result<&'static str> {
    Ok(match op {
        Op::Eq => "=",
        Op::Ne => "!=",
        Op::Lt => "<",
        Op::Lte => "<=",
        Op::Gt => ">",
        Op::Gte => ">=",
        _ => return Err(Error::internal("not a comparison")),
    })
}

fn scalar_condition(col: &str, filter: &Filter, clause: &mut Clause) -> Result<String> {
    Ok(match (&filter.op, &filter.value) {
        (Op::Exists, FilterValue::Exists(true)) => format!("{col} != NONE"),
        (Op::Exists, FilterValue::Exists(false)) => format!("{col} = NONE"),
        (Op::In, FilterValue::Many(v)) => {
            let p = clause.param(Value::Array(v.clone()));
            format!("{col} IN {p}")
        }
        (Op::Nin, FilterValue::Many(v)) => {
            let p = clause.param(Value::Array(v.clone()));
            format!("{col} NOT IN {p}")
        }
        (Op::Contains, FilterValue::One(v)) => {
            let p = clause.param(json!(v.as_str().unwrap_or_default().to_lowercase()));
            format!("string::contains(string::lowercase({col} ?? ''), {p})")
        }
        (Op::StartsWith, FilterValue::One(v)) => {
            let p = clause.param(v.clone());
            format!("string::starts_with({col} ?? '', {p})")
        }
        (op, FilterValue::One(v)) => {
            let p = clause.param(v.clone());
            format!("{col} {} {p}", comparison(op)?)
        }
        _ => return Err(Error::internal("filter shape")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_tampering() {
        let c = Cursor {
            sort: "-published_at".into(),
            values: vec![json!("2024-01-01T00:00:00.000Z")],
            id: "01HZX".into(),
        };
        let token = c.encode();
        let back = Cursor::decode(&token, "-published_at").unwrap();
        assert_eq!(back.id, "01HZX");
        assert!(Cursor::decode(&token, "title").is_err());
        assert!(Cursor::decode("not base64 !!", "-published_at").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode(b"{}"), "x").is_err());
    }
}
