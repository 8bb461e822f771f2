//! `check --junit FILE`: the run as a JUnit XML report, the format GitLab merge requests,
//! Jenkins, Azure DevOps, CircleCI and Buildkite render as test results.
//!
//! One `<testsuite>` per manifest (audit findings go with the manifest when there is one,
//! else to a suite of their own). Every entry that fails the run — FAILED, MISSING,
//! unreadable, outside the root, NEW, MOVED — is a failing `<testcase>` whose message is
//! check's verdict line; the entries verified OK are one passing test case that counts them,
//! not one each: a tree of millions would make a report no CI page can load. The failures
//! listed one by one are bounded too (at most [`MAX_CASES`], at most [`MAX_BYTES`] of their
//! text, names cut at [`MAX_NAME`] characters); past that, one failing case counts the rest
//! and says the job's log has them all. So the report's size does not grow with the tree or
//! with its names, and it is written within the time a Ctrl-C allows.
//!
//! Each failure's text (its element's body, which GitLab and CircleCI show) and its
//! `message` (which Jenkins and Azure DevOps show) are check's verdict line; the body adds
//! where the manifest lists the entry.
//!
//! Text reaches the XML already escaped for people (`names::escape::display`); on top of
//! the XML escaping quick-xml does, characters XML 1.0 cannot carry at all are written as
//! `\u{…}`, so the file is well-formed whatever a name holds.

use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, Event};

use xml::{CaseResult, counts, cut, pair, xml_text};

mod xml;

/// Failing test cases listed one by one in a report, over all its suites.
pub const MAX_CASES: usize = 1000;

/// Bytes of listed failures' text (escaped) in a report.
pub const MAX_BYTES: usize = 1 << 20;

/// Characters of a name kept in a report (a manifest line may hold one of 4 MiB).
pub const MAX_NAME: usize = 512;

/// Characters of any other text kept (a status, a reason).
const MAX_TEXT: usize = 4096;

/// A report being gathered.
pub struct Junit {
    suites: Vec<Suite>,
    /// The suite audit findings go to (a manifest's, or one of their own).
    audit: usize,
    listed: usize,
    /// Bytes of the failures listed.
    bytes: usize,
    /// Failures counted and not listed one by one, and the suite the first was in (where
    /// the one case that counts them goes).
    more: u64,
    more_in: usize,
    /// Why the run ended before its verdicts were complete, or could not run (an `<error>`).
    errors: Vec<String>,
    /// Entries the run did not verify (other shards, missing and ignored): one skipped case.
    skipped: Vec<(u64, String)>,
}

struct Suite {
    name: String,
    ok: u64,
    cases: Vec<Case>,
}

struct Case {
    name: String,
    kind: String,
    /// Check's verdict line.
    message: String,
    /// Where a manifest lists the entry.
    at: Option<String>,
}

impl Suite {
    fn new(name: String) -> Suite {
        Suite {
            name,
            ok: 0,
            cases: Vec::new(),
        }
    }
}

impl Junit {
    /// A report with one suite per manifest (names as shown to people).
    pub fn new(manifests: Vec<String>) -> Junit {
        let mut suites: Vec<Suite> = (manifests.iter())
            .map(|m| Suite::new(cut(m, MAX_NAME)))
            .collect();
        if suites.is_empty() {
            suites.push(Suite::new("b3tree check".into()));
        }
        let audit = match suites.len() {
            1 => 0,
            n => {
                suites.push(Suite::new("audit".into()));
                n
            }
        };
        Junit {
            suites,
            audit,
            listed: 0,
            bytes: 0,
            more: 0,
            more_in: 0,
            errors: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// An entry verified OK, listed in manifest `suite` (`None`: found by the audit).
    pub fn passed(&mut self, suite: Option<usize>) {
        let i = self.index(suite);
        self.suites[i].ok += 1;
    }

    /// An entry that fails the run: `name`, the `kind` of failure (FAILED, MISSING…) and its
    /// `status` as check prints them, `at` where the manifest lists it.
    pub fn failed(
        &mut self,
        suite: Option<usize>,
        (name, kind, status): (&str, &str, &str),
        at: Option<&str>,
    ) {
        let i = self.index(suite);
        let name = cut(name, MAX_NAME);
        let case = Case {
            message: format!("{name}: {}", cut(status, MAX_TEXT)),
            name,
            kind: cut(kind, MAX_NAME),
            at: at.map(|at| format!("listed at {}", cut(at, MAX_TEXT))),
        };
        // Escaping may grow text six times (`"` is `&quot;`): counted as written.
        let size = [&case.name, &case.message, &case.message, &case.kind]
            .iter()
            .chain(&case.at.as_ref())
            .map(|t| quick_xml::escape::escape(t.as_str()).len())
            .sum::<usize>();
        if self.listed >= MAX_CASES || self.bytes + size > MAX_BYTES {
            if self.more == 0 {
                self.more_in = i;
            }
            self.more += 1;
            return;
        }
        self.listed += 1;
        self.bytes += size;
        self.suites[i].cases.push(case);
    }

    /// The run could not verify what it was given (`why`): an `<error>` test case.
    pub fn error(&mut self, why: &str) {
        self.errors.push(cut(why, MAX_TEXT));
    }

    /// `n` entries not verified by this run, and why (`--shard`, `--ignore-missing`).
    pub fn skipped(&mut self, n: u64, why: &str) {
        if n > 0 {
            self.skipped.push((n, cut(why, MAX_TEXT)));
        }
    }

    fn index(&self, suite: Option<usize>) -> usize {
        suite
            .filter(|&i| i < self.suites.len())
            .unwrap_or(self.audit)
    }

    /// The report, `seconds` the run's time.
    pub fn to_xml(&self, seconds: f64) -> io::Result<Vec<u8>> {
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        let suites: Vec<(usize, &Suite)> = self
            .suites
            .iter()
            .enumerate()
            .filter(|(i, s)| *i == 0 || s.ok > 0 || !s.cases.is_empty() || self.has_more(*i))
            .collect();
        let cases = |i: usize, s: &Suite| -> [u64; 4] {
            let first = u64::from(i == 0);
            let errors = first * self.errors.len() as u64;
            let skipped = first * u64::from(!self.skipped.is_empty());
            // Counted as the test cases are (one counts the failures past the bound), so
            // that the attributes agree with the elements every reader counts.
            let failures = s.cases.len() as u64 + u64::from(self.has_more(i));
            let tests = failures + u64::from(s.ok > 0) + errors + skipped;
            [tests, failures, errors, skipped]
        };
        let total = suites.iter().fold([0u64; 4], |mut t, (i, s)| {
            let c = cases(*i, s);
            for k in 0..4 {
                t[k] += c[k];
            }
            t
        });
        let time = format!("{seconds:.3}");
        w.create_element("testsuites")
            .with_attributes(counts("b3tree check", total, &time).iter().map(pair))
            .write_inner_content(|w| {
                for (i, suite) in &suites {
                    let attrs = counts(&xml_text(&suite.name), cases(*i, suite), &time);
                    w.create_element("testsuite")
                        .with_attributes(attrs.iter().map(pair))
                        .write_inner_content(|w| self.write_suite(w, *i, suite))?;
                }
                Ok(())
            })?;
        let mut xml = w.into_inner();
        xml.push(b'\n');
        Ok(xml)
    }

    /// Suite `i` ends with the case that counts the failures not listed.
    fn has_more(&self, i: usize) -> bool {
        self.more > 0 && self.more_in == i
    }

    fn write_suite(&self, w: &mut Writer<Vec<u8>>, i: usize, suite: &Suite) -> io::Result<()> {
        let class = xml_text(&suite.name);
        let case = |w: &mut Writer<Vec<u8>>, name: &str, result: Option<CaseResult<'_>>| {
            let element = w
                .create_element("testcase")
                .with_attribute(("classname", class.as_str()))
                .with_attribute(("name", xml_text(name).as_str()));
            match result {
                None => element.write_empty().map(|_| ()),
                Some(r) => element.write_inner_content(|w| r.write(w)).map(|_| ()),
            }
        };
        if i == 0 {
            for why in &self.errors {
                case(
                    w,
                    "b3tree check",
                    Some(CaseResult::new("error", None, why, None)),
                )?;
            }
        }
        for c in &suite.cases {
            let failure = CaseResult::new("failure", Some(&c.kind), &c.message, c.at.as_deref());
            case(w, &c.name, Some(failure))?;
        }
        if self.has_more(i) {
            let message = format!(
                "{} more entries failed, not listed one by one (a report lists at most \
                 {MAX_CASES}, {} MiB of them); the job's log has every verdict",
                self.more,
                MAX_BYTES >> 20
            );
            let failure = CaseResult::new("failure", Some("FAILED"), &message, None);
            case(w, "more failures", Some(failure))?;
        }
        if suite.ok > 0 {
            let entries = if suite.ok == 1 { "entry" } else { "entries" };
            case(w, &format!("{} {entries} verified OK", suite.ok), None)?;
        }
        if i == 0 && !self.skipped.is_empty() {
            let n: u64 = self.skipped.iter().map(|(n, _)| n).sum();
            let why: Vec<&str> = self.skipped.iter().map(|(_, why)| why.as_str()).collect();
            let message = format!("{}: not verified by this run", why.join("; "));
            let skipped = CaseResult::new("skipped", None, &message, None);
            case(w, &format!("{n} entries not verified"), Some(skipped))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &[u8]) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(std::str::from_utf8(xml).unwrap()).unwrap()
    }

    #[test]
    fn one_suite_per_manifest_failures_listed_passes_counted() {
        let mut j = Junit::new(vec!["a.b3".into(), "b.b3".into()]);
        j.passed(Some(0));
        j.passed(Some(0));
        j.failed(Some(1), ("x<&>\"'", "FAILED", "FAILED"), Some("b.b3:3"));
        j.failed(None, ("new", "NEW", "NEW"), None);
        let xml = j.to_xml(0.5).unwrap();
        let text = String::from_utf8(xml.clone()).unwrap();
        let doc = parse(&xml);
        let root = doc.root_element();
        assert_eq!(root.attribute("tests"), Some("3"));
        assert_eq!(root.attribute("failures"), Some("2"));
        let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
        let names: Vec<_> = suites
            .iter()
            .map(|s| s.attribute("name").unwrap())
            .collect();
        assert_eq!(names, ["a.b3", "b.b3", "audit"]);
        let ok = suites[0].first_element_child().unwrap();
        assert_eq!(ok.attribute("name"), Some("2 entries verified OK"));
        let failure = suites[1]
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert_eq!(failure.attribute("message"), Some("x<&>\"': FAILED"));
        assert_eq!(failure.text(), Some("x<&>\"': FAILED\nlisted at b.b3:3"));
        assert!(text.contains("x&lt;&amp;&gt;&quot;&apos;"), "{text}");
    }

    #[test]
    fn failures_past_the_bound_are_counted_in_one_case() {
        let mut j = Junit::new(vec!["m".into()]);
        for i in 0..MAX_CASES + 5 {
            j.failed(
                Some(0),
                (&format!("f{i}"), "MISSING", "FAILED (missing)"),
                None,
            );
        }
        let xml = j.to_xml(1.0).unwrap();
        let doc = parse(&xml);
        let suite = doc.root_element().first_element_child().unwrap();
        assert_eq!(suite.attribute("failures"), Some("1001"));
        assert_eq!(suite.attribute("tests"), Some("1001"));
        let last = suite.last_element_child().unwrap();
        assert_eq!(last.attribute("name"), Some("more failures"));
        let counted = last.first_element_child().unwrap().attribute("message");
        assert!(
            counted.unwrap().starts_with("5 more entries failed"),
            "{counted:?}"
        );
        let kind = suite
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert_eq!(kind.attribute("type"), Some("MISSING"));
    }

    #[test]
    fn one_case_counts_what_is_past_the_bounds_whatever_the_suites() {
        let mut j = Junit::new((0..50).map(|i| format!("m{i}")).collect());
        // Names of quotes: escaped six times as long; the byte budget ends the list.
        let quotes = "\"".repeat(MAX_NAME);
        for i in 0..2000 {
            j.failed(Some(i % 50), (&quotes, "FAILED", "FAILED"), None);
        }
        let xml = j.to_xml(0.0).unwrap();
        assert!(xml.len() < MAX_BYTES + (64 << 10), "{} bytes", xml.len());
        let doc = parse(&xml);
        let more: Vec<_> = (doc.descendants())
            .filter(|n| n.attribute("name") == Some("more failures"))
            .collect();
        assert_eq!(more.len(), 1);
        let listed = (doc.descendants())
            .filter(|n| n.has_tag_name("failure"))
            .count();
        let counted = more[0]
            .first_element_child()
            .unwrap()
            .attribute("message")
            .unwrap();
        assert!(counted.starts_with(&format!("{} more entries failed", 2001 - listed)));
    }

    #[test]
    fn text_xml_cannot_carry_is_escaped() {
        let mut j = Junit::new(vec!["m".into()]);
        j.failed(Some(0), ("a\u{1}\n\u{ffff}b", "FAILED", "FAILED"), None);
        j.error("stopped\r");
        j.skipped(3, "other shards: 3");
        let xml = j.to_xml(0.0).unwrap();
        let doc = parse(&xml);
        let case = doc
            .descendants()
            .find(|n| n.attribute("name").is_some_and(|v| v.starts_with('a')))
            .unwrap();
        assert_eq!(case.attribute("name"), Some("a\\u{1}\\u{a}\\u{ffff}b"));
        let suite = doc.root_element().first_element_child().unwrap();
        assert_eq!(
            (suite.attribute("errors"), suite.attribute("skipped")),
            (Some("1"), Some("1"))
        );
        assert_eq!(
            cut(&"é".repeat(MAX_NAME + 7), MAX_NAME),
            format!("{}… (7 more characters)", "é".repeat(MAX_NAME))
        );
    }
}
