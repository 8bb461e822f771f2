//! The allowed-signers file, read as `ssh-keygen -Y verify` reads it (ssh-keygen(1),
//! "ALLOWED SIGNERS"): one key per line, `principals [options] keytype base64 [comment]`.
//! Principals are a comma-separated list of patterns (`*`, `?`, `!` to exclude — the
//! patterns of ssh_config(5), matched case-sensitively); options are `namespaces="…"` (a
//! pattern list), `valid-after="…"`, `valid-before="…"` (YYYYMMDD[HHMM[SS]], local time, or
//! UTC with a `Z` suffix) and `cert-authority`. A line for another principal is skipped
//! unread; a malformed line for the signer admits nothing and the search goes on (as
//! ssh-keygen does: OpenSSH 9.2 tested), the first one named if no line admits the key.
//!
//! The patterns are matched here rather than by a globbing crate: ssh's patterns know only
//! `*` and `?` (no classes, no braces), and a name such as `a[1]@b` must match itself.

use std::path::Path;

use ssh_key::PublicKey;
use ssh_key::public::KeyData;

use super::{Refused, read_small};
use crate::names::escape::display;
use crate::sys::clock::{Civil, epoch_seconds};

/// The largest allowed-signers file read.
const MAX_FILE: u64 = 16 * 1024 * 1024;

/// What a line must grant.
pub(super) struct Wanted<'a> {
    pub key: &'a KeyData,
    pub key_name: &'a str,
    pub principal: &'a str,
    pub namespace: &'a str,
    /// The verification time (seconds since the epoch).
    pub now: i64,
}

/// The options of a line.
#[derive(Default)]
struct Options {
    cert_authority: bool,
    namespaces: Option<String>,
    valid_after: Option<(i64, String)>,
    valid_before: Option<(i64, String)>,
}

/// The line (1-based) of `path` that lets `wanted.key` sign as `wanted.principal` in
/// `wanted.namespace` now; else why not, naming the file and, when one line came close,
/// the line and what it forbids.
pub(super) fn admit(path: &Path, wanted: &Wanted) -> Result<usize, Refused> {
    let shown = display(path.as_os_str().as_encoded_bytes());
    let text = read_small(path, "allowed-signers file", MAX_FILE)?;
    let mut close: Option<String> = None;
    let mut listed_for: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = format!("{shown}:{}", i + 1);
        let line = line.trim_start_matches([' ', '\t']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((principals, rest)) = word(line) else {
            continue; // no principals and key: for no one
        };
        if match_list(wanted.principal, &principals) != Some(true) {
            // Lines of others are not judged, but a key listed for someone else is told.
            if let Ok((_, key)) = options_and_key(rest) {
                if key.key_data() == wanted.key {
                    listed_for.push(principals);
                }
            }
            continue;
        }
        let (options, key) = match options_and_key(rest) {
            Ok(parsed) => parsed,
            Err(why) => {
                close.get_or_insert(format!("{at}: {why} (line for {})", wanted.principal));
                continue;
            }
        };
        if options.cert_authority || key.key_data() != wanted.key {
            continue;
        }
        match forbids(&options, wanted) {
            None => return Ok(i + 1),
            Some(why) => {
                close.get_or_insert(format!("{at}: {why}"));
            }
        }
    }
    Err(Refused::NotAllowed(match (close, listed_for.first()) {
        (Some(why), _) => why,
        (None, Some(others)) => format!(
            "signed by {}, which {shown} lists for \"{others}\", not for \"{}\"",
            wanted.key_name, wanted.principal
        ),
        (None, None) => format!(
            "signed by {}, which {shown} does not list for \"{}\"",
            wanted.key_name, wanted.principal
        ),
    }))
}

/// Why a line's options do not let its key sign here and now.
fn forbids(options: &Options, wanted: &Wanted) -> Option<String> {
    if let Some(list) = &options.namespaces {
        if match_list(wanted.namespace, list) != Some(true) {
            return Some(format!(
                "the key may sign only in namespaces \"{list}\", not \"{}\"",
                wanted.namespace
            ));
        }
    }
    if let Some((after, text)) = &options.valid_after {
        if wanted.now < *after {
            return Some(format!("the key is not valid yet (valid-after=\"{text}\")"));
        }
    }
    if let Some((before, text)) = &options.valid_before {
        if wanted.now > *before {
            return Some(format!("the key has expired (valid-before=\"{text}\")"));
        }
    }
    None
}

/// The first whitespace-delimited word of `s` (a quoted one may hold blanks; its quotes
/// are dropped) and the rest, blanks skipped; None when nothing follows the word.
fn word(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut quoted = false;
    let mut end = s.len();
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => {
                end = i;
                break;
            }
            _ => out.push(c),
        }
    }
    let rest = s[end..].trim_start_matches([' ', '\t']);
    (!out.is_empty() && !rest.is_empty() && !quoted).then_some((out, rest))
}

/// A line's options (when its next word is not a key) and key.
fn options_and_key(rest: &str) -> Result<(Options, PublicKey), String> {
    if let Ok(key) = PublicKey::from_openssh(rest) {
        return Ok((Options::default(), key));
    }
    let end = option_end(rest).ok_or("invalid options")?;
    let (opts, key) = (&rest[..end], rest[end..].trim_start_matches([' ', '\t']));
    if key.is_empty() {
        return Err("missing key".into());
    }
    let key = PublicKey::from_openssh(key).map_err(|e| format!("invalid key: {e}"))?;
    let options = parse_options(opts).map_err(|why| format!("bad options: {why}"))?;
    Ok((options, key))
}

/// Where the options end: the first blank outside quotes.
fn option_end(s: &str) -> Option<usize> {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// `cert-authority`, `namespaces="…"`, `valid-after="…"`, `valid-before="…"`, comma
/// separated, names case-insensitive, values quoted.
fn parse_options(mut s: &str) -> Result<Options, String> {
    let mut o = Options::default();
    loop {
        let lower = s.to_ascii_lowercase();
        let (name, value, rest) = if lower.starts_with("cert-authority") {
            ("cert-authority", None, &s["cert-authority".len()..])
        } else {
            let eq = s.find('=').ok_or("unknown key option")?;
            let name = &lower[..eq];
            let after = s[eq + 1..].strip_prefix('"').ok_or("missing start quote")?;
            let close = after.find('"').ok_or("missing end quote")?;
            (name, Some(&after[..close]), &after[close + 1..])
        };
        match (name, value) {
            ("cert-authority", _) => o.cert_authority = true,
            ("namespaces", Some(v)) if o.namespaces.is_none() => o.namespaces = Some(v.into()),
            ("valid-after", Some(v)) if o.valid_after.is_none() => {
                o.valid_after = Some((time(v).ok_or("invalid \"valid-after\" time")?, v.into()));
            }
            ("valid-before", Some(v)) if o.valid_before.is_none() => {
                o.valid_before = Some((time(v).ok_or("invalid \"valid-before\" time")?, v.into()));
            }
            ("namespaces" | "valid-after" | "valid-before", _) => {
                return Err(format!("multiple \"{name}\" clauses"));
            }
            _ => return Err("unknown key option".into()),
        }
        match rest.strip_prefix(',') {
            Some("") => return Err("unexpected end-of-options".into()),
            Some(more) => s = more,
            None if rest.is_empty() => break,
            None => return Err("unknown key option".into()),
        }
    }
    if let (Some((a, _)), Some((b, _))) = (&o.valid_after, &o.valid_before) {
        if b <= a {
            return Err("\"valid-before\" time is before \"valid-after\"".into());
        }
    }
    Ok(o)
}

/// ssh-keygen's absolute times: YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, local time, or
/// UTC when followed by `Z` or `UTC`.
fn time(s: &str) -> Option<i64> {
    let upper = s.to_ascii_uppercase();
    let (digits, utc) = match upper
        .strip_suffix('Z')
        .or_else(|| upper.strip_suffix("UTC"))
    {
        Some(d) if !d.is_empty() => (d, true),
        _ => (upper.as_str(), false),
    };
    if !matches!(digits.len(), 8 | 12 | 14) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |a: usize, b: usize| digits.get(a..b).map_or(Some(0), |d| d.parse().ok());
    let civil = Civil {
        year: num(0, 4)? as i32,
        month: num(4, 6)?,
        day: num(6, 8)?,
        hour: num(8, 10)?,
        minute: num(10, 12)?,
        second: num(12, 14)?,
    };
    epoch_seconds(civil, utc).filter(|&t| t > 0)
}

/// ssh's `match_pattern_list`: Some(true) when a pattern of the comma-separated `list`
/// matches `s` and no negated one (`!pat`) does; Some(false) when a negated one matches;
/// None when none matches.
fn match_list(s: &str, list: &str) -> Option<bool> {
    let mut positive = None;
    for pat in list.split(',') {
        let (negated, pat) = match pat.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, pat),
        };
        if wildcard(s.as_bytes(), pat.as_bytes()) {
            if negated {
                return Some(false);
            }
            positive = Some(true);
        }
    }
    positive
}

/// `*` matches any run of bytes, `?` any one byte, everything else itself.
fn wildcard(s: &[u8], pat: &[u8]) -> bool {
    let (mut si, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match pat.get(pi) {
            Some(b'*') => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(&c) if c == b'?' || c == s[si] => {
                si += 1;
                pi += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    pat[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_as_ssh_matches_them() {
        assert!(wildcard(b"alice@example.com", b"*@example.com"));
        assert!(wildcard(b"a[1]@b", b"a[1]@b"));
        assert!(wildcard(b"ab", b"a?"));
        assert!(!wildcard(b"abc", b"a?"));
        assert!(!wildcard(b"alice@example.org", b"*@example.com"));
        assert_eq!(match_list("bob@x", "alice@x,bob@x"), Some(true));
        assert_eq!(match_list("bob@x", "*@x,!bob@x"), Some(false));
        assert_eq!(match_list("carol@x", "*@x,!bob@x"), Some(true));
        assert_eq!(match_list("carol@y", "*@x"), None);
    }

    #[test]
    fn times_as_ssh_keygen_reads_them() {
        assert_eq!(time("19700102Z"), Some(86_400));
        assert_eq!(time("197001020001Z"), Some(86_460));
        assert_eq!(time("19700102000001UTC"), Some(86_401));
        assert_eq!(time("2024022"), None);
        assert_eq!(time("20230229Z"), None);
        assert!(time("20300101").is_some());
    }

    #[test]
    fn options_parse_and_refuse() {
        let o = parse_options("namespaces=\"b3tree,file\",valid-before=\"20300101Z\"").unwrap();
        assert_eq!(o.namespaces.as_deref(), Some("b3tree,file"));
        assert!(o.valid_before.is_some());
        assert!(parse_options("cert-authority").unwrap().cert_authority);
        assert!(parse_options("namespaces=b3tree").is_err());
        assert!(parse_options("bogus=\"1\"").is_err());
        assert!(parse_options("namespaces=\"a\",").is_err());
        assert!(parse_options("valid-after=\"20300101Z\",valid-before=\"20200101Z\"").is_err());
    }
}
