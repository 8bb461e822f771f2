//! The values of mtree keywords that are more than a number: times, device numbers and
//! digests, in the forms the producers b3tree reads write them (NetBSD's mtree, bsdtar).

use crate::hash::algo::Algo;

/// A `device=` value as a device number: `native,MAJOR,MINOR` or `linux,MAJOR,MINOR` (what
/// bsdtar writes), or the number itself (`0x103`, decimal or octal: what NetBSD's mtree
/// writes). The other formats of NetBSD's list (other systems' encodings) are not read.
pub fn device(value: &str) -> Option<u64> {
    let mut parts = value.split(',');
    let first = parts.next()?;
    let rest: Vec<&str> = parts.collect();
    match (first, rest.as_slice()) {
        ("native" | "linux", [major, minor]) => Some(rustix::fs::makedev(
            major.parse().ok()?,
            minor.parse().ok()?,
        )),
        (number, []) => {
            if let Some(hex) = number
                .strip_prefix("0x")
                .or_else(|| number.strip_prefix("0X"))
            {
                u64::from_str_radix(hex, 16).ok()
            } else if number.len() > 1 && number.starts_with('0') {
                u64::from_str_radix(&number[1..], 8).ok()
            } else {
                number.parse().ok()
            }
        }
        _ => None,
    }
}

/// An mtree time: `SECONDS.NANOSECONDS`, or whole seconds. The part after the dot is a
/// count of nanoseconds, not a decimal fraction: NetBSD writes it with nine digits, bsdtar
/// without leading zeros (`.94201125` is 94,201,125 ns), and both read it as a number.
pub fn time(value: &str) -> Option<(i64, u32)> {
    let (secs, nanos) = value.split_once('.').unwrap_or((value, "0"));
    if nanos.is_empty() || nanos.len() > 9 || !nanos.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((secs.parse().ok()?, nanos.parse().ok()?))
}

/// The algorithm of a digest keyword b3tree verifies, or of its alias (`sha256` for
/// `sha256digest`…); None for any other keyword.
pub fn digest_algo(key: &str) -> Option<Algo> {
    [Algo::Blake3, Algo::Sha512, Algo::Sha256]
        .into_iter()
        .find(|&algo| {
            let keyword = crate::manifest::mtree::write::digest_keyword(algo);
            key == keyword || keyword.strip_suffix("digest") == Some(key)
        })
}

/// Whether `hex` can be a digest of `algo`: hex digits, as many as its output has. A value
/// that cannot is the spec's fault, not the file's: it is never "content differs".
pub fn well_formed(algo: Algo, hex: &str) -> bool {
    hex.len() == 2 * algo.default_len() && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `key` claims a regular file's content: a digest or checksum of any algorithm
/// (b3tree verifies three of them; an entry holding only the others — `md5digest`,
/// go-mtree's `sha512256digest`, `cksum` — cannot be verified, and a file it describes is a
/// regular file whatever its `type=` says). Any keyword ending in `digest`, in any case.
pub fn claims_content(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    digest_algo(&key).is_some()
        || key.ends_with("digest")
        || matches!(
            key.as_str(),
            "cksum" | "md5" | "rmd160" | "sha1" | "sha224" | "sha384" | "sha512256"
        )
}

/// A keyword or value of the spec as it may be printed: whoever wrote the spec chose its
/// bytes (ESC, CR, a `::` that a CI runner would read as a command).
pub fn shown(text: &str) -> String {
    crate::names::escape::display(text.as_bytes())
}
