//! `cargo xtask pins`: every image the project pins (each Dockerfile's `ARG BASE` default and
//! registry `FROM`, each compose image we do not build) must resolve on its registry. CI runs it
//! where a registry exists (.github/workflows/ci.yml), so that a tag that was never there, or
//! has gone, fails with its name; Dependabot proposes the newer ones.

use anyhow::{bail, Result};
use clap::Args;

use crate::ctx::Ctx;
use crate::docker::{self, Docker};
use crate::dockerfile::{self, Dockerfile};

/// Check that every pinned base and compose image resolves on its registry (needs one).
#[derive(Args)]
pub struct Pins {}

impl Pins {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        let sh = &ctx.sh;
        let images = pinned_images()?;
        let mut unresolved = Vec::new();
        for image in &images {
            // The registry's manifest (or index) of the tag: asked by the client, no engine.
            let out = Docker::local(sh)
                .cmd(&["manifest", "inspect", image])
                .quiet()
                .ignore_status()
                .output()?;
            if out.status.success() {
                println!("resolves: {image}");
            } else {
                unresolved.push(format!("{image} ({})", docker::reason_of(&out)));
            }
        }
        if !unresolved.is_empty() {
            bail!(
                "{} of {} pinned images do not resolve on their registry: {}",
                unresolved.len(),
                images.len(),
                unresolved.join("; ")
            );
        }
        println!("all {} pinned images resolve", images.len());
        Ok(())
    }
}

/// The registry images the project pins, sorted, each once: the defaults of `ARG BASE`, the
/// other `FROM`s, and compose's `image:`s, except our own (`dockerlab/…`, built here).
pub fn pinned_images() -> Result<Vec<String>> {
    let root = docker::project_root();
    let mut images = Vec::new();
    for file in dockerfile::all()? {
        let file = Dockerfile::read(file)?;
        images.extend(file.arg_base());
        images.extend(
            file.froms()
                .into_iter()
                .map(|from| from.image)
                .filter(|image| !image.starts_with('$')),
        );
    }
    for file in ["redmine/compose.yaml", "redmine/compose.offline.yaml"] {
        let text = std::fs::read_to_string(root.join(file))?;
        images.extend(
            text.lines()
                .filter_map(|line| line.trim_start().strip_prefix("image:"))
                .map(|image| image.trim().trim_start_matches(['&', '*']))
                .filter_map(|image| image.split_whitespace().last())
                .map(str::to_string),
        );
    }
    images.retain(|image| !image.starts_with("dockerlab/"));
    images.sort();
    images.dedup();
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pins of both flavours' upstream images, and none of ours.
    #[test]
    fn every_upstream_image_is_pinned_and_checked() {
        let images = pinned_images().unwrap();
        for name in ["alpine:", "debian:", "redmine:", "postgres:"] {
            assert!(
                images.iter().any(|image| image.starts_with(name)),
                "{name} missing from {images:?}"
            );
        }
        assert!(images.iter().all(|image| !image.starts_with("dockerlab/")));
    }
}
