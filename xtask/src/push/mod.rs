//! `cargo xtask push`: publish our nginx image to Docker Hub or any registry, then ask the
//! registry which digest each pushed tag points to and check it is the one that was pushed.

use std::io::{BufRead, BufReader};

use anyhow::{anyhow, bail, ensure, Context, Result};
use clap::Args;
use xshell::Shell;

use crate::docker::{self, is_digest, Docker};
use crate::flavour::Flavour;
use crate::{nginx, progress};

pub mod checks;
mod names;

use crate::ctx::Ctx;
use names::{check_registry, check_repository, check_tag};

/// Docker Hub's names for itself: pushing to any of them (or without --registry) is Docker Hub.
const DOCKER_HUB: &[&str] = &["docker.io", "index.docker.io", "registry-1.docker.io"];
/// Our image's name under a Docker Hub account: `alice/dockerlab-nginx`.
const HUB_NAME: &str = "dockerlab-nginx";
/// Credentials for a non-interactive login (the password may be a Docker Hub access token).
const USERNAME_VAR: &str = "DOCKER_USERNAME";
const PASSWORD_VAR: &str = "DOCKER_PASSWORD";
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
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        let sh = &ctx.sh;
        let credentials = credentials(sh)?;
        let mut tags = default_tags(ctx);
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
            nginx::build(ctx).context("the image to push is not here and could not be built")?;
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

/// Pushes `image` to `registry` as `repository:tag` with the login already in place, checks that
/// the registry serves the pushed digest for it, and returns that digest. `cargo xtask redmine
/// deploy` publishes the stack's images for the Swarm nodes this way.
pub fn publish(
    sh: &Shell,
    registry: &str,
    repository: &str,
    tag: &str,
    image: &str,
) -> Result<String> {
    let target = Target::new(
        Some(registry),
        Some(repository),
        None,
        vec![tag.to_string()],
    )?;
    let digest = target.publish(sh, image)?;
    // The registry has it now; the local name was only the way there.
    let reference = target.reference(tag);
    Docker::local(sh).read(&["image", "rm", &reference])?;
    Ok(digest)
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
fn default_tags(ctx: &Ctx) -> Vec<String> {
    let sh = &ctx.sh;
    let flavour = ctx.flavour;
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

/// What was asked of the registry when it answered with an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Login,
    Push,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::Push => "push",
        }
    }
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
        let mut target = Target {
            registry,
            repository,
            tags: Vec::new(),
        };
        check_repository(
            &target.repository,
            target.registry.is_none(),
            target.name().len(),
        )?;
        for tag in tags {
            check_tag(&tag)?;
            if !target.tags.contains(&tag) {
                target.tags.push(tag);
            }
        }
        Ok(target)
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
        let id = docker::image_id(sh, image)?;
        for tag in &self.tags {
            let reference = self.reference(tag);
            Docker::local(sh).run(&["tag", &id, &reference])?;
        }
        let mut pushed: Option<String> = None;
        for tag in &self.tags {
            let reference = self.reference(tag);
            let digest = self.push(sh, &reference)?;
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
        let out = Docker::local(sh)
            .cmd(&["login", "--username", user, "--password-stdin"])
            .args(server)
            .stdin(password)
            .secret()
            .ignore_status()
            .output()
            .context("running docker login")?;
        if out.status.success() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&out.stderr);
        Err(self.failure(&text, Action::Login, user))
    }

    /// `docker push`, its progress shown as it goes; returns the digest the registry reported.
    fn push(&self, sh: &Shell, reference: &str) -> Result<String> {
        eprintln!("$ docker push {reference}");
        let step = progress::Step::start(&format!("pushing {reference}"));
        let reader = Docker::local(sh)
            .duct(&["push", reference])
            .stderr_to_stdout()
            .unchecked()
            .reader()
            .context("running docker push")?;
        let mut text = String::new();
        for line in BufReader::new(&reader).lines() {
            let line = line.context("reading docker push's output")?;
            if progress::verbose() {
                println!("{line}");
            }
            text += &line;
            text.push('\n');
        }
        let status = reader
            .try_wait()?
            .context("docker push did not finish")?
            .status;
        if !status.success() {
            drop(step);
            return Err(self.failure(&text, Action::Push, reference));
        }
        step.done();
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
        let manifest = Docker::local(sh)
            .read(
                &[
                    &["manifest", "inspect", "--verbose"],
                    insecure,
                    &[&reference],
                ]
                .concat(),
            )
            .with_context(|| format!("asking {} for the manifest of {reference}", self.shown()))?;
        descriptor_digest(&manifest).with_context(|| {
            format!(
                "`docker manifest inspect --verbose {reference}` gave no Descriptor digest (a \
                 multi-platform list?)"
            )
        })
    }

    /// Docker's error of a login or push, in plain words: one line saying what to do.
    fn failure(&self, docker_said: &str, action: Action, what: &str) -> anyhow::Error {
        let lower = docker_said.to_lowercase();
        let said = docker::reason(docker_said);
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
        } else if action == Action::Login && any(&["401", "unauthorized", "incorrect username"]) {
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
            anyhow!("docker {} of {what} failed: {said}", action.verb())
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

/// The digest of the `Descriptor` of `docker manifest inspect --verbose`'s JSON (an object for
/// a single-platform image; a list would be an array of them).
fn descriptor_digest(manifest: &str) -> Option<String> {
    let manifest: serde_json::Value = serde_json::from_str(manifest).ok()?;
    let digest = manifest["Descriptor"]["digest"].as_str()?;
    is_digest(digest).then(|| digest.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|t| t.to_string()).collect()
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
        let said = |text: &str, action: Action| target.failure(text, action, "x").to_string();
        let wrong =
            "Error response from daemon: login attempt to http://127.0.0.1:5000/v2/ failed \
                     with status: 401 Unauthorized";
        assert!(said(wrong, Action::Login).contains("user name or password is wrong"));
        assert!(said("no basic auth credentials", Action::Push).contains("not logged in"));
        let refused = "Get \"http://127.0.0.1:5000/v2/\": dial tcp 127.0.0.1:5000: connect: \
                       connection refused";
        assert!(said(refused, Action::Push).contains("unreachable"));
        assert!(said(
            "denied: requested access to the resource is denied",
            Action::Push
        )
        .contains("--repository"));
        assert!(!said("a\nb\n", Action::Push).contains('\n'));
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
        assert_eq!(descriptor_digest(&format!("[{manifest}]")), None, "a list");
        assert_eq!(
            descriptor_digest("{\"Descriptor\": {\"digest\": \"sha256:x\"}}"),
            None
        );
    }
}
