//! `b3tree check`: verify manifests through the same engine as `hash`, then (with `--audit`)
//! walk the covered tree for files the manifests do not list.
//!
//! The manifest reader is the engine's source: each valid line becomes a hash job carrying
//! its expected digest and `MANIFEST:LINE`; malformed lines and lines refused by confinement
//! travel as reports, so every verdict and diagnostic comes out in manifest order. Missing
//! entries are held back under `--audit` until the walk has shown whether their content
//! reappeared under another name (MOVED) or not (MISSING).

mod missing;

use std::io::{self, BufRead, IsTerminal, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::{Value, json};

use crate::cli::CheckArgs;
use crate::commands::check::missing::{Missing, MissingSet};
use crate::commands::walk_into;
use crate::config;
use crate::config::Env;
use crate::exit::Exit;
use crate::hash::outcome::{Action, EntryError, ErrorKind, Outcome, SkipKind};
use crate::manifest::read::{self, Line, LineReader, Malformed, Opened};
use crate::manifest::write::json_path;
use crate::names::escape::{Escaping, display, push_marked};
use crate::names::nameset::{Location, NameSet, narrow_common_dir, normalize};
use crate::pipeline::engine::{self, EngineConfig};
use crate::pipeline::job::Done;
use crate::pipeline::queue::Feeder;
use crate::report::stderr::{ProgressMode, Reporter};
use crate::sys::cancel;
use crate::sys::open::Confine;
use crate::walk::WalkConfig;

/// What a job of the check source carries through the pipeline.
#[derive(Debug)]
enum Item {
    Entry {
        at: Location,
        expected: [u8; 32],
        /// Byte offset of its line (to read the name again for `--audit`).
        offset: u64,
    },
    Malformed {
        at: Location,
        why: Malformed,
    },
}

/// What the manifest reader leaves behind for the later stages.
#[derive(Default)]
struct SourceInfo {
    names: Option<NameSet>,
    /// Deepest directory (normalised) holding every entry (computed for `--audit` without
    /// `--audit-root` only).
    common_dir: Option<Vec<u8>>,
    entries: u64,
    /// Entries not refused by confinement (the only ones that shape the audit).
    admitted: u64,
    read_error: Option<String>,
}

/// Verdict counts.
#[derive(Debug, Default)]
struct Counts {
    ok: u64,
    failed: u64,
    missing: u64,
    ignored_missing: u64,
    unreadable: u64,
    outside: u64,
    malformed: u64,
    duplicates: u64,
    /// Lines refused for their length only (failures, unlike other malformed lines).
    too_long: u64,
    new: u64,
    moved: u64,
    first_malformed: Option<Location>,
}

struct Printer {
    out: Option<io::BufWriter<io::Stdout>>,
    /// stdout is a pipe: write each verdict through at once, so a reader that goes away
    /// early (`| head -1`) makes the next write fail instead of the run passing unseen.
    eager: bool,
    json: bool,
    quiet: bool,
    escaping: Escaping,
    manifests: Vec<String>,
    error: Option<io::Error>,
}

impl Counts {
    /// The closing line on stderr.
    fn summary(&self, audit_skipped: u64, elapsed_s: f64) -> String {
        let mut extra = String::new();
        if self.ignored_missing > 0 {
            extra.push_str(&format!(", {} missing ignored", self.ignored_missing));
        }
        if audit_skipped > 0 {
            extra.push_str(&format!(", {audit_skipped} special files not audited"));
        }
        format!(
            "{} ok, {} failed, {} missing, {} unreadable, {} malformed, {} new, {} moved{extra} \
             in {elapsed_s:.2} s",
            self.ok,
            self.failed,
            self.missing,
            self.unreadable + self.outside,
            self.malformed,
            self.new,
            self.moved,
        )
    }

    /// The closing `--json` record.
    fn json(&self, passed: bool) -> Value {
        json!({
            "type": "summary", "ok": self.ok, "failed": self.failed,
            "missing": self.missing, "unreadable": self.unreadable,
            "outside": self.outside, "malformed": self.malformed,
            "duplicates": self.duplicates, "too_long": self.too_long,
            "new": self.new, "moved": self.moved,
            "ignored_missing": self.ignored_missing, "passed": passed,
        })
    }
}

impl Printer {
    fn new(args: &CheckArgs, manifests: Vec<String>) -> Printer {
        Printer {
            out: (!args.status).then(|| io::BufWriter::with_capacity(64 * 1024, io::stdout())),
            eager: stdout_is_pipe(),
            json: args.json,
            quiet: args.quiet,
            escaping: if io::stdout().is_terminal() {
                Escaping::Terminal
            } else {
                Escaping::Manifest
            },
            manifests,
            error: None,
        }
    }

    /// Flushes stdout; the first write error, or the reader having left with verdicts unread.
    fn finish(&mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let Some(out) = self.out.as_mut() else {
            return Ok(());
        };
        out.flush()?;
        if pipe_left_unread() {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the reader left before reading everything",
            ));
        }
        Ok(())
    }

    /// The verdict of an entry held back for the audit whose content did not turn up.
    fn missing(&mut self, m: &Missing) {
        self.verdict(m.name, "FAILED (missing)", false, |p| {
            entry_json(m.name, "missing", &p.loc(m.at), &m.expected, None)
        });
    }

    fn loc(&self, at: Location) -> String {
        format!("{}:{}", self.manifests[at.0 as usize], at.1)
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if let Some(out) = &mut self.out {
            let res = out
                .write_all(bytes)
                .and_then(|()| if self.eager { out.flush() } else { Ok(()) });
            if let Err(e) = res {
                cancel::request_stop();
                self.error = Some(e);
            }
        }
    }

    /// One JSON Lines record.
    fn json_line(&mut self, value: &Value) {
        let mut line = serde_json::to_vec(value).unwrap_or_default();
        line.push(b'\n');
        self.write(&line);
    }

    /// `NAME: STATUS` (name escaped as b3sum does), or the JSON object `json` builds (only
    /// then: most verdicts are plain OK lines, and this runs once per entry).
    fn verdict(&mut self, name: &[u8], status: &str, ok: bool, json: impl FnOnce(&Self) -> Value) {
        if self.json {
            let record = json(self);
            self.json_line(&record);
            return;
        }
        if ok && self.quiet {
            return;
        }
        let mut line = Vec::with_capacity(name.len() + 16);
        push_marked(name, self.escaping, &mut line);
        line.extend_from_slice(b": ");
        line.extend_from_slice(status.as_bytes());
        line.push(b'\n');
        self.write(&line);
    }
}

pub fn run(args: CheckArgs, env: &Env) -> Exit {
    let started = Instant::now();
    let mode = ProgressMode::from_flags(args.progress, args.no_progress);
    let Opened {
        readers,
        names: manifest_names,
        ids: manifest_ids,
        rereadable,
    } = match read::open_all(&args.manifests) {
        Ok(m) => m,
        Err(why) => {
            eprintln!("b3tree: {why}");
            return Exit::Usage;
        }
    };
    if env.stdout_closed && !args.status {
        eprintln!("b3tree: stdout is closed; nowhere to report (use --status)");
        return Exit::Fatal;
    }

    let mut engine_cfg: EngineConfig = match config::engine(&args.engine) {
        Ok(cfg) => cfg,
        Err(msg) => {
            eprintln!("b3tree: {msg}");
            return Exit::Fatal;
        }
    };
    engine_cfg.confine = if args.allow_outside {
        Confine::Anywhere
    } else {
        Confine::Beneath
    };
    let mut reporter = Reporter::new(mode, false);
    let mut printer = Printer::new(&args, manifest_names);
    let mut counts = Counts::default();
    let mut held = MissingSet::new(
        args.manifests
            .iter()
            .zip(&rereadable)
            .map(|(p, &r)| r.then(|| p.clone()))
            .collect(),
    );

    // Pass 1: every manifest entry, in manifest order.
    // The audited directory is derived from the entries only when --audit-root does not name it.
    let find_common = args.audit && args.audit_root.is_none();
    let allow_outside = args.allow_outside;
    // The verdict writer records its own errors (its emit never fails); the source returns
    // what the manifests held.
    let mut info = engine::run(
        &engine_cfg,
        move |feeder| read_manifests(readers, allow_outside, find_common, feeder),
        |done| {
            reporter.progress(&done.outcome);
            let mut sink = Sink {
                printer: &mut printer,
                counts: &mut counts,
                reporter: &mut reporter,
            };
            settle_entry(done, &args, &mut sink, &mut held);
            Ok(())
        },
    )
    .source;
    if let Some(names) = info.names.as_mut() {
        for (again, first) in names.finish() {
            counts.duplicates += 1;
            reporter.error(&format!(
                "{}: duplicate entry (first at {})",
                printer.loc(again),
                printer.loc(first)
            ));
        }
    }

    // Pass 2 (--audit): files present but not listed.
    let mut audit_skipped = 0u64;
    if args.audit && !cancel::is_stopped() && info.admitted > 0 {
        let root = match &args.audit_root {
            Some(dir) => Some(dir.as_os_str().as_bytes().to_vec()),
            None => info.common_dir.take(),
        };
        let root = match root {
            Some(d) if !d.is_empty() => PathBuf::from(std::ffi::OsStr::from_bytes(&d)),
            _ => PathBuf::from("."),
        };
        if !args.allow_outside && !lies_beneath_cwd(&root) {
            counts.outside += 1;
            reporter.error(&format!(
                "audit: {} lies outside the working directory (a symlink out?): not audited \
                 (--allow-outside audits it)",
                display(root.as_os_str().as_bytes())
            ));
        } else {
            let tree = Tree {
                root,
                known: info.names.take(),
                skip_files: manifest_ids,
            };
            // The audit reads files beneath the working directory, like verification.
            let engine = engine_cfg.clone();
            let mut sink = Sink {
                printer: &mut printer,
                counts: &mut counts,
                reporter: &mut reporter,
            };
            audit_skipped = audit_tree(tree, &engine, &mut held, &mut sink);
        }
    } else if args.audit && info.entries > 0 && info.admitted == 0 {
        reporter.error("audit: no entry lies inside the working directory; nothing to audit");
    }
    // Missing entries held back for the audit, in manifest order.
    let reread = held.for_each_missing(|m| {
        counts.missing += 1;
        printer.missing(&m);
    });
    if let Err(e) = &reread {
        reporter.error(&format!(
            "cannot read the missing entries' names again: {e}"
        ));
    }
    reporter.finish();

    if cancel::was_interrupted() {
        reporter.error("interrupted");
        return Exit::Interrupted;
    }
    if let Err(e) = printer.finish() {
        if e.kind() != io::ErrorKind::BrokenPipe {
            reporter.error(&format!("cannot write stdout: {e}"));
        }
        return Exit::Fatal;
    }
    if let Some(e) = info.read_error.take() {
        reporter.error(&e);
        return Exit::Usage;
    }
    if reread.is_err() {
        return Exit::Fatal;
    }

    let (code, mut notes) = verdict(&counts, info.entries, &args);
    notes.extend(warnings(&counts, &printer));
    if !args.status {
        for n in &notes {
            reporter.error(&format!("WARNING: {n}"));
        }
        if args.json {
            printer.json_line(&counts.json(code == Exit::Ok));
            if printer.finish().is_err() {
                return Exit::Fatal;
            }
        }
        if !args.quiet || code != Exit::Ok {
            let elapsed = started.elapsed().as_secs_f64();
            reporter.error(&counts.summary(audit_skipped, elapsed));
        }
    }
    code
}

/// What `--audit` walks: the deepest directory holding every entry (or `.`), the names the
/// manifests list, and the manifests themselves (never reported as NEW).
struct Tree {
    root: PathBuf,
    known: Option<NameSet>,
    skip_files: Vec<(u64, u64)>,
}

/// Where verdicts go.
struct Sink<'a> {
    printer: &'a mut Printer,
    counts: &'a mut Counts,
    reporter: &'a mut Reporter,
}

/// Pass 2: reports each regular file under the tree that the manifests do not list as NEW,
/// or as MOVED when its content equals a held-back missing entry's. Returns the number of
/// special files and symlinks seen (not audited).
fn audit_tree(tree: Tree, engine: &EngineConfig, held: &mut MissingSet, sink: &mut Sink) -> u64 {
    let walk_cfg = WalkConfig {
        roots: vec![tree.root],
        max_open_dirs: engine.walker_dirs,
        skip_files: tree.skip_files,
        ..WalkConfig::default()
    };
    let known = tree.known;
    held.index();
    let mut skipped = 0u64;
    // Files the manifests list are not NEW (special files still count); the verdict
    // writer records its own errors, so emit never fails.
    let _walked = engine::run(
        engine,
        move |feeder: &mut Feeder<()>| {
            walk_into(&walk_cfg, feeder, |name, action| {
                !matches!(action, Action::Hash) || known.as_ref().is_none_or(|k| !k.contains(name))
            })
        },
        |done| {
            sink.reporter.progress(&done.outcome);
            match &done.outcome {
                Outcome::Hashed { hash, .. } => {
                    if let Some(from) = held.take_match(hash.as_bytes()) {
                        let from = match from {
                            Ok(name) => name,
                            Err(e) => {
                                sink.counts.unreadable += 1;
                                sink.reporter.error(&format!(
                                    "{}: moved from an entry whose name cannot be read again: {e}",
                                    display(&done.name)
                                ));
                                return Ok(());
                            }
                        };
                        let from = &from;
                        sink.counts.moved += 1;
                        let status = format!("MOVED (from {})", display(from));
                        sink.printer.verdict(&done.name, &status, false, |_| {
                            let mut o = serde_json::Map::new();
                            o.insert("type".into(), json!("moved"));
                            json_path(&done.name, &mut o);
                            let mut f = serde_json::Map::new();
                            json_path(from, &mut f);
                            o.insert("from".into(), f.remove("path").unwrap_or_default());
                            // Like `path_bytes`: the exact old name when it is not UTF-8.
                            if let Some(bytes) = f.remove("path_bytes") {
                                o.insert("from_bytes".into(), bytes);
                            }
                            o.insert("hash".into(), json!(hash.to_hex().as_str()));
                            Value::Object(o)
                        });
                    } else {
                        sink.counts.new += 1;
                        sink.printer.verdict(&done.name, "NEW", false, |_| {
                            let mut o = serde_json::Map::new();
                            o.insert("type".into(), json!("new"));
                            json_path(&done.name, &mut o);
                            o.insert("hash".into(), json!(hash.to_hex().as_str()));
                            Value::Object(o)
                        });
                    }
                }
                Outcome::Failed(e) if e.kind == ErrorKind::Cancelled => {}
                Outcome::Failed(e) => {
                    sink.counts.unreadable += 1;
                    sink.reporter.error(&format!(
                        "{}: {e} (audit: contents unverifiable)",
                        display(&done.name)
                    ));
                }
                // The manifests themselves: given by the user, neither NEW nor special.
                Outcome::Skipped(SkipKind::OwnOutput) => {}
                Outcome::Skipped(_) => skipped += 1,
            }
            Ok(())
        },
    );
    skipped
}

/// The exit code, and why the run failed when no single entry says so.
fn verdict(counts: &Counts, entries: u64, args: &CheckArgs) -> (Exit, Vec<String>) {
    let verified = counts.ok + counts.failed;
    let mut notes = Vec::new();
    if entries == 0 {
        notes.push("no properly formatted BLAKE3 checksum lines found".to_string());
    } else if args.ignore_missing && verified == 0 && counts.unreadable + counts.outside == 0 {
        notes.push("no file was verified".to_string());
    }
    let bad_entries = counts.failed
        + counts.missing
        + counts.unreadable
        + counts.outside
        + counts.new
        + counts.moved
        + counts.too_long;
    let bad_lines = args.strict && counts.malformed + counts.duplicates > 0;
    let code = if !notes.is_empty() || bad_entries > 0 || bad_lines {
        Exit::Failed
    } else {
        Exit::Ok
    };
    (code, notes)
}

/// GNU-style warnings, e.g. "2 computed checksums did NOT match".
fn warnings(counts: &Counts, printer: &Printer) -> Vec<String> {
    let first_malformed = counts
        .first_malformed
        .map(|at| format!(" (first: {})", printer.loc(at)))
        .unwrap_or_default();
    [
        (
            counts.failed,
            "computed checksum did NOT match",
            "computed checksums did NOT match",
            "",
        ),
        (
            counts.missing,
            "listed file is missing",
            "listed files are missing",
            "",
        ),
        (
            counts.unreadable,
            "file could not be read",
            "files could not be read",
            "",
        ),
        (
            counts.outside,
            "entry lies outside the root (refused)",
            "entries lie outside the root (refused)",
            "",
        ),
        (
            counts.malformed,
            "line is improperly formatted",
            "lines are improperly formatted",
            first_malformed.as_str(),
        ),
        (
            counts.duplicates,
            "duplicate entry",
            "duplicate entries",
            "",
        ),
        (
            counts.too_long,
            "line is too long to be read (counted as a failure)",
            "lines are too long to be read (counted as failures)",
            "",
        ),
    ]
    .into_iter()
    .filter(|&(n, ..)| n > 0)
    .map(|(n, one, many, extra)| format!("{}{extra}", plural(n, one, many)))
    .collect()
}

fn stdout_is_pipe() -> bool {
    // SAFETY: fstat on fd 1 into a zeroed struct.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(1, &mut st) == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFIFO
    }
}

/// True when stdout is a pipe whose readers are all gone while bytes we wrote are still
/// unread in it: the report was cut short, even though every write succeeded.
fn pipe_left_unread() -> bool {
    if !stdout_is_pipe() {
        return false;
    }
    // SAFETY: poll and ioctl(FIONREAD) on fd 1 with valid out-pointers.
    unsafe {
        let mut pfd = libc::pollfd {
            fd: 1,
            events: 0,
            revents: 0,
        };
        let gone = libc::poll(&mut pfd, 1, 0) == 1 && pfd.revents & libc::POLLERR != 0;
        let mut unread: libc::c_int = 0;
        gone && libc::ioctl(1, libc::FIONREAD, &mut unread) == 0 && unread > 0
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn entry_json(
    name: &[u8],
    status: &str,
    at: &str,
    expected: &[u8; 32],
    actual: Option<&blake3::Hash>,
) -> Value {
    let mut o = serde_json::Map::new();
    o.insert("type".into(), json!("entry"));
    json_path(name, &mut o);
    o.insert("status".into(), json!(status));
    o.insert("at".into(), json!(at));
    o.insert(
        "expected".into(),
        json!(blake3::Hash::from_bytes(*expected).to_hex().as_str()),
    );
    if let Some(h) = actual {
        o.insert("actual".into(), json!(h.to_hex().as_str()));
    }
    Value::Object(o)
}

/// Prints and counts the verdict for one pass-1 item.
fn settle_entry(done: Done<Item>, args: &CheckArgs, sink: &mut Sink, held: &mut MissingSet) {
    let Sink {
        printer,
        counts,
        reporter,
    } = sink;
    let (at, expected, offset) = match done.tag {
        // Refused for its length alone: it may be the entry of a tampered file, so it fails
        // the run like an unverifiable entry (GNU's rules stay for other malformed lines).
        Item::Malformed {
            at,
            why: Malformed::TooLong,
        } => {
            counts.too_long += 1;
            reporter.error(&format!(
                "{}: {}: refused, counted as a failure",
                printer.loc(at),
                Malformed::TooLong
            ));
            if args.json {
                let loc = printer.loc(at);
                printer.json_line(&json!({"type": "too_long", "at": loc}));
            }
            return;
        }
        Item::Malformed { at, why } => {
            counts.malformed += 1;
            counts.first_malformed.get_or_insert(at);
            if args.warn || args.strict {
                reporter.error(&format!(
                    "{}: improperly formatted BLAKE3 checksum line: {why}",
                    printer.loc(at)
                ));
            }
            if args.json {
                let loc = printer.loc(at);
                printer
                    .json_line(&json!({"type": "malformed", "at": loc, "reason": why.to_string()}));
            }
            return;
        }
        Item::Entry {
            at,
            expected,
            offset,
        } => (at, expected, offset),
    };
    let name = done.name;
    let err = match done.outcome {
        Outcome::Hashed { hash, .. } => {
            let ok = hash.as_bytes() == &expected;
            if ok {
                counts.ok += 1;
            } else {
                counts.failed += 1;
            }
            let status = if ok { "OK" } else { "FAILED" };
            printer.verdict(&name, status, ok, |p| {
                entry_json(
                    &name,
                    if ok { "ok" } else { "failed" },
                    &p.loc(at),
                    &expected,
                    Some(&hash),
                )
            });
            return;
        }
        Outcome::Failed(err) => err,
        // The engine reports special files as failures for manifest jobs; keep the
        // invariant anyway: a skip is never a pass.
        Outcome::Skipped(kind) => EntryError::new(ErrorKind::NotRegular, kind.as_str()),
    };
    let (label, json_status) = match err.kind {
        ErrorKind::Cancelled => return,
        ErrorKind::Missing | ErrorKind::Vanished => {
            if args.ignore_missing {
                counts.ignored_missing += 1;
                return;
            }
            if args.audit {
                held.push(expected, at, offset, name);
                return;
            }
            counts.missing += 1;
            ("missing", "missing")
        }
        ErrorKind::Outside => {
            counts.outside += 1;
            ("outside the root", "outside")
        }
        ErrorKind::NotRegular => {
            counts.unreadable += 1;
            ("not a regular file", "not_regular")
        }
        ErrorKind::Changed => {
            counts.unreadable += 1;
            ("changed while hashing", "changed")
        }
        _ => {
            counts.unreadable += 1;
            ("unreadable", "unreadable")
        }
    };
    if !matches!(err.kind, ErrorKind::Missing | ErrorKind::Vanished) {
        reporter.error(&format!("{}: {}: {err}", printer.loc(at), display(&name)));
    }
    let status = format!("FAILED ({label})");
    printer.verdict(&name, &status, false, |p| {
        entry_json(&name, json_status, &p.loc(at), &expected, None)
    });
}

/// The directory `dir` (symlinks resolved) is the working directory or lies beneath it.
/// The audit walk also opens files confined, so a swap after this check can show names
/// from elsewhere as unverifiable, never contents.
fn lies_beneath_cwd(dir: &std::path::Path) -> bool {
    match (std::fs::canonicalize(dir), std::fs::canonicalize(".")) {
        (Ok(d), Ok(cwd)) => d.starts_with(cwd),
        // Missing: nothing to walk, and the walk reports it.
        (Err(_), _) => {
            !dir.is_absolute() && lexically_outside(dir.as_os_str().as_bytes()).is_none()
        }
        _ => false,
    }
}

/// Why a name may not be opened under confinement, judged from its text alone.
fn lexically_outside(name: &[u8]) -> Option<&'static str> {
    if name.starts_with(b"/") {
        return Some("absolute path");
    }
    let mut depth = 0i64;
    for comp in name.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                depth -= 1;
                if depth < 0 {
                    return Some("leads outside with ..");
                }
            }
            _ => depth += 1,
        }
    }
    None
}

/// The pass-1 source: every line of every manifest becomes one job.
fn read_manifests(
    readers: Vec<Box<dyn BufRead + Send>>,
    allow_outside: bool,
    find_common: bool,
    feeder: &mut Feeder<Item>,
) -> SourceInfo {
    let mut names = NameSet::new();
    let mut common: Option<Vec<u8>> = None;
    let mut entries = 0u64;
    let mut admitted = 0u64;
    let mut read_error = None;
    'manifests: for (idx, reader) in readers.into_iter().enumerate() {
        let mut lines = LineReader::new(reader);
        loop {
            let line = match lines.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => break,
                Err(e) => {
                    read_error = Some(format!("cannot read manifest #{}: {e}", idx + 1));
                    break 'manifests;
                }
            };
            let at = (idx as u32, lines.line_no);
            let pushed = match line {
                Line::Comment => true,
                Line::Malformed(why) => feeder.push(
                    PathBuf::new(),
                    Vec::new(),
                    Action::Report(Outcome::Skipped(SkipKind::Other)),
                    Item::Malformed { at, why },
                ),
                Line::Entry(e) => {
                    entries += 1;
                    let norm = normalize(&e.name);
                    names.add(&norm, at);
                    let refused = match lexically_outside(&e.name) {
                        Some(why) if !allow_outside => Some(why),
                        _ => None,
                    };
                    // A refused name never widens the audited directory.
                    if refused.is_none() {
                        admitted += 1;
                        if find_common {
                            narrow_common_dir(&mut common, &norm);
                        }
                    }
                    let path = PathBuf::from(std::ffi::OsStr::from_bytes(&e.name));
                    let action = match refused {
                        Some(why) => Action::Report(Outcome::Failed(EntryError::new(
                            ErrorKind::Outside,
                            why,
                        ))),
                        None => Action::Hash,
                    };
                    feeder.push(
                        path,
                        e.name,
                        action,
                        Item::Entry {
                            at,
                            expected: e.hash,
                            offset: lines.line_start,
                        },
                    )
                }
            };
            if !pushed {
                break 'manifests;
            }
        }
    }
    SourceInfo {
        names: Some(names),
        common_dir: common,
        entries,
        admitted,
        read_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confinement_by_text() {
        assert_eq!(lexically_outside(b"a/../b"), None);
        assert_eq!(lexically_outside(b"./a"), None);
        assert!(lexically_outside(b"../x").is_some());
        assert!(lexically_outside(b"a/../../x").is_some());
        assert!(lexically_outside(b"/etc/passwd").is_some());
    }
}
