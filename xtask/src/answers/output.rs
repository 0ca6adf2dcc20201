//! What a demonstration's command printed, and how answers.md quotes it: the parts that change
//! from machine to machine or from run to run are marked `⟨…⟩` (ids and digests, sizes, timings,
//! kernel and tool versions, process numbers, ports; whole lines for CPU-dependent commands).
//! A quote matches an output when both agree outside the marks.

/// Opens and closes a masked part in answers.md.
pub const OPEN: char = '⟨';
pub const CLOSE: char = '⟩';

/// What one command did: whether it succeeded, and its stdout and stderr together.
pub struct Output {
    pub ok: bool,
    pub text: String,
}

/// The lines of an output.
pub fn lines(out: &Output) -> Vec<&str> {
    out.text.lines().collect()
}

/// Words after a number that make it a measurement: `107 ms`, `262 s`, `1234 bytes`.
const UNITS: [&str; 3] = ["ms", "s", "bytes"];
/// Units `docker history` and `docker image ls` print sizes in.
const SIZE_UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];

/// The lines of `text` as answers.md quotes them. `cpu`: the whole output depends on the CPU
/// (its model, its count, its architecture), and every line is marked.
pub fn masked(text: &str, cpu: bool) -> Vec<String> {
    text.lines()
        .map(|line| line.trim_end())
        .map(|line| {
            if cpu && !line.is_empty() {
                format!("{OPEN}{line}{CLOSE}")
            } else {
                mask_line(line)
            }
        })
        .collect()
}

fn mark(text: &str) -> String {
    format!("{OPEN}{text}{CLOSE}")
}

fn mask_line(line: &str) -> String {
    // Words and the whitespace between them, kept as they are.
    let mut parts: Vec<(bool, &str)> = Vec::new();
    let mut start = 0;
    let mut in_word = false;
    for (at, c) in line.char_indices() {
        if c.is_whitespace() == in_word {
            if at > start {
                parts.push((in_word, &line[start..at]));
            }
            start = at;
            in_word = !c.is_whitespace();
        }
    }
    if start < line.len() {
        parts.push((in_word, &line[start..]));
    }
    let words: Vec<usize> = (0..parts.len()).filter(|&i| parts[i].0).collect();
    // `NSpid:` lists a process's number in every PID namespace from the host's down: all but the
    // last (the container's own) are the host's.
    let nspid = parts.first().is_some_and(|p| p.1 == "NSpid:");
    // The engine's version is what the text states it ran on: compared, not masked.
    let engine = line.starts_with("Docker Engine ");
    let mut out = String::new();
    for (i, &(word, text)) in parts.iter().enumerate() {
        if !word {
            out.push_str(text);
            continue;
        }
        let at = words.iter().position(|&w| w == i).unwrap_or_default();
        let next = words.get(at + 1).map_or("", |&w| parts[w].1);
        let previous = at.checked_sub(1).map_or("", |p| parts[words[p]].1);
        let number = text.bytes().all(|b| b.is_ascii_digit());
        let last = at + 1 == words.len();
        let measured = number && (UNITS.contains(&next) || previous == "size:");
        if measured || (nspid && number && !last) || is_size(text) {
            out.push_str(&mark(text));
        } else if is_release(text) && !engine && next != "digest:" {
            // (`1.0.0: digest: …` is the tag docker push pushed, ours.)
            // Punctuation after a release (`6.1.192:`, `12.2.0,`) is not part of it.
            let release = text.trim_end_matches(RELEASE_END);
            out.push_str(&mark(release));
            out.push_str(&text[release.len()..]);
        } else {
            out.push_str(&mask_inside(text));
        }
    }
    out
}

/// What may follow a release in a word.
const RELEASE_END: [char; 3] = [',', ')', ':'];

/// `5.39kB`, `122MB`, `0B`.
fn is_size(word: &str) -> bool {
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &word[digits.len()..];
    SIZE_UNITS.contains(&unit) && is_decimal(digits)
}

fn is_decimal(text: &str) -> bool {
    let mut parts = text.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole) && parts.next().is_none_or(all_digits)
}

/// A kernel's or a tool's release: `6.1.192`, `6.18.44-fc-v769`, `20.10.24+dfsg1`.
fn is_release(word: &str) -> bool {
    let word = word.trim_end_matches(RELEASE_END);
    let end = word.find(['-', '+', '~']).unwrap_or(word.len());
    let numbers: Vec<&str> = word[..end].split('.').collect();
    numbers.len() >= 3
        && numbers
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Inside a word: hex runs of 12 digits or more (ids, digests; shown shortened) and loopback
/// ports (a registry's).
fn mask_inside(word: &str) -> String {
    let mut out = String::new();
    let bytes = word.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes[i..]
            .iter()
            .take_while(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            .count();
        // A capability mask (`00000000a80425fb`) is no id.
        if hex >= 12 && word[i..].starts_with("00000000") {
            out.push_str(&word[i..i + hex]);
            i += hex;
        } else if hex >= 12 {
            let shown = if hex > 12 { "…" } else { "" };
            out.push_str(&mark(&format!("{}{shown}", &word[i..i + 12])));
            i += hex;
        } else if word[i..].starts_with("127.0.0.1:") {
            let port = word[i + 10..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            out.push_str("127.0.0.1:");
            if port > 0 {
                out.push_str(&mark(&word[i + 10..i + 10 + port]));
            }
            i += 10 + port;
        } else {
            let c = word[i..].chars().next().unwrap_or_default();
            out.push(c);
            i += c.len_utf8().max(1);
        }
    }
    out
}

/// A quote or an output as compared: marked parts emptied, runs of wholly marked lines (a CPU's
/// worth of them) taken as one.
pub fn normalised(lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in lines {
        let mut kept = String::new();
        let mut inside = false;
        for c in line.trim_end().chars() {
            match c {
                OPEN => {
                    inside = true;
                    kept.push(OPEN);
                }
                CLOSE => {
                    inside = false;
                    kept.push(CLOSE);
                }
                _ if !inside => kept.push(c),
                _ => {}
            }
        }
        let whole = kept == format!("{OPEN}{CLOSE}");
        if !(whole && out.last().is_some_and(|l| *l == kept)) {
            out.push(kept);
        }
    }
    out
}

/// What the checks' tests build outputs with.
#[cfg(test)]
pub mod testing {
    use super::Output;

    pub fn out(ok: bool, text: &str) -> Output {
        Output {
            ok,
            text: text.into(),
        }
    }

    /// Fails, and shows why (`cargo test wrong_ -- --nocapture`).
    pub fn refused(check: fn(&[Output]) -> anyhow::Result<()>, outputs: &[Output]) {
        let err = check(outputs).expect_err("a wrong output passed");
        eprintln!("{err:#}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> String {
        masked(line, false).remove(0)
    }

    #[test]
    fn ids_digests_sizes_timings_and_releases_are_marked() {
        assert_eq!(
            one("sha256:6dabd428247302573c9abb98650579cd1ec650019f259aaf59d6a21622e3d10d"),
            "sha256:⟨6dabd4282473…⟩"
        );
        assert_eq!(
            one("5.39kB\tCOPY dir:83d2538cbad8…"),
            "⟨5.39kB⟩\tCOPY dir:⟨83d2538cbad8⟩…"
        );
        assert_eq!(one("10250 ms"), "⟨10250⟩ ms");
        assert_eq!(one("6.18.44-fc-v769"), "⟨6.18.44-fc-v769⟩");
        assert_eq!(
            one("Linux version 6.1.192 (dockerlab@kernel-builder)"),
            "Linux version ⟨6.1.192⟩ (dockerlab@kernel-builder)"
        );
        assert_eq!(one("NSpid:\t8378\t1"), "NSpid:\t⟨8378⟩\t1");
        assert_eq!(
            one("==> built Linux 6.1.192: 816128 bytes"),
            "==> built Linux ⟨6.1.192⟩: ⟨816128⟩ bytes"
        );
        assert_eq!(
            one("1.0.0: digest: sha256:0123456789ab size: 1995"),
            "1.0.0: digest: sha256:⟨0123456789ab⟩ size: ⟨1995⟩"
        );
        assert_eq!(
            one("Untagged: 127.0.0.1:40521/dockerlab/nginx:1.0.0"),
            "Untagged: 127.0.0.1:⟨40521⟩/dockerlab/nginx:1.0.0"
        );
        // What is no measurement stays: a tag, an exit code, a count, a capability mask.
        for kept in [
            "1.0.0: digest:",
            "/dockerlab-answers-b exited 137",
            "5",
            "CapEff:\t00000000a80425fb",
            "Docker Engine 20.10.24+dfsg1",
        ] {
            assert_eq!(one(kept), kept);
        }
    }

    #[test]
    fn a_quote_matches_an_output_outside_its_marks() {
        let quote = vec!["⟨107⟩ ms".to_string(), "⟨AMD EPYC⟩".into()];
        let output = masked("98 ms\nIntel Xeon\nIntel Xeon", false);
        assert_ne!(normalised(&quote), normalised(&output));
        let output = [masked("98 ms", false), masked("Intel Xeon\n2", true)].concat();
        assert_eq!(normalised(&quote), normalised(&output));
        let changed = masked("98 s", false);
        assert_ne!(normalised(&quote[..1]), normalised(&changed));
    }
}
