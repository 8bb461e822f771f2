//! Name escaping for manifest lines, shared by every writer and reader.
//!
//! b3sum and GNU coreutils (>= 9.0) agree on one scheme: a name containing `\`, LF or CR is
//! written with those as `\\`, `\n`, `\r`, and the whole line gets ONE leading `\`. Names
//! without those bytes are written raw. We keep that scheme byte for byte so `b3sum --check`
//! accepts our manifests, and add one escape of our own to stay lossless where b3sum is not:
//! a byte that is not part of valid UTF-8 is written as `\xHH` (lowercase hex) inside an
//! escaped line. b3sum rejects such lines ("Invalid backslash escape"); it could never check
//! those files anyway, because it reads names as lossy UTF-8.
//!
//! For terminals we also offer a "safe" form that writes every other control character
//! (C0, DEL, C1), the bidirectional overrides and the characters that show nothing (zero
//! width, fillers, tags) as `\xHH` (their bytes), so a hostile name cannot drive the
//! terminal, read backwards or pass for another. Our reader accepts it.
//!
//! Verdicts and diagnostics can also land in a CI log, where the runner takes a line that
//! starts (after blanks) with `::` as a workflow command (`::add-mask::`, `::stop-commands::`),
//! and `##[` anywhere in a line as one of the older form. A file may be named so by whoever
//! can add one to the tree. So the form for people ([`Escaping::Terminal`], which check's
//! verdicts and every diagnostic use, on a terminal or not) escapes such a name: the first
//! `:` of a leading `::` and the first `#` of each `##[` are written `\x3a` and `\x23`.
//! Manifests (`Manifest`, `Raw`) stay byte for byte b3sum's.

/// How much to escape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escaping {
    /// b3sum-compatible: only `\`, LF, CR (plus `\xHH` for bytes that are not UTF-8).
    Manifest,
    /// For people (terminals, CI logs, diagnostics): manifest escaping, plus every other
    /// control character (C0, DEL, C1) and the bidirectional controls as `\xHH`, and a name
    /// a CI runner would read as a workflow command.
    Terminal,
    /// None: names as they are (`hash -z`, whose lines end with NUL, as GNU's `sha256sum -z`).
    Raw,
}

/// A character written as `\xHH` (its UTF-8 bytes) in `mode`: on a terminal, every control
/// character but LF and CR (those have their own escapes), and what shows nothing or moves
/// text: the bidirectional controls, and the invisible ones (zero-width spaces and joiners,
/// the soft hyphen, fillers, variation selectors, tags, line and paragraph separators), with
/// which two names that differ would read the same.
pub(crate) fn needs_hex(c: char, mode: Escaping) -> bool {
    mode == Escaping::Terminal && ((c.is_control() && c != '\n' && c != '\r') || invisible(c))
}

/// Characters that show nothing (or reorder what follows) on a terminal or a CI page.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{ad}' | '\u{34f}' | '\u{61c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}'
        | '\u{180b}'..='\u{180f}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}' | '\u{3164}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}'
        | '\u{ffa0}' | '\u{fff0}'..='\u{fffb}' | '\u{1d173}'..='\u{1d17a}'
        | '\u{e0000}'..='\u{e0fff}')
}

/// The form for people escapes what a CI runner would take as a workflow command.
fn guards_commands(mode: Escaping) -> bool {
    mode == Escaping::Terminal
}

/// Where `name`'s leading `::` starts (after blanks, as the runner trims them), if it has one.
pub(crate) fn leading_command(name: &[u8]) -> Option<usize> {
    let valid = name.utf8_chunks().next()?.valid();
    // Blanks as the runner trims them, and a byte-order mark, which its reader drops when
    // it opens the stream.
    let trimmed = valid.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let blanks = valid.len() - trimmed.len();
    name[blanks..].starts_with(b"::").then_some(blanks)
}

/// The older form of a workflow command, which a runner reads anywhere in a line.
const OLD_COMMAND: &[u8] = b"##[";

/// Whether `rest` (of a name, a line, a JSON string) starts with [`OLD_COMMAND`]: its first
/// `#` is the byte every output for people escapes.
pub(crate) fn opens_old_command(rest: &[u8]) -> bool {
    rest.starts_with(OLD_COMMAND)
}

/// Whether the byte at `i` of `name` starts a workflow command in a CI log: the first `:`
/// of a leading `::` (`lead`, from [`leading_command`]) or the first `#` of `##[`.
fn command_byte(name: &[u8], i: usize, lead: Option<usize>) -> bool {
    lead == Some(i) || opens_old_command(&name[i..])
}

/// Whether `name`, printed at the start of a line (or anywhere, for `##[`), would be read as
/// a workflow command by a CI runner.
pub fn would_command(name: &[u8]) -> bool {
    // Most names start with a letter and hold no `#`: two byte tests decide.
    let plain_start = name
        .first()
        .is_none_or(|&b| b.is_ascii_alphanumeric() || b == b'.');
    (!plain_start && leading_command(name).is_some())
        || (memchr::memchr(b'#', name).is_some()
            && memchr::memmem::find(name, OLD_COMMAND).is_some())
}

/// Whether `name` has to be written in escaped form (and so the line needs a leading `\`).
pub fn needs_escape(name: &[u8], mode: Escaping) -> bool {
    if mode == Escaping::Raw {
        return false;
    }
    // The common case first, and the only one of manifests: a byte scan.
    if memchr::memchr3(b'\\', b'\n', b'\r', name).is_some() {
        return true;
    }
    let Ok(text) = std::str::from_utf8(name) else {
        return true;
    };
    let hex = match mode {
        Escaping::Terminal if text.is_ascii() => name.iter().any(|&b| b < 0x20 || b == 0x7f),
        Escaping::Terminal => text.chars().any(|c| needs_hex(c, mode)),
        _ => false,
    };
    hex || (guards_commands(mode) && would_command(name))
}

/// Appends `name`, escaped when `escaped` (what [`needs_escape`] said of it).
pub fn push_name(name: &[u8], escaped: bool, mode: Escaping, out: &mut Vec<u8>) {
    if !escaped {
        out.extend_from_slice(name);
        return;
    }
    let lead = leading_command(name).filter(|_| guards_commands(mode));
    let mut at = 0;
    for chunk in name.utf8_chunks() {
        for c in chunk.valid().chars() {
            let mut utf8 = [0u8; 4];
            let bytes = c.encode_utf8(&mut utf8).as_bytes();
            match c {
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                _ if needs_hex(c, mode) => bytes.iter().for_each(|&b| push_hex(b, out)),
                ':' | '#' if guards_commands(mode) && command_byte(name, at, lead) => {
                    push_hex(bytes[0], out);
                }
                _ => out.extend_from_slice(bytes),
            }
            at += bytes.len();
        }
        for &b in chunk.invalid() {
            push_hex(b, out);
            at += 1;
        }
    }
}

pub(crate) fn push_hex(b: u8, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(&[
        b'\\',
        b'x',
        HEX[usize::from(b >> 4)],
        HEX[usize::from(b & 15)],
    ]);
}

/// Appends `name` in its written form: escaped if needed, then with the one leading `\`
/// that marks an escaped name (as in `check` verdicts, `NAME: OK`).
pub fn push_marked(name: &[u8], mode: Escaping, out: &mut Vec<u8>) {
    let escaped = needs_escape(name, mode);
    if escaped {
        out.push(b'\\');
    }
    push_name(name, escaped, mode, out);
}

/// A name made printable for diagnostics on stderr: terminal escaping, and the leading `\`
/// when escaped, so what the user sees is unambiguous.
pub fn display(name: &[u8]) -> String {
    let mut out = Vec::with_capacity(name.len() + 1);
    push_marked(name, Escaping::Terminal, &mut out);
    // Everything left is valid UTF-8: invalid bytes became `\xHH`.
    String::from_utf8_lossy(&out).into_owned()
}

/// Why an escaped name could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnescapeError {
    #[error("invalid backslash escape")]
    InvalidEscape,
    #[error("lone backslash at the end of the name")]
    TrailingBackslash,
}

/// Reverses [`push_name`] for a name taken from a line that started with `\`.
pub fn unescape(escaped: &[u8]) -> Result<Vec<u8>, UnescapeError> {
    let mut out = Vec::with_capacity(escaped.len());
    let mut it = escaped.iter().copied();
    while let Some(b) = it.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match it.next() {
            Some(b'\\') => out.push(b'\\'),
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b'x') => {
                let hi = it.next().and_then(hex_val);
                let lo = it.next().and_then(hex_val);
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err(UnescapeError::InvalidEscape),
                }
            }
            Some(_) => return Err(UnescapeError::InvalidEscape),
            None => return Err(UnescapeError::TrailingBackslash),
        }
    }
    Ok(out)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(name: &[u8]) -> (bool, Vec<u8>) {
        let mut v = Vec::new();
        let e = needs_escape(name, Escaping::Manifest);
        push_name(name, e, Escaping::Manifest, &mut v);
        (e, v)
    }

    #[test]
    fn plain_names_stay_raw_even_with_spaces() {
        assert_eq!(esc(b"x  y"), (false, b"x  y".to_vec()));
        assert_eq!(
            esc(b" lead) = trail "),
            (false, b" lead) = trail ".to_vec())
        );
        assert_eq!(
            esc("é\u{1b}".as_bytes()),
            (false, "é\u{1b}".as_bytes().to_vec())
        );
    }

    #[test]
    fn b3sum_escapes() {
        assert_eq!(esc(b"a\\b\nc\rd"), (true, b"a\\\\b\\nc\\rd".to_vec()));
    }

    #[test]
    fn invalid_utf8_becomes_hex_and_round_trips() {
        let name = b"caf\xe9 \xff\\x";
        let (e, v) = esc(name);
        assert!(e);
        assert_eq!(v, b"caf\\xe9 \\xff\\\\x".to_vec());
        assert_eq!(unescape(&v).unwrap(), name.to_vec());
    }

    #[test]
    fn terminal_mode_hides_control_characters() {
        let mut v = Vec::new();
        let name = b"a\x1b[31m\x7f";
        assert!(needs_escape(name, Escaping::Terminal));
        push_name(name, true, Escaping::Terminal, &mut v);
        assert_eq!(v, b"a\\x1b[31m\\x7f".to_vec());
        assert_eq!(display(b"ok name"), "ok name");
        assert_eq!(display(b"bad\nname"), "\\bad\\nname");
    }

    /// A name that a CI runner would read as a workflow command is escaped in the forms for
    /// people, and round-trips; manifests keep it as it is (b3sum's bytes).
    #[test]
    fn names_that_would_be_workflow_commands_are_escaped_for_people() {
        let shown = |name: &[u8], mode| {
            let mut v = Vec::new();
            push_marked(name, mode, &mut v);
            String::from_utf8(v).unwrap()
        };
        let mode = Escaping::Terminal;
        assert_eq!(shown(b"::add-mask::x", mode), r"\\x3a:add-mask::x");
        assert_eq!(
            shown(" \u{a0}::stop-commands::t".as_bytes(), mode),
            "\\ \u{a0}\\x3a:stop-commands::t"
        );
        assert_eq!(shown(b"a##[error]b", mode), r"\a\x23#[error]b");
        assert_eq!(shown(b"a::b #[c]", mode), "a::b #[c]");
        assert_eq!(shown(b"::add-mask::x", Escaping::Manifest), "::add-mask::x");
        assert_eq!(
            display("\u{9b}x\u{202e}".as_bytes()),
            r"\\xc2\x9bx\xe2\x80\xae"
        );
        // Names that would read the same as `ab`: each invisible character escaped.
        for (name, hex) in [
            ("a\u{200b}b", r"\xe2\x80\x8b"),
            ("a\u{ad}b", r"\xc2\xad"),
            ("a\u{3164}b", r"\xe3\x85\xa4"),
            ("a\u{e0001}b", r"\xf3\xa0\x80\x81"),
            ("a\u{2028}b", r"\xe2\x80\xa8"),
            ("a\u{fe0f}b", r"\xef\xb8\x8f"),
        ] {
            assert_eq!(display(name.as_bytes()), format!("\\a{hex}b"), "{name:?}");
        }
        assert_eq!(display("é漢😀".as_bytes()), "é漢😀");
        for name in [
            &b"::x::y"[..],
            b" ::x",
            b"a##[b]",
            "\u{9b}\u{202e}".as_bytes(),
            "a\u{200d}\u{e0067}b".as_bytes(),
        ] {
            let mut v = Vec::new();
            push_name(name, true, Escaping::Terminal, &mut v);
            assert_eq!(unescape(&v).unwrap(), name);
        }
    }

    #[test]
    fn unescape_rejects_bad_escapes() {
        assert_eq!(unescape(b"a\\"), Err(UnescapeError::TrailingBackslash));
        assert_eq!(unescape(b"a\\t"), Err(UnescapeError::InvalidEscape));
        assert_eq!(unescape(b"a\\x4"), Err(UnescapeError::InvalidEscape));
        assert_eq!(unescape(b"a\\xZZ"), Err(UnescapeError::InvalidEscape));
    }
}
