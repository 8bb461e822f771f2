//! The GitLab template (ci-templates/b3tree.gitlab-ci.yml), read by a YAML parser and then
//! run as GitLab would run it: each job's `before_script` and `script`, its variables and
//! GitLab's own (`CI_PROJECT_DIR`, `CI_NODE_INDEX`/`CI_NODE_TOTAL` of `parallel:`), by
//! busybox's sh with busybox's applets alone on PATH (an Alpine image: wget, no curl),
//! against a release served on 127.0.0.1 — hash on 4 nodes, merge, verify on 4 nodes with
//! JUnit reports that xmllint validates. And the project's own workflows: CI runs
//! `.ci/run` on pushes and pull requests, and the release waits for it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use yaml_rust2::{Yaml, YamlLoader};

use crate::common::*;
use crate::release::{busybox_applets, release, serve};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(rel: &str) -> Yaml {
    let text = std::fs::read_to_string(repo().join(rel)).unwrap();
    YamlLoader::load_from_str(&text).unwrap().remove(0)
}

/// The strings of a YAML list (empty when absent).
fn lines(y: &Yaml) -> Vec<String> {
    y.as_vec()
        .map(|v| v.iter().map(|l| l.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// The template's structure: nothing at the top level but jobs (no `variables:` leaking
/// into the including pipeline), every job extending `.b3tree`, which holds the variables,
/// the rules and the install; the verify job reports JUnit even when it fails.
#[test]
fn the_gitlab_template_scopes_its_variables_and_rules_to_its_jobs() {
    let t = load("ci-templates/b3tree.gitlab-ci.yml");
    let top = t.as_hash().unwrap();
    for key in [
        "variables",
        "default",
        "before_script",
        "image",
        "workflow",
        "stages",
    ] {
        assert!(
            t[key].is_badvalue(),
            "top-level `{key}:` leaks into the including pipeline"
        );
    }
    let base = &t[".b3tree"];
    for key in ["B3TREE_DIR", "B3TREE_VERSION", "B3TREE_RELEASES"] {
        assert!(base["variables"][key].as_str().is_some(), "{key}");
    }
    assert!(!lines(&base["before_script"]).is_empty());
    let rules = base["rules"].as_vec().expect("rules a user can override");
    assert!(rules.iter().all(|r| r["if"].as_str().is_some()));
    let jobs: Vec<&str> = top
        .keys()
        .map(|k| k.as_str().unwrap())
        .filter(|k| !k.starts_with('.'))
        .collect();
    assert_eq!(jobs, ["b3tree-hash", "b3tree-merge", "b3tree-verify"]);
    for job in &jobs {
        assert_eq!(t[*job]["extends"].as_str(), Some(".b3tree"), "{job}");
    }
    let verify = &t["b3tree-verify"]["artifacts"];
    assert_eq!(verify["when"].as_str(), Some("always"));
    assert_eq!(verify["reports"]["junit"].as_str(), Some("b3tree-*.xml"));
}

/// One job as GitLab runs it: the lines of `before_script` then `script`, stopping at the
/// first that fails, with the job's variables and GitLab's.
fn run_job(
    t: &Yaml,
    job: &str,
    vars: &BTreeMap<String, String>,
    node: Option<(u64, u64)>,
) -> std::process::Output {
    let base = &t[".b3tree"];
    let mut script = String::from("set -e\n");
    for line in lines(&base["before_script"])
        .iter()
        .chain(&lines(&t[job]["script"]))
    {
        script.push_str(line);
        script.push('\n');
    }
    let applets = PathBuf::from(&vars["APPLETS"]);
    let mut sh = Command::new(applets.join("sh"));
    sh.env_clear()
        .arg("-c")
        .arg(&script)
        .current_dir(&vars["CI_PROJECT_DIR"]);
    for (k, v) in vars
        .iter()
        .filter(|(k, _)| !["APPLETS", "RUN_AS_NOBODY"].contains(&k.as_str()))
    {
        sh.env(k, v);
    }
    if vars.contains_key("RUN_AS_NOBODY") {
        as_nobody(&mut sh);
    }
    sh.env("PATH", &applets)
        .env("HOME", &vars["CI_PROJECT_DIR"]);
    if let Some((index, total)) = node {
        sh.env("CI_NODE_INDEX", index.to_string())
            .env("CI_NODE_TOTAL", total.to_string());
    }
    run_with_timeout(&mut sh, Duration::from_secs(120))
}

/// Validates a JUnit report with xmllint against fixtures/junit.xsd.
fn assert_valid_junit(report: &Path) {
    let out = run_with_timeout(
        Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(repo().join("fixtures/junit.xsd"))
            .arg(report),
        Duration::from_secs(30),
    );
    assert_exit(&out, 0);
}

/// A release of `version` with its installer (as release.yml attaches it), served on
/// 127.0.0.1 (the server runs while the first value lives), and busybox's applets in a
/// directory of their own: (server, base URL, applets).
fn alpine(env: &TestEnv, version: &str) -> (std::sync::Arc<tiny_http::Server>, String, PathBuf) {
    let site = env.root().join("site");
    release(&site, version);
    for at in [format!("download/v{version}"), "latest/download".into()] {
        let dir = site.join("releases").join(at);
        std::fs::copy(repo().join("pkg/install.sh"), dir.join("install.sh")).unwrap();
    }
    let (server, base) = serve(site);
    let applets = busybox_applets(env);
    (server, base, applets)
}

#[test]
fn the_gitlab_template_runs_on_busybox_hash_merge_and_verify_with_junit() {
    let env = TestEnv::new();
    let (_server, base, applets) = alpine(&env, "9.8.7");
    let project = env.root().join("project");
    for i in 0..40 {
        env.file(format!("project/data/d{}/f{i:02}", i % 5), format!("{i}\n"));
    }
    let t = load("ci-templates/b3tree.gitlab-ci.yml");
    let mut vars = BTreeMap::new();
    for (k, v) in t[".b3tree"]["variables"].as_hash().unwrap() {
        vars.insert(
            k.as_str().unwrap().to_string(),
            v.as_str().unwrap().to_string(),
        );
    }
    // What a user sets on `.b3tree`, and what GitLab sets.
    vars.insert("B3TREE_DIR".into(), "data".into());
    vars.insert("B3TREE_VERSION".into(), "9.8.7".into());
    vars.insert("B3TREE_RELEASES".into(), base);
    vars.insert("CI_PROJECT_DIR".into(), project.display().to_string());
    // A job of a non-root image: it installs into the project directory (the default).
    vars.insert("RUN_AS_NOBODY".into(), "1".into());
    chmod(env.root(), 0o755);
    for dir in [&project, &env.root().join("tmp")] {
        std::fs::create_dir_all(dir).unwrap();
        std::os::unix::fs::chown(dir, Some(65534), Some(65534)).unwrap();
    }
    vars.insert("APPLETS".into(), applets.display().to_string());
    let total = t["b3tree-hash"]["parallel"].as_i64().unwrap() as u64;
    assert_eq!(total, 4);
    for k in 1..=total {
        assert_exit(&run_job(&t, "b3tree-hash", &vars, Some((k, total))), 0);
    }
    assert_exit(&run_job(&t, "b3tree-merge", &vars, None), 0);
    // The merged manifest is one run's.
    let whole = env.run(&["hash", "-C", "project/data", "-q"]);
    let merged = std::fs::read(project.join("dataset.b3")).unwrap();
    assert_eq!(merged, whole.stdout);
    let verify = |expect: i32| {
        let mut failed = Vec::new();
        for k in 1..=total {
            let out = run_job(&t, "b3tree-verify", &vars, Some((k, total)));
            let code = out.status.code();
            assert!(code == Some(0) || code == Some(expect), "{}", stderr(&out));
            let report = project.join(format!("b3tree-{k}.xml"));
            assert_valid_junit(&report);
            let xml = std::fs::read_to_string(&report).unwrap();
            if code != Some(0) {
                failed.push(xml);
            }
        }
        failed
    };
    assert!(verify(0).is_empty());
    assert!(
        project.join(".b3tree/bin/b3tree").exists(),
        "installed in the project"
    );
    env.file("project/data/d3/f03", "tampered\n");
    let failed = verify(1);
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].contains("message=\"d3/f03: FAILED\""),
        "{}",
        failed[0]
    );
}

/// The project's CI: `.ci/run` on every push to a branch and every pull request, and the
/// release workflow publishes only after it passed (it calls it and its jobs wait).
#[test]
fn the_project_ci_runs_the_suite_and_the_release_waits_for_it() {
    let ci = load(".github/workflows/ci.yml");
    let on = &ci["on"];
    assert!(!on["push"].is_badvalue() && !on["pull_request"].is_badvalue());
    assert!(!on["workflow_call"].is_badvalue(), "release.yml calls it");
    let steps = ci["jobs"]["test"]["steps"].as_vec().unwrap();
    assert!(
        steps
            .iter()
            .any(|s| s["run"].as_str().is_some_and(|r| r.contains("sh .ci/run"))),
        "{steps:?}"
    );
    let release = load(".github/workflows/release.yml");
    let jobs = release["jobs"].as_hash().unwrap();
    let test = &release["jobs"]["test"];
    assert_eq!(test["uses"].as_str(), Some("./.github/workflows/ci.yml"));
    for (name, job) in jobs {
        let name = name.as_str().unwrap();
        if name == "test" {
            continue;
        }
        let needs = match &job["needs"] {
            Yaml::String(s) => vec![s.clone()],
            other => lines(other),
        };
        // Every job waits for the tests, directly or through a job that does.
        let waits = needs
            .iter()
            .any(|n| n == "test" || release["jobs"][n.as_str()]["needs"].as_str() == Some("test"));
        assert!(waits, "{name} does not wait for the tests: needs {needs:?}");
    }
}

/// A `make dist` for the recipes: a release tree with what deployments break on (an
/// executable, a symlink, an empty directory), made by busybox's sh.
fn fake_make(applets: &Path) {
    let script = format!(
        "#!{}\nset -e\nmkdir -p dist/v1 dist/uploads\nprintf '#!/bin/sh\\n' > dist/run.sh\n\
         chmod 755 dist/run.sh\nln -sfn v1 dist/latest\necho v1 > dist/v1/app\n",
        applets.join("sh").display()
    );
    write_mode(applets.join("make"), script, 0o755);
}

/// README's GitLab recipe, run as GitLab would on an Alpine-like image (busybox alone,
/// wget): it installs the release it pins, which is this crate's version; the deploy job
/// passes on the tree as built and, once a file lost its executable bit, fails with a
/// JUnit report that names it.
#[test]
fn the_readme_gitlab_recipe_runs_on_busybox_and_reports_a_lost_mode_as_junit() {
    let env = TestEnv::new();
    let version = env!("CARGO_PKG_VERSION");
    let (_server, base, applets) = alpine(&env, version);
    fake_make(&applets);
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let (_, block) = crate::workflows::yaml_blocks(&readme)
        .into_iter()
        .find(|(_, b)| b.starts_with("# GitLab"))
        .expect("README shows a GitLab recipe");
    let t = YamlLoader::load_from_str(&block).unwrap().remove(0);
    let mut vars = BTreeMap::new();
    for (k, v) in t[".b3tree"]["variables"].as_hash().unwrap() {
        vars.insert(
            k.as_str().unwrap().to_string(),
            v.as_str().unwrap().to_string(),
        );
    }
    assert_eq!(vars["B3TREE_VERSION"], version, "README pins this release");
    let project = env.root().join("project");
    std::fs::create_dir_all(&project).unwrap();
    vars.insert("B3TREE_BASE_URL".into(), base);
    vars.insert("CI_PROJECT_DIR".into(), project.display().to_string());
    vars.insert("APPLETS".into(), applets.display().to_string());
    assert_exit(&run_job(&t, "build", &vars, None), 0);
    assert_exit(&run_job(&t, "deploy", &vars, None), 0);
    let report = project.join("b3tree.xml");
    assert_valid_junit(&report);
    // The artefact as a careless copy leaves it: run.sh no longer executable.
    let repack = Command::new(applets.join("sh"))
        .args([
            "-c",
            "chmod 644 dist/run.sh && tar -cf dist.tar dist dist.mtree",
        ])
        .env_clear()
        .env("PATH", &applets)
        .current_dir(&project)
        .status()
        .unwrap();
    assert!(repack.success());
    let out = run_job(&t, "deploy", &vars, None);
    assert_exit(&out, 1);
    assert_valid_junit(&report);
    let xml = std::fs::read_to_string(&report).unwrap();
    assert!(
        xml.contains("message=\"run.sh: FAILED (mode 0755 → 0644)\""),
        "{xml}"
    );
}
