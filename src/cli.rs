//! The command line: `kurz` serves; subcommands administer a stopped server's data,
//! or a running server's through its API (`--server`).
//!
//! Only definitions live here (clap derive); [`crate::commands`] runs the
//! offline subcommands and `main.rs` runs the server.

use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::Config;
use crate::formats::{ExportFormat, Format};

/// kurz — a self-hosted URL shortener.
///
/// With no subcommand, kurz serves: `kurz` is `kurz serve`. The admin
/// subcommands open the data directory directly, so they work only while
/// the server is stopped; while it runs, give them `--server URL` (or
/// KURZ_SERVER) and the API key to go through its HTTP API.
#[derive(Debug, Parser)]
#[command(name = "kurz", version)]
pub struct Cli {
    /// Data directory [default: $STATE_DIRECTORY, which systemd's
    /// StateDirectory= sets, else ./kurz-data]. `serve`, `add` and `import`
    /// create it if missing; the other commands refuse a directory without
    /// a kurz database.
    #[arg(long, env = "KURZ_DATA", default_value_os_t = default_data(),
          hide_default_value = true, global = true)]
    pub data: PathBuf,

    /// Server settings, when no subcommand is given.
    #[command(flatten)]
    pub serve: Config,

    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The data directory when neither `--data` nor `KURZ_DATA` is given: the
/// first of systemd's `$STATE_DIRECTORY` (set by `StateDirectory=`, a
/// colon-separated list when it names several), so a service does not
/// depend on its working directory; else `./kurz-data`.
fn default_data() -> PathBuf {
    std::env::var_os("STATE_DIRECTORY")
        .and_then(|dirs| std::env::split_paths(&dirs).find(|d| !d.as_os_str().is_empty()))
        .unwrap_or_else(|| PathBuf::from("./kurz-data"))
}

/// Parses the command line, exiting with a usage message when it is wrong.
///
/// `--data` goes before or after a subcommand. A server setting given with
/// a subcommand (`kurz --listen X list`) is refused rather than ignored;
/// clap's own `args_conflicts_with_subcommands` would refuse `--data`
/// before a subcommand too.
pub fn parse() -> Cli {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if cli.command.is_some() {
        let server_settings = Config::augment_args(clap::Command::new("serve"));
        for arg in server_settings.get_arguments() {
            let id = arg.get_id().as_str();
            if matches.value_source(id) == Some(ValueSource::CommandLine) {
                let flag = arg.get_long().unwrap_or(id);
                Cli::command()
                    .error(
                        ErrorKind::ArgumentConflict,
                        format!(
                            "--{flag} is a server setting: put it after `serve`, or leave the subcommand out"
                        ),
                    )
                    .exit();
            }
        }
    }
    cli
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve(Config),
    /// Make a new API key (`--new`): prints it once and keeps only its
    /// digest in the data directory; restart the server to use it. With
    /// `--yourls`, print the YOURLS signature token instead (made on first
    /// use; `--yourls --new` replaces it).
    Key {
        /// Make a new key, replacing the one kept (the old key stops working
        /// when the server restarts).
        #[arg(long)]
        new: bool,
        /// The YOURLS signature token of `/yourls-api.php` (kept in
        /// `<data>/yourls-token`), for `signature=` and
        /// `signature=md5(timestamp . token)&timestamp=`.
        #[arg(long)]
        yourls: bool,
    },
    /// Named API keys with scopes (works while the server runs: it sees
    /// changes at once).
    Keys {
        /// What to do with them.
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Shorten a URL (prints the short URL); offline, or through a running
    /// server with `--server`.
    Add {
        /// The long URL (http or https).
        url: String,
        /// A custom slug ([A-Za-z0-9_-], up to 64 characters) instead of a generated one.
        #[arg(long)]
        slug: Option<String>,
        /// Base URL to print the short URL with [default: the one the
        /// server last ran with, kept in <data>/server.json, else
        /// http://<KURZ_LISTEN>, else http://127.0.0.1:8080].
        #[arg(long, env = "KURZ_BASE_URL", value_parser = crate::config::parse_base_url)]
        base_url: Option<url::Url>,
        /// Length of a generated slug.
        #[arg(long, env = "KURZ_SLUG_LENGTH", default_value_t = 7,
              value_parser = clap::value_parser!(u16).range(4..=32))]
        slug_length: u16,
        /// Tags, comma-separated (`--tags docs,rust`): [a-z0-9-], up to 32
        /// characters each, at most 16.
        #[arg(long, value_delimiter = ',')]
        tags: Vec<String>,
        /// When the link stops redirecting, RFC 3339 (`2030-01-01T00:00:00Z`).
        #[arg(long)]
        expires: Option<String>,
        /// How many clicks the link redirects before it answers 410.
        #[arg(long)]
        max_clicks: Option<u64>,
        /// Ask for a password the link wants before redirecting: read
        /// without echo from the terminal, or the first line of standard
        /// input when it is not one. Never given on the command line.
        #[arg(long)]
        password: bool,
        /// Where to send it instead of the data directory.
        #[command(flatten)]
        remote: Remote,
    },
    /// List links, newest first: slug, clicks, created, target.
    List {
        /// Show at most this many links [default: all].
        #[arg(long)]
        limit: Option<usize>,
        /// Where to read them instead of the data directory.
        #[command(flatten)]
        remote: Remote,
    },
    /// Show a link's clicks, in total and per day.
    Stats {
        /// The link's slug.
        slug: String,
        /// How many days back to show (1 to 366).
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u16).range(1..=366))]
        days: u16,
        /// Where to read them instead of the data directory.
        #[command(flatten)]
        remote: Remote,
    },
    /// Delete a link and its click counts.
    Delete {
        /// The link's slug.
        slug: String,
        /// Where to delete it instead of the data directory.
        #[command(flatten)]
        remote: Remote,
    },
    /// Write every link with its counters as JSON Lines (the full backup),
    /// or as CSV (settings and click totals, without days, referrers, bots).
    Export {
        /// The output format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Output file [default: standard output].
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Where to read them instead of the data directory.
        #[command(flatten)]
        remote: Remote,
    },
    /// Read everything stored and compare it with the bookkeeping kept on
    /// every create and delete; exits 0 only when nothing is missing or
    /// damaged. With `--server`, asks a running server instead: its
    /// /healthz, and whether every link reads back through its export.
    Check {
        /// Which server to ask instead of reading the data directory.
        #[command(flatten)]
        remote: Remote,
    },
    /// Rewrite the database in key order into a new directory, check the
    /// copy, and swap it in: gives back the disk space sled keeps after
    /// many writes (an import of millions of links above all) and makes
    /// reads that miss the cache cheaper. Needs free disk space for the
    /// copy; the old database is only removed once the copy reads back
    /// as written.
    Compact,
    /// Read links from a kurz export (JSON Lines or CSV), a YOURLS, Shlink or
    /// Bitly CSV export, or a url[,slug] list; existing slugs are reported
    /// and skipped, invalid lines reported and rejected.
    Import {
        /// The file, or - for standard input.
        file: PathBuf,
        /// The file's format; `auto` tells it from the first line.
        #[arg(long, value_enum, default_value_t = Format::Auto)]
        format: Format,
        /// The server's public base URL: targets under it are refused, as
        /// the API refuses them (they would redirect in a loop)
        /// [default: the one the server last ran with, kept in
        /// <data>/server.json, else http://<KURZ_LISTEN>, else
        /// http://127.0.0.1:8080].
        #[arg(long, env = "KURZ_BASE_URL", value_parser = crate::config::parse_base_url)]
        base_url: Option<url::Url>,
        /// Where to send them instead of the data directory (each link is
        /// created through the API, which cannot take click history,
        /// creation times or password hashes: see `--partial`).
        #[command(flatten)]
        remote: Remote,
        /// With `--server`: import links whose click history, creation
        /// time, creator or password hash the API cannot take, without
        /// them (each such line is reported); without it they are refused.
        #[arg(long, requires = "server")]
        partial: bool,
    },
    /// Write the whole server to one file (mode 0600): every link as
    /// `kurz export` writes it, after a first line with the credentials the
    /// data directory keeps (the admin key's digest, the named keys'
    /// digests and scopes, the YOURLS token). `kurz restore` reads it.
    Backup {
        /// The file, or - for standard output.
        file: PathBuf,
    },
    /// Restore a `kurz backup` file into an empty or new data directory:
    /// the links, and the keys, so the old admin key, named keys and YOURLS
    /// signatures work again. A plain `kurz export` restores links only.
    Restore {
        /// The file, or - for standard input.
        file: PathBuf,
        /// As for `kurz import`: targets under it are refused
        /// [default: http://<KURZ_LISTEN>, else http://127.0.0.1:8080].
        #[arg(long, env = "KURZ_BASE_URL", value_parser = crate::config::parse_base_url)]
        base_url: Option<url::Url>,
    },
}

/// `kurz keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Make a key: prints it once, keeps only its SHA-256 digest.
    Add {
        /// Its name: 1 to 32 of a-z, 0-9, '-', '_' (`admin` is the built-in key).
        name: String,
        /// What it may do: read (GET under /api/), write (also change
        /// links), admin (also manage keys and take exports).
        #[arg(long, value_parser = ["read", "write", "admin"])]
        scope: String,
    },
    /// Show every key: name, scope, created, last used (never the key).
    List,
    /// Revoke a key: it stops working at once.
    Revoke {
        /// The key's name.
        name: String,
    },
}

/// `--server` and its key: run a command through a running server's HTTP
/// API instead of on the data directory (which the server holds).
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// The running server, `http://HOST:PORT` (plain HTTP: use its local
    /// address, or a tunnel, for one behind a TLS proxy).
    #[arg(long, env = "KURZ_SERVER", value_parser = parse_server)]
    pub server: Option<url::Url>,
    /// The API key for `--server`. Prefer `--api-key-file` or
    /// `KURZ_API_KEY`: a key on the command line is visible to other users.
    // No `requires = "server"`: KURZ_API_KEY set for the server in the same
    // shell must not break the offline commands.
    // A `Secret`, so a debug print of the command line never shows it.
    #[arg(long, env = "KURZ_API_KEY", hide_env_values = true,
          value_parser = clap::builder::TypedValueParser::map(
              crate::config::ApiKeyParser, crate::password::Secret))]
    pub api_key: Option<crate::password::Secret>,
    /// A file whose first line is the API key for `--server`.
    #[arg(long, requires = "server")]
    pub api_key_file: Option<PathBuf>,
}

/// `--server`'s parser: an `http://` URL with a host and no query. Plain
/// HTTP only: kurz itself serves plain HTTP, and a TLS client would add a
/// TLS stack to every build for what a local address or a tunnel does.
fn parse_server(text: &str) -> Result<url::Url, String> {
    let url = crate::config::parse_base_url(text)?;
    if url.scheme() == "https" {
        return Err(
            "kurz talks plain HTTP to its server: give the address it listens on \
             (http://127.0.0.1:PORT on its machine), or reach it through an SSH tunnel"
                .into(),
        );
    }
    Ok(url)
}
