//! Records the git commit the binary is built from (for `b3tree --version`), when built
//! from a checkout; nothing otherwise (a crate tarball has no .git).

fn main() {
    for path in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        println!("cargo:rerun-if-changed={path}");
    }
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|c| !c.is_empty());
    if let Some(c) = commit {
        println!("cargo:rustc-env=B3TREE_GIT_COMMIT={c}");
    }
}
