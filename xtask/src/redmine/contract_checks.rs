//! Checks that the stack's images keep the contracts of the official images they are (upstream)
//! or stand in for (offline), run as users run them, outside the stack: `docker run` with the
//! documented variables, then what PostgreSQL, Redmine and `docker inspect` say.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use xshell::{cmd, Shell};

use super::Stack;
use crate::docker::{self, Container, Docker};
use crate::harness::{Got, Suite};
use crate::scratch::Scratch;
use crate::testkit::web;

/// The containers these checks start, removed at the end of each.
const PREFIX: &str = "dockerlab-redmine-test-contract";

pub fn run(sh: &Shell, suite: &mut Suite, stack: Got<&Stack>) {
    let images = suite.after(stack.clone(), "redmine: the stack's two images", |stack| {
        Ok((stack.service_image(sh, "db")?, stack.image(sh)?))
    });
    let _ = suite.after(
        stack.clone().and(images.as_ref()),
        "redmine: the images run the majors the upstream flavour pins (Redmine, PostgreSQL), \
         PostgreSQL as uid 70",
        |(stack, (db, redmine))| majors(sh, stack, db, redmine),
    );
    let _ = suite.after(
        images.as_ref(),
        "redmine: database init scripts (*.sql, *.sh, *.sql.gz) run once, in order, on a new data directory",
        |(db, _)| init_scripts(sh, db),
    );
    for (db, set) in [
        (
            true,
            ["POSTGRES_PASSWORD=a", "POSTGRES_PASSWORD_FILE=/dev/null"],
        ),
        (
            false,
            [
                "REDMINE_ADMIN_PASSWORD=a",
                "REDMINE_ADMIN_PASSWORD_FILE=/dev/null",
            ],
        ),
        (
            false,
            [
                "REDMINE_DB_PASSWORD=a",
                "REDMINE_DB_PASSWORD_FILE=/dev/null",
            ],
        ),
    ] {
        let var = set[0].split('=').next().unwrap_or_default();
        let _ = suite.after(
            images.as_ref(),
            &format!("redmine: {var} and {var}_FILE both set fail with one clear line"),
            |(db_image, redmine)| both_set(sh, if db { db_image } else { redmine }, &set),
        );
    }
    let _ = suite.after(
        images.as_ref(),
        "redmine: with no database configured the image serves on SQLite, kept in a volume",
        |(_, redmine)| sqlite(sh, redmine),
    );
}

/// The documented contract of the official postgres image's first start: scripts in
/// /docker-entrypoint-initdb.d/ run in order on a new data directory and never again;
/// POSTGRES_INITDB_ARGS reaches initdb; PGDATA may be a subdirectory of the volume; other hosts
/// authenticate with the server's password_encryption (POSTGRES_HOST_AUTH_METHOD unset).
fn init_scripts(sh: &Shell, image: &str) -> Result<()> {
    let dir = Scratch::temp("initdb")?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    let files = [
        (
            "10-table.sql",
            "CREATE TABLE dockerlab_init (id serial, step text);\nINSERT INTO dockerlab_init (step) VALUES ('sql');\n",
        ),
        (
            "20-step.sh",
            "psql -v ON_ERROR_STOP=1 --username \"$POSTGRES_USER\" --dbname \"$POSTGRES_DB\" \
             -c \"INSERT INTO dockerlab_init (step) VALUES ('sh')\"\n",
        ),
        (
            "30-more.sql",
            "INSERT INTO dockerlab_init (step) VALUES ('sql.gz');\n",
        ),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
    }
    let plain = dir.join("30-more.sql");
    cmd!(sh, "gzip -n {plain}").quiet().run()?;
    std::fs::set_permissions(
        dir.join("30-more.sql.gz"),
        std::fs::Permissions::from_mode(0o644),
    )?;

    let mount = format!("{}:/docker-entrypoint-initdb.d:ro", dir.path().display());
    let db = Container::run(
        sh,
        &format!("{PREFIX}-initdb"),
        &[
            "--env",
            "POSTGRES_PASSWORD=contract",
            "--env",
            "POSTGRES_DB=probe",
            "--env",
            "POSTGRES_INITDB_ARGS=--data-checksums",
            "--env",
            "PGDATA=/var/lib/postgresql/data/pgdata",
            "--volume",
            &mount,
            image,
        ],
    )?;
    let psql = |sql: &str| -> Result<String> {
        let name = &db.name;
        let psql = [
            "psql",
            "--username=postgres",
            "--dbname=probe",
            "--tuples-only",
            "--no-align",
            "--command",
            sql,
        ];
        Ok(Docker::local(sh).exec(name, &psql).quiet().read()?)
    };
    let steps = "SELECT string_agg(step, ',' ORDER BY id) FROM dockerlab_init";
    ready(sh, &db.name)?;
    let first = psql(steps)?;
    ensure!(
        first == "sql,sh,sql.gz",
        "after the first start the scripts left {first:?}, not sql,sh,sql.gz (in that order)"
    );
    let name = &db.name;
    Docker::local(sh).read(&["restart", name])?;
    ready(sh, &db.name)?;
    let second = psql(steps)?;
    ensure!(
        second == first,
        "after a restart the table holds {second:?}: the scripts ran again"
    );
    let checksums = psql("SHOW data_checksums")?;
    ensure!(
        checksums == "on",
        "POSTGRES_INITDB_ARGS=--data-checksums did not reach initdb"
    );
    let data = psql("SHOW data_directory")?;
    ensure!(
        data == "/var/lib/postgresql/data/pgdata",
        "PGDATA was not honoured: the data is in {data}"
    );
    let auth =
        psql("SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' AND address = 'all'")?;
    ensure!(
        auth == "scram-sha-256",
        "other hosts authenticate with {auth:?}, not scram-sha-256"
    );
    Ok(())
}

/// Waits until the container's server accepts connections on the network (the init's temporary
/// server listens on the socket only).
fn ready(sh: &Shell, name: &str) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(90) {
        let up = ["pg_isready", "--quiet", "--host=127.0.0.1"];
        if Docker::local(sh)
            .exec(name, &up)
            .quiet()
            .ignore_stderr()
            .run()
            .is_ok()
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    anyhow::bail!(
        "{name} did not accept connections within 90 s: {}",
        Docker::local(sh).logs_tail(name, 20)
    )
}

/// `docker run IMAGE` with a variable and its _FILE both set: it must fail at once, with one
/// line `error: …` that names the two.
fn both_set(sh: &Shell, image: &str, set: &[&str; 2]) -> Result<()> {
    // REDMINE_DB_POSTGRES makes the base's entry point read the database settings.
    let [one, other] = set;
    let run = [
        "run",
        "--rm",
        "--env",
        one,
        "--env",
        other,
        "--env",
        "REDMINE_DB_POSTGRES=db",
        image,
    ];
    let out = Docker::local(sh)
        .cmd_within(120, &run)
        .quiet()
        .ignore_status()
        .output()?;
    ensure!(!out.status.success(), "the container started");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    let var = set[0].split('=').next().unwrap_or_default();
    ensure!(
        errors.len() == 1 && errors[0].contains(var) && errors[0].contains(&format!("{var}_FILE")),
        "not one clear line naming {var} and {var}_FILE: {stderr:?}"
    );
    Ok(())
}

/// The official redmine image starts on SQLite when no database is configured; ours too, with
/// the database in a volume, and the admin password from a _FILE read as the shell's `$(< file)`
/// reads it (its trailing newlines dropped).
fn sqlite(sh: &Shell, image: &str) -> Result<()> {
    let dir = Scratch::temp("sqlite-secret")?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    let secret = dir.join("admin_password");
    std::fs::write(&secret, "sqlite-contract-admin\n\n")?;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644))?;
    let mount = format!("{}:/run/dockerlab:ro", dir.path().display());
    let redmine = Container::run(
        sh,
        &format!("{PREFIX}-sqlite"),
        &[
            "--publish",
            "127.0.0.1::3000",
            "--env",
            "REDMINE_ADMIN_PASSWORD_FILE=/run/dockerlab/admin_password",
            "--volume",
            &mount,
            image,
        ],
    )?;
    let base = format!("http://{}", redmine.published(3000)?);
    // compose.yaml's start_period for Redmine: migrations on SQLite are the slow part
    docker::wait_http(&format!("{base}/login"), Duration::from_secs(240)).with_context(|| {
        format!(
            "Redmine without a database did not serve; see `docker logs {}`",
            redmine.name
        )
    })?;
    let mount_type = redmine.inspect(
        r#"{{range .Mounts}}{{if eq .Destination "/usr/src/redmine/sqlite"}}{{.Type}}{{end}}{{end}}"#,
    )?;
    ensure!(
        mount_type == "volume",
        "/usr/src/redmine/sqlite is not a volume (mount: {mount_type:?})"
    );
    let name = &redmine.name;
    Docker::local(sh)
        .exec(name, &["test", "-s", "/usr/src/redmine/sqlite/redmine.db"])
        .quiet()
        .run()
        .context("no SQLite database in the volume")?;
    web::login(&base, "admin", "sqlite-contract-admin")
        .context("the admin password from the _FILE (trailing newlines dropped) does not log in")?;
    Ok(())
}

/// The major of a pinned upstream image (`ARG BASE=name:MAJOR.…` of a Dockerfile of ours).
fn pinned_major(dockerfile: &str) -> Result<String> {
    let base = crate::dockerfile::Dockerfile::read(dockerfile)?.require_arg_base()?;
    let tag = base.split_once(':').map(|(_, tag)| tag).unwrap_or_default();
    Ok(tag.split(['.', '-']).next().unwrap_or_default().to_string())
}

/// What the running images report, against the upstream pins: the stand-ins must follow the
/// majors users run (docs/offline.md).
fn majors(sh: &Shell, stack: &Stack, db: &str, redmine: &str) -> Result<()> {
    // (read from the source: loading lib/redmine/version.rb needs half of Redmine)
    let script = r#"v = File.read("lib/redmine/version.rb"); puts %w[MAJOR MINOR TINY].map { |k| v[/#{k}\s*=\s*(\d+)/, 1] }.join(".")"#;
    let docker = Docker::local(sh);
    let version = docker.read(&["run", "--rm", "--entrypoint", "ruby", redmine, "-e", script])?;
    let wanted = pinned_major("redmine/Dockerfile")?;
    ensure!(
        version.split('.').next() == Some(wanted.as_str()),
        "the Redmine image reports {version}, the upstream flavour pins {wanted}.x"
    );
    let version = docker.read(&["run", "--rm", "--entrypoint", "postgres", db, "--version"])?;
    let wanted = pinned_major("redmine/postgres/Dockerfile")?;
    ensure!(
        version.contains(&format!(" {wanted}.")),
        "the PostgreSQL image reports {version:?}, the upstream flavour pins {wanted}.x"
    );
    let uid = stack
        .compose(sh, &["exec", "-T", "db", "id", "-u"])
        .quiet()
        .read()?;
    ensure!(uid == "70", "PostgreSQL runs as uid {uid}, not 70");
    Ok(())
}
