//! `reading-time`: fills an entry's `reading_time` field (whole minutes, at least 1) from the
//! words of its Markdown fields, at 200 words a minute.
//!
//! Markdown syntax is not counted: link targets, code fences markers, heading hashes and
//! emphasis marks are stripped by a light scan rather than a full parser, which is close enough
//! for an estimate and keeps the plugin free of dependencies.

use folio_plugin_api::{EntryContext, FieldRequirement, Plugin, Rejection};
use serde_json::{Map, Value};

/// Words read per minute.
pub const WORDS_PER_MINUTE: usize = 200;

/// The field this plugin writes.
pub const FIELD: &str = "reading_time";

pub struct ReadingTime;

impl Plugin for ReadingTime {
    fn id(&self) -> &'static str {
        "reading-time"
    }

    fn description(&self) -> &'static str {
        "Fills `reading_time` (minutes) from the entry's Markdown fields"
    }

    fn writes_fields(&self) -> Vec<FieldRequirement> {
        vec![FieldRequirement {
            name: FIELD.into(),
            types: vec!["integer".into()],
        }]
    }

    fn before_save(&self, entry: EntryContext) -> Result<Map<String, Value>, Rejection> {
        let mut fields = entry.fields;
        let words: usize = entry
            .field_types
            .iter()
            .filter(|(_, ty)| ty == "markdown")
            .filter_map(|(name, _)| fields.get(name))
            .map(count_value_words)
            .sum();
        fields.insert(FIELD.into(), Value::from(minutes(words)));
        Ok(fields)
    }
}

/// Minutes for `words` words, rounded up, never below one.
pub fn minutes(words: usize) -> u64 {
    (words.div_ceil(WORDS_PER_MINUTE)).max(1) as u64
}

/// A Markdown value is a string, or, in a localised field, an object of strings per locale;
/// for the latter the longest locale counts.
fn count_value_words(value: &Value) -> usize {
    match value {
        Value::String(s) => count_words(s),
        Value::Object(per_locale) => per_locale
            .values()
            .map(count_value_words)
            .max()
            .unwrap_or(0),
        _ => 0,
    }
}

/// Counts the words a reader reads in Markdown text.
pub fn count_words(markdown: &str) -> usize {
    markdown
        .lines()
        .filter(|line| !line.trim_start().starts_with("```"))
        .map(|line| visible_parts(line).map(words_in).sum::<usize>())
        .sum()
}

/// Whitespace-separated words with at least one letter or digit (list markers, `#` and the
/// like are not words).
fn words_in(text: &str) -> usize {
    text.split_whitespace()
        .filter(|word| word.chars().any(char::is_alphanumeric))
        .count()
}

/// The parts of a line a reader sees: the text around link targets (`](...)`), so URLs are
/// not counted as words.
fn visible_parts(line: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(line);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find("](") {
            Some(start) => {
                let part = &current[..start];
                rest = current[start..]
                    .find(')')
                    .map(|end| &current[start + end + 1..]);
                Some(part)
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(fields: Value) -> EntryContext {
        EntryContext {
            type_id: "article".into(),
            entry_id: None,
            field_types: vec![
                ("title".into(), "text".into()),
                ("body".into(), "markdown".into()),
                ("reading_time".into(), "integer".into()),
            ],
            fields: fields.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn fills_reading_time_from_markdown_fields_only() {
        let body = "word ".repeat(450);
        let out = ReadingTime
            .before_save(ctx(json!({ "title": "x ".repeat(1000), "body": body })))
            .unwrap();
        // 450 words at 200 a minute is 2.25 minutes, rounded up; the title does not count.
        assert_eq!(out["reading_time"], json!(3));
    }

    #[test]
    fn short_and_empty_bodies_take_one_minute() {
        let out = ReadingTime.before_save(ctx(json!({ "body": "" }))).unwrap();
        assert_eq!(out["reading_time"], json!(1));
        let out = ReadingTime.before_save(ctx(json!({}))).unwrap();
        assert_eq!(out["reading_time"], json!(1));
    }

    #[test]
    fn markdown_syntax_is_not_counted() {
        let text = "## Heading here\n\n```rust\nfn main() {}\n```\n\nSee [the docs](https://example.com/a/b) now.\n- item";
        // Heading here | fn main() {} | See the docs now. | item
        assert_eq!(count_words(text), 2 + 2 + 4 + 1);
    }

    #[test]
    fn localised_bodies_count_the_longest_locale() {
        let out = ReadingTime
            .before_save(ctx(
                json!({ "body": { "en": "w ".repeat(250), "fr": "w ".repeat(10) } }),
            ))
            .unwrap();
        assert_eq!(out["reading_time"], json!(2));
    }

    #[test]
    fn other_fields_are_kept() {
        let out = ReadingTime
            .before_save(ctx(json!({ "title": "Hello", "body": "one two" })))
            .unwrap();
        assert_eq!(out["title"], json!("Hello"));
    }
}
