//! Tags over a real loopback socket: set on create and PATCH, listed with
//! `?tag=` from the tag index (newest first, paged, with `q=`), refused when
//! bad without changing anything, kept across a restart and an export →
//! import round trip.

mod common;

use common::{start_in, start_server, Options, TestServer};
use hyper::Method;
use serde_json::{json, Value};

async fn slugs(s: &TestServer, query: &str) -> (Vec<String>, Option<String>) {
    let r = s
        .api(Method::GET, &format!("/api/links?{query}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    let slugs = j["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["slug"].as_str().unwrap().to_owned())
        .collect();
    (slugs, j["next_cursor"].as_str().map(str::to_owned))
}

async fn patch(s: &TestServer, slug: &str, body: &str) -> Value {
    let r = s
        .api(Method::PATCH, &format!("/api/links/{slug}"), Some(body))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

async fn link(s: &TestServer, slug: &str) -> Value {
    let r = s
        .api(Method::GET, &format!("/api/links/{slug}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[tokio::test]
async fn tags_are_lower_cased_sorted_without_repeats_and_always_shown() {
    let s = start_server().await;
    let j = s
        .create(r#"{"url":"https://a.example/","slug":"t","tags":["Work","news","WORK","a-1"]}"#)
        .await;
    assert_eq!(j["tags"], json!(["a-1", "news", "work"]));
    assert_eq!(link(&s, "t").await["tags"], json!(["a-1", "news", "work"]));
    let plain = s.create(r#"{"url":"https://b.example/"}"#).await;
    assert_eq!(plain["tags"], json!([]));
    let nulled = s
        .create(r#"{"url":"https://b.example/","tags":null}"#)
        .await;
    assert_eq!(nulled["tags"], json!([]));

    // PATCH: absent leaves them, an array replaces them, null and [] clear.
    let j = patch(&s, "t", r#"{"max_clicks":5}"#).await;
    assert_eq!(j["tags"], json!(["a-1", "news", "work"]));
    let j = patch(&s, "t", r#"{"tags":["Zed","b"]}"#).await;
    assert_eq!(j["tags"], json!(["b", "zed"]));
    assert_eq!(patch(&s, "t", r#"{"tags":null}"#).await["tags"], json!([]));
    patch(&s, "t", r#"{"tags":["x"]}"#).await;
    assert_eq!(patch(&s, "t", r#"{"tags":[]}"#).await["tags"], json!([]));
    assert_eq!(slugs(&s, "tag=x").await.0, Vec::<String>::new());
    s.stop().await;
}

#[tokio::test]
async fn a_tag_lists_its_links_newest_first_page_by_page_and_with_q() {
    let s = start_server().await;
    for i in 0..9 {
        let tags = if i % 4 == 3 {
            r#"["other"]"#
        } else {
            r#"["Team","x"]"#
        };
        s.create(&format!(
            r#"{{"url":"https://site{}.example/p{i}","slug":"k{i}","tags":{tags}}}"#,
            i % 2
        ))
        .await;
    }
    // Tagged: k0 k1 k2 k4 k5 k6 k8 (k3, k7 are "other"), 7 links.
    let mut seen = Vec::new();
    let mut query = "tag=team&limit=3".to_owned();
    let mut pages = 0;
    loop {
        let (page, next) = slugs(&s, &query).await;
        assert!(page.len() <= 3);
        seen.extend(page);
        pages += 1;
        match next {
            Some(c) => query = format!("tag=team&limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["k8", "k6", "k5", "k4", "k2", "k1", "k0"]);
    assert_eq!(pages, 3);
    // Any case is the same tag.
    assert_eq!(slugs(&s, "tag=TEAM&limit=50").await.0, seen);
    assert_eq!(slugs(&s, "tag=other").await.0, ["k7", "k3"]);
    assert!(slugs(&s, "tag=nobody").await.0.is_empty());

    // tag and q: the tagged links on site1 (odd numbers).
    assert_eq!(slugs(&s, "tag=team&q=SITE1").await.0, ["k5", "k1"]);
    let (page, next) = slugs(&s, "tag=team&q=site1&limit=1").await;
    assert_eq!(page, ["k5"]);
    let (page, _) = slugs(
        &s,
        &format!("tag=team&q=site1&limit=1&cursor={}", next.unwrap()),
    )
    .await;
    assert_eq!(page, ["k1"]);
    s.stop().await;
}

#[tokio::test]
async fn changes_and_deletes_move_links_between_tag_listings() {
    let s = start_server().await;
    for slug in ["a", "b", "c"] {
        s.create(&format!(
            r#"{{"url":"https://x.example/{slug}","slug":"{slug}","tags":["red"]}}"#
        ))
        .await;
    }
    patch(&s, "b", r#"{"tags":["blue","Red"]}"#).await;
    patch(&s, "c", r#"{"tags":["blue"]}"#).await;
    assert_eq!(slugs(&s, "tag=red").await.0, ["b", "a"]);
    assert_eq!(slugs(&s, "tag=blue").await.0, ["c", "b"]);

    let r = s.api(Method::DELETE, "/api/links/b", None).await;
    assert_eq!(r.status, 204);
    assert_eq!(slugs(&s, "tag=red").await.0, ["a"]);
    assert_eq!(slugs(&s, "tag=blue").await.0, ["c"]);
    // The slug made again, without tags, is in no tag listing.
    s.create(r#"{"url":"https://x.example/again","slug":"b"}"#)
        .await;
    assert_eq!(slugs(&s, "tag=blue").await.0, ["c"]);
    assert_eq!(slugs(&s, "tag=red").await.0, ["a"]);
    s.stop().await;
}

#[tokio::test]
async fn bad_tags_are_refused_naming_the_tag_and_nothing_changes() {
    let s = start_server().await;
    s.create(r#"{"url":"https://a.example/","slug":"keep","tags":["good"]}"#)
        .await;
    let long = "x".repeat(33);
    let many: Vec<String> = (0..17).map(|i| format!("t{i}")).collect();
    let many = serde_json::to_string(&many).unwrap();
    let cases: Vec<(String, u16, &str)> = vec![
        (r#"["ok","a_b"]"#.to_owned(), 422, "'a_b'"),
        (format!(r#"["{long}"]"#), 422, &long),
        (r#"[""]"#.to_owned(), 422, "''"),
        (r#"["ä"]"#.to_owned(), 422, "'ä'"),
        (many, 422, "17 tags"),
        // A wrong JSON type is a 400, as for every field, naming the tag.
        (r#"[1]"#.to_owned(), 400, "tags[0]: must be a tag as text"),
        (r#""good""#.to_owned(), 400, "tags: must be a list of tags"),
        (
            r#"[["a"]]"#.to_owned(),
            400,
            "tags[0]: must be a tag as text",
        ),
    ];
    for (tags, status, names) in &cases {
        let r = s
            .api(
                Method::POST,
                "/api/links",
                Some(&format!(
                    r#"{{"url":"https://b.example/","slug":"new","tags":{tags}}}"#
                )),
            )
            .await;
        let detail = r.assert_problem(*status);
        assert!(
            *status == 400 || detail.contains("tags"),
            "{tags}: {detail}"
        );
        assert!(detail.contains(names), "{tags}: {detail}");
        let r = s
            .api(
                Method::PATCH,
                "/api/links/keep",
                Some(&format!(r#"{{"url":"https://c.example/","tags":{tags}}}"#)),
            )
            .await;
        let detail = r.assert_problem(*status);
        assert!(detail.contains(names), "{tags}: {detail}");
    }
    // Nothing was made, nothing was changed.
    s.api(Method::GET, "/api/links/new", None)
        .await
        .assert_problem(404);
    let kept = link(&s, "keep").await;
    assert_eq!(kept["url"], "https://a.example/");
    assert_eq!(kept["tags"], json!(["good"]));
    assert_eq!(slugs(&s, "").await.0, ["keep"]);
    assert_eq!(slugs(&s, "tag=good").await.0, ["keep"]);
    // Sixteen different tags (and repeats beyond) are fine.
    let sixteen: Vec<String> = (0..20).map(|i| format!("T{}", i % 16)).collect();
    let j = patch(&s, "keep", &json!({ "tags": sixteen }).to_string()).await;
    assert_eq!(j["tags"].as_array().unwrap().len(), 16);

    // A bad tag to list by is a 400 too.
    for bad in ["a_b", "", "%20"] {
        let r = s
            .api(Method::GET, &format!("/api/links?tag={bad}"), None)
            .await;
        let detail = r.assert_problem(400);
        assert!(detail.starts_with("tag: "), "{detail}");
    }
    s.stop().await;
}

#[tokio::test]
async fn tags_survive_a_restart_and_an_export_import_round_trip() {
    let s = start_server().await;
    s.create(r#"{"url":"https://a.example/","slug":"one","tags":["keep","b"]}"#)
        .await;
    s.create(r#"{"url":"https://a.example/2","slug":"two","tags":["keep"]}"#)
        .await;
    s.create(r#"{"url":"https://a.example/3","slug":"three"}"#)
        .await;
    let data = s.data.clone();
    let dir = s.stop().await;
    let s = start_in(&data, Options::default()).await;
    assert_eq!(link(&s, "one").await["tags"], json!(["b", "keep"]));
    assert_eq!(slugs(&s, "tag=keep").await.0, ["two", "one"]);

    let export = s.api(Method::GET, "/api/export", None).await;
    assert_eq!(export.status, 200);
    let text = export.text();
    let records: Vec<kurz::store::ExportRecord> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Tags are omitted when empty, so exports of older kurz still import.
    for line in text.lines() {
        assert_eq!(
            line.contains("\"tags\""),
            !line.contains("\"three\""),
            "{line}"
        );
    }
    s.stop().await;
    drop(dir);

    let other = tempfile::tempdir().unwrap();
    {
        let store = kurz::store::Store::open(other.path(), 1 << 20).unwrap();
        let rules = kurz::target::TargetRules::new(None);
        // A bad tag in a record: refused whole, nothing stored.
        let mut bad = records[0].clone();
        bad.slug = "bad".into();
        bad.tags = vec!["no_good".into()];
        match store.import(&bad, &rules).unwrap() {
            kurz::store::ImportOutcome::Invalid(why) => {
                assert!(
                    why.starts_with("tags: ") && why.contains("no_good"),
                    "{why}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(store.get("bad").unwrap().is_none());
        for rec in &records {
            assert_eq!(
                store.import(rec, &rules).unwrap(),
                kurz::store::ImportOutcome::Imported
            );
        }
        store.flush_all().unwrap();
    }
    let s = start_in(other.path(), Options::default()).await;
    assert_eq!(link(&s, "one").await["tags"], json!(["b", "keep"]));
    assert_eq!(slugs(&s, "tag=keep").await.0, ["two", "one"]);
    assert_eq!(slugs(&s, "tag=b").await.0, ["one"]);
    s.stop().await;
}
