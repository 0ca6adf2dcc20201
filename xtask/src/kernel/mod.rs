//! `cargo xtask kernel [--boot]`: compile a Linux kernel inside a container, then boot it under
//! qemu to show that it is the kernel we built, while the container itself ran on the host's.
//! The same sources are also built as User-mode Linux, a kernel that runs as a process: in a
//! container too.

pub mod checks;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use clap::Args;
use xshell::{cmd, Shell};

use crate::ctx::Ctx;
use crate::docker::{self, Docker};
use crate::flavour::Flavour;
use crate::{build, progress};

/// The builder image; the tag says which kernel series it carries the sources of.
const REPOSITORY: &str = "dockerlab/kernel-builder";
/// Name of the container the build runs in.
const CONTAINER: &str = "dockerlab-kernel-build";
/// Where the kernel, initramfs and their facts land, relative to the project root.
const OUT: &str = "target/kernel";
/// The line our /init (kernel/init.c) prints once the kernel has started user space.
pub const INIT_LINE: &str = "dockerlab init: hello from user space, uname -r is ";
/// A tiny kernel boots in a few seconds even under software emulation; this bounds a hang.
const BOOT_LIMIT: Duration = Duration::from_secs(120);

/// Build a tiny Linux kernel inside a container (Debian's linux-source-6.12), optionally boot it
/// under qemu.
#[derive(Args)]
pub struct Kernel {
    /// Boot the built kernel under qemu-system-x86_64 (software emulation, no KVM needed) and
    /// show its banner.
    #[arg(long)]
    boot: bool,
    /// Build the kernel again even when target/kernel/ holds one from the same builder image.
    #[arg(long)]
    rebuild: bool,
}

impl Kernel {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        let sh = &ctx.sh;
        docker::engine(sh)?;
        let built = build(ctx, self.rebuild)?;
        println!(
            "built Linux {} in a container: {}, and as User-mode Linux: {}",
            built.release,
            built.bzimage().display(),
            built.uml().display()
        );
        let inside = container_kernel(sh, &built.image)?;
        println!(
            "uname -r in the builder container: {inside} (the host's kernel, which it ran on)"
        );
        if self.boot {
            let boot = boot(sh, &built)?;
            println!("the booted kernel says: {}", boot.banner);
            println!("its /init says:         {}", boot.init_line);
        }
        Ok(())
    }
}

/// What a build left in target/kernel/.
pub struct Built {
    /// The builder image it came from.
    pub image: String,
    /// `make kernelrelease` of the sources: `6.12.x`.
    pub release: String,
    dir: PathBuf,
}

impl Built {
    pub fn bzimage(&self) -> PathBuf {
        self.dir.join("bzImage")
    }
    fn initramfs(&self) -> PathBuf {
        self.dir.join("init.cpio")
    }
    /// The User-mode Linux kernel: a program that runs Linux as a process.
    pub fn uml(&self) -> PathBuf {
        self.dir.join("linux")
    }
}

/// The builder image of a flavour: `dockerlab/kernel-builder:6.12` or `…:6.12-offline`.
pub fn image(flavour: Flavour) -> String {
    format!("{REPOSITORY}:6.12{}", flavour.tag_suffix())
}

/// Builds the builder image of the current flavour (a cache hit when nothing changed).
pub fn builder(ctx: &Ctx) -> Result<String> {
    let image = image(ctx.flavour);
    build::build(ctx, Path::new("kernel"), &image, &[])?;
    Ok(image)
}

/// Takes a kernel that `builder` compiled into `dir` (the answers group's timed demonstration)
/// as target/kernel/'s, stamped with that builder's id, so that the kernel group and
/// `cargo xtask kernel` reuse it instead of compiling the same sources again. Only a finished
/// build counts: build-kernel.sh writes `linux` last.
pub fn adopt(sh: &Shell, builder: &str, dir: &std::path::Path) -> Result<()> {
    let files = ["bzImage", "init.cpio", "config", "kernel.release", "linux"];
    if !files.iter().all(|f| dir.join(f).is_file()) {
        return Ok(());
    }
    let id = docker::image_id(sh, builder)?;
    let out = docker::project_root().join(OUT);
    let stamp = out.join("builder-id");
    let _ = sh.remove_path(&stamp);
    sh.create_dir(&out)?;
    for file in files {
        sh.copy_file(dir.join(file), out.join(file))?;
    }
    sh.write_file(&stamp, format!("{id}\n"))?;
    Ok(())
}

/// Compiles the kernel in a container unless target/kernel/ holds one from this very builder
/// image (same sources, configuration script and /init), or `rebuild` asks for it.
pub fn build(ctx: &Ctx, rebuild: bool) -> Result<Built> {
    let sh = &ctx.sh;
    let image = builder(ctx)?;
    let id = docker::image_id(sh, &image)?;
    let dir = docker::project_root().join(OUT);
    let stamp = dir.join("builder-id");
    let release = dir.join("kernel.release");
    let done = |file: &str| dir.join(file).is_file();
    let cached = !rebuild
        && sh.read_file(&stamp).is_ok_and(|s| s.trim() == id)
        && ["bzImage", "linux", "init.cpio", "kernel.release"]
            .iter()
            .all(|f| done(f));
    if cached {
        println!(
            "target/kernel/ holds the kernel of this builder image (--rebuild builds it again)"
        );
    } else {
        // Without the stamp a half-done build is never taken for a finished one.
        let _ = sh.remove_path(&stamp);
        sh.create_dir(&dir)?;
        let started = Instant::now();
        docker::remove_container(sh, CONTAINER);
        // As the calling user, so that target/ stays theirs.
        let user = format!(
            "{}:{}",
            cmd!(sh, "id -u").quiet().read()?,
            cmd!(sh, "id -g").quiet().read()?
        );
        let mount = format!("{}:/out", dir.display());
        let compile = Docker::local(sh).cmd(&[
            "run", "--rm", "--name", CONTAINER, "--user", &user, "--volume", &mount, &image,
        ]);
        progress::run(
            compile,
            &format!(
                "compiling the kernel in container {CONTAINER} (tinyconfig: minutes, not hours)"
            ),
            "kernel-compile",
        )?;
        sh.write_file(&stamp, format!("{id}\n"))?;
        println!("the kernel build took {} s", started.elapsed().as_secs());
    }
    let release = sh
        .read_file(&release)
        .context("reading target/kernel/kernel.release")?
        .trim()
        .to_string();
    Ok(Built {
        image,
        release,
        dir,
    })
}

/// `uname -r` inside a container of `image`: always the host's kernel.
pub fn container_kernel(sh: &Shell, image: &str) -> Result<String> {
    Docker::local(sh).read(&["run", "--rm", image, "uname", "-r"])
}

/// What the booted kernel printed.
pub struct Boot {
    /// The kernel's first line: `Linux version 6.12.x (dockerlab@kernel-builder) …`.
    pub banner: String,
    /// Our /init's line, with the `uname -r` it saw.
    pub init_line: String,
    /// Everything on the serial console.
    pub console: String,
}

/// Boots the built kernel with our initramfs under qemu, for at most BOOT_LIMIT.
pub fn boot(sh: &Shell, built: &Built) -> Result<Boot> {
    let (kernel, initrd) = (built.bzimage(), built.initramfs());
    let args = [
        "-accel",
        "tcg",
        "-m",
        "128",
        "-kernel",
        path(&kernel)?,
        "-initrd",
        path(&initrd)?,
        "-append",
        "console=ttyS0 panic=-1",
        "-nographic",
        "-no-reboot",
        // No network card: nothing to boot from it, and its option ROM only adds lines.
        "-nic",
        "none",
    ];
    let shown: Vec<String> = args
        .iter()
        .map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a.to_string()
            }
        })
        .collect();
    println!(
        "$ qemu-system-x86_64 {} (at most {} s)",
        shown.join(" "),
        BOOT_LIMIT.as_secs()
    );
    cmd!(sh, "qemu-system-x86_64 --version")
        .quiet()
        .ignore_stdout()
        .run()
        .context("qemu is needed to boot the kernel: apt-get install qemu-system-x86")?;
    // A deadline is where xshell falls short: duct runs qemu, and it is killed when it hangs.
    let qemu = duct::cmd("qemu-system-x86_64", args)
        .stdin_null()
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .start()
        .context("starting qemu-system-x86_64")?;
    let started = Instant::now();
    let output = loop {
        if let Some(output) = qemu.try_wait()? {
            break output.clone();
        }
        if started.elapsed() > BOOT_LIMIT {
            qemu.kill()?;
            bail!(
                "the kernel did not finish booting within {} s (qemu is killed)",
                BOOT_LIMIT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Without the terminal escapes the firmware sends (`ESC c`, `ESC [ … letter`) and the CRs.
    let console = crate::progress::plain(&String::from_utf8_lossy(&output.stdout));
    for line in console.lines() {
        println!("  | {line}");
    }
    ensure!(
        output.status.success(),
        "qemu ended with {} (console output above)",
        output.status
    );
    let find = |prefix: &str| {
        console
            .lines()
            .find_map(|line| line.find(prefix).map(|at| line[at..].trim().to_string()))
    };
    let banner = find("Linux version ").context("no `Linux version` banner on the console")?;
    let init_line = find(INIT_LINE).context("our /init did not print its line")?;
    Ok(Boot {
        banner,
        init_line,
        console,
    })
}

fn path(path: &Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("{} is not UTF-8", path.display()))
}

/// The version in a banner: `Linux version 6.12.x (…` → `6.12.x`.
pub fn banner_version(banner: &str) -> Option<&str> {
    banner
        .strip_prefix("Linux version ")?
        .split_whitespace()
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_text_loses_terminal_escapes() {
        let raw =
            "\u{1b}c\u{1b}[?7l\u{1b}[2J\u{1b}[0mSeaBIOS (version 1.16)\r\nLinux version 6.1\r\n";
        assert_eq!(
            crate::progress::plain(raw),
            "SeaBIOS (version 1.16)\nLinux version 6.1\n"
        );
    }

    #[test]
    fn banner_version_is_the_first_word() {
        let banner = "Linux version 6.1.192 (dockerlab@kernel-builder) (gcc (Debian 12.2.0-14) 12.2.0) #1 Mon";
        assert_eq!(banner_version(banner), Some("6.1.192"));
        assert_eq!(banner_version("Linux ver"), None);
    }
}
