//! The Redmine stack: its image and what our theme adds to it, cold first start and warm
//! restart → first 200, on a compose project of its own (fresh volumes and secrets).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::report::{number, Table, Target};
use super::shared::{image_mb, median, Ctx, PREFIX};
use crate::docker::{self, Docker};
use crate::flavour::Flavour;
use crate::redmine::Stack;

/// restart → first 200, on a compose project of its own (fresh volumes and secrets).
pub fn run(ctx: &Ctx, t: &mut Table) -> Result<()> {
    let sh = &ctx.run.sh;
    // A leftover of an interrupted run would make the first start a warm one: scratch takes it
    // down.
    let stack = Stack::scratch(
        ctx.run,
        &format!("{PREFIX}-redmine"),
        docker::free_port()?,
        &ctx.dir.join("redmine"),
    );
    let new_project = || -> Result<()> {
        stack.down(sh, true)?;
        let _ = std::fs::remove_dir_all(&stack.secrets);
        Ok(())
    };
    // The images are built (cache hits when nothing changed) before any start is timed.
    stack.bases(sh)?;
    stack.compose(sh, &["build", "--quiet"]).run()?;

    let url = format!("{}/", stack.url());
    let (mut cold, mut cold_up) = (Vec::new(), Vec::new());
    for _ in 0..ctx.plan.slow_runs {
        new_project()?;
        let (first, up) = until_200(&url, || stack.up(sh))?;
        cold.push(first);
        cold_up.push(up);
    }
    redmine_sizes(ctx, &stack, t)?;
    t.median("Redmine cold first start → first 200", &cold, "s")
        .target(Target::AtMost(60.0))
        .note(format!(
            "images built; new volumes and secrets; `cargo xtask redmine up` (a cached build, \
             migrations, default data) until GET / answers 200, polled every 50 ms; `up` itself \
             returns once healthy: {} s",
            number(median(&cold_up).unwrap_or_default())
        ));

    let (mut warm, mut warm_up) = (Vec::new(), Vec::new());
    for _ in 0..ctx.plan.slow_runs {
        stack.down(sh, false)?;
        let (first, up) = until_200(&url, || stack.up(sh))?;
        warm.push(first);
        warm_up.push(up);
    }
    t.median("Redmine warm restart → first 200", &warm, "s")
        .target(Target::AtMost(10.0))
        .note(format!(
            "`cargo xtask redmine down` (volumes kept, not timed), then `up` until GET / answers \
             200; `up` itself returns once healthy: {} s",
            number(median(&warm_up).unwrap_or_default())
        ));
    Ok(())
}

/// Our Redmine image: its size, its layers on top of its base, and the theme's layers.
fn redmine_sizes(ctx: &Ctx, stack: &Stack, t: &mut Table) -> Result<()> {
    let sh = &ctx.run.sh;
    let flavour = ctx.run.flavour;
    let image = stack.image(sh)?;
    let base = stack.base(sh)?;
    let (ours, base_mb) = (image_mb(sh, &image)?, image_mb(sh, &base)?);
    t.measured(
        format!(
            "Redmine image, {} flavour, uncompressed",
            flavour.display_name()
        ),
        ours,
        "MB",
        1,
    )
    .note(format!(
        "the image the stack runs, {}",
        &image[..19.min(image.len())]
    ));
    t.measured(
        "… of which our layers on top of the base",
        ours - base_mb,
        "MB",
        1,
    )
    .note(format!("base {base}: {base_mb:.1} MB"));
    let format = "{{.Size}}\t{{.CreatedBy}}";
    let history = Docker::local(sh).read(&[
        "history",
        "--no-trunc",
        "--human=false",
        "--format",
        format,
        &image,
    ])?;
    let layers = theme_layers(&history)?;
    let bytes: f64 = layers.iter().map(|(size, _)| size).sum();
    let parts: Vec<String> = layers
        .iter()
        .map(|(size, step)| format!("{step} {} kB", number(size / 1e3)))
        .collect();
    t.measured("… of which our theme's layers", bytes / 1e3, "kB", 1)
        .target(Target::Below(1000.0))
        .note(format!(
            "{} (from `docker history`; the RUN {})",
            parts.join(" + "),
            match flavour {
                Flavour::Offline => "rewrites the theme's @import for Redmine 5",
                Flavour::Upstream =>
                    "is assets:precompile, which compiles Redmine's own assets too",
            }
        ));
    Ok(())
}

/// The theme's layers in `docker history --format '{{.Size}}\t{{.CreatedBy}}'` (newest first):
/// the `COPY … themes/harbour/` and the RUN steps right after it, oldest first, as (bytes, step).
fn theme_layers(history: &str) -> Result<Vec<(f64, String)>> {
    let steps: Vec<(f64, &str)> = history
        .lines()
        .rev()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (size, step) = line.split_once('\t').unwrap_or((line, ""));
            let size = size
                .trim()
                .parse::<f64>()
                .with_context(|| format!("a layer size is not a number: {line}"))?;
            Ok((size, step))
        })
        .collect::<Result<_>>()?;
    let copy = steps
        .iter()
        .position(|(_, step)| step.contains(" COPY ") && step.contains("themes/harbour/"))
        .context("no `COPY … themes/harbour/` step in the image's history")?;
    let mut layers = vec![(steps[copy].0, "COPY themes/harbour/".to_string())];
    // A RUN is the one step the classic builder does not mark `#(nop)`.
    for (size, _) in steps[copy + 1..]
        .iter()
        .take_while(|(_, step)| !step.contains("#(nop)"))
    {
        layers.push((*size, "RUN".to_string()));
    }
    Ok(layers)
}

/// Runs `start` (a `Stack::up`) while polling `url`: the seconds to the first 200, and to the
/// return of `start`.
fn until_200(url: &str, start: impl FnOnce() -> Result<()>) -> Result<(f64, f64)> {
    let limit = Duration::from_secs(600);
    let begin = Instant::now();
    let failed = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let poller = scope.spawn(|| {
            while begin.elapsed() < limit && !failed.load(std::sync::atomic::Ordering::Relaxed) {
                if crate::http::get(url).is_ok_and(|r| r.status == 200) {
                    return Some(begin.elapsed().as_secs_f64());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            None
        });
        let started = start();
        let returned = begin.elapsed().as_secs_f64();
        if started.is_err() {
            failed.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let first = poller.join().expect("the poller does not panic");
        started?;
        let first = first.with_context(|| format!("{url} did not answer 200 within {limit:?}"))?;
        Ok((first, returned))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_theme_layers_in_the_history() {
        let history = "0\t/bin/sh -c #(nop)  CMD [\"rails\"]
0\t/bin/sh -c #(nop)  ARG REVISION=unknown
2626\t/bin/sh -c set -eux; css=/usr/share/redmine/public/themes/harbour/stylesheets/application.css
2927\t/bin/sh -c #(nop) COPY dir:bf in /usr/share/redmine/public/themes/harbour/ 
2640\t/bin/sh -c #(nop) COPY multi:d5 in /usr/local/share/dockerlab/ 
328243515\t/bin/sh -c set -eux; apt-get install redmine
122082826\t
";
        assert_eq!(
            theme_layers(history).unwrap(),
            vec![
                (2927.0, "COPY themes/harbour/".to_string()),
                (2626.0, "RUN".to_string())
            ]
        );
        // Upstream: a relative destination, and no RUN after it would count nothing more.
        let upstream = "0\t/bin/sh -c #(nop)  LABEL a=b\n9000\t/bin/sh -c #(nop) COPY dir:x in themes/harbour/ \n";
        assert_eq!(
            theme_layers(upstream).unwrap(),
            vec![(9000.0, "COPY themes/harbour/".to_string())]
        );
        assert!(theme_layers("12\t/bin/sh -c #(nop) COPY dir:x in /srv/\n").is_err());
        assert!(theme_layers("12kB\t/bin/sh -c #(nop) COPY dir:x in themes/harbour/\n").is_err());
    }
}
