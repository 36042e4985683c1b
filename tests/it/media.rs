//! The media library through the real server: uploads (multipart and raw), what is refused,
//! serving with ranges and caching, transforms around the focal point, media fields and their
//! integrity, the admin API, and the S3 store.

use std::io::Cursor;

use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Reply, TestApp, assert_error, send};

fn encode(img: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

/// A `w`×`h` JPEG of one colour.
fn jpeg(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
    encode(
        image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(w, h, image::Rgb(rgb))),
        image::ImageFormat::Jpeg,
    )
}

/// A JPEG carrying an EXIF block with a GPS position in it.
fn jpeg_with_location(w: u32, h: u32) -> Vec<u8> {
    let plain = jpeg(w, h, [30, 120, 200]);
    let body = b"Exif\0\0MM\0\x2A\0\0\0\x08\0\0\0\0\0\0GPSLatitude 51.5007N";
    let mut seg = vec![0xFF, 0xE1];
    seg.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    seg.extend_from_slice(body);
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&seg);
    out.extend_from_slice(&plain[2..]);
    out
}

/// Left half red, right half blue.
fn two_tone(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, _| {
        if x < w / 2 {
            image::Rgb([255, 0, 0])
        } else {
            image::Rgb([0, 0, 255])
        }
    });
    encode(image::DynamicImage::ImageRgb8(img), image::ImageFormat::Png)
}

impl TestApp {
    async fn upload_form(&self, form: Form, query: &str) -> Reply {
        send(
            self.admin(Method::POST, &format!("/media{query}"))
                .multipart(form),
        )
        .await
    }

    /// Uploads one file; returns the reply.
    async fn upload(&self, name: &str, bytes: Vec<u8>) -> Reply {
        let form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_owned()));
        self.upload_form(form, "").await
    }

    /// Uploads one file that must be accepted; returns the item.
    async fn uploaded(&self, name: &str, bytes: Vec<u8>) -> Value {
        let r = self.upload(name, bytes).await;
        assert!(r.status.is_success(), "{}: {}", r.status, r.text);
        r.json()["data"][0].clone()
    }

    async fn fetch(
        &self,
        url: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (Reply, Vec<u8>) {
        let mut req = self.client.get(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap().to_vec();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        (
            Reply {
                status,
                headers,
                text,
            },
            bytes,
        )
    }

    async fn media_total(&self) -> u64 {
        let (s, body) = self.admin_call(Method::GET, "/media").await;
        assert_eq!(s, StatusCode::OK, "{body}");
        body["meta"]["total"].as_u64().unwrap()
    }
}

#[tokio::test]
async fn an_upload_is_measured_cleaned_and_served_with_ranges_and_caching() {
    let app = TestApp::spawn().await;
    let item = app
        .uploaded("../../Holiday Photo.JPG", jpeg_with_location(400, 300))
        .await;
    assert_eq!(item["mime"], "image/jpeg");
    assert_eq!(
        item["filename"], "Holiday Photo.jpg",
        "directories are dropped"
    );
    assert_eq!(
        (item["width"].as_u64(), item["height"].as_u64()),
        (Some(400), Some(300))
    );
    assert!(
        item["placeholder"]
            .as_str()
            .unwrap()
            .starts_with("data:image/jpeg;base64,")
    );
    assert_eq!(item["sha256"].as_str().unwrap().len(), 64);
    let url = item["url"].as_str().unwrap().to_owned();
    assert!(url.ends_with("/Holiday%20Photo.jpg"), "{url}");

    // Not used by any published entry: only the library's readers get it.
    let (anon, _) = app.fetch(&url, None, &[]).await;
    assert_eq!(anon.status, StatusCode::NOT_FOUND);
    let (r, bytes) = app.fetch(&url, Some(&app.token), &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("image/jpeg"));
    assert!(r.header("cache-control").unwrap().starts_with("private"));
    assert!(
        r.header("content-disposition")
            .unwrap()
            .starts_with("inline; filename=\"Holiday Photo.jpg\"")
    );
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(bytes.len() as u64, item["size"].as_u64().unwrap());
    // The location is gone from what is served; the picture is intact.
    assert!(!bytes.windows(3).any(|w| w == b"GPS"));
    let back = image::load_from_memory(&bytes).unwrap();
    assert_eq!((back.width(), back.height()), (400, 300));

    // Ranges, conditional requests.
    let etag = r.header("etag").unwrap().to_owned();
    let (part, part_bytes) = app
        .fetch(&url, Some(&app.token), &[("range", "bytes=0-9")])
        .await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part_bytes, bytes[..10]);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 0-9/{}", bytes.len()).as_str())
    );
    let (tail, tail_bytes) = app
        .fetch(&url, Some(&app.token), &[("range", "bytes=-5")])
        .await;
    assert_eq!(tail.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(tail_bytes, bytes[bytes.len() - 5..]);
    let (past, _) = app
        .fetch(&url, Some(&app.token), &[("range", "bytes=999999999-")])
        .await;
    assert_eq!(past.status, StatusCode::RANGE_NOT_SATISFIABLE);
    let (same, _) = app
        .fetch(&url, Some(&app.token), &[("if-none-match", &etag)])
        .await;
    assert_eq!(same.status, StatusCode::NOT_MODIFIED);
    // Another name for the same id is not the file.
    let other = url.replace("Holiday%20Photo.jpg", "other.jpg");
    assert_eq!(
        app.fetch(&other, Some(&app.token), &[]).await.0.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn non_images_are_sandboxed_downloads_and_raw_uploads_work() {
    let app = TestApp::spawn().await;
    let pdf = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".to_vec();
    let r = send(
        app.admin(
            Method::POST,
            "/media?filename=report.pdf&alt=Quarterly%20report",
        )
        .body(pdf.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let item = r.json()["data"][0].clone();
    assert_eq!(item["mime"], "application/pdf");
    // The site has locales: text given plainly is in the default one.
    assert_eq!(item["alt"], json!({ "en": "Quarterly report" }));
    let csv = app.uploaded("numbers.csv", b"a,b\n1,2\n".to_vec()).await;
    let (r, bytes) = app
        .fetch(csv["url"].as_str().unwrap(), Some(&app.token), &[])
        .await;
    assert_eq!(bytes, b"a,b\n1,2\n");
    assert_eq!(r.header("content-type"), Some("text/csv"));
    assert!(
        r.header("content-disposition")
            .unwrap()
            .starts_with("attachment")
    );
    assert!(
        r.header("content-security-policy")
            .unwrap()
            .contains("sandbox")
    );
}

#[tokio::test]
async fn refused_uploads_leave_nothing_behind() {
    let app = TestApp::builder()
        .media(|m| m.max_file_mib = 1)
        .start()
        .await
        .unwrap();
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        // Larger than the limit.
        (
            "big.txt",
            vec![b'a'; 1024 * 1024 + 10],
            StatusCode::PAYLOAD_TOO_LARGE,
            "file_too_large",
        ),
        // A PNG called .jpg, and a page called .png.
        (
            "photo.jpg",
            two_tone(8, 8),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "extension_mismatch",
        ),
        (
            "cat.png",
            b"<!DOCTYPE html><html><script>alert(document.cookie)</script>".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "active_content",
        ),
        (
            "logo.svg",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "svg_not_accepted",
        ),
        (
            "empty.txt",
            Vec::new(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_file",
        ),
        (
            "blob.bin",
            vec![0, 1, 2, 3, 0, 0, 7],
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_type",
        ),
        // A PNG whose header claims 60000×60000 pixels (a decompression bomb's opening).
        (
            "bomb.png",
            bomb_png(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "image_too_large",
        ),
        // Truncated image data.
        (
            "broken.jpg",
            jpeg(50, 50, [1, 2, 3])[..200].to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_image",
        ),
    ];
    for (name, bytes, status, code) in cases {
        let r = app.upload(name, bytes).await;
        assert_error(r.status, &r.json(), status, code);
    }
    // One bad file of several: none is stored, and the answer names it.
    let form = Form::new()
        .part(
            "file",
            Part::bytes(jpeg(8, 8, [1, 2, 3])).file_name("fine.jpg"),
        )
        .part(
            "file",
            Part::bytes(b"<html><body>x".to_vec()).file_name("page.txt"),
        );
    let r = app.upload_form(form, "").await;
    let body = r.json();
    assert_error(
        r.status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "active_content",
    );
    assert!(
        body["message"].as_str().unwrap().starts_with("page.txt:"),
        "{body}"
    );
    assert_eq!(app.media_total().await, 0);
    let stored = app.dir.path().join("media");
    let files = walk(&stored);
    assert!(files.is_empty(), "nothing stored: {files:?}");
    let spool = walk(&app.dir.path().join("tmp"));
    assert!(spool.is_empty(), "nothing spooled: {spool:?}");
    // Form mistakes are named.
    let r = app
        .upload_form(Form::new().text("nothing", "here"), "")
        .await;
    assert_error(
        r.status,
        &r.json(),
        StatusCode::BAD_REQUEST,
        "invalid_upload",
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

fn bomb_png() -> Vec<u8> {
    let mut png = encode(
        image::DynamicImage::ImageRgb8(image::RgbImage::new(1, 1)),
        image::ImageFormat::Png,
    );
    png[16..20].copy_from_slice(&60_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&60_000u32.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[tokio::test]
async fn identical_bytes_are_stored_once_even_when_they_arrive_together() {
    let app = TestApp::spawn().await;
    let bytes = jpeg(64, 64, [9, 99, 199]);
    let (a, b, c) = tokio::join!(
        app.upload("a.jpg", bytes.clone()),
        app.upload("b.jpg", bytes.clone()),
        app.upload("c.jpg", bytes.clone()),
    );
    let ids: Vec<Value> = [&a, &b, &c]
        .iter()
        .map(|r| {
            assert!(r.status.is_success(), "{}", r.text);
            r.json()["data"][0]["id"].clone()
        })
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let duplicates = [&a, &b, &c]
        .iter()
        .filter(|r| r.json()["data"][0]["duplicate"] == true)
        .count();
    assert_eq!(duplicates, 2);
    assert_eq!(app.media_total().await, 1);
    let originals = walk(&app.dir.path().join("media/originals"));
    assert_eq!(originals.len(), 1, "{originals:?}");
}

#[tokio::test]
async fn transforms_are_sized_cropped_around_the_focal_point_and_stored_once() {
    let app = TestApp::builder()
        .media(|m| m.max_variants = 5)
        .start()
        .await
        .unwrap();
    let item = app.uploaded("tones.png", two_tone(200, 100)).await;
    let url = item["url"].as_str().unwrap().to_owned();
    let id = item["id"].as_str().unwrap().to_owned();
    let webp = url.replace("tones.png", "tones.webp");

    let (r, bytes) = app
        .fetch(
            &format!("{webp}?w=64&h=36&fit=cover"),
            Some(&app.token),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("image/webp"));
    let img = image::load_from_memory(&bytes).unwrap();
    assert_eq!((img.width(), img.height()), (64, 36));
    // The same variant again: the stored bytes.
    let (again, again_bytes) = app
        .fetch(
            &format!("{webp}?w=64&h=36&fit=cover"),
            Some(&app.token),
            &[],
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again_bytes, bytes);
    assert_eq!(walk(&app.dir.path().join("media/variants")).len(), 1);

    // AVIF by name, or chosen from Accept.
    let avif = url.replace("tones.png", "tones.avif");
    let (r, bytes) = app
        .fetch(&format!("{avif}?w=32"), Some(&app.token), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("image/avif"));
    assert_eq!(&bytes[4..12], b"ftypavif");
    let (r, _) = app
        .fetch(
            &format!("{url}?w=32&format=auto"),
            Some(&app.token),
            &[("accept", "image/webp,*/*")],
        )
        .await;
    assert_eq!(r.header("content-type"), Some("image/webp"));
    assert_eq!(r.header("vary"), Some("accept"));

    // A tall crop follows the focal point: on the right, blue; on the left, red.
    let colour = |bytes: &[u8]| {
        let img = image::load_from_memory(bytes).unwrap().to_rgb8();
        let p = img.get_pixel(img.width() / 2, img.height() / 2);
        (p[0], p[2])
    };
    let (s, _) = app
        .admin_json(
            Method::PATCH,
            &format!("/media/{id}"),
            json!({ "focal": { "x": 0.9, "y": 0.5 } }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, right) = app
        .fetch(&format!("{url}?w=20&h=40&fit=cover"), Some(&app.token), &[])
        .await;
    let (r, b) = colour(&right);
    assert!(b > 200 && r < 50, "blue on the right: {r} {b}");
    app.admin_json(
        Method::PATCH,
        &format!("/media/{id}"),
        json!({ "focal": { "x": 0.1, "y": 0.5 } }),
    )
    .await;
    let (_, left) = app
        .fetch(&format!("{url}?w=20&h=40&fit=cover"), Some(&app.token), &[])
        .await;
    let (r, b) = colour(&left);
    assert!(r > 200 && b < 50, "red on the left: {r} {b}");

    // Inside keeps the aspect ratio and never enlarges.
    let (_, inside) = app
        .fetch(
            &format!("{url}?w=1000&h=1000&fit=inside"),
            Some(&app.token),
            &[],
        )
        .await;
    let img = image::load_from_memory(&inside).unwrap();
    assert_eq!((img.width(), img.height()), (200, 100));

    // Absurd parameters are refused with the parameter named; one given twice is refused
    // as on every route.
    for (q, param, code) in [
        ("w=100000", "w", "invalid_transform"),
        ("w=0", "w", "invalid_transform"),
        ("h=-5", "h", "invalid_transform"),
        ("fit=stretch", "fit", "invalid_transform"),
        ("q=101", "q", "invalid_transform"),
        ("format=bmp", "format", "invalid_transform"),
        ("size=10", "size", "invalid_transform"),
        ("w=10&w=20", "w", "duplicate_parameter"),
    ] {
        let (r, _) = app
            .fetch(&format!("{url}?{q}"), Some(&app.token), &[])
            .await;
        let body = r.json();
        assert_error(r.status, &body, StatusCode::BAD_REQUEST, code);
        assert_eq!(body["param"], param, "{q}");
    }
    // Endless sizes stop at the cap; sizes already made are still served.
    let mut last = StatusCode::OK;
    for w in 30..40 {
        last = app
            .fetch(&format!("{url}?w={w}"), Some(&app.token), &[])
            .await
            .0
            .status;
    }
    assert_eq!(last, StatusCode::BAD_REQUEST);
    assert!(walk(&app.dir.path().join("media/variants")).len() <= 5);
    assert_eq!(
        app.fetch(&format!("{url}?w=20&h=40&fit=cover"), Some(&app.token), &[])
            .await
            .0
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn media_fields_check_populate_guard_deletion_and_open_to_the_public_when_published() {
    let app = TestApp::spawn().await;
    let photo = app
        .uploaded("cover.jpg", jpeg(120, 80, [200, 200, 0]))
        .await;
    let photo_id = photo["id"].as_str().unwrap().to_owned();
    let pdf = app.uploaded("doc.pdf", b"%PDF-1.4\n%%EOF\n".to_vec()).await;
    app.admin_json(
        Method::PATCH,
        &format!("/media/{photo_id}"),
        json!({ "alt": { "en": "A yellow field", "fr": "Un champ jaune" } }),
    )
    .await;

    // References are checked: unknown ids, and kinds the field does not take.
    let (s, body) = app
        .admin_json(
            Method::POST,
            "/content/article",
            json!({ "fields": { "title": { "en": "Bad cover" }, "cover": "01ARZ3NDEKTSV4RRFFQ69G5FAV" } }),
        )
        .await;
    assert_error(
        s,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(body["fields"]["fields.cover"]["code"], "media_not_found");
    let (s, body) = app
        .admin_json(
            Method::POST,
            "/content/article",
            json!({ "fields": { "title": { "en": "Bad cover" }, "cover": pdf["id"] } }),
        )
        .await;
    assert_error(
        s,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(body["fields"]["fields.cover"]["code"], "media_not_accepted");

    // A draft using the photo does not make it public.
    let article = app
        .create(
            "article",
            json!({ "title": { "en": "With a cover" }, "cover": photo_id }),
            false,
        )
        .await;
    let article_id = article["id"].as_str().unwrap().to_owned();
    let url = photo["url"].as_str().unwrap().to_owned();
    assert_eq!(
        app.fetch(&url, None, &[]).await.0.status,
        StatusCode::NOT_FOUND
    );
    let (s, usage) = app
        .admin_call(Method::GET, &format!("/media/{photo_id}/usage"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        usage["data"],
        json!([{ "type": "article", "id": article_id, "published": false }])
    );

    // Published: public, cached for good, and populated on delivery.
    let (s, body) = app
        .admin_call(
            Method::POST,
            &format!("/content/article/{article_id}/publish"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (r, _) = app.fetch(&url, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let (s, body) = app
        .get(&format!(
            "/api/v1/content/article/{article_id}?populate=cover&locale=fr"
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let cover = &body["data"]["fields"]["cover"];
    assert_eq!(cover["id"], photo_id.as_str());
    assert_eq!(cover["url"], url.as_str());
    assert_eq!(cover["mime"], "image/jpeg");
    assert_eq!(
        (cover["width"].as_u64(), cover["height"].as_u64()),
        (Some(120), Some(80))
    );
    assert_eq!(cover["alt"], "Un champ jaune");
    assert!(cover["placeholder"].as_str().unwrap().starts_with("data:"));
    assert!(cover.get("sha256").is_none() && cover.get("created_by").is_none());
    // A change to the item shows in the entries that populate it (no stale cached answer).
    app.admin_json(
        Method::PATCH,
        &format!("/media/{photo_id}"),
        json!({ "alt": { "en": "A yellow field", "fr": "Un champ de colza" } }),
    )
    .await;
    let (_, body) = app
        .get(&format!(
            "/api/v1/content/article/{article_id}?populate=cover&locale=fr"
        ))
        .await;
    assert_eq!(body["data"]["fields"]["cover"]["alt"], "Un champ de colza");

    // Deleting an item in use is refused with its users; forced, the references go first.
    let (s, body) = app
        .admin_call(Method::DELETE, &format!("/media/{photo_id}"))
        .await;
    assert_error(s, &body, StatusCode::CONFLICT, "media_in_use");
    assert_eq!(body["usage"][0]["id"], article_id.as_str());
    let (s, body) = app
        .admin_call(Method::DELETE, &format!("/media/{photo_id}?force=true"))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["entries_changed"], 1);
    let (_, entry) = app
        .admin_call(Method::GET, &format!("/content/article/{article_id}"))
        .await;
    assert!(entry["data"]["fields"]["cover"].is_null(), "{entry}");
    let (_, delivered) = app
        .get(&format!("/api/v1/content/article/{article_id}"))
        .await;
    assert!(
        delivered["data"]["fields"]["cover"].is_null(),
        "{delivered}"
    );
    assert_eq!(
        app.fetch(&url, Some(&app.token), &[]).await.0.status,
        StatusCode::NOT_FOUND
    );
    assert!(
        walk(&app.dir.path().join("media/originals")).len() == 1,
        "only the PDF is left"
    );
}

#[tokio::test]
async fn the_library_lists_searches_files_in_folders_and_checks_versions() {
    let app = TestApp::spawn().await;
    let (s, folder) = app
        .admin_json(Method::POST, "/media/folders", json!({ "name": "Blog" }))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{folder}");
    let folder_id = folder["data"]["id"].as_str().unwrap().to_owned();
    let (s, sub) = app
        .admin_json(
            Method::POST,
            "/media/folders",
            json!({ "name": "2026", "parent": folder_id }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sub}");
    let sub_id = sub["data"]["id"].as_str().unwrap().to_owned();
    let (s, body) = app
        .admin_json(Method::POST, "/media/folders", json!({ "name": "Blog" }))
        .await;
    assert_error(s, &body, StatusCode::CONFLICT, "folder_exists");
    let (s, body) = app
        .admin_json(
            Method::PATCH,
            &format!("/media/folders/{folder_id}"),
            json!({ "name": "Blog", "parent": sub_id }),
        )
        .await;
    assert_error(s, &body, StatusCode::BAD_REQUEST, "invalid_folder");
    for name in ["a/b", "back\\slash", "   "] {
        let (s, body) = app
            .admin_json(Method::POST, "/media/folders", json!({ "name": name }))
            .await;
        assert_error(
            s,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(body["fields"]["name"]["code"], "invalid", "{name}: {body}");
    }

    let form = Form::new()
        .text("folder", folder_id.clone())
        .text("alt", "Harbour at dawn")
        .part(
            "file",
            Part::bytes(jpeg(10, 10, [1, 1, 1])).file_name("harbour.jpg"),
        )
        .part(
            "file",
            Part::bytes(jpeg(10, 10, [2, 2, 2])).file_name("lighthouse.jpg"),
        );
    let r = app.upload_form(form, "").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 2);
    app.uploaded("notes.txt", b"plain notes".to_vec()).await;

    let list = |q: &str| {
        let q = q.to_owned();
        let app = &app;
        async move {
            let (s, body) = app.admin_call(Method::GET, &format!("/media?{q}")).await;
            assert_eq!(s, StatusCode::OK, "{body}");
            body
        }
    };
    assert_eq!(list("").await["meta"]["total"], 3);
    assert_eq!(
        list("q=HARBOUR").await["meta"]["total"],
        2,
        "name or alt text"
    );
    assert_eq!(list("q=lighthouse").await["meta"]["total"], 1);
    assert_eq!(list("type=image").await["meta"]["total"], 2);
    assert_eq!(list("type=text/plain").await["meta"]["total"], 1);
    let in_folder = list(&format!("folder={folder_id}")).await;
    assert_eq!(in_folder["meta"]["total"], 2);
    assert_eq!(list("folder=root").await["meta"]["total"], 1);
    let page2 = list("limit=2&page=2").await;
    assert_eq!(page2["data"].as_array().unwrap().len(), 1);
    let (s, body) = app.admin_call(Method::GET, "/media?limit=1000").await;
    assert_error(s, &body, StatusCode::BAD_REQUEST, "invalid_parameter");

    // A folder with media in it stays; metadata updates check versions.
    let (s, body) = app
        .admin_call(Method::DELETE, &format!("/media/folders/{folder_id}"))
        .await;
    assert_error(s, &body, StatusCode::CONFLICT, "folder_not_empty");
    let item = in_folder["data"][0].clone();
    let id = item["id"].as_str().unwrap();
    let (s, moved) = app
        .admin_json(
            Method::PATCH,
            &format!("/media/{id}"),
            json!({ "folder": null, "caption": "Moved", "version": 1 }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{moved}");
    assert_eq!(moved["data"]["folder"], Value::Null);
    assert_eq!(moved["data"]["version"], 2);
    let (s, body) = app
        .admin_json(
            Method::PATCH,
            &format!("/media/{id}"),
            json!({ "caption": "Stale", "version": 1 }),
        )
        .await;
    assert_error(s, &body, StatusCode::CONFLICT, "version_conflict");
    // If-Match is read as entries read it: a weak tag names the version, a malformed one or
    // one that disagrees with the body is refused, a stale one conflicts.
    let patch_with = |tag: &'static str, body: Value| {
        let app = &app;
        async move {
            let r = app
                .admin(Method::PATCH, &format!("/media/{id}"))
                .header("If-Match", tag)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, body) = patch_with("W/\"2\"", json!({ "caption": "Tagged" })).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["version"], 3);
    let (s, body) = patch_with("\"2\"", json!({ "caption": "Stale" })).await;
    assert_error(s, &body, StatusCode::CONFLICT, "version_conflict");
    let (s, body) = patch_with("three", json!({ "caption": "Bad" })).await;
    assert_error(s, &body, StatusCode::BAD_REQUEST, "invalid_if_match");
    let (s, body) = patch_with("\"3\"", json!({ "caption": "Bad", "version": 2 })).await;
    assert_error(
        s,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "version_mismatch",
    );
    // A focal point off the image names its coordinate.
    let (s, body) = app
        .admin_json(
            Method::PATCH,
            &format!("/media/{id}"),
            json!({ "focal": { "x": 2, "y": 0.5 } }),
        )
        .await;
    assert_error(
        s,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(body["fields"]["focal.x"]["code"], "invalid", "{body}");
    for bad in [
        json!({ "focal": { "x": 0.5 } }),
        json!({ "alt": 5 }),
        json!({ "alt": { "de": "Hafen" } }),
        json!({ "sha256": "x" }),
    ] {
        let (s, body) = app
            .admin_json(Method::PATCH, &format!("/media/{id}"), bad.clone())
            .await;
        assert!(s == StatusCode::BAD_REQUEST, "{bad}: {s} {body}");
    }
}

#[tokio::test]
async fn roles_decide_who_uploads_and_who_deletes() {
    let app = TestApp::spawn().await;
    let (_, viewer) = app.user_with_role("viewer").await;
    let (_, author) = app.user_with_role("author").await;
    let form = || Form::new().part("file", Part::bytes(b"words".to_vec()).file_name("a.txt"));
    let r = send(
        app.client
            .post(app.url("/admin/api/v1/media"))
            .bearer_auth(&viewer)
            .multipart(form()),
    )
    .await;
    assert_error(r.status, &r.json(), StatusCode::FORBIDDEN, "forbidden");
    let r = send(
        app.client
            .post(app.url("/admin/api/v1/media"))
            .bearer_auth(&author)
            .multipart(form()),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let admins = app.uploaded("b.txt", b"other words".to_vec()).await;
    // An author sees the library but changes only their own uploads.
    let (s, _) = app.call_as(&author, Method::GET, "/media", None).await;
    assert_eq!(s, StatusCode::OK);
    let path = format!("/media/{}", admins["id"].as_str().unwrap());
    let (s, _) = app.call_as(&author, Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call_as(&author, Method::PATCH, &path, Some(json!({ "alt": "x" })))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let r = send(
        app.client
            .post(app.url("/admin/api/v1/media?filename=x.txt"))
            .body("x"),
    )
    .await;
    assert_error(
        r.status,
        &r.json(),
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
}

#[tokio::test]
async fn an_s3_compatible_store_holds_the_bytes() {
    let s3_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(s3_dir.path().join("media")).unwrap();
    let fs = s3s_fs::FileSystem::new(s3_dir.path()).unwrap();
    let service = {
        let mut b = s3s::service::S3ServiceBuilder::new(fs);
        b.set_auth(s3s::auth::SimpleAuth::from_single(
            "test-key",
            "test-secret",
        ));
        b.build()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let http =
            hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
        while let Ok((socket, _)) = listener.accept().await {
            let conn = http
                .serve_connection(hyper_util::rt::TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    });
    let app = TestApp::builder()
        .media(|m| {
            m.store = Some("s3://media/site-a".into());
            m.s3_endpoint = Some(format!("http://{addr}"));
            m.s3_access_key_id = Some("test-key".into());
            m.s3_secret_access_key = Some("test-secret".into());
        })
        .start()
        .await
        .unwrap();
    // Larger than one multipart part (10 MiB), so the upload goes in parts.
    let mut big = b"col\n".to_vec();
    while big.len() < 11 * 1024 * 1024 {
        big.extend_from_slice(b"0123456789abcdef0123456789abcdef\n");
    }
    let item = app.uploaded("big.csv", big.clone()).await;
    let photo = app.uploaded("p.jpg", jpeg(40, 30, [5, 5, 5])).await;
    let in_bucket = walk(&s3_dir.path().join("media/site-a/originals"));
    assert_eq!(in_bucket.len(), 2, "{in_bucket:?}");
    let url = item["url"].as_str().unwrap();
    let (r, bytes) = app.fetch(url, Some(&app.token), &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(bytes, big);
    let (r, part) = app
        .fetch(url, Some(&app.token), &[("range", "bytes=100-199")])
        .await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part, big[100..200]);
    let (r, small) = app
        .fetch(
            &format!("{}?w=20", photo["url"].as_str().unwrap()),
            Some(&app.token),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(image::load_from_memory(&small).unwrap().width(), 20);
    for it in [&item, &photo] {
        let (s, body) = app
            .admin_call(
                Method::DELETE,
                &format!("/media/{}", it["id"].as_str().unwrap()),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    let left: Vec<_> = walk(&s3_dir.path().join("media/site-a"))
        .into_iter()
        .filter(|p| !p.to_string_lossy().contains(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    server.abort();
}

/// A type with relations and media inside groups, repeaters and locales.
pub(crate) const PAGE: &str = r#"
id = "page"
name = "Page"
drafts = true
locales = ["en", "fr"]

[access]
read = ["public"]

[[fields]]
name = "title"
type = "text"

[[fields]]
name = "related"
type = "relation"
target = "page"
localized = true

[[fields]]
name = "parent"
type = "relation"
target = "page"

[[fields]]
name = "hero"
type = "group"

  [[fields.fields]]
  name = "image"
  type = "media"
  accept = ["image/*"]

[[fields]]
name = "blocks"
type = "repeater"

  [[fields.fields]]
  name = "link"
  type = "relation"
  target = "page"

  [[fields.fields]]
  name = "gallery"
  type = "media"
  many = true
"#;

/// The example types plus `page` (references in groups, repeaters and locales).
pub(crate) async fn with_pages() -> (TestApp, tempfile::TempDir) {
    let types = tempfile::tempdir().unwrap();
    crate::harness::copy_dir(&crate::harness::example_types(), types.path());
    std::fs::write(types.path().join("page.toml"), PAGE).unwrap();
    let app = TestApp::builder()
        .types(types.path())
        .start()
        .await
        .unwrap();
    (app, types)
}

#[tokio::test]
async fn references_at_any_depth_are_checked_and_tracked() {
    let (app, _types) = with_pages().await;
    let photo = app.uploaded("p.jpg", jpeg(16, 16, [3, 3, 3])).await;
    let doc = app.uploaded("d.pdf", b"%PDF-1.4\n%%EOF\n".to_vec()).await;
    let first = app.create("page", json!({ "title": "First" }), true).await;
    let missing = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    let (s, body) = app
        .admin_json(
            Method::POST,
            "/content/page",
            json!({ "fields": {
                "related": { "en": first["id"], "fr": missing },
                "hero": { "image": doc["id"] },
                "blocks": [
                    { "link": first["id"], "gallery": [photo["id"], missing] },
                    { "link": missing }
                ]
            } }),
        )
        .await;
    assert_error(
        s,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let fields = body["fields"].as_object().unwrap();
    let mut paths: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v["code"].as_str().unwrap()))
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        vec![
            ("fields.blocks[0].gallery[1]", "media_not_found"),
            ("fields.blocks[1].link", "relation_not_found"),
            ("fields.hero.image", "media_not_accepted"),
            ("fields.related.fr", "relation_not_found"),
        ],
        "{body}"
    );
    // Valid nested references are stored, and their media use is tracked.
    let page = app
        .create(
            "page",
            json!({ "hero": { "image": photo["id"] }, "blocks": [{ "gallery": [doc["id"]] }] }),
            true,
        )
        .await;
    for item in [&photo, &doc] {
        let (_, usage) = app
            .admin_call(
                Method::GET,
                &format!("/media/{}/usage", item["id"].as_str().unwrap()),
            )
            .await;
        assert_eq!(usage["data"][0]["id"], page["id"], "{usage}");
        assert_eq!(usage["data"][0]["published"], true);
    }
    // Forced deletion takes the item out of the repeater.
    let (s, _) = app
        .admin_call(
            Method::DELETE,
            &format!("/media/{}?force=true", doc["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, entry) = app
        .admin_call(
            Method::GET,
            &format!("/content/page/{}", page["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(entry["data"]["fields"]["blocks"][0]["gallery"], json!([]));
    assert_eq!(entry["data"]["fields"]["hero"]["image"], photo["id"]);
}

/// Nothing of an upload stays in the spool directory once it is answered, whatever its kind
/// (a GIF, which has no metadata to strip, used to leave a copy there until restart).
#[tokio::test]
async fn uploads_leave_nothing_in_the_spool() {
    let app = TestApp::spawn().await;
    let gif = encode(
        image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(8, 8, image::Rgb([1, 2, 3]))),
        image::ImageFormat::Gif,
    );
    let png = two_tone(16, 8);
    app.uploaded("a.gif", gif).await;
    app.uploaded("b.jpg", jpeg_with_location(16, 16)).await;
    app.uploaded("c.png", png).await;
    let r = app
        .upload("d.png", b"\x89PNG\r\n\x1a\nbroken".to_vec())
        .await;
    assert!(r.status.is_client_error(), "{}", r.text);
    let spool = app.dir.path().join("tmp").join("uploads");
    let left: Vec<String> = std::fs::read_dir(&spool)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "left in the spool: {left:?}");
}

/// Image work shares a memory budget: with the smallest one allowed, an image whose decoding
/// needs more than all of it still uploads (it waits for the whole budget and runs alone),
/// and several variants asked for at once are all made, with the size asked.
#[tokio::test]
async fn image_work_fits_a_small_memory_budget() {
    let app = TestApp::builder()
        .media(|m| m.image_memory_mib = 16)
        .start()
        .await
        .unwrap();
    let item = app
        .uploaded("wide.jpg", jpeg(2400, 1800, [90, 160, 30]))
        .await;
    assert_eq!(
        (item["width"].as_u64(), item["height"].as_u64()),
        (Some(2400), Some(1800))
    );
    assert!(
        item["placeholder"]
            .as_str()
            .is_some_and(|p| p.starts_with("data:image/"))
    );
    let url = item["url"].as_str().unwrap().to_owned();
    let sizes = [
        (640, None),
        (300, Some(300)),
        (1200, Some(200)),
        (2400, None),
    ];
    let urls: Vec<String> = sizes
        .iter()
        .map(|(w, h)| match h {
            Some(h) => format!("{url}?w={w}&h={h}&fit=cover&format=png"),
            None => format!("{url}?w={w}&format=png"),
        })
        .collect();
    let replies =
        futures::future::join_all(urls.iter().map(|u| app.fetch(u, Some(&app.token), &[]))).await;
    for ((w, h), (reply, bytes)) in sizes.iter().zip(replies) {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!(img.width(), *w);
        assert_eq!(img.height(), h.unwrap_or(w * 3 / 4));
    }
}

#[tokio::test]
async fn uploads_changes_and_deletes_are_change_events() {
    let app = TestApp::spawn().await;
    let item = app.uploaded("note.txt", b"plain words".to_vec()).await;
    let id = item["id"].as_str().unwrap().to_owned();
    let (s, _) = app
        .admin_json(
            Method::PATCH,
            &format!("/media/{id}"),
            json!({ "alt": { "en": "A note" } }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .admin_call(Method::DELETE, &format!("/media/{id}"))
        .await;
    assert!(s.is_success(), "{s}");
    let (_, page) = app
        .admin_call(Method::GET, &format!("/events?kind=media&subject={id}"))
        .await;
    let seen: Vec<(String, Value, Value)> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["version"].clone(),
                e["changed"].clone(),
            )
        })
        .collect();
    assert_eq!(seen.len(), 3, "{page}");
    assert_eq!(seen[0].0, "media.created");
    assert_eq!(seen[0].1, 1);
    assert_eq!(
        (seen[1].0.as_str(), &seen[1].1, &seen[1].2),
        ("media.updated", &json!(2), &json!(["alt"]))
    );
    assert_eq!(
        (seen[2].0.as_str(), &seen[2].1),
        ("media.deleted", &Value::Null)
    );
    assert!(page["data"][0]["type"].is_null(), "media are not entries");
}

#[tokio::test]
async fn folders_made_renamed_and_removed_are_change_events() {
    let app = TestApp::spawn().await;
    let (s, made) = app
        .admin_json(Method::POST, "/media/folders", json!({ "name": "Press" }))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    let id = made["data"]["id"].as_str().unwrap().to_owned();
    let (s, _) = app
        .admin_json(
            Method::PATCH,
            &format!("/media/folders/{id}"),
            json!({ "name": "Press kit" }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .admin_call(Method::DELETE, &format!("/media/folders/{id}"))
        .await;
    assert!(s.is_success(), "{s}");
    let (_, page) = app
        .admin_call(Method::GET, &format!("/events?kind=folder&subject={id}"))
        .await;
    let seen: Vec<(&str, Value)> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["changed"].clone()))
        .collect();
    assert_eq!(
        seen,
        [
            ("folder.created", json!(["name"])),
            ("folder.updated", json!(["name"])),
            ("folder.deleted", json!([])),
        ],
        "{page}"
    );
}
