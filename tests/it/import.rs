//! `folio import` and `folio export`, run as a user runs them: the real binary on a data
//! directory, then the server on the same directory.

use std::path::Path;
use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestApp, example_types};

fn folio(data_dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_folio"));
    c.env("FOLIO_DATA_DIR", data_dir)
        .env("FOLIO_CONTENT_TYPES", example_types())
        .env("FOLIO_LOG__LEVEL", "warn")
        .current_dir(data_dir);
    c
}

pub(crate) fn generate(n: usize, out: &Path) -> Value {
    let generator =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/data/gen_articles.py");
    let status = Command::new("python3")
        .arg(&generator)
        .args(["--n", &n.to_string(), "--seed", "7", "--out-dir"])
        .arg(out)
        .status()
        .expect("python3 runs the generator");
    assert!(status.success());
    serde_json::from_str(&std::fs::read_to_string(out.join("expected.json")).unwrap()).unwrap()
}

/// Imports the generator's tags, authors and articles from `input`, as a user would.
pub(crate) fn import_generated(data_dir: &Path, input: &Path) {
    for (ty, file) in [
        ("tag", "tags.jsonl"),
        ("author", "authors.jsonl"),
        ("article", "articles.jsonl"),
    ] {
        let out = import(data_dir, ty, &input.join(file));
        assert!(
            out.status.success(),
            "import {ty}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Exports tags, authors and articles of `data_dir` into `out`, a file each, named as the
/// generator names them (so [`import_generated`] reads them back).
fn export_all(data_dir: &Path, out: &Path) {
    for ty in ["tag", "author", "article"] {
        let done = folio(data_dir)
            .args(["export", "--type", ty, "-o"])
            .arg(out.join(format!("{ty}s.jsonl")))
            .output()
            .unwrap();
        assert!(
            done.status.success(),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
    }
}

pub(crate) fn import(data_dir: &Path, ty: &str, file: &Path) -> std::process::Output {
    folio(data_dir)
        .args(["import", "--type", ty])
        .arg(file)
        .output()
        .expect("folio import runs")
}

#[tokio::test]
async fn generated_articles_import_as_is_with_real_relations() {
    let input = tempfile::tempdir().unwrap();
    let expected = generate(300, input.path());
    let data = tempfile::tempdir().unwrap();
    import_generated(data.path(), input.path());

    let app = TestApp::builder().data_dir(data).start().await.unwrap();
    // Status decides what is published.
    let (status, body) = app
        .get_query("/api/v1/content/article", &[("limit", "1")])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["meta"]["total"], expected["published"]);
    // Tags are real relations: the delivery filter through them matches the generator's counts.
    for tag in ["rust", "web", "security", "history"] {
        let (_, body) = app
            .get_query(
                "/api/v1/content/article",
                &[("filter[tags.slug][eq]", tag), ("limit", "1")],
            )
            .await;
        assert_eq!(
            body["meta"]["total"], expected["tag_published"][tag],
            "tag {tag}"
        );
    }
    // Authors too, resolved by their unique email, and published_at comes from the line.
    let first: Value = serde_json::from_str(
        std::fs::read_to_string(input.path().join("articles.jsonl"))
            .unwrap()
            .lines()
            .find(|l| l.contains("\"published\""))
            .unwrap(),
    )
    .unwrap();
    let slug = first["slug"].as_str().unwrap();
    let (status, body) = app
        .get_query(
            &format!("/api/v1/content/article/{slug}"),
            &[("populate", "author,tags")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let e = &body["data"];
    assert_eq!(
        e["fields"]["author"]["fields"]["name"],
        first["author"]["name"]
    );
    assert_eq!(e["published_at"], first["published_at"]);
    let tags: Vec<&str> = e["fields"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["fields"]["slug"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = first["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tags, want);
    // The plugin ran on import.
    assert!(e["fields"]["reading_time"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn bad_lines_are_reported_by_number_and_good_lines_kept() {
    let data = tempfile::tempdir().unwrap();
    let input = tempfile::tempdir().unwrap();
    let tags = input.path().join("tags.jsonl");
    std::fs::write(&tags, "{\"slug\": \"rust\", \"name\": \"Rust\"}\n").unwrap();
    assert!(import(data.path(), "tag", &tags).status.success());
    let articles = input.path().join("articles.jsonl");
    std::fs::write(
        &articles,
        [
            r#"{"title": {"en": "Good one"}, "tags": ["rust"], "status": "published"}"#,
            r#"{"title": {"en": "Broken"#,
            r#"{"title": {"en": "Unknown tag"}, "tags": ["nope"]}"#,
            r#"{"title": {"en": "Good two"}, "status": "draft"}"#,
            r#"{"title": 5}"#,
            r#"[1, 2]"#,
            r#"{"title": {"en": "Dangling"}, "tags": ["01ARZ3NDEKTSV4RRFFQ69G5FAV"]}"#,
            r#"{"id": "81ARZ3NDEKTSV4RRFFQ69G5FAV", "title": {"en": "Overflowing id"}}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let out = import(data.path(), "article", &articles);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    for line in [2, 3, 5, 6, 7, 8] {
        assert!(
            stderr.contains(&format!("articles.jsonl:{line}:")),
            "line {line} reported: {stderr}"
        );
    }
    assert!(!stderr.contains("articles.jsonl:1:") && !stderr.contains("articles.jsonl:4:"));
    assert!(stdout.contains("imported 2 "), "{stdout}");

    let app = TestApp::builder().data_dir(data).start().await.unwrap();
    let (_, body) = app.get("/api/v1/content/article").await;
    assert_eq!(
        body["meta"]["total"], 1,
        "only the published good line is public: {body}"
    );
    let (_, body) = app
        .admin_call(reqwest::Method::GET, "/content/article")
        .await;
    assert_eq!(
        body["meta"]["total"], 2,
        "both good lines are stored: {body}"
    );
}

#[tokio::test]
async fn export_then_import_round_trips() {
    let input = tempfile::tempdir().unwrap();
    generate(60, input.path());
    let first = tempfile::tempdir().unwrap();
    for (ty, file) in [
        ("tag", "tags.jsonl"),
        ("author", "authors.jsonl"),
        ("article", "articles.jsonl"),
    ] {
        assert!(
            import(first.path(), ty, &input.path().join(file))
                .status
                .success()
        );
    }
    let exported = tempfile::tempdir().unwrap();
    export_all(first.path(), exported.path());
    let second = tempfile::tempdir().unwrap();
    import_generated(second.path(), exported.path());
    // The same ids, fields and metadata come back.
    let again = tempfile::tempdir().unwrap();
    export_all(second.path(), again.path());
    let a = std::fs::read_to_string(exported.path().join("articles.jsonl")).unwrap();
    let b = std::fs::read_to_string(again.path().join("articles.jsonl")).unwrap();
    assert_eq!(a.lines().count(), 60);
    assert_eq!(a, b);
}

/// An entry published with newer edits, a draft, translations and entries edited several
/// times: export, import into a fresh data directory and export again gives the same text, and
/// the imported site serves what the first one did — the published version to the public, the
/// edits to editors.
#[tokio::test]
async fn export_and_import_keep_working_copies_and_published_snapshots() {
    let app = TestApp::builder().persistent().start().await.unwrap();
    let (_, _, article) = app.seed_article("What the public reads", "kept").await;
    let changed = article["id"].as_str().unwrap().to_owned();
    for title in ["First edit", "Edit not yet published"] {
        let (status, body) = app
            .admin_json(
                Method::PATCH,
                &format!("/content/article/{changed}"),
                json!({ "fields": { "title": { "en": title, "fr": "Modifié" } } }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let draft = app
        .create(
            "article",
            json!({ "title": { "en": "Only a draft", "fr": "Brouillon" }, "body": { "en": "Draft" } }),
            false,
        )
        .await;
    let dir = app.stop().await;

    let exported = tempfile::tempdir().unwrap();
    export_all(dir.path(), exported.path());
    let articles = std::fs::read_to_string(exported.path().join("articles.jsonl")).unwrap();
    let line: Value = articles
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["id"] == changed.as_str())
        .unwrap();
    assert_eq!(line["status"], "changed", "{line}");
    assert_eq!(line["version"], 3, "{line}");
    assert_eq!(line["fields"]["title"]["en"], "Edit not yet published");
    assert_eq!(line["published"]["version"], 1, "{line}");
    assert_eq!(
        line["published"]["fields"]["title"]["en"],
        "What the public reads"
    );

    let second = tempfile::tempdir().unwrap();
    import_generated(second.path(), exported.path());
    let again = tempfile::tempdir().unwrap();
    export_all(second.path(), again.path());
    for ty in ["tag", "author", "article"] {
        let a = std::fs::read_to_string(exported.path().join(format!("{ty}s.jsonl"))).unwrap();
        let b = std::fs::read_to_string(again.path().join(format!("{ty}s.jsonl"))).unwrap();
        assert_eq!(a, b, "{ty}");
    }

    let app = TestApp::builder().data_dir(second).start().await.unwrap();
    let (status, public) = app.get(&format!("/api/v1/content/article/{changed}")).await;
    assert_eq!(status, StatusCode::OK, "{public}");
    assert_eq!(
        public["data"]["fields"]["title"], "What the public reads",
        "{public}"
    );
    let (_, admin) = app
        .admin_call(Method::GET, &format!("/content/article/{changed}"))
        .await;
    assert_eq!(admin["data"]["status"], "changed", "{admin}");
    assert_eq!(admin["data"]["version"], 3, "{admin}");
    assert_eq!(
        admin["data"]["fields"]["title"]["en"],
        "Edit not yet published"
    );
    let (status, _) = app
        .get(&format!(
            "/api/v1/content/article/{}",
            draft["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A line that says `changed` without what was published is refused, not made public.
    let bad = tempfile::tempdir().unwrap();
    let file = bad.path().join("bad.jsonl");
    std::fs::write(
        &file,
        r#"{"status":"changed","fields":{"title":{"en":"Unreviewed"}}}"#,
    )
    .unwrap();
    let dir = app.stop().await;
    let out = import(dir.path(), "article", &file);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("needs the published snapshot"), "{text}");
}

/// Several batches, written side by side: bad lines in any batch are reported in line order,
/// a unique value repeated in a later batch is refused on the later line, and a generated uid
/// sees the values of the batches before it.
#[tokio::test]
async fn batches_written_side_by_side_keep_the_first_of_repeated_values() {
    let data = tempfile::tempdir().unwrap();
    let input = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (1..=1200)
        .map(|n| match n {
            2 | 1150 => "{\"name\": ".to_owned(),
            700 => json!({ "name": "Again", "slug": "tag-3" }).to_string(),
            1100 => json!({ "name": "Again", "slug": "tag-650" }).to_string(),
            900 => json!({ "name": "Tag 5" }).to_string(),
            n => json!({ "name": format!("Tag {n}"), "slug": format!("tag-{n}") }).to_string(),
        })
        .collect();
    let file = input.path().join("tags.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = import(data.path(), "tag", &file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    let reported: Vec<u64> = stderr
        .lines()
        .filter_map(|l| l.split("tags.jsonl:").nth(1))
        .filter_map(|rest| rest.split(':').next()?.parse().ok())
        .collect();
    assert_eq!(reported, [2, 700, 1100, 1150], "{stderr}");
    assert!(stderr.contains("already used on line 3"), "{stderr}");
    assert!(stdout.contains("imported 1196 "), "{stdout}");

    let app = TestApp::builder().data_dir(data).start().await.unwrap();
    let (_, body) = app
        .get_query("/api/v1/content/tag", &[("limit", "1")])
        .await;
    assert_eq!(body["meta"]["total"], 1196, "{body}");
    let (status, body) = app.get("/api/v1/content/tag/tag-3").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["data"]["fields"]["name"], "Tag 3",
        "the first line keeps the slug"
    );
    let (status, body) = app.get("/api/v1/content/tag/tag-5-2").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "line 900's slug was generated free of line 5's"
    );
    assert_eq!(body["data"]["fields"]["name"], "Tag 5");
}
