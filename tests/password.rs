//! Password-protected links over real sockets: the form, the right and the
//! wrong password, the lockout, `HEAD`, PATCH, bad input, a restart, and an
//! export and import. Each password costs an Argon2id hash (tens of ms), so
//! these tests set as few as they can.

mod common;

use hyper::{Method, StatusCode};

use common::{request, request_from, start_in, start_server, Options, Resp, TestServer};
use kurz::store::{ExportRecord, ImportOutcome, Store};
use kurz::target::TargetRules;

const FORM: &str = "application/x-www-form-urlencoded";

async fn post_password(s: &TestServer, slug: &str, password: &str) -> Resp {
    let body = format!("password={}", urlencode(password));
    request(
        s.addr,
        Method::POST,
        &format!("/{slug}"),
        &[("content-type", FORM)],
        Some(body.as_bytes()),
    )
    .await
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn clicks(s: &TestServer, slug: &str) -> u64 {
    let r = s
        .api(Method::GET, &format!("/api/links/{slug}/stats"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["clicks"].as_u64().unwrap()
}

/// The link's JSON, checked to show neither the password nor a hash.
async fn link_json(s: &TestServer, slug: &str) -> serde_json::Value {
    let r = s
        .api(Method::GET, &format!("/api/links/{slug}"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    no_secret(&r.text());
    r.json()
}

fn no_secret(text: &str) {
    assert!(!text.contains("argon2"), "a hash leaked: {text}");
    assert!(!text.contains("s3cret"), "a password leaked: {text}");
    assert!(
        !text.contains("password"),
        "a password field leaked: {text}"
    );
}

/// The form of a protected link, checked to be HTML without the target.
fn assert_form(r: &Resp, status: StatusCode, target: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    // The page's policy, but for where the form may lead (the target).
    let csp = r.header("content-security-policy").unwrap();
    assert_eq!(
        csp.replace("form-action 'self' http: https:", "form-action 'self'"),
        kurz::http::page::CSP
    );
    assert!(r.header("location").is_none());
    let text = r.text();
    assert!(
        !text.contains(target) && !text.contains("example.com"),
        "{text}"
    );
    for (name, v) in &r.headers {
        let v = v.to_str().unwrap_or_default();
        assert!(!v.contains("example.com"), "target in header {name}: {v}");
    }
}

#[tokio::test]
async fn the_right_password_redirects_with_303_and_counts_the_wrong_one_does_not() {
    let s = start_server().await;
    let target = "https://example.com/secret-place";
    let created = s
        .create(&format!(
            r#"{{"url":"{target}","slug":"locked","password":"s3cret pass"}}"#
        ))
        .await;
    assert_eq!(created["protected"], true);
    no_secret(&created.to_string());
    assert_eq!(link_json(&s, "locked").await["protected"], true);
    let list = s.api(Method::GET, "/api/links", None).await;
    no_secret(&list.text());
    assert_eq!(list.json()["links"][0]["protected"], true);

    // GET: the form, not a click.
    let form = s.get("/locked").await;
    assert_form(&form, StatusCode::OK, target);
    let html = form.text();
    assert!(html.contains("<form method=\"post\">"), "{html}");
    assert!(html.contains("type=\"password\"") && html.contains("name=\"password\""));
    assert!(!html.contains("<script"), "{html}");
    // HEAD: the same headers, never a Location.
    let head = request(s.addr, Method::HEAD, "/locked", &[], None).await;
    assert_form(&head, StatusCode::OK, target);
    assert!(head.body.is_empty());
    assert_eq!(clicks(&s, "locked").await, 0);

    // Wrong: the form again, with a message; not a click.
    let wrong = post_password(&s, "locked", "s3cret wrong").await;
    assert_form(&wrong, StatusCode::UNAUTHORIZED, target);
    assert!(wrong.text().contains("Wrong password"));
    assert_eq!(clicks(&s, "locked").await, 0);

    // Right: 303 to the target, one click.
    let right = post_password(&s, "locked", "s3cret pass").await;
    assert_eq!(right.status, StatusCode::SEE_OTHER, "{}", right.text());
    assert_eq!(right.header("location"), Some(target));
    assert_eq!(right.header("cache-control"), Some("no-store"));
    assert_eq!(clicks(&s, "locked").await, 1);
    s.stop().await;
}

#[tokio::test]
async fn a_link_that_redirects_with_308_still_answers_the_password_with_303() {
    let s = start_server().await;
    s.create(
        r#"{"url":"https://example.com/p","slug":"perm","redirect_status":308,"password":"pw"}"#,
    )
    .await;
    let right = post_password(&s, "perm", "pw").await;
    assert_eq!(right.status, StatusCode::SEE_OTHER, "{}", right.text());
    assert_eq!(right.header("location"), Some("https://example.com/p"));
    assert_eq!(clicks(&s, "perm").await, 1);

    // A click limit applies to unlocked clicks as to GETs.
    s.api(
        Method::PATCH,
        "/api/links/perm",
        Some(r#"{"max_clicks":1}"#),
    )
    .await;
    post_password(&s, "perm", "pw").await.assert_problem(410);
    s.get("/perm").await.assert_problem(410);
    assert_eq!(clicks(&s, "perm").await, 1);
    s.stop().await;
}

#[tokio::test]
async fn five_wrong_passwords_lock_that_link_and_client_for_a_while() {
    let s = start_server().await;
    s.create(r#"{"url":"https://example.com/a","slug":"guarded","password":"right"}"#)
        .await;
    s.create(r#"{"url":"https://example.com/b","slug":"other","password":"right"}"#)
        .await;
    for _ in 0..5 {
        let r = post_password(&s, "guarded", "wrong").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Locked now: even the right password waits, and nothing is counted.
    for pw in ["wrong", "right"] {
        let r = post_password(&s, "guarded", pw).await;
        r.assert_problem(429);
        let secs: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&secs), "{secs}");
    }
    assert_eq!(clicks(&s, "guarded").await, 0);
    // Another link, and another client, are not locked.
    let r = post_password(&s, "other", "right").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let elsewhere = request_from(
        Some([127, 0, 0, 2].into()),
        s.addr,
        Method::POST,
        "/guarded",
        &[("content-type", FORM)],
        Some(b"password=right"),
    )
    .await;
    assert_eq!(
        elsewhere.status,
        StatusCode::SEE_OTHER,
        "{}",
        elsewhere.text()
    );
    // The form itself is still shown (GET is not a guess).
    assert_eq!(s.get("/guarded").await.status, StatusCode::OK);
    s.stop().await;
}

#[tokio::test]
async fn patch_sets_changes_and_removes_the_password() {
    let s = start_server().await;
    s.create(r#"{"url":"https://example.com/x","slug":"open"}"#)
        .await;
    assert_eq!(link_json(&s, "open").await["protected"], false);
    // POST on a link without a password: nothing to unlock.
    post_password(&s, "open", "any").await.assert_problem(400);

    let r = s
        .api(
            Method::PATCH,
            "/api/links/open",
            Some(r#"{"password":"s3cret one"}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    no_secret(&r.text());
    assert_eq!(r.json()["protected"], true);
    assert_eq!(s.get("/open").await.status, StatusCode::OK);

    // Another field changed: the password stays.
    let r = s
        .api(
            Method::PATCH,
            "/api/links/open",
            Some(r#"{"max_clicks":100}"#),
        )
        .await;
    assert_eq!(r.json()["protected"], true);

    s.api(
        Method::PATCH,
        "/api/links/open",
        Some(r#"{"password":"s3cret two"}"#),
    )
    .await;
    assert_eq!(
        post_password(&s, "open", "s3cret one").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post_password(&s, "open", "s3cret two").await.status,
        StatusCode::SEE_OTHER
    );

    let r = s
        .api(
            Method::PATCH,
            "/api/links/open",
            Some(r#"{"password":null}"#),
        )
        .await;
    assert_eq!(r.json()["protected"], false);
    let g = s.get("/open").await;
    assert_eq!(g.status, StatusCode::FOUND);
    assert_eq!(g.header("location"), Some("https://example.com/x"));
    s.stop().await;
}

#[tokio::test]
async fn bad_passwords_and_bad_forms_are_refused_and_change_nothing() {
    let s = start_server().await;
    s.create(r#"{"url":"https://example.com/k","slug":"kept","password":"pw"}"#)
        .await;
    let long = "x".repeat(1025);
    for body in [
        r#"{"url":"https://example.com/n","slug":"new1","password":""}"#.to_owned(),
        format!(r#"{{"url":"https://example.com/n","slug":"new1","password":"{long}"}}"#),
    ] {
        let d = s
            .api(Method::POST, "/api/links", Some(&body))
            .await
            .assert_problem(422);
        assert!(d.starts_with("password"), "{d}");
    }
    let d = s
        .api(
            Method::POST,
            "/api/links",
            Some(r#"{"url":"https://example.com/n","slug":"new1","password":5}"#),
        )
        .await
        .assert_problem(400);
    assert!(d.starts_with("password: must be text"), "{d}");
    s.api(Method::GET, "/api/links/new1", None)
        .await
        .assert_problem(404);

    for body in [
        r#"{"password":""}"#.to_owned(),
        format!(r#"{{"password":"{long}"}}"#),
    ] {
        s.api(Method::PATCH, "/api/links/kept", Some(&body))
            .await
            .assert_problem(422);
    }
    s.api(Method::PATCH, "/api/links/kept", Some(r#"{"password":[]}"#))
        .await
        .assert_problem(400);

    // Forms: another content type, too large, no password field.
    let json = request(
        s.addr,
        Method::POST,
        "/kept",
        &[("content-type", "application/json")],
        Some(br#"{"password":"pw"}"#),
    )
    .await;
    json.assert_problem(415);
    let huge = format!("password={}", "a".repeat(5000));
    request(
        s.addr,
        Method::POST,
        "/kept",
        &[("content-type", FORM)],
        Some(huge.as_bytes()),
    )
    .await
    .assert_problem(413);
    let d = request(
        s.addr,
        Method::POST,
        "/kept",
        &[("content-type", FORM)],
        Some(b"pass=pw"),
    )
    .await
    .assert_problem(400);
    assert!(d.starts_with("password"), "{d}");
    post_password(&s, "nosuchlink", "pw")
        .await
        .assert_problem(404);

    // Still protected by the same password, never clicked.
    assert_eq!(link_json(&s, "kept").await["protected"], true);
    assert_eq!(clicks(&s, "kept").await, 0);
    assert_eq!(
        post_password(&s, "kept", "pw").await.status,
        StatusCode::SEE_OTHER
    );
    s.stop().await;
}

#[tokio::test]
async fn the_protection_survives_a_restart_and_an_export_and_import() {
    let s = start_server().await;
    s.create(r#"{"url":"https://example.com/r","slug":"kept","password":"s3cret"}"#)
        .await;
    s.create(r#"{"url":"https://example.com/o","slug":"plain"}"#)
        .await;
    let dir = s.stop().await.unwrap();
    let s = start_in(dir.path(), Options::default()).await;
    assert_eq!(s.get("/kept").await.status, StatusCode::OK);
    assert_eq!(
        post_password(&s, "kept", "s3cret").await.status,
        StatusCode::SEE_OTHER
    );

    let export = s.api(Method::GET, "/api/export", None).await;
    assert_eq!(export.status, StatusCode::OK);
    let text = export.text();
    assert!(!text.contains("s3cret"), "{text}");
    let records: Vec<ExportRecord> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kept = records.iter().find(|r| r.slug == "kept").unwrap();
    assert!(kept
        .password_hash
        .as_deref()
        .unwrap()
        .starts_with("$argon2id$"));
    let plain = records.iter().find(|r| r.slug == "plain").unwrap();
    assert_eq!(plain.password_hash, None);
    assert!(!text
        .lines()
        .find(|l| l.contains("\"plain\""))
        .unwrap()
        .contains("password_hash"));
    s.stop().await;

    // Into a fresh store: the imported link asks for the same password.
    let fresh = tempfile::tempdir().unwrap();
    {
        let store = Store::open(fresh.path(), 16 << 20).unwrap();
        let rules = TargetRules::new(None);
        let mut bad = kept.clone();
        bad.slug = "badhash".into();
        bad.password_hash = Some("$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into());
        match store.import(&bad, &rules).unwrap() {
            ImportOutcome::Invalid(why) => assert!(why.starts_with("password_hash"), "{why}"),
            other => panic!("a non-Argon2id hash was imported: {other:?}"),
        }
        for r in &records {
            assert_eq!(store.import(r, &rules).unwrap(), ImportOutcome::Imported);
        }
        store.flush_all().unwrap();
    }
    let s = start_in(fresh.path(), Options::default()).await;
    assert_eq!(link_json(&s, "kept").await["protected"], true);
    assert_eq!(s.get("/kept").await.status, StatusCode::OK);
    assert_eq!(
        post_password(&s, "kept", "wrong").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post_password(&s, "kept", "s3cret").await.status,
        StatusCode::SEE_OTHER
    );
    s.api(Method::GET, "/api/links/badhash", None)
        .await
        .assert_problem(404);
    s.stop().await;
}

/// Guesses sent all at once cannot slip past the lockout together: a try
/// counts from when it starts, not from when its hash check ends.
#[tokio::test]
async fn parallel_guesses_get_at_most_five_tries() {
    let s = start_server().await;
    s.create(r#"{"url":"https://example.com/z","slug":"rush","password":"right"}"#)
        .await;
    let mut tries = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let addr = s.addr;
        tries.spawn(async move {
            request(
                addr,
                Method::POST,
                "/rush",
                &[("content-type", FORM)],
                Some(b"password=wrong"),
            )
            .await
            .status
        });
    }
    let statuses = tries.join_all().await;
    let count = |want| statuses.iter().filter(|&&st| st == want).count();
    assert_eq!(
        (
            count(StatusCode::UNAUTHORIZED),
            count(StatusCode::TOO_MANY_REQUESTS)
        ),
        (5, 7),
        "{statuses:?}"
    );
    s.stop().await;
}

// Import took any Argon2id parameters the hasher accepts: a hash asking for
// 256 GiB made one anonymous wrong password drive RSS past 10 GiB.
#[test]
fn import_refuses_hashes_asking_for_absurd_work_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = kurz::password::hash("s3cret").unwrap();
    let costly = |params: &str| good.replace("m=19456,t=2,p=1", params);
    let line = |slug: &str, hash: &str| {
        format!(
            r#"{{"slug":"{slug}","url":"https://example.com/{slug}","created_at":"2026-01-02T03:04:05Z","password_hash":"{hash}"}}"#
        )
    };
    let text = [
        line("memory", &costly("m=268435455,t=2,p=1")),
        line("passes", &costly("m=19456,t=4000000,p=1")),
        line("fine", &good),
    ]
    .join("\n");
    let file = dir.path().join("in.jsonl");
    std::fs::write(&file, text + "\n").unwrap();
    let data = dir.path().join("data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kurz"))
        .arg("--data")
        .arg(&data)
        .arg("import")
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    for (n, params) in [(1, "m=268435455"), (2, "t=4000000")] {
        let reported = err
            .lines()
            .find(|l| l.starts_with(&format!("line {n}:")))
            .unwrap_or_else(|| panic!("line {n} not reported: {err}"));
        assert!(
            reported.contains("password_hash") && reported.contains(params),
            "{reported}"
        );
        assert!(reported.contains("at most m=65536"), "{reported}");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kurz"))
        .arg("--data")
        .arg(&data)
        .arg("export")
        .output()
        .unwrap();
    let exported = String::from_utf8_lossy(&out.stdout);
    assert_eq!(exported.lines().count(), 1, "{exported}");
    assert!(exported.contains(r#""slug":"fine""#), "{exported}");
}

// Both lockouts counted per exact address: 120 wrong passwords from 24
// rotating addresses (5 each) were all tried, within 4 s.
#[tokio::test]
async fn rotating_addresses_cannot_guess_a_link_faster_than_its_budget() {
    use kurz::http::lockout::{LINK_MAX_FAILURES, MAX_FAILURES};
    let s = start_server().await;
    s.create(r#"{"url":"https://example.com/r","slug":"rotated","password":"right"}"#)
        .await;
    s.create(r#"{"url":"https://example.com/o","slug":"bystander","password":"right"}"#)
        .await;
    let (mut wrong, mut refused) = (0, 0);
    for i in 0..24u8 {
        for _ in 0..MAX_FAILURES {
            let r = request_from(
                Some([127, 0, 1, i + 1].into()),
                s.addr,
                Method::POST,
                "/rotated",
                &[("content-type", FORM)],
                Some(b"password=wrong"),
            )
            .await;
            match r.status {
                StatusCode::UNAUTHORIZED => wrong += 1,
                StatusCode::TOO_MANY_REQUESTS => {
                    refused += 1;
                    assert!(r.text().contains("all addresses"), "{}", r.text());
                }
                other => panic!("{other}: {}", r.text()),
            }
        }
    }
    assert_eq!(
        (wrong, refused),
        (LINK_MAX_FAILURES, 120 - LINK_MAX_FAILURES)
    );
    // Locked for everyone now, the right password included; other links are not.
    let r = request_from(
        Some([127, 0, 2, 1].into()),
        s.addr,
        Method::POST,
        "/rotated",
        &[("content-type", FORM)],
        Some(b"password=right"),
    )
    .await;
    r.assert_problem(429);
    assert!(r.header("retry-after").is_some());
    let r = post_password(&s, "bystander", "right").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(clicks(&s, "rotated").await, 0);
    s.stop().await;
}
