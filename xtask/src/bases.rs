//! `cargo xtask bases`: the Debian base image of the offline flavour, built on this machine.
//!
//! mmdebstrap writes a trixie (Debian 13) `minbase` root file system from Debian's mirror as a tarball and
//! `docker import` turns it into an image. It is named as ours, never `debian:…`: it is not the
//! official image, only a base that needs no registry.

use anyhow::{bail, Context, Result};
use clap::Args;
use xshell::{cmd, Shell};

use crate::ctx::Ctx;
use crate::docker::Docker;
use crate::{docker, progress};

/// The image every offline Dockerfile starts `FROM`.
pub const BASE: &str = "dockerlab/trixie-minbase:local";

/// Build the local Debian base image of the offline flavour (reused when present).
#[derive(Args)]
pub struct Bases {
    /// Build it again even when it is already there.
    #[arg(long)]
    rebuild: bool,
}

impl Bases {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        let sh = &ctx.sh;
        docker::engine(sh)?;
        ensure(sh, self.rebuild)
    }
}

/// Builds the base unless it is already there (or `rebuild` asks for it).
pub fn ensure(sh: &Shell, rebuild: bool) -> Result<()> {
    if !rebuild && docker::image_exists(sh, BASE) {
        return Ok(());
    }
    cmd!(sh, "mmdebstrap --version").quiet().ignore_stdout().run().context(
        "mmdebstrap is needed to build the offline base: install it (apt-get install mmdebstrap)",
    )?;
    let hook = concat!(
        // Package scripts must not try to start services in an image build.
        r#"printf '#!/bin/sh\nexit 101\n' > "$1/usr/sbin/policy-rc.d"; "#,
        r#"chmod 0755 "$1/usr/sbin/policy-rc.d""#
    );
    let args = [
        "--variant=minbase",
        "--quiet",
        // Images need no manuals or translations; licences stay.
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-include=/usr/share/doc/*/copyright",
        "--dpkgopt=path-exclude=/usr/share/man/*",
        "--dpkgopt=path-exclude=/usr/share/locale/*",
        "--dpkgopt=path-exclude=/usr/share/info/*",
        "--aptopt=APT::Install-Recommends \"false\"",
        "--customize-hook",
        hook,
        "trixie",
        "-",
    ];
    let import = [
        "import",
        "--change",
        r#"CMD ["bash"]"#,
        "--change",
        "LABEL org.opencontainers.image.description=\"Debian trixie minbase, built locally by cargo xtask bases\"",
        "-",
        BASE,
    ];
    // A pipe is where xshell falls short: duct runs it, and we echo it like xshell would.
    println!(
        "$ mmdebstrap {} | docker {}",
        args.join(" "),
        import.join(" ")
    );
    let step = progress::Step::start(&format!(
        "building {BASE} from Debian's mirror (about 30 s)"
    ));
    let out = duct::cmd("mmdebstrap", args)
        .pipe(Docker::local(sh).duct(&import))
        .stdout_null()
        .stderr_capture()
        .unchecked()
        .run()
        .context("running mmdebstrap | docker import")?;
    if !out.status.success() {
        drop(step);
        progress::show_tail(&String::from_utf8_lossy(&out.stderr));
        bail!("building the Debian base failed (the last lines are above): is Debian's mirror reachable?");
    }
    step.done();
    Ok(())
}
