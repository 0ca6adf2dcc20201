//! `cargo xtask push`: publish our nginx image to Docker Hub or any registry, then ask the
//! registry which digest each pushed tag points to and check it is the one that was pushed.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use clap::Args;
use xshell::{cmd, Shell};

use crate::docker::{self, Container, Flavour};
use crate::scratch::{random_hex, Scratch};
use crate::test::{one_error_line, Suite};
use crate::{http, nginx};

/// Docker Hub's names for itself: pushing to any of them (or without --registry) is Docker Hub.
const DOCKER_HUB: &[&str] = &["docker.io", "index.docker.io", "registry-1.docker.io"];
/// Our image's name under a Docker Hub account: `alice/dockerlab-nginx`.
const HUB_NAME: &str = "dockerlab-nginx";
/// Credentials for a non-interactive login (the password may be a Docker Hub access token).
const USERNAME_VAR: &str = "DOCKER_USERNAME";
const PASSWORD_VAR: &str = "DOCKER_PASSWORD";
/// Longest image name (registry and repository) distribution accepts.
const NAME_MAX: usize = 255;
/// Longest tag distribution accepts.
const TAG_MAX: usize = 128;

/// Publish our nginx image to Docker Hub (default) or any registry, tagged with its version and
/// git commit, and check that the registry serves the pushed digest.
#[derive(Args)]
pub struct Push {
    /// Registry to push to, as HOST[:PORT] (default: Docker Hub).
    #[arg(long, value_name = "HOST[:PORT]")]
    registry: Option<String>,
    /// Repository to push to, as NAMESPACE/NAME (default: $DOCKER_USERNAME/dockerlab-nginx on
    /// Docker Hub, dockerlab/nginx on other registries).
    #[arg(long, value_name = "NAMESPACE/NAME")]
    repository: Option<String>,
    /// Another tag to push besides the version and the git commit (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
}

impl Push {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let credentials = credentials(sh)?;
        let mut tags = default_tags(sh);
        tags.extend(self.tags);
        // Everything the user gave is checked before docker is asked anything.
        let target = Target::new(
            self.registry.as_deref(),
            self.repository.as_deref(),
            credentials.as_ref().map(|(user, _)| user.as_str()),
            tags,
        )?;
        docker::engine(sh)?;
        if let Some((user, password)) = &credentials {
            target.login(sh, user, password)?;
        }
        let image =
            nginx::build(sh).context("the image to push is not here and could not be built")?;
        let digest = target.publish(sh, &image)?;
        println!(
            "verified: {} serves {digest} for every tag; anyone can run it with\n  \
             docker run --rm --publish 8080:8080 {}@{digest}",
            target.shown(),
            target.name()
        );
        Ok(())
    }
}

/// `DOCKER_USERNAME` and `DOCKER_PASSWORD`: both (log in with them) or neither (use the existing
/// `docker login`).
fn credentials(sh: &Shell) -> Result<Option<(String, String)>> {
    let username = sh.var(USERNAME_VAR).ok().filter(|v| !v.is_empty());
    let password = sh.var(PASSWORD_VAR).ok().filter(|v| !v.is_empty());
    match (username, password) {
        (Some(user), Some(password)) => Ok(Some((user, password))),
        (None, None) => Ok(None),
        _ => bail!(
            "set both {USERNAME_VAR} and {PASSWORD_VAR} to log in, or neither to use your \
             existing `docker login`"
        ),
    }
}

/// The version (`1.0.0`, `1.0.0-offline`) and the git commit (`caddd76c2f33`, `…-offline`).
fn default_tags(sh: &Shell) -> Vec<String> {
    let flavour = Flavour::of(sh);
    let mut tags = vec![version_tag(flavour)];
    let revision = docker::git_revision(sh);
    if revision != "unknown" {
        tags.push(format!("{revision}{}", flavour.tag_suffix()));
    }
    tags
}

/// The tag of the version, as the local image has it: `1.0.0` or `1.0.0-offline`.
fn version_tag(flavour: Flavour) -> String {
    let image = nginx::image(flavour);
    image
        .rsplit_once(':')
        .map(|(_, tag)| tag.to_string())
        .unwrap_or(image)
}

/// Where the image goes: a registry (None is Docker Hub), a repository and its tags, all checked.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    registry: Option<String>,
    repository: String,
    tags: Vec<String>,
}

impl Target {
    fn new(
        registry: Option<&str>,
        repository: Option<&str>,
        username: Option<&str>,
        tags: Vec<String>,
    ) -> Result<Target> {
        let registry = match registry {
            Some(host) if DOCKER_HUB.contains(&host.to_ascii_lowercase().as_str()) => None,
            Some(host) => {
                check_registry(host)?;
                Some(host.to_string())
            }
            None => None,
        };
        let repository = match (repository, &registry, username) {
            (Some(repository), _, _) => repository.to_string(),
            (None, Some(_), _) => nginx::REPOSITORY.to_string(),
            (None, None, Some(user)) => format!("{user}/{HUB_NAME}"),
            (None, None, None) => bail!(
                "which Docker Hub repository? Pass --repository YOUR-USER/{HUB_NAME} or set \
                 {USERNAME_VAR} (and {PASSWORD_VAR})"
            ),
        };
        let name = match &registry {
            Some(host) => format!("{host}/{repository}"),
            None => repository.clone(),
        };
        check_repository(&repository, registry.is_none(), name.len())?;
        let mut unique = Vec::new();
        for tag in tags {
            check_tag(&tag)?;
            if !unique.contains(&tag) {
                unique.push(tag);
            }
        }
        Ok(Target {
            registry,
            repository,
            tags: unique,
        })
    }

    /// The image name as docker knows it: `alice/dockerlab-nginx`, `127.0.0.1:5000/dockerlab/nginx`.
    fn name(&self) -> String {
        match &self.registry {
            Some(host) => format!("{host}/{}", self.repository),
            None => self.repository.clone(),
        }
    }

    fn reference(&self, tag: &str) -> String {
        format!("{}:{tag}", self.name())
    }

    /// The registry in words.
    fn shown(&self) -> String {
        self.registry.clone().unwrap_or_else(|| "Docker Hub".into())
    }

    /// Docker treats loopback registries as plain-HTTP ("insecure") ones.
    fn is_loopback(&self) -> bool {
        self.registry.as_deref().is_some_and(|host| {
            let host = host.rsplit_once(':').map_or(host, |(h, port)| {
                if port.bytes().all(|b| b.is_ascii_digit()) {
                    h
                } else {
                    host
                }
            });
            host == "localhost" || host.starts_with("127.") || host == "[::1]"
        })
    }

    /// Tags the image, pushes every tag, checks that the registry serves one digest for all of
    /// them and returns it.
    fn publish(&self, sh: &Shell, image: &str) -> Result<String> {
        // Every tag is made from the image's id at once: the name may be rebuilt meanwhile (by
        // another checkout on the same engine), the id cannot.
        let format = "{{.Id}}";
        let id = cmd!(sh, "docker image inspect --format {format} {image}")
            .quiet()
            .read()?;
        for tag in &self.tags {
            let reference = self.reference(tag);
            cmd!(sh, "docker tag {id} {reference}").run()?;
        }
        let mut pushed: Option<String> = None;
        for tag in &self.tags {
            let reference = self.reference(tag);
            let digest = self.push(&reference)?;
            match &pushed {
                Some(first) => ensure!(
                    *first == digest,
                    "{reference} was pushed as {digest}, the other tags as {first}: the tags were \
                     moved meanwhile; push again"
                ),
                None => pushed = Some(digest),
            }
        }
        let digest = pushed.context("no tag to push")?;
        for tag in &self.tags {
            let served = self.served_digest(sh, tag)?;
            ensure!(
                served == digest,
                "{} serves {served} for {tag}, but {digest} was pushed",
                self.shown()
            );
            println!("pushed {}@{digest}", self.reference(tag));
        }
        Ok(digest)
    }

    /// `docker login` with the password on stdin: never on a command line, never echoed.
    fn login(&self, sh: &Shell, user: &str, password: &str) -> Result<()> {
        let server: Vec<&str> = self.registry.iter().map(String::as_str).collect();
        eprintln!(
            "$ docker login --username {user} --password-stdin {}  (password from ${PASSWORD_VAR})",
            server.join(" ")
        );
        let out = cmd!(
            sh,
            "docker login --username {user} --password-stdin {server...}"
        )
        .stdin(password)
        .secret()
        .ignore_status()
        .output()
        .context("running docker login")?;
        if out.status.success() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&out.stderr);
        Err(self.failure(&text, "login", user))
    }

    /// `docker push`, its progress shown as it goes; returns the digest the registry reported.
    fn push(&self, reference: &str) -> Result<String> {
        eprintln!("$ docker push {reference}");
        let reader = duct::cmd!("docker", "push", reference)
            .stderr_to_stdout()
            .unchecked()
            .reader()
            .context("running docker push")?;
        let mut text = String::new();
        for line in BufReader::new(&reader).lines() {
            let line = line.context("reading docker push's output")?;
            println!("{line}");
            text += &line;
            text.push('\n');
        }
        let status = reader
            .try_wait()?
            .context("docker push did not finish")?
            .status;
        if !status.success() {
            return Err(self.failure(&text, "push", reference));
        }
        digest_in(&text).with_context(|| {
            let last = text.lines().last().unwrap_or("no output");
            format!("docker push of {reference} reported no `digest: sha256:…` line (its last line: {last})")
        })
    }

    /// The digest the registry itself serves for a tag (`docker manifest inspect`, with the
    /// same credentials as the push).
    fn served_digest(&self, sh: &Shell, tag: &str) -> Result<String> {
        let reference = self.reference(tag);
        let insecure: &[&str] = if self.is_loopback() {
            &["--insecure"]
        } else {
            &[]
        };
        let manifest = cmd!(
            sh,
            "docker manifest inspect --verbose {insecure...} {reference}"
        )
        .quiet()
        .read()
        .with_context(|| format!("asking {} for the manifest of {reference}", self.shown()))?;
        descriptor_digest(&manifest).with_context(|| {
            format!(
                "`docker manifest inspect --verbose {reference}` gave no Descriptor digest (a \
                 multi-platform list?)"
            )
        })
    }

    /// Docker's error of a login or push, in plain words: one line saying what to do.
    fn failure(&self, docker_said: &str, action: &str, what: &str) -> anyhow::Error {
        let lower = docker_said.to_lowercase();
        let said = docker_said
            .lines()
            .map(str::trim)
            .rfind(|line| !line.is_empty())
            .unwrap_or("no output")
            .trim_start_matches("Error response from daemon: ");
        let registry = self.shown();
        let login = match &self.registry {
            Some(host) => format!("docker login {host}"),
            None => "docker login".into(),
        };
        let any = |marks: &[&str]| marks.iter().any(|mark| lower.contains(mark));
        if any(&[
            "connection refused",
            "no such host",
            "timeout",
            "network is unreachable",
            "connection reset",
            "server misbehaving",
            "http response to https client",
            "tls:",
        ]) {
            anyhow!(
                "registry {registry} is unreachable ({said}): check --registry and that the \
                 registry is running"
            )
        } else if action == "login" && any(&["401", "unauthorized", "incorrect username"]) {
            anyhow!(
                "{registry} refused the login of {what}: 401 Unauthorized, the user name or \
                 password is wrong; check {USERNAME_VAR} and {PASSWORD_VAR} (a Docker Hub access \
                 token works as the password)"
            )
        } else if any(&[
            "401",
            "unauthorized",
            "no basic auth credentials",
            "authentication required",
        ]) {
            anyhow!(
                "{registry} refused the push of {what}: 401 Unauthorized, you are not logged in; \
                 set {USERNAME_VAR} and {PASSWORD_VAR}, or run `{login}` first"
            )
        } else if any(&["denied"]) {
            anyhow!(
                "{registry} denied the push of {what} ({said}): log in as a user who may push to \
                 {} or choose your own repository with --repository",
                self.repository
            )
        } else {
            anyhow!("docker {action} of {what} failed: {said}")
        }
    }
}

/// `digest: sha256:… size: …`, as `docker push` reports it.
fn digest_in(push_output: &str) -> Option<String> {
    push_output.lines().find_map(|line| {
        let (_, rest) = line.split_once("digest: ")?;
        let digest = rest.split_whitespace().next()?;
        is_digest(digest).then(|| digest.to_string())
    })
}

/// The digest of the `Descriptor` of `docker manifest inspect --verbose`'s JSON.
fn descriptor_digest(manifest: &str) -> Option<String> {
    let descriptor = &manifest[manifest.find("\"Descriptor\"")?..];
    let after = &descriptor[descriptor.find("\"digest\"")? + "\"digest\"".len()..];
    let value = after.trim_start().strip_prefix(':')?.trim_start();
    let digest = value.strip_prefix('"')?.split('"').next()?;
    is_digest(digest).then(|| digest.to_string())
}

fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// `HOST[:PORT]`: DNS labels (or an IPv4 address, or `[IPv6]`), an optional port.
fn check_registry(registry: &str) -> Result<()> {
    let invalid = |why: &str| {
        anyhow!(
            "invalid registry {registry:?}: {why}; give HOST[:PORT] such as registry.example.com \
             or 127.0.0.1:5000 (no scheme, no path)"
        )
    };
    let (host, port) = match registry.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (registry, None),
    };
    if let Some(port) = port {
        let number = port
            .parse::<u16>()
            .ok()
            .filter(|n| *n > 0 && port.bytes().all(|b| b.is_ascii_digit()));
        if number.is_none() {
            return Err(invalid(&format!(
                "port {port:?} is not a number from 1 to 65535"
            )));
        }
    }
    if let Some(inside) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        if inside.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(invalid("not an IPv6 address in brackets"));
        }
        return Ok(());
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if host.is_empty() || !host.split('.').all(label_ok) {
        return Err(invalid(
            "the host must be letters, digits and '-' in dot-separated labels",
        ));
    }
    Ok(())
}

/// A repository of distribution's reference grammar: `/`-separated path components
/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`, the whole name at most 255 characters.
fn check_repository(repository: &str, docker_hub: bool, name_len: usize) -> Result<()> {
    let invalid = |why: String| {
        anyhow!(
            "invalid repository {repository:?}: {why}; a valid one is NAMESPACE/NAME in lowercase \
             letters and digits, joined inside a part only by '.', '_', '__' or dashes, such as \
             alice/dockerlab-nginx"
        )
    };
    if name_len > NAME_MAX {
        return Err(invalid(format!(
            "the image name with its registry is {name_len} characters, at most {NAME_MAX} are allowed"
        )));
    }
    if let Some(upper) = repository.chars().find(char::is_ascii_uppercase) {
        return Err(invalid(format!("it has the uppercase letter {upper:?}")));
    }
    if let Some(space) = repository.chars().find(|c| c.is_whitespace()) {
        return Err(invalid(format!("it has the blank {space:?}")));
    }
    let parts: Vec<&str> = repository.split('/').collect();
    if let Some(bad) = parts.iter().find(|part| !is_path_component(part)) {
        return Err(invalid(if bad.is_empty() {
            "it has an empty part (a '/' at an end or twice)".into()
        } else {
            format!("its part {bad:?} is not letters and digits joined by '.', '_', '__' or '-'")
        }));
    }
    if parts.len() > 1 && (parts[0].contains('.') || parts[0] == "localhost") {
        return Err(invalid(format!(
            "docker would read {:?} as a registry host: pass it with --registry",
            parts[0]
        )));
    }
    if docker_hub && parts.len() != 2 {
        return Err(invalid(
            "Docker Hub repositories are exactly NAMESPACE/NAME (your user or organisation, then \
             the image)"
                .into(),
        ));
    }
    Ok(())
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`, without a regex engine.
fn is_path_component(part: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = part.as_bytes();
    if !bytes.first().is_some_and(|&b| alnum(b)) || !bytes.last().is_some_and(|&b| alnum(b)) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &part[start..i];
        let allowed = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !allowed {
            return false;
        }
    }
    true
}

/// A tag of distribution's grammar: `[\w][\w.-]{0,127}`.
fn check_tag(tag: &str) -> Result<()> {
    let invalid = |why: String| {
        anyhow!(
            "invalid tag {tag:?}: {why}; a tag is 1 to {TAG_MAX} letters, digits, '_', '.' or '-', \
             not starting with '.' or '-', such as 1.0.0 or stable"
        )
    };
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    match tag.chars().next() {
        None => return Err(invalid("it is empty".into())),
        Some(first) if !word(first) => return Err(invalid(format!("it starts with {first:?}"))),
        Some(_) => {}
    }
    if let Some(bad) = tag.chars().find(|&c| !(word(c) || c == '.' || c == '-')) {
        return Err(invalid(format!("it has {bad:?}")));
    }
    if tag.len() > TAG_MAX {
        return Err(invalid(format!("it is {} characters long", tag.len())));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// `cargo xtask test`: a real registry with authentication, on loopback, for this run only.

/// Repository the tests push to (in the test registry only).
const TEST_REPOSITORY: &str = "dockerlab-push-test/nginx";
/// Container the tests run the pulled image in.
const TEST_CONTAINER: &str = "dockerlab-push-test-nginx";
const MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Debian's `docker-registry` (CNCF distribution) on a free loopback port, with htpasswd auth
/// and a password made for this run; killed, and its files removed, when dropped.
struct TestRegistry {
    process: duct::Handle,
    addr: String,
    user: String,
    password: String,
    /// Field order matters: the process is killed (in `drop`) before its files go.
    files: Scratch,
}

impl TestRegistry {
    fn start(sh: &Shell) -> Result<TestRegistry> {
        let files = Scratch::temp("registry")?;
        let user = "dockerlab-push".to_string();
        let password = random_hex(16)?;
        // -i: the password comes on stdin, never on a command line.
        let htpasswd = cmd!(sh, "htpasswd -B -i -n {user}")
            .stdin(&password)
            .quiet()
            .read()
            .context("making the htpasswd file (Debian: apt-get install apache2-utils)")?;
        fs::write(files.join("htpasswd"), format!("{htpasswd}\n"))?;
        let addr = format!("127.0.0.1:{}", docker::free_port()?);
        let config = files.join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: {addr}\nauth:\n  htpasswd:\n    realm: dockerlab-push-test\n    path: {}\n",
                files.join("storage").display(),
                files.join("htpasswd").display(),
            ),
        )?;
        let process = duct::cmd!("docker-registry", "serve", &config)
            .stderr_to_stdout()
            .stdout_path(files.join("registry.log"))
            .start()
            .context("starting docker-registry (Debian: apt-get install docker-registry)")?;
        let registry = TestRegistry {
            process,
            addr,
            user,
            password,
            files,
        };
        let start = Instant::now();
        while http::get(&registry.url("/v2/")).is_err() {
            if start.elapsed() > Duration::from_secs(15) || registry.process.try_wait()?.is_some() {
                bail!(
                    "docker-registry did not answer on {}; its log:\n{}",
                    registry.addr,
                    fs::read_to_string(registry.files.join("registry.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(registry)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A GET with this run's credentials.
    fn get(&self, path: &str, accept: &str) -> Result<http::Response> {
        let auth = http::basic_auth(&self.user, &self.password);
        http::request(
            "GET",
            &self.url(path),
            &[("Authorization", &auth), ("Accept", accept)],
            "",
        )
    }

    /// The repositories the registry holds (its catalog).
    fn catalog(&self) -> Result<String> {
        let resp = self.get("/v2/_catalog", "application/json")?;
        ensure!(resp.status == 200, "catalog: status {}", resp.status);
        Ok(resp.body.trim().to_string())
    }

    /// A fresh, empty docker client configuration (DOCKER_CONFIG): no one's ~/.docker is used.
    fn docker_config(&self, name: &str) -> Result<PathBuf> {
        let dir = self.files.join(name);
        fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(dir)
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.process.kill();
    }
}

/// Removes, when dropped, every local image reference in the test registry's name space, and only
/// those: the shared `dockerlab/nginx:*` image the refs point to stays.
struct LocalRefs<'a> {
    sh: &'a Shell,
    prefix: String,
}

impl LocalRefs<'_> {
    fn list(&self) -> Result<Vec<String>> {
        let format = "{{.Repository}} {{.Tag}} {{.Digest}}";
        let rows = cmd!(self.sh, "docker images --digests --format {format}")
            .quiet()
            .read()?;
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
            let _ = cmd!(self.sh, "docker image rm {reference}")
                .quiet()
                .ignore_stdout()
                .ignore_stderr()
                .run();
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

/// Runs `cargo xtask push` (this very binary, not cargo again) against the test registry, with
/// its own DOCKER_CONFIG and, when given, credentials; shows its output in the log.
fn xtask_push(
    sh: &Shell,
    registry: &str,
    config: &Path,
    credentials: Option<(&str, &str)>,
    args: &[&str],
    path: Option<&str>,
) -> Result<Output> {
    let exe = std::env::current_exe().context("finding the xtask binary")?;
    let mut push = cmd!(
        sh,
        "{exe} push --registry {registry} --repository {TEST_REPOSITORY} {args...}"
    )
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
pub fn tests(sh: &Shell, suite: &mut Suite) {
    suite.check(
        "push: invalid repository or tag is one clear error, docker never called",
        rejects_bad_input_without_docker(sh),
    );
    let Some(registry) = suite.check(
        "push: a local docker-registry with htpasswd auth starts",
        || TestRegistry::start(sh),
    ) else {
        return;
    };
    let pid = registry.process.pids()[0];
    let files = registry.files.path().to_path_buf();
    let refs = LocalRefs {
        sh,
        prefix: format!("{}/", registry.addr),
    };
    let addr = registry.addr.as_str();
    let user = registry.user.as_str();
    let password = registry.password.as_str();

    suite.check(
        "push: the registry demands a login (401 without credentials)",
        || {
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
    suite.check(
        "push: a wrong password is refused in plain words, nothing pushed",
        || {
            let config = registry.docker_config("docker-wrong")?;
            let wrong = format!("{password}-wrong");
            let out = xtask_push(sh, addr, &config, Some((user, &wrong)), &[], None)?;
            let error = one_error_line(&out)?;
            ensure!(
                error.contains("401 Unauthorized") && error.contains(PASSWORD_VAR),
                "unclear: {error}"
            );
            let catalog = registry.catalog()?;
            ensure!(
                catalog == r#"{"repositories":[]}"#,
                "the registry holds {catalog}"
            );
            ensure!(
                refs.list()?.is_empty(),
                "local refs were made: {:?}",
                refs.list()?
            );
            Ok(())
        },
    );
    suite.check(
        "push: without a login the 401 is explained, nothing pushed",
        || {
            let config = registry.docker_config("docker-none")?;
            let out = xtask_push(sh, addr, &config, None, &[], None)?;
            let error = one_error_line(&out)?;
            ensure!(
                error.contains("not logged in") && error.contains("401 Unauthorized"),
                "unclear: {error}"
            );
            let catalog = registry.catalog()?;
            ensure!(
                catalog == r#"{"repositories":[]}"#,
                "the registry holds {catalog}"
            );
            refs.remove()
        },
    );
    suite.check(
        "push: an unreachable registry is said to be unreachable",
        || {
            let config = registry.docker_config("docker-unreachable")?;
            let nowhere = format!("127.0.0.1:{}", docker::free_port()?);
            let out = xtask_push(sh, &nowhere, &config, Some((user, password)), &[], None)?;
            let error = one_error_line(&out)?;
            ensure!(error.contains("unreachable"), "unclear: {error}");
            Ok(())
        },
    );
    suite.check(
        "push: an image that cannot be built is said so, nothing pushed",
        || {
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
            let out = xtask_push(sh, addr, &config, Some((user, password)), &[], Some(&path))?;
            let error = one_error_line(&out)?;
            ensure!(error.contains("could not be built"), "unclear: {error}");
            let catalog = registry.catalog()?;
            ensure!(
                catalog == r#"{"repositories":[]}"#,
                "the registry holds {catalog}"
            );
            Ok(())
        },
    );

    let config = registry.docker_config("docker-good");
    let name = format!("{addr}/{TEST_REPOSITORY}");
    let Some(digest) = suite.check(
        "push: cargo xtask push publishes version, commit and --tag with one digest",
        || {
            let config = config.as_ref().map_err(|e| anyhow!("{e:#}"))?;
            let out = xtask_push(
                sh,
                addr,
                config,
                Some((user, password)),
                &["--tag", "e2e"],
                None,
            )?;
            ensure!(out.status.success(), "cargo xtask push failed");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let flavour = Flavour::of(sh);
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
    ) else {
        return;
    };
    suite.check(
        "push: the registry serves the reported digest for every tag",
        || {
            for tag in [version_tag(Flavour::of(sh)), "e2e".into()] {
                let path = format!("/v2/{TEST_REPOSITORY}/manifests/{tag}");
                let resp = registry.get(&path, MANIFEST_V2)?;
                ensure!(resp.status == 200, "{path}: status {}", resp.status);
                let served = resp.header("Docker-Content-Digest").unwrap_or_default();
                ensure!(
                    served == digest,
                    "{tag}: the registry serves {served}, {digest} was reported"
                );
            }
            Ok(())
        },
    );
    let Some(pulled) = suite.check(
        "push: local tags deleted, the image pulled back by the reported digest",
        || {
            refs.remove()?;
            let config = config.as_ref().map_err(|e| anyhow!("{e:#}"))?;
            let reference = format!("{name}@{digest}");
            cmd!(sh, "docker pull {reference}")
                .env("DOCKER_CONFIG", config)
                .run()
                .context("pulling by digest")?;
            let format = "{{json .RepoDigests}}";
            let digests = cmd!(sh, "docker image inspect --format {format} {reference}")
                .quiet()
                .read()?;
            ensure!(
                digests.contains(&format!("\"{reference}\"")),
                "the pulled image has the digests {digests}"
            );
            Ok(reference)
        },
    ) else {
        return;
    };
    suite.check("push: the pulled image runs and serves our page", || {
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
    });

    let prefix = refs.prefix.clone();
    drop(refs);
    drop(registry);
    suite.check(
        "push: no leftovers (registry, files, images, containers)",
        || {
            ensure!(
                !Path::new(&format!("/proc/{pid}")).exists(),
                "docker-registry (pid {pid}) still runs"
            );
            ensure!(!files.exists(), "{} is still there", files.display());
            let format = "{{.Repository}}";
            let images = cmd!(sh, "docker images --format {format}").quiet().read()?;
            ensure!(
                !images.lines().any(|repo| repo.starts_with(&prefix)),
                "images of {prefix} are left"
            );
            let name = format!("name=^{TEST_CONTAINER}$");
            let containers = cmd!(sh, "docker ps --all --quiet --filter {name}")
                .quiet()
                .read()?;
            ensure!(containers.is_empty(), "container {TEST_CONTAINER} is left");
            Ok(())
        },
    );
}

/// Bad repositories and tags must fail with one line before any docker call: a stand-in
/// `docker` first on PATH records any call.
fn rejects_bad_input_without_docker(sh: &Shell) -> impl FnOnce() -> Result<()> + '_ {
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
        let exe = std::env::current_exe()?;
        for (args, expected) in cases {
            let out = cmd!(sh, "{exe} push --registry 127.0.0.1:9 {args...}")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn path_components_follow_distribution() {
        for ok in [
            "nginx",
            "a",
            "dockerlab-nginx",
            "a__b",
            "a.b",
            "a_b",
            "a---b",
            "x1.2-3_4",
        ] {
            assert!(is_path_component(ok), "{ok}");
        }
        for bad in [
            "", "Nginx", "-a", "a-", "a.", ".a", "a..b", "a___b", "a._b", "a-.b", "a b", "é",
        ] {
            assert!(!is_path_component(bad), "{bad}");
        }
    }

    #[test]
    fn tags_follow_distribution() {
        for ok in ["1.0.0", "1.0.0-offline", "_x", "A", "e2e", &"v".repeat(128)] {
            assert!(check_tag(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-rc", ".x", "a b", "a/b", "a:b", "ü", &"v".repeat(129)] {
            let err = check_tag(bad).unwrap_err().to_string();
            assert!(
                err.starts_with("invalid tag") && !err.contains('\n'),
                "{err}"
            );
        }
    }

    #[test]
    fn repositories_are_checked() {
        assert!(check_repository("alice/dockerlab-nginx", true, 21).is_ok());
        assert!(check_repository("group/sub/app", false, 13).is_ok());
        assert!(check_repository("app", false, 3).is_ok());
        for (bad, hub, why) in [
            ("Alice/nginx", true, "uppercase"),
            ("alice/my nginx", true, "blank"),
            ("alice//nginx", false, "empty part"),
            ("alice/nginx-", false, "part \"nginx-\""),
            ("nginx", true, "exactly NAMESPACE/NAME"),
            ("a/b/c", true, "exactly NAMESPACE/NAME"),
            ("example.com/app", false, "registry host"),
            ("localhost/app", false, "registry host"),
        ] {
            let err = check_repository(bad, hub, bad.len())
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{bad}: {err}");
            assert!(
                err.contains("alice/dockerlab-nginx"),
                "says what is valid: {err}"
            );
        }
        let err = check_repository("a/b", false, 256).unwrap_err().to_string();
        assert!(err.contains("256 characters"), "{err}");
    }

    #[test]
    fn registries_are_checked() {
        for ok in [
            "127.0.0.1:5000",
            "localhost:5000",
            "registry.example.com",
            "ghcr.io",
            "[::1]:5000",
        ] {
            assert!(check_registry(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://x", "x/y", "x:0", "x:70000", "x:", "", "-x.com", "a..b", "[zz]:1", "my host",
        ] {
            assert!(check_registry(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn targets_default_sensibly() {
        let hub = Target::new(None, None, Some("alice"), tags(&["1.0.0", "abc", "1.0.0"])).unwrap();
        assert_eq!(hub.reference("1.0.0"), "alice/dockerlab-nginx:1.0.0");
        assert_eq!(hub.tags, tags(&["1.0.0", "abc"]), "duplicates dropped");
        assert_eq!(hub.shown(), "Docker Hub");
        let explicit = Target::new(Some("docker.io"), Some("org/web"), None, tags(&["1"])).unwrap();
        assert_eq!(
            (explicit.registry, explicit.repository.as_str()),
            (None, "org/web")
        );
        let local = Target::new(Some("127.0.0.1:5000"), None, Some("bob"), tags(&["1"])).unwrap();
        assert_eq!(local.reference("1"), "127.0.0.1:5000/dockerlab/nginx:1");
        assert!(local.is_loopback());
        let remote =
            Target::new(Some("registry.example.com:443"), None, None, tags(&["1"])).unwrap();
        assert!(!remote.is_loopback());
        let err = Target::new(None, None, None, tags(&["1"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--repository"), "{err}");
        let long = format!("{}.example.com", "r".repeat(250));
        let err = Target::new(Some(&long), Some("a/b"), None, tags(&["1"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("at most 255"), "{err}");
    }

    #[test]
    fn docker_errors_in_plain_words() {
        let target = Target::new(Some("127.0.0.1:5000"), Some("a/b"), None, tags(&["1"])).unwrap();
        let said = |text: &str, action: &str| target.failure(text, action, "x").to_string();
        let wrong =
            "Error response from daemon: login attempt to http://127.0.0.1:5000/v2/ failed \
                     with status: 401 Unauthorized";
        assert!(said(wrong, "login").contains("user name or password is wrong"));
        assert!(said("no basic auth credentials", "push").contains("not logged in"));
        let refused = "Get \"http://127.0.0.1:5000/v2/\": dial tcp 127.0.0.1:5000: connect: \
                       connection refused";
        assert!(said(refused, "push").contains("unreachable"));
        assert!(
            said("denied: requested access to the resource is denied", "push")
                .contains("--repository")
        );
        assert!(!said("a\nb\n", "push").contains('\n'));
    }

    #[test]
    fn digests_are_read() {
        let hex = "27308f5fd7997bd2d1a601ffa3ea83763c9559551476a8832a25f276a6ac18c2";
        let push = format!("abc: Pushed\n1.0.0: digest: sha256:{hex} size: 1364\n");
        assert_eq!(digest_in(&push), Some(format!("sha256:{hex}")));
        assert_eq!(digest_in("digest: sha256:abc size: 1"), None);
        let manifest = format!(
            "{{\n\t\"Ref\": \"x\",\n\t\"Descriptor\": {{\n\t\t\"mediaType\": \"m\",\n\t\t\
             \"digest\": \"sha256:{hex}\",\n\t\t\"size\": 1364\n\t}},\n\t\"SchemaV2Manifest\": {{\
             \"config\": {{\"digest\": \"sha256:{}\"}}}}\n}}",
            "0".repeat(64)
        );
        assert_eq!(descriptor_digest(&manifest), Some(format!("sha256:{hex}")));
    }
}
