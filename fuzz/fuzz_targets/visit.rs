//! Fuzzes `kurz::visit`: what a click's `Referer` and `User-Agent` header
//! values say, read on every redirect from whatever a client sends.
//!
//! The input is split at its first 0xFF byte (which no valid header value
//! and no UTF-8 holds) into a `Referer` and a `User-Agent` value, taken as
//! raw bytes the way hyper hands them over. Invariants:
//! - nothing panics;
//! - a referrer host is one that `is_host` accepts (lowercase, at most
//!   `MAX_HOST_LEN` bytes): what import checks, and what bounds storage;
//! - `referrer_host`'s quick path gives exactly what the `url` crate's full
//!   parse gives (`host_by_url`), for every input;
//! - a bot name is one kurz reports (`is_bot_name`), so the set of bot
//!   counters per link stays bounded;
//! - a bot's visit keeps no referrer;
//! - the bot rule ignores ASCII case.

#![no_main]

use kurz::visit::{bot_of, host_by_url, is_bot_name, is_host, referrer_host, Visit};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (referer, user_agent) = match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    assert_eq!(referrer_host(referer), host_by_url(referer));
    let visit = Visit::from_headers(Some(referer), Some(user_agent));
    if let Some(host) = &visit.referrer {
        assert!(is_host(host), "{host:?}");
        assert_eq!(referrer_host(referer).as_deref(), Some(host.as_str()));
    }
    if let Some(name) = visit.bot {
        assert!(is_bot_name(name), "{name}");
        assert!(visit.referrer.is_none());
    }
    assert_eq!(bot_of(&user_agent.to_ascii_uppercase()), visit.bot);
    assert_eq!(bot_of(&user_agent.to_ascii_lowercase()), visit.bot);
});
