//! The offline admin commands: `key`, `add`, `list`, `stats`, `delete`, `export`, `import`,
//! `check`, `compact`.
//!
//! Each opens the data directory itself, so it runs only while the server
//! is stopped (the store's lock says so otherwise), unless `--server` sends
//! it through a running server's API (`online.rs`, over `remote.rs`). Output is plain text
//! for people and scripts; problems go to standard error with a non-zero
//! exit.

mod backup;
mod compact;
mod online;
mod prompt;
mod remote;
mod transfer;

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use thiserror::Error;

use crate::cli::{Command, KeysAction};
use crate::http::wire::NewLink;
use crate::store::{Store, StoreError};
use crate::target::TargetRules;
use crate::{clock, key, slug};
use remote::Server;

/// Cache given to the store by offline commands, in bytes.
const OFFLINE_CACHE: u64 = 64 << 20;

/// Cache for the commands that read the whole database once, in order
/// (`check`, `export`): a cache buys them nothing, and sled holds more than
/// its nominal size, so a small one keeps memory down. At 10M links `check`
/// peaked at 305 instead of 391 MB and `export` at 193 instead of 244 MB,
/// in the same time.
const SCAN_CACHE: u64 = 16 << 20;

/// Why an admin command failed.
#[derive(Debug, Error)]
pub enum CommandError {
    /// The server holds the data directory.
    #[error(
        "the data directory {} is in use by a running kurz server.\n\
         Stop the server first, or use the HTTP API while it runs, e.g.\n  \
         kurz list --server {server} --api-key-file KEYFILE\n  \
         curl -H \"Authorization: Bearer $KEY\" {server}/api/links",
        .dir.display()
    )]
    ServerRunning {
        /// The data directory.
        dir: PathBuf,
        /// Where the server listens, as it recorded it in `server.json`, or
        /// a placeholder when no believable record is there.
        server: String,
    },
    /// The data directory, or the database in it, is not there; nothing
    /// was created.
    #[error(
        "{0}. Is --data (or KURZ_DATA) right? The default is $STATE_DIRECTORY under \
         systemd, else ./kurz-data; `kurz serve`, `kurz add` and `kurz import` create a \
         database, the other commands only open one"
    )]
    NoData(StoreError),
    /// A store fault.
    #[error(transparent)]
    Store(StoreError),
    /// `kurz compact` stopped; the database was not changed.
    #[error("compaction stopped, and the database is as it was: {0}")]
    Compact(StoreError),
    /// The key file.
    #[error(transparent)]
    Key(#[from] key::KeyError),
    /// Named keys.
    #[error(transparent)]
    Keys(#[from] crate::keys::KeysError),
    /// Reading input or writing output failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being read or written.
        what: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The user's input was refused.
    #[error("{0}")]
    Invalid(String),
    /// No link has that slug.
    #[error("no link with slug '{0}'")]
    NotFound(String),
    /// The credentials of a backup.
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
    /// `--server` did not answer.
    #[error(
        "cannot reach the kurz server at {server}: {reason}. Is it running, and is --server \
         (or KURZ_SERVER) the address it listens on?"
    )]
    Unreachable {
        /// The `--server` URL.
        server: String,
        /// What the connection or the answer failed with.
        reason: String,
    },
    /// `--server` refused the key.
    #[error(
        "the server at {server} refused the API key (401): check --api-key-file or \
         KURZ_API_KEY"
    )]
    Unauthorized {
        /// The `--server` URL.
        server: String,
    },
    /// `--server` answered another failure.
    #[error("the server at {server} answered {status}: {detail}")]
    Refused {
        /// The `--server` URL.
        server: String,
        /// The HTTP status.
        status: u16,
        /// The problem's detail, or the start of the body.
        detail: String,
    },
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Locked(dir) => CommandError::ServerRunning {
                server: crate::running::live_address(&dir)
                    .unwrap_or_else(|| "http://ADDRESS-IT-LISTENS-ON".to_owned()),
                dir,
            },
            e @ (StoreError::NoDatabase(_) | StoreError::NoDataDirectory(_)) => {
                CommandError::NoData(e)
            }
            other => CommandError::Store(other),
        }
    }
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> CommandError {
    let what = what.into();
    move |source| CommandError::Io { what, source }
}

/// Runs an offline command against the data directory `data`.
///
/// # Errors
/// Any failure, to be printed by `main` with a non-zero exit.
pub fn run(command: Command, data: &Path) -> Result<ExitCode, CommandError> {
    match command {
        Command::Serve(_) => Err(CommandError::Invalid(
            "serve is not an offline command".into(),
        )),
        Command::Key {
            new: true,
            yourls: false,
        } => {
            let key = key::replace(data)?;
            println!("{key}");
            eprintln!(
                "kurz: this is the new API key; it is shown only now ({} keeps just its digest). \
                 A running server goes on with the old key until it restarts.",
                key::path_in(data).display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Key {
            new: false,
            yourls: false,
        } => {
            let stored = key::read(data)?;
            Err(CommandError::Invalid(format!(
                "the API key cannot be shown: {} keeps only its SHA-256 digest, and the key was \
                 shown once, when it was made. `kurz key --new` makes a new one.",
                stored.path.display()
            )))
        }
        Command::Key { new, yourls: true } => {
            let token = if new {
                key::replace_yourls_token(data)?
            } else {
                key::yourls_token(data)?
            };
            println!("{token}");
            eprintln!(
                "kurz: the YOURLS signature token of /yourls-api.php, kept in {}.{}",
                key::yourls_token_path(data).display(),
                if new {
                    " A running server goes on with the old token until it restarts."
                } else {
                    ""
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Add {
            url,
            slug,
            base_url,
            slug_length,
            tags,
            expires,
            max_clicks,
            password,
            remote,
        } => {
            // The password first: a prompt after a refused key would be
            // typed for nothing.
            let password = if password {
                Some(prompt::password()?)
            } else {
                None
            };
            let args = online::NewLinkArgs {
                url,
                slug,
                tags,
                expires,
                max_clicks,
                password,
            };
            if let Some(server) = Server::of(&remote)? {
                return online::add(&server, &args);
            }
            let base = match base_url {
                Some(base) => base,
                None => match crate::running::base_url(data) {
                    Some(base) => base,
                    None => transfer::serving_base()?,
                },
            };
            add(data, &args, &base, slug_length)
        }
        Command::Keys { action } => keys_command(data, action),
        Command::List { limit, remote } => match Server::of(&remote)? {
            Some(server) => online::list(&server, limit),
            None => list(data, limit),
        },
        Command::Stats { slug, days, remote } => match Server::of(&remote)? {
            Some(server) => online::stats(&server, &slug, days),
            None => stats(data, &slug, days),
        },
        Command::Delete { slug, remote } => {
            if let Some(server) = Server::of(&remote)? {
                return online::delete(&server, &slug);
            }
            let store = open_existing(data)?;
            if !store.delete(&slug)? {
                return Err(CommandError::NotFound(slug));
            }
            store.flush_all()?;
            println!("deleted {slug}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Export {
            format,
            output,
            remote,
        } => match Server::of(&remote)? {
            Some(server) => online::export(&server, format, output.as_deref()),
            None => transfer::export(data, format, output.as_deref()),
        },
        Command::Import {
            file,
            format,
            base_url,
            remote,
            partial,
        } => match Server::of(&remote)? {
            Some(server) => online::import(&server, &file, format, partial),
            None => transfer::import(data, &file, format, base_url),
        },
        Command::Check { remote } => match Server::of(&remote)? {
            Some(server) => online::check(&server),
            None => check(data),
        },
        Command::Compact => compact::run(data),
        Command::Backup { file } => backup::backup(data, &file),
        Command::Restore { file, base_url } => backup::restore(data, &file, base_url),
    }
}

fn check(data: &Path) -> Result<ExitCode, CommandError> {
    let store = open_for_scan(data)?;
    let report = store.check()?;
    for note in &report.notes {
        println!("note: {note}");
    }
    if report.is_clean() {
        println!(
            "ok: {} links, every record readable and matching the bookkeeping",
            report.links
        );
        return Ok(ExitCode::SUCCESS);
    }
    for problem in &report.problems {
        println!("problem: {problem}");
    }
    let expected = report
        .expected
        .map_or_else(|| "an unknown number".to_owned(), |n| n.to_string());
    eprintln!(
        "kurz check: {} problem(s); {} of {expected} links readable. Restore from a backup \
         (README, Backups) or export what is readable with `kurz export`.",
        report.problems.len(),
        report.links
    );
    Ok(ExitCode::FAILURE)
}

/// Opens the store, creating it if needed: for the commands that add links.
fn open(data: &Path) -> Result<Store, CommandError> {
    Ok(Store::open(data, OFFLINE_CACHE)?)
}

/// Opens the store only if there is one: a command that reads or deletes
/// must not make an empty database on a mistyped `--data` and then report
/// on it (a backup of nothing that exits 0).
fn open_existing(data: &Path) -> Result<Store, CommandError> {
    Ok(Store::open_existing(data, OFFLINE_CACHE)?)
}

/// [`open_existing`] for a command that reads everything once (see
/// [`SCAN_CACHE`]).
fn open_for_scan(data: &Path) -> Result<Store, CommandError> {
    Ok(Store::open_existing(data, SCAN_CACHE)?)
}

fn add(
    data: &Path,
    args: &online::NewLinkArgs,
    base: &url::Url,
    slug_length: u16,
) -> Result<ExitCode, CommandError> {
    let target = TargetRules::new(Some(base))
        .check(&args.url)
        .map_err(|e| CommandError::Invalid(format!("invalid url: {e}")))?;
    if let Some(s) = &args.slug {
        slug::validate(s).map_err(|e| CommandError::Invalid(format!("invalid slug: {e}")))?;
    }
    // The rest as the API checks it, with its messages.
    let NewLink { mut link, .. } = args
        .request()
        .check(&TargetRules::new(Some(base)), clock::now_ms())
        .map_err(|e| CommandError::Invalid(e.detail))?;
    link.target = target.into();
    // As before: offline links are made as the built-in key's owner.
    link.created_by = Some(crate::keys::BUILTIN.to_owned());
    if let Some(p) = &args.password {
        link.password = Some(
            crate::password::hash(&p.0)
                .map_err(|e| CommandError::Invalid(format!("password: {e}")))?,
        );
    }
    let store = open(data)?;
    let slug = match &args.slug {
        Some(s) => match store.create(s, &link)? {
            Ok(()) => s.clone(),
            Err(_) => {
                return Err(CommandError::Invalid(format!(
                    "the slug '{s}' is already taken"
                )))
            }
        },
        None => store.create_generated(usize::from(slug_length), &link)?,
    };
    store.flush_all()?;
    println!("{}/{slug}", base.as_str().trim_end_matches('/'));
    Ok(ExitCode::SUCCESS)
}

fn list(data: &Path, limit: Option<usize>) -> Result<ExitCode, CommandError> {
    let store = open_existing(data)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let mut left = limit.unwrap_or(usize::MAX);
    let mut cursor = None;
    while left > 0 {
        let page = store.list(left.min(1000), cursor.as_ref())?;
        for (slug, link) in &page.links {
            let clicks = store.clicks(slug)?;
            online::list_row(
                &mut out,
                slug,
                clicks,
                &clock::format_ms(link.created_at),
                &link.target,
            )
            .map_err(io_err("writing the list"))?;
        }
        left -= page.links.len();
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    out.flush().map_err(io_err("writing the list"))?;
    Ok(ExitCode::SUCCESS)
}

fn stats(data: &Path, slug: &str, days: u16) -> Result<ExitCode, CommandError> {
    let store = open_existing(data)?;
    let link = store
        .get(slug)?
        .ok_or_else(|| CommandError::NotFound(slug.to_owned()))?;
    let today = clock::day_of(clock::now_ms());
    let from = today.saturating_sub(u32::from(days) - 1);
    let daily = store.daily(slug, from, today)?;
    let clicks = store.clicks(slug)?;
    let sources = store.sources(slug)?;
    online::StatsView {
        slug: slug.to_owned(),
        target: link.target,
        created: clock::format_ms(link.created_at),
        clicks,
        daily: (from..=today)
            .zip(daily)
            .map(|(day, n)| (clock::format_day(day), n))
            .collect(),
        bot_visits: sources.bot_visits(),
        referrers: sources.referrers,
        other_referrers: sources.other_referrers,
        bots: sources.bots,
    }
    .print();
    Ok(ExitCode::SUCCESS)
}

/// `kurz keys add|list|revoke`: on the keys file directly, under its lock,
/// so it works beside a running server (which sees the change at once).
fn keys_command(data: &Path, action: KeysAction) -> Result<ExitCode, CommandError> {
    use crate::keys::{self, Scope, BUILTIN};
    match action {
        KeysAction::Add { name, scope } => {
            let scope = Scope::parse(&scope)
                .ok_or_else(|| CommandError::Invalid(format!("unknown scope {scope:?}")))?;
            let (made, secret) = keys::add(data, &name, scope, clock::now_ms())?;
            println!("{secret}");
            eprintln!(
                "kurz: the key '{}' (scope {}); it is shown only now (the data directory keeps \
                 just its digest)",
                made.name,
                made.scope.as_str()
            );
        }
        KeysAction::List => {
            let used = keys::read_used(data);
            let show = |at: Option<&i64>| {
                at.map_or_else(|| "never".to_owned(), |&ms| clock::format_ms(ms))
            };
            println!(
                "{:<32}  {:<5}  {:<24}  last used",
                "name", "scope", "created"
            );
            println!(
                "{:<32}  {:<5}  {:<24}  {}",
                BUILTIN,
                "admin",
                "(built-in)",
                show(used.get(BUILTIN))
            );
            for k in keys::read(data)? {
                println!(
                    "{:<32}  {:<5}  {:<24}  {}",
                    k.name,
                    k.scope.as_str(),
                    clock::format_ms(k.created_at),
                    show(used.get(&k.name))
                );
            }
        }
        KeysAction::Revoke { name } => {
            keys::revoke(data, &name)?;
            eprintln!("kurz: the key '{name}' is revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}
