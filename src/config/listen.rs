//! The `--listen` address: an IP address, a host name, or a bare `:PORT`.
//!
//! [`Listen`] keeps what was written and resolves a host name only when the
//! server starts, so a name in a unit file follows `/etc/hosts` and DNS at
//! each start. `:PORT` means every IPv4 interface (`0.0.0.0`); every IPv6
//! (and, on Linux by default, IPv4) interface is `[::]:PORT`. This module
//! also tells when a base URL cannot be what other machines should use.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::str::FromStr;

use thiserror::Error;
use url::{Host, Url};

/// Where `kurz serve` listens, as written on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    host: ListenHost,
    port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ListenHost {
    Ip(IpAddr),
    /// A host name, lowercased, resolved at start.
    Name(String),
}

/// Why a `--listen` host name gave no address to listen on.
#[derive(Debug, Error)]
pub enum ListenError {
    /// The resolver failed (an unknown name, no DNS).
    #[error("cannot find the address of {host} (in --listen {host}:{port}): {source}")]
    Resolve {
        /// The host name.
        host: String,
        /// The port given with it.
        port: u16,
        /// The resolver's error.
        source: std::io::Error,
    },
    /// The name resolved to no address at all.
    #[error("{host} (in --listen {host}:{port}) has no address")]
    NoAddress {
        /// The host name.
        host: String,
        /// The port given with it.
        port: u16,
    },
}

/// What the `--listen` forms look like, for the messages below.
const FORMS: &str = "write IP:PORT, HOST:PORT or :PORT, e.g. 127.0.0.1:8080, localhost:8080, \
                     [::1]:8080, or :8080 for every interface";

impl FromStr for Listen {
    type Err = String;

    /// Reads `IP:PORT` (an IPv6 address in brackets), `HOST:PORT` or
    /// `:PORT` (every IPv4 interface).
    ///
    /// # Errors
    /// A sentence saying what is wrong and which forms are accepted.
    fn from_str(text: &str) -> Result<Listen, String> {
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(Listen {
                host: ListenHost::Ip(addr.ip()),
                port: addr.port(),
            });
        }
        let Some((host, port)) = text.rsplit_once(':') else {
            return Err(format!("'{text}' has no port: {FORMS}"));
        };
        let port = port.parse::<u16>().map_err(|_| {
            format!("the port of '{text}' must be a number from 0 to 65535; {FORMS}")
        })?;
        let host = if host.is_empty() {
            ListenHost::Ip(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        } else if host.starts_with('[') || host.contains(':') {
            return Err(format!(
                "'{host}' is not an IPv6 address in brackets; {FORMS}"
            ));
        } else if let Ok(ip) = host.parse::<IpAddr>() {
            ListenHost::Ip(ip)
        } else if is_host_name(host) {
            ListenHost::Name(host.to_ascii_lowercase())
        } else {
            return Err(format!(
                "'{host}' is neither an IP address nor a host name; {FORMS}"
            ));
        };
        Ok(Listen { host, port })
    }
}

/// Letters, digits and inner hyphens, in dot-separated labels of at most
/// 63 characters, 253 in all: what a resolver can look up.
fn is_host_name(text: &str) -> bool {
    let text = text.strip_suffix('.').unwrap_or(text);
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            ListenHost::Ip(ip) => SocketAddr::new(*ip, self.port).fmt(f),
            ListenHost::Name(name) => write!(f, "{name}:{}", self.port),
        }
    }
}

impl Listen {
    /// The port as written (0: any free port).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address to bind: the IP address as given, or the host name's
    /// first IPv4 address, else its first IPv6 one (so `localhost:8080`
    /// is `127.0.0.1:8080` wherever `/etc/hosts` has both). Blocking: a
    /// host name is looked up with the system's resolver.
    ///
    /// # Errors
    /// The host name cannot be resolved, or has no address.
    pub fn resolve(&self) -> Result<SocketAddr, ListenError> {
        let name = match &self.host {
            ListenHost::Ip(ip) => return Ok(SocketAddr::new(*ip, self.port)),
            ListenHost::Name(name) => name,
        };
        let addrs: Vec<SocketAddr> = (name.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|source| ListenError::Resolve {
                host: name.clone(),
                port: self.port,
                source,
            })?
            .collect();
        addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or_else(|| addrs.first())
            .copied()
            .ok_or_else(|| ListenError::NoAddress {
                host: name.clone(),
                port: self.port,
            })
    }

    /// The base URL of short links when none is given, for a server bound
    /// to `port`: `http://` and the host as written (a name stays a name,
    /// so `localhost:8080` gives `http://localhost:8080`).
    pub fn base_url_at(&self, port: u16) -> Url {
        match &self.host {
            ListenHost::Ip(ip) => super::default_base(SocketAddr::new(*ip, port)),
            ListenHost::Name(name) => Url::parse(&format!("http://{name}:{port}"))
                .unwrap_or_else(|_| super::default_base(SocketAddr::from(([127, 0, 0, 1], port)))),
        }
    }
}

/// A warning for a server listening on `local` with short links on `base`,
/// when `local` is every interface (`0.0.0.0`, `[::]`) but `base` names an
/// address other machines cannot use (unspecified or loopback, `localhost`
/// included): short links would read `http://0.0.0.0:8080/…`, and sign-ins
/// from the address people do use would be refused as cross-site.
pub fn unreachable_base(base: &Url, local: SocketAddr) -> Option<String> {
    if !local.ip().is_unspecified() {
        return None;
    }
    let ip = match base.host()? {
        Host::Ipv4(ip) => IpAddr::V4(ip),
        Host::Ipv6(ip) => IpAddr::V6(ip).to_canonical(),
        Host::Domain(name) => {
            let name = name.to_ascii_lowercase();
            let name = name.strip_suffix('.').unwrap_or(&name);
            if name != "localhost" && !name.ends_with(".localhost") {
                return None;
            }
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        }
    };
    if !ip.is_unspecified() && !ip.is_loopback() {
        return None;
    }
    Some(format!(
        "kurz listens on every interface ({local}) but short links read {base}, which \
         other machines cannot reach, and sign-ins from the address they use are refused \
         as cross-site; pass --base-url https://your.host (the address people use)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Listen, String> {
        text.parse()
    }

    #[test]
    fn the_listen_forms_are_read() {
        let ip = parse("127.0.0.1:8080").unwrap();
        assert_eq!(ip.to_string(), "127.0.0.1:8080");
        assert_eq!(
            ip.resolve().unwrap(),
            SocketAddr::from(([127, 0, 0, 1], 8080))
        );
        assert_eq!(parse("[::1]:80").unwrap().to_string(), "[::1]:80");
        let all = parse(":8080").unwrap();
        assert_eq!(
            all.resolve().unwrap(),
            SocketAddr::from(([0, 0, 0, 0], 8080))
        );
        let name = parse("LocalHost:8080").unwrap();
        assert_eq!(name.to_string(), "localhost:8080");
        assert_eq!(name.base_url_at(8080).as_str(), "http://localhost:8080/");
        assert_eq!(
            parse("s.example.org:0").unwrap().to_string(),
            "s.example.org:0"
        );
    }

    #[test]
    fn bad_listen_values_are_refused_in_plain_words() {
        for (text, says) in [
            ("localhost", "has no port"),
            ("", "has no port"),
            ("localhost:99999", "number from 0 to 65535"),
            (":http", "number from 0 to 65535"),
            ("::1:8080", "IPv6 address in brackets"),
            ("[::1:8080", "IPv6 address in brackets"),
            ("bad_host:80", "neither an IP address nor a host name"),
            ("-x.org:80", "neither an IP address nor a host name"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_loopback_or_unspecified_base_on_every_interface_is_flagged() {
        let all = SocketAddr::from(([0, 0, 0, 0], 8080));
        let lo = SocketAddr::from(([127, 0, 0, 1], 8080));
        let url = |u: &str| Url::parse(u).unwrap();
        for base in [
            "http://0.0.0.0:8080",
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "http://[::]:8080",
            "http://localhost:8080",
            "http://[::ffff:127.0.0.1]:8080",
        ] {
            let warning = unreachable_base(&url(base), all);
            assert!(
                warning.is_some_and(|w| w.contains("--base-url https://your.host")),
                "{base}"
            );
            assert!(unreachable_base(&url(base), lo).is_none(), "{base}");
        }
        for base in ["https://s.example.org", "http://192.168.1.20:8080"] {
            assert!(unreachable_base(&url(base), all).is_none(), "{base}");
        }
        let v6_all = SocketAddr::from(([0u16; 8], 8080));
        assert!(unreachable_base(&url("http://[::]:8080"), v6_all).is_some());
    }
}
