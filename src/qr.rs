//! QR codes of short URLs, as SVG or PNG.
//!
//! The `qrcode` crate encodes and draws the SVG; PNG is drawn here from the
//! code's modules and written by the `png` crate (the `image` crate, which
//! `qrcode` would use for it, is far larger than this needs). Every image
//! has the standard quiet zone of four modules around the code.

use qrcode::{Color, QrCode};
use thiserror::Error;

/// Smallest image side accepted, in pixels.
pub const MIN_SIZE: u32 = 64;
/// Largest image side accepted, in pixels: a PNG of it is a few hundred KB
/// at most, built in memory.
pub const MAX_SIZE: u32 = 2048;
/// Image side when none is asked for.
pub const DEFAULT_SIZE: u32 = 256;
/// The quiet zone the QR standard asks for, in modules.
const QUIET: usize = 4;

/// An image format for QR codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `image/svg+xml`: scales without loss, small.
    Svg,
    /// `image/png`: for places that take no SVG.
    Png,
}

impl Format {
    /// Reads `svg` or `png`.
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "svg" => Some(Format::Svg),
            "png" => Some(Format::Png),
            _ => None,
        }
    }

    /// The `Content-Type` of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Svg => "image/svg+xml",
            Format::Png => "image/png",
        }
    }
}

/// Why a QR code could not be made.
#[derive(Debug, Error)]
pub enum QrError {
    /// The size is outside [`MIN_SIZE`]..=[`MAX_SIZE`].
    #[error("size must be from {MIN_SIZE} to {MAX_SIZE} pixels")]
    Size,
    /// The text does not fit in a QR code.
    #[error("the text is too long for a QR code: {0}")]
    Encode(#[from] qrcode::types::QrError),
    /// Writing the PNG failed.
    #[error("cannot write the PNG: {0}")]
    Png(#[from] png::EncodingError),
}

/// A QR code of `text` about `size` pixels square (at most `size`, a whole
/// number of pixels per module), in `format`.
///
/// # Errors
/// [`QrError::Size`] for a size out of range; texts too long to encode.
pub fn render(text: &str, format: Format, size: u32) -> Result<Vec<u8>, QrError> {
    if !(MIN_SIZE..=MAX_SIZE).contains(&size) {
        return Err(QrError::Size);
    }
    let code = QrCode::new(text.as_bytes())?;
    match format {
        Format::Svg => {
            let svg = code
                .render::<qrcode::render::svg::Color<'_>>()
                .quiet_zone(true)
                .min_dimensions(size, size)
                .build();
            Ok(svg.into_bytes())
        }
        Format::Png => png_of(&code, size),
    }
}

/// Draws `code` as an 8-bit greyscale PNG of at most `size` pixels a side.
fn png_of(code: &QrCode, size: u32) -> Result<Vec<u8>, QrError> {
    let modules = code.width();
    let colors = code.to_colors();
    let side = modules + 2 * QUIET;
    // At least one pixel a module, even when `size` is smaller than the code.
    let scale = (size as usize / side).max(1);
    let pixels = side * scale;
    let mut image = vec![255u8; pixels * pixels];
    for (i, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules + QUIET, i / modules + QUIET);
        for y in my * scale..(my + 1) * scale {
            let row = y * pixels;
            image[row + mx * scale..row + (mx + 1) * scale].fill(0);
        }
    }
    let mut out = Vec::new();
    let dim = u32::try_from(pixels).map_err(|_| QrError::Size)?;
    let mut encoder = png::Encoder::new(&mut out, dim, dim);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&image)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_and_png_come_out_and_sizes_are_checked() {
        let svg = render("https://s.example/abc", Format::Svg, 256).unwrap();
        let svg = String::from_utf8(svg).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
        let png = render("https://s.example/abc", Format::Png, 256).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        for bad in [0, MIN_SIZE - 1, MAX_SIZE + 1] {
            assert!(matches!(render("x", Format::Png, bad), Err(QrError::Size)));
        }
        assert_eq!(Format::parse("gif"), None);
        assert!(render(&"x".repeat(5000), Format::Svg, 256).is_err());
    }
}
