//! `cargo xtask answers`: runs every demonstration quoted in answers.md, checks the facts the
//! text states about each output, and compares each output with its quote outside the marked
//! (machine-dependent) parts, so that the answers cannot drift from what Docker really does.

pub mod checks;
mod demos;
mod facts;
mod kernel_facts;
mod output;
mod quoted;
mod seccomp;

use std::path::PathBuf;

use anyhow::{bail, ensure, Context, Result};
use clap::Args;
use xshell::Shell;

use crate::ctx::Ctx;
use crate::docker::Docker;
use crate::registry::Registry;
use crate::{docker, kernel, nginx};
use demos::{Demo, DEMOS};
use output::{masked, Output};
use quoted::{Doc, Quote};

/// The containers the demonstrations start; removed before and after a run, whatever happens.
const CONTAINERS: [&str; 3] = [
    "dockerlab-answers-a",
    "dockerlab-answers-b",
    "dockerlab-answers-web",
];
/// Where a run keeps what it makes: the kernel it compiles, the seccomp profile.
const WORK: &str = "target/answers";

/// Run the demonstrations of answers.md, check what they show, and compare their outputs with
/// the quotes.
#[derive(Args)]
pub struct Answers {
    /// Write the current outputs into answers.md's quotes (machine-dependent parts marked ⟨…⟩)
    /// instead of failing where they differ; the facts are still checked.
    #[arg(long)]
    write_docs: bool,
}

impl Answers {
    pub fn run(self, ctx: &Ctx) -> Result<()> {
        let texts = Doc::ALL.map(|doc| doc.read());
        let texts: Vec<String> = texts.into_iter().collect::<Result<_>>()?;
        let quotes: Vec<Vec<Quote>> = texts.iter().map(|t| quoted::quotes(t)).collect();
        same_commands(&quotes)?;
        let session = Session::start(ctx)?;
        println!("{}", session.shown());
        let mut written: Vec<Vec<Option<Vec<String>>>> = vec![Vec::new(); Doc::ALL.len()];
        let mut failed = Vec::new();
        for (demo, mine) in DEMOS.iter().zip(per_demo(&quotes)) {
            let shown = session.show(demo, mine, !self.write_docs);
            if let Err(err) = &shown.result {
                println!("FAILED: {}: {err:#}", demo.claim);
                failed.push(demo.claim);
            }
            let doc = &mut written[demo.doc as usize];
            let end = doc.len() + demo.commands.len();
            doc.extend(shown.outputs.into_iter().map(Some));
            doc.resize(end, None);
        }
        if self.write_docs {
            for ((doc, text), outputs) in Doc::ALL.iter().zip(&texts).zip(&written) {
                std::fs::write(doc.path(), quoted::rewrite(text, outputs)?)
                    .with_context(|| format!("writing {}", doc.name()))?;
            }
            println!("wrote the outputs of this run into the quotes");
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

/// Each text quotes exactly the commands of its demonstrations in [`DEMOS`], in order.
fn same_commands(quotes: &[Vec<Quote>]) -> Result<()> {
    for (doc, quotes) in Doc::ALL.iter().zip(quotes) {
        let quoted: Vec<&str> = quotes.iter().map(|q| q.command.as_str()).collect();
        let ours: Vec<&str> = DEMOS
            .iter()
            .filter(|d| d.doc == *doc)
            .flat_map(|d| d.commands.iter().copied())
            .collect();
        ensure!(
            quoted == ours,
            "{} quotes other commands than xtask/src/answers/demos.rs runs: change both",
            doc.name()
        );
    }
    Ok(())
}

/// The quotes of each demonstration of [`DEMOS`], in its order (after [`same_commands`]).
fn per_demo(quotes: &[Vec<Quote>]) -> Vec<&[Quote]> {
    let mut at = vec![0; quotes.len()];
    DEMOS
        .iter()
        .map(|demo| {
            let doc = demo.doc as usize;
            let start = at[doc];
            at[doc] += demo.commands.len();
            &quotes[doc][start..at[doc]]
        })
        .collect()
}

/// What a run of the demonstrations needs: the images, a kernel directory, the seccomp profile,
/// a registry; and the cleanup of what they leave.
pub struct Session<'a> {
    sh: &'a Shell,
    /// The variables the commands use, as `$NAME`.
    vars: Vec<(&'static str, String)>,
    /// Killed, its storage removed, when the session ends.
    registry: Registry,
}

impl<'a> Session<'a> {
    pub fn start(ctx: &'a Ctx) -> Result<Session<'a>> {
        let sh = &ctx.sh;
        docker::engine(sh)?;
        let image = nginx::build(ctx)?;
        let base = nginx::base(ctx.flavour)?;
        let builder = kernel::builder(ctx)?;
        let work = docker::project_root().join(WORK);
        let kernel = work.join("kernel");
        // A fresh directory: the demonstration compiles the kernel into it, timed.
        let _ = std::fs::remove_dir_all(&kernel);
        std::fs::create_dir_all(&kernel).with_context(|| format!("creating {WORK}/kernel"))?;
        let profile = work.join("uml-seccomp.json");
        std::fs::write(
            &profile,
            serde_json::to_string_pretty(&seccomp::uml_profile()?)? + "\n",
        )
        .with_context(|| format!("writing {WORK}/uml-seccomp.json"))?;
        for name in CONTAINERS {
            docker::remove_container(sh, name);
        }
        let registry = Registry::start(sh, "answers", None)?;
        let path = |p: PathBuf| p.display().to_string();
        Ok(Session {
            sh,
            vars: vec![
                ("IMAGE", image),
                ("BASE", base),
                ("BUILDER", builder),
                ("KERNEL", path(kernel)),
                ("PROFILE", path(profile)),
                ("REGISTRY", registry.addr.clone()),
            ],
            registry,
        })
    }

    /// How answers.md names what the commands use, for the log.
    pub fn shown(&self) -> String {
        let vars: Vec<String> = self.vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
        vars.join(" ")
    }

    /// Runs a demonstration's commands as answers.md shows them, checks the facts of their
    /// outputs and, with `compare`, that they are what `quotes` shows.
    pub fn show(&self, demo: &Demo, quotes: &[Quote], compare: bool) -> Shown {
        let mut shown = Shown {
            outputs: Vec::new(),
            result: Ok(()),
        };
        let mut outputs = Vec::new();
        for (i, command) in demo.commands.iter().enumerate() {
            match self.run(command) {
                Ok(out) => {
                    shown.outputs.push(masked(&out.text, demo.cpu.contains(&i)));
                    outputs.push(out);
                }
                Err(err) => {
                    shown.result = Err(err);
                    return shown;
                }
            }
        }
        shown.result = (demo.check)(&outputs).and_then(|()| {
            if !compare {
                return Ok(());
            }
            for (quote, output) in quotes.iter().zip(&shown.outputs) {
                ensure!(
                    quoted::matches(&quote.output, output),
                    "answers.md quotes for `{}`:\n{}\nbut it printed:\n{}\n(if the new output is \
                     right: cargo xtask answers --write-docs)",
                    quote.command,
                    quote.output.join("\n"),
                    output.join("\n")
                );
            }
            Ok(())
        });
        shown
    }

    fn run(&self, command: &str) -> Result<Output> {
        // `sh -c` with stderr joined to stdout is where xshell falls short: duct runs it, in
        // the project's root.
        let mut run = duct::cmd("sh", ["-c", command]).dir(docker::project_root());
        for (name, value) in &self.vars {
            run = run.env(name, value);
        }
        let out = run
            .stdin_null()
            .stderr_to_stdout()
            .stdout_capture()
            .unchecked()
            .run()
            .with_context(|| format!("running {command}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        println!("$ {command}");
        print!("{text}");
        Ok(Output {
            ok: out.status.success(),
            text,
        })
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        // The kernel the demonstration compiled serves the kernel group too (it says so).
        if let Some((_, builder)) = self.vars.iter().find(|(name, _)| *name == "BUILDER") {
            let dir = docker::project_root().join(WORK).join("kernel");
            if let Err(err) = kernel::adopt(self.sh, builder, &dir) {
                eprintln!("the kernel of {WORK}/kernel was not kept for reuse: {err:#}");
            }
        }
        for name in CONTAINERS {
            docker::remove_container(self.sh, name);
        }
        // The references the push demonstration left: ours, under the registry's address.
        let prefix = format!("{}/", self.registry.addr);
        let format = "{{.Repository}} {{.Tag}} {{.Digest}}";
        let docker = Docker::local(self.sh);
        let listed = docker
            .read(&["images", "--digests", "--format", format])
            .unwrap_or_default();
        for row in listed.lines().filter(|r| r.starts_with(&prefix)) {
            let fields: Vec<&str> = row.split_whitespace().collect();
            if let [name, tag, digest] = fields[..] {
                for reference in [format!("{name}:{tag}"), format!("{name}@{digest}")] {
                    if !reference.contains("<none>") {
                        docker.succeeds(&["image", "rm", &reference]);
                    }
                }
            }
        }
    }
}

/// What a demonstration printed, masked as answers.md quotes it, and whether it holds.
pub struct Shown {
    pub outputs: Vec<Vec<String>>,
    pub result: Result<()>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_texts_quote_exactly_the_checked_commands_in_order() {
        let quotes: Vec<Vec<Quote>> = Doc::ALL
            .iter()
            .map(|doc| quoted::quotes(&doc.read().unwrap()))
            .collect();
        same_commands(&quotes).unwrap();
    }

    /// The bound: the answers fit on a few pages; the asides live in the notes.
    #[test]
    fn answers_md_stays_within_180_lines() {
        let lines = Doc::Answers.read().unwrap().lines().count();
        assert!(lines <= 180, "answers.md has {lines} lines");
    }

    /// The star task's section names checks of the redmine group: they must exist.
    #[test]
    fn the_star_task_names_real_checks() {
        let answers = Doc::Answers.read().unwrap();
        let star = &answers[answers.find("## Задание со звёздочкой").unwrap()..];
        let checks = std::fs::read_to_string(
            crate::docker::project_root().join("xtask/src/redmine/checks.rs"),
        )
        .unwrap();
        let mut named = 0;
        for quoted in star.split('«').skip(1) {
            let name = quoted.split('»').next().unwrap();
            assert!(
                checks.contains(&format!("\"redmine: {name}")),
                "no redmine check `{name}`"
            );
            named += 1;
        }
        assert!(named >= 3);
    }

    /// The demonstrations start and remove only the containers the cleanup knows about.
    #[test]
    fn demonstrations_name_only_their_own_containers() {
        for command in DEMOS.iter().flat_map(|d| d.commands.iter()) {
            let names = command.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'));
            for word in names {
                if word.starts_with("dockerlab-answers-") {
                    assert!(
                        CONTAINERS.contains(&word),
                        "{word} is not removed by the cleanup"
                    );
                }
            }
        }
    }

    /// What the commands use is what a session sets.
    #[test]
    fn commands_use_only_the_sessions_variables() {
        let known = ["IMAGE", "BASE", "BUILDER", "KERNEL", "PROFILE", "REGISTRY"];
        for command in DEMOS.iter().flat_map(|d| d.commands.iter()) {
            for (at, _) in command.match_indices("\"$") {
                let name: String = command[at + 2..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase())
                    .collect();
                assert!(
                    name.is_empty() || known.contains(&name.as_str()),
                    "${name} in {command}"
                );
            }
        }
    }
}
