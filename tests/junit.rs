//! `check --junit FILE`: the JUnit XML report CI systems render. Every report made here is
//! validated by the real xmllint against fixtures/junit.xsd (the subset of JUnit's format
//! the CI systems read), then read back with an XML parser to compare with the verdicts on
//! stdout.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;

/// Runs xmllint on `report`: well-formed, and valid against the JUnit schema.
fn assert_valid(report: &Path) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/junit.xsd");
    let out = run_with_timeout(
        Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(&schema)
            .arg(report),
        Duration::from_secs(30),
    );
    assert_exit(&out, 0);
}

/// Runs `check --junit r.xml ARGS`, expects exit `code`, validates the report: its path and
/// text.
fn check_with_report(env: &TestEnv, args: &[&str], code: i32) -> (std::path::PathBuf, String) {
    let out = env.run(&[&["check", "--junit", "r.xml"], args].concat());
    assert_exit(&out, code);
    let report = env.root().join("r.xml");
    assert_valid(&report);
    let xml = std::fs::read_to_string(&report).unwrap();
    (report, xml)
}

/// The report's failing test cases: (name, type, message), and its passing ones' names.
fn cases(xml: &str) -> (Vec<(String, String, String)>, Vec<String>) {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let (mut failing, mut passing) = (Vec::new(), Vec::new());
    for case in doc.descendants().filter(|n| n.has_tag_name("testcase")) {
        let name = case.attribute("name").unwrap().to_string();
        match case.first_element_child() {
            Some(f) if f.has_tag_name("failure") => failing.push((
                name,
                f.attribute("type").unwrap().to_string(),
                f.attribute("message").unwrap().to_string(),
            )),
            Some(_) => {}
            None => passing.push(name),
        }
    }
    (failing, passing)
}

/// The attribute `attr` of the first element `tag`.
fn attr(xml: &str, tag: &str, attr: &str) -> String {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let node = doc.descendants().find(|n| n.has_tag_name(tag)).unwrap();
    node.attribute(attr).unwrap().to_string()
}

/// FAILED, MISSING, NEW and MOVED entries are failing test cases whose message is check's
/// verdict line; the entries verified OK are one passing case that counts them.
#[test]
fn each_failure_is_a_test_case_with_the_verdict_line_and_passes_are_counted() {
    let env = TestEnv::new();
    for i in 0..6 {
        env.file(format!("d/f{i}"), format!("{i}\n"));
    }
    assert_exit(&env.run(&["hash", "-q", "-o", "m.b3", "d"]), 0);
    env.file("d/f0", "changed\n");
    std::fs::remove_file(env.root().join("d/f1")).unwrap();
    std::fs::rename(env.root().join("d/f2"), env.root().join("d/g2")).unwrap();
    env.file("d/new <&\"'>]]>", "new\n");
    let out = env.run(&["check", "--audit", "--junit", "r.xml", "m.b3"]);
    assert_exit(&out, 1);
    let report = env.root().join("r.xml");
    assert_valid(&report);
    let xml = std::fs::read_to_string(&report).unwrap();
    let (failing, passing) = cases(&xml);
    let lines: Vec<String> = failing.iter().map(|(_, _, m)| m.clone()).collect();
    let mut printed: Vec<String> = stdout(&out)
        .lines()
        .filter(|l| !l.ends_with(": OK"))
        .map(String::from)
        .collect();
    printed.sort();
    let mut listed = lines.clone();
    listed.sort();
    assert_eq!(listed, printed, "{xml}");
    let kinds: Vec<&str> = failing.iter().map(|(_, k, _)| k.as_str()).collect();
    for kind in ["FAILED", "MISSING", "NEW", "MOVED"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert_eq!(passing, ["3 entries verified OK"]);
    assert_eq!(attr(&xml, "testsuite", "name"), "m.b3");
    assert_eq!(attr(&xml, "testsuite", "failures"), "4");
    assert_eq!(attr(&xml, "testsuite", "tests"), "5");
    // The report is not NEW to the next audit, and a clean tree passes.
    std::fs::rename(env.root().join("r.xml"), env.root().join("d/r.xml")).unwrap();
    let again = env.run(&["check", "--audit", "--junit", "d/r.xml", "m.b3"]);
    assert!(!stdout(&again).contains("r.xml"), "{}", stdout(&again));
}

/// A report stays bounded whatever the tree: at most 1000 failures one by one, then one
/// case counting the rest; still valid.
#[test]
fn a_report_lists_at_most_1000_failures_then_counts_the_rest() {
    let env = TestEnv::new();
    let mut manifest = String::new();
    for i in 0..1200 {
        manifest.push_str(&format!("{}  gone/{i:04}\n", "0".repeat(64)));
    }
    env.file("m.b3", &manifest);
    let (report, xml) = check_with_report(&env, &["m.b3"], 1);
    let (failing, passing) = cases(&xml);
    assert_eq!(failing.len(), 1001);
    assert!(passing.is_empty());
    let (name, _, message) = failing.last().unwrap();
    assert_eq!(name, "more failures");
    assert!(message.starts_with("200 more entries failed"), "{message}");
    assert!(xml.len() < 250_000, "{} bytes", xml.len());
    // Names of a megabyte are cut in the report (it stays bounded whatever the names).
    let mut manifest = String::new();
    for i in 0..3 {
        manifest.push_str(&format!("{}  {i}{}\n", "0".repeat(64), "y".repeat(1 << 20)));
    }
    env.file("big.b3", &manifest);
    let out = env.run(&["check", "--junit", "r.xml", "big.b3"]);
    assert_exit(&out, 1);
    assert_valid(&report);
    let len = std::fs::metadata(&report).unwrap().len();
    assert!(len < 64 << 10, "{len} bytes");
}

/// Names that are not XML (controls, bytes that are not UTF-8) or would be markup, and one
/// that would be a CI command: the report stays well-formed and the names inert.
#[test]
fn hostile_names_leave_the_report_well_formed() {
    let env = TestEnv::new();
    let names: [&[u8]; 4] = [
        b"ctl\x01\x1b[31m\x7f",
        b"bad\xff\xfe",
        b"]]><x/>&amp;",
        b"::error::x",
    ];
    for name in names {
        env.file([b"t/".as_slice(), name].concat(), "x");
    }
    assert_exit(&env.run(&["hash", "-q", "-o", "m.b3", "t"]), 0);
    for name in names {
        env.file([b"t/".as_slice(), name].concat(), "changed");
    }
    let (_, xml) = check_with_report(&env, &["m.b3"], 1);
    let (failing, _) = cases(&xml);
    assert_eq!(failing.len(), 4);
    for (name, _, message) in &failing {
        assert!(!name.chars().any(char::is_control), "{name:?}");
        assert!(message.starts_with(name.as_str()), "{message:?}");
    }
    assert!(xml.contains("\\x1b[31m"), "{xml}");
}

/// A run that fails where no entry does (a line too long) or cannot run at all (no
/// manifest there) still says so in the report, as an error: a failed step never shows a
/// passing report. One manifest per suite when several are checked.
#[test]
fn runs_that_fail_beyond_their_entries_are_errors_and_several_manifests_several_suites() {
    let env = TestEnv::new();
    env.file("a", "a\n");
    assert_exit(&env.run(&["hash", "-q", "-o", "m.b3", "a"]), 0);
    let long = format!("{}  {}\n", "0".repeat(64), "x".repeat(5 << 20));
    let m = std::fs::read_to_string(env.root().join("m.b3")).unwrap();
    env.file("long.b3", format!("{m}{long}"));
    let out = env.run(&["check", "--junit", "r.xml", "long.b3", "m.b3"]);
    assert_exit(&out, 1);
    let report = env.root().join("r.xml");
    assert_valid(&report);
    let xml = std::fs::read_to_string(&report).unwrap();
    assert_eq!(attr(&xml, "testsuites", "errors"), "1", "{xml}");
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suites: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .map(|n| n.attribute("name").unwrap())
        .collect();
    assert_eq!(suites, ["long.b3", "m.b3"]);
    // No manifest at all: status 2, and the report says why.
    let out = env.run(&["check", "--junit", "r.xml", "gone.b3"]);
    assert_exit(&out, 2);
    assert_valid(&report);
    let xml = std::fs::read_to_string(&report).unwrap();
    let error = attr(&xml, "error", "message");
    assert!(error.starts_with("cannot read manifest gone.b3"), "{error}");
    // All OK: one passing case, no failure.
    let out = env.run(&["check", "--junit", "r.xml", "m.b3"]);
    assert_exit(&out, 0);
    let xml = std::fs::read_to_string(&report).unwrap();
    assert_eq!(
        cases(&xml),
        (vec![], vec!["1 entry verified OK".to_string()])
    );
}

/// The report is never written over what the check reads, nor into a directory.
#[test]
fn the_report_is_refused_over_a_manifest_or_a_directory() {
    let env = TestEnv::new();
    env.file("a", "a\n");
    assert_exit(&env.run(&["hash", "-q", "-o", "m.b3", "a"]), 0);
    let before = std::fs::read_to_string(env.root().join("m.b3")).unwrap();
    let out = env.run(&["check", "--junit", "m.b3", "m.b3"]);
    assert_exit(&out, 2);
    assert_stderr_contains(&out, "--junit m.b3: a file this check reads");
    assert_left_as_it_was(&env.root().join("m.b3"), &before);
    std::fs::create_dir(env.root().join("dir")).unwrap();
    let out = env.run(&["check", "--junit", "dir", "m.b3"]);
    assert_exit(&out, 2);
    assert_stderr_contains(&out, "--junit");
}

/// A tree spec's differences are test cases too.
#[test]
fn a_tree_spec_check_writes_the_report() {
    let env = TestEnv::new();
    env.file("t/data", "d\n");
    write_mode(env.root().join("t/run.sh"), "#!/bin/sh\n", 0o755);
    let made = env.run(&[
        "hash", "-q", "-C", "t", "--format", "mtree", "-o", "../spec", ".",
    ]);
    assert_exit(&made, 0);
    chmod(env.root().join("t/run.sh"), 0o644);
    let out = env.run(&["check", "-C", "t", "--junit", "../r.xml", "../spec"]);
    assert_exit(&out, 1);
    let report = env.root().join("r.xml");
    assert_valid(&report);
    let xml = std::fs::read_to_string(&report).unwrap();
    let (failing, _) = cases(&xml);
    assert_eq!(failing.len(), 1, "{xml}");
    assert_eq!(failing[0].2, "run.sh: FAILED (mode 0755 → 0644)");
}

/// Ctrl-C: the run stops within its promise and the report says it was interrupted, with
/// what was verified before.
#[test]
fn an_interrupted_check_writes_a_report_that_says_so() {
    let env = TestEnv::new();
    env.file("a", "a\n");
    huge_sparse_file(&env, "sparse");
    let a = blake3::hash(b"a\n").to_hex();
    env.file("m.b3", format!("{a}  a\n{}  sparse\n", "0".repeat(64)));
    let mut child = env
        .cmd()
        .args(["check", "--jobs", "1", "--junit", "r.xml", "m.b3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The first verdict is out, the second file being read.
    let mut first = String::new();
    let mut verdicts = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut verdicts, &mut first).unwrap();
    assert_eq!(first, "a: OK\n");
    wait_until_open(&child, "sparse");
    let status = stops_within_promise(&mut child, libc::SIGINT);
    assert_died_of(status, libc::SIGINT);
    let report = env.root().join("r.xml");
    assert_valid(&report);
    let xml = std::fs::read_to_string(&report).unwrap();
    assert!(
        attr(&xml, "error", "message").starts_with("interrupted"),
        "{xml}"
    );
    assert_eq!(cases(&xml).1, ["1 entry verified OK"]);
}

/// The report never replaces what the check reads, even when the run cannot start: the
/// manifests (also one named after a missing one), their signatures, the allowed-signers
/// file — nor a file that is not a report.
#[test]
fn the_report_never_replaces_a_manifest_a_signature_or_another_file() {
    let env = TestEnv::new();
    env.file("a", "a\n");
    assert_exit(&env.run(&["hash", "-q", "-o", "m.b3", "a"]), 0);
    let manifest = std::fs::read_to_string(env.root().join("m.b3")).unwrap();
    env.file("m.b3.sig", "a signature\n");
    env.file("signers", "me ssh-ed25519 AAAA\n");
    let attempts: [&[&str]; 4] = [
        &["check", "--junit", "m.b3", "m.b3", "gone.b3"],
        &["check", "--shard", "auto", "--junit", "m.b3", "m.b3"],
        &[
            "check",
            "--allowed-signers",
            "signers",
            "--signer",
            "me",
            "--junit",
            "m.b3.sig",
            "m.b3",
        ],
        &[
            "check",
            "--allowed-signers",
            "signers",
            "--signer",
            "me",
            "--junit",
            "signers",
            "m.b3",
        ],
    ];
    for args in attempts {
        let out = env.run(args);
        assert_exit(&out, 2);
        assert_stderr_contains(&out, "a file this check reads");
    }
    assert_left_as_it_was(&env.root().join("m.b3"), &manifest);
    assert_left_as_it_was(&env.root().join("m.b3.sig"), "a signature\n");
    assert_left_as_it_was(&env.root().join("signers"), "me ssh-ed25519 AAAA\n");
    let out = env.run(&["check", "--junit", "a", "m.b3"]);
    assert_exit(&out, 2);
    assert_stderr_contains(&out, "--junit a: the file exists and is not an XML report");
    assert_left_as_it_was(&env.root().join("a"), "a\n");
}

/// A run that ends before its report is complete (stdout gone) leaves a failing report,
/// never the earlier passing one; a report that cannot be written at all ends the run
/// before any file is read. Each failure's text, which GitLab shows, is the verdict line.
#[test]
fn a_failed_run_never_leaves_a_passing_report_behind() {
    let env = TestEnv::new();
    env.file("a", "a\n");
    assert_exit(&env.run(&["hash", "-q", "-o", "m.b3", "a"]), 0);
    assert_exit(&env.run(&["check", "--junit", "r.xml", "m.b3"]), 0);
    env.file("a", "changed\n");
    let full = std::fs::File::create("/dev/full").unwrap();
    let out = env
        .cmd()
        .args(["check", "--junit", "r.xml", "m.b3"])
        .stdout(full)
        .output()
        .unwrap();
    assert_exit(&out, 2);
    let report = env.root().join("r.xml");
    assert_valid(&report);
    let xml = std::fs::read_to_string(&report).unwrap();
    assert_eq!(attr(&xml, "testsuites", "errors"), "1", "{xml}");
    assert!(
        attr(&xml, "error", "message").starts_with("cannot write stdout"),
        "{xml}"
    );
    // Nowhere to write it: said before any verdict.
    let out = env.run(&["check", "--junit", "no/such/dir/r.xml", "m.b3"]);
    assert_exit(&out, 2);
    assert_eq!(stdout(&out), "");
    // The failure's text is the verdict line, then where it is listed.
    let out = env.run(&["check", "--junit", "r.xml", "m.b3"]);
    assert_exit(&out, 1);
    let xml = std::fs::read_to_string(&report).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert_eq!(failure.text(), Some("a: FAILED\nlisted at m.b3:1"));
}
