//! Storage: the only module that writes SurrealQL.
//!
//! It owns the connection (embedded SurrealKV, `mem://`, or a `ws://` server), the database
//! layout derived from the content types (see [`layout`]), schema migrations applied at
//! start-up, and the queries behind entries and lists. Every value reaches SurrealDB as a
//! bound parameter; identifiers spliced into query text come only from validated content-type
//! files (never from a request), and go through [`ident`].
//!
//! Layout, per content type `T`:
//! - `entry_T`: every entry's working copy (the draft, for types with drafts) and metadata;
//! - `published_T`: the published snapshots, for types with `drafts = true` (for the others
//!   the delivery API reads `entry_T` directly, every saved entry being published).
//!
//! Fields sit at the top level of a row beside the metadata columns (`version`, `status`,
//! `created_at`, ...), whose names content types may not use. Datetimes are stored as RFC 3339
//! UTC strings of fixed width, so string order is time order; relations as entry id strings.
//! Absent values are stored as NONE, never NULL.

pub mod accounts;
pub mod audit;
mod entries;
pub mod events;
mod list;
pub mod mail;
mod media;
mod migrate;
mod search;

use std::collections::HashMap;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use surrealdb::engine::any::{self, Any};
use surrealdb::engine::local::Db;
use surrealdb::method::IntoVariables;
use surrealdb::opt::auth::Root;
use surrealdb::types::{Object, Variables};
use surrealdb::{IndexedResults, Surreal};

use crate::config::Config;
use crate::error::{Error, Result};

pub use entries::{Row, Snapshot, WriteOutcome};
pub use list::{Cursor, ListPlan, ListResult, Total};
pub use media::{MEDIA_TABLE, MediaFilter};
pub use migrate::{Change, Plan};

tokio::task_local! {
    static IN_REQUEST: ();
}

/// Runs `work` (the handling of one HTTP request) so that the queries it sends are counted.
pub async fn counting_queries<F: Future>(work: F) -> F::Output {
    IN_REQUEST.scope((), work).await
}

/// A handle on the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Connection>,
    /// Counts the queries requests send (see [`counting_queries`]), so tests can check that
    /// list pages batch their reads and cached answers send none.
    queries: Arc<std::sync::atomic::AtomicU64>,
    /// The SurrealKV directory, when the database is embedded on disk.
    path: Option<std::path::PathBuf>,
    /// List totals already counted, per table, until the next write to that table.
    totals: Arc<std::sync::Mutex<Totals>>,
    /// Counts writes, so caches of what was read can tell they are stale.
    changes: Arc<std::sync::atomic::AtomicU64>,
    /// Woken after every write that recorded search index work.
    search_wake: Arc<tokio::sync::Notify>,
    /// Types whose writes record search index work.
    indexed_types: Arc<std::sync::RwLock<std::collections::HashSet<String>>>,
    /// Held while this process chains audit records: its reader of the change-event log
    /// (made at the first chaining, and again after a chaining failed).
    chaining: Arc<tokio::sync::Mutex<Option<events::EventReader>>>,
    /// Set once this process looked for records a crash took out of the audit chain.
    audit_checked: Arc<std::sync::atomic::AtomicBool>,
    /// Woken after every write, for the task that chains its audit record.
    audit_wake: Arc<tokio::sync::Notify>,
    /// Moves when what callers may see changes without a content write (a custom role
    /// redefined, the layout migrated).
    policy_changes: Arc<std::sync::atomic::AtomicU64>,
    /// This server process's name in the change-event log (a ULID made when it connected).
    node: Arc<str>,
}

/// The database: an engine in this process (SurrealKV on disk, or memory), or a SurrealDB
/// server.
enum Connection {
    Embedded(Surreal<Db>),
    Server(Surreal<Any>),
}

/// One request to the database: SurrealQL and the values bound to its parameters, sent when
/// awaited.
pub(crate) struct Statement<'a> {
    db: &'a Connection,
    sql: String,
    vars: surrealdb::Result<Variables>,
}

impl Statement<'_> {
    /// Binds values to parameters: `("name", value)`, or an object of them.
    pub(crate) fn bind(mut self, vars: impl IntoVariables) -> Self {
        self.vars = match (self.vars, vars.into_variables()) {
            (Ok(mut all), Ok(more)) => {
                all.extend(more);
                Ok(all)
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        self
    }
}

impl<'a> IntoFuture for Statement<'a> {
    type Output = surrealdb::Result<IndexedResults>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            // Handed over as one object: the SDK takes it back as the same variables.
            let vars: Object = self.vars?.into_iter().collect();
            match self.db {
                Connection::Embedded(db) => db.query(self.sql).bind(vars).await,
                Connection::Server(db) => db.query(self.sql).bind(vars).await,
            }
        })
    }
}

/// Counting matching rows is the costly part of a list page; a total stays valid until the
/// table changes, and every write to a table goes through this module, so totals are kept
/// per table and dropped on each write. (With several nodes sharing one database, each
/// node's writes only clear its own cache: see the note in ARCHITECTURE.md.)
#[derive(Default)]
struct Totals {
    /// Bumped on every write to the table; a count started under an older generation is not
    /// kept.
    generation: std::collections::HashMap<String, u64>,
    counts: std::collections::HashMap<String, std::collections::HashMap<String, u64>>,
    /// Table → row id → whether the row exists, as last read (see
    /// [`Store::existing_ids_remembered`]).
    rows: std::collections::HashMap<String, std::collections::HashMap<String, bool>>,
    /// Table → for each bucket of entry ids, the change count ([`Store::change_count`]) at
    /// the last mark of a write to an entry in it; a write to the table as a whole marks every
    /// bucket (see [`Store::entry_mark`]).
    entry_marks: HashMap<String, Vec<u64>>,
}

/// Buckets of entry ids per table for [`Store::entry_mark`]: two entries in one bucket only
/// make a cached response of one go with a write to the other.
const ENTRY_BUCKETS: usize = 1024;

fn entry_bucket(id: &str) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    id.hash(&mut h);
    (h.finish() % ENTRY_BUCKETS as u64) as usize
}

/// Most totals kept per table before the table's cache is cleared.
const MAX_TOTALS_PER_TABLE: usize = 1024;
/// Most row answers kept per table before they are cleared.
const MAX_ROWS_PER_TABLE: usize = 50_000;

impl Store {
    /// Connects to the configured database and selects the namespace and database.
    pub async fn connect(config: &Config) -> Result<Store> {
        let url = config.database_url();
        let path = url
            .strip_prefix("surrealkv://")
            .map(std::path::PathBuf::from);
        if let Some(path) = &path {
            std::fs::create_dir_all(path)?;
        }
        let db = if url.starts_with("ws://") || url.starts_with("wss://") {
            let db = any::connect(url.as_str()).await?;
            if let (Some(user), Some(pass)) = (&config.database_username, &config.database_password)
            {
                db.signin(Root {
                    username: user.clone(),
                    password: pass.clone(),
                })
                .await?;
            }
            db.use_ns(config.database_namespace.as_str())
                .use_db(config.database_name.as_str())
                .await?;
            Connection::Server(db)
        } else {
            let db = open_embedded(
                &url,
                config.database_cache_mib,
                config.database_write_buffer_mib,
            )
            .await?;
            db.use_ns(config.database_namespace.as_str())
                .use_db(config.database_name.as_str())
                .await?;
            Connection::Embedded(db)
        };
        Ok(Store {
            db: Arc::new(db),
            queries: Arc::default(),
            path,
            totals: Arc::default(),
            changes: Arc::default(),
            search_wake: Arc::default(),
            indexed_types: Arc::default(),
            chaining: Arc::default(),
            audit_checked: Arc::default(),
            audit_wake: Arc::default(),
            policy_changes: Arc::default(),
            node: ulid::Ulid::new().to_string().into(),
        })
    }

    /// Whether the database is in this process (then no other process writes to it).
    pub(crate) fn is_embedded(&self) -> bool {
        matches!(*self.db, Connection::Embedded(_))
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        self.uncounted("RETURN true").await.is_ok()
    }

    /// The number of queries requests have sent so far.
    pub fn query_count(&self) -> u64 {
        self.queries.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The cached total for `key` on `table`, with the generation to store a fresh one under.
    fn cached_total(&self, table: &str, key: &str) -> (Option<u64>, u64) {
        let totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        let generation = totals.generation.get(table).copied().unwrap_or(0);
        let hit = totals.counts.get(table).and_then(|m| m.get(key)).copied();
        (hit, generation)
    }

    /// Of `ids`, those known to exist in `table` and those not known either way, with the
    /// generation to remember fresh answers under.
    fn remembered_rows(&self, table: &str, ids: &[String]) -> (Vec<String>, Vec<String>, u64) {
        let totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        let generation = totals.generation.get(table).copied().unwrap_or(0);
        let known = totals.rows.get(table);
        let (mut present, mut unknown) = (Vec::new(), Vec::new());
        for id in ids {
            match known.and_then(|m| m.get(id)) {
                Some(true) => present.push(id.clone()),
                Some(false) => {}
                None => unknown.push(id.clone()),
            }
        }
        (present, unknown, generation)
    }

    fn remember_rows(&self, table: &str, generation: u64, asked: &[String], present: &[String]) {
        let mut totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        if totals.generation.get(table).copied().unwrap_or(0) != generation {
            return;
        }
        let map = totals.rows.entry(table.to_owned()).or_default();
        if map.len() + asked.len() > MAX_ROWS_PER_TABLE {
            map.clear();
        }
        for id in asked {
            map.insert(id.clone(), present.contains(id));
        }
    }

    fn store_total(&self, table: &str, key: String, generation: u64, count: u64) {
        let mut totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        if totals.generation.get(table).copied().unwrap_or(0) != generation {
            return;
        }
        let map = totals.counts.entry(table.to_owned()).or_default();
        if map.len() >= MAX_TOTALS_PER_TABLE {
            map.clear();
        }
        map.insert(key, count);
    }

    /// Marks `tables` as changing: their totals are forgotten and the change count moves,
    /// now and again when the returned guard is dropped, after the write. Anything read while
    /// the write runs (it may or may not see it) is thereby kept under a count that is already
    /// gone: read after the first mark, a response cached under it would otherwise be served
    /// as current until the next write (an unpublished entry, say, still delivered).
    pub(crate) fn invalidate(&self, tables: &[&str]) -> Changing<'_> {
        self.mark_changing(tables, None);
        Changing {
            store: self,
            tables: tables.iter().map(|t| (*t).to_owned()).collect(),
            entry: None,
        }
    }

    /// [`Store::invalidate`] for a write to the one entry `id` of `ct`: its tables' counts
    /// move (lists may change), but of the responses showing one entry only those of this
    /// entry go ([`Store::entry_mark`]).
    pub(crate) fn invalidate_entry(
        &self,
        ct: &crate::schema::ContentType,
        id: &str,
    ) -> Changing<'_> {
        let tables = [entry_table(&ct.id), delivery_table(ct)];
        let entry = (delivery_table(ct), id.to_owned());
        self.mark_changing(&[&tables[0], &tables[1]], Some((&entry.0, &entry.1)));
        Changing {
            store: self,
            tables: tables.into(),
            entry: Some(entry),
        }
    }

    /// Marks `tables` changed and, for a write to one entry, its bucket of `entry`'s table;
    /// without one, every bucket of `tables`.
    fn mark_changing(&self, tables: &[&str], entry: Option<(&str, &str)>) {
        let seq = self
            .changes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        let mut totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        for t in tables {
            *totals.generation.entry((*t).to_owned()).or_default() += 1;
            totals.counts.remove(*t);
            totals.rows.remove(*t);
        }
        fn marks<'m>(all: &'m mut HashMap<String, Vec<u64>>, table: &str) -> &'m mut Vec<u64> {
            all.entry(table.to_owned())
                .or_insert_with(|| vec![0; ENTRY_BUCKETS])
        }
        match entry {
            Some((table, id)) => marks(&mut totals.entry_marks, table)[entry_bucket(id)] = seq,
            None => {
                for t in tables {
                    marks(&mut totals.entry_marks, t).fill(seq);
                }
            }
        }
    }

    /// The change count at the last write that may have changed entry `id` of `table`: a
    /// response showing that one entry, read after [`Store::change_count`] said `c`, is
    /// current while this stays the same, and only if it was not above `c` once read.
    pub fn entry_mark(&self, table: &str, id: &str) -> u64 {
        let totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        totals
            .entry_marks
            .get(table)
            .map_or(0, |m| m[entry_bucket(id)])
    }

    fn invalidate_all(&self) {
        let seq = self
            .changes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        self.policy_changed();
        let mut totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        let tables: Vec<String> = totals.generation.keys().cloned().collect();
        for t in tables {
            *totals.generation.entry(t).or_default() += 1;
        }
        totals.counts.clear();
        totals.rows.clear();
        for marks in totals.entry_marks.values_mut() {
            marks.fill(seq);
        }
    }

    /// This server process's name in the change-event log.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Notes that what callers may see changed without a content write (a custom role
    /// redefined): everything read before may be stale.
    pub fn policy_changed(&self) {
        self.policy_changes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Notes that entries of `type_id` changed elsewhere (another node, as the change-event
    /// log tells), so what was read of them here may be stale.
    pub fn changed_elsewhere(&self, ct: &crate::schema::ContentType, id: Option<&str>) {
        let delivery = delivery_table(ct);
        self.mark_changing(
            &[&entry_table(&ct.id), &delivery],
            id.map(|id| (delivery.as_str(), id)),
        );
    }

    /// Notes that media changed elsewhere (see [`Store::changed_elsewhere`]).
    pub fn media_changed_elsewhere(&self) {
        self.mark_changing(&[media::MEDIA_TABLE], None);
    }

    /// The change counts of `tables`, after the policy's: a response read under them is
    /// current while they stay the same. (Each moves before and after every write to its
    /// table, as [`Store::change_count`] does for all of them.)
    pub fn generations(&self, tables: &[String]) -> Vec<u64> {
        let totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        std::iter::once(
            self.policy_changes
                .load(std::sync::atomic::Ordering::SeqCst),
        )
        .chain(
            tables
                .iter()
                .map(|t| totals.generation.get(t).copied().unwrap_or(0)),
        )
        .collect()
    }

    /// How many writes this store has made; it changes before each write starts, so anything
    /// read under an older count may be stale.
    pub fn change_count(&self) -> u64 {
        self.changes.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// What the indexer waits on: notified after each write that recorded index work (the
    /// work itself is in the database, so a missed wake-up only delays it).
    pub fn search_signal(&self) -> Arc<tokio::sync::Notify> {
        self.search_wake.clone()
    }

    fn wake_indexer(&self, ct: &crate::schema::ContentType) {
        if self.is_indexed(&ct.id) {
            self.search_wake.notify_one();
        }
    }

    /// What the audit chainer waits on: notified after each write (the records are in the
    /// change-event log, so a missed wake-up only delays chaining them).
    pub fn audit_signal(&self) -> Arc<tokio::sync::Notify> {
        self.audit_wake.clone()
    }

    /// A handle on the query counter that does not keep the database open.
    pub fn query_counter(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.queries.clone()
    }

    /// A request of `sql`, counted when an HTTP request sends it (background work — the
    /// indexer, mail, the audit chainer — runs outside [`counting_queries`] and is not).
    fn statement(&self, sql: impl Into<String>) -> Statement<'_> {
        if IN_REQUEST.try_with(|_| ()).is_ok() {
            self.queries
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.uncounted(sql)
    }

    /// A request of `sql` that the query counter leaves out (background polling).
    fn uncounted(&self, sql: impl Into<String>) -> Statement<'_> {
        Statement {
            db: &self.db,
            sql: sql.into(),
            vars: Ok(Variables::new()),
        }
    }

    /// Closes the database. The embedded engine shuts down in the background once the last
    /// handle is dropped, and releases its lock file when done; for an on-disk store this
    /// waits (up to 30 s) for that, so a restart in the same process can open it again.
    pub async fn close(self) {
        // Audit records not chained yet are chained first, so a command leaves a whole log
        // (what a crash leaves is chained at the next start).
        if let Err(e) = self.chain_audit().await {
            tracing::warn!(error = %e, "chaining the audit log before closing failed");
        }
        if let Err(e) = self.close_audit_reader().await {
            tracing::warn!(error = %e, "storing the audit chainer's place failed");
        }
        let Store { db, path, .. } = self;
        let last = Arc::strong_count(&db) == 1;
        drop(db);
        let Some(path) = path.filter(|_| last) else {
            return;
        };
        let lock = path.join("LOCK");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            match std::fs::File::open(&lock) {
                Ok(f) if f.try_lock().is_ok() => {
                    let _ = f.unlock();
                    return;
                }
                Err(_) => return,
                Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            }
        }
        tracing::warn!("the database did not close within 30 s");
    }
}

/// A step of a walk over `table` in id order: `SELECT {what}` of up to `limit` rows whose ids
/// come after `after` (from the first row without it). A table scan that stops at the limit:
/// SurrealDB 3.3 applies a limit to a record-range read (`table:a..`) only after reading the
/// whole rest of the range (0.9 s and about a GiB of memory from the start of 100k articles),
/// while a scan passes the rows before `after` (about 4 µs each) without keeping them.
pub(crate) fn walk_step<'a>(
    store: &'a Store,
    what: &str,
    table: &str,
    after: Option<&str>,
    limit: usize,
) -> Statement<'a> {
    let past = if after.is_some() {
        "WHERE id > $after"
    } else {
        ""
    };
    let statement = store
        .statement(format!(
            "SELECT {what} FROM type::table($tb) {past} LIMIT $limit"
        ))
        .bind(("tb", table.to_owned()))
        .bind(("limit", limit as i64));
    match after {
        Some(a) => statement.bind((
            "after",
            surrealdb::types::RecordId::new(table.to_owned(), a.to_owned()),
        )),
        None => statement,
    }
}

/// Opens the engine in this process. SurrealKV sizes its block cache from the machine's memory
/// (half of it, less a GiB) unless told otherwise, and the SDK's own `connect` cannot tell it:
/// so the datastore is built here, as that `connect` builds it, with the cache size set.
async fn open_embedded(url: &str, cache_mib: u64, write_buffer_mib: u64) -> Result<Surreal<Db>> {
    use surrealdb_engine_local::Datastore;
    // Left to itself SurrealKV sizes its block cache and write buffer from the machine's
    // memory (11 GiB and 1 GiB on 24 GiB), not from what the server needs.
    let settings = surrealdb_cnf::ConfigMap::empty()
        .with_key_value(
            "surrealkv_block_cache_capacity",
            (cache_mib.max(1) * 1024 * 1024).to_string(),
        )
        .with_key_value(
            "surrealkv_max_memtable_size",
            (write_buffer_mib.max(1) * 1024 * 1024).to_string(),
        );
    // Maintenance tasks start only once the datastore is versioned and bootstrapped: one that
    // wrote first would make a new store look like one from before versions were recorded.
    let datastore = Datastore::builder()
        .with_config(settings)
        .without_maintenance_tasks()
        .build_with_path(url)
        .await
        .map_err(|e| open_failed(url, e))?;
    datastore
        .check_version()
        .await
        .map_err(|e| open_failed(url, e))?;
    datastore
        .bootstrap()
        .await
        .map_err(|e| open_failed(url, e))?;
    datastore.start_maintenance_tasks();
    Ok(Surreal::<Db>::unstable_from_datastore(datastore, None).await?)
}

fn open_failed(url: &str, e: impl std::fmt::Display) -> Error {
    Error::internal(format!("cannot open the database {url}: {e:#}"))
}

/// Quotes an identifier from a content-type file for splicing into SurrealQL. Only the
/// characters the schema loader lets through are accepted, so nothing can break out of the
/// backticks.
pub(crate) fn ident(name: &str) -> Result<String> {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        Ok(format!("`{name}`"))
    } else {
        Err(Error::internal(format!("refusing identifier {name:?}")))
    }
}

/// The table holding every entry of a type (drafts included).
pub fn entry_table(type_id: &str) -> String {
    format!("entry_{type_id}")
}

/// The table the delivery API reads for a type.
pub fn delivery_table(ct: &crate::schema::ContentType) -> String {
    if ct.drafts {
        format!("published_{}", ct.id)
    } else {
        entry_table(&ct.id)
    }
}

/// The content type whose entries `table` holds (its entry or published table).
pub(crate) fn type_of_table(table: &str) -> Option<&str> {
    table
        .strip_prefix("entry_")
        .or_else(|| table.strip_prefix("published_"))
}

/// Turns a SurrealDB record id as JSON (`` `entry_article`:`01H...` ``) into our entry id.
pub(crate) fn record_key(id: &str) -> String {
    let key = id.rsplit_once(':').map_or(id, |(_, k)| k);
    key.trim_matches(|c| c == '`' || c == '⟨' || c == '⟩')
        .to_owned()
}

/// Takes statement `index` of a response as JSON.
pub(crate) fn take_json(
    response: &mut surrealdb::IndexedResults,
    index: usize,
) -> Result<serde_json::Value> {
    Ok(response
        .take::<surrealdb::types::Value>(index)?
        .into_json_value())
}

/// Takes statement `index` of a response as a list of JSON objects.
pub(crate) fn take_rows(
    response: &mut surrealdb::IndexedResults,
    index: usize,
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
    match take_json(response, index)? {
        serde_json::Value::Array(items) => Ok(items
            .into_iter()
            .filter_map(|v| match v {
                serde_json::Value::Object(o) => Some(o),
                _ => None,
            })
            .collect()),
        serde_json::Value::Object(o) => Ok(vec![o]),
        _ => Ok(Vec::new()),
    }
}

/// The failure of a read, if any of its statements failed.
pub(crate) fn fail_on_error(res: &mut surrealdb::IndexedResults) -> Result<()> {
    match cause(res.take_errors()) {
        Some(e) => Err(Error::Database(e)),
        None => Ok(()),
    }
}

/// The error that failed a script. When one statement of a transaction fails, every other
/// statement reports that it was not executed; the cause is the statement that reports
/// something else (the earliest, when several do).
pub(crate) fn cause(
    errors: std::collections::HashMap<usize, surrealdb::Error>,
) -> Option<surrealdb::Error> {
    let mut errors: Vec<(usize, surrealdb::Error)> = errors.into_iter().collect();
    errors.sort_by_key(|(i, _)| *i);
    let first_real = errors
        .iter()
        .position(|(_, e)| !e.to_string().contains("not executed"));
    match first_real {
        Some(i) => Some(errors.swap_remove(i).1),
        None => errors.into_iter().next().map(|(_, e)| e),
    }
}

/// Held across a write: see [`Store::invalidate`]. Dropping it marks the tables again.
#[must_use = "hold it until the write is done: dropping it is the second mark"]
pub(crate) struct Changing<'a> {
    store: &'a Store,
    tables: Vec<String>,
    /// The one entry written (table, id), if the write is to one entry.
    entry: Option<(String, String)>,
}

impl Drop for Changing<'_> {
    fn drop(&mut self) {
        let tables: Vec<&str> = self.tables.iter().map(String::as_str).collect();
        let entry = self.entry.as_ref().map(|(t, id)| (t.as_str(), id.as_str()));
        self.store.mark_changing(&tables, entry);
    }
}

#[cfg(test)]
impl Store {
    /// A store on a fresh in-memory database, the configuration it was opened with, and the
    /// data directory that configuration names (removed when dropped).
    pub(crate) async fn for_tests() -> (Store, crate::Config, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = crate::Config {
            data_dir: dir.path().to_path_buf(),
            database: Some("mem://".into()),
            ..crate::Config::default()
        };
        let store = Store::connect(&config).await.expect("in-memory store");
        (store, config, dir)
    }

    /// [`Store::for_tests`] with the system tables laid out as a start leaves them (no content
    /// types), refusing a plan that would lose data.
    pub(crate) async fn for_tests_laid_out() -> (Store, crate::Config, tempfile::TempDir) {
        let (store, config, dir) = Store::for_tests().await;
        store.lay_out_for_tests().await;
        (store, config, dir)
    }

    /// Applies the layout of no content types, which must lose nothing.
    pub(crate) async fn lay_out_for_tests(&self) {
        let plan = self
            .plan_schema(&crate::schema::Schema::default())
            .await
            .unwrap();
        assert!(plan.destructive().next().is_none(), "{plan}");
        self.apply_schema(plan, false).await.unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_and_checked() {
        assert_eq!(
            ident("entry_site-settings").unwrap(),
            "`entry_site-settings`"
        );
        assert!(ident("a`; DELETE x; --").is_err());
        assert!(ident("").is_err());
        assert!(ident("Title").is_err());
    }

    /// Whatever was read while a write ran (under the count it saw then) is stale once the
    /// write is done, and so are the totals counted meanwhile.
    #[tokio::test]
    async fn counts_read_during_a_write_are_gone_after_it() {
        let (store, _config, _dir) = Store::for_tests().await;
        let before = store.change_count();
        let writing = store.invalidate(&["entry_article"]);
        let during = store.change_count();
        assert_ne!(during, before, "marked when the write starts");
        let (_, generation) = store.cached_total("entry_article", "k");
        store.store_total("entry_article", "k".into(), generation, 7);
        assert_eq!(store.cached_total("entry_article", "k").0, Some(7));
        drop(writing);
        assert_ne!(store.change_count(), during, "and again when it is done");
        assert_eq!(store.cached_total("entry_article", "k").0, None);
    }

    /// A write to one entry moves that entry's mark (twice: when it starts and when it is
    /// done) and no other's; a write to the table as a whole moves every entry's.
    #[tokio::test]
    async fn entry_marks_move_with_writes_to_their_entry() {
        let (store, _config, _dir) = Store::for_tests().await;
        let ct = crate::schema::ContentType::new_for_tests("article");
        let table = delivery_table(&ct);
        // Two ids in different buckets.
        let a = "01HZAAAAAAAAAAAAAAAAAAAAAA";
        let b = (0..)
            .map(|i| format!("01HZB{i:021}"))
            .find(|b| entry_bucket(b) != entry_bucket(a))
            .unwrap();
        let started = store.change_count();
        let writing = store.invalidate_entry(&ct, a);
        let during = store.entry_mark(&table, a);
        assert!(during > started, "marked when the write starts");
        assert_eq!(store.entry_mark(&table, &b), 0, "another entry is not");
        // Read during the write, under the count then: the mark after it says so.
        let read_at = store.change_count();
        drop(writing);
        assert!(
            store.entry_mark(&table, a) > read_at,
            "and again when it is done"
        );
        assert_eq!(store.entry_mark(&table, &b), 0);
        let before = store.change_count();
        drop(store.invalidate(&[&table]));
        assert!(
            store.entry_mark(&table, &b) > before,
            "a table write marks them all"
        );
        assert!(store.entry_mark(&table, a) > before);
    }

    #[test]
    fn record_keys_are_extracted() {
        assert_eq!(record_key("`entry_article`:`01HZ`"), "01HZ");
        assert_eq!(record_key("entry_tag:⟨01HZ⟩"), "01HZ");
        assert_eq!(record_key("entry_tag:ABC"), "ABC");
    }
}
