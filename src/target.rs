//! Long URLs: deciding which targets a short link may point at.
//!
//! Everything a user sends as a target passes through [`TargetRules::check`]
//! before it is stored. The rules refuse what a shortener should never hand
//! out: non-web schemes (`javascript:`, `data:`, `file:`), credentials in the
//! authority (a classic phishing disguise), control characters or whitespace
//! (rejected, never silently cleaned), and links back to this server, which
//! would redirect in a loop. The stored form is the `url` crate's
//! serialization: punycode host, percent-encoded path and query, pure ASCII.

use thiserror::Error;
use url::Url;

/// Longest target accepted, in bytes of the input.
pub const MAX_LEN: usize = 8192;

/// Why a target URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TargetError {
    /// The URL was empty.
    #[error("the url is empty")]
    Empty,
    /// The URL was longer than [`MAX_LEN`] bytes.
    #[error("the url is longer than {MAX_LEN} bytes")]
    TooLong,
    /// The URL held a control character or whitespace.
    #[error("the url contains whitespace or a control character")]
    BadChar,
    /// The URL did not parse as an absolute URL.
    #[error("the url is not an absolute URL: {0}")]
    Parse(String),
    /// The scheme was neither http nor https.
    #[error("only http and https urls can be shortened, not '{0}:'")]
    Scheme(String),
    /// The URL had no host.
    #[error("the url has no host")]
    NoHost,
    /// The URL carried a user name or password.
    #[error("the url must not contain a user name or password")]
    Credentials,
    /// The URL points back at this server.
    #[error("the url points back at this shortener, which would redirect in a loop")]
    Loop,
}

/// The rules a target must pass, bound to this server's own base URL.
#[derive(Debug, Clone)]
pub struct TargetRules {
    own: Option<OwnPrefix>,
}

/// Host, port and path prefix under which this server answers.
#[derive(Debug, Clone)]
struct OwnPrefix {
    /// Lower case, without trailing dots (see [`same_host`]).
    host: String,
    port: Option<u16>,
    /// The base gives no port: it is reached on its scheme's default port.
    default_port: bool,
    path: String,
}

/// A host with its trailing dots removed and lower-cased: `S.Example.` is the
/// fully qualified spelling of `s.example`, the same server.
fn same_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

impl TargetRules {
    /// Rules that refuse targets under `base` (the server's public base URL).
    /// With `None`, no loop check is made (offline tools that know no base).
    pub fn new(base: Option<&Url>) -> Self {
        let own = base.and_then(|b| {
            Some(OwnPrefix {
                host: same_host(b.host_str()?),
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
        let url = Url::parse(raw).map_err(|e| TargetError::Parse(e.to_string()))?;
        // `Url` lower-cases the scheme, so `JaVaScRiPt:` is caught here too.
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(TargetError::Scheme(url.scheme().to_owned()));
        }
        let host = url.host_str().ok_or(TargetError::NoHost)?;
        if host.is_empty() {
            return Err(TargetError::NoHost);
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
            if same_host(host) == own.host && same_port && path.starts_with(&own.path) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> TargetRules {
        TargetRules::new(Some(&Url::parse("http://127.0.0.1:8080").unwrap()))
    }

    #[test]
    fn accepts_and_normalizes_web_urls() {
        let u = rules().check("HTTPS://Example.COM/a b".replace(' ', "").as_str());
        assert_eq!(u.unwrap().as_str(), "https://example.com/ab");
        let u = rules().check("https://bücher.example/straße?q=ü").unwrap();
        assert_eq!(
            u.as_str(),
            "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC"
        );
    }

    #[test]
    fn refuses_what_a_shortener_must_not_hand_out() {
        let r = rules();
        assert_eq!(r.check(""), Err(TargetError::Empty));
        assert!(matches!(r.check("/relative"), Err(TargetError::Parse(_))));
        assert_eq!(
            r.check("JaVaScRiPt:alert(1)"),
            Err(TargetError::Scheme("javascript".into()))
        );
        assert_eq!(
            r.check("ftp://example.com/"),
            Err(TargetError::Scheme("ftp".into()))
        );
        assert_eq!(
            r.check("https://paypal.com@evil.example/"),
            Err(TargetError::Credentials)
        );
        assert_eq!(r.check("https://a.example/\tx"), Err(TargetError::BadChar));
        assert_eq!(r.check(" https://a.example/"), Err(TargetError::BadChar));
        assert_eq!(
            r.check("https://a.example/\u{0}"),
            Err(TargetError::BadChar)
        );
        let long = format!("https://a.example/{}", "x".repeat(MAX_LEN));
        assert_eq!(r.check(&long), Err(TargetError::TooLong));
    }

    #[test]
    fn refuses_loops_back_to_this_server() {
        let r = rules();
        assert_eq!(r.check("http://127.0.0.1:8080/abc"), Err(TargetError::Loop));
        assert_eq!(r.check("http://127.0.0.1:8080"), Err(TargetError::Loop));
        assert!(r.check("http://127.0.0.1:9090/abc").is_ok());
        let sub = TargetRules::new(Some(&Url::parse("https://ex.example/s/").unwrap()));
        assert_eq!(sub.check("https://EX.example/s/x"), Err(TargetError::Loop));
        assert!(sub.check("https://ex.example/other").is_ok());
        assert!(sub.check("https://ex.example/sx").is_ok());
    }

    #[test]
    fn refuses_loops_spelled_with_trailing_dots_or_the_other_scheme() {
        let r = TargetRules::new(Some(&Url::parse("https://s.example").unwrap()));
        for raw in [
            "https://s.example./abc",
            "https://S.Example./abc",
            "https://s.example../abc",
            "https://s.example%2e/abc",
            "http://s.example/abc",
            "http://s.example:443/abc",
        ] {
            assert_eq!(r.check(raw), Err(TargetError::Loop), "{raw}");
        }
        // Another port on the same host is another service.
        assert!(r.check("https://s.example:8443/abc").is_ok());
        assert!(r.check("http://s.example:8080/abc").is_ok());
        assert!(r.check("https://s.example.evil.example/abc").is_ok());
        // A base given with a trailing dot catches the short spelling too.
        let dotted = TargetRules::new(Some(&Url::parse("https://s.example.").unwrap()));
        assert_eq!(
            dotted.check("https://s.example/abc"),
            Err(TargetError::Loop)
        );
        // A base with an explicit port is only that port, whatever the scheme.
        assert!(rules().check("http://127.0.0.1/abc").is_ok());
        assert_eq!(
            rules().check("https://127.0.0.1:8080/x"),
            Err(TargetError::Loop)
        );
    }
}
