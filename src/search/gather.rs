//! The one collector every search runs: it keeps the documents in the caller's scope, counts
//! them, counts their facet values, and keeps the best `top` of them, in a single pass.
//!
//! A query matching most of an index (a two-letter prefix, a common word) hands every one of
//! those documents to the collector, so what it does per document is the cost of the search.
//! Reading tantivy's compressed columns for the scope bits, the rank and the facet values of
//! each document took about half of such a search; those values are copied once per segment
//! into plain arrays ([`SegmentFacts`]), built by a reader warmer when a segment first becomes
//! searchable and dropped when no searcher uses it any more. Segments never change once
//! written, so the arrays never go stale; deleted documents are skipped by tantivy before they
//! reach a collector. The rank, a tie-breaker, is only looked at for documents that could
//! enter the top.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::fastfield::FacetReader;
use tantivy::index::SegmentId;
use tantivy::schema::Facet;
use tantivy::{
    DateTime, DocAddress, DocId, Score, Searcher, SearcherGeneration, SegmentOrdinal,
    SegmentReader, Warmer,
};

use super::layout;

/// What a search needs of each document of one segment, in plain arrays indexed by doc id.
pub(crate) struct SegmentFacts {
    scope: Vec<u64>,
    rank: Vec<u64>,
    /// The facet ordinals of document `d` are `ords[starts[d]..starts[d + 1]]`, ascending.
    starts: Vec<u32>,
    ords: Vec<u32>,
    /// Each facet ordinal as (field, value).
    facets: Vec<(String, String)>,
}

impl SegmentFacts {
    fn build(segment: &SegmentReader) -> tantivy::Result<SegmentFacts> {
        let max_doc = segment.max_doc();
        let fast = segment.fast_fields();
        // A segment where no document has a value has no column: every value is then 0 (for
        // the scope, in no audience) and no document has facets.
        let column = |name: &str| -> Vec<u64> {
            match fast.u64(name) {
                Ok(c) => {
                    let values = c.first_or_default_col(0);
                    (0..max_doc).map(|d| values.get_val(d)).collect()
                }
                Err(_) => vec![0; max_doc as usize],
            }
        };
        let scope = column(layout::SCOPE);
        let rank = column(layout::RANK);
        let mut starts = Vec::with_capacity(max_doc as usize + 1);
        let mut ords = Vec::new();
        let mut facets = Vec::new();
        starts.push(0);
        let Some(reader) = fast.str(layout::FACET)?.map(FacetReader::new) else {
            starts.resize(max_doc as usize + 1, 0);
            return Ok(SegmentFacts {
                scope,
                rank,
                starts,
                ords,
                facets,
            });
        };
        for d in 0..max_doc {
            ords.extend(reader.facet_ords(d).map(|o| o as u32));
            starts.push(u32::try_from(ords.len()).unwrap_or(u32::MAX));
        }
        let mut facet = Facet::root();
        for ord in 0..reader.num_facets() as u64 {
            reader.facet_from_ord(ord, &mut facet)?;
            let path = facet.to_path();
            facets.push((
                path.first().map(|s| (*s).to_owned()).unwrap_or_default(),
                path.get(1).map(|s| (*s).to_owned()).unwrap_or_default(),
            ));
        }
        Ok(SegmentFacts {
            scope,
            rank,
            starts,
            ords,
            facets,
        })
    }

    fn facet_ords(&self, doc: DocId) -> &[u32] {
        let d = doc as usize;
        match (self.starts.get(d), self.starts.get(d + 1)) {
            (Some(&a), Some(&b)) => self.ords.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// The [`SegmentFacts`] of the segments live searchers use; a tantivy reader warmer.
#[derive(Default)]
pub(crate) struct FactsCache {
    segments: Mutex<HashMap<SegmentId, Arc<SegmentFacts>>>,
}

impl FactsCache {
    fn get(&self, segment: &SegmentReader) -> tantivy::Result<Arc<SegmentFacts>> {
        let id = segment.segment_id();
        if let Some(f) = self.lock().get(&id) {
            return Ok(f.clone());
        }
        // Built outside the lock; two searches racing on a new segment both build it once.
        let facts = Arc::new(SegmentFacts::build(segment)?);
        self.lock().insert(id, facts.clone());
        Ok(facts)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SegmentId, Arc<SegmentFacts>>> {
        self.segments.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Warmer for FactsCache {
    fn warm(&self, searcher: &Searcher) -> tantivy::Result<()> {
        for segment in searcher.segment_readers() {
            self.get(segment)?;
        }
        Ok(())
    }

    fn garbage_collect(&self, live_generations: &[&SearcherGeneration]) {
        let live: HashSet<SegmentId> = live_generations
            .iter()
            .flat_map(|g| g.segments().keys().copied())
            .collect();
        self.lock().retain(|id, _| live.contains(id));
    }
}

/// How hits are ordered: by a key that sorts descending, then by rank.
#[derive(Clone)]
pub(crate) enum Order {
    Relevance,
    /// A date fast field; `desc` for newest first.
    Date {
        field: String,
        desc: bool,
    },
}

/// One of the best documents.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Best {
    pub score: Score,
    /// Milliseconds, negated when sorting oldest first (so larger is always better).
    pub date: i64,
    pub rank: u64,
    pub address: DocAddress,
}

impl Best {
    /// Better hits compare greater: by score, then date key, then rank.
    pub(crate) fn cmp_key(&self, other: &Best) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then(self.date.cmp(&other.date))
            .then(self.rank.cmp(&other.rank))
    }
}

/// Kept in a min-heap: the worst of the best is on top, to be pushed out.
struct Worst(Best);

impl PartialEq for Worst {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Worst {}
impl PartialOrd for Worst {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Worst {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.cmp_key(&self.0)
    }
}

/// What a search gathered: how many documents matched in scope, their facet values counted
/// for the fields asked, and the best `top`, best first.
#[derive(Default, Debug)]
pub(crate) struct Gathered {
    pub count: u64,
    pub facets: HashMap<String, HashMap<String, u64>>,
    pub best: Vec<Best>,
}

/// The collector; see the module documentation.
pub(crate) struct Gather<'a> {
    pub scope: u64,
    pub top: usize,
    pub order: Order,
    /// Facet fields to count.
    pub facets: &'a [&'a str],
    pub cache: &'a FactsCache,
}

pub(crate) struct GatherSegment {
    segment: SegmentOrdinal,
    scope: u64,
    top: usize,
    facts: Arc<SegmentFacts>,
    /// For date order: the column, and whether newest first.
    dates: Option<(Column<DateTime>, bool)>,
    count: u64,
    /// Per facet ordinal: whether its field was asked for.
    wanted: Vec<bool>,
    counts: Vec<u64>,
    heap: BinaryHeap<Worst>,
}

impl Collector for Gather<'_> {
    type Fruit = Gathered;
    type Child = GatherSegment;

    fn for_segment(
        &self,
        segment_local_id: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<GatherSegment> {
        let facts = self.cache.get(segment)?;
        let dates = match &self.order {
            Order::Relevance => None,
            Order::Date { field, desc } => {
                segment.fast_fields().date(field).ok().map(|c| (c, *desc))
            }
        };
        let wanted: Vec<bool> = facts
            .facets
            .iter()
            .map(|(f, _)| self.facets.contains(&f.as_str()))
            .collect();
        Ok(GatherSegment {
            segment: segment_local_id,
            scope: self.scope,
            top: self.top.max(1),
            counts: vec![0; wanted.len()],
            wanted,
            facts,
            dates,
            count: 0,
            heap: BinaryHeap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        matches!(self.order, Order::Relevance)
    }

    fn merge_fruits(&self, fruits: Vec<Gathered>) -> tantivy::Result<Gathered> {
        let mut out = Gathered::default();
        for f in fruits {
            out.count += f.count;
            for (field, values) in f.facets {
                let into = out.facets.entry(field).or_default();
                for (value, n) in values {
                    *into.entry(value).or_default() += n;
                }
            }
            out.best.extend(f.best);
        }
        out.best.sort_by(|a, b| b.cmp_key(a));
        out.best.truncate(self.top.max(1));
        Ok(out)
    }
}

impl SegmentCollector for GatherSegment {
    type Fruit = Gathered;

    fn collect(&mut self, doc: DocId, score: Score) {
        let d = doc as usize;
        let Some(&bits) = self.facts.scope.get(d) else {
            return;
        };
        if bits & self.scope != self.scope {
            return;
        }
        self.count += 1;
        let mut previous = u32::MAX;
        for &ord in self.facts.facet_ords(doc) {
            // A document holding a value twice counts once for it.
            if ord != previous && self.wanted.get(ord as usize) == Some(&true) {
                self.counts[ord as usize] += 1;
            }
            previous = ord;
        }
        let (score, date) = match &self.dates {
            None => (score, 0),
            Some((column, desc)) => {
                let ms = column
                    .first(doc)
                    .map_or(i64::MIN, |d| d.into_timestamp_millis());
                (0.0, if *desc { ms } else { ms.saturating_neg() })
            }
        };
        // The rank decides only between equal keys: read it only when this one could enter.
        if self.heap.len() >= self.top
            && let Some(worst) = self.heap.peek()
        {
            let w = &worst.0;
            match score.total_cmp(&w.score).then(date.cmp(&w.date)) {
                Ordering::Less => return,
                Ordering::Equal if self.facts.rank.get(d).is_none_or(|r| *r <= w.rank) => {
                    return;
                }
                _ => {}
            }
            self.heap.pop();
        }
        self.heap.push(Worst(Best {
            score,
            date,
            rank: self.facts.rank.get(d).copied().unwrap_or(0),
            address: DocAddress::new(self.segment, doc),
        }));
    }

    fn harvest(self) -> Gathered {
        let mut facets: HashMap<String, HashMap<String, u64>> = HashMap::new();
        for (ord, n) in self.counts.iter().enumerate() {
            if *n > 0
                && let Some((field, value)) = self.facts.facets.get(ord)
            {
                *facets
                    .entry(field.clone())
                    .or_default()
                    .entry(value.clone())
                    .or_default() += n;
            }
        }
        let mut best: Vec<Best> = self.heap.into_iter().map(|w| w.0).collect();
        best.sort_by(|a, b| b.cmp_key(a));
        Gathered {
            count: self.count,
            facets,
            best,
        }
    }
}

#[cfg(test)]
mod tests {
    use tantivy::query::AllQuery;
    use tantivy::schema::{FAST, FacetOptions, INDEXED, Schema};
    use tantivy::{Index, TantivyDocument};

    use super::*;

    /// A document as (scope, rank, published day, facets).
    type Doc = (u64, u64, i64, &'static [&'static str]);
    /// The documents of one segment.
    type Segment = &'static [Doc];

    /// An index of these segments, and its facts cache as the reader's warmer.
    fn index(docs: &[Segment]) -> (Index, Arc<FactsCache>, tantivy::IndexReader) {
        let mut b = Schema::builder();
        let scope = b.add_u64_field(layout::SCOPE, FAST);
        let rank = b.add_u64_field(layout::RANK, FAST);
        let facet = b.add_facet_field(layout::FACET, FacetOptions::default());
        let day = b.add_date_field("published_at", INDEXED | FAST);
        let index = Index::create_in_ram(b.build());
        let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
        for segment in docs {
            for (s, r, d, facets) in *segment {
                let mut doc = TantivyDocument::new();
                doc.add_u64(scope, *s);
                doc.add_u64(rank, *r);
                doc.add_date(day, DateTime::from_timestamp_secs(d * 86_400));
                for f in *facets {
                    doc.add_facet(facet, Facet::from(*f));
                }
                writer.add_document(doc).unwrap();
            }
            writer.commit().unwrap();
        }
        let cache = Arc::new(FactsCache::default());
        let warmer: Arc<dyn Warmer> = cache.clone();
        let reader = index
            .reader_builder()
            .warmers(vec![Arc::downgrade(&warmer)])
            .try_into()
            .unwrap();
        // The warmer's only strong reference is the cache itself.
        drop(warmer);
        (index, cache, reader)
    }

    fn gather(
        reader: &tantivy::IndexReader,
        cache: &FactsCache,
        scope: u64,
        top: usize,
        order: Order,
    ) -> Gathered {
        reader
            .searcher()
            .search(
                &AllQuery,
                &Gather {
                    scope,
                    top,
                    order,
                    facets: &["tags"],
                    cache,
                },
            )
            .unwrap()
    }

    const DOCS: &[Segment] = &[
        &[
            (0b11, 5, 10, &["/tags/a", "/tags/b"]),
            (0b01, 9, 11, &["/tags/a"]),
        ],
        &[
            (0b11, 7, 3, &["/tags/a", "/author/z"]),
            (0b11, 1, 12, &["/tags/b"]),
        ],
    ];

    #[test]
    fn counts_only_documents_in_scope_and_the_facet_fields_asked_for() {
        let (_index, cache, reader) = index(DOCS);
        let g = gather(&reader, &cache, 0b10, 10, Order::Relevance);
        assert_eq!(g.count, 3);
        assert_eq!(g.facets.len(), 1, "{:?}", g.facets);
        assert_eq!(g.facets["tags"]["a"], 2);
        assert_eq!(g.facets["tags"]["b"], 2);
        // Without the scope bit the out-of-scope document counts too.
        let all = gather(&reader, &cache, 0b01, 10, Order::Relevance);
        assert_eq!(all.count, 4);
        assert_eq!(all.facets["tags"]["a"], 3);
    }

    #[test]
    fn equal_scores_are_ordered_by_rank_across_segments() {
        let (_index, cache, reader) = index(DOCS);
        let g = gather(&reader, &cache, 0b10, 2, Order::Relevance);
        let ranks: Vec<u64> = g.best.iter().map(|b| b.rank).collect();
        assert_eq!(ranks, [7, 5]);
        let g = gather(&reader, &cache, 0b10, 10, Order::Relevance);
        let ranks: Vec<u64> = g.best.iter().map(|b| b.rank).collect();
        assert_eq!(ranks, [7, 5, 1]);
    }

    #[test]
    fn date_order_goes_newest_or_oldest_first() {
        let (_index, cache, reader) = index(DOCS);
        let newest = |desc| {
            let order = Order::Date {
                field: "published_at".into(),
                desc,
            };
            gather(&reader, &cache, 0b10, 2, order)
                .best
                .iter()
                .map(|b| b.rank)
                .collect::<Vec<_>>()
        };
        assert_eq!(newest(true), [1, 5]);
        assert_eq!(newest(false), [7, 5]);
    }

    #[test]
    fn a_segment_without_facet_values_still_counts_and_ranks() {
        let docs: &[Segment] = &[
            &[(0b11, 4, 1, &["/tags/a"])],
            &[(0b11, 8, 2, &[]), (0b11, 6, 3, &[])],
        ];
        let (_index, cache, reader) = index(docs);
        let g = gather(&reader, &cache, 0b10, 10, Order::Relevance);
        assert_eq!(g.count, 3);
        assert_eq!(g.facets["tags"]["a"], 1);
        assert_eq!(g.best.iter().map(|b| b.rank).collect::<Vec<_>>(), [8, 6, 4]);
    }

    #[test]
    fn segments_no_searcher_uses_are_forgotten() {
        let (index, cache, reader) = index(DOCS);
        assert_eq!(cache.lock().len(), 2, "the warmer built both segments");
        let mut writer: tantivy::IndexWriter<TantivyDocument> =
            index.writer_with_num_threads(1, 15_000_000).unwrap();
        let ids = index.searchable_segment_ids().unwrap();
        futures::executor::block_on(writer.merge(&ids)).unwrap();
        writer.commit().unwrap();
        reader.reload().unwrap();
        let searcher = reader.searcher();
        assert_eq!(searcher.segment_readers().len(), 1);
        cache.garbage_collect(&[searcher.generation()]);
        assert_eq!(cache.lock().len(), 1);
        // The merged segment gives the same answer.
        let g = gather(&reader, &cache, 0b10, 10, Order::Relevance);
        assert_eq!(g.count, 3);
        assert_eq!(g.best.iter().map(|b| b.rank).collect::<Vec<_>>(), [7, 5, 1]);
    }
}
