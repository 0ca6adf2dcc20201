//! `cargo xtask bench`: what people choose images by (size, build speed, start-up, throughput),
//! measured against references and written as a table to target/bench/bench.md and bench.json.
//!
//! The machines are shared and noisy: every figure is the median of several runs, and every
//! comparison is a ratio of two figures measured in the same round. It is a benchmark, not a
//! test: targets are reported as met or missed, never failed on.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use clap::Args;
use xshell::{cmd, Shell};

use crate::build;
use crate::docker::{self, Container, Flavour};
use crate::harness::Suite;
use crate::nginx::{self, HARDENED};
use crate::redmine::{Stack, Teardown};

mod report;
use report::{check_json, check_markdown, json, markdown, number, Machine, Table};

/// Measure image size, build speed, start-up and throughput against their references, and
/// write the table to target/bench/ (bench.md, bench.json).
#[derive(Args)]
pub struct Bench {
    /// Fewer runs and a shorter load: only checks that the benchmark still works.
    #[arg(long)]
    quick: bool,
}

/// Prefix of every container and image the benchmark creates.
const PREFIX: &str = "dockerlab-bench";

impl Bench {
    pub fn run(self, sh: &Shell) -> Result<()> {
        docker::engine(sh)?;
        let plan = if self.quick { Plan::QUICK } else { Plan::FULL };
        measure(sh, plan)
    }
}

/// How many runs each kind of figure gets, and how long the load lasts.
#[derive(Clone, Copy)]
pub struct Plan {
    pub quick: bool,
    /// Runs of most figures: their median is reported.
    pub runs: usize,
    /// Runs of the slow figures (cold builds, Redmine's starts: seconds to tens of seconds each).
    pub slow_runs: usize,
    /// Runs of the figures of a few milliseconds (invocations).
    pub fast_runs: usize,
    /// Seconds of each wrk load.
    pub load_secs: u32,
}

impl Plan {
    const FULL: Plan = Plan {
        quick: false,
        runs: 5,
        slow_runs: 3,
        fast_runs: 20,
        load_secs: 5,
    };
    const QUICK: Plan = Plan {
        quick: true,
        runs: 1,
        slow_runs: 1,
        fast_runs: 3,
        load_secs: 1,
    };
}

/// What every section measures with.
pub struct Ctx<'a> {
    pub sh: &'a Shell,
    pub plan: Plan,
    /// target/bench: the outputs and the scratch space.
    pub dir: PathBuf,
    /// Id of our nginx image, just built (the tag is shared with other checkouts).
    pub image: String,
}

/// A section of the table: it adds its rows, or fails (the rest of the sections still run).
pub type Section = (&'static str, fn(&Ctx, &mut Table) -> Result<()>);

/// The sections of the table, in order.
///
const SECTIONS: &[Section] = &[
    ("Image size", size),
    ("Build", build),
    ("Start-up", startup),
    ("Throughput", throughput),
    ("xtask", xtask),
    ("Redmine", redmine),
];

fn measure(sh: &Shell, plan: Plan) -> Result<()> {
    let dir = docker::project_root().join("target/bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let tag = nginx::build(sh)?;
    let image = docker::image_id(sh, &tag)?;
    let ctx = Ctx {
        sh,
        plan,
        dir,
        image,
    };
    let machine = Machine::here(sh);
    let mut table = Table::default();
    let mut failed = Vec::new();
    for (name, section) in SECTIONS {
        println!("== bench: {name}");
        table.section = name.to_string();
        if let Err(err) = section(&ctx, &mut table) {
            table.not_measured(
                format!("{name}: the rest of the section"),
                format!("it failed: {err:#}"),
            );
            failed.push(*name);
        }
    }
    let md = markdown(&machine, plan, &table);
    let md_path = ctx.dir.join("bench.md");
    let json_path = ctx.dir.join("bench.json");
    std::fs::write(&md_path, &md).with_context(|| format!("writing {}", md_path.display()))?;
    std::fs::write(&json_path, json(&machine, plan, &table))
        .with_context(|| format!("writing {}", json_path.display()))?;
    println!(
        "\n{md}\nwritten to {} and {}",
        md_path.display(),
        json_path.display()
    );
    if !failed.is_empty() {
        bail!(
            "these sections failed (their error is in the table): {}",
            failed.join(", ")
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The sections.

/// Image sizes: ours, its base, and what our layers add.
fn size(ctx: &Ctx, t: &mut Table) -> Result<()> {
    let sh = ctx.sh;
    let flavour = Flavour::of(sh);
    let base = nginx::base(sh)?;
    let (ours, base_mb) = (image_mb(sh, &ctx.image)?, image_mb(sh, &base)?);
    let tag = nginx::image(flavour);
    t.measured(
        format!("nginx image, {} flavour, uncompressed", name(flavour)),
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
    t.not_measured(
        format!("nginx image, {} flavour, uncompressed", name(other)),
        match other {
            Flavour::Upstream => "no registry here to pull its Alpine base from",
            Flavour::Offline => "the bench measures the flavour it runs in (add --offline)",
        },
    );
    let base_layers = layers(sh, &base)?.len();
    match pushed_sizes(ctx) {
        Ok(sizes) => {
            let ours: f64 = sizes.iter().skip(base_layers).sum();
            t.measured(
                "nginx image, compressed as pushed",
                sizes.iter().sum(),
                "MB",
                1,
            )
            .note("layer blobs in a local registry's manifest");
            t.measured("… of which our layers, compressed", ours, "MB", 1);
        }
        Err(err) => {
            t.not_measured(
                "nginx image, compressed as pushed",
                format!("pushing to a local registry failed: {err:#}"),
            );
        }
    }
    Ok(())
}

/// Pushes our image to a registry of our own on the loopback and returns the sizes of its
/// compressed layers, bottom first, in MB.
fn pushed_sizes(ctx: &Ctx) -> Result<Vec<f64>> {
    let sh = ctx.sh;
    let dir = ctx.dir.join("registry");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let port = docker::free_port()?;
    let config = dir.join("config.yml");
    sh.write_file(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        ),
    )?;
    println!("$ docker-registry serve {}", config.display());
    let registry = Process(
        duct::cmd!("docker-registry", "serve", &config)
            .stdout_path(dir.join("registry.log"))
            .stderr_path(dir.join("registry.err"))
            .unchecked()
            .start()
            .context("starting docker-registry (Debian: apt-get install docker-registry)")?,
    );
    let base = format!("http://127.0.0.1:{port}/v2");
    docker::wait_http(&format!("{base}/"), Duration::from_secs(10))?;
    // The loopback is an insecure registry by default: no TLS needed.
    let tag = format!("127.0.0.1:{port}/{PREFIX}/nginx:size");
    let image = &ctx.image;
    cmd!(sh, "docker tag {image} {tag}").quiet().run()?;
    let pushed = cmd!(sh, "docker push --quiet {tag}").ignore_stdout().run();
    remove_image(sh, &tag); // only the tag: the image stays
    pushed.context("docker push")?;
    let manifest = crate::http::request(
        "GET",
        &format!("{base}/{PREFIX}/nginx/manifests/size"),
        &[(
            "Accept",
            "application/vnd.docker.distribution.manifest.v2+json",
        )],
        "",
    )?;
    drop(registry);
    let _ = std::fs::remove_dir_all(&dir);
    ensure!(
        manifest.status == 200,
        "manifest: status {}",
        manifest.status
    );
    layer_sizes(&manifest.body)
}

/// The `size` of every entry of a manifest's `layers`, in MB.
fn layer_sizes(manifest: &str) -> Result<Vec<f64>> {
    let at = manifest
        .find("\"layers\"")
        .context("no layers in the manifest")?;
    let sizes: Vec<f64> = manifest[at..]
        .split("\"size\":")
        .skip(1)
        .map(|rest| {
            let digits: String = rest
                .trim_start()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse::<f64>().map(|bytes| bytes / 1e6)
        })
        .collect::<Result<_, _>>()
        .context("a layer size is not a number")?;
    ensure!(!sizes.is_empty(), "no layer sizes in the manifest");
    Ok(sizes)
}

/// A background process of ours, killed when dropped.
struct Process(duct::Handle);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

/// Cold build, and warm rebuild after editing only the page.
fn build(ctx: &Ctx, t: &mut Table) -> Result<()> {
    let sh = ctx.sh;
    let context = Path::new(nginx::CONTEXT);
    let cold = format!("{PREFIX}/nginx:cold");
    let mut secs = Vec::new();
    for _ in 0..ctx.plan.slow_runs {
        let took = time(|| nginx::build_in(sh, &cold, context, &["--no-cache"]));
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
        .below(2.0);
    t.median(
        "layers that differ after that rebuild",
        &changed,
        "layer(s)",
    )
    .exactly(1.0)
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
    let sh = ctx.sh;
    nginx::build_in(sh, warm, copy, &[])?;
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
        secs.push(time(|| nginx::build_in(sh, warm, copy, &[]))?.0);
        edited.push(docker::image_id(sh, warm)?);
        let after = layers(sh, warm)?;
        changed.push(differing(&before, &after) as f64);
        before = after;
    }
    Ok((secs, changed))
}

/// `cargo xtask nginx` and a bare `docker run` until the first 200.
fn startup(ctx: &Ctx, t: &mut Table) -> Result<()> {
    let sh = ctx.sh;
    let figure = "`cargo xtask nginx`, image built → first 200";
    if docker::container_exists(sh, nginx::CONTAINER) {
        t.not_measured(
            figure,
            format!(
                "{} is running (someone's page); `cargo xtask nginx down` first",
                nginx::CONTAINER
            ),
        );
    } else {
        let exe = std::env::current_exe()?;
        let mut secs = Vec::new();
        for _ in 0..ctx.plan.runs {
            let port = docker::free_port()?.to_string();
            let took = time(|| {
                cmd!(sh, "{exe} nginx --port {port}")
                    .ignore_stdout()
                    .run()
                    .map_err(Into::into)
            });
            let _ = cmd!(sh, "{exe} nginx down").quiet().ignore_stdout().run();
            secs.push(took?.0);
        }
        t.median(figure, &secs, "s").below(3.0);
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

/// wrk against our container (published port, and its own address) and the same configuration
/// run by the host's nginx, round by round.
fn throughput(ctx: &Ctx, t: &mut Table) -> Result<()> {
    let sh = ctx.sh;
    let port = docker::free_port()?;
    let publish = format!("127.0.0.1:{port}:8080");
    let mut args = vec!["--publish", &publish];
    args.extend(HARDENED);
    args.push(&ctx.image);
    let web = Container::run(sh, &format!("{PREFIX}-wrk"), &args)?;
    let published = format!("http://127.0.0.1:{port}/");
    docker::wait_http(&published, Duration::from_secs(30))?;
    let ip = web.inspect("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}")?;
    ensure!(!ip.is_empty(), "{} has no address", web.name);
    // The reference: the same nginx, configuration and page, without the container. On a shared
    // machine Docker's cgroup gets one CPU weight for all containers, so the reference runs in a
    // cgroup beside the container's to compete alike; a second one runs as any host process.
    let beside = cgroup_beside(sh, &web, &format!("{PREFIX}-host"))?;
    let host = HostNginx::start(ctx, &web, "host-nginx", Some(beside))?;
    let bare = HostNginx::start(ctx, &web, "host-nginx-bare", None)?;
    let targets = [
        ("container, published port", published),
        ("container, its own address", format!("http://{ip}:8080/")),
        (
            "host nginx, cgroup beside the container's",
            host.url.clone(),
        ),
        ("host nginx, outside Docker's cgroup", bare.url.clone()),
    ];
    let reference = 2;
    for (_, url) in &targets {
        docker::wait_http(url, Duration::from_secs(10))?;
        if !ctx.plan.quick {
            wrk(sh, url, 1)?; // warm-up: connections, caches, CPU frequency
        }
    }
    // rounds[round][target]: the targets take turns, so that noise hits them alike.
    let mut rounds: Vec<Vec<Wrk>> = Vec::new();
    for _ in 0..ctx.plan.runs {
        let round = targets
            .iter()
            .map(|(_, url)| wrk(sh, url, ctx.plan.load_secs))
            .collect::<Result<_>>()?;
        rounds.push(round);
    }
    let column = |i: usize, f: fn(&Wrk) -> f64| rounds.iter().map(|r| f(&r[i])).collect::<Vec<_>>();
    let load = format!("wrk -t2 -c32 -d{}s", ctx.plan.load_secs);
    for (i, (target, _)) in targets.iter().enumerate() {
        t.median(
            format!("{target}: requests/s"),
            &column(i, |w| w.rps),
            "req/s",
        )
        .note(&load);
        t.median(
            format!("{target}: latency p50"),
            &column(i, |w| w.p50_ms),
            "ms",
        );
        t.median(
            format!("{target}: latency p99"),
            &column(i, |w| w.p99_ms),
            "ms",
        );
    }
    for (i, (target, _)) in targets[..reference].iter().enumerate() {
        let ratio = |f: fn(&Wrk) -> f64| {
            rounds
                .iter()
                .map(|r| f(&r[i]) / f(&r[reference]))
                .collect::<Vec<_>>()
        };
        t.median(
            format!("{target} ÷ host beside it: requests/s"),
            &ratio(|w| w.rps),
            "×",
        )
        .note("ratio within each round");
        t.median(
            format!("{target} ÷ host beside it: latency p99"),
            &ratio(|w| w.p99_ms),
            "×",
        );
    }
    let version = |out: std::process::Output| {
        String::from_utf8_lossy(&out.stderr)
            .trim()
            .trim_start_matches("nginx version: ")
            .to_string()
    };
    let inside = version(
        duct::cmd!("docker", "exec", &web.name, "nginx", "-v")
            .stderr_capture()
            .unchecked()
            .run()?,
    );
    let outside = version(
        duct::cmd!("nginx", "-v")
            .stderr_capture()
            .unchecked()
            .run()?,
    );
    t.note_last(format!("{inside} in the container, {outside} on the host"));
    Ok(())
}

/// The xtask itself: cold compile and the cost of an invocation that does nothing.
fn xtask(ctx: &Ctx, t: &mut Table) -> Result<()> {
    let sh = ctx.sh;
    let target = ctx.dir.join("xtask-cold");
    let mut secs = Vec::new();
    for _ in 0..ctx.plan.slow_runs {
        let _ = std::fs::remove_dir_all(&target);
        let build = cmd!(sh, "cargo build --quiet --locked --package xtask")
            .env("CARGO_TARGET_DIR", &target);
        secs.push(time(|| build.run().map_err(Into::into))?.0);
    }
    let _ = std::fs::remove_dir_all(&target);
    t.median(
        "cold compile of the xtask crate (dependencies cached)",
        &secs,
        "s",
    )
    .note("`cargo build -p xtask` into an empty target directory");

    let exe = std::env::current_exe()?;
    let mut ms = Vec::new();
    for _ in 0..ctx.plan.fast_runs {
        let help = cmd!(sh, "{exe} --help").quiet().ignore_stdout();
        ms.push(time(|| help.run().map_err(Into::into))?.0 * 1e3);
    }
    t.median("no-op invocation: the binary, `--help`", &ms, "ms");
    let mut ms = Vec::new();
    for _ in 0..ctx.plan.fast_runs.div_ceil(4) {
        let help = cmd!(sh, "cargo xtask --help").quiet().ignore_stdout();
        ms.push(time(|| help.run().map_err(Into::into))?.0 * 1e3);
    }
    t.median("no-op invocation: `cargo xtask --help`", &ms, "ms")
        .note("adds cargo's start and freshness check");
    Ok(())
}

/// The Redmine stack: its image and what our theme adds to it, cold first start and warm
/// restart → first 200, on a compose project of its own (fresh volumes and secrets).
fn redmine(ctx: &Ctx, t: &mut Table) -> Result<()> {
    let sh = ctx.sh;
    let flavour = Flavour::of(sh);
    let stack = Stack {
        project: format!("{PREFIX}-redmine"),
        port: docker::free_port()?,
        secrets: ctx.dir.join("redmine-secrets"),
        backups: ctx.dir.join("redmine-backups"),
    };
    // A leftover of an interrupted run would make the first start a warm one.
    let _ = stack.down(sh, true);
    let _teardown = Teardown(sh, &stack);
    let new_project = || -> Result<()> {
        stack.down(sh, true)?;
        let _ = std::fs::remove_dir_all(&stack.secrets);
        Ok(())
    };
    // The images are built (cache hits when nothing changed) before any start is timed.
    if flavour == Flavour::Offline {
        crate::bases::ensure(sh, false)?;
    }
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
        .target("≤", 60.0)
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
        .target("≤", 10.0)
        .note(format!(
            "`cargo xtask redmine down` (volumes kept, not timed), then `up` until GET / answers \
             200; `up` itself returns once healthy: {} s",
            number(median(&warm_up).unwrap_or_default())
        ));
    drop(_teardown);
    let _ = std::fs::remove_dir_all(&stack.secrets);
    Ok(())
}

/// Our Redmine image: its size, its layers on top of its base, and the theme's layers.
fn redmine_sizes(ctx: &Ctx, stack: &Stack, t: &mut Table) -> Result<()> {
    let sh = ctx.sh;
    let flavour = Flavour::of(sh);
    let image = stack.image(sh)?;
    let base = build::base(sh, Path::new("redmine"))?;
    let (ours, base_mb) = (image_mb(sh, &image)?, image_mb(sh, &base)?);
    t.measured(
        format!("Redmine image, {} flavour, uncompressed", name(flavour)),
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
    let history = cmd!(
        sh,
        "docker history --no-trunc --human=false --format {format} {image}"
    )
    .quiet()
    .read()?;
    let layers = theme_layers(&history)?;
    let bytes: f64 = layers.iter().map(|(size, _)| size).sum();
    let parts: Vec<String> = layers
        .iter()
        .map(|(size, step)| format!("{step} {} kB", number(size / 1e3)))
        .collect();
    t.measured("… of which our theme's layers", bytes / 1e3, "kB", 1)
        .below(1000.0)
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

// ---------------------------------------------------------------------------------------------
// Measuring helpers.

/// Runs `f`, returning how long it took in seconds.
fn time<T>(f: impl FnOnce() -> Result<T>) -> Result<(f64, T)> {
    let start = Instant::now();
    let value = f()?;
    Ok((start.elapsed().as_secs_f64(), value))
}

/// The median of the samples (the mean of the middle two for an even count).
pub fn median(samples: &[f64]) -> Option<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

fn name(flavour: Flavour) -> &'static str {
    match flavour {
        Flavour::Upstream => "upstream (Alpine)",
        Flavour::Offline => "offline (local Debian base)",
    }
}

/// The uncompressed size of an image in MB.
fn image_mb(sh: &Shell, image: &str) -> Result<f64> {
    let bytes = docker::image_inspect(sh, image, "{{.Size}}")?;
    Ok(bytes.trim().parse::<f64>()? / 1e6)
}

/// Removes an image the benchmark created (never forced: a tag or container of someone else
/// keeps it).
fn remove_image(sh: &Shell, image: &str) {
    let _ = cmd!(sh, "docker image rm {image}")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run();
}

/// The layer digests of an image, bottom first.
fn layers(sh: &Shell, image: &str) -> Result<Vec<String>> {
    let json = docker::image_inspect(sh, image, "{{json .RootFS.Layers}}")?;
    Ok(json
        .split('"')
        .filter(|s| s.starts_with("sha256:"))
        .map(String::from)
        .collect())
}

/// How many layers of `after` are not the layer at the same place in `before`.
fn differing(before: &[String], after: &[String]) -> usize {
    let same = before.iter().zip(after).filter(|(a, b)| a == b).count();
    before.len().max(after.len()) - same
}

/// What one wrk run reports.
#[derive(Debug, PartialEq)]
struct Wrk {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// A wrk load on one URL, bounded in time.
fn wrk(sh: &Shell, url: &str, secs: u32) -> Result<Wrk> {
    let duration = format!("{secs}s");
    let limit = (secs + 30).to_string();
    let out = cmd!(sh, "timeout {limit} wrk --threads 2 --connections 32 --duration {duration} --timeout 2s --latency {url}")
        .read()
        .context("running wrk (Debian: apt-get install wrk)")?;
    parse_wrk(&out).with_context(|| format!("wrk's report on {url}:\n{out}"))
}

/// Reads requests/s and the 50 % / 99 % latencies out of `wrk --latency`'s report.
fn parse_wrk(out: &str) -> Result<Wrk> {
    ensure!(
        !out.contains("Non-2xx or 3xx responses"),
        "some answers were errors: the figures would not be of our page"
    );
    let field = |label: &str| -> Result<&str> {
        out.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(label))
            .map(str::trim)
            .with_context(|| format!("no {label:?} line"))
    };
    let rps = field("Requests/sec:")?.parse::<f64>()?;
    ensure!(rps > 0.0, "no requests were answered");
    Ok(Wrk {
        rps,
        p50_ms: millis(field("50%")?)?,
        p99_ms: millis(field("99%")?)?,
    })
}

/// wrk's durations (`870.00us`, `1.23ms`, `2.00s`) in milliseconds.
fn millis(text: &str) -> Result<f64> {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .with_context(|| format!("no unit in {text:?}"))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .with_context(|| format!("bad number in {text:?}"))?;
    let scale = match unit {
        "us" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        "m" => 60e3,
        _ => bail!("unknown unit in {text:?}"),
    };
    Ok(number * scale)
}

/// The host's nginx serving our page with our configuration, as uid 101 like in the image;
/// stopped when dropped (and its cgroup removed).
struct HostNginx {
    child: duct::Handle,
    url: String,
    cgroup: Option<PathBuf>,
}

impl HostNginx {
    /// Starts it in target/bench/`name`, serving what the container `from` serves, in the
    /// cgroup `cgroup` (created here) when given.
    fn start(
        ctx: &Ctx,
        from: &Container,
        name: &str,
        cgroup: Option<PathBuf>,
    ) -> Result<HostNginx> {
        let sh = ctx.sh;
        let dir = ctx.dir.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        // The very files the container serves, build facts included.
        let html = format!("{}:/usr/share/nginx/html", from.name);
        let html_dir = dir.join("html");
        cmd!(sh, "docker cp {html} {html_dir}").quiet().run()?;
        let port = docker::free_port()?;
        let read = |file: &str| sh.read_file(format!("{}/{file}", nginx::CONTEXT));
        let (main, site) = host_config(
            &read("nginx.conf")?,
            &read("site.conf")?,
            &dir.to_string_lossy(),
            port,
        )?;
        sh.write_file(dir.join("nginx.conf"), main)?;
        sh.write_file(dir.join("site.conf"), site)?;
        // nginx reopens /dev/stdout, so its log files must be its own, like the rest.
        let (access, errors) = (dir.join("access.log"), dir.join("error.log"));
        sh.write_file(&access, "")?;
        sh.write_file(&errors, "")?;
        cmd!(sh, "chown -R 101:101 {dir}").quiet().run()?;
        if let Some(cgroup) = &cgroup {
            std::fs::create_dir_all(cgroup)
                .with_context(|| format!("creating the cgroup {}", cgroup.display()))?;
        }
        let conf = dir.join("nginx.conf");
        let mut argv: Vec<String> = Vec::new();
        if let Some(cgroup) = &cgroup {
            // The shell joins the cgroup, then becomes nginx: its workers are born in it.
            let join = r#"echo $$ > "$0/cgroup.procs" && exec "$@""#;
            argv.extend(["sh".into(), "-c".into(), join.into()]);
            argv.push(cgroup.to_string_lossy().into_owned());
        }
        argv.extend(
            [
                "setpriv",
                "--reuid",
                "101",
                "--regid",
                "101",
                "--clear-groups",
            ]
            .map(String::from),
        );
        argv.extend(["nginx", "-e", "stderr", "-p"].map(String::from));
        argv.push(dir.to_string_lossy().into_owned());
        argv.push("-c".into());
        argv.push(conf.to_string_lossy().into_owned());
        println!("$ {}", argv.join(" "));
        let child = duct::cmd(&argv[0], &argv[1..])
            .stdout_path(access)
            .stderr_path(errors)
            .unchecked()
            .start();
        let child = match child {
            Ok(child) => child,
            Err(err) => {
                if let Some(cgroup) = &cgroup {
                    let _ = std::fs::remove_dir(cgroup);
                }
                return Err(err)
                    .context("starting the host's nginx (Debian: apt-get install nginx)");
            }
        };
        let host = HostNginx {
            child,
            url: format!("http://127.0.0.1:{port}/"),
            cgroup,
        };
        docker::wait_http(&host.url, Duration::from_secs(10)).with_context(|| {
            format!(
                "the host's nginx did not serve; see {}/error.log",
                dir.display()
            )
        })?;
        Ok(host)
    }
}

impl Drop for HostNginx {
    fn drop(&mut self) {
        // TERM makes the master stop its workers; a killed master would leave them behind.
        for pid in self.child.pids() {
            let _ = duct::cmd!("kill", "-TERM", pid.to_string()).run();
        }
        let start = Instant::now();
        while !matches!(self.child.try_wait(), Ok(Some(_))) {
            if start.elapsed() > Duration::from_secs(10) {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(cgroup) = &self.cgroup {
            // A cgroup directory is removed with rmdir once no process is left in it.
            for _ in 0..50 {
                if std::fs::remove_dir(cgroup).is_ok() || !cgroup.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// A new CPU cgroup beside a container's, named `name`: a process in it competes for the CPU
/// the way the container does (Docker's cgroup shares one weight among all containers).
fn cgroup_beside(sh: &Shell, container: &Container, name: &str) -> Result<PathBuf> {
    let pid = container.inspect("{{.State.Pid}}")?;
    let text = sh.read_file(format!("/proc/{pid}/cgroup"))?;
    cpu_cgroup(&text)
        .and_then(|path| path.parent().map(|parent| parent.join(name)))
        .with_context(|| format!("no CPU cgroup in /proc/{pid}/cgroup:\n{text}"))
}

/// The CPU cgroup directory in a /proc/PID/cgroup text: the v1 `cpu` controller's, else the v2
/// unified one.
fn cpu_cgroup(text: &str) -> Option<PathBuf> {
    let mut unified = None;
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let path = path.trim_start_matches('/');
        if controllers.split(',').any(|c| c == "cpu") {
            return Some(Path::new("/sys/fs/cgroup/cpu").join(path));
        }
        if controllers.is_empty() {
            unified = Some(Path::new("/sys/fs/cgroup").join(path));
        }
    }
    unified
}

/// Our nginx.conf and site.conf for the host: only the paths and the port differ.
fn host_config(main: &str, site: &str, dir: &str, port: u16) -> Result<(String, String)> {
    let swap = |text: &str, from: &str, to: &str| -> Result<String> {
        ensure!(
            text.contains(from),
            "`{from}` is no longer in nginx/'s configuration: update the bench's host copy"
        );
        Ok(text.replace(from, to))
    };
    let main = swap(main, " /tmp/", &format!(" {dir}/"))?;
    let main = swap(
        &main,
        "include /etc/nginx/site.conf;",
        &format!("include {dir}/site.conf;"),
    )?;
    let site = swap(
        site,
        "listen 8080 default_server;",
        &format!("listen 127.0.0.1:{port} default_server;"),
    )?;
    let site = swap(
        &site,
        "root /usr/share/nginx/html;",
        &format!("root {dir}/html;"),
    )?;
    Ok((main, site))
}

/// The checks of `cargo xtask test`: one quick run, and its outputs are complete.
pub fn tests(sh: &Shell, suite: &mut Suite) {
    let dir = docker::project_root().join("target/bench");
    if suite
        .check("bench: a quick run measures every section", || {
            for file in ["bench.md", "bench.json"] {
                let _ = std::fs::remove_file(dir.join(file));
            }
            Bench { quick: true }.run(sh)
        })
        .is_none()
    {
        return;
    }
    let Some(rows) = suite.check(
        "bench: bench.md has a number or a reason in every row",
        || check_markdown(&std::fs::read_to_string(dir.join("bench.md"))?),
    ) else {
        return;
    };
    suite.check(
        "bench: bench.json is well-formed, with the same rows",
        || {
            let json_rows = check_json(&std::fs::read_to_string(dir.join("bench.json"))?)?;
            ensure!(
                json_rows == rows,
                "{json_rows} rows in JSON, {rows} in Markdown"
            );
            Ok(())
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK: &str = "Running 5s test @ http://127.0.0.1:41234/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.37ms    1.02ms  21.53ms   91.84%
    Req/Sec    12.34k     1.10k   14.02k    71.00%
  Latency Distribution
     50%  870.00us
     75%    1.52ms
     90%    2.10ms
     99%    5.31ms
  122819 requests in 5.00s, 394.01MB read
Requests/sec:  24563.80
Transfer/sec:     78.80MB
";

    #[test]
    fn median_of_odd_even_and_none() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn parses_wrk_report() {
        let w = parse_wrk(WRK).unwrap();
        assert_eq!(w.rps, 24563.80);
        assert!((w.p50_ms - 0.87).abs() < 1e-9);
        assert!((w.p99_ms - 5.31).abs() < 1e-9);
    }

    #[test]
    fn rejects_wrk_reports_of_errors_or_nothing() {
        let errors = WRK.replace(
            "Requests/sec",
            "  Non-2xx or 3xx responses: 12\nRequests/sec",
        );
        assert!(parse_wrk(&errors).is_err());
        assert!(parse_wrk("unable to connect to 127.0.0.1:1 Connection refused").is_err());
        assert!(parse_wrk(&WRK.replace("24563.80", "0.00")).is_err());
    }

    #[test]
    fn converts_wrk_durations() {
        assert_eq!(millis("870.00us").unwrap(), 0.87);
        assert_eq!(millis("1.5ms").unwrap(), 1.5);
        assert_eq!(millis("2.00s").unwrap(), 2000.0);
        assert!(millis("12").is_err());
        assert!(millis("1.0h").is_err());
    }

    #[test]
    fn counts_differing_layers() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(differing(&l(&["a", "b", "c"]), &l(&["a", "b", "d"])), 1);
        assert_eq!(differing(&l(&["a", "b"]), &l(&["a", "b"])), 0);
        assert_eq!(differing(&l(&["a", "b"]), &l(&["a", "x", "y"])), 2);
    }

    #[test]
    fn host_config_changes_only_paths_and_port() {
        let root = docker::project_root();
        let read = |f: &str| std::fs::read_to_string(root.join("nginx").join(f)).unwrap();
        let (main, site) =
            host_config(&read("nginx.conf"), &read("site.conf"), "/x/h", 4321).unwrap();
        assert!(!main.contains("/tmp/") && !main.contains("/etc/nginx/site.conf"));
        assert!(main.contains("pid /x/h/nginx.pid;"));
        assert!(main.contains("include /x/h/site.conf;"));
        assert!(site.contains("listen 127.0.0.1:4321 default_server;"));
        assert!(site.contains("root /x/h/html;"));
        // Nothing else moved: the same number of lines, and the same directives.
        assert_eq!(main.lines().count(), read("nginx.conf").lines().count());
        assert_eq!(site.lines().count(), read("site.conf").lines().count());
        assert!(host_config("nothing", "here", "/d", 1).is_err());
    }

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
        assert_eq!(layer_sizes(manifest).unwrap(), vec![32.654, 0.016724]);
        assert!(layer_sizes(r#"{"config": {"size": 1}}"#).is_err());
        assert!(layer_sizes(r#"{"layers": [{"size": "x"}]}"#).is_err());
    }

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

    #[test]
    fn finds_the_cpu_cgroup() {
        let v1 = "12:pids:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n";
        assert_eq!(
            cpu_cgroup(v1),
            Some(PathBuf::from("/sys/fs/cgroup/cpu/docker/abc"))
        );
        let v2 = "0::/system.slice/docker-abc.scope\n";
        assert_eq!(
            cpu_cgroup(v2),
            Some(PathBuf::from(
                "/sys/fs/cgroup/system.slice/docker-abc.scope"
            ))
        );
        assert_eq!(cpu_cgroup("4:cpuset:/docker/abc\n"), None);
    }
}
