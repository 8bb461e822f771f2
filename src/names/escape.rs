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
//! (C0, DEL) as `\xHH`, so a hostile name cannot drive the terminal. Our reader accepts it.

/// How much to escape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escaping {
    /// b3sum-compatible: only `\`, LF, CR (plus `\xHH` for bytes that are not UTF-8).
    Manifest,
    /// Manifest escaping plus every other control character as `\xHH` (for terminals).
    Terminal,
    /// None: names as they are (`hash -z`, whose lines end with NUL, as GNU's `sha256sum -z`).
    Raw,
}

fn needs_hex(b: u8, mode: Escaping) -> bool {
    mode == Escaping::Terminal && (b < 0x20 || b == 0x7f) && b != b'\n' && b != b'\r'
}

/// Whether `name` has to be written in escaped form (and so the line needs a leading `\`).
pub fn needs_escape(name: &[u8], mode: Escaping) -> bool {
    if mode == Escaping::Raw {
        return false;
    }
    name.iter()
        .any(|&b| b == b'\\' || b == b'\n' || b == b'\r' || needs_hex(b, mode))
        || std::str::from_utf8(name).is_err()
}

/// Appends `name`, escaped when `escaped` (what [`needs_escape`] said of it).
pub fn push_name(name: &[u8], escaped: bool, mode: Escaping, out: &mut Vec<u8>) {
    if !escaped {
        out.extend_from_slice(name);
        return;
    }
    for chunk in name.utf8_chunks() {
        for &b in chunk.valid().as_bytes() {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                _ if needs_hex(b, mode) => push_hex(b, out),
                _ => out.push(b),
            }
        }
        for &b in chunk.invalid() {
            push_hex(b, out);
        }
    }
}

fn push_hex(b: u8, out: &mut Vec<u8>) {
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

    #[test]
    fn unescape_rejects_bad_escapes() {
        assert_eq!(unescape(b"a\\"), Err(UnescapeError::TrailingBackslash));
        assert_eq!(unescape(b"a\\t"), Err(UnescapeError::InvalidEscape));
        assert_eq!(unescape(b"a\\x4"), Err(UnescapeError::InvalidEscape));
        assert_eq!(unescape(b"a\\xZZ"), Err(UnescapeError::InvalidEscape));
    }
}
