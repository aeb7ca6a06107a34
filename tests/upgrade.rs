//! Upgrading a data directory through the real binary: one whose day
//! counters are a sled key per link and day, as kurz wrote them up to layout
//! 3, keeps every count under layout 4 (new days packed 32 to a key), over
//! the CLI and over a real socket, adds new clicks to them, and checks clean.

mod real_binary;

use real_binary::{api, get, utc_today, Sandbox, Server};

/// Days since 1970-01-01 of a date.
fn day(year: i32, month: time::Month, d: u8) -> u32 {
    let date = time::Date::from_calendar_date(year, month, d).unwrap();
    (date.to_julian_day() - 2_440_588) as u32
}

/// What layout 3 stored for a day count: slug ‖ 0x00 ‖ day → u64 LE.
fn old_key(slug: &[u8], day: u32) -> Vec<u8> {
    [slug, &[0], &day.to_be_bytes()].concat()
}

#[test]
fn a_layout_3_directory_keeps_its_day_counts() {
    let sb = Sandbox::new();
    let input = sb.path().join("links.jsonl");
    std::fs::write(
        &input,
        r#"{"slug":"up","url":"https://example.com/u","created_at":"2026-01-02T03:04:05Z","clicks":9,"daily":{}}
{"slug":"other","url":"https://example.com/o","created_at":"2026-01-02T03:04:05Z","clicks":0,"daily":{}}
"#,
    )
    .unwrap();
    sb.kurz("d", &["import", input.to_str().unwrap()]).ok();
    let exported_fresh = sb.kurz("d", &["export"]).ok().to_owned();
    assert!(exported_fresh.contains(r#""clicks":9"#), "{exported_fresh}");

    // Make it what kurz of layout 3 left: 7 of the 9 clicks on two days
    // (the other 2 have no day), as per-day counters.
    {
        let db = sled::open(sb.data("d").join("db")).unwrap();
        let clicks = db.open_tree("clicks").unwrap();
        clicks.insert(b"up", &2u64.to_le_bytes()).unwrap();
        let daily = db.open_tree("daily").unwrap();
        daily.clear().unwrap();
        let (jan, feb) = (
            day(2026, time::Month::January, 2),
            day(2026, time::Month::February, 10),
        );
        daily
            .insert(old_key(b"up", jan), &4u64.to_le_bytes())
            .unwrap();
        daily
            .insert(old_key(b"up", feb), &3u64.to_le_bytes())
            .unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("schema", &[3])
            .unwrap();
        db.flush().unwrap();
    }

    // The counts read the same after the upgrade, and a click adds to them.
    let server = Server::start(&sb.data("d"));
    let link = api(server.addr, "GET", "/api/links/up", None);
    assert_eq!(link.status, 200, "{}", link.text());
    assert_eq!(link.json()["clicks"], 9, "{}", link.text());
    assert_eq!(get(server.addr, "/up").status, 302);
    let (status, log) = server.terminate();
    assert!(status.success(), "{log:?}");

    let exported = sb.kurz("d", &["export"]).ok().to_owned();
    let up = exported
        .lines()
        .find(|l| l.contains(r#""slug":"up""#))
        .unwrap();
    assert!(up.contains(r#""clicks":10"#), "{up}");
    assert!(
        up.contains(r#""daily":{"2026-01-02":4,"2026-02-10":3,"#),
        "{up}"
    );
    assert!(up.contains(&format!(r#""{}":1"#, utc_today())), "{up}");
    let check = sb.kurz("d", &["check"]);
    assert!(check.ok().starts_with("ok: 2 links"), "{check:?}");
    let db = sled::open(sb.data("d").join("db")).unwrap();
    let meta = db.open_tree("meta").unwrap();
    assert_eq!(meta.get("schema").unwrap().as_deref(), Some(&[4][..]));
}
