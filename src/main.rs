//! The kurz binary: parse the command line, set up logging, run the command.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use kurz::cli::Command;
use kurz::config::Config;
use kurz::http::{server, App, Settings};
use kurz::store::Store;

/// jemalloc returns freed memory to the system where glibc's allocator kept
/// it: after the start-up integrity check at 10M links, ~530 MiB of RSS
/// under load instead of ~960 MiB (README, Dependencies).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    // Before anything is created: data, keys and exports are the owner's alone.
    kurz::private::umask();
    let cli = kurz::cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        None => serve(&cli.serve, &cli.data),
        Some(Command::Serve(config)) => serve(&config, &cli.data),
        Some(other) => kurz::commands::run(other, &cli.data).map_err(anyhow::Error::from),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kurz: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each cause once: several of our error types
/// already print their source in their own message.
fn describe(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text = format!("{text}: {cause}");
        }
    }
    text
}

fn serve(config: &Config, data: &std::path::Path) -> anyhow::Result<ExitCode> {
    let store = Store::open(data, config.cache_mb << 20)
        .with_context(|| format!("cannot open the data directory {}", data.display()))?;
    store.set_min_free(config.min_free_mb << 20);
    if let Some(problem) = store.problem() {
        // Serving redirects is still worth it; /healthz says why writes fail.
        tracing::error!(%problem, "starting without the ability to save new links");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Bind before a key is made: the new key is shown only once, so a start
    // that then fails to listen would leave no way in but `kurz key --new`.
    let addr = config.listen.resolve()?;
    let listener = {
        let _runtime = runtime.enter();
        server::bind(addr).with_context(|| match config.listen.to_string() {
            given if given == addr.to_string() => format!("cannot listen on {addr}"),
            given => format!("cannot listen on {given} ({addr})"),
        })?
    };
    let local = listener.local_addr()?;
    let api_key = api_key(config, data)?;
    runtime.block_on(async {
        let shutdown = shutdown_signal()?;
        let settings = Settings {
            base_url: config.base_url_for(local),
            api_key,
            redirect_status: config.redirect_status,
            slug_length: usize::from(config.slug_length),
        };
        if let Some(warning) = kurz::config::listen::unreachable_base(&settings.base_url, local) {
            tracing::warn!("{warning}");
        }
        // Before the listening line: whoever waits for it may ask at once.
        let record = record_running(data, local, settings.base_url.as_str());
        println!(
            "kurz listening on http://{local} (short links: {})",
            settings.base_url
        );
        // No link count here: sled counts by scanning, seconds at 10M links.
        tracing::info!(%local, data = %data.display(), "serving");
        let mut app = App::new(store, settings);
        app.startup_check = !config.skip_startup_check;
        app.public_metrics = config.public_metrics;
        app.limits = fit_to_open_file_limit(config.limits());
        let app = Arc::new(app);
        server::run(listener, app, shutdown).await?;
        if let Some(record) = record {
            if let Err(e) = kurz::running::mark_stopped(data, &record) {
                tracing::warn!(error = %e, "cannot mark server.json stopped");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Records where this server listens in `<data>/server.json`, for the admin
/// commands' hints and offline short URLs. A failure is only logged: the
/// record improves messages, serving does not depend on it.
fn record_running(
    data: &std::path::Path,
    local: std::net::SocketAddr,
    base_url: &str,
) -> Option<kurz::running::Record> {
    // A client cannot connect to 0.0.0.0 or [::]: name loopback instead,
    // which every-interface listening includes.
    let mut reach = local;
    if reach.ip().is_unspecified() {
        reach.set_ip(match reach.ip() {
            std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let record = kurz::running::Record {
        listening: Some(format!("http://{reach}")),
        base_url: base_url.to_owned(),
        pid: std::process::id(),
    };
    match kurz::running::write(data, &record) {
        Ok(()) => Some(record),
        Err(e) => {
            tracing::warn!(error = %e, "cannot write server.json; admin commands will not know this address");
            None
        }
    }
}

/// The digest of the API key: `--api-key`'s, else the one kept in the data
/// directory, made (and printed, the only time it is shown) on first start.
fn api_key(config: &Config, data: &std::path::Path) -> anyhow::Result<kurz::key::KeyDigest> {
    let Some(given) = &config.api_key else {
        let stored = kurz::key::load_or_create(data)?;
        if let Some(key) = &stored.new_key {
            println!(
                "Generated an API key. It is shown only now: {} keeps just its digest.\n\n    {key}\n",
                stored.path.display()
            );
        } else if stored.converted {
            tracing::info!(file = %stored.path.display(), "the API key file held the key itself; it now holds only its SHA-256 digest (the key is unchanged)");
        } else {
            tracing::info!(file = %stored.path.display(), "using the API key whose digest is kept in the data directory");
        }
        return Ok(stored.digest);
    };
    Ok(kurz::key::KeyDigest::of(given.0.as_bytes()))
}

/// Raises the soft open-file limit to the hard one (the usual soft default,
/// 1024, would stop accepting long before the connection cap) and lowers
/// the connection cap to what the limit allows: at the cap kurz makes room
/// by closing idle connections, but at the limit `accept` fails outright.
fn fit_to_open_file_limit(limits: server::Limits) -> server::Limits {
    let files = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the open-file limit; keeping the connection cap");
            return limits;
        }
    };
    let room = files.saturating_sub(server::RESERVED_FDS).max(1);
    let room = usize::try_from(room).unwrap_or(usize::MAX);
    if limits.max_connections <= room {
        return limits;
    }
    tracing::warn!(
        open_file_limit = files,
        max_connections = room,
        "the open-file limit allows fewer connections than --max-connections; raise it (ulimit -n, LimitNOFILE=) to serve more"
    );
    server::Limits {
        max_connections: room,
        ..limits
    }
}

/// Installs the SIGINT and SIGTERM handlers now, and returns a future that
/// completes when either arrives. Installing before the "listening" line is
/// printed matters: a SIGTERM that came before the handlers would kill the
/// process without the final flush.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutdown signal received");
    })
}
