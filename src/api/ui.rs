//! `/admin/`: the admin web UI, built from `admin-ui/` by `build.rs` and embedded in the
//! binary. Files under `assets/` have content hashes in their names and are cached for good;
//! every other path is a page of the single-page app and gets `index.html` (never cached), so
//! reloads and deep links work.

use poem::http::{StatusCode, header};
use poem::{Request, Response, handler};

#[derive(rust_embed::Embed)]
#[folder = "$OUT_DIR/admin-ui"]
struct Assets;

/// The policy for UI pages: scripts, styles and API calls from this origin only; images
/// also as `data:` (placeholders) and `blob:` (upload previews).
pub const UI_CSP: &str = "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
     script-src 'self'; style-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

#[handler]
pub fn ui(req: &Request) -> Response {
    let path = req.uri().path();
    let rel = path
        .strip_prefix("/admin")
        .unwrap_or(path)
        .trim_start_matches('/');
    if let Some(file) = (!rel.is_empty()).then(|| Assets::get(rel)).flatten() {
        let immutable = rel.starts_with("assets/");
        return file_response(file, immutable);
    }
    let last = rel.rsplit('/').next().unwrap_or_default();
    if rel.starts_with("assets/") || last.contains('.') {
        // A missing file is not a page.
        return not_found();
    }
    match Assets::get("index.html") {
        Some(index) => file_response(index, false),
        None => not_found(),
    }
}

fn file_response(file: rust_embed::EmbeddedFile, immutable: bool) -> Response {
    let hash: String = file.metadata.sha256_hash()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Response::builder()
        .status(StatusCode::OK)
        .content_type(file.metadata.mimetype())
        .header(header::ETAG, format!("\"{hash}\""))
        .header(
            header::CACHE_CONTROL,
            if immutable {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            },
        )
        .body(file.data.into_owned())
}

fn not_found() -> Response {
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .content_type("application/json")
        .body(
            serde_json::json!({ "code": crate::error::code::ROUTE_NOT_FOUND.name, "message": "no such route" })
                .to_string(),
        )
}
