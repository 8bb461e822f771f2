//! Property tests: escape → parse round trips over arbitrary names; hash → check on random
//! trees with awkward names; results independent of --jobs.

use std::collections::BTreeMap;

use b3tree::manifest::read::{Line, parse_line};
use b3tree::manifest::write::format_line;
use b3tree::names::escape::Escaping;
use proptest::prelude::*;

use crate::common::*;

proptest! {
    #[test]
    fn any_name_round_trips_through_a_manifest_line(
        name in proptest::collection::vec(1u8..=255, 1..64),
        tag in any::<bool>(),
        seed in any::<[u8; 8]>(),
    ) {
        let hash = blake3::hash(&seed);
        for esc in [Escaping::Manifest, Escaping::Terminal] {
            let mut line = Vec::new();
            format_line(&mut line, &name, &hash.into(), tag.then_some("BLAKE3"), esc);
            prop_assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
            match parse_line(&line) {
                Line::Entry(e) => {
                    prop_assert_eq!(&e.name, &name);
                    prop_assert_eq!(e.hash.as_bytes(), hash.as_bytes());
                    prop_assert_eq!(e.tagged(), tag);
                }
                other => prop_assert!(false, "{:?} from {:?}", other, line),
            }
        }
    }

    #[test]
    fn parser_never_panics_and_never_accepts_nul(line in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Line::Entry(e) = parse_line(&line) {
            prop_assert!(!e.name.is_empty() && !e.name.contains(&0));
        }
    }
}

/// Names that stress every escaping rule, used to build random trees.
fn awkward_component() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[a-z]{1,6}".prop_map(String::into_bytes),
        Just(b"line\nfeed".to_vec()),
        Just(b"cr\rname".to_vec()),
        Just(b"back\\slash".to_vec()),
        Just(b"two  spaces".to_vec()),
        Just(b" lead".to_vec()),
        Just(b"paren) = x".to_vec()),
        Just(b"esc\x1bname".to_vec()),
        Just(b"bad\xff\xfe".to_vec()),
        Just("\u{e9}t\u{e9}".as_bytes().to_vec()),
    ]
}

fn random_tree() -> impl Strategy<Value = BTreeMap<Vec<u8>, Vec<u8>>> {
    proptest::collection::btree_map(
        proptest::collection::vec(awkward_component(), 1..3)
            .prop_map(|c| c.join(&b'/'))
            .prop_map(|mut p| {
                // Files live under "t/", with a suffix so no file name is also a directory.
                let mut full = b"t/".to_vec();
                full.append(&mut p);
                full.extend_from_slice(b".f");
                full
            }),
        proptest::collection::vec(any::<u8>(), 0..3000),
        1..12,
    )
}

fn write_tree(env: &TestEnv, tree: &BTreeMap<Vec<u8>, Vec<u8>>) {
    for (name, data) in tree {
        env.file(name, data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn hash_then_check_passes_and_one_changed_byte_fails_exactly_that_file(
        tree in random_tree(),
        pick in any::<prop::sample::Index>(),
    ) {
        let env = TestEnv::new();
        write_tree(&env, &tree);
        let out = env.run(&["hash", "-q", "-o", "m.b3", "t"]);
        prop_assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let out = env.run(&["check", "--audit", "m.b3"]);
        prop_assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
        prop_assert_eq!(stdout(&out).matches(": OK\n").count(), tree.len());

        let (victim, data) = tree.iter().nth(pick.index(tree.len())).unwrap();
        let mut changed = data.clone();
        match changed.first_mut() {
            Some(b) => *b ^= 1,
            None => changed.push(0),
        }
        env.file(victim, &changed);
        let out = env.run(&["check", "--quiet", "m.b3"]);
        prop_assert_eq!(out.status.code(), Some(1));
        let text = stdout(&out);
        let failed = text.lines().filter(|l| l.ends_with(": FAILED")).count();
        prop_assert_eq!(failed, 1, "{}", text);
        prop_assert_eq!(text.lines().count(), 1);
    }

    #[test]
    fn adding_removing_and_renaming_give_new_missing_and_moved(tree in random_tree()) {
        prop_assume!(tree.len() >= 3);
        let env = TestEnv::new();
        // Distinct contents, so a rename is recognisable as MOVED.
        let tree: BTreeMap<Vec<u8>, Vec<u8>> =
            tree.into_iter().enumerate().map(|(i, (k, mut v))| { v.extend_from_slice(format!("#{i}").as_bytes()); (k, v) }).collect();
        write_tree(&env, &tree);
        prop_assert_eq!(env.run(&["hash", "-q", "-o", "m.b3", "t"]).status.code(), Some(0));
        let names: Vec<&Vec<u8>> = tree.keys().collect();
        let p = |n: &[u8]| env.root().join(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(n));
        std::fs::remove_file(p(names[0])).unwrap();
        let mut renamed = names[1].clone();
        renamed.extend_from_slice(b".renamed");
        std::fs::rename(p(names[1]), p(&renamed)).unwrap();
        env.file("t/brand-new.f", "new content that is in no other file");
        let out = env.run(&["check", "--audit", "--quiet", "--json", "m.b3"]);
        prop_assert_eq!(out.status.code(), Some(1));
        let recs: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let kind = |k: &str| recs.iter().filter(|r| r["type"] == k || r["status"] == k).count();
        prop_assert_eq!(kind("new"), 1);
        prop_assert_eq!(kind("moved"), 1);
        prop_assert_eq!(kind("missing"), 1);
        prop_assert_eq!(kind("ok"), tree.len() - 2);
    }

    #[test]
    fn output_is_independent_of_jobs_queue_and_max_open(tree in random_tree()) {
        let env = TestEnv::new();
        write_tree(&env, &tree);
        let reference = env.run(&["hash", "-q", "--jobs", "1", "t"]);
        prop_assert_eq!(reference.status.code(), Some(0));
        for args in [["--jobs", "3"], ["--queue", "1"], ["--max-open", "1"], ["--batch", "1"]] {
            let out = env.run(&["hash", "-q", args[0], args[1], "t"]);
            prop_assert_eq!(&out.stdout, &reference.stdout, "{:?}", args);
        }
    }
}
