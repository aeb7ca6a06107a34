//! QR codes of short links over a real loopback socket: the PNG decodes
//! (with a QR reader) to exactly the link's short URL, the SVG is an SVG,
//! and bad formats, sizes, slugs and keys get their documented errors.

mod common;

use common::{request, start_server};
use hyper::Method;

/// Decodes a greyscale PNG and reads the QR code in it.
fn read_qr(png_bytes: &[u8]) -> String {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().unwrap().1
}

#[tokio::test]
async fn the_png_reads_back_as_the_short_url_and_the_svg_is_an_svg() {
    let s = start_server().await;
    let link = s
        .create(r#"{"url": "https://example.com/qr", "slug": "qr-me"}"#)
        .await;
    let short = link["short_url"].as_str().unwrap().to_owned();

    let r = s
        .api(Method::GET, "/api/links/qr-me/qr?format=png&size=300", None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert_eq!(read_qr(&r.body), short);
    // At most the size asked for, a whole number of pixels per module.
    let decoder = png::Decoder::new(std::io::Cursor::new(r.body.to_vec()));
    let side = decoder.read_info().unwrap().info().width;
    assert!((150..=300).contains(&side), "{side}");

    let r = s.api(Method::GET, "/api/links/qr-me/qr", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/svg+xml"));
    let svg = r.text();
    assert!(
        svg.contains("<svg") && svg.trim_end().ends_with("</svg>"),
        "{svg:.200}"
    );
    s.stop().await;
}

#[tokio::test]
async fn bad_qr_requests_get_their_errors() {
    let s = start_server().await;
    s.create(r#"{"url": "https://example.com/qr", "slug": "qr-me"}"#)
        .await;
    for (path, status) in [
        ("/api/links/qr-me/qr?format=gif", 400),
        ("/api/links/qr-me/qr?size=0", 400),
        ("/api/links/qr-me/qr?size=5000", 400),
        ("/api/links/qr-me/qr?size=abc", 400),
        ("/api/links/qr-me/qr?format=png&size=63", 400),
        ("/api/links/nope/qr", 404),
    ] {
        let r = s.api(Method::GET, path, None).await;
        r.assert_problem(status);
    }
    let r = s.api(Method::POST, "/api/links/qr-me/qr", Some("{}")).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET"));
    let r = request(s.addr, Method::GET, "/api/links/qr-me/qr", &[], None).await;
    assert_eq!(r.status, 401);
    s.stop().await;
}
