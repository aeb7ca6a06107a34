//! YOURLS's answer formats: `xml` (its default), `json`, `jsonp` and `simple`.
//!
//! An answer is an ordered list of fields, as YOURLS builds its PHP array,
//! plus the text of the `simple` format. The HTTP status comes from the
//! answer's own `statusCode`, else its `errorCode`, else 200, as in
//! `yourls_api_output`. JSON is written the way PHP's `json_encode` writes it
//! (`\/` and `\uXXXX` escapes), XML the way YOURLS's array-to-XML writes it
//! (`<root>`, one element per field, `&`, `<` and `>` escaped, control
//! characters dropped).

use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};

use crate::http::Body;

/// A value in an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// A string (YOURLS sends most numbers, `statusCode` included, as strings).
    Str(String),
    /// A whole number (counts).
    Int(u64),
    /// Named values, in order.
    Map(Vec<(String, Val)>),
}

impl From<&str> for Val {
    fn from(s: &str) -> Self {
        Val::Str(s.to_owned())
    }
}

impl From<String> for Val {
    fn from(s: String) -> Self {
        Val::Str(s)
    }
}

impl From<u64> for Val {
    fn from(n: u64) -> Self {
        Val::Int(n)
    }
}

/// One answer of the YOURLS API, before it is put in a format.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// The fields, in YOURLS's order.
    pub fields: Vec<(String, Val)>,
    /// What the `simple` format shows (empty when YOURLS has nothing).
    pub simple: String,
    /// An extra header (`Retry-After`, `Connection`).
    pub header: Option<(HeaderName, HeaderValue)>,
}

impl Answer {
    /// An empty answer.
    pub fn new() -> Self {
        Answer::default()
    }

    /// Appends (or, like a PHP array, overwrites in place) field `name`.
    pub fn set(&mut self, name: &str, value: impl Into<Val>) -> &mut Self {
        let value = value.into();
        match self.fields.iter_mut().find(|(k, _)| k == name) {
            Some((_, v)) => *v = value,
            None => self.fields.push((name.to_owned(), value)),
        }
        self
    }

    /// The value of field `name`, if set.
    pub fn get(&self, name: &str) -> Option<&Val> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// YOURLS's error shape: `message`, `errorCode`, and the `simple` text.
    pub fn error(status: StatusCode, message: &str) -> Self {
        let mut a = Answer::new();
        a.set("message", message)
            .set("errorCode", status.as_u16().to_string());
        a.simple = message.to_owned();
        a
    }

    /// The HTTP status: `statusCode` if set, else `errorCode`, else 200,
    /// read as PHP's `intval` would (a status it cannot be is 200).
    pub fn status(&self) -> StatusCode {
        let code = match (self.get("statusCode"), self.get("errorCode")) {
            (Some(Val::Str(s)), _) | (None, Some(Val::Str(s))) => leading_int(s),
            _ => 200,
        };
        u16::try_from(code)
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::OK)
    }
}

/// The leading whole number of `s`, as PHP's `intval` reads it (0 if none).
pub fn leading_int(s: &str) -> i64 {
    let s = s.trim_start();
    let (sign, digits) = match s.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end]
        .parse::<i64>()
        .map_or_else(|_| if end > 0 { i64::MAX } else { 0 }, |n| sign * n)
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/xml` (YOURLS's default).
    Xml,
    /// `application/json`.
    Json,
    /// `application/javascript`: `callback(json)`.
    Jsonp,
    /// `text/plain`: the answer's `simple` text; also any unknown format.
    Simple,
}

impl Format {
    /// The format named by `format` (absent: xml; unknown: simple).
    pub fn parse(format: Option<&str>) -> Format {
        match format {
            None | Some("xml") => Format::Xml,
            Some("json") => Format::Json,
            Some("jsonp") => Format::Jsonp,
            Some(_) => Format::Simple,
        }
    }
}

/// The response for `answer` in `format`.
pub fn render(format: Format, answer: Answer) -> Response<Body> {
    let mut status = answer.status();
    let mut header = answer.header.clone();
    let (content_type, body) = match format {
        Format::Json => ("application/json; charset=utf-8", json(&answer.fields)),
        Format::Xml => ("application/xml; charset=utf-8", xml(&answer.fields)),
        Format::Simple => ("text/plain; charset=utf-8", answer.simple.clone()),
        Format::Jsonp => {
            let callback = match answer.get("callback") {
                None => Some(String::new()),
                Some(Val::Str(c)) if valid_callback(c) => Some(c.clone()),
                Some(_) => None,
            };
            let body = match callback {
                Some(c) => format!("{c}({})", json(&answer.fields)),
                None => {
                    // This 400 replaces the answer, and any header it needed.
                    status = StatusCode::BAD_REQUEST;
                    header = None;
                    r#"{"errorCode":"400","error":"Invalid callback parameter"}"#.to_owned()
                }
            };
            ("application/javascript; charset=utf-8", body)
        }
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some((name, value)) = header {
        resp.headers_mut().insert(name, value);
    }
    resp
}

/// YOURLS's check of a JSONP callback: only `[a-zA-Z0-9_$.]`, at least one,
/// and no `u` followed by four hex digits (an escaped line separator).
pub fn valid_callback(c: &str) -> bool {
    let safe = !c.is_empty()
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b'.');
    let escape = c
        .as_bytes()
        .windows(5)
        .any(|w| w[0] == b'u' && w[1..].iter().all(u8::is_ascii_hexdigit));
    safe && !escape
}

/// Fields as a JSON object, escaped as PHP's `json_encode` does by default.
pub fn json(fields: &[(String, Val)]) -> String {
    let mut out = String::new();
    json_map(&mut out, fields);
    out
}

fn json_map(out: &mut String, fields: &[(String, Val)]) {
    if fields.is_empty() {
        // An empty PHP array is a list to json_encode.
        out.push_str("[]");
        return;
    }
    out.push('{');
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(out, k);
        out.push(':');
        match v {
            Val::Str(s) => json_str(out, s),
            Val::Int(n) => out.push_str(&n.to_string()),
            Val::Map(m) => json_map(out, m),
        }
    }
    out.push('}');
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
    }
    out.push('"');
}

/// Fields as YOURLS's XML document.
pub fn xml(fields: &[(String, Val)]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<root>");
    xml_fields(&mut out, fields);
    out.push_str("</root>\n");
    out
}

fn xml_fields(out: &mut String, fields: &[(String, Val)]) {
    for (k, v) in fields {
        // Names are ours (fixed words, `link_N`): always valid element names.
        out.push('<');
        out.push_str(k);
        out.push('>');
        match v {
            Val::Str(s) => xml_text(out, s),
            Val::Int(n) => out.push_str(&n.to_string()),
            Val::Map(m) => xml_fields(out, m),
        }
        out.push_str("</");
        out.push_str(k);
        out.push('>');
    }
}

fn xml_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '\n' => out.push('\n'),
            // Dropped, as YOURLS's converter drops them: XML 1.0 cannot hold them.
            c if c.is_ascii_control() => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<(String, Val)> {
        let mut a = Answer::new();
        a.set("status", "success")
            .set("code", "")
            .set(
                "url",
                Val::Map(vec![
                    ("url".into(), "https://a.example/?x=1&y=\"2\"".into()),
                    ("clicks".into(), 3u64.into()),
                ]),
            )
            .set("title", "é <b>&</b> \u{1F600}\u{1}");
        a.fields
    }

    #[test]
    fn json_is_written_as_php_writes_it() {
        assert_eq!(
            json(&sample()),
            r#"{"status":"success","code":"","url":{"url":"https:\/\/a.example\/?x=1&y=\"2\"","clicks":3},"title":"\u00e9 <b>&<\/b> \ud83d\ude00\u0001"}"#
        );
        assert_eq!(json(&[]), "[]");
    }

    #[test]
    fn xml_escapes_markup_and_drops_control_characters() {
        assert_eq!(
            xml(&sample()),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<root><status>success</status><code></code>\
             <url><url>https://a.example/?x=1&amp;y=\"2\"</url><clicks>3</clicks></url>\
             <title>é &lt;b&gt;&amp;&lt;/b&gt; \u{1F600}</title></root>\n"
        );
    }

    #[test]
    fn status_follows_status_code_then_error_code() {
        let mut a = Answer::error(StatusCode::FORBIDDEN, "Please log in");
        assert_eq!(a.status(), StatusCode::FORBIDDEN);
        a.set("statusCode", "200");
        assert_eq!(a.status(), StatusCode::OK);
        assert_eq!(Answer::new().status(), StatusCode::OK);
        a.set("statusCode", "");
        assert_eq!(a.status(), StatusCode::OK);
    }

    #[test]
    fn callbacks_and_intval_follow_yourls() {
        for good in ["cb", "jQuery_123.x$", "a.b.c"] {
            assert!(valid_callback(good), "{good}");
        }
        for bad in ["", "alert(1)", "a-b", "x\\u2028", "u2028", "a b"] {
            assert!(!valid_callback(bad), "{bad}");
        }
        assert_eq!(leading_int("10abc"), 10);
        assert_eq!(leading_int(" -5"), -5);
        assert_eq!(leading_int("abc"), 0);
        assert_eq!(leading_int(""), 0);
        assert_eq!(leading_int("99999999999999999999"), i64::MAX);
    }
}
