//! Backups of the compose stack: the archive (`db.dump` and `files.tar` in a `.tar.gz`, one
//! writer for the compose and the Swarm backups) and putting one back.

use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use xshell::{cmd, Shell};

use super::stack::{Stack, DB, FILES};
use crate::docker::Docker;
use crate::scratch::Scratch;

/// Writes `backups/redmine-TIMESTAMP.tar.gz` of what two commands write to their stdout, run
/// wherever the stack is: `dump`, the database (pg_dump, custom format) into `db.dump`, and
/// `files`, a tar of the attachments, into `files.tar`.
pub fn write_backup(
    sh: &Shell,
    backups: &Path,
    dump: duct::Expression,
    files: duct::Expression,
) -> Result<PathBuf> {
    let stamp = cmd!(sh, "date -u +%Y%m%d-%H%M%S").quiet().read()?;
    std::fs::create_dir_all(backups)?;
    let out = backups.join(format!("redmine-{stamp}.tar.gz"));
    ensure!(!out.exists(), "{} exists already", out.display());
    let work = Scratch::at(backups.join(format!(".redmine-{stamp}")))?;
    dump.stdout_path(work.join("db.dump"))
        .run()
        .context("dumping the database failed")?;
    files
        .stdout_path(work.join("files.tar"))
        .run()
        .context("archiving the attachments failed")?;
    let dir = work.path();
    cmd!(sh, "tar -C {dir} -czf {out} db.dump files.tar").run()?;
    Ok(out)
}

impl Stack {
    /// Writes backups/redmine-TIMESTAMP.tar.gz: `db.dump` (pg_dump, custom format) and
    /// `files.tar` (the attachments).
    pub fn backup(&self, sh: &Shell) -> Result<PathBuf> {
        self.ensure_running(sh)?;
        let user = format!("--username={DB}");
        let dump = ["exec", "-T", "db", "pg_dump", &user, "--format=custom", DB];
        let files = ["exec", "-T", "redmine", "tar", "-C", FILES, "-cf", "-", "."];
        write_backup(
            sh,
            &self.backups,
            self.compose_bytes(sh, &dump),
            self.compose_bytes(sh, &files),
        )
    }

    /// Puts a backup back. Everything that can fail is done beside the live data first (the
    /// dump is loaded into a new database, the files unpacked into a hidden directory); only
    /// then is Redmine stopped and the two swapped in. Bad input changes nothing, and so does a
    /// dump of a newer PostgreSQL major than the stack's. Returns whether Redmine migrated the
    /// restored database (a backup of an older Redmine, or of fewer plugins).
    pub fn restore(&self, sh: &Shell, file: &Path) -> Result<bool> {
        ensure!(file.is_file(), "no backup file {}", file.display());
        let work = Scratch::at(
            self.backups
                .join(format!(".restore-{}", std::process::id())),
        )?;
        let dir = work.path();
        cmd!(sh, "tar -C {dir} -xzf {file} db.dump files.tar")
            .quiet()
            .ignore_stderr()
            .run()
            .map_err(|_| {
                anyhow::anyhow!(
                    "{} is not a Redmine backup (a .tar.gz with db.dump and files.tar)",
                    file.display()
                )
            })?;
        let (dump, files) = (dir.join("db.dump"), dir.join("files.tar"));
        cmd!(sh, "tar -tf {files}")
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run()
            .map_err(|_| anyhow::anyhow!("{}: its files.tar is damaged", file.display()))?;
        self.ensure_running(sh)?;
        let user = format!("--username={DB}");
        let listing = self
            .compose_bytes(sh, &["exec", "-T", "db", "pg_restore", "--list"])
            .stdin_path(&dump)
            .stdout_capture()
            .stderr_null()
            .run()
            .map_err(|_| anyhow::anyhow!("{}: its db.dump is damaged", file.display()))?;
        let dumped = dumped_major(&String::from_utf8_lossy(&listing.stdout))
            .with_context(|| format!("{}: its db.dump names no server version", file.display()))?;
        let server = self
            .psql(sh, "postgres", "SHOW server_version_num")
            .quiet()
            .read()?;
        let server: u32 = server
            .trim()
            .parse::<u32>()
            .context("reading the server's version")?
            / 10000;
        ensure!(
            dumped <= server,
            "{} was dumped from PostgreSQL {dumped}, newer than this stack's {server}: restore it \
             into a stack of PostgreSQL {dumped} or newer; nothing was changed",
            file.display()
        );

        let staged = format!("{DB}_restore");
        let psql = |sql: &str| self.psql(sh, "postgres", sql).run();
        psql(&format!("DROP DATABASE IF EXISTS {staged}"))?;
        psql(&format!("CREATE DATABASE {staged}"))?;
        let loaded = self
            .compose_bytes(
                sh,
                &[
                    "exec",
                    "-T",
                    "db",
                    "pg_restore",
                    &user,
                    "--dbname",
                    &staged,
                    "--no-owner",
                    "--exit-on-error",
                ],
            )
            .stdin_path(&dump)
            .run();
        let owner = self.owner(sh, FILES)?;
        let staging = format!("{FILES}/.dockerlab-restore");
        let unpack = format!("rm -rf {staging} && mkdir {staging} && tar -C {staging} -xf -");
        let unpacked = loaded.is_ok().then(|| {
            let exec = [
                "exec", "-T", "--user", &owner, "redmine", "sh", "-c", &unpack,
            ];
            self.compose_bytes(sh, &exec).stdin_path(&files).run()
        });
        if !matches!(unpacked, Some(Ok(_))) {
            let _ = psql(&format!("DROP DATABASE IF EXISTS {staged}"));
            let cleanup = format!("rm -rf {staging}");
            let _ = self
                .compose(
                    sh,
                    &[
                        "exec", "-T", "--user", &owner, "redmine", "sh", "-c", &cleanup,
                    ],
                )
                .run();
            bail!(
                "{} could not be loaded (see above); nothing was changed",
                file.display()
            );
        }

        // The swap: Redmine must hold no connection to its database while it is renamed.
        self.compose(sh, &["stop", "redmine"]).run()?;
        let old = format!("{DB}_before_restore");
        psql(&format!("DROP DATABASE IF EXISTS {old}"))?;
        psql(&format!("ALTER DATABASE {DB} RENAME TO {old}"))?;
        psql(&format!("ALTER DATABASE {staged} RENAME TO {DB}"))?;
        psql(&format!("DROP DATABASE {old}"))?;
        let swap = format!(
            "cd {FILES} && find . -mindepth 1 -maxdepth 1 ! -name .dockerlab-restore -exec rm -rf {{}} + \
             && find .dockerlab-restore -mindepth 1 -maxdepth 1 -exec mv {{}} . \\; && rmdir .dockerlab-restore"
        );
        self.compose(
            sh,
            &[
                "run",
                "--rm",
                "--no-deps",
                "-T",
                "--user",
                &owner,
                "--entrypoint",
                "sh",
                "redmine",
                "-c",
                &swap,
            ],
        )
        .run()?;
        let since = cmd!(sh, "date -u +%Y-%m-%dT%H:%M:%SZ").quiet().read()?;
        self.compose(sh, &["up", "--wait", "--wait-timeout", "300"])
            .run()?;
        // The entry point migrates a database that an older Redmine wrote, and says so.
        let redmine = self.container(sh, "redmine")?;
        let log = Docker::local(sh).read(&["logs", "--since", &since, &redmine])?;
        Ok(log.contains("dockerlab: database needs: migrate"))
    }
}

/// The major version of the PostgreSQL server a dump was taken from, as `pg_restore --list`
/// says it ("Dumped from database version: 15.20 (Debian …)").
fn dumped_major(listing: &str) -> Option<u32> {
    let version = listing
        .lines()
        .find_map(|line| line.split_once("Dumped from database version: "))?
        .1;
    version.split(['.', ' ']).next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::dumped_major;

    #[test]
    fn the_dump_names_its_server() {
        let listing = ";\n;     Dumped from database version: 15.20 (Debian 15.20-0+deb12u1)\n\
                       ;     Dumped by pg_dump version: 15.20 (Debian 15.20-0+deb12u1)\n";
        assert_eq!(dumped_major(listing), Some(15));
        assert_eq!(
            dumped_major(";     Dumped from database version: 9.6.24\n"),
            Some(9)
        );
        assert_eq!(dumped_major("; no header\n"), None);
    }
}
