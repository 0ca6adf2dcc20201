//! The checks of `cargo xtask test` for `cargo xtask push`: a real registry with
//! authentication, on loopback, for this run only.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use anyhow::{anyhow, ensure, Context, Result};
use xshell::{cmd, Shell};

use super::names::{NAME_MAX, TAG_MAX};
use super::{version_tag, PASSWORD_VAR, USERNAME_VAR};
use crate::ctx::Ctx;
use crate::docker::is_digest;
use crate::docker::{self, Container, Docker};
use crate::harness::{one_error_line, Suite};
use crate::http;
use crate::registry::{Login, Registry, MANIFEST_V2};
use crate::scratch::Scratch;

/// Repository the tests push to (in the test registry only).
const TEST_REPOSITORY: &str = "dockerlab-push-test/nginx";
/// Container the tests run the pulled image in.
const TEST_CONTAINER: &str = "dockerlab-push-test-nginx";

/// Removes, when dropped, every local image reference in the test registry's name space, and only
/// those: the shared `dockerlab/nginx:*` image the refs point to stays.
struct LocalRefs<'a> {
    sh: &'a Shell,
    prefix: String,
}

impl LocalRefs<'_> {
    fn list(&self) -> Result<Vec<String>> {
        let format = "{{.Repository}} {{.Tag}} {{.Digest}}";
        let rows = Docker::local(self.sh).read(&["images", "--digests", "--format", format])?;
        let mut refs = Vec::new();
        for row in rows.lines().filter(|row| row.starts_with(&self.prefix)) {
            let mut fields = row.split_whitespace();
            let (Some(name), Some(tag), Some(digest)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            if tag != "<none>" {
                refs.push(format!("{name}:{tag}"));
            }
            if digest != "<none>" {
                refs.push(format!("{name}@{digest}"));
            }
        }
        Ok(refs)
    }

    /// Removes them all; a digest reference goes away with the last tag, so failures are only
    /// judged by what is left.
    fn remove(&self) -> Result<()> {
        for reference in self.list()? {
            Docker::local(self.sh).succeeds(&["image", "rm", &reference]);
        }
        let left = self.list()?;
        ensure!(left.is_empty(), "could not remove {left:?}");
        Ok(())
    }
}

impl Drop for LocalRefs<'_> {
    fn drop(&mut self) {
        let _ = self.remove();
    }
}

/// The registry holds no repository.
fn empty(registry: &Registry) -> Result<()> {
    let catalog = registry.catalog()?;
    ensure!(
        catalog["repositories"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "the registry holds {catalog}"
    );
    Ok(())
}

/// Runs `cargo xtask push` (this very binary, not cargo again) against the test registry, with
/// its own DOCKER_CONFIG and, when given, credentials; shows its output in the log.
fn xtask_push(
    ctx: &Ctx,
    registry: &str,
    config: &Path,
    credentials: Option<(&str, &str)>,
    args: &[&str],
    path: Option<&str>,
) -> Result<Output> {
    let push_args = [
        "push",
        "--registry",
        registry,
        "--repository",
        TEST_REPOSITORY,
    ];
    let mut push = ctx
        .xtask(&[&push_args[..], args].concat())?
        .env("DOCKER_CONFIG", config)
        .env_remove(USERNAME_VAR)
        .env_remove(PASSWORD_VAR);
    if let Some((user, password)) = credentials {
        push = push.env(USERNAME_VAR, user).env(PASSWORD_VAR, password);
    }
    if let Some(path) = path {
        push = push.env("PATH", path);
    }
    let out = push.ignore_status().output()?;
    for line in String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
    {
        println!("    | {line}");
    }
    Ok(out)
}

/// Writes a `docker` shell script with this body into the scratch directory (to put first on PATH).
fn stand_in_docker(scratch: &Scratch, body: &str) -> Result<PathBuf> {
    let docker = scratch.join("docker");
    fs::write(&docker, format!("#!/bin/sh\n{body}"))?;
    fs::set_permissions(&docker, fs::Permissions::from_mode(0o755))?;
    Ok(docker)
}

/// The program of that name on PATH.
fn which(program: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|file| file.is_file())
        .with_context(|| format!("{program} is not on PATH"))
}

/// The checks of `cargo xtask test` for `cargo xtask push`.
pub fn run(ctx: &Ctx, suite: &mut Suite) {
    let sh = &ctx.sh;
    let _ = suite.check(
        "push: invalid repository or tag is one clear error, docker never called",
        rejects_bad_input_without_docker(ctx),
    );
    let started = suite.check(
        "push: a local docker-registry with htpasswd auth starts",
        || {
            let login = Login::random("dockerlab-push")?;
            Ok((
                Registry::start(sh, "dockerlab-push-test", Some(&login))?,
                login,
            ))
        },
    );
    // What outlives the registry, for the leftovers check.
    let trace = started
        .as_ref()
        .map(|(registry, _)| (registry.pid(), registry.files().to_path_buf()));
    let refs = started.as_ref().map(|(registry, _)| LocalRefs {
        sh,
        prefix: format!("{}/", registry.addr),
    });
    let reg = started.as_ref().and(refs.as_ref());

    let _ = suite.after(
        reg.clone(),
        "push: the registry demands a login (401 without credentials)",
        |((registry, _), _)| {
            let anonymous = http::get(&registry.url("/v2/"))?;
            ensure!(
                anonymous.status == 401,
                "anonymous: status {}",
                anonymous.status
            );
            let challenge = anonymous.header("Www-Authenticate").unwrap_or_default();
            ensure!(challenge.starts_with("Basic"), "challenge {challenge:?}");
            let authed = registry.get("/v2/", "application/json")?;
            ensure!(
                authed.status == 200,
                "with credentials: status {}",
                authed.status
            );
            Ok(())
        },
    );
    let _ = suite.after(
        reg.clone(),
        "push: a wrong password is refused in plain words, nothing pushed",
        |((registry, login), refs)| {
            let (addr, user, password) = (&*registry.addr, &*login.user, &*login.password);
            let config = registry.docker_config("docker-wrong")?;
            let wrong = format!("{password}-wrong");
            let out = xtask_push(ctx, addr, &config, Some((user, &wrong)), &[], None)?;
            let error = one_error_line(&out)?;
            ensure!(
                error.contains("401 Unauthorized") && error.contains(PASSWORD_VAR),
                "unclear: {error}"
            );
            empty(registry)?;
            ensure!(
                refs.list()?.is_empty(),
                "local refs were made: {:?}",
                refs.list()?
            );
            Ok(())
        },
    );
    let _ = suite.after(
        reg.clone(),
        "push: without a login the 401 is explained, nothing pushed",
        |((registry, _), refs)| {
            let addr = &*registry.addr;
            let config = registry.docker_config("docker-none")?;
            let out = xtask_push(ctx, addr, &config, None, &[], None)?;
            let error = one_error_line(&out)?;
            ensure!(
                error.contains("not logged in") && error.contains("401 Unauthorized"),
                "unclear: {error}"
            );
            empty(registry)?;
            refs.remove()
        },
    );
    let _ = suite.after(
        reg.clone(),
        "push: an unreachable registry is said to be unreachable",
        |((registry, login), _)| {
            let (user, password) = (&*login.user, &*login.password);
            let config = registry.docker_config("docker-unreachable")?;
            let nowhere = format!("127.0.0.1:{}", docker::free_port()?);
            let out = xtask_push(ctx, &nowhere, &config, Some((user, password)), &[], None)?;
            let error = one_error_line(&out)?;
            ensure!(error.contains("unreachable"), "unclear: {error}");
            Ok(())
        },
    );
    let _ = suite.after(
        reg.clone(),
        "push: an image that cannot be built is said so, nothing pushed",
        |((registry, login), _)| {
            let (addr, user, password) = (&*registry.addr, &*login.user, &*login.password);
            // The real docker for everything but `docker build`, which fails as a broken
            // Dockerfile or a missing base would.
            let scratch = Scratch::temp("nobuild")?;
            let real = which("docker")?;
            stand_in_docker(
                &scratch,
                &format!(
                    "if [ \"$1\" = build ]; then echo 'simulated build failure' >&2; exit 1; fi\n\
                     exec '{}' \"$@\"\n",
                    real.display()
                ),
            )?;
            let config = registry.docker_config("docker-nobuild")?;
            let path = format!("{}:{}", scratch.path().display(), std::env::var("PATH")?);
            let out = xtask_push(ctx, addr, &config, Some((user, password)), &[], Some(&path))?;
            let error = one_error_line(&out)?;
            ensure!(error.contains("could not be built"), "unclear: {error}");
            empty(registry)?;
            Ok(())
        },
    );

    let good = started.as_ref().map(|(registry, login)| {
        let name = format!("{}/{TEST_REPOSITORY}", registry.addr);
        (registry, login, registry.docker_config("docker-good"), name)
    });
    let digest = suite.after(
        good.as_ref(),
        "push: cargo xtask push publishes version, commit and --tag with one digest",
        |(registry, login, config, name)| {
            let (addr, user, password) = (&*registry.addr, &*login.user, &*login.password);
            let config = config.as_ref().map_err(|e| anyhow!("{e:#}"))?;
            let out = xtask_push(
                ctx,
                addr,
                config,
                Some((user, password)),
                &["--tag", "e2e"],
                None,
            )?;
            ensure!(out.status.success(), "cargo xtask push failed");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let flavour = ctx.flavour;
            let mut expected = vec![
                version_tag(flavour),
                format!("{}{}", docker::git_revision(sh), flavour.tag_suffix()),
                "e2e".to_string(),
            ];
            let mut digests = Vec::new();
            for line in stdout.lines().filter_map(|l| l.strip_prefix("pushed ")) {
                let (reference, digest) = line.split_once('@').context("no @digest")?;
                let tag = reference
                    .strip_prefix(&format!("{name}:"))
                    .with_context(|| format!("pushed {reference}, not to {name}"))?;
                expected.retain(|t| t != tag);
                ensure!(is_digest(digest), "not a digest: {digest}");
                digests.push(digest.to_string());
            }
            ensure!(
                expected.is_empty(),
                "tags not reported as pushed: {expected:?}"
            );
            digests.dedup();
            ensure!(digests.len() == 1, "several digests: {digests:?}");
            Ok(digests.remove(0))
        },
    );
    let _ = suite.after(
        good.as_ref().and(digest.as_ref()),
        "push: the registry serves the reported digest for every tag",
        |((registry, ..), digest)| {
            for tag in [version_tag(ctx.flavour), "e2e".into()] {
                let path = format!("/v2/{TEST_REPOSITORY}/manifests/{tag}");
                let resp = registry.get(&path, MANIFEST_V2)?;
                ensure!(resp.status == 200, "{path}: status {}", resp.status);
                let served = resp.header("Docker-Content-Digest").unwrap_or_default();
                ensure!(
                    served == digest.as_str(),
                    "{tag}: the registry serves {served}, {digest} was reported"
                );
            }
            Ok(())
        },
    );
    let pulled = suite.after(
        good.as_ref().and(digest.as_ref()).and(refs.as_ref()),
        "push: local tags deleted, the image pulled back by the reported digest",
        |(((_, _, config, name), digest), refs)| {
            refs.remove()?;
            let config = config.as_ref().map_err(|e| anyhow!("{e:#}"))?;
            let reference = format!("{name}@{digest}");
            Docker::local(sh)
                .cmd(&["pull", &reference])
                .env("DOCKER_CONFIG", config)
                .run()
                .context("pulling by digest")?;
            let format = "{{json .RepoDigests}}";
            let digests =
                Docker::local(sh).read(&["image", "inspect", "--format", format, &reference])?;
            ensure!(
                digests.contains(&format!("\"{reference}\"")),
                "the pulled image has the digests {digests}"
            );
            Ok(reference)
        },
    );
    let _ = suite.after(
        pulled,
        "push: the pulled image runs and serves our page",
        |pulled| {
            let web = Container::run(
                sh,
                TEST_CONTAINER,
                &["--publish", "127.0.0.1::8080", &pulled],
            )?;
            let url = format!("http://{}/", web.published(8080)?);
            let page = docker::wait_http(&url, Duration::from_secs(20))?;
            ensure!(
                page.body.contains(r#"content="dockerlab-nginx""#),
                "not our page"
            );
            Ok(())
        },
    );

    let left = trace.and(refs.as_ref().map(|refs| refs.prefix.clone()));
    drop(reg);
    drop(refs);
    drop(good);
    drop(started);
    let _ = suite.after(
        left,
        "push: no leftovers (registry, files, images, containers)",
        |((pid, files), prefix)| {
            ensure!(
                !Path::new(&format!("/proc/{pid}")).exists(),
                "docker-registry (pid {pid}) still runs"
            );
            ensure!(!files.exists(), "{} is still there", files.display());
            let format = "{{.Repository}}";
            let images = Docker::local(sh).read(&["images", "--format", format])?;
            ensure!(
                !images.lines().any(|repo| repo.starts_with(&prefix)),
                "images of {prefix} are left"
            );
            let name = format!("name=^{TEST_CONTAINER}$");
            let containers =
                Docker::local(sh).read(&["ps", "--all", "--quiet", "--filter", &name])?;
            ensure!(containers.is_empty(), "container {TEST_CONTAINER} is left");
            Ok(())
        },
    );
}

/// Bad repositories and tags must fail with one line before any docker call: a stand-in
/// `docker` first on PATH records any call.
fn rejects_bad_input_without_docker(ctx: &Ctx) -> impl FnOnce() -> Result<()> + '_ {
    let sh = &ctx.sh;
    move || {
        let scratch = Scratch::temp("reject")?;
        let marker = scratch.join("docker-was-called");
        let docker = stand_in_docker(&scratch, &format!(": > '{}'\nexit 1\n", marker.display()))?;
        let config = scratch.join("config");
        let long_tag = "v".repeat(TAG_MAX + 1);
        let long_name = format!("dockerlab/{}", "n".repeat(NAME_MAX));
        let cases: [(&[&str], &str); 6] = [
            (
                &["--repository", TEST_REPOSITORY, "--tag", "Bad Tag"],
                "invalid tag",
            ),
            (
                &["--repository", TEST_REPOSITORY, "--tag=-rc1"],
                "invalid tag",
            ),
            (
                &["--repository", TEST_REPOSITORY, "--tag", &long_tag],
                "invalid tag",
            ),
            (&["--repository", "Dockerlab/Nginx"], "invalid repository"),
            (
                &["--repository", "dockerlab/my nginx"],
                "invalid repository",
            ),
            (&["--repository", &long_name], "invalid repository"),
        ];
        let path = format!(
            "{}:{}",
            scratch.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        for (args, expected) in cases {
            let push_args = ["push", "--registry", "127.0.0.1:9"];
            let out = ctx
                .xtask(&[&push_args[..], args].concat())?
                .env("PATH", &path)
                .env("DOCKER_CONFIG", &config)
                .ignore_status()
                .output()?;
            let error = one_error_line(&out).with_context(|| format!("{args:?}"))?;
            println!("    | {error}");
            ensure!(
                error.starts_with(&format!("error: {expected}")),
                "{args:?}: {error}"
            );
            ensure!(!marker.exists(), "{args:?}: docker was called");
        }
        // The stand-in does record calls, so the check above can fail.
        let _ = cmd!(sh, "{docker} version")
            .quiet()
            .ignore_status()
            .output()?;
        ensure!(marker.exists(), "the stand-in docker records nothing");
        Ok(())
    }
}
