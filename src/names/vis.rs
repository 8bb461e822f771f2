//! Names as mtree specs spell them. mtree(5) encodes a name (and a link target) with
//! vis(3): every byte that is not a printable ASCII character other than space, `#` and `\`
//! is escaped. Producers differ in the escapes they choose — bsdtar writes octal (`\040`,
//! `\043`, `\377`), NetBSD's `mtree -c` also `\s`, `\#`, `\M-C` (meta) and `\^?` (control)
//! — so the reader accepts all of vis(3)'s forms, and b3tree writes the octal one, which
//! every reader knows.

/// Why an encoded name could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEscape(pub String);

impl std::fmt::Display for BadEscape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bytes quoted are the spec's, made printable (`\M<ESC>` must not reach a terminal).
        write!(
            f,
            "bad escape {}",
            crate::names::escape::display(self.0.as_bytes())
        )
    }
}

/// `name` in mtree's encoding: bytes outside printable ASCII, space, `#`, `\`, `=` and the
/// glob characters `*?[` as `\ooo` (NetBSD's mtree reads a name with glob characters as a
/// pattern; escaped, it is the name itself).
pub fn encode(name: &[u8]) -> String {
    let mut out = String::with_capacity(name.len());
    for &b in name {
        if b.is_ascii_graphic() && !b"#\\=*?[".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\{b:03o}"));
        }
    }
    out
}

/// The bytes of a name in mtree's encoding, in any of vis(3)'s forms: `\ooo` (one to three
/// octal digits), `\\`, `\s` (space), `\t \n \r \a \b \f \v \E` (escape) `\0`, `\M-c` (c
/// with the high bit), `\M^c` and `\^c` (control, `?` for DEL), and `\c` for any other
/// character c (NetBSD's `\#`).
pub fn decode(text: &[u8]) -> Result<Vec<u8>, BadEscape> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    let bad = |from: usize, to: usize| {
        let end = to.min(text.len());
        BadEscape(String::from_utf8_lossy(&text[from..end]).into_owned())
    };
    while i < text.len() {
        if text[i] != b'\\' {
            out.push(text[i]);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        let Some(&c) = text.get(i) else {
            return Err(bad(start, i));
        };
        match c {
            b'0'..=b'7' => {
                let digits = text[i..]
                    .iter()
                    .take(3)
                    .take_while(|d| (b'0'..=b'7').contains(d))
                    .count();
                let value = text[i..i + digits]
                    .iter()
                    .fold(0u32, |v, d| v * 8 + u32::from(d - b'0'));
                out.push(u8::try_from(value).map_err(|_| bad(start, i + digits))?);
                i += digits;
            }
            b'M' => {
                let (Some(&kind), Some(&ch)) = (text.get(i + 1), text.get(i + 2)) else {
                    return Err(bad(start, i + 3));
                };
                let byte = match kind {
                    b'-' => ch | 0x80,
                    b'^' => control(ch).ok_or_else(|| bad(start, i + 3))? | 0x80,
                    _ => return Err(bad(start, i + 3)),
                };
                out.push(byte);
                i += 3;
            }
            b'^' => {
                let ch = *text.get(i + 1).ok_or_else(|| bad(start, i + 2))?;
                out.push(control(ch).ok_or_else(|| bad(start, i + 2))?);
                i += 2;
            }
            _ => {
                out.push(match c {
                    b's' => b' ',
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b'a' => 0x07,
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'v' => 0x0b,
                    b'E' => 0x1b,
                    other => other,
                });
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The control character `^c` stands for (`^?` is DEL).
fn control(c: u8) -> Option<u8> {
    match c {
        b'?' => Some(0x7f),
        0x40..=0x7f => Some(c & 0x1f),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_vis_decodes() {
        // As bsdtar writes them, and as NetBSD's mtree -c does.
        assert_eq!(decode(br"sp\040ace").unwrap(), b"sp ace");
        assert_eq!(decode(br"sp\sace").unwrap(), b"sp ace");
        assert_eq!(decode(br"\043hash").unwrap(), b"#hash");
        assert_eq!(decode(br"\#hash").unwrap(), b"#hash");
        assert_eq!(decode(br"bad\377").unwrap(), b"bad\xff");
        assert_eq!(decode(br"bad\M^?").unwrap(), b"bad\xff");
        assert_eq!(decode(br"caf\303\251").unwrap(), "café".as_bytes());
        assert_eq!(decode(br"caf\M-C\M-)").unwrap(), "café".as_bytes());
        assert_eq!(
            decode(br"a\^?b\^Ac\\d\tn\0").unwrap(),
            b"a\x7fb\x01c\\d\tn\0"
        );
        for bad in [&br"x\"[..], br"\M", br"\M+a", br"\^", br"\^ ", br"\400"] {
            assert!(decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn encoding_is_octal_and_round_trips() {
        let names: [&[u8]; 5] = [
            b"sp ace",
            b"#hash",
            b"bad\xff",
            "café".as_bytes(),
            b"a\\b\n\x01",
        ];
        for name in names {
            let text = encode(name);
            assert!(text.bytes().all(|b| b.is_ascii_graphic()), "{text}");
            assert!(!text.contains('#'), "{text}");
            assert_eq!(decode(text.as_bytes()).unwrap(), name);
        }
        assert_eq!(encode(b"sp ace#"), r"sp\040ace\043");
        assert_eq!(encode(b"a*?[=]"), r"a\052\077\133\075]");
    }
}
