//! The sections of the man pages that `--help` does not have: EXAMPLES, EXIT STATUS, the
//! formats in brief (hash and check), SEE ALSO. Written as roff source here, next to the
//! clap definition the rest of each page comes from (`commands::docs`).

/// One example: the command, and what it does.
type Example = (&'static str, &'static str);

/// The extra roff sections of the page of `command` (None: the top page, `b3tree(1)`).
pub(super) fn sections(command: Option<&str>) -> String {
    let (examples, status, format): (&[Example], &[(&str, &str)], &str) = match command {
        None => (TOP_EXAMPLES, HASH_STATUS, ""),
        Some("hash") => (HASH_EXAMPLES, HASH_STATUS, HASH_FORMAT),
        Some("check") => (CHECK_EXAMPLES, CHECK_STATUS, CHECK_FORMAT),
        Some("digest") => (DIGEST_EXAMPLES, HASH_STATUS, ""),
        Some("merge") => (MERGE_EXAMPLES, MERGE_STATUS, ""),
        Some("diff") => (DIFF_EXAMPLES, DIFF_STATUS, DIFF_FORMAT),
        Some("repair") => (REPAIR_EXAMPLES, REPAIR_STATUS, REPAIR_FORMAT),
        Some("bench") => (BENCH_EXAMPLES, HASH_STATUS, ""),
        Some(_) => (&[], SIMPLE_STATUS, ""),
    };
    let mut roff = String::new();
    if !examples.is_empty() {
        roff.push_str(".SH EXAMPLES\n");
        for (cmd, what) in examples {
            roff.push_str(&format!(".TP\n.B {}\n{}\n", escape(cmd), escape(what)));
        }
    }
    roff.push_str(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in status {
        roff.push_str(&format!(".TP\n.B {code}\n{}\n", escape(meaning)));
    }
    roff.push_str(format);
    roff.push_str(".SH \"SEE ALSO\"\n");
    let pages = [
        "b3tree",
        "b3tree-hash",
        "b3tree-check",
        "b3tree-digest",
        "b3tree-merge",
        "b3tree-diff",
        "b3tree-repair",
    ];
    let own = command.map_or("b3tree".to_string(), |c| format!("b3tree-{c}"));
    let others: Vec<String> = pages
        .iter()
        .filter(|p| **p != own)
        .map(|p| format!("\\fB{p}\\fR(1)"))
        .collect();
    roff.push_str(&format!(
        "{}, \\fBb3sum\\fR(1), \\fBsha256sum\\fR(1). The guide: docs/guide.md in the \
         sources.\n",
        others.join(", ")
    ));
    roff
}

/// Text for roff: backslashes doubled, and a line that would start with `.` or `'` (a
/// request) starts with the zero-width `\&` instead.
fn escape(text: &str) -> String {
    let text = text.replace('\\', "\\e").replace('-', "\\-");
    if text.starts_with('.') || text.starts_with('\'') {
        format!("\\&{text}")
    } else {
        text
    }
}

const TOP_EXAMPLES: &[Example] = &[
    (
        "b3tree hash -C dist -o ../dist.b3",
        "Hash the tree dist/ into a b3sum-compatible manifest.",
    ),
    (
        "b3tree check -C dist --audit ../dist.b3",
        "Verify it, and report files added (NEW) or moved (MOVED).",
    ),
    (
        "b3tree hash --update -o data.b3 data",
        "Re-hash a big tree, reading only the files that changed.",
    ),
    (
        "b3tree digest dist",
        "One digest for the whole tree (b3t1:...).",
    ),
];

const HASH_EXAMPLES: &[Example] = &[
    (
        "b3tree hash -C dist -o ../dist.b3",
        "Hash dist/ with names relative to it; the manifest is written atomically and is never hashed itself.",
    ),
    (
        "b3tree hash --algo sha256 FILE...",
        "The lines sha256sum writes.",
    ),
    (
        "git ls-files -z | b3tree hash --files-from - -0",
        "Hash exactly the files git tracks.",
    ),
    (
        "b3tree hash --update -o /backup/data.b3 /data",
        "Nightly: reuse the digests of files whose size, times and inode did not change.",
    ),
    (
        "b3tree hash --format mtree --algo sha256 -o dist.mtree dist",
        "A tree spec: every entry with its type and mode, links with their targets, empty directories; NetBSD mtree and bsdtar read it.",
    ),
    (
        "b3tree hash -C data --shard 2/4 -o ../shard-2.b3",
        "The third of four shards of a CI matrix; join them with b3tree merge.",
    ),
];

const CHECK_EXAMPLES: &[Example] = &[
    (
        "b3tree check -C dist --audit --quiet ../dist.b3",
        "Fail on any difference: FAILED, missing, NEW or MOVED files.",
    ),
    (
        "b3tree check -C /archive --quiet --subset 15% --max-duration 6h /var/lib/archive.b3",
        "A nightly slice of a big archive: the entries never verified, then those verified longest ago; the whole archive about once a week.",
    ),
    (
        "curl -sL URL/SHA256SUMS | b3tree check --algo sha256",
        "Verify a published checksum file read from standard input.",
    ),
    (
        "b3tree check -C dist --audit ../dist.mtree",
        "Verify a tree spec: each difference named (link target, mode, type, size, content), new entries of every kind.",
    ),
    (
        "b3tree check --allowed-signers allowed_signers --signer release@example.com dist.b3",
        "Verify who signed dist.b3 (ssh-keygen -Y sign -n b3tree wrote dist.b3.sig) before reading a line of it; then the tree.",
    ),
    (
        "b3tree check --minisign-key minisign.pub dist.b3",
        "The same for a minisign signature (dist.b3.minisig); its trusted comment is shown.",
    ),
    (
        "b3tree check --json m.b3 > report.jsonl",
        "One JSON object per entry, then a summary.",
    ),
    (
        "b3tree check --shard 1/4 --audit m.b3",
        "The second of four jobs that together verify the whole manifest.",
    ),
];

const DIGEST_EXAMPLES: &[Example] = &[
    ("b3tree digest dist", "The b3t1 digest of the tree."),
    (
        "b3tree digest --from dist.b3",
        "The same digest, computed from a manifest without reading the files.",
    ),
];

const MERGE_EXAMPLES: &[Example] = &[(
    "b3tree merge -o data.b3 shard-*.b3",
    "Join the shards of hash --shard K/N into the manifest one run would write.",
)];

const DIFF_EXAMPLES: &[Example] = &[
    (
        "b3tree diff v1.2.b3 v1.3.b3",
        "What changed between two releases: A, D, M and R lines, from the manifests alone.",
    ),
    (
        "b3tree diff --json old.mtree new.mtree",
        "Two tree specs: modes, link targets and types too, as JSON Lines records.",
    ),
];

const REPAIR_EXAMPLES: &[Example] = &[
    (
        "b3tree hash --outboard -o data.b3 data",
        "Keep the tree data of every file of 1 MiB or more beside the manifest (data.b3.b3tree-outboard).",
    ),
    (
        "b3tree repair --dry-run --from /mnt/mirror data.b3",
        "Say which byte ranges of which files are damaged and whether the mirror has them intact.",
    ),
    (
        "b3tree repair --from /mnt/mirror data.b3",
        "Mend them: only the damaged ranges are read from the mirror, each verified before it is written.",
    ),
];

const BENCH_EXAMPLES: &[Example] = &[
    (
        "b3tree bench data --jobs 1,2,4,8,16",
        "Time the hash pipeline over a sweep of worker counts (warm cache).",
    ),
    (
        "b3tree bench data --cache drop --plot jobs.svg",
        "The same with every cache dropped before each run (root), plotted.",
    ),
];

const HASH_STATUS: &[(&str, &str)] = &[
    ("0", "Everything hashed."),
    (
        "1",
        "Some entries are error records (unreadable, vanished, changed while hashing).",
    ),
    (
        "2",
        "Usage error, or the output cannot be written (disk full, stdout closed).",
    ),
    ("128+n", "Ended by signal n (130 for Ctrl-C)."),
];

const CHECK_STATUS: &[(&str, &str)] = &[
    (
        "0",
        "Every entry verified OK (with --audit: nothing new, missing or moved).",
    ),
    (
        "1",
        "An entry FAILED or is missing, NEW or MOVED; no valid line; --strict and a bad line; the manifest's signature or signer does not verify (then no file is read).",
    ),
    (
        "2",
        "Usage error, unreadable manifest, a manifest of another algorithm, output that cannot be written.",
    ),
    ("128+n", "Ended by signal n (130 for Ctrl-C)."),
];

const MERGE_STATUS: &[(&str, &str)] = &[
    ("0", "The shards joined into one manifest."),
    (
        "1",
        "Shards missing, doubled, overlapping or conflicting; inputs out of canonical order.",
    ),
    (
        "2",
        "Usage error, unreadable input, output that cannot be written.",
    ),
    ("128+n", "Ended by signal n."),
];

const DIFF_STATUS: &[(&str, &str)] = &[
    ("0", "No difference."),
    ("1", "The two inputs differ."),
    (
        "2",
        "Usage error; an input unreadable or malformed (named with its line); digests of two algorithms, or spec files with no digest in common, without --names-only; output that cannot be written.",
    ),
    ("128+n", "Ended by signal n."),
];

const REPAIR_STATUS: &[(&str, &str)] = &[
    (
        "0",
        "Every file examined is intact or was repaired (with --dry-run: can be).",
    ),
    (
        "1",
        "A file could not be repaired (the reason is on its line): the copy damaged there too or missing, a size that differs, a file that changed, outboard data that does not match the manifest.",
    ),
    (
        "2",
        "Usage error; no outboard beside the manifest; output that cannot be written.",
    ),
    (
        "128+n",
        "Ended by signal n; every range written was verified first, and the next run finishes the rest.",
    ),
];

const SIMPLE_STATUS: &[(&str, &str)] = &[
    ("0", "Done."),
    ("2", "Usage error, or the output cannot be written."),
];

const HASH_FORMAT: &str = r#".SH FORMAT
One line per file, in canonical order (names compared component by component, each by its bytes: a depth\-first walk with every directory sorted): 64 lowercase hex digits, two spaces, the name \(em what b3sum writes and b3sum \-\-check reads.
A name with a backslash, a newline or bytes that are not UTF\-8 is escaped and the line starts with a backslash, as b3sum does.
\-\-tag writes BLAKE3 (name) = hash; \-z ends lines with NUL; \-\-json writes JSON Lines.
.PP
\-\-format mtree writes a tree spec (mtree(5)) of one directory: #mtree, then one line per entry, ./path (the root is .) with names octal\-escaped, type, mode, size and the digest of a file (sha256digest, sha512digest, or blake3digest which only b3tree reads), the target of a link (link=).
.PP
With \-\-outboard, MANIFEST.b3tree\-outboard beside the manifest keeps the BLAKE3 tree data of every file of at least 1 MiB (see b3tree\-repair(1)); \-\-update keeps that of unchanged files. It is never hashed.
.PP
With \-\-update, MANIFEST.b3tree\-state beside the manifest keeps, per file, the digest with size, mtime, ctime, inode and filesystem identity, bound to the manifest's bytes; MANIFEST.b3tree\-journal.N files are the records of a stopped run, which the next run resumes from. Neither is ever hashed.
"#;

const DIFF_FORMAT: &str = r#".SH FORMAT
OLD and NEW are two manifests (any form check reads: b3sum and GNU lines, tags, \-z, SHA\-256 and SHA\-512) or two tree specs (b3tree, bsdtar, NetBSD mtree \-c and \-C); \- reads one from standard input. No file of any tree is read.
Names are compared in normal form (./a and a are one name); a shard manifest's comment line is no entry.
.PP
One line per difference, in canonical order of the name it starts with, tab\-separated as git diff \-\-name\-status writes them: A added, D removed, M modified, R old new (a name gone and another added with the same digest; several candidates paired in canonical order), T a spec entry's type changed. For specs, M also when mode, link target, size, uid, gid, uname, gname or device changed, and after a second tab what changed, in check's words.
.PP
Inputs in canonical order (what b3tree writes) are read as streams: memory holds the differences, not the entries. An input in another order is sorted in memory, up to 2,000,000 entries. An untagged line is BLAKE3 unless \-\-algo names another algorithm.
"#;

const REPAIR_FORMAT: &str = r#".SH FORMAT
The outboard (MANIFEST.b3tree\-outboard, written by hash \-\-outboard) holds, for each file of at least 1 MiB, the BLAKE3 chaining value of each group of 16 KiB (\-\-outboard\-group), 32 bytes per group. Nothing in it is trusted: a file's values are used only when their root equals the manifest's digest of that name.
.PP
repair reads the manifest in order. Each entry with outboard data is read once, group by group; a file whose groups all match is OK. For a damaged file, only its damaged groups are read from the same name under \-\-from DIR, each verified against the outboard; then they are written in place, the file synced and verified whole; its modification time is kept. A copy damaged at the same place, a size that differs, a file or copy that changes while read: the file is left as it was. Names resolve beneath the working directory (\-C DIR) and beneath DIR, with no symlink followed.
.PP
Lines: NAME: OK, REPAIRED (bytes A\(enB ...; N of M groups from DIR), WOULD REPAIR (...), NOT REPAIRED (why), STOPPED. Entries without outboard data are counted on stderr, not examined: check verifies them.
"#;

const CHECK_FORMAT: &str = r#".SH FORMAT
Reads what b3tree hash, b3sum, sha256sum and sha512sum write: HASH, two spaces (or space and asterisk), NAME; BSD tags (ALGO (name) = hash); escaped names; CRLF; # comments.
An untagged line of 64 hex digits is BLAKE3 unless \-\-algo says otherwise.
Names resolve beneath the working directory (or \-C DIR); ../ and absolute names outside it are refused.
.PP
A tree spec (mtree: first line #mtree, or \-\-format mtree) is verified keyword by keyword: type, link, mode, uid, gid, uname, gname, size, time, nlink and the digest; each entry is described without following it, and no symlink on its way is followed. An entry that claims content (any digest) is never OK unless that content was read and matched.
.PP
Verdict lines are for people: control characters are written \exHH, and a name that a CI runner would read as a workflow command (:: first, ##[ anywhere) is escaped too; check reads every such line's name back.
.PP
A MANIFEST.b3tree\-state left by hash \-\-update beside the manifest is only used to tell how an entry failed: "corrupted" when its content changed and none of its recorded facts did.
.PP
With an outboard beside the manifest (hash \-\-outboard), a FAILED file of 1 MiB or more is read once more and its verdict names the damaged byte ranges (first and last byte; \-\-json: ranges, damaged_groups, groups), once the outboard's data for it is shown to be this entry's: its root must be the manifest's digest. An intact tree is checked as without it.
.PP
With \-\-subset or \-\-max\-duration, MANIFEST.b3tree\-checked beside the manifest keeps when each entry (by name and expected digest) was last checked and whether it was OK; it orders the work (never checked first, then checked longest ago) and never decides a verdict. A run's journal, MANIFEST.b3tree\-checked.PID, is merged into it at the end, or by the next run after a crash.
"#;
