//! What a click says about its visitor: the host it came from and whether a
//! bot made it. Nothing else about a visitor is looked at, and no IP address
//! is kept anywhere.
//!
//! # The bot rule
//! A click is a bot's when its `User-Agent` contains, ignoring case, one of
//! the names in [`BOTS`] (crawlers, link previewers, AI and SEO crawlers,
//! headless browsers), or the word `bot`, `crawler`, `spider` or `slurp`.
//! The first name found from the left decides which bot it is; the generic
//! words count as [`OTHER_BOT`]. Everything else counts as a person,
//! including a missing `User-Agent` and command-line tools such as curl and
//! wget: they are how people try their links. A `User-Agent` is whatever the
//! client says, so the rule sorts honest clients; it is not a defence.
//!
//! # Referrer hosts
//! Only the host of the `Referer` header is kept (`news.ycombinator.com`,
//! not the page), lowercased by the URL parser. Browsers send no `Referer`
//! at all for many clicks; those are simply not attributed.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// A known bot: the name it is reported under, and the text in its
/// `User-Agent` that gives it away (compared ignoring case).
#[derive(Debug, Clone, Copy)]
pub struct KnownBot {
    /// The name in stats.
    pub name: &'static str,
    /// The telltale part of its `User-Agent`.
    pub marker: &'static str,
}

const fn bot(name: &'static str, marker: &'static str) -> KnownBot {
    KnownBot { name, marker }
}

/// The bots reported by name. Stats keep at most one counter per name, so
/// this list bounds how many bot counters a link can have.
pub const BOTS: &[KnownBot] = &[
    // Search engines.
    bot("Googlebot", "googlebot"),
    bot("Google", "google-inspectiontool"),
    bot("Bingbot", "bingbot"),
    bot("Applebot", "applebot"),
    bot("DuckDuckBot", "duckduckbot"),
    bot("YandexBot", "yandex"),
    bot("Baiduspider", "baiduspider"),
    // Link previews in chats and social networks.
    bot("Facebook", "facebookexternalhit"),
    bot("Facebook", "facebot"),
    bot("Twitter", "twitterbot"),
    bot("LinkedIn", "linkedinbot"),
    bot("Slack", "slackbot"),
    bot("Slack", "slack-imgproxy"),
    bot("Discord", "discordbot"),
    bot("Telegram", "telegrambot"),
    bot("WhatsApp", "whatsapp"),
    bot("Skype", "skypeuripreview"),
    bot("Reddit", "redditbot"),
    bot("Mastodon", "mastodon"),
    bot("Bluesky", "cardyb"),
    bot("Pinterest", "pinterest"),
    bot("Embedly", "embedly"),
    // AI crawlers and assistants fetching for a user.
    bot("OpenAI", "gptbot"),
    bot("OpenAI", "chatgpt-user"),
    bot("OpenAI", "oai-searchbot"),
    bot("Anthropic", "claudebot"),
    bot("Anthropic", "claude-user"),
    bot("Perplexity", "perplexity"),
    bot("ByteDance", "bytespider"),
    bot("Common Crawl", "ccbot"),
    bot("Amazon", "amazonbot"),
    // SEO crawlers and monitors.
    bot("Ahrefs", "ahrefsbot"),
    bot("Semrush", "semrushbot"),
    bot("Majestic", "mj12bot"),
    bot("UptimeRobot", "uptimerobot"),
    // Browsers driven by programs.
    bot("Headless Chrome", "headlesschrome"),
    bot("Lighthouse", "chrome-lighthouse"),
];

/// The name of bots caught by a generic word rather than a [`BOTS`] name.
pub const OTHER_BOT: &str = "other";

/// Generic words that mark a bot, after the named ones.
const GENERIC: &[&str] = &["bot", "crawler", "spider", "slurp"];

/// Words that contain a generic one but are people's devices: Cubot phones
/// put their model ("CUBOT X30") in the `User-Agent`.
const NOT_BOTS: &[&str] = &["cubot"];

/// What a pattern of [`MATCHER`] stands for.
#[derive(Clone, Copy)]
enum Pattern {
    Named(&'static str),
    Generic,
    Person,
}

static MATCHER: LazyLock<(AhoCorasick, Vec<Pattern>)> = LazyLock::new(|| {
    let mut markers = Vec::new();
    let mut kinds = Vec::new();
    for b in BOTS {
        markers.push(b.marker);
        kinds.push(Pattern::Named(b.name));
    }
    for word in NOT_BOTS {
        markers.push(word);
        kinds.push(Pattern::Person);
    }
    for word in GENERIC {
        markers.push(word);
        kinds.push(Pattern::Generic);
    }
    // Markers are lowercase and matched against a lowercased User-Agent.
    // Leftmost-first: the match starting first wins, and of those starting
    // at the same place the one listed first, so "Googlebot" is not taken
    // for the generic "bot" inside it and "cubot" shadows its "bot".
    let matcher = AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostFirst)
        .build(&markers)
        // The patterns are the fixed, non-empty strings above.
        .unwrap_or_else(|e| unreachable!("bot patterns are valid: {e}"));
    (matcher, kinds)
});

/// Which bot made a request with this `User-Agent`, if any (see the module
/// docs for the rule): a name from [`BOTS`] or [`OTHER_BOT`].
pub fn bot_of(user_agent: &[u8]) -> Option<&'static str> {
    let (matcher, kinds) = &*MATCHER;
    // Lowercased first (on the stack when it fits), then matched exactly:
    // the matcher's SIMD prefilter handles ~45 exact patterns, but not the
    // case variants a case-insensitive search would add, which made a
    // browser's `User-Agent` cost ~180 ns a click.
    let mut buf = [0u8; 512];
    let heap;
    let lower: &[u8] = match buf.get_mut(..user_agent.len()) {
        Some(b) => {
            b.copy_from_slice(user_agent);
            b.make_ascii_lowercase();
            b
        }
        None => {
            heap = user_agent.to_ascii_lowercase();
            &heap
        }
    };
    for m in matcher.find_iter(lower) {
        match kinds.get(m.pattern().as_usize()) {
            Some(Pattern::Named(name)) => return Some(name),
            Some(Pattern::Generic) => return Some(OTHER_BOT),
            // A person's word: look on past it.
            Some(Pattern::Person) | None => {}
        }
    }
    None
}

/// Whether `name` is one a bot can be counted under.
pub fn is_bot_name(name: &str) -> bool {
    name == OTHER_BOT || BOTS.iter().any(|b| b.name == name)
}

/// Longest host kept: the longest DNS name.
pub const MAX_HOST_LEN: usize = 253;

/// The host of a `Referer` header value, lowercased; `None` when the value
/// is not a URL with a host, or the host is too long. Always what
/// [`host_by_url`] gives (the `visit` fuzz target checks it), but plain
/// `http(s)://name/…` values, nearly all there are, take a quick path:
/// parsing a whole URL cost ~500 ns a click.
pub fn referrer_host(referer: &[u8]) -> Option<String> {
    match quick_host(referer) {
        Quick::Host(host) => Some(host),
        Quick::NoHost => None,
        Quick::Unsure => host_by_url(referer),
    }
}

/// The host of `referer` as the `url` crate parses it (WHATWG URL), with
/// the same checks as [`referrer_host`].
pub fn host_by_url(referer: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(referer).ok()?;
    let url = url::Url::parse(text).ok()?;
    // Hosts of special schemes (http, https) come lowercased; others, such
    // as an app's `android-app://Com.Example/`, as written.
    let host = url.host_str()?.to_ascii_lowercase();
    is_host(&host).then_some(host)
}

enum Quick {
    Host(String),
    NoHost,
    /// Not plain enough to be sure: ask the URL parser.
    Unsure,
}

/// The host of an `http(s)://` URL whose host is a plain DNS name, read
/// without a full parse. Anything the WHATWG rules treat specially (an IP
/// address, punycode, percent escapes, backslashes, spaces or non-ASCII
/// anywhere) is left to the parser.
fn quick_host(referer: &[u8]) -> Quick {
    if !referer
        .iter()
        .all(|b| (0x21..0x7f).contains(b) && *b != b'\\')
    {
        return Quick::Unsure;
    }
    let scheme = |name: &[u8]| {
        referer
            .get(..name.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(name))
    };
    let rest = if scheme(b"http://") {
        &referer[7..]
    } else if scheme(b"https://") {
        &referer[8..]
    } else {
        return Quick::Unsure;
    };
    let end = rest
        .iter()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    // User info ends at the last '@'.
    let host_port = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let (host, port) = match host_port.iter().position(|&b| b == b':') {
        Some(colon) => (&host_port[..colon], &host_port[colon + 1..]),
        None => (host_port, &b""[..]),
    };
    let digits = port
        .iter()
        .position(|&b| b != b'0')
        .map_or(&b""[..], |i| &port[i..]);
    let port_ok = port.iter().all(u8::is_ascii_digit)
        && (digits.len() < 5 || (digits.len() == 5 && digits <= &b"65535"[..]));
    let host = host.to_ascii_lowercase();
    let plain = !host.is_empty()
        && host
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'))
        && !host.starts_with(b".")
        && !host.windows(2).any(|w| w == b"..")
        && !host.windows(4).any(|w| w == b"xn--");
    // A last label starting with a digit makes the parser read the host as
    // an IPv4 address (`0x7f.1` is 127.0.0.1).
    let last = host
        .strip_suffix(b".")
        .unwrap_or(&host)
        .rsplit(|&b| b == b'.')
        .next()
        .unwrap_or_default();
    if !plain || !port_ok || last.first().is_none_or(u8::is_ascii_digit) {
        return Quick::Unsure;
    }
    match String::from_utf8(host) {
        Ok(host) if is_host(&host) => Quick::Host(host),
        Ok(_) => Quick::NoHost,
        Err(_) => Quick::Unsure,
    }
}

/// Whether `host` looks like a host the URL parser could have given:
/// lowercase letters, digits, `.`, `-`, `_`, and the `[`, `]`, `:` of an
/// IPv6 address, at most [`MAX_HOST_LEN`] bytes. Used to check imported
/// stats too.
pub fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= MAX_HOST_LEN
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._[]:".contains(&b))
}

/// What one click is known to be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visit {
    /// The referring page's host, if the click said.
    pub referrer: Option<String>,
    /// The bot that made it, if one did.
    pub bot: Option<&'static str>,
}

impl Visit {
    /// Reads a click's `Referer` and `User-Agent` header values. A bot's
    /// referrer is not kept: bots are counted apart, by name only.
    pub fn from_headers(referer: Option<&[u8]>, user_agent: Option<&[u8]>) -> Visit {
        let bot = user_agent.and_then(bot_of);
        let referrer = match bot {
            Some(_) => None,
            None => referer.and_then(referrer_host),
        };
        Visit { referrer, bot }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_and_tools_are_people() {
        for ua in [
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
            "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
            "curl/8.5.0",
            "Wget/1.21.4",
            "",
        ] {
            assert_eq!(bot_of(ua.as_bytes()), None, "{ua}");
        }
    }

    #[test]
    fn bots_are_named() {
        for (ua, name) in [
            ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot"),
            ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "Slack"),
            ("facebookexternalhit/1.1 Facebot Twitterbot/1.0", "Facebook"),
            ("TelegramBot (like TwitterBot)", "Telegram"),
            ("Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", "Discord"),
            ("http.rb/5.1.1 (Mastodon/4.2.0; +https://mastodon.social/)", "Mastodon"),
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "Headless Chrome"),
            ("SomeNewCrawler/0.1", OTHER_BOT),
            ("my-little-BOT", OTHER_BOT),
            ("CUBOT phone, and a spider", OTHER_BOT),
        ] {
            assert_eq!(bot_of(ua.as_bytes()), Some(name), "{ua}");
            assert!(is_bot_name(name));
        }
        assert!(!is_bot_name("Mozilla"));
    }

    #[test]
    fn referrer_hosts() {
        let host = |s: &str| referrer_host(s.as_bytes());
        assert_eq!(
            host("https://News.YCombinator.com/item?id=1").as_deref(),
            Some("news.ycombinator.com")
        );
        assert_eq!(
            host("android-app://Com.Slack/").as_deref(),
            Some("com.slack")
        );
        assert_eq!(host("http://[::1]:8080/x").as_deref(), Some("[::1]"));
        assert_eq!(
            host("https://user:pw@example.org/").as_deref(),
            Some("example.org")
        );
        assert_eq!(host("/relative/path"), None);
        assert_eq!(host("mailto:someone@example.org"), None);
        assert_eq!(host("not a url"), None);
        let long = format!("https://{}.com/", "a".repeat(300));
        assert_eq!(host(&long), None);
        assert_eq!(referrer_host(b"https://\xff.example/"), None);
    }

    #[test]
    fn the_quick_path_agrees_with_the_parser() {
        for r in [
            "https://example.org",
            "HTTPS://Example.ORG:443/x",
            "http://example.org:/x",
            "http://example.org:0080/x",
            "http://example.org:65536/x",
            "http://example.org:99999999999999999999/",
            "http://example.org:8a/",
            "http://u:p@example.org@evil.example/",
            "http://@example.org/",
            "http://example.org./",
            "http://a..b/",
            "http://.a/",
            "http://1.2.3.4/",
            "http://0x7f.1/",
            "http://example.123/",
            "http://123.example/",
            "http://xn--bcher-kva.example/",
            "http://xn--a.example/",
            "http://ex%41mple.org/",
            "http:\\\\example.org\\x",
            "http:///example.org/",
            "http:/example.org/",
            "http://",
            "http://:80/",
            "http://-a-.example/",
            "https://example.org?q#f",
            "https://example.org#",
            " http://example.org/",
        ] {
            assert_eq!(
                referrer_host(r.as_bytes()),
                host_by_url(r.as_bytes()),
                "{r}"
            );
        }
        let long = format!("https://{}.com/", "a".repeat(300));
        assert_eq!(referrer_host(long.as_bytes()), None);
        // The usual values do take the quick path.
        for r in ["https://news.ycombinator.com/item?id=1", "http://t.co/x"] {
            assert!(matches!(quick_host(r.as_bytes()), Quick::Host(_)), "{r}");
        }
    }

    #[test]
    fn a_bot_keeps_no_referrer() {
        let v = Visit::from_headers(Some(b"https://t.co/x"), Some(b"Twitterbot/1.0"));
        assert_eq!(
            v,
            Visit {
                referrer: None,
                bot: Some("Twitter")
            }
        );
        let v = Visit::from_headers(Some(b"https://t.co/x"), None);
        assert_eq!(v.referrer.as_deref(), Some("t.co"));
    }
}
