//! Text analysis shared by indexing, querying and highlighting.
//!
//! Every text is cut into words the same way: runs of letters and digits, lower-cased
//! (tantivy's simple tokenizer). Each searchable field is indexed twice: once as those exact
//! words (exact mode, typo tolerance and prefixes work on these) and once stemmed in the
//! language of the entry's locale, so `runtimes` finds `runtime`. Locales without a stemmer
//! fall back to the plain words. A third analysis indexes each pair of adjacent exact words
//! as one term, so a quoted phrase is found by looking up its pairs instead of walking the
//! positions of every document holding its words (which, for common words, is nearly all).

use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer, TokenizerManager,
};

/// Words longer than this are not indexed (base64 blobs, hashes).
const MAX_WORD_BYTES: usize = 64;

/// The analyzer of the exact words.
pub(crate) const EXACT: &str = "folio_exact";

/// The analyzer of pairs of adjacent exact words.
pub(crate) const PAIRS: &str = "folio_pairs";

/// Languages with a stemmer, by the primary subtag of a locale.
const STEMMERS: &[(&str, Language)] = &[
    ("ar", Language::Arabic),
    ("da", Language::Danish),
    ("de", Language::German),
    ("el", Language::Greek),
    ("en", Language::English),
    ("es", Language::Spanish),
    ("fi", Language::Finnish),
    ("fr", Language::French),
    ("hu", Language::Hungarian),
    ("it", Language::Italian),
    ("nl", Language::Dutch),
    ("no", Language::Norwegian),
    ("pt", Language::Portuguese),
    ("ro", Language::Romanian),
    ("ru", Language::Russian),
    ("sv", Language::Swedish),
    ("ta", Language::Tamil),
    ("tr", Language::Turkish),
];

/// The language code whose analyzer treats text in `locale` (`fr-CA` → `fr`); `plain` when
/// there is no stemmer for it.
pub(crate) fn language_of(locale: &str) -> &'static str {
    let primary = locale
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    STEMMERS
        .iter()
        .find(|(code, _)| *code == primary)
        .map_or("plain", |(code, _)| code)
}

/// The tokenizer name of a language's stemmed analyzer.
pub(crate) fn stemmed_name(language: &str) -> String {
    format!("folio_{language}")
}

fn exact_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_WORD_BYTES))
        .filter(LowerCaser)
        .build()
}

fn pairs_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_WORD_BYTES))
        .filter(LowerCaser)
        .filter(WordPairs)
        .build()
}

/// The term of two adjacent exact words in the pairs field. Words never hold a space.
pub(crate) fn pair(first: &str, second: &str) -> String {
    format!("{first} {second}")
}

/// Turns a stream of words into one token per pair of words at adjacent positions (a word
/// dropped as too long breaks the pair, as it breaks a phrase).
#[derive(Clone, Copy)]
struct WordPairs;

impl TokenFilter for WordPairs {
    type Tokenizer<T: Tokenizer> = WordPairsFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> WordPairsFilter<T> {
        WordPairsFilter { inner: tokenizer }
    }
}

#[derive(Clone)]
struct WordPairsFilter<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for WordPairsFilter<T> {
    type TokenStream<'a> = WordPairsStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        WordPairsStream {
            tail: self.inner.token_stream(text),
            previous: String::new(),
            previous_at: None,
            token: Token::default(),
        }
    }
}

struct WordPairsStream<S> {
    tail: S,
    /// The last word seen, and its position and start (none before the first word).
    previous: String,
    previous_at: Option<(usize, usize)>,
    token: Token,
}

impl<S: TokenStream> TokenStream for WordPairsStream<S> {
    fn advance(&mut self) -> bool {
        while self.tail.advance() {
            let word = self.tail.token();
            let paired = match self.previous_at {
                Some((position, offset_from)) if position + 1 == word.position => {
                    self.token.text.clear();
                    self.token.text.push_str(&self.previous);
                    self.token.text.push(' ');
                    self.token.text.push_str(&word.text);
                    self.token.position = position;
                    self.token.offset_from = offset_from;
                    self.token.offset_to = word.offset_to;
                    true
                }
                _ => false,
            };
            self.previous.clear();
            self.previous.push_str(&word.text);
            self.previous_at = Some((word.position, word.offset_from));
            if paired {
                return true;
            }
        }
        false
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

fn stemmed_analyzer(language: &str) -> TextAnalyzer {
    let stemmer = STEMMERS.iter().find(|(code, _)| *code == language);
    match stemmer {
        Some((_, lang)) => TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(MAX_WORD_BYTES))
            .filter(LowerCaser)
            .filter(Stemmer::new(*lang))
            .filter(AsciiFoldingFilter)
            .build(),
        None => TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(MAX_WORD_BYTES))
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .build(),
    }
}

/// Registers the exact analyzer and every stemmed one with an index.
pub(crate) fn register(manager: &TokenizerManager) {
    manager.register(EXACT, exact_analyzer());
    manager.register(PAIRS, pairs_analyzer());
    manager.register(&stemmed_name("plain"), stemmed_analyzer("plain"));
    for (code, _) in STEMMERS {
        manager.register(&stemmed_name(code), stemmed_analyzer(code));
    }
}

/// The exact words of `text`.
pub(crate) fn words(text: &str) -> Vec<String> {
    collect(&mut exact_analyzer(), text)
        .into_iter()
        .map(|t| t.2)
        .collect()
}

/// The pairs of adjacent words of `text`, as the pairs field holds them.
#[cfg(test)]
fn pairs(text: &str) -> Vec<String> {
    collect(&mut pairs_analyzer(), text)
        .into_iter()
        .map(|t| t.2)
        .collect()
}

/// The stems of `text` in `language`.
pub(crate) fn stems(text: &str, language: &str) -> Vec<String> {
    collect(&mut stemmed_analyzer(language), text)
        .into_iter()
        .map(|t| t.2)
        .collect()
}

fn collect(analyzer: &mut TextAnalyzer, text: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        let t = stream.token();
        out.push((t.offset_from, t.offset_to, t.text.clone()));
    }
    out
}

/// One word of a query, as the highlighter looks for it.
#[derive(Debug, Clone)]
pub(crate) struct Wanted {
    /// The exact (lower-cased) word.
    pub word: String,
    /// Also matches words with the same stem (not in exact mode).
    pub stemmed: bool,
    /// Edit distance tolerated.
    pub distance: u8,
    /// Also matches words starting with it.
    pub prefix: bool,
}

/// Marks the words a query finds in stored texts. Built once per search and language, so the
/// analyzers and the query words' stems are made once, not per text.
pub(crate) struct Highlighter {
    wanted: Vec<Wanted>,
    /// The stem of each wanted word that matches by stem.
    stems: Vec<Option<String>>,
    exact: TextAnalyzer,
    stemmer: TextAnalyzer,
}

impl Highlighter {
    pub fn new(wanted: Vec<Wanted>, language: &str) -> Self {
        let stems = wanted
            .iter()
            .map(|w| {
                w.stemmed
                    .then(|| stems(&w.word, language).into_iter().next())
                    .flatten()
            })
            .collect();
        Self {
            wanted,
            stems,
            exact: exact_analyzer(),
            stemmer: stemmed_analyzer(language),
        }
    }

    /// `text` with the wanted words marked, HTML-escaped around the marks, cut to about
    /// `max_chars` around the densest run of matches near the first one; `None` when nothing
    /// in it matches. Reading stops a little past the first match: a long body is not
    /// tokenized to its end for a snippet from its start.
    pub fn highlight(&mut self, text: &str, max_chars: usize) -> Option<String> {
        if self.wanted.is_empty() {
            return None;
        }
        let Self {
            wanted,
            stems,
            exact,
            stemmer,
        } = self;
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut marks: Vec<(usize, usize)> = Vec::new();
        let mut stream = exact.token_stream(text);
        while stream.advance() {
            let t = stream.token();
            if let Some(first) = marks.first()
                && t.offset_from > first.0 + 2 * max_chars
            {
                break;
            }
            spans.push((t.offset_from, t.offset_to));
            if matches(wanted, stems, stemmer, &t.text) {
                marks.push((t.offset_from, t.offset_to));
            }
        }
        if marks.is_empty() {
            return None;
        }
        let (start, end) = window(text, &spans, &marks, max_chars);
        let mut out = String::with_capacity(end - start + marks.len() * 13 + 8);
        if start > 0 {
            out.push('…');
        }
        let mut pos = start;
        for &(from, to) in marks.iter().filter(|(f, t)| *f >= start && *t <= end) {
            escape_into(&mut out, &text[pos..from]);
            out.push_str("<mark>");
            escape_into(&mut out, &text[from..to]);
            out.push_str("</mark>");
            pos = to;
        }
        escape_into(&mut out, &text[pos..end]);
        if end < text.len() {
            out.push('…');
        }
        Some(out)
    }
}

/// Whether `word` (an exact, lower-cased word of a text) is one the query looks for.
fn matches(
    wanted: &[Wanted],
    stems: &[Option<String>],
    stemmer: &mut TextAnalyzer,
    word: &str,
) -> bool {
    let mut stem: Option<Option<String>> = None;
    for (w, ws) in wanted.iter().zip(stems) {
        if word == w.word
            || (w.prefix && word.starts_with(&w.word))
            || (w.distance > 0 && within_distance(word, &w.word, w.distance))
        {
            return true;
        }
        // Stems keep the start of the word: only words starting alike are stemmed.
        if let Some(ws) = ws
            && word.as_bytes().get(..2) == ws.as_bytes().get(..2)
        {
            let s = stem.get_or_insert_with(|| {
                let mut stream = stemmer.token_stream(word);
                stream.advance().then(|| stream.token().text.clone())
            });
            if s.as_deref() == Some(ws.as_str()) {
                return true;
            }
        }
    }
    false
}

/// `text` with the words `wanted` finds marked (see [`Highlighter::highlight`]).
#[cfg(test)]
pub(crate) fn highlight(
    text: &str,
    language: &str,
    wanted: &[Wanted],
    max_chars: usize,
) -> Option<String> {
    Highlighter::new(wanted.to_vec(), language).highlight(text, max_chars)
}

/// The byte range of the snippet: the whole text when short, else the stretch of about
/// `max_chars` holding the most matches, starting a little before the first of them, cut at
/// word boundaries.
fn window(
    text: &str,
    tokens: &[(usize, usize)],
    marks: &[(usize, usize)],
    max_chars: usize,
) -> (usize, usize) {
    if text.chars().count() <= max_chars {
        return (0, text.len());
    }
    // Byte budget: good enough for the ranking of windows; the cut below is by characters.
    let budget = max_chars;
    let (mut best, mut best_count, mut j) = (0, 0, 0);
    for i in 0..marks.len() {
        j = j.max(i);
        while j + 1 < marks.len() && marks[j + 1].1 - marks[i].0 <= budget {
            j += 1;
        }
        if j + 1 - i > best_count {
            best = i;
            best_count = j + 1 - i;
        }
    }
    let lead = (budget / 5).min(40);
    let from = marks[best].0.saturating_sub(lead);
    // Start at the first word at or after `from` (or the match itself).
    let start = if from == 0 {
        0
    } else {
        tokens
            .iter()
            .map(|t| t.0)
            .find(|&s| s >= from)
            .unwrap_or(marks[best].0)
            .min(marks[best].0)
    };
    let mut end = start;
    for (chars, (i, c)) in text[start..].char_indices().enumerate() {
        if chars == max_chars {
            end = start + i;
            break;
        }
        end = start + i + c.len_utf8();
    }
    // Do not cut a word in half: end after the last word that fits.
    if end < text.len() {
        end = tokens
            .iter()
            .filter(|t| t.0 >= start && t.1 <= end)
            .map(|t| t.1)
            .next_back()
            .unwrap_or(end);
    }
    (start, end)
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
}

/// Whether `a` and `b` are at most `max` edits apart, counting an adjacent transposition as
/// one edit (what the index's typo matching counts). Words are at most 64 bytes (longer ones
/// are not indexed), so everything fits on the stack.
pub(crate) fn within_distance(a: &str, b: &str, max: u8) -> bool {
    const N: usize = MAX_WORD_BYTES + 1;
    let max = usize::from(max);
    if a.len().abs_diff(b.len()) > max * 4 || a.len() >= N || b.len() >= N {
        return false;
    }
    // Cheap refusals first: ASCII lengths are character counts; and with `max` edits, one
    // of the first `max + 1` characters of `a` is kept, within `2 * max + 1` of `b`'s start.
    if a.is_ascii() && b.is_ascii() {
        if a.len().abs_diff(b.len()) > max {
            return false;
        }
        let (ha, hb) = (
            &a.as_bytes()[..a.len().min(max + 1)],
            &b.as_bytes()[..b.len().min(2 * max + 1)],
        );
        if a.len() > max && !ha.iter().any(|c| hb.contains(c)) {
            return false;
        }
    }
    let mut ac = ['\0'; N];
    let mut bc = ['\0'; N];
    let (mut la, mut lb) = (0, 0);
    for c in a.chars() {
        ac[la] = c;
        la += 1;
    }
    for c in b.chars() {
        bc[lb] = c;
        lb += 1;
    }
    if la.abs_diff(lb) > max {
        return false;
    }
    // Optimal string alignment distance, row by row.
    let mut prev2 = [0usize; N];
    let mut prev = [0usize; N];
    let mut cur = [0usize; N];
    for (j, p) in prev.iter_mut().enumerate().take(lb + 1) {
        *p = j;
    }
    for i in 1..=la {
        cur[0] = i;
        let mut row_min = i;
        for j in 1..=lb {
            let cost = usize::from(ac[i - 1] != bc[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && ac[i - 1] == bc[j - 2] && ac[i - 2] == bc[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
            row_min = row_min.min(d);
        }
        if row_min > max {
            return false;
        }
        prev2 = prev;
        prev = cur;
    }
    prev[lb] <= max
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(word: &str) -> Wanted {
        Wanted {
            word: word.into(),
            stemmed: true,
            distance: 0,
            prefix: false,
        }
    }

    #[test]
    fn locales_pick_their_stemmer() {
        assert_eq!(language_of("en"), "en");
        assert_eq!(language_of("fr-CA"), "fr");
        assert_eq!(language_of("pt_BR"), "pt");
        assert_eq!(language_of("ja"), "plain");
        assert_eq!(stems("Runtimes running", "en"), ["runtim", "run"]);
        assert_eq!(stems("Runtimes", "plain"), ["runtimes"]);
    }

    #[test]
    fn french_german_and_spanish_plurals_meet_their_singulars() {
        for (language, plural, singular) in [
            ("fr", "maisons", "maison"),
            ("fr", "chanteuses", "chanteuse"),
            ("de", "Katzen", "Katze"),
            ("es", "casas", "casa"),
            ("es", "gatos", "gato"),
        ] {
            assert_eq!(
                stems(plural, language),
                stems(singular, language),
                "{language}"
            );
            assert_ne!(stems(plural, "plain"), stems(singular, "plain"));
        }
    }

    #[test]
    fn pairs_are_adjacent_words_and_a_dropped_word_breaks_them() {
        assert_eq!(
            pairs("Tokio's runtime, fast"),
            ["tokio s", "s runtime", "runtime fast"]
        );
        assert!(pairs("one").is_empty());
        let long = "x".repeat(MAX_WORD_BYTES + 1);
        assert_eq!(pairs(&format!("a {long} b c")), ["b c"]);
    }

    #[test]
    fn words_are_runs_of_letters_and_digits() {
        assert_eq!(
            words("Tokio's `spawn_blocking()` in Rust-2024"),
            ["tokio", "s", "spawn", "blocking", "in", "rust", "2024"]
        );
    }

    #[test]
    fn highlights_escape_everything_but_the_marks() {
        let out = highlight("<b>Tokio</b> & the runtime", "en", &[wanted("tokio")], 200);
        assert_eq!(
            out.as_deref(),
            Some("&lt;b&gt;<mark>Tokio</mark>&lt;/b&gt; &amp; the runtime")
        );
    }

    #[test]
    fn highlights_stems_typos_and_prefixes() {
        let text = "Runtimes differ; the tokio scheduler and a runtime.";
        let typo = Wanted {
            word: "tokoi".into(),
            stemmed: false,
            distance: 1,
            prefix: false,
        };
        let prefix = Wanted {
            word: "sched".into(),
            stemmed: false,
            distance: 0,
            prefix: true,
        };
        let out = highlight(text, "en", &[wanted("runtime"), typo, prefix], 200).unwrap();
        assert_eq!(
            out,
            "<mark>Runtimes</mark> differ; the <mark>tokio</mark> <mark>scheduler</mark> and a \
             <mark>runtime</mark>."
        );
        assert!(highlight(text, "en", &[wanted("database")], 200).is_none());
    }

    #[test]
    fn long_texts_are_cut_around_the_matches() {
        let text = format!(
            "{} tokio runtime {}",
            "filler ".repeat(100),
            "after ".repeat(100)
        );
        let out = highlight(&text, "en", &[wanted("tokio")], 80).unwrap();
        assert!(out.starts_with('…') && out.ends_with('…'), "{out}");
        assert!(out.contains("<mark>tokio</mark>"));
        assert!(out.chars().count() < 110, "{out}");
    }

    #[test]
    fn edit_distance_counts_transpositions_once() {
        assert!(within_distance("tokoi", "tokio", 1));
        assert!(within_distance("runtme", "runtime", 1));
        assert!(!within_distance("tokyo", "tokio", 0));
        assert!(!within_distance("database", "datastore", 2));
        assert!(within_distance("databse", "database", 1));
        assert!(within_distance("xatabase", "database", 1));
        assert!(within_distance("adtabase", "database", 1));
        assert!(within_distance("xyatabase", "database", 2));
        assert!(!within_distance("xyztabase", "database", 2));
    }
}
