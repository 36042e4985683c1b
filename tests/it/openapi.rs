//! The OpenAPI documents and their docs pages. Both documents are snapshotted, so a change to
//! the API's contract shows up in review as a diff of `snapshots/`.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{TestApp, send};

const TYPES: [(&str, &str); 4] = [
    ("article", "Article"),
    ("author", "Author"),
    ("site-settings", "SiteSettings"),
    ("tag", "Tag"),
];

async fn document(app: &TestApp, which: &str) -> Value {
    let reply = send(
        app.client
            .get(app.url(&format!("/openapi/{which}.json")))
            .bearer_auth(&app.token),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let doc: Value = serde_json::from_str(&reply.text).expect("the document is JSON");
    assert_eq!(doc["openapi"], "3.0.0", "{which}");
    doc
}

#[tokio::test]
async fn the_delivery_document_describes_every_type() {
    let app = TestApp::spawn().await;
    let doc = document(&app, "delivery").await;
    let paths = doc["paths"].as_object().unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for (id, name) in TYPES {
        assert!(paths.contains_key(&format!("/api/v1/content/{id}")), "{id}");
        assert!(
            schemas.contains_key(&format!("{name}Fields")),
            "{name}Fields"
        );
        assert!(schemas.contains_key(name), "{name}");
    }
    assert!(paths.contains_key("/api/v1/content/article/{key}"));
    assert!(
        !paths.contains_key("/api/v1/content/site-settings/{key}"),
        "a single type has no per-entry path"
    );
    let article = &schemas["ArticleFields"]["properties"];
    assert!(article.get("title").is_some(), "{article}");
    assert!(
        article.get("editor_notes").is_none(),
        "no private fields: {article}"
    );
    assert!(schemas["AuthorFields"]["properties"].get("email").is_none());
    insta::assert_json_snapshot!("delivery_openapi", doc);
}

#[tokio::test]
async fn the_admin_document_describes_every_type() {
    let app = TestApp::spawn().await;
    let doc = document(&app, "admin").await;
    let paths = doc["paths"].as_object().unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for (id, name) in TYPES {
        let base = format!("/admin/api/v1/content/{id}");
        assert!(paths.contains_key(&base), "{base}");
        assert!(
            paths.contains_key(&format!("{base}/{{id}}")),
            "{base}/{{id}}"
        );
        assert!(
            schemas.contains_key(&format!("{name}AdminEntry")),
            "{name}AdminEntry"
        );
        assert!(
            schemas.contains_key(&format!("{name}FieldsInput")),
            "{name}FieldsInput"
        );
    }
    assert!(paths.contains_key("/admin/api/v1/content/article/{id}/publish"));
    assert!(paths.contains_key("/admin/api/v1/types/{type}"));
    for path in [
        "/auth/login",
        "/auth/login/two-factor",
        "/users/{id}",
        "/tokens",
        "/audit",
        "/events",
    ] {
        assert!(
            paths.contains_key(&format!("/admin/api/v1{path}")),
            "{path}"
        );
    }
    assert_eq!(
        paths["/admin/api/v1/auth/login"]["post"]["security"],
        serde_json::json!([]),
        "signing in needs no credentials"
    );
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    for scheme in ["bearer", "session_cookie", "csrf"] {
        assert!(schemes.contains_key(scheme), "{scheme}");
    }
    // The admin document is for signed-in staff.
    for path in ["/openapi/admin.json", "/docs/admin"] {
        let reply = send(app.client.get(app.url(path))).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    assert!(
        schemas["ArticleFieldsInput"]["properties"]
            .get("editor_notes")
            .is_some(),
        "editors write private fields"
    );
    insta::assert_json_snapshot!("admin_openapi", doc);
}

#[tokio::test]
async fn docs_pages_are_html() {
    let app = TestApp::spawn().await;
    for (path, needle) in [
        ("/docs", "/openapi/delivery.json"),
        ("/docs/delivery", "Folio delivery API"),
        ("/docs/admin", "Folio admin API"),
    ] {
        let reply = send(app.client.get(app.url(path)).bearer_auth(&app.token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(
            reply
                .header("content-type")
                .is_some_and(|c| c.starts_with("text/html")),
            "{path}: {:?}",
            reply.header("content-type")
        );
        assert!(reply.text.contains(needle), "{path} mentions {needle}");
    }
    let reply = send(app.client.get(app.url("/docs/secret"))).await;
    assert!(reply.status.is_client_error(), "{}", reply.status);
}

/// Whether `value` has the shape `schema` (of `doc`) describes: types, required properties,
/// array items, `$ref`, `oneOf`, `nullable`, `enum`. The path of the first disagreement.
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    // `nullable` admits null whatever else the schema says (as tools read OpenAPI 3.0's
    // `{"nullable": true, "allOf": [{"$ref": ...}]}`).
    if value.is_null() && schema["nullable"] == true {
        return Ok(());
    }
    if let Some(name) = schema["$ref"].as_str() {
        let target = &doc["components"]["schemas"][name.rsplit('/').next().unwrap()];
        return conforms(doc, target, value, at);
    }
    if let Some(all) = schema["allOf"].as_array() {
        return all.iter().try_for_each(|s| conforms(doc, s, value, at));
    }
    if let Some(any) = schema["oneOf"].as_array() {
        return any
            .iter()
            .find(|s| conforms(doc, s, value, at).is_ok())
            .map(|_| ())
            .ok_or_else(|| format!("{at}: matches none of oneOf"));
    }
    if value.is_null() {
        return if schema["nullable"] == true || schema.get("type").is_none() {
            Ok(())
        } else {
            Err(format!("{at}: null where {schema} is not nullable"))
        };
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {allowed:?}"));
    }
    let ok = match schema["type"].as_str() {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    };
    if !ok {
        return Err(format!("{at}: {value} is not a {}", schema["type"]));
    }
    for key in schema["required"].as_array().into_iter().flatten() {
        let key = key.as_str().unwrap();
        if value.get(key).is_none() {
            return Err(format!("{at}: `{key}` is missing"));
        }
    }
    for (key, property) in schema["properties"].as_object().into_iter().flatten() {
        if let Some(v) = value.get(key) {
            conforms(doc, property, v, &format!("{at}.{key}"))?;
        }
    }
    if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
        for (i, v) in values.iter().enumerate() {
            conforms(doc, items, v, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// The sign-in answers (which generated requests never reach: they need a real password) have
/// the shapes the admin document gives them, as do the account answers the admin UI reads.
#[tokio::test]
async fn account_answers_have_the_shapes_the_admin_document_gives() {
    let app = TestApp::spawn().await;
    let doc = document(&app, "admin").await;
    let schema = |method: &str, path: &str, status: &str| {
        // The JSON answer, whatever its exact media type (`application/json; charset=utf-8`).
        let content =
            &doc["paths"][format!("/admin/api/v1{path}")][method]["responses"][status]["content"];
        content
            .as_object()
            .and_then(|c| c.iter().find(|(t, _)| t.starts_with("application/json")))
            .map(|(_, c)| c["schema"].clone())
            .unwrap_or_default()
    };
    let (status, made) = app
        .admin_json(
            reqwest::Method::POST,
            "/users",
            serde_json::json!({ "email": "shape@example.com", "role": "editor", "name": "Shape", "password": "a long enough password 42" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    conforms(&doc, &schema("post", "/users", "201"), &made, "").unwrap();
    let signed_in = app
        .login("shape@example.com", "a long enough password 42", true)
        .await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.text);
    let answer: Value = serde_json::from_str(&signed_in.text).unwrap();
    conforms(&doc, &schema("post", "/auth/login", "200"), &answer, "").unwrap();
    assert!(answer["data"]["session"]["token"].is_string());
    for path in [
        "/auth/me",
        "/auth/sessions",
        "/users",
        "/tokens",
        "/roles",
        "/audit",
        "/events",
    ] {
        let (status, body) = app.admin_call(reqwest::Method::GET, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        conforms(&doc, &schema("get", path, "200"), &body, path).unwrap();
    }
    // An entry, as made and as listed, has the shape of its type's entry and of any entry.
    let (status, made) = app
        .admin_json(
            reqwest::Method::POST,
            "/content/tag",
            serde_json::json!({ "fields": { "name": "Shapes" } }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    conforms(&doc, &schema("post", "/content/tag", "201"), &made, "").unwrap();
    let (status, page) = app.admin_call(reqwest::Method::GET, "/content/tag").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    conforms(&doc, &schema("get", "/content/tag", "200"), &page, "").unwrap();
    let any = serde_json::json!({ "$ref": "#/components/schemas/EntryPage" });
    conforms(&doc, &any, &page, "").unwrap();
    let mut unversioned = page.clone();
    unversioned["data"][0]
        .as_object_mut()
        .unwrap()
        .remove("version");
    assert!(conforms(&doc, &any, &unversioned, "").is_err());
    // The media library: an image and a text file uploaded, listed, read, changed (alt
    // per locale, a focal point), its uses, folders made and listed.
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(8, 6, image::Rgb([9, 99, 199])))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(png).file_name("shape.png"),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"words".to_vec()).file_name("shape.txt"),
        )
        .text("alt", "A shape");
    let uploaded = send(app.admin(reqwest::Method::POST, "/media").multipart(form)).await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{}", uploaded.text);
    let uploaded = uploaded.json();
    conforms(&doc, &schema("post", "/media", "201"), &uploaded, "").unwrap();
    assert_eq!(uploaded["data"][0]["width"], 8, "{uploaded}");
    assert!(uploaded["data"][1].get("width").is_none(), "{uploaded}");
    let id = uploaded["data"][0]["id"].as_str().unwrap().to_owned();
    let (status, folder) = app
        .admin_json(
            reqwest::Method::POST,
            "/media/folders",
            serde_json::json!({ "name": "Shapes" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{folder}");
    conforms(&doc, &schema("post", "/media/folders", "201"), &folder, "").unwrap();
    let (status, changed) = app
        .admin_json(
            reqwest::Method::PATCH,
            &format!("/media/{id}"),
            serde_json::json!({
                "caption": { "en": "In English" },
                "focal": { "x": 0.25, "y": 1 },
                "folder": folder["data"]["id"],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    conforms(&doc, &schema("patch", "/media/{id}", "200"), &changed, "").unwrap();
    assert_eq!(changed["data"]["caption"]["en"], "In English", "{changed}");
    for (path, template) in [
        ("/media".to_owned(), "/media"),
        (format!("/media/{id}"), "/media/{id}"),
        (format!("/media/{id}/usage"), "/media/{id}/usage"),
        ("/media/folders".to_owned(), "/media/folders"),
    ] {
        let (status, body) = app.admin_call(reqwest::Method::GET, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        conforms(&doc, &schema("get", template, "200"), &body, &path).unwrap();
    }
    // A disagreement is found: the check can fail.
    let mut broken = answer.clone();
    broken["data"]["user"]["two_factor"] = Value::Null;
    assert!(conforms(&doc, &schema("post", "/auth/login", "200"), &broken, "").is_err());
}
