//! The `kernel` group of `cargo xtask test`: a kernel built in a container boots under qemu.

use anyhow::{ensure, Context};
use xshell::cmd;

use super::{banner_version, boot, build, container_kernel, INIT_LINE};
use crate::ctx::Ctx;
use crate::harness::Suite;

/// The checks of `cargo xtask test`: build in a container, boot, and compare the kernels.
pub fn run(ctx: &Ctx, suite: &mut Suite) {
    let sh = &ctx.sh;
    let built = suite.check(
        "kernel: built inside a container (reusing the answers group's compile when that ran first)",
        || build(ctx, false),
    );
    let host = suite.after(
        built.as_ref(),
        "kernel: the builder container runs on the host's kernel",
        |built| {
            let host = cmd!(sh, "uname -r").quiet().read()?;
            let inside = container_kernel(sh, &built.image)?;
            ensure!(
                inside == host,
                "uname -r is {inside} in the container, {host} on the host"
            );
            Ok(host)
        },
    );
    let boot = suite.after(
        built.as_ref(),
        "kernel: boots under qemu to our /init",
        |built| boot(sh, built),
    );
    let all = built.as_ref().and(host.as_ref()).and(boot.as_ref());
    let _ = suite.after(
        all.as_ref(),
        "kernel: the banner is the built sources' version, not the host's",
        |((built, host), boot)| {
            let version = banner_version(&boot.banner).context("no version in the banner")?;
            ensure!(
                version == built.release,
                "banner says {version}, the sources are {}",
                built.release
            );
            ensure!(version != **host, "banner says {version}, as the host does");
            ensure!(
                boot.banner.contains("(dockerlab@kernel-builder)"),
                "not the builder's banner: {}",
                boot.banner
            );
            Ok(())
        },
    );
    let _ = suite.after(
        all,
        "kernel: user space sees the built kernel",
        |((built, _), boot)| {
            let seen = boot.init_line.trim_start_matches(INIT_LINE);
            ensure!(seen == built.release, "/init saw uname -r {seen}");
            ensure!(
                boot.console.contains("reboot: Restarting system"),
                "the kernel did not end the boot by restarting"
            );
            Ok(())
        },
    );
}
