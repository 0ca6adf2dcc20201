//! Upgrading data from the old majors: the backup in redmine/fixtures/ (Redmine 5.0.4 on
//! PostgreSQL 15, written by `cargo xtask redmine backup`; its README says how) restored into
//! the test stack, and a dump of a newer PostgreSQL major refused.

use anyhow::{ensure, Context, Result};
use serde_json::Value;
use xshell::{cmd, Shell};

use super::Stack;
use crate::docker;
use crate::harness::{fails_saying, Got, Suite};
use crate::scratch::Scratch;
use crate::testkit::web::{self, Api};

const FIXTURE: &str = "redmine/fixtures/redmine-5.0.4-postgres-15.tar.gz";
/// The fixture's admin password and its attachment's SHA-256 (redmine/fixtures/README.md).
const ADMIN_PASSWORD: &str = "4517b440baa6f30cf4093ee8776c58098bdf";
const ATTACHMENT_SHA256: &str = "303e9be71daf5cdb4f1ed88f5392aec5b58670f3e622eeec2ea146b4ea237565";

pub fn checks(sh: &Shell, suite: &mut Suite, stack: Got<&Stack>) {
    let fixture = docker::project_root().join(FIXTURE);
    let restored = suite.after(
        stack,
        "redmine: a Redmine 5.0 / PostgreSQL 15 backup restores, is migrated, and every object \
         is there",
        |stack| {
            let migrated = stack.restore(sh, &fixture)?;
            ensure!(
                migrated,
                "the restore did not say that Redmine migrated the database"
            );
            fixture_is_there(sh, stack)?;
            Ok(stack)
        },
    );
    let _ = suite.after(
        restored,
        "redmine: a dump of a newer PostgreSQL major is refused with one line, nothing changed",
        |stack| {
            // No PostgreSQL 18 can be had here: a copy of the fixture whose dump's header claims
            // it was dumped from 18.20 (the same number of bytes as 15.20) stands in for one.
            let work = Scratch::at(stack.backups.join(".newer-major"))?;
            let dir = work.path();
            cmd!(sh, "tar -C {dir} -xzf {fixture}").quiet().run()?;
            let dump = dir.join("db.dump");
            let bytes = std::fs::read(&dump)?;
            let (old, new) = (
                b"15.20 (Debian 15.20-0+deb12u1)",
                b"18.20 (Debian 18.20-0+deb12u1)",
            );
            let at = bytes
                .windows(old.len())
                .position(|w| w == old)
                .context("the fixture's dump does not name PostgreSQL 15.20")?;
            let mut patched = bytes.clone();
            patched[at..at + new.len()].copy_from_slice(new);
            std::fs::write(&dump, patched)?;
            let newer = stack.backups.join("newer-major.tar.gz");
            cmd!(sh, "tar -C {dir} -czf {newer} db.dump files.tar")
                .quiet()
                .run()?;
            fails_saying(
                stack.restore(sh, &newer),
                "was dumped from PostgreSQL 18, newer than this stack's 17",
            )?;
            fixture_is_there(sh, stack)
        },
    );
}

/// Everything the fixture holds, read back through the REST API and a login.
fn fixture_is_there(sh: &Shell, stack: &Stack) -> Result<()> {
    let base = stack.url();
    let api = Api::new(&base, "admin", ADMIN_PASSWORD);
    let json = |path: &str| -> Result<Value> {
        let resp = api.get(path)?;
        ensure!(resp.status == 200, "GET {path}: status {}", resp.status);
        serde_json::from_str(&resp.body).with_context(|| format!("GET {path}: not JSON"))
    };
    let project = json("/projects/harbour-fixture.json")?;
    ensure!(
        project["project"]["name"] == "Harbour fixture",
        "the project is not the fixture's: {project}"
    );
    let issues = json("/issues.json?project_id=harbour-fixture&status_id=*")?;
    ensure!(
        issues["total_count"] == 3,
        "the project has {} issues, not 3",
        issues["total_count"]
    );
    let wiki = json("/projects/harbour-fixture/wiki/Harbour.json")?;
    ensure!(
        wiki["wiki_page"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("written on Redmine 5.0.4")),
        "the wiki page is not the fixture's: {wiki}"
    );
    let users = json("/users.json?name=ada")?;
    ensure!(users["users"][0]["login"] == "ada", "no user ada: {users}");
    web::login(&base, "ada", "fixture-password-ada").context("ada cannot log in")?;
    let attachment = json("/attachments/1.json")?;
    let url = attachment["attachment"]["content_url"]
        .as_str()
        .context("attachment 1 has no content_url")?;
    let path = url.trim_start_matches(&base);
    let file = api.get(path)?;
    ensure!(file.status == 200, "GET {path}: status {}", file.status);
    let sha = web::sha256(sh, &file.body)?;
    ensure!(
        sha == ATTACHMENT_SHA256,
        "the attachment's SHA-256 is {sha}, not {ATTACHMENT_SHA256}"
    );
    Ok(())
}
