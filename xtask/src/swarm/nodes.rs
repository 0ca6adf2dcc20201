//! The nodes: Docker engines in containers (Docker-in-Docker) on a network of their own, joined
//! into one Swarm; and taking all of it away again, cgroups included.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use xshell::Shell;

use super::local::{self as cluster, node_name, on, LABEL, PREFIX};
use crate::build;
use crate::ctx::Ctx;
use crate::docker::Docker;
use crate::flavour::Flavour;

/// The node image's build context: one Dockerfile, its base a build argument (the official
/// `docker:…-dind` upstream, the local Debian base offline).
const CONTEXT: &str = "swarm/node";
/// How long a node's engine may take to answer, and the cluster to have every node Ready.
const ENGINE_WAIT: Duration = Duration::from_secs(90);
const READY_WAIT: Duration = Duration::from_secs(90);
/// Redmine's user in both flavours' images (compose.yaml's `user:`): it writes the attachments.
const REDMINE_UID: u32 = 999;
const REDMINE_GID: u32 = 1000;

/// The node image of a flavour.
pub fn image(flavour: Flavour) -> String {
    format!("{PREFIX}/node:1{}", flavour.tag_suffix())
}

/// Builds the node image (a cache hit when nothing changed).
pub fn build_image(ctx: &Ctx) -> Result<String> {
    let tag = image(ctx.flavour);
    let label = format!("{LABEL}=image");
    build::build(ctx, Path::new(CONTEXT), &tag, &["--label", &label])
        .with_context(|| format!("building the node image {tag} from {CONTEXT}/Dockerfile"))?;
    Ok(tag)
}

/// How the nodes get the rights a Docker engine needs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Rights {
    /// `--privileged`, where the engine allows it.
    Privileged,
    /// Every capability but CAP_SYS_RESOURCE, no seccomp or AppArmor profile, the host's cgroups
    /// mounted: for engines that refuse `--privileged` (a sandbox without CAP_SYS_RESOURCE).
    AllCapsButSysResource,
}

impl Rights {
    fn args(self) -> &'static [&'static str] {
        match self {
            Rights::Privileged => &["--privileged"],
            Rights::AllCapsButSysResource => &[
                "--cap-add",
                "ALL",
                "--cap-drop",
                "SYS_RESOURCE",
                "--security-opt",
                "seccomp=unconfined",
                "--security-opt",
                "apparmor=unconfined",
                "--security-opt",
                "systempaths=unconfined",
            ],
        }
    }
}

/// Starts (or keeps) `count` nodes, then makes them one Swarm: node 1 the manager, the others
/// workers, every one Ready.
pub fn up(sh: &Shell, image: &str, count: usize) -> Result<()> {
    let files = cluster::files_dir();
    std::fs::create_dir_all(&files)
        .with_context(|| format!("creating the attachments directory {}", files.display()))?;
    // Redmine (999:1000) writes the attachments; without the right to chown, anyone may.
    if std::os::unix::fs::chown(&files, Some(REDMINE_UID), Some(REDMINE_GID)).is_err() {
        std::fs::set_permissions(&files, std::fs::Permissions::from_mode(0o777))?;
    }
    let mut rights = None;
    for index in 1..=count {
        let node = node_name(index);
        if cluster::running(sh, &node) {
            continue;
        }
        if crate::docker::container_exists(sh, &node) {
            Docker::local(sh).read(&["start", &node])?;
            continue;
        }
        rights = Some(match rights {
            Some(rights) => {
                start(sh, image, &node, index, rights, false)?;
                rights
            }
            None => first_node(sh, image, &node, index)?,
        });
    }
    for index in 1..=count {
        cluster::wait_engine(sh, &node_name(index), ENGINE_WAIT)?;
    }
    form_swarm(sh, count)
}

/// Starts the first new node `--privileged`, or without where the engine refuses it (said on
/// stderr); the other nodes get the same rights.
fn first_node(sh: &Shell, image: &str, node: &str, index: usize) -> Result<Rights> {
    // Docker's own refusal would read as a failure: the note below says it instead.
    if start(sh, image, node, index, Rights::Privileged, true).is_ok() {
        return Ok(Rights::Privileged);
    }
    crate::docker::remove_container(sh, node);
    eprintln!(
        "note: this engine refuses --privileged containers; the nodes run with every capability \
         but CAP_SYS_RESOURCE and without seccomp/AppArmor profiles instead"
    );
    start(sh, image, node, index, Rights::AllCapsButSysResource, false)?;
    Ok(Rights::AllCapsButSysResource)
}

/// `docker run` of one node: its engine's state on a volume of its own, the host's cgroups (its
/// containers go under /NODE, apart from the host engine's /docker), its socket in a host
/// directory, the shared attachments directory.
fn start(
    sh: &Shell,
    image: &str,
    node: &str,
    index: usize,
    rights: Rights,
    silent: bool,
) -> Result<()> {
    let sockets = cluster::socket_dir(node);
    std::fs::create_dir_all(&sockets)?;
    let label = format!("{LABEL}=node");
    let number = format!("{LABEL}.index={index}");
    let docker = Docker::local(sh);
    docker.create_volume(node, &format!("{LABEL}=volume"))?;
    let state = format!("{node}:/var/lib/docker");
    let socket = format!("{}:{}", sockets.display(), cluster::SOCKET_IN_NODE);
    let files = format!(
        "{}:{}",
        cluster::files_dir().display(),
        cluster::FILES_IN_NODE
    );
    let rights = rights.args();
    let cgroup_parent = format!("--cgroup-parent=/{node}");
    let listen = format!("--host=unix://{}/docker.sock", cluster::SOCKET_IN_NODE);
    let registry = format!("--insecure-registry={}", cluster::REGISTRY_PULL);
    #[rustfmt::skip]
    let args = [
        &["run", "--detach", "--name", node, "--hostname", node, "--label", &label,
          "--label", &number, "--network", PREFIX][..],
        rights,
        &["--tmpfs", "/run", "--volume", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
          "--volume", &state, "--volume", &socket, "--volume", &files,
          image, &cgroup_parent, "--host=unix:///var/run/docker.sock", &listen, &registry],
    ]
    .concat();
    let mut run = docker.cmd(&args).quiet().ignore_stdout();
    run.set_ignore_stderr(silent);
    run.run().with_context(|| format!("starting node {node}"))
}

fn swarm_state(sh: &Shell, node: &str) -> Result<String> {
    Ok(on(sh, node, &["info", "--format", "{{.Swarm.LocalNodeState}}"]).read()?)
}

/// Node 1 starts the Swarm (advertising its address on the cluster network) unless it has one;
/// every other node joins unless it is in one; the database's label goes on the manager.
fn form_swarm(sh: &Shell, count: usize) -> Result<()> {
    let manager = node_name(1);
    let addr = cluster::address(sh, &manager)?;
    if swarm_state(sh, &manager)? != "active" {
        on(sh, &manager, &["swarm", "init", "--advertise-addr", &addr])
            .ignore_stdout()
            .run()
            .context("docker swarm init in the manager node failed")?;
    }
    let token = on(sh, &manager, &["swarm", "join-token", "--quiet", "worker"]).read()?;
    let join = format!("{addr}:2377");
    for index in 2..=count {
        let node = node_name(index);
        if swarm_state(sh, &node)? != "active" {
            on(sh, &node, &["swarm", "join", "--token", &token, &join])
                .secret()
                .ignore_stdout()
                .run()
                .with_context(|| format!("node {node} could not join the Swarm at {join}"))?;
        }
    }
    on(
        sh,
        &manager,
        &["node", "update", "--label-add", cluster::DB_LABEL, &manager],
    )
    .ignore_stdout()
    .run()?;
    wait_ready(sh, count)
}

/// Waits until the manager lists `count` nodes, all Ready.
fn wait_ready(sh: &Shell, count: usize) -> Result<()> {
    let manager = node_name(1);
    let start = Instant::now();
    loop {
        let out = on(
            sh,
            &manager,
            &["node", "ls", "--format", "{{.Hostname}} {{.Status}}"],
        )
        .read()?;
        let ready = out.lines().filter(|l| l.ends_with(" Ready")).count();
        if ready == count && out.lines().count() == count {
            return Ok(());
        }
        if start.elapsed() > READY_WAIT {
            bail!(
                "the Swarm did not get {count} Ready nodes within {READY_WAIT:?}: {}",
                out.replace('\n', ", ")
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Removes every container, volume and network labelled as the cluster's, the cgroups its nodes'
/// engines made, its images and its state directory. Quiet about what is already gone.
pub fn down(sh: &Shell) -> Result<()> {
    let filter = format!("label={LABEL}");
    // The containers first, with their anonymous volumes, then the volumes and networks they used.
    let kinds: [(&str, &[&str], &[&str]); 3] = [
        ("container", &["--all"], &["rm", "--force", "--volumes"]),
        ("volume", &[], &["volume", "rm"]),
        ("network", &[], &["network", "rm"]),
    ];
    for (kind, all, remove) in kinds {
        let docker = Docker::local(sh);
        let found = docker.list(kind, &[all, &["--quiet", "--filter", &filter]].concat())?;
        if !found.is_empty() {
            let found: Vec<&str> = found.iter().map(String::as_str).collect();
            docker.read(&[remove, &found[..]].concat())?;
        }
    }
    remove_cgroups()?;
    let format = "{{.Repository}}:{{.Tag}}";
    let docker = Docker::local(sh);
    let images = docker.list("image", &["--filter", &filter, "--format", format])?;
    let images: Vec<&str> = images
        .iter()
        .map(String::as_str)
        .filter(|i| !i.contains("<none>"))
        .collect();
    if !images.is_empty() {
        docker.read(&[&["image", "rm"], &images[..]].concat())?;
    }
    let state = cluster::state_dir();
    if state.exists() {
        std::fs::remove_dir_all(&state).with_context(|| format!("removing {}", state.display()))?;
    }
    Ok(())
}

/// The cgroups named after our nodes (`/sys/fs/cgroup/*/dockerlab-swarm-N`, made by the nodes'
/// engines for their containers), removed depth first: a cgroup directory goes by rmdir only.
/// Their processes died with the nodes.
pub fn remove_cgroups() -> Result<()> {
    for path in cgroups()? {
        remove_cgroup_tree(&path).with_context(|| format!("removing cgroup {}", path.display()))?;
    }
    Ok(())
}

/// Our nodes' cgroup directories that exist now.
pub fn cgroups() -> Result<Vec<std::path::PathBuf>> {
    let root = Path::new("/sys/fs/cgroup");
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(root) else {
        return Ok(found);
    };
    let mut hierarchies: Vec<std::path::PathBuf> = vec![root.to_path_buf()];
    hierarchies.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    for hierarchy in hierarchies {
        let Ok(entries) = std::fs::read_dir(&hierarchy) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with(&format!("{PREFIX}-")) && entry.path().is_dir() {
                found.push(entry.path());
            }
        }
    }
    Ok(found)
}

fn remove_cgroup_tree(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir)?.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroup_tree(&entry.path())?;
        }
    }
    // A just-killed process may still be leaving its cgroup.
    for _ in 0..50 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    std::fs::remove_dir(dir)?;
    Ok(())
}
