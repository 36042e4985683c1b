//! Markdown to HTML for `render=html`: CommonMark plus tables, strikethrough and task lists,
//! rendered by pulldown-cmark and then sanitised by ammonia, so raw HTML in an entry (a
//! `<script>`, an `onerror=` attribute, a `javascript:` link) never reaches a website.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};

fn options() -> Options {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    options
}

/// Renders Markdown to sanitised HTML.
pub fn to_html(markdown: &str) -> String {
    let parser = Parser::new_ext(markdown, options());
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut unsafe_html, parser);
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer"))
        .clean(&unsafe_html)
        .to_string()
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
    fn links_get_a_safe_rel() {
        let html = to_html("[docs](https://example.com)");
        assert!(html.contains("href=\"https://example.com\""), "{html}");
        assert!(html.contains("noopener"), "{html}");
    }
}
