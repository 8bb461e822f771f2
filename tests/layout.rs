//! The source layout (CONTRIBUTING.md "Code map"): floors of modules, each importing only those
//! beneath it, and no file too long to read in one sitting. Read from `src/` as text: a new
//! `crate::` path that climbs a floor fails here, naming the file and the path.

use std::path::{Path, PathBuf};

/// Lowest first. A module may use its own floor and those before it.
const FLOORS: &[&str] = &[
    "sys",
    "names",
    "trust",
    "record",
    "hash",
    "walk",
    "output",
    "manifest",
    "pipeline",
    "report",
    "tree_digest",
    "state",
    "cli",
    "config",
    "exit",
    "commands",
    "lib",
    "main",
];

const MAX_LINES: usize = 420;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn floor_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_str()
        .unwrap();
    first.trim_end_matches(".rs").to_string()
}

/// The text without its unit-test module (tests may reach anywhere).
fn without_tests(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => text,
    }
}

fn rank(floor: &str) -> usize {
    FLOORS.iter().position(|f| *f == floor).unwrap_or_else(|| {
        panic!("module {floor} is on no floor: add it to FLOORS and CONTRIBUTING.md")
    })
}

#[test]
fn no_module_imports_a_higher_floor() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut climbs = Vec::new();
    for file in &files {
        let me = floor_of(&src, file);
        let text = std::fs::read_to_string(file).unwrap();
        for (i, _) in without_tests(&text).match_indices("crate::") {
            let rest = &text[i + "crate::".len()..];
            // `crate::a::b` or `crate::{a::b, c}`: the first segment of each path.
            let group = match rest.strip_prefix('{') {
                Some(inner) => &inner[..inner.find('}').unwrap_or(inner.len())],
                None => rest,
            };
            let paths: Vec<&str> = if rest.starts_with('{') {
                group.split(',').map(str::trim).collect()
            } else {
                vec![group]
            };
            for path in paths {
                let first: String = path
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let target = match first.as_str() {
                    "" => continue,
                    // Items of lib.rs itself.
                    t if t.starts_with(|c: char| c.is_ascii_uppercase()) || t == "run" => "lib",
                    t => t,
                };
                if rank(target) > rank(&me) {
                    climbs.push(format!(
                        "{} ({me}) uses crate::{target}",
                        file.strip_prefix(&src).unwrap().display()
                    ));
                }
            }
        }
    }
    climbs.sort();
    climbs.dedup();
    assert!(
        climbs.is_empty(),
        "imports that climb a floor:\n{}",
        climbs.join("\n")
    );
}

#[test]
fn no_source_file_is_too_long() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > MAX_LINES)
                .then(|| format!("{}: {n} lines", f.strip_prefix(&src).unwrap().display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "over {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
}

/// The sibling modules (files of the same folder, not `mod.rs`) that `text` names, as
/// `crate::FOLDER::NAME` (also inside `crate::FOLDER::{…}`) or `super::NAME`.
fn siblings_used(text: &str, folder: &str, names: &[String]) -> Vec<String> {
    let mut used = Vec::new();
    let prefix = format!("crate::{folder}::");
    let mut heads: Vec<&str> = Vec::new();
    for (i, _) in text.match_indices(&prefix) {
        let rest = &text[i + prefix.len()..];
        match rest.strip_prefix('{') {
            Some(inner) => heads.extend(inner[..inner.find('}').unwrap_or(inner.len())].split(',')),
            None => heads.push(rest),
        }
    }
    for (i, _) in text.match_indices("super::") {
        heads.push(&text[i + "super::".len()..]);
    }
    for head in heads {
        let first: String = head
            .trim()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if names.contains(&first) && !used.contains(&first) {
            used.push(first);
        }
    }
    used
}

#[test]
fn no_cycle_between_the_files_of_a_folder() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut folders: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| f.parent().map(Path::to_path_buf))
        .collect();
    folders.sort();
    folders.dedup();
    let mut cycles = Vec::new();
    for dir in folders.iter().filter(|d| **d != src) {
        let folder = dir
            .strip_prefix(&src)
            .unwrap()
            .to_str()
            .unwrap()
            .replace('/', "::");
        let mods: Vec<PathBuf> = files
            .iter()
            .filter(|f| f.parent() == Some(dir.as_path()) && !f.ends_with("mod.rs"))
            .cloned()
            .collect();
        let names: Vec<String> = mods
            .iter()
            .map(|f| f.file_stem().unwrap().to_str().unwrap().to_string())
            .collect();
        let edges: Vec<Vec<String>> = mods
            .iter()
            .zip(&names)
            .map(|(f, me)| {
                let text = std::fs::read_to_string(f).unwrap();
                let mut used = siblings_used(without_tests(&text), &folder, &names);
                used.retain(|u| u != me);
                used
            })
            .collect();
        // A cycle: some module reaches itself again.
        for (start, name) in names.iter().enumerate() {
            let mut seen = vec![false; names.len()];
            let mut stack: Vec<usize> = edges[start]
                .iter()
                .map(|u| names.iter().position(|n| n == u).unwrap())
                .collect();
            while let Some(m) = stack.pop() {
                if m == start {
                    cycles.push(format!("{folder}: {name} reaches itself"));
                    break;
                }
                if !std::mem::replace(&mut seen[m], true) {
                    stack.extend(
                        edges[m]
                            .iter()
                            .map(|u| names.iter().position(|n| n == u).unwrap()),
                    );
                }
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles between sibling files:\n{}",
        cycles.join("\n")
    );
}

/// The items a `mod.rs` defines at its top level (functions, types, constants), not its
/// submodules.
fn items_defined(text: &str) -> Vec<String> {
    let mut items = Vec::new();
    for line in text.lines() {
        let mut rest = line;
        for vis in ["pub(crate) ", "pub(super) ", "pub "] {
            rest = rest.strip_prefix(vis).unwrap_or(rest);
        }
        for kind in [
            "fn ", "struct ", "enum ", "const ", "static ", "type ", "trait ",
        ] {
            if let Some(name) = rest.strip_prefix(kind) {
                let name: String = name
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                items.push(name);
            }
        }
    }
    items
}

/// A command's folder tells its story in mod.rs, which uses the files beside it; they never
/// use what mod.rs defines (that would be an arrow back up, and mod.rs would stop being the
/// story). Only the parts of the commands that are folders: check/, merge/, hash/, bench/.
#[test]
fn no_file_of_a_command_uses_what_its_mod_rs_defines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src.join("commands"), &mut files);
    let mut back = Vec::new();
    for file in files.iter().filter(|f| !f.ends_with("mod.rs")) {
        let dir = file.parent().unwrap();
        // commands/mod.rs is not a command: it holds what every command shares.
        let Ok(parent) = std::fs::read_to_string(dir.join("mod.rs")) else {
            continue;
        };
        if dir == src.join("commands") {
            continue;
        }
        let folder = dir
            .strip_prefix(&src)
            .unwrap()
            .to_str()
            .unwrap()
            .replace('/', "::");
        // A name that is also a file of the folder (`fn run` and run.rs) is the file.
        let mut items = items_defined(without_tests(&parent));
        items.retain(|i| !dir.join(format!("{i}.rs")).exists() && !dir.join(i).is_dir());
        let text = std::fs::read_to_string(file).unwrap();
        for used in siblings_used(without_tests(&text), &folder, &items) {
            back.push(format!(
                "{} uses {folder}::{used}",
                file.strip_prefix(&src).unwrap().display()
            ));
        }
    }
    assert!(
        back.is_empty(),
        "files that use their mod.rs:\n{}",
        back.join("\n")
    );
}

/// The CLI's types (`crate::cli::…`) are read by config/ and the plans only: a command's
/// mod.rs names its arguments' type to hand them to its plan, and its other files read the
/// resolved settings. (Unit tests may parse command lines.)
#[test]
fn only_the_plans_and_config_read_the_cli_types() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src.join("commands"), &mut files);
    let mut readers = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap().display().to_string();
        let in_folder = file.parent() != Some(src.join("commands").as_path());
        if !in_folder || file.ends_with("mod.rs") || file.ends_with("plan.rs") {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        if without_tests(&text).contains("crate::cli") {
            readers.push(rel);
        }
    }
    assert!(
        readers.is_empty(),
        "files of command folders that read crate::cli (only plans and config may): {readers:?}"
    );
}

/// Lines a function may span, from its signature to its closing brace (clippy's
/// `too_many_lines` counts code lines only; this counts what a reader scrolls through).
const MAX_FN_LINES: usize = 80;

/// The functions of `text` longer than [`MAX_FN_LINES`]: (name, lines). Braces are counted
/// as they come (the code base keeps braces in strings balanced or out of long functions).
fn long_functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut long = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(at) = words.iter().position(|w| *w == "fn") else {
            continue;
        };
        let before_ok = words[..at]
            .iter()
            .all(|w| w.starts_with("pub") || ["async", "const", "unsafe"].contains(w));
        let Some(name) = words.get(at + 1).filter(|_| before_ok) else {
            continue;
        };
        let mut depth = 0i64;
        let mut opened = false;
        for (j, body) in lines.iter().enumerate().skip(i) {
            for c in body.chars() {
                match c {
                    '{' => (depth, opened) = (depth + 1, true),
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if opened && depth == 0 {
                if j - i + 1 > MAX_FN_LINES {
                    let name: String = name
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    long.push((name, j - i + 1));
                }
                break;
            }
            if !opened && body.trim_end().ends_with(';') {
                break;
            }
        }
    }
    long
}

#[test]
fn no_function_spans_more_than_a_screen() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("tests"), &mut files);
    let mut long = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (name, n) in long_functions(&text) {
            long.push(format!(
                "{}: {name}: {n} lines",
                file.strip_prefix(root).unwrap().display()
            ));
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines:\n{}",
        long.join("\n")
    );
}
