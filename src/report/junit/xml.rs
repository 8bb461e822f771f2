//! The XML of a JUnit report: a test case's result element, a suite's count attributes,
//! and text made fit for XML (what XML 1.0 cannot carry escaped, lengths cut).

use std::io;

use quick_xml::Writer;
use quick_xml::events::BytesText;

/// A test case's result: `<failure>`, `<error>` or `<skipped>`, with its type (FAILED,
/// MISSING…), its message as an attribute and as the element's text (each CI system shows
/// one of them), and more text after the message.
pub(super) struct CaseResult<'a> {
    element: &'static str,
    kind: Option<&'a str>,
    message: &'a str,
    more: Option<&'a str>,
}

impl<'a> CaseResult<'a> {
    pub(super) fn new(
        element: &'static str,
        kind: Option<&'a str>,
        message: &'a str,
        more: Option<&'a str>,
    ) -> CaseResult<'a> {
        CaseResult {
            element,
            kind,
            message,
            more,
        }
    }

    pub(super) fn write(&self, w: &mut Writer<Vec<u8>>) -> io::Result<()> {
        let message = xml_text(self.message);
        let mut element = w.create_element(self.element);
        if let Some(kind) = self.kind {
            element = element.with_attribute(("type", xml_text(kind).as_str()));
        }
        let text = match self.more {
            Some(more) => format!("{message}\n{}", xml_text(more)),
            None => message.clone(),
        };
        element
            .with_attribute(("message", message.as_str()))
            .write_text_content(BytesText::new(&text))
            .map(|_| ())
    }
}

/// A suite's (or the report's) attributes: name, tests, failures, errors, skipped, time.
pub(super) fn counts(
    name: &str,
    [tests, failures, errors, skipped]: [u64; 4],
    time: &str,
) -> Vec<(String, String)> {
    vec![
        ("name".into(), name.to_string()),
        ("tests".into(), tests.to_string()),
        ("failures".into(), failures.to_string()),
        ("errors".into(), errors.to_string()),
        ("skipped".into(), skipped.to_string()),
        ("time".into(), time.to_string()),
    ]
}

pub(super) fn pair((k, v): &(String, String)) -> (&str, &str) {
    (k.as_str(), v.as_str())
}

/// `text` cut to `max` characters, with how many were left out.
pub(super) fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => {
            let more = text[at..].chars().count();
            format!("{}… ({more} more characters)", &text[..at])
        }
    }
}

/// `text` with what XML 1.0 cannot carry (controls other than tab, LF and CR, U+FFFE,
/// U+FFFF) written as `\u{…}`, and tab, LF and CR too (attribute values would turn them
/// into spaces). Names come here escaped already; this keeps the file well-formed whatever.
pub(super) fn xml_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c < ' ' || c == '\u{7f}' || c == '\u{fffe}' || c == '\u{ffff}' {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}
