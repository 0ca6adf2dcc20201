//! The crate's import graph, file by file: which source file names which other (through `use`
//! and paths alike, `crate::`, `super::`, `self::`, child modules and the names `use` brings in).
//! Inline `mod tests` blocks are left out: they are compiled for `cargo test` only.

use std::collections::{BTreeMap, BTreeSet};

/// A module's path in the crate: `["redmine", "checks"]`; the crate root is empty.
pub type Module = Vec<String>;

/// A source file's module: `redmine/checks.rs` → redmine::checks, `redmine/mod.rs` → redmine,
/// `main.rs` → the root.
pub fn module_of(file: &str) -> Module {
    let stem = file.trim_end_matches(".rs");
    let stem = stem.strip_suffix("/mod").unwrap_or(stem);
    if stem == "main" {
        return Vec::new();
    }
    stem.split('/').map(str::to_string).collect()
}

#[derive(Debug, PartialEq, Eq, Clone)]
enum Token {
    Ident(String),
    Path,
    Open,
    Close,
    Comma,
    Semi,
    Other,
}

/// The tokens that make paths, with comments and string literals left out.
fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == 'r' && matches!(next, Some('"') | Some('#')) {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(Token::Ident("r".into()));
                i += 1;
                continue;
            }
            j += 1;
            let end: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            while j < chars.len() && !chars[j..].iter().collect::<String>().starts_with(&end) {
                j += 1;
            }
            i = j + end.len();
            out.push(Token::Other);
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push(Token::Other);
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else {
            out.push(match (c, next) {
                (':', Some(':')) => {
                    i += 1;
                    Token::Path
                }
                ('{', _) => Token::Open,
                ('}', _) => Token::Close,
                (',', _) => Token::Comma,
                (';', _) => Token::Semi,
                _ => Token::Other,
            });
            i += 1;
        }
    }
    out
}

/// A path a `use` brings in, and the name it is known by there (empty for a glob).
type Use = (Vec<String>, String);

/// One `use` tree from `at`: the full paths it brings in, each with the name it is known by.
fn use_tree(tokens: &[Token], at: &mut usize, prefix: &[String], out: &mut Vec<Use>) {
    let mut path = prefix.to_vec();
    loop {
        match tokens.get(*at) {
            Some(Token::Ident(name)) => {
                *at += 1;
                if name == "self" && path.len() == prefix.len() && !prefix.is_empty() {
                    // `{self, …}`: the prefix itself.
                    let alias = prefix.last().cloned().unwrap_or_default();
                    out.push((prefix.to_vec(), alias));
                    return;
                }
                path.push(name.clone());
            }
            Some(Token::Open) => {
                *at += 1;
                loop {
                    use_tree(tokens, at, &path, out);
                    match tokens.get(*at) {
                        Some(Token::Comma) => *at += 1,
                        Some(Token::Close) => {
                            *at += 1;
                            return;
                        }
                        _ => return,
                    }
                    if tokens.get(*at) == Some(&Token::Close) {
                        *at += 1;
                        return;
                    }
                }
            }
            _ => return,
        }
        match tokens.get(*at) {
            Some(Token::Path) => *at += 1,
            Some(Token::Ident(word)) if word == "as" => {
                let alias = match tokens.get(*at + 1) {
                    Some(Token::Ident(alias)) => alias.clone(),
                    _ => String::new(),
                };
                *at += 2;
                out.push((path, alias));
                return;
            }
            _ => {
                let alias = path.last().cloned().unwrap_or_default();
                out.push((path, alias));
                return;
            }
        }
        if tokens.get(*at) == Some(&Token::Other) {
            // `*`: the module itself is what is named.
            *at += 1;
            out.push((path, String::new()));
            return;
        }
    }
}

/// The text without its inline `#[cfg(test)] mod NAME { … }` blocks (braces counted).
fn without_test_modules(text: &str) -> String {
    let mut kept = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        kept.push_str(&rest[..at]);
        let after = rest[at + "#[cfg(test)]".len()..].trim_start();
        let after = after.strip_prefix("pub ").unwrap_or(after);
        let inline = after.starts_with("mod ")
            && after
                .find('{')
                .is_some_and(|open| !after[..open].contains(';'));
        if !inline {
            kept.push_str("#[cfg(test)]");
            rest = &rest[at + "#[cfg(test)]".len()..];
            continue;
        }
        let open = after.find('{').unwrap_or_default();
        let mut depth = 0;
        let mut end = after.len();
        for (i, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    kept.push_str(rest);
    kept
}

/// The paths a source text names: those of its `use` trees (with the names they bring in),
/// and every other `a::b::c`.
fn paths(text: &str) -> (Vec<Use>, Vec<Vec<String>>) {
    let tokens = tokens(&without_test_modules(text));
    let (mut uses, mut others) = (Vec::new(), Vec::new());
    let mut at = 0;
    while at < tokens.len() {
        match &tokens[at] {
            Token::Ident(word) if word == "use" => {
                at += 1;
                use_tree(&tokens, &mut at, &[], &mut uses);
            }
            Token::Ident(first) if tokens.get(at + 1) == Some(&Token::Path) => {
                let mut path = vec![first.clone()];
                at += 1;
                while tokens.get(at) == Some(&Token::Path) {
                    match tokens.get(at + 1) {
                        Some(Token::Ident(name)) => path.push(name.clone()),
                        _ => break,
                    }
                    at += 2;
                }
                others.push(path);
            }
            _ => at += 1,
        }
    }
    (uses, others)
}

/// The module a path names (the deepest known one along it), seen from `from`; `None` for
/// other crates and for names that are no module's.
fn resolve(
    path: &[String],
    from: &Module,
    known: &BTreeSet<Module>,
    aliases: &BTreeMap<String, Vec<String>>,
    depth: usize,
) -> Option<Module> {
    let first = path.first()?;
    let (mut current, rest): (Module, &[String]) = match first.as_str() {
        "crate" => (Vec::new(), &path[1..]),
        "self" => (from.clone(), &path[1..]),
        "super" => {
            let mut base = from.clone();
            let mut rest = path;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
            (base, rest)
        }
        _ => {
            let mut child = from.clone();
            child.push(first.clone());
            if known.contains(&child) {
                (from.clone(), path)
            } else if let (Some(full), true) = (aliases.get(first), depth == 0) {
                let joined: Vec<String> = full.iter().chain(&path[1..]).cloned().collect();
                return resolve(&joined, from, known, aliases, depth + 1);
            } else {
                return None;
            }
        }
    };
    for segment in rest {
        current.push(segment.clone());
        if !known.contains(&current) {
            current.pop();
            break;
        }
    }
    Some(current)
}

/// The import graph: each file and the files it names (itself left out).
pub fn edges(files: &[(String, String)]) -> BTreeMap<String, BTreeSet<String>> {
    let file_of: BTreeMap<Module, String> = files
        .iter()
        .map(|(file, _)| (module_of(file), file.clone()))
        .collect();
    let known: BTreeSet<Module> = file_of.keys().cloned().collect();
    let mut graph = BTreeMap::new();
    for (file, text) in files {
        let from = module_of(file);
        let (uses, others) = paths(text);
        let mut aliases = BTreeMap::new();
        for (path, alias) in &uses {
            if !alias.is_empty() {
                aliases.insert(alias.clone(), path.clone());
            }
        }
        let mut targets = BTreeSet::new();
        let named = uses.iter().map(|(path, _)| path).chain(&others);
        for path in named {
            let Some(module) = resolve(path, &from, &known, &aliases, 0) else {
                continue;
            };
            if module != from {
                targets.insert(file_of[&module].clone());
            }
        }
        graph.insert(file.clone(), targets);
    }
    graph
}

/// A path of imports from `start` to a file `goal` accepts, if there is one.
pub fn reaches(
    graph: &BTreeMap<String, BTreeSet<String>>,
    start: &str,
    goal: impl Fn(&str) -> bool,
) -> Option<Vec<String>> {
    let mut came_from: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.to_string()]);
    while let Some(file) = queue.pop_front() {
        if file != start && goal(&file) {
            let mut path = vec![file.clone()];
            while let Some(before) = came_from.get(path.last().unwrap()) {
                path.push(before.clone());
            }
            path.reverse();
            return Some(path);
        }
        for next in graph.get(&file).into_iter().flatten() {
            if next != start && !came_from.contains_key(next) {
                came_from.insert(next.clone(), file.clone());
                queue.push_back(next.clone());
            }
        }
    }
    None
}

/// The import circles: each set of files that reach one another (Tarjan's strongly connected
/// components of more than one file), sorted.
pub fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut seen = BTreeSet::new();
    for file in graph.keys() {
        if seen.contains(file) {
            continue;
        }
        // Those that reach `file` and that `file` reaches.
        let mut circle: Vec<String> = graph
            .keys()
            .filter(|other| {
                *other == file
                    || (reaches(graph, file, |f| f == other.as_str()).is_some()
                        && reaches(graph, other, |f| f == file.as_str()).is_some())
            })
            .cloned()
            .collect();
        circle.sort();
        seen.extend(circle.iter().cloned());
        if circle.len() > 1 {
            found.push(circle);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(files: &[(&str, &str)]) -> BTreeMap<String, BTreeSet<String>> {
        let files: Vec<(String, String)> = files
            .iter()
            .map(|(f, t)| (f.to_string(), t.to_string()))
            .collect();
        edges(&files)
    }

    #[test]
    fn imports_are_read_from_use_trees_paths_and_aliases() {
        let g = graph(&[
            ("main.rs", "mod a;\nmod b;\nmod c;\nfn main() { a::run(); }"),
            ("a/mod.rs", "mod child;\nuse child::Thing;\nuse crate::{b::{self, X}, c as see};\n// crate::nothing\nfn f() { let s = \"crate::c\"; }"),
            ("a/child.rs", "use super::super::c::Y;\nfn g() { super::f(); }"),
            ("b.rs", "pub fn x() { crate::a::child::g(); }\n#[cfg(test)]\npub mod testing { use super::c; }\n#[cfg(test)]\nmod tests { use crate::c; }"),
            ("c.rs", "fn h() { see::it(); }"),
        ]);
        let names = |file: &str| g[file].iter().cloned().collect::<Vec<_>>();
        assert_eq!(names("main.rs"), ["a/mod.rs"]);
        assert_eq!(names("a/mod.rs"), ["a/child.rs", "b.rs", "c.rs"]);
        assert_eq!(names("a/child.rs"), ["a/mod.rs", "c.rs"]);
        assert_eq!(names("b.rs"), ["a/child.rs"]);
        assert!(names("c.rs").is_empty());
        assert_eq!(cycles(&g), [["a/child.rs", "a/mod.rs", "b.rs"]]);
        let path = reaches(&g, "main.rs", |f| f == "c.rs").unwrap();
        assert_eq!(path, ["main.rs", "a/mod.rs", "c.rs"]);
    }
}
