//! kurz: a self-hosted URL shortener in one binary.
//!
//! # Layout
//! - [`config`]: the server's settings, from flags and `KURZ_*` variables.
//! - [`cli`]: the command line (clap): `serve` and the offline admin commands.
//! - [`commands`]: what each admin command does, offline or through `--server`.
//! - [`formats`]: the files `kurz import` reads: kurz's own exports and other shorteners'.
//! - [`key`]: the API key's digest and the key file that keeps only it; the
//!   YOURLS signature token.
//! - [`keys`]: named API keys with scopes, and who a request is.
//! - [`backup`]: the credentials record of a `kurz backup` file.
//! - [`store`]: the only code that touches sled: links, counters, cache.
//! - [`slug`]: generating and validating short codes.
//! - [`target`]: validating long URLs.
//! - [`tags`]: validating the tags of a link.
//! - [`password`]: link passwords: Argon2id hashes, made and checked.
//! - [`qr`]: QR codes of short URLs, as SVG or PNG.
//! - [`visit`]: what a click says about its visitor: referrer host, bot.
//! - [`private`]: what kurz writes is its owner's alone (umask, modes).
//! - [`running`]: `<data>/server.json`, the running server's address and base URL.
//! - [`clock`]: times as stored (Unix ms, day numbers) and shown (RFC 3339).
//! - [`http`]: the hyper server: accept loop, router, redirect, API, metrics,
//!   errors, and the YOURLS-compatible API.
//!
//! Dependencies point one way: `http` → `store` → (`slug`, `target`, `tags`, `visit`, `clock`).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod backup;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod formats;
pub mod http;
pub mod key;
pub mod keys;
pub mod password;
pub mod private;
pub mod qr;
pub mod running;
pub mod slug;
pub mod store;
pub mod tags;
pub mod target;
pub mod visit;
