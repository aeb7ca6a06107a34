//! `kurz add --password`: the link's password, never from the command line.
//!
//! On a terminal it is asked for on `/dev/tty` with echo off (rustix's
//! termios, already a dependency, instead of a crate for these few calls);
//! otherwise it is the first line of standard input, for scripts
//! (`printf '%s\n' "$PW" | kurz add --password URL`). It is never printed,
//! logged, or kept anywhere but in memory until it is sent or hashed.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, IsTerminal, Write};

use rustix::termios::{self, LocalModes, OptionalActions};

use super::{io_err, CommandError};
use crate::password::Secret;

/// The password from the terminal, or from standard input when it is not
/// one.
///
/// # Errors
/// Reading fails, or standard input ends before a line. An empty password
/// is returned as it is: the API's own check refuses it with its message.
pub(super) fn password() -> Result<Secret, CommandError> {
    if io::stdin().is_terminal() {
        let tty = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .map_err(io_err("opening the terminal for the password"))?;
        return from_tty(tty).map_err(io_err("reading the password from the terminal"));
    }
    let mut line = String::new();
    let n = io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(io_err("reading the password from standard input"))?;
    if n == 0 {
        return Err(CommandError::Invalid(
            "--password: standard input ended before a password line".into(),
        ));
    }
    Ok(Secret(strip_newline(line)))
}

fn from_tty(mut tty: File) -> io::Result<Secret> {
    let before = termios::tcgetattr(&tty)?;
    let mut quiet = before.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    tty.write_all(b"Password for the link: ")?;
    tty.flush()?;
    termios::tcsetattr(&tty, OptionalActions::Flush, &quiet)?;
    let mut line = String::new();
    let read = BufReader::new(&tty).read_line(&mut line);
    // Echo back on whatever the read did, then the newline the user typed
    // but did not see.
    let restored = termios::tcsetattr(&tty, OptionalActions::Now, &before);
    let _ = tty.write_all(b"\n");
    read?;
    restored?;
    Ok(Secret(strip_newline(line)))
}

fn strip_newline(mut line: String) -> String {
    while line.ends_with(['\n', '\r']) {
        line.pop();
    }
    line
}
