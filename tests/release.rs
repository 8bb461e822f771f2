//! The install path a CI job uses: `pkg/install.sh` (which the GitHub Action runs) against a
//! release directory served on 127.0.0.1 in GitHub's layout — a version and `latest`,
//! the archive verified against SHA256SUMS before anything is installed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::*;

/// Serves `dir` over HTTP on 127.0.0.1 (GET of files; 404 otherwise) until the returned
/// server is dropped. The base URL.
pub(crate) fn serve(dir: PathBuf) -> (std::sync::Arc<tiny_http::Server>, String) {
    let server = std::sync::Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let port = server.server_addr().to_ip().unwrap().port();
    let serving = server.clone();
    std::thread::spawn(move || {
        for request in serving.incoming_requests() {
            let rel = request.url().trim_start_matches('/').to_string();
            let file = (!rel.contains(".."))
                .then(|| std::fs::File::open(dir.join(&rel)).ok())
                .flatten();
            let _ = match file {
                Some(f) => request.respond(tiny_http::Response::from_file(f)),
                None => request.respond(tiny_http::Response::empty(404)),
            };
        }
    });
    (server, format!("http://127.0.0.1:{port}/releases"))
}

/// busybox's applets, each a link in a directory of their own (`busybox-bin` in the env):
/// a PATH of that directory alone is an Alpine image's tools (wget, no curl).
pub(crate) fn busybox_applets(env: &TestEnv) -> PathBuf {
    let applets = env.root().join("busybox-bin");
    std::fs::create_dir_all(&applets).unwrap();
    let made = Command::new("busybox")
        .arg("--install")
        .arg("-s")
        .arg(&applets)
        .status()
        .expect("tests/deps.sh installs busybox");
    assert!(made.success());
    assert!(!applets.join("curl").exists());
    applets
}

/// This machine's release target, as install.sh picks it.
pub(crate) fn target() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "aarch64-unknown-linux-musl",
        _ => "x86_64-unknown-linux-musl",
    }
}

/// A release of VERSION in `releases/download/vVERSION/` and `releases/latest/download/`:
/// the archive (the binary under test, in pkg/package.sh's layout) and its SHA256SUMS.
pub(crate) fn release(root: &Path, version: &str) {
    let name = format!("b3tree-{version}-{}", target());
    let stage = root.join("stage").join(&name);
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::copy(bin(), stage.join("b3tree")).unwrap();
    for at in [
        format!("download/v{version}"),
        "latest/download".to_string(),
    ] {
        let dir = root.join("releases").join(at);
        std::fs::create_dir_all(&dir).unwrap();
        let tar = Command::new("tar")
            .arg("-czf")
            .arg(dir.join(format!("{name}.tar.gz")))
            .arg("-C")
            .arg(root.join("stage"))
            .arg(&name)
            .status()
            .unwrap();
        assert!(tar.success());
        let sums = Command::new("sh")
            .args(["-c", "sha256sum b3tree-* > SHA256SUMS"])
            .current_dir(&dir)
            .status()
            .unwrap();
        assert!(sums.success());
    }
}

fn install(env: &TestEnv, base: &str, version: &str, dest: &Path) -> std::process::Output {
    install_with(env, Command::new("sh"), base, version, dest)
}

/// `install.sh` run by `shell` (a command that takes the script as its argument).
fn install_with(
    env: &TestEnv,
    mut shell: Command,
    base: &str,
    version: &str,
    dest: &Path,
) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("pkg/install.sh");
    run_with_timeout(
        shell
            .arg(script)
            .env("B3TREE_BASE_URL", base)
            .env("B3TREE_VERSION", version)
            .env("B3TREE_INSTALL_DIR", dest)
            .env("GITHUB_PATH", env.root().join("github_path"))
            .current_dir(env.root()),
        Duration::from_secs(60),
    )
}

#[test]
fn the_installer_verifies_the_release_and_puts_b3tree_on_path() {
    let env = TestEnv::new();
    let site = env.root().join("site");
    release(&site, "9.8.7");
    let (_server, base) = serve(site.clone());

    for (version, dest) in [
        ("9.8.7", "pinned"),
        ("v9.8.7", "v-pinned"),
        ("latest", "latest"),
    ] {
        let dest = env.root().join(dest);
        let out = install(&env, &base, version, &dest);
        assert_eq!(out.status.code(), Some(0), "{version}: {}", stderr(&out));
        assert!(
            stdout(&out).contains("b3tree 9.8.7 installed in"),
            "{}",
            stdout(&out)
        );
        let ran = Command::new(dest.join("b3tree"))
            .arg("--version")
            .output()
            .unwrap();
        assert!(stdout(&ran).starts_with("b3tree "), "{}", stdout(&ran));
        let path = std::fs::read_to_string(env.root().join("github_path")).unwrap();
        assert!(path.lines().any(|l| Path::new(l) == dest), "{path}");
    }

    // A SHA256SUMS whose only archive name climbs out of the download directory: refused.
    let hostile = site.join("releases/download/v6.6.6");
    std::fs::create_dir_all(&hostile).unwrap();
    std::fs::write(
        hostile.join("SHA256SUMS"),
        format!("{}  b3tree-../../x-{}.tar.gz\n", "0".repeat(64), target()),
    )
    .unwrap();
    let out = install(&env, &base, "6.6.6", &env.root().join("hostile"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_stderr_contains(&out, "has no archive for");

    // A version the release does not have, and an archive that does not match its sums:
    // an error, and nothing installed.
    let out = install(&env, &base, "1.0.0", &env.root().join("none"));
    assert_ne!(out.status.code(), Some(0));
    assert!(!env.root().join("none/b3tree").exists());
    let archive = site.join(format!(
        "releases/download/v9.8.7/b3tree-9.8.7-{}.tar.gz",
        target()
    ));
    let mut bytes = std::fs::read(&archive).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&archive, bytes).unwrap();
    let out = install(&env, &base, "9.8.7", &env.root().join("tampered"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_stderr_contains(&out, "does not match SHA256SUMS: not installed");
    assert!(!env.root().join("tampered/b3tree").exists());
}

/// An image with busybox alone (Alpine): its `sh`, `wget` (no curl), `sha256sum` (no
/// `--quiet`), `tar`, `mktemp`, `install` are the only commands on PATH. The installer
/// verifies and installs there too, and still refuses a tampered archive.
#[test]
fn the_installer_works_with_busybox_alone() {
    let env = TestEnv::new();
    let site = env.root().join("site");
    release(&site, "9.8.7");
    let (_server, base) = serve(site.clone());
    let applets = busybox_applets(&env);
    let busybox_sh = || {
        let mut sh = Command::new(applets.join("sh"));
        sh.env_clear().env("PATH", &applets).env("HOME", env.root());
        sh
    };
    let dest = env.root().join("alpine");
    let out = install_with(&env, busybox_sh(), &base, "9.8.7", &dest);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("b3tree 9.8.7 installed in"),
        "{}",
        stdout(&out)
    );
    assert!(dest.join("b3tree").exists());
    let archive = site.join(format!(
        "releases/latest/download/b3tree-9.8.7-{}.tar.gz",
        target()
    ));
    let mut bytes = std::fs::read(&archive).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&archive, bytes).unwrap();
    let out = install_with(&env, busybox_sh(), &base, "latest", &env.root().join("bad"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_stderr_contains(&out, "does not match SHA256SUMS: not installed");
    assert!(!env.root().join("bad/b3tree").exists());
}

/// The Action's step (pkg/action.sh), run as the runner runs it, against releases of
/// `owner/repo` on 127.0.0.1: the version comes from the ref the workflow pinned
/// (`uses: owner/repo@v9.8.7`) when no `version` input is given, the repository from
/// `github.repository` when `github.action_repository` is empty (`uses: ./`), the server
/// from `base-url`; the outputs name what was installed; a second run of a pinned version
/// takes it from the runner's tool cache without the server.
#[test]
fn the_action_installs_the_pinned_ref_from_its_own_repository_and_reuses_the_tool_cache() {
    let env = TestEnv::new();
    let site = env.root().join("site");
    release(&site.join("owner/repo"), "9.8.7");
    // 9.9.0 is the latest: latest/ holds it alone.
    std::fs::remove_dir_all(site.join("owner/repo/releases/latest")).unwrap();
    release(&site.join("owner/repo"), "9.9.0");
    let (server, base) = serve(site);
    let server_url = base.trim_end_matches("/releases").to_string();
    let cache = env.root().join("toolcache");
    let outputs = env.root().join("outputs");
    let step = |input: &str, action_ref: &str| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("pkg/action.sh");
        let _ = std::fs::remove_file(&outputs);
        run_with_timeout(
            Command::new("sh")
                .arg(script)
                .env("INPUT_VERSION", input)
                .env("INPUT_BASE_URL", &server_url)
                .env("ACTION_REF", action_ref)
                .env("ACTION_REPOSITORY", "")
                .env("REPOSITORY", "owner/repo")
                .env("RUNNER_TOOL_CACHE", &cache)
                .env("GITHUB_PATH", env.root().join("github_path"))
                .env("GITHUB_OUTPUT", &outputs)
                .env_remove("B3TREE_INSTALL_DIR")
                .current_dir(env.root()),
            Duration::from_secs(60),
        )
    };
    let out = step("", "v9.8.7");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let pinned = cache.join("b3tree/9.8.7");
    assert_eq!(
        std::fs::read_to_string(&outputs).unwrap(),
        format!("version=9.8.7\npath={}\n", pinned.display())
    );
    // A branch as the ref: latest. An input wins over the ref.
    let out = step("", "main");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        std::fs::read_to_string(&outputs)
            .unwrap()
            .starts_with("version=9.9.0\n")
    );
    // An input names the older one.
    let out = step("v9.8.7", "main");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The server gone: the pinned version comes from the tool cache.
    drop(server);
    let out = step("", "v9.8.7");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("found in the tool cache"),
        "{}",
        stdout(&out)
    );
    assert!(
        std::fs::read_to_string(&outputs)
            .unwrap()
            .starts_with("version=9.8.7\n")
    );
}
