//! The HTTP face of kurz: a hyper 1.x service with its own small router.
//!
//! [`server::run`] accepts connections and drives them; every request goes
//! through [`router::route`], which hands redirects to [`redirect`] (a
//! protected link's password to [`unlock`], behind [`lockout`]) and the
//! management API to [`api`] (the streamed backup to [`export`]) behind
//! [`auth`] and the brute-force [`guard`], the web page to [`page`],
//! `/metrics` to [`metrics`], and the YOURLS-compatible API to [`yourls`];
//! [`openapi`] serves the API's description.
//! Failures become problem+json responses in one place, [`error`].

pub mod api;
pub mod auth;
pub mod body;
pub mod conns;
pub mod error;
pub mod export;
pub mod failures;
pub mod guard;
pub mod incoming;
pub mod keys;
pub mod lockout;
pub mod metrics;
pub mod openapi;
pub mod page;
pub mod redirect;
pub mod router;
pub mod server;
pub mod session;
pub mod unlock;
pub mod wire;
pub mod yourls;

use url::Url;

use crate::store::Store;
use crate::target::TargetRules;

pub use body::Body;

/// What the HTTP layer needs to know beyond the store.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Base URL of short links (`short_url` = base + `/` + slug).
    pub base_url: Url,
    /// The digest of the API key for `/api/`.
    pub api_key: crate::key::KeyDigest,
    /// Redirect status of links that do not choose one.
    pub redirect_status: u16,
    /// Length of generated slugs.
    pub slug_length: usize,
}

/// Default longest time an API request may take, from its head being read
/// to its answer: a client trickling a body cannot hold a connection longer.
pub const REQUEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// Shared state of the service: the store and the settings.
pub struct App {
    /// The link store.
    pub store: Store,
    /// The settings.
    pub settings: Settings,
    /// Target rules bound to this server's base URL.
    pub rules: TargetRules,
    /// SHA-256 of the built-in API key (the YOURLS API checks it).
    pub key_digest: crate::key::KeyDigest,
    /// The built-in key and the named keys: who a request is.
    pub keys: crate::keys::Keyring,
    /// Wrong keys by client address, for 429s.
    pub guard: guard::AuthGuard,
    /// Wrong link passwords by (slug, client address), for 429s.
    pub lockout: lockout::PasswordGuard,
    /// Turns for Argon2id work (hashing and checking link passwords).
    pub argon2: crate::password::Slots,
    /// Longest an API request may take, body included, before it is
    /// answered 408 and its connection closed (redirects never wait).
    /// Default [`REQUEST_DEADLINE`].
    pub request_deadline: std::time::Duration,
    /// Signed-in browsers.
    pub sessions: session::Sessions,
    /// How many connections are served at once and how long they may idle.
    pub limits: conns::Limits,
    /// Request counters and the redirect latency histogram for `/metrics`.
    pub metrics: metrics::Metrics,
    /// Whether `/metrics` answers without the key (default false;
    /// `--public-metrics` turns it on).
    pub public_metrics: bool,
    /// Whether `server::run` checks the store's integrity in the background
    /// after start (default true; `--skip-startup-check` turns it off).
    pub startup_check: bool,
    /// Why the server is degraded (the integrity check failed); `None`
    /// while all is well. `/healthz` answers 503 with it.
    degraded: std::sync::RwLock<Option<String>>,
    /// `base_url` without a trailing slash, to append `/slug` to.
    short_prefix: String,
    /// The YOURLS signature token, once read from the data directory
    /// (read on first need, then kept: like the API key, a new token takes
    /// effect on restart).
    yourls_token: std::sync::OnceLock<String>,
}

impl App {
    /// Builds the shared state.
    pub fn new(store: Store, settings: Settings) -> Self {
        let rules = TargetRules::new(Some(&settings.base_url));
        let short_prefix = settings.base_url.as_str().trim_end_matches('/').to_owned();
        let keys = crate::keys::Keyring::new(store.dir(), settings.api_key.clone());
        App {
            key_digest: settings.api_key.clone(),
            keys,
            guard: guard::AuthGuard::default(),
            lockout: lockout::PasswordGuard::default(),
            argon2: crate::password::Slots::default(),
            request_deadline: REQUEST_DEADLINE,
            limits: conns::Limits::default(),
            sessions: session::Sessions::default(),
            startup_check: true,
            metrics: metrics::Metrics::default(),
            public_metrics: false,
            degraded: std::sync::RwLock::new(None),
            store,
            settings,
            rules,
            short_prefix,
            yourls_token: std::sync::OnceLock::new(),
        }
    }

    /// Why the server is degraded, if it is: the integrity check failed, or
    /// the store cannot take writes (disk nearly full, a failed write).
    pub fn degraded(&self) -> Option<String> {
        let found = self
            .degraded
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        found.or_else(|| self.store.problem())
    }

    /// Marks the server degraded for `reason` (shown by `/healthz`).
    pub fn set_degraded(&self, reason: String) {
        *self
            .degraded
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(reason);
    }

    /// `base_url` without a trailing slash: short URLs are this + `/slug`.
    pub fn short_prefix(&self) -> &str {
        &self.short_prefix
    }

    /// The short URL of `slug`.
    pub fn short_url(&self, slug: &str) -> String {
        format!("{}/{slug}", self.short_prefix)
    }
}
