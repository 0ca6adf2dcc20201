//! The Redmine stack on a Swarm: the stack file made of compose.yaml and
//! redmine/stack.yaml, `docker stack deploy`, and waiting until every service has converged.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use xshell::Shell;

use super::local as cluster;
use super::target::Cluster;
use crate::docker::{self, Docker};
use crate::redmine::stack::Stack;

/// The stack's name on the Swarm (services `dockerlab-redmine_db`, `_redmine`, `_web`).
pub const NAME: &str = "dockerlab-redmine";
/// What Swarm adds to compose.yaml.
const STACK_FILE: &str = "redmine/stack.yaml";
/// The front door's site, a Swarm config.
const PROXY_CONF: &str = "nginx/proxy.conf";
/// Keys of a compose.yaml service that only Compose knows: `docker stack deploy` refuses
/// depends_on's long form and host addresses in ports, and ignores the rest with a warning.
/// Swarm restarts tasks by deploy.restart_policy, and the front door publishes the port.
const COMPOSE_ONLY: &[&str] = &[
    "build",
    "container_name",
    "depends_on",
    "ports",
    "pull_policy",
    "restart",
];
/// The longest a deploy may take to converge (a first start migrates the database; the nodes
/// pull the images first).
const CONVERGE: Duration = Duration::from_secs(600);

/// The stack's images, by digest, as the nodes pull them.
pub struct Images {
    pub db: String,
    pub redmine: String,
    pub web: String,
}

pub struct Options {
    pub replicas: u16,
    pub port: u16,
    pub routing_mesh: bool,
}

/// `docker compose config` of the flavour's compose files, as JSON.
pub fn compose_config(sh: &Shell, stack: &Stack) -> Result<Value> {
    let json = stack
        .compose(sh, &["config", "--no-normalize", "--format", "json"])
        .quiet()
        .read()
        .context("docker compose config of redmine/compose.yaml failed")?;
    serde_json::from_str(&json).context("reading docker compose config's JSON")
}

/// compose.yaml as `docker stack deploy` takes it: without the project name, the services
/// behind a profile, the keys only Compose knows, and the nulls `config` writes for unset keys.
pub fn base(config: &Value) -> Result<String> {
    let mut config = config.clone();
    let top = config
        .as_object_mut()
        .context("docker compose config gave no object")?;
    top.remove("name");
    let services = top
        .get_mut("services")
        .and_then(Value::as_object_mut)
        .context("docker compose config gave no services")?;
    // A service behind a profile is Compose's business (the offline stand-in, built, never run).
    services.retain(|_, service| service.get("profiles").is_none());
    for service in services.values_mut() {
        if let Some(service) = service.as_object_mut() {
            service.retain(|key, value| !COMPOSE_ONLY.contains(&key.as_str()) && !value.is_null());
        }
        // `config` writes CPUs and memory as numbers; the stack file's schema wants strings.
        for kind in ["limits", "reservations"] {
            for key in ["cpus", "memory"] {
                let pointer = format!("/deploy/resources/{kind}/{key}");
                if let Some(value) = service.pointer_mut(&pointer).filter(|v| v.is_number()) {
                    *value = Value::String(value.to_string());
                }
            }
        }
    }
    Ok(serde_json::to_string_pretty(&config)?)
}

/// Has the manager pull every image first: a registry the nodes cannot reach fails here, before
/// anything is deployed.
pub fn check_pull(sh: &Shell, cluster: &Cluster, images: &Images, registry: &str) -> Result<()> {
    for image in [&images.db, &images.redmine, &images.web] {
        let out = cluster
            .docker(sh, &["pull", "--quiet", image])
            .quiet()
            .ignore_status()
            .output()?;
        if !out.status.success() {
            bail!(
                "the Swarm cannot pull {image} ({}): --registry {registry} must be an address the \
                 nodes reach, not only this machine",
                docker::reason_of(&out)
            );
        }
    }
    Ok(())
}

/// `docker stack deploy` of compose.yaml's services (`config`: [`compose_config`]) with
/// stack.yaml over them; a new stack first gets one Redmine task (it migrates the database
/// alone), then all of them.
pub fn deploy(
    sh: &Shell,
    cluster: &Cluster,
    config: &Value,
    images: &Images,
    options: &Options,
) -> Result<()> {
    let base = base(config)?;
    let redmine = format!("{NAME}_redmine");
    let exists = cluster
        .docker(sh, &["service", "inspect", &redmine])
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_ok();
    if !exists && options.replicas > 1 {
        apply(sh, cluster, &base, images, options, 1)?;
        converge(sh, cluster)?;
    }
    apply(sh, cluster, &base, images, options, options.replicas)?;
    converge(sh, cluster)
}

fn apply(
    sh: &Shell,
    cluster: &Cluster,
    base: &str,
    images: &Images,
    options: &Options,
    replicas: u16,
) -> Result<()> {
    let (endpoint, publish) = if options.routing_mesh {
        ("vip", "ingress")
    } else {
        ("dnsrr", "host")
    };
    let root = docker::project_root();
    let stack_file = root.join(STACK_FILE);
    let proxy = std::fs::read(root.join(PROXY_CONF)).context("reading nginx/proxy.conf")?;
    // The base comes on stdin, so relative paths (stack.yaml's ../nginx/proxy.conf) resolve
    // from the working directory: redmine/.
    let _dir = sh.push_dir("redmine");
    cluster
        .docker(
            sh,
            &[
                "stack",
                "deploy",
                "--detach=true",
                "--resolve-image",
                "never",
                "--prune",
                "--compose-file",
                "-",
                "--compose-file",
            ],
        )
        .arg(&stack_file)
        .arg(NAME)
        .stdin(base)
        .env("REDMINE_IMAGE", &images.redmine)
        .env("DB_IMAGE", &images.db)
        .env("NGINX_IMAGE", &images.web)
        .env("REDMINE_REPLICAS", replicas.to_string())
        .env("REDMINE_PORT", options.port.to_string())
        .env("SWARM_ENDPOINT_MODE", endpoint)
        .env("SWARM_PUBLISH_MODE", publish)
        .env("REDMINE_FILES_DIR", cluster::FILES_IN_NODE)
        .env("NGINX_PROXY_CONF_HASH", format!("{:016x}", fnv1a(&proxy)))
        .run()
        .context("docker stack deploy failed (its output is above)")
}

/// FNV-1a, 64 bits: a name for a content (not a defence against anyone).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One service's state: desired tasks, running tasks of the current spec, and how its last
/// update went.
struct Service {
    name: String,
    desired: usize,
    current: usize,
    update: String,
    errors: Vec<String>,
}

fn service(sh: &Shell, cluster: &Cluster, name: &str) -> Result<Service> {
    let format = "{{.Spec.Mode.Replicated.Replicas}}|{{.Spec.TaskTemplate.ContainerSpec.Image}}|\
                  {{if .UpdateStatus}}{{.UpdateStatus.State}}: {{.UpdateStatus.Message}}{{end}}";
    let spec = cluster
        .docker(sh, &["service", "inspect", "--format", format, name])
        .quiet()
        .read()?;
    let mut parts = spec.splitn(3, '|');
    let desired = parts.next().unwrap_or_default().parse().unwrap_or(0);
    let image = parts.next().unwrap_or_default().to_string();
    let update = parts.next().unwrap_or_default().to_string();
    let tasks = cluster
        .docker(
            sh,
            &[
                "service",
                "ps",
                "--no-trunc",
                "--filter",
                "desired-state=running",
                "--format",
                "{{.Image}}|{{.CurrentState}}|{{.Error}}",
                name,
            ],
        )
        .quiet()
        .read()?;
    let mut current = 0;
    let mut errors = Vec::new();
    for task in tasks.lines() {
        let fields: Vec<&str> = task.splitn(3, '|').collect();
        if fields.len() == 3 && fields[0] == image && fields[1].starts_with("Running") {
            current += 1;
        }
        if fields.len() == 3 && !fields[2].is_empty() {
            errors.push(fields[2].to_string());
        }
    }
    Ok(Service {
        name: name.into(),
        desired,
        current,
        update,
        errors,
    })
}

/// The stack's services, by name.
pub fn services(sh: &Shell, cluster: &Cluster) -> Result<Vec<String>> {
    let filter = format!("label=com.docker.stack.namespace={NAME}");
    let out = cluster
        .docker(
            sh,
            &[
                "service",
                "ls",
                "--filter",
                &filter,
                "--format",
                "{{.Name}}",
            ],
        )
        .quiet()
        .read()?;
    Ok(out.lines().map(str::to_string).collect())
}

/// Waits until every service runs as many healthy tasks of its current spec as it wants (Swarm
/// counts a task with a healthcheck as running only once healthy) and no update is under way;
/// fails at once on a rollback or a task that cannot get its image.
pub fn converge(sh: &Shell, cluster: &Cluster) -> Result<()> {
    let start = Instant::now();
    loop {
        let names = services(sh, cluster)?;
        let mut pending = Vec::new();
        for name in &names {
            let s = service(sh, cluster, name)?;
            if s.update.starts_with("rollback") || s.update.starts_with("paused") {
                bail!(
                    "the update of {} failed and was rolled back ({}); see `docker service ps \
                     --no-trunc {}`",
                    s.name,
                    s.update,
                    s.name
                );
            }
            if let Some(err) = s
                .errors
                .iter()
                .find(|e| e.contains("No such image") || e.contains("pull access denied"))
            {
                bail!("the nodes cannot get the image of {} ({err})", s.name);
            }
            if s.current != s.desired || s.update.starts_with("updating") {
                pending.push(format!("{} {}/{}", s.name, s.current, s.desired));
            }
        }
        if !names.is_empty() && pending.is_empty() {
            return Ok(());
        }
        if start.elapsed() > CONVERGE {
            bail!(
                "the stack did not converge within {CONVERGE:?} (still: {}); see `docker service \
                 ps --no-trunc` of those services",
                pending.join(", ")
            );
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// `docker stack rm`, waiting until its services and networks are gone; with `volumes`, its
/// volumes on every node of the local cluster too, and the shared attachments.
pub fn remove(sh: &Shell, cluster: &Cluster, volumes: bool) -> Result<()> {
    cluster
        .docker(sh, &["stack", "rm", NAME])
        .quiet()
        .ignore_stdout()
        .run()?;
    let filter = format!("label=com.docker.stack.namespace={NAME}");
    let start = Instant::now();
    loop {
        let networks = cluster
            .docker(sh, &["network", "ls", "--quiet", "--filter", &filter])
            .quiet()
            .read()?;
        if services(sh, cluster)?.is_empty() && networks.is_empty() {
            break;
        }
        if start.elapsed() > Duration::from_secs(90) {
            bail!("the stack's services or networks are still there after 90 s");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    if !volumes {
        return Ok(());
    }
    let Some(_) = &cluster.local else {
        println!(
            "note: the stack's volumes live on the nodes: remove {NAME}_db (on the node labelled \
             dockerlab.db) by hand; the attachments stay on their share"
        );
        return Ok(());
    };
    for node in cluster::nodes(sh)? {
        let host = cluster::host(&node);
        remove_volumes(sh, &host, &filter)
            .with_context(|| format!("removing the stack's volumes on node {node}"))?;
    }
    let files = cluster::files_dir();
    if files.exists() {
        for entry in std::fs::read_dir(&files)?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
    }
    Ok(())
}

/// Removes a node's volumes of the stack, waiting for its stopping containers to let go.
fn remove_volumes(sh: &Shell, host: &str, filter: &str) -> Result<()> {
    let node = Docker::host(sh, host, host);
    let start = Instant::now();
    loop {
        let list = node.read(&["volume", "ls", "--quiet", "--filter", filter])?;
        let names: Vec<&str> = list.lines().collect();
        if names.is_empty() {
            return Ok(());
        }
        if node.succeeds(&[&["volume", "rm"], &names[..]].concat()) {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(60) {
            bail!("volumes {} are still in use after 60 s", names.join(" "));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_keeps_what_swarm_shares_and_drops_what_only_compose_knows() {
        let config: Value = serde_json::json!({
            "name": "dockerlab-redmine",
            "services": {
                "redmine": {
                    "build": {"context": "."},
                    "command": null,
                    "depends_on": {"db": {"condition": "service_healthy"}},
                    "environment": {"REDMINE_DB_POSTGRES": "db"},
                    "healthcheck": {"test": ["CMD", "true"]},
                    "image": "dockerlab/redmine:x",
                    "ports": [{"target": 3000, "published": "3000", "host_ip": "127.0.0.1"}],
                    "restart": "unless-stopped",
                    "read_only": true,
                    "deploy": {"resources": {"limits": {"cpus": 2, "memory": 805306368, "pids": 256}}}
                },
                "redmine-standin": {"profiles": ["standin"], "image": "x"}
            },
            "volumes": {"files": {}}
        });
        let base: Value = serde_json::from_str(&base(&config).unwrap()).unwrap();
        assert!(base.get("name").is_none());
        let redmine = base["services"]["redmine"].as_object().unwrap();
        let mut keys: Vec<&str> = redmine.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            ["deploy", "environment", "healthcheck", "image", "read_only"],
            "{redmine:?}"
        );
        // The stack file's schema takes CPUs and memory as strings only.
        let limits = &base["services"]["redmine"]["deploy"]["resources"]["limits"];
        assert_eq!(limits["cpus"], "2");
        assert_eq!(limits["memory"], "805306368");
        assert_eq!(limits["pids"], 256);
        assert_eq!(base["volumes"], config["volumes"]);
        assert!(base["services"].get("redmine-standin").is_none());
    }
}
