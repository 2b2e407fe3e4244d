//! `image-thumbnail`: scales a PNG or JPEG image down (or up) to a box.
//!
//! Params:
//! * `width`, `height`: the box in pixels (1–8192); give one or both. With
//!   one, the other follows the image's aspect ratio;
//! * `fit`: `contain` (the default: the whole image inside the box, aspect
//!   kept, never enlarged), `cover` (fills the box exactly, aspect kept, the
//!   overflow cropped around the centre) or `fill` (exactly the box,
//!   stretched);
//! * `format`: `png` (the default), `webp` (lossless) or `jpeg`;
//! * `quality`: JPEG quality 1–100 (default 85).
//!
//! A JPEG's EXIF orientation is applied, so phone photos come out upright.
//! Memory is bounded by the image, not the file: a PNG is decoded as it
//! streams in; a JPEG's compressed bytes are held while it decodes (the
//! decoder needs them whole). Images whose decoded pixels would exceed
//! 256 MiB are refused before decoding.
//!
//! Fails with `invalid_input` for anything that is not a readable PNG or
//! JPEG, and `invalid_params` for a bad param.

mod forward;

use agensium_sdk::{Failure, Input, Output, Params, Summary};
use forward::Forward;
use image::codecs::jpeg::{JpegDecoder, JpegEncoder};
use image::codecs::png::{PngDecoder, PngEncoder};
use image::codecs::webp::WebPEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageError, Limits};
use std::io::{BufRead, Write};

/// Decoded pixels above this are refused.
const MAX_DECODED: u64 = 256 << 20;
/// The largest box side.
const MAX_SIDE: u32 = 8192;

/// The processor.
pub fn thumbnail(
    params: &Params,
    input: &mut Input,
    output: &mut Output,
) -> Result<Summary, Failure> {
    params.warn_unknown(&["width", "height", "fit", "format", "quality"]);
    let request = Request::from_params(params)?;
    let image = decode(input)?;
    let (width_in, height_in) = (image.width(), image.height());
    let scaled = request.scale(&image);
    drop(image);
    let (width, height) = (scaled.width(), scaled.height());
    request.format.encode(&scaled, request.quality, output)?;
    agensium_sdk::info!("{width_in}×{height_in} → {width}×{height}");
    Ok(Summary::new()
        .content_type(request.format.media_type())
        .stat("width_in", width_in)
        .stat("height_in", height_in)
        .stat("width", width)
        .stat("height", height))
}

/// How the image fits the box.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fit {
    Contain,
    Cover,
    Fill,
}

/// The output format.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    Png,
    WebP,
    Jpeg,
}

impl Format {
    fn media_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::WebP => "image/webp",
            Self::Jpeg => "image/jpeg",
        }
    }

    fn encode(self, image: &DynamicImage, quality: u8, output: &mut Output) -> Result<(), Failure> {
        let done = match self {
            Self::Png => image.write_with_encoder(PngEncoder::new(&mut *output)),
            Self::WebP => image
                .to_rgba8()
                .write_with_encoder(WebPEncoder::new_lossless(&mut *output)),
            Self::Jpeg => image
                .to_rgb8()
                .write_with_encoder(JpegEncoder::new_with_quality(&mut *output, quality)),
        };
        done.map_err(|e| Failure::new("encode_failed", e.to_string()))?;
        output.flush()?;
        Ok(())
    }
}

/// The params, checked.
struct Request {
    width: Option<u32>,
    height: Option<u32>,
    fit: Fit,
    format: Format,
    quality: u8,
}

impl Request {
    fn from_params(params: &Params) -> Result<Self, Failure> {
        let width = side(params, "width")?;
        let height = side(params, "height")?;
        if width.is_none() && height.is_none() {
            return Err(Failure::invalid_params(
                "give \"width\", \"height\" or both",
            ));
        }
        let fit = match params.str("fit").unwrap_or("contain") {
            "contain" => Fit::Contain,
            "cover" => Fit::Cover,
            "fill" => Fit::Fill,
            other => return Err(one_of("fit", other, "contain, cover or fill")),
        };
        let format = match params.str("format").unwrap_or("png") {
            "png" => Format::Png,
            "webp" => Format::WebP,
            "jpeg" | "jpg" => Format::Jpeg,
            other => return Err(one_of("format", other, "png, webp or jpeg")),
        };
        let quality: u8 = params.get_or("quality", 85)?;
        if !(1..=100).contains(&quality) {
            return Err(one_of("quality", &quality.to_string(), "1 to 100"));
        }
        Ok(Self {
            width,
            height,
            fit,
            format,
            quality,
        })
    }

    /// The box, with a missing side taken from the image's aspect ratio.
    fn target(&self, width: u32, height: u32) -> (u32, u32) {
        let follow = |given: u32, this: u32, other: u32| {
            let scaled = u64::from(given) * u64::from(other) / u64::from(this.max(1));
            u32::try_from(scaled.clamp(1, u64::from(MAX_SIDE))).unwrap_or(MAX_SIDE)
        };
        match (self.width, self.height) {
            (Some(w), Some(h)) => (w, h),
            (Some(w), None) => (w, follow(w, width, height)),
            (None, Some(h)) => (follow(h, height, width), h),
            (None, None) => (width, height),
        }
    }

    fn scale(&self, image: &DynamicImage) -> DynamicImage {
        let (w, h) = (image.width(), image.height());
        let (bw, bh) = self.target(w, h);
        match self.fit {
            Fit::Fill => resize(image, bw, bh),
            Fit::Contain => {
                // The largest size with the image's aspect inside the box
                // (a side not given does not bound it), never larger than
                // the image itself.
                let along = |side: Option<u32>, of: u32| {
                    side.map_or(f64::INFINITY, |s| f64::from(s) / f64::from(of))
                };
                let ratio = along(self.width, w).min(along(self.height, h)).min(1.0);
                resize(image, scaled(w, ratio), scaled(h, ratio))
            }
            Fit::Cover => {
                let ratio = f64::max(f64::from(bw) / f64::from(w), f64::from(bh) / f64::from(h));
                let (sw, sh) = (scaled(w, ratio).max(bw), scaled(h, ratio).max(bh));
                let big = resize(image, sw, sh);
                big.crop_imm((sw - bw) / 2, (sh - bh) / 2, bw, bh)
            }
        }
    }
}

#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "clamped to 1..=MAX_SIDE"
)]
fn scaled(side: u32, ratio: f64) -> u32 {
    (f64::from(side) * ratio)
        .round()
        .clamp(1.0, f64::from(MAX_SIDE)) as u32
}

/// Shrinks with the fast area-averaging thumbnail; enlarges with a
/// triangle filter.
fn resize(image: &DynamicImage, width: u32, height: u32) -> DynamicImage {
    if (width, height) == (image.width(), image.height()) {
        image.clone()
    } else if width <= image.width() && height <= image.height() {
        image.thumbnail_exact(width, height)
    } else {
        image.resize_exact(width, height, FilterType::Triangle)
    }
}

fn side(params: &Params, key: &str) -> Result<Option<u32>, Failure> {
    let value: Option<u32> = params.get(key)?;
    match value {
        Some(v) if v == 0 || v > MAX_SIDE => Err(one_of(key, &v.to_string(), "1 to 8192")),
        other => Ok(other),
    }
}

fn one_of(key: &str, value: &str, allowed: &str) -> Failure {
    Failure::invalid_params(format!("param \"{key}\" = {value:?}: {allowed}"))
}

/// Reads a PNG or JPEG, told apart by their first bytes.
fn decode(input: &mut Input) -> Result<DynamicImage, Failure> {
    let head = input.fill_buf()?;
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        let decoder = PngDecoder::new(Forward::new(input)).map_err(unreadable)?;
        load(decoder)
    } else if head.starts_with(&[0xff, 0xd8, 0xff]) {
        let mut decoder = JpegDecoder::new(Forward::new(input)).map_err(unreadable)?;
        let orientation = decoder.orientation().map_err(unreadable)?;
        let mut image = load(decoder)?;
        image.apply_orientation(orientation);
        Ok(image)
    } else {
        Err(Failure::invalid_input("not a PNG or JPEG image"))
    }
}

/// Decodes the pixels, refusing images too large before allocating them.
fn load(mut decoder: impl ImageDecoder) -> Result<DynamicImage, Failure> {
    let (width, height) = decoder.dimensions();
    if decoder.total_bytes() > MAX_DECODED {
        return Err(Failure::invalid_input(format!(
            "a {width}×{height} image is too large: its pixels would take {} MiB, over {} MiB",
            decoder.total_bytes() >> 20,
            MAX_DECODED >> 20
        )));
    }
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODED);
    decoder.set_limits(limits).map_err(unreadable)?;
    DynamicImage::from_decoder(decoder).map_err(unreadable)
}

fn unreadable(error: ImageError) -> Failure {
    Failure::invalid_input(format!("unreadable image: {error}"))
}

agensium_sdk::processor!(thumbnail);

#[cfg(test)]
mod tests;
