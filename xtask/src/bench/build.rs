//! Build speed: a cold build, and a warm rebuild after editing only the page.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use xshell::cmd;

use super::report::{Table, Target};
use super::shared::{layers, remove_image, time, Ctx, PREFIX};
use crate::docker;
use crate::nginx;

/// Cold build, and warm rebuild after editing only the page.
pub fn run(ctx: &Ctx, t: &mut Table) -> Result<()> {
    let sh = &ctx.run.sh;
    let context = Path::new(nginx::CONTEXT);
    let cold = format!("{PREFIX}/nginx:cold");
    let mut secs = Vec::new();
    for _ in 0..ctx.plan.slow_runs {
        let took = time(|| nginx::build_in(ctx.run, &cold, context, &["--no-cache"]));
        // Every run leaves a new image (nothing cached): drop it, whatever happened.
        remove_image(sh, &cold);
        secs.push(took?.0);
    }
    t.median("cold build (`--no-cache`)", &secs, "s")
        .note("includes Debian's packages from the mirror");

    // A copy of the context, so that the page everyone builds from is not touched.
    let copy = ctx.dir.join("context");
    let _ = std::fs::remove_dir_all(&copy);
    cmd!(sh, "cp -R {context} {copy}").quiet().run()?;
    let warm = format!("{PREFIX}/nginx:warm");
    let mut edited = Vec::new();
    let rebuilds = warm_rebuilds(ctx, &copy, &warm, &mut edited);
    // The tag first (it may share its image with ours), then the edited images, only ours.
    remove_image(sh, &warm);
    for id in edited {
        remove_image(sh, &id);
    }
    let (secs, changed) = rebuilds?;
    t.median("warm rebuild after editing only index.html", &secs, "s")
        .target(Target::Below(2.0));
    t.median(
        "layers that differ after that rebuild",
        &changed,
        "layer(s)",
    )
    .target(Target::Exactly(1.0))
    .note("compared by `docker image inspect` RootFS layers");
    Ok(())
}

/// Builds the copy `copy` into `warm`, then per run appends a comment to its page and rebuilds:
/// the seconds each rebuild took and how many layers it changed. `edited` gets the ids of the
/// images built from an edited page.
fn warm_rebuilds(
    ctx: &Ctx,
    copy: &Path,
    warm: &str,
    edited: &mut Vec<String>,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let sh = &ctx.run.sh;
    nginx::build_in(ctx.run, warm, copy, &[])?;
    let mut before = layers(sh, warm)?;
    let page = copy.join("html/index.html");
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos();
    let (mut secs, mut changed) = (Vec::new(), Vec::new());
    for run in 0..ctx.plan.runs {
        let mut text = std::fs::read_to_string(&page)?;
        // Unique per run, so that no rebuild is a cache hit of an earlier one.
        writeln!(text, "<!-- cargo xtask bench {nonce}.{run} -->")?;
        std::fs::write(&page, text)?;
        secs.push(time(|| nginx::build_in(ctx.run, warm, copy, &[]))?.0);
        edited.push(docker::image_id(sh, warm)?);
        let after = layers(sh, warm)?;
        changed.push(differing(&before, &after) as f64);
        before = after;
    }
    Ok((secs, changed))
}

/// How many layers of `after` are not the layer at the same place in `before`.
fn differing(before: &[String], after: &[String]) -> usize {
    let same = before.iter().zip(after).filter(|(a, b)| a == b).count();
    before.len().max(after.len()) - same
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_differing_layers() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(differing(&l(&["a", "b", "c"]), &l(&["a", "b", "d"])), 1);
        assert_eq!(differing(&l(&["a", "b"]), &l(&["a", "b"])), 0);
        assert_eq!(differing(&l(&["a", "b"]), &l(&["a", "x", "y"])), 2);
    }
}
