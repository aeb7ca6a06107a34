//! `docs/kurz.sxcu`, the ShareX custom uploader for kurz, replayed as ShareX
//! sends it against a real server on loopback: the request it describes
//! creates a link, and its `URL` and `ErrorMessage` templates find the short
//! URL and the error in kurz's answers.

mod common;

use common::{request, start_server, KEY};
use hyper::Method;
use serde_json::Value;

const KEY_PLACEHOLDER: &str = "PASTE-YOUR-KURZ-API-KEY-HERE";

fn uploader() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/kurz.sxcu");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// ShareX's `{json:field}` template applied to an answer.
fn json_template(template: &str, answer: &Value) -> String {
    let field = template
        .strip_prefix("{json:")
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or_else(|| panic!("not a {{json:…}} template: {template}"));
    answer[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string '{field}' in {answer}"))
        .to_owned()
}

/// Sends what ShareX sends for `input`: the uploader's method, path, headers
/// (with the key pasted in) and JSON body with `{input}` JSON-escaped.
async fn replay(s: &common::TestServer, sxcu: &Value, input: &str) -> common::Resp {
    let method = Method::from_bytes(sxcu["RequestMethod"].as_str().unwrap().as_bytes()).unwrap();
    let url = url::Url::parse(sxcu["RequestURL"].as_str().unwrap()).unwrap();
    let mut headers: Vec<(String, String)> = sxcu["Headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().replace(KEY_PLACEHOLDER, KEY)))
        .collect();
    assert_eq!(sxcu["Body"], "JSON");
    headers.push(("content-type".into(), "application/json".into()));
    let escaped = serde_json::to_string(input).unwrap();
    let body = sxcu["Data"]
        .as_str()
        .unwrap()
        .replace("{input}", &escaped[1..escaped.len() - 1]);
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    request(s.addr, method, url.path(), &h, Some(body.as_bytes())).await
}

#[tokio::test]
async fn the_sharex_uploader_shortens_and_reports_errors() {
    let sxcu = uploader();
    assert_eq!(sxcu["DestinationType"], "URLShortener");
    assert!(sxcu["Headers"]["Authorization"]
        .as_str()
        .unwrap()
        .contains(KEY_PLACEHOLDER));
    let s = start_server().await;

    let target = "https://example.org/a \"quoted\" path?x=1&y=\\";
    let r = replay(&s, &sxcu, "https://example.org/shared?x=1&y=2").await;
    assert_eq!(r.status, 201, "{}", r.text());
    let short = json_template(sxcu["URL"].as_str().unwrap(), &r.json());
    let path = url::Url::parse(&short).unwrap().path().to_owned();
    let hop = s.get(&path).await;
    assert_eq!(hop.status, 302);
    assert_eq!(
        hop.header("location"),
        Some("https://example.org/shared?x=1&y=2")
    );

    // A URL kurz refuses (here with quotes and a backslash, which the JSON
    // escaping must carry intact): ShareX shows the problem's detail.
    let r = replay(&s, &sxcu, target).await;
    assert_eq!(r.status, 422, "{}", r.text());
    let message = json_template(sxcu["ErrorMessage"].as_str().unwrap(), &r.json());
    assert!(message.contains("url"), "{message}");
    s.stop().await;
}
