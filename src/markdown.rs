//! Markdown to HTML for `render=html`: CommonMark plus tables, strikethrough and task lists,
//! rendered by pulldown-cmark and then sanitised by ammonia, so raw HTML in an entry (a
//! `<script>`, an `onerror=` attribute, a `javascript:` link) never reaches a website.
//!
//! Before sanitising, raw HTML that would change how an HTML parser reads what follows is
//! written as text (GFM's "tagfilter", widened): `<style>` or `<textarea>` turn the rest of
//! the document into their content until a closing tag, and `<math>`/`<svg>` switch to
//! foreign content, where the sanitiser's parser and a browser's can disagree. One unclosed
//! `<math><style>` swallowed everything after it and logged hundreds of warnings per render.

use std::borrow::Cow;

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, html};

fn options() -> Options {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    options
}

/// Elements whose raw tags are shown as text rather than parsed.
const FILTERED_TAGS: &[&str] = &[
    "iframe",
    "math",
    "noembed",
    "noframes",
    "noscript",
    "plaintext",
    "script",
    "select",
    "style",
    "svg",
    "template",
    "textarea",
    "title",
    "xmp",
];

/// `html` with the `<` of every opening or closing tag of a [`FILTERED_TAGS`] element
/// escaped, so it reads as text.
fn tagfilter(html: &str) -> Cow<'_, str> {
    let bytes = html.as_bytes();
    let filtered_at = |i: usize| {
        let mut j = i + 1;
        if bytes.get(j) == Some(&b'/') {
            j += 1;
        }
        FILTERED_TAGS.iter().any(|tag| {
            let end = j + tag.len();
            bytes
                .get(j..end)
                .is_some_and(|name| name.eq_ignore_ascii_case(tag.as_bytes()))
                && bytes
                    .get(end)
                    .is_none_or(|b| b.is_ascii_whitespace() || matches!(b, b'>' | b'/'))
        })
    };
    if !(0..bytes.len()).any(|i| bytes[i] == b'<' && filtered_at(i)) {
        return Cow::Borrowed(html);
    }
    let mut out = String::with_capacity(html.len() + 16);
    for (i, c) in html.char_indices() {
        if c == '<' && filtered_at(i) {
            out.push_str("&lt;");
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Renders Markdown to sanitised HTML.
pub fn to_html(markdown: &str) -> String {
    let parser = Parser::new_ext(markdown, options()).map(|event| match event {
        Event::Html(raw) => Event::Html(filtered(raw)),
        Event::InlineHtml(raw) => Event::InlineHtml(filtered(raw)),
        other => other,
    });
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut unsafe_html, parser);
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer"))
        .clean(&unsafe_html)
        .to_string()
}

fn filtered(raw: CowStr<'_>) -> CowStr<'_> {
    match tagfilter(&raw) {
        Cow::Borrowed(_) => raw,
        Cow::Owned(text) => CowStr::from(text),
    }
}

/// The text a reader sees, for the search index: what headings, paragraphs, list items,
/// code and image descriptions say, without the syntax, link targets or raw HTML. Blocks end
/// with a line break, so words of adjacent blocks never run together.
pub fn to_text(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    for event in Parser::new_ext(markdown, options()) {
        match event {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            Event::SoftBreak | Event::HardBreak => out.push(' '),
            Event::Start(Tag::Item | Tag::TableCell)
                if !out.is_empty() && !out.ends_with(char::is_whitespace) =>
            {
                out.push(' ');
            }
            Event::End(
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::Item
                | TagEnd::CodeBlock
                | TagEnd::BlockQuote(_)
                | TagEnd::TableCell
                | TagEnd::TableRow
                | TagEnd::TableHead,
            )
            | Event::Rule
                if !out.ends_with('\n') =>
            {
                out.push('\n');
            }
            _ => {}
        }
    }
    out.truncate(out.trim_end().len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keeps_words_and_drops_syntax() {
        let text = to_text(
            "## Async *runtimes*\n\nSee [the docs](https://example.com/tokio) and `tokio_main()`.\n\n\
             - one\n- two\n\n> quoted<b>bold</b>\n\n```\ncode block\n```\n",
        );
        assert_eq!(
            text,
            "Async runtimes\nSee the docs and tokio_main().\none\ntwo\nquotedbold\ncode block"
        );
        assert!(!text.contains("example.com"));
    }

    #[test]
    fn renders_common_markdown() {
        let html = to_html("## Title\n\nSome *emphasis* and `code`.\n\n- a\n- b\n");
        assert!(html.contains("<h2>Title</h2>"), "{html}");
        assert!(html.contains("<em>emphasis</em>"));
        assert!(html.contains("<code>code</code>"));
        assert!(html.contains("<li>a</li>"));
    }

    #[test]
    fn scripts_and_handlers_never_survive() {
        let html = to_html(
            "Hello <script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[x](javascript:alert(3))",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
    }

    #[test]
    fn tags_that_change_how_the_rest_is_parsed_are_text() {
        // Unclosed, each of these used to make the rest of the document their content.
        for payload in [
            "<math><mi><style><img src=x onerror=alert(1)>",
            "<textarea>",
            "<title>",
            "<svg><style>",
        ] {
            let html = to_html(&format!(
                "{payload}\n\nAfter the payload.\n\n- still here\n"
            ));
            assert!(html.contains("After the payload."), "{payload}: {html}");
            // (An HTML block that starts with <textarea> runs to its end tag in CommonMark:
            // what follows is then shown as text, not parsed as Markdown, but it is shown.)
            assert!(html.contains("still here"), "{payload}: {html}");
            for tag in ["<math", "<style", "<textarea", "<title", "<svg", "onerror"] {
                assert!(!html.contains(tag), "{payload}: {html}");
            }
        }
        let html = to_html("A <STYLE >b{}</Style> c");
        assert!(html.contains("&lt;STYLE &gt;b{}&lt;/Style&gt; c"), "{html}");
        // Tags that only look alike are left to the sanitiser.
        assert_eq!(
            tagfilter("<mathematics> <styles> <b>"),
            "<mathematics> <styles> <b>"
        );
        assert_eq!(tagfilter("</svg><svg/>"), "&lt;/svg>&lt;svg/>");
    }

    #[test]
    fn links_get_a_safe_rel() {
        let html = to_html("[docs](https://example.com)");
        assert!(html.contains("href=\"https://example.com\""), "{html}");
        assert!(html.contains("noopener"), "{html}");
    }
}
