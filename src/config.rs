//! The server's settings: command-line flags with `KURZ_*` environment twins.
//!
//! [`Config`] is what `kurz serve` (and plain `kurz`) accept. Every field has
//! a flag and an environment variable; the flag wins. Values are checked here
//! by clap, so a bad setting stops the program with a usage message before
//! anything is opened. [`listen`] reads `--listen`.

pub mod listen;

use std::net::SocketAddr;

use clap::builder::TypedValueParser;
use clap::Args;
use url::Url;

pub use listen::Listen;

/// Settings of `kurz serve`.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address and port to listen on: IP:PORT ([::1]:8080 for IPv6),
    /// HOST:PORT (the name is resolved at start; its first IPv4 address is
    /// used), or :PORT for every IPv4 interface (0.0.0.0; [::]:PORT for
    /// IPv6 too).
    #[arg(long, env = "KURZ_LISTEN", default_value = "127.0.0.1:8080",
          value_parser = parse_listen)]
    pub listen: Listen,

    /// Public base URL of short links, e.g. https://s.example.org
    /// [default: http://<listen address>]
    #[arg(long, env = "KURZ_BASE_URL", value_parser = parse_base_url)]
    pub base_url: Option<Url>,

    /// API key for /api/ (at least 16 characters). Without it, a key is
    /// generated on first start and kept in <data>/api-key.
    // A `Secret`, so a debug print of the settings never shows it.
    #[arg(long, env = "KURZ_API_KEY", hide_env_values = true,
          value_parser = TypedValueParser::map(ApiKeyParser, crate::password::Secret))]
    pub api_key: Option<crate::password::Secret>,

    /// Default redirect status: 302 and 307 are never cached by browsers, so
    /// every click is counted; 301 and 308 are cached, so repeat clicks from
    /// one browser are not.
    #[arg(long, env = "KURZ_REDIRECT_STATUS", default_value_t = 302,
          value_parser = parse_redirect_status)]
    pub redirect_status: u16,

    /// Length of generated slugs (alphabet 0-9A-Za-z).
    #[arg(long, env = "KURZ_SLUG_LENGTH", default_value_t = 7,
          value_parser = clap::value_parser!(u16).range(4..=32))]
    pub slug_length: u16,

    /// Memory in MiB for the link cache and sled's page cache together
    /// (sled's in-memory page table comes on top: about 9 bytes per link,
    /// and about 42 bytes per link and 32-day block with clicks).
    #[arg(long, env = "KURZ_CACHE_MB", default_value_t = 128,
          value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub cache_mb: u64,

    /// Skip the integrity check `serve` runs in the background after start.
    /// It reads the whole database: instant at thousands of links, but at
    /// 10 million 15–30 s, with a memory peak of 300–550 MiB.
    #[arg(long, env = "KURZ_SKIP_STARTUP_CHECK")]
    pub skip_startup_check: bool,

    /// Answer `GET /metrics` without the API key. Off by default: the
    /// figures (link count, traffic, database size) are not for everyone.
    /// Turn it on only where the port is reachable by your Prometheus alone.
    #[arg(long, env = "KURZ_PUBLIC_METRICS")]
    pub public_metrics: bool,

    /// Free space, in MiB, kept in reserve on the disk of the data
    /// directory: below it, writes are refused (503) and click counts wait
    /// in memory, while redirects go on. 0 turns the check off.
    #[arg(long, env = "KURZ_MIN_FREE_MB", default_value_t = crate::store::health::DEFAULT_MIN_FREE >> 20,
          value_parser = clap::value_parser!(u64).range(0..=1_048_576))]
    pub min_free_mb: u64,

    /// Most connections served at once. At the cap, the longest-idle
    /// connections are closed to make room; when every one has a request in
    /// progress, newcomers wait. Lowered to fit the open-file limit.
    #[arg(long, env = "KURZ_MAX_CONNECTIONS", default_value_t = crate::http::conns::MAX_CONNECTIONS,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000).map(|n| n as usize))]
    pub max_connections: usize,

    /// Seconds a connection may sit without a request in progress, and a
    /// client has to send a request's headers, before it is closed.
    #[arg(long, env = "KURZ_IDLE_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub idle_timeout: u64,
}

impl Config {
    /// The connection limits these settings ask for.
    pub fn limits(&self) -> crate::http::conns::Limits {
        crate::http::conns::Limits {
            max_connections: self.max_connections,
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout),
        }
    }

    /// The base URL short links are built on: `--base-url`, or
    /// `http://<listen host>:<port>` where the port is that of `local`, the
    /// address actually bound (so port 0 becomes the real port), and the
    /// host is `--listen`'s as written (a host name stays a name).
    pub fn base_url_for(&self, local: SocketAddr) -> Url {
        self.base_url
            .clone()
            .unwrap_or_else(|| self.listen.base_url_at(local.port()))
    }
}

/// `http://<addr>`, the base URL when none is configured.
pub fn default_base(addr: SocketAddr) -> Url {
    // Not reachable from input: `http://` and a formatted socket address
    // (IPv6 in brackets) is always a valid URL.
    #[allow(clippy::expect_used)]
    Url::parse(&format!("http://{addr}")).expect("a socket address forms a valid URL")
}

/// clap's parser of `--listen` (see [`Listen`]).
///
/// # Errors
/// A sentence naming what is wrong and the accepted forms.
pub fn parse_listen(text: &str) -> Result<Listen, String> {
    text.parse()
}

fn parse_redirect_status(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(s) if crate::store::REDIRECT_STATUSES.contains(&s) => Ok(s),
        _ => Err("the redirect status must be 301, 302, 307 or 308".into()),
    }
}

/// Checks a base URL: absolute http(s) with a host, no query or fragment.
///
/// # Errors
/// A sentence saying which rule the text breaks.
pub fn parse_base_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("not an absolute URL: {e}"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err("the base URL must start with http:// or https://".into());
    }
    if url.host_str().is_none() {
        return Err("the base URL needs a host".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("the base URL must not have a query or fragment".into());
    }
    Ok(url)
}

/// clap's parser of `--api-key`: [`parse_api_key`], with an error that
/// names the rule and never the value. clap's own error for a refused value
/// quotes it (`invalid value '…' for '--api-key'`), and that line would put
/// the secret in the service's journal.
#[derive(Debug, Clone, Copy)]
pub struct ApiKeyParser;

impl TypedValueParser for ApiKeyParser {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let name = arg
            .and_then(clap::Arg::get_long)
            .map_or_else(|| "--api-key".to_owned(), |l| format!("--{l}"));
        let refuse = |why: &str| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("{name} (or KURZ_API_KEY) was refused: {why}; the value is not shown\n\nFor more information, try '--help'.\n"),
            )
            .with_cmd(cmd)
        };
        let text = value.to_str().ok_or_else(|| {
            refuse("the API key may only hold visible ASCII characters (no spaces)")
        })?;
        parse_api_key(text).map_err(|why| refuse(&why))
    }
}

/// Checks an API key given on the command line or in the environment.
///
/// # Errors
/// Keys shorter than 16 characters, or with characters that cannot travel
/// in an HTTP header (space, control, non-ASCII).
pub fn parse_api_key(text: &str) -> Result<String, String> {
    if text.len() < 16 {
        return Err("the API key must be at least 16 characters long".into());
    }
    if !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the API key may only hold visible ASCII characters (no spaces)".into());
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    // The settings derived `Debug` with the key as a plain `String`: a
    // `{:?}` of them in a log line would have carried it.
    #[test]
    fn a_debug_print_of_the_settings_never_shows_the_api_key() {
        let key = "sixteen-chars-secret-key";
        let cli = crate::cli::Cli::try_parse_from(["kurz", "serve", "--api-key", key]).unwrap();
        let Some(crate::cli::Command::Serve(config)) = &cli.command else {
            panic!("not serve: {cli:?}");
        };
        assert_eq!(config.api_key.as_ref().map(|k| k.0.as_str()), Some(key));
        assert!(!format!("{cli:?}").contains(key), "{cli:?}");
    }
}
