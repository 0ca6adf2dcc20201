//! Image sizes: ours uncompressed, its base, and compressed as a registry stores it.

use anyhow::{ensure, Context, Result};
use xshell::Shell;

use super::report::Table;
use super::shared::{image_mb, layers, remove_image, Ctx, PREFIX};
use crate::docker::Docker;
use crate::flavour::Flavour;
use crate::nginx;
use crate::registry::Registry;

/// Image sizes: ours, its base, and what our layers add.
pub fn run(ctx: &Ctx, t: &mut Table) -> Result<()> {
    let sh = &ctx.run.sh;
    let flavour = ctx.run.flavour;
    let base = nginx::base(ctx.run.flavour)?;
    let (ours, base_mb) = (image_mb(sh, &ctx.image)?, image_mb(sh, &base)?);
    let tag = nginx::image(flavour);
    t.measured(
        format!(
            "nginx image, {} flavour, uncompressed",
            flavour.display_name()
        ),
        ours,
        "MB",
        1,
    )
    .note(tag);
    t.measured(
        "… of which our layers on top of the base",
        ours - base_mb,
        "MB",
        1,
    )
    .note(format!("base {base}: {base_mb:.1} MB"));
    let other = match flavour {
        Flavour::Offline => Flavour::Upstream,
        Flavour::Upstream => Flavour::Offline,
    };
    t.missing(
        format!(
            "nginx image, {} flavour, uncompressed",
            other.display_name()
        ),
        match other {
            Flavour::Upstream => "registry here to pull its Alpine base from",
            Flavour::Offline => {
                "run in that flavour: the bench measures the flavour it runs in (add --offline)"
            }
        },
    );
    let base_layers = layers(sh, &base)?.len();
    // Without the registry's program the figure is left out, saying so; a push that fails
    // fails the section.
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| dir.join("docker-registry").is_file())
    });
    if !on_path {
        t.missing(
            "nginx image, compressed as pushed",
            "docker-registry on PATH (apt-get install docker-registry)",
        );
        return Ok(());
    }
    let sizes = pushed_sizes(ctx).context("pushing to a local registry")?;
    let ours: f64 = sizes.iter().skip(base_layers).sum();
    t.measured(
        "nginx image, compressed as pushed",
        sizes.iter().sum(),
        "MB",
        1,
    )
    .note("layer blobs in a local registry's manifest");
    t.measured("… of which our layers, compressed", ours, "MB", 1);
    Ok(())
}

/// Pushes our image to a registry of our own on the loopback and returns the sizes of its
/// compressed layers, bottom first, in MB.
fn pushed_sizes(ctx: &Ctx) -> Result<Vec<f64>> {
    let sh: &Shell = &ctx.run.sh;
    let registry = Registry::start(sh, "dockerlab-bench", None)?;
    let repository = format!("{PREFIX}/nginx");
    let tag = format!("{}/{repository}:size", registry.addr);
    let image = &ctx.image;
    let docker = Docker::local(sh);
    docker.read(&["tag", image, &tag])?;
    let pushed = docker.run(&["push", "--quiet", &tag]);
    remove_image(sh, &tag); // only the tag: the image stays
    pushed.context("docker push")?;
    layer_sizes(&registry.manifest(&repository, "size")?)
}

/// The `size` of every entry of a manifest's `layers`, in MB.
fn layer_sizes(manifest: &serde_json::Value) -> Result<Vec<f64>> {
    let layers = manifest["layers"]
        .as_array()
        .context("no layers in the manifest")?;
    let sizes: Vec<f64> = layers
        .iter()
        .map(|layer| layer["size"].as_u64().map(|bytes| bytes as f64 / 1e6))
        .collect::<Option<_>>()
        .context("a layer size is not a number")?;
    ensure!(!sizes.is_empty(), "no layer sizes in the manifest");
    Ok(sizes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_layer_sizes_of_a_manifest() {
        let manifest = r#"{
   "schemaVersion": 2,
   "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023},
   "layers": [
      {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654000, "digest": "sha256:e6"},
      {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size":16724, "digest": "sha256:3c"}
   ]
}"#;
        let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
        assert_eq!(
            layer_sizes(&parse(manifest)).unwrap(),
            vec![32.654, 0.016724]
        );
        assert!(layer_sizes(&parse(r#"{"config": {"size": 1}}"#)).is_err());
        assert!(layer_sizes(&parse(r#"{"layers": [{"size": "x"}]}"#)).is_err());
        assert!(layer_sizes(&parse(r#"{"layers": []}"#)).is_err());
    }
}
