//! `cargo xtask redmine deploy`: the Redmine stack on a Docker Swarm — the local cluster of
//! `cargo xtask swarm up`, or any cluster's manager by `--context` or DOCKER_HOST.

use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use clap::Args;
use serde_json::Value;

use super::local as cluster;
use super::stack::{self as swarm_stack, Images, Options};
use super::target::Cluster;
use crate::ctx::Ctx;
use crate::redmine::stack::Stack;
use crate::{docker, nginx, push};

/// Deploy the stack to a Swarm (docs/swarm.md): build the images, push them to the registry the
/// nodes pull from, `docker stack deploy`, wait until every service has converged and is healthy.
#[derive(Args)]
pub struct Deploy {
    /// Redmine tasks behind the front door.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=32))]
    replicas: u16,
    /// Take the stack down instead (its volumes stay unless --volumes).
    #[arg(long)]
    remove: bool,
    /// With --remove: also delete the database and attachments.
    #[arg(long, requires = "remove")]
    volumes: bool,
    /// The docker context of a Swarm manager (default: DOCKER_HOST if set, else the local
    /// cluster of `cargo xtask swarm up`).
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// The registry the nodes pull from, as HOST[:PORT]; the images are pushed there with your
    /// `docker login` (default: the local cluster's registry).
    #[arg(long, value_name = "HOST[:PORT]")]
    registry: Option<String>,
    /// Deploy this image as Redmine instead of building redmine/ (a rolling update to another
    /// build).
    #[arg(long, value_name = "IMAGE")]
    redmine_image: Option<String>,
    /// Use Swarm's routing mesh (ingress port on every node, virtual IPs); needs IPVS in the
    /// nodes' kernels. Default: DNS round robin and the port published on the front door's node.
    #[arg(long)]
    routing_mesh: bool,
}

impl Deploy {
    pub fn run(self, ctx: &Ctx, stack: &Stack) -> Result<()> {
        let sh = &ctx.sh;
        let cluster = Cluster::find(sh, self.context.as_deref())?;
        if self.remove {
            swarm_stack::remove(sh, &cluster, self.volumes)?;
            println!(
                "stack {} removed from {}{}",
                swarm_stack::NAME,
                cluster.shown,
                if self.volumes {
                    " with its volumes"
                } else {
                    " (volumes kept)"
                }
            );
            return Ok(());
        }
        let start = Instant::now();
        let (push_to, pull_from) = self.registry(&cluster)?;
        if self.routing_mesh && cluster.local.is_some() {
            ensure!(
                cluster::has_ipvs(),
                "--routing-mesh needs IPVS (the ip_vs kernel module), which this kernel lacks: \
                 deploy without it (DNS round robin, the port published on the front door's node)"
            );
        }
        stack.ensure_secrets()?;
        // compose.yaml as Compose reads it, with the flavour's files and our variables.
        let config = swarm_stack::compose_config(sh, stack)?;
        let images = images(
            ctx,
            stack,
            &config,
            self.redmine_image.as_deref(),
            &push_to,
            &pull_from,
        )?;
        swarm_stack::check_pull(sh, &cluster, &images, &pull_from)?;
        let options = Options {
            replicas: self.replicas,
            port: stack.port,
            routing_mesh: self.routing_mesh,
        };
        swarm_stack::deploy(sh, &cluster, &config, &images, &options)?;
        let url = format!("http://{}:{}/", cluster.address(sh)?, stack.port);
        docker::wait_http(&url, std::time::Duration::from_secs(120))
            .context("the stack converged but its front door does not answer")?;
        println!(
            "Redmine is up at {url} ({} Redmine task(s) behind the front door, stack {} on {}, \
             {:.0} s)\nadmin user: admin\nadmin password: {}",
            self.replicas,
            swarm_stack::NAME,
            cluster.shown,
            start.elapsed().as_secs_f64(),
            stack.admin_password()?
        );
        Ok(())
    }

    /// Where images are pushed from this machine, and where the nodes pull them from.
    fn registry(&self, cluster: &Cluster) -> Result<(String, String)> {
        match (&self.registry, &cluster.local) {
            (Some(registry), _) => Ok((registry.clone(), registry.clone())),
            (None, Some(local)) => Ok((local.registry_push.clone(), local.registry_pull.clone())),
            (None, None) => bail!(
                "which registry do the nodes pull from? Pass --registry HOST[:PORT] (pushed to \
                 with your `docker login`)"
            ),
        }
    }
}

/// Builds (or takes) the three images, pushes each to the registry and returns them by digest
/// as the nodes pull them.
fn images(
    ctx: &Ctx,
    stack: &Stack,
    config: &Value,
    redmine_image: Option<&str>,
    push_to: &str,
    pull_from: &str,
) -> Result<Images> {
    let sh = &ctx.sh;
    let named = |service: &str| -> Result<String> {
        config["services"][service]["image"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("compose.yaml's service {service} names no image"))
    };
    let db = named("db")?;
    let mut redmine = named("redmine")?;
    // Built as `cargo xtask redmine up` builds them (the offline stand-ins first); Redmine's
    // image not when another one is deployed in its place.
    stack.bases(sh)?;
    let build: &[&str] = match redmine_image {
        Some(_) => &["build", "--quiet", "db"],
        None => &["build", "--quiet"],
    };
    stack
        .compose(sh, build)
        .run()
        .context("building the stack's images failed (docker's output is above)")?;
    if let Some(image) = redmine_image {
        ensure!(
            docker::image_exists(sh, image),
            "--redmine-image {image}: no such image here; build it first"
        );
        redmine = image.to_string();
    }
    let web = nginx::build(ctx)?;
    let publish = |image: &str| -> Result<String> {
        let (repository, tag) = ours(image);
        let digest = push::publish(sh, push_to, &repository, &tag, image)
            .with_context(|| format!("pushing {image} to {push_to}"))?;
        Ok(format!("{pull_from}/{repository}@{digest}"))
    };
    Ok(Images {
        db: publish(&db)?,
        redmine: publish(&redmine)?,
        web: publish(&web)?,
    })
}

/// An image's name in the cluster's registry: `dockerlab/NAME` and its tag.
fn ours(image: &str) -> (String, String) {
    let (name, tag) = match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (image, "latest"),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    (format!("dockerlab/{last}"), tag.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_get_our_names_in_the_registry() {
        assert_eq!(
            ours("dockerlab/redmine:5.0.4-harbour-offline"),
            ("dockerlab/redmine".into(), "5.0.4-harbour-offline".into())
        );
        assert_eq!(
            ours("postgres:17.11-alpine3.24"),
            ("dockerlab/postgres".into(), "17.11-alpine3.24".into())
        );
        assert_eq!(
            ours("127.0.0.1:5000/team/web"),
            ("dockerlab/web".into(), "latest".into())
        );
    }
}
