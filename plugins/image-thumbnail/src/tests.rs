use super::thumbnail;
use agensium_sdk::testing::{Run, run};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use std::io::Cursor;

/// A 640×400 picture: a gradient with a red square in its centre.
fn picture() -> DynamicImage {
    let image = RgbImage::from_fn(640, 400, |x, y| {
        if (270..370).contains(&x) && (150..250).contains(&y) {
            Rgb([255, 0, 0])
        } else {
            Rgb([(x / 3) as u8, (y / 2) as u8, 128])
        }
    });
    DynamicImage::ImageRgb8(image)
}

fn encoded(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).unwrap();
    bytes.into_inner()
}

fn decoded(done: &Run) -> DynamicImage {
    image::load_from_memory(&done.output).expect("the output is an image")
}

#[test]
fn contain_keeps_the_aspect_ratio_from_png_and_jpeg() {
    for format in [ImageFormat::Png, ImageFormat::Jpeg] {
        let done = run(
            thumbnail,
            &encoded(&picture(), format),
            &[("width", "160"), ("height", "160")],
        );
        let summary = done.result.clone().unwrap();
        let out = decoded(&done);
        assert_eq!((out.width(), out.height()), (160, 100), "{format:?}");
        assert_eq!(summary.content_type.as_deref(), Some("image/png"));
        assert_eq!(summary.get("width_in"), Some("640"));
        let centre = out.to_rgb8().get_pixel(80, 50).0;
        assert!(
            centre[0] > 200 && centre[1] < 60,
            "{format:?}: the red square survives: {centre:?}"
        );
    }
}

#[test]
fn one_side_follows_the_aspect_and_contain_never_enlarges() {
    let png = encoded(&picture(), ImageFormat::Png);
    let out = decoded(&run(thumbnail, &png, &[("height", "100")]));
    assert_eq!((out.width(), out.height()), (160, 100));
    // To a width of 199: the given side is met exactly, whatever the
    // rounding of the other.
    let out = decoded(&run(thumbnail, &png, &[("width", "199")]));
    assert_eq!((out.width(), out.height()), (199, 124));
    let out = decoded(&run(thumbnail, &png, &[("width", "2000")]));
    assert_eq!((out.width(), out.height()), (640, 400));
}

#[test]
fn cover_and_fill_give_the_exact_box() {
    let png = encoded(&picture(), ImageFormat::Png);
    for fit in ["cover", "fill"] {
        let out = decoded(&run(
            thumbnail,
            &png,
            &[("width", "100"), ("height", "100"), ("fit", fit)],
        ));
        assert_eq!((out.width(), out.height()), (100, 100), "{fit}");
    }
    let out = decoded(&run(
        thumbnail,
        &png,
        &[("width", "1280"), ("height", "1280"), ("fit", "cover")],
    ));
    assert_eq!((out.width(), out.height()), (1280, 1280), "cover enlarges");
}

#[test]
fn writes_webp_and_jpeg() {
    let png = encoded(&picture(), ImageFormat::Png);
    for (format, media_type, guessed) in [
        ("webp", "image/webp", ImageFormat::WebP),
        ("jpeg", "image/jpeg", ImageFormat::Jpeg),
    ] {
        let done = run(thumbnail, &png, &[("width", "64"), ("format", format)]);
        assert_eq!(
            done.result.as_ref().unwrap().content_type.as_deref(),
            Some(media_type)
        );
        assert_eq!(image::guess_format(&done.output).unwrap(), guessed);
        assert_eq!(decoded(&done).width(), 64);
    }
}

#[test]
fn bad_params_are_invalid_params() {
    let png = encoded(&picture(), ImageFormat::Png);
    for params in [
        &[][..],
        &[("width", "0")],
        &[("width", "9000")],
        &[("width", "ten")],
        &[("width", "10"), ("fit", "stretch")],
        &[("width", "10"), ("format", "gif")],
        &[("width", "10"), ("quality", "0")],
    ] {
        let done = run(thumbnail, &png, params);
        assert_eq!(
            done.result.unwrap_err().code,
            "invalid_params",
            "{params:?}"
        );
    }
}

#[test]
fn not_an_image_or_a_truncated_one_is_invalid_input() {
    let done = run(thumbnail, b"GIF89a....", &[("width", "10")]);
    assert_eq!(done.result.unwrap_err().code, "invalid_input");
    let png = encoded(&picture(), ImageFormat::Png);
    let done = run(thumbnail, &png[..png.len() / 2], &[("width", "10")]);
    assert_eq!(done.result.unwrap_err().code, "invalid_input");
}

#[test]
fn a_huge_declared_size_is_refused_before_decoding() {
    // A valid PNG declaring 60000×60000 RGBA (13 GiB of pixels) with a
    // few bytes of data: refused from its header alone.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let ihdr = [
        &60_000u32.to_be_bytes()[..],
        &60_000u32.to_be_bytes(),
        &[8, 6, 0, 0, 0],
    ]
    .concat();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &[0x78, 0x9c, 0x03, 0x00]);
    let done = run(thumbnail, &png, &[("width", "10")]);
    let failure = done.result.unwrap_err();
    assert_eq!(failure.code, "invalid_input");
    assert!(failure.message.contains("too large"), "{failure}");
}

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = png.len();
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let crc = crc32(&png[start..]);
    png.extend_from_slice(&crc.to_be_bytes());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
