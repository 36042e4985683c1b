//! Full-text search: a tantivy index per searchable content type, kept in step with storage.
//!
//! The index lives in `DATA_DIR/search/<type>/<generation>/`, with `CURRENT` naming the
//! generation in use; a generation's name starts with the fingerprint of the layout it was
//! built for, so a content-type change that touches what is indexed is noticed at start-up
//! and the type is rebuilt (while a rebuild runs, that type's searches answer 503).
//!
//! Storage records index work in the same transaction as each change (see
//! `storage::search`); one indexer task ([`indexer`]) owns every index writer, applies that
//! work in batches, commits, and only then forgets it. Searching never writes: requests read
//! from the last committed state through a reader that the indexer reloads after each commit.
//!
//! This module knows nothing of HTTP: the API layer authorises, parses parameters and shapes
//! the hits into entries.

mod analysis;
mod gather;
mod indexer;
mod layout;
pub mod query;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;
use serde_json::{Map, Value};
use tantivy::schema::Value as _;
use tantivy::{Index, IndexReader, ReloadPolicy, TantivyDocument};

use crate::config::Config;
use crate::error::{Error, Result, code};
use crate::schema::{ContentType, Schema};
use crate::storage::Store;

pub use layout::Audience;
use layout::Layout;
pub use query::{MAX_QUERY_CHARS, Parsed};

/// Deepest result reachable by paging (`page * limit`).
pub const MAX_WINDOW: usize = 1000;
/// Facet values reported per field.
const FACET_VALUES: usize = 20;
/// Snippet length, in characters.
const SNIPPET_CHARS: usize = 180;

/// The search service. Cheap to clone.
#[derive(Clone)]
pub struct Search {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    store: Store,
    schema: Arc<Schema>,
    layouts: BTreeMap<String, Arc<Layout>>,
    active: RwLock<HashMap<String, Arc<Active>>>,
    state: Mutex<State>,
    commit_interval: std::time::Duration,
    /// How long change events are kept (the indexer prunes the log).
    events_keep: std::time::Duration,
    writer_memory: usize,
    /// Set once the work recorded before start-up has been applied.
    caught_up: AtomicBool,
    /// Commits made, for tests and status.
    commits: AtomicU64,
    /// The name this index keeps its place in the change-event log under ([`reader_name`]).
    reader: String,
}

/// An index in use.
struct Active {
    layout: Arc<Layout>,
    index: Index,
    reader: IndexReader,
    /// Per-segment arrays the collector reads; kept up to date by the reader as its warmer.
    facts: Arc<gather::FactsCache>,
}

#[derive(Default)]
struct State {
    /// Types to rebuild, not started yet.
    requested: BTreeSet<String>,
    /// Rebuilds under way.
    rebuilding: BTreeMap<String, Rebuild>,
    last_error: Option<String>,
}

struct Rebuild {
    progress: Arc<Progress>,
    /// Entries changed while the rebuild read the table: applied again before the swap.
    replay: BTreeSet<String>,
}

/// How far a rebuild has come.
#[derive(Debug, Default)]
pub struct Progress {
    pub done: AtomicU64,
    pub total: AtomicU64,
    pub cancelled: AtomicBool,
}

/// What a search asks.
#[derive(Debug, Clone)]
pub struct Request {
    pub q: String,
    /// The types to search, already authorised.
    pub types: Vec<Arc<ContentType>>,
    pub audience: Audience,
    pub locale: Option<String>,
    /// Per type, only entries created by this user (an author's own).
    pub owners: HashMap<String, String>,
    /// Fields the caller may not read, per type (never searched nor highlighted).
    pub hidden: HashMap<String, Vec<String>>,
    /// `filter[field][eq|in]`: facet field → accepted values.
    pub facet_filters: Vec<(String, Vec<String>)>,
    /// `filter[field][gte|gt|lte|lt]` on dates.
    pub date_filters: Vec<(String, Bound<String>, Bound<String>)>,
    pub sort: Sort,
    pub limit: usize,
    pub offset: usize,
    pub exact: bool,
    /// Facet fields to count; `None` counts every facet field of the types searched.
    pub facets: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Sort {
    Relevance,
    Date { field: String, desc: bool },
}

/// One matching entry.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    #[serde(rename = "type")]
    pub type_id: String,
    pub id: String,
    pub score: f32,
    /// Matched fields, as HTML with `<mark>` around the matched words.
    pub highlights: Map<String, Value>,
}

#[derive(Debug, Default)]
pub struct Results {
    pub hits: Vec<Hit>,
    pub total: u64,
    /// Field → (value, count), most frequent first.
    pub facets: BTreeMap<String, Vec<(String, u64)>>,
}

impl Results {
    /// The ids of the hits of one type, in rank order.
    pub fn ids_of(&self, type_id: &str) -> Vec<String> {
        self.hits
            .iter()
            .filter(|h| h.type_id == type_id)
            .map(|h| h.id.clone())
            .collect()
    }
}

/// How the index stands, for `/readyz` and the admin API.
#[derive(Debug, Serialize)]
pub struct Status {
    /// The work recorded before start-up has been applied.
    pub caught_up: bool,
    /// Recorded changes not yet in the index.
    pub pending: u64,
    /// Age of the oldest of them, in milliseconds.
    pub lag_ms: u64,
    /// Types being rebuilt, with entries done and total.
    pub rebuilding: BTreeMap<String, RebuildStatus>,
    /// Types waiting for a rebuild to start.
    pub queued: Vec<String>,
    pub commits: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RebuildStatus {
    pub done: u64,
    pub total: u64,
}

impl Search {
    /// Opens the index of every searchable type under `DATA_DIR/search`; types whose index is
    /// missing or was built for another layout are queued for a rebuild.
    pub fn open(config: &Config, schema: Arc<Schema>, store: Store) -> Result<Search> {
        let root = config.data_dir.join("search");
        let reader = reader_name(&root)?;
        let mut layouts = BTreeMap::new();
        let mut active = HashMap::new();
        let mut state = State::default();
        for ct in schema.types().filter(|t| t.search) {
            let layout = Arc::new(Layout::new(ct, &config.search.language));
            let dir = root.join(&ct.id);
            match open_current(&dir, &layout) {
                Ok(Some(a)) => {
                    active.insert(ct.id.clone(), Arc::new(a));
                }
                Ok(None) => {
                    tracing::info!(
                        "search index of `{}` is missing or out of date: rebuilding",
                        ct.id
                    );
                    state.requested.insert(ct.id.clone());
                }
                Err(e) => {
                    tracing::warn!(
                        "search index of `{}` cannot be opened ({e}): rebuilding",
                        ct.id
                    );
                    state.requested.insert(ct.id.clone());
                }
            }
            layouts.insert(ct.id.clone(), layout);
        }
        // Writes to these types record index work: the searchable ones, and those whose
        // titles they show as facets.
        store.set_indexed_types(layouts.values().flat_map(|l: &Arc<Layout>| {
            std::iter::once(l.type_id.clone())
                .chain(l.facets.iter().filter_map(|f| f.target.clone()))
                .collect::<Vec<_>>()
        }));
        // Indexes of types no longer searchable are left over: remove them.
        if let Ok(entries) = std::fs::read_dir(&root) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if e.path().is_dir() && !layouts.contains_key(&name) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        Ok(Search {
            inner: Arc::new(Inner {
                root,
                store,
                schema,
                layouts,
                active: RwLock::new(active),
                state: Mutex::new(state),
                commit_interval: std::time::Duration::from_millis(config.search.commit_interval_ms),
                events_keep: std::time::Duration::from_secs(config.events_keep_days * 86_400),
                writer_memory: config.search.writer_memory_mib * 1024 * 1024,
                caught_up: AtomicBool::new(false),
                commits: AtomicU64::new(0),
                reader,
            }),
        })
    }

    /// Whether `type_id` is indexed.
    pub fn is_searchable(&self, type_id: &str) -> bool {
        self.inner.layouts.contains_key(type_id)
    }

    /// The facet fields of a type, and its date fields.
    pub fn filterable(&self, type_id: &str) -> (Vec<String>, Vec<String>) {
        match self.inner.layouts.get(type_id) {
            Some(l) => (
                l.facets.iter().map(|f| f.name.clone()).collect(),
                l.dates.iter().map(|d| d.name.clone()).collect(),
            ),
            None => (Vec::new(), Vec::new()),
        }
    }

    /// Queues a rebuild of `types` (every searchable type when empty); the server keeps
    /// answering from the current index until the new one replaces it.
    pub fn request_rebuild(&self, types: &[String]) -> Result<Vec<String>> {
        let types: Vec<String> = if types.is_empty() {
            self.inner.layouts.keys().cloned().collect()
        } else {
            for t in types {
                if !self.is_searchable(t) {
                    return Err(Error::bad_request(
                        code::TYPE_NOT_SEARCHABLE,
                        format!("content type `{t}` is not searchable (`search = true`)"),
                    ));
                }
            }
            types.to_vec()
        };
        let mut state = self.state();
        for t in &types {
            if !state.rebuilding.contains_key(t) {
                state.requested.insert(t.clone());
            }
        }
        drop(state);
        self.inner.store.search_signal().notify_one();
        Ok(types)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn active(&self, type_id: &str) -> Option<Arc<Active>> {
        self.inner
            .active
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(type_id)
            .cloned()
    }

    /// How the index stands.
    pub async fn status(&self) -> Result<Status> {
        let store = &self.inner.store;
        let reader = store.event_reader(&self.inner.reader).await?;
        let (pending, oldest) = store
            .events_after(reader.position(), |e| {
                e.type_id.as_deref().is_some_and(|t| store.is_indexed(t))
            })
            .await?;
        let lag_ms = oldest
            .and_then(|o| chrono::DateTime::parse_from_rfc3339(&o).ok())
            .map_or(0, |t| {
                (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                    .num_milliseconds()
                    .max(0) as u64
            });
        let state = self.state();
        Ok(Status {
            caught_up: self.inner.caught_up.load(Ordering::SeqCst),
            pending,
            lag_ms,
            rebuilding: state
                .rebuilding
                .iter()
                .map(|(t, r)| {
                    (
                        t.clone(),
                        RebuildStatus {
                            done: r.progress.done.load(Ordering::Relaxed),
                            total: r.progress.total.load(Ordering::Relaxed),
                        },
                    )
                })
                .collect(),
            queued: state.requested.iter().cloned().collect(),
            commits: self.inner.commits.load(Ordering::Relaxed),
            last_error: state.last_error.clone(),
        })
    }

    /// Ready to answer: the work recorded before start-up is applied and every searchable
    /// type has an index (a rebuild replacing an existing index does not count against it).
    pub fn ready(&self) -> bool {
        self.inner.caught_up.load(Ordering::SeqCst)
            && self.inner.layouts.keys().all(|t| self.active(t).is_some())
    }

    /// Runs the indexer until `stop` completes.
    pub async fn run(self, stop: impl std::future::Future<Output = ()> + Send) {
        indexer::Indexer::new(self).run(stop).await;
    }

    /// Rebuilds `types` (all when empty) now, reporting progress through `progress` as
    /// (type, done, total), and applies any recorded work: `folio reindex` on a stopped
    /// server.
    pub async fn rebuild_now(
        &self,
        types: &[String],
        progress: impl Fn(&str, u64, u64) + Send + Sync,
    ) -> Result<()> {
        let types = self.request_rebuild(types)?;
        indexer::Indexer::new(self.clone())
            .rebuild_in_place(&types, &progress)
            .await
    }

    /// Searches.
    pub async fn search(&self, req: Request) -> Result<Results> {
        let parsed = query::parse(&req.q)?;
        if req.offset + req.limit > MAX_WINDOW {
            return Err(Error::InvalidQuery {
                code: code::INVALID_PAGE,
                param: "page".into(),
                message: format!("search results can be paged through the first {MAX_WINDOW}"),
            });
        }
        let mut targets = Vec::new();
        for ct in &req.types {
            match self.active(&ct.id) {
                Some(a) => targets.push(a),
                None if self.is_searchable(&ct.id) => {
                    return Err(Error::SearchUnavailable {
                        type_id: ct.id.clone(),
                    });
                }
                None => {}
            }
        }
        let dates = parse_date_filters(&req.date_filters)?;
        tokio::task::spawn_blocking(move || run_search(&targets, &req, &parsed, &dates))
            .await
            .map_err(|e| Error::internal(format!("search task failed: {e}")))?
    }
}

type DateFilter = (String, Bound<tantivy::DateTime>, Bound<tantivy::DateTime>);

fn parse_date_filters(
    filters: &[(String, Bound<String>, Bound<String>)],
) -> Result<Vec<DateFilter>> {
    let parse = |field: &str, b: &Bound<String>| -> Result<Bound<tantivy::DateTime>> {
        let conv = |s: &String| {
            layout::parse_date(s).ok_or_else(|| Error::InvalidQuery {
                code: code::INVALID_FILTER,
                param: format!("filter[{field}]"),
                message: format!("`{s}` is not a date (YYYY-MM-DD) or an RFC 3339 date-time"),
            })
        };
        Ok(match b {
            Bound::Included(s) => Bound::Included(conv(s)?),
            Bound::Excluded(s) => Bound::Excluded(conv(s)?),
            Bound::Unbounded => Bound::Unbounded,
        })
    };
    filters
        .iter()
        .map(|(f, lo, hi)| Ok((f.clone(), parse(f, lo)?, parse(f, hi)?)))
        .collect()
}

/// A hit before it is shaped: which index it came from, where it is and what ranks it.
struct Found {
    target: usize,
    best: gather::Best,
}

fn run_search(
    targets: &[Arc<Active>],
    req: &Request,
    parsed: &Parsed,
    dates: &[DateFilter],
) -> Result<Results> {
    let mut results = Results::default();
    let mut found: Vec<Found> = Vec::new();
    let mut searchers = Vec::new();
    let mut plans = Vec::new();
    let top = req.offset + req.limit;
    for (i, active) in targets.iter().enumerate() {
        let layout = &active.layout;
        // A type without a filtered field has nothing that matches the filter.
        if req.facet_filters.iter().any(|(f, _)| {
            layout
                .facet_spec(f)
                .is_none_or(|s| hidden_for(req, layout, &s.name))
        }) || dates.iter().any(|(f, _, _)| {
            layout
                .date(f)
                .is_none_or(|s| hidden_for(req, layout, &s.name))
        }) {
            searchers.push(None);
            plans.push(None);
            continue;
        }
        let fields = layout
            .texts
            .iter()
            .filter(|t| req.audience == Audience::Admin || !t.private)
            .filter(|t| !hidden_for(req, layout, &t.path[0]))
            .collect();
        let locale = req
            .locale
            .as_deref()
            .filter(|l| layout.locales.iter().any(|x| x == l));
        let plan = query::Plan {
            layout,
            parsed,
            exact: req.exact,
            audience: req.audience,
            locale,
            owner: req.owners.get(&layout.type_id).map(String::as_str),
            fields,
            facets: &req.facet_filters,
            dates,
        };
        let q = plan.query();
        let scope = plan.scope();
        let searcher = active.reader.searcher();
        let facet_fields: Vec<&str> = layout
            .facets
            .iter()
            .filter(|f| req.audience == Audience::Admin || !f.private)
            .filter(|f| !hidden_for(req, layout, &f.name))
            .filter(|f| {
                req.facets
                    .as_ref()
                    .is_none_or(|want| want.contains(&f.name))
            })
            .map(|f| f.name.as_str())
            .collect();
        let order = match &req.sort {
            Sort::Relevance => gather::Order::Relevance,
            Sort::Date { field, desc } => gather::Order::Date {
                field: field.clone(),
                desc: *desc,
            },
        };
        let gathered = searcher.search(
            &q,
            &gather::Gather {
                scope,
                top,
                order,
                facets: &facet_fields,
                cache: &active.facts,
            },
        )?;
        found.extend(
            gathered
                .best
                .into_iter()
                .map(|best| Found { target: i, best }),
        );
        results.total += gathered.count;
        // Every field asked for is reported, with no values if no match has one.
        for f in &facet_fields {
            results.facets.entry((*f).to_owned()).or_default();
        }
        for (field, values) in gathered.facets {
            let entry = results.facets.entry(field).or_default();
            for (value, n) in values {
                match entry.iter_mut().find(|(v, _)| *v == value) {
                    Some((_, c)) => *c += n,
                    None => entry.push((value, n)),
                }
            }
        }
        searchers.push(Some(searcher));
        plans.push(Some(plan));
    }
    for values in results.facets.values_mut() {
        values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        values.truncate(FACET_VALUES);
    }
    // Across types, in the order each index's hits came in.
    found.sort_by(|a, b| b.best.cmp_key(&a.best));
    let mut highlighters = HashMap::new();
    for f in found.into_iter().skip(req.offset).take(req.limit) {
        let (Some(searcher), Some(plan)) = (&searchers[f.target], &plans[f.target]) else {
            continue;
        };
        let layout = &targets[f.target].layout;
        let doc: TantivyDocument = searcher.doc(f.best.address)?;
        let id = doc
            .get_first(layout.id)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        let locale = doc
            .get_first(layout.locale)
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let language = layout.language(Some(locale));
        let highlighter = highlighters
            .entry((f.target, language))
            .or_insert_with(|| analysis::Highlighter::new(plan.wanted(), language));
        let mut highlights = Map::new();
        for t in &plan.fields {
            let snippet = doc
                .get_all(t.exact)
                .filter_map(|v| v.as_str())
                .find_map(|text| highlighter.highlight(text, SNIPPET_CHARS));
            if let Some(s) = snippet {
                highlights.insert(t.name.clone(), Value::String(s));
            }
        }
        results.hits.push(Hit {
            type_id: layout.type_id.clone(),
            id,
            score: f.best.score,
            highlights,
        });
    }
    Ok(results)
}

fn hidden_for(req: &Request, layout: &Layout, field: &str) -> bool {
    req.hidden
        .get(&layout.type_id)
        .is_some_and(|h| h.iter().any(|f| f == field))
}

/// Opens the generation `CURRENT` names in `dir`, if it was built for `layout`.
/// The name the search index under `root` keeps its place in the change-event log under,
/// made on first use and kept beside the index (`root/READER`): each node indexes into a
/// directory of its own, so each has its own place, and one that restarts resumes from its
/// own, not another node's. An index made before names were kept goes on under the one name
/// all used then (`search`). Creates `root`.
fn reader_name(root: &std::path::Path) -> Result<String> {
    let file = root.join("READER");
    if let Ok(name) = std::fs::read_to_string(&file) {
        let name = name.trim();
        if !name.is_empty() && name.len() <= 100 && name.is_ascii() {
            return Ok(name.to_owned());
        }
    }
    let had_index = std::fs::read_dir(root)
        .map(|entries| entries.flatten().any(|e| e.path().is_dir()))
        .unwrap_or(false);
    let name = if had_index {
        "search".to_owned()
    } else {
        format!("search:{}", ulid::Ulid::new())
    };
    std::fs::create_dir_all(root)?;
    let tmp = root.join("READER.tmp");
    std::fs::write(&tmp, &name)?;
    std::fs::rename(&tmp, &file)?;
    Ok(name)
}

fn open_current(dir: &Path, layout: &Arc<Layout>) -> Result<Option<Active>> {
    let Ok(current) = std::fs::read_to_string(dir.join("CURRENT")) else {
        return Ok(None);
    };
    let current = current.trim();
    if !current.starts_with(&format!("{}-", layout.fingerprint)) {
        return Ok(None);
    }
    let path = dir.join(current);
    let index = Index::open_in_dir(&path)?;
    let active = activate(index, layout.clone())?;
    // Generations other than the current one are left from rebuilds that did not finish.
    remove_other_generations(dir, current);
    Ok(Some(active))
}

fn remove_other_generations(dir: &Path, keep: &str) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().is_dir() && e.file_name().to_string_lossy() != keep {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

fn activate(index: Index, layout: Arc<Layout>) -> Result<Active> {
    analysis::register(index.tokenizers());
    let facts = Arc::new(gather::FactsCache::default());
    let warmer: Arc<dyn tantivy::Warmer> = facts.clone();
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .warmers(vec![Arc::downgrade(&warmer)])
        .try_into()?;
    Ok(Active {
        layout,
        index,
        reader,
        facts,
    })
}

#[cfg(test)]
mod tests {
    use super::reader_name;

    #[test]
    fn each_index_directory_keeps_a_reader_name_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("search");
        let first = reader_name(&root).unwrap();
        assert!(first.starts_with("search:"), "{first}");
        assert_eq!(reader_name(&root).unwrap(), first, "kept across starts");
        let other = tempfile::tempdir().unwrap();
        assert_ne!(reader_name(&other.path().join("search")).unwrap(), first);
        // An index made before names were kept goes on under the name all used then.
        let old = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(old.path().join("search/article")).unwrap();
        assert_eq!(reader_name(&old.path().join("search")).unwrap(), "search");
    }
}
