//! The request's parameters, as PHP's `$_REQUEST` holds them: the query
//! string, then a POST body's form fields, a later field winning.
//!
//! A body counts when it is `application/x-www-form-urlencoded` or
//! `multipart/form-data` (what PHP's curl sends for an array of fields, as
//! in YOURLS's own examples); file parts and any other body are ignored, as
//! PHP leaves them out of `$_REQUEST`. Bodies are read up to
//! [`MAX_BODY`](crate::http::wire::MAX_BODY).

use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, StatusCode};

use super::output::Answer;
use crate::http::incoming::BodyError;
use crate::http::wire::MAX_BODY;

/// Request parameters in order; a later one of the same name wins, as in PHP.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parameters of a query string or an urlencoded body.
    pub fn parse(bytes: &[u8]) -> Params {
        Params(url::form_urlencoded::parse(bytes).into_owned().collect())
    }

    /// The query's parameters followed by the body's: POST over GET.
    pub fn then(mut self, body: Params) -> Params {
        self.0.extend(body.0);
        self
    }

    /// The value of `name` (PHP's `isset`: present, maybe empty).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How a body's fields are written.
enum Encoding {
    Urlencoded,
    Multipart(String),
}

/// The form fields of a POST body; none for other methods and body types.
///
/// # Errors
/// YOURLS-shaped 413 for a body over the cap, 400 for one that breaks off.
pub async fn read_form(req: Request<Incoming>) -> Result<Params, Answer> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let encoding = match encoding(content_type) {
        Some(e) if req.method() == Method::POST => e,
        _ => return Ok(Params::default()),
    };
    let body = match crate::http::incoming::read(req, MAX_BODY).await {
        Ok(body) => body,
        Err(e @ BodyError::TooLarge(_)) => {
            return Err(Answer::error(StatusCode::PAYLOAD_TOO_LARGE, &e.to_string()))
        }
        Err(e @ BodyError::Unreadable) => {
            return Err(Answer::error(StatusCode::BAD_REQUEST, &e.to_string()))
        }
    };
    Ok(match encoding {
        Encoding::Urlencoded => Params::parse(&body),
        Encoding::Multipart(boundary) => Params(multipart(&body, &boundary)),
    })
}

/// The encoding a `Content-Type` names, if it is a form's.
fn encoding(content_type: &str) -> Option<Encoding> {
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Some(Encoding::Urlencoded);
    }
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .map(Encoding::Multipart)
}

/// The named, non-file fields of a `multipart/form-data` body (RFC 7578),
/// in order. What does not parse is left out, as PHP leaves it out.
fn multipart(body: &[u8], boundary: &str) -> Vec<(String, String)> {
    let delimiter = format!("\r\n--{boundary}");
    let mut fields = Vec::new();
    // The first delimiter may open the body without the CRLF before it.
    let opening = &delimiter.as_bytes()[2..];
    let Some(start) = find(body, opening) else {
        return fields;
    };
    let mut rest = &body[start + opening.len()..];
    loop {
        // After a delimiter: `--` ends the body, else the part's line ends.
        if rest.starts_with(b"--") {
            break;
        }
        let Some(line_end) = find(rest, b"\r\n") else {
            break;
        };
        rest = &rest[line_end + 2..];
        let Some(end) = find(rest, delimiter.as_bytes()) else {
            break;
        };
        let part = &rest[..end];
        rest = &rest[end + delimiter.len()..];
        let Some(head_end) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..head_end]);
        let value = &part[head_end + 4..];
        if let Some(name) = field_name(&head) {
            fields.push((name, String::from_utf8_lossy(value).into_owned()));
        }
    }
    fields
}

/// The `name` of a part's `Content-Disposition: form-data`, unless the
/// part is a file.
fn field_name(head: &str) -> Option<String> {
    let disposition = head.split("\r\n").find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-disposition")
            .then_some(v)
    })?;
    let mut params = disposition.split(';');
    if !params.next()?.trim().eq_ignore_ascii_case("form-data") {
        return None;
    }
    let mut name = None;
    for p in params {
        let (k, v) = p.split_once('=')?;
        let v = v.trim().trim_matches('"');
        match k.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(v.to_owned()),
            "filename" | "filename*" => return None,
            _ => {}
        }
    }
    name
}

/// Where `needle` first occurs in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_parameters_win_over_the_query() {
        let p = Params::parse(b"action=expand&format=xml&format=json")
            .then(Params::parse(b"format=simple"));
        assert_eq!(p.get("format"), Some("simple"));
        assert_eq!(p.get("action"), Some("expand"));
        assert_eq!(p.get("nothing"), None);
        assert_eq!(Params::parse(b"keyword=").get("keyword"), Some(""));
    }

    #[test]
    fn multipart_fields_are_read_and_files_left_out() {
        let body = b"--XyZ\r\n\
            Content-Disposition: form-data; name=\"action\"\r\n\r\n\
            shorturl\r\n\
            --XyZ\r\n\
            content-disposition: form-data; name=\"url\"\r\n\
            Content-Type: text/plain\r\n\r\n\
            https://a.example/?x=1&y=2\r\n\
            --XyZ\r\n\
            Content-Disposition: form-data; name=\"upload\"; filename=\"a.txt\"\r\n\r\n\
            file body\r\n\
            --XyZ\r\n\
            Content-Disposition: form-data; name=\"title\"\r\n\r\n\
            two\r\nlines\r\n\
            --XyZ--\r\n";
        let Some(Encoding::Multipart(b)) = encoding("multipart/form-data; boundary=\"XyZ\"") else {
            panic!("not multipart");
        };
        assert_eq!(
            multipart(body, &b),
            [
                ("action".to_owned(), "shorturl".to_owned()),
                ("url".to_owned(), "https://a.example/?x=1&y=2".to_owned()),
                ("title".to_owned(), "two\r\nlines".to_owned()),
            ]
        );
        // Broken bodies give what parsed before the break, never a panic.
        for cut in 0..body.len() {
            let _ = multipart(&body[..cut], "XyZ");
        }
        assert!(multipart(b"no delimiter here", "XyZ").is_empty());
        assert!(encoding("multipart/form-data").is_none());
        assert!(encoding("application/json").is_none());
        assert!(matches!(
            encoding("Application/X-WWW-Form-Urlencoded; charset=utf-8"),
            Some(Encoding::Urlencoded)
        ));
    }
}
