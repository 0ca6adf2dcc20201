//! `cargo xtask answers`: runs every demonstration quoted in answers.md and checks that what it
//! shows still holds, so that the answers cannot drift from what Docker really does.

pub mod checks;
mod demos;
mod facts;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use xshell::Shell;

use crate::{docker, kernel, nginx};
use demos::Output;
pub use demos::{Demo, DEMOS};

/// The containers the demonstrations start; removed before and after a run, whatever happens.
const CONTAINERS: [&str; 2] = ["dockerlab-answers-a", "dockerlab-answers-b"];

/// Run the demonstrations of answers.md and check that what they show still holds.
#[derive(Args)]
pub struct Answers {}

impl Answers {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let built = kernel::build(sh, false)?;
        let vars = Vars::new(nginx::build(sh)?, &built);
        let _cleanup = Cleanup::new(sh);
        let mut failed = Vec::new();
        // In order: some use the containers an earlier one started.
        for demo in DEMOS {
            if let Err(err) = show(demo, &vars) {
                println!("FAILED: {}: {err:#}", demo.claim);
                failed.push(demo.claim);
            }
        }
        if !failed.is_empty() {
            bail!(
                "{} of {} demonstrations no longer hold: {}",
                failed.len(),
                DEMOS.len(),
                failed.join("; ")
            );
        }
        println!("all {} demonstrations of answers.md hold", DEMOS.len());
        Ok(())
    }
}

/// Removes the demonstrations' containers when it goes out of scope.
pub struct Cleanup<'a>(&'a Shell);

impl<'a> Cleanup<'a> {
    /// Removes leftovers of an earlier run now, and the containers again when dropped.
    pub fn new(sh: &'a Shell) -> Cleanup<'a> {
        for name in CONTAINERS {
            docker::remove_container(sh, name);
        }
        Cleanup(sh)
    }
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for name in CONTAINERS {
            docker::remove_container(self.0, name);
        }
    }
}

/// The variables the demonstrations' commands use.
pub struct Vars {
    /// `$IMAGE`: our nginx image.
    image: String,
    /// `$BUILDER`: the kernel builder image.
    builder: String,
    /// `$KERNEL`: target/kernel/, where `cargo xtask kernel` put what it built.
    kernel: PathBuf,
}

impl Vars {
    pub fn new(image: String, built: &kernel::Built) -> Vars {
        Vars {
            image,
            builder: built.image.clone(),
            kernel: built.dir().to_path_buf(),
        }
    }

    /// How answers.md names them, for the log.
    pub fn shown(&self) -> String {
        format!(
            "IMAGE={} BUILDER={} KERNEL={}",
            self.image,
            self.builder,
            self.kernel.display()
        )
    }
}

/// Runs a demonstration's commands as answers.md shows them, then checks what they printed.
pub fn show(demo: &Demo, vars: &Vars) -> Result<()> {
    let mut outputs = Vec::new();
    for command in demo.commands {
        // `sh -c` with stderr joined to stdout is where xshell falls short: duct runs it, in
        // the project's root (answers.md names kernel/uml-seccomp.json from there).
        let out = duct::cmd("sh", ["-c", command])
            .dir(docker::project_root())
            .env("IMAGE", &vars.image)
            .env("BUILDER", &vars.builder)
            .env("KERNEL", &vars.kernel)
            .stdin_null()
            .stderr_to_stdout()
            .stdout_capture()
            .unchecked()
            .run()
            .with_context(|| format!("running {command}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        println!("$ {command}");
        print!("{text}");
        outputs.push(Output {
            ok: out.status.success(),
            text,
        });
    }
    (demo.check)(&outputs)
}
