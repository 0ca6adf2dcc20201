//! Start-up: `cargo xtask nginx` as users run it, and a bare `docker run`, until the first 200.

use std::time::Duration;

use anyhow::Result;

use super::report::{Table, Target};
use super::shared::{time, Ctx, PREFIX};
use crate::docker::{self, Container};
use crate::nginx::{self, HARDENED};

/// `cargo xtask nginx` and a bare `docker run` until the first 200.
pub fn run(ctx: &Ctx, t: &mut Table) -> Result<()> {
    let sh = &ctx.run.sh;
    let figure = "`cargo xtask nginx`, image built → first 200";
    if docker::container_exists(sh, nginx::CONTAINER) {
        t.missing(
            figure,
            format!(
                "free container name: {} is running (someone's page); `cargo xtask nginx down` \
                 first",
                nginx::CONTAINER
            ),
        );
    } else {
        let mut secs = Vec::new();
        for _ in 0..ctx.plan.runs {
            let port = docker::free_port()?.to_string();
            let start = ctx.run.xtask(&["nginx", "--port", &port])?;
            let took = time(|| start.ignore_stdout().run().map_err(Into::into));
            let down = ctx.run.xtask(&["nginx", "down"])?;
            let _ = down.quiet().ignore_stdout().run();
            secs.push(took?.0);
        }
        t.median(figure, &secs, "s").target(Target::Below(3.0));
    }

    let mut secs = Vec::new();
    for _ in 0..ctx.plan.runs {
        let port = docker::free_port()?;
        let publish = format!("127.0.0.1:{port}:8080");
        let url = format!("http://127.0.0.1:{port}/");
        let mut args = vec!["--publish", &publish];
        args.extend(HARDENED);
        args.push(&ctx.image);
        let (took, container) = time(|| {
            let container = Container::run(sh, &format!("{PREFIX}-start"), &args)?;
            docker::wait_http_every(&url, Duration::from_secs(30), Duration::from_millis(10))?;
            Ok(container)
        })?;
        drop(container);
        secs.push(took);
    }
    t.median("`docker run` → first 200", &secs, "s")
        .note("polled every 10 ms");
    Ok(())
}
