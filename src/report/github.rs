//! GitHub Actions: a failed check as annotations on the run's page, and a short Markdown
//! summary of the step. The runner reads workflow commands (`::error file=…::…`) from a
//! step's output streams, stderr included; so they go to stderr, where b3tree's other
//! diagnostics are, and never into the verdict stream on stdout that a script may parse.
//!
//! GitHub shows at most 10 error annotations per step (50 per job) and drops the rest
//! unseen: b3tree writes at most [`MAX_ANNOTATIONS`]. When more entries fail, the last one
//! it writes says how many more failed and where they are all listed (the step's log and
//! summary), instead of an 11th that no one would see. Values are escaped by the workflow-command rules: in
//! the message `%`, CR and LF; in properties (`file`, `title`) also `:` and `,`.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Annotations of one run at most: GitHub's limit per step.
pub const MAX_ANNOTATIONS: u64 = 10;

/// Failures listed by name in the step summary.
const MAX_LISTED: usize = 20;

/// The `::error` lines and the step summary of one `check` run.
pub struct Annotations {
    /// Where names are relative to, from the repository's root (`GITHUB_WORKSPACE`):
    /// annotations name files as GitHub shows them in the repository.
    prefix: PathBuf,
    annotated: u64,
    left_out: u64,
    /// The last annotation a run may write, held back until the end: the last failure's
    /// when no other follows, else the one that counts the rest.
    held: Option<String>,
    /// The first failures, for the summary: (name, status).
    listed: Vec<(String, String)>,
    failures: u64,
}

impl Annotations {
    /// Annotations for a run whose names resolve from `cwd`, in a workspace `workspace`
    /// (`GITHUB_WORKSPACE`, if set).
    pub fn new(cwd: &Path, workspace: Option<&Path>) -> Annotations {
        let prefix = workspace
            .and_then(|w| {
                let w = std::fs::canonicalize(w).unwrap_or_else(|_| w.to_path_buf());
                cwd.strip_prefix(&w).ok().map(Path::to_path_buf)
            })
            .unwrap_or_default();
        Annotations {
            prefix,
            annotated: 0,
            left_out: 0,
            held: None,
            listed: Vec::new(),
            failures: 0,
        }
    }

    /// A failed entry: the `::error` line to print, unless the limit is reached (then it is
    /// counted for [`Self::left_out_line`]). `name` as the user reads it (escaped).
    pub fn failure(&mut self, name: &str, status: &str, at: Option<&str>) -> Option<String> {
        self.failures += 1;
        if self.listed.len() < MAX_LISTED {
            self.listed.push((name.to_string(), status.to_string()));
        }
        if self.annotated >= MAX_ANNOTATIONS {
            self.left_out += 1;
            return None;
        }
        self.annotated += 1;
        let file = self.prefix.join(name);
        let message = match at {
            Some(at) => format!("{name}: {status} (listed at {at})"),
            None => format!("{name}: {status}"),
        };
        let line = format!(
            "::error file={},title={}::{}",
            property(&file.to_string_lossy()),
            property(&format!("b3tree check: {status}")),
            data(&message)
        );
        if self.annotated == MAX_ANNOTATIONS {
            self.held = Some(line);
            return None;
        }
        Some(line)
    }

    /// The run's last annotation: the held failure's, or, when more failed, one that counts
    /// them all from there (the last slot GitHub shows).
    pub fn left_out_line(&self) -> Option<String> {
        if self.left_out == 0 {
            return self.held.clone();
        }
        Some(format!(
            "::error title={}::{}",
            property("b3tree check"),
            data(&format!(
                "{} more entries failed, not annotated one by one (GitHub shows {} annotations \
                 per step): every failure is in the step's log, the first {MAX_LISTED} in its \
                 summary",
                self.left_out + 1,
                MAX_ANNOTATIONS
            ))
        ))
    }

    /// A manifest refused before any entry was read (its signature or signer): one
    /// `::error` on the manifest, `why` as the message.
    pub fn refused_manifest(&self, manifest: &str, why: &str) -> String {
        format!(
            "::error file={},title={}::{}",
            property(&self.prefix.join(manifest).to_string_lossy()),
            property("b3tree check: manifest not trusted"),
            data(why)
        )
    }

    /// Appends the step summary to the file `GITHUB_STEP_SUMMARY` names: a title, the
    /// counts (`rows`: label and number) and the first failures.
    pub fn write_summary(
        &self,
        path: &Path,
        title: &str,
        rows: &[(&str, u64)],
    ) -> std::io::Result<()> {
        let mut md = format!("### {}\n\n", html(title));
        let shown: Vec<&(&str, u64)> = rows.iter().filter(|(_, n)| *n > 0).collect();
        if shown.is_empty() {
            md.push_str("No entry was verified.\n\n");
            return append(path, &md);
        }
        md.push_str("| ");
        for (label, _) in &shown {
            md.push_str(&format!("{label} | "));
        }
        md.push_str("\n|");
        md.push_str(&"---:|".repeat(shown.len()));
        md.push_str("\n| ");
        for (_, n) in &shown {
            md.push_str(&format!("{n} | "));
        }
        md.push_str("\n\n");
        if !self.listed.is_empty() {
            for (name, status) in &self.listed {
                md.push_str(&format!(
                    "- <code>{}</code>: {}\n",
                    html(name),
                    html(status)
                ));
            }
            let more = self.failures - self.listed.len() as u64;
            if more > 0 {
                md.push_str(&format!("- … and {more} more (see the step's log)\n"));
            }
            md.push('\n');
        }
        append(path, &md)
    }

    /// A run that could not start (an unreadable manifest, a value it cannot use): one
    /// `::error`, `why` as the message.
    pub fn not_run(&self, why: &str) -> String {
        format!(
            "::error title={}::{}",
            property("b3tree check could not run"),
            data(why)
        )
    }

    /// Appends to the step summary a run that ended before any entry was read (a manifest
    /// refused, or one that cannot be read): `title`, then why, and that no file was checked.
    pub fn write_unchecked(&self, path: &Path, title: &str, why: &str) -> std::io::Result<()> {
        append(
            path,
            &format!(
                "### {}\n\n{}\n\nNo file of the tree was checked.\n\n",
                html(title),
                html(why)
            ),
        )
    }
}

/// The step summary file (`GITHUB_STEP_SUMMARY`), when the runner names one.
pub fn summary_path() -> Option<PathBuf> {
    std::env::var_os("GITHUB_STEP_SUMMARY")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// Appends `md` to the step summary file (created if need be).
fn append(path: &Path, md: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    file.write_all(md.as_bytes())
}

/// A workflow command's message: `%`, CR and LF escaped.
pub fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: as [`data`], and `:` and `,` too.
pub fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Text for the step summary (Markdown with HTML), whatever a name or a spec value holds:
/// the characters that open a tag, an entity, a link or an image (`[t](u)`, `![i](u)`), a
/// table cell, a code span, emphasis, strike-through, a heading or math (`& < > | ` * _ [ ]
/// ! ~ \ # $`), the `@` of a mail autolink, the `:` of `scheme://` and the `.` of `www.`
/// (autolinks), and every control character (CR included) become numeric character
/// references; the rest stays readable.
fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for (at, c) in text.char_indices() {
        let autolink = (c == ':' && text[at..].starts_with("://"))
            || (c == '.' && text[..at].to_ascii_lowercase().ends_with("www"));
        if autolink || c.is_control() || "&<>|`*_[]!~\\#$@".contains(c) {
            out.push_str(&format!("&#{};", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_by_the_workflow_command_rules() {
        assert_eq!(data("50% a\r\nb"), "50%25 a%0D%0Ab");
        assert_eq!(property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }

    #[test]
    fn summary_text_opens_no_tag_link_or_image() {
        let hostile =
            "![i](https://x.test/a.png) [t](http://x.test) <b>|`*_~#$\r\n& WWW.x.test a@x.test";
        let safe = html(hostile);
        for bad in [
            "![", "[", "]", "<", ">", "|", "`", "*", "_", "~", "$", "\r", "\n",
        ] {
            assert!(!safe.contains(bad), "{bad} in {safe}");
        }
        for bad in ["&amp", "://", "WWW.", "@"] {
            assert!(!safe.contains(bad), "{bad} in {safe}");
        }
        assert!(
            safe.starts_with("&#33;&#91;i&#93;(https&#58;//x.test/a.png)"),
            "{safe}"
        );
        assert!(safe.contains("&#126;&#35;&#36;&#13;"), "{safe}");
        assert_eq!(html("d/a,b:c% (x.b3)"), "d/a,b:c% (x.b3)");
    }

    #[test]
    fn failures_beyond_the_limit_are_counted_in_one_line() {
        let mut a = Annotations::new(Path::new("/w/sub"), Some(Path::new("/w")));
        let first = a.failure("x,y", "FAILED", Some("m.b3:3")).unwrap();
        assert_eq!(
            first,
            "::error file=sub/x%2Cy,title=b3tree check%3A FAILED::x,y: FAILED (listed at m.b3:3)"
        );
        let mut written = 1;
        for _ in 1..MAX_ANNOTATIONS + 5 {
            written += u64::from(a.failure("f", "FAILED (missing)", None).is_some());
        }
        assert_eq!(written, MAX_ANNOTATIONS - 1);
        assert_eq!(
            a.left_out_line().unwrap(),
            "::error title=b3tree check::6 more entries failed, not annotated one by one (GitHub \
             shows 10 annotations per step): every failure is in the step's log, the first 20 \
             in its summary"
        );
        // Exactly ten failures: the tenth is annotated as itself, at the end.
        let mut b = Annotations::new(Path::new("/w"), None);
        for _ in 0..MAX_ANNOTATIONS {
            b.failure("g", "FAILED", None);
        }
        assert!(b.left_out_line().unwrap().starts_with("::error file=g,"));
    }
}
