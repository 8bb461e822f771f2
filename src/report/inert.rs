//! Text for people, made inert before it is written. A diagnostic quotes what b3tree was
//! given: names (escaped where they are formatted, `names::escape::display`), but also
//! manifest paths, spec values, signer identities, namespaces and the lines of signing
//! material. This is the net under all of them, so that none can drive a terminal or a CI
//! log, whoever wrote it:
//! - control characters other than TAB and LF (ESC, BEL, CR, C1 controls such as CSI) and
//!   the bidirectional overrides are written `\xHH` (their bytes);
//! - a line that a CI runner would read as a workflow command (`::` first after blanks;
//!   `##[` anywhere, the older form) gets the first `:` (`#`) written `\x3a` (`\x23`).
//!
//! The workflow commands b3tree writes itself (its annotations) get the first part only
//! ([`controls`]).

use std::borrow::Cow;

use crate::names::escape::{Escaping, leading_command, needs_hex, opens_old_command, push_hex};

/// `text` as it may be written for people (unchanged when it already was).
pub fn text(text: &str) -> Cow<'_, str> {
    inert(text, true)
}

/// A workflow command b3tree writes itself (`::error file=…::…`): its control characters
/// written as bytes, the command left a command.
pub fn controls(text: &str) -> Cow<'_, str> {
    inert(text, false)
}

fn inert(text: &str, guard_commands: bool) -> Cow<'_, str> {
    let hostile = text.chars().any(control)
        || (guard_commands && text.split('\n').any(|line| commands(line).is_some()));
    if !hostile {
        return Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(text.len() + 8);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        let lead = leading_command(line.as_bytes()).filter(|_| guard_commands);
        for (at, c) in line.char_indices() {
            let mut utf8 = [0u8; 4];
            let bytes = c.encode_utf8(&mut utf8).as_bytes();
            if control(c) {
                bytes.iter().for_each(|&b| push_hex(b, &mut out));
            } else if lead == Some(at)
                || (guard_commands && opens_old_command(&line.as_bytes()[at..]))
            {
                push_hex(bytes[0], &mut out);
            } else {
                out.extend_from_slice(bytes);
            }
        }
    }
    // Only whole characters and ASCII escapes were written.
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// A character written as its bytes: a control character but TAB and LF (CR included: a
/// terminal returns to the line's start, a runner starts a new line), or an override.
fn control(c: char) -> bool {
    c == '\r' || (c != '\t' && c != '\n' && needs_hex(c, Escaping::Terminal))
}

/// Where `line` would start a workflow command, if it would.
fn commands(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    leading_command(bytes).or_else(|| (0..bytes.len()).find(|&i| opens_old_command(&bytes[i..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        let line = "b3tree: a: FAILED (mode 0755 → 0644)\tand a tab\nsecond line";
        assert!(matches!(text(line), Cow::Borrowed(_)));
    }

    #[test]
    fn controls_and_overrides_are_written_as_bytes() {
        assert_eq!(
            text("spec \u{1b}]0;title\u{7}x\r\u{9b}2J \u{202e}gpj.exe"),
            r"spec \x1b]0;title\x07x\x0d\xc2\x9b2J \xe2\x80\xaegpj.exe"
        );
    }

    #[test]
    fn no_line_starts_a_workflow_command() {
        assert_eq!(text("::add-mask::x"), r"\x3a:add-mask::x");
        assert_eq!(
            text("b3tree: signer x\n \u{a0}::stop-commands::tok"),
            "b3tree: signer x\n \u{a0}\\x3a:stop-commands::tok"
        );
        assert_eq!(
            text("a ##[add-mask]b ##[error]c"),
            r"a \x23#[add-mask]b \x23#[error]c"
        );
        // A `::` that does not start the line is no command.
        assert!(matches!(text("b3tree: x::error::y"), Cow::Borrowed(_)));
    }
}
