//! The indexer: the one task that writes to the search indexes.
//!
//! It waits for storage's signal (or a periodic tick), gathers changes for the commit
//! interval, then reads the change-event log from its place in it, re-reads the entries the
//! events name, replaces their documents, commits, reloads the readers and only then stores
//! its new place. Applying an event twice is harmless (the entry is read again as it is),
//! forgetting one is not, hence that order.
//!
//! Rebuilds run beside it, one type at a time, into a new generation directory: entries
//! changed while a rebuild reads the table are noted and applied again to the new index just
//! before it replaces the old one, so the swap loses nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use tantivy::{Index, IndexWriter, TantivyDocument, Term};
use tokio::sync::mpsc;

use super::layout::{Layout, Titles, scalars};
use super::{Active, Progress, Rebuild, Search, activate, remove_other_generations};
use crate::error::{Error, Result};
use crate::storage::events::EventReader;
use crate::storage::{self, Row};

/// Events read per round.
const WORK_BATCH: usize = 256;
/// How often old events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Entries read from the database per query.
const ROWS_BATCH: usize = 500;
/// Entries read per step of a rebuild's walk over a table: each step passes the rows before
/// it again (see `Store::rows_after`), so fewer, larger steps.
const WALK_BATCH: usize = 2_000;
/// Indexer memory of a rebuild, shared by its two threads.
const REBUILD_MEMORY: usize = 128 * 1024 * 1024;
/// How often the indexer looks for work even without a signal (work recorded by another
/// node, or a retry after a failure).
const TICK: Duration = Duration::from_secs(5);

/// A finished rebuild, waiting to replace the current index.
struct Built {
    type_id: String,
    active: Active,
    writer: IndexWriter,
    generation: String,
}

pub(super) struct Indexer {
    search: Search,
    writers: HashMap<String, IndexWriter>,
    built_tx: mpsc::UnboundedSender<(String, Result<Built>)>,
    built_rx: mpsc::UnboundedReceiver<(String, Result<Built>)>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Its place in the change-event log (read when it first looks).
    events: Option<EventReader>,
}

impl Indexer {
    pub fn new(search: Search) -> Self {
        let (built_tx, built_rx) = mpsc::unbounded_channel();
        Self {
            search,
            writers: HashMap::new(),
            built_tx,
            built_rx,
            tasks: Vec::new(),
            events: None,
        }
    }

    pub async fn run(mut self, stop: impl std::future::Future<Output = ()> + Send) {
        let wake = self.search.inner.store.search_signal();
        let interval = self.search.inner.commit_interval;
        let mut pruned: Option<std::time::Instant> = None;
        tokio::pin!(stop);
        loop {
            // The indexer reads the log on every node, so it also keeps it short.
            if pruned.is_none_or(|t| t.elapsed() > PRUNE_EVERY) {
                pruned = Some(std::time::Instant::now());
                let keep = self.search.inner.events_keep;
                let store = &self.search.inner.store;
                // Still here: the log keeps what this index has yet to read.
                if let Err(e) = store.touch_reader(&self.search.inner.reader).await {
                    tracing::warn!(error = %e, "noting the indexer's place in the change-event log failed");
                }
                if let Err(e) = store.prune_events(keep).await {
                    tracing::warn!(error = %e, "pruning the change-event log failed");
                }
            }
            // Recorded work first: a rebuild that starts afterwards reads what it changed, so
            // work for a type that has no index yet is simply dropped.
            match self.drain().await {
                Ok(()) => {
                    if !self.search.inner.caught_up.swap(true, Ordering::SeqCst) {
                        tracing::info!("search index caught up with the database");
                    }
                }
                Err(e) => self.failed("applying changes to the search index", &e),
            }
            self.start_rebuild();
            tokio::select! {
                () = &mut stop => break,
                Some((type_id, built)) = self.built_rx.recv() => {
                    let swapped = match built {
                        Ok(built) => self.swap(built).await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = swapped {
                        {
                            let mut state = self.search.state();
                            state.rebuilding.remove(&type_id);
                            // Without an index the type cannot be searched: try again later.
                            if self.search.active(&type_id).is_none() {
                                state.requested.insert(type_id.clone());
                            }
                        }
                        self.failed(&format!("rebuilding the search index of `{type_id}`"), &e);
                        tokio::time::sleep(TICK).await;
                    }
                }
                () = wake.notified() => tokio::time::sleep(interval).await,
                () = tokio::time::sleep(TICK) => {}
            }
        }
        if let Err(e) = self.close_events().await {
            tracing::warn!(error = %e, "storing the indexer's place in the change-event log failed");
        }
        // Rebuilds stop where they are; their half-built generations are removed at the next
        // start. Writers are dropped without committing: what they held is still recorded.
        for r in self.search.state().rebuilding.values() {
            r.progress.cancelled.store(true, Ordering::SeqCst);
        }
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        let writers = std::mem::take(&mut self.writers);
        let _ = tokio::task::spawn_blocking(move || drop(writers)).await;
    }

    fn failed(&self, what: &str, e: &Error) {
        tracing::error!("{what}: {e}");
        self.search.state().last_error = Some(format!("{what}: {e}"));
    }

    /// Rebuilds `types` one after the other in this task, then applies recorded work.
    pub async fn rebuild_in_place(
        mut self,
        types: &[String],
        progress: &(dyn Fn(&str, u64, u64) + Send + Sync),
    ) -> Result<()> {
        self.search.state().requested.clear();
        // Nothing else writes meanwhile (the command holds the database), so the rebuilds
        // read every recorded change of their types: that work is done by them.
        let covered: BTreeSet<String> = types.iter().cloned().collect();
        self.drain_except(&covered).await?;
        for t in types {
            let layout = self.search.inner.layouts[t].clone();
            let p = Arc::new(Progress::default());
            self.search.state().rebuilding.insert(
                t.clone(),
                Rebuild {
                    progress: p.clone(),
                    replay: BTreeSet::new(),
                },
            );
            let report = |done, total| progress(t, done, total);
            let built = build(&self.search, layout, &p, &report).await?;
            self.swap(built).await?;
        }
        self.drain().await?;
        self.close_events().await?;
        let writers = std::mem::take(&mut self.writers);
        let _ = tokio::task::spawn_blocking(move || drop(writers)).await;
        Ok(())
    }

    /// Ends its reader of the log, storing what the last round handled: the next start skips
    /// it instead of indexing the log's last seconds again (after an import, thousands of
    /// entries).
    async fn close_events(&mut self) -> Result<()> {
        match self.events.take() {
            Some(events) => events.close(&self.search.inner.store).await,
            None => Ok(()),
        }
    }

    /// Starts the next requested rebuild, if none is running.
    fn start_rebuild(&mut self) {
        let mut state = self.search.state();
        if !state.rebuilding.is_empty() {
            return;
        }
        let Some(type_id) = state.requested.pop_first() else {
            return;
        };
        let Some(layout) = self.search.inner.layouts.get(&type_id).cloned() else {
            return;
        };
        let progress = Arc::new(Progress::default());
        state.rebuilding.insert(
            type_id.clone(),
            Rebuild {
                progress: progress.clone(),
                replay: BTreeSet::new(),
            },
        );
        drop(state);
        tracing::info!("rebuilding the search index of `{type_id}`");
        let search = self.search.clone();
        let tx = self.built_tx.clone();
        self.tasks.retain(|t| !t.is_finished());
        self.tasks.push(tokio::spawn(async move {
            let built = build(&search, layout, &progress, &|_, _| {}).await;
            let _ = tx.send((type_id, built));
        }));
    }

    /// Applies every recorded change, a batch at a time.
    async fn drain(&mut self) -> Result<()> {
        self.drain_except(&BTreeSet::new()).await
    }

    /// Applies every recorded change, a batch at a time, except that work for `covered`
    /// types is only forgotten.
    async fn drain_except(&mut self, covered: &BTreeSet<String>) -> Result<()> {
        let store = self.search.inner.store.clone();
        if self.events.is_none() {
            let reader = store.event_reader(&self.search.inner.reader).await?;
            // Away longer than the log is kept: what changed meanwhile may be gone from it.
            if let Some(position) = reader.position()
                && !store.event_exists(position).await?
            {
                tracing::warn!(
                    "the change-event log was pruned past this search index's place in it: \
                     rebuilding every index"
                );
                self.search.request_rebuild(&[])?;
            }
            self.events = Some(reader);
        }
        loop {
            let Some(events) = self.events.as_mut() else {
                return Ok(());
            };
            let work = events.next(&store, WORK_BATCH).await?;
            if work.is_empty() {
                return Ok(());
            }
            let mut by_type: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
            for e in &work {
                // Only `entry.*` events name an entry (`type.migrated` names a type, whose
                // index a changed layout rebuilds).
                if let (Some(type_id), Some(id)) = (&e.type_id, &e.subject)
                    && e.kind.starts_with("entry.")
                    && store.is_indexed(type_id)
                {
                    by_type
                        .entry(type_id.as_str())
                        .or_default()
                        .insert(id.clone());
                }
            }
            // A changed entry of a related type changes the facets of the entries that point
            // at it: those are work too.
            let mut by_type: BTreeMap<String, BTreeSet<String>> = by_type
                .into_iter()
                .map(|(t, ids)| (t.to_owned(), ids))
                .collect();
            for (related, ids) in by_type.clone() {
                if self.search.inner.layouts.contains_key(&related) {
                    continue;
                }
                let ids: Vec<String> = ids.into_iter().collect();
                for (type_id, referencing) in self.referencing(&related, &ids).await? {
                    by_type.entry(type_id).or_default().extend(referencing);
                }
            }
            let mut touched = Vec::new();
            for (type_id, ids) in &by_type {
                let type_id = type_id.as_str();
                let Some(layout) = self.search.inner.layouts.get(type_id).cloned() else {
                    continue;
                };
                if covered.contains(type_id) {
                    continue;
                }
                let ids: Vec<String> = ids.iter().cloned().collect();
                // A rebuild under way may have read these entries before they changed.
                if let Some(r) = self.search.state().rebuilding.get_mut(type_id) {
                    r.replay.extend(ids.iter().cloned());
                }
                if self.writer(type_id)?.is_some() {
                    let writer = &self.writers[type_id];
                    apply(&self.search, &layout, &ids, writer).await?;
                    touched.push(type_id.to_owned());
                }
            }
            for type_id in touched {
                self.commit(&type_id).await?;
            }
            // Only now that the index holds them are the events handled.
            if let Some(events) = self.events.as_mut() {
                events.done(&store).await?;
            }
        }
    }

    /// Entries of searchable types whose facets show entries `ids` of type `related`.
    async fn referencing(
        &self,
        related: &str,
        ids: &[String],
    ) -> Result<Vec<(String, Vec<String>)>> {
        let mut out = Vec::new();
        for layout in self.search.inner.layouts.values() {
            let Some(ct) = self.search.inner.schema.get(&layout.type_id) else {
                continue;
            };
            for facet in layout
                .facets
                .iter()
                .filter(|f| f.target.as_deref() == Some(related))
            {
                let Some(field) = ct.field(&facet.name) else {
                    continue;
                };
                let found = self.search.inner.store.referencing(ct, field, ids).await?;
                if !found.is_empty() {
                    out.push((layout.type_id.clone(), found));
                }
            }
        }
        Ok(out)
    }

    /// The writer of a type's current index, opened on first use.
    fn writer(&mut self, type_id: &str) -> Result<Option<&IndexWriter>> {
        if !self.writers.contains_key(type_id) {
            let Some(active) = self.search.active(type_id) else {
                return Ok(None);
            };
            let writer = new_writer(&active.index, self.search.inner.writer_memory, 1)?;
            self.writers.insert(type_id.to_owned(), writer);
        }
        Ok(self.writers.get(type_id))
    }

    async fn commit(&mut self, type_id: &str) -> Result<()> {
        let Some(writer) = self.writers.remove(type_id) else {
            return Ok(());
        };
        let (writer, committed) = commit(writer).await;
        self.writers.insert(type_id.to_owned(), writer);
        committed?;
        if let Some(active) = self.search.active(type_id) {
            active.reader.reload()?;
        }
        self.search.inner.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Puts a rebuilt index in place of the current one, after applying the changes made
    /// while it was built.
    async fn swap(&mut self, built: Built) -> Result<()> {
        let Built {
            type_id,
            active,
            writer,
            generation,
        } = built;
        let replay: Vec<String> = self
            .search
            .state()
            .rebuilding
            .get_mut(&type_id)
            .map(|r| std::mem::take(&mut r.replay).into_iter().collect())
            .unwrap_or_default();
        apply(&self.search, &active.layout, &replay, &writer).await?;
        let (writer, committed) = commit(writer).await;
        committed?;
        active.reader.reload()?;
        let type_dir = self.search.inner.root.join(&type_id);
        let tmp = type_dir.join("CURRENT.tmp");
        std::fs::write(&tmp, &generation)?;
        std::fs::rename(&tmp, type_dir.join("CURRENT"))?;
        self.search
            .inner
            .active
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(type_id.clone(), Arc::new(active));
        if let Some(old) = self.writers.insert(type_id.clone(), writer) {
            let _ = tokio::task::spawn_blocking(move || drop(old)).await;
        }
        self.search.state().rebuilding.remove(&type_id);
        remove_other_generations(&type_dir, &generation);
        tracing::info!("search index of `{type_id}` rebuilt");
        Ok(())
    }
}

fn new_writer(index: &Index, memory: usize, threads: usize) -> Result<IndexWriter> {
    let writer: IndexWriter = index.writer_with_num_threads(threads, memory)?;
    writer.set_merge_policy(live_merge_policy());
    Ok(writer)
}

/// How the segments that commits leave are merged while the server runs.
///
/// Every commit under writes leaves a small segment. tantivy's default policy counts any
/// segment under 10,000 documents as 10,000, so the small ones share a level with every
/// segment up to ~17,000 documents, and each eighth commit rewrote all of those: 38% of the
/// server's processor time under a stream of creates at 10k articles. Counting from 100, a
/// fresh document is rewritten about three times on its way to a segment of thousands
/// (counting from 1,000, seven or eight; one run each: 10.1 against 12.7 ms of processor
/// time per create at 1 connection, 7.5 against 8.7 at 8, where runs of one build differ by
/// up to 20%), for a few more segments for a search to visit.
fn live_merge_policy() -> Box<dyn tantivy::indexer::MergePolicy> {
    let mut policy = tantivy::indexer::LogMergePolicy::default();
    policy.set_min_layer_size(LIVE_MIN_LAYER_SIZE);
    Box::new(policy)
}

/// The size the live merge policy counts every smaller segment as.
const LIVE_MIN_LAYER_SIZE: u32 = 100;

async fn commit(mut writer: IndexWriter) -> (IndexWriter, Result<()>) {
    match tokio::task::spawn_blocking(move || {
        let r = writer.commit().map(|_| ()).map_err(Error::from);
        (writer, r)
    })
    .await
    {
        Ok(out) => out,
        Err(e) => panic!("the index commit task failed: {e}"),
    }
}

async fn merge_all(index: &Index, mut writer: IndexWriter) -> (IndexWriter, Result<()>) {
    let index = index.clone();
    match tokio::task::spawn_blocking(move || {
        let merged = index
            .searchable_segment_ids()
            .map_err(Error::from)
            .and_then(|ids| {
                if ids.len() > 1 {
                    writer.merge(&ids).wait().map(|_| ()).map_err(Error::from)
                } else {
                    Ok(())
                }
            });
        (writer, merged)
    })
    .await
    {
        Ok(out) => out,
        Err(e) => panic!("the index merge task failed: {e}"),
    }
}

/// Builds a new generation of a type's index from every stored entry.
async fn build(
    search: &Search,
    layout: Arc<Layout>,
    progress: &Progress,
    report: &(dyn Fn(u64, u64) + Send + Sync),
) -> Result<Built> {
    let type_dir = search.inner.root.join(&layout.type_id);
    let generation = format!("{}-{}", layout.fingerprint, ulid::Ulid::new());
    let dir = type_dir.join(&generation);
    std::fs::create_dir_all(&dir)?;
    let index = Index::create_in_dir(&dir, layout.schema.clone())?;
    let active = activate(index, layout.clone())?;
    // Two indexing threads, each with room for many documents before it writes a segment:
    // every flush leaves a segment to merge at the end, and word pairs make the terms of a
    // segment many.
    let memory = search.inner.writer_memory.max(REBUILD_MEMORY);
    let writer = new_writer(&active.index, memory, 2)?;
    // Segments are merged once, at the end: merging while building rewrites the same
    // documents several times.
    writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
    let table = storage::entry_table(&layout.type_id);
    let total = search.inner.store.count_rows(&table).await?;
    progress.total.store(total, Ordering::Relaxed);
    report(0, total);
    let mut after: Option<String> = None;
    let mut done = 0;
    loop {
        if progress.cancelled.load(Ordering::SeqCst) {
            return Err(Error::internal("rebuild cancelled"));
        }
        let rows = search
            .inner
            .store
            .rows_after(&table, after.as_deref(), WALK_BATCH)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.get("id").and_then(Value::as_str).map(str::to_owned);
        done += rows.len() as u64;
        add_rows(search, &layout, rows, &writer).await?;
        progress.done.store(done, Ordering::Relaxed);
        progress.total.store(total.max(done), Ordering::Relaxed);
        report(done, total.max(done));
    }
    let (writer, committed) = commit(writer).await;
    committed?;
    // The build leaves a segment per flush of each indexing thread; every query visits every
    // segment, so they are merged into one before the index is used.
    let (writer, merged) = merge_all(&active.index, writer).await;
    merged?;
    writer.set_merge_policy(live_merge_policy());
    Ok(Built {
        type_id: layout.type_id.clone(),
        active,
        writer,
        generation,
    })
}

/// Replaces the documents of `ids` with what the database holds now (none, once deleted).
async fn apply(
    search: &Search,
    layout: &Layout,
    ids: &[String],
    writer: &IndexWriter,
) -> Result<()> {
    let table = storage::entry_table(&layout.type_id);
    for chunk in ids.chunks(ROWS_BATCH) {
        for id in chunk {
            writer.delete_term(Term::from_field_text(layout.id, id));
        }
        let rows = search.inner.store.get_rows(&table, chunk).await?;
        add_rows(search, layout, rows, writer).await?;
    }
    Ok(())
}

/// Adds the documents of working copies `rows` (and of their published snapshots).
async fn add_rows(
    search: &Search,
    layout: &Layout,
    rows: Vec<Row>,
    writer: &IndexWriter,
) -> Result<()> {
    let store = &search.inner.store;
    let ct = search
        .inner
        .schema
        .get(&layout.type_id)
        .cloned()
        .ok_or_else(|| Error::internal("searchable type vanished"))?;
    let ids: Vec<String> = rows.iter().map(row_id).collect();
    let published: HashMap<String, Row> = if ct.drafts {
        store
            .get_rows(&storage::delivery_table(&ct), &ids)
            .await?
            .into_iter()
            .map(|r| (row_id(&r), r))
            .collect()
    } else {
        HashMap::new()
    };
    let titles = titles(search, layout, rows.iter().chain(published.values())).await?;
    let mut docs: Vec<TantivyDocument> = Vec::new();
    for row in &rows {
        let delivery = if ct.drafts {
            published.get(&row_id(row))
        } else {
            Some(row)
        };
        docs.extend(layout.documents(Some(row), delivery, &titles));
    }
    for doc in docs {
        writer.add_document(doc)?;
    }
    Ok(())
}

fn row_id(row: &Row) -> String {
    row.get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The titles of the entries `rows` relate to through facet fields, read from the related
/// types' published entries (one query per related type).
async fn titles<'a>(
    search: &Search,
    layout: &Layout,
    rows: impl Iterator<Item = &'a Row> + Clone,
) -> Result<Titles> {
    let mut out = Titles::new();
    let mut wanted: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for f in &layout.facets {
        if let Some(target) = &f.target {
            for row in rows.clone() {
                wanted
                    .entry(target.as_str())
                    .or_default()
                    .extend(scalars(row.get(&f.name)));
            }
        }
    }
    for (target, ids) in wanted {
        let Some(ct) = search.inner.schema.get(target) else {
            continue;
        };
        let ids: Vec<String> = ids.into_iter().collect();
        let title_field = ct
            .admin
            .title_field
            .clone()
            .or_else(|| ct.lookup_uid_field().map(|f| f.name.clone()));
        let Some(title_field) = title_field else {
            continue;
        };
        for row in search
            .inner
            .store
            .get_rows(&storage::delivery_table(ct), &ids)
            .await?
        {
            let title = match row.get(&title_field) {
                Some(Value::String(s)) => Some(s.clone()),
                // A localised title: the default locale's.
                Some(Value::Object(per_locale)) => ct
                    .default_locale()
                    .and_then(|l| per_locale.get(l))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                _ => None,
            };
            if let Some(title) = title {
                out.insert(row_id(&row), title);
            }
        }
    }
    Ok(out)
}
