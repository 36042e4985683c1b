//! What a file really is, from its first bytes, and what it may be called.
//!
//! The extension and the `Content-Type` a client sends are claims; the bytes decide. A file
//! whose bytes are HTML (or anything a browser would run) is refused whatever it is called,
//! and a file whose extension names another kind of file than its bytes is refused too, so a
//! `.png` is always a PNG. Filenames are reduced to a safe, readable form: no directories, no
//! control characters, no leading dots.

/// A kind of file Folio recognises by its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub mime: &'static str,
    /// Extensions that name this kind; the first is the canonical one.
    pub extensions: &'static [&'static str],
}

impl Kind {
    pub fn is_image(&self) -> bool {
        self.mime.starts_with("image/")
    }

    /// Whether the image decoder reads this kind (SVG is not raster).
    pub fn is_raster(&self) -> bool {
        matches!(
            self.mime,
            "image/jpeg" | "image/png" | "image/gif" | "image/webp"
        )
    }
}

const fn kind(mime: &'static str, extensions: &'static [&'static str]) -> Kind {
    Kind { mime, extensions }
}

pub const JPEG: Kind = kind("image/jpeg", &["jpg", "jpeg", "jfif"]);
pub const PNG: Kind = kind("image/png", &["png"]);
pub const GIF: Kind = kind("image/gif", &["gif"]);
pub const WEBP: Kind = kind("image/webp", &["webp"]);
pub const AVIF: Kind = kind("image/avif", &["avif"]);
pub const SVG: Kind = kind("image/svg+xml", &["svg"]);
pub const PDF: Kind = kind("application/pdf", &["pdf"]);
pub const ZIP: Kind = kind(
    "application/zip",
    &["zip", "docx", "xlsx", "pptx", "odt", "ods", "odp", "epub"],
);
pub const MP4: Kind = kind("video/mp4", &["mp4", "m4v", "mov"]);
pub const WEBM: Kind = kind("video/webm", &["webm", "mkv"]);
pub const MP3: Kind = kind("audio/mpeg", &["mp3"]);
pub const OGG: Kind = kind("audio/ogg", &["ogg", "oga", "opus"]);
pub const WAV: Kind = kind("audio/wav", &["wav"]);
pub const M4A: Kind = kind("audio/mp4", &["m4a"]);
pub const TEXT: Kind = kind("text/plain", &["txt", "md", "log"]);
pub const CSV: Kind = kind("text/csv", &["csv"]);
pub const JSON: Kind = kind("application/json", &["json"]);

const ALL: &[Kind] = &[
    JPEG, PNG, GIF, WEBP, AVIF, SVG, PDF, ZIP, MP4, WEBM, MP3, OGG, WAV, M4A, TEXT, CSV, JSON,
];

/// The kind stored under `mime` (an item's record names its kind by MIME type).
pub fn kind_of_mime(mime: &str) -> Kind {
    ALL.iter()
        .copied()
        .find(|k| k.mime == mime)
        .unwrap_or(kind("application/octet-stream", &["bin"]))
}

/// Why a file is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Markup a browser would render and run (HTML, XML with scripts).
    Active,
    /// The bytes are no kind Folio knows.
    Unknown,
    /// The extension names another kind than the bytes are.
    ExtensionMismatch { detected: &'static str },
}

/// How many leading bytes [`detect`] looks at.
pub const SNIFF_LEN: usize = 4096;

/// The kind of a file from its first bytes (up to [`SNIFF_LEN`]) and its extension, which
/// only picks between kinds the bytes cannot tell apart (text formats, zip-based documents).
pub fn detect(head: &[u8], extension: &str) -> Result<Kind, Refusal> {
    let ext = extension.to_ascii_lowercase();
    let found = match by_magic(head) {
        Some(found) => found,
        None => by_text(head, &ext).map_err(|()| Refusal::Active)?,
    };
    match found {
        Some(kind) => {
            if ext.is_empty() || kind.extensions.contains(&ext.as_str()) {
                Ok(kind)
            } else {
                Err(Refusal::ExtensionMismatch {
                    detected: kind.mime,
                })
            }
        }
        None => Err(Refusal::Unknown),
    }
}

/// Binary formats by their signature.
fn by_magic(b: &[u8]) -> Option<Option<Kind>> {
    let starts = |sig: &[u8]| b.starts_with(sig);
    let kind = if starts(&[0xFF, 0xD8, 0xFF]) {
        JPEG
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        PNG
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        GIF
    } else if starts(b"RIFF") && b.get(8..12) == Some(b"WEBP") {
        WEBP
    } else if starts(b"RIFF") && b.get(8..12) == Some(b"WAVE") {
        WAV
    } else if b.get(4..8) == Some(b"ftyp") {
        match b.get(8..12) {
            Some(b"avif") | Some(b"avis") => AVIF,
            Some(b"M4A ") | Some(b"M4B ") => M4A,
            Some(b"heic") | Some(b"heix") | Some(b"mif1") => return Some(None),
            _ => MP4,
        }
    } else if starts(b"%PDF-") {
        PDF
    } else if starts(b"PK\x03\x04") {
        ZIP
    } else if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
        WEBM
    } else if starts(b"ID3") || (b.len() > 1 && b[0] == 0xFF && b[1] & 0xE0 == 0xE0) {
        MP3
    } else if starts(b"OggS") {
        OGG
    } else {
        return None;
    };
    Some(Some(kind))
}

/// Text formats: UTF-8 without control bytes. Markup that a browser would run is refused
/// (`Err`); SVG is recognised (and refused or allowed by the caller's list).
fn by_text(b: &[u8], ext: &str) -> Result<Option<Kind>, ()> {
    // A multi-byte character may be cut at the end of the sniffed head.
    let text = match std::str::from_utf8(b) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return Ok(None),
    };
    let text = text.trim_start_matches('\u{feff}');
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}'))
    {
        return Ok(None);
    }
    let lower = text.trim_start().to_ascii_lowercase();
    if lower.contains("<svg") && (lower.starts_with('<') || lower.starts_with("<?xml")) {
        return Ok(Some(SVG));
    }
    const ACTIVE: &[&str] = &[
        "<!doctype html",
        "<html",
        "<head",
        "<body",
        "<script",
        "<iframe",
        "<object",
        "<embed",
        "<meta",
        "<style",
        "<link",
        "<?xml",
        "<!--",
        "<a ",
        "<img",
        "<div",
        "<title",
        "<form",
        "<table",
        "<br",
        "<p>",
        "<h1",
        "<font",
        "<b>",
    ];
    // Browsers sniff HTML from tags in the first bytes; refusing those tags anywhere in the
    // head keeps any text file from being rendered as a page by a lax client.
    if ACTIVE.iter().any(|tag| lower.contains(tag)) {
        return Err(());
    }
    let kind = match ext {
        "csv" => CSV,
        "json" => JSON,
        _ => TEXT,
    };
    Ok(Some(kind))
}

/// Whether `mime` matches one of `patterns` (`image/*`, `application/pdf`, `*/*`).
pub fn mime_matches(mime: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| {
        p == "*/*"
            || p == mime
            || p.strip_suffix("/*")
                .is_some_and(|top| mime.split('/').next() == Some(top))
    })
}

/// A filename safe to store and to send back in `Content-Disposition`: the last path
/// segment, control characters, quotes and slashes removed, at most 120 characters, never
/// empty or hidden. The extension is the detected kind's when the name has none.
pub fn clean_filename(raw: &str, kind: &Kind) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut name: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>' | ':' | '|' | '?' | '*'))
        .collect();
    name = name.trim().trim_start_matches('.').trim().to_owned();
    let (stem, ext) = split_extension(&name);
    let ext = if kind.extensions.contains(&ext.to_ascii_lowercase().as_str()) {
        ext.to_ascii_lowercase()
    } else {
        kind.extensions[0].to_owned()
    };
    let mut stem: String = stem.chars().take(100).collect();
    if stem.trim().is_empty() {
        stem = "file".into();
    }
    format!("{}.{ext}", stem.trim_end())
}

/// `("photo", "jpg")` for `photo.jpg`; a name without a dot has no extension.
pub fn split_extension(name: &str) -> (&str, &str) {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, ext),
        _ => (name, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_decide_the_kind() {
        assert_eq!(detect(b"\xFF\xD8\xFF\xE0rest", "jpg"), Ok(JPEG));
        assert_eq!(detect(b"\x89PNG\r\n\x1a\nxxxx", "PNG"), Ok(PNG));
        assert_eq!(detect(b"RIFF\0\0\0\0WEBPVP8 ", "webp"), Ok(WEBP));
        assert_eq!(detect(b"%PDF-1.7\n", ""), Ok(PDF));
        assert_eq!(detect(b"\0\0\0\x20ftypavif", "avif"), Ok(AVIF));
        assert_eq!(detect(b"PK\x03\x04....", "docx"), Ok(ZIP));
    }

    #[test]
    fn a_lying_extension_is_refused() {
        assert_eq!(
            detect(b"\x89PNG\r\n\x1a\n", "jpg"),
            Err(Refusal::ExtensionMismatch {
                detected: "image/png"
            })
        );
        assert_eq!(
            detect(b"hello, plain words", "png"),
            Err(Refusal::ExtensionMismatch {
                detected: "text/plain"
            })
        );
    }

    #[test]
    fn markup_is_refused_whatever_it_is_called() {
        for body in [
            &b"<!DOCTYPE html><html><script>alert(1)</script>"[..],
            b"  <html><body>hi",
            b"just text then <script>x</script>",
            b"\xEF\xBB\xBF<iframe src=x>",
        ] {
            for ext in ["png", "txt", "html", ""] {
                assert_eq!(detect(body, ext), Err(Refusal::Active), "{body:?} {ext}");
            }
        }
        assert_eq!(
            detect(b"<?xml version=\"1.0\"?><svg xmlns=\"...\">", "svg"),
            Ok(SVG)
        );
    }

    #[test]
    fn text_kinds_follow_the_extension() {
        assert_eq!(detect(b"a,b\n1,2\n", "csv"), Ok(CSV));
        assert_eq!(detect(b"{\"a\": 1}", "json"), Ok(JSON));
        assert_eq!(detect("déjà vu".as_bytes(), "txt"), Ok(TEXT));
        // Cut in the middle of a character by the sniff window: still text.
        assert_eq!(detect(&"é".as_bytes()[..1], "txt"), Ok(TEXT));
        assert_eq!(detect(b"\x00\x01\x02binary", "bin"), Err(Refusal::Unknown));
    }

    #[test]
    fn filenames_lose_their_directories_and_tricks() {
        assert_eq!(clean_filename("../../etc/passwd.png", &PNG), "passwd.png");
        assert_eq!(clean_filename("C:\\x\\a\"b.JPG", &JPEG), "ab.jpg");
        assert_eq!(clean_filename(".htaccess", &TEXT), "htaccess.txt");
        assert_eq!(clean_filename("", &PDF), "file.pdf");
        assert_eq!(clean_filename("photo", &WEBP), "photo.webp");
        assert_eq!(clean_filename("a\u{0}b\nc.png", &PNG), "abc.png");
        assert!(clean_filename(&"x".repeat(500), &PNG).len() <= 110);
    }

    #[test]
    fn mime_patterns() {
        let p = vec!["image/*".to_owned(), "application/pdf".to_owned()];
        assert!(mime_matches("image/png", &p));
        assert!(mime_matches("application/pdf", &p));
        assert!(!mime_matches("video/mp4", &p));
        assert!(mime_matches("video/mp4", &["*/*".to_owned()]));
    }
}
