//! The index layout of one content type, and its documents.
//!
//! Each searchable type has its own index. A document is one entry in one locale, for one or
//! both audiences: the admin audience sees the working copy (drafts, private fields), the
//! delivery audience the published snapshot without private fields. When both would index
//! the same thing, which is the common case of a published entry, one document serves both.
//!
//! A localised entry gets a document per locale that has values of its own; its
//! default-locale document also answers for the locales that fall back to it, as the delivery
//! API does (the `serves` field).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tantivy::schema::{
    DateOptions, FAST, FacetOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions,
};
use tantivy::{DateTime as IndexDate, TantivyDocument, schema::Facet};

use super::analysis::{EXACT, PAIRS, language_of, stemmed_name};
use crate::schema::{ContentType, Field as SchemaField, FieldType};

/// Bumped when what goes into documents changes, so existing indexes are rebuilt.
const FORMAT: u32 = 6;

/// The fast field ordering ties.
pub(crate) const RANK: &str = "_rank";
/// The fast field of audience and locale bits.
pub(crate) const SCOPE: &str = "_scope";
/// The facet field: `/field/value` for every tag, enum and relation value of a document.
pub(crate) const FACET: &str = "_facet";

/// An entry's tie-breaking rank: the high bits of its ULID (creation time, then randomness),
/// so among equals newer entries come first and the order never changes between builds.
fn rank_of(id: &str) -> u64 {
    ulid::Ulid::from_string(id).map_or(0, |u| (u.0 >> 64) as u64)
}

/// What the documents of a type without locales serve.
pub(crate) const UNLOCALIZED: &str = "_";

/// Metadata dates every document carries (when the row has them).
const META_DATES: &[&str] = &["published_at", "updated_at", "created_at"];

/// Which API a document answers for: the one audience type the schema defines.
pub use crate::schema::Audience;

/// A searchable text field (possibly inside groups and repeaters).
#[derive(Debug)]
pub(crate) struct TextSpec {
    /// The dotted path, as highlights name it.
    pub name: String,
    pub path: Vec<String>,
    pub boost: f32,
    /// Never indexed for the delivery audience.
    pub private: bool,
    pub localized: bool,
    pub markdown: bool,
    /// Exact words, stored for highlighting.
    pub exact: Field,
    /// Pairs of adjacent exact words, for phrases.
    pub pairs: Field,
    /// Stemmed words, per language.
    pub stemmed: BTreeMap<&'static str, Field>,
}

/// A field whose values are counted and filtered on.
#[derive(Debug)]
pub(crate) struct FacetSpec {
    pub name: String,
    pub private: bool,
    /// `Some(target)` for relations: the related entries' titles are the values.
    pub target: Option<String>,
}

#[derive(Debug)]
pub(crate) struct DateSpec {
    pub name: String,
    pub field: Field,
    pub private: bool,
}

/// How one content type is indexed.
pub(crate) struct Layout {
    pub type_id: String,
    pub schema: Schema,
    /// Changes whenever documents would be built differently.
    pub fingerprint: String,
    pub id: Field,
    /// Bits of who and which locales a document answers for (see [`Layout::audience_bit`] and
    /// [`Layout::serves_bit`]), a fast field the search collector filters on.
    pub scope: Field,
    pub locale: Field,
    pub owner: Field,
    pub facet: Field,
    /// Breaks ties between equal scores or dates: newer entries first, every time.
    pub rank: Field,
    pub texts: Vec<TextSpec>,
    pub facets: Vec<FacetSpec>,
    pub dates: Vec<DateSpec>,
    /// The type's locales; empty when it is not localised.
    pub locales: Vec<String>,
    /// The language of entries of a type without locales.
    pub default_language: &'static str,
}

impl Layout {
    pub fn new(ct: &ContentType, default_language: &str) -> Layout {
        let default_language = language_of(default_language);
        let languages: Vec<&'static str> = if ct.locales.is_empty() {
            vec![default_language]
        } else {
            let mut l: Vec<&'static str> = ct.locales.iter().map(|l| language_of(l)).collect();
            l.sort_unstable();
            l.dedup();
            l
        };
        let mut b = Schema::builder();
        let id = b.add_text_field("_id", STRING | STORED);
        let scope = b.add_u64_field(SCOPE, FAST);
        let locale = b.add_text_field("_locale", STRING | STORED);
        let owner = b.add_text_field("_owner", STRING);
        let facet = b.add_facet_field(FACET, FacetOptions::default());
        let rank = b.add_u64_field(RANK, FAST);

        let mut found = Vec::new();
        collect_texts(&ct.fields, &mut Vec::new(), false, false, &mut found);
        let texts = found
            .into_iter()
            .map(|(path, f, private, localized)| {
                let name = path.join(".");
                let exact = b.add_text_field(&format!("{name}#exact"), text_options(EXACT, true));
                let pairs = b.add_text_field(&format!("{name}#pairs"), text_options(PAIRS, false));
                let stemmed = languages
                    .iter()
                    .map(|lang| {
                        let field = b.add_text_field(
                            &format!("{name}#{lang}"),
                            text_options(&stemmed_name(lang), false),
                        );
                        (*lang, field)
                    })
                    .collect();
                TextSpec {
                    name,
                    path,
                    boost: f.search.as_ref().map_or(1.0, |s| s.boost),
                    private,
                    localized,
                    markdown: matches!(f.ty, FieldType::Markdown),
                    exact,
                    pairs,
                    stemmed,
                }
            })
            .collect();
        let facets = ct
            .fields
            .iter()
            .filter(|f| !f.localized)
            .filter_map(|f| match &f.ty {
                FieldType::Enum { .. } => Some(FacetSpec {
                    name: f.name.clone(),
                    private: f.private,
                    target: None,
                }),
                FieldType::Relation { target, .. } => Some(FacetSpec {
                    name: f.name.clone(),
                    private: f.private,
                    target: Some(target.clone()),
                }),
                _ => None,
            })
            .collect();
        let date_options = DateOptions::from(INDEXED | FAST)
            .set_precision(tantivy::schema::DateTimePrecision::Milliseconds);
        let mut dates: Vec<DateSpec> = META_DATES
            .iter()
            .map(|m| DateSpec {
                name: (*m).to_owned(),
                field: b.add_date_field(m, date_options.clone()),
                private: false,
            })
            .collect();
        for f in ct
            .fields
            .iter()
            .filter(|f| matches!(f.ty, FieldType::Datetime | FieldType::Date) && !f.localized)
        {
            dates.push(DateSpec {
                name: f.name.clone(),
                field: b.add_date_field(&f.name, date_options.clone()),
                private: f.private,
            });
        }
        let schema = b.build();
        let mut layout = Layout {
            type_id: ct.id.clone(),
            schema,
            fingerprint: String::new(),
            id,
            scope,
            locale,
            owner,
            facet,
            rank,
            texts,
            facets,
            dates,
            locales: ct.locales.clone(),
            default_language,
        };
        layout.fingerprint = layout.compute_fingerprint();
        layout
    }

    fn compute_fingerprint(&self) -> String {
        let description = json!({
            "format": FORMAT,
            "schema": serde_json::to_value(&self.schema).unwrap_or_default(),
            "texts": self.texts.iter().map(|t| json!([t.name, t.private, t.localized, t.markdown])).collect::<Vec<_>>(),
            "facets": self.facets.iter().map(|f| json!([f.name, f.private, f.target])).collect::<Vec<_>>(),
            "dates": self.dates.iter().map(|d| json!([d.name, d.private])).collect::<Vec<_>>(),
            "locales": self.locales,
            "language": self.default_language,
        });
        let digest = Sha256::digest(description.to_string().as_bytes());
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The language analysing text of `locale` (the type's default for `None`).
    pub fn language(&self, locale: Option<&str>) -> &'static str {
        match locale.filter(|l| !l.is_empty()) {
            Some(l) if !self.locales.is_empty() => language_of(l),
            _ => self.default_language,
        }
    }

    pub fn default_locale(&self) -> Option<&str> {
        self.locales.first().map(String::as_str)
    }

    pub fn text(&self, name: &str) -> Option<&TextSpec> {
        self.texts.iter().find(|t| t.name == name)
    }

    pub fn date(&self, name: &str) -> Option<&DateSpec> {
        self.dates.iter().find(|d| d.name == name)
    }

    pub fn facet_spec(&self, name: &str) -> Option<&FacetSpec> {
        self.facets.iter().find(|f| f.name == name)
    }

    /// The documents of one entry: its working copy (`admin`, absent once deleted) and its
    /// published snapshot (`delivery`), with `titles` naming related entries by id.
    pub fn documents(
        &self,
        admin: Option<&Map<String, Value>>,
        delivery: Option<&Map<String, Value>>,
        titles: &Titles,
    ) -> Vec<TantivyDocument> {
        let mut parts: Vec<(Parts, Vec<Audience>)> = Vec::new();
        // A published entry whose working copy has not changed since: one set of documents,
        // without analysing the same texts twice.
        if let (Some(a), Some(d)) = (admin, delivery)
            && !self.has_private()
            && self.indexed_equal(a, d)
        {
            return self
                .parts(d, Audience::Delivery, titles)
                .into_iter()
                .map(|p| self.document(p, &[Audience::Admin, Audience::Delivery]))
                .collect();
        }
        for (row, audience) in [(admin, Audience::Admin), (delivery, Audience::Delivery)] {
            let Some(row) = row else { continue };
            for p in self.parts(row, audience, titles) {
                match parts.iter_mut().find(|(q, _)| *q == p) {
                    Some((_, audiences)) => audiences.push(audience),
                    None => parts.push((p, vec![audience])),
                }
            }
        }
        parts
            .into_iter()
            .map(|(p, audiences)| self.document(p, &audiences))
            .collect()
    }

    pub fn audience_bit(&self, audience: Audience) -> u64 {
        match audience {
            Audience::Admin => 1,
            Audience::Delivery => 2,
        }
    }

    /// The bit of a locale (of `_` for a type without locales); a locale the type does not
    /// have gets a bit no document carries.
    pub fn serves_bit(&self, locale: &str) -> u64 {
        let i = if self.locales.is_empty() {
            usize::from(locale != UNLOCALIZED)
        } else {
            self.locales
                .iter()
                .position(|l| l == locale)
                .unwrap_or(self.locales.len())
        };
        4u64 << i.min(61)
    }

    fn has_private(&self) -> bool {
        self.texts.iter().any(|t| t.private)
            || self.facets.iter().any(|f| f.private)
            || self.dates.iter().any(|d| d.private)
    }

    /// Whether two rows hold the same values in everything documents are made of.
    fn indexed_equal(&self, a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
        let same = |key: &str| a.get(key) == b.get(key);
        same("id")
            && same("created_by")
            && self.texts.iter().all(|t| same(&t.path[0]))
            && self.facets.iter().all(|f| same(&f.name))
            && self.dates.iter().all(|d| same(&d.name))
    }

    /// What one row contributes, per locale with values of its own.
    fn parts(&self, row: &Map<String, Value>, audience: Audience, titles: &Titles) -> Vec<Parts> {
        let id = row.get("id").and_then(Value::as_str).unwrap_or_default();
        let owner = row
            .get("created_by")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let include = |private: bool| audience == Audience::Admin || !private;
        let mut facets = Vec::new();
        for f in self.facets.iter().filter(|f| include(f.private)) {
            for v in scalars(row.get(&f.name)) {
                let value = match &f.target {
                    Some(_) => match titles.get(&v) {
                        Some(title) => title.clone(),
                        // A related entry with no published title: the public sees nothing
                        // of it (its id would say a draft exists); editors see its id.
                        None if audience == Audience::Delivery => continue,
                        None => v,
                    },
                    None => v,
                };
                facets.push(Facet::from_path([f.name.as_str(), value.as_str()]));
            }
        }
        let mut dates = Vec::new();
        for d in self.dates.iter().filter(|d| include(d.private)) {
            if let Some(t) = row
                .get(&d.name)
                .and_then(Value::as_str)
                .and_then(parse_date)
            {
                dates.push((d.name.clone(), t));
            }
        }
        let texts_in = |locale: Option<&str>, own_only: bool| -> Vec<(String, String)> {
            let mut out = Vec::new();
            for t in self.texts.iter().filter(|t| include(t.private)) {
                let value = row.get(&t.path[0]);
                let value = match (t.localized, locale) {
                    (true, Some(l)) => {
                        let own = value.and_then(|v| v.get(l)).filter(|v| !v.is_null());
                        match (own, own_only) {
                            (Some(v), _) => Some(v),
                            (None, true) => None,
                            (None, false) => self
                                .default_locale()
                                .and_then(|d| value.and_then(|v| v.get(d))),
                        }
                    }
                    _ if own_only => None,
                    _ => value,
                };
                let mut strings = Vec::new();
                collect_strings(value, &t.path[1..], &mut strings);
                for s in strings {
                    let text = if t.markdown {
                        crate::markdown::to_text(&s)
                    } else {
                        s
                    };
                    out.push((t.name.clone(), text));
                }
            }
            out
        };
        let base = |locale: &str, serves: Vec<String>, texts| Parts {
            id: id.to_owned(),
            owner: owner.to_owned(),
            locale: locale.to_owned(),
            serves,
            texts,
            facets: facets.clone(),
            dates: dates.clone(),
        };
        let Some(default) = self.default_locale() else {
            return vec![base(
                "",
                vec![UNLOCALIZED.to_owned()],
                texts_in(None, false),
            )];
        };
        // Locales with values of their own get their own document; the others are answered
        // by the default locale's, as the delivery API falls back to it.
        let mut out = Vec::new();
        let mut served_by_default = vec![default.to_owned()];
        for l in &self.locales[1..] {
            if texts_in(Some(l), true).is_empty() {
                served_by_default.push(l.clone());
            } else {
                out.push(base(l, vec![l.clone()], texts_in(Some(l), false)));
            }
        }
        out.insert(
            0,
            base(default, served_by_default, texts_in(Some(default), false)),
        );
        out
    }

    fn document(&self, p: Parts, audiences: &[Audience]) -> TantivyDocument {
        let mut doc = TantivyDocument::default();
        doc.add_text(self.id, &p.id);
        doc.add_u64(self.rank, rank_of(&p.id));
        let mut scope = 0;
        for a in audiences {
            scope |= self.audience_bit(*a);
        }
        for s in &p.serves {
            scope |= self.serves_bit(s);
        }
        doc.add_u64(self.scope, scope);
        doc.add_text(self.locale, &p.locale);
        doc.add_text(self.owner, &p.owner);
        for f in p.facets {
            doc.add_facet(self.facet, f);
        }
        for (name, t) in &p.dates {
            if let Some(d) = self.date(name) {
                doc.add_date(d.field, *t);
            }
        }
        let language = self.language(Some(&p.locale));
        for (name, text) in &p.texts {
            let Some(spec) = self.text(name) else {
                continue;
            };
            doc.add_text(spec.exact, text);
            doc.add_text(spec.pairs, text);
            if let Some(field) = spec.stemmed.get(language) {
                doc.add_text(*field, text);
            }
        }
        doc
    }
}

/// Related entries' titles by id.
pub(crate) type Titles = BTreeMap<String, String>;

/// What a document holds, compared to merge the two audiences' documents.
#[derive(Debug, PartialEq)]
struct Parts {
    id: String,
    owner: String,
    locale: String,
    serves: Vec<String>,
    texts: Vec<(String, String)>,
    facets: Vec<Facet>,
    dates: Vec<(String, IndexDate)>,
}

/// Exact words are stored (for highlights) and keep their positions (phrases of three words
/// or more are checked on them); stemmed words and word pairs only need their frequencies,
/// for ranking.
fn text_options(tokenizer: &str, exact: bool) -> TextOptions {
    let options = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(if exact {
                IndexRecordOption::WithFreqsAndPositions
            } else {
                IndexRecordOption::WithFreqs
            }),
    );
    if exact { options.set_stored() } else { options }
}

/// Searchable text fields, depth first, with their path and whether they are private or
/// localised (a group's flags apply to what it holds).
fn collect_texts<'a>(
    fields: &'a [SchemaField],
    path: &mut Vec<String>,
    private: bool,
    localized: bool,
    out: &mut Vec<(Vec<String>, &'a SchemaField, bool, bool)>,
) {
    for f in fields {
        path.push(f.name.clone());
        let private = private || f.private;
        let localized = localized || f.localized;
        match &f.ty {
            FieldType::Group { fields } | FieldType::Repeater { fields } => {
                collect_texts(fields, path, private, localized, out);
            }
            FieldType::Text | FieldType::LongText | FieldType::Markdown if f.search.is_some() => {
                out.push((path.clone(), f, private, localized));
            }
            _ => {}
        }
        path.pop();
    }
}

/// The strings under `rest` of `value`, through objects (groups) and arrays (repeaters).
fn collect_strings(value: Option<&Value>, rest: &[String], out: &mut Vec<String>) {
    match value {
        Some(Value::Array(items)) => {
            for item in items {
                collect_strings(Some(item), rest, out);
            }
        }
        Some(Value::Object(o)) if !rest.is_empty() => {
            collect_strings(o.get(&rest[0]), &rest[1..], out);
        }
        Some(Value::String(s)) if rest.is_empty() && !s.is_empty() => out.push(s.clone()),
        _ => {}
    }
}

/// A field's value(s) as strings: one, or each item of a list.
pub(crate) fn scalars(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// An RFC 3339 date-time or a `YYYY-MM-DD` date as an index date.
pub(crate) fn parse_date(s: &str) -> Option<IndexDate> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(IndexDate::from_timestamp_millis(t.timestamp_millis()));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| IndexDate::from_timestamp_secs(t.and_utc().timestamp()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::schema::Value as _;

    fn article() -> ContentType {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("content-types");
        let schema = crate::load_schema(&dir).unwrap();
        (**schema.get("article").unwrap()).clone()
    }

    fn row(title: Value, status_fields: Value) -> Map<String, Value> {
        let mut r = json!({
            "id": "01J0000000000000000000000A",
            "created_by": "u1",
            "created_at": "2024-01-01T00:00:00.000Z",
            "updated_at": "2024-01-02T00:00:00.000Z",
            "title": title,
            "body": {"en": "## Tokio\n\nA [runtime](https://example.com/secret)."},
            "editor_notes": "private words",
            "tags": ["01J0000000000000000000000T"],
        })
        .as_object()
        .unwrap()
        .clone();
        if let Value::Object(extra) = status_fields {
            r.extend(extra);
        }
        r
    }

    fn texts(layout: &Layout, doc: &TantivyDocument, field: &str) -> Vec<String> {
        let f = layout.text(field).unwrap().exact;
        doc.get_all(f)
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }

    #[test]
    fn one_document_serves_both_audiences_when_they_agree_on_public_parts() {
        let layout = Layout::new(&article(), "en");
        let titles = Titles::from([("01J0000000000000000000000T".into(), "Rust".into())]);
        let draft = row(json!({"en": "Hello"}), json!({}));
        let mut published = draft.clone();
        published.remove("editor_notes");
        let docs = layout.documents(Some(&draft), Some(&published), &titles);
        // The private notes are not searchable, so both audiences index the same document.
        assert!(layout.text("editor_notes").is_none());
        assert_eq!(docs.len(), 1);
        let scope = docs[0].get_first(layout.scope).and_then(|v| v.as_u64());
        assert_eq!(
            scope,
            Some(
                layout.audience_bit(Audience::Admin)
                    | layout.audience_bit(Audience::Delivery)
                    | layout.serves_bit("en")
                    | layout.serves_bit("fr")
            )
        );
        // A draft that differs from what is published is a document of its own.
        let edited = row(json!({"en": "Hello again"}), json!({}));
        assert_eq!(
            layout
                .documents(Some(&edited), Some(&published), &titles)
                .len(),
            2
        );
        // Markdown is indexed as its text, link targets left out.
        assert_eq!(texts(&layout, &docs[0], "body"), ["Tokio\nA runtime."]);
        let facets: Vec<String> = docs[0]
            .get_all(layout.facet)
            .filter_map(|v| v.as_facet())
            .map(|f| {
                Facet::from_encoded(f.as_bytes().to_vec())
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(facets, ["/tags/Rust"]);
    }

    #[test]
    fn locales_without_values_of_their_own_fall_back_to_the_default() {
        let layout = Layout::new(&article(), "en");
        let titles = Titles::new();
        let only_en = row(json!({"en": "Hello"}), json!({}));
        let docs = layout.documents(None, Some(&only_en), &titles);
        assert_eq!(docs.len(), 1);
        let scope = docs[0].get_first(layout.scope).and_then(|v| v.as_u64());
        assert_eq!(
            scope,
            Some(
                layout.audience_bit(Audience::Delivery)
                    | layout.serves_bit("en")
                    | layout.serves_bit("fr")
            )
        );
        let both = row(json!({"en": "Hello", "fr": "Bonjour"}), json!({}));
        let docs = layout.documents(None, Some(&both), &titles);
        assert_eq!(docs.len(), 2);
        assert_eq!(texts(&layout, &docs[1], "title"), ["Bonjour"]);
        // The French document falls back to the English body.
        assert_eq!(texts(&layout, &docs[1], "body"), ["Tokio\nA runtime."]);
    }

    #[test]
    fn fingerprints_change_with_searchable_fields_only() {
        let a = Layout::new(&article(), "en");
        assert_eq!(a.fingerprint, Layout::new(&article(), "en").fingerprint);
        let mut changed = article();
        changed.fields.retain(|f| f.name != "excerpt");
        assert_ne!(a.fingerprint, Layout::new(&changed, "en").fingerprint);
        let mut boosted = article();
        boosted.fields[0].search = Some(crate::schema::SearchSpec { boost: 9.0 });
        assert_eq!(a.fingerprint, Layout::new(&boosted, "en").fingerprint);
    }
}
