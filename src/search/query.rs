//! The query language of the search endpoints, and its translation into tantivy queries.
//!
//! `tokio runtime` needs every word (stemmed, so `runtimes` counts; words of five letters or
//! more forgive one typo, of nine or more two; the last word is also a prefix, for
//! search-as-you-type). `"exact phrase"` needs those words in that order, `-word` and
//! `-"a phrase"` exclude. In exact mode words match only themselves: no stemming, typos or
//! prefixes. A title match outranks a body match through the fields' boosts.

use std::ops::Bound;

use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, PhraseQuery, Query, RangeQuery,
    TermQuery,
};
use tantivy::schema::{Facet, IndexRecordOption};

use super::analysis::{Wanted, pair, stems, words};
use super::layout::{Audience, Layout, TextSpec, UNLOCALIZED};
use crate::error::{Error, Result, code};

/// Longest query text accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// Most words and phrases in one query.
const MAX_TERMS: usize = 32;
/// Typo matches and prefix matches count for this much of an exact match's boost.
const LOOSE_WEIGHT: f32 = 0.2;

/// A parsed query: what must match and what must not.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed {
    /// Single words, each required.
    pub words: Vec<String>,
    /// Phrases of two or more words (and quoted single words), each required as written.
    pub phrases: Vec<Vec<String>>,
    /// Words and phrases that must not appear.
    pub excluded: Vec<Vec<String>>,
    /// The last word is still being typed: it also matches as a prefix.
    pub prefix_last: bool,
}

impl Parsed {
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.phrases.is_empty()
    }
}

fn syntax(message: impl Into<String>) -> Error {
    Error::InvalidQuery {
        code: code::INVALID_SEARCH,
        param: "q".into(),
        message: message.into(),
    }
}

/// Parses the text of `q`.
pub fn parse(q: &str) -> Result<Parsed> {
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(syntax(format!(
            "the search text is longer than {MAX_QUERY_CHARS} characters"
        )));
    }
    let mut parsed = Parsed::default();
    let mut chars = q.char_indices().peekable();
    let mut terms = 0;
    let mut last_plain_at_end = false;
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            last_plain_at_end = false;
            continue;
        }
        let negated = c == '-';
        if negated {
            chars.next();
        }
        let quoted = matches!(chars.peek(), Some((_, '"')));
        let text = if quoted {
            chars.next();
            let from = chars.peek().map_or(q.len(), |(i, _)| *i);
            let mut to = None;
            for (i, c) in chars.by_ref() {
                if c == '"' {
                    to = Some(i);
                    break;
                }
            }
            let Some(to) = to else {
                return Err(syntax(format!(
                    "the quote opened at character {} is never closed",
                    q[..start].chars().count() + usize::from(negated) + 1
                )));
            };
            &q[from..to]
        } else {
            let from = chars.peek().map_or(q.len(), |(i, _)| *i);
            let mut to = q.len();
            while let Some(&(i, c)) = chars.peek() {
                if c.is_whitespace() {
                    to = i;
                    break;
                }
                chars.next();
            }
            &q[from..to]
        };
        let ws = words(text);
        if ws.is_empty() {
            continue;
        }
        terms += 1;
        if terms > MAX_TERMS {
            return Err(syntax(format!(
                "a search may hold at most {MAX_TERMS} words and phrases"
            )));
        }
        last_plain_at_end = false;
        if negated {
            parsed.excluded.push(ws);
        } else if quoted || ws.len() > 1 {
            parsed.phrases.push(ws);
        } else {
            parsed.words.extend(ws);
            last_plain_at_end = chars.peek().is_none();
        }
    }
    parsed.prefix_last = last_plain_at_end;
    Ok(parsed)
}

/// Typos forgiven in a word of this many characters.
pub fn typo_distance(word: &str) -> u8 {
    match word.chars().count() {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// What a query looks for in one type's index.
pub(crate) struct Plan<'a> {
    pub layout: &'a Layout,
    pub parsed: &'a Parsed,
    pub exact: bool,
    pub audience: Audience,
    /// The locale answered (its documents, or the default locale's falling back for it).
    pub locale: Option<&'a str>,
    /// Only entries created by this user (an author's own).
    pub owner: Option<&'a str>,
    /// Text fields the caller may search (private and hidden ones left out).
    pub fields: Vec<&'a TextSpec>,
    /// Facet filters: field → accepted values.
    pub facets: &'a [(String, Vec<String>)],
    /// Date filters: field, lower bound, upper bound (inclusive unless `Excluded`).
    pub dates: &'a [(String, Bound<tantivy::DateTime>, Bound<tantivy::DateTime>)],
}

impl Plan<'_> {
    fn language(&self) -> &'static str {
        self.layout.language(self.locale)
    }

    /// The scope bits a matching document must have: its audience and the locale answered.
    pub fn scope(&self) -> u64 {
        let serves = match (self.layout.locales.is_empty(), self.locale) {
            (true, _) => UNLOCALIZED,
            (false, Some(l)) => l,
            (false, None) => self.layout.default_locale().unwrap_or(UNLOCALIZED),
        };
        self.layout.audience_bit(self.audience) | self.layout.serves_bit(serves)
    }

    /// The tantivy query.
    pub fn query(&self) -> Box<dyn Query> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let term = |field, text: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, text),
                IndexRecordOption::Basic,
            ))
        };
        // The audience and the locale are checked by the collector against each match's
        // scope bits (see `scope`): far cheaper than intersecting with postings that hold
        // nearly every document.
        if let Some(owner) = self.owner {
            clauses.push((Occur::Must, term(self.layout.owner, owner)));
        }
        for (field, values) in self.facets {
            let any: Vec<(Occur, Box<dyn Query>)> = values
                .iter()
                .map(|v| {
                    let facet = Facet::from_path([field.as_str(), v.as_str()]);
                    let q: Box<dyn Query> = Box::new(TermQuery::new(
                        Term::from_facet(self.layout.facet, &facet),
                        IndexRecordOption::Basic,
                    ));
                    (Occur::Should, q)
                })
                .collect();
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(any))));
        }
        for (field, lower, upper) in self.dates {
            let Some(spec) = self.layout.date(field) else {
                continue;
            };
            let to_term = |b: &Bound<tantivy::DateTime>| match b {
                Bound::Included(d) => Bound::Included(Term::from_field_date(spec.field, *d)),
                Bound::Excluded(d) => Bound::Excluded(Term::from_field_date(spec.field, *d)),
                Bound::Unbounded => Bound::Unbounded,
            };
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(to_term(lower), to_term(upper))),
            ));
        }
        let words = &self.parsed.words;
        for (i, w) in words.iter().enumerate() {
            let last = i + 1 == words.len() && self.parsed.prefix_last;
            clauses.push((Occur::Must, self.word_query(w, last)));
        }
        for p in &self.parsed.phrases {
            clauses.push((Occur::Must, self.phrase_query(p, 1.0)));
        }
        for p in &self.parsed.excluded {
            let q = if p.len() == 1 {
                self.any_field(|f| {
                    let mut alts: Vec<(Occur, Box<dyn Query>)> =
                        vec![(Occur::Should, term(f.exact, &p[0]))];
                    if !self.exact
                        && let (Some(field), Some(stem)) = (
                            f.stemmed.get(self.language()),
                            stems(&p[0], self.language()).pop(),
                        )
                    {
                        alts.push((Occur::Should, term(*field, &stem)));
                    }
                    Box::new(BooleanQuery::new(alts))
                })
            } else {
                self.phrase_query(p, 1.0)
            };
            clauses.push((Occur::MustNot, q));
        }
        if self.parsed.is_empty() {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        Box::new(BooleanQuery::new(clauses))
    }

    /// One of the fields the caller may search matches `per_field`, each weighted by its boost.
    fn any_field(&self, per_field: impl Fn(&TextSpec) -> Box<dyn Query>) -> Box<dyn Query> {
        let alts: Vec<(Occur, Box<dyn Query>)> = self
            .fields
            .iter()
            .map(|f| {
                let q: Box<dyn Query> = Box::new(BoostQuery::new(per_field(f), f.boost));
                (Occur::Should, q)
            })
            .collect();
        Box::new(BooleanQuery::new(alts))
    }

    /// One word in any field: its stem, and (unless exact) the words one or two typos away
    /// and, for the last word typed, the words it begins. Every alternative of every field
    /// is a clause of one union, each weighted by its field's boost: the same scores as a
    /// union per field inside a union of fields, with one level of merging instead of two.
    fn word_query(&self, word: &str, prefix: bool) -> Box<dyn Query> {
        let language = self.language();
        let stem = stems(word, language).pop();
        let distance = typo_distance(word);
        let mut alts: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for f in &self.fields {
            let mut add = |q: Box<dyn Query>, weight: f32| {
                alts.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(q, f.boost * weight)),
                ));
            };
            let exact_term = Term::from_field_text(f.exact, word);
            if self.exact {
                add(
                    Box::new(TermQuery::new(exact_term, IndexRecordOption::WithFreqs)),
                    1.0,
                );
                continue;
            }
            let main = match (f.stemmed.get(language), &stem) {
                (Some(field), Some(stem)) => Term::from_field_text(*field, stem),
                _ => exact_term.clone(),
            };
            add(
                Box::new(TermQuery::new(main, IndexRecordOption::WithFreqs)),
                1.0,
            );
            if distance > 0 {
                add(
                    Box::new(FuzzyTermQuery::new(exact_term.clone(), distance, true)),
                    LOOSE_WEIGHT,
                );
            }
            if prefix && word.chars().count() >= 2 {
                add(
                    Box::new(FuzzyTermQuery::new_prefix(exact_term, 0, true)),
                    LOOSE_WEIGHT,
                );
            }
        }
        Box::new(BooleanQuery::new(alts))
    }

    /// The words in this order, as written (exact words: a phrase is what the user quoted).
    /// Two words are one term of the pairs field; a longer phrase must hold each of its
    /// pairs, and only documents that do are checked against the words' positions.
    fn phrase_query(&self, words: &[String], boost: f32) -> Box<dyn Query> {
        self.any_field(|f| {
            let q: Box<dyn Query> = match words {
                [word] => Box::new(TermQuery::new(
                    Term::from_field_text(f.exact, word),
                    IndexRecordOption::WithFreqs,
                )),
                _ => {
                    let mut all: Vec<(Occur, Box<dyn Query>)> = words
                        .windows(2)
                        .map(|w| {
                            let q: Box<dyn Query> = Box::new(TermQuery::new(
                                Term::from_field_text(f.pairs, &pair(&w[0], &w[1])),
                                IndexRecordOption::WithFreqs,
                            ));
                            (Occur::Must, q)
                        })
                        .collect();
                    if words.len() > 2 {
                        all.push((
                            Occur::Must,
                            Box::new(PhraseQuery::new(
                                words
                                    .iter()
                                    .map(|w| Term::from_field_text(f.exact, w))
                                    .collect(),
                            )),
                        ));
                    }
                    Box::new(BooleanQuery::new(all))
                }
            };
            Box::new(BoostQuery::new(q, boost))
        })
    }

    /// The words the highlighter marks.
    pub fn wanted(&self) -> Vec<Wanted> {
        let mut out = Vec::new();
        let words = &self.parsed.words;
        for (i, w) in words.iter().enumerate() {
            out.push(Wanted {
                word: w.clone(),
                stemmed: !self.exact,
                distance: if self.exact { 0 } else { typo_distance(w) },
                prefix: !self.exact && i + 1 == words.len() && self.parsed.prefix_last,
            });
        }
        for p in &self.parsed.phrases {
            for w in p {
                out.push(Wanted {
                    word: w.clone(),
                    stemmed: false,
                    distance: 0,
                    prefix: false,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn words_phrases_and_exclusions() {
        let p = parse(r#"Tokio "async runtime" -java -"garbage collector" runt"#).unwrap();
        assert_eq!(p.words, strings(&["tokio", "runt"]));
        assert_eq!(p.phrases, vec![strings(&["async", "runtime"])]);
        assert_eq!(
            p.excluded,
            vec![strings(&["java"]), strings(&["garbage", "collector"])]
        );
        assert!(p.prefix_last);
    }

    #[test]
    fn a_trailing_space_ends_the_prefix() {
        assert!(!parse("tokio ").unwrap().prefix_last);
        assert!(!parse(r#"tokio "runtime""#).unwrap().prefix_last);
        assert!(!parse("tokio -java").unwrap().prefix_last);
    }

    #[test]
    fn joined_words_are_a_phrase() {
        let p = parse("tokio-runtime c++").unwrap();
        assert_eq!(p.phrases, vec![strings(&["tokio", "runtime"])]);
        assert_eq!(p.words, strings(&["c"]));
    }

    #[test]
    fn punctuation_alone_is_ignored() {
        let p = parse(" !!! - -- ").unwrap();
        assert!(p.is_empty() && p.excluded.is_empty());
    }

    #[test]
    fn syntax_errors_say_what_is_wrong() {
        let e = parse(r#"tokio "async runtime"#).unwrap_err();
        assert_eq!(e.code().name, "invalid_search");
        assert!(e.to_string().contains("character 7"), "{e}");
        let long = "a ".repeat(300);
        assert_eq!(parse(&long).unwrap_err().code().name, "invalid_search");
        let many = "word ".repeat(40);
        assert!(parse(&many).unwrap_err().to_string().contains("at most 32"));
    }

    #[test]
    fn typos_forgiven_grow_with_word_length() {
        assert_eq!(typo_distance("rust"), 0);
        assert_eq!(typo_distance("tokio"), 1);
        assert_eq!(typo_distance("databases"), 2);
    }
}
