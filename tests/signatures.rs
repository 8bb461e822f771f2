//! Signed manifests (README "Signed manifests"): `check` verifies who wrote the manifest
//! before it reads a line of it. Keys are made and manifests signed by the real tools
//! (`ssh-keygen` of openssh-client, `minisign`); every refusal is shown, under strace, to
//! open no file of the tree; each SSH verdict is compared with `ssh-keygen -Y verify`'s.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::common::*;

/// A tree `dist/` and its manifest `dist.b3`.
fn tree(env: &TestEnv) {
    env.file("dist/a.txt", "alpha\n");
    env.file("dist/sub/b.txt", "beta\n");
    let out = env.run(&["hash", "-o", "dist.b3", "dist"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

fn tool(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .expect("tests/deps.sh installs openssh-client and minisign");
    assert!(out.status.success(), "{cmd:?}: {}", stderr(&out));
    out
}

/// An SSH key pair `NAME`, `NAME.pub` of `kind` (ed25519, ecdsa, rsa); its public line.
fn ssh_key(env: &TestEnv, name: &str, kind: &str) -> String {
    tool(
        Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", "", "-C", name, "-f", name])
            .current_dir(env.root()),
    );
    std::fs::read_to_string(env.root().join(format!("{name}.pub")))
        .unwrap()
        .trim()
        .to_string()
}

/// `ssh-keygen -Y sign -n NS -f KEY FILE` (writes FILE.sig, replacing one).
fn ssh_sign(env: &TestEnv, key: &str, ns: &str, file: &str) {
    let _ = std::fs::remove_file(env.root().join(format!("{file}.sig")));
    tool(
        Command::new("ssh-keygen")
            .args(["-Y", "sign", "-n", ns, "-f", key, file])
            .current_dir(env.root()),
    );
}

/// The SHA256 fingerprint ssh-keygen gives the public key `NAME.pub`.
fn fingerprint(env: &TestEnv, name: &str) -> String {
    let out = tool(
        Command::new("ssh-keygen")
            .args(["-l", "-E", "sha256", "-f", &format!("{name}.pub")])
            .current_dir(env.root()),
    );
    stdout(&out).split_whitespace().nth(1).unwrap().to_string()
}

/// Whether `ssh-keygen -Y verify` accepts MANIFEST with the same inputs.
fn ssh_keygen_accepts(env: &TestEnv, allowed: &str, signer: &str, sig: &str, m: &str) -> bool {
    let manifest = std::fs::File::open(env.root().join(m)).unwrap();
    Command::new("ssh-keygen")
        .args([
            "-Y", "verify", "-f", allowed, "-I", signer, "-n", "b3tree", "-s", sig,
        ])
        .stdin(manifest)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .current_dir(env.root())
        .status()
        .unwrap()
        .success()
}

/// b3tree ARGS under strace; its output, and every file path it opened or stat'ed.
fn traced(env: &TestEnv, args: &[&str]) -> (Output, String) {
    let trace = env.root().join("trace");
    let out = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=%file", "-o"])
        .arg(&trace)
        .arg(bin())
        .args(args)
        .current_dir(env.root())
        .env_remove("GITHUB_ACTIONS")
        .stdin(Stdio::null())
        .output()
        .expect("strace (tests/deps.sh)");
    let text = std::fs::read_to_string(&trace).unwrap();
    std::fs::remove_file(&trace).unwrap();
    (out, text)
}

/// A refusal: status 1, nothing on stdout, one line on stderr holding `why`, and no file of
/// the tree opened or even looked at.
fn assert_refused_untouched(env: &TestEnv, args: &[&str], why: &str) {
    let (out, trace) = traced(env, args);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
    assert_eq!(stdout(&out), "", "{args:?}");
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(
        err.contains("not trusted, no file checked"),
        "{args:?}: {err}"
    );
    assert!(err.contains(why), "{args:?}: wanted {why:?} in {err}");
    let touched: Vec<&str> = trace.lines().filter(|l| touches_tree(l)).collect();
    assert!(
        touched.is_empty(),
        "{args:?} touched the tree: {touched:#?}"
    );
}

/// Whether a traced call names the tree, its directories or its files (opened by name
/// beneath a directory descriptor, so by their last component too).
fn touches_tree(line: &str) -> bool {
    ["\"dist/", "\"dist\"", "\"a.txt\"", "\"sub\"", "\"b.txt\""]
        .iter()
        .any(|n| line.contains(n))
}

fn ssh_check<'a>(allowed: &'a str, signer: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["check", "--allowed-signers", allowed, "--signer", signer];
    args.extend_from_slice(more);
    args.push("dist.b3");
    args
}

#[test]
fn ssh_signatures_of_each_key_type_verify_and_name_the_signer() {
    let env = TestEnv::new();
    tree(&env);
    for kind in ["ed25519", "ecdsa", "rsa"] {
        let public = ssh_key(&env, kind, kind);
        std::fs::write(
            env.root().join("allowed"),
            format!("alice@example.com {public}\n"),
        )
        .unwrap();
        ssh_sign(&env, kind, "b3tree", "dist.b3");
        let args = ssh_check("allowed", "alice@example.com", &[]);
        let (out, trace) = traced(&env, &args);
        assert_eq!(out.status.code(), Some(0), "{kind}: {}", stderr(&out));
        assert_eq!(stdout(&out), "dist/a.txt: OK\ndist/sub/b.txt: OK\n");
        let fp = fingerprint(&env, kind);
        assert_stderr_contains(&out, "signature: dist.b3 signed by alice@example.com with ");
        assert_stderr_contains(
            &out,
            &format!("{fp} (namespace b3tree; allowed by allowed:1)"),
        );
        // The positive control of the refusals' trace: a check that runs opens the tree.
        assert!(trace.lines().any(touches_tree), "{trace}");
        assert!(ssh_keygen_accepts(
            &env,
            "allowed",
            "alice@example.com",
            "dist.b3.sig",
            "dist.b3"
        ));
    }
}

/// Allowed-signers files for alice's key: `wild` (a pattern with a negation), `expired`,
/// `future`, `spaces` (other namespaces), `broken` (a malformed option), `allowed` (alice,
/// and bob with carol's key) and `mended` (a malformed line, then a good one).
fn allowed_signers_files(env: &TestEnv) {
    let alice = std::fs::read_to_string(env.root().join("alice.pub")).unwrap();
    let carol = ssh_key(env, "carol", "ed25519");
    for (name, options) in [
        ("wild", "*@example.com,!mallory@example.com"),
        ("expired", "alice@example.com valid-before=\"20200101Z\""),
        ("future", "alice@example.com valid-after=\"29990101\""),
        ("spaces", "alice@example.com namespaces=\"file,git\""),
        ("broken", "alice@example.com valid-before=20200101"),
    ] {
        env.file(name, format!("{options} {alice}"));
    }
    env.file(
        "allowed",
        format!("alice@example.com {alice}bob@example.com {carol}\n"),
    );
    // A malformed line admits nothing, and the search goes on past it (as ssh-keygen's).
    env.file(
        "mended",
        format!("alice@example.com valid-before=20200101 {alice}alice@example.com {alice}"),
    );
}

#[test]
fn each_signer_refusal_is_one_line_before_any_file_is_opened_as_ssh_keygen_decides() {
    let env = signed_by_alice();
    allowed_signers_files(&env);
    // Accepted: listed, by wildcard only, after a malformed line; ssh-keygen agrees.
    for (allowed, signer) in [
        ("allowed", "alice@example.com"),
        ("wild", "dave@example.com"),
        ("mended", "alice@example.com"),
    ] {
        let out = env.run(&ssh_check(allowed, signer, &[]));
        assert_eq!(out.status.code(), Some(0), "{allowed}: {}", stderr(&out));
        assert!(ssh_keygen_accepts(
            &env,
            allowed,
            signer,
            "dist.b3.sig",
            "dist.b3"
        ));
    }
    // Refused by who may sign, when and where: ssh-keygen refuses each too.
    for (allowed, signer, why) in [
        (
            "allowed",
            "mallory@example.com",
            "lists for \"alice@example.com\", not for \"mallory@example.com\"",
        ),
        (
            "allowed",
            "bob@example.com",
            "lists for \"alice@example.com\", not for \"bob@example.com\"",
        ),
        (
            "wild",
            "mallory@example.com",
            "which wild lists for \"*@example.com,!mallory@example.com\", not for",
        ),
        (
            "expired",
            "alice@example.com",
            "expired:1: the key has expired (valid-before=\"20200101Z\")",
        ),
        (
            "future",
            "alice@example.com",
            "future:1: the key is not valid yet (valid-after=\"29990101\")",
        ),
        (
            "spaces",
            "alice@example.com",
            "may sign only in namespaces \"file,git\", not \"b3tree\"",
        ),
        (
            "broken",
            "alice@example.com",
            "broken:1: bad options: missing start quote",
        ),
    ] {
        assert_refused_untouched(&env, &ssh_check(allowed, signer, &[]), why);
        assert!(
            !ssh_keygen_accepts(&env, allowed, signer, "dist.b3.sig", "dist.b3"),
            "{allowed}"
        );
    }
}

/// A tree, its manifest signed by `alice` (ed25519) in namespace b3tree, and `allowed`
/// listing alice.
fn signed_by_alice() -> TestEnv {
    signed("alice", "alice@example.com")
}

/// A tree, its manifest signed by the ed25519 key `key` in namespace b3tree, and `allowed`
/// listing that key for `identity`.
fn signed(key: &str, identity: &str) -> TestEnv {
    let env = TestEnv::new();
    tree(&env);
    let public = ssh_key(&env, key, "ed25519");
    env.file("allowed", format!("{identity} {public}\n"));
    ssh_sign(&env, key, "b3tree", "dist.b3");
    env
}

#[test]
fn each_signature_refusal_is_one_line_before_any_file_is_opened_as_ssh_keygen_decides() {
    let env = signed_by_alice();
    // A key listed for no one.
    ssh_key(&env, "eve", "ed25519");
    ssh_sign(&env, "eve", "b3tree", "dist.b3");
    std::fs::rename(env.root().join("dist.b3.sig"), env.root().join("eve.sig")).unwrap();
    assert_refused_untouched(
        &env,
        &ssh_check("allowed", "alice@example.com", &["--signature=eve.sig"]),
        "which allowed does not list for \"alice@example.com\"",
    );
    assert!(!ssh_keygen_accepts(
        &env,
        "allowed",
        "alice@example.com",
        "eve.sig",
        "dist.b3"
    ));
    // Refused by the signature itself.
    ssh_sign(&env, "alice", "file", "dist.b3");
    assert_refused_untouched(
        &env,
        &ssh_check("allowed", "alice@example.com", &[]),
        "made for namespace \"file\", not \"b3tree\"",
    );
    // ... which is the one asked for with --namespace.
    let out = env.run(&ssh_check(
        "allowed",
        "alice@example.com",
        &["--namespace", "file"],
    ));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// A manifest changed by one byte, the signature of another manifest, a truncated, empty
/// or missing signature: each refused in one line before any file is opened.
#[test]
fn a_changed_manifest_or_a_broken_signature_is_one_line_before_any_file_is_opened() {
    let env = signed_by_alice();
    ssh_sign(&env, "alice", "b3tree", "dist.b3");
    let signed = std::fs::read(env.root().join("dist.b3")).unwrap();
    // One byte of the manifest changed (a digest's last hex digit).
    let mut changed = signed.clone();
    let at = changed.iter().position(|&b| b == b' ').unwrap() - 1;
    changed[at] = if changed[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(env.root().join("dist.b3"), &changed).unwrap();
    assert_refused_untouched(
        &env,
        &ssh_check("allowed", "alice@example.com", &[]),
        "signature dist.b3.sig does not match manifest dist.b3",
    );
    assert!(!ssh_keygen_accepts(
        &env,
        "allowed",
        "alice@example.com",
        "dist.b3.sig",
        "dist.b3"
    ));
    std::fs::write(env.root().join("dist.b3"), &signed).unwrap();
    // The signature of another manifest.
    env.file(
        "other.b3",
        "0000000000000000000000000000000000000000000000000000000000000000  x\n",
    );
    ssh_sign(&env, "alice", "b3tree", "other.b3");
    assert_refused_untouched(
        &env,
        &ssh_check(
            "allowed",
            "alice@example.com",
            &["--signature=other.b3.sig"],
        ),
        "signature other.b3.sig does not match manifest dist.b3",
    );
    // A truncated signature, and none at all.
    let pem = std::fs::read_to_string(env.root().join("dist.b3.sig")).unwrap();
    env.file("short.sig", &pem[..pem.len() / 2]);
    assert_refused_untouched(
        &env,
        &ssh_check("allowed", "alice@example.com", &["--signature=short.sig"]),
        "signature short.sig: not an SSH signature",
    );
    env.file("empty.sig", "");
    assert_refused_untouched(
        &env,
        &ssh_check("allowed", "alice@example.com", &["--signature=empty.sig"]),
        "signature empty.sig: empty",
    );
    std::fs::remove_file(env.root().join("dist.b3.sig")).unwrap();
    assert_refused_untouched(
        &env,
        &ssh_check("allowed", "alice@example.com", &[]),
        "signature dist.b3.sig: No such file or directory",
    );
}

#[test]
fn a_refusal_on_github_actions_is_also_an_annotation_on_the_manifest() {
    let env = signed_by_alice();
    let summary = env.root().join("summary.md");
    let (out, md) = on_github(
        env.cmd()
            .args(ssh_check("allowed", "mallory@example.com", &[]))
            .env_remove("GITHUB_WORKSPACE"),
        &summary,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with(
            "::error file=dist.b3,title=b3tree check%3A manifest not trusted::manifest dist.b3 \
             not trusted, no file checked: signed by ssh-ed25519 SHA256:"
        ),
        "{}",
        stderr(&out)
    );
    // The job's page says it too: the manifest, why, and that nothing was checked.
    assert!(
        md.starts_with("### b3tree check dist.b3: manifest not trusted\n\nsigned by ssh-ed25519"),
        "{md}"
    );
    assert!(
        md.contains("lists for \"alice&#64;example.com\", not for \"mallory&#64;example.com\""),
        "{md}"
    );
    assert!(md.contains("No file of the tree was checked."), "{md}");
}

/// Certificates (`cert-authority` lines) are not supported: a signature made with one is
/// refused with that reason, before any file is opened — not verified, and not reported as
/// a malformed signature (ssh-keygen itself accepts it).
#[test]
fn a_signature_made_with_a_certificate_is_refused_with_the_reason() {
    let env = TestEnv::new();
    tree(&env);
    let ca = ssh_key(&env, "ca", "ed25519");
    ssh_key(&env, "user", "ed25519");
    tool(
        Command::new("ssh-keygen")
            .args([
                "-q",
                "-s",
                "ca",
                "-I",
                "id",
                "-n",
                "alice@example.com",
                "user.pub",
            ])
            .current_dir(env.root()),
    );
    ssh_sign(&env, "user-cert.pub", "b3tree", "dist.b3");
    env.file(
        "allowed",
        format!("alice@example.com cert-authority {ca}\n"),
    );
    assert!(ssh_keygen_accepts(
        &env,
        "allowed",
        "alice@example.com",
        "dist.b3.sig",
        "dist.b3"
    ));
    assert_refused_untouched(
        &env,
        &ssh_check("allowed", "alice@example.com", &[]),
        "made with an SSH certificate, which b3tree does not verify",
    );
}

/// A minisign key pair `NAME.pub`, `NAME.sec` without a password; its public key line.
fn minisign_key(env: &TestEnv, name: &str) -> String {
    tool(
        Command::new("minisign")
            .args([
                "-G",
                "-W",
                "-p",
                &format!("{name}.pub"),
                "-s",
                &format!("{name}.sec"),
            ])
            .current_dir(env.root()),
    );
    let text = std::fs::read_to_string(env.root().join(format!("{name}.pub"))).unwrap();
    text.lines().nth(1).unwrap().to_string()
}

fn minisign(env: &TestEnv, key: &str, extra: &[&str]) {
    tool(
        Command::new("minisign")
            .args(["-S", "-s", &format!("{key}.sec"), "-m", "dist.b3"])
            .args(extra)
            .current_dir(env.root()),
    );
}

/// The key ID minisign gives the public key in `file` (its comment line's last word).
fn minisign_key_id(env: &TestEnv, file: &str) -> String {
    let text = std::fs::read_to_string(env.root().join(file)).unwrap();
    let comment = text.lines().next().unwrap();
    comment.rsplit(' ').next().unwrap().to_string()
}

#[test]
fn minisign_signatures_verify_show_the_trusted_comment_and_refuse_before_any_open() {
    let env = TestEnv::new();
    tree(&env);
    let public = minisign_key(&env, "release");
    minisign_key(&env, "other");
    minisign(&env, "release", &["-t", "release 1.2.0"]);
    for key in ["release.pub", public.as_str()] {
        let (out, trace) = traced(&env, &["check", "--minisign-key", key, "dist.b3"]);
        assert_eq!(out.status.code(), Some(0), "{key}: {}", stderr(&out));
        assert_eq!(stdout(&out), "dist/a.txt: OK\ndist/sub/b.txt: OK\n");
        assert_stderr_contains(&out, "; trusted comment: release 1.2.0\n");
        assert!(trace.lines().any(touches_tree), "{trace}");
    }
    // A legacy signature (the whole manifest signed, not its hash) verifies too.
    minisign(&env, "release", &["-l", "-x", "legacy.minisig"]);
    let out = env.run(&[
        "check",
        "--minisign-key",
        "release.pub",
        "--signature=legacy.minisig",
        "dist.b3",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The key ID as minisign names it, in the refusal for another key.
    let id = minisign_key_id(&env, "release.pub");
    assert_refused_untouched(
        &env,
        &["check", "--minisign-key", "other.pub", "dist.b3"],
        &format!("made by minisign key {id}, not by the key given"),
    );
    // The trusted comment altered: the global signature no longer verifies.
    let sig = std::fs::read_to_string(env.root().join("dist.b3.minisig")).unwrap();
    env.file(
        "forged.minisig",
        sig.replace("release 1.2.0", "release 9.9.9"),
    );
    assert_refused_untouched(
        &env,
        &[
            "check",
            "--minisign-key",
            "release.pub",
            "--signature=forged.minisig",
            "dist.b3",
        ],
        "does not match manifest dist.b3",
    );
    env.file("short.minisig", &sig[..sig.len() / 2]);
    assert_refused_untouched(
        &env,
        &[
            "check",
            "--minisign-key",
            "release.pub",
            "--signature=short.minisig",
            "dist.b3",
        ],
        "not a minisign signature",
    );
    // One byte of the manifest changed, for both signature kinds.
    let mut m = std::fs::read(env.root().join("dist.b3")).unwrap();
    let last = m.len() - 2;
    m[last] ^= 1;
    std::fs::write(env.root().join("dist.b3"), &m).unwrap();
    for sig in ["dist.b3.minisig", "legacy.minisig"] {
        let flag = format!("--signature={sig}");
        assert_refused_untouched(
            &env,
            &["check", "--minisign-key", "release.pub", &flag, "dist.b3"],
            "does not match manifest dist.b3",
        );
    }
}

#[test]
fn signed_manifests_of_every_format_with_audit_shard_and_json() {
    let env = TestEnv::new();
    tree(&env);
    let public = ssh_key(&env, "k", "ed25519");
    env.file("allowed", format!("ci@example.com {public}\n"));
    let formats: [(&str, &[&str], &[&str]); 5] = [
        ("b3.b3", &[], &[]),
        ("tag.b3", &["--tag"], &[]),
        ("sha.sums", &["--algo", "sha256"], &["--algo", "sha256"]),
        ("zero.b3", &["-z"], &["-z"]),
        ("spec.mtree", &["--format", "mtree"], &[]),
    ];
    for (name, hash_flags, check_flags) in formats {
        // A spec describes its working directory: made and checked from dist/.
        let spec = name.ends_with("mtree");
        let (manifest, allowed, dir) = if spec {
            (format!("../{name}"), "../allowed", ".")
        } else {
            (name.to_string(), "allowed", "dist")
        };
        let mut args = if spec { vec!["-C", "dist"] } else { vec![] };
        args.extend_from_slice(&["hash", "-o", &manifest]);
        args.extend_from_slice(hash_flags);
        args.push(dir);
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        ssh_sign(&env, "k", "b3tree", name);
        let mut check = if spec { vec!["-C", "dist"] } else { vec![] };
        check.extend_from_slice(&["check", "--json", "--audit"]);
        check.extend_from_slice(check_flags);
        check.extend_from_slice(&["--allowed-signers", allowed, "--signer", "ci@example.com"]);
        check.push(&manifest);
        let out = env.run(&check);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        let summary = json_summary(&out);
        let sig = &summary["signatures"][0];
        assert_eq!(sig["scheme"], "ssh", "{name}");
        assert_eq!(sig["signer"], "ci@example.com", "{name}");
        assert_eq!(
            sig["key"],
            format!("ssh-ed25519 {}", fingerprint(&env, "k")),
            "{name}"
        );
        assert_eq!(sig["manifest"], manifest.as_str(), "{name}");
        // Each shard verifies the signature too, and together they verify every entry.
        let mut ok = 0;
        for k in ["0/2", "1/2"] {
            let mut c = check.clone();
            c.splice(c.len() - 1..c.len() - 1, ["--shard", k]);
            let out = env.run(&c);
            assert_eq!(out.status.code(), Some(0), "{name} {k}: {}", stderr(&out));
            let s = json_summary(&out);
            assert_eq!(s["signatures"][0]["signer"], "ci@example.com");
            ok += s["ok"].as_u64().unwrap();
        }
        assert_eq!(ok, summary["ok"].as_u64().unwrap(), "{name}");
    }
}

#[test]
fn a_signature_beside_the_manifest_is_mentioned_and_left_out_of_the_audit_once_verified() {
    let env = TestEnv::new();
    env.file("dist/a.txt", "alpha\n");
    // The manifest inside the tree it lists (hash leaves its own output out).
    let out = env.run(&["hash", "-o", "dist/SUMS.b3", "dist"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let public = ssh_key(&env, "k", "ed25519");
    env.file("allowed", format!("ci@example.com {public}\n"));
    ssh_sign(&env, "k", "b3tree", "dist/SUMS.b3");
    // Not asked to verify: said in one line; the signature is a file like any other.
    let out = env.run(&["check", "--audit", "dist/SUMS.b3"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("dist/SUMS.b3.sig: NEW\n"),
        "{}",
        stdout(&out)
    );
    assert_stderr_contains(
        &out,
        "note: dist/SUMS.b3.sig lies beside the manifest and was not verified (--allowed-signers",
    );
    // Verified: the signature is the manifest's own, as the manifest is.
    let verified = || {
        let mut args = vec!["check", "--audit"];
        args.extend(
            ssh_check("allowed", "ci@example.com", &[])
                .into_iter()
                .skip(1),
        );
        *args.last_mut().unwrap() = "dist/SUMS.b3";
        env.run(&args)
    };
    let out = verified();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "dist/a.txt: OK\n");
    assert!(!stderr(&out).contains("note:"), "{}", stderr(&out));
    // A new release over the old one: the old signature is stale, not listed (and said),
    // so the manifest can be signed again and the tree still verifies.
    env.file("dist/b.txt", "beta\n");
    for update in [false, true] {
        let mut args = vec!["hash", "-o", "dist/SUMS.b3", "dist"];
        if update {
            args.insert(1, "--update");
        }
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_stderr_contains(&out, "dist/SUMS.b3.sig: not hashed: ");
        let listed = std::fs::read_to_string(env.root().join("dist/SUMS.b3")).unwrap();
        assert!(!listed.contains("SUMS.b3.sig"), "{listed}");
        ssh_sign(&env, "k", "b3tree", "dist/SUMS.b3");
        let out = verified();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(stdout(&out), "dist/a.txt: OK\ndist/b.txt: OK\n");
    }
}

#[test]
fn stdin_and_fifo_manifests_are_read_once_and_usage_mistakes_are_named() {
    let env = signed("k", "ci@example.com");
    let signing = ["--allowed-signers", "allowed", "--signer", "ci@example.com"];
    // Standard input: verified with the signature named.
    let mut c = env.cmd();
    c.arg("check")
        .args(signing)
        .args(["--signature=dist.b3.sig", "-"]);
    c.stdin(std::fs::File::open(env.root().join("dist.b3")).unwrap());
    let out = run_with_timeout(&mut c, WAIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "dist/a.txt: OK\ndist/sub/b.txt: OK\n");
    // A FIFO, written once by a writer that then goes away.
    let fifo = env.root().join("m.fifo");
    mkfifo(&fifo);
    let text = std::fs::read(env.root().join("dist.b3")).unwrap();
    let writer = std::thread::spawn(move || std::fs::write(fifo, text).unwrap());
    let mut args = vec!["check"];
    args.extend_from_slice(&signing);
    args.extend_from_slice(&["--signature=dist.b3.sig", "m.fifo"]);
    let out = env.run(&args);
    join_within(writer, WAIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "dist/a.txt: OK\ndist/sub/b.txt: OK\n");
    // Usage mistakes: status 2, said.
    for (args, why) in [
        (
            &["check", "--signature", "dist.b3"][..],
            "--signature took dist.b3 as the signature",
        ),
        (
            &["check", "--signature=dist.b3.sig", "dist.b3"],
            "--signature needs who may sign",
        ),
        (
            &[
                "check",
                "--allowed-signers",
                "allowed",
                "--signer",
                "x",
                "-",
            ],
            "has no MANIFEST.sig beside it",
        ),
        (
            &[
                "check",
                "--minisign-key",
                "k",
                "--namespace",
                "x",
                "dist.b3",
            ],
            "--allowed-signers <FILE>",
        ),
        (
            &[
                "check",
                "--minisign-key",
                "k",
                "--signature=s",
                "dist.b3",
                "dist.b3",
            ],
            "one --signature FILE for several manifests",
        ),
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert_stderr_contains(&out, why);
    }
}

/// docs/hazards.md R27: a manifest rewritten in place while it is checked (its signed
/// version lists the tree's old content, the rewrite the new one) never passes: what is
/// parsed is the copy verified, so each run either fails the changed file against the
/// signed digest or refuses the rewritten bytes. Positive control: the rewrite alone passes.
#[test]
fn a_manifest_rewritten_while_checked_never_passes_on_its_unsigned_content() {
    let env = signed("k", "ci@example.com");
    let signed = std::fs::read(env.root().join("dist.b3")).unwrap();
    env.file("dist/a.txt", "ALPHA\n");
    let out = env.run(&["hash", "-o", "forged.b3", "dist"]);
    assert_eq!(out.status.code(), Some(0));
    let forged = std::fs::read(env.root().join("forged.b3")).unwrap();
    assert_eq!(forged.len(), signed.len());
    let out = env.run(&["check", "forged.b3"]);
    assert_eq!(out.status.code(), Some(0), "control: {}", stderr(&out));
    let path = env.root().join("dist.b3");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, path) = (stop.clone(), path.clone());
        std::thread::spawn(move || {
            use std::io::{Seek, Write};
            let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            let mut flip = false;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                f.rewind().unwrap();
                f.write_all(if flip { &forged } else { &signed }).unwrap();
                flip = !flip;
            }
        })
    };
    let mut outcomes = std::collections::BTreeMap::new();
    for _ in 0..100 {
        let out = env.run(&ssh_check("allowed", "ci@example.com", &[]));
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}{}",
            stdout(&out),
            stderr(&out)
        );
        let kind = if stderr(&out).contains("not trusted") {
            "refused"
        } else {
            assert!(
                stdout(&out).contains("dist/a.txt: FAILED"),
                "{}",
                stdout(&out)
            );
            "failed against the signed digest"
        };
        *outcomes.entry(kind).or_insert(0) += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    join_within(writer, WAIT);
    eprintln!("R27 outcomes: {outcomes:?}");
}

/// A signed manifest on a FIFO whose writer stalls half way: the signature check is
/// reading it, and one SIGINT ends the run within the bound the other signal tests use.
#[test]
fn sigint_while_a_signed_fifo_manifest_is_read_ends_the_run_at_once() {
    let env = TestEnv::new();
    tree(&env);
    let public = ssh_key(&env, "k", "ed25519");
    env.file("allowed", format!("x@example.com {public}\n"));
    ssh_sign(&env, "k", "b3tree", "dist.b3");
    let fifo = env.root().join("m.fifo");
    mkfifo(&fifo);
    let mut child = env
        .cmd()
        .args([
            "check",
            "--allowed-signers",
            "allowed",
            "--signer",
            "x@example.com",
        ])
        .args(["--signature=dist.b3.sig", "m.fifo"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let text = std::fs::read(env.root().join("dist.b3")).unwrap();
    let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    std::io::Write::write_all(&mut w, &text[..text.len() / 2]).unwrap();
    wait_blocked_in(&child, libc::SIGINT, &[libc::SYS_read]);
    let status = stops_within_promise(&mut child, libc::SIGINT);
    drop(w);
    assert_died_of(status, libc::SIGINT);
}

/// README's "Signed manifests": the signing side and the verifying side, as written there.
#[test]
fn readme_signed_manifest_recipe_runs_as_written() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("## Signed manifests")
        .nth(1)
        .expect("README has a section \"Signed manifests\"");
    let script: String = section
        .split("```sh\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a sh block")
        .to_string();
    let env = TestEnv::new();
    env.file("dist/app.js", "one\n");
    let bin_dir: PathBuf = bin().parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let out = run_with_timeout(
        Command::new("sh")
            .args(["-eu", "-c", &script])
            .env("PATH", path)
            .current_dir(env.root()),
        WAIT,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("dist/app.js: OK"), "{}", stdout(&out));
    assert_stderr_contains(&out, "signed by release@example.com");
}

/// A signed manifest is copied to a private file, not held in memory: checking a ~90 MB
/// manifest with its signature peaks within 16 MiB of checking it without.
#[test]
fn memory_stays_flat_for_a_large_signed_manifest() {
    use std::io::Write;
    let env = TestEnv::new();
    let file = std::fs::File::create(env.root().join("big.b3")).unwrap();
    let mut w = std::io::BufWriter::new(file);
    let long = "x".repeat(400);
    for i in 0..200_000 {
        writeln!(w, "{EMPTY_HASH}  gone/{long}{i:08}").unwrap();
    }
    w.into_inner().unwrap().sync_all().unwrap();
    let public = ssh_key(&env, "k", "ed25519");
    env.file("allowed", format!("ci@example.com {public}\n"));
    ssh_sign(&env, "k", "b3tree", "big.b3");
    let signing = ["--allowed-signers", "allowed", "--signer", "ci@example.com"];
    let mut args = vec!["check", "--quiet"];
    args.extend_from_slice(&signing);
    args.push("big.b3");
    // The least of three runs each: how full the pipeline's bounded window gets depends on
    // the machine's timing (15 to 40 MB here for either run); holding the 83 MB manifest
    // would show in every run.
    let least = |args: &[&str]| {
        (0..3)
            .map(|_| {
                let (code, peak) = peak_rss_kib(env.root(), args);
                // Every entry is missing: the run went through all of them.
                assert_eq!(code, Some(1));
                peak
            })
            .min()
            .unwrap()
    };
    let plain = least(&["check", "--quiet", "big.b3"]);
    let signed = least(&args);
    eprintln!("least peak RSS of 3: {plain} KiB unsigned, {signed} KiB signed");
    assert!(signed < plain + 16 * 1024, "{signed} KiB vs {plain} KiB");
}

/// A FIFO with no writer as any piece of signing material — the signature beside the
/// manifest (a tar archive keeps FIFOs), the allowed-signers file, the minisign key — is
/// refused at once as empty; it used to hold `check` until it was killed.
#[test]
fn a_fifo_as_signing_material_is_refused_at_once_not_waited_on() {
    let env = signed_by_alice();
    std::fs::rename(env.root().join("dist.b3.sig"), env.root().join("real.sig")).unwrap();
    mkfifo(&env.root().join("dist.b3.sig"));
    mkfifo(&env.root().join("fifo"));
    let minisign_public = minisign_key(&env, "release");
    let cases: [(Vec<&str>, &str); 3] = [
        (
            vec![
                "--allowed-signers",
                "allowed",
                "--signer",
                "alice@example.com",
            ],
            "signature dist.b3.sig: empty",
        ),
        (
            vec![
                "--signature=real.sig",
                "--allowed-signers",
                "fifo",
                "--signer",
                "alice@example.com",
            ],
            "allowed-signers file fifo: empty",
        ),
        (
            vec!["--minisign-key", "fifo"],
            "minisign public key fifo: empty",
        ),
    ];
    assert!(minisign_public.starts_with("RW"));
    for (flags, why) in cases {
        let mut cmd = env.cmd();
        cmd.args(["check"]).args(&flags).arg("dist.b3");
        let out = run_with_timeout(&mut cmd, Duration::from_secs(5));
        assert_eq!(out.status.code(), Some(1), "{flags:?}: {}", stderr(&out));
        assert_stderr_contains(
            &out,
            &format!("manifest dist.b3 not trusted, no file checked: {why}"),
        );
        assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    }
}
