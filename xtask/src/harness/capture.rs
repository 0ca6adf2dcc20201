//! Where the output of a check goes: into a log file of its own, so that the terminal shows one
//! line per check. The process's own standard output and error (file descriptors 1 and 2) are
//! pointed at the log, so that everything a check runs — `docker build`, compose, cargo — lands
//! there too; the suite's own lines go to the terminal through copies kept aside.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result};

/// Standard output and error redirected to a log until dropped.
pub struct Capture {
    /// The terminal (or CI's log) the suite reports to: copies of fds 1 and 2.
    out: File,
    err: OwnedFd,
}

impl Capture {
    pub fn start() -> Result<Capture> {
        flush();
        // SAFETY: dup of the process's open standard descriptors; the copies are owned here.
        let (out, err) = unsafe { (libc::dup(1), libc::dup(2)) };
        anyhow::ensure!(
            out >= 0 && err >= 0,
            "duplicating standard output: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: both descriptors were just created by dup and are owned by nobody else.
        let (out, err) = unsafe { (File::from_raw_fd(out), OwnedFd::from_raw_fd(err)) };
        Ok(Capture { out, err })
    }

    /// From now on, everything written to standard output and error goes to the end of `log`.
    pub fn to(&self, log: &Path) -> Result<()> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening the log {}", log.display()))?;
        point(file.as_raw_fd(), file.as_raw_fd());
        Ok(())
    }

    /// Whether the suite's own lines go to a terminal (colours only there).
    pub fn is_terminal(&self) -> bool {
        self.out.is_terminal()
    }

    /// A line of the suite's own, to the terminal.
    pub fn say(&self, line: &str) {
        let _ = writeln!(&self.out, "{line}");
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        point(self.out.as_raw_fd(), self.err.as_raw_fd());
    }
}

/// Points fds 1 and 2 at `out` and `err`, after writing out what is buffered for the old ones.
fn point(out: i32, err: i32) {
    flush();
    // SAFETY: dup2 onto the standard descriptors from descriptors that are open; it only
    // changes where later writes go.
    unsafe {
        libc::dup2(out, 1);
        libc::dup2(err, 2);
    }
}

fn flush() {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}
