//! The checks of `cargo xtask test` for the Redmine stack, on a compose project of their own
//! (`dockerlab-redmine-test`, a free port, secrets and backups under target/), removed at the end;
//! the hardening checks and the OOM test are in hardening_checks.rs.

use anyhow::{ensure, Context, Result};
use serde_json::json;
use xshell::{cmd, Shell};

use super::{contract_checks as contracts, Stack};
use super::{hardening_checks, upgrade_checks as upgrade};
use crate::ctx::Ctx;
use crate::docker::{self, Docker};
use crate::flavour::Flavour;
use crate::harness::{fails_saying, Suite};
use crate::testkit::web::{self, between, Api, Browser};

/// Our theme's directory name, and the header colour only it gives Redmine.
const THEME: &str = "harbour";
const HEADER: &str = "rgb(13, 59, 102)";
const PROJECT: &str = "harbour-lab";

/// What the persistence checks look for after each blow.
struct Fixture {
    issue: u64,
    subject: String,
    attachment: String,
    sha256: String,
}

pub fn run(ctx: &Ctx, suite: &mut Suite) {
    stack_checks(ctx, suite);
    // After the main test stack is down: two Redmines at once would only slow both.
    hardening_checks::oom(ctx, suite);
}

fn stack_checks(ctx: &Ctx, suite: &mut Suite) {
    let sh = &ctx.sh;
    let work = docker::project_root().join("target/dockerlab-redmine-test");
    let port = suite.check("redmine: a free port for the test stack", docker::free_port);
    let stack = port
        .as_ref()
        .map(|&port| Stack::scratch(ctx, "dockerlab-redmine-test", port, &work));
    let up = suite.after(
        stack.as_ref(),
        "redmine: stack builds and comes up healthy",
        |stack| {
            stack.up(sh)?;
            Ok(&**stack)
        },
    );
    hardening_checks::confined(sh, suite, up.clone());
    let _ = suite.after(up.clone(), "redmine: GET / answers 200", |stack| {
        let base = stack.url();
        let resp = crate::http::get(&format!("{base}/"))?;
        ensure!(resp.status == 200, "status {}", resp.status);
        Ok(())
    });
    let password = suite.after(
        up.clone(),
        "redmine: admin logs in with the generated password, no forced change",
        |stack| {
            let password = stack.admin_password()?;
            web::login(&stack.url(), "admin", &password)?;
            Ok(password)
        },
    );
    let admin = up.clone().and(password.as_ref());
    let _ = suite.after(
        admin.clone(),
        "redmine: Settings › Display lists our theme",
        |(stack, password)| {
            let base = stack.url();
            let mut admin = web::login(&base, "admin", password)?;
            let select = web::theme_select(&mut admin, &base)?;
            ensure!(
                select.contains(&format!(r#"value="{THEME}""#)),
                "{THEME} is not among the themes: {select}"
            );
            Ok(())
        },
    );
    let selected = suite.after(
        admin.clone(),
        "redmine: selecting our theme succeeds",
        |(stack, password)| {
            let base = stack.url();
            let mut admin = web::login(&base, "admin", password)?;
            web::set_settings(
                &mut admin,
                &base,
                "display",
                &[("settings[ui_theme]", THEME)],
            )?;
            ensure!(
                theme_selected(&base, password)?,
                "the setting did not stick"
            );
            Ok(())
        },
    );
    // The checks from here on find the theme selected (still_there asks).
    let themed = admin.and(selected).map(|(admin, ())| admin);
    let _ = suite.after(
        themed.clone(),
        "redmine: pages link the theme's stylesheet, served with 200",
        |(stack, _)| {
            let base = stack.url();
            let page = crate::http::get(&format!("{base}/"))?;
            let href = page
                .body
                .split("<link ")
                .filter(|l| l.contains("stylesheet"))
                .find_map(|l| between(l, r#"href=""#, "\"").filter(|h| h.contains(THEME)))
                .context("no stylesheet of our theme is linked")?;
            let css = crate::http::get(&format!("{base}{href}"))?;
            ensure!(css.status == 200, "{href}: status {}", css.status);
            ensure!(css.body.contains("#0d3b66"), "{href} is not our stylesheet");
            Ok(())
        },
    );
    let fixture = suite.after(
        themed.clone(),
        "redmine: a project and an issue with an attachment are created (REST API)",
        |(stack, password)| create_fixture(sh, &stack.url(), password),
    );
    let fixed = themed
        .and(fixture.as_ref())
        .map(|((stack, password), fixture)| (stack, password, fixture));
    let _ = suite.after(
        fixed.clone(),
        "redmine: a real browser shows our theme (computed style, screenshot)",
        |(stack, _, fixture)| {
            let base = stack.url();
            let browser = Browser::start(
                &docker::project_root().join("target/dockerlab-redmine-test/chromium"),
            )?;
            // The issue's page, as anyone sees it (the project is public).
            browser.open(&format!("{base}/issues/{}", fixture.issue))?;
            let page = browser.eval("return location.href + ' ' + document.title")?;
            ensure!(
                page.contains(&fixture.subject),
                "the browser shows {page}, not our issue"
            );
            let colour = browser.eval(
                "return getComputedStyle(document.querySelector('#header')).backgroundColor",
            )?;
            ensure!(
                colour == HEADER,
                "the header's background is {colour}, not our {HEADER}"
            );
            // Kept out of the tree (every run differs); README's copy is docs/redmine-theme.png.
            let shots = docker::project_root().join("target/screenshots");
            std::fs::create_dir_all(&shots)?;
            browser.screenshot(&shots.join("redmine-theme.png"))?;
            Ok(())
        },
    );
    let _ = suite.after(
        up.clone(),
        "redmine: the plugins built into the image work: the probe's stylesheet compiled and \
         served with its digest, the notes plugin's migration applied",
        |stack| plugins_work(sh, stack),
    );
    let _ = suite.after(
        fixed.clone().and(port.as_ref()),
        "redmine: down --volumes of the other flavour's stack keeps this one running, with its volumes and data",
        |((stack, _, fixture), &port)| {
            let other = Stack::new(
                "dockerlab-redmine-test",
                match stack.flavour {
                    Flavour::Upstream => Flavour::Offline,
                    Flavour::Offline => Flavour::Upstream,
                },
                port,
                &work.join("secrets"),
                work.join("backups"),
            );
            other.down(sh, true)?;
            let running = stack.running(sh)?;
            ensure!(
                ["db", "redmine"].iter().all(|s| running.iter().any(|r| r == s)),
                "our stack stopped: {running:?}"
            );
            let label = format!("label=com.docker.compose.project={}", stack.project);
            let volumes = Docker::local(sh).list("volume", &["--quiet", "--filter", &label])?;
            ensure!(
                volumes.len() >= 3
                    && volumes.iter().all(|v| v.starts_with(&format!("{}_", stack.project))),
                "the volumes of {} are not its own: {volumes:?}",
                stack.project
            );
            still_there(sh, stack, fixture)
        },
    );
    contracts::run(sh, suite, up.clone());
    let _ = suite.after(
        up.clone(),
        "redmine: PostgreSQL logs no failed login of its own healthcheck",
        |stack| {
            // By now the healthcheck has run every 2 s for minutes. One that names no role, or a
            // role that does not exist, leaves a FATAL line in the log each time.
            let db = stack.container(sh, "db")?;
            let out = Docker::local(sh).cmd(&["logs", &db]).quiet().output()?;
            let log = String::from_utf8_lossy(&out.stderr);
            let failed: Vec<&str> = log
                .lines()
                .filter(|l| l.contains("FATAL") && l.contains("role"))
                .collect();
            ensure!(
                failed.is_empty(),
                "{} failed logins, the last: {}",
                failed.len(),
                failed.last().unwrap_or(&"")
            );
            Ok(())
        },
    );
    let _ = suite.after(
        fixed.clone(),
        "redmine: data survives down + up",
        |(stack, _, fixture)| {
            stack.down(sh, false)?;
            stack.up(sh)?;
            still_there(sh, stack, fixture)
        },
    );
    let _ = suite.after(
        fixed.clone(),
        "redmine: data survives a rebuild of the Redmine image",
        |(stack, _, fixture)| {
            let before = stack.image(sh)?;
            // A new revision label is a real rebuild (a new image, a new container) at the cost of
            // one metadata layer.
            let revision = format!("test-rebuild-{}", std::process::id());
            stack
                .compose(sh, &["up", "--build", "--wait", "--wait-timeout", "300"])
                .env("REDMINE_REVISION", &revision)
                .run()?;
            let after = stack.image(sh)?;
            ensure!(
                before != after,
                "the container still runs the old image {before}"
            );
            still_there(sh, stack, fixture)
        },
    );
    for service in ["redmine", "db"] {
        let _ = suite.after(
            fixed.clone(),
            &format!("redmine: data survives docker kill of {service} + up"),
            |(stack, _, fixture)| {
                let id = stack.container(sh, service)?;
                Docker::local(sh).run(&["kill", &id])?;
                stack.up(sh)?;
                still_there(sh, stack, fixture)
            },
        );
    }
    let backup = suite.after(
        fixed.clone(),
        "redmine: backup writes a dump and the attachments",
        |(stack, _, _)| stack.backup(sh),
    );
    let _ = suite.after(
        fixed.clone().and(backup.as_ref()),
        "redmine: backup, down --volumes, up, restore brings it all back",
        |((stack, password, fixture), backup)| {
            stack.down(sh, true)?;
            stack.up(sh)?;
            let api = Api::new(&stack.url(), "admin", password);
            ensure!(
                api.get(&format!("/issues/{}.json", fixture.issue))?.status == 404,
                "the issue is there before the restore: the volumes were not new"
            );
            stack.restore(sh, backup)?;
            still_there(sh, stack, fixture)
        },
    );
    let _ = suite.after(
        fixed.clone(),
        "redmine: restore of a missing file fails clearly, changes nothing",
        |(stack, _, fixture)| {
            let missing = stack.backups.join("no-such-backup.tar.gz");
            fails_saying(stack.restore(sh, &missing), "no backup file")?;
            still_there(sh, stack, fixture)
        },
    );
    let _ = suite.after(
        fixed.and(backup.as_ref()),
        "redmine: restore of a corrupt file fails clearly, changes nothing",
        |((stack, _, fixture), backup)| {
            let corrupt = stack.backups.join("corrupt.tar.gz");
            let mut bytes = std::fs::read(backup)?;
            bytes.truncate(bytes.len() / 2);
            std::fs::write(&corrupt, bytes)?;
            fails_saying(stack.restore(sh, &corrupt), "not a Redmine backup")?;
            still_there(sh, stack, fixture)
        },
    );
    upgrade::checks(sh, suite, up.clone());
    let _ = suite.after(
        up.clone(),
        "redmine: up on a taken port fails clearly",
        |stack| {
            let taken = std::net::TcpListener::bind("0.0.0.0:0")?;
            let other = Stack {
                project: "dockerlab-redmine-test-port".into(),
                port: taken.local_addr()?.port(),
                ..(*stack).clone()
            };
            let up = other.up(sh);
            if up.is_ok() {
                let _ = other.down(sh, true);
            }
            fails_saying(up, "already taken")
        },
    );
    let _ = suite.after(
        up,
        "redmine: backup of a stopped stack fails clearly",
        |stack| {
            stack.down(sh, false)?;
            fails_saying(stack.backup(sh), "not running")
        },
    );
}

fn theme_selected(base: &str, password: &str) -> Result<bool> {
    let mut admin = web::login(base, "admin", password)?;
    let select = web::theme_select(&mut admin, base)?;
    Ok(
        select.contains(&format!(r#"selected="selected" value="{THEME}""#))
            || select.contains(&format!(r#"value="{THEME}" selected="selected""#)),
    )
}

fn create_fixture(sh: &Shell, base: &str, password: &str) -> Result<Fixture> {
    let (_, api) = web::admin_api(base, password)?;
    api.create(
        "/projects.json",
        "application/json",
        &json!({"project": {"name": "Harbour lab", "identifier": PROJECT, "is_public": true}})
            .to_string(),
    )?;
    let content = format!(
        "Harbour test attachment {}\n",
        cmd!(sh, "date -u +%s%N").quiet().read()?
    );
    let subject = "Survives down, rebuilds, kills and restores";
    let attached = api.issue_with_attachment(PROJECT, subject, "harbour.txt", &content)?;
    let fixture = Fixture {
        issue: attached.issue,
        subject: subject.into(),
        attachment: attached.path,
        sha256: web::sha256(sh, &content)?,
    };
    ensure!(
        attachment_sha(sh, &api, &fixture)? == fixture.sha256,
        "the attachment differs right away"
    );
    Ok(fixture)
}

fn attachment_sha(sh: &Shell, api: &Api, fixture: &Fixture) -> Result<String> {
    let resp = api.get(&fixture.attachment)?;
    ensure!(
        resp.status == 200,
        "{}: status {}",
        fixture.attachment,
        resp.status
    );
    web::sha256(sh, &resp.body)
}

/// The issue, its attachment (same SHA-256), our theme setting and the admin password.
fn still_there(sh: &Shell, stack: &Stack, fixture: &Fixture) -> Result<()> {
    let base = stack.url();
    let password = stack.admin_password()?;
    ensure!(
        theme_selected(&base, &password)?,
        "the theme setting is lost (or the admin password)"
    );
    let api = Api::new(&base, "admin", &password);
    let issue = api.get(&format!("/issues/{}.json", fixture.issue))?;
    ensure!(
        issue.status == 200,
        "issue {}: status {}",
        fixture.issue,
        issue.status
    );
    ensure!(
        issue.body.contains(&fixture.subject),
        "issue {} is not ours",
        fixture.issue
    );
    let sha = attachment_sha(sh, &api, fixture)?;
    ensure!(
        sha == fixture.sha256,
        "the attachment's SHA-256 is {sha}, not {}",
        fixture.sha256
    );
    plugins_work(sh, stack)
}

/// The tests' plugins (redmine/test-plugins/), built into the image: dockerlab_probe's stylesheet
/// is linked from a page under Propshaft's digested name and served, and dockerlab_notes's
/// migration made its table and is recorded as the plugin's.
fn plugins_work(sh: &Shell, stack: &Stack) -> Result<()> {
    let base = stack.url();
    let page = crate::http::get(&format!("{base}/login"))?;
    let href = page
        .body
        .split("<link ")
        .find_map(|l| between(l, r#"href=""#, "\"").filter(|h| h.contains("dockerlab_probe")))
        .context("no page links the probe plugin's stylesheet: the plugin is not loaded")?;
    ensure!(
        href.starts_with("/assets/plugin_assets/dockerlab_probe/")
            && href
                .rsplit_once('-')
                .is_some_and(|(_, digest)| digest.len() > ".css".len()),
        "{href} is not a digested asset of the plugin"
    );
    let css = crate::http::get(&format!("{base}{href}"))?;
    ensure!(css.status == 200, "{href}: status {}", css.status);
    ensure!(
        css.body.contains("dockerlab probe"),
        "{href} is not the plugin's stylesheet"
    );
    let sql = "SELECT to_regclass('dockerlab_notes') IS NOT NULL AND EXISTS \
               (SELECT 1 FROM schema_migrations WHERE version = '1-dockerlab_notes')";
    let migrated = stack.psql(sh, super::stack::DB, sql).quiet().read()?;
    ensure!(
        migrated.trim() == "t",
        "the notes plugin's migration is not applied (table dockerlab_notes, version 1-dockerlab_notes)"
    );
    Ok(())
}
