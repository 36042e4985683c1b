//! Content-type changes applied at start-up: new fields and types just work, removing a field
//! that holds data is refused unless destructive changes are allowed, and `renamed_from`
//! carries the data over to the new name.

use std::path::Path;

use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestApp, copy_dir, example_types, send};

const EDITOR_NOTES: &str =
    "[[fields]]\nname = \"editor_notes\"\ntype = \"long_text\"\nprivate = true\n";
const SEO_START: &str = "[[fields]]\nname = \"seo\"";

/// A copy of the example types with `article.toml` edited.
fn types_with(edit: impl FnOnce(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&example_types(), dir.path());
    let file = dir.path().join("article.toml");
    let before = std::fs::read_to_string(&file).expect("article.toml");
    let after = edit(before.clone());
    assert_ne!(before, after, "the edit changed the file");
    std::fs::write(&file, after).expect("write article.toml");
    dir
}

fn without_seo(toml: String) -> String {
    let start = toml.find(SEO_START).expect("seo field");
    let end = toml.find(EDITOR_NOTES).expect("editor_notes field");
    format!("{}{}", &toml[..start], &toml[end..])
}

/// The `type.…` events in the change-event log.
async fn migrated(app: &TestApp) -> Vec<Value> {
    let (status, body) = app.admin_call(Method::GET, "/events?kind=type").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].as_array().cloned().unwrap_or_default()
}

fn id_of(entry: &Value) -> String {
    entry["id"].as_str().expect("entry id").to_owned()
}

/// A persistent server with one published article that has notes and an excerpt.
async fn first_run() -> (tempfile::TempDir, String) {
    let app = TestApp::builder().persistent().start().await.unwrap();
    let entry = app
        .create(
            "article",
            json!({
                "title": { "en": "Before the change" },
                "excerpt": { "en": "Short", "fr": "Court" },
                "editor_notes": "keep me",
            }),
            true,
        )
        .await;
    (app.stop().await, id_of(&entry))
}

async fn start(dir: tempfile::TempDir, types: &Path) -> TestApp {
    TestApp::builder()
        .data_dir(dir)
        .types(types)
        .start()
        .await
        .unwrap_or_else(|e| panic!("start-up refused: {e}"))
}

#[tokio::test]
async fn new_fields_and_types_just_work() {
    let (dir, id) = first_run().await;
    let types = types_with(|toml| {
        toml.replace(
            EDITOR_NOTES,
            &format!("[[fields]]\nname = \"subtitle\"\ntype = \"text\"\nmax_length = 80\n\n{EDITOR_NOTES}"),
        )
    });
    std::fs::write(
        types.path().join("page.toml"),
        "id = \"page\"\nname = \"Page\"\n\n[access]\nread = [\"public\"]\n\n[[fields]]\nname = \"heading\"\ntype = \"text\"\nrequired = true\n",
    )
    .unwrap();
    let app = start(dir, types.path()).await;

    let (status, body) = app
        .admin_call(Method::GET, &format!("/content/article/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fields = &body["data"]["fields"];
    assert_eq!(fields["subtitle"], Value::Null);
    assert_eq!(fields["title"], json!({ "en": "Before the change" }));
    assert_eq!(fields["editor_notes"], "keep me");

    let (status, body) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{id}"),
            json!({ "fields": { "subtitle": "Now with more" }, "publish": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, delivered) = app.get(&format!("/api/v1/content/article/{id}")).await;
    assert_eq!(delivered["data"]["fields"]["subtitle"], "Now with more");
    assert_eq!(delivered["data"]["fields"]["excerpt"], "Short");
    let (status, body) = app
        .get_query(
            "/api/v1/content/article",
            &[("filter[subtitle][starts_with]", "Now")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["meta"]["total"], 1);
    // The new field's rules apply.
    let (status, body) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{id}"),
            json!({ "fields": { "subtitle": "s".repeat(81) } }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"]["fields.subtitle"]["code"], "too_long");

    let page = app
        .create("page", json!({ "heading": "About" }), false)
        .await;
    let (status, body) = app
        .get(&format!("/api/v1/content/page/{}", id_of(&page)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["fields"]["heading"], "About");

    // And the next start with the same files has nothing left to change.
    let dir = app.stop().await;
    let app = start(dir, types.path()).await;
    let (_, delivered) = app.get(&format!("/api/v1/content/article/{id}")).await;
    assert_eq!(delivered["data"]["fields"]["subtitle"], "Now with more");
}

#[tokio::test]
async fn removing_a_field_that_holds_data_needs_allow_destructive() {
    let (dir, id) = first_run().await;

    // A field no entry uses goes quietly.
    let no_seo = types_with(without_seo);
    let app = start(dir, no_seo.path()).await;
    let (_, body) = app
        .admin_call(Method::GET, &format!("/content/article/{id}"))
        .await;
    assert!(body["data"]["fields"].get("seo").is_none(), "{body}");
    assert_eq!(body["data"]["fields"]["editor_notes"], "keep me");
    let dir = app.stop().await;

    // One that holds data is refused, naming it.
    let no_notes = types_with(|toml| without_seo(toml).replace(EDITOR_NOTES, ""));
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), copy.path());
    let refused = TestApp::builder()
        .data_dir(copy)
        .types(no_notes.path())
        .start()
        .await;
    let Err(error) = refused else {
        panic!("removing a field with data must be refused at start-up");
    };
    let message = error.to_string();
    assert!(message.contains("editor_notes"), "{message}");
    assert!(
        message.contains("allow-destructive"),
        "says how to go ahead: {message}"
    );

    // The original data directory still starts with the old files, data intact.
    let app = start(dir, no_seo.path()).await;
    let (_, body) = app
        .admin_call(Method::GET, &format!("/content/article/{id}"))
        .await;
    assert_eq!(body["data"]["fields"]["editor_notes"], "keep me");
    let dir = app.stop().await;

    // With allow_destructive the field goes, and everything else stays.
    let app = TestApp::builder()
        .data_dir(dir)
        .types(no_notes.path())
        .allow_destructive()
        .start()
        .await
        .unwrap_or_else(|e| panic!("allowed: {e}"));
    let (status, body) = app
        .admin_call(Method::GET, &format!("/content/article/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fields = &body["data"]["fields"];
    assert!(fields.get("editor_notes").is_none(), "{body}");
    assert_eq!(fields["excerpt"], json!({ "en": "Short", "fr": "Court" }));
    let (status, body) = app.get(&format!("/api/v1/content/article/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["fields"]["title"], "Before the change");
    // Writes work against the new layout.
    let (status, body) = app
        .admin_json(
            Method::PATCH,
            &format!("/content/article/{id}"),
            json!({ "fields": { "featured": true }, "publish": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn renamed_from_moves_the_data() {
    let (dir, id) = first_run().await;
    let types = types_with(|toml| {
        toml.replace(
            "name = \"excerpt\"\n",
            "name = \"summary\"\nrenamed_from = \"excerpt\"\n",
        )
    });
    // Not destructive: no allow_destructive needed.
    let app = start(dir, types.path()).await;

    let (status, body) = app
        .admin_call(Method::GET, &format!("/content/article/{id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fields = &body["data"]["fields"];
    assert_eq!(fields["summary"], json!({ "en": "Short", "fr": "Court" }));
    assert!(fields.get("excerpt").is_none(), "{body}");
    assert_eq!(fields["editor_notes"], "keep me");

    // The published snapshot moved too.
    let (status, body) = app
        .get_query(
            &format!("/api/v1/content/article/{id}"),
            &[("locale", "fr")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["fields"]["summary"], "Court");
    let (_, body) = app
        .get_query(
            "/api/v1/content/article",
            &[("filter[summary][eq]", "Short")],
        )
        .await;
    assert_eq!(body["meta"]["total"], 1, "{body}");
    let (status, body) = app
        .get_query(
            "/api/v1/content/article",
            &[("filter[excerpt][exists]", "true")],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the old name is gone: {body}"
    );

    // The change-event log says the articles were rewritten, once, by the system.
    let events = migrated(&app).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["kind"], "type.migrated");
    assert_eq!(events[0]["type"], "article");
    assert_eq!(events[0]["subject"], "article");
    assert_eq!(events[0]["actor"], "system");

    // Restarting with the same files changes nothing more.
    let dir = app.stop().await;
    let app = start(dir, types.path()).await;
    let (_, body) = app
        .admin_call(Method::GET, &format!("/content/article/{id}"))
        .await;
    assert_eq!(
        body["data"]["fields"]["summary"],
        json!({ "en": "Short", "fr": "Court" })
    );
    assert_eq!(migrated(&app).await.len(), 1, "no migration, no event");
}

/// A rename rewrites every row of its tables, and one transaction can hold no more than the
/// store's write buffer: on a table larger than that, rows are moved a batch at a time.
#[tokio::test]
async fn a_rename_larger_than_one_transaction_moves_every_row() {
    const ENTRIES: usize = 600;
    let app = TestApp::builder()
        .persistent()
        .write_buffer_mib(16)
        .start()
        .await
        .unwrap();
    // 40 KB of notes per entry, in the working copy and the published snapshot: ~48 MB to
    // move, three times the write buffer.
    let notes = "a private remark ".repeat(2_400);
    let created: Vec<Value> = futures::stream::iter(0..ENTRIES)
        .map(|i| {
            let app = &app;
            let notes = notes.clone();
            async move {
                app.create(
                    "article",
                    json!({ "title": { "en": format!("Long notes {i}") }, "editor_notes": notes }),
                    true,
                )
                .await
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let dir = app.stop().await;

    let types = types_with(|toml| {
        toml.replace(
            "name = \"editor_notes\"\n",
            "name = \"remarks\"\nrenamed_from = \"editor_notes\"\n",
        )
    });
    let app = TestApp::builder()
        .data_dir(dir)
        .types(types.path())
        .write_buffer_mib(16)
        .start()
        .await
        .unwrap_or_else(|e| panic!("start-up refused: {e}"));
    for entry in &created {
        let id = id_of(entry);
        let (status, body) = app
            .admin_call(Method::GET, &format!("/content/article/{id}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let fields = &body["data"]["fields"];
        assert_eq!(fields["remarks"].as_str(), Some(notes.as_str()), "{id}");
        assert!(fields.get("editor_notes").is_none(), "{body}");
    }
    let body = send(
        app.admin(Method::GET, "/content/article")
            .query(&[("filter[remarks][exists]", "true"), ("limit", "1")]),
    )
    .await
    .json();
    assert_eq!(body["meta"]["total"], ENTRIES, "{body}");
}

/// Hooks name plugins by id; a wrong id, or a plugin whose field is missing, stops start-up
/// with the file named.
#[tokio::test]
async fn hooks_must_name_known_plugins_with_their_fields() {
    let types = types_with(|t| {
        t.replace(
            "before_save = [\"reading-time\"]",
            "before_save = [\"reading-tme\"]",
        )
    });
    let err = TestApp::builder()
        .types(types.path())
        .start()
        .await
        .err()
        .expect("start-up fails");
    let text = err.to_string();
    assert!(
        text.contains("article.toml") && text.contains("reading-tme"),
        "{text}"
    );
    assert!(
        text.contains("reading-time"),
        "the available plugins are listed: {text}"
    );

    let types = types_with(|t| {
        t.replace(
            "name = \"reading_time\"\ntype = \"integer\"",
            "name = \"reading_minutes\"\ntype = \"integer\"",
        )
    });
    let err = TestApp::builder()
        .types(types.path())
        .start()
        .await
        .err()
        .expect("start-up fails");
    assert!(err.to_string().contains("reading_time"), "{err}");
}

/// `folio types check` and `folio types plan` as a developer runs them.
#[test]
fn types_check_and_plan_commands() {
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str], types: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_folio"))
            .args(args)
            .env("FOLIO_DATA_DIR", data.path())
            .env("FOLIO_CONTENT_TYPES", types)
            .env("FOLIO_LOG__LEVEL", "warn")
            .current_dir(data.path())
            .output()
            .unwrap()
    };
    let out = run(&["types", "check"], &example_types());
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    for t in ["article", "author", "tag", "site-settings"] {
        assert!(stdout.contains(t), "{stdout}");
    }
    let plan = run(&["types", "plan"], &example_types());
    assert!(plan.status.success());
    assert!(String::from_utf8_lossy(&plan.stdout).contains("add table `entry_article`"));

    let broken = types_with(|t| {
        t.replace(
            "required = true\nlocalized = true",
            "requird = true\nlocalized = true",
        )
    });
    let out = run(&["types", "check"], broken.path());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("article.toml:") && stderr.contains("did you mean `required`"),
        "{stderr}"
    );
}

/// A renamed many-relation gets its link table filled from the published entries, so lists
/// by the related entry keep working after the change.
#[tokio::test]
async fn renamed_relations_keep_their_lists() {
    let app = TestApp::builder().persistent().start().await.unwrap();
    let (_, tag, article) = app.seed_article("Labelled", "label-me").await;
    let dir = app.stop().await;
    let types = types_with(|t| {
        t.replace(
            "name = \"tags\"\ntype = \"relation\"",
            "name = \"labels\"\nrenamed_from = \"tags\"\ntype = \"relation\"",
        )
    });
    let app = start(dir, types.path()).await;
    let (status, body) = app
        .get_query(
            "/api/v1/content/article",
            &[("filter[labels.slug][eq]", "label-me")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["meta"]["total"], 1, "{body}");
    assert_eq!(body["data"][0]["id"], article["id"]);
    assert_eq!(body["data"][0]["fields"]["labels"][0], tag["id"]);
}

/// Turning drafts on keeps every entry public; turning them off with drafts present is
/// refused (they would become public) unless destructive changes are allowed.
#[tokio::test]
async fn toggling_drafts_keeps_what_is_public_public() {
    let app = TestApp::builder().persistent().start().await.unwrap();
    let (_, tag, _) = app.seed_article("Toggled", "toggle").await;
    // An unpublished article, which dropping drafts would make public.
    app.create("article", json!({ "title": "Still a draft" }), false)
        .await;
    let dir = app.stop().await;

    // Tags gain drafts: the existing tag stays published and listed.
    let types = tempfile::tempdir().unwrap();
    copy_dir(&example_types(), types.path());
    let tag_file = types.path().join("tag.toml");
    let toml = std::fs::read_to_string(&tag_file).unwrap();
    std::fs::write(
        &tag_file,
        toml.replace("name = \"Tag\"\n", "name = \"Tag\"\ndrafts = true\n"),
    )
    .unwrap();
    let app = start(dir, types.path()).await;
    let (status, body) = app.get("/api/v1/content/tag/toggle").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["id"], tag["id"]);
    let dir = app.stop().await;

    // Articles lose drafts while one is unpublished: refused...
    let article_file = types.path().join("article.toml");
    let toml = std::fs::read_to_string(&article_file).unwrap();
    std::fs::write(
        &article_file,
        toml.replace("drafts = true\n", "drafts = false\n"),
    )
    .unwrap();
    let err = TestApp::builder()
        .data_dir(dir)
        .types(types.path())
        .start()
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("would become public"), "{err}");
}

#[tokio::test]
async fn dropping_drafts_with_allow_destructive_publishes_them() {
    let app = TestApp::builder().persistent().start().await.unwrap();
    app.seed_article("Published one", "drop-drafts").await;
    let draft = app
        .create("article", json!({ "title": "Draft one" }), false)
        .await;
    let dir = app.stop().await;
    let types = types_with(|t| t.replace("drafts = true\n", "drafts = false\n"));
    let app = TestApp::builder()
        .data_dir(dir)
        .types(types.path())
        .allow_destructive()
        .start()
        .await
        .unwrap();
    let (_, list) = app.get("/api/v1/content/article").await;
    assert_eq!(list["meta"]["total"], 2, "{list}");
    let (status, one) = app
        .get(&format!("/api/v1/content/article/{}", id_of(&draft)))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(one["data"]["published_at"].is_string());
    // The tag list through the link table works on the entry table now.
    let (_, by_tag) = app
        .get_query(
            "/api/v1/content/article",
            &[("filter[tags.slug][eq]", "drop-drafts")],
        )
        .await;
    assert_eq!(by_tag["meta"]["total"], 1, "{by_tag}");
}
