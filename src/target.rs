//! Long URLs: deciding which targets a short link may point at.
//!
//! Everything a user sends as a target passes through [`TargetRules::check`]
//! before it is stored. The rules refuse what a shortener should never hand
//! out: non-web schemes (`javascript:`, `data:`, `file:`), credentials in the
//! authority (a classic phishing disguise), control characters or whitespace
//! (rejected, never silently cleaned), and links back to this server, which
//! would redirect in a loop, however its host is spelled (an IPv4 address
//! as IPv6, `0.0.0.0` or another loopback name for a loopback base), and
//! host names that DNS cannot hold. The stored form is the `url` crate's
//! serialization: punycode host, percent-encoded path and query, pure ASCII.

use std::net::IpAddr;

use thiserror::Error;
use url::{Host, Url};

/// Longest target accepted, in bytes of the input.
pub const MAX_LEN: usize = 8192;
/// Longest host name DNS can resolve, in bytes of its ASCII (punycode)
/// form, without a trailing dot (RFC 1035: 255 octets on the wire).
pub const MAX_HOST_LEN: usize = 253;
/// Longest label of a host name, in bytes (RFC 1035).
pub const MAX_LABEL_LEN: usize = 63;

/// How a URL that kurz accepts looks, for messages that refuse one.
pub const EXAMPLE: &str = "https://example.com/page";

/// Why a target URL was refused. Each message reads after the field's name
/// (`url: ...`) and says, in plain words, what the url must be instead.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TargetError {
    /// The URL was empty.
    #[error("must not be empty: send an absolute URL such as {EXAMPLE}")]
    Empty,
    /// The URL was longer than [`MAX_LEN`] bytes.
    #[error("must be at most {MAX_LEN} bytes long")]
    TooLong,
    /// The URL held a control character or whitespace.
    #[error("contains a space, a line break or another invisible character: a URL is one unbroken piece of text such as {EXAMPLE} (a space inside one is written %20)")]
    BadChar,
    /// The URL did not parse as an absolute URL.
    #[error("{}", parse_message(*.0))]
    Parse(url::ParseError),
    /// The scheme was neither http nor https.
    #[error("must start with http:// or https://: only http and https urls can be shortened, not '{0}:'")]
    Scheme(String),
    /// The URL had no host.
    #[error("has no host: an absolute URL names one after http:// or https://, such as {EXAMPLE}")]
    NoHost,
    /// The URL carried a user name or password.
    #[error("must not contain a user name or password")]
    Credentials,
    /// The host name is longer than DNS allows.
    #[error("has a host longer than {MAX_HOST_LEN} characters, so it can never resolve")]
    HostTooLong,
    /// A label of the host name is longer than DNS allows.
    #[error("has a label (a part between two dots) in its host longer than {MAX_LABEL_LEN} characters, so it can never resolve")]
    LabelTooLong,
    /// The URL points back at this server.
    #[error("the url points back at this shortener, which would redirect in a loop")]
    Loop,
}

/// What the url must be, for each way the url crate fails to parse one:
/// its own texts ("relative URL without a base") speak of its internals.
fn parse_message(e: url::ParseError) -> String {
    use url::ParseError as P;
    let must = match e {
        P::EmptyHost => "must name a host after http:// or https://",
        P::InvalidPort => "must have a port (the number after the host's ':') from 0 to 65535",
        P::InvalidIpv4Address => {
            "must have an IPv4 address of four numbers from 0 to 255 (such as 192.0.2.1) as its host, if it has an address"
        }
        P::InvalidIpv6Address => {
            "must have a valid IPv6 address in its [brackets] (such as [2001:db8::1], without a zone)"
        }
        // The url crate reports a forbidden sign in a host as either.
        P::InvalidDomainCharacter | P::IdnaError => {
            "must have a host made of letters (any alphabet), digits, '-' and '.': no %, @ or other signs, not even percent-encoded, and no broken xn-- parts"
        }
        P::Overflow => "is too long",
        // RelativeUrlWithoutBase and the variants only a relative or
        // `mailto:`-like URL reaches: all say there is no absolute URL.
        _ => "must be an absolute URL starting with http:// or https://",
    };
    format!("{must}, such as {EXAMPLE}")
}

/// The rules a target must pass, bound to this server's own base URL.
#[derive(Debug, Clone)]
pub struct TargetRules {
    own: Option<OwnPrefix>,
}

/// Host, port and path prefix under which this server answers.
#[derive(Debug, Clone)]
struct OwnPrefix {
    host: HostKey,
    port: Option<u16>,
    /// The base gives no port: it is reached on its scheme's default port.
    default_port: bool,
    path: String,
}

/// A host as compared for the loop check: one value for every spelling of
/// the same server.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostKey {
    /// A domain, lower case, without trailing dots: `S.Example.` is the fully
    /// qualified spelling of `s.example`.
    Domain(String),
    /// An address; an IPv4-mapped IPv6 address (`[::ffff:127.0.0.1]`,
    /// `[::ffff:7f00:1]`) is its IPv4 address.
    Ip(IpAddr),
    /// This machine: any loopback or unspecified address, `localhost` and
    /// its subdomains. A client on the server's machine reaches a server
    /// listening on one of them through any other (`0.0.0.0` connects to
    /// the local host on Linux).
    Local,
}

impl HostKey {
    fn of(host: Host<&str>) -> HostKey {
        let ip = match host {
            Host::Domain(d) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                if d == "localhost" || d.ends_with(".localhost") {
                    return HostKey::Local;
                }
                return HostKey::Domain(d);
            }
            Host::Ipv4(v4) => IpAddr::V4(v4),
            Host::Ipv6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        };
        if ip.is_loopback() || ip.is_unspecified() {
            HostKey::Local
        } else {
            HostKey::Ip(ip)
        }
    }
}

/// Checks that a domain host could be resolved: DNS's length limits.
fn check_host_name(host: &str) -> Result<(), TargetError> {
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.len() > MAX_HOST_LEN {
        return Err(TargetError::HostTooLong);
    }
    if name.split('.').any(|label| label.len() > MAX_LABEL_LEN) {
        return Err(TargetError::LabelTooLong);
    }
    Ok(())
}

impl TargetRules {
    /// Rules that refuse targets under `base` (the server's public base URL).
    /// With `None`, no loop check is made (offline tools that know no base).
    pub fn new(base: Option<&Url>) -> Self {
        let own = base.and_then(|b| {
            Some(OwnPrefix {
                host: HostKey::of(b.host()?),
                port: b.port_or_known_default(),
                default_port: b.port().is_none(),
                path: b.path().trim_end_matches('/').to_owned() + "/",
            })
        });
        TargetRules { own }
    }

    /// Validates `raw` and returns it parsed and normalized.
    ///
    /// # Errors
    /// Returns the first rule the URL breaks.
    pub fn check(&self, raw: &str) -> Result<Url, TargetError> {
        if raw.is_empty() {
            return Err(TargetError::Empty);
        }
        if raw.len() > MAX_LEN {
            return Err(TargetError::TooLong);
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(TargetError::BadChar);
        }
        let url = Url::parse(raw).map_err(TargetError::Parse)?;
        // `Url` lower-cases the scheme, so `JaVaScRiPt:` is caught here too.
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(TargetError::Scheme(url.scheme().to_owned()));
        }
        let host = url.host().ok_or(TargetError::NoHost)?;
        match host {
            Host::Domain("") => return Err(TargetError::NoHost),
            Host::Domain(name) => check_host_name(name)?,
            Host::Ipv4(_) | Host::Ipv6(_) => {}
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetError::Credentials);
        }
        if let Some(own) = &self.own {
            let path = url.path().trim_end_matches('/').to_owned() + "/";
            // `http://` and `https://` on their default ports are one site:
            // a proxy in front of kurz redirects the one to the other.
            let same_port = url.port_or_known_default() == own.port
                || (own.default_port && url.port().is_none());
            if HostKey::of(host) == own.host && same_port && path.starts_with(&own.path) {
                return Err(TargetError::Loop);
            }
        }
        if url.as_str().len() > MAX_LEN {
            // Punycode and percent-encoding can grow a URL past the cap.
            return Err(TargetError::TooLong);
        }
        Ok(url)
    }
}

/// A stored target as a person would type it, for searching: its host
/// decoded from punycode to Unicode and the rest percent-decoded (bytes
/// that are not UTF-8 become U+FFFD). `None` when it has neither, so a
/// search need not look twice. Never for display or for `Location`: the
/// decoded text may hold spaces, control and bidirectional characters.
pub fn search_form(target: &str) -> Option<String> {
    let punycode = target.contains("xn--");
    if !punycode && !target.contains('%') {
        return None;
    }
    // A stored target is the url crate's serialization: `scheme://host`,
    // then an optional port, path, query and fragment (never user info).
    let (scheme, rest) = target.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    // An IPv6 literal holds ':' itself; a domain or IPv4 host does not.
    let host_end = match authority.strip_prefix('[') {
        Some(v6) => v6.find(']').map_or(authority.len(), |i| i + 2),
        None => authority.find(':').unwrap_or(authority.len()),
    };
    let (host, port) = authority.split_at(host_end);
    let host = if punycode {
        let unicode = url::quirks::domain_to_unicode(host);
        if unicode.is_empty() {
            host.to_owned()
        } else {
            unicode
        }
    } else {
        host.to_owned()
    };
    Some(format!("{scheme}://{host}{port}{}", percent_decode(tail)))
}

/// A stored target as the page shows it: its host in Unicode
/// (`https://münchen.example/…` for `https://xn--mnchen-3ya.example/…`)
/// when every character of it is ASCII or a Latin letter, else `target`
/// as it is. Conservative on purpose: Cyrillic, Greek and other scripts
/// hold letters that look like Latin ones (`аpple.com`), and telling a
/// look-alike from a real name needs Unicode's confusables data, which kurz
/// does not carry, so such a host is shown as punycode, as browsers show a
/// host they doubt. The path, query and fragment are left encoded: decoded,
/// they could hold spaces and bidirectional controls. `Location` always
/// uses the stored ASCII form.
pub fn display_form(target: &str) -> String {
    if !target.contains("xn--") {
        return target.to_owned();
    }
    let Some((scheme, rest)) = target.split_once("://") else {
        return target.to_owned();
    };
    let end = rest.find([':', '/', '?', '#']).unwrap_or(rest.len());
    let (host, tail) = rest.split_at(end);
    if host.starts_with('[') {
        return target.to_owned();
    }
    let unicode = url::quirks::domain_to_unicode(host);
    if unicode.is_empty() || !unicode.chars().all(latin_or_ascii) {
        return target.to_owned();
    }
    format!("{scheme}://{unicode}{tail}")
}

/// ASCII, or a letter of the Latin blocks (Latin-1 Supplement and Latin
/// Extended-A/B, Latin Extended Additional), without `×` and `÷`.
fn latin_or_ascii(c: char) -> bool {
    c.is_ascii()
        || (matches!(c, '\u{c0}'..='\u{24f}' | '\u{1e00}'..='\u{1eff}') && c != '×' && c != '÷')
}

/// `text` with every `%XX` replaced by its byte, read as UTF-8 (lossily).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' {
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                // Two hex digits: at most 0xFF.
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
