//! Every GitHub workflow the project ships or shows is valid: the files under
//! .github/workflows, the Action's metadata (action.yml, used from a workflow as `./`), and
//! every YAML block of README.md and docs/ — checked by the real actionlint (tests/deps.sh
//! installs it). A block that starts with `# Kubernetes` or `# GitLab` is another system's.
//! The README and guide examples are whole workflows a newcomer can paste: `on:`,
//! `runs-on:` and a step that installs b3tree (the Action, or cargo install). README's CI
//! recipe is run as well: its commands catch a lost executable bit and a retargeted link.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::*;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The ```yaml blocks of a Markdown file: (first line number, text).
pub(crate) fn yaml_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        match &mut open {
            None if line.trim_start() == "```yaml" => open = Some((i + 2, String::new())),
            Some(_) if line.trim_start() == "```" => blocks.extend(open.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// Runs actionlint in `dir` (it finds `.github/workflows` there).
fn actionlint(dir: &Path) -> std::process::Output {
    run_with_timeout(
        Command::new("actionlint").arg("-no-color").current_dir(dir),
        Duration::from_secs(60),
    )
}

#[test]
fn workflows_the_action_and_every_yaml_block_of_the_docs_pass_actionlint() {
    let env = TestEnv::new();
    // actionlint looks for the repository's root.
    let init = Command::new("git")
        .args(["init", "-q"])
        .current_dir(env.root())
        .status()
        .unwrap();
    assert!(init.success());
    let workflows = env.root().join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(repo().join(".github/workflows")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::copy(&path, workflows.join(&name)).unwrap();
        checked.push(name);
    }
    let mut docs = vec![repo().join("README.md")];
    for entry in std::fs::read_dir(repo().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            docs.push(path);
        }
    }
    let mut examples = 0;
    for doc in &docs {
        let text = std::fs::read_to_string(doc).unwrap();
        let shown = doc.file_name().unwrap().to_string_lossy().into_owned();
        for (line, block) in yaml_blocks(&text) {
            let first = block.lines().next().unwrap_or_default();
            if first.starts_with("# Kubernetes") || first.starts_with("# GitLab") {
                continue;
            }
            let at = format!("{shown}:{line}");
            for needed in ["on:", "runs-on:"] {
                assert!(block.contains(needed), "{at}: the example lacks `{needed}`");
            }
            let installs = block.contains("uses: OWNER/b3tree@v")
                || block.contains("cargo install --locked b3tree");
            assert!(installs, "{at}: the example does not install b3tree");
            let name = format!("doc-{}-{line}.yml", shown.trim_end_matches(".md"));
            std::fs::write(workflows.join(&name), &block).unwrap();
            checked.push(format!("{name} ({at})"));
            examples += 1;
        }
    }
    assert!(
        examples >= 3,
        "README and the guide show whole workflows: {checked:?}"
    );
    // The Action, from a workflow in its own repository: its inputs are checked there.
    std::fs::copy(repo().join("action.yml"), env.root().join("action.yml")).unwrap();
    std::fs::write(
        workflows.join("uses-the-action.yml"),
        "on: push\njobs:\n  check:\n    runs-on: ubuntu-latest\n    steps:\n      \
         - uses: actions/checkout@v6\n      - uses: ./\n        with: { version: 0.1.0 }\n      \
         - run: b3tree --version\n",
    )
    .unwrap();
    let out = actionlint(env.root());
    assert_eq!(
        out.status.code(),
        Some(0),
        "actionlint on {checked:?}:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    // And it does check them: an input the Action does not have is an error.
    std::fs::write(
        workflows.join("uses-the-action.yml"),
        "on: push\njobs:\n  check:\n    runs-on: ubuntu-latest\n    steps:\n      \
         - uses: actions/checkout@v6\n      - uses: ./\n        with: { versoin: 0.1.0 }\n",
    )
    .unwrap();
    let out = actionlint(env.root());
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("versoin"), "{}", stdout(&out));
}

/// The lines of `block` that run b3tree `command`, from `b3tree` on.
fn b3tree_lines(block: &str, command: &str) -> Vec<String> {
    let needle = format!("b3tree {command} ");
    block
        .lines()
        .filter_map(|l| l.find(&needle).map(|at| l[at..].trim().to_string()))
        .collect()
}

/// README's CI recipe records and verifies a tree spec, as its "Release trees" section
/// says deployments need: run as written (after `make dist`), its check passes on the tree
/// as built and fails on a lost executable bit and a retargeted symlink. Its GitHub and
/// GitLab forms run the same commands.
#[test]
fn the_readme_ci_recipe_catches_what_breaks_deployments() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let blocks = yaml_blocks(&readme);
    let github = &blocks
        .iter()
        .find(|(_, b)| b.contains("runs-on:"))
        .unwrap()
        .1;
    let gitlab = &blocks
        .iter()
        .find(|(_, b)| b.starts_with("# GitLab"))
        .unwrap()
        .1;
    let (hash, check) = (b3tree_lines(github, "hash"), b3tree_lines(github, "check"));
    assert_eq!((hash.len(), check.len()), (1, 1), "{github}");
    assert_eq!(b3tree_lines(gitlab, "hash"), hash);
    assert!(b3tree_lines(gitlab, "check")[0].starts_with(check[0].split(" ../").next().unwrap()));
    assert!(hash[0].contains("--format mtree"), "{}", hash[0]);
    assert!(check[0].contains("--audit"), "{}", check[0]);
    let env = TestEnv::new();
    env.file("dist/v1/app", "v1\n");
    env.file("dist/v2/app", "v2\n");
    std::fs::create_dir(env.root().join("dist/uploads")).unwrap();
    write_mode(env.root().join("dist/run.sh"), "#!/bin/sh\n", 0o755);
    std::os::unix::fs::symlink("v1", env.root().join("dist/latest")).unwrap();
    let bin_dir = bin().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let sh = |line: &str| {
        run_with_timeout(
            Command::new("sh")
                .args(["-c", line])
                .env("PATH", &path)
                .current_dir(env.root()),
            Duration::from_secs(60),
        )
    };
    assert_exit(&sh(&hash[0]), 0);
    assert_exit(&sh(&check[0]), 0);
    chmod(env.root().join("dist/run.sh"), 0o644);
    std::fs::remove_file(env.root().join("dist/latest")).unwrap();
    std::os::unix::fs::symlink("v2", env.root().join("dist/latest")).unwrap();
    let out = sh(&check[0]);
    assert_exit(&out, 1);
    assert_eq!(
        stdout(&out),
        "latest: FAILED (link: v1 → v2)\nrun.sh: FAILED (mode 0755 → 0644)\n"
    );
}
