//! The delivery API as a website sees it: the query language (filters with every operator,
//! nested filters, sorts, sparse fields, populate, locales, rendered Markdown), lookups by
//! slug, offset and keyset pagination, CSV and NDJSON, caching headers, and the batching of
//! populate.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestApp, assert_error, send};

fn words(n: usize) -> String {
    vec!["word"; n].join(" ")
}

fn id_of(entry: &Value) -> String {
    entry["id"].as_str().expect("entry id").to_owned()
}

/// A small, known set of published articles, plus a draft that must never show.
struct Catalogue {
    ann: Value,
    rust: Value,
    go: Value,
    /// Alpha rust, Beta go, Gamma rust and go, Delta: in publication order.
    articles: Vec<Value>,
}

async fn catalogue(app: &TestApp) -> Catalogue {
    let ann = app
        .create(
            "author",
            json!({ "name": "Ann", "email": "ann@example.com", "bio": "Writes *Rust*" }),
            false,
        )
        .await;
    let bob = app
        .create(
            "author",
            json!({ "name": "Bob", "email": "bob@example.com" }),
            false,
        )
        .await;
    let rust = app.create("tag", json!({ "name": "Rust" }), false).await;
    let go = app.create("tag", json!({ "name": "Go" }), false).await;
    let specs = [
        json!({
            "title": { "en": "Alpha rust", "fr": "Alpha rouille" },
            "excerpt": { "en": "First" },
            "body": { "en": words(10) },
            "featured": true, "author": ann["id"], "tags": [rust["id"]],
        }),
        json!({
            "title": { "en": "Beta go" },
            "body": { "en": words(250) },
            "author": bob["id"], "tags": [go["id"]],
        }),
        json!({
            "title": { "en": "Gamma rust and go" },
            "excerpt": { "en": "Third", "fr": "Troisième" },
            "body": { "en": words(450) },
            "author": ann["id"], "tags": [rust["id"], go["id"]],
        }),
        json!({
            "title": { "en": "Delta" },
            "body": { "en": words(650) },
            "featured": true,
        }),
    ];
    let mut articles = Vec::new();
    for fields in specs {
        articles.push(app.create("article", fields, true).await);
    }
    // A draft that matches most filters below: it must never be delivered.
    app.create(
        "article",
        json!({
            "title": { "en": "Alpha rust draft" },
            "body": { "en": words(650) },
            "featured": true, "author": ann["id"], "tags": [rust["id"], go["id"]],
        }),
        false,
    )
    .await;
    Catalogue {
        ann,
        rust,
        go,
        articles,
    }
}

/// The titles of a list, in order, after checking `meta.total` agrees with a single page.
async fn titles(app: &TestApp, query: &[(&str, &str)]) -> Vec<String> {
    let (status, body) = app.get_query("/api/v1/content/article", query).await;
    assert_eq!(status, StatusCode::OK, "{query:?}: {body}");
    let data = body["data"].as_array().expect("data is a list");
    assert_eq!(body["meta"]["total"], data.len(), "{query:?}: {body}");
    data.iter()
        .map(|e| e["fields"]["title"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Query-string pairs.
type Query<'a> = Vec<(&'a str, &'a str)>;

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

const ALPHA: &str = "Alpha rust";
const BETA: &str = "Beta go";
const GAMMA: &str = "Gamma rust and go";
const DELTA: &str = "Delta";

#[tokio::test]
async fn filters_take_every_operator() {
    let app = TestApp::spawn().await;
    let c = catalogue(&app).await;
    let ann = id_of(&c.ann);
    let go = id_of(&c.go);
    let beta_id = id_of(&c.articles[1]);

    let cases: Vec<(Query<'_>, BTreeSet<String>)> = vec![
        (vec![], set(&[ALPHA, BETA, GAMMA, DELTA])),
        (vec![("filter[slug][eq]", "beta-go")], set(&[BETA])),
        (vec![("filter[title][eq]", "Delta")], set(&[DELTA])),
        (vec![("filter[featured][eq]", "true")], set(&[ALPHA, DELTA])),
        (vec![("filter[featured]", "false")], set(&[BETA, GAMMA])),
        (vec![("filter[featured][ne]", "true")], set(&[BETA, GAMMA])),
        (vec![("filter[reading_time][eq]", "3")], set(&[GAMMA])),
        (
            vec![("filter[reading_time][ne]", "3")],
            set(&[ALPHA, BETA, DELTA]),
        ),
        (vec![("filter[reading_time][lt]", "3")], set(&[ALPHA, BETA])),
        (
            vec![("filter[reading_time][lte]", "3")],
            set(&[ALPHA, BETA, GAMMA]),
        ),
        (vec![("filter[reading_time][gt]", "3")], set(&[DELTA])),
        (
            vec![("filter[reading_time][gte]", "2")],
            set(&[BETA, GAMMA, DELTA]),
        ),
        (
            vec![("filter[reading_time][in]", "1,4")],
            set(&[ALPHA, DELTA]),
        ),
        (
            vec![("filter[reading_time][nin]", "1,4")],
            set(&[BETA, GAMMA]),
        ),
        (
            vec![
                ("filter[slug][in][]", "alpha-rust"),
                ("filter[slug][in][]", "delta"),
            ],
            set(&[ALPHA, DELTA]),
        ),
        (
            vec![("filter[slug][nin]", "alpha-rust,delta")],
            set(&[BETA, GAMMA]),
        ),
        (vec![("filter[slug][gt]", "beta-go")], set(&[DELTA, GAMMA])),
        (
            vec![("filter[title][contains]", "RUST")],
            set(&[ALPHA, GAMMA]),
        ),
        (vec![("filter[title][starts_with]", "Gamma")], set(&[GAMMA])),
        (vec![("filter[slug][starts_with]", "alpha")], set(&[ALPHA])),
        (
            vec![("filter[body][contains]", "word")],
            set(&[ALPHA, BETA, GAMMA, DELTA]),
        ),
        (
            vec![("filter[excerpt][exists]", "true")],
            set(&[ALPHA, GAMMA]),
        ),
        (
            vec![("filter[excerpt][exists]", "false")],
            set(&[BETA, DELTA]),
        ),
        (vec![("filter[author][exists]", "false")], set(&[DELTA])),
        (
            vec![("filter[author][eq]", ann.as_str())],
            set(&[ALPHA, GAMMA]),
        ),
        (
            vec![("filter[tags][contains]", go.as_str())],
            set(&[BETA, GAMMA]),
        ),
        (vec![("filter[tags][exists]", "false")], set(&[DELTA])),
        (vec![("filter[id][eq]", beta_id.as_str())], set(&[BETA])),
        // Through relations.
        (
            vec![("filter[author.name][eq]", "Ann")],
            set(&[ALPHA, GAMMA]),
        ),
        (vec![("filter[author.name][ne]", "Ann")], set(&[BETA])),
        (vec![("filter[tags.slug][eq]", "go")], set(&[BETA, GAMMA])),
        (
            vec![("filter[tags.name][starts_with]", "Ru")],
            set(&[ALPHA, GAMMA]),
        ),
        (vec![("filter[author.name][eq]", "Nobody")], set(&[])),
        // Filters are AND-ed.
        (
            vec![
                ("filter[featured][eq]", "true"),
                ("filter[reading_time][gte]", "2"),
            ],
            set(&[DELTA]),
        ),
        (
            vec![
                ("filter[tags.slug][eq]", "rust"),
                ("filter[tags.slug][eq]", "go"),
            ],
            set(&[GAMMA]),
        ),
        // Localised fields are filtered in the requested locale.
        (
            vec![("filter[title][eq]", "Alpha rouille"), ("locale", "fr")],
            set(&["Alpha rouille"]),
        ),
        (vec![("filter[title][eq]", "Alpha rouille")], set(&[])),
        // Dates: a bare date is midnight UTC.
        (
            vec![("filter[published_at][gte]", "2000-01-01")],
            set(&[ALPHA, BETA, GAMMA, DELTA]),
        ),
        (
            vec![("filter[published_at][lt]", "2000-01-01T00:00:00+02:00")],
            set(&[]),
        ),
        (
            vec![("filter[published_at][exists]", "true")],
            set(&[ALPHA, BETA, GAMMA, DELTA]),
        ),
    ];
    for (query, expected) in cases {
        let got: BTreeSet<String> = titles(&app, &query).await.into_iter().collect();
        assert_eq!(got, expected, "{query:?}");
    }

    // Comparisons on published_at, against an entry's own timestamp: computed from the data,
    // so entries published within the same millisecond do not make this flaky.
    let pivot = c.articles[2]["published_at"].as_str().unwrap().to_owned();
    let at = |e: &Value| e["published_at"].as_str().unwrap().to_owned();
    let title = |e: &Value| e["fields"]["title"]["en"].as_str().unwrap().to_owned();
    for (op, keep) in [
        ("lt", (|a: &str, p: &str| a < p) as fn(&str, &str) -> bool),
        ("lte", |a, p| a <= p),
        ("gt", |a, p| a > p),
        ("gte", |a, p| a >= p),
        ("eq", |a, p| a == p),
        ("ne", |a, p| a != p),
    ] {
        let expected: BTreeSet<String> = c
            .articles
            .iter()
            .filter(|e| keep(&at(e), &pivot))
            .map(title)
            .collect();
        let key = format!("filter[published_at][{op}]");
        let got: BTreeSet<String> = titles(&app, &[(&key, &pivot)]).await.into_iter().collect();
        assert_eq!(got, expected, "published_at {op} {pivot}");
    }
}

#[tokio::test]
async fn sorts_take_several_keys() {
    let app = TestApp::spawn().await;
    catalogue(&app).await;
    assert_eq!(
        titles(&app, &[("sort", "-reading_time")]).await,
        [DELTA, GAMMA, BETA, ALPHA]
    );
    assert_eq!(
        titles(&app, &[("sort", "title")]).await,
        [ALPHA, BETA, DELTA, GAMMA]
    );
    assert_eq!(
        titles(&app, &[("sort", "featured,-reading_time")]).await,
        [GAMMA, BETA, DELTA, ALPHA]
    );
    assert_eq!(
        titles(&app, &[("sort", "-featured,title")]).await,
        [ALPHA, DELTA, BETA, GAMMA]
    );
    // The default, and the documented example, are newest first.
    let (_, body) = app
        .get_query(
            "/api/v1/content/article",
            &[("sort", "-published_at,title")],
        )
        .await;
    let dates: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["published_at"].as_str().unwrap())
        .collect();
    assert_eq!(dates.len(), 4);
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");
    let (_, default) = app.get("/api/v1/content/article").await;
    assert_eq!(default["data"], body["data"]);
}

/// A reader of `locale=fr` sees the English title where there is no French one; sorting and
/// filtering go by those same values, or the list comes out visibly out of order.
#[tokio::test]
async fn localised_fields_sort_and_filter_by_the_values_delivered() {
    let app = TestApp::spawn().await;
    catalogue(&app).await;
    let fr = |query: &'static [(&'static str, &'static str)]| {
        let app = &app;
        async move {
            let mut q = query.to_vec();
            q.push(("locale", "fr"));
            titles(app, &q).await
        }
    };
    assert_eq!(
        fr(&[("sort", "title")]).await,
        ["Alpha rouille", BETA, DELTA, GAMMA]
    );
    assert_eq!(
        fr(&[("sort", "-title")]).await,
        [GAMMA, DELTA, BETA, "Alpha rouille"]
    );
    assert_eq!(fr(&[("filter[title][eq]", BETA)]).await, [BETA]);
    assert_eq!(
        fr(&[("filter[title][starts_with]", "Alpha"), ("sort", "title")]).await,
        ["Alpha rouille"]
    );
    assert_eq!(
        fr(&[("filter[excerpt][exists]", "true"), ("sort", "title")]).await,
        ["Alpha rouille", GAMMA]
    );
    // A keyset walk in that order sees every entry once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, body) = app
            .get_query(
                "/api/v1/content/article",
                &[
                    ("sort", "-title"),
                    ("locale", "fr"),
                    ("limit", "1"),
                    ("cursor", &cursor),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        seen.extend(
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["fields"]["title"].as_str().unwrap().to_owned()),
        );
        match body["meta"]["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
        assert!(seen.len() <= 4, "{seen:?}");
    }
    assert_eq!(seen, [GAMMA, DELTA, BETA, "Alpha rouille"]);
}

#[tokio::test]
async fn entries_have_the_public_shape_and_no_private_fields() {
    let app = TestApp::spawn().await;
    let c = catalogue(&app).await;
    app.admin_json(
        Method::PATCH,
        &format!("/content/article/{}", id_of(&c.articles[0])),
        json!({ "fields": { "editor_notes": "secret plans" }, "publish": true }),
    )
    .await;

    let (status, body) = app.get("/api/v1/content/article").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let text = body.to_string();
    assert!(!text.contains("secret plans"), "{text}");
    assert!(!text.contains("editor_notes"), "{text}");
    let entry = &body["data"][0];
    let keys: BTreeSet<&str> = entry
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "id",
            "created_at",
            "updated_at",
            "published_at",
            "locale",
            "fields"
        ]),
        "{entry}"
    );
    assert_eq!(entry["locale"], "en");

    // Authors are public but their email is not, populated or not.
    let (_, authors) = app.get("/api/v1/content/author").await;
    assert_eq!(authors["meta"]["total"], 2);
    let (_, populated) = app
        .get_query("/api/v1/content/article", &[("populate", "author")])
        .await;
    for text in [authors.to_string(), populated.to_string()] {
        assert!(!text.contains("@example.com"), "{text}");
        assert!(!text.contains("\"email\""), "{text}");
    }

    // Private fields cannot be probed through the query language either: the answer is the
    // same as for a field that does not exist.
    for (key, value) in [
        ("filter[editor_notes][exists]", "true"),
        ("filter[editor_notes][contains]", "secret"),
        ("filter[author.email][eq]", "ann@example.com"),
        ("filter[author.email][starts_with]", "a"),
        ("sort", "editor_notes"),
        ("fields", "editor_notes"),
        ("filter[status][eq]", "draft"),
        ("filter[no_such_field][eq]", "x"),
    ] {
        let (status, body) = app
            .get_query("/api/v1/content/article", &[(key, value)])
            .await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "unknown_field");
        assert_eq!(body["param"], key, "{body}");
    }
    let (status, body) = app
        .get_query(
            "/api/v1/content/author",
            &[("filter[email][eq]", "ann@example.com")],
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "unknown_field");
}

#[tokio::test]
async fn sparse_fields_populate_locale_and_html() {
    let app = TestApp::spawn().await;
    let c = catalogue(&app).await;
    let alpha = id_of(&c.articles[0]);

    // fields=title: only the title, metadata still there.
    let (status, body) = app
        .get_query("/api/v1/content/article", &[("fields", "title")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for entry in body["data"].as_array().unwrap() {
        let keys: Vec<&str> = entry["fields"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["title"], "{entry}");
        assert!(entry["id"].is_string() && entry["published_at"].is_string());
    }
    let (_, body) = app
        .get_query(
            &format!("/api/v1/content/article/{alpha}"),
            &[("fields", "title,slug"), ("populate", "author")],
        )
        .await;
    let keys: BTreeSet<&str> = body["data"]["fields"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, BTreeSet::from(["title", "slug", "author"]), "{body}");

    // Without populate, relations are ids; with it, entries.
    let (_, plain) = app.get(&format!("/api/v1/content/article/{alpha}")).await;
    assert_eq!(plain["data"]["fields"]["author"], c.ann["id"]);
    assert_eq!(plain["data"]["fields"]["tags"], json!([c.rust["id"]]));
    let (status, body) = app
        .get_query(
            "/api/v1/content/article",
            &[("populate", "author,tags"), ("sort", "title")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let gamma = &body["data"][3]["fields"];
    assert_eq!(gamma["title"], GAMMA);
    assert_eq!(gamma["author"]["id"], c.ann["id"]);
    assert_eq!(gamma["author"]["fields"]["name"], "Ann");
    assert_eq!(gamma["author"]["fields"]["bio"], "Writes *Rust*");
    assert!(gamma["author"]["fields"].get("email").is_none(), "{gamma}");
    let tag_names: Vec<&str> = gamma["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["fields"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(tag_names, ["Rust", "Go"], "tags keep their order");
    assert_eq!(gamma["tags"][1]["fields"]["slug"], "go");
    let delta = &body["data"][2]["fields"];
    assert_eq!(delta["title"], DELTA);
    assert_eq!(delta["author"], Value::Null);
    assert_eq!(delta["tags"], Value::Null);
    // `populate=*` is every relation.
    let (_, star) = app
        .get_query(
            "/api/v1/content/article",
            &[("populate", "*"), ("sort", "title")],
        )
        .await;
    assert_eq!(star["data"], body["data"]);

    // locale=fr, falling back to English where there is no French.
    let (status, body) = app
        .get_query(
            "/api/v1/content/article",
            &[("locale", "fr"), ("sort", "reading_time")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let data = body["data"].as_array().unwrap();
    assert!(data.iter().all(|e| e["locale"] == "fr"), "{body}");
    assert_eq!(data[0]["fields"]["title"], "Alpha rouille");
    assert_eq!(
        data[0]["fields"]["excerpt"], "First",
        "no French excerpt: English"
    );
    assert_eq!(data[1]["fields"]["title"], BETA);
    assert_eq!(data[1]["fields"]["excerpt"], Value::Null);
    assert_eq!(data[2]["fields"]["excerpt"], "Troisième");
    let (status, body) = app
        .get_query("/api/v1/content/article", &[("locale", "de")])
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "unknown_locale");

    // render=html: Markdown becomes HTML, and scripts never come out.
    let evil = app
        .create(
            "article",
            json!({
                "title": { "en": "Evil" },
                "body": { "en": "# Heading\n\nSome **bold** text.\n\n<script>alert('x')</script>\n\n<img src=x onerror=alert(1)>\n\n[click](javascript:alert(2))" },
            }),
            true,
        )
        .await;
    let (status, body) = app
        .get_query(
            &format!("/api/v1/content/article/{}", id_of(&evil)),
            &[("render", "html")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let html = body["data"]["fields"]["body"].as_str().unwrap();
    assert!(html.contains("<h1>Heading</h1>"), "{html}");
    assert!(html.contains("<strong>bold</strong>"), "{html}");
    for bad in ["<script", "onerror", "javascript:"] {
        assert!(!html.contains(bad), "{bad} in {html}");
    }
    let (_, list) = app
        .get_query(
            "/api/v1/content/article",
            &[("render", "html"), ("filter[slug][eq]", "evil")],
        )
        .await;
    assert_eq!(list["data"][0]["fields"]["body"], html);
    assert_eq!(
        list["data"][0]["fields"]["title"], "Evil",
        "only markdown fields are rendered"
    );
    // Related entries' Markdown is rendered too.
    let (_, populated) = app
        .get_query(
            &format!("/api/v1/content/article/{alpha}"),
            &[("render", "html"), ("populate", "author")],
        )
        .await;
    let bio = populated["data"]["fields"]["author"]["fields"]["bio"]
        .as_str()
        .unwrap();
    assert!(bio.contains("<em>Rust</em>"), "{bio}");
    let (status, body) = app
        .get_query("/api/v1/content/article", &[("render", "pdf")])
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_render");
}

#[tokio::test]
async fn entries_are_found_by_slug() {
    let app = TestApp::spawn().await;
    let c = catalogue(&app).await;
    let (status, body) = app.get("/api/v1/content/article/gamma-rust-and-go").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["id"], c.articles[2]["id"]);
    assert_eq!(body["data"]["fields"]["title"], GAMMA);
    // And by id in lower case.
    let lower = id_of(&c.articles[2]).to_lowercase();
    let (status, by_id) = app.get(&format!("/api/v1/content/article/{lower}")).await;
    assert_eq!(status, StatusCode::OK, "{by_id}");
    assert_eq!(by_id["data"], body["data"]);
    let (status, fr) = app
        .get_query(
            "/api/v1/content/article/alpha-rust",
            &[("locale", "fr"), ("fields", "title")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{fr}");
    assert_eq!(fr["data"]["fields"], json!({ "title": "Alpha rouille" }));
    let (status, body) = app.get("/api/v1/content/tag/rust").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["id"], c.rust["id"]);

    // A draft's slug, a slug in another case, and list parameters on one entry.
    let (status, body) = app.get("/api/v1/content/article/alpha-rust-draft").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "entry_not_found");
    let (status, body) = app.get("/api/v1/content/article/Alpha-Rust").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "entry_not_found");
    let (status, body) = app
        .get_query("/api/v1/content/article/alpha-rust", &[("limit", "1")])
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "unknown_parameter");
    // Authors have no slug: only ids find them.
    let (status, body) = app.get("/api/v1/content/author/ann").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "entry_not_found");
}

#[tokio::test]
async fn pages_split_the_list_without_overlap() {
    let app = TestApp::spawn().await;
    catalogue(&app).await;
    let page = |n: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app
                .get_query(
                    "/api/v1/content/article",
                    &[("limit", "3"), ("page", n), ("sort", "title")],
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["meta"]["total"], 4, "{body}");
            assert_eq!(body["meta"]["limit"], 3, "{body}");
            assert_eq!(body["meta"]["page"], n.parse::<u32>().unwrap(), "{body}");
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["fields"]["title"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(page("1").await, [ALPHA, BETA, DELTA]);
    assert_eq!(page("2").await, [GAMMA]);
    assert!(page("3").await.is_empty());
    assert!(page("4000000000").await.is_empty());

    // The default limit is 25, and meta says so.
    let (_, body) = app.get("/api/v1/content/article").await;
    assert_eq!(body["meta"]["limit"], 25);
    assert_eq!(body["meta"]["page"], 1);
    // A filter's total counts what matches, not what is on the page.
    let (_, body) = app
        .get_query(
            "/api/v1/content/article",
            &[("limit", "1"), ("filter[featured][eq]", "false")],
        )
        .await;
    assert_eq!(body["meta"]["total"], 2);
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
}

/// Follows `next_cursor` to the end, running `between` before every page after the first.
async fn walk(
    app: &TestApp,
    type_id: &str,
    query: &[(&str, &str)],
    mut between: impl AsyncFnMut(usize),
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for page in 0.. {
        assert!(page < 50, "the walk does not end");
        if page > 0 {
            between(page).await;
        }
        let mut q = query.to_vec();
        q.push(("cursor", &cursor));
        let (status, body) = app
            .get_query(&format!("/api/v1/content/{type_id}"), &q)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["meta"].get("page").is_none(), "{body}");
        seen.extend(body["data"].as_array().unwrap().iter().map(id_of));
        match body["meta"]["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => {
                assert_eq!(body["meta"]["next_cursor"], Value::Null, "{body}");
                break;
            }
        }
    }
    seen
}

async fn all_ids(app: &TestApp, sort: &str) -> Vec<String> {
    let (status, body) = app
        .get_query(
            "/api/v1/content/article",
            &[("limit", "100"), ("sort", sort)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].as_array().unwrap().iter().map(id_of).collect()
}

#[tokio::test]
async fn cursors_walk_every_entry_once_while_entries_are_added() {
    let app = TestApp::spawn().await;
    for i in 0..7 {
        app.create(
            "article",
            json!({ "title": { "en": format!("Post {i}") }, "featured": i % 2 == 0 }),
            true,
        )
        .await;
    }

    // Newest first: entries published during the walk are newer than the cursor, so the walk
    // is exactly the list as it was when it started, in its order.
    let before = all_ids(&app, "-published_at").await;
    assert_eq!(before.len(), 7);
    let mut added = 0;
    let seen = walk(&app, "article", &[("limit", "3")], async |_| {
        added += 1;
        app.create(
            "article",
            json!({ "title": { "en": format!("Newer {added}") } }),
            true,
        )
        .await;
    })
    .await;
    assert_eq!(seen, before);

    // Oldest first: entries published during the walk come after everything, so the walk sees
    // them too, each once, in order.
    let mut added = 0;
    let seen = walk(
        &app,
        "article",
        &[("limit", "3"), ("sort", "published_at")],
        async |_| {
            added += 1;
            app.create(
                "article",
                json!({ "title": { "en": format!("Later {added}") } }),
                true,
            )
            .await;
        },
    )
    .await;
    let after = all_ids(&app, "published_at").await;
    assert_eq!(seen, after);
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>().len(),
        seen.len(),
        "no entry twice"
    );

    // A first key with many ties (a boolean), then a unique one: entries inserted behind the
    // cursor are not seen, those ahead of it are, and nothing repeats.
    let mut behind = Vec::new();
    let mut ahead = Vec::new();
    let seen = walk(
        &app,
        "article",
        &[("limit", "2"), ("sort", "featured,title")],
        async |page| {
            if page == 2 {
                let b = app
                    .create(
                        "article",
                        json!({ "title": { "en": "AAA behind" }, "featured": false }),
                        true,
                    )
                    .await;
                behind.push(id_of(&b));
                let a = app
                    .create(
                        "article",
                        json!({ "title": { "en": "ZZZ ahead" }, "featured": true }),
                        true,
                    )
                    .await;
                ahead.push(id_of(&a));
            }
        },
    )
    .await;
    let expected: Vec<String> = all_ids(&app, "featured,title")
        .await
        .into_iter()
        .filter(|id| !behind.contains(id))
        .collect();
    assert!(expected.contains(&ahead[0]));
    assert_eq!(seen, expected);

    // Entries without a value for the sort key are walked too, once.
    for (i, website) in [
        Some("https://b.example"),
        None,
        Some("https://a.example"),
        None,
        Some("https://c.example"),
    ]
    .into_iter()
    .enumerate()
    {
        app.create(
            "author",
            json!({ "name": format!("Author {i}"), "email": format!("a{i}@example.com"), "website": website }),
            false,
        )
        .await;
    }
    for sort in ["website", "-website", "website,-name"] {
        let seen = walk(
            &app,
            "author",
            &[("limit", "2"), ("sort", sort)],
            async |_| {},
        )
        .await;
        let (_, all) = app
            .get_query(
                "/api/v1/content/author",
                &[("limit", "100"), ("sort", sort)],
            )
            .await;
        let expected: Vec<String> = all["data"].as_array().unwrap().iter().map(id_of).collect();
        assert_eq!(expected.len(), 5);
        assert_eq!(seen, expected, "sort={sort}");
    }

    // A cursor belongs to its sort.
    let (_, first) = app
        .get_query("/api/v1/content/article", &[("limit", "2"), ("cursor", "")])
        .await;
    let cursor = first["meta"]["next_cursor"].as_str().unwrap();
    let (status, body) = app
        .get_query(
            "/api/v1/content/article",
            &[("cursor", cursor), ("sort", "title")],
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_cursor");
    let (status, body) = app
        .get_query(
            "/api/v1/content/article",
            &[("cursor", cursor), ("page", "2")],
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "page_and_cursor");
}

#[tokio::test]
async fn lists_come_as_csv_and_ndjson() {
    let app = TestApp::spawn().await;
    let c = catalogue(&app).await;
    app.create(
        "article",
        json!({ "title": { "en": "=1+1, \"quoted\"" }, "editor_notes": "private" }),
        true,
    )
    .await;

    let reply = send(
        app.client
            .get(app.url("/api/v1/content/article"))
            .query(&[("format", "csv"), ("sort", "title")]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/csv")
    );
    let lines: Vec<&str> = reply.text.lines().collect();
    assert_eq!(
        lines[0],
        "id,created_at,updated_at,published_at,title,slug,excerpt,body,author,tags,cover,reading_time,featured,seo"
    );
    assert_eq!(lines.len(), 6, "{}", reply.text);
    // Formula characters are defused and quotes doubled.
    assert!(
        lines[1].contains(",\"'=1+1, \"\"quoted\"\"\","),
        "{}",
        lines[1]
    );
    assert!(!reply.text.contains("private"));
    let alpha = lines[2];
    assert!(alpha.starts_with(&id_of(&c.articles[0])), "{alpha}");
    assert!(alpha.contains(",Alpha rust,alpha-rust,First,"), "{alpha}");
    assert!(alpha.contains(",true,"), "{alpha}");

    let reply = send(app.client.get(app.url("/api/v1/content/article")).query(&[
        ("format", "ndjson"),
        ("sort", "title"),
        ("limit", "3"),
    ]))
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some("application/x-ndjson"));
    let entries: Vec<Value> = reply
        .text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[1]["fields"]["title"], ALPHA);
    assert_eq!(entries[1]["id"], c.articles[0]["id"]);

    let (status, body) = app
        .get_query("/api/v1/content/article", &[("format", "xml")])
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_format");
}

#[tokio::test]
async fn responses_carry_strong_etags_and_answer_304() {
    let app = TestApp::spawn().await;
    let (_, _, article) = app.seed_article("Cached", "cache").await;
    let id = id_of(&article);

    for path in [
        "/api/v1/content/article".to_owned(),
        format!("/api/v1/content/article/{id}"),
        "/api/v1/content/article/cached".to_owned(),
    ] {
        let first = send(app.client.get(app.url(&path))).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text);
        let etag = first.header("etag").expect("an ETag").to_owned();
        assert!(
            etag.starts_with('"') && etag.ends_with('"'),
            "strong: {etag}"
        );
        assert_eq!(
            first.header("cache-control"),
            Some("public, max-age=60, stale-while-revalidate=300"),
            "the type's cache_control"
        );
        let again = send(app.client.get(app.url(&path))).await;
        assert_eq!(
            again.header("etag"),
            Some(etag.as_str()),
            "stable for the same content"
        );

        let cached = send(
            app.client
                .get(app.url(&path))
                .header("if-none-match", &etag),
        )
        .await;
        assert_eq!(cached.status, StatusCode::NOT_MODIFIED);
        assert!(cached.text.is_empty());
        assert_eq!(cached.header("etag"), Some(etag.as_str()));
        let listed = send(
            app.client
                .get(app.url(&path))
                .header("if-none-match", format!("\"nope\", {etag}")),
        )
        .await;
        assert_eq!(listed.status, StatusCode::NOT_MODIFIED);
        let other = send(
            app.client
                .get(app.url(&path))
                .header("if-none-match", "\"nope\""),
        )
        .await;
        assert_eq!(other.status, StatusCode::OK);
        assert_eq!(other.text, first.text);
    }

    // A published change changes the ETag.
    let path = format!("/api/v1/content/article/{id}");
    let before = send(app.client.get(app.url(&path))).await;
    let etag = before.header("etag").unwrap().to_owned();
    let (status, _) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{id}"),
            json!({ "fields": { "featured": true }, "publish": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let after = send(
        app.client
            .get(app.url(&path))
            .header("if-none-match", &etag),
    )
    .await;
    assert_eq!(after.status, StatusCode::OK);
    assert_ne!(after.header("etag"), Some(etag.as_str()));
    assert_eq!(after.json()["data"]["fields"]["featured"], true);

    // Types without their own cache_control revalidate every time.
    let tags = send(app.client.get(app.url("/api/v1/content/tag"))).await;
    assert_eq!(
        tags.header("cache-control"),
        Some("public, max-age=0, must-revalidate")
    );
}

#[tokio::test]
async fn populate_costs_the_same_queries_whatever_the_page_size() {
    let app = TestApp::spawn().await;
    for i in 0..20 {
        app.seed_article(&format!("Batched {i:02}"), &format!("tag {i:02}"))
            .await;
    }
    // The indexer reads what the writes recorded; let it finish so only the lists count.
    app.search_settled().await;
    let cost = |limit: &'static str| {
        let app = &app;
        async move {
            let before = app.queries.load(Ordering::SeqCst);
            let (status, body) = app
                .get_query(
                    "/api/v1/content/article",
                    &[("limit", limit), ("populate", "author,tags")],
                )
                .await;
            let spent = app.queries.load(Ordering::SeqCst) - before;
            assert_eq!(status, StatusCode::OK, "{body}");
            let data = body["data"].as_array().unwrap();
            assert_eq!(data.len(), limit.parse::<usize>().unwrap());
            for e in data {
                let title = e["fields"]["title"].as_str().unwrap();
                assert_eq!(
                    e["fields"]["author"]["fields"]["name"],
                    format!("Author of {title}")
                );
                assert!(e["fields"]["tags"][0]["fields"]["name"].is_string(), "{e}");
            }
            spent
        }
    };
    let small = cost("2").await;
    let large = cost("20").await;
    assert_eq!(small, large, "populate must not query per related entry");
    assert!(
        large <= 4,
        "one list query and one per relation path, not {large}"
    );
}

/// A relation to a type the public may not read must not open a side door to it.
#[tokio::test]
async fn related_types_the_caller_may_not_read_stay_closed() {
    let types = tempfile::tempdir().unwrap();
    crate::harness::copy_dir(&crate::harness::example_types(), types.path());
    let author = std::fs::read_to_string(types.path().join("author.toml")).unwrap();
    std::fs::write(
        types.path().join("author.toml"),
        author.replace("read = [\"public\"]", "read = []"),
    )
    .unwrap();
    let app = TestApp::builder()
        .types(types.path())
        .start()
        .await
        .unwrap();
    let (_, _, article) = app.seed_article("Closed authors", "closed").await;

    // The author list itself is hidden...
    let (status, body) = app.get("/api/v1/content/author").await;
    crate::harness::assert_error(status, &body, StatusCode::NOT_FOUND, "type_not_found");
    // ...and so is reaching it through the article.
    let (status, body) = app
        .get_query("/api/v1/content/article", &[("populate", "author")])
        .await;
    crate::harness::assert_error(status, &body, StatusCode::BAD_REQUEST, "unknown_field");
    let id = article["id"].as_str().unwrap();
    let (status, body) = app
        .get_query(
            &format!("/api/v1/content/article/{id}"),
            &[("populate", "author")],
        )
        .await;
    crate::harness::assert_error(status, &body, StatusCode::BAD_REQUEST, "unknown_field");
    let (status, body) = app
        .get_query(
            "/api/v1/content/article",
            &[("filter[author.name][eq]", "Author of Closed authors")],
        )
        .await;
    crate::harness::assert_error(status, &body, StatusCode::BAD_REQUEST, "unknown_field");

    // The delivery document does not disclose it either.
    let (_, doc) = app.get("/openapi/delivery.json").await;
    assert!(doc["paths"].get("/api/v1/content/author").is_none());
    assert!(doc["paths"].get("/api/v1/content/article").is_some());

    // The tags stay public, and the admin token opens everything.
    let (status, _) = app
        .get_query("/api/v1/content/article", &[("populate", "tags")])
        .await;
    assert_eq!(status, StatusCode::OK);
    let resp = app
        .client
        .get(app.url("/api/v1/content/article"))
        .query(&[("populate", "author")])
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body["data"][0]["fields"]["author"]["fields"]["name"],
        "Author of Closed authors"
    );
}

/// Totals are counted once and reused, so every write must show in the next list's total.
#[tokio::test]
async fn totals_follow_every_write() {
    let app = TestApp::spawn().await;
    let total = |query: &'static [(&'static str, &'static str)]| {
        let app = &app;
        async move {
            let (status, body) = app.get_query("/api/v1/content/article", query).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["meta"]["total"].as_u64().unwrap()
        }
    };
    let featured: &[(&str, &str)] = &[("filter[featured][eq]", "true")];
    assert_eq!(total(&[]).await, 0);
    let (_, _, a) = app.seed_article("First", "t1").await;
    assert_eq!(total(&[]).await, 1);
    assert_eq!(total(featured).await, 0);
    let id = a["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{id}"),
            json!({ "fields": { "featured": true }, "publish": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(total(featured).await, 1);
    app.seed_article("Second", "t2").await;
    assert_eq!(total(&[]).await, 2);
    let (status, _) = app
        .admin_call(Method::POST, &format!("/content/article/{id}/unpublish"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(total(&[]).await, 1);
    assert_eq!(total(featured).await, 0);
    let (status, _) = app
        .admin_call(Method::DELETE, &format!("/content/article/{id}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(total(&[]).await, 1);
}

/// Delivery responses are cached, and a publish shows at once, with a new ETag.
#[tokio::test]
async fn cached_responses_change_with_the_next_publish() {
    let app = TestApp::spawn().await;
    let (_, _, a) = app.seed_article("Cached once", "cache").await;
    let id = a["id"].as_str().unwrap().to_owned();
    let url = app.url(&format!("/api/v1/content/article/{id}"));
    let first = app.client.get(&url).send().await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = app.client.get(&url).send().await.unwrap();
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);

    let (status, _) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{id}"),
            json!({ "fields": { "title": "Cached twice" }, "publish": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let after = app
        .client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.status(),
        StatusCode::OK,
        "the old ETag no longer matches"
    );
    assert_ne!(after.headers()["etag"].to_str().unwrap(), etag);
    let body: Value = after.json().await.unwrap();
    assert_eq!(body["data"]["fields"]["title"], "Cached twice");
    // Lists too.
    let (_, list) = app.get("/api/v1/content/article").await;
    assert_eq!(list["data"][0]["fields"]["title"], "Cached twice");
}

/// A cached response stays cached through writes to types it cannot contain, and goes with a
/// write to its own type or one its relations reach (counted by the queries a read sends).
#[tokio::test]
async fn cached_responses_go_only_with_writes_to_what_they_contain() {
    let app = TestApp::spawn().await;
    app.seed_article("Kept apart", "scoped").await;
    let queries_for = |path: &'static str| {
        let app = &app;
        async move {
            let before = app.queries.load(Ordering::SeqCst);
            let (status, _) = app.get(path).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            app.queries.load(Ordering::SeqCst) - before
        }
    };
    queries_for("/api/v1/content/article?populate=author").await;
    assert_eq!(
        queries_for("/api/v1/content/article?populate=author").await,
        0,
        "cached"
    );
    // Site settings: nothing an article list holds.
    app.create("site-settings", json!({ "site_name": "Apart" }), true)
        .await;
    assert_eq!(
        queries_for("/api/v1/content/article?populate=author").await,
        0,
        "still cached after a write to another type"
    );
    // Authors: articles relate to them.
    app.create(
        "author",
        json!({ "name": "Second", "email": "second@example.com" }),
        true,
    )
    .await;
    assert!(
        queries_for("/api/v1/content/article?populate=author").await > 0,
        "read again after a write to a related type"
    );
}

/// A cached answer showing one entry goes with a write to that entry (or to what it shows),
/// not with a write to another entry of its type; lists of the type go with any.
#[tokio::test]
async fn one_entry_stays_cached_while_only_other_entries_change() {
    let app = TestApp::spawn().await;
    let (_, _, kept) = app.seed_article("Kept in the cache", "kept").await;
    let (_, _, other) = app.seed_article("Written meanwhile", "other").await;
    let kept_path = format!("/api/v1/content/article/{}", kept["id"].as_str().unwrap());
    let other_id = other["id"].as_str().unwrap().to_owned();
    let read = |path: String| {
        let app = &app;
        async move {
            let before = app.queries.load(Ordering::SeqCst);
            let (status, body) = app.get(&path).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            (app.queries.load(Ordering::SeqCst) - before, body)
        }
    };
    let list = "/api/v1/content/article".to_owned();
    read(kept_path.clone()).await;
    read(list.clone()).await;
    assert_eq!(read(kept_path.clone()).await.0, 0, "cached");
    assert_eq!(read(list.clone()).await.0, 0, "cached");
    // Another article is changed and published again.
    let (status, body) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{other_id}"),
            json!({ "fields": { "title": "Written meanwhile, again" }, "publish": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        read(kept_path.clone()).await.0,
        0,
        "one entry's answer outlives a write to another"
    );
    let (queries, page) = read(list.clone()).await;
    assert!(queries > 0, "a list goes with any write to its type");
    assert!(
        page.to_string().contains("Written meanwhile, again"),
        "{page}"
    );
    // The entry itself is changed: its answer goes at once.
    let (status, body) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{}", kept["id"].as_str().unwrap()),
            json!({ "fields": { "title": "Kept, then changed" }, "publish": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (queries, body) = read(kept_path.clone()).await;
    assert!(queries > 0, "read again after a write to it");
    assert_eq!(
        body["data"]["fields"]["title"], "Kept, then changed",
        "{body}"
    );
    assert_eq!(read(kept_path.clone()).await.0, 0, "and cached again");
    // Unpublished: gone from delivery at once.
    let (status, body) = app
        .admin_call(
            Method::POST,
            &format!(
                "/content/article/{}/unpublish",
                kept["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app.get(&kept_path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Lists filtered by one related entry (a tag) are read through the link table; they must
/// agree with the generic path in order, totals and cursor walks, and follow every change.
#[tokio::test]
async fn lists_by_tag_agree_with_the_generic_path() {
    let app = TestApp::spawn().await;
    let rust = app.create("tag", json!({ "name": "Rust" }), false).await;
    let web = app.create("tag", json!({ "name": "Web" }), false).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let tags = if i % 3 == 0 {
            json!([web["id"]])
        } else {
            json!([rust["id"], web["id"]])
        };
        let e = app
            .create(
                "article",
                json!({ "title": format!("Tagged {i}"), "tags": tags }),
                true,
            )
            .await;
        ids.push(e["id"].as_str().unwrap().to_owned());
    }
    let by_tag = [("filter[tags.slug][eq]", "rust")];
    // The generic path: the same filter with a sort the link table cannot serve.
    let (_, generic) = app
        .get_query(
            "/api/v1/content/article",
            &[
                ("filter[tags.slug][eq]", "rust"),
                ("sort", "-published_at,title"),
                ("limit", "100"),
            ],
        )
        .await;
    let (_, fast) = app
        .get_query("/api/v1/content/article", &[by_tag[0], ("limit", "100")])
        .await;
    let names = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(fast["meta"]["total"], 4);
    assert_eq!(generic["meta"]["total"], 4);
    let mut g = names(&generic);
    let mut f = names(&fast);
    assert_eq!(f.len(), 4);
    g.sort();
    f.sort();
    assert_eq!(f, g);
    // Newest first, ties broken by id, as everywhere.
    let fast_order = names(&fast);
    let mut keyed: Vec<(String, String)> = fast["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["published_at"].as_str().unwrap().to_owned(),
                e["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    keyed.sort_by(|a, b| b.cmp(a));
    assert_eq!(
        fast_order,
        keyed.into_iter().map(|(_, id)| id).collect::<Vec<_>>()
    );
    // Direct filter by id takes the same path.
    let rid = rust["id"].as_str().unwrap();
    let (_, by_id) = app
        .get_query(
            "/api/v1/content/article",
            &[("filter[tags][contains]", rid), ("limit", "100")],
        )
        .await;
    assert_eq!(names(&by_id), fast_order);

    // A cursor walk of 2 a page sees every entry once, with a new one added mid-walk.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let (status, page) = app
            .get_query(
                "/api/v1/content/article",
                &[by_tag[0], ("limit", "2"), ("cursor", cursor.as_str())],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(names(&page));
        pages += 1;
        if pages == 1 {
            app.create(
                "article",
                json!({ "title": "Late", "tags": [rust["id"]] }),
                true,
            )
            .await;
        }
        match page["meta"]["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no entry twice: {seen:?}");
    for id in &fast_order {
        assert!(seen.contains(id), "{id} was walked");
    }

    // Unpublishing, retagging and deleting show at once.
    let first = &fast_order[0];
    let (status, _) = app
        .admin_call(Method::POST, &format!("/content/article/{first}/unpublish"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let second = &fast_order[1];
    let (status, _) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{second}"),
            json!({ "fields": { "tags": [web["id"]] }, "publish": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let third = &fast_order[2];
    let (status, _) = app
        .admin_call(Method::DELETE, &format!("/content/article/{third}"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, after) = app
        .get_query("/api/v1/content/article", &[by_tag[0], ("limit", "100")])
        .await;
    // 4 + the late one - unpublished - retagged - deleted.
    assert_eq!(after["meta"]["total"], 2, "{after}");
    let left = names(&after);
    assert!(!left.contains(first) && !left.contains(second) && !left.contains(third));
    // An unknown tag matches nothing, quickly and without error.
    let (status, none) = app
        .get_query(
            "/api/v1/content/article",
            &[("filter[tags.slug][eq]", "nope")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(none["meta"]["total"], 0);
    let _ = ids;
}

/// What the admin token opens is never marked for shared caches.
#[tokio::test]
async fn token_reads_are_private_to_caches() {
    let app = TestApp::spawn().await;
    let (_, _, a) = app.seed_article("Cache headers", "headers").await;
    let url = app.url(&format!(
        "/api/v1/content/article/{}",
        a["id"].as_str().unwrap()
    ));
    let public = app.client.get(&url).send().await.unwrap();
    assert!(
        public.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public")
    );
    let private = app
        .client
        .get(&url)
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(private.headers()["cache-control"], "private, no-store");
    // A weakened ETag still revalidates.
    let etag = public.headers()["etag"].to_str().unwrap().to_owned();
    let again = app
        .client
        .get(&url)
        .header("if-none-match", format!("W/{etag}"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}

/// A cursor walk sorted by id sees every entry once.
#[tokio::test]
async fn cursor_walks_sorted_by_id() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        app.create("tag", json!({ "name": format!("Tag {i}") }), false)
            .await;
    }
    for sort in ["id", "-id"] {
        let mut seen = Vec::new();
        let mut cursor = String::new();
        loop {
            let (status, page) = app
                .get_query(
                    "/api/v1/content/tag",
                    &[("sort", sort), ("limit", "2"), ("cursor", cursor.as_str())],
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{page}");
            for e in page["data"].as_array().unwrap() {
                seen.push(e["id"].as_str().unwrap().to_owned());
            }
            match page["meta"]["next_cursor"].as_str() {
                Some(c) => cursor = c.to_owned(),
                None => break,
            }
        }
        let mut sorted = seen.clone();
        sorted.sort();
        if sort == "-id" {
            sorted.reverse();
        }
        assert_eq!(seen.len(), 5, "{sort}: {seen:?}");
        assert_eq!(seen, sorted, "{sort}");
    }
}

/// Writes run as optimistic transactions and every one of them updates its table's row count,
/// so concurrent writes collide; each must still land exactly once, and the totals stay exact.
#[tokio::test]
async fn concurrent_writes_all_land_and_totals_stay_exact() {
    let app = TestApp::builder().persistent().start().await.unwrap();
    let creates = (0..24).map(|i| {
        let app = &app;
        async move {
            app.create("tag", json!({ "name": format!("Tag {i}") }), true)
                .await
        }
    });
    let tags = futures::future::join_all(creates).await;
    let (status, body) = app
        .get_query("/api/v1/content/tag", &[("limit", "1")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["meta"]["total"], 24, "{body}");

    // Racing edits of one entry at the same version: one wins, the others are told so.
    let id = tags[0]["id"].as_str().unwrap().to_owned();
    let edits = (0..6).map(|i| {
        let app = &app;
        let id = id.clone();
        async move {
            app.admin_json(
                Method::PATCH,
                &format!("/content/tag/{id}"),
                json!({ "fields": { "name": format!("Renamed {i}") }, "version": 1 }),
            )
            .await
        }
    });
    let outcomes = futures::future::join_all(edits).await;
    let won = outcomes
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .count();
    assert_eq!(won, 1, "{outcomes:?}");
    for (status, body) in outcomes.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_error(*status, body, StatusCode::CONFLICT, "version_conflict");
    }

    let deletes = tags[..5].iter().map(|t| {
        let app = &app;
        let id = t["id"].as_str().unwrap().to_owned();
        async move {
            app.admin_call(Method::DELETE, &format!("/content/tag/{id}"))
                .await
        }
    });
    for (status, body) in futures::future::join_all(deletes).await {
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let (_, body) = app
        .get_query("/api/v1/content/tag", &[("limit", "1")])
        .await;
    assert_eq!(body["meta"]["total"], 19, "{body}");
    let (_, body) = app.admin_call(Method::GET, "/content/tag?limit=1").await;
    assert_eq!(body["meta"]["total"], 19, "{body}");
}
