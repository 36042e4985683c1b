//! Pixels: reading an image's size without decoding it, the small placeholder shown while
//! the real image loads, removing metadata (EXIF location and the like) from served files,
//! and the resizes and crops behind `/media/{id}/{name}?w=&h=&fit=`.
//!
//! Everything here is blocking and CPU-bound: callers run it on the blocking pool, behind
//! the transform semaphore. Every decode has limits (dimensions from the header are checked
//! before pixels are allocated), so a small file claiming huge dimensions is refused instead
//! of exhausting memory.

use std::io::{BufReader, Cursor, Read, Seek, SeekFrom, Write};

use base64::Engine;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

use super::sniff::{self, Kind};
use crate::error::{Error, Result, code};

/// What an upload's pixels say about it.
#[derive(Debug, Clone)]
pub struct Probe {
    /// As displayed (after the EXIF orientation).
    pub width: u32,
    pub height: u32,
    /// A tiny JPEG or PNG (as a `data:` URI) to show while the image loads.
    pub placeholder: Option<String>,
}

fn limits(max_pixels: u64) -> Limits {
    let mut l = Limits::default();
    // Room for the decoded pixels (up to 4 bytes each, plus the decoder's own buffers).
    l.max_alloc = Some(max_pixels.saturating_mul(5).max(64 << 20));
    l
}

fn too_large(w: u32, h: u32, max_pixels: u64) -> Error {
    Error::UnsupportedMedia {
        code: code::IMAGE_TOO_LARGE,
        message: format!("the image is {w}×{h} pixels; at most {max_pixels} pixels are accepted"),
    }
}

/// A decoder's refusal: over the limits is "too large", anything else "invalid".
fn decode_error(e: image::ImageError) -> Error {
    match e {
        image::ImageError::Limits(_) => Error::UnsupportedMedia {
            code: code::IMAGE_TOO_LARGE,
            message: "the image's dimensions are larger than this server accepts".into(),
        },
        _ => undecodable(),
    }
}

fn undecodable() -> Error {
    Error::UnsupportedMedia {
        code: code::INVALID_IMAGE,
        message: "the image could not be read: the file is damaged or not what it claims".into(),
    }
}

/// What an image's header says, read without decoding its pixels.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    /// As stored (before the EXIF orientation).
    pub width: u32,
    pub height: u32,
    pub orientation: Orientation,
    jpeg: bool,
    /// A progressive JPEG: its decoder keeps every coefficient of the image while it reads.
    progressive: bool,
}

impl Header {
    /// Width and height as displayed (after the orientation).
    pub fn displayed(&self) -> (u32, u32) {
        if self.swaps_axes() {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }

    fn swaps_axes(&self) -> bool {
        matches!(
            self.orientation,
            Orientation::Rotate90
                | Orientation::Rotate270
                | Orientation::Rotate90FlipH
                | Orientation::Rotate270FlipH
        )
    }

    /// `needed` (display pixels) as stored pixels, never more than the image.
    fn stored(&self, needed: (u32, u32)) -> (u32, u32) {
        let (w, h) = if self.swaps_axes() {
            (needed.1, needed.0)
        } else {
            needed
        };
        (w.clamp(1, self.width), h.clamp(1, self.height))
    }

    /// What a decode for `needed` should give, in stored pixels: twice `needed` for the
    /// resampling filter, never more than the image; the whole image for `None`.
    fn wanted(&self, needed: Option<(u32, u32)>) -> (u32, u32) {
        match needed {
            None => (self.width, self.height),
            Some((w, h)) => self.stored((w.saturating_mul(2), h.saturating_mul(2))),
        }
    }

    /// The reduction a JPEG is decoded at for `needed`: the largest of 8, 4, 2 that gives
    /// twice `needed` both ways, or else `needed` itself (the DCT's reduction is a good
    /// filter of its own, so a large output need not have the whole image decoded).
    fn jpeg_factor(&self, needed: Option<(u32, u32)>) -> u32 {
        let Some(needed) = needed else {
            return 1;
        };
        let fits = |(w, h): (u32, u32)| {
            [8, 4, 2]
                .into_iter()
                .find(|f| self.width / f >= w && self.height / f >= h)
        };
        fits(self.wanted(Some(needed)))
            .or_else(|| fits(self.stored(needed)))
            .unwrap_or(1)
    }

    /// Bytes a decode for `needed` (display pixels; `None`: the whole image) and the work on
    /// it hold at their peak, generously: the decoded pixels (4 bytes each) and one copy of
    /// them (a crop, a turn), a progressive JPEG's coefficients, the resize's scratch, and
    /// the output twice over (its pixels and their encoding).
    pub fn decode_cost(&self, needed: Option<(u32, u32)>) -> u64 {
        let full = u64::from(self.width) * u64::from(self.height);
        let decoded = if self.jpeg {
            let f = u64::from(self.jpeg_factor(needed));
            full / (f * f)
        } else {
            full
        };
        let out = needed.map_or(full, |(w, h)| u64::from(w) * u64::from(h));
        let mut cost = decoded * 4 * 2 + out * 4 * 2 + RESIZE_SCRATCH + (4 << 20);
        if self.progressive {
            cost += full * 6;
        }
        cost
    }
}

/// Reads the size and orientation from the header (`open` gives the bytes from the start,
/// as often as asked) and refuses images over `max_pixels`, before any pixel is decoded.
pub fn read_header<R: Read + Seek>(
    open: &dyn Fn() -> std::io::Result<R>,
    kind: &Kind,
    max_pixels: u64,
) -> Result<Header> {
    let jpeg = kind.mime == "image/jpeg";
    // A JPEG's header is read by the decoder that may decode it reduced (which also says
    // whether it is progressive); `image`'s own would first copy the whole file into memory.
    let (width, height, orientation, progressive) = if jpeg {
        let mut d = jpeg_decoder::Decoder::new(BufReader::new(open()?));
        d.read_info().map_err(|_| undecodable())?;
        let info = d.info().ok_or_else(undecodable)?;
        let orientation = d
            .exif_data()
            .and_then(Orientation::from_exif_chunk)
            .unwrap_or(Orientation::NoTransforms);
        (
            u32::from(info.width),
            u32::from(info.height),
            orientation,
            info.coding_process == jpeg_decoder::CodingProcess::DctProgressive,
        )
    } else {
        let mut decoder = reader(open()?, kind, max_pixels)?
            .into_decoder()
            .map_err(decode_error)?;
        let (w, h) = decoder.dimensions();
        let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
        (w, h, orientation, false)
    };
    if u64::from(width) * u64::from(height) > max_pixels || width == 0 || height == 0 {
        return Err(too_large(width, height, max_pixels));
    }
    Ok(Header {
        width,
        height,
        orientation,
        jpeg,
        progressive,
    })
}

/// Measures an upload and makes its placeholder, decoding no more than the placeholder needs
/// where the codec allows (a JPEG at an eighth of its size).
pub fn probe<R: Read + Seek>(
    open: &dyn Fn() -> std::io::Result<R>,
    header: &Header,
    kind: &Kind,
    max_pixels: u64,
) -> Result<Probe> {
    let img = decode_at_least(open, header, kind, max_pixels, Some(PLACEHOLDER_NEEDS))?;
    let (width, height) = header.displayed();
    Ok(Probe {
        width,
        height,
        placeholder: placeholder(&img),
    })
}

/// What the placeholder is made from (it is 16 pixels wide).
pub const PLACEHOLDER_NEEDS: (u32, u32) = (32, 32);

fn reader<R: Read + Seek>(
    bytes: R,
    kind: &Kind,
    max_pixels: u64,
) -> Result<ImageReader<BufReader<R>>> {
    let format = image::ImageFormat::from_mime_type(kind.mime).ok_or_else(undecodable)?;
    let mut reader = ImageReader::with_format(BufReader::new(bytes), format);
    reader.limits(limits(max_pixels));
    Ok(reader)
}

/// Decodes an image with its orientation applied, at no less than `needed` display pixels
/// each way (twice that where the image has it, for the resampling filter), or whole for
/// `None`. A JPEG is decoded at 1/2, 1/4 or 1/8 of its size when that is enough (the codec
/// scales in its inverse DCT, so the full-size pixels never exist); other kinds are decoded
/// whole, then reduced before they are turned, so the turn copies only the smaller image.
pub fn decode_at_least<R: Read + Seek>(
    open: &dyn Fn() -> std::io::Result<R>,
    header: &Header,
    kind: &Kind,
    max_pixels: u64,
    needed: Option<(u32, u32)>,
) -> Result<DynamicImage> {
    let wanted = header.wanted(needed);
    let factor = if header.jpeg {
        header.jpeg_factor(needed)
    } else {
        1
    };
    let scaled = if factor > 1 {
        let reduced = (header.width / factor, header.height / factor);
        decode_jpeg_scaled(open, reduced, max_pixels)?
    } else {
        None
    };
    let mut img = match scaled {
        Some(img) => img,
        None => {
            let decoder = reader(open()?, kind, max_pixels)?
                .into_decoder()
                .map_err(decode_error)?;
            DynamicImage::from_decoder(decoder).map_err(decode_error)?
        }
    };
    if needed.is_some() && (img.width() > wanted.0 || img.height() > wanted.1) {
        img = img.thumbnail(wanted.0, wanted.1);
    }
    img.apply_orientation(header.orientation);
    Ok(img)
}

/// A JPEG decoded at the smallest of its 1/8, 1/4, 1/2 sizes that gives `wanted` (stored
/// pixels) one way; `None` for what this decoder does not reduce (CMYK, 16-bit grey), which
/// is then decoded whole.
fn decode_jpeg_scaled<R: Read>(
    open: &dyn Fn() -> std::io::Result<R>,
    wanted: (u32, u32),
    max_pixels: u64,
) -> Result<Option<DynamicImage>> {
    let mut d = jpeg_decoder::Decoder::new(BufReader::new(open()?));
    d.set_max_decoding_buffer_size(
        usize::try_from(max_pixels.saturating_mul(4)).unwrap_or(usize::MAX),
    );
    d.read_info().map_err(|_| undecodable())?;
    let format = d.info().map(|i| i.pixel_format);
    if !matches!(
        format,
        Some(jpeg_decoder::PixelFormat::RGB24 | jpeg_decoder::PixelFormat::L8)
    ) {
        return Ok(None);
    }
    let clamp = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
    let (w, h) = d
        .scale(clamp(wanted.0), clamp(wanted.1))
        .map_err(|_| undecodable())?;
    let pixels = d.decode().map_err(|_| undecodable())?;
    let (w, h) = (u32::from(w), u32::from(h));
    Ok(match format {
        Some(jpeg_decoder::PixelFormat::RGB24) => {
            image::RgbImage::from_raw(w, h, pixels).map(DynamicImage::ImageRgb8)
        }
        _ => image::GrayImage::from_raw(w, h, pixels).map(DynamicImage::ImageLuma8),
    })
}

/// Decodes a whole image (orientation applied), refusing one over `max_pixels`.
pub fn decode(bytes: &[u8], kind: &Kind, max_pixels: u64) -> Result<DynamicImage> {
    let open = || Ok(Cursor::new(bytes));
    let header = read_header(&open, kind, max_pixels)?;
    decode_at_least(&open, &header, kind, max_pixels, None)
}

/// A blurred-looking 16-pixel-wide version as a `data:` URI (a few hundred bytes).
fn placeholder(img: &DynamicImage) -> Option<String> {
    let small = img.thumbnail(16, 16);
    let (mime, bytes) = if small.color().has_alpha() {
        ("image/png", encode(&small, Format::Png, 0).ok()?)
    } else {
        ("image/jpeg", encode(&small, Format::Jpeg, 40).ok()?)
    };
    Some(format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

// ---- transforms -----------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fit {
    /// Exactly `w`×`h`, cropped around the focal point.
    Cover,
    /// Exactly `w`×`h`, the whole image inside, the rest filled (transparent, or white for
    /// JPEG).
    Contain,
    /// Within `w`×`h`, keeping the aspect ratio; never larger than the original.
    Inside,
}

impl Fit {
    pub fn parse(s: &str) -> Option<Fit> {
        match s {
            "cover" => Some(Fit::Cover),
            "contain" => Some(Fit::Contain),
            "inside" => Some(Fit::Inside),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Fit::Cover => "cover",
            Fit::Contain => "contain",
            Fit::Inside => "inside",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Jpeg,
    Png,
    Webp,
    Avif,
}

impl Format {
    pub fn from_extension(ext: &str) -> Option<Format> {
        match ext.to_ascii_lowercase().as_str() {
            "jpg" | "jpeg" => Some(Format::Jpeg),
            "png" => Some(Format::Png),
            "webp" => Some(Format::Webp),
            "avif" => Some(Format::Avif),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Webp => "webp",
            Format::Avif => "avif",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Format::Jpeg => sniff::JPEG.mime,
            Format::Png => sniff::PNG.mime,
            Format::Webp => sniff::WEBP.mime,
            Format::Avif => sniff::AVIF.mime,
        }
    }

    /// The format a transform of `kind` keeps when none is asked for.
    pub fn of(kind: &str) -> Format {
        match kind {
            "image/jpeg" => Format::Jpeg,
            "image/webp" => Format::Webp,
            _ => Format::Png,
        }
    }
}

/// A resize: target box, fit, output format and quality, and the focal point (0–1 each way)
/// that cover crops centre on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transform {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fit: Fit,
    pub format: Format,
    pub quality: u8,
    pub focal: (f64, f64),
}

impl Transform {
    /// The name this variant is stored under: everything that changes its bytes.
    pub fn key(&self) -> String {
        let dim = |d: Option<u32>| d.map_or_else(|| "_".to_owned(), |d| d.to_string());
        format!(
            "{}x{}-{}-q{}-f{:.3},{:.3}.{}",
            dim(self.width),
            dim(self.height),
            self.fit.as_str(),
            self.quality,
            self.focal.0,
            self.focal.1,
            self.format.extension()
        )
    }
}

/// The output size of `t` for a `w`×`h` original.
pub fn target_size(t: &Transform, w: u32, h: u32) -> (u32, u32) {
    let (w, h) = (f64::from(w.max(1)), f64::from(h.max(1)));
    let scaled = |s: f64| {
        (
            (w * s).round().max(1.0) as u32,
            (h * s).round().max(1.0) as u32,
        )
    };
    match (t.width, t.height, t.fit) {
        (None, None, _) => scaled(1.0),
        (Some(tw), None, Fit::Inside) => scaled((f64::from(tw) / w).min(1.0)),
        (None, Some(th), Fit::Inside) => scaled((f64::from(th) / h).min(1.0)),
        (Some(tw), Some(th), Fit::Inside) => {
            scaled((f64::from(tw) / w).min(f64::from(th) / h).min(1.0))
        }
        (Some(tw), None, _) => scaled(f64::from(tw) / w),
        (None, Some(th), _) => scaled(f64::from(th) / h),
        (Some(tw), Some(th), _) => (tw, th),
    }
}

/// The source rectangle `(x, y, w, h)` a cover crop of aspect `tw`:`th` takes from a
/// `w`×`h` image: as large as fits, centred on the focal point, kept inside the image.
pub fn cover_crop(w: u32, h: u32, tw: u32, th: u32, focal: (f64, f64)) -> (u32, u32, u32, u32) {
    let target = f64::from(tw) / f64::from(th);
    let source = f64::from(w) / f64::from(h);
    let (cw, ch) = if source > target {
        (((f64::from(h) * target).round() as u32).clamp(1, w), h)
    } else {
        (w, ((f64::from(w) / target).round() as u32).clamp(1, h))
    };
    let place = |size: u32, crop: u32, at: f64| -> u32 {
        let centre = at.clamp(0.0, 1.0) * f64::from(size);
        let start = (centre - f64::from(crop) / 2.0).round();
        start.clamp(0.0, f64::from(size - crop)) as u32
    };
    (place(w, cw, focal.0), place(h, ch, focal.1), cw, ch)
}

/// The display pixels a transform of a `w`×`h` image needs the whole image decoded at: the
/// scale of its output, over the whole image (a cover crop takes a part of it).
pub fn needed(t: &Transform, w: u32, h: u32) -> (u32, u32) {
    let (tw, th) = target_size(t, w, h);
    let (sx, sy) = (
        f64::from(tw) / f64::from(w.max(1)),
        f64::from(th) / f64::from(h.max(1)),
    );
    let s = match t.fit {
        Fit::Contain if t.width.is_some() && t.height.is_some() => sx.min(sy),
        _ => sx.max(sy),
    };
    (
        (f64::from(w) * s).ceil().max(1.0) as u32,
        (f64::from(h) * s).ceil().max(1.0) as u32,
    )
}

/// Applies `t` to a decoded image (which may be a reduction of an `original`-sized one:
/// the output size follows the original) and encodes the result.
pub fn apply(img: &DynamicImage, t: &Transform, original: (u32, u32)) -> Result<Vec<u8>> {
    use image::imageops::FilterType;
    let (w, h) = (img.width(), img.height());
    let (tw, th) = target_size(t, original.0, original.1);
    let filter = FilterType::CatmullRom;
    let out = match t.fit {
        Fit::Cover if t.width.is_some() && t.height.is_some() => {
            let (x, y, cw, ch) = cover_crop(w, h, tw, th, t.focal);
            resize(&img.crop_imm(x, y, cw, ch), tw, th, filter)
        }
        Fit::Contain if t.width.is_some() && t.height.is_some() => {
            let scale = (f64::from(tw) / f64::from(w)).min(f64::from(th) / f64::from(h));
            let iw = ((f64::from(w) * scale).round() as u32).clamp(1, tw);
            let ih = ((f64::from(h) * scale).round() as u32).clamp(1, th);
            let inner = resize(img, iw, ih, filter).to_rgba8();
            let fill = if t.format == Format::Jpeg {
                image::Rgba([255, 255, 255, 255])
            } else {
                image::Rgba([0, 0, 0, 0])
            };
            let mut canvas = image::RgbaImage::from_pixel(tw, th, fill);
            image::imageops::overlay(
                &mut canvas,
                &inner,
                i64::from((tw - iw) / 2),
                i64::from((th - ih) / 2),
            );
            DynamicImage::ImageRgba8(canvas)
        }
        _ => resize(img, tw, th, filter),
    };
    encode(&out, t.format, t.quality)
}

/// The most memory a filtered resize may use for its intermediate image: `image`'s resize
/// filters columns first into a `source width × target height` image of 16 bytes a pixel.
const RESIZE_SCRATCH: u64 = 64 << 20;

/// How a `w0`×`h0` image is brought to `w`×`h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResizePlan {
    /// The filter (Catmull-Rom) all the way.
    Filter,
    /// Averaged down to this size first (fast, and without an intermediate image), then
    /// filtered: a large reduction, or one whose filter scratch would be too large.
    AverageThenFilter(u32, u32),
    /// Averaged all the way: an output so large that even its own filter scratch would pass
    /// [`RESIZE_SCRATCH`].
    Average,
}

fn resize_plan(w0: u32, h0: u32, w: u32, h: u32) -> ResizePlan {
    let scratch = |src_w: u32| u64::from(src_w) * u64::from(h) * 16;
    if scratch(w) > RESIZE_SCRATCH {
        return ResizePlan::Average;
    }
    if w0 > 4 * w && h0 > 4 * h && scratch(2 * w) <= RESIZE_SCRATCH {
        return ResizePlan::AverageThenFilter(2 * w, 2 * h);
    }
    if scratch(w0) <= RESIZE_SCRATCH {
        return ResizePlan::Filter;
    }
    // The widest intermediate the scratch allows, keeping the aspect ratio.
    let mid_w = u32::try_from(RESIZE_SCRATCH / (u64::from(h) * 16))
        .unwrap_or(u32::MAX)
        .clamp(w, w0);
    let mid_h = ((f64::from(h0) * f64::from(mid_w) / f64::from(w0)).round() as u32).clamp(h, h0);
    ResizePlan::AverageThenFilter(mid_w, mid_h)
}

fn resize(img: &DynamicImage, w: u32, h: u32, filter: image::imageops::FilterType) -> DynamicImage {
    if img.width() == w && img.height() == h {
        return img.clone();
    }
    match resize_plan(img.width(), img.height(), w, h) {
        ResizePlan::Filter => img.resize_exact(w, h, filter),
        ResizePlan::AverageThenFilter(mw, mh) => {
            img.thumbnail_exact(mw, mh).resize_exact(w, h, filter)
        }
        ResizePlan::Average => img.thumbnail_exact(w, h),
    }
}

fn encode(img: &DynamicImage, format: Format, quality: u8) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    match format {
        Format::Jpeg => {
            let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality.clamp(1, 100))
                .encode_image(&rgb)?;
        }
        Format::Png => {
            img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)?;
        }
        Format::Avif => {
            use image::ImageEncoder;
            let rgba = img.to_rgba8();
            // Speed 8 of 10: a fraction of the slowest setting's time for files a few
            // percent larger. One thread: transforms already run side by side.
            image::codecs::avif::AvifEncoder::new_with_speed_quality(
                &mut out,
                8,
                quality.clamp(1, 100),
            )
            .with_num_threads(Some(1))
            .write_image(
                rgba.as_raw(),
                rgba.width(),
                rgba.height(),
                image::ExtendedColorType::Rgba8,
            )?;
        }
        Format::Webp => {
            let rgba = img.to_rgba8();
            let encoded = webp::Encoder::from_rgba(rgba.as_raw(), rgba.width(), rgba.height())
                .encode(f32::from(quality.clamp(1, 100)));
            out.extend_from_slice(&encoded);
        }
    }
    Ok(out)
}

// ---- metadata -------------------------------------------------------------------------

/// Whether [`strip_metadata`] removes anything from files of `kind`.
pub fn has_metadata_to_strip(kind: &Kind) -> bool {
    matches!(kind.mime, "image/jpeg" | "image/png" | "image/webp")
}

/// Copies `src` to `dst` without its metadata: EXIF (location, camera, times), XMP, IPTC and
/// comments. A JPEG keeps only its EXIF orientation (in a minimal EXIF block of its own), so
/// it still displays the right way up. Returns false when the kind has nothing to strip (the
/// copy is then plain).
pub fn strip_metadata(
    src: &mut (impl Read + Seek),
    dst: &mut impl Write,
    kind: &Kind,
) -> Result<bool> {
    match kind.mime {
        "image/jpeg" => strip_jpeg(src, dst).map(|()| true),
        "image/png" => strip_png(src, dst).map(|()| true),
        "image/webp" => strip_webp(src, dst).map(|()| true),
        _ => {
            std::io::copy(src, dst)?;
            Ok(false)
        }
    }
}

fn read_u16_be(r: &mut impl Read) -> std::io::Result<u16> {
    let mut b = [0u8; 2];
    r.read_exact(&mut b)?;
    Ok(u16::from_be_bytes(b))
}

fn strip_jpeg(src: &mut (impl Read + Seek), dst: &mut impl Write) -> Result<()> {
    let mut r = BufReader::new(src);
    let mut soi = [0u8; 2];
    r.read_exact(&mut soi)?;
    dst.write_all(&soi)?;
    let mut orientation = None;
    loop {
        let mut marker = [0u8; 2];
        r.read_exact(&mut marker)?;
        if marker[0] != 0xFF {
            return Err(undecodable());
        }
        // Fill bytes between markers.
        while marker[1] == 0xFF {
            let mut b = [0u8; 1];
            r.read_exact(&mut b)?;
            marker[1] = b[0];
        }
        let m = marker[1];
        if m == 0xDA || (0xD0..=0xD9).contains(&m) || m == 0x01 {
            // Start of scan (or a marker without length): the rest is image data.
            if let Some(o) = orientation.take() {
                dst.write_all(&orientation_segment(o))?;
            }
            dst.write_all(&marker)?;
            std::io::copy(&mut r, dst)?;
            return Ok(());
        }
        let len = read_u16_be(&mut r)?;
        if len < 2 {
            return Err(undecodable());
        }
        let mut body = vec![0u8; usize::from(len) - 2];
        r.read_exact(&mut body)?;
        let drop = match m {
            0xE1 => {
                if body.starts_with(b"Exif\0\0") {
                    orientation = Orientation::from_exif_chunk(&body[6..])
                        .map(Orientation::to_exif)
                        .filter(|o| *o != 1)
                        .or(orientation);
                }
                true
            }
            // IPTC / Photoshop, extended XMP, comments.
            0xED | 0xFE => true,
            0xE2..=0xEC | 0xEE | 0xEF => !body.starts_with(b"ICC_PROFILE") && m != 0xEE,
            _ => false,
        };
        if !drop {
            // The first segments after SOI are JFIF (APP0) and the like: the orientation goes
            // right after them, before anything else.
            if m != 0xE0
                && let Some(o) = orientation.take()
            {
                dst.write_all(&orientation_segment(o))?;
            }
            dst.write_all(&marker)?;
            dst.write_all(&len.to_be_bytes())?;
            dst.write_all(&body)?;
        }
    }
}

/// An APP1 EXIF segment holding nothing but the orientation tag.
fn orientation_segment(orientation: u8) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"MM\0\x2A\0\0\0\x08"); // big-endian TIFF, first IFD at 8
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // count
    tiff.extend_from_slice(&[0, orientation, 0, 0]); // value, left-aligned
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut seg = vec![0xFF, 0xE1];
    let len = (2 + 6 + tiff.len()) as u16;
    seg.extend_from_slice(&len.to_be_bytes());
    seg.extend_from_slice(b"Exif\0\0");
    seg.extend_from_slice(&tiff);
    seg
}

fn strip_png(src: &mut (impl Read + Seek), dst: &mut impl Write) -> Result<()> {
    let mut r = BufReader::new(src);
    let mut sig = [0u8; 8];
    r.read_exact(&mut sig)?;
    dst.write_all(&sig)?;
    loop {
        let mut head = [0u8; 8];
        match r.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let len = u64::from(u32::from_be_bytes([head[0], head[1], head[2], head[3]]));
        let ty = &head[4..8];
        let keep = !matches!(ty, b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt" | b"tIME");
        let mut chunk = (&mut r).take(len + 4);
        if keep {
            dst.write_all(&head)?;
            std::io::copy(&mut chunk, dst)?;
        } else {
            std::io::copy(&mut chunk, &mut std::io::sink())?;
        }
        if ty == b"IEND" {
            return Ok(());
        }
    }
}

fn strip_webp(src: &mut (impl Read + Seek), dst: &mut impl Write) -> Result<()> {
    // First pass: the chunks to keep, so the RIFF size can be written up front.
    let mut header = [0u8; 12];
    src.read_exact(&mut header)?;
    let riff_end = 8 + u64::from(u32::from_le_bytes([
        header[4], header[5], header[6], header[7],
    ]));
    let mut chunks = Vec::new();
    let mut pos = 12u64;
    while pos + 8 <= riff_end {
        src.seek(SeekFrom::Start(pos))?;
        let mut head = [0u8; 8];
        if src.read_exact(&mut head).is_err() {
            break;
        }
        let len = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
        let padded = len + (len & 1);
        let fourcc = [head[0], head[1], head[2], head[3]];
        if !matches!(&fourcc, b"EXIF" | b"XMP ") {
            chunks.push((fourcc, pos, 8 + padded));
        }
        pos += 8 + padded;
    }
    let size: u64 = 4 + chunks.iter().map(|(_, _, l)| l).sum::<u64>();
    dst.write_all(b"RIFF")?;
    dst.write_all(
        &u32::try_from(size)
            .map_err(|_| undecodable())?
            .to_le_bytes(),
    )?;
    dst.write_all(b"WEBP")?;
    for (fourcc, at, len) in chunks {
        src.seek(SeekFrom::Start(at))?;
        let mut chunk = Vec::new();
        (&mut *src).take(len).read_to_end(&mut chunk)?;
        if &fourcc == b"VP8X" && chunk.len() > 8 {
            // Flags: clear "has EXIF" (0x08) and "has XMP" (0x04).
            chunk[8] &= !0x0C;
        }
        dst.write_all(&chunk)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(w: Option<u32>, h: Option<u32>, fit: Fit) -> Transform {
        Transform {
            width: w,
            height: h,
            fit,
            format: Format::Png,
            quality: 80,
            focal: (0.5, 0.5),
        }
    }

    #[test]
    fn target_sizes_follow_the_fit() {
        assert_eq!(
            target_size(&t(Some(640), Some(360), Fit::Cover), 4000, 3000),
            (640, 360)
        );
        assert_eq!(
            target_size(&t(Some(640), None, Fit::Cover), 4000, 3000),
            (640, 480)
        );
        assert_eq!(
            target_size(&t(Some(640), Some(360), Fit::Inside), 4000, 3000),
            (480, 360)
        );
        // Inside never enlarges.
        assert_eq!(
            target_size(&t(Some(8000), None, Fit::Inside), 4000, 3000),
            (4000, 3000)
        );
    }

    #[test]
    fn cover_crops_centre_on_the_focal_point_and_stay_inside() {
        // 4:3 to 16:9: full width, a band of 2250 rows.
        assert_eq!(
            cover_crop(4000, 3000, 640, 360, (0.5, 0.5)),
            (0, 375, 4000, 2250)
        );
        assert_eq!(
            cover_crop(4000, 3000, 640, 360, (0.5, 0.0)),
            (0, 0, 4000, 2250)
        );
        assert_eq!(
            cover_crop(4000, 3000, 640, 360, (0.5, 1.0)),
            (0, 750, 4000, 2250)
        );
        // Square from landscape: the focal point on the right moves the window right.
        assert_eq!(
            cover_crop(4000, 3000, 100, 100, (0.9, 0.5)),
            (1000, 0, 3000, 3000)
        );
        assert_eq!(
            cover_crop(4000, 3000, 100, 100, (0.2, 0.5)),
            (0, 0, 3000, 3000)
        );
    }

    fn jpeg_with_exif(orientation: u8) -> Vec<u8> {
        let img = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(8, 4, image::Rgb([9, 9, 9])));
        let plain = encode(&img, Format::Jpeg, 80).unwrap();
        // Insert an EXIF segment carrying an orientation and a fake GPS marker string.
        let mut exif = orientation_segment(orientation);
        exif.extend_from_slice(b""); // the segment length already covers its body
        let mut gps = vec![0xFF, 0xE1];
        let body = b"Exif\0\0MM\0\x2A\0\0\0\x08\0\0\0\0\0\0GPS 51.5N 0.12W";
        gps.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        gps.extend_from_slice(body);
        let mut out = plain[..2].to_vec();
        out.extend_from_slice(&exif);
        out.extend_from_slice(&gps);
        out.extend_from_slice(&plain[2..]);
        out
    }

    #[test]
    fn jpeg_metadata_goes_but_the_orientation_stays() {
        let src = jpeg_with_exif(6);
        let mut out = Vec::new();
        strip_metadata(&mut Cursor::new(&src), &mut out, &sniff::JPEG).unwrap();
        assert!(!out.windows(3).any(|w| w == b"GPS"));
        let img = decode(&out, &sniff::JPEG, 1_000_000).unwrap();
        // Orientation 6 (rotate 90°) still applies: 8×4 displays as 4×8.
        assert_eq!((img.width(), img.height()), (4, 8));
    }

    #[test]
    fn png_text_chunks_are_dropped() {
        let img = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            3,
            3,
            image::Rgba([1, 2, 3, 4]),
        ));
        let png = encode(&img, Format::Png, 0).unwrap();
        // Insert a tEXt chunk after IHDR (8 + 25 bytes).
        let mut src = png[..33].to_vec();
        let data = b"Comment\0secret place";
        src.extend_from_slice(&(data.len() as u32).to_be_bytes());
        src.extend_from_slice(b"tEXt");
        src.extend_from_slice(data);
        src.extend_from_slice(&[0, 0, 0, 0]);
        src.extend_from_slice(&png[33..]);
        let mut out = Vec::new();
        strip_metadata(&mut Cursor::new(&src), &mut out, &sniff::PNG).unwrap();
        assert_eq!(out, png);
    }

    #[test]
    fn transforms_produce_the_asked_size_and_format() {
        let img = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            400,
            300,
            image::Rgb([200, 10, 10]),
        ));
        let mut tr = t(Some(64), Some(36), Fit::Cover);
        tr.format = Format::Webp;
        let out = apply(&img, &tr, (400, 300)).unwrap();
        let back = decode(&out, &sniff::WEBP, 1_000_000).unwrap();
        assert_eq!((back.width(), back.height()), (64, 36));
        tr.format = Format::Avif;
        let out = apply(&img, &tr, (400, 300)).unwrap();
        assert_eq!(sniff::detect(&out, "avif"), Ok(sniff::AVIF));
        tr.fit = Fit::Contain;
        tr.format = Format::Jpeg;
        let out = apply(&img, &tr, (400, 300)).unwrap();
        let back = decode(&out, &sniff::JPEG, 1_000_000).unwrap();
        assert_eq!((back.width(), back.height()), (64, 36));
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

    #[test]
    fn huge_declared_dimensions_are_refused_before_decoding() {
        // A valid PNG header declaring 60000×60000 pixels, with no pixel data behind it.
        let img = DynamicImage::ImageRgb8(image::RgbImage::new(1, 1));
        let mut png = encode(&img, Format::Png, 0).unwrap();
        png[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&60_000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        let err = read_header(&|| Ok(Cursor::new(&png)), &sniff::PNG, 100_000_000).unwrap_err();
        assert_eq!(err.code().name, "image_too_large");
    }

    /// A 1600×1200 JPEG of horizontal bands, with an EXIF orientation when given.
    fn banded_jpeg(orientation: Option<u8>) -> Vec<u8> {
        let img = image::RgbImage::from_fn(1600, 1200, |_, y| {
            if y < 600 {
                image::Rgb([250, 20, 20])
            } else {
                image::Rgb([20, 20, 250])
            }
        });
        let plain = encode(&DynamicImage::ImageRgb8(img), Format::Jpeg, 90).unwrap();
        let Some(o) = orientation else {
            return plain;
        };
        let mut out = plain[..2].to_vec();
        out.extend_from_slice(&orientation_segment(o));
        out.extend_from_slice(&plain[2..]);
        out
    }

    #[test]
    fn jpegs_are_decoded_no_larger_than_needed() {
        let src = banded_jpeg(None);
        let open = || Ok(Cursor::new(&src[..]));
        let header = read_header(&open, &sniff::JPEG, 100_000_000).unwrap();
        assert_eq!(header.displayed(), (1600, 1200));
        // 100 across needs 200 for the filter: an eighth of the image is enough.
        let small =
            decode_at_least(&open, &header, &sniff::JPEG, 100_000_000, Some((100, 75))).unwrap();
        assert_eq!((small.width(), small.height()), (200, 150));
        assert!(small.to_rgb8().get_pixel(100, 10)[0] > 200, "red on top");
        assert!(small.to_rgb8().get_pixel(100, 140)[2] > 200, "blue below");
        // 500 across: no reduction gives 1000, a half gives 800, which is enough.
        let half =
            decode_at_least(&open, &header, &sniff::JPEG, 100_000_000, Some((500, 375))).unwrap();
        assert_eq!((half.width(), half.height()), (800, 600));
        let whole = decode_at_least(&open, &header, &sniff::JPEG, 100_000_000, None).unwrap();
        assert_eq!((whole.width(), whole.height()), (1600, 1200));
        // The cost follows: an eighth decodes 1/64 of the pixels.
        assert!(
            header.decode_cost(Some((100, 75))) - RESIZE_SCRATCH
                < (header.decode_cost(None) - RESIZE_SCRATCH) / 4
        );
    }

    #[test]
    fn turned_jpegs_are_reduced_then_turned() {
        // Orientation 6: stored 1600×1200, shown 1200×1600, the top band on the right.
        let src = banded_jpeg(Some(6));
        let open = || Ok(Cursor::new(&src[..]));
        let header = read_header(&open, &sniff::JPEG, 100_000_000).unwrap();
        assert_eq!(header.displayed(), (1200, 1600));
        let small =
            decode_at_least(&open, &header, &sniff::JPEG, 100_000_000, Some((75, 100))).unwrap();
        assert_eq!((small.width(), small.height()), (150, 200));
        let rgb = small.to_rgb8();
        assert!(rgb.get_pixel(140, 100)[0] > 200, "red on the right");
        assert!(rgb.get_pixel(10, 100)[2] > 200, "blue on the left");
        // A transform of it comes out at the size asked, whatever was decoded.
        let tr = t(Some(60), Some(60), Fit::Cover);
        let need = needed(&tr, 1200, 1600);
        assert_eq!(need, (60, 80));
        let img = decode_at_least(&open, &header, &sniff::JPEG, 100_000_000, Some(need)).unwrap();
        let out = apply(&img, &tr, header.displayed()).unwrap();
        let back = decode(&out, &sniff::PNG, 1_000_000).unwrap();
        assert_eq!((back.width(), back.height()), (60, 60));
    }

    #[test]
    fn resizes_keep_their_scratch_memory_bounded() {
        // Small outputs are filtered; large reductions averaged first.
        assert_eq!(resize_plan(3000, 2000, 1600, 1067), ResizePlan::Filter);
        assert_eq!(
            resize_plan(4000, 3000, 640, 480),
            ResizePlan::AverageThenFilter(1280, 960)
        );
        // A source too wide for the scratch is averaged to what fits, then filtered.
        match resize_plan(6000, 4000, 1600, 1067) {
            ResizePlan::AverageThenFilter(w, h) => {
                assert!(u64::from(w) * 1067 * 16 <= RESIZE_SCRATCH, "{w}");
                assert!(
                    (1600..6000).contains(&w) && (1067..4000).contains(&h),
                    "{w}×{h}"
                );
            }
            other => panic!("{other:?}"),
        }
        // An output of 16 megapixels cannot be filtered within the scratch at all.
        assert_eq!(resize_plan(5000, 5000, 4096, 4096), ResizePlan::Average);
        let img = DynamicImage::ImageRgb8(image::RgbImage::new(900, 600));
        let out = resize(&img, 300, 200, image::imageops::FilterType::CatmullRom);
        assert_eq!((out.width(), out.height()), (300, 200));
    }

    #[test]
    fn large_outputs_decode_jpegs_at_what_they_need_only() {
        let header = Header {
            width: 10_000,
            height: 10_000,
            orientation: Orientation::NoTransforms,
            jpeg: true,
            progressive: false,
        };
        assert_eq!(header.jpeg_factor(Some((640, 640))), 4);
        assert_eq!(header.jpeg_factor(Some((4096, 4096))), 2);
        assert_eq!(header.jpeg_factor(Some((6000, 6000))), 1);
        assert_eq!(header.jpeg_factor(None), 1);
        // A 4096×4096 variant of 100 megapixels: well under what the whole image takes.
        assert!(header.decode_cost(Some((4096, 4096))) < 512 << 20);
        assert!(header.decode_cost(None) > 512 << 20);
    }

    #[test]
    fn other_kinds_are_reduced_before_they_are_turned() {
        let img =
            DynamicImage::ImageRgb8(image::RgbImage::from_pixel(800, 600, image::Rgb([9, 9, 9])));
        let png = encode(&img, Format::Png, 0).unwrap();
        let open = || Ok(Cursor::new(&png[..]));
        let header = read_header(&open, &sniff::PNG, 100_000_000).unwrap();
        let small =
            decode_at_least(&open, &header, &sniff::PNG, 100_000_000, Some((40, 30))).unwrap();
        assert_eq!((small.width(), small.height()), (80, 60));
        let p = probe(&open, &header, &sniff::PNG, 100_000_000).unwrap();
        assert_eq!((p.width, p.height), (800, 600));
        assert!(p.placeholder.is_some());
    }
}
